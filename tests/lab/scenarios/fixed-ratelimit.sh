# The fixed network (5-tuple multipath) with ICMP rate limits on.
DESC="fixed, with the routers' ICMP rate limits on"
HASH=flow
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
KEEP_RATELIMIT=1
