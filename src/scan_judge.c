/* scan_judge: one target's evidence to its verdict. Pure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "stats.h"

static const char *const status_names[] = {
	[SCAN_HEALTHY] = "healthy", [SCAN_BROKEN] = "broken",
	[SCAN_INCONCLUSIVE] = "inconclusive", [SCAN_UNREACHABLE] = "unreachable",
};

const char *scan_status_name(enum scan_status s)
{
	return s <= SCAN_UNREACHABLE ? status_names[s] : "?";
}

int scan_hops(uint8_t ttl)
{
	int init = ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;

	return init - ttl + 1;
}

static int direct(const struct scan_obs *o)
{
	return o->got == ANS_SYNACK || o->got == ANS_RST;
}

/* The shortest return distance among the target's own answers. */
static int min_hops(const struct scan_evidence *ev)
{
	int best = 0;

	for (int f = 0; f < ev->nflows; f++) {
		const struct scan_obs *o[3] = { &ev->f[f].neg, &ev->f[f].tgt[0],
						&ev->f[f].tgt[1] };

		for (int k = 0; k < 3; k++)
			if (direct(o[k]) && (best == 0 || scan_hops(o[k]->ttl) < best))
				best = scan_hops(o[k]->ttl);
	}
	return best;
}

int scan_screen_ttl(const struct scan_evidence *ev)
{
	int h = min_hops(ev);

	return h > 1 && h - 1 <= SCAN_MAX_TTL ? h - 1 : 0;
}

/* Two SYN-ACKs from one machine: the same distance and fingerprint. */
static int same_print(const struct scan_obs *a, const struct scan_obs *b)
{
	return a->ttl == b->ttl && a->window == b->window && a->mss == b->mss &&
	       a->wscale == b->wscale && a->optsig == b->optsig &&
	       a->have_ts == b->have_ts;
}

/* The same, for two answers of one flow (one 4-tuple): also timestamp
 * clocks that agree with the time between them, within 10000 ticks
 * (clocks run at 10 Hz to 1 kHz; a machine's offset is random per
 * 4-tuple or per address pair, so across flows clocks say nothing). */
static int same_machine(const struct scan_obs *a, const struct scan_obs *b)
{
	if (!same_print(a, b))
		return 0;
	if (a->have_ts) {
		int64_t dts = (int64_t)(int32_t)(a->tsval - b->tsval);
		int64_t dt = (int64_t)a->t_ms - (int64_t)b->t_ms;

		if (llabs(dts - dt) > 10000 && llabs(dts) > 10000)
			return 0;
	}
	return 1;
}

static int count_machines(const struct scan_evidence *ev)
{
	const struct scan_obs *seen[3 * SCAN_MAX_FLOWS];
	int n = 0, clocks = 0;

	for (int f = 0; f < ev->nflows; f++) {
		const struct scan_obs *o[3] = { &ev->f[f].neg, &ev->f[f].tgt[0],
						&ev->f[f].tgt[1] };

		if (o[1]->got == ANS_SYNACK && o[2]->got == ANS_SYNACK &&
		    same_print(o[1], o[2]) && !same_machine(o[1], o[2]))
			clocks = 2;
		for (int k = 0; k < 3; k++) {
			int known = 0;

			if (o[k]->got != ANS_SYNACK)
				continue;
			for (int i = 0; i < n && !known; i++)
				known = same_print(seen[i], o[k]);
			if (!known)
				seen[n++] = o[k];
		}
	}
	return n > clocks ? n : clocks;
}

static void count_setup(const struct scan_obs *o, struct scan_setup_count *c)
{
	if (o->got == ANS_SYNACK) {
		c->answered++;
		c->ece += o->ece;
	} else if (o->got == ANS_RST) {
		c->reset++;
	} else {
		c->dropped++;
	}
}

static int rep_parts(const struct scan_rep *a, const struct scan_rep *b)
{
	return a->answered && b->answered && !addr_eq(&a->first, &b->first);
}

int scan_parted(const struct scan_evidence *ev, int *flow, int *ecn)
{
	static const int other[3] = { ECN_ECT0, ECN_ECT1, ECN_CE };

	for (int f = 0; f < ev->nflows; f++)
		for (int k = 0; k < 3; k++)
			if (rep_parts(&ev->f[f].scr[ECN_NOT_ECT],
				      &ev->f[f].scr[other[k]])) {
				*flow = f;
				*ecn = other[k];
				return 0;
			}
	return -1;
}

/* What the screen says: the best (smallest) chance that a per-packet
 * balancer made a parted flow look hashed, whether some flow parted
 * without being consistent, and the chance that an ECN hash over two
 * paths would show no parting in the flows answered. */
struct screen_sum {
	double p_parted;
	int flow, ecn;
	int parted, inconsistent;
	double p_missed;
	int answered;
};

static void sum_flow(const struct scan_flow *fl, int fi, struct screen_sum *s)
{
	static const int other[3] = { ECN_ECT0, ECN_ECT1, ECN_CE };
	const struct scan_rep *r0 = &fl->scr[ECN_NOT_ECT];
	int agree = 0, parted = 0;

	for (int k = 0; k < 3; k++) {
		const struct scan_rep *r = &fl->scr[other[k]];

		if (!r0->answered || !r->answered)
			continue;
		s->answered = 1;
		if (!rep_parts(r0, r)) {
			agree++;
			s->inconsistent |= r0->differed || r->differed;
			continue;
		}
		parted = 1;
		if (r0->differed || r->differed) {
			s->inconsistent = 1;
			continue;
		}
		/* The first answers chose the flow; only the repeats, fresh
		 * draws, count against a per-packet balancer. */
		double p = pp_miss_pair(r0->answered - 1, r->answered - 1);

		if (p < s->p_parted) {
			s->p_parted = p;
			s->flow = fi;
			s->ecn = other[k];
		}
	}
	s->parted |= parted;
	/* Over two paths each other codepoint lands on Not-ECT's with
	 * chance 1/2 at worst (more paths make it smaller). */
	if (!parted)
		s->p_missed *= pow(0.5, agree);
}

static void sum_screen(const struct scan_evidence *ev, struct screen_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->p_parted = 1.0;
	s->p_missed = 1.0;
	s->flow = -1;
	for (int f = 0; f < ev->nflows; f++)
		sum_flow(&ev->f[f], f, s);
}

/* Did the target's own answers to Not-ECT and ECT(0) of one flow come
 * from two machines? Evidence against health, too weak alone. */
static int target_parts(const struct scan_evidence *ev)
{
	for (int f = 0; f < ev->nflows; f++) {
		const struct scan_obs *a = &ev->f[f].tgt[0], *b = &ev->f[f].tgt[1];

		if (a->got == ANS_SYNACK && b->got == ANS_SYNACK &&
		    !same_machine(a, b))
			return 1;
	}
	return 0;
}

/* The splitting hop from the localisation: the first TTL where the two
 * codepoints meet different routers, the router one hop before it; hops
 * in between that did not answer both make it an interval. */
static void judge_split(const struct scan_evidence *ev, struct scan_split *sp)
{
	int s = ev->screen_ttl, div = s, last_same = 0;

	memset(sp, 0, sizeof(*sp));
	for (int t = 1; t < s; t++) {
		const struct scan_hopans *a = &ev->loc[t][0], *b = &ev->loc[t][1];

		if (!a->got || !b->got)
			continue;
		if (!addr_eq(&a->a, &b->a)) {
			div = t;
			break;
		}
		last_same = t;
	}
	sp->hop_first = last_same;
	sp->hop_last = div - 1;
	if (last_same >= 1)
		sp->candidate = ev->loc[last_same][0].a;
	if (last_same == div - 1) {
		sp->known = 1;
		sp->hop = last_same;
		sp->addr = sp->candidate;
	}
}

static void judge_path(const struct scan_evidence *ev, double alpha,
		       struct scan_verdict *v)
{
	struct screen_sum s;
	/* One flow is repeated: its repeats are the one test. */
	double tests = 1.0;

	sum_screen(ev, &s);
	if (s.flow >= 0 && s.p_parted * tests <= alpha) {
		v->dependent = 1;
		v->confidence = 1.0 - s.p_parted * tests;
		v->status = SCAN_BROKEN;
		v->parted_flow = s.flow;
		v->parted_ecn = s.ecn;
		return;
	}
	v->status = SCAN_INCONCLUSIVE;
	if (s.parted || s.inconsistent) {
		v->reason = s.inconsistent ? "per-packet" : "parted-unconfirmed";
		return;
	}
	if (ev->screen_ttl == 0) {
		v->reason = v->hops == 1 ? NULL : "no-screen";
		if (v->hops == 1) {      /* no router between: nothing hashes */
			v->dependent = 0;
			v->confidence = 1.0;
			v->status = SCAN_HEALTHY;
		}
		return;
	}
	if (!s.answered) {
		v->reason = "screen-silent";
		return;
	}
	if (target_parts(ev)) {
		v->reason = "machines-differ";
		return;
	}
	if (s.p_missed > alpha) {
		v->reason = "few-answers";
		return;
	}
	v->dependent = 0;
	v->confidence = 1.0 - s.p_missed;
	v->status = SCAN_HEALTHY;
}

void scan_judge(const struct scan_evidence *ev, double conf,
		struct scan_verdict *v)
{
	double alpha = 1.0 - conf;
	int any = 0;

	memset(v, 0, sizeof(*v));
	v->dependent = -1;
	v->parted_flow = -1;
	for (int f = 0; f < ev->nflows; f++) {
		count_setup(&ev->f[f].neg, &v->ecn);
		count_setup(&ev->f[f].tgt[0], &v->plain);
		any |= direct(&ev->f[f].neg) || direct(&ev->f[f].tgt[0]) ||
		       direct(&ev->f[f].tgt[1]);
		for (int e = 0; e < 4; e++)
			any |= ev->f[f].scr[e].answered > 0;
	}
	v->hops = min_hops(ev);
	v->screen_ttl = ev->screen_ttl;
	v->machines = count_machines(ev);
	if (!any) {
		v->status = SCAN_UNREACHABLE;
		v->reason = "no-answer";
		return;
	}
	judge_path(ev, alpha, v);
	if (v->dependent == 1 && ev->located) {
		v->has_split = 1;
		judge_split(ev, &v->split);
	}
	/* ECN-setup SYNs refused where plain ones are answered, more than
	 * chance explains: an ECN fault of another kind. */
	if (v->dependent != 1 && v->plain.answered > 0 &&
	    fisher_greater(v->ecn.reset + v->ecn.dropped, ev->nflows,
			   v->plain.reset + v->plain.dropped, ev->nflows) <= alpha) {
		v->status = SCAN_BROKEN;
		v->reason = "ecn-setup-refused";
	}
	if (v->status == SCAN_HEALTHY && v->plain.answered == 0 &&
	    v->ecn.answered == 0)
		v->status = SCAN_UNREACHABLE;
}
