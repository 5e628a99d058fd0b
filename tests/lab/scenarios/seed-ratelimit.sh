# The story's network with Linux's default ICMP rate limits kept on every
# router (a burst of six, then one a second per peer), as real routers do.
DESC="seed, with the routers' ICMP rate limits on"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
KEEP_RATELIMIT=1
