#!/usr/bin/python3
"""A QUIC Version Negotiation responder for the lab (RFC 9000 section 6).

Every QUIC server answers a client's long-header packet of a version it does
not support with a Version Negotiation packet, without any cryptography:
long header, version 0, the client's SCID as its DCID and the client's DCID
as its SCID (RFC 8999 section 6), then the versions it supports. This one
supports none, and lists

    SITE_VERSION 0x00000001

where SITE_VERSION is a reserved version (0x?a?a?a?a, RFC 9000 section 15)
that names the site (ecnlab gives the k-th site 0xkakakaka; `ecnlab env`
has QUIC_SITE_VERSIONS), so a test reads which machine answered from the
reply. A datagram shorter than 1200 bytes gets nothing (RFC 9000 section
14.1, as servers must), nor does a short header, a Version Negotiation, or
a packet of version 1.

Run by ecnlab inside a site's namespace, on the anycast addresses:
    quic_vn_responder.py --port 443 --version 0x1a1a1a1a \
        --addr 203.0.113.80 --addr 2001:db8:80::80 [--ready FILE]
"""
import argparse
import os
import random
import selectors
import signal
import socket
import struct
import sys

MIN_DATAGRAM = 1200
SUPPORTED = 0x00000001


def long_cids(pkt):
    """(version, dcid, scid) of a long header, or None."""
    if len(pkt) < 7 or not pkt[0] & 0x80:
        return None
    version = struct.unpack("!I", pkt[1:5])[0]
    off = 5
    dl = pkt[off]
    off += 1
    if off + dl >= len(pkt):
        return None
    dcid = pkt[off:off + dl]
    off += dl
    sl = pkt[off]
    off += 1
    if off + sl > len(pkt):
        return None
    return version, dcid, pkt[off:off + sl]


def version_negotiation(pkt, site_version):
    """The VN answering pkt, or None if pkt deserves none."""
    if len(pkt) < MIN_DATAGRAM:
        return None
    h = long_cids(pkt)
    if h is None or h[0] in (0, SUPPORTED):
        return None
    version, dcid, scid = h
    first = 0x80 | random.getrandbits(7)
    return (bytes([first]) + struct.pack("!I", 0) + bytes([len(scid)]) + scid +
            bytes([len(dcid)]) + dcid + struct.pack("!II", site_version, SUPPORTED))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--version", default="0x1a1a1a1a",
                    help="the reserved version naming this site")
    ap.add_argument("--addr", action="append", default=[],
                    help="address to answer on (repeatable; default any)")
    ap.add_argument("--ready", help="file created once listening")
    a = ap.parse_args()
    site_version = int(a.version, 0)
    if (site_version & 0x0F0F0F0F) != 0x0A0A0A0A:
        sys.exit("quic_vn_responder: %s is not a reserved version" % a.version)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    addrs = a.addr or ["0.0.0.0", "::"]
    sel = selectors.DefaultSelector()
    for addr in addrs:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Bound to the anycast address itself, so replies come from it.
        s.bind((addr, a.port))
        sel.register(s, selectors.EVENT_READ)
    if a.ready:
        with open(a.ready, "w"):
            pass
    answered = 0
    while True:
        for key, _ in sel.select():
            try:
                pkt, peer = key.fileobj.recvfrom(65535)
            except OSError:
                continue
            vn = version_negotiation(pkt, site_version)
            if vn is None:
                continue
            try:
                key.fileobj.sendto(vn, peer)
                answered += 1
            except OSError as e:
                print("quic_vn_responder: %s" % e, file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
