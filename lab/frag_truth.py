#!/usr/bin/python3
"""Send the lab's fragment probes, so ecnlab can see where they land.

For each of COUNT source ports from PORT (flow label 0, as ecntrace's
fragment screen sends), one whole UDP datagram to DST:DPORT and one the
same size in two fragments. ecnlab counts at every site, before
reassembly, the source ports of whole datagrams and of first fragments:
a port whose two arrive at different sites is a flow whose fragments
take another path than its whole datagrams. That is the truth the tests
hold ecntrace's fragment-path finding to: whether a kernel's multipath
hash parts them depends on its random per-boot seed (IPv6 policy 0 hashes
the next header, 44 for a fragment; policy 1 hashes a fragment without
its ports), not on anything the scenario fixes.

Run by ecnlab inside the client's namespace:
    frag_truth.py --family 4|6 --src ADDR --dst ADDR [--port 40100]
                  [--count 16] [--dport 33435]
"""
import argparse
import socket
import struct
import sys
import time

from accecn_responder import csum    # the Internet checksum, beside us

PAYLOAD = b"ecnlab-frag-truth" + bytes(47)   # 64 bytes
FIRST = 40                                   # bytes of UDP in fragment 1


def udp(fam, src, dst, sport, dport):
    n = 8 + len(PAYLOAD)
    if fam == 4:
        pseudo = socket.inet_pton(socket.AF_INET, src) + \
            socket.inet_pton(socket.AF_INET, dst) + struct.pack("!BBH", 0, 17, n)
    else:
        pseudo = socket.inet_pton(socket.AF_INET6, src) + \
            socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!IxxxB", n, 17)
    hdr = struct.pack("!HHHH", sport, dport, n, 0)
    c = csum(pseudo + hdr + PAYLOAD) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, n, c) + PAYLOAD


def ip4(src, dst, ident, frag, body):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, frag,
                    64, 17, 0, socket.inet_pton(socket.AF_INET, src),
                    socket.inet_pton(socket.AF_INET, dst))
    return struct.pack("!10sH8s", h[:10], csum(h), h[12:]) + body


def ip6(src, dst, nh, body):
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, 64,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + body


def packets(fam, src, dst, sport, dport, ident):
    """The whole datagram, then its two fragments (offset in 8s, MF)."""
    d = udp(fam, src, dst, sport, dport)
    a, b = d[:FIRST], d[FIRST:]
    if fam == 4:
        return [ip4(src, dst, ident, 0, d),
                ip4(src, dst, ident, 0x2000, a),
                ip4(src, dst, ident, FIRST // 8, b)]
    fh = lambda off, mf: struct.pack("!BxHI", 17, (off << 3) | mf, ident)
    return [ip6(src, dst, 17, d),
            ip6(src, dst, 44, fh(0, 1) + a),
            ip6(src, dst, 44, fh(FIRST // 8, 0) + b)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", type=int, choices=(4, 6), required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=40100)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--dport", type=int, default=33435)
    o = ap.parse_args()
    if not 1 <= o.count <= 256 or not 1 <= o.port <= 65535 - o.count:
        sys.exit("frag_truth: --port/--count out of range")
    af = socket.AF_INET if o.family == 4 else socket.AF_INET6
    try:
        s = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for k in range(o.count):
            for p in packets(o.family, o.src, o.dst, o.port + k, o.dport,
                             0x5e00 + k):
                s.sendto(p, (o.dst, 0))
            time.sleep(0.001)
    except OSError as e:
        sys.exit("frag_truth: %s" % e)


if __name__ == "__main__":
    main()
