# The second router clears the ECN field of everything it forwards.
DESC="one path, the router at hop 2 bleaches ECN to Not-ECT"
HASH=none
TRUNK="r1 r2 r3"
BRANCHES=("")
SITE=anycast
MODIFY=("r2 bleach")
