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

int scan_direct_flows(const struct scan_evidence *ev)
{
	return ev->direct_flows > 0 && ev->direct_flows < ev->nflows ?
	       ev->direct_flows : ev->nflows;
}

int scan_repeats_for(double conf)
{
	int r = 1;

	while (r < 7 && pp_miss_pair(r, r) > 1.0 - conf)
		r++;
	return r;
}

int scan_hops(uint8_t ttl)
{
	int init = ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;

	return init - ttl + 1;
}

/* A flow's three direct answers: the ECN-setup SYN's, then the plain
 * SYN's with Not-ECT and with ECT(0). */
static void flow_obs(const struct scan_evidence *ev, int f,
		     const struct scan_obs *o[3])
{
	o[0] = &ev->f[f].neg;
	o[1] = &ev->f[f].tgt[0];
	o[2] = &ev->f[f].tgt[1];
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
		const struct scan_obs *o[3];

		flow_obs(ev, f, o);

		for (int k = 0; k < 3; k++)
			if (direct(o[k]) && (best == 0 || scan_hops(o[k]->ttl) < best))
				best = scan_hops(o[k]->ttl);
	}
	return best;
}

int scan_hops_min(const struct scan_evidence *ev)
{
	return min_hops(ev);
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
		const struct scan_obs *o[3];

		flow_obs(ev, f, o);

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

/* A router's answer: time-exceeded from another address than the
 * target's, every answer of that kind. The target's own SYN-ACK or RST
 * (the screen TTL reached it) or an unreachable (a filter) is no router
 * and says nothing about where the path went. */
static int router_rep(const struct scan_rep *r)
{
	return r->answered && r->kind == ANS_ICMP_TE && r->kinddiff == 0;
}

static int rep_parts(const struct scan_rep *a, const struct scan_rep *b)
{
	return router_rep(a) && router_rep(b) && !addr_eq(&a->first, &b->first);
}

static int target_kind(int kind)
{
	return kind == ANS_SYNACK || kind == ANS_RST;
}

int scan_parted(const struct scan_evidence *ev, int *flow, int *ecn)
{
	return scan_parted_from(ev, 0, flow, ecn);
}

int scan_parted_from(const struct scan_evidence *ev, int from, int *flow,
		     int *ecn)
{
	static const int other[3] = { ECN_ECT0, ECN_ECT1, ECN_CE };

	for (int f = from < 0 ? 0 : from; f < 2 * ev->nflows; f++)
		for (int k = 0; k < 3; k++)
			if (rep_parts(&ev->scr[f][ECN_NOT_ECT],
				      &ev->scr[f][other[k]])) {
				*flow = f;
				*ecn = other[k];
				return 0;
			}
	return -1;
}

/* What the screen says: the chance that a per-packet balancer made the
 * parted flows look hashed (the product over the flows parted alike on
 * every repeat: each flow's repeats are its own draws), the flow whose
 * repeats say most, whether some flow's identical probes met different
 * routers (per-packet: then nothing is hashed on ECN that we could
 * tell), and the chance that an ECN hash over two paths would show no
 * parting in the flows answered. */
struct screen_sum {
	double p_parted, p_best;
	int flow, ecn;
	int parted, inconsistent;
	int nparted;                 /* flows parted on every repeat */
	int partial;                 /* flows some codepoints of which a
				      * router answered, and not all */
	struct addr router;          /* the first router that answered */
	int routers;                 /* 0, 1, or 2 for more than one */
	double p_missed;             /* (1/2)^(whole flows alike) */
	int answered;
	int kind_odd;                /* a flow's codepoints got answers of
				      * different kinds (one a router's) */
	int reached;                 /* the target answered a screen probe */
};

static void sum_flow(const struct scan_rep *scr, int fi, struct screen_sum *s)
{
	static const int other[3] = { ECN_ECT0, ECN_ECT1, ECN_CE };
	const struct scan_rep *r0 = &scr[ECN_NOT_ECT];
	int agree = 0, parted = 0;
	double best = 1.0;

	for (int k = 0; k < 3; k++) {
		const struct scan_rep *r = &scr[other[k]];

		if (!r0->answered || !r->answered)
			continue;
		s->reached |= target_kind(r0->kind) || target_kind(r->kind);
		if (!router_rep(r0) || !router_rep(r)) {
			/* Time-exceeded for one codepoint and another answer
			 * for the other: a filter, or paths of other lengths;
			 * neither a split nor agreement. Both not routers:
			 * nothing seen. */
			s->kind_odd |= router_rep(r0) || router_rep(r) ||
				       r0->kind != r->kind || r0->kinddiff ||
				       r->kinddiff;
			/* Identical probes answered by a router and by the
			 * target (or a filter): per-packet. */
			s->inconsistent |= r0->kinddiff || r->kinddiff;
			continue;
		}
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

		if (p < best)
			best = p;
		if (p < s->p_best) {
			s->p_best = p;
			s->flow = fi;
			s->ecn = other[k];
		}
	}
	s->p_parted *= best;
	s->nparted += best < 1.0;
	int by_router = 0;

	for (int e = 0; e < 4; e++)
		if (router_rep(&scr[e])) {
			by_router++;
			if (s->routers == 0) {
				s->router = scr[e].first;
				s->routers = 1;
			} else if (!addr_eq(&s->router, &scr[e].first)) {
				s->routers = 2;
			}
		}
	s->partial += by_router > 0 && by_router < 4;
	s->parted |= parted;
	/* Only a whole flow counts for health: all four codepoints answered
	 * by routers, alike. A hash that one codepoint alone moves (CE) hides
	 * in such a flow with chance 1/2 at worst over two paths (more paths
	 * make it smaller); a flow with answers missing may have lost just
	 * the one that parts (a site keeps a half-open connection whose reset
	 * was lost and answers that flow's next SYN with no SYN-ACK). */
	if (!parted && agree == 3)
		s->p_missed *= 0.5;
}

static void sum_screen(const struct scan_evidence *ev, struct screen_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->p_parted = s->p_best = 1.0;
	s->p_missed = 1.0;
	s->flow = -1;
	for (int f = 0; f < 2 * ev->nflows; f++)
		sum_flow(ev->scr[f], f, s);
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

/* Did both codepoints of hop t get router answers, each from one
 * address every time? */
static int hop_router(const struct scan_hopans *h)
{
	return h->got && h->kind == ANS_ICMP_TE && h->kinddiff == 0 &&
	       h->differed == 0;
}

/* Are the codepoints' routers at hop t (parted) and t - 1 (alike) each
 * the same on every repeat, more than a per-packet balancer upstream
 * explains at alpha? The first answers chose the routers; only the
 * repeats are draws. At the screen's hop the screen's repeats (judged
 * already) are that test. */
static int split_confirmed(const struct scan_evidence *ev, int t, double alpha)
{
	const struct scan_hopans *a = &ev->loc[t % SCAN_MAX_TTL][0];
	const struct scan_hopans *b = &ev->loc[t % SCAN_MAX_TTL][1];

	if (t < ev->screen_ttl &&
	    (!hop_router(a) || !hop_router(b) ||
	     pp_miss_pair(a->answered - 1, b->answered - 1) > alpha))
		return 0;
	if (t == 1)                  /* hop 0 is this host */
		return 1;
	a = &ev->loc[t - 1][0];
	b = &ev->loc[t - 1][1];
	return hop_router(a) && hop_router(b) && a->answered >= 2 &&
	       b->answered >= 2;
}

/* The splitting hop from the localisation: the first TTL where the two
 * codepoints meet different routers, the router one hop before it; hops
 * in between that did not answer both make it an interval. A router is
 * named only when repeats at both hops rule out chance; until then the
 * split is an interval up to the screen's hop before, and confirm_hop
 * asks for the repeats. A hop whose answers are not all time-exceeded
 * from one router (a filter's unreachable) ends the walk: no split
 * named past what is known alike. */
static void judge_split(const struct scan_evidence *ev, double alpha,
			struct scan_split *sp)
{
	int s = ev->screen_ttl, div = s, last_same = 0;

	memset(sp, 0, sizeof(*sp));
	for (int t = 1; t < s; t++) {
		const struct scan_hopans *a = &ev->loc[t][0], *b = &ev->loc[t][1];

		if (!a->got || !b->got)
			continue;
		if (!hop_router(a) || !hop_router(b) || !addr_eq(&a->a, &b->a)) {
			div = t;
			break;
		}
		last_same = t;
	}
	sp->hop_first = last_same;
	sp->hop_last = div - 1;
	if (last_same >= 1)
		sp->candidate = ev->loc[last_same][0].a;
	if (last_same == div - 1 && div > 0) {
		if (split_confirmed(ev, div, alpha)) {
			sp->known = 1;
			sp->hop = last_same;
			sp->addr = sp->candidate;
		} else {
			sp->confirm_hop = div;
			sp->hop_last = s - 1;
		}
	}
}

/* No router between us and the target: every answer of its own came
 * back in one hop, and a TTL-1 probe reached it. */
static int one_hop(const struct scan_evidence *ev)
{
	for (int f = 0; f < ev->nflows; f++) {
		const struct scan_obs *o[3];

		flow_obs(ev, f, o);

		for (int k = 0; k < 3; k++)
			if (direct(o[k]) && scan_hops(o[k]->ttl) != 1)
				return 0;
	}
	return min_hops(ev) == 1 && ev->ttl1_reached > 0;
}

/* How many return distances the target's SYN-ACKs came from (1 or 2). */
static int target_distances(const struct scan_evidence *ev)
{
	int first = 0;

	for (int f = 0; f < ev->nflows; f++) {
		const struct scan_obs *o[3];

		flow_obs(ev, f, o);

		for (int k = 0; k < 3; k++) {
			if (o[k]->got != ANS_SYNACK)
				continue;
			if (first == 0)
				first = scan_hops(o[k]->ttl);
			else if (scan_hops(o[k]->ttl) != first)
				return 2;
		}
	}
	return first ? 1 : 0;
}

static void judge_path(const struct scan_evidence *ev, double alpha,
		       struct scan_verdict *v)
{
	struct screen_sum s;
	/* The repeated flows' repeats are the one test (their product). */
	double tests = 1.0;

	sum_screen(ev, &s);
	if (s.flow >= 0 && !s.inconsistent && s.p_parted * tests <= alpha &&
	    (!ev->pp_suspect || s.nparted >= 2)) {
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
		v->reason = "no-screen";
		if (one_hop(ev)) {       /* no router between: nothing hashes */
			v->reason = NULL;
			v->dependent = 0;
			v->confidence = 1.0;
			v->status = SCAN_HEALTHY;
		}
		return;
	}
	if (s.kind_odd) {
		v->reason = s.reached ? "screen-reached-target" : "reply-kind-differs";
		return;
	}
	if (!s.answered) {
		v->reason = s.reached ? "screen-reached-target" : "screen-silent";
		return;
	}
	if (target_parts(ev)) {
		v->reason = "machines-differ";
		return;
	}
	/* The whole flows must not be a sample the losses chose: a hash
	 * whose parting codepoint went to a silent router leaves exactly the
	 * flows that agree whole. One short flow is allowed (the default
	 * 8 ports need 7 whole at 0.99). */
	if (s.p_missed > alpha || s.partial > 1) {
		v->reason = "few-answers";
		return;
	}
	/* The target's answers come from two distances, yet one router
	 * answered every screen probe: the paths part at or after the
	 * screen, where it cannot see (the screen is the splitter). */
	if (s.routers == 1 && target_distances(ev) > 1) {
		v->reason = "machines-differ";
		return;
	}
	v->dependent = 0;
	v->confidence = 1.0 - s.p_missed;
	v->status = SCAN_HEALTHY;
}

/* ECN-setup SYNs refused where plain ones are answered, more than chance
 * explains: an ECN fault of another kind, at 1 - p of that test. Refused
 * more often but not significantly: no healthy verdict on it. */
static void judge_setup(const struct scan_evidence *ev, double alpha,
			struct scan_verdict *v)
{
	int ecn_bad = v->ecn.reset + v->ecn.dropped;
	int plain_bad = v->plain.reset + v->plain.dropped;
	double p;

	if (v->dependent == 1 || v->plain.answered == 0 || ecn_bad <= plain_bad)
		return;
	p = fisher_greater(ecn_bad, scan_direct_flows(ev), plain_bad,
			   scan_direct_flows(ev));
	if (p <= alpha) {
		v->status = SCAN_BROKEN;
		v->reason = "ecn-setup-refused";
		v->confidence = 1.0 - p;
	} else if (v->status == SCAN_HEALTHY) {
		v->status = SCAN_INCONCLUSIVE;
		v->reason = "ecn-setup-unconfirmed";
		v->dependent = -1;
		v->confidence = 0;
	}
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
		if (f < scan_direct_flows(ev)) {
			count_setup(&ev->f[f].neg, &v->ecn);
			count_setup(&ev->f[f].tgt[0], &v->plain);
		}
		any |= direct(&ev->f[f].neg) || direct(&ev->f[f].tgt[0]) ||
		       direct(&ev->f[f].tgt[1]);
		for (int e = 0; e < 4; e++)
			any |= ev->scr[f][e].answered > 0 ||
			       ev->scr[ev->nflows + f][e].answered > 0;
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
		judge_split(ev, alpha, &v->split);
	}
	judge_setup(ev, alpha, v);
	if (v->status == SCAN_HEALTHY && v->plain.answered == 0 &&
	    v->ecn.answered == 0)
		v->status = SCAN_UNREACHABLE;
}

/* P(X >= n), X ~ Binomial(N, p), summed upwards from n in logs (the
 * terms shrink geometrically above the mean); 1 at or below the mean,
 * where it says nothing anyway, and when the sum would take too long. */
static double binom_upper(uint64_t N, double p, uint64_t n)
{
	double sum = 0.0, lgN = lgamma((double)N + 1);

	if (n == 0)
		return 1.0;
	if (n > N || p <= 0.0)
		return 0.0;
	if (p >= 1.0 || (double)n <= (double)N * p)
		return 1.0;
	for (uint64_t k = n; k <= N; k++) {
		double t = exp(lgN - lgamma((double)k + 1) -
			       lgamma((double)(N - k) + 1) + (double)k * log(p) +
			       (double)(N - k) * log1p(-p));

		sum += t;
		if (t <= sum * 1e-12)
			break;
		if (k - n > 1000000)
			return 1.0;
	}
	return sum > 1.0 ? 1.0 : sum;
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

double scan_router_p(const struct scan_summary *s, const struct scan_router *r)
{
	uint64_t N = s->screened > r->n ? s->screened : r->n;
	double best = 1.0, tries = 0.0, *pv;

	if (r->n == 0 || (pv = malloc(r->n * sizeof(*pv))) == NULL)
		return 1.0;
	memcpy(pv, r->pv, r->n * sizeof(*pv));
	qsort(pv, r->n, sizeof(*pv), dbl_cmp);
	for (size_t j = 1;; j = j * 2 > r->n && j < r->n ? r->n : j * 2) {
		double q = binom_upper(N, pv[j - 1], j);

		if (q < best)
			best = q;
		tries++;
		if (j >= r->n)
			break;
	}
	free(pv);
	best *= tries * (double)(s->nrouters ? s->nrouters : 1);
	return best > 1.0 ? 1.0 : best;
}
