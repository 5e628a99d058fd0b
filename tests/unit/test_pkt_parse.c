/*
 * pkt_parse / pkt_parse_tcp on real captured replies, on hand-made ICMP
 * errors (RFC 4884 + RFC 4950 MPLS, IHL 6, short quotes, IPv6 extension
 * headers) and on every truncation of each of them.
 *
 * The cap_* arrays were captured with tcpdump in a throwaway namespace lab
 * (client 192.0.2.1 / 2001:db8:1::1 -- router 192.0.2.254 / 2001:db8:1::fe
 * -- server 198.51.100.1 / 2001:db8:2::1; checksum offload off; client
 * net.ipv4.tcp_ecn=1), from Linux traceroute 2.1.2, curl and the kernel.
 * Expected values are what `tcpdump -vvv` decoded from the same bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "pkt.h"

/* 192.0.2.254: time exceeded quoting traceroute -T -O ecn -t 2 (SYN ECE|CWR, ECT(0)) */
static const uint8_t cap_v4_te_tcp[] = {
	0x45, 0xc2, 0x00, 0x48, 0x6d, 0xcf, 0x00, 0x00, 0x40, 0x01, 0x87, 0x24,
	0xc0, 0x00, 0x02, 0xfe, 0xc0, 0x00, 0x02, 0x01, 0x0b, 0x00, 0xe1, 0x54,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x02, 0x00, 0x2c, 0x7c, 0x86, 0x00, 0x00,
	0x01, 0x06, 0x51, 0x0e, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01,
	0xb5, 0x43, 0x00, 0x50, 0x04, 0x03, 0x72, 0x69, 0x00, 0x00, 0x00, 0x00,
	0x60, 0xc2, 0x16, 0xd0, 0x68, 0x60, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
};
/* 198.51.100.1: port unreachable quoting traceroute -t 1 UDP (ECT(1)) */
static const uint8_t cap_v4_port_unreach[] = {
	0x45, 0xc0, 0x00, 0x58, 0xc1, 0x04, 0x00, 0x00, 0x3f, 0x01, 0xcd, 0xaa,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x03, 0x03, 0xe9, 0x6c,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x01, 0x00, 0x3c, 0xcf, 0x35, 0x00, 0x00,
	0x01, 0x11, 0xfe, 0x44, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01,
	0xcc, 0x72, 0x82, 0x9a, 0x00, 0x28, 0xcf, 0x55, 0x40, 0x41, 0x42, 0x43,
	0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b,
	0x5c, 0x5d, 0x5e, 0x5f,
};
/* 2001:db8:1::fe: time exceeded quoting traceroute -6 -t 2 UDP */
static const uint8_t cap_v6_te_udp[] = {
	0x60, 0x05, 0x0a, 0xe3, 0x00, 0x58, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0xef, 0x16, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x2e, 0x3f, 0xc5, 0x00, 0x28, 0x11, 0x01, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xdb, 0xaf, 0x82, 0x9a, 0x00, 0x28, 0x50, 0xd8,
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
	0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
	0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};
/* 2001:db8:1::fe: time exceeded quoting traceroute -6 -T SYN */
static const uint8_t cap_v6_te_tcp[] = {
	0x60, 0x05, 0x0a, 0xe3, 0x00, 0x58, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x0d, 0x33, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x04, 0x2c, 0xc8, 0x00, 0x28, 0x06, 0x01, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc5, 0x6d, 0x00, 0x50, 0x7f, 0x5a, 0x75, 0x97,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0xc2, 0x16, 0x80, 0x34, 0x18, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x3a, 0x25, 0xac, 0x75,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x02,
};
/* kernel SYN-ACK, ECE (ECN agreed), mss sackOK TS nop wscale */
static const uint8_t cap_v4_synack[] = {
	0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x4f, 0x86,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x50, 0xa5, 0x36,
	0xa5, 0xcd, 0x86, 0xab, 0x3d, 0xa3, 0xe5, 0x99, 0xa0, 0x52, 0xfe, 0x88,
	0x1f, 0xbe, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
	0x20, 0x5b, 0xd2, 0x37, 0x89, 0x1f, 0xcc, 0x40, 0x01, 0x03, 0x03, 0x0a,
};
/* kernel IPv6 SYN-ACK, ECE, mss 1440 */
static const uint8_t cap_v6_synack[] = {
	0x60, 0x03, 0xda, 0x36, 0x00, 0x28, 0x06, 0x3f, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x50, 0x94, 0x74, 0xe5, 0x55, 0x44, 0x8c,
	0x53, 0x2c, 0xf4, 0x5c, 0xa0, 0x52, 0xfb, 0x04, 0x3e, 0x7b, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x42, 0xbb, 0xf6, 0xad,
	0x8a, 0xbc, 0xe8, 0x74, 0x01, 0x03, 0x03, 0x0a,
};
/* kernel RST|ACK to a SYN for a closed port */
static const uint8_t cap_v4_rstack[] = {
	0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x4f, 0x9a,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x51, 0xd2, 0x88,
	0x00, 0x00, 0x00, 0x00, 0x96, 0xea, 0x29, 0x4e, 0x50, 0x14, 0x00, 0x00,
	0x30, 0x88, 0x00, 0x00,
};
/* kernel RST, no ACK, to a stray ACK (traceroute -T -O ack) */
static const uint8_t cap_v4_rst[] = {
	0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x4f, 0x9a,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x51, 0x80, 0x77,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x04, 0x00, 0x00,
	0x42, 0xe2, 0x00, 0x00,
};
/* echo reply to traceroute -I */
static const uint8_t cap_v4_echo_reply[] = {
	0x45, 0x00, 0x00, 0x3c, 0xc1, 0x09, 0x00, 0x00, 0x3f, 0x01, 0xce, 0x81,
	0xc6, 0x33, 0x64, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x6c, 0x8a,
	0x1d, 0xef, 0x00, 0x01, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b,
	0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
};
/* the SYN probe quoted in cap_v4_te_tcp */
static const uint8_t cap_v4_syn_probe[] = {
	0x45, 0x02, 0x00, 0x2c, 0x7c, 0x86, 0x00, 0x00, 0x01, 0x06, 0x51, 0x0e,
	0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x01, 0xb5, 0x43, 0x00, 0x50,
	0x04, 0x03, 0x72, 0x69, 0x00, 0x00, 0x00, 0x00, 0x60, 0xc2, 0x16, 0xd0,
	0x68, 0x60, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
};
/* the SYN probe quoted in cap_v6_te_tcp */
static const uint8_t cap_v6_syn_probe[] = {
	0x60, 0x04, 0x2c, 0xc8, 0x00, 0x28, 0x06, 0x01, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0xc5, 0x6d, 0x00, 0x50, 0x7f, 0x5a, 0x75, 0x97,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0xc2, 0x16, 0x80, 0x34, 0x18, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x3a, 0x25, 0xac, 0x75,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x02,
};

/* The UDP probes, as quoted whole in the replies above. */
#define cap_v4_udp_probe (cap_v4_port_unreach + 28)	/* 60 bytes */
#define cap_v6_udp_probe (cap_v6_te_udp + 48)		/* 80 bytes */

/* RFC 4884 extension structure (version 2, checksum computed apart, in
 * Python) with one RFC 4950 object of two label stack entries:
 * 16005/TC 0/S 0/TTL 1 and 24001/TC 5/S 1/TTL 1. */
static const uint8_t ext_mpls2[] = {
	0x20, 0x00, 0x6a, 0x2c, 0x00, 0x0c, 0x01, 0x01,
	0x03, 0xe8, 0x50, 0x01, 0x05, 0xdc, 0x1b, 0x01,
};

/* Reference one's complement sum, apart from pkt_sum. */
static uint16_t ref_sum(const uint8_t *b, size_t n, uint64_t s)
{
	size_t i;

	for (i = 0; i < n; i++)
		s += i % 2 ? b[i] : (uint64_t)b[i] << 8;
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)s;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void addr_is(const struct addr *a, const char *s, const char *file,
    int line)
{
	struct addr want;

	memset(&want, 0, sizeof(want));
	want.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(want.family, s, &want.u) != 1 || !addr_eq(a, &want)) {
		char buf[INET6_ADDRSTRLEN];

		print_error("address %s, want %s\n",
		    addr_str(a, buf, sizeof(buf)), s);
		_fail(file, line);
	}
}
#define assert_addr(a, s) addr_is(a, s, __FILE__, __LINE__)

/* Parse from a heap copy of exactly n bytes, so that ASan sees any read
 * past the end. */
static int parse_exact(const uint8_t *b, size_t n, struct pkt_reply *r)
{
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	assert_non_null(c);
	if (n)
		memcpy(c, b, n);
	rc = pkt_parse(c, n, r);
	free(c);
	return rc;
}

/*
 * A hand-made ICMP (af AF_INET, outer header ihl bytes, padded with NOP
 * options) or ICMPv6 message from 203.0.113.9 / 2001:db8:ff::9 to
 * 192.0.2.1 / 2001:db8:1::1; ICMP bytes 4-7 are `rest`, then the body.
 * All checksums correct.
 */
static size_t mk_icmp(int af, size_t ihl, uint8_t type, uint8_t code,
    uint32_t rest, const uint8_t *body, size_t blen, uint8_t *out)
{
	size_t hl = af == AF_INET ? ihl : 40, n = hl + 8 + blen;
	uint64_t ps = 0;

	memset(out, 0, hl + 8);
	if (af == AF_INET) {
		out[0] = (uint8_t)(0x40 | ihl / 4);
		out[1] = 0xc0;
		put16(out + 2, (unsigned)n);
		out[8] = 250;
		out[9] = IPPROTO_ICMP;
		memcpy(out + 12, "\xcb\x00\x71\x09\xc0\x00\x02\x01", 8);
		memset(out + 20, 1, ihl - 20);
		put16(out + 10, (uint16_t)~ref_sum(out, ihl, 0));
	} else {
		out[0] = 0x60;
		put16(out + 4, (unsigned)(n - 40));
		out[6] = IPPROTO_ICMPV6;
		out[7] = 250;
		inet_pton(AF_INET6, "2001:db8:ff::9", out + 8);
		inet_pton(AF_INET6, "2001:db8:1::1", out + 24);
		ps = ref_sum(out + 8, 32, 0) + IPPROTO_ICMPV6 + (n - 40);
	}
	out[hl] = type;
	out[hl + 1] = code;
	put32(out + hl + 4, rest);
	if (blen > 0)
		memcpy(out + hl + 8, body, blen);
	put16(out + hl + 2, (uint16_t)~ref_sum(out + hl, n - hl, ps));
	return n;
}

/* ---- real replies ---- */

static void test_v4_time_exceeded_tcp(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_te_tcp, sizeof(cap_v4_te_tcp),
	    &r), 0);
	assert_addr(&r.src, "192.0.2.254");
	assert_addr(&r.dst, "192.0.2.1");
	assert_int_equal(r.ttl, 64);
	assert_int_equal(r.tos, 0xc2);
	assert_int_equal(r.ip_id, 0x6dcf);
	assert_int_equal(r.proto, IPPROTO_ICMP);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_int_equal(r.icmp_type, 11);
	assert_int_equal(r.icmp_code, 0);
	assert_int_equal(r.mtu, 0);
	assert_false(r.has_ext);
	assert_int_equal(r.n_mpls, 0);
	assert_true(r.has_quote);
	assert_addr(&r.q.src, "192.0.2.1");
	assert_addr(&r.q.dst, "198.51.100.1");
	assert_int_equal(r.q.tos, 0x02);	/* ECT(0) as the router saw it */
	assert_int_equal(r.q.ttl, 1);
	assert_int_equal(r.q.ip_id, 0x7c86);
	assert_int_equal(r.q.ip_len, 44);
	assert_int_equal(r.q.proto, IPPROTO_TCP);
	assert_int_equal(r.q.quoted_len, 44);
	assert_int_equal(r.q.l4_len, 24);
	assert_int_equal(r.q.sport, 46403);
	assert_int_equal(r.q.dport, 80);
	assert_int_equal(r.q.tcp_seq, 67334761);
	assert_int_equal(r.q.tcp_flags, TH_SYN | TH_ECE | TH_CWR);
}

static void test_v4_port_unreach_udp(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_port_unreach,
	    sizeof(cap_v4_port_unreach), &r), 0);
	assert_addr(&r.src, "198.51.100.1");
	assert_int_equal(r.ttl, 63);
	assert_int_equal(r.tos, 0xc0);
	assert_int_equal(r.kind, REPLY_UNREACH);
	assert_int_equal(r.icmp_type, 3);
	assert_int_equal(r.icmp_code, 3);
	assert_true(r.has_quote);
	assert_addr(&r.q.src, "192.0.2.1");
	assert_addr(&r.q.dst, "198.51.100.1");
	assert_int_equal(r.q.tos, 0x01);
	assert_int_equal(r.q.ttl, 1);
	assert_int_equal(r.q.ip_id, 53045);
	assert_int_equal(r.q.proto, IPPROTO_UDP);
	assert_int_equal(r.q.quoted_len, 60);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.sport, 52338);
	assert_int_equal(r.q.dport, 33434);
	assert_int_equal(r.q.udp_checksum, 0xcf55);
	assert_int_equal(r.q.tcp_flags, 0);
}

static void test_v6_time_exceeded_udp(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v6_te_udp, sizeof(cap_v6_te_udp),
	    &r), 0);
	assert_addr(&r.src, "2001:db8:1::fe");
	assert_addr(&r.dst, "2001:db8:1::1");
	assert_int_equal(r.ttl, 64);
	assert_int_equal(r.tos, 0);
	assert_int_equal(r.flowlabel, 0x50ae3);
	assert_int_equal(r.proto, IPPROTO_ICMPV6);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_int_equal(r.icmp_type, 3);
	assert_true(r.has_quote);
	assert_addr(&r.q.src, "2001:db8:1::1");
	assert_addr(&r.q.dst, "2001:db8:2::1");
	assert_int_equal(r.q.tos, 0x02);
	assert_int_equal(r.q.flowlabel, 0xe3fc5);
	assert_int_equal(r.q.ttl, 1);
	assert_int_equal(r.q.ip_len, 80);
	assert_int_equal(r.q.proto, IPPROTO_UDP);
	assert_int_equal(r.q.quoted_len, 80);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.sport, 0xdbaf);
	assert_int_equal(r.q.dport, 33434);
	assert_int_equal(r.q.udp_checksum, 0x50d8);
}

static void test_v6_time_exceeded_tcp(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v6_te_tcp, sizeof(cap_v6_te_tcp),
	    &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_true(r.has_quote);
	assert_int_equal(r.q.flowlabel, 0x42cc8);
	assert_int_equal(r.q.proto, IPPROTO_TCP);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.sport, 0xc56d);
	assert_int_equal(r.q.dport, 80);
	assert_int_equal(r.q.tcp_seq, 0x7f5a7597);
	assert_int_equal(r.q.tcp_flags, TH_SYN | TH_ECE | TH_CWR);
}

static void test_v4_synack(void **state)
{
	static const uint8_t kinds[] = { 2, 4, 8, 1, 3 };
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_synack, sizeof(cap_v4_synack),
	    &r), 0);
	assert_int_equal(r.kind, REPLY_TCP);
	assert_int_equal(r.proto, IPPROTO_TCP);
	assert_addr(&r.src, "198.51.100.1");
	assert_int_equal(r.ttl, 63);
	assert_int_equal(r.ip_id, 0);
	assert_false(r.has_quote);
	assert_int_equal(r.tcp.sport, 80);
	assert_int_equal(r.tcp.dport, 42294);
	assert_int_equal(r.tcp.seq, 2781709995u);
	assert_int_equal(r.tcp.ack, 1034151321u);
	assert_int_equal(r.tcp.flags, TH_SYN | TH_ACK | TH_ECE);
	assert_int_equal(r.tcp.window, 65160);
	assert_int_equal(r.tcp.data_off, 40);
	assert_int_equal(r.tcp.payload_len, 0);
	assert_true(r.tcp.have_mss);
	assert_int_equal(r.tcp.mss, 1460);
	assert_true(r.tcp.sack_ok);
	assert_true(r.tcp.have_ts);
	assert_int_equal(r.tcp.ts_val, 542888503u);
	assert_int_equal(r.tcp.ts_ecr, 2300562496u);
	assert_true(r.tcp.have_wscale);
	assert_int_equal(r.tcp.wscale, 10);
	assert_false(r.tcp.have_accecn);
	assert_int_equal(r.tcp.n_opts, sizeof(kinds));
	assert_memory_equal(r.tcp.opt_kinds, kinds, sizeof(kinds));
}

static void test_v6_synack(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v6_synack, sizeof(cap_v6_synack),
	    &r), 0);
	assert_int_equal(r.kind, REPLY_TCP);
	assert_addr(&r.src, "2001:db8:2::1");
	assert_int_equal(r.ttl, 63);
	assert_int_equal(r.flowlabel, 0x3da36);
	assert_int_equal(r.tcp.flags, TH_SYN | TH_ACK | TH_ECE);
	assert_int_equal(r.tcp.seq, 3847570572u);
	assert_int_equal(r.tcp.ack, 1395455068u);
	assert_int_equal(r.tcp.window, 64260);
	assert_int_equal(r.tcp.mss, 1440);
	assert_int_equal(r.tcp.ts_val, 1119614637u);
	assert_int_equal(r.tcp.wscale, 10);
}

static void test_rst(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_rstack, sizeof(cap_v4_rstack),
	    &r), 0);
	assert_int_equal(r.kind, REPLY_TCP);
	assert_int_equal(r.tcp.flags, TH_RST | TH_ACK);
	assert_int_equal(r.tcp.seq, 0);
	assert_int_equal(r.tcp.ack, 2531928398u);
	assert_int_equal(r.tcp.window, 0);
	assert_int_equal(r.tcp.n_opts, 0);
	assert_false(r.tcp.have_ts);

	/* The "no state here" signature: RST, no ACK, seq = probe's ack. */
	assert_int_equal(parse_exact(cap_v4_rst, sizeof(cap_v4_rst), &r), 0);
	assert_int_equal(r.tcp.flags, TH_RST);
	assert_int_equal(r.tcp.sport, 81);
	assert_int_equal(r.tcp.dport, 32887);
	assert_int_equal(r.tcp.seq, 0);
	assert_int_equal(r.tcp.data_off, 20);
}

static void test_echo_reply(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_echo_reply,
	    sizeof(cap_v4_echo_reply), &r), 0);
	assert_int_equal(r.kind, REPLY_ECHO_REPLY);
	assert_int_equal(r.icmp_type, 0);
	assert_int_equal(r.icmp_id, 7663);
	assert_int_equal(r.icmp_seq, 1);
	assert_false(r.has_quote);
}

/* Probes we send parse too: a TCP SYN as a TCP segment. */
static void test_probe_parses(void **state)
{
	struct pkt_reply r;

	assert_int_equal(parse_exact(cap_v4_syn_probe,
	    sizeof(cap_v4_syn_probe), &r), 0);
	assert_int_equal(r.kind, REPLY_TCP);
	assert_int_equal(r.tos, 0x02);
	assert_int_equal(r.tcp.flags, TH_SYN | TH_ECE | TH_CWR);
	assert_int_equal(r.tcp.mss, 1460);
}

/* ---- hand-made ---- */

static void check_mpls2(const struct pkt_reply *r)
{
	assert_true(r->has_ext);
	assert_int_equal(r->n_mpls, 2);
	assert_int_equal(r->mpls[0].label, 16005);
	assert_int_equal(r->mpls[0].tc, 0);
	assert_int_equal(r->mpls[0].s, 0);
	assert_int_equal(r->mpls[0].ttl, 1);
	assert_int_equal(r->mpls[1].label, 24001);
	assert_int_equal(r->mpls[1].tc, 5);
	assert_int_equal(r->mpls[1].s, 1);
	assert_int_equal(r->mpls[1].ttl, 1);
}

/* quote (padded with zeros to 128 bytes) + extension */
static size_t rfc4884_body(const uint8_t *q, size_t qlen, const uint8_t *ext,
    size_t elen, uint8_t *body)
{
	memset(body, 0, 128);
	memcpy(body, q, qlen);
	memcpy(body + 128, ext, elen);
	return 128 + elen;
}

static void test_rfc4884_mpls_v4(void **state)
{
	uint8_t body[256], pkt[512], ext[16];
	struct pkt_reply r;
	size_t bl, n;

	/* length field: byte 5, 32-bit words: 128 / 4 = 32 */
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	check_mpls2(&r);
	assert_true(r.has_quote);
	assert_int_equal(r.q.quoted_len, 44);	/* zero padding dropped */
	assert_int_equal(r.q.l4_len, 24);
	assert_int_equal(r.q.tcp_seq, 0x04037269);
	assert_int_equal(r.q.tcp_flags, TH_SYN | TH_ECE | TH_CWR);

	/* bad extension checksum: no extension, the quote is unharmed */
	memcpy(ext, ext_mpls2, sizeof(ext));
	ext[3] ^= 1;
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_ext);
	assert_int_equal(r.n_mpls, 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.quoted_len, 44);

	/* checksum 0 means "not computed" (RFC 4884 section 7) */
	ext[2] = ext[3] = 0;
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	check_mpls2(&r);

	/* length field beyond the message: ignored, never read past */
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 255u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_ext);
	assert_true(r.has_quote);
	assert_int_equal(r.q.quoted_len, 44);

	/* unreachable carries the length field in the same byte (the
	 * extension has no checksum, so only the length can find it) */
	memcpy(ext, ext_mpls2, sizeof(ext));
	ext[2] = ext[3] = 0;
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext), body);
	n = mk_icmp(AF_INET, 20, 3, 1, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_UNREACH);
	check_mpls2(&r);
}

static void test_rfc4884_mpls_v6(void **state)
{
	uint8_t body[256], pkt[512], ext[16];
	struct pkt_reply r;
	size_t bl, n;

	/* length field: byte 4, 64-bit words: 128 / 8 = 16 */
	bl = rfc4884_body(cap_v6_syn_probe, sizeof(cap_v6_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET6, 0, 3, 0, 16u << 24, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	check_mpls2(&r);
	assert_true(r.has_quote);
	assert_int_equal(r.q.quoted_len, 80);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.tcp_seq, 0x7f5a7597);

	/* The IPv4 position (byte 5) means nothing in ICMPv6: with no
	 * length and no checksum the bytes at 128 stay quote. */
	memcpy(ext, ext_mpls2, sizeof(ext));
	ext[2] = ext[3] = 0;
	bl = rfc4884_body(cap_v6_syn_probe, sizeof(cap_v6_syn_probe), ext,
	    sizeof(ext), body);
	n = mk_icmp(AF_INET6, 0, 3, 0, 16u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_ext);
	assert_int_equal(r.q.quoted_len, 80);
	/* while at byte 4 it is believed, checksum or not */
	n = mk_icmp(AF_INET6, 0, 3, 0, 16u << 24, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	check_mpls2(&r);
	n = mk_icmp(AF_INET6, 0, 1, 4, 16u << 24, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_UNREACH);
	check_mpls2(&r);
	/* packet too big has no length field: bytes 4-7 are the MTU */
	n = mk_icmp(AF_INET6, 0, 2, 0, 16u << 24, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_PKT_TOO_BIG);
	assert_false(r.has_ext);
}

/* RFC 4884 section 5: no length, extension after exactly 128 bytes. */
static void test_rfc4884_noncompliant(void **state)
{
	uint8_t body[256], pkt[512], ext[16];
	struct pkt_reply r;
	size_t bl, n;

	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 0, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	check_mpls2(&r);
	assert_int_equal(r.q.quoted_len, 44);

	/* A probe longer than 128 bytes, cut there by the router. */
	memset(body, 0, 128);
	memcpy(body, cap_v4_udp_probe, 60);
	put16(body + 2, 300);
	memcpy(body + 128, ext_mpls2, sizeof(ext_mpls2));
	n = mk_icmp(AF_INET, 20, 3, 3, 0, body, 128 + sizeof(ext_mpls2),
	    pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	check_mpls2(&r);
	assert_int_equal(r.q.quoted_len, 128);
	assert_int_equal(r.q.l4_len, 108);

	/* Without a checksum to prove it, bytes at 128 are quote. */
	memcpy(ext, ext_mpls2, sizeof(ext));
	ext[2] = ext[3] = 0;
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 0, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_ext);
	assert_int_equal(r.n_mpls, 0);
}

/* A long quote (no extensions) must not be cut at 128 bytes. */
static void test_long_quote_not_cut(void **state)
{
	uint8_t q[200], pkt[512];
	struct pkt_reply r;
	size_t n;

	memset(q, 0x20, sizeof(q));	/* looks like version 2 everywhere */
	memcpy(q, cap_v4_udp_probe, 28);
	put16(q + 2, sizeof(q));
	n = mk_icmp(AF_INET, 20, 3, 3, 0, q, sizeof(q), pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_ext);
	assert_int_equal(r.q.quoted_len, 200);
	assert_int_equal(r.q.l4_len, 180);
}

static void test_ext_objects(void **state)
{
	uint8_t ext[128], body[256], pkt[512];
	struct pkt_reply r;
	size_t bl, n, i, el;
	uint16_t ck;

	/* An interface-information object (class 2) first, then an MPLS
	 * object of 10 entries (we keep 8), then a zero-length object that
	 * must end the walk. */
	memset(ext, 0, sizeof(ext));
	ext[0] = 0x20;
	el = 4;
	put16(ext + el, 8);
	ext[el + 2] = 2;
	ext[el + 3] = 0x0c;
	el += 8;
	put16(ext + el, 4 + 40);
	ext[el + 2] = 1;
	ext[el + 3] = 1;
	for (i = 0; i < 10; i++)
		put32(ext + el + 4 + 4 * i, (uint32_t)(100 + i) << 12 |
		    (i == 9) << 8 | 200);
	el += 44;
	el += 4;		/* object header with length 0 */
	put16(ext + el, 8);	/* never reached */
	ext[el + 2] = 1;
	ext[el + 3] = 1;
	el += 8;
	ck = (uint16_t)~ref_sum(ext, el, 0);
	put16(ext + 2, ck);

	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    el, body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_ext);
	assert_int_equal(r.n_mpls, PKT_MAX_MPLS);
	for (i = 0; i < PKT_MAX_MPLS; i++) {
		assert_int_equal(r.mpls[i].label, 100 + i);
		assert_int_equal(r.mpls[i].ttl, 200);
		assert_int_equal(r.mpls[i].s, 0);
	}

	/* class 1 with another c-type is not a label stack */
	memcpy(ext, ext_mpls2, sizeof(ext_mpls2));
	ext[7] = 2;
	put16(ext + 2, 0);
	put16(ext + 2, (uint16_t)~ref_sum(ext, sizeof(ext_mpls2), 0));
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_ext);
	assert_int_equal(r.n_mpls, 0);

	/* an object longer than the structure: not read */
	memcpy(ext, ext_mpls2, sizeof(ext_mpls2));
	put16(ext + 4, 64);
	put16(ext + 2, 0);
	put16(ext + 2, (uint16_t)~ref_sum(ext, sizeof(ext_mpls2), 0));
	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe), ext,
	    sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_ext);
	assert_int_equal(r.n_mpls, 0);
}

/* A quoted IPv4 header with an option (IHL 6), in a reply whose own
 * header has options too (IHL 7). */
static void test_quote_ihl6(void **state)
{
	uint8_t q[64], pkt[256];
	struct pkt_reply r;
	size_t n;

	memcpy(q, cap_v4_udp_probe, 20);
	q[0] = 0x46;
	put16(q + 2, 64);
	memcpy(q + 20, "\x94\x04\x00\x00", 4);	/* router alert */
	memcpy(q + 24, cap_v4_udp_probe + 20, 40);
	n = mk_icmp(AF_INET, 28, 11, 0, 0, q, sizeof(q), pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_addr(&r.src, "203.0.113.9");
	assert_true(r.has_quote);
	assert_int_equal(r.q.proto, IPPROTO_UDP);
	assert_int_equal(r.q.quoted_len, 64);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.sport, 52338);
	assert_int_equal(r.q.dport, 33434);
	assert_int_equal(r.q.udp_checksum, 0xcf55);
	assert_addr(&r.q.dst, "198.51.100.1");
}

/* RFC 792 minimum: IP header + 8 bytes; and less than that. */
static void test_short_quotes(void **state)
{
	uint8_t pkt[256], q[128];
	struct pkt_reply r;
	size_t n;

	n = mk_icmp(AF_INET, 20, 11, 0, 0, cap_v4_syn_probe, 28, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.ip_len, 44);
	assert_int_equal(r.q.quoted_len, 28);
	assert_int_equal(r.q.l4_len, 8);
	assert_int_equal(r.q.sport, 46403);
	assert_int_equal(r.q.dport, 80);
	assert_int_equal(r.q.tcp_seq, 0x04037269);
	assert_int_equal(r.q.tcp_flags, 0);	/* not quoted */

	n = mk_icmp(AF_INET, 20, 11, 0, 0, cap_v4_syn_probe, 24, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.l4_len, 4);
	assert_int_equal(r.q.sport, 46403);
	assert_int_equal(r.q.dport, 80);
	assert_int_equal(r.q.tcp_seq, 0);

	n = mk_icmp(AF_INET, 20, 11, 0, 0, cap_v4_syn_probe, 20, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.l4_len, 0);
	assert_int_equal(r.q.sport, 0);
	assert_int_equal(r.q.ttl, 1);

	n = mk_icmp(AF_INET, 20, 11, 0, 0, cap_v4_syn_probe, 19, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_false(r.has_quote);
	assert_int_equal(r.q.ttl, 0);

	n = mk_icmp(AF_INET6, 0, 3, 0, 0, cap_v6_syn_probe, 48, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.l4_len, 8);
	assert_int_equal(r.q.tcp_seq, 0x7f5a7597);

	/* an IPv6 quote whose length field says 65535 + 40 bytes */
	memcpy(q, cap_v6_syn_probe, sizeof(cap_v6_syn_probe));
	put16(q + 4, 0xffff);
	n = mk_icmp(AF_INET6, 0, 3, 0, 0, q, sizeof(cap_v6_syn_probe), pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.q.ip_len, 0xffff);
	assert_int_equal(r.q.quoted_len, 80);
	assert_int_equal(r.q.l4_len, 40);

	/* a quote of the wrong IP version is no quote */
	n = mk_icmp(AF_INET6, 0, 3, 0, 0, cap_v4_syn_probe, 44, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_false(r.has_quote);
}

static void test_mtu_and_codes(void **state)
{
	uint8_t pkt[256];
	struct pkt_reply r;
	size_t n;
	uint8_t code;

	n = mk_icmp(AF_INET, 20, 3, 4, 1400, cap_v4_syn_probe, 28, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_UNREACH);
	assert_int_equal(r.icmp_code, 4);
	assert_int_equal(r.mtu, 1400);
	assert_true(r.has_quote);

	n = mk_icmp(AF_INET6, 0, 2, 0, 1280, cap_v6_syn_probe, 80, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_PKT_TOO_BIG);
	assert_int_equal(r.mtu, 1280);
	assert_true(r.has_quote);
	assert_int_equal(r.q.quoted_len, 80);

	/* bytes 6-7 are the next-hop MTU only for code 4 */
	for (code = 0; code < 16; code++) {
		n = mk_icmp(AF_INET, 20, 3, code, 1500, cap_v4_syn_probe, 28,
		    pkt);
		assert_int_equal(parse_exact(pkt, n, &r), 0);
		assert_int_equal(r.kind, REPLY_UNREACH);
		assert_int_equal(r.icmp_code, code);
		assert_int_equal(r.mtu, code == 4 ? 1500 : 0);
		assert_true(r.has_quote);
	}
	for (code = 0; code < 8; code++) {
		n = mk_icmp(AF_INET6, 0, 1, code, 0, cap_v6_syn_probe, 48,
		    pkt);
		assert_int_equal(parse_exact(pkt, n, &r), 0);
		assert_int_equal(r.kind, REPLY_UNREACH);
		assert_int_equal(r.icmp_code, code);
		assert_true(r.has_quote);
	}

	/* parameter problem quotes but has no kind of its own */
	n = mk_icmp(AF_INET, 20, 12, 0, 0, cap_v4_syn_probe, 28, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
	assert_true(r.has_quote);

	/* unknown types, echo replies */
	n = mk_icmp(AF_INET, 20, 13, 0, 0, cap_v4_syn_probe, 12, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
	assert_int_equal(r.icmp_type, 13);
	assert_false(r.has_quote);
	n = mk_icmp(AF_INET6, 0, 129, 0, 0x12340005, NULL, 0, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_ECHO_REPLY);
	assert_int_equal(r.icmp_id, 0x1234);
	assert_int_equal(r.icmp_seq, 5);
	n = mk_icmp(AF_INET6, 0, 128, 0, 0x12340005, NULL, 0, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
}

static void test_bad_ip_headers(void **state)
{
	uint8_t pkt[256];
	struct pkt_reply r;
	size_t n = sizeof(cap_v4_synack);

	memcpy(pkt, cap_v4_synack, n);
	pkt[0] = 0x44;				/* IHL 4 */
	assert_int_equal(parse_exact(pkt, n, &r), -1);
	pkt[0] = 0x5f;				/* version 5 */
	assert_int_equal(parse_exact(pkt, n, &r), -1);
	pkt[0] = 0x4f;				/* IHL 60 > total */
	assert_int_equal(parse_exact(pkt, n, &r), -1);
	memcpy(pkt, cap_v4_synack, n);
	put16(pkt + 2, 19);			/* total < IHL */
	assert_int_equal(parse_exact(pkt, n, &r), -1);
	put16(pkt + 2, 39);			/* TCP header cut */
	assert_int_equal(parse_exact(pkt, n, &r), -1);
	put16(pkt + 2, 61);			/* longer than we have */
	assert_int_equal(parse_exact(pkt, n, &r), -1);

	/* link-layer padding after the packet is ignored */
	memcpy(pkt, cap_v4_rst, sizeof(cap_v4_rst));
	memset(pkt + sizeof(cap_v4_rst), 0xee, 6);
	assert_int_equal(parse_exact(pkt, sizeof(cap_v4_rst) + 6, &r), 0);
	assert_int_equal(r.tcp.payload_len, 0);

	/* later fragment: no transport header to read */
	memcpy(pkt, cap_v4_te_tcp, sizeof(cap_v4_te_tcp));
	put16(pkt + 6, 0x0002);
	assert_int_equal(parse_exact(pkt, sizeof(cap_v4_te_tcp), &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
	assert_false(r.has_quote);
	assert_int_equal(r.proto, IPPROTO_ICMP);

	/* ICMP too short for its header */
	n = mk_icmp(AF_INET, 20, 11, 0, 0, NULL, 0, pkt);
	put16(pkt + 2, 27);
	assert_int_equal(parse_exact(pkt, 27, &r), -1);

	/* ICMPv4 in IPv6 is not ours to read */
	memcpy(pkt, cap_v6_te_udp, sizeof(cap_v6_te_udp));
	pkt[6] = IPPROTO_ICMP;
	assert_int_equal(parse_exact(pkt, sizeof(cap_v6_te_udp), &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
	assert_false(r.has_quote);
}

/* IPv6 extension headers, outside and inside the quote. */
static void test_v6_ext_headers(void **state)
{
	uint8_t pkt[512], q[128];
	struct pkt_reply r;
	size_t n, i;

	/* hop-by-hop + destination options, then ICMPv6 */
	memcpy(pkt, cap_v6_te_udp, 40);
	pkt[6] = 0;
	memcpy(pkt + 40, "\x3c\x00\x01\x04\x00\x00\x00\x00", 8);
	memcpy(pkt + 48, "\x3a\x00\x01\x04\x00\x00\x00\x00", 8);
	memcpy(pkt + 56, cap_v6_te_udp + 40, sizeof(cap_v6_te_udp) - 40);
	n = sizeof(cap_v6_te_udp) + 16;
	put16(pkt + 4, (unsigned)(n - 40));
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.proto, IPPROTO_ICMPV6);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_true(r.has_quote);
	assert_int_equal(r.q.sport, 0xdbaf);

	/* an extension header longer than the packet */
	pkt[49] = 200;
	assert_int_equal(parse_exact(pkt, n, &r), -1);

	/* more extension headers than we walk */
	memcpy(pkt, cap_v6_te_udp, 40);
	pkt[6] = 60;
	for (i = 0; i < 9; i++)
		memcpy(pkt + 40 + 8 * i, "\x3c\x00\x01\x04\x00\x00\x00\x00", 8);
	pkt[40 + 8 * 8] = 58;
	memcpy(pkt + 112, cap_v6_te_udp + 40, sizeof(cap_v6_te_udp) - 40);
	n = sizeof(cap_v6_te_udp) + 72;
	put16(pkt + 4, (unsigned)(n - 40));
	assert_int_equal(parse_exact(pkt, n, &r), -1);

	/* a later fragment */
	memcpy(pkt, cap_v6_te_udp, 40);
	pkt[6] = 44;
	memcpy(pkt + 40, "\x3a\x00\x05\x00\x00\x00\x00\x01", 8);
	memcpy(pkt + 48, cap_v6_te_udp + 40, sizeof(cap_v6_te_udp) - 40);
	n = sizeof(cap_v6_te_udp) + 8;
	put16(pkt + 4, (unsigned)(n - 40));
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_OTHER);
	assert_int_equal(r.proto, IPPROTO_ICMPV6);
	/* an atomic fragment (offset 0, no M) is the whole thing */
	pkt[42] = 0;
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
	assert_int_equal(r.q.sport, 0xdbaf);

	/* a quote with a fragment header before UDP */
	memcpy(q, cap_v6_udp_probe, 40);
	q[6] = 44;
	put16(q + 4, 48);
	memcpy(q + 40, "\x11\x00\x00\x00\x00\x00\x00\x07", 8);
	memcpy(q + 48, cap_v6_udp_probe + 40, 40);
	n = mk_icmp(AF_INET6, 0, 3, 0, 0, q, 88, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.proto, IPPROTO_UDP);
	assert_int_equal(r.q.l4_len, 40);
	assert_int_equal(r.q.sport, 0xdbaf);
	assert_int_equal(r.q.udp_checksum, 0x50d8);
	/* ... cut inside the fragment header: header whole, no transport */
	n = mk_icmp(AF_INET6, 0, 3, 0, 0, q, 44, pkt);
	assert_int_equal(parse_exact(pkt, n, &r), 0);
	assert_true(r.has_quote);
	assert_int_equal(r.q.l4_len, 0);
	assert_int_equal(r.q.sport, 0);
}

/* ---- truncation ---- */

/*
 * Every prefix of a valid packet is refused as it stands: its length
 * field says more. With the length field rewritten to the prefix (a
 * router that quoted less), the result is the full parse as far as the
 * shorter packet reaches, and zero beyond.
 */
static void check_truncations(const uint8_t *pkt, size_t n)
{
	struct pkt_reply full, r;
	uint8_t *buf = malloc(n);
	size_t k, hl, qhl = 0, avail, ql, l4;
	int v6 = pkt[0] >> 4 == 6, rc;

	assert_non_null(buf);
	assert_int_equal(parse_exact(pkt, n, &full), 0);
	hl = v6 ? 40 : (size_t)(pkt[0] & 15) * 4;
	if (full.has_quote)
		qhl = v6 ? 40 : (size_t)(pkt[hl + 8] & 15) * 4;

	for (k = 0; k < n; k++)
		assert_int_equal(parse_exact(pkt, k, &r), -1);

	for (k = 0; k <= n; k++) {
		memcpy(buf, pkt, k);
		if (!v6 && k >= 4)
			put16(buf + 2, (unsigned)k);
		if (v6 && k >= 40)
			put16(buf + 4, (unsigned)(k - 40));
		rc = parse_exact(buf, k, &r);
		if (k < hl + (full.kind == REPLY_TCP ? full.tcp.data_off : 8)) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(r.kind, full.kind);
		assert_true(addr_eq(&r.src, &full.src));
		assert_int_equal(r.ttl, full.ttl);
		assert_int_equal(r.tos, full.tos);
		assert_int_equal(r.icmp_type, full.icmp_type);
		assert_int_equal(r.icmp_code, full.icmp_code);
		assert_int_equal(r.mtu, full.mtu);
		assert_int_equal(r.icmp_id, full.icmp_id);
		assert_int_equal(r.icmp_seq, full.icmp_seq);
		if (r.kind == REPLY_TCP) {
			assert_int_equal(r.tcp.seq, full.tcp.seq);
			assert_int_equal(r.tcp.flags, full.tcp.flags);
			assert_int_equal(r.tcp.n_opts, full.tcp.n_opts);
			assert_int_equal(r.tcp.payload_len,
			    k - hl - full.tcp.data_off);
		}
		/* extensions only when whole (their checksum covers all) */
		assert_int_equal(r.has_ext, k == n ? full.has_ext : 0);
		assert_int_equal(r.n_mpls, k == n ? full.n_mpls : 0);
		if (!full.has_quote) {
			assert_false(r.has_quote);
			continue;
		}
		avail = k - hl - 8;
		assert_int_equal(r.has_quote, avail >= qhl);
		if (!r.has_quote)
			continue;
		ql = avail < full.q.quoted_len ? avail : full.q.quoted_len;
		l4 = ql - qhl;
		assert_int_equal(r.q.quoted_len, ql);
		assert_int_equal(r.q.l4_len, l4);
		assert_true(addr_eq(&r.q.src, &full.q.src));
		assert_true(addr_eq(&r.q.dst, &full.q.dst));
		assert_int_equal(r.q.tos, full.q.tos);
		assert_int_equal(r.q.ttl, full.q.ttl);
		assert_int_equal(r.q.ip_id, full.q.ip_id);
		assert_int_equal(r.q.flowlabel, full.q.flowlabel);
		assert_int_equal(r.q.ip_len, full.q.ip_len);
		assert_int_equal(r.q.proto, full.q.proto);
		assert_int_equal(r.q.sport, l4 >= 2 ? full.q.sport : 0);
		assert_int_equal(r.q.dport, l4 >= 4 ? full.q.dport : 0);
		assert_int_equal(r.q.tcp_seq, l4 >= 8 ? full.q.tcp_seq : 0);
		assert_int_equal(r.q.udp_checksum,
		    l4 >= 8 ? full.q.udp_checksum : 0);
		assert_int_equal(r.q.tcp_flags, l4 >= 14 ? full.q.tcp_flags : 0);
		assert_int_equal(r.q.icmp_type, l4 >= 1 ? full.q.icmp_type : 0);
		assert_int_equal(r.q.icmp_checksum,
		    l4 >= 4 ? full.q.icmp_checksum : 0);
		assert_int_equal(r.q.icmp_id, l4 >= 6 ? full.q.icmp_id : 0);
		assert_int_equal(r.q.icmp_seq, l4 >= 8 ? full.q.icmp_seq : 0);
	}
	free(buf);
}

static void test_truncations(void **state)
{
	static const struct {
		const uint8_t *p;
		size_t n;
	} caps[] = {
#define C(a) { a, sizeof(a) }
		C(cap_v4_te_tcp), C(cap_v4_port_unreach), C(cap_v6_te_udp),
		C(cap_v6_te_tcp), C(cap_v4_synack), C(cap_v6_synack),
		C(cap_v4_rstack), C(cap_v4_rst), C(cap_v4_echo_reply),
		C(cap_v4_syn_probe), C(cap_v6_syn_probe),
#undef C
	};
	uint8_t body[256], pkt[512], q[64];
	size_t i, bl, n;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		check_truncations(caps[i].p, caps[i].n);

	bl = rfc4884_body(cap_v4_syn_probe, sizeof(cap_v4_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET, 20, 11, 0, 32u << 16, body, bl, pkt);
	check_truncations(pkt, n);
	n = mk_icmp(AF_INET, 20, 11, 0, 0, body, bl, pkt);
	check_truncations(pkt, n);
	bl = rfc4884_body(cap_v6_syn_probe, sizeof(cap_v6_syn_probe),
	    ext_mpls2, sizeof(ext_mpls2), body);
	n = mk_icmp(AF_INET6, 0, 3, 0, 16u << 24, body, bl, pkt);
	check_truncations(pkt, n);

	memcpy(q, cap_v4_udp_probe, 20);	/* IHL 6 quote, IHL 7 outer */
	q[0] = 0x46;
	put16(q + 2, 64);
	memcpy(q + 20, "\x94\x04\x00\x00", 4);
	memcpy(q + 24, cap_v4_udp_probe + 20, 40);
	n = mk_icmp(AF_INET, 28, 11, 0, 0, q, sizeof(q), pkt);
	check_truncations(pkt, n);

	n = mk_icmp(AF_INET, 20, 3, 4, 1400, cap_v4_echo_reply, 28, pkt);
	check_truncations(pkt, n);
}

/* ---- TCP options, table-driven ---- */

static const struct tcpopt_case {
	const char *name;
	uint8_t opt[40];
	size_t len;		/* option bytes, a multiple of 4 */
	int rc;
	size_t n_opts;
	int mss, wscale, sack_ok, ts_val, accecn;	/* -1: absent */
	uint8_t nfields;
	uint32_t f0, f2;
} tcpopt_cases[] = {
	{ "none", {0}, 0, 0, 0, -1, -1, 0, -1, -1, 0, 0, 0 },
	{ "mss", {2, 4, 5, 0xb4}, 4, 0, 1, 1460, -1, 0, -1, -1, 0, 0, 0 },
	{ "eol ends the list", {0, 2, 1, 0xff}, 4, 0, 1, -1, -1, 0, -1, -1,
	  0, 0, 0 },
	{ "nop nop ts", {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 2}, 12, 0, 3,
	  -1, -1, 0, 7, -1, 0, 0, 0 },
	{ "wscale", {1, 3, 3, 14}, 4, 0, 2, -1, 14, 0, -1, -1, 0, 0, 0 },
	{ "sack-permitted", {4, 2, 1, 1}, 4, 0, 3, -1, -1, 1, -1, -1, 0, 0,
	  0 },
	{ "sack one block", {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 12, 0,
	  3, -1, -1, 0, -1, -1, 0, 0, 0 },
	{ "unknown kind skipped", {0xfd, 6, 1, 2, 3, 4, 2, 4, 5, 0xb4, 1,
	  1}, 12, 0, 4, 1460, -1, 0, -1, -1, 0, 0, 0 },
	{ "accecn0 three fields", {172, 11, 0, 0, 1, 0, 0, 2, 0xab, 0xcd,
	  0xef, 1}, 12, 0, 2, -1, -1, 0, -1, 172, 3, 1, 0xabcdef },
	{ "accecn1 no field", {174, 2, 1, 1}, 4, 0, 3, -1, -1, 0, -1, 174,
	  0, 0, 0 },
	{ "length 0", {0xfd, 0, 0, 0}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "length 1", {0xfd, 1, 0, 0}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "length past end", {0xfd, 8, 0, 0}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0,
	  0 },
	{ "kind without length", {1, 1, 1, 2}, 4, -1, 0, 0, 0, 0, 0, 0, 0,
	  0, 0 },
	{ "mss length 3", {2, 3, 5, 0}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "mss length 6", {2, 6, 5, 0xb4, 0, 0, 0, 0}, 8, -1, 0, 0, 0, 0, 0,
	  0, 0, 0, 0 },
	{ "wscale length 4", {3, 4, 1, 1}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "sack-permitted length 3", {4, 3, 0, 0}, 4, -1, 0, 0, 0, 0, 0, 0,
	  0, 0, 0 },
	{ "sack length 2", {5, 2, 1, 1}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "sack length 9", {5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 12, -1, 0,
	  0, 0, 0, 0, 0, 0, 0, 0 },
	{ "ts length 9", {8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 12, -1, 0, 0,
	  0, 0, 0, 0, 0, 0, 0 },
	{ "ts length 12", {8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, -1, 0,
	  0, 0, 0, 0, 0, 0, 0, 0 },
	{ "sack length 12", {5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12, -1,
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "accecn length 4", {172, 4, 0, 0}, 4, -1, 0, 0, 0, 0, 0, 0, 0, 0,
	  0 },
	{ "accecn length 14", {174, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	  0, 0}, 16, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

static void test_tcp_options(void **state)
{
	uint8_t seg[80];
	struct tcp_seg t;
	size_t i, k, doff;

	for (i = 0; i < sizeof(tcpopt_cases) / sizeof(tcpopt_cases[0]); i++) {
		const struct tcpopt_case *c = &tcpopt_cases[i];

		print_message("# %s\n", c->name);
		doff = 20 + c->len;
		memcpy(seg, cap_v4_rst + 20, 20);
		seg[12] = (uint8_t)(doff / 4 << 4);
		memcpy(seg + 20, c->opt, c->len);
		memcpy(seg + doff, "abc", 3);
		assert_int_equal(pkt_parse_tcp(seg, doff + 3, &t), c->rc);
		if (c->rc < 0)
			continue;
		assert_int_equal(t.data_off, doff);
		assert_int_equal(t.payload_len, 3);
		assert_int_equal(t.n_opts, c->n_opts);
		assert_int_equal(t.have_mss, c->mss >= 0);
		if (c->mss >= 0)
			assert_int_equal(t.mss, c->mss);
		assert_int_equal(t.have_wscale, c->wscale >= 0);
		if (c->wscale >= 0)
			assert_int_equal(t.wscale, c->wscale);
		assert_int_equal(t.sack_ok, c->sack_ok);
		assert_int_equal(t.have_ts, c->ts_val >= 0);
		if (c->ts_val >= 0)
			assert_int_equal(t.ts_val, c->ts_val);
		assert_int_equal(t.have_accecn, c->accecn >= 0);
		if (c->accecn >= 0) {
			assert_int_equal(t.accecn_kind, c->accecn);
			assert_int_equal(t.accecn_nfields, c->nfields);
			assert_int_equal(t.accecn_field[0], c->f0);
			assert_int_equal(t.accecn_field[2], c->f2);
		}
		/* shorter than the header it declares: refused */
		for (k = 0; k < doff; k++)
			assert_int_equal(pkt_parse_tcp(seg, k, &t), -1);
	}
	/* the same without payload, from a heap copy of exactly the
	 * header: ASan sees a read of a length byte past the options */
	for (i = 0; i < sizeof(tcpopt_cases) / sizeof(tcpopt_cases[0]); i++) {
		const struct tcpopt_case *c = &tcpopt_cases[i];
		uint8_t *h;

		doff = 20 + c->len;
		h = malloc(doff);
		assert_non_null(h);
		memcpy(h, cap_v4_rst + 20, 20);
		h[12] = (uint8_t)(doff / 4 << 4);
		memcpy(h + 20, c->opt, c->len);
		assert_int_equal(pkt_parse_tcp(h, doff, &t), c->rc);
		free(h);
	}
}

static void test_tcp_header(void **state)
{
	uint8_t seg[64];
	struct tcp_seg t;

	memcpy(seg, cap_v4_rst + 20, 20);
	seg[12] = 0x41;				/* data offset 4: bad */
	assert_int_equal(pkt_parse_tcp(seg, 20, &t), -1);
	seg[12] = 0x61;				/* 24 > 20 bytes */
	assert_int_equal(pkt_parse_tcp(seg, 20, &t), -1);
	seg[12] = 0x51;				/* AE */
	seg[13] = TH_SYN | TH_ECE | TH_CWR;
	assert_int_equal(pkt_parse_tcp(seg, 20, &t), 0);
	assert_int_equal(t.flags, TH_AE | TH_SYN | TH_ECE | TH_CWR);
	seg[12] = 0xf0;				/* 40 bytes of NOP */
	memset(seg + 20, 1, 40);
	assert_int_equal(pkt_parse_tcp(seg, 60, &t), 0);
	assert_int_equal(t.n_opts, 40);
	assert_int_equal(t.data_off, 60);
	assert_int_equal(t.flags, TH_SYN | TH_ECE | TH_CWR);
}

/*
 * A GRO-merged segment longer than the receive buffer: the captured
 * SYN-ACK's headers standing for a 40000-byte data segment of which only
 * the first `keep` bytes arrived (recvmsg with MSG_TRUNC says 40000).
 */
static size_t big_segment(const uint8_t *hdr, size_t hlen, int v6,
			  size_t total, uint8_t *buf)
{
	memcpy(buf, hdr, hlen);
	if (v6)
		put16(buf + 4, (unsigned)(total - 40));
	else
		put16(buf + 2, (unsigned)total);
	return hlen;
}

static void test_cut_packets(void **state)
{
	static uint8_t buf[256];
	struct pkt_reply r;

	for (int v6 = 0; v6 <= 1; v6++) {
		const uint8_t *cap = v6 ? cap_v6_synack : cap_v4_synack;
		size_t cl = v6 ? sizeof(cap_v6_synack) : sizeof(cap_v4_synack);
		size_t iph = v6 ? 40 : 20, tcph = cl - iph;
		size_t keep = big_segment(cap, cl, v6, 40000, buf);

		/* Never whole: the length field says more than we have. */
		assert_int_equal(pkt_parse(buf, keep, &r), -1);
		/* Known to be cut: the headers, flagged, with the real
		 * payload length. */
		assert_int_equal(pkt_parse_cut(buf, keep, 40000, &r), 0);
		assert_true(r.truncated);
		assert_int_equal(r.wire_len, 40000);
		assert_int_equal(r.kind, REPLY_TCP);
		assert_int_equal(r.tcp.ack, v6 ? 1395455068u : 1034151321u);
		assert_int_equal(r.tcp.data_off, tcph);
		assert_int_equal(r.tcp.payload_len, 40000 - iph - tcph);
		/* A length field beyond what the wire carried is malformed. */
		assert_int_equal(pkt_parse_cut(buf, keep, 39999, &r), -1);
		/* The TCP header itself cut: nothing to parse. */
		assert_int_equal(pkt_parse_cut(buf, iph + 19, 40000, &r), -1);
		assert_int_equal(pkt_parse_cut(buf, keep - 1, 40000, &r), -1);
		/* Whole after all (link padding past the length field). */
		big_segment(cap, cl, v6, cl, buf);
		assert_int_equal(pkt_parse_cut(buf, cl, cl + 6, &r), 0);
		assert_false(r.truncated);
		assert_int_equal(r.wire_len, cl);
		assert_int_equal(r.tcp.payload_len, 0);
		assert_int_equal(pkt_parse_cut(buf, cl, cl, &r), 0);
		assert_false(r.truncated);
	}
	/* BIG TCP: a length field of 0 on a packet past 64 KiB. */
	big_segment(cap_v4_synack, sizeof(cap_v4_synack), 0, 0, buf);
	assert_int_equal(pkt_parse_cut(buf, sizeof(cap_v4_synack), 70000, &r), 0);
	assert_true(r.truncated);
	assert_int_equal(r.wire_len, 70000);
	assert_int_equal(r.tcp.payload_len, 70000 - sizeof(cap_v4_synack));
	assert_int_equal(pkt_parse_cut(buf, sizeof(cap_v4_synack), 65535, &r), -1);
	big_segment(cap_v6_synack, sizeof(cap_v6_synack), 1, 40, buf);
	assert_int_equal(pkt_parse_cut(buf, sizeof(cap_v6_synack), 70000, &r), 0);
	assert_true(r.truncated);
	assert_int_equal(r.tcp.payload_len, 70000 - sizeof(cap_v6_synack));
	assert_int_equal(pkt_parse_cut(buf, sizeof(cap_v6_synack), 65575, &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_time_exceeded_tcp),
		cmocka_unit_test(test_v4_port_unreach_udp),
		cmocka_unit_test(test_v6_time_exceeded_udp),
		cmocka_unit_test(test_v6_time_exceeded_tcp),
		cmocka_unit_test(test_v4_synack),
		cmocka_unit_test(test_v6_synack),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_echo_reply),
		cmocka_unit_test(test_probe_parses),
		cmocka_unit_test(test_rfc4884_mpls_v4),
		cmocka_unit_test(test_rfc4884_mpls_v6),
		cmocka_unit_test(test_rfc4884_noncompliant),
		cmocka_unit_test(test_long_quote_not_cut),
		cmocka_unit_test(test_ext_objects),
		cmocka_unit_test(test_quote_ihl6),
		cmocka_unit_test(test_short_quotes),
		cmocka_unit_test(test_mtu_and_codes),
		cmocka_unit_test(test_bad_ip_headers),
		cmocka_unit_test(test_v6_ext_headers),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_tcp_options),
		cmocka_unit_test(test_tcp_header),
		cmocka_unit_test(test_cut_packets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
