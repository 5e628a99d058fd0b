/*
 * The trace's small pure helpers: ecn_compare / ecn_change_name,
 * initial_ttl / return_hops, reply_name, trace_probe's layout, and
 * flow_probe's promise that every probe of a trace is the same flow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "pkt.h"
#include "trace.h"

/* ------------------------------------------------------------------ */
/* ecn_compare */

/* want[sent ECN][quoted ECN] */
static const enum ecn_change ecn_table[4][4] = {
	/* sent Not-ECT: anything else appeared on the way */
	{ ECN_SAME, ECN_MANGLED, ECN_MANGLED, ECN_MANGLED },
	/* sent ECT(1) */
	{ ECN_BLEACHED, ECN_SAME, ECN_MANGLED, ECN_CE_MARKED },
	/* sent ECT(0) */
	{ ECN_BLEACHED, ECN_MANGLED, ECN_SAME, ECN_CE_MARKED },
	/* sent CE: a router may not undo CE; back to ECT is mangling */
	{ ECN_BLEACHED, ECN_MANGLED, ECN_MANGLED, ECN_SAME },
};

static void test_ecn_compare(void **state)
{
	/* DSCP values, sent and quoted, must not change the ECN verdict */
	static const uint8_t dscps[] = { 0, 1, 10, 46, 63 };

	(void)state;
	for (int s = 0; s < 4; s++) {
		for (int q = 0; q < 4; q++) {
			for (size_t a = 0; a < sizeof(dscps); a++) {
				for (size_t b = 0; b < sizeof(dscps); b++) {
					uint8_t st = (uint8_t)(dscps[a] << 2 | s);
					uint8_t qt = (uint8_t)(dscps[b] << 2 | q);

					if (ecn_compare(st, qt) != ecn_table[s][q])
						fail_msg("ecn_compare(0x%02x, 0x%02x) = %d, want %d",
							 st, qt, ecn_compare(st, qt),
							 ecn_table[s][q]);
				}
			}
		}
	}
}

static void test_ecn_change_name(void **state)
{
	(void)state;
	assert_string_equal(ecn_change_name(ECN_SAME), "same");
	assert_string_equal(ecn_change_name(ECN_BLEACHED), "bleached");
	assert_string_equal(ecn_change_name(ECN_MANGLED), "mangled");
	assert_string_equal(ecn_change_name(ECN_CE_MARKED), "ce-marked");
	/* the names the lab tests and the JSON schema look for, end to end */
	assert_string_equal(ecn_change_name(ecn_compare(0x02, 0x00)), "bleached");
	assert_string_equal(ecn_change_name(ecn_compare(0x02, 0x03)), "ce-marked");
	assert_string_equal(ecn_change_name(ecn_compare(0x01, 0x02)), "mangled");
	assert_string_equal(ecn_change_name(ecn_compare(0xb8, 0x00)), "same");
}

/* ------------------------------------------------------------------ */
/* initial_ttl / return_hops */

static void test_initial_ttl(void **state)
{
	static const struct {
		int ttl, initial, hops;
	} tab[] = {
		{ 1, 32, 32 },
		{ 30, 32, 3 },
		{ 32, 32, 1 },
		{ 33, 64, 32 },
		{ 50, 64, 15 },
		{ 63, 64, 2 },
		{ 64, 64, 1 },
		{ 65, 128, 64 },
		{ 120, 128, 9 },
		{ 127, 128, 2 },
		{ 128, 128, 1 },
		{ 129, 255, 127 },
		{ 240, 255, 16 },
		{ 254, 255, 2 },
		{ 255, 255, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (initial_ttl(tab[i].ttl) != tab[i].initial ||
		    return_hops(tab[i].ttl) != tab[i].hops)
			fail_msg("ttl %d: initial %d hops %d, want %d and %d",
				 tab[i].ttl, initial_ttl(tab[i].ttl),
				 return_hops(tab[i].ttl), tab[i].initial,
				 tab[i].hops);
	}
	/* a neighbour is one hop away whatever its initial TTL */
	assert_int_equal(return_hops(64), 1);
	assert_int_equal(return_hops(255), 1);
}

/* ------------------------------------------------------------------ */
/* reply_name */

static struct pkt_reply reply(int family, enum reply_kind kind, uint8_t code,
			      uint16_t tcp_flags)
{
	struct pkt_reply r;

	memset(&r, 0, sizeof(r));
	r.src.family = r.dst.family = family;
	r.kind = kind;
	r.icmp_code = code;
	r.tcp.flags = tcp_flags;
	return r;
}

static void test_reply_name(void **state)
{
	static const struct {
		int family;
		enum reply_kind kind;
		uint8_t code;
		uint16_t flags;
		const char *want;
	} tab[] = {
		{ AF_INET, REPLY_TIME_EXCEEDED, 0, 0, "time-exceeded" },
		{ AF_INET, REPLY_TIME_EXCEEDED, 1, 0, "time-exceeded" },
		{ AF_INET6, REPLY_TIME_EXCEEDED, 0, 0, "time-exceeded" },
		{ AF_INET, REPLY_ECHO_REPLY, 0, 0, "echo-reply" },
		{ AF_INET6, REPLY_ECHO_REPLY, 0, 0, "echo-reply" },
		{ AF_INET6, REPLY_PKT_TOO_BIG, 0, 0, "packet-too-big" },
		{ AF_INET, REPLY_TCP, 0, TH_SYN | TH_ACK, "syn-ack" },
		{ AF_INET6, REPLY_TCP, 0, TH_SYN | TH_ACK | TH_ECE, "syn-ack" },
		{ AF_INET, REPLY_TCP, 0, TH_SYN | TH_ACK | TH_ECE | TH_CWR | TH_AE,
		  "syn-ack" },
		{ AF_INET, REPLY_TCP, 0, TH_RST, "rst" },
		{ AF_INET, REPLY_TCP, 0, TH_RST | TH_ACK, "rst" },
		{ AF_INET6, REPLY_TCP, 0, TH_RST | TH_ACK, "rst" },
		{ AF_INET, REPLY_TCP, 0, TH_SYN | TH_RST | TH_ACK, "rst" },
		{ AF_INET, REPLY_TCP, 0, TH_SYN, "tcp" },
		{ AF_INET, REPLY_TCP, 0, TH_ACK, "tcp" },
		{ AF_INET, REPLY_TCP, 0, TH_FIN | TH_ACK, "tcp" },
		{ AF_INET, REPLY_TCP, 0, 0, "tcp" },
		{ AF_INET, REPLY_UNREACH, 0, 0, "net-unreachable" },
		{ AF_INET, REPLY_UNREACH, 1, 0, "host-unreachable" },
		{ AF_INET, REPLY_UNREACH, 2, 0, "protocol-unreachable" },
		{ AF_INET, REPLY_UNREACH, 3, 0, "port-unreachable" },
		{ AF_INET, REPLY_UNREACH, 4, 0, "frag-needed" },
		{ AF_INET, REPLY_UNREACH, 5, 0, "unreachable" },
		{ AF_INET, REPLY_UNREACH, 9, 0, "admin-prohibited" },
		{ AF_INET, REPLY_UNREACH, 10, 0, "admin-prohibited" },
		{ AF_INET, REPLY_UNREACH, 13, 0, "admin-prohibited" },
		{ AF_INET, REPLY_UNREACH, 15, 0, "unreachable" },
		{ AF_INET6, REPLY_UNREACH, 0, 0, "no-route" },
		{ AF_INET6, REPLY_UNREACH, 1, 0, "admin-prohibited" },
		{ AF_INET6, REPLY_UNREACH, 2, 0, "unreachable" },
		{ AF_INET6, REPLY_UNREACH, 3, 0, "host-unreachable" },
		{ AF_INET6, REPLY_UNREACH, 4, 0, "port-unreachable" },
		{ AF_INET6, REPLY_UNREACH, 5, 0, "unreachable" },
		{ AF_INET, REPLY_OTHER, 0, 0, "other" },
		{ AF_INET6, REPLY_OTHER, 3, 0, "other" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct pkt_reply r = reply(tab[i].family, tab[i].kind,
					   tab[i].code, tab[i].flags);
		const char *got = reply_name(&r);

		if (got == NULL || strcmp(got, tab[i].want) != 0)
			fail_msg("row %zu: reply_name = '%s', want '%s'", i,
				 got ? got : "(null)", tab[i].want);
	}
}

/* ------------------------------------------------------------------ */
/* trace_probe */

static void test_trace_probe_layout(void **state)
{
	struct probe probes[3 * 6];
	struct trace_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.p.first_ttl = 5;
	r.p.max_ttl = 10;
	r.p.nqueries = 3;
	r.probes = probes;
	r.nprobes = 18;
	/* round-major: all TTLs of round 0, then round 1, ... */
	assert_ptr_equal(trace_probe(&r, 5, 0), &probes[0]);
	assert_ptr_equal(trace_probe(&r, 10, 0), &probes[5]);
	assert_ptr_equal(trace_probe(&r, 5, 1), &probes[6]);
	assert_ptr_equal(trace_probe(&r, 7, 2), &probes[14]);
	assert_ptr_equal(trace_probe(&r, 10, 2), &probes[17]);
	assert_null(trace_probe(&r, 4, 0));
	assert_null(trace_probe(&r, 11, 0));
	assert_null(trace_probe(&r, 5, 3));
	assert_null(trace_probe(&r, 5, -1));
	assert_null(trace_probe(&r, 0, 0));
}

/* ------------------------------------------------------------------ */
/* flow_probe: one flow, whatever the TTL and token */

static struct addr mkaddr(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.u.v4) == 1)
		a.family = AF_INET;
	else
		assert_int_equal(inet_pton(AF_INET6, s, &a.u.v6), 1);
	if (a.family == 0)
		a.family = AF_INET6;
	return a;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The transport checksum of a built packet verifies (sum is 0xffff). */
static void assert_l4_checksum_ok(const uint8_t *b, size_t len, int af,
				  uint8_t proto)
{
	size_t hl = af == AF_INET ? 20 : 40;
	uint32_t sum = 0;

	if (proto != IPPROTO_ICMP) {
		if (af == AF_INET)
			sum = pkt_sum(b + 12, 8, 0);
		else
			sum = pkt_sum(b + 8, 32, 0);
		sum += proto + (uint32_t)(len - hl);
	}
	assert_int_equal(pkt_fold(pkt_sum(b + hl, len - hl, sum)), 0xffff);
}

/*
 * Build probes at many TTLs and tokens; the bytes a load balancer may
 * hash (addresses, protocol, TOS / traffic class, flow label, ports or
 * ICMP id, transport checksum) are the same in all of them, the token
 * lands where the matcher looks for it, and every checksum verifies.
 */
static void one_flow(const char *src, const char *dst, uint8_t proto,
		     uint8_t tos)
{
	struct flow f;
	uint8_t first[PKT_MAX];
	size_t first_len = 0;
	int af;

	memset(&f, 0, sizeof(f));
	f.src = mkaddr(src);
	f.dst = mkaddr(dst);
	af = f.dst.family;
	f.proto = proto;
	f.sport = 43210;
	f.dport = proto == IPPROTO_UDP ? 33434 : 80;
	f.tos = tos;
	f.flowlabel = af == AF_INET6 ? 0x12345 : 0;
	for (uint32_t token = 0; token < 1100; token += 37) {
		for (int ttl = 1; ttl <= 255; ttl += 127) {
			struct probe p;
			uint8_t b[PKT_MAX];
			size_t len = sizeof(b), hl = af == AF_INET ? 20 : 40;
			uint32_t t = proto == IPPROTO_TCP ? 0xfffffff0u + token : token;

			flow_probe(&f, ttl, t, &p);
			assert_int_equal(pkt_build(&p.d, b, &len), 0);
			assert_l4_checksum_ok(b, len, af, proto);
			if (af == AF_INET) {
				assert_int_equal(b[1], tos);
				assert_int_equal(b[8], ttl);
				assert_int_equal(b[9], proto);
				/* never 0: the kernel would replace it */
				assert_int_not_equal(get16(b + 4), 0);
				if (proto == IPPROTO_UDP)
					assert_int_equal(get16(b + 4), t % 65535 + 1);
			} else {
				uint32_t w = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
					     (uint32_t)b[2] << 8 | b[3];

				assert_int_equal(w >> 20 & 0xff, tos);
				assert_int_equal(w & 0xfffff, 0x12345);
				assert_int_equal(b[7], ttl);
				assert_int_equal(b[6], proto);
			}
			switch (proto) {
			case IPPROTO_TCP:
				assert_int_equal(get16(b + hl), 43210);
				assert_int_equal(get16(b + hl + 2), 80);
				assert_int_equal(b[hl + 13], TH_SYN);
				assert_int_equal(p.d.seq, t);
				break;
			case IPPROTO_UDP:
				assert_int_equal(get16(b + hl), 43210);
				assert_int_equal(get16(b + hl + 2), 33434);
				if (af == AF_INET6)   /* the token is the length */
					assert_int_equal(get16(b + 4),
							 8 + 16 + token % 512);
				break;
			default:
				assert_int_equal(b[hl], af == AF_INET ? 8 : 128);
				assert_int_equal(get16(b + hl + 4), 43210);
				assert_int_equal(get16(b + hl + 6), (uint16_t)t);
				break;
			}
			if (first_len == 0) {
				memcpy(first, b, len);
				first_len = len;
				continue;
			}
			/* the flow's bytes equal the first probe's */
			if (af == AF_INET) {
				assert_memory_equal(b + 9, first + 9, 1);
				assert_memory_equal(b + 12, first + 12, 8);
			} else {
				assert_memory_equal(b, first, 4);
				assert_memory_equal(b + 6, first + 6, 1);
				assert_memory_equal(b + 8, first + 8, 32);
			}
			if (proto == IPPROTO_TCP)
				assert_memory_equal(b + hl, first + hl, 4);
			else if (proto == IPPROTO_UDP)  /* ports and checksum */
				assert_true(get16(b + hl) == get16(first + hl) &&
					    get16(b + hl + 2) == get16(first + hl + 2) &&
					    get16(b + hl + 6) == get16(first + hl + 6));
			else                            /* checksum and id */
				assert_true(get16(b + hl + 2) == get16(first + hl + 2) &&
					    get16(b + hl + 4) == get16(first + hl + 4));
		}
	}
}

static void test_flow_probe_one_flow(void **state)
{
	static const uint8_t toses[] = { 0x00, 0x01, 0x02, 0x03, 0xb8, 0xfe };

	(void)state;
	for (size_t i = 0; i < sizeof(toses); i++) {
		one_flow("192.0.2.10", "203.0.113.80", IPPROTO_TCP, toses[i]);
		one_flow("192.0.2.10", "203.0.113.80", IPPROTO_UDP, toses[i]);
		one_flow("192.0.2.10", "203.0.113.80", IPPROTO_ICMP, toses[i]);
		one_flow("2001:db8:1::10", "2001:db8:2::80", IPPROTO_TCP, toses[i]);
		one_flow("2001:db8:1::10", "2001:db8:2::80", IPPROTO_UDP, toses[i]);
		one_flow("2001:db8:1::10", "2001:db8:2::80", IPPROTO_ICMPV6, toses[i]);
	}
}

/* Two flows that differ only in the ECN bits differ in nothing else a
 * hash could see: the whole point of the tool. */
static void test_flow_probe_only_ecn_differs(void **state)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };

	(void)state;
	for (size_t k = 0; k < sizeof(protos); k++) {
		struct flow f;
		struct probe a, b;
		uint8_t ba[PKT_MAX], bb[PKT_MAX];
		size_t la = sizeof(ba), lb = sizeof(bb);

		memset(&f, 0, sizeof(f));
		f.src = mkaddr("192.0.2.10");
		f.dst = mkaddr("203.0.113.80");
		f.proto = protos[k];
		f.sport = 40000;
		f.dport = 80;
		f.tos = 0x00;
		flow_probe(&f, 7, 99, &a);
		f.tos = 0x02;
		flow_probe(&f, 7, 99, &b);
		assert_int_equal(pkt_build(&a.d, ba, &la), 0);
		assert_int_equal(pkt_build(&b.d, bb, &lb), 0);
		assert_int_equal(la, lb);
		assert_int_equal(ba[1], 0x00);
		assert_int_equal(bb[1], 0x02);
		/* TOS and the IP header checksum (which covers it) differ */
		assert_memory_equal(ba, bb, 1);
		assert_memory_equal(ba + 2, bb + 2, 8);
		assert_memory_equal(ba + 12, bb + 12, la - 12);
	}
}

/* Tokens come from a random base, so any 32-bit value: the IPv4 ID a
 * UDP probe is matched by is never 0 (the kernel would replace it) and
 * stays distinct across 65535 tokens in a row, across the 16-bit wraps
 * (not across 2^32, which 65535 does not divide: a run's tokens cross it
 * once in 2^32 / n runs). */
static void test_flow_probe_random_tokens(void **state)
{
	static const uint32_t bases[] = { 0, 0xfff0u, 0xfffefff0u, 0xfffe0001u };
	static uint8_t seen[65536];
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.src = mkaddr("192.0.2.10");
	f.dst = mkaddr("203.0.113.80");
	f.proto = IPPROTO_UDP;
	f.sport = 43210;
	f.dport = 33434;
	for (size_t k = 0; k < sizeof(bases) / sizeof(bases[0]); k++) {
		memset(seen, 0, sizeof(seen));
		for (uint32_t i = 0; i < 65535; i++) {
			struct probe p;

			flow_probe(&f, 1, bases[k] + i, &p);
			if (p.d.ip_id == 0 || seen[p.d.ip_id])
				fail_msg("token %#x: IPv4 ID %u", bases[k] + i,
					 p.d.ip_id);
			seen[p.d.ip_id] = 1;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecn_compare),
		cmocka_unit_test(test_ecn_change_name),
		cmocka_unit_test(test_initial_ttl),
		cmocka_unit_test(test_reply_name),
		cmocka_unit_test(test_trace_probe_layout),
		cmocka_unit_test(test_flow_probe_one_flow),
		cmocka_unit_test(test_flow_probe_only_ecn_differs),
		cmocka_unit_test(test_flow_probe_random_tokens),
	};

	return cmocka_run_group_tests_name("trace_util", tests, NULL, NULL);
}
