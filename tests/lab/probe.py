#!/usr/bin/python3
"""Small raw-socket probes for the lab tests (the lab has no ping).

  probe.py ping -4|-6 [--count N] [--interval S] [--ttl T] [--wait S] DST
      N ICMP echo requests, S apart; prints one line
      "sent N replies R exceeded E" (echo replies, and time exceeded
      errors quoting one of our requests).
  probe.py tcp -4|-6 --sport P --dport P --flags FLAGS DST
      one TCP segment with FLAGS (letters S F R P A U E C, e.g. "SF"),
      sequence number 1, no payload.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ping(a):
    v6 = a.family == 6
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, a.ttl)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, a.ttl)
    ident = os.getpid() & 0xFFFF
    echo_req, echo_rep, exceeded = (128, 129, 3) if v6 else (8, 0, 11)
    replies, exc, seen = 0, 0, set()
    deadline_send = time.monotonic()

    def receive(until):
        nonlocal replies, exc
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return
            pkt, _ = s.recvfrom(65535)
            if not v6:  # raw IPv4 sockets hand over the IP header
                pkt = pkt[(pkt[0] & 15) * 4:]
            if len(pkt) < 8:
                continue
            t = pkt[0]
            if t == echo_rep:
                i, q = struct.unpack("!HH", pkt[4:8])
                if i == ident and ("r", q) not in seen:
                    seen.add(("r", q))
                    replies += 1
            elif t == exceeded:
                inner = pkt[8:]
                if v6:
                    inner = inner[40:]
                elif inner:
                    inner = inner[(inner[0] & 15) * 4:]
                if len(inner) >= 8 and inner[0] == echo_req:
                    i, q = struct.unpack("!HH", inner[4:8])
                    if i == ident and ("e", q) not in seen:
                        seen.add(("e", q))
                        exc += 1

    for seq in range(a.count):
        hdr = struct.pack("!BBHHH", echo_req, 0, 0, ident, seq) + b"ecnlab-probe"
        if not v6:  # the kernel fills in the ICMPv6 checksum
            hdr = hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:]
        s.sendto(hdr, (a.dst, 0))
        deadline_send += a.interval
        receive(deadline_send)
    receive(time.monotonic() + a.wait)
    print("sent %d replies %d exceeded %d" % (a.count, replies, exc))


def tcp(a):
    v6 = a.family == 6
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16, "U": 32, "E": 64, "C": 128}
    flags = 0
    for c in a.flags:
        flags |= bits[c]
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
    # Our own source address: the one a UDP socket would use.
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.connect((a.dst, 9))
    src = u.getsockname()[0]
    u.close()
    hdr = struct.pack("!HHIIBBHHH", a.sport, a.dport, 1, 0, 5 << 4, flags, 65535, 0, 0)
    pb = socket.inet_pton(fam, src) + socket.inet_pton(fam, a.dst)
    if v6:
        pseudo = pb + struct.pack("!I3xB", len(hdr), 6)
    else:
        pseudo = pb + struct.pack("!xBH", 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    s.sendto(hdr, (a.dst, 0))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ping")
    p.add_argument("-4", dest="family", action="store_const", const=4, default=4)
    p.add_argument("-6", dest="family", action="store_const", const=6)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval", type=float, default=0.01)
    p.add_argument("--ttl", type=int, default=64)
    p.add_argument("--wait", type=float, default=1.0)
    p.add_argument("dst")
    t = sub.add_parser("tcp")
    t.add_argument("-4", dest="family", action="store_const", const=4, default=4)
    t.add_argument("-6", dest="family", action="store_const", const=6)
    t.add_argument("--sport", type=int, required=True)
    t.add_argument("--dport", type=int, required=True)
    t.add_argument("--flags", required=True)
    t.add_argument("dst")
    a = ap.parse_args()
    if a.cmd == "ping":
        if not 1 <= a.count <= 5000:
            sys.exit("--count must be 1..5000")
        ping(a)
    else:
        tcp(a)


if __name__ == "__main__":
    main()
