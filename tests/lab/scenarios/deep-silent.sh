# deep, but the first router of every branch sends no time exceeded: the
# hop right after the split is silent, so the split can only be bounded
# (the router that parts the codepoints is hop 4 or hop 5), not pinned.
DESC="deep, with the first router of each branch silent"
HASH=ecn
TRUNK="gw isp1 isp2"
BALANCER=core
BRANCHES=("a1" "b1 b2" "c1 c2 c3")
SITE=anycast
post_up() {
	local n
	for n in a1 b1 c1; do
		printf '%s\n' 'table inet silent {' ' chain out {' \
			'  type filter hook output priority filter;' \
			'  icmp type time-exceeded drop' \
			'  icmpv6 type time-exceeded drop' ' }' '}' |
			ip netns exec "$(ns "$n")" nft -f - || return 1
	done
}
