# ECT black hole: the second router drops every packet whose ECN field is
# not Not-ECT. Handshakes work; ECT data vanishes.
DESC="one path, the router at hop 2 drops ECT/CE packets"
HASH=none
TRUNK="r1 r2 r3"
BRANCHES=("")
SITE=anycast
MODIFY=("r2 drop-ect")
