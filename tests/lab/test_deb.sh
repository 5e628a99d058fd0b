#!/bin/bash
# The Debian package, installed the way operators install: make deb builds
# it fresh (into the test's temp directory), lintian finds nothing, dpkg -i
# installs the binary, the man page, the JSON schema and the bash
# completion, and postinst gives the binary cap_net_raw,cap_net_admin+ep
# (not setuid). An ordinary user (a temporary system user) then runs the
# installed ecntrace in the lab's client namespace with no capability of
# its own: trace and connect reach the target, while a copy of the binary
# without the file capabilities is refused (exit 77). dpkg -r and dpkg -P
# remove every file.
#
# The test changes this machine: it refuses to run (skips) when ecntrace is
# already installed in /usr (as a package or by hand), and every exit path
# purges the package, deletes the user and takes the lab down.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
for t in dpkg-buildpackage dh getcap setcap setpriv useradd userdel man jq; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t is not installed"
done

PKG=ecntrace
FILES="/usr/bin/ecntrace /usr/share/man/man1/ecntrace.1.gz
/usr/share/ecntrace/ecntrace-schema.json /usr/share/bash-completion/completions/ecntrace"
st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)
[ -z "$st" ] || [ "$st" = not-installed ] || skip_all "package $PKG is on this machine ($st); not touching it"
for f in $FILES /usr/share/ecntrace /usr/share/doc/ecntrace; do
	[ ! -e "$f" ] || skip_all "$f exists; not touching it"
done

USER_NAME=ecndeb$$
INSTALLED=0
USER_MADE=0
deb_cleanup() {
	if [ "$INSTALLED" = 1 ]; then
		dpkg_do -P "$PKG" >/dev/null 2>&1
		INSTALLED=0
	fi
	# The page man-db formatted from ours goes with the package.
	rm -f /var/cache/man/cat1/ecntrace.1* /var/cache/man/*/cat1/ecntrace.1* 2>/dev/null
	if [ "$USER_MADE" = 1 ]; then
		userdel "$USER_NAME" >/dev/null 2>&1
		USER_MADE=0
	fi
}
trap 'deb_cleanup; lab_cleanup' EXIT

# dpkg_do ARGS...: dpkg, waiting up to a minute for its lock if another
# dpkg or apt holds it.
dpkg_do() {
	local k rc
	for ((k = 0; k < 30; k++)); do
		dpkg "$@" >"$TMP/dpkg.out" 2>&1
		rc=$?
		grep -q 'dpkg frontend lock\|dpkg status database is locked\|lock-frontend' "$TMP/dpkg.out" || break
		sleep 2
	done
	cat "$TMP/dpkg.out"
	return $rc
}

# --- Build ---------------------------------------------------------------

DEBDIR=$TMP/deb
start=$(date +%s)
make -C "$LAB_ROOT" --no-print-directory deb DEBDIR="$DEBDIR" >"$TMP/build.log" 2>&1
rc=$?
DEB=$(ls "$DEBDIR"/${PKG}_*.deb 2>/dev/null | head -1)
if [ "$rc" != 0 ] || [ -z "$DEB" ]; then
	nok "make deb builds the package (rc $rc)"
	tail -n 20 "$TMP/build.log" | sed 's/^/# /'
	exit 1
fi
ok "make deb builds $(basename "$DEB") in $(($(date +%s) - start)) s"

want=$(sed -n -E 's/^#define ECNTRACE_VERSION "([^"]+)".*/\1/p' "$LAB_ROOT/src/ecntrace.h")
got=$(dpkg-deb -f "$DEB" Version)
check "package version $got is ecntrace's own ($want)" [ "$got" = "$want" ]

dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$TMP/contents"
missing=""
for f in $FILES; do grep -qxF "$f" "$TMP/contents" || missing="$missing $f"; done
check "the package holds the binary, man page, schema and completion${missing:+ (missing:$missing)}" \
	[ -z "$missing" ]
deps=$(dpkg-deb -f "$DEB" Depends)
check "Depends names libcap2-bin and the shared libraries ($deps)" \
	all '[[ $deps == *libcap2-bin* ]]' '[[ $deps == *libpcap* ]]' '[[ $deps == *libnftables* ]]'

if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error,warning "$DEB" >"$TMP/lintian.out" 2>&1
	rc=$?
	grep -v 'running with root privileges' "$TMP/lintian.out" | sed 's/^/# /'
	check "lintian: no error or warning (rc $rc)" \
		all '[ $rc = 0 ]' '! grep -q "^[EW]: " "$TMP/lintian.out"'
else
	skip "lintian is not installed"
fi

# --- Install -------------------------------------------------------------

INSTALLED=1
dpkg_do -i "$DEB" >"$TMP/install.out" 2>&1
rc=$?
check "dpkg -i installs it (rc $rc)" \
	all '[ $rc = 0 ]' '[ "$(dpkg-query -W -f="\${db:Status-Status}" $PKG)" = installed ]'
[ "$rc" = 0 ] || { sed 's/^/# /' "$TMP/install.out"; exit 1; }
check "postinst prints no fallback message" all '! grep -q "will need root" "$TMP/install.out"'

missing=""
for f in $FILES; do [ -f "$f" ] || missing="$missing $f"; done
check "installed: ${FILES//$'\n'/ }${missing:+ (missing:$missing)}" [ -z "$missing" ]

caps=$(getcap /usr/bin/ecntrace)
check "getcap: cap_net_admin,cap_net_raw=ep ($caps)" \
	all '[[ "$caps" == *" cap_net_admin,cap_net_raw=ep" ]]'
mode=$(stat -c '%a %U:%G' /usr/bin/ecntrace)
check "/usr/bin/ecntrace is 755 root:root, not setuid ($mode)" [ "$mode" = "755 root:root" ]

# postinst where setcap fails (as on a filesystem without xattrs): it says
# so, the installation goes on, nothing becomes setuid.
mkdir -p "$TMP/stub"
printf '#!/bin/sh\necho "stub setcap: Operation not supported" >&2\nexit 1\n' >"$TMP/stub/setcap"
chmod 755 "$TMP/stub/setcap"
PATH=$TMP/stub:$PATH sh /var/lib/dpkg/info/$PKG.postinst configure >"$TMP/fb.out" 2>&1
rc=$?
sed 's/^/# /' "$TMP/fb.out"
check "postinst when setcap fails: exit 0, says ecntrace will need root, not setuid (rc $rc)" \
	all '[ $rc = 0 ]' 'grep -q "ecntrace will need root" "$TMP/fb.out"' '[ ! -u /usr/bin/ecntrace ]'

ver=$(/usr/bin/ecntrace --version 2>&1)
check "/usr/bin/ecntrace --version: $ver" all '[[ "$ver" == "ecntrace $want "* ]]'

MANWIDTH=80 MANPAGER=cat man -l /usr/share/man/man1/ecntrace.1.gz >"$TMP/man-l.out" 2>"$TMP/man-l.err"
rc=$?
check "man -l renders the installed page, no warning (rc $rc)" \
	all '[ $rc = 0 ]' 'grep -q "^NAME" "$TMP/man-l.out"' 'grep -q "^SYNOPSIS" "$TMP/man-l.out"' \
	'[ ! -s "$TMP/man-l.err" ]'
# man-db keeps formatted pages in /var/cache/man, judged fresh by mtime;
# every build of this version has the same (reproducible) mtime, so a page
# cached from an earlier build of the tree would be shown instead.
rm -f /var/cache/man/cat1/ecntrace.1* /var/cache/man/*/cat1/ecntrace.1* 2>/dev/null
MANWIDTH=80 MANPAGER=cat man ecntrace >"$TMP/man.out" 2>"$TMP/man.err"
rc=$?
check "man ecntrace finds and renders it (rc $rc)" \
	all '[ $rc = 0 ]' 'cmp -s "$TMP/man.out" "$TMP/man-l.out"'

check "the installed schema is the JSON schema ecntrace/1" \
	cmp -s /usr/share/ecntrace/ecntrace-schema.json "$LAB_ROOT/doc/ecntrace-schema.json"
out=$(bash -c '. /usr/share/bash-completion/completions/ecntrace && complete -p ecntrace' 2>&1)
check "the installed completion loads and completes ecntrace ($out)" all '[[ "$out" == "complete "*" ecntrace" ]]'

# --- An ordinary user ------------------------------------------------------

if useradd --system --user-group --no-create-home --home-dir /nonexistent \
	--shell /usr/sbin/nologin "$USER_NAME" 2>"$TMP/useradd.err"; then
	USER_MADE=1
	ok "temporary user $USER_NAME"
else
	nok "useradd $USER_NAME: $(cat "$TMP/useradd.err")"
	exit 1
fi
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")

# as CMD...: run CMD in the client namespace as the user, inheriting no
# capability (any it gets come from the file it executes).
as() {
	on client setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all "$@"
}

name=db$$
if ! lab_up "$name" single; then
	nok "single lab comes up"
	exit 1
fi

as /usr/bin/ecntrace trace -n -q 1 "$TARGET4" >"$TMP/t.out" 2>"$TMP/t.err"
rc=$?
sed 's/^/# /' "$TMP/t.out" "$TMP/t.err"
check "trace as $USER_NAME: exit 0, the last hop is the target (rc $rc)" \
	all '[ $rc = 0 ]' '[ "$(tail -n 1 "$TMP/t.out" | awk "{ print \$2 }")" = "$TARGET4" ]'
as /usr/bin/ecntrace trace -n -q 1 --json "$TARGET4" >"$TMP/t.json" 2>/dev/null
check "trace --json as $USER_NAME: reached" [ "$(jq -r .reached "$TMP/t.json")" = true ]

as /usr/bin/ecntrace connect --flows 1 "$TARGET4" >"$TMP/c.out" 2>"$TMP/c.err"
rc=$?
sed 's/^/# /' "$TMP/c.out" "$TMP/c.err"
check "connect as $USER_NAME (CAP_NET_ADMIN from the file): exit 0, no ecntrace_ table left (rc $rc)" \
	all '[ $rc = 0 ]' '[ -z "$(on client nft list tables | grep ecntrace_)" ]'

# The control: the same binary without its file capabilities.
mkdir -p "$TMP/bin"
cp /usr/bin/ecntrace "$TMP/bin/ecntrace"
chmod 755 "$TMP" "$TMP/bin"
as "$TMP/bin/ecntrace" trace -n -q 1 "$TARGET4" >/dev/null 2>"$TMP/n.err"
rc=$?
check "a copy without the file capabilities, as $USER_NAME: exit 77 naming CAP_NET_RAW (rc $rc)" \
	all '[ $rc = 77 ]' 'grep -q CAP_NET_RAW "$TMP/n.err"'

# --- Remove and purge --------------------------------------------------------

dpkg_do -r "$PKG" >"$TMP/remove.out" 2>&1
rc=$?
left=""
while read -r f; do
	[ -f "$f" ] || [ -L "$f" ] && left="$left $f"
done <"$TMP/contents"
check "dpkg -r removes every file of the package (rc $rc)${left:+ (left:$left)}" \
	all '[ $rc = 0 ]' '[ -z "$left" ]'
dpkg_do -P "$PKG" >"$TMP/purge.out" 2>&1
rc=$?
INSTALLED=0
st=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)
left=""
for f in $FILES /usr/share/ecntrace /usr/share/doc/ecntrace; do [ ! -e "$f" ] || left="$left $f"; done
check "dpkg -P: the package is gone (status '${st:-unknown}'), so are its directories${left:+ (left:$left)}" \
	all '[ $rc = 0 ]' '[ -z "$st" ] || [ "$st" = not-installed ]' '[ -z "$left" ]'

deb_cleanup
check "the temporary user is gone" all '! id "$USER_NAME" >/dev/null 2>&1'
exit $TAP_FAILED
