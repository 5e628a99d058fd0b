/* diag_udp: for UDP and QUIC targets, the analogue of the connection
 * replay. A QUIC stack sends a connection's first packets Not-ECT and
 * marks later ones ECT(0): each test flow sends one Not-ECT probe and
 * then one ECT(0) probe on the same 5-tuple, each control flow two
 * Not-ECT ones, interleaved, at the full TTL; which machine answers each
 * (QUIC: the Version Negotiation's versions and return TTL; UDP: the
 * port unreachable's or the reply's source and TTL) is the evidence.
 * Rounds on new ports while judge_sites_want_more(). Evidence only. */
#include <string.h>

#include "diag_probe.h"

/* The site flows' ports, after the path probes' (as the replays'). */
#define SITE_PORT_OFFSET 64

/* Of the probes of pairs [from, s->n), did most go unanswered? */
static int mostly_lost(const struct diag_sites *s, int from)
{
	int lost = 0;

	for (int i = from; i < s->n; i++)
		lost += !s->pairs[i].first.answered + !s->pairs[i].second.answered;
	return 2 * lost > 2 * (s->n - from);
}

static int sites_round(struct dctx *c, int nflows)
{
	struct diag_sites *s = &c->ev->sites;
	struct probe pr[2 * 2 * 64];
	size_t n = 0;
	int first = s->n, rc;

	for (int i = 0; i < 2 * nflows && s->n < DIAG_MAX_PAIRS; i++) {
		struct site_pair *sp = &s->pairs[s->n];

		sp->sport = (uint16_t)(c->p->sport_base + SITE_PORT_OFFSET + s->n);
		/* test and control alternate, so both meet the same moments */
		sp->ecn = i % 2 == 0 ? ECN_ECT0 : ECN_NOT_ECT;
		add_probe(c, &pr[n], sp->sport, ECN_NOT_ECT, c->p->max_ttl);
		pr[n++].user = s->n * 2;
		add_probe(c, &pr[n], sp->sport, sp->ecn, c->p->max_ttl);
		pr[n++].user = s->n * 2 + 1;
		s->n++;
	}
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct site_pair *sp = &s->pairs[pr[k].user / 2];

		if (pr[k].user % 2)
			sp->second = responder_of(&pr[k]);
		else
			sp->first = responder_of(&pr[k]);
	}
	s->rounds++;
	return first == s->n ? -1 : rc;
}

/* Ask again for the probes of pairs [from, s->n) that got no answer: a
 * server's ICMP rate limit (port unreachables: Linux's burst of six, then
 * one a second) leaves pairs half answered, and so does loss. Pairs with
 * one answer first, at most FILL_MAX a pass, up to FILL_PASSES while
 * answers come and two dry ones. A pass after one that lost most of its
 * probes (a rate limit, whose budget needs time) comes a second after it;
 * after one that lost a few (loss, which waiting does not help), at once. */
#define FILL_MAX 8
#define FILL_PASSES 10

static size_t want_fill(struct dctx *c, int from, struct probe *pr)
{
	struct diag_sites *s = &c->ev->sites;
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int i = from; i < s->n && n < FILL_MAX; i++) {
			struct site_pair *sp = &s->pairs[i];
			int half = sp->first.answered != sp->second.answered;

			if ((pass == 0) != half)
				continue;
			for (int k = 0; k < 2 && n < FILL_MAX; k++) {
				if ((k ? sp->second : sp->first).answered)
					continue;
				add_probe(c, &pr[n], sp->sport,
					  k ? sp->ecn : ECN_NOT_ECT, c->p->max_ttl);
				pr[n++].user = i * 2 + k;
			}
		}
	return n;
}

static int sites_fill(struct dctx *c, int from, int64_t since, int limited)
{
	struct diag_sites *s = &c->ev->sites;
	struct probe pr[FILL_MAX];
	int dry = 0, rc = 0;

	for (int pass = 0; pass < FILL_PASSES && dry < 2 && !engine_stop; pass++) {
		size_t n = want_fill(c, from, pr), got = 0;

		if (n == 0)
			break;
		if (limited)
			pace_retry(since);
		since = now_ns();
		rc = run_batch(c, pr, n);
		if (rc != 0)
			return rc;
		for (size_t k = 0; k < n; k++) {
			struct site_pair *sp = &s->pairs[pr[k].user / 2];

			if (pr[k].state != PROBE_ANSWERED)
				continue;
			got++;
			if (pr[k].user % 2)
				sp->second = responder_of(&pr[k]);
			else
				sp->first = responder_of(&pr[k]);
		}
		dry = got ? 0 : dry + 1;
		limited = 2 * got < n;
	}
	return rc;
}

static int step_sites_rounds(struct dctx *c, int nflows)
{
	int rc = 0;

	c->ev->have_sites = 1;
	progress(c, c->ev->quic ? "asking which QUIC server answers Not-ECT and ECT(0)"
				: "asking which machine answers Not-ECT and ECT(0)");
	for (int round = 0; round < DIAG_CONN_ROUNDS && !engine_stop; round++) {
		int from = c->ev->sites.n;
		int64_t since = now_ns();

		rc = sites_round(c, nflows);
		if (rc < 0)              /* no room for another pair */
			return 0;
		if (rc == 0)
			rc = sites_fill(c, from, since,
					mostly_lost(&c->ev->sites, from));
		if (rc != 0 || !judge_sites_want_more(c->ev, c->p->confidence))
			break;
	}
	return rc;
}

int step_sites(struct dctx *c)
{
	int nflows = c->p->conn_flows > 64 ? 64 : c->p->conn_flows;
	uint64_t path0 = c->res->path_probes;
	int rc = step_sites_rounds(c, nflows);

	/* Like the replay's packets, not path probes (the frugality
	 * measure): only in probes_sent. */
	c->res->path_probes = path0;
	return rc;
}
