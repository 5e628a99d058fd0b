# The story: the ISP edge hashes the whole TOS byte (ECN bits included) over
# two paths to an anycast CDN; branch b is one router longer than branch a.
DESC="the story: edge hashes the whole TOS byte over 2 anycast sites"
HASH=tos
TRUNK="gw"
BALANCER=edge
BRANCHES=("a1" "b1 b2")
SITE=anycast
