/*
 * judge_compare: the comparisons every fault rests on. Each counts a test
 * group (ECN, ECT(0)) against a control measured the same way (plain,
 * Not-ECT) and scores it with Fisher's exact test; and says when another
 * round of connections or site probes is worth it. Pure.
 */
#include <math.h>

#include "judge_int.h"
#include "stats.h"

/* ---------------------------------------------------------- the replay */

int is_ecn_flow(const struct conn_flow *f)
{
	return !f->control && f->mode != MODE_PLAIN;
}

/* Did this flow's first data go unacknowledged (lost, or answered late)? */
static int data_lost(const struct conn_flow *f)
{
	return f->acked_after_retx || (!f->data_acked && !f->have_rst);
}

/* Did the all-ECT(0) replay of this source port deliver its data? Then
 * the RST its first connection got came from another machine. */
int proven_other(const struct diag_evidence *ev, uint16_t sport)
{
	if (!ev->have_ect_check)
		return 0;
	for (size_t i = 0; i < ev->ect_check.nflows; i++)
		if (ev->ect_check.flows[i].sport == sport)
			return ev->ect_check.flows[i].data_acked &&
			       !ev->ect_check.flows[i].have_rst;
	return 0;
}

int diag_reset_by_other(const struct diag_evidence *ev, const struct conn_flow *f)
{
	return f->result == CR_RESET_OTHER ||
	       (f->result == CR_RESET_SAME && proven_other(ev, f->sport));
}

void judge_all_ect(const struct diag_evidence *ev, int *ok, int *reset)
{
	*ok = *reset = 0;
	if (!ev->have_ect_check)
		return;
	for (size_t i = 0; i < ev->ect_check.nflows; i++) {
		const struct conn_flow *f = &ev->ect_check.flows[i];

		*ok += f->data_acked && !f->have_rst;
		*reset += f->have_rst && f->rst_after_data;
	}
}

/* The all-ECT(0) replay was reset too, and never delivered: the ECT(0)
 * path itself resets data, so an RST is no sign of another machine. */
int ect_path_resets(const struct diag_evidence *ev)
{
	int ok, reset;

	judge_all_ect(ev, &ok, &reset);
	return reset > 0 && ok == 0;
}

/* Is flow f a trial of comparison c, and did it fail? */
static int cmp_trial(enum comparison c, const struct conn_flow *f, int *bad)
{
	switch (c) {
	case CMP_SYN_ANSWER:
		*bad = !f->have_synack && !f->have_rst;
		return 1;
	case CMP_SYN_RESET:
		*bad = !f->have_synack && f->have_rst;
		return 1;
	case CMP_DATA_LOST:
		/* ECT data only where ECN was agreed; every control's data. */
		if (!f->have_synack || (f->have_rst && f->rst_after_data))
			return 0;
		if (is_ecn_flow(f) && (f->data_tos & 3) == ECN_NOT_ECT)
			return 0;
		*bad = data_lost(f);
		return 1;
	case CMP_DATA_RESET:
		if (!f->have_synack || (is_ecn_flow(f) && (f->data_tos & 3) == ECN_NOT_ECT))
			return 0;
		*bad = f->have_rst && f->rst_after_data;
		return 1;
	default:
		return 0;
	}
}

/* ------------------------------------------------- UDP / QUIC sites */

/* A site pair counts when the target itself answered both probes: not a
 * router's error (the probes went the full TTL), nor another address. A
 * firewall that answers ECT(0) probes for the target (admin-prohibited,
 * say) rejects ECT; it is no other site (site_elsewhere). */
int pair_whole(const struct diag_evidence *ev, const struct site_pair *s)
{
	return s->first.answered && s->second.answered &&
	       s->first.kind != REPLY_TIME_EXCEEDED &&
	       s->second.kind != REPLY_TIME_EXCEEDED &&
	       addr_eq(&s->first.addr, &ev->dst) && addr_eq(&s->second.addr, &ev->dst);
}

/* Another machine answered the second probe: the target's Version
 * Negotiations list other versions. The hop count of the way back does
 * not tell: Linux builds an ICMP error's TOS from the probe's, keeping its
 * ECT bit, so a hash on the way back moves only the ECT(0) probes'
 * answers, from the one machine; a path that rejoins does the same. */
int site_moved(const struct responder *a, const struct responder *b)
{
	return a->answered && b->answered && a->quic_ident && b->quic_ident &&
	       a->quic_ident != b->quic_ident;
}

/* Over whole pairs: ECT(0) against Not-ECT, how often the second answer
 * was another machine's (any 0), or differed in any way at all, return
 * hops or kind of reply included (any 1). */
static void site_counts(const struct diag_evidence *ev, int any,
			struct comparison_result *r)
{
	for (int i = 0; ev->have_sites && i < ev->sites.n; i++) {
		const struct site_pair *s = &ev->sites.pairs[i];
		int moved;

		if (!pair_whole(ev, s))
			continue;
		moved = any ? responder_differs(&s->first, &s->second)
			    : site_moved(&s->first, &s->second);
		if (s->ecn != ECN_NOT_ECT) {
			r->test_n++;
			r->test_bad += moved;
		} else {
			r->control_n++;
			r->control_bad += moved;
		}
	}
}

struct comparison_result judge_site_parted(const struct diag_evidence *ev)
{
	struct comparison_result r = { 0, 0, 0, 0, 1.0 };

	site_counts(ev, 1, &r);
	r.p = fisher_greater(r.test_bad, r.test_n, r.control_bad, r.control_n);
	return r;
}

/* Pairs whose first probe the target answered: how often the second was
 * answered by another address (not time-exceeded), ECT(0) against
 * Not-ECT. */
struct comparison_result judge_site_elsewhere(const struct diag_evidence *ev)
{
	struct comparison_result r = { 0, 0, 0, 0, 1.0 };

	for (int i = 0; ev->have_sites && i < ev->sites.n; i++) {
		const struct site_pair *s = &ev->sites.pairs[i];
		int other;

		if (!s->first.answered || !s->second.answered ||
		    s->first.kind == REPLY_TIME_EXCEEDED ||
		    s->second.kind == REPLY_TIME_EXCEEDED ||
		    !addr_eq(&s->first.addr, &ev->dst))
			continue;
		other = !addr_eq(&s->second.addr, &ev->dst);
		if (s->ecn != ECN_NOT_ECT) {
			r.test_n++;
			r.test_bad += other;
		} else {
			r.control_n++;
			r.control_bad += other;
		}
	}
	r.p = fisher_greater(r.test_bad, r.test_n, r.control_bad, r.control_n);
	return r;
}

struct comparison_result judge_compare(const struct diag_evidence *ev,
				       enum comparison c)
{
	struct comparison_result r = { 0, 0, 0, 0, 1.0 };

	if (c == CMP_DEST_ECT) {
		r.test_n = r.control_n = ev->dest_probes;
		r.test_bad = ev->dest_probes - ev->dest_ect_answered;
		r.control_bad = ev->dest_probes - ev->dest_plain_answered;
	} else if (c == CMP_SITE_ECT) {
		site_counts(ev, 0, &r);
	} else if (ev->have_conn) {
		for (size_t i = 0; i < ev->conn.nflows; i++) {
			const struct conn_flow *f = &ev->conn.flows[i];
			int bad = 0;

			if (!cmp_trial(c, f, &bad))
				continue;
			if (is_ecn_flow(f)) {
				r.test_n++;
				r.test_bad += bad;
			} else {
				r.control_n++;
				r.control_bad += bad;
			}
		}
	}
	r.p = fisher_greater(r.test_bad, r.test_n, r.control_bad, r.control_n);
	return r;
}

int significant(const struct comparison_result *c, double confidence)
{
	return c->test_bad > 0 && c->p < 1.0 - confidence + 1e-12;
}

static int reset_after_data_ecn(const struct connect_result *cr)
{
	int n = 0;

	for (size_t i = 0; i < cr->nflows; i++)
		n += is_ecn_flow(&cr->flows[i]) && cr->flows[i].have_rst &&
		     cr->flows[i].rst_after_data;
	return n;
}

/* ECN failed more often than its control (as a rate), short of proof. */
static int leaning(const struct comparison_result *c, double confidence)
{
	return c->test_bad > 0 && !significant(c, confidence) &&
	       (double)c->test_bad * c->control_n >
		       (double)c->control_bad * c->test_n;
}

/* ... and clearly enough to leave the verdict open: p < 0.1 for resets,
 * which loss does not make, p < 0.05 for what loss does (unanswered
 * SYNs, unacknowledged data), which strikes both sides at random and
 * would otherwise leave many a lossy path open. */
int suggestive(enum comparison k, const struct comparison_result *c,
	       double confidence)
{
	int reset = k == CMP_DATA_RESET || k == CMP_SYN_RESET;

	return leaning(c, confidence) && c->p < (reset ? 0.1 : 0.05);
}

/* More connections are worth it while a comparison leans to ECN: a reset
 * is never loss, so any excess of resets with ECN calls for more; a
 * loss-like comparison must lean clearly (p < 0.1). */
static int worth_more(enum comparison k, const struct comparison_result *c,
		      double confidence)
{
	if (k == CMP_DATA_RESET || k == CMP_SYN_RESET)
		return leaning(c, confidence);
	return leaning(c, confidence) && c->p < 0.1;
}

/* The path splits on ECN, yet no ECN connection so far met another
 * machine: before saying today's connections escape it (latent), try a
 * few rounds more. Loss hides the resets a split causes, and a handful of
 * flows can all keep to one site by chance. Not when the server declined
 * ECN: its connections never send ECT data. */
#define LATENT_ROUNDS 3

static int latent_unproven(const struct diag_evidence *ev)
{
	const struct connect_result *cr = &ev->conn;

	return ev->split_seen && ev->conn_rounds < LATENT_ROUNDS &&
	       reset_after_data_ecn(cr) == 0 &&
	       cr->counts[CR_ECN_DECLINED] < cr->p.nflows;
}

static int sites_unproven_lean(const struct diag_evidence *ev, double confidence)
{
	struct comparison_result u = site_unproven(ev);

	return leaning(&u, confidence);
}

/* The site test is looked at after every round, and another round asked
 * for while it leans (judge_sites_want_more): round k may spend only
 * alpha / 2^k, so all the looks together stay within alpha. */
double site_confidence(const struct diag_evidence *ev, double c)
{
	int k = ev->sites.rounds < 1 ? 1 : ev->sites.rounds;

	return 1.0 - (1.0 - c) * ldexp(1.0, -(k > 30 ? 30 : k));
}

int judge_sites_want_more(const struct diag_evidence *ev, double confidence)
{
	struct comparison_result r = judge_compare(ev, CMP_SITE_ECT);

	confidence = site_confidence(ev, confidence);
	/* no hash over ECN parts a control, in any way */
	if (r.control_bad > 0 || judge_site_parted(ev).control_bad > 0)
		return 0;
	if (ev->split_seen && r.test_bad == 0 && ev->sites.rounds < LATENT_ROUNDS)
		return 1;
	/* Answers parted by return hops alone prove no move, but while they
	 * lean to ECT(0), more rounds say whether "healthy" holds (where the
	 * path probes split, the verdict is latent either way). */
	if (!ev->split_seen && sites_unproven_lean(ev, confidence))
		return 1;
	return leaning(&r, confidence);
}

int judge_wants_more(const struct diag_evidence *ev, double confidence)
{
	if (latent_unproven(ev))
		return 1;
	for (int c = CMP_SYN_ANSWER; c <= CMP_DATA_RESET; c++) {
		struct comparison_result r = judge_compare(ev, (enum comparison)c);

		if (worth_more((enum comparison)c, &r, confidence))
			return 1;
	}
	return 0;
}

/* UDP / QUIC: flows moved to another machine by ECT(0), significantly
 * more often than controls moved by nothing. */
int sites_split(const struct diag_evidence *ev,
		const struct comparison_result *ss, double c)
{
	return ev->have_sites && ss->control_bad == 0 &&
	       judge_site_parted(ev).control_bad == 0 &&
	       significant(ss, site_confidence(ev, c));
}

/* Test pairs whose answers parted without another machine shown (return
 * hops, kind of reply), against controls the same: all that differed,
 * less what moved. */
struct comparison_result site_unproven(const struct diag_evidence *ev)
{
	struct comparison_result a = judge_site_parted(ev);
	struct comparison_result m = judge_compare(ev, CMP_SITE_ECT);

	a.test_bad -= m.test_bad;
	a.control_bad -= m.control_bad;
	a.p = fisher_greater(a.test_bad, a.test_n, a.control_bad, a.control_n);
	return a;
}

/* ECT(0) did worse than Not-ECT, as a rate and at p < 0.1. */
int site_leans(const struct comparison_result *r)
{
	return r->test_bad > 0 && r->p < 0.1 &&
	       (double)r->test_bad * r->control_n >
		       (double)r->control_bad * r->test_n;
}
