# The hashing router sits deeper in the path and splits three ways; only the
# two ECN bits (not DSCP) enter its hash.
DESC="hash on the ECN bits at hop 4, 3 anycast sites at different depths"
HASH=ecn
TRUNK="gw isp1 isp2"
BALANCER=core
BRANCHES=("a1" "b1 b2" "c1 c2 c3")
SITE=anycast
