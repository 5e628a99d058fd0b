# The ECN hash on one branch only: a correct router at hop 2 splits scan's
# anycast prefixes by destination (alternate /24s, IPv6 /120s), even blocks
# to a1 - site a (one machine, healthy), odd blocks to edge (hop 3), which
# hashes the whole TOS byte between b1 - site b (hop 5) and c1 - c2 -
# site c (hop 6). Exactly the odd blocks depend on ECN, split at edge.
DESC="scan-branch: destination split at hop 2, the TOS hash at hop 3 for odd /24s only"
HASH=dst
TRUNK="gw"
BALANCER=front
BRANCHES=("a1" "edge b1")
SUB_BALANCER=edge
SUB_HASH=tos
SUB_BRANCH="c1 c2"
SITE=anycast
ANYCAST4=198.19.0.0/16
ANYCAST6=2001:db8:ac::/112
