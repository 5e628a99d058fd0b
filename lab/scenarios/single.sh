# One path, nothing odd: the baseline every diagnosis should call healthy.
DESC="one path, no balancing, no ECN trouble"
HASH=none
TRUNK="r1 r2 r3"
BRANCHES=("")
SITE=anycast
