# The second router marks CE on every ECN-capable packet, congested or not.
DESC="one path, the router at hop 2 sets CE on all ECT packets"
HASH=none
TRUNK="r1 r2 r3"
BRANCHES=("")
SITE=anycast
MODIFY=("r2 ce")
