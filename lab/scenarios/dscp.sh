# Hashing on DSCP only is tolerable: ECN changes inside a flow, DSCP does not.
DESC="seed but the edge hashes DSCP only (safe: no ECN dependence)"
HASH=dscp
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
