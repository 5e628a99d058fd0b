# The path depends on ECN but both branches rejoin before one server, so
# every connection works: an ECN-dependent path alone is not the fault.
DESC="TOS hash, but both branches rejoin before one unicast server"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=unicast
