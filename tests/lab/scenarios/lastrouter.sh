# The hashing router is the last before the target: both anycast sites
# hang right off it at the same distance. No router after the split can
# answer a probe, and the RST has the SYN-ACK's TTL: only the connection
# replay, and its all-ECT(0) repetition, show the split. (Kept out of
# lab/scenarios: traceroute cannot tell its branches apart, which the
# lab's own scenario test needs.)
DESC="TOS hash at the last router, 2 anycast sites right behind it"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("" "")
SITE=anycast
