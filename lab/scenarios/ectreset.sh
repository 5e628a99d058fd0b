# A middlebox answers ECT-marked data with a TCP reset: ECN connections
# fail on one path to one server, whatever their handshake did.
DESC="one path, a firewall at hop 2 resets ECT-marked data segments"
HASH=none
TRUNK="r1 fw r3"
BRANCHES=("")
SITE=anycast
MODIFY=("fw rst-ect")
