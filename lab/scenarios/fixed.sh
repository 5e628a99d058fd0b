# The fix: the edge balances with Linux's own 5-tuple multipath hash.
DESC="seed with the fix: edge uses the kernel's 5-tuple multipath hash"
HASH=flow
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
