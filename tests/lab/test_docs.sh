#!/bin/bash
# The documentation keeps up with the code (no root needed). Commands come
# from main.c's dispatch, options from each command's getopt_long table and
# option string, exit codes from ecntrace.h and the usage texts:
#  - doc/ecntrace.1 renders with no warning (man, groff -ww, mandoc -Tlint);
#  - every option of every command is in 'ecntrace CMD --help', in the man
#    page's list for that command and in its synopsis;
#  - 'ecntrace --help' lists every command; the man page documents every
#    exit code, and names every value of the JSON schema's closed sets of
#    causes, notes, connect results and modes;
#  - doc/ecntrace.bash-completion is valid bash and, called as bash calls
#    it, offers every command, exactly each command's options, and the
#    values of --ecn, --dscp and --mode that the parsers accept.
# Each check is then run once more on a copy broken on purpose (an option
# or exit code deleted, a bad macro, a syntax error, a help text missing a
# line) and must fail there.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

SRC=${ECNTRACE_SRC:-$LAB_ROOT/src}
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
MANPAGE=$LAB_ROOT/doc/ecntrace.1
COMPLETION=$LAB_ROOT/doc/ecntrace.bash-completion
SCHEMA=$LAB_ROOT/doc/ecntrace-schema.json
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"
command -v man >/dev/null 2>&1 || skip_all "man is not installed"
command -v groff >/dev/null 2>&1 || skip_all "groff is not installed"

# --- What the code says ---------------------------------------------------

# The commands main() dispatches on.
commands() { grep -oE 'strcmp\(argv\[1\], "[a-z]+"\)' "$SRC/cmd/main.c" | sed -E 's/.*"([a-z]+)".*/\1/'; }
# The source file holding CMD's option table.
cmd_file() { grep -l "struct option $1_opts\[\]" "$SRC"/*/*.c | head -1; }
# Long options of CMD's getopt_long table.
long_opts() {
	awk -v t="$1_opts[]" 'index($0, "struct option " t) { on = 1; next }
		on && /^};/ { exit }
		on { if (match($0, /\{ *"[^"]+"/)) { s = substr($0, RSTART, RLENGTH); sub(/\{ *"/, "", s); sub(/"$/, "", s); print s } }' \
		"$(cmd_file "$1")"
}
# Long options of CMD that have no short alias (those the synopsis lists by
# their long name).
long_only() {
	awk -v t="$1_opts[]" 'index($0, "struct option " t) { on = 1; next }
		on && /^};/ { exit }
		on && /\{ *"/ && $0 !~ /'"'"'.'"'"' *\}/ { s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); print s }' \
		"$(cmd_file "$1")"
}
# Short options of CMD: the option string passed with its table.
short_opts() {
	tr '\n\t' '  ' <"$(cmd_file "$1")" |
		grep -oE "getopt_long\(argc, argv, \"[^\"]*\", *$1_opts" |
		sed -E 's/.*argv, "([^"]*)".*/\1/' | tr -d ':' | grep -o .
}
# Exit codes: ecntrace.h's list and every usage text's "Exit" paragraph.
exit_codes() {
	{
		sed -n 's/^ \*  *\([0-9][0-9]*\) .*/\1/p' "$SRC/ecntrace.h"
		for f in "$SRC"/*/*.c; do
			awk '/_usage\[\] =/ { on = 1 } on && /Exit/ { ex = 1 }
			     on && ex { print } on && /;$/ { on = 0; ex = 0 }' "$f"
		done | sed 's/\\n//g' | grep -oE '(^|[^0-9a-zA-Z])[0-9]{1,3}([^0-9]|$)' | grep -oE '[0-9]+'
	} | sort -n -u
}

# --- Checks: each prints what is missing and fails if anything is --------

# render_warnings PAGE: the warnings of every renderer present.
render_warnings() {
	MANWIDTH=80 man -l "$1" 2>&1 >/dev/null
	groff -mandoc -ww -z "$1" 2>&1
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -W warning "$1" 2>&1
	fi
}
chk_render() { local w; w=$(render_warnings "$1"); [ -z "$w" ] || { echo "$w" | head -3; return 1; }; }

# The page as a reader sees it, wide enough that no option is broken.
rendered() { MANWIDTH=200 man -l "$1" 2>/dev/null | col -bx; }
# man_section TEXT TITLE: the lines of subsection (3 spaces) or section
# (none) TITLE, up to the next heading of the same or a higher level.
man_section() {
	echo "$1" | awk -v t="$2" '
		!on && ($0 == "   " t || $0 == t) { on = 1; lvl = ($0 ~ /^   /) ? 3 : 0; next }
		on && /^[^ ]/ { exit }
		on && lvl == 3 && /^   [^ ]/ { exit }
		on { print }'
}
# chk_man_options PAGE CMD: every option of CMD heads an item in the
# "Options of ecntrace CMD" list, and every long one is in the synopsis.
chk_man_options() {
	local text list syn o miss=""
	text=$(rendered "$1")
	list=$(man_section "$text" "Options of ecntrace $2")
	syn=$(man_section "$text" SYNOPSIS | awk -v c="$2" '
		/^     ecntrace/ { on = ($0 ~ ("^     ecntrace \\[?" c "\\]? ")) } on')
	[ -n "$list" ] || { echo "no 'Options of ecntrace $2'"; return 1; }
	for o in $(long_opts "$2"); do
		echo "$list" | grep -qE -- "^     (-[[:alnum:]], )?--$o( |,|$)" || miss="$miss --$o"
	done
	for o in $(long_only "$2"); do
		echo "$syn" | grep -qE -- "\[--$o( |\])" || miss="$miss --$o(synopsis)"
	done
	for o in $(short_opts "$2"); do
		echo "$list" | grep -qE -- "^     (-[[:alnum:]] \| )?-$o( |,|$)" || miss="$miss -$o"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}
# chk_help BIN CMD: every option of CMD is in its --help.
chk_help() {
	local h o miss=""
	h=$("$1" "$2" --help 2>&1) || { echo "$2 --help failed"; return 1; }
	for o in $(long_opts "$2"); do
		echo "$h" | grep -qE -- "--$o( |,|=|$)" || miss="$miss --$o"
	done
	for o in $(short_opts "$2"); do
		echo "$h" | grep -qE -- "(^|[ ,])-$o( |,|$)" || miss="$miss -$o"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}
# chk_main_help BIN: 'ecntrace --help' lists every command.
chk_main_help() {
	local h c miss=""
	h=$("$1" --help 2>&1) || { echo "--help failed"; return 1; }
	for c in $(commands); do
		echo "$h" | grep -qE "^  $c( |$)" || miss="$miss $c"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}
# chk_exit_codes PAGE: every exit code heads an item of EXIT STATUS.
chk_exit_codes() {
	local sect c miss=""
	sect=$(man_section "$(rendered "$1")" "EXIT STATUS")
	for c in 0 1 2 $(exit_codes); do
		echo "$sect" | grep -qE "^     $c( |$)" || miss="$miss $c"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}
# chk_man_values PAGE: every cause, note, connect result and mode of the
# schema is named in the page.
chk_man_values() {
	local text v miss=""
	text=$(rendered "$1")
	for v in $(jq -r '."$defs" | (.cause_kind, .note_kind, .conn_result, .conn_mode, .ecn) | .enum[]' "$SCHEMA"); do
		echo "$text" | grep -qE -- "(^|[^[:alnum:]-])$v([^[:alnum:]-]|$)" || miss="$miss $v"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}

# complete_words FILE WORD...: what the completion offers when the line is
# WORD... with the cursor at the end of the last one.
complete_words() {
	bash -c '. "$1" || exit 1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_ecntrace || exit 1
		printf "%s\n" "${COMPREPLY[@]}"' _ "$@" 2>&1
}
# same_set "A B C" "C B A": the two word lists hold the same words.
same_set() { [ "$(printf '%s\n' $1 | sort -u)" = "$(printf '%s\n' $2 | sort -u)" ]; }
# words LIST: LIST on one line (echo would take "-n" for an option).
words() { printf '%s ' $1; }
chk_comp_syntax() { bash -n "$1" 2>&1; }
# chk_comp_options FILE CMD: exactly CMD's options after "-" (plus -V and
# --version with no command), whether or not the command is given.
chk_comp_options() {
	local want got o
	want=$(long_opts "$2" | sed 's/^/--/'; short_opts "$2" | sed 's/^/-/')
	got=$(complete_words "$1" ecntrace "$2" -)
	same_set "$want" "$got" || { echo "ecntrace $2 -: offers [$(words "$got")], wants [$(words "$want")]"; return 1; }
	if [ "$2" = diagnose ]; then
		got=$(complete_words "$1" ecntrace -)
		same_set "$want -V --version" "$got" || { echo "ecntrace -: offers [$(words "$got")]"; return 1; }
	fi
}
chk_comp_commands() {
	local got c miss=""
	got=$(complete_words "$1" ecntrace "")
	for c in $(commands); do
		echo "$got" | grep -qx "$c" || miss="$miss $c"
	done
	[ -z "$miss" ] || { echo "missing:$miss"; return 1; }
}
# chk_comp_values FILE CMD OPTION WANTED...: the values offered after OPTION.
chk_comp_values() {
	local f=$1 cmd=$2 opt=$3 got
	shift 3
	got=$(complete_words "$f" ecntrace "$cmd" "$opt" "")
	same_set "$*" "$got" || { echo "$opt: offers [$(words "$got")], wants [$*]"; return 1; }
}
# What the parsers accept, by name.
ecn_names() { sed -n 's/.*ecn_names\[4\] = {\(.*\)};/\1/p' "$SRC/packet/pkt_names.c" | grep -oE '"[a-z0-9-]+"' | tr -d '"'; }
dscp_names() { awk '/dscp_tab\[\] = \{/ { on = 1; next } on && /^};/ { exit } on' "$SRC/packet/pkt_names.c" | grep -oE '"[a-z0-9]+"' | tr -d '"'; }
mode_names() { awk '/mode_names\[\] = \{/ { on = 1; next } on && /^};/ { exit } on' "$SRC/measure/connect.c" | grep -oE '"[a-z0-9-]+"' | tr -d '"'; }

# verify DESC CHECK ARGS...: a TAP line; what the check printed as comments.
verify() {
	local d=$1 out
	shift
	if out=$("$@"); then ok "$d"; else nok "$d"; echo "$out" | head -5 | sed 's/^/# /'; fi
}
# catches DESC CHECK ARGS...: the check must fail on the broken copy.
catches() {
	local d=$1
	shift
	if "$@" >/dev/null 2>&1; then nok "the check catches $d"; else ok "the check catches $d"; fi
}

# --- The checks on the real files ------------------------------------------

CMDS=$(commands | tr '\n' ' ')
check "main.c dispatches trace, connect and diagnose (all: $CMDS)" \
	all 'echo " $CMDS " | grep -q " trace "' 'echo " $CMDS " | grep -q " connect "' \
	    'echo " $CMDS " | grep -q " diagnose "' 
for c in $CMDS; do
	n=$(long_opts "$c" | wc -l)
	ns=$(short_opts "$c" | wc -l)
	check "$c: option table and option string found in $(basename "$(cmd_file "$c")") ($n long, $ns short)" \
		all '[ "$n" -ge 2 ]' '[ "$ns" -ge 1 ]'
done

verify "the man page renders with no warning (man, groff -ww${HAVE_MANDOC:+, mandoc -Tlint})" chk_render "$MANPAGE"
command -v mandoc >/dev/null 2>&1 || diag "mandoc is not installed: no mandoc -Tlint"
verify "'ecntrace --help' lists every command" chk_main_help "$ECNTRACE"
for c in $CMDS; do
	verify "'ecntrace $c --help' lists every option of its table" chk_help "$ECNTRACE" "$c"
	verify "the man page documents every option of $c (list and synopsis)" chk_man_options "$MANPAGE" "$c"
done
codes=$(exit_codes | tr '\n' ' ')
verify "the man page documents every exit code ($codes)" chk_exit_codes "$MANPAGE"
if command -v jq >/dev/null 2>&1; then
	verify "the man page names every cause, note, result, mode and ECN value of the schema" chk_man_values "$MANPAGE"
else
	skip "jq is not installed"
fi
check "the man page points to the JSON schema, which exists" \
	all 'grep -q "doc/ecntrace-schema.json" "$MANPAGE"' '[ -f "$SCHEMA" ]'

verify "the completion file is valid bash" chk_comp_syntax "$COMPLETION"
check "sourcing it registers _ecntrace for ecntrace" \
	all '[ "$(bash -c ". \"$COMPLETION\"; complete -p ecntrace" 2>&1)" = "complete -F _ecntrace ecntrace" ]'
verify "the completion offers every command" chk_comp_commands "$COMPLETION"
for c in $CMDS; do
	verify "the completion offers exactly the options of $c" chk_comp_options "$COMPLETION" "$c"
done
verify "the completion offers the ECN codepoints for --ecn" chk_comp_values "$COMPLETION" trace --ecn $(ecn_names)
verify "the completion offers every DSCP name for --dscp" chk_comp_values "$COMPLETION" trace --dscp $(dscp_names)
verify "the completion offers every mode for --mode" chk_comp_values "$COMPLETION" connect --mode $(mode_names)
# bash splits "--ecn=e" into "--ecn" "=" "e" (COMP_WORDBREAKS has '=').
check "the completion offers values after --ecn= too" \
	all 'same_set "$(complete_words "$COMPLETION" ecntrace trace --ecn = e)" "ect0 ect1"' \
	    'same_set "$(complete_words "$COMPLETION" ecntrace connect --mode = "")" "$(mode_names)"' 

# --- The same checks on copies broken on purpose --------------------------

B=$TMP/broken
mkdir -p "$B"
grep -v '^\.It Fl -payload' "$MANPAGE" >"$B/no-payload.1"
catches "an option missing from the man page" chk_man_options "$B/no-payload.1" connect
sed 's/^\.Op Fl -max-flows Ar n$//' "$MANPAGE" >"$B/no-synopsis.1"
catches "an option missing from the synopsis" chk_man_options "$B/no-synopsis.1" diagnose
sed '/^\.It 75$/d' "$MANPAGE" >"$B/no-75.1"
catches "an exit code missing from the man page" chk_exit_codes "$B/no-75.1"
{ cat "$MANPAGE"; echo ".Xyz undefined"; echo ".Bl -tag"; } >"$B/bad-macro.1"
catches "a man page that renders with warnings" chk_render "$B/bad-macro.1"
sed 's/ --mode / /' "$COMPLETION" >"$B/no-mode.bash"
catches "an option missing from the completion" chk_comp_options "$B/no-mode.bash" connect
sed 's/--deadline --json/--deadline --bogus --json/' "$COMPLETION" >"$B/extra.bash"
catches "an option the command does not have in the completion" chk_comp_options "$B/extra.bash" trace
sed 's/words=(not-ect ect0 ect1 ce)/words=(not-ect ect0 ce)/' "$COMPLETION" >"$B/no-ect1.bash"
catches "a value missing after --ecn" chk_comp_values "$B/no-ect1.bash" trace --ecn $(ecn_names)
{ cat "$COMPLETION"; echo 'if then'; } >"$B/syntax.bash"
catches "a completion file that is not valid bash" chk_comp_syntax "$B/syntax.bash"
cat >"$B/ecntrace" <<EOF
#!/bin/sh
"$ECNTRACE" "\$@" | grep -v -e '--sport' -e '^  connect '
EOF
chmod +x "$B/ecntrace"
catches "an option missing from --help" chk_help "$B/ecntrace" trace
catches "a command missing from 'ecntrace --help'" chk_main_help "$B/ecntrace"
