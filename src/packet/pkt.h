/*
 * Packet layer: build probes into a caller's buffer and parse replies from
 * one. Pure functions: no sockets, no globals, no printing. Every byte read
 * is length-checked; the parser never trusts a length field it has not
 * checked against the buffer.
 */
#ifndef ECNTRACE_PKT_H
#define ECNTRACE_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* ECN codepoints: the two low bits of the IPv4 TOS / IPv6 traffic class. */
enum ecn {
	ECN_NOT_ECT = 0,
	ECN_ECT1 = 1,
	ECN_ECT0 = 2,
	ECN_CE = 3,
};

/* TCP flags as they appear in byte 13, plus AE (the low bit of byte 12)
 * as bit 8. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80
#define TH_AE 0x100

/* An IPv4 or IPv6 address; family is AF_INET or AF_INET6. */
struct addr {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* Largest packet we build or keep a copy of. */
#define PKT_MAX 1500
#define PKT_MAX_TCPOPT 40
#define PKT_MAX_MPLS 8
#define PKT_QUOTE_HEAD 64            /* UDP header + a QUIC long header */
#define PKT_UDP_KEEP 256             /* bytes of a UDP reply's payload kept */

/*
 * What to build. Unused fields are ignored for the protocol chosen.
 * For UDP and ICMP echo, if fix_checksum is set the last two bytes of the
 * payload are chosen so that the transport checksum equals `checksum`
 * (Paris traceroute: the checksum is part of what load balancers hash).
 * This needs payload_len >= 2; the payload bytes given are copied first.
 */
struct probe_desc {
	struct addr src, dst;        /* same family */
	uint8_t ttl;                 /* TTL / hop limit */
	uint8_t tos;                 /* whole TOS / traffic class byte */
	uint32_t flowlabel;          /* IPv6 only, 20 bits */
	uint16_t ip_id;              /* IPv4 only */
	int dont_frag;               /* IPv4 DF bit */
	uint8_t proto;               /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	uint16_t sport, dport;       /* TCP, UDP */
	uint32_t seq, ack;           /* TCP */
	uint16_t tcp_flags;          /* TH_*, including TH_AE */
	uint16_t window;             /* TCP */
	uint8_t tcp_opts[PKT_MAX_TCPOPT]; /* raw option bytes, padded by builder */
	size_t tcp_optlen;
	uint16_t icmp_id, icmp_seq;  /* ICMP / ICMPv6 echo request */
	const uint8_t *payload;
	size_t payload_len;
	size_t pad_len;              /* UDP: zero bytes after the payload
				      * (a QUIC probe's padding) */
	int fix_checksum;            /* UDP / ICMP echo: see above */
	uint16_t checksum;           /* the checksum to keep, network order value */
	/* 0 the whole packet; else the datagram is built whole (its
	 * checksum over all of it) and cut after PKT_FRAG_FIRST bytes of the
	 * transport header and payload: 1 sends the first fragment (more
	 * fragments, offset 0), 2 the rest (offset PKT_FRAG_FIRST). IPv4:
	 * the fragments share ip_id; IPv6: a Fragment header whose
	 * identification is ip_id. Needs more than PKT_FRAG_FIRST bytes
	 * past the IP header; IPv4 without DF. */
	uint8_t frag_part;
};
#define PKT_FRAG_FIRST 16
/*
 * Byte order: every numeric field above is in host order except `checksum`,
 * whose two bytes are copied to the wire as they are (pass htons(x)). The
 * parsed quote's udp_checksum / icmp_checksum are in host order, so compare
 * with ntohs(desc.checksum).
 * A UDP checksum of 0 means "no checksum" (and is illegal over IPv6), so a
 * UDP probe asking for 0 gets 0xffff, the other one's complement zero
 * (RFC 768); both values verify the same, so the flow's hash input stays
 * constant. ICMP and ICMPv6 get exactly the value asked for.
 * fix_checksum is ignored for TCP.
 */

/*
 * Build the whole IP packet (IPv4 or IPv6 header included) into buf.
 * *len is the buffer's capacity on entry and the packet's length on
 * return. Returns 0, or -1 if the description is invalid or does not fit.
 */
int pkt_build(const struct probe_desc *p, uint8_t *buf, size_t *len);

/* TCP header fields and the options we understand. What analyze reads
 * of every segment comes first, together (one cache line with the
 * addresses: src/passive/an_pipe.c hands replies between threads). */
struct tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t flags;              /* TH_*, TH_AE included */
	uint16_t window;
	uint8_t data_off;            /* header length in bytes */
	int have_ts;        uint32_t ts_val, ts_ecr;
	size_t payload_len;          /* bytes after the TCP header */
	int have_mss;       uint16_t mss;
	int have_wscale;    uint8_t wscale;
	int sack_ok;
	int have_accecn;             /* option 172 or 174 seen */
	uint8_t accecn_kind;         /* 172 (AccECN0) or 174 (AccECN1) */
	uint8_t opt_kinds[PKT_MAX_TCPOPT]; /* every option kind, in order */
	size_t n_opts;
	/* AccECN option counters (24 bits each), in option order: kind 172
	 * carries EE0B, ECEB, EE1B; kind 174 carries EE1B, ECEB, EE0B. The
	 * option may carry 0..3 of them. */
	uint8_t accecn_nfields;
	uint32_t accecn_field[3];
};

/* The packet quoted inside an ICMP error, as far as the quote goes. */
struct quote {
	struct addr src, dst;
	uint8_t tos;                 /* as the router received it */
	uint8_t ttl;
	uint16_t ip_id;              /* IPv4 */
	uint32_t flowlabel;          /* IPv6 */
	int frag;                    /* IPv6: the quote has a Fragment header */
	uint32_t frag_id;            /* ... and this identification */
	uint16_t ip_len;             /* total length field of the quoted header
	                              * (IPv6: payload length field + 40,
	                              * at most 0xffff) */
	uint8_t proto;
	size_t quoted_len;           /* bytes of the quoted packet present */
	size_t l4_len;               /* bytes of its transport header present */
	/* first 8 transport bytes, when present (l4_len >= 8) */
	uint16_t sport, dport;       /* TCP, UDP */
	uint32_t tcp_seq;            /* TCP */
	uint16_t udp_checksum;       /* UDP */
	uint8_t icmp_type;           /* ICMP / ICMPv6 echo */
	uint16_t icmp_checksum, icmp_id, icmp_seq;
	/* TCP flags as the router received them (TH_AE included), when
	 * l4_len >= 14: tells whether a middlebox cleared ECE/CWR. */
	uint16_t tcp_flags;
	/* The quoted transport header and what follows, as far as quoted
	 * (at most PKT_QUOTE_HEAD bytes): a QUIC probe's CIDs are here. */
	uint8_t l4_head[PKT_QUOTE_HEAD];
	size_t l4_head_len;
};

enum reply_kind {
	REPLY_OTHER = 0,
	REPLY_TIME_EXCEEDED,
	REPLY_UNREACH,
	REPLY_PKT_TOO_BIG,
	REPLY_ECHO_REPLY,
	REPLY_TCP,
	REPLY_UDP,                   /* a UDP datagram (QUIC: Version Negotiation) */
};

/* One received packet. */
struct pkt_reply {
	struct addr src, dst;
	uint8_t ttl;                 /* TTL / hop limit on arrival */
	uint8_t tos;                 /* TOS / traffic class on arrival */
	uint16_t ip_id;              /* IPv4 */
	uint32_t flowlabel;          /* IPv6 */
	uint8_t proto;
	enum reply_kind kind;
	struct tcp_seg tcp;          /* kind == REPLY_TCP */
	uint8_t icmp_type, icmp_code;
	uint32_t mtu;                /* packet too big / frag needed */
	uint16_t icmp_id, icmp_seq;  /* echo reply */
	int has_quote;
	struct quote q;
	int has_ext;                 /* RFC 4884 extension structure present */
	size_t n_mpls;               /* RFC 4950 label stack entries */
	struct {
		uint32_t label;
		uint8_t tc, s, ttl;
	} mpls[PKT_MAX_MPLS];
	struct {                     /* kind == REPLY_UDP */
		uint16_t sport, dport;
		size_t len;              /* payload bytes, per the UDP header */
		size_t kept;             /* of them in data[] */
		uint8_t data[PKT_UDP_KEEP];
	} udp;
	size_t wire_len;             /* the IP packet's length (link padding
	                              * not counted) */
	int truncated;               /* fewer than wire_len bytes were kept:
	                              * the headers that fit are parsed, a TCP
	                              * payload_len is the packet's, and no
	                              * quote or payload byte past the cut
	                              * was read */
};

/*
 * Parse one packet starting at its IP header (version from the first
 * nibble). Returns 0 and fills *r, or -1 if the packet is malformed or
 * truncated. ICMP messages whose type we do not know parse as REPLY_OTHER.
 */
int pkt_parse(const uint8_t *buf, size_t len, struct pkt_reply *r);

/*
 * The same for a packet of which only the first len of its wire bytes
 * were received (a receive buffer shorter than a GRO-merged packet):
 * wire must be what recvmsg() returned with MSG_TRUNC. The packet's
 * length fields are checked against wire; what fits in len is parsed and
 * r->truncated set. A TCP header, or the IP headers before it, that do
 * not fit make it -1. pkt_parse(b, n, r) is pkt_parse_cut(b, n, n, r).
 */
int pkt_parse_cut(const uint8_t *buf, size_t len, size_t wire,
		  struct pkt_reply *r);

/* Parse a TCP header and its options (buf at the TCP header, len bytes to
 * the end of the segment). Returns 0 or -1. */
int pkt_parse_tcp(const uint8_t *buf, size_t len, struct tcp_seg *t);

/* Internet checksum over buf (RFC 1071), folded, not inverted. */
uint32_t pkt_sum(const uint8_t *buf, size_t len, uint32_t sum);
uint16_t pkt_fold(uint32_t sum);

/* Names: "not-ect", "ect1", "ect0", "ce". */
const char *ecn_name(int ecn);
/* Parse an ECN name (also "0".."3", "ect(0)", ...); -1 if unknown. */
int ecn_parse(const char *s);
/* DSCP keyword ("ef", "af11", "cs1", "le", "default") or number 0..63;
 * -1 if unknown. */
int dscp_parse(const char *s);
/* Keyword for a DSCP value, or NULL if it has none. */
const char *dscp_name(int dscp);

/* Address helpers. */
int addr_eq(const struct addr *a, const struct addr *b);
/* Text form into buf (INET6_ADDRSTRLEN is enough); returns buf. */
const char *addr_str(const struct addr *a, char *buf, size_t len);

#endif
