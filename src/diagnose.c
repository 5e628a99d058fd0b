/* diagnose: the measurement. Fills the evidence; judge() decides, the
 * writers speak. Never prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "diagnose.h"

/* DSCP values tried against the same flow to see whether the hash
 * includes DSCP: af11, ef, cs1. */
static const uint8_t dscp_try[] = { 10, 46, 8 };

/* ECN codepoints in the order a flow is screened. */
static const int ecn_order[4] = { ECN_NOT_ECT, ECN_ECT0, ECN_ECT1, ECN_CE };

struct dctx {
	struct engine *e;
	const struct diag_params *p;
	struct diag_result *res;
	struct diag_evidence *ev;
	uint32_t token;
	char *err;
	size_t errlen;
};

int repeats_needed(double c)
{
	return (int)ceil(log2(1.0 / (1.0 - c)) - 1e-9);
}

int flows_needed(double c)
{
	return (int)ceil(log(1.0 - c) / log(1.0 / 8.0) - 1e-9);
}

static struct responder responder_of(const struct probe *p)
{
	struct responder s;

	memset(&s, 0, sizeof(s));
	if (p->state != PROBE_ANSWERED)
		return s;
	s.answered = 1;
	s.addr = p->reply.src;
	s.kind = p->reply.kind;
	s.reply = reply_name(&p->reply);
	if (s.kind != REPLY_TIME_EXCEEDED)
		s.hops = return_hops(p->reply.ttl);
	return s;
}

static struct flow path_flow(const struct diag_params *p, uint16_t sport,
			     uint8_t tos)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.src = p->src;
	f.dst = p->dst;
	f.proto = IPPROTO_TCP;
	f.sport = sport;
	f.dport = p->dport;
	f.tos = tos;
	return f;
}

/* Send a batch of probes and wait for them all. */
static int run_batch(struct dctx *c, struct probe *pr, size_t n)
{
	struct run_opts o = {
		.rate = c->p->rate, .timeout_ns = c->p->timeout_ns,
		.on_tick = c->p->on_tick, .ctx = c->p->ctx,
	};
	uint64_t before = c->e->sent;
	int rc = engine_run(c->e, pr, n, &o, c->err, c->errlen);

	c->res->path_probes += c->e->sent - before;
	return rc;
}

static void add_probe(struct dctx *c, struct probe *pr, uint16_t sport,
		      uint8_t tos, int ttl)
{
	struct flow f = path_flow(c->p, sport, tos);

	flow_probe(&f, ttl, c->p->sport_base * 65536u + c->token++, pr);
}

static void progress(struct dctx *c, const char *phase)
{
	if (c->p->on_progress)
		c->p->on_progress(c->p->ctx, phase);
}

/* Step 1: trace one flow with ECT(0); if the target is not reached, trace
 * it again Not-ECT to tell an ECT black hole from a silent target. */
static int step_trace(struct dctx *c)
{
	struct trace_params tp;
	int rc;

	memset(&tp, 0, sizeof(tp));
	tp.flow = path_flow(c->p, c->p->sport_base, ECN_ECT0);
	tp.first_ttl = 1;
	tp.max_ttl = c->p->max_ttl;
	tp.nqueries = 1;
	tp.timeout_ns = c->p->timeout_ns;
	tp.rate = c->p->rate;
	tp.token_base = c->p->sport_base * 65536u + 40000;
	tp.on_tick = c->p->on_tick;
	progress(c, "tracing the path with ECT(0)");
	rc = trace_run(c->e, &tp, &c->ev->trace, c->err, c->errlen);
	c->res->path_probes += c->ev->trace.sent;
	if (rc != 0 || c->ev->trace.dest_ttl)
		return rc;
	progress(c, "tracing the path Not-ECT");
	tp.flow.tos = ECN_NOT_ECT;
	tp.token_base += 1000;
	rc = trace_run(c->e, &tp, &c->ev->plain, c->err, c->errlen);
	c->ev->have_plain_trace = 1;
	c->res->path_probes += c->ev->plain.sent;
	return rc;
}

/* Screen flows [from, to) with all four codepoints at the screen TTL. */
static int screen_flows(struct dctx *c, int from, int to)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[4 * DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc;

	for (int i = from; i < to; i++) {
		if (ev->flows[i].sport == 0)  /* else a flow chosen by the caller */
			ev->flows[i].sport = (uint16_t)(c->p->sport_base + 1 + i);
		for (int k = 0; k < 4; k++) {
			add_probe(c, &pr[n], ev->flows[i].sport,
				  (uint8_t)ecn_order[k], ev->screen_ttl);
			pr[n++].user = i * 4 + ecn_order[k];
		}
	}
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct diag_flow *f = &ev->flows[pr[k].user / 4];

		f->by_ecn[pr[k].user % 4] = responder_of(&pr[k]);
	}
	for (int i = from; i < to; i++) {
		ev->flows[i].full = 1;
		for (int k = 0; k < 4; k++)
			ev->flows[i].full &= ev->flows[i].by_ecn[k].answered;
	}
	if (to > ev->nflows)
		ev->nflows = to;
	return rc;
}

/* Ask again for the codepoints of screened flows that got no answer
 * (rate-limited ICMP, usually): cheaper than new flows, which the same
 * routers would limit too. Returns the number of probes sent. */
static int screen_fill(struct dctx *c, size_t *answered)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[4 * DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc;

	*answered = 0;
	for (int i = 0; i < ev->nflows; i++) {
		int some = 0;

		/* A flow with no answer at all meets a silent router, not a
		 * rate limit: asking again would only wait. */
		for (int k = 0; k < 4; k++)
			some |= ev->flows[i].by_ecn[k].answered;
		for (int k = 0; k < 4 && some && !ev->flows[i].full; k++) {
			int e = ecn_order[k];

			if (ev->flows[i].by_ecn[e].answered)
				continue;
			add_probe(c, &pr[n], ev->flows[i].sport, (uint8_t)e,
				  ev->screen_ttl);
			pr[n++].user = i * 4 + e;
		}
	}
	if (n == 0)
		return 0;
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct diag_flow *f = &ev->flows[pr[k].user / 4];

		if (pr[k].state == PROBE_ANSWERED) {
			f->by_ecn[pr[k].user % 4] = responder_of(&pr[k]);
			(*answered)++;
		}
	}
	for (int i = 0; i < ev->nflows; i++) {
		ev->flows[i].full = 1;
		for (int k = 0; k < 4; k++)
			ev->flows[i].full &= ev->flows[i].by_ecn[k].answered;
	}
	return rc;
}

/* One flow, one pair of codepoints that part: which? */
static int flow_split(const struct diag_flow *f, int *e1, int *e2)
{
	for (int a = 0; a < 4; a++)
		for (int b = a + 1; b < 4; b++)
			if (responder_differs(&f->by_ecn[ecn_order[a]],
					      &f->by_ecn[ecn_order[b]])) {
				*e1 = ecn_order[a];
				*e2 = ecn_order[b];
				return 1;
			}
	return 0;
}

/* Re-send the two differing probes; identical probes must agree for a
 * hash, and a per-packet balancer makes them disagree. */
#define CONFIRM_ROUNDS 5
#define FILL_ROUNDS 3

static int confirm_split(struct dctx *c, int fi, int e1, int e2)
{
	struct diag_evidence *ev = c->ev;
	struct repeat_count *n = &ev->repeats;
	int need = repeats_needed(c->p->confidence), rc;

	/* Rounds, because routers rate-limit their ICMP (Linux: a burst of
	 * six, then one a second): what a round loses, the next one asks
	 * again, after the previous round's wait has let the limit refill. */
	for (int round = 0; round < CONFIRM_ROUNDS && n->differed == 0 &&
			    n->answered < need; round++) {
		int each = (need - n->answered + 1) / 2;
		struct probe pr[64];
		size_t np = 0;

		if (each > 32)
			each = 32;
		/* Identical probes go out back to back, so a round-robin
		 * balancer (which alternation would alias) splits them too. */
		for (int k = 0; k < 2 * each; k++) {
			int ecn = (k / 2) % 2 ? e2 : e1;

			add_probe(c, &pr[np], ev->flows[fi].sport, (uint8_t)ecn,
				  ev->screen_ttl);
			pr[np++].user = ecn;
		}
		rc = run_batch(c, pr, np);
		if (rc != 0)
			return rc;
		for (size_t k = 0; k < np; k++) {
			struct responder s = responder_of(&pr[k]);
			const struct responder *orig = &ev->flows[fi].by_ecn[pr[k].user];

			if (!s.answered)
				continue;
			n->answered++;
			n->differed += responder_differs(&s, orig);
		}
	}
	ev->split_seen = n->differed == 0;
	return 0;
}

/* Probe flow fi with codepoints e1 and e2 at ttl; fills a and b. */
static int probe_pair(struct dctx *c, int fi, int e1, int e2, int ttl,
		      struct responder *a, struct responder *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	/* Ask again only for what did not come: a rate-limited router
	 * answers one of the two often enough. */
	for (int tries = 0; tries < 3 && !(a->answered && b->answered); tries++) {
		struct probe pr[2];
		struct responder *slot[2];
		size_t n = 0;
		int rc;

		if (!a->answered) {
			add_probe(c, &pr[n], c->ev->flows[fi].sport, (uint8_t)e1, ttl);
			slot[n++] = a;
		}
		if (!b->answered) {
			add_probe(c, &pr[n], c->ev->flows[fi].sport, (uint8_t)e2, ttl);
			slot[n++] = b;
		}
		rc = run_batch(c, pr, n);
		if (rc != 0)
			return rc;
		for (size_t k = 0; k < n; k++)
			*slot[k] = responder_of(&pr[k]);
	}
	return 0;
}

/* The first TTL in [lo, hi) at which flow fi's codepoints part, probing
 * every TTL of the interval (they part at hi). TTLs that do not answer
 * just before it go into split_unknown_from: the split may lie there. */
static int scan_split(struct dctx *c, int fi, int e1, int e2, int lo, int hi)
{
	struct diag_evidence *ev = c->ev;
	int first = hi, last_same = lo - 1;
	struct responder a, b;

	for (int t = lo; t < hi; t++) {
		int rc = probe_pair(c, fi, e1, e2, t, &a, &b);

		if (rc != 0)
			return rc;
		if (responder_differs(&a, &b)) {
			first = t;
			ev->split_at[0] = a;
			ev->split_at[1] = b;
			break;
		}
		if (a.answered && b.answered)
			last_same = t;
	}
	ev->divergence_ttl = first;
	ev->split_unknown_from = last_same < first - 1 ? last_same + 1 : 0;
	return 0;
}

/* Step 3: the first TTL at which the two codepoints of the split flow
 * reach different responders, by bisection (they differ at the screen
 * TTL); then the router one hop before. */
static int localize_split(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int fi = ev->split_flow, e1 = ev->split_ecn[0], e2 = ev->split_ecn[1];
	int lo = 1, hi = ev->screen_ttl, rc;
	struct responder a, b;

	ev->split_at[0] = ev->flows[fi].by_ecn[e1];
	ev->split_at[1] = ev->flows[fi].by_ecn[e2];
	progress(c, "finding the hop where the path splits");
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		rc = probe_pair(c, fi, e1, e2, mid, &a, &b);
		if (rc != 0)
			return rc;
		if (responder_differs(&a, &b)) {
			hi = mid;
			ev->split_at[0] = a;
			ev->split_at[1] = b;
		} else if (a.answered && b.answered) {
			lo = mid + 1;
		} else {
			/* A silent hop says neither: bisection would guess. Walk
			 * the rest of the interval instead, and keep what stays
			 * unknown as the margin of the answer. */
			rc = scan_split(c, fi, e1, e2, lo, hi);
			if (rc != 0)
				return rc;
			lo = ev->divergence_ttl;
			break;
		}
	}
	ev->divergence_ttl = lo;
	/* The router before the split; when silent hops only bound it, the
	 * last router both codepoints reached, the best candidate. */
	int before = ev->split_unknown_from ? ev->split_unknown_from - 1 : lo - 1;

	if (before >= 1) {
		rc = probe_pair(c, fi, e1, e2, before, &a, &b);
		if (rc != 0)
			return rc;
		ev->balancer = a.answered ? a : b;
	}
	return 0;
}

/* Per-packet balancing: the first TTL at which identical probes of one
 * flow disagree (four probes a step). */
static int localize_per_packet(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int lo = 1, hi = ev->screen_ttl, rc;

	progress(c, "finding the per-packet balancer");
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, differ = 0;
		struct probe pr[4];
		struct responder first;

		for (int k = 0; k < 4; k++)
			add_probe(c, &pr[k], ev->flows[0].sport, ECN_NOT_ECT, mid);
		rc = run_batch(c, pr, 4);
		if (rc != 0)
			return rc;
		first = responder_of(&pr[0]);
		for (int k = 1; k < 4; k++) {
			struct responder s = responder_of(&pr[k]);

			if (!first.answered)
				first = s;
			else if (responder_differs(&first, &s))
				differ = 1;
		}
		if (differ)
			hi = mid;
		else
			lo = mid + 1;
	}
	ev->divergence_ttl = lo;
	if (lo > 1) {
		struct probe pr;

		add_probe(c, &pr, ev->flows[0].sport, ECN_NOT_ECT, lo - 1);
		rc = run_batch(c, &pr, 1);
		if (rc != 0)
			return rc;
		ev->balancer = responder_of(&pr);
	}
	return 0;
}

/* Extra flows with one codepoint: is there more than one next hop?
 * MDA: after one responder, 1 + log2(1/(1-c)) flows rule out a second. */
static int look_for_multipath(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int want = 1 + repeats_needed(c->p->confidence);
	struct probe pr[DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc, from = ev->nflows;

	if (want > c->p->max_flows)
		want = c->p->max_flows;
	for (int i = from; i < want; i++) {
		ev->flows[i].sport = (uint16_t)(c->p->sport_base + 1 + i);
		add_probe(c, &pr[n], ev->flows[i].sport, ECN_NOT_ECT, ev->screen_ttl);
		pr[n++].user = i;
	}
	if (n == 0)
		return 0;
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++)
		ev->flows[pr[k].user].by_ecn[ECN_NOT_ECT] = responder_of(&pr[k]);
	ev->nflows = want;
	return rc;
}

static int flows_disagree(const struct diag_evidence *ev)
{
	const struct responder *first = NULL;

	for (int i = 0; i < ev->nflows; i++) {
		const struct responder *s = &ev->flows[i].by_ecn[ECN_NOT_ECT];

		if (!s->answered)
			continue;
		if (first == NULL)
			first = s;
		else if (responder_differs(first, s))
			return 1;
	}
	return 0;
}

/* Does the path depend on DSCP? A note, not a fault: DSCP is stable
 * within most flows. */
static int screen_dscp(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[3 * sizeof(dscp_try)];
	size_t n = 0;
	int rc, flows = ev->nflows < 3 ? ev->nflows : 3;

	for (int i = 0; i < flows; i++) {
		for (size_t k = 0; k < sizeof(dscp_try); k++) {
			add_probe(c, &pr[n], ev->flows[i].sport,
				  (uint8_t)(dscp_try[k] << 2), ev->screen_ttl);
			pr[n++].user = i;
		}
	}
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct responder s = responder_of(&pr[k]);

		if (responder_differs(&s, &ev->flows[pr[k].user].by_ecn[ECN_NOT_ECT]))
			ev->dscp_differs = 1;
	}
	return rc;
}

static int screen_silent(const struct diag_evidence *ev)
{
	for (int i = 0; i < ev->nflows; i++)
		for (int k = 0; k < 4; k++)
			if (ev->flows[i].by_ecn[k].answered)
				return 0;
	return 1;
}

/* ECT(0) answered nowhere near the target, and Not-ECT did: ECT probes
 * will not come back from the screen either. */
static int ect_blackholed(const struct diag_evidence *ev)
{
	return ev->dest_probes > 0 && ev->dest_ect_answered == 0 &&
	       ev->dest_plain_answered > 0;
}

/* The first of flows [from, nflows) whose codepoints part: repeat its
 * probes (ECN hash or per-packet balancing?). */
static int confirm_first_split(struct dctx *c, int from)
{
	struct diag_evidence *ev = c->ev;

	/* The story's pair first: a flow whose Not-ECT and ECT(0) part is the
	 * best evidence; any other pair of codepoints will do otherwise. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = from; i < ev->nflows; i++) {
			int e1 = ECN_NOT_ECT, e2 = ECN_ECT0;

			if (pass == 0 ? !responder_differs(&ev->flows[i].by_ecn[e1],
							   &ev->flows[i].by_ecn[e2])
				      : !flow_split(&ev->flows[i], &e1, &e2))
				continue;
			ev->split_flow = i;
			ev->split_ecn[0] = e1;
			ev->split_ecn[1] = e2;
			progress(c, "repeating the probes that parted");
			return confirm_split(c, i, e1, e2);
		}
	}
	return 0;
}

static int per_packet_seen(const struct diag_evidence *ev)
{
	return ev->repeats.differed > 0 || ev->same.differed > 0;
}

/* Screen enough flows whole, within the budget: what a round loses the
 * next asks again; flows that never answer are replaced. */
static int screen_enough(struct dctx *c, int need)
{
	struct diag_evidence *ev = c->ev;
	int rc = 0;

	for (int round = 0, fills = 0; rc == 0 && round < 3 + FILL_ROUNDS &&
					 !ect_blackholed(ev); round++) {
		int full = 0, more;
		size_t got;

		for (int i = 0; i < ev->nflows; i++)
			full += ev->flows[i].full;
		if (full >= need)
			break;
		if (fills >= 0 && fills < FILL_ROUNDS) {
			rc = screen_fill(c, &got);
			/* Nothing came back: stop asking, add flows instead. */
			fills = got ? fills + 1 : -1;
			if (got)
				continue;
		}
		if (ev->nflows >= c->p->max_flows)
			break;
		more = need - full;
		if (ev->nflows + more > c->p->max_flows)
			more = c->p->max_flows - ev->nflows;
		rc = screen_flows(c, ev->nflows, ev->nflows + more);
	}
	return rc;
}

static int step_paths(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int need = flows_needed(c->p->confidence), rc;

	progress(c, "probing each flow with every ECN codepoint");
	if (need > c->p->max_flows)
		need = c->p->max_flows;
	rc = screen_flows(c, 0, need);
	/* Not one answer at this TTL: its routers are silent. One hop
	 * further the target (or the next routers) may speak. */
	for (int moves = 0; rc == 0 && moves < 3 && screen_silent(ev) &&
			    ev->screen_ttl < c->p->max_ttl; moves++) {
		memset(ev->flows, 0, sizeof(ev->flows));
		ev->nflows = 0;
		ev->screen_ttl++;
		rc = screen_flows(c, 0, need);
	}
	if (rc == 0)
		rc = screen_enough(c, need);
	if (rc == 0)
		rc = confirm_first_split(c, 0);
	if (rc != 0)
		return rc;
	if (per_packet_seen(ev))
		return localize_per_packet(c);
	if (ev->split_seen) {
		rc = localize_split(c);
		return rc == 0 ? screen_dscp(c) : rc;
	}
	if (!flows_disagree(ev)) {
		progress(c, "looking for other next hops");
		rc = look_for_multipath(c);
		if (rc != 0)
			return rc;
	}
	return screen_dscp(c);
}

/* ECT(0) did not reach the target where Not-ECT did: one trace each is
 * no proof (loss takes single probes too). Send the two side by side at
 * the target's distance, on the trace's flow, for a comparison. */
#define DEST_PROBES 8

static int step_dest_compare(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[2 * DEST_PROBES];
	int rc;

	for (int k = 0; k < 2 * DEST_PROBES; k++) {
		add_probe(c, &pr[k], c->p->sport_base,
			  k % 2 ? ECN_NOT_ECT : ECN_ECT0, ev->plain.dest_ttl);
		pr[k].user = k % 2;
	}
	progress(c, "comparing ECT(0) and Not-ECT at the target");
	rc = run_batch(c, pr, 2 * DEST_PROBES);
	ev->dest_probes = DEST_PROBES;
	for (int k = 0; k < 2 * DEST_PROBES; k++) {
		int got = pr[k].state == PROBE_ANSWERED &&
			  pr[k].reply.kind != REPLY_TIME_EXCEEDED;

		if (pr[k].user)
			ev->dest_plain_answered += got;
		else
			ev->dest_ect_answered += got;
	}
	return rc;
}

/* What every replay of the diagnosis shares. */
static struct connect_params replay_params(const struct dctx *c,
					   enum conn_mode mode)
{
	struct connect_params cp;

	memset(&cp, 0, sizeof(cp));
	cp.src = c->p->src;
	cp.dst = c->p->dst;
	cp.dport = c->p->dport;
	cp.mode = mode;
	cp.timeout_ns = c->p->timeout_ns;
	cp.rate = 50;
	cp.payload = c->p->payload;
	cp.payload_len = c->p->payload_len;
	cp.on_tick = c->p->on_tick;
	return cp;
}

int diag_port_span(int conn_flows)
{
	return 64 + DIAG_CONN_ROUNDS * 2 * conn_flows;
}

/* Add round b's connections to the pooled a (ECN flows first, then the
 * controls, as connect_run lays them out). */
static int conn_pool(struct connect_result *a, struct connect_result *b)
{
	size_t na = (size_t)a->p.nflows, nb = (size_t)b->p.nflows;
	struct conn_flow *f = calloc(a->nflows + b->nflows, sizeof(*f));

	if (f == NULL)
		return -1;
	memcpy(f, a->flows, na * sizeof(*f));
	memcpy(f + na, b->flows, nb * sizeof(*f));
	memcpy(f + na + nb, a->flows + na, (a->nflows - na) * sizeof(*f));
	memcpy(f + a->nflows + nb, b->flows + nb, (b->nflows - nb) * sizeof(*f));
	free(a->flows);
	a->flows = f;
	a->nflows += b->nflows;
	a->p.nflows += b->p.nflows;
	for (int k = 0; k < CR_COUNT; k++)
		a->counts[k] += b->counts[k];
	a->control_ok += b->control_ok;
	a->duration_ns += b->duration_ns;
	a->sent += b->sent;
	a->interrupted |= b->interrupted;
	connect_free(b);
	return 0;
}

/* Step 4: the connection replay, ECN and plain interleaved. Another
 * round, on new ports, while ECN fails more often than its control
 * without the difference being significant yet. */
static int step_connect(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct connect_params cp = replay_params(c, MODE_CLASSIC);
	int rc;

	cp.nflows = c->p->conn_flows;
	progress(c, "replaying the ECN connection");
	for (int round = 0; round < DIAG_CONN_ROUNDS && !engine_stop; round++) {
		struct connect_result more;

		if (round > 0 && !judge_wants_more(ev, c->p->confidence))
			break;
		if (round > 0)
			progress(c, "more connections, for a significant comparison");
		cp.sport_base = (uint16_t)(c->p->sport_base + 64 + round * 2 * cp.nflows);
		rc = connect_run(c->e, &cp, round ? &more : &ev->conn, c->err, c->errlen);
		if (rc != 0)
			return rc;
		ev->have_conn = 1;
		ev->conn_rounds = round + 1;
		if (round > 0 && conn_pool(&ev->conn, &more) != 0) {
			connect_free(&more);
			snprintf(c->err, c->errlen, "out of memory");
			return EX_OSERR;
		}
	}
	return 0;
}

/* Step 4b: the ECN connections reset after their data, replayed on the
 * same source ports with every segment ECT(0), the SYN included. If the
 * ECN bits steer the path, the whole connection now stays on the ECT(0)
 * branch and works: the first one failed only because its handshake and
 * its data went different ways. A middlebox (or a server) that resets
 * ECT segments resets this one too. This tells two machines apart even
 * when their replies come back with the same hop count. */
static int step_ect_check(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	const struct connect_result *cr = &ev->conn;
	struct connect_params cp;
	uint16_t sports[16];
	int n = 0;

	for (size_t i = 0; i < cr->nflows && n < 16; i++) {
		const struct conn_flow *f = &cr->flows[i];

		if (!f->control && f->have_rst && f->rst_after_data)
			sports[n++] = f->sport;
	}
	if (n == 0)
		return 0;
	cp = replay_params(c, MODE_ALL_ECT);
	cp.sport_base = sports[0];
	cp.sports = sports;
	cp.nflows = n;
	cp.no_controls = 1;
	progress(c, "replaying the reset connections entirely ECT(0)");
	ev->have_ect_check = 1;
	return connect_run(c->e, &cp, &ev->ect_check, c->err, c->errlen);
}

static int ect_check_delivered(const struct diag_evidence *ev)
{
	int ok = 0;

	for (size_t i = 0; ev->have_ect_check && i < ev->ect_check.nflows; i++)
		ok += ev->ect_check.flows[i].data_acked &&
		      !ev->ect_check.flows[i].have_rst;
	return ok;
}

/* No probe parts the flow, yet its handshake and its data end at
 * different machines: they part after the last router before the target,
 * which answered both codepoints alike. That router is the one that
 * splits them. */
static void infer_last_router(struct diag_evidence *ev, int fi)
{
	const struct diag_flow *f = &ev->flows[fi];
	const struct responder *a = &f->by_ecn[ECN_NOT_ECT];
	const struct responder *b = &f->by_ecn[ECN_ECT0];
	const struct connect_result *cr = &ev->conn;
	const struct conn_flow *cf = NULL;

	if (!a->answered || !b->answered || responder_differs(a, b) ||
	    a->kind != REPLY_TIME_EXCEEDED)
		return;
	for (size_t i = 0; i < cr->nflows && !cf; i++)
		if (cr->flows[i].sport == f->sport)
			cf = &cr->flows[i];
	ev->split_inferred = 1;
	ev->split_flow = fi;
	ev->split_ecn[0] = ECN_NOT_ECT;
	ev->split_ecn[1] = ECN_ECT0;
	ev->divergence_ttl = ev->screen_ttl + 1;
	ev->split_unknown_from = 0;
	ev->balancer = *a;
	/* The branches end at the target: the machine that sent the SYN-ACK
	 * and the one that reset the data. */
	if (cf != NULL) {
		struct responder t = {
			.answered = 1, .addr = ev->dst, .kind = REPLY_TCP,
			.reply = "syn-ack", .hops = return_hops(cf->synack.ttl),
		};

		ev->split_at[0] = t;
		t.reply = "rst";
		t.hops = return_hops(cf->rst.ttl);
		ev->split_at[1] = t;
	}
}

/* The replay's ECT(0) data was reset by another machine, yet no screened
 * flow parted: each flow keeps its four codepoints together with
 * probability 1/8 on a 2-way hash, so the screen can miss what the replay
 * proves. The reset connections' own flows are known to part: screen
 * (at most two of) them and locate the split as usual. */
static int rescreen_reset_flows(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	const struct connect_result *cr = &ev->conn;
	int from = ev->nflows, to = from, rc;

	for (size_t i = 0; i < cr->nflows && to < DIAG_MAX_FLOWS && to - from < 2; i++)
		if (!cr->flows[i].control && diag_reset_by_other(ev, &cr->flows[i]))
			ev->flows[to++].sport = cr->flows[i].sport;
	if (to == from)
		return 0;
	progress(c, "probing the flows of the reset connections");
	rc = screen_flows(c, from, to);
	if (rc == 0)
		rc = confirm_first_split(c, from);
	if (rc != 0)
		return rc;
	if (per_packet_seen(ev))
		return localize_per_packet(c);
	if (ev->split_seen)
		return localize_split(c);
	if (ect_check_delivered(ev) && ev->screen_ttl > 0)
		infer_last_router(ev, from);
	return 0;
}

static int reset_after_data(const struct connect_result *cr)
{
	return cr->counts[CR_RESET_OTHER] + cr->counts[CR_RESET_SAME];
}

static int step_replays(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int rc = step_connect(c);

	if (rc == 0 && reset_after_data(&ev->conn) && !engine_stop)
		rc = step_ect_check(c);
	if (rc == 0 && (ev->conn.counts[CR_RESET_OTHER] || ect_check_delivered(ev)) &&
	    ev->screen_ttl > 0 && !ev->split_seen && !per_packet_seen(ev) &&
	    !engine_stop)
		rc = rescreen_reset_flows(c);
	return rc;
}

int diagnose_run(struct engine *e, const struct diag_params *p,
		 struct diag_result *r, char *err, size_t errlen)
{
	struct dctx c = { .e = e, .p = p, .res = r, .ev = &r->ev,
			  .err = err, .errlen = errlen };
	struct diag_evidence *ev = &r->ev;
	uint64_t sent0 = e->sent;
	int64_t t0 = now_ns();
	int rc, dest;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	ev->dst = p->dst;
	ev->dport = p->dport;
	rc = step_trace(&c);
	if (rc == 0 && !ev->trace.dest_ttl && ev->have_plain_trace &&
	    ev->plain.dest_ttl)
		rc = step_dest_compare(&c);
	if (rc != 0)
		return rc;
	dest = ev->trace.dest_ttl ? ev->trace.dest_ttl
				  : ev->have_plain_trace ? ev->plain.dest_ttl : 0;
	ev->screen_ttl = p->screen_ttl ? p->screen_ttl : dest > 1 ? dest - 1 : 0;
	if (ev->screen_ttl > 0) {
		rc = step_paths(&c);
		if (rc != 0)
			return rc;
	}
	if (p->conn_flows > 0 && !engine_stop) {
		rc = step_replays(&c);
		if (rc != 0)
			return rc;
	}
	if (engine_stop) {
		snprintf(err, errlen, "interrupted");
		return EX_TEMPFAIL;
	}
	judge(ev, p->confidence, &r->v);
	r->probes_sent = e->sent - sent0;
	r->duration_ns = now_ns() - t0;
	return 0;
}

void diagnose_free(struct diag_result *r)
{
	trace_free(&r->ev.trace);
	if (r->ev.have_plain_trace)
		trace_free(&r->ev.plain);
	if (r->ev.have_conn)
		connect_free(&r->ev.conn);
	if (r->ev.have_ect_check)
		connect_free(&r->ev.ect_check);
}
