# Two balancing stages: a correct 5-tuple balancer (the kernel's multipath,
# fib_multipath_hash_policy=1) spreads flows over two parallel routers, which
# rejoin at the edge router that hashes the whole TOS byte over two anycast
# sites. Only the second stage depends on ECN.
DESC="5-tuple multipath at hop 2 in front of the TOS-hashing edge at hop 4"
HASH=tos
TRUNK="gw front"
FRONT=front
FRONT_PATHS=("p1" "p2")
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
