# Many anycast addresses behind the story's bug: both sites answer for a
# whole /16 (IPv4) and a /112 (IPv6) through local routes, and the edge
# hashes the whole TOS byte over them: every address's path depends on ECN,
# split at the edge (hop 2). For `ecntrace scan`; truth in `env` SCAN_TRUTH.
DESC="scan: a /16 and a /112 of anycast addresses, edge hashes the TOS byte"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
ANYCAST4=198.19.0.0/16
ANYCAST6=2001:db8:ac::/112
