#!/bin/bash
# No reply is lost to a short buffer: with GRO on toward the client (the
# lab merges what it receives into frames far above the MTU) and a page
# larger than 30 KB downloading beside a replay, ecntrace's packet socket
# receives the merged frames whole: its --pcap holds them at their full
# length, it counts none truncated, and the replay works. IPv4 and IPv6.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab
command -v ethtool >/dev/null 2>&1 || skip_all "ethtool is not installed"
command -v jq >/dev/null 2>&1 || skip_all "jq is not installed"
ECNTRACE=${ECNTRACE:-$LAB_ROOT/ecntrace}
[ -x "$ECNTRACE" ] || skip_all "no ecntrace binary at $ECNTRACE (make)"

name=gr$$
ECNLAB_GRO=1 lab_up "$name" single || { nok "single lab with GRO comes up"; exit 1; }
[ "${BIG_BYTES:-0}" -gt 30000 ] || nok "the lab serves a page over 30 KB (BIG_BYTES ${BIG_BYTES:-unset})"

for fam in 4 6; do
	if [ "$fam" = 6 ]; then t=$TARGET6 url="http://[$TARGET6]$BIG_PATH"; else t=$TARGET4 url="http://$TARGET4$BIG_PATH"; fi
	# The page downloads again and again while the replay runs (three
	# flows a second apart, about three seconds; at most 40 downloads of
	# about 0.3 s), so merged frames reach ecntrace's packet socket, which
	# keeps everything TCP in its --pcap, however late the replay starts
	# capturing on a busy machine. (One download at 40 KB/s beside it was
	# over before the capture began once in CI: largest frame 60 bytes.)
	rm -f "$TMP/stop"
	(
		for ((k = 0; k < 40; k++)); do
			[ -e "$TMP/stop" ] && break
			on client curl -sS -g -o /dev/null --limit-rate 200k -m 10 "$url"
		done
	) &
	curl_pid=$!
	BG_PIDS="$BG_PIDS $curl_pid"
	on client "$ECNTRACE" connect -"$fam" --quiet --json --flows 3 --rate 2 \
		--pcap "$TMP/g$fam.pcap" "$t" >"$TMP/g$fam.json" 2>"$TMP/g$fam.err"
	rc=$?
	touch "$TMP/stop"
	wait "$curl_pid"
	check "IPv$fam: the replay works beside the download (exit $rc, $(jq -c .summary.results "$TMP/g$fam.json" 2>/dev/null))" \
		all '[ "$rc" = 0 ]' "[ \"\$(jq -r '.summary.results.ok' \"$TMP/g$fam.json\")\" = 3 ]" "[ \"\$(jq -r '.summary.control_ok' \"$TMP/g$fam.json\")\" = 3 ]"
	big=$(tcpdump -n -r "$TMP/g$fam.pcap" -v "src host $t and src port $HTTP_PORT" 2>/dev/null |
		sed -nE 's/.*(length|payload length:?) ([0-9]+)[,)].*/\2/p' | sort -n | tail -1)
	cut=$(tcpdump -n -r "$TMP/g$fam.pcap" "src host $t" 2>&1 | grep -c '\[|tcp\]\|truncated')
	trunc=$(jq -r .summary.packets_truncated "$TMP/g$fam.json" 2>/dev/null)
	check "IPv$fam: ecntrace received merged frames whole: largest ${big:-0} bytes (> 1500), none cut in its pcap ($cut), none truncated (${trunc:-?})" \
		all '[ "${big:-0}" -gt 1500 ]' '[ "$cut" = 0 ]' '[ "$trunc" = 0 ]'
done

lab "$name" down
check "the lab is gone" [ -z "$(lab_namespaces "$name")" ]
exit $TAP_FAILED
