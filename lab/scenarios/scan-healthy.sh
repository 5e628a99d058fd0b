# scan's many anycast addresses behind a correct balancer (the kernel's
# 5-tuple multipath): two sites answer for every address, nothing depends
# on ECN.
DESC="scan-healthy: scan's addresses, edge balances per 5-tuple"
HASH=flow
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
ANYCAST4=198.19.0.0/16
ANYCAST6=2001:db8:ac::/112
