# The edge balances IPv6 on the flow label (Linux fib_multipath_hash_policy
# 0: addresses, next header, flow label), IPv4 on the 5-tuple. A Linux
# client changes a connection's flow label after a retransmission timeout.
DESC="edge balances IPv6 on the flow label over 2 anycast sites"
HASH=flowlabel
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
