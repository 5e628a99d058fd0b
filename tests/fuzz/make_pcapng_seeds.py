#!/usr/bin/env python3
"""Write the seed corpus of fuzz_pcapng (tests/fuzz/corpus_pcapng/): small
valid pcapng files built block by block (SHB, IDB, EPB, SPB), Ethernet, raw
IP, Linux cooked (SLL, SLL2) interfaces, several interfaces in a file and
several sections, if_tsresol in decimal and binary, the story's handshake
and reset as the packets. Run from the repository root:
    python3 tests/fuzz/make_pcapng_seeds.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "corpus_pcapng")


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def block(btype, body):
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def opt(code, val):
    return struct.pack("<HH", code, len(val)) + pad(val)


def shb(opts=b""):
    body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    if opts:
        body += opts + opt(0, b"")
    return block(0x0A0D0D0A, body)


def idb(linktype, snaplen=65535, tsresol=None, name=None):
    opts = b""
    if name is not None:
        opts += opt(2, name.encode())
    if tsresol is not None:
        opts += opt(9, bytes([tsresol]))
    if opts:
        opts += opt(0, b"")
    return block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts)


def epb(ifid, ts, data, orig=None, flags=None):
    orig = len(data) if orig is None else orig
    body = struct.pack("<IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(data), orig)
    body += pad(data)
    if flags is not None:
        body += opt(2, struct.pack("<I", flags)) + opt(0, b"")
    return block(6, body)


def spb(data, orig=None):
    orig = len(data) if orig is None else orig
    return block(3, struct.pack("<I", orig) + pad(data))


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, ttl, tos, tcp):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(tcp), 0x6457, 0x4000,
                    ttl, 6, 0, bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + tcp


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4 | (flags >> 8 & 1),
                       flags & 0xFF, 64240, 0, 0) + payload


C, S = (192, 0, 2, 130), (203, 0, 113, 13)
CI, SI = 3345293502, 1936951409
# The story: ECN SYN, SYN-ACK with ECE, ACK, ECT(0) data, RST from 2 hops nearer.
STORY = [
    ip4(C, S, 64, 0, tcp(34420, 80, CI, 0, 0x02 | 0x40 | 0x80)),
    ip4(S, C, 58, 0, tcp(80, 34420, SI, CI + 1, 0x12 | 0x40)),
    ip4(C, S, 64, 0, tcp(34420, 80, CI + 1, SI + 1, 0x10)),
    ip4(C, S, 64, 2, tcp(34420, 80, CI + 1, SI + 1, 0x18, b"x" * 77)),
    ip4(S, C, 60, 0, tcp(80, 34420, SI + 1, 0, 0x04)),
]
# AccECN: SYN with AE+CWR+ECE, SYN-ACK (AE,CWR,ECE) = 100 (arrived ECT(0)).
ACCECN = [
    ip4(C, S, 64, 2, tcp(34421, 80, CI, 0, 0x02 | 0x40 | 0x80 | 0x100)),
    ip4(S, C, 58, 0, tcp(80, 34421, SI, CI + 1, 0x12 | 0x100)),
]
ETH = bytes(6) + bytes([0, 1, 2, 3, 4, 5]) + b"\x08\x00"


def sll(pkt):
    return struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + pkt


def sll2(pkt, ifindex):
    return struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 0, 6, bytes(8)) + pkt


T0 = 1573471307816359  # microseconds


def write(name, blocks):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"".join(blocks))


os.makedirs(OUT, exist_ok=True)
# Ethernet, microseconds (no if_tsresol), EPBs with a flags option.
write("eth_epb.pcapng", [shb(opt(4, b"seed")), idb(1, name="eth0")] +
      [epb(0, T0 + 1000 * i, ETH + p, flags=1 + (i % 2)) for i, p in enumerate(STORY)])
# Raw IP, nanoseconds (if_tsresol 9), one packet cut by the snap length.
write("raw_ns.pcapng", [shb(), idb(101, snaplen=60, tsresol=9)] +
      [epb(0, (T0 + 1000 * i) * 1000, p[:60], orig=len(p)) for i, p in enumerate(STORY)])
# Simple packet blocks (interface 0, no time stamps).
write("spb.pcapng", [shb(), idb(101, snaplen=128)] + [spb(p) for p in STORY])
# Binary resolution: 2^-10 s per tick.
write("tsresol_pow2.pcapng", [shb(), idb(1, tsresol=0x8A)] +
      [epb(0, (T0 // 1000000 << 10) + i, ETH + p) for i, p in enumerate(STORY)])
# Two interfaces of one link type (SLL2, as on "any"), packets on both.
write("sll2_two_if.pcapng", [shb(), idb(276, name="veth0"), idb(276, tsresol=3, name="veth1")] +
      [epb(i % 2, T0 + i if i % 2 == 0 else (T0 // 1000) + i, sll2(p, 2 + i % 2))
       for i, p in enumerate(STORY)])
# Two interfaces of different link types (Ethernet, raw IP).
write("two_linktypes.pcapng", [shb(), idb(1), idb(101, tsresol=9)] +
      [epb(0, T0, ETH + STORY[0]), epb(1, (T0 + 7036) * 1000, STORY[1]),
       epb(0, T0 + 7120, ETH + STORY[2])])
# Two sections: SLL, then Ethernet; AccECN handshake.
write("two_sections.pcapng", [shb(), idb(113), epb(0, T0, sll(ACCECN[0])),
                              shb(), idb(1), epb(0, T0 + 500, ETH + ACCECN[1])])
