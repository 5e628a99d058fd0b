/*
 * judge() for UDP and QUIC targets: the site probes (a flow's Not-ECT
 * probe then its ECT(0) probe, against flows sent Not-ECT twice) stand
 * where the connection replay stands for TCP. Each case builds the
 * evidence a network would leave and checks the whole verdict, rendered
 * as "STATUS/REASON; causes KIND[@HOP][!latent] ...; notes KIND ...",
 * and the facts and words of the finding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_udp_out.h"
#include "diagnose.h"
#include "diagnose_out.h"
#include "judge.h"

static struct addr ip4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u), 1);
	return a;
}

static struct addr router(int t, int b)
{
	char s[32];

	snprintf(s, sizeof(s), "198.51.100.%d", 10 * b + t);
	return ip4(s);
}

static struct responder te(int t, int b)
{
	struct responder r = { .answered = 1, .reply = "time-exceeded",
			       .addr = router(t, b), .kind = REPLY_TIME_EXCEEDED };
	return r;
}

/* The target's Version Negotiation from a site `hops` back that lists
 * `version` first (0: a port unreachable, -U). */
static struct responder site(int hops, uint32_t version)
{
	struct responder r = { .answered = 1, .addr = ip4("203.0.113.80"),
			       .hops = hops };

	if (version) {
		r.kind = REPLY_UDP;
		r.reply = "version-negotiation";
		r.quic_version = version;
		r.quic_ident = version * 2654435761u | 1;
	} else {
		r.kind = REPLY_UNREACH;
		r.reply = "port-unreachable";
	}
	return r;
}

/* Three routers, then the target (a QUIC server). */
static void trace(struct trace_result *t)
{
	memset(t, 0, sizeof(*t));
	t->p.first_ttl = 1;
	t->p.max_ttl = 4;
	t->p.nqueries = 1;
	t->nprobes = 4;
	t->probes = calloc(t->nprobes, sizeof(*t->probes));
	assert_non_null(t->probes);
	for (int ttl = 1; ttl <= 4; ttl++) {
		struct probe *p = &t->probes[ttl - 1];

		p->d.tos = ECN_ECT0;
		p->state = PROBE_ANSWERED;
		p->reply.src = ttl <= 3 ? router(ttl, 0) : ip4("203.0.113.80");
		p->reply.kind = ttl <= 3 ? REPLY_TIME_EXCEEDED : REPLY_UDP;
		p->reply.has_quote = ttl <= 3;
		p->reply.q.tos = ECN_ECT0;
	}
	t->dest_ttl = 4;
	t->stop_ttl = 4;
}

static void base(struct diag_evidence *ev, int split)
{
	memset(ev, 0, sizeof(*ev));
	ev->dst = ip4("203.0.113.80");
	ev->dport = 443;
	ev->proto = IPPROTO_UDP;
	ev->quic = 1;
	trace(&ev->trace);
	ev->screen_ttl = 3;
	ev->nflows = 3;
	for (int i = 0; i < 3; i++) {
		ev->flows[i].sport = (uint16_t)(31001 + i);
		for (int k = 0; k < 4; k++)
			ev->flows[i].by_ecn[k] = te(3, 1);
		ev->flows[i].full = 1;
	}
	if (split) {
		ev->split_seen = 1;
		ev->split_ecn[0] = ECN_NOT_ECT;
		ev->split_ecn[1] = ECN_ECT0;
		ev->repeats.answered = 10;
		ev->split_draws[0] = ev->split_draws[1] = 5;
		ev->divergence_ttl = 3;
		ev->split_at[0] = te(3, 1);
		ev->split_at[1] = te(3, 2);
		ev->balancer = te(2, 0);
		ev->flows[0].by_ecn[ECN_ECT0] = te(3, 2);
	}
	ev->have_sites = 1;
	ev->sites.rounds = 1;
}

/* n test flows of which `moved` went to site B for ECT(0), n controls of
 * which `cmoved` did for their second probe. version 0: UDP (-U). */
static void sites(struct diag_evidence *ev, int n, int moved, int cmoved,
		  uint32_t va, uint32_t vb, int hb)
{
	for (int i = 0; i < 2 * n; i++) {
		struct site_pair *p = &ev->sites.pairs[ev->sites.n++];
		int test = i % 2 == 0, k = i / 2;

		p->sport = (uint16_t)(31065 + i);
		p->ecn = test ? ECN_ECT0 : ECN_NOT_ECT;
		p->first = site(4, va);
		p->second = (test ? k < moved : k < cmoved) ? site(hb, vb) : site(4, va);
	}
}

static const char *const reasons[] = {
	"cause", "no-fault", "not-reached", "refused", "few-answers",
	"not-significant",
};

static void render(const struct diag_verdict *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s; causes", diag_status_name(v->status),
		 reasons[v->reason]);
	for (int i = 0; i < v->ncauses; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s@%d%s",
			 cause_name(v->causes[i].kind), v->causes[i].hop,
			 v->causes[i].latent ? "!latent" : "");
	snprintf(buf + strlen(buf), len - strlen(buf), "; notes");
	for (int i = 0; i < v->nnotes; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s",
			 cause_name(v->notes[i].kind));
}

static void expect(struct diag_evidence *ev, const char *want,
		   struct diag_verdict *v)
{
	char got[512];

	judge(ev, 0.99, v);
	render(v, got, sizeof(got));
	if (strcmp(got, want) != 0)
		print_error("got  %s\nwant %s\n", got, want);
	assert_string_equal(got, want);
}

static struct diag_evidence ev;
static struct diag_verdict v;

/* seed behind QUIC: the path splits at hop 3, and 7 of 14 flows had their
 * ECT(0) probe answered by the other site, no control did. */
static void test_story(void **st)
{
	const struct finding *f;
	char words[1024];

	base(&ev, 1);
	sites(&ev, 14, 7, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	expect(&ev, "broken/cause; causes ecn-hash@2; notes", &v);
	f = &v.causes[0];
	assert_true(finding_has(f, FACT_SITE_FLOWS));
	assert_int_equal(f->fact[FACT_TEST], CMP_SITE_ECT);
	assert_int_equal(f->fact[FACT_TEST_BAD], 7);
	assert_int_equal(f->fact[FACT_CONTROL_BAD], 0);
	assert_int_equal(f->fact[FACT_SITE_HOPS_A], 4);
	assert_int_equal(f->fact[FACT_SITE_HOPS_B], 5);
	assert_int_equal(f->fact[FACT_SITE_QUIC_B], 0x2a2a2a2a);
	assert_int_equal(v.nsites, 2);
	assert_true(v.sites[0].quic_version != v.sites[1].quic_version);
	diagnose_evidence(f, words, sizeof(words));
	assert_non_null(strstr(words, "7 of 14 flows sent Not-ECT and then ECT(0)"));
	assert_non_null(strstr(words, "0x2a2a2a2a"));
	diagnose_advice(f, words, sizeof(words));
	assert_non_null(strstr(words, "not marking its packets ECT"));
	assert_null(strstr(words, "tcp_ecn"));
	trace_free(&ev.trace);
}

/* Two sites at the same distance, told apart only by their versions. */
static void test_same_distance(void **st)
{
	base(&ev, 1);
	sites(&ev, 14, 7, 0, 0x1a1a1a1a, 0x2a2a2a2a, 4);
	expect(&ev, "broken/cause; causes ecn-hash@2; notes", &v);
	assert_int_equal(v.nsites, 2);
	trace_free(&ev.trace);
	/* The same with -U: nothing tells them apart, so no flow moved and
	 * the path's dependence on ECN is latent. */
	base(&ev, 1);
	sites(&ev, 14, 7, 0, 0, 0, 4);
	expect(&ev, "latent/cause; causes ecn-hash@2!latent; notes", &v);
	trace_free(&ev.trace);
}

/* Too few moved for significance (2 of 7, p = 0.23): the path's split
 * is said, latent. */
static void test_few(void **st)
{
	base(&ev, 1);
	sites(&ev, 7, 2, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	expect(&ev, "latent/cause; causes ecn-hash@2!latent; notes", &v);
	trace_free(&ev.trace);
}

/* A control moved too: per-packet or unstable balancing, no ECN fault. */
static void test_control_moved(void **st)
{
	char words[1024];

	base(&ev, 1);
	sites(&ev, 14, 7, 2, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	expect(&ev, "inconclusive/not-significant; causes; notes unconfirmed", &v);
	assert_int_equal(v.ecn_dependent, 0);
	diagnose_evidence(&v.notes[0], words, sizeof(words));
	assert_non_null(strstr(words, "2 of 14 flows sent Not-ECT twice"));
	trace_free(&ev.trace);
}

/* Nothing splits, nobody moves: healthy, one machine. */
static void test_healthy(void **st)
{
	base(&ev, 0);
	sites(&ev, 7, 0, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	expect(&ev, "healthy/no-fault; causes; notes", &v);
	assert_int_equal(v.nsites, 1);
	trace_free(&ev.trace);
}

/* Flows moved though no path probe split: the site probes prove it. */
static void test_moved_unlocated(void **st)
{
	base(&ev, 0);
	sites(&ev, 14, 7, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	expect(&ev, "broken/cause; causes ecn-hash@0; notes", &v);
	trace_free(&ev.trace);
}

/* No pair answered whole: nothing to compare. */
static void test_unanswered(void **st)
{
	base(&ev, 0);
	sites(&ev, 7, 0, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	for (int i = 0; i < ev.sites.n; i++)
		ev.sites.pairs[i].second.answered = 0;
	expect(&ev, "inconclusive/not-reached; causes; notes target-not-reached", &v);
	trace_free(&ev.trace);
}

/* More rounds while ECN leans, or a split has moved nobody yet; never
 * once a control moved. */
static void test_want_more(void **st)
{
	base(&ev, 1);
	sites(&ev, 7, 0, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	assert_true(judge_sites_want_more(&ev, 0.99));
	ev.sites.rounds = 3;
	assert_false(judge_sites_want_more(&ev, 0.99));
	trace_free(&ev.trace);
	base(&ev, 0);
	sites(&ev, 7, 3, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	assert_true(judge_sites_want_more(&ev, 0.99));
	trace_free(&ev.trace);
	base(&ev, 0);
	sites(&ev, 7, 3, 1, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	assert_false(judge_sites_want_more(&ev, 0.99));
	trace_free(&ev.trace);
	base(&ev, 0);
	sites(&ev, 14, 7, 0, 0x1a1a1a1a, 0x2a2a2a2a, 5);
	assert_false(judge_sites_want_more(&ev, 0.99));  /* significant */
	trace_free(&ev.trace);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_story),
		cmocka_unit_test(test_same_distance),
		cmocka_unit_test(test_few),
		cmocka_unit_test(test_control_moved),
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_moved_unlocated),
		cmocka_unit_test(test_unanswered),
		cmocka_unit_test(test_want_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
