# The edge hashes the 5-tuple and the TTL (hop limit) on arrival: a flow
# whose packets leave with different TTLs reaches different sites.
DESC="edge hashes the 5-tuple and the TTL over 2 anycast sites"
HASH=ttl
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
