# The edge hashes the 5-tuple, and CE packets with another seed: only CE
# moves a flow. The gateway before it marks CE on ECT data (congestion on
# the data, never on SYNs or RSTs), so ECN connections break.
DESC="edge moves only CE packets; the gateway marks CE on ECT data"
HASH=ce
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
MODIFY=("gw ce-data")
