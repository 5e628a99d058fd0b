#!/usr/bin/python3
"""A minimal AccECN (RFC 9768) TCP responder for the lab.

The lab's kernel has no AccECN server side (net.ipv4.tcp_ecn rejects 3-5),
so a site runs this on one port beside its HTTP server: it answers SYNs in
userspace and says, in the SYN-ACK's (AE,CWR,ECE) bits, which ECN codepoint
the SYN arrived with, as an AccECN server must:

    Not-ECT 010, ECT(1) 011, ECT(0) 100, CE 110;
    a classic ECN-setup SYN (ECE+CWR) gets ECE (001); a plain SYN none.

Data is acknowledged; nothing else is implemented. An nftables table of its
own keeps the site's kernel from answering the port (the packet socket still
sees the packets), and is removed at exit.

With --no-ecn it answers as a server that does not negotiate ECN at all
(no AE, CWR or ECE in any SYN-ACK), like the kernel with tcp_ecn=0.

Run by ecnlab inside a site's namespace:
    accecn_responder.py --port 81 [--no-ecn] [--ready FILE]
"""
import argparse
import os
import random
import signal
import socket
import struct
import subprocess
import sys

ETH_P_ALL = 0x0003
TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TH_ECE, TH_CWR, TH_AE = 0x40, 0x80, 0x100
# IP ECN codepoint of the SYN -> (AE, CWR, ECE) of the SYN-ACK (RFC 9768 3.1.2)
ACE_OF_ECN = {0: TH_CWR, 1: TH_CWR | TH_ECE, 2: TH_AE, 3: TH_AE | TH_CWR}
MAX_CONNS = 1024
TABLE = "accecn_responder"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_segment(src, dst, v6, sport, dport, seq, ack, flags, opts=b""):
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIHHHH", sport, dport, seq, ack,
                      (off << 12) | (flags & 0x1FF), 65535, 0, 0) + opts
    if v6:
        pseudo = src + dst + struct.pack("!I3xB", len(hdr), 6)
    else:
        pseudo = src + dst + struct.pack("!xBH", 6, len(hdr))
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def ip_packet(src, dst, v6, payload):
    if v6:
        return struct.pack("!IHBB", 6 << 28, len(payload), 6, 64) + src + dst + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000,
                      64, 6, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def parse(pkt):
    """(v6, src, dst, ecn, tcp fields, payload length) or None."""
    if len(pkt) < 20:
        return None
    ver = pkt[0] >> 4
    if ver == 4:
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        if pkt[9] != 6 or ihl < 20 or total > len(pkt) or total < ihl + 20:
            return None
        v6, src, dst, ecn, l4 = False, pkt[12:16], pkt[16:20], pkt[1] & 3, pkt[ihl:total]
    elif ver == 6 and len(pkt) >= 60:
        plen = struct.unpack("!H", pkt[4:6])[0]
        if pkt[6] != 6 or 40 + plen > len(pkt) or plen < 20:
            return None
        tc = (struct.unpack("!I", pkt[0:4])[0] >> 20) & 0xFF
        v6, src, dst, ecn, l4 = True, pkt[8:24], pkt[24:40], tc & 3, pkt[40:40 + plen]
    else:
        return None
    sport, dport, seq, ack, offflags = struct.unpack("!HHIIH", l4[:14])
    off = (offflags >> 12) * 4
    if off < 20 or off > len(l4):
        return None
    return v6, src, dst, ecn, sport, dport, seq, ack, offflags & 0x1FF, len(l4) - off


def nft(cmd):
    subprocess.run(["nft", "-f", "-"], input=cmd.encode(), check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=81)
    ap.add_argument("--ready")
    ap.add_argument("--no-ecn", action="store_true")
    a = ap.parse_args()

    nft("table inet %s {\n chain in {\n  type filter hook prerouting priority -300;\n"
        "  tcp dport %d drop\n }\n}\n" % (TABLE, a.port))

    def stop(*_):
        nft("delete table inet %s\n" % TABLE)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    tx4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    tx6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    if a.ready:
        open(a.ready, "w").close()
    conns = {}
    try:
        while True:
            pkt, addr = rx.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            p = parse(pkt)
            if p is None or p[5] != a.port:
                continue
            v6, src, dst, ecn, sport, dport, seq, ack, flags, plen = p
            key = (src, sport)
            reply = None
            if flags & TH_RST:
                conns.pop(key, None)
                continue
            if flags & TH_SYN and not flags & TH_ACK:
                if (flags & (TH_AE | TH_CWR | TH_ECE)) == (TH_AE | TH_CWR | TH_ECE):
                    ace = ACE_OF_ECN[ecn]
                elif (flags & (TH_CWR | TH_ECE)) == (TH_CWR | TH_ECE):
                    ace = TH_ECE
                else:
                    ace = 0
                if a.no_ecn:
                    ace = 0
                if key not in conns:
                    if len(conns) >= MAX_CONNS:
                        conns.pop(next(iter(conns)))
                    conns[key] = random.getrandbits(32)
                iss = conns[key]
                reply = tcp_segment(dst, src, v6, dport, sport, iss, (seq + 1) & 0xFFFFFFFF,
                                    TH_SYN | TH_ACK | ace, b"\x02\x04\x05\xb4")
            elif key in conns and plen > 0:
                reply = tcp_segment(dst, src, v6, dport, sport,
                                    (conns[key] + 1) & 0xFFFFFFFF,
                                    (seq + plen) & 0xFFFFFFFF, TH_ACK)
            if reply is None:
                continue
            out = ip_packet(dst, src, v6, reply)
            if v6:
                tx6.sendto(out, (socket.inet_ntop(socket.AF_INET6, src), 0))
            else:
                tx4.sendto(out, (socket.inet_ntop(socket.AF_INET, src), 0))
    finally:
        nft("delete table inet %s\n" % TABLE)


if __name__ == "__main__":
    main()
