/*
 * probe_match(): which probe does a received packet answer?
 *
 * Probes come from flow_probe(), exactly as a trace makes them. Replies
 * are the bytes a router or the target would send: the probe's own bytes
 * from pkt_build() wrapped in an ICMP / ICMPv6 error assembled here, or a
 * TCP segment / echo reply built from a description. Every reply goes
 * through pkt_parse() before probe_match() sees it, so these tests also
 * cover the parse -> match path the engine runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"
#include "pkt.h"
#include "trace.h"

#define NPROBES 8
#define TOKEN_BASE 0x7ffffff0u  /* crosses no boundary, but is not small */

static struct addr mkaddr(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.u.v6) == 1)
		a.family = AF_INET6;
	return a;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Addresses of one made-up path, all documentation prefixes. */
struct path {
	struct addr client, target, router, stranger;
};

static struct path path4(void)
{
	struct path p = {
		mkaddr("192.0.2.10"), mkaddr("203.0.113.80"),
		mkaddr("198.51.100.1"), mkaddr("198.18.0.7"),
	};
	return p;
}

static struct path path6(void)
{
	struct path p = {
		mkaddr("2001:db8:1::10"), mkaddr("2001:db8:2::80"),
		mkaddr("2001:db8:ff::1"), mkaddr("2001:db8:3::7"),
	};
	return p;
}

/* NPROBES probes of one flow, TTL 1.. in order, all sent. */
static void make_probes(struct probe *pr, const struct path *pa, uint8_t proto,
			uint8_t tos)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.src = pa->client;
	f.dst = pa->target;
	f.proto = proto;
	f.sport = 40001;
	f.dport = proto == IPPROTO_UDP ? 33434 : 80;
	f.tos = tos;
	for (int i = 0; i < NPROBES; i++) {
		uint32_t token = proto == IPPROTO_TCP ? TOKEN_BASE + (uint32_t)i
						      : (uint32_t)i;

		flow_probe(&f, i + 1, token, &pr[i]);
		pr[i].state = PROBE_SENT;
		pr[i].user = i + 1;
	}
}

/* The probe's bytes as they left us. */
static size_t probe_bytes(const struct probe *p, uint8_t *buf, size_t cap)
{
	size_t len = cap;

	assert_int_equal(pkt_build(&p->d, buf, &len), 0);
	return len;
}

/*
 * The packet a router that received `inner` would send back: an IPv4
 * ICMP or ICMPv6 error of the given type and code, from `from` to `to`,
 * quoting qlen bytes of inner. Checksums are right, as a router's are.
 */
static size_t icmp_error(uint8_t *out, const struct addr *from,
			 const struct addr *to, uint8_t type, uint8_t code,
			 const uint8_t *inner, size_t qlen)
{
	size_t iphl = from->family == AF_INET ? 20 : 40;
	size_t icmplen = 8 + qlen, total = iphl + icmplen;
	uint8_t *ic = out + iphl;
	uint32_t sum = 0;

	memset(out, 0, total);
	if (from->family == AF_INET) {
		out[0] = 0x45;
		out[1] = 0xc0;
		put16(out + 2, (uint16_t)total);
		put16(out + 4, 0x2222);
		out[8] = 254;
		out[9] = IPPROTO_ICMP;
		memcpy(out + 12, &from->u.v4, 4);
		memcpy(out + 16, &to->u.v4, 4);
		put16(out + 10, (uint16_t)~pkt_fold(pkt_sum(out, 20, 0)));
	} else {
		out[0] = 0x6e;          /* traffic class 0xe0 */
		put16(out + 4, (uint16_t)icmplen);
		out[6] = IPPROTO_ICMPV6;
		out[7] = 64;
		memcpy(out + 8, &from->u.v6, 16);
		memcpy(out + 24, &to->u.v6, 16);
		sum = pkt_sum(out + 8, 32, 0) + (uint32_t)icmplen + IPPROTO_ICMPV6;
	}
	ic[0] = type;
	ic[1] = code;
	memcpy(ic + 8, inner, qlen);
	put16(ic + 2, (uint16_t)~pkt_fold(pkt_sum(ic, icmplen, sum)));
	return total;
}

static uint8_t te_type(int family)
{
	return family == AF_INET ? 11 : 3;
}

/* Time exceeded from the path's router quoting probe i in full. */
static void time_exceeded(const struct probe *pr, int i, const struct path *pa,
			  size_t qlen_max, struct pkt_reply *r)
{
	uint8_t inner[PKT_MAX], out[PKT_MAX + 64];
	size_t n = probe_bytes(&pr[i], inner, sizeof(inner)), len;

	if (qlen_max && n > qlen_max)
		n = qlen_max;
	len = icmp_error(out, &pa->router, &pa->client,
			 te_type(pa->client.family), 0, inner, n);
	assert_int_equal(pkt_parse(out, len, r), 0);
	assert_int_equal(r->kind, REPLY_TIME_EXCEEDED);
	assert_true(r->has_quote);
}

/* A TCP segment from the target to the client, answering probe p. */
static void tcp_reply(const struct probe *p, uint16_t flags, uint32_t seq,
		      uint32_t ack, struct pkt_reply *r)
{
	struct probe_desc d;
	uint8_t buf[PKT_MAX];
	size_t len = sizeof(buf);

	memset(&d, 0, sizeof(d));
	d.src = p->d.dst;
	d.dst = p->d.src;
	d.ttl = 61;
	d.proto = IPPROTO_TCP;
	d.sport = p->d.dport;
	d.dport = p->d.sport;
	d.seq = seq;
	d.ack = ack;
	d.tcp_flags = flags;
	d.window = 65160;
	d.ip_id = 1;
	assert_int_equal(pkt_build(&d, buf, &len), 0);
	assert_int_equal(pkt_parse(buf, len, r), 0);
	assert_int_equal(r->kind, REPLY_TCP);
}

/* ------------------------------------------------------------------ */
/* TCP, quoted in time exceeded */

static void tcp_time_exceeded(const struct path *pa)
{
	struct probe pr[NPROBES];
	struct pkt_reply r;

	make_probes(pr, pa, IPPROTO_TCP, 0x02);
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, 0, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	/* RFC 792's minimum: IP header and 8 bytes carry ports and seq. */
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, (pa->client.family == AF_INET ? 20 : 40) + 8, &r);
		assert_int_equal(r.q.l4_len, 8);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	/* Seven transport bytes leave the sequence number cut: no match. */
	time_exceeded(pr, 2, pa, (pa->client.family == AF_INET ? 20 : 40) + 7, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
}

static void test_tcp4_time_exceeded(void **state)
{
	struct path pa = path4();

	(void)state;
	tcp_time_exceeded(&pa);
}

static void test_tcp6_time_exceeded(void **state)
{
	struct path pa = path6();

	(void)state;
	tcp_time_exceeded(&pa);
}

/* Change one field of probe 3 before quoting it: the quote then names a
 * packet we never sent. */
enum mutation { M_SEQ, M_SPORT, M_DPORT, M_SRC, M_DST, M_PROTO };

static void quote_mutated(const struct path *pa, uint8_t proto, enum mutation m)
{
	struct probe pr[NPROBES];
	struct probe other;
	struct pkt_reply r;
	const int i = 3;

	make_probes(pr, pa, proto, 0x02);
	other = pr[i];
	switch (m) {
	case M_SEQ:
		if (proto == IPPROTO_TCP)
			other.d.seq += 0x10000;     /* not another probe's seq */
		else if (proto == IPPROTO_UDP && pa->client.family == AF_INET)
			other.d.ip_id += 100;
		else if (proto == IPPROTO_UDP)
			other.d.payload_len += 100; /* the IPv6 token */
		else
			other.d.icmp_seq += 100;
		break;
	case M_SPORT:
		other.d.sport++;
		other.d.icmp_id++;
		break;
	case M_DPORT:
		other.d.dport++;
		other.d.icmp_id--;
		break;
	case M_SRC:
		other.d.src = pa->stranger;
		break;
	case M_DST:
		other.d.dst = pa->stranger;
		break;
	case M_PROTO:
		other.d.proto = proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
		other.d.fix_checksum = 0;
		other.d.seq = pr[i].d.seq;
		break;
	}
	time_exceeded(&other, 0, pa, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	/* ... and the unmutated probe does match, so -1 is not luck. */
	time_exceeded(pr, i, pa, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), i);
}

static void test_quote_wrong_fields(void **state)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	struct path p4 = path4(), p6 = path6();

	(void)state;
	for (size_t k = 0; k < sizeof(protos); k++) {
		uint8_t p = protos[k];

		for (int m = M_SEQ; m <= M_PROTO; m++) {
			if (p == IPPROTO_ICMP && m == M_PROTO)
				continue;
			quote_mutated(&p4, p, (enum mutation)m);
			quote_mutated(&p6, p == IPPROTO_ICMP ? IPPROTO_ICMPV6 : p,
				      (enum mutation)m);
		}
	}
}

/* Our RST closing probe 2's SYN-ACK carries probe 2's sequence number
 * plus one; where it expires, the quote must not pass for the answer to
 * the probe whose token that is. */
static void quoted_rst(const struct path *pa)
{
	struct probe pr[NPROBES], rst;
	struct pkt_reply r;

	make_probes(pr, pa, IPPROTO_TCP, 0x02);
	rst = pr[2];
	rst.d.tcp_flags = TH_RST;
	rst.d.seq = pr[3].d.seq;
	time_exceeded(&rst, 0, pa, 0, &r);
	assert_true(r.q.l4_len >= 14);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	/* The same quote with the SYN flag is probe 3's answer. */
	rst.d.tcp_flags = pr[3].d.tcp_flags;
	time_exceeded(&rst, 0, pa, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), 3);
}

static void test_quoted_rst_is_no_answer(void **state)
{
	struct path p4 = path4(), p6 = path6();

	(void)state;
	quoted_rst(&p4);
	quoted_rst(&p6);
}

/*
 * Tokens from the engine's random base (as trace_run and diagnose number
 * them, base + i): a forged time exceeded that quotes the probe's flow
 * with a guessed token matches nothing. The guesses: what tokens used to
 * be (source port * 65536 + i for TCP; 0, 1, ... for UDP and ICMP), and
 * one past either end of the run's range.
 */
static void forged_tokens(const struct path *pa, uint8_t proto)
{
	struct engine e;
	struct probe pr[NPROBES];
	struct pkt_reply r;
	struct flow f;
	uint32_t guesses[2 * NPROBES + 2];
	size_t ng = 0;

	assert_int_equal(engine_init(&e, pa->client.family), 0);
	memset(&f, 0, sizeof(f));
	f.src = pa->client;
	f.dst = pa->target;
	f.proto = proto;
	f.sport = 40001;
	f.dport = proto == IPPROTO_UDP ? 33434 : 80;
	for (int i = 0; i < NPROBES; i++) {
		flow_probe(&f, i + 1, e.token_base + (uint32_t)i, &pr[i]);
		pr[i].state = PROBE_SENT;
		guesses[ng++] = 40001u * 65536u + (uint32_t)i;
		guesses[ng++] = (uint32_t)i;
	}
	guesses[ng++] = e.token_base - 1;
	guesses[ng++] = e.token_base + NPROBES;
	for (size_t g = 0; g < ng; g++) {
		struct probe forged;
		uint32_t d = guesses[g] - e.token_base;

		/* A guess that hits the range (odds 8 in 2^32 for UDP/ICMP
		 * wrapped to 16 bits: 8 in 65536) is no forgery. */
		if (d < NPROBES || (proto != IPPROTO_TCP &&
				    (uint16_t)d < NPROBES))
			continue;
		if (proto == IPPROTO_UDP && pa->client.family == AF_INET6 &&
		    (d % 512) < NPROBES)
			continue;
		flow_probe(&f, 1, guesses[g], &forged);
		time_exceeded(&forged, 0, pa, 0, &r);
		if (probe_match(pr, NPROBES, &r) != -1)
			fail_msg("proto %u: guessed token %#x matched (base %#x)",
				 proto, guesses[g], e.token_base);
	}
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, 0, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	engine_close(&e);
}

static void test_forged_tokens(void **state)
{
	struct path p4 = path4(), p6 = path6();

	(void)state;
	forged_tokens(&p4, IPPROTO_TCP);
	forged_tokens(&p6, IPPROTO_TCP);
	forged_tokens(&p4, IPPROTO_UDP);
	forged_tokens(&p6, IPPROTO_UDP);
	forged_tokens(&p4, IPPROTO_ICMP);
	forged_tokens(&p6, IPPROTO_ICMPV6);
}

/* A router that bleached, re-marked or CE-marked the probe quotes it as
 * it received it: the TOS differs from what we sent, the probe is the
 * same one. Its TTL in the quote is 1 or 0, not what we sent either. */
static void rewritten_tos(const struct path *pa, uint8_t proto)
{
	static const uint8_t sent[] = { 0x00, 0x01, 0x02, 0x03, 0xb8, 0xba };
	static const uint8_t seen[] = { 0x00, 0x03, 0x01, 0x02, 0x20, 0xff };

	for (size_t s = 0; s < sizeof(sent); s++) {
		for (size_t q = 0; q < sizeof(seen); q++) {
			struct probe pr[NPROBES];
			uint8_t inner[PKT_MAX], out[PKT_MAX + 64];
			struct pkt_reply r;
			size_t n, len;
			const int i = 5;

			make_probes(pr, pa, proto, sent[s]);
			n = probe_bytes(&pr[i], inner, sizeof(inner));
			if (pa->client.family == AF_INET) {
				inner[1] = seen[q];
				inner[8] = 1;
				inner[10] = inner[11] = 0;
				put16(inner + 10,
				      (uint16_t)~pkt_fold(pkt_sum(inner, 20, 0)));
			} else {
				inner[0] = (uint8_t)(0x60 | seen[q] >> 4);
				inner[1] = (uint8_t)((seen[q] & 0x0f) << 4 |
						     (inner[1] & 0x0f));
				inner[7] = 0;
			}
			len = icmp_error(out, &pa->router, &pa->client,
					 te_type(pa->client.family), 0, inner, n);
			assert_int_equal(pkt_parse(out, len, &r), 0);
			assert_int_equal(r.q.tos, seen[q]);
			assert_int_equal(probe_match(pr, NPROBES, &r), i);
		}
	}
}

static void test_rewritten_tos_still_matches(void **state)
{
	struct path p4 = path4(), p6 = path6();

	(void)state;
	rewritten_tos(&p4, IPPROTO_TCP);
	rewritten_tos(&p4, IPPROTO_UDP);
	rewritten_tos(&p4, IPPROTO_ICMP);
	rewritten_tos(&p6, IPPROTO_TCP);
	rewritten_tos(&p6, IPPROTO_UDP);
	rewritten_tos(&p6, IPPROTO_ICMPV6);
}

/* ------------------------------------------------------------------ */
/* TCP answers from the target */

static void syn_ack_and_rst(const struct path *pa)
{
	struct probe pr[NPROBES];
	struct pkt_reply r;
	const int i = 4;
	uint32_t seq;

	make_probes(pr, pa, IPPROTO_TCP, 0x02);
	seq = pr[i].d.seq;
	assert_int_equal(pr[i].d.tcp_flags, TH_SYN);

	/* SYN-ACK acknowledges seq + 1 (the SYN counts one). */
	tcp_reply(&pr[i], TH_SYN | TH_ACK, 0xabcdef01, seq + 1, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), i);
	tcp_reply(&pr[i], TH_SYN | TH_ACK | TH_ECE, 0xabcdef01, seq + 1, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), i);
	/* seq itself is probe i-1's seq + 1: must pick i-1, not i. */
	tcp_reply(&pr[i], TH_SYN | TH_ACK, 0xabcdef01, seq, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), i - 1);
	/* beyond the last probe's window: nobody's */
	tcp_reply(&pr[i], TH_SYN | TH_ACK, 0xabcdef01, pr[NPROBES - 1].d.seq + 2, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);

	/* A closed port: RST+ACK, ack = seq + 1. */
	tcp_reply(&pr[i], TH_RST | TH_ACK, 0, seq + 1, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), i);
	/* An RST without ACK never answers a SYN (RFC 793: it answers a
	 * segment that carried an ACK, by that segment's ack number). */
	tcp_reply(&pr[i], TH_RST, seq + 1, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	tcp_reply(&pr[i], TH_RST, 0, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);

	/* Wrong ports, wrong source, wrong destination: not ours. */
	{
		struct probe other = pr[i];

		other.d.dport = 81;
		tcp_reply(&other, TH_SYN | TH_ACK, 1, seq + 1, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
		other = pr[i];
		other.d.sport = 40002;
		tcp_reply(&other, TH_SYN | TH_ACK, 1, seq + 1, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
		other = pr[i];
		other.d.dst = pa->stranger;     /* reply comes from stranger */
		tcp_reply(&other, TH_SYN | TH_ACK, 1, seq + 1, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
		other = pr[i];
		other.d.src = pa->stranger;     /* reply goes to stranger */
		tcp_reply(&other, TH_SYN | TH_ACK, 1, seq + 1, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	}
}

static void test_syn_ack_rst4(void **state)
{
	struct path pa = path4();

	(void)state;
	syn_ack_and_rst(&pa);
}

static void test_syn_ack_rst6(void **state)
{
	struct path pa = path6();

	(void)state;
	syn_ack_and_rst(&pa);
}

/* A probe that carries an ACK (data after a handshake): a host without
 * the connection answers RST, no ACK flag, seq = our ack number. */
static void test_rst_to_ack_segment(void **state)
{
	struct path pa = path4();
	struct probe pr[NPROBES];
	struct pkt_reply r;

	(void)state;
	make_probes(pr, &pa, IPPROTO_TCP, 0x02);
	for (int i = 0; i < NPROBES; i++) {
		pr[i].d.tcp_flags = TH_ACK | TH_PSH;
		pr[i].d.seq = 0x10000000u + (uint32_t)i * 1000;
		pr[i].d.ack = 0x50000000u + (uint32_t)i * 1000;
		pr[i].d.payload = pr[i].payload;
		pr[i].d.payload_len = 100;
	}
	tcp_reply(&pr[6], TH_RST, pr[6].d.ack, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), 6);
	tcp_reply(&pr[6], TH_RST, pr[6].d.ack + 1, 0, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	/* An ACK for the data: seq + payload length. */
	tcp_reply(&pr[6], TH_ACK, 1, pr[6].d.seq + 100, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), 6);
	tcp_reply(&pr[6], TH_ACK, 1, pr[6].d.seq + 99, &r);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
}

/* ------------------------------------------------------------------ */
/* UDP */

static void udp_quotes(const struct path *pa)
{
	struct probe pr[NPROBES];
	uint8_t inner[PKT_MAX], out[PKT_MAX + 64];
	struct pkt_reply r;
	size_t n, len;

	make_probes(pr, pa, IPPROTO_UDP, 0x01);
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, 0, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	/* Only 8 bytes of UDP quoted: IPv4's token is in the IP header,
	 * IPv6's in the quoted payload length field; both still there. */
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, (pa->client.family == AF_INET ? 20 : 40) + 8, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	/* The target's port unreachable quotes the probe too. */
	n = probe_bytes(&pr[7], inner, sizeof(inner));
	if (pa->client.family == AF_INET)
		len = icmp_error(out, &pa->target, &pa->client, 3, 3, inner, n);
	else
		len = icmp_error(out, &pa->target, &pa->client, 1, 4, inner, n);
	assert_int_equal(pkt_parse(out, len, &r), 0);
	assert_int_equal(r.kind, REPLY_UNREACH);
	assert_int_equal(probe_match(pr, NPROBES, &r), 7);
}

static void test_udp4(void **state)
{
	struct path pa = path4();

	(void)state;
	udp_quotes(&pa);
}

static void test_udp6(void **state)
{
	struct path pa = path6();

	(void)state;
	udp_quotes(&pa);
}

/* First fragments (--fields frag): quoted as sent by a router, told
 * apart by the IPv4 ID or the IPv6 Fragment header's identification (a
 * first fragment's length is fixed); quoted reassembled by the target,
 * by the ID or the whole datagram's length. */
static void udp_fragments(const struct path *pa)
{
	struct probe pr[NPROBES];
	struct probe_desc whole;
	uint8_t inner[PKT_MAX], out[PKT_MAX + 64];
	struct pkt_reply r;
	size_t n = sizeof(inner), len;

	make_probes(pr, pa, IPPROTO_UDP, 0);
	for (int i = 0; i < NPROBES; i++)
		pr[i].d.frag_part = 1;
	for (int i = 0; i < NPROBES; i++) {
		time_exceeded(pr, i, pa, 0, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	whole = pr[5].d;
	whole.frag_part = 0;
	assert_int_equal(pkt_build(&whole, inner, &n), 0);
	if (pa->client.family == AF_INET)
		len = icmp_error(out, &pa->target, &pa->client, 3, 3, inner, n);
	else
		len = icmp_error(out, &pa->target, &pa->client, 1, 4, inner, n);
	assert_int_equal(pkt_parse(out, len, &r), 0);
	assert_int_equal(probe_match(pr, NPROBES, &r), 5);
}

static void test_udp4_fragments(void **state)
{
	struct path pa = path4();

	(void)state;
	udp_fragments(&pa);
}

static void test_udp6_fragments(void **state)
{
	struct path pa = path6();

	(void)state;
	udp_fragments(&pa);
}

/* ------------------------------------------------------------------ */
/* ICMP echo */

static void icmp_echo(const struct path *pa, uint8_t proto)
{
	struct probe pr[NPROBES];
	struct pkt_reply r;
	uint8_t buf[PKT_MAX];
	size_t len;
	const int i = 2;

	make_probes(pr, pa, proto, 0x02);
	for (int k = 0; k < NPROBES; k++) {
		time_exceeded(pr, k, pa, 0, &r);
		assert_int_equal(probe_match(pr, NPROBES, &r), k);
	}
	/* The echo reply: the target's answer, same id, seq and data. */
	{
		struct probe_desc d = pr[i].d;

		d.src = pr[i].d.dst;
		d.dst = pr[i].d.src;
		d.fix_checksum = 0;
		len = sizeof(buf);
		assert_int_equal(pkt_build(&d, buf, &len), 0);
		buf[pa->client.family == AF_INET ? 20 : 40] =
			pa->client.family == AF_INET ? 0 : 129;
		assert_int_equal(pkt_parse(buf, len, &r), 0);
		assert_int_equal(r.kind, REPLY_ECHO_REPLY);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
		/* another seq, another id, another sender: not ours */
		r.icmp_seq++;
		assert_int_equal(probe_match(pr, NPROBES, &r), i + 1);
		r.icmp_seq = (uint16_t)(NPROBES + 10);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
		r.icmp_seq = pr[i].d.icmp_seq;
		r.icmp_id++;
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
		r.icmp_id--;
		r.src = pa->stranger;
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	}
	/* An echo reply never answers a TCP probe with the same numbers. */
	{
		struct probe tp[NPROBES];

		make_probes(tp, pa, IPPROTO_TCP, 0x02);
		r.src = pa->target;
		r.icmp_id = tp[i].d.sport;
		r.icmp_seq = (uint16_t)tp[i].d.seq;
		assert_int_equal(probe_match(tp, NPROBES, &r), -1);
	}
}

static void test_icmp4(void **state)
{
	struct path pa = path4();

	(void)state;
	icmp_echo(&pa, IPPROTO_ICMP);
}

static void test_icmp6(void **state)
{
	struct path pa = path6();

	(void)state;
	icmp_echo(&pa, IPPROTO_ICMPV6);
}

/* ------------------------------------------------------------------ */
/* Family, state */

/* IPv4 replies never answer IPv6 probes and the other way round, even
 * when ports and sequence numbers are the same. */
static void test_wrong_family(void **state)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct path p4 = path4(), p6 = path6();

	(void)state;
	for (size_t k = 0; k < sizeof(protos); k++) {
		struct probe v4[NPROBES], v6[NPROBES];
		struct pkt_reply r;

		make_probes(v4, &p4, protos[k], 0x02);
		make_probes(v6, &p6, protos[k], 0x02);
		time_exceeded(v4, 1, &p4, 0, &r);
		assert_int_equal(probe_match(v4, NPROBES, &r), 1);
		assert_int_equal(probe_match(v6, NPROBES, &r), -1);
		time_exceeded(v6, 1, &p6, 0, &r);
		assert_int_equal(probe_match(v6, NPROBES, &r), 1);
		assert_int_equal(probe_match(v4, NPROBES, &r), -1);
	}
	{
		struct probe v4[NPROBES], v6[NPROBES];
		struct pkt_reply r;

		make_probes(v4, &p4, IPPROTO_TCP, 0x02);
		make_probes(v6, &p6, IPPROTO_TCP, 0x02);
		tcp_reply(&v6[3], TH_SYN | TH_ACK, 9, v6[3].d.seq + 1, &r);
		assert_int_equal(probe_match(v4, NPROBES, &r), -1);
		assert_int_equal(probe_match(v6, NPROBES, &r), 3);
	}
}

/* A probe matches only while it waits: a duplicate of an answer, or a
 * late answer to a probe given up on, belongs to nobody. */
static void test_state(void **state)
{
	static const enum probe_state other[] = {
		PROBE_UNSENT, PROBE_ANSWERED, PROBE_TIMEOUT, PROBE_CANCELLED,
	};
	struct path pa = path4();
	struct probe pr[NPROBES];
	struct pkt_reply te, sa;

	(void)state;
	make_probes(pr, &pa, IPPROTO_TCP, 0x02);
	time_exceeded(pr, 2, &pa, 0, &te);
	tcp_reply(&pr[5], TH_SYN | TH_ACK, 1, pr[5].d.seq + 1, &sa);
	for (size_t k = 0; k < sizeof(other) / sizeof(other[0]); k++) {
		pr[2].state = PROBE_SENT;
		pr[5].state = PROBE_SENT;
		assert_int_equal(probe_match(pr, NPROBES, &te), 2);
		assert_int_equal(probe_match(pr, NPROBES, &sa), 5);
		pr[2].state = other[k];
		pr[5].state = other[k];
		assert_int_equal(probe_match(pr, NPROBES, &te), -1);
		assert_int_equal(probe_match(pr, NPROBES, &sa), -1);
	}
	/* The engine's own sequence: match, mark answered, the duplicate
	 * that follows matches nothing. */
	pr[2].state = PROBE_SENT;
	assert_int_equal(probe_match(pr, NPROBES, &te), 2);
	pr[2].state = PROBE_ANSWERED;
	assert_int_equal(probe_match(pr, NPROBES, &te), -1);
	/* n bounds the search */
	pr[5].state = PROBE_SENT;
	assert_int_equal(probe_match(pr, 5, &sa), -1);
	assert_int_equal(probe_match(pr, 6, &sa), 5);
	assert_int_equal(probe_match(pr, 0, &sa), -1);
}

/* A reply that is neither an error with a quote nor an answer of the
 * target: an unknown ICMP type, and an error without a usable quote. */
static void test_unrelated(void **state)
{
	struct path pa = path4();
	struct probe pr[NPROBES];
	uint8_t inner[PKT_MAX], out[PKT_MAX + 64];
	struct pkt_reply r;
	size_t n, len;

	(void)state;
	make_probes(pr, &pa, IPPROTO_TCP, 0x02);
	n = probe_bytes(&pr[1], inner, sizeof(inner));
	/* redirect (type 5) quoting the probe: not an answer to it */
	len = icmp_error(out, &pa.router, &pa.client, 5, 1, inner, n);
	assert_int_equal(pkt_parse(out, len, &r), 0);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	/* time exceeded quoting only 19 bytes: no IP header to compare */
	len = icmp_error(out, &pa.router, &pa.client, 11, 0, inner, 19);
	assert_int_equal(pkt_parse(out, len, &r), 0);
	assert_false(r.has_quote);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp4_time_exceeded),
		cmocka_unit_test(test_tcp6_time_exceeded),
		cmocka_unit_test(test_quote_wrong_fields),
		cmocka_unit_test(test_rewritten_tos_still_matches),
		cmocka_unit_test(test_quoted_rst_is_no_answer),
		cmocka_unit_test(test_syn_ack_rst4),
		cmocka_unit_test(test_syn_ack_rst6),
		cmocka_unit_test(test_rst_to_ack_segment),
		cmocka_unit_test(test_udp4),
		cmocka_unit_test(test_udp6),
		cmocka_unit_test(test_udp4_fragments),
		cmocka_unit_test(test_udp6_fragments),
		cmocka_unit_test(test_icmp4),
		cmocka_unit_test(test_icmp6),
		cmocka_unit_test(test_wrong_family),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_unrelated),
		cmocka_unit_test(test_forged_tokens),
	};

	return cmocka_run_group_tests_name("engine_match", tests, NULL, NULL);
}
