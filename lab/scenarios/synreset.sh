# A middlebox answers an ECN-setup SYN (ECE+CWR) with a TCP reset; plain
# SYNs pass.
DESC="one path, a firewall at hop 2 resets ECN-setup SYNs"
HASH=none
TRUNK="r1 fw r3"
BRANCHES=("")
SITE=anycast
MODIFY=("fw rst-ecn-syn")
