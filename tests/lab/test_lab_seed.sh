#!/bin/bash
# The story, reproduced with the kernel's own TCP: in the `seed` lab a share of
# HTTP connections fail with ECN on and none with ECN off, over IPv4 and IPv6;
# the reset of a failed connection arrives with another TTL than its SYN-ACK;
# in `fixed` nothing fails. Repeated for each hash seed in LAB_SEEDS.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
need_lab

SEEDS=${LAB_SEEDS:-"1 2"}
N=20   # connections per family and ECN setting

# run_curls FAMILY FIRSTPORT: N connections; sets FAILS (ports), RESETS (count
# of failures that were resets) and SEEN (site names that answered).
run_curls() {
	local i p page
	FAILS="" RESETS=0 SEEN=""
	for i in $(seq 1 $N); do
		p=$(($2 + i))
		if page=$(http "$1" "$p"); then
			page=${page// /_}
			case " $SEEN " in *" $page "*) ;; *) SEEN="$SEEN $page";; esac
		else
			FAILS="$FAILS $p"
			grep -q "reset by peer" "$TMP/curl.err" && RESETS=$((RESETS + 1))
		fi
	done
	FAILS=${FAILS# } SEEN=${SEEN# }
}
count() { echo $# ; }

for seed in $SEEDS; do
	name=ls$$s$seed
	if ! lab_up "$name" seed "$seed"; then
		nok "seed lab comes up (hash seed $seed)"
		continue
	fi
	ok "seed lab comes up (hash seed $seed): sites answer at hops $BRANCH_HOPS"
	# Reply TTLs the client can see: 64 minus the routers on each way back.
	reply_ttls=""
	for h in $REPLY_HOPS; do reply_ttls="$reply_ttls $((64 - h))"; done

	for fam in 4 6; do
		base=$((20000 + fam * 1000 + seed * 100))
		on client sysctl -qw net.ipv4.tcp_ecn=1
		cap=$TMP/cap$fam.$seed
		capture_start client "$CLIENT_IF" "tcp port $HTTP_PORT" "$cap" || nok "tcpdump starts in the client"
		run_curls "$fam" "$base"
		capture_stop
		nf=$(count $FAILS)
		check "IPv$fam ECN on, seed $seed: $nf/$N connections fail (need >= 20%)" \
			[ $((nf * 100)) -ge $((N * 20)) ]
		check "IPv$fam ECN on, seed $seed: all $nf failures are 'Connection reset by peer'" \
			[ "$RESETS" = "$nf" ]

		# The evidence of the story: per failed connection, the SYN-ACK and
		# the RST came back with different TTLs, both ones a site's replies
		# can have; and the packet that drew the RST was ECT(0) data.
		packets "$cap" >"$cap.pk"
		bad="" example=""
		for p in $FAILS; do
			sa=$(awk -v p="$p" '$1 == 80 && $2 == p && $3 ~ /^S\./ { print $4; exit }' "$cap.pk")
			rst=$(awk -v p="$p" '$1 == 80 && $2 == p && $3 ~ /^R/ { print $4; exit }' "$cap.pk")
			data_tos=$(awk -v p="$p" '$1 == p && $3 ~ /P/ { print $5; exit }' "$cap.pk")
			if [ -z "$sa" ] || [ -z "$rst" ] || [ "$sa" = "$rst" ] ||
				[ -z "$(index_of "$sa" "$reply_ttls")" ] || [ -z "$(index_of "$rst" "$reply_ttls")" ] ||
				[ -z "$data_tos" ] || [ $((data_tos & 3)) != 2 ]; then
				bad="$bad $p"
			fi
			[ -n "$example" ] || example="port $p: SYN-ACK ttl $sa, ECT(0) data (tos $data_tos), RST ttl $rst"
		done
		check "IPv$fam, seed $seed: every failure's RST has another TTL than its SYN-ACK ($example)" \
			all '[ "$nf" -gt 0 ]' '[ -z "$bad" ]'
		[ -z "$bad" ] || diag "ports without that evidence:$bad"

		on client sysctl -qw net.ipv4.tcp_ecn=0
		run_curls "$fam" $((base + 50))
		nf=$(count $FAILS)
		check "IPv$fam ECN off, seed $seed: $nf/$N connections fail (need 0); sites seen: $SEEN" [ "$nf" = 0 ]
		[ "$nf" = 0 ] || diag "failed ports: $FAILS"
	done
	lab "$name" down
	check "seed lab (hash seed $seed) is gone" [ -z "$(lab_namespaces "$name")" ]
done

# The fix: the same network with the kernel's 5-tuple multipath hash.
name=lf$$
if lab_up "$name" fixed; then
	on client sysctl -qw net.ipv4.tcp_ecn=1
	for fam in 4 6; do
		run_curls "$fam" $((30000 + fam * 1000))
		nf=$(count $FAILS)
		check "fixed, IPv$fam ECN on: $nf/$N connections fail (need 0)" [ "$nf" = 0 ]
		check "fixed, IPv$fam: flows still spread over both sites ($SEEN)" [ "$(count $SEEN)" = 2 ]
	done
	lab "$name" down
	check "fixed lab is gone" [ -z "$(lab_namespaces "$name")" ]
else
	nok "fixed lab comes up"
fi
exit $TAP_FAILED
