#!/bin/bash
# diagnose --report: on the story's network one run writes a self-contained
# HTML page; headless Chromium renders it with no console message (the
# screenshot is kept in build/test-logs/); nothing on the page loads
# anything; the path diagram highlights the splitting router the lab built
# and draws both of its next hops and both anycast sites; the timeline shows
# the SYN-ACK and RST TTLs the lab's two sites give; the user's host name is
# escaped. A report that cannot be created is one line on stderr and exit 73
# before any packet is sent; a run that fails leaves no report behind.
# Each detector is first shown to fire on a page broken on purpose.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab

ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"
CHROMIUM=${CHROMIUM:-chromium}
command -v "$CHROMIUM" >/dev/null 2>&1 || skip_all "chromium is not installed"
command -v unshare >/dev/null 2>&1 || skip_all "unshare is not installed"
CHECK=$LAB_ROOT/tests/lab/report_check.py
LOGDIR=${TEST_LOGDIR:-$LAB_ROOT/build/test-logs}
mkdir -p "$LOGDIR"
LOGDIR=$(cd "$LOGDIR" && pwd)

# The user's name for the target, resolved by the client namespace's own
# hosts file (ip netns exec mounts /etc/netns/NS/hosts): markup in it must
# come out escaped.
HOSTNAME_EVIL='cdn<i>x</i>&"q'"'"'.example'
NETNS_ETC=""
MADE_ETC_NETNS=0
report_cleanup() {
	[ -n "$NETNS_ETC" ] && rm -rf "$NETNS_ETC"
	[ "$MADE_ETC_NETNS" = 1 ] && rmdir /etc/netns 2>/dev/null
	lab_cleanup
}
trap report_cleanup EXIT

# browser ARGS... URL: headless Chromium in a network namespace of its own
# (only loopback, gone when it exits), so even a page that tried could load
# nothing; a fresh profile each time; at most 60 s.
browser() {
	local prof rc
	prof=$(mktemp -d "$TMP/chromium.XXXXXX")
	timeout 60 unshare -n "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$prof" "$@"
	rc=$?
	rm -rf "$prof"
	return $rc
}

# render PAGE PNG: screenshot at 1200x1800; the page's console messages go
# to PNG.console (Chromium's own chrome:// pages log there too: not ours).
render() {
	browser --enable-logging=stderr --v=0 --window-size=1200,1800 \
		--screenshot="$2" "file://$1" >/dev/null 2>"$2.log"
	grep ':CONSOLE' "$2.log" | grep -F "source: file://" >"$2.console"
	true
}

# png_ok PNG: a PNG image 1200 pixels wide, big enough not to be blank.
png_ok() {
	[ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
	[ "$(od -An -tu1 -j16 -N4 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')" = 1200 ] &&
	[ "$(wc -c <"$1")" -gt 30000 ]
}

# --- the detectors, on pages broken on purpose (a page without a CSP and
# with a script error, and a page loading an image from elsewhere)
printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>x</title></head><body><p>x</p><script>no_such_function();</script></body></html>\n' >"$TMP/bad.html"
render "$TMP/bad.html" "$TMP/bad.png"
check "the console detector sees a page's script error ($(wc -l <"$TMP/bad.png.console") message)" \
	[ -s "$TMP/bad.png.console" ]
printf '<!DOCTYPE html><html><head><style>p{background:url(https://192.0.2.1/a.png)}</style></head><body><img src="https://192.0.2.1/x.png"><a href="//192.0.2.1/">x</a></body></html>\n' >"$TMP/ext.html"
python3 "$CHECK" external "$TMP/ext.html" >"$TMP/ext.found"
check "the external-load detector sees an image, a CSS url() and a link ($(wc -l <"$TMP/ext.found") found)" \
	all 'grep -q "^src=" "$TMP/ext.found"' 'grep -q "^href=" "$TMP/ext.found"' \
	'grep -q "^CSS: url(" "$TMP/ext.found"'
python3 "$CHECK" external "$TMP/bad.html" >"$TMP/bad.found"
check "... and a script" grep -q "^<script>" "$TMP/bad.found"

# --- a report that cannot be created: one line, exit 73, no packet sent
name=rp$$
if ! lab_up "$name" seed 1; then
	nok "seed lab comes up"
	exit 1
fi
ok "seed lab comes up: balancer $BALANCER4 at hop $BALANCER_HOP, next hops $BRANCH_NEXT4, sites $REPLY_HOPS routers back"

capture_start client "$CLIENT_IF" "host $TARGET4 or host $TARGET6" "$TMP/cap" ||
	nok "tcpdump starts in the client"
on client "$ECNTRACE" -q --report /nonexistent/dir/x.html "$TARGET4" >"$TMP/out" 2>"$TMP/err"
rc=$?
capture_stop
check "--report /nonexistent/dir/x.html: exit $rc (need 73), \"$(head -1 "$TMP/err")\"" \
	all '[ $rc = 73 ]' '[ "$(wc -l <"$TMP/err")" = 1 ]' '[ ! -s "$TMP/out" ]' \
	'grep -q "/nonexistent/dir/x.html" "$TMP/err"'
check "... and not one packet went to the target ($(grep -c ' > ' "$TMP/cap") seen)" \
	[ "$(grep -c ' > ' "$TMP/cap")" = 0 ]

on client "$ECNTRACE" -q -i no-such-if0 --report "$TMP/gone.html" "$TARGET4" >/dev/null 2>"$TMP/err"
rc=$?
check "a run that fails (no such interface, exit $rc) leaves no report behind" \
	all '[ $rc != 0 ]' '[ $rc != 1 ]' '[ ! -e "$TMP/gone.html" ]'

# --- the report of the story, over IPv4 and IPv6
[ -d /etc/netns ] || MADE_ETC_NETNS=1
NETNS_ETC=/etc/netns/$CLIENT_NS
mkdir -p "$NETNS_ETC"
printf '%s %s\n%s %s\n' "$TARGET4" "$HOSTNAME_EVIL" "$TARGET6" "$HOSTNAME_EVIL" >"$NETNS_ETC/hosts"

# What the lab built: reply TTLs 64 minus the routers on each way back; the
# hop counts ecntrace reports count the site too.
reply_ttls="" site_hops=""
for h in $REPLY_HOPS; do
	reply_ttls="$reply_ttls $((64 - h))"
	site_hops="$site_hops $((h + 1))"
done
split_ttl=$((BALANCER_HOP + 1))

for fam in 4 6; do
	if [ $fam = 4 ]; then balancer=$BALANCER4 next=$BRANCH_NEXT4 target=$TARGET4
	else balancer=$BALANCER6 next=$BRANCH_NEXT6 target=$TARGET6; fi
	page=$LOGDIR/report-seed-v$fam.html
	png=$LOGDIR/report-seed-v$fam.png
	rm -f "$page" "$png"
	# 16 connections: the chance that none is reset is 2^-16.
	on client "$ECNTRACE" -$fam -q --flows 16 --report "$page" "$HOSTNAME_EVIL" \
		>"$TMP/text$fam" 2>"$TMP/err$fam"
	rc=$?
	check "IPv$fam: diagnose --report exits 1 (broken), got $rc, and writes the page ($(wc -c <"$page" 2>/dev/null || echo 0) bytes)" \
		all '[ $rc = 1 ]' '[ -s "$page" ]' '[ ! -s "$TMP/err$fam" ]'
	[ -s "$page" ] || continue

	render "$page" "$png"
	check "IPv$fam: Chromium renders the page, screenshot $png" png_ok "$png"
	check "IPv$fam: no console message while rendering ($(wc -l <"$png.console") seen)" \
		[ ! -s "$png.console" ]
	[ -s "$png.console" ] && sed 's/^/# /' "$png.console" | head -5
	browser --dump-dom "file://$page" >"$TMP/dom$fam" 2>/dev/null
	check "IPv$fam: the rendered DOM has the verdict (BROKEN), the path diagram and the timeline" \
		all 'grep -q "<section id=\"verdict\"" "$TMP/dom$fam"' \
		'grep -q ">BROKEN</span>" "$TMP/dom$fam"' \
		'grep -q "<svg id=\"paths-map\"" "$TMP/dom$fam"' \
		'grep -q "<svg id=\"timeline\"" "$TMP/dom$fam"'

	ext=$(python3 "$CHECK" external "$page")
	csp=$(grep -c "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" "$page")
	check "IPv$fam: nothing on the page loads anything${ext:+: $ext}, and its CSP forbids it" \
		all '[ -z "$ext" ]' '[ "$csp" = 1 ]'
	check "IPv$fam: the host name is escaped, never markup" \
		all '! grep -qF "<i>x</i>" "$page"' 'grep -qF "cdn&lt;i&gt;x&lt;/i&gt;&amp;&quot;q&#39;.example" "$page"'

	python3 "$CHECK" facts "$page" >"$TMP/facts$fam"
	# node TTL PATHS FAULT ADDR | SUBLABEL
	fault=$(awk -v t="$BALANCER_HOP" -v a="$balancer" '$1 == "node" && $2 == t && $4 == 1 && $5 == a' "$TMP/facts$fam")
	check "IPv$fam: the diagram highlights the splitting router $balancer at hop $BALANCER_HOP, on both branches" \
		all '[ -n "$fault" ]' '[ "$(echo "$fault" | awk "{ print \$3 }")" = 3 ]'
	b1=$(nth "$next" 1) b2=$(nth "$next" 2)
	p1=$(awk -v t="$split_ttl" -v a="$b1" '$1 == "node" && $2 == t && $5 == a { print $3 }' "$TMP/facts$fam")
	p2=$(awk -v t="$split_ttl" -v a="$b2" '$1 == "node" && $2 == t && $5 == a { print $3 }' "$TMP/facts$fam")
	check "IPv$fam: its next hops $b1 and $b2 are two branches at hop $split_ttl (paths ${p1:-none}, ${p2:-none})" \
		all '[ -n "$p1" ]' '[ -n "$p2" ]' '[ "$p1" != "$p2" ]' '[ "$p1" = 1 ] || [ "$p1" = 2 ]' \
		'[ "$p2" = 1 ] || [ "$p2" = 2 ]'
	sites=$(awk -v a="$target" '$1 == "node" && $5 == a' "$TMP/facts$fam" |
		sed -E -n 's/.*site ([0-9]+) · ([0-9]+) hops back.*/\1:\2/p' | sort -u | xargs)
	want=$(for h in $site_hops; do echo "$h"; done | sort -n | xargs)
	got=$(echo "$sites" | tr ' ' '\n' | sed -n 's/.*://p' | sort -n | xargs)
	check "IPv$fam: the anycast sites are two nodes of $target, $want hops back (drawn: $sites)" \
		all '[ "$(echo $sites | wc -w)" = 2 ]' '[ "$got" = "$want" ]'

	# msg KIND TTL | WORDS; capture LINE
	sa=$(awk '$1 == "msg" && $2 == "synack" { print $3; exit }' "$TMP/facts$fam")
	rst=$(awk '$1 == "msg" && $2 == "rst" { print $3; exit }' "$TMP/facts$fam")
	data=$(awk '$1 == "msg" && $2 == "data"' "$TMP/facts$fam")
	check "IPv$fam: the timeline has the SYN-ACK (ttl ${sa:-none}) and the RST to the ECT(0) data (ttl ${rst:-none}), two of$reply_ttls" \
		all '[ -n "$sa" ]' '[ -n "$rst" ]' '[ "$sa" != "$rst" ]' \
		'[ -n "$(index_of "$sa" "$reply_ttls")" ]' '[ -n "$(index_of "$rst" "$reply_ttls")" ]' \
		'echo "$data" | grep -qF "ECT(0)"' \
		'grep -q "^msg synack $sa | .*ttl $sa, $((65 - sa)) hops back" "$TMP/facts$fam"' \
		'grep -q "^msg rst $rst | .*ttl $rst, $((65 - rst)) hops back" "$TMP/facts$fam"'
	ttlw=ttl; [ $fam = 6 ] && ttlw=hlim
	check "IPv$fam: the capture listing shows [S.E] with $ttlw $sa, ECT(0) data, [R] with $ttlw $rst" \
		all "grep -q '^capture .*$ttlw $sa).*Flags \[S\.E\]' \"\$TMP/facts$fam\"" \
		"grep -q '^capture .*ECT(0), $ttlw 64).*Flags \[P\.\]' \"\$TMP/facts$fam\"" \
		"grep -q '^capture .*$ttlw $rst).*Flags \[R\]' \"\$TMP/facts$fam\""
	diag "IPv$fam report: $page"
	diag "IPv$fam screenshot: $png"
done

lab "$name" down
check "seed lab is gone" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
