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

#include "judge_sites_fixture.h"

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
