#!/usr/bin/python3
"""Print the TOS / traffic class quoted in each ICMP(v6) error of a pcap file.

usage: icmp_quotes.py FILE.pcap
One line per Time Exceeded or Destination Unreachable: "RESPONDER 0xTOS",
where TOS is the quoted packet's IPv4 TOS byte or IPv6 traffic class, i.e.
what that hop saw. tcpdump -v does not show the IPv6 quote, hence this.
Reads classic pcap with Ethernet link type (what tcpdump -w writes on veth).
"""
import ipaddress
import struct
import sys


def records(data):
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit("not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit("link type %d is not Ethernet" % linktype)
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        off += 16
        yield data[off:off + incl]
        off += incl


def quote(frame):
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    pkt = frame[14:]
    if ethertype == 0x0800 and len(pkt) >= 20:
        ihl = (pkt[0] & 0x0F) * 4
        if pkt[9] != 1 or len(pkt) < ihl + 8 + 2:
            return None
        if pkt[ihl] not in (3, 11):
            return None
        inner = pkt[ihl + 8:]
        return str(ipaddress.IPv4Address(pkt[12:16])), inner[1]
    if ethertype == 0x86DD and len(pkt) >= 40 + 8 + 2:
        if pkt[6] != 58 or pkt[40] not in (1, 3):
            return None
        inner = pkt[48:]
        tclass = ((inner[0] & 0x0F) << 4) | (inner[1] >> 4)
        return str(ipaddress.IPv6Address(pkt[8:24])), tclass
    return None


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    for frame in records(data):
        q = quote(frame)
        if q:
            print("%s 0x%x" % q)


if __name__ == "__main__":
    main()
