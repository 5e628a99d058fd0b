# Per-packet balancing to anycast: breaks TCP with or without ECN.
DESC="seed with per-packet balancing (numgen inc): breaks even without ECN"
HASH=packet
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
