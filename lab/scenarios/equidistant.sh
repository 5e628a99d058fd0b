# The story's bug with both anycast sites at the same distance behind the
# hashing router: the RST comes back with the SYN-ACK's TTL, so only
# behaviour tells the two machines apart.
DESC="TOS hash, 2 anycast sites at the same distance behind it"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1")
SITE=anycast
