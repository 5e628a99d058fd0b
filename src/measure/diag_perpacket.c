/*
 * diag_perpacket: per-packet balancing, measured. Identical probes (one
 * flow, one codepoint, one TTL; only the sequence number differs) reach
 * one responder under any per-flow hash, so two that differ prove
 * per-packet balancing. The converse needs enough of them to agree:
 *  - back to back: a burst pair, sent sooner than any answer can return;
 *    a round robin parts it whatever else it forwards (our RSTs of the
 *    target's SYN-ACKs, the host's traffic), where paced probes alias
 *    with that traffic. A burst counts as one draw: a flowlet balancer
 *    keeps it together.
 *  - paced (1/rate apart): random, weighted and flowlet balancing (whose
 *    flowlet gap is shorter than the pacing) draw each such probe anew.
 * Against a per-packet balancer that draws its paths independently with
 * any weights, the miss probability after the draws is bounded (below);
 * draws are added, in rounds, until it is at most 1 - confidence, or the
 * budget is spent. A probe without an answer is no draw: lost answers
 * only cost another round, never decide.
 */
#include <math.h>
#include <string.h>

#include "diag_probe.h"
#include "stats.h"

#define CONFIRM_ROUNDS 8
#define PP_ROUNDS 4
/* A lone flow's test assumes the smaller path gets at least this share
 * (3:1 weighting); with two parted codepoints no assumption is needed. */
#define PP_MIN_SHARE 0.25
#define PP_MAX_TTL 64

struct pp_obs {
	struct responder ref;        /* the first answer, or the screen's */
	int draws;                   /* draws that agreed with ref */
	int differ;
	int burst_answered;
	int answered, agreed;        /* probes of this test */
};

/* d draws that agree with a first answer, against a balancer whose
 * smaller share is at least PP_MIN_SHARE: (1 - PP_MIN_SHARE)^d. */
static int pp_draws_one(double confidence)
{
	return (int)ceil(log(1.0 - confidence) / log(1.0 - PP_MIN_SHARE) - 1e-9);
}

static int pp_draws_pair(double confidence)
{
	return (int)ceil(log(1.0 - confidence) / log(0.25) - 1e-9);
}

/* One batch of identical-flow probes at ttl, probe k with codepoint
 * ecn[k] tallied into o[which[k]]; back to back if burst. */
static int pp_send(struct dctx *c, uint16_t sport, int ttl, const int *ecn,
		   const int *which, size_t n, int burst, struct pp_obs *o)
{
	struct probe pr[64];
	int agreed[2] = { 0, 0 }, ref_here[2] = { 0, 0 }, rc;

	if (n == 0)
		return 0;
	if (n > 64)
		n = 64;
	for (size_t k = 0; k < n; k++)
		add_probe(c, &pr[k], sport, (uint8_t)ecn[k], ttl);
	rc = burst ? run_burst(c, pr, n) : run_batch(c, pr, n);
	if (rc != 0)
		return rc;
	for (size_t k = 0; k < n; k++) {
		struct responder s = responder_of(&pr[k]);
		struct pp_obs *x = &o[which[k]];

		if (!s.answered)
			continue;
		x->answered++;
		if (burst)
			x->burst_answered = 1;
		if (!x->ref.answered) {
			x->ref = s;
			ref_here[which[k]] = 1;
		} else if (responder_differs(&x->ref, &s)) {
			x->differ = 1;
		} else {
			x->agreed++;
			agreed[which[k]]++;
		}
	}
	for (int w = 0; w < 2; w++)
		o[w].draws += burst ? (agreed[w] > 0 && !ref_here[w]) : agreed[w];
	return 0;
}

/* Are identical probes of one flow and codepoint at ttl balanced per
 * packet? *verdict: 1 yes (two differed), 0 no (the bound is met), -1 not
 * known (too few answers). o may hold earlier agreeing evidence. */
static int pp_test(struct dctx *c, uint16_t sport, int ecn, int ttl,
		   int rounds, struct pp_obs *o, int *verdict)
{
	int need = pp_draws_one(c->p->confidence), rc;
	int ecns[32], which[32] = { 0 };

	for (int k = 0; k < 32; k++)
		ecns[k] = ecn;
	int64_t t0 = 0;

	for (int round = 0; round < rounds && !o->differ && o->draws < need;
	     round++) {
		size_t n;

		if (round)
			pace_retry(t0);
		t0 = now_ns();

		if (!o->burst_answered) {
			rc = pp_send(c, sport, ttl, ecns, which, 2, 1, o);
			if (rc != 0)
				return rc;
			if (o->differ || o->draws >= need)
				break;
		}
		n = (size_t)(need - o->draws);
		if (n > 32)
			n = 32;
		rc = pp_send(c, sport, ttl, ecns, which, n, 0, o);
		if (rc != 0)
			return rc;
	}
	*verdict = o->differ ? 1 : o->draws >= need ? 0 : -1;
	return 0;
}

/* The two codepoints of flow fi parted at the screen TTL: repeat both,
 * each against its first answer. Per-flow (ECN) hash: all agree. Per-
 * packet: the repeats of both would have to stay on the two originals'
 * different paths, which pp_miss_pair() bounds for any weights; repeats
 * go on until the bound is met (or CONFIRM_ROUNDS are spent). */
int confirm_split(struct dctx *c, int fi, int e1, int e2)
{
	struct diag_evidence *ev = c->ev;
	uint16_t sport = ev->flows[fi].sport;
	double miss = 1.0 - c->p->confidence;
	int want = pp_draws_pair(c->p->confidence), rc;
	struct pp_obs o[2];
	const int ecn2[2] = { e1, e2 };
	int64_t t0 = 0;

	memset(o, 0, sizeof(o));
	o[0].ref = ev->flows[fi].by_ecn[e1];
	o[1].ref = ev->flows[fi].by_ecn[e2];
	for (int round = 0; round < CONFIRM_ROUNDS && !o[0].differ &&
			    !o[1].differ &&
			    pp_miss_pair(o[0].draws, o[1].draws) > miss; round++) {
		int ecns[64], which[64];
		size_t n = 0;

		if (round)
			pace_retry(t0);
		t0 = now_ns();

		/* A burst pair of each codepoint (until one is answered). */
		for (int w = 0; w < 2 && !o[0].differ && !o[1].differ; w++) {
			int e[2] = { ecn2[w], ecn2[w] }, wh[2] = { w, w };

			if (o[w].burst_answered)
				continue;
			rc = pp_send(c, sport, ev->screen_ttl, e, wh, 2, 1, o);
			if (rc != 0)
				return rc;
		}
		if (o[0].differ || o[1].differ ||
		    pp_miss_pair(o[0].draws, o[1].draws) <= miss)
			break;
		/* Then paced singles, alternating, up to want draws each. */
		for (int k = 0; n < 32 && k < 2 * want; k++) {
			int w = k % 2;

			if (o[w].draws + k / 2 >= want)
				continue;
			ecns[n] = ecn2[w];
			which[n++] = w;
		}
		if (n == 0)  /* balanced but short: one more of each */
			for (int w = 0; w < 2; w++) {
				ecns[n] = ecn2[w];
				which[n++] = w;
			}
		rc = pp_send(c, sport, ev->screen_ttl, ecns, which, n, 0, o);
		if (rc != 0)
			return rc;
	}
	ev->repeats.answered += o[0].answered + o[1].answered;
	ev->repeats.differed += o[0].answered + o[1].answered -
				o[0].agreed - o[1].agreed;
	ev->split_draws[0] = o[0].draws;
	ev->split_draws[1] = o[1].draws;
	ev->split_seen = !o[0].differ && !o[1].differ;
	return 0;
}

/* Per-packet balancing: the first TTL at which identical probes of one
 * flow reach different responders, by bisection, each step a pp_test():
 * "they differ" is proven by two answers, "they agree" only once the
 * bound is met, so a lost answer cannot pass for agreement. A step that
 * stays unknown moves on as if they agreed and is kept, as
 * split_unknown_from, as the margin of the answer. The router before
 * the split is the one the agreeing probes reached. */
int localize_per_packet(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int lo = 1, hi = ev->screen_ttl, rc, unknown = 0;
	uint16_t sport = ev->flows[0].sport;
	struct responder seen[PP_MAX_TTL + 1];

	memset(seen, 0, sizeof(seen));
	progress(c, "finding the per-packet balancer");
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, v;
		struct pp_obs o[2];

		memset(o, 0, sizeof(o));
		rc = pp_test(c, sport, ECN_NOT_ECT, mid, PP_ROUNDS, o, &v);
		if (rc != 0)
			return rc;
		if (v == 1) {
			hi = mid;
			continue;
		}
		if (mid <= PP_MAX_TTL)
			seen[mid] = o[0].ref;
		if (v < 0 && (unknown == 0 || mid < unknown))
			unknown = mid;
		lo = mid + 1;
	}
	ev->divergence_ttl = lo;
	ev->split_unknown_from = unknown && unknown < lo ? unknown : 0;
	if (lo <= 1)
		return 0;
	if (lo - 1 <= PP_MAX_TTL && seen[lo - 1].answered) {
		ev->balancer = seen[lo - 1];
		return 0;
	}
	/* Not tested on the way: one answer names it. */
	for (int64_t t0 = 0, tries = 0; tries < 3 && !ev->balancer.answered; tries++) {
		struct probe pr;

		if (tries)
			pace_retry(t0);
		t0 = now_ns();

		add_probe(c, &pr, sport, ECN_NOT_ECT, lo - 1);
		rc = run_batch(c, &pr, 1);
		if (rc != 0)
			return rc;
		ev->balancer = responder_of(&pr);
	}
	return 0;
}

/* No screened flow parted its codepoints: per-packet balancing is still
 * possible (a round robin can alias with the traffic it forwards, and a
 * weighted balancer keeps four probes together often). The screen's whole
 * flows a router answered are draws already (three agreeing answers
 * each); add a burst pair and paced probes of the first of them until
 * the bound is met. Flows the target answered are no draws (sites as far
 * away answer alike whichever way a packet went), but with none other
 * the first of them is probed: sites at other distances still tell. */
int screen_per_packet(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct pp_obs o[2];
	int fi = -1, v, rc;

	memset(o, 0, sizeof(o));
	for (int i = 0; i < ev->nflows; i++) {
		if (!ev->flows[i].full || !router_answered(&ev->flows[i]))
			continue;
		if (fi < 0)
			fi = i;
		o[0].draws += 3;
	}
	for (int i = 0; fi < 0 && i < ev->nflows; i++)
		if (ev->flows[i].full)
			fi = i;
	if (fi < 0)
		return 0;
	o[0].ref = ev->flows[fi].by_ecn[ECN_NOT_ECT];
	progress(c, "repeating identical probes");
	/* Two rounds: where ICMP is rate-limited the bound is not met anyway,
	 * and an unknown here changes nothing. */
	rc = pp_test(c, ev->flows[fi].sport, ECN_NOT_ECT, ev->screen_ttl, 2, o, &v);
	ev->same.answered += o[0].answered;
	ev->same.differed += v == 1;
	return rc;
}
