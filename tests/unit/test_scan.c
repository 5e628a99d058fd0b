/*
 * ecntrace scan's pure parts: targets (CIDR, IPv6, names, dedupe, ranges
 * refused), the blocklist, the permutation (a bijection), the cookies (a
 * forged or mismatched reply is rejected), the judge on evidence records
 * (dependent, healthy, lossy, per-packet, inconclusive), the split and
 * the NDJSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "scan.h"
#include "scan_paths.h"

static void add(struct scan_targets *t, const char *w)
{
	char err[256];

	assert_int_equal(scan_targets_add(t, w, 0, err, sizeof(err)), 0);
}

static void block(struct scan_targets *t, const char *w)
{
	char err[256];

	assert_int_equal(scan_block_add(t, w, err, sizeof(err)), 0);
}

static int add_fails(const char *w, char *err, size_t n)
{
	struct scan_targets t = { 0 };
	int rc = scan_targets_add(&t, w, 0, err, n);

	scan_targets_free(&t);
	return rc;
}

static const char *at(const struct scan_targets *t, uint64_t i, char *buf)
{
	struct addr a;

	scan_target_at(t, i, &a);
	return addr_str(&a, buf, INET6_ADDRSTRLEN);
}

static void test_cidr_and_dedupe(void **state)
{
	struct scan_targets t = { 0 };
	char b[INET6_ADDRSTRLEN];
	struct addr a;

	add(&t, "198.18.0.0/30");
	add(&t, "198.18.0.2");          /* inside the /30: counted once */
	add(&t, "198.18.0.4/31");       /* adjacent: merged */
	add(&t, "198.18.0.77/32");
	add(&t, "198.18.1.9/24");       /* host bits cleared */
	add(&t, "2001:db8::/126");
	add(&t, "2001:db8::3");
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_int_equal(t.total, 4 + 2 + 1 + 256 + 4);
	assert_string_equal(at(&t, 0, b), "198.18.0.0");
	assert_string_equal(at(&t, 5, b), "198.18.0.5");
	assert_string_equal(at(&t, 6, b), "198.18.0.77");
	assert_string_equal(at(&t, 7, b), "198.18.1.0");
	assert_string_equal(at(&t, 262, b), "198.18.1.255");
	assert_string_equal(at(&t, 263, b), "2001:db8::");
	assert_string_equal(at(&t, 266, b), "2001:db8::3");
	for (uint64_t i = 0; i < t.total; i++) {
		scan_target_at(&t, i, &a);
		assert_int_equal(scan_target_index(&t, &a), (int64_t)i);
	}
	/* Outside what was given: no index, never probed. */
	inet_pton(AF_INET, "198.18.0.6", &a.u.v4);
	a.family = AF_INET;
	assert_int_equal(scan_target_index(&t, &a), -1);
	inet_pton(AF_INET, "198.18.2.0", &a.u.v4);
	assert_int_equal(scan_target_index(&t, &a), -1);
	a.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::4", &a.u.v6);
	assert_int_equal(scan_target_index(&t, &a), -1);
	scan_targets_free(&t);
}

static void test_refused(void **state)
{
	char err[256];

	assert_int_equal(add_fails("198.18.0.0/33", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(add_fails("2001:db8::/64", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(add_fails("198.18.0.0/", err, sizeof(err)), -1);
	assert_int_equal(add_fails("198.18.0.0/2x", err, sizeof(err)), -1);
	assert_int_equal(add_fails("198.18.0/24", err, sizeof(err)), -1);
	assert_int_equal(add_fails("/24", err, sizeof(err)), -1);
	assert_int_equal(add_fails("no such host\x01", err, sizeof(err)), -1);
}

static void test_names(void **state)
{
	struct scan_targets t = { 0 };
	char b[INET6_ADDRSTRLEN];

	/* "localhost" resolves from /etc/hosts, no network needed. */
	add(&t, "localhost");
	add(&t, "127.0.0.1");
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_true(t.total >= 1);
	assert_true(!strcmp(at(&t, 0, b), "127.0.0.1") || !strcmp(b, "::1"));
	scan_targets_free(&t);
}

static void test_blocklist(void **state)
{
	struct scan_targets t = { 0 }, blk = { 0 };
	char b[INET6_ADDRSTRLEN];

	add(&t, "10.0.0.0/30");
	add(&t, "198.18.0.0/24");
	add(&t, "2001:db8::/120");
	add(&t, "fe80::1");
	for (int i = 0; scan_default_blocklist[i]; i++)
		block(&blk, scan_default_blocklist[i]);
	block(&blk, "198.18.0.128/25");
	block(&blk, "198.18.0.5");
	block(&blk, "198.18.0.5/32");       /* twice: removed once */
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_int_equal(scan_targets_finish(&blk), 0);
	assert_int_equal(scan_targets_subtract(&t, &blk), 4 + 128 + 1 + 1);
	assert_int_equal(t.total, 127 + 256);
	assert_string_equal(at(&t, 0, b), "198.18.0.0");
	assert_string_equal(at(&t, 5, b), "198.18.0.6");
	assert_string_equal(at(&t, 126, b), "198.18.0.127");
	assert_string_equal(at(&t, 127, b), "2001:db8::");
	scan_targets_free(&t);
	scan_targets_free(&blk);
}

static void test_default_blocklist_spares_lab(void **state)
{
	struct scan_targets t = { 0 }, blk = { 0 };

	add(&t, "192.0.2.0/24");
	add(&t, "198.51.100.0/24");
	add(&t, "203.0.113.0/24");
	add(&t, "198.18.0.0/15");
	add(&t, "2001:db8::/96");
	for (int i = 0; scan_default_blocklist[i]; i++)
		block(&blk, scan_default_blocklist[i]);
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_int_equal(scan_targets_finish(&blk), 0);
	assert_int_equal(scan_targets_subtract(&t, &blk), 0);
	/* A whole IPv6 /0 blocks them all. */
	block(&blk, "::/0");
	assert_int_equal(scan_targets_finish(&blk), 0);
	assert_int_equal(scan_targets_subtract(&t, &blk), 1ULL << 32);
	scan_targets_free(&t);
	scan_targets_free(&blk);
}

static void test_read_file(void **state)
{
	struct scan_targets t = { 0 };
	char text[] = "# targets\n198.18.0.1\n\n  198.18.0.2  # two\n2001:db8::1\n";
	char bad[] = "198.18.0.1\n198.18.0.0/40\n";
	char err[256];
	FILE *fp = fmemopen(text, strlen(text), "r");

	assert_int_equal(scan_targets_read(&t, fp, "f", 0, err, sizeof(err)), 0);
	fclose(fp);
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_int_equal(t.total, 3);
	fp = fmemopen(bad, strlen(bad), "r");
	assert_int_equal(scan_targets_read(&t, fp, "f", 0, err, sizeof(err)), -1);
	fclose(fp);
	assert_non_null(strstr(err, "f:2:"));
	scan_targets_free(&t);
}

static void test_resume(void **state)
{
	char text[] =
		"{\"schema\":\"ecntrace/1\",\"command\":\"scan\",\"target\":\"198.18.0.9\",\"port\":80}\n"
		"{\"schema\":\"ecntrace/1\",\"command\":\"scan\",\"target\":\"2001:db8::7\"}\n"
		"{\"schema\":\"ecntrace/1\",\"command\":\"trace\",\"target\":\"198.18.0.1\"}\n"
		"{\"schema\":\"ecntrace/1\",\"command\":\"scan\",\"summary\":{}}\n"
		"{\"schema\":\"ecntrace/1\",\"command\":\"scan\",\"target\":\"198.18.0.10\"";
	struct scan_targets t = { 0 };
	char b[INET6_ADDRSTRLEN];
	FILE *fp = fmemopen(text, strlen(text), "r");

	assert_int_equal(scan_resume_read(&t, fp), 0);
	fclose(fp);
	/* The trace line and the line cut short do not count. */
	assert_int_equal(t.total, 2);
	assert_string_equal(at(&t, 0, b), "198.18.0.9");
	assert_string_equal(at(&t, 1, b), "2001:db8::7");
	scan_targets_free(&t);
}

static void test_blocklist_no_names(void **state)
{
	struct scan_targets t = { 0 };
	char err[256];

	assert_int_equal(scan_block_add(&t, "localhost", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid address"));
	scan_targets_free(&t);
}

static void test_permutation(void **state)
{
	static const uint64_t sizes[] = { 1, 2, 3, 5, 16, 17, 1000, 65536, 70001 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];
		uint8_t *seen = calloc(n, 1);
		struct scan_perm p;
		uint64_t fixed = 0;

		scan_perm_init(&p, n, 42 + k);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t x = scan_perm_at(&p, i);

			assert_true(x < n);
			assert_int_equal(seen[x], 0);
			seen[x] = 1;
			fixed += x == i;
		}
		/* A shuffle, not the identity. */
		if (n >= 1000)
			assert_true(fixed < n / 100);
		free(seen);
	}
	/* Another seed, another order; the same seed, the same order. */
	struct scan_perm a, b, c;
	int differ = 0;

	scan_perm_init(&a, 1000, 1);
	scan_perm_init(&b, 1000, 2);
	scan_perm_init(&c, 1000, 1);
	for (uint64_t i = 0; i < 1000; i++) {
		differ += scan_perm_at(&a, i) != scan_perm_at(&b, i);
		assert_int_equal(scan_perm_at(&a, i), scan_perm_at(&c, i));
	}
	assert_true(differ > 900);
}

static void test_shards(void **state)
{
	static const uint64_t totals[] = { 1, 2, 7, 100, 1001 };

	for (size_t k = 0; k < sizeof(totals) / sizeof(totals[0]); k++)
		for (uint64_t shards = 1; shards <= 5; shards++) {
			uint64_t n = totals[k], sum = 0;
			uint8_t *seen = calloc(n, 1);
			struct scan_perm p;

			scan_perm_init(&p, n, 9);
			for (uint64_t sh = 0; sh < shards; sh++) {
				uint64_t size = scan_shard_size(n, shards, sh);

				sum += size;
				for (uint64_t j = 0; j < size; j++) {
					uint64_t pos = scan_shard_pos(j, shards, sh);

					assert_true(pos < n);
					assert_int_equal(seen[scan_perm_at(&p, pos)]++, 0);
				}
			}
			/* Every target in exactly one shard. */
			assert_int_equal(sum, n);
			free(seen);
		}
}

/* A SYN-ACK as the target would send it to the probe (target, flow
 * port, tag). */
static void synack(struct pkt_reply *r, const struct scan_key *k,
		   const char *target, uint16_t sport, const struct scan_tag *tg)
{
	memset(r, 0, sizeof(*r));
	r->kind = REPLY_TCP;
	r->proto = IPPROTO_TCP;
	r->src.family = r->dst.family = AF_INET;
	inet_pton(AF_INET, target, &r->src.u.v4);
	inet_pton(AF_INET, "192.0.2.100", &r->dst.u.v4);
	r->tcp.sport = 80;
	r->tcp.dport = sport;
	r->tcp.flags = TH_SYN | TH_ACK;
	r->tcp.ack = scan_cookie_base(k, &r->src, sport, 80) + scan_tag_pack(tg) + 1;
}

static void test_cookies(void **state)
{
	struct scan_key k = { { 0x1234, 0x5678 } }, other = { { 1, 2 } };
	struct scan_targets t = { 0 };
	struct scan_tag tg = { 7, ECN_ECT0, 3 }, back;
	struct scan_match m;
	struct pkt_reply r;

	add(&t, "198.18.0.0/24");
	assert_int_equal(scan_targets_finish(&t), 0);
	assert_int_equal(scan_tag_unpack(scan_tag_pack(&tg), &back), 0);
	assert_int_equal(back.ttl, 7);
	assert_int_equal(back.ecn, ECN_ECT0);
	assert_int_equal(back.rep, 3);
	assert_int_equal(scan_tag_unpack(1u << 12, &back), -1);

	synack(&r, &k, "198.18.0.9", 40001, &tg);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), 0);
	assert_int_equal(m.idx, 9);
	assert_int_equal(m.port, 1);
	assert_true(m.synack);
	assert_int_equal(m.tag.ttl, 7);
	assert_int_equal(m.tag.ecn, ECN_ECT0);
	/* Forged: another key, another acknowledgment. */
	synack(&r, &other, "198.18.0.9", 40001, &tg);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	synack(&r, &k, "198.18.0.9", 40001, &tg);
	r.tcp.ack += 1u << 20;
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	/* Mismatched: the cookie of another target, port or flow. */
	synack(&r, &k, "198.18.0.9", 40001, &tg);
	inet_pton(AF_INET, "198.18.0.10", &r.src.u.v4);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	synack(&r, &k, "198.18.0.9", 40001, &tg);
	r.tcp.dport = 40002;
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	synack(&r, &k, "198.18.0.9", 40001, &tg);
	r.tcp.sport = 81;
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	/* Not a target, or a port outside ours. */
	synack(&r, &k, "198.18.1.9", 40001, &tg);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	synack(&r, &k, "198.18.0.9", 40008, &tg);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	/* No ACK: answers no SYN. */
	synack(&r, &k, "198.18.0.9", 40001, &tg);
	r.tcp.flags = TH_RST;
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);

	/* An ICMP time exceeded quoting the probe, and a forged one. */
	memset(&r, 0, sizeof(r));
	r.kind = REPLY_TIME_EXCEEDED;
	r.has_quote = 1;
	r.src.family = r.dst.family = r.q.src.family = r.q.dst.family = AF_INET;
	inet_pton(AF_INET, "198.51.100.1", &r.src.u.v4);
	inet_pton(AF_INET, "192.0.2.100", &r.dst.u.v4);
	r.q.src = r.dst;
	inet_pton(AF_INET, "198.18.0.200", &r.q.dst.u.v4);
	r.q.proto = IPPROTO_TCP;
	r.q.l4_len = 20;
	r.q.sport = 40003;
	r.q.dport = 80;
	r.q.tcp_seq = scan_cookie_base(&k, &r.q.dst, 40003, 80) + scan_tag_pack(&tg);
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), 0);
	assert_int_equal(m.idx, 200);
	assert_true(m.icmp);
	r.q.tcp_seq ^= 0x80000000u;
	assert_int_equal(scan_validate(&k, &t, 80, 40000, 4, &r, &m), -1);
	scan_targets_free(&t);
}

/* ------------------------------------------------------------ judge */

static void v4(struct addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	inet_pton(AF_INET, s, &a->u.v4);
}

static void answer(struct scan_obs *o, int got, uint8_t ttl)
{
	memset(o, 0, sizeof(*o));
	o->got = (uint8_t)got;
	o->ttl = ttl;
	o->window = 65160;
	o->mss = 1460;
	o->wscale = 10;
	o->optsig = 7;
}

static void rep(struct scan_rep *r, int answered, int differed, const char *who)
{
	memset(r, 0, sizeof(*r));
	r->sent = (uint8_t)(answered ? answered : 1);
	r->answered = (uint8_t)answered;
	r->differed = (uint8_t)differed;
	r->kind = answered ? ANS_ICMP_TE : ANS_NONE;
	if (who)
		v4(&r->first, who);
}

/* A target 4 hops away whose flows all answer alike at the screen, on
 * the plain and the ECN-setup SYNs' ports (as the engine screens a path
 * where no flow parts). */
static void healthy_ev(struct scan_evidence *ev, int flows)
{
	memset(ev, 0, sizeof(*ev));
	ev->nflows = flows;
	ev->screen_ttl = 3;
	for (int f = 0; f < flows; f++) {
		answer(&ev->f[f].neg, ANS_SYNACK, 61);
		ev->f[f].neg.ece = 1;
		answer(&ev->f[f].tgt[0], ANS_SYNACK, 61);
		answer(&ev->f[f].tgt[1], ANS_SYNACK, 61);
	}
	for (int f = 0; f < 2 * flows; f++)
		for (int e = 0; e < 4; e++)
			rep(&ev->scr[f][e], 1, 0, "198.51.100.3");
}

/* The same with flow 1 parted on ECT(0), confirmed by repeats. */
static void dependent_ev(struct scan_evidence *ev, int repeats)
{
	healthy_ev(ev, 4);
	answer(&ev->f[1].tgt[1], ANS_SYNACK, 60);
	rep(&ev->scr[1][ECN_NOT_ECT], 1 + repeats, 0, "198.51.100.3");
	rep(&ev->scr[1][ECN_ECT0], 1 + repeats, 0, "198.51.100.4");
}

static void test_judge_healthy(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	healthy_ev(&ev, 4);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_HEALTHY);
	assert_int_equal(v.dependent, 0);
	assert_true(v.confidence >= 0.99);
	assert_int_equal(v.hops, 4);
	assert_int_equal(v.machines, 1);
	assert_int_equal(v.ecn.answered, 4);
	assert_int_equal(v.ecn.ece, 4);
	assert_int_equal(v.plain.answered, 4);
	assert_int_equal(v.has_split, 0);
}

static void test_judge_dependent(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;
	int f, e;

	dependent_ev(&ev, SCAN_REPEATS);
	assert_int_equal(scan_parted(&ev, &f, &e), 0);
	assert_int_equal(f, 1);
	assert_int_equal(e, ECN_ECT0);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_BROKEN);
	assert_int_equal(v.dependent, 1);
	assert_true(v.confidence >= 0.99);
	assert_int_equal(v.parted_flow, 1);
	assert_int_equal(v.parted_ecn, ECN_ECT0);
	assert_int_equal(v.machines, 2);
}

static void test_judge_one_odd_answer(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* Parted once, never repeated: no accusation. */
	dependent_ev(&ev, 0);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
	assert_string_equal(v.reason, "parted-unconfirmed");
	/* Repeats that wander: a per-packet balancer, not an ECN hash. */
	dependent_ev(&ev, SCAN_REPEATS);
	ev.scr[1][ECN_NOT_ECT].differed = 2;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "per-packet");
}

static void test_judge_lossy(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* A few repeats lost: still significant at 0.99. */
	dependent_ev(&ev, SCAN_REPEATS);
	ev.scr[1][ECN_ECT0].answered = 1 + SCAN_REPEATS - 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, 1);
	/* Most repeats lost: not enough to say. */
	ev.scr[1][ECN_ECT0].answered = 2;
	ev.scr[1][ECN_NOT_ECT].answered = 2;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
	/* A healthy path with most screen answers lost: too few to clear
	 * it (each whole flow alike halves the chance of a missed hash). */
	healthy_ev(&ev, 4);
	for (int f = 0; f < 8; f++)
		for (int e = 1; e < 4; e++)
			if (f > 0 || e > 2)
				rep(&ev.scr[f][e], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "few-answers");
	/* One codepoint lost in each of the 8 flows: 24 answers alike, but
	 * each flow may have lost the one that parts (a site that kept a
	 * half-open connection answers that flow no more): no whole flow,
	 * no health. */
	healthy_ev(&ev, 4);
	for (int f = 0; f < 8; f++)
		rep(&ev.scr[f][1 + f % 3], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "few-answers");
	/* 7 whole flows alike: 2^-7, healthy at 0.99; 6: not. */
	healthy_ev(&ev, 4);
	rep(&ev.scr[5][ECN_CE], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_HEALTHY);
	assert_true(fabs(v.confidence - (1.0 - 1.0 / 128)) < 1e-9);
	rep(&ev.scr[6][ECN_ECT1], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "few-answers");
	/* Silent last router: no screen, no verdict. */
	healthy_ev(&ev, 4);
	for (int f = 0; f < 8; f++)
		for (int e = 0; e < 4; e++)
			rep(&ev.scr[f][e], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "screen-silent");
	/* Two machines answer one flow's codepoints though the screen agrees:
	 * not healthy. */
	healthy_ev(&ev, 4);
	answer(&ev.f[2].tgt[1], ANS_SYNACK, 59);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "machines-differ");
}

static void test_judge_unreachable(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	memset(&ev, 0, sizeof(ev));
	ev.nflows = 4;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_UNREACHABLE);
	assert_int_equal(v.ecn.dropped, 4);
	assert_int_equal(v.plain.dropped, 4);
	assert_int_equal(v.dependent, -1);
}

static void test_judge_setup_refused(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	healthy_ev(&ev, 8);
	for (int f = 0; f < 8; f++)
		answer(&ev.f[f].neg, ANS_RST, 61);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_BROKEN);
	assert_string_equal(v.reason, "ecn-setup-refused");
	assert_int_equal(v.ecn.reset, 8);
	assert_int_equal(v.dependent, 0);
}

static void test_judge_split(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;
	char b[INET6_ADDRSTRLEN];

	dependent_ev(&ev, SCAN_REPEATS);
	ev.screen_ttl = 5;
	ev.located = 1;
	ev.loc_flow = 1;
	ev.loc_ecn[0] = ECN_NOT_ECT;
	ev.loc_ecn[1] = ECN_ECT0;
	const char *path[2][5] = {
		{ NULL, "198.51.100.1", "198.51.100.2", "198.51.100.31", "198.51.100.32" },
		{ NULL, "198.51.100.1", "198.51.100.2", "198.51.100.41", "198.51.100.42" },
	};

	for (int t = 1; t < 5; t++)
		for (int k = 0; k < 2; k++) {
			ev.loc[t][k].got = 1;
			ev.loc[t][k].answered = 1;
			ev.loc[t][k].kind = ANS_ICMP_TE;
			v4(&ev.loc[t][k].a, path[k][t]);
		}
	/* One answer a hop: the parting at hop 3 may be a per-packet
	 * balancer upstream; nobody named, the interval runs to the screen's
	 * hop before, and the repeats are asked for at hop 3. */
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.has_split, 1);
	assert_int_equal(v.split.known, 0);
	assert_int_equal(v.split.confirm_hop, 3);
	assert_int_equal(v.split.hop_first, 2);
	assert_int_equal(v.split.hop_last, 4);
	assert_int_equal(v.split.addr.family, 0);
	/* Repeats at hops 2 and 3, each codepoint always at its router. */
	for (int t = 2; t <= 3; t++)
		for (int k = 0; k < 2; k++)
			ev.loc[t][k].answered = 1 + SCAN_REPEATS;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.has_split, 1);
	assert_int_equal(v.split.known, 1);
	assert_int_equal(v.split.confirm_hop, 0);
	assert_int_equal(v.split.hop, 2);
	assert_string_equal(addr_str(&v.split.addr, b, sizeof(b)), "198.51.100.2");
	/* A repeat at hop 3 met another router: per-packet there, no name. */
	ev.loc[3][1].differed = 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	assert_int_equal(v.split.hop_last, 4);
	ev.loc[3][1].differed = 0;
	/* Too few repeats answered for 0.99: no name. */
	ev.loc[3][0].answered = 2;
	ev.loc[3][1].answered = 2;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	ev.loc[3][0].answered = ev.loc[3][1].answered = 1 + SCAN_REPEATS;
	/* Hop 3's ECT(0) answer an unreachable (a filter), not a router:
	 * no split named at hop 2. */
	ev.loc[3][1].kind = ANS_ICMP_UNREACH;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	ev.loc[3][1].kind = ANS_ICMP_TE;
	/* Hop 2 silent: the split is somewhere in hops 1..2, nobody named. */
	ev.loc[2][0].got = 0;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	assert_int_equal(v.split.hop_first, 1);
	assert_int_equal(v.split.hop_last, 2);
	assert_string_equal(addr_str(&v.split.candidate, b, sizeof(b)), "198.51.100.1");
	assert_int_equal(v.split.addr.family, 0);
}

static void test_judge_first_not_draws(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* One repeat each, both alike: at 0.9, the first answers chose the
	 * flow's routers and only the repeats are draws (1/4 by chance). */
	dependent_ev(&ev, 1);
	scan_judge(&ev, 0.9, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
}

static void test_judge_two_flows(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* Identical probes of another flow met two routers: a per-packet
	 * balancer is on the path; the parted flow's agreeing repeats are
	 * no proof of a hash then. */
	dependent_ev(&ev, SCAN_REPEATS);
	rep(&ev.scr[2][ECN_NOT_ECT], 2, 1, "198.51.100.3");
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
	assert_string_equal(v.reason, "per-packet");
	/* Two repeats each on one parted flow: 1/16, not 0.99; on two
	 * parted flows: 1/256, each flow its own draws. */
	dependent_ev(&ev, 2);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, -1);
	rep(&ev.scr[3][ECN_NOT_ECT], 3, 0, "198.51.100.3");
	rep(&ev.scr[3][ECN_CE], 3, 0, "198.51.100.4");
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, 1);
	assert_true(fabs(v.confidence - (1.0 - 1.0 / 256)) < 1e-9);
	/* Behind a router seen balancing per packet (pp_suspect), one
	 * parted flow is no proof however its repeats agree (a per-packet
	 * balancer fools 4^-5 of such targets, and a scan meets thousands):
	 * a second parted flow must agree too. */
	dependent_ev(&ev, SCAN_REPEATS);
	ev.pp_suspect = 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
	assert_string_equal(v.reason, "parted-unconfirmed");
	rep(&ev.scr[3][ECN_NOT_ECT], 1 + SCAN_REPEATS, 0, "198.51.100.3");
	rep(&ev.scr[3][ECN_CE], 1 + SCAN_REPEATS, 0, "198.51.100.4");
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_BROKEN);
	dependent_ev(&ev, 2);
	rep(&ev.scr[3][ECN_NOT_ECT], 3, 0, "198.51.100.3");
	rep(&ev.scr[3][ECN_CE], 3, 0, "198.51.100.4");
	/* The engine's second flow: the next parted one. */
	int f, e;

	assert_int_equal(scan_parted_from(&ev, 2, &f, &e), 0);
	assert_int_equal(f, 3);
	assert_int_equal(e, ECN_CE);
	assert_int_equal(scan_parted_from(&ev, 4, &f, &e), -1);
}

static void test_judge_reply_kind(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* A filter answers ECT(0) with unreachable, Not-ECT meets the router
	 * (time-exceeded): another address, but no split. */
	dependent_ev(&ev, SCAN_REPEATS);
	ev.scr[1][ECN_ECT0].kind = ANS_ICMP_UNREACH;
	scan_judge(&ev, 0.99, &v);
	assert_int_not_equal(v.status, SCAN_BROKEN);
	assert_int_not_equal(v.dependent, 1);
	assert_string_equal(v.reason, "reply-kind-differs");
	/* Answers of both kinds to one codepoint: not a router's alone. */
	dependent_ev(&ev, SCAN_REPEATS);
	ev.scr[1][ECN_ECT0].kinddiff = 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_not_equal(v.dependent, 1);
	assert_string_equal(v.reason, "per-packet");
}

static void test_judge_screen_reached_target(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* The screen TTL reached the target (its return path is longer than
	 * the forward one): its SYN-ACKs agree, but say nothing of a split
	 * before it. */
	healthy_ev(&ev, 4);
	for (int f = 0; f < 8; f++)
		for (int e = 0; e < 4; e++)
			ev.scr[f][e].kind = ANS_SYNACK;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_int_equal(v.dependent, -1);
	assert_string_equal(v.reason, "screen-reached-target");
	/* One flow's ECT(0) reached it while Not-ECT met a router: not
	 * counted as agreeing, so not healthy. */
	healthy_ev(&ev, 4);
	ev.scr[2][ECN_ECT0].kind = ANS_SYNACK;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "screen-reached-target");
}

static void test_judge_one_hop(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* Every answer one hop away but no TTL-1 probe reached the target:
	 * no "no router between". */
	healthy_ev(&ev, 4);
	ev.screen_ttl = 0;
	for (int f = 0; f < 4; f++) {
		answer(&ev.f[f].neg, ANS_SYNACK, 64);
		answer(&ev.f[f].tgt[0], ANS_SYNACK, 64);
		answer(&ev.f[f].tgt[1], ANS_SYNACK, 64);
		for (int e = 0; e < 4; e++)
			rep(&ev.scr[f][e], 0, 0, NULL);
	}
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "no-screen");
	ev.ttl1_sent = 2;
	ev.ttl1_reached = 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_HEALTHY);
	assert_true(v.confidence == 1.0);
	/* One RST with a standard initial TTL (a local firewall's) among
	 * answers from 4 hops: not one hop. */
	healthy_ev(&ev, 4);
	ev.screen_ttl = 0;
	ev.ttl1_reached = 1;
	answer(&ev.f[0].tgt[0], ANS_RST, 64);
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.hops, 1);
	assert_int_not_equal(v.status, SCAN_HEALTHY);
}

static void test_judge_setup_unconfirmed(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	/* 4 ECN-setup SYNs dropped, all plain answered: Fisher's p is 1/70
	 * at best, never 0.99; no healthy verdict. */
	healthy_ev(&ev, 4);
	for (int f = 0; f < 4; f++)
		memset(&ev.f[f].neg, 0, sizeof(ev.f[f].neg));
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.status, SCAN_INCONCLUSIVE);
	assert_string_equal(v.reason, "ecn-setup-unconfirmed");
	assert_int_equal(v.dependent, -1);
	/* Refused significantly: the confidence is that test's, 1 - 1/12870
	 * for 8 of 8 against 0 of 8, not the path's. */
	healthy_ev(&ev, 8);
	for (int f = 0; f < 8; f++)
		answer(&ev.f[f].neg, ANS_RST, 61);
	scan_judge(&ev, 0.99, &v);
	assert_string_equal(v.reason, "ecn-setup-refused");
	assert_true(fabs(v.confidence - (1.0 - 1.0 / 12870)) < 1e-9);
}

static void test_router_significance(void **state)
{
	struct scan_summary sum;
	struct scan_router r;
	double pv[300];

	memset(&sum, 0, sizeof(sum));
	memset(&r, 0, sizeof(r));
	r.pv = pv;
	sum.nrouters = 1;
	/* One target at p 1/1024 among 100,000 screened: chance. */
	sum.screened = 100000;
	r.n = 1;
	pv[0] = 1.0 / 1024;
	assert_true(scan_router_p(&sum, &r) > 0.5);
	/* 300 of them: not chance (about 98 expected). */
	for (int i = 0; i < 300; i++)
		pv[i] = 1.0 / 1024;
	r.n = 300;
	assert_true(scan_router_p(&sum, &r) < 1e-6);
	/* 100 of them: about what chance gives. */
	r.n = 100;
	assert_true(scan_router_p(&sum, &r) > 0.1);
	/* Five at 1e-6 (two flows' repeats each): not chance, though one
	 * at 1/1024 among them would be on its own. */
	r.n = 5;
	for (int i = 0; i < 4; i++)
		pv[i] = 1e-6;
	assert_true(scan_router_p(&sum, &r) < 0.01);
	/* One of one screened: the per-target test is the test. */
	sum.screened = 1;
	r.n = 1;
	pv[0] = 1.0 / 1024;
	assert_true(fabs(scan_router_p(&sum, &r) - 1.0 / 1024) < 1e-9);
	/* Two routers: twice the chance. */
	sum.nrouters = 2;
	assert_true(fabs(scan_router_p(&sum, &r) - 2.0 / 1024) < 1e-9);
}

/* ------------------------------------------------------------- paths */

static void test_budgets(void **state)
{
	struct scan_paths *p = scan_paths_new(10, 4);
	struct addr t1, t2, other, r1;

	assert_non_null(p);
	v4(&t1, "198.18.7.1");
	v4(&t2, "198.18.7.200");        /* the same /24 */
	v4(&other, "198.18.8.1");
	v4(&r1, "198.51.100.3");
	/* Nothing known: the unknown routers' bucket, burst 4 deep. */
	assert_true(scan_paths_ok(p, &t1, 3, 3));
	for (int i = 0; i < 5; i++)
		assert_int_equal(scan_paths_charge(p, &t1, 3, NULL), 1);
	assert_false(scan_paths_ok(p, &t1, 3, 3));
	/* r1 answers at TTL 3 for the /24: charged for that unknown probe,
	 * and from now on predicted for the prefix, not for another one. */
	scan_paths_answer(p, &t1, 3, &r1, 1);
	assert_true(scan_paths_ok(p, &t2, 3, 3));
	for (int i = 0; i < 4; i++)
		assert_int_equal(scan_paths_charge(p, &t2, 3, NULL), 0);
	assert_false(scan_paths_ok(p, &t2, 3, 3));
	/* Unknown routers share one bucket, still in debt: another prefix,
	 * another TTL. */
	assert_false(scan_paths_ok(p, &other, 3, 3));
	assert_false(scan_paths_ok(p, &t2, 2, 2));
	scan_paths_free(p);
	/* Rate 0: no budget at all. */
	p = scan_paths_new(0, 4);
	for (int i = 0; i < 100; i++)
		assert_int_equal(scan_paths_charge(p, &t1, 3, NULL), 0);
	assert_true(scan_paths_ok(p, &t1, 1, 30));
	scan_paths_free(p);
}

static void test_split_kept(void **state)
{
	struct scan_paths *p = scan_paths_new(0, 4);
	struct scan_hopans loc[SCAN_MAX_TTL][2];
	const struct scan_hopans (*got)[2];
	struct addr t1, t2, other, ra, rb, rc;

	memset(loc, 0, sizeof(loc));
	loc[2][0].got = loc[2][1].got = 1;
	v4(&loc[2][0].a, "198.51.100.2");
	loc[2][1].a = loc[2][0].a;
	v4(&t1, "198.18.7.1");
	v4(&t2, "198.18.7.9");
	v4(&other, "198.18.9.9");
	v4(&ra, "198.51.100.31");
	v4(&rb, "198.51.100.41");
	v4(&rc, "198.51.100.51");
	assert_null(scan_paths_split(p, &t2, 3, &ra, &rb));
	scan_paths_keep_split(p, &t1, 3, &ra, &rb, (const struct scan_hopans (*)[2])loc);
	got = scan_paths_split(p, &t2, 3, &ra, &rb);
	assert_non_null(got);
	assert_true(addr_eq(&got[2][0].a, &loc[2][0].a));
	/* Other routers, another screen TTL, another prefix: not the same. */
	assert_null(scan_paths_split(p, &t2, 3, &ra, &rc));
	assert_null(scan_paths_split(p, &t2, 4, &ra, &rb));
	assert_null(scan_paths_split(p, &other, 3, &ra, &rb));
	scan_paths_free(p);
}

/* ------------------------------------------------------------ NDJSON */

static char *render_target(const struct scan_verdict *v)
{
	char *s = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&s, &n);
	struct addr a;

	v4(&a, "198.18.1.2");
	scan_print_target(fp, &a, 80, v);
	fclose(fp);
	return s;
}

static void test_ndjson(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;
	char *s;

	healthy_ev(&ev, 4);
	scan_judge(&ev, 0.99, &v);
	s = render_target(&v);
	assert_string_equal(s,
		"{\"schema\":\"ecntrace/1\",\"command\":\"scan\",\"target\":\"198.18.1.2\","
		"\"port\":80,\"status\":\"healthy\",\"reason\":null,"
		"\"ecn_setup\":{\"answered\":4,\"reset\":0,\"dropped\":0,\"ece\":4},"
		"\"plain_setup\":{\"answered\":4,\"reset\":0,\"dropped\":0},"
		"\"hops\":4,\"screen_ttl\":3,\"ecn_dependent\":false,\"confidence\":0.9961,"
		"\"machines\":1,\"split\":null}\n");
	free(s);
	memset(&ev, 0, sizeof(ev));
	ev.nflows = 2;
	scan_judge(&ev, 0.99, &v);
	s = render_target(&v);
	assert_non_null(strstr(s, "\"status\":\"unreachable\",\"reason\":\"no-answer\""));
	assert_non_null(strstr(s, "\"hops\":null,\"screen_ttl\":null,\"ecn_dependent\":null,"
			       "\"confidence\":null,\"machines\":0,\"split\":null}\n"));
	free(s);
}

static void test_summary_groups(void **state)
{
	struct scan_targets t = { 0 };
	struct scan_summary sum;
	struct scan_verdict v;
	char *s = NULL;
	size_t n = 0;
	FILE *fp;

	add(&t, "198.18.0.0/29");
	assert_int_equal(scan_targets_finish(&t), 0);
	memset(&sum, 0, sizeof(sum));
	memset(&v, 0, sizeof(v));
	v.status = SCAN_BROKEN;
	v.dependent = 1;
	v.confidence = 0.999;
	v.screen_ttl = 3;
	v.has_split = 1;
	v.split.known = 1;
	v.split.hop = v.split.hop_first = v.split.hop_last = 2;
	v4(&v.split.addr, "198.51.100.2");
	v.split.candidate = v.split.addr;
	assert_int_equal(scan_summary_add(&sum, 5, &v), 0);
	assert_int_equal(scan_summary_add(&sum, 1, &v), 0);
	v4(&v.split.addr, "198.51.100.9");
	v.split.candidate = v.split.addr;
	v.confidence = 0.995;
	assert_int_equal(scan_summary_add(&sum, 3, &v), 0);
	memset(&v, 0, sizeof(v));
	v.status = SCAN_HEALTHY;
	v.screen_ttl = 3;
	assert_int_equal(scan_summary_add(&sum, 0, &v), 0);
	fp = open_memstream(&s, &n);
	scan_print_summary(fp, &sum, &t);
	fclose(fp);
	assert_non_null(strstr(s, "\"completed\":4,\"healthy\":1,\"broken\":3,\"dependent\":3"));
	assert_non_null(strstr(s, "\"routers\":[{\"hop\":2,\"hop_first\":2,\"hop_last\":2,"
			       "\"addr\":\"198.51.100.2\",\"candidate\":\"198.51.100.2\","
			       "\"p\":0.000024,\"confirmed\":true,"
			       "\"targets\":[\"198.18.0.1\",\"198.18.0.5\"]},{\"hop\":2,"));
	assert_non_null(strstr(s, "\"addr\":\"198.51.100.9\",\"candidate\":\"198.51.100.9\","
			       "\"p\":0.039701,\"confirmed\":false,"
			       "\"targets\":[\"198.18.0.3\"]}]}\n"));
	free(s);
	/* In words: a router splits ECN flows (nothing measured breaks),
	 * and one that chance across the targets explains says so. */
	s = NULL;
	fp = open_memstream(&s, &n);
	scan_print_text(fp, &sum, &t);
	fclose(fp);
	assert_null(strstr(s, "breaks"));
	assert_non_null(strstr(s, "Router 198.51.100.2 (hop 2) splits ECN flows (2 of 4 "
			       "targets screened, chance p 2.4e-05)"));
	assert_non_null(strstr(s, "Router 198.51.100.9 (hop 2) may split ECN flows (1 of 4 "
			       "targets screened, NOT significant"));
	free(s);
	scan_summary_free(&sum);
	scan_targets_free(&t);
}

/* The light repeats: the fewest that decide at the confidence, each
 * codepoint's block a fresh draw (pp_miss_pair(r, r) = 4^-r). */
static void test_repeats_for(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	(void)state;
	assert_int_equal(scan_repeats_for(0.9), 2);
	assert_int_equal(scan_repeats_for(0.99), 4);
	assert_int_equal(scan_repeats_for(0.999), 5);
	assert_int_equal(scan_repeats_for(0.9999), 7);
	/* That many decide; one fewer on one codepoint still does at 0.99
	 * (4^4 3^3 / 7^7), one fewer on both does not. */
	dependent_ev(&ev, scan_repeats_for(0.99));
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, 1);
	ev.scr[1][ECN_ECT0].answered--;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, 1);
	ev.scr[1][ECN_NOT_ECT].answered--;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, -1);
}

/* A target whose direct probes went to its first flows only: the ECN
 * setup counts are of those flows, not the others as dropped. */
static void test_direct_flows(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	(void)state;
	dependent_ev(&ev, SCAN_REPEATS);
	ev.direct_flows = 2;
	for (int f = 2; f < 4; f++)
		memset(&ev.f[f], 0, sizeof(ev.f[f]));
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.dependent, 1);
	assert_int_equal(v.ecn.answered + v.ecn.reset + v.ecn.dropped, 2);
	assert_int_equal(v.plain.answered, 2);
	assert_int_equal(v.plain.dropped, 0);
	assert_int_equal(scan_direct_flows(&ev), 2);
	ev.direct_flows = 0;
	assert_int_equal(scan_direct_flows(&ev), 4);
}

/* Routers seen answering identical probes differently are remembered
 * (the engine then asks their targets for the full repeats). */
static void test_perpacket_routers(void **state)
{
	struct scan_paths *p = scan_paths_new(0, 4);
	struct addr a, b, c;

	(void)state;
	assert_non_null(p);
	v4(&a, "198.51.100.31");
	v4(&b, "198.51.100.41");
	v4(&c, "198.51.100.51");
	assert_false(scan_paths_perpacket(p, &a));
	scan_paths_mark_perpacket(p, &a);
	scan_paths_mark_perpacket(p, &b);
	scan_paths_mark_perpacket(p, &a);
	assert_true(scan_paths_perpacket(p, &a));
	assert_true(scan_paths_perpacket(p, &b));
	assert_false(scan_paths_perpacket(p, &c));
	scan_paths_free(p);
}

/* A split's hop is kept by the two screen routers and the screen TTL,
 * for a first try on targets of any prefix; other routers or another
 * screen TTL get no guess. */
static void test_guess_hop(void **state)
{
	struct scan_paths *p = scan_paths_new(0, 4);
	struct addr ra, rb, rc;

	(void)state;
	assert_non_null(p);
	v4(&ra, "198.51.100.31");
	v4(&rb, "198.51.100.41");
	v4(&rc, "198.51.100.51");
	assert_int_equal(scan_paths_guess_hop(p, 3, &ra, &rb), 0);
	scan_paths_keep_hop(p, 3, &ra, &rb, 2);
	assert_int_equal(scan_paths_guess_hop(p, 3, &ra, &rb), 2);
	assert_int_equal(scan_paths_guess_hop(p, 4, &ra, &rb), 0);
	assert_int_equal(scan_paths_guess_hop(p, 3, &ra, &rc), 0);
	assert_int_equal(scan_paths_guess_hop(p, 3, &rb, &ra), 0);
	scan_paths_free(p);
}

/* The judge names the router from a guessed hop alone when the target's
 * own answers there (two each, one router) and the screen's repeats
 * after it single it out; a guess that meets two routers names none. */
static void test_judge_guessed_hop(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;
	char b[INET6_ADDRSTRLEN];

	(void)state;
	dependent_ev(&ev, SCAN_REPEATS);
	ev.located = 1;
	ev.loc_flow = 1;
	ev.loc_ecn[0] = ECN_NOT_ECT;
	ev.loc_ecn[1] = ECN_ECT0;
	for (int k = 0; k < 2; k++) {
		ev.loc[2][k].got = 1;
		ev.loc[2][k].answered = 2;
		ev.loc[2][k].kind = ANS_ICMP_TE;
		v4(&ev.loc[2][k].a, "198.51.100.2");
	}
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 1);
	assert_int_equal(v.split.hop, 2);
	assert_string_equal(addr_str(&v.split.addr, b, sizeof(b)), "198.51.100.2");
	/* One answer each there: not enough to say the router was one. */
	ev.loc[2][0].answered = ev.loc[2][1].answered = 1;
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	/* Two routers at the guessed hop: the split is before it, unnamed. */
	ev.loc[2][0].answered = ev.loc[2][1].answered = 2;
	v4(&ev.loc[2][1].a, "198.51.100.9");
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.split.known, 0);
	assert_int_equal(v.split.addr.family, 0);
}

/* Review (scanfast): health from whole flows that are a selected sample.
 * A CE-only hash over two paths, the second path's screen router silent:
 * a port whose CE went there has three answers (not whole, not parted),
 * so every whole port is alike by construction. With --flows 8 (16
 * ports) 7 whole ports suffice, and a CE-only hash gives 7 or more with
 * P(Bin(16, 1/4) >= 7) = 0.08, not 2^-7. A port with some but not all of
 * its codepoints answered by routers must not leave the rest to clear
 * the path. */
static void test_review_health_selected_flows(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	(void)state;
	healthy_ev(&ev, 8);
	for (int f = 7; f < 16; f++)
		rep(&ev.scr[f][ECN_CE], 0, 0, NULL);
	scan_judge(&ev, 0.99, &v);
	assert_int_not_equal(v.status, SCAN_HEALTHY);
	assert_int_not_equal(v.dependent, 0);
}

/* Review (scanfast): the screen at the splitter. Site A 4 hops away
 * behind E (hop 3), site B 6 hops away through E too: E hashes CE only.
 * The screen TTL (3, the nearer site's) is E itself for every codepoint
 * of every port: 8 whole flows alike. The direct answers show two
 * machines at two distances (flows 1 and 3 reach B), so the paths part
 * at or after the screen, where it cannot see: no health on it. */
static void test_review_screen_at_splitter(void **state)
{
	struct scan_evidence ev;
	struct scan_verdict v;

	(void)state;
	healthy_ev(&ev, 4);
	for (int f = 1; f < 4; f += 2) {
		answer(&ev.f[f].neg, ANS_SYNACK, 59);
		ev.f[f].neg.ece = 1;
		answer(&ev.f[f].tgt[0], ANS_SYNACK, 59);
		answer(&ev.f[f].tgt[1], ANS_SYNACK, 59);
	}
	scan_judge(&ev, 0.99, &v);
	assert_int_equal(v.screen_ttl, 3);
	assert_int_equal(v.machines, 2);
	assert_int_not_equal(v.status, SCAN_HEALTHY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_and_dedupe),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_blocklist),
		cmocka_unit_test(test_default_blocklist_spares_lab),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_blocklist_no_names),
		cmocka_unit_test(test_permutation),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_cookies),
		cmocka_unit_test(test_judge_healthy),
		cmocka_unit_test(test_judge_dependent),
		cmocka_unit_test(test_judge_one_odd_answer),
		cmocka_unit_test(test_judge_lossy),
		cmocka_unit_test(test_judge_unreachable),
		cmocka_unit_test(test_judge_setup_refused),
		cmocka_unit_test(test_judge_split),
		cmocka_unit_test(test_judge_first_not_draws),
		cmocka_unit_test(test_judge_two_flows),
		cmocka_unit_test(test_judge_reply_kind),
		cmocka_unit_test(test_judge_screen_reached_target),
		cmocka_unit_test(test_judge_one_hop),
		cmocka_unit_test(test_judge_setup_unconfirmed),
		cmocka_unit_test(test_router_significance),
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_split_kept),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_summary_groups),
		cmocka_unit_test(test_repeats_for),
		cmocka_unit_test(test_direct_flows),
		cmocka_unit_test(test_perpacket_routers),
		cmocka_unit_test(test_guess_hop),
		cmocka_unit_test(test_judge_guessed_hop),
		cmocka_unit_test(test_review_health_selected_flows),
		cmocka_unit_test(test_review_screen_at_splitter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
