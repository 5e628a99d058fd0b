/* diagnose: measurement and verdict. Never prints. */
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
	struct diag_result *r;
	uint32_t token;
	char *err;
	size_t errlen;
};

static const char *const cause_names[CAUSE_KIND_COUNT] = {
	[CAUSE_ECN_HASH] = "ecn-hash",
	[CAUSE_PER_PACKET_LB] = "per-packet-lb",
	[CAUSE_BLEACHING] = "bleaching",
	[CAUSE_MANGLING] = "mangling",
	[CAUSE_CE_MARKING] = "ce-marking",
	[CAUSE_ECT_BLACKHOLE] = "ect-blackhole",
	[CAUSE_SYN_ECN_DROP] = "syn-ecn-drop",
	[CAUSE_SYN_ECN_RESET] = "syn-ecn-reset",
	[CAUSE_ECT_RESET] = "ect-reset",
	[NOTE_DSCP_HASH] = "dscp-hash",
	[NOTE_SAFE_MULTIPATH] = "safe-multipath",
	[NOTE_ECN_PATH_ONE_SITE] = "ecn-dependent-path-one-site",
	[NOTE_ECN_DECLINED] = "ecn-declined",
	[NOTE_TARGET_NOT_REACHED] = "target-not-reached",
	[NOTE_DSCP_REMARK] = "dscp-remark",
};

const char *cause_name(enum cause_kind k)
{
	return k < CAUSE_KIND_COUNT ? cause_names[k] : "?";
}

const char *lb_name(enum lb_kind k)
{
	return k == LB_PER_FLOW ? "per-flow" : k == LB_PER_PACKET ? "per-packet"
								  : "none";
}

const char *diag_status_name(enum diag_status s)
{
	return s == DIAG_BROKEN ? "broken" : s == DIAG_INCONCLUSIVE ? "inconclusive"
								  : "healthy";
}

int repeats_needed(double c)
{
	return (int)ceil(log2(1.0 / (1.0 - c)) - 1e-9);
}

int flows_needed(double c)
{
	return (int)ceil(log(1.0 - c) / log(1.0 / 8.0) - 1e-9);
}

int responder_differs(const struct responder *a, const struct responder *b)
{
	if (!a->answered || !b->answered)
		return 0;
	if (!addr_eq(&a->addr, &b->addr) || a->kind != b->kind)
		return 1;
	/* One anycast address, several machines: the target's replies are
	 * told apart by how far they travelled. */
	return a->kind == REPLY_TCP && a->hops != b->hops;
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

	c->r->path_probes += c->e->sent - before;
	return rc;
}

static void add_probe(struct dctx *c, struct probe *pr, uint16_t sport,
		      uint8_t tos, int ttl)
{
	struct flow f = path_flow(c->p, sport, tos);

	flow_probe(&f, ttl, c->e->token_base + c->token++, pr);
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
	tp.token_base = c->e->token_base + 40000;
	tp.on_tick = c->p->on_tick;
	progress(c, "tracing the path with ECT(0)");
	rc = trace_run(c->e, &tp, &c->r->trace, c->err, c->errlen);
	c->r->path_probes += c->r->trace.sent;
	if (rc != 0 || c->r->trace.dest_ttl)
		return rc;
	progress(c, "tracing the path Not-ECT");
	tp.flow.tos = ECN_NOT_ECT;
	tp.token_base += 1000;
	rc = trace_run(c->e, &tp, &c->r->plain, c->err, c->errlen);
	c->r->have_plain_trace = 1;
	c->r->path_probes += c->r->plain.sent;
	return rc;
}

/* Screen flows [from, to) with all four codepoints at the screen TTL. */
static int screen_flows(struct dctx *c, int from, int to)
{
	struct diag_result *r = c->r;
	struct probe pr[4 * DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc;

	for (int i = from; i < to; i++) {
		if (r->flows[i].sport == 0)  /* else a flow chosen by the caller */
			r->flows[i].sport = (uint16_t)(c->p->sport_base + 1 + i);
		for (int k = 0; k < 4; k++) {
			add_probe(c, &pr[n], r->flows[i].sport,
				  (uint8_t)ecn_order[k], r->screen_ttl);
			pr[n++].user = i * 4 + ecn_order[k];
		}
	}
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct diag_flow *f = &r->flows[pr[k].user / 4];

		f->by_ecn[pr[k].user % 4] = responder_of(&pr[k]);
	}
	for (int i = from; i < to; i++) {
		r->flows[i].full = 1;
		for (int k = 0; k < 4; k++)
			r->flows[i].full &= r->flows[i].by_ecn[k].answered;
	}
	if (to > r->nflows)
		r->nflows = to;
	return rc;
}

/* Ask again for the codepoints of screened flows that got no answer
 * (rate-limited ICMP, usually): cheaper than new flows, which the same
 * routers would limit too. Returns the number of probes sent. */
static int screen_fill(struct dctx *c, size_t *answered)
{
	struct diag_result *r = c->r;
	struct probe pr[4 * DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc;

	*answered = 0;
	for (int i = 0; i < r->nflows; i++) {
		int some = 0;

		/* A flow with no answer at all meets a silent router, not a
		 * rate limit: asking again would only wait. */
		for (int k = 0; k < 4; k++)
			some |= r->flows[i].by_ecn[k].answered;
		for (int k = 0; k < 4 && some && !r->flows[i].full; k++) {
			int e = ecn_order[k];

			if (r->flows[i].by_ecn[e].answered)
				continue;
			add_probe(c, &pr[n], r->flows[i].sport, (uint8_t)e,
				  r->screen_ttl);
			pr[n++].user = i * 4 + e;
		}
	}
	if (n == 0)
		return 0;
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct diag_flow *f = &r->flows[pr[k].user / 4];

		if (pr[k].state == PROBE_ANSWERED) {
			f->by_ecn[pr[k].user % 4] = responder_of(&pr[k]);
			(*answered)++;
		}
	}
	for (int i = 0; i < r->nflows; i++) {
		r->flows[i].full = 1;
		for (int k = 0; k < 4; k++)
			r->flows[i].full &= r->flows[i].by_ecn[k].answered;
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
	struct diag_result *r = c->r;
	int need = repeats_needed(c->p->confidence);
	int rc, disagreed = 0;

	/* Rounds, because routers rate-limit their ICMP (Linux: a burst of
	 * six, then one a second): what a round loses, the next one asks
	 * again, after the previous round's wait has let the limit refill. */
	for (int round = 0; round < CONFIRM_ROUNDS && !disagreed &&
			    r->repeats_agreed < need; round++) {
		int each = (need - r->repeats_agreed + 1) / 2;
		struct probe pr[64];
		size_t n = 0;

		if (each > 32)
			each = 32;
		/* Identical probes go out back to back, so a round-robin
		 * balancer (which alternation would alias) splits them too. */
		for (int k = 0; k < 2 * each; k++) {
			int ecn = (k / 2) % 2 ? e2 : e1;

			add_probe(c, &pr[n], r->flows[fi].sport, (uint8_t)ecn,
				  r->screen_ttl);
			pr[n++].user = ecn;
		}
		rc = run_batch(c, pr, n);
		if (rc != 0)
			return rc;
		for (size_t k = 0; k < n; k++) {
			struct responder s = responder_of(&pr[k]);
			const struct responder *orig = &r->flows[fi].by_ecn[pr[k].user];

			if (!s.answered)
				continue;
			r->repeats++;
			if (responder_differs(&s, orig))
				disagreed = 1;
			else
				r->repeats_agreed++;
		}
	}
	if (disagreed) {
		r->lb = LB_PER_PACKET;
		r->path_confidence = 1.0;
	} else {
		r->ecn_dependent = 1;
		r->lb = LB_PER_FLOW;
		r->path_confidence = 1.0 - pow(0.5, r->repeats_agreed);
	}
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
			add_probe(c, &pr[n], c->r->flows[fi].sport, (uint8_t)e1, ttl);
			slot[n++] = a;
		}
		if (!b->answered) {
			add_probe(c, &pr[n], c->r->flows[fi].sport, (uint8_t)e2, ttl);
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
	struct diag_result *r = c->r;
	int first = hi, last_same = lo - 1;
	struct responder a, b;

	for (int t = lo; t < hi; t++) {
		int rc = probe_pair(c, fi, e1, e2, t, &a, &b);

		if (rc != 0)
			return rc;
		if (responder_differs(&a, &b)) {
			first = t;
			r->split_at[0] = a;
			r->split_at[1] = b;
			break;
		}
		if (a.answered && b.answered)
			last_same = t;
	}
	r->divergence_ttl = first;
	r->split_unknown_from = last_same < first - 1 ? last_same + 1 : 0;
	return 0;
}

/* Step 3: the first TTL at which the two codepoints of the split flow
 * reach different responders, by bisection (they differ at the screen
 * TTL); then the router one hop before. */
static int localize_split(struct dctx *c)
{
	struct diag_result *r = c->r;
	int fi = r->split_flow, e1 = r->split_ecn[0], e2 = r->split_ecn[1];
	int lo = 1, hi = r->screen_ttl, rc;
	struct responder a, b;

	r->split_at[0] = r->flows[fi].by_ecn[e1];
	r->split_at[1] = r->flows[fi].by_ecn[e2];
	progress(c, "finding the hop where the path splits");
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		rc = probe_pair(c, fi, e1, e2, mid, &a, &b);
		if (rc != 0)
			return rc;
		if (responder_differs(&a, &b)) {
			hi = mid;
			r->split_at[0] = a;
			r->split_at[1] = b;
		} else if (a.answered && b.answered) {
			lo = mid + 1;
		} else {
			/* A silent hop says neither: bisection would guess. Walk
			 * the rest of the interval instead, and keep what stays
			 * unknown as the margin of the answer. */
			rc = scan_split(c, fi, e1, e2, lo, hi);
			if (rc != 0)
				return rc;
			lo = r->divergence_ttl;
			break;
		}
	}
	r->divergence_ttl = lo;
	/* The router before the split; when silent hops only bound it, the
	 * last router both codepoints reached, the best candidate. */
	int before = r->split_unknown_from ? r->split_unknown_from - 1 : lo - 1;

	if (before >= 1) {
		rc = probe_pair(c, fi, e1, e2, before, &a, &b);
		if (rc != 0)
			return rc;
		r->balancer = a.answered ? a : b;
	}
	return 0;
}

/* Per-packet balancing: the first TTL at which identical probes of one
 * flow disagree (four probes a step). */
static int localize_per_packet(struct dctx *c)
{
	struct diag_result *r = c->r;
	int lo = 1, hi = r->screen_ttl, rc;

	progress(c, "finding the per-packet balancer");
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, differ = 0;
		struct probe pr[4];
		struct responder first;

		for (int k = 0; k < 4; k++)
			add_probe(c, &pr[k], r->flows[0].sport, ECN_NOT_ECT, mid);
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
	r->divergence_ttl = lo;
	if (lo > 1) {
		struct probe pr;

		add_probe(c, &pr, r->flows[0].sport, ECN_NOT_ECT, lo - 1);
		rc = run_batch(c, &pr, 1);
		if (rc != 0)
			return rc;
		r->balancer = responder_of(&pr);
	}
	return 0;
}

/* Extra flows with one codepoint: is there more than one next hop?
 * MDA: after one responder, 1 + log2(1/(1-c)) flows rule out a second. */
static int look_for_multipath(struct dctx *c)
{
	struct diag_result *r = c->r;
	int want = 1 + repeats_needed(c->p->confidence);
	struct probe pr[DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc, from = r->nflows;

	if (want > c->p->max_flows)
		want = c->p->max_flows;
	for (int i = from; i < want; i++) {
		r->flows[i].sport = (uint16_t)(c->p->sport_base + 1 + i);
		add_probe(c, &pr[n], r->flows[i].sport, ECN_NOT_ECT, r->screen_ttl);
		pr[n++].user = i;
	}
	if (n == 0)
		return 0;
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++)
		r->flows[pr[k].user].by_ecn[ECN_NOT_ECT] = responder_of(&pr[k]);
	r->nflows = want;
	return rc;
}

static int flows_disagree(const struct diag_result *r)
{
	const struct responder *first = NULL;

	for (int i = 0; i < r->nflows; i++) {
		const struct responder *s = &r->flows[i].by_ecn[ECN_NOT_ECT];

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
	struct diag_result *r = c->r;
	struct probe pr[3 * sizeof(dscp_try)];
	size_t n = 0;
	int rc, flows = r->nflows < 3 ? r->nflows : 3;

	for (int i = 0; i < flows; i++) {
		for (size_t k = 0; k < sizeof(dscp_try); k++) {
			add_probe(c, &pr[n], r->flows[i].sport,
				  (uint8_t)(dscp_try[k] << 2), r->screen_ttl);
			pr[n++].user = i;
		}
	}
	rc = run_batch(c, pr, n);
	for (size_t k = 0; k < n; k++) {
		struct responder s = responder_of(&pr[k]);

		if (responder_differs(&s, &r->flows[pr[k].user].by_ecn[ECN_NOT_ECT]))
			r->dscp_dependent = 1;
	}
	return rc;
}

static int screen_silent(const struct diag_result *r)
{
	for (int i = 0; i < r->nflows; i++)
		for (int k = 0; k < 4; k++)
			if (r->flows[i].by_ecn[k].answered)
				return 0;
	return 1;
}

static int ect_blackholed(const struct diag_result *r)
{
	return !r->trace.dest_ttl && r->have_plain_trace && r->plain.dest_ttl;
}

/* The first of flows [from, nflows) whose codepoints part: repeat its
 * probes (ECN hash or per-packet balancing?). */
static int confirm_first_split(struct dctx *c, int from)
{
	struct diag_result *r = c->r;

	/* The story's pair first: a flow whose Not-ECT and ECT(0) part is the
	 * best evidence; any other pair of codepoints will do otherwise. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = from; i < r->nflows; i++) {
			int e1 = ECN_NOT_ECT, e2 = ECN_ECT0;

			if (pass == 0 ? !responder_differs(&r->flows[i].by_ecn[e1],
							   &r->flows[i].by_ecn[e2])
				      : !flow_split(&r->flows[i], &e1, &e2))
				continue;
			r->split_flow = i;
			r->split_ecn[0] = e1;
			r->split_ecn[1] = e2;
			progress(c, "repeating the probes that parted");
			return confirm_split(c, i, e1, e2);
		}
	}
	return 0;
}

static int step_paths(struct dctx *c)
{
	struct diag_result *r = c->r;
	int need = flows_needed(c->p->confidence), full = 0, rc;

	progress(c, "probing each flow with every ECN codepoint");
	if (need > c->p->max_flows)
		need = c->p->max_flows;
	rc = screen_flows(c, 0, need);
	/* Not one answer at this TTL: its routers are silent. One hop
	 * further the target (or the next routers) may speak. */
	for (int moves = 0; rc == 0 && moves < 3 && screen_silent(r) &&
			    r->screen_ttl < c->p->max_ttl; moves++) {
		memset(r->flows, 0, sizeof(r->flows));
		r->nflows = 0;
		r->screen_ttl++;
		rc = screen_flows(c, 0, need);
	}
	/* Flows whose four probes did not all come back prove less: add
	 * flows until enough are whole, within the budget. Not when ECT is
	 * known to be dropped: those answers will never come. */
	for (int round = 0, fills = 0; rc == 0 && round < 3 + FILL_ROUNDS &&
					 !ect_blackholed(r); round++) {
		size_t got;

		full = 0;
		for (int i = 0; i < r->nflows; i++)
			full += r->flows[i].full;
		if (full >= need)
			break;
		if (fills >= 0 && fills < FILL_ROUNDS) {
			rc = screen_fill(c, &got);
			/* Nothing came back: stop asking, add flows instead. */
			fills = got ? fills + 1 : -1;
			if (got)
				continue;
		}
		if (r->nflows >= c->p->max_flows)
			break;
		int more = need - full;

		if (r->nflows + more > c->p->max_flows)
			more = c->p->max_flows - r->nflows;
		rc = screen_flows(c, r->nflows, r->nflows + more);
	}
	if (rc != 0)
		return rc;
	rc = confirm_first_split(c, 0);
	if (rc != 0)
		return rc;
	if (r->lb == LB_PER_PACKET)
		return localize_per_packet(c);
	if (r->ecn_dependent) {
		rc = localize_split(c);
		if (rc == 0)
			rc = screen_dscp(c);
		return rc;
	}
	full = 0;
	for (int i = 0; i < r->nflows; i++)
		full += r->flows[i].full;
	r->path_confidence = 1.0 - pow(1.0 / 8.0, full);
	if (!flows_disagree(r)) {
		progress(c, "looking for other next hops");
		rc = look_for_multipath(c);
		if (rc != 0)
			return rc;
	}
	r->lb = flows_disagree(r) ? LB_PER_FLOW : LB_NONE;
	return screen_dscp(c);
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

/* Step 4: the connection replay. */
static int step_connect(struct dctx *c)
{
	struct connect_params cp = replay_params(c, MODE_CLASSIC);

	cp.sport_base = (uint16_t)(c->p->sport_base + 64);
	cp.nflows = c->p->conn_flows;
	progress(c, "replaying the ECN connection");
	c->r->have_conn = 1;
	return connect_run(c->e, &cp, &c->r->conn, c->err, c->errlen);
}

/* The replay's ECT(0) data was reset by another machine, yet no screened
 * flow parted: each flow keeps its four codepoints together with
 * probability 1/8 on a 2-way hash, so the screen can miss what the replay
 * proves. The reset connections' own flows are known to part: screen
 * (at most two of) them and locate the split as usual. */
/* Did the all-ECT(0) replay of this source port deliver its data? Then
 * the RST its first connection got came from another machine. */
static int proven_other(const struct diag_result *r, uint16_t sport)
{
	if (!r->have_ect_check)
		return 0;
	for (size_t i = 0; i < r->ect_check.nflows; i++)
		if (r->ect_check.flows[i].sport == sport)
			return r->ect_check.flows[i].data_acked &&
			       !r->ect_check.flows[i].have_rst;
	return 0;
}

int diag_reset_by_other(const struct diag_result *r, const struct conn_flow *f)
{
	return f->result == CR_RESET_OTHER ||
	       (f->result == CR_RESET_SAME && proven_other(r, f->sport));
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
	struct diag_result *r = c->r;
	const struct connect_result *cr = &r->conn;
	struct connect_params cp;
	uint16_t sports[16];
	int n = 0, rc;

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
	r->have_ect_check = 1;
	rc = connect_run(c->e, &cp, &r->ect_check, c->err, c->errlen);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < r->ect_check.nflows; i++) {
		const struct conn_flow *f = &r->ect_check.flows[i];

		if (f->data_acked && !f->have_rst)
			r->ect_check_ok++;
		else if (f->have_rst && f->rst_after_data)
			r->ect_check_reset++;
	}
	return 0;
}

/* The all-ECT(0) replay was reset too, and never delivered: the ECT(0)
 * path itself resets data, so an RST is no sign of another machine. */
static int ect_path_resets(const struct diag_result *r)
{
	return r->have_ect_check && r->ect_check_reset > 0 && r->ect_check_ok == 0;
}

static int rescreen_reset_flows(struct dctx *c)
{
	struct diag_result *r = c->r;
	const struct connect_result *cr = &r->conn;
	int from = r->nflows, to = from, rc;

	for (size_t i = 0; i < cr->nflows && to < DIAG_MAX_FLOWS && to - from < 2; i++)
		if (cr->flows[i].result == CR_RESET_OTHER ||
		    proven_other(r, cr->flows[i].sport))
			r->flows[to++].sport = cr->flows[i].sport;
	if (to == from)
		return 0;
	progress(c, "probing the flows of the reset connections");
	rc = screen_flows(c, from, to);
	if (rc == 0)
		rc = confirm_first_split(c, from);
	if (rc != 0)
		return rc;
	if (r->lb == LB_PER_PACKET)
		return localize_per_packet(c);
	if (r->ecn_dependent)
		return localize_split(c);
	/* No probe parts the flow, yet its handshake and its data end at
	 * different machines: they part after the last router before the
	 * target, which answered both codepoints alike. That router is the
	 * one that splits them. */
	if (r->ect_check_ok && r->screen_ttl > 0) {
		const struct diag_flow *f = &r->flows[from];
		const struct responder *a = &f->by_ecn[ECN_NOT_ECT];
		const struct responder *b = &f->by_ecn[ECN_ECT0];

		if (a->answered && b->answered && !responder_differs(a, b) &&
		    a->kind == REPLY_TIME_EXCEEDED) {
			const struct conn_flow *cf = NULL;

			for (size_t i = 0; i < cr->nflows && !cf; i++)
				if (cr->flows[i].sport == f->sport)
					cf = &cr->flows[i];
			r->split_inferred = 1;
			r->ecn_dependent = 1;
			r->lb = LB_PER_FLOW;
			r->split_flow = from;
			r->split_ecn[0] = ECN_NOT_ECT;
			r->split_ecn[1] = ECN_ECT0;
			r->divergence_ttl = r->screen_ttl + 1;
			r->balancer = *a;
			/* The branches end at the target: the machine that sent
			 * the SYN-ACK and the one that reset the data. */
			if (cf != NULL) {
				struct responder t = {
					.answered = 1, .addr = r->p.dst,
					.kind = REPLY_TCP, .reply = "syn-ack",
					.hops = return_hops(cf->synack.ttl),
				};

				r->split_at[0] = t;
				t.reply = "rst";
				t.hops = return_hops(cf->rst.ttl);
				r->split_at[1] = t;
			}
		}
	}
	return 0;
}

static void site_flow(struct site *s, uint16_t sport, int ecn, int rst)
{
	if (s->nflows < (int)(sizeof(s->flows) / sizeof(s->flows[0]))) {
		s->flows[s->nflows].sport = sport;
		s->flows[s->nflows].ecn = (uint8_t)ecn;
		s->flows[s->nflows].rst = (uint8_t)rst;
		s->nflows++;
	}
}

/* Step 5: the machines behind the address, told apart by the hop count
 * of their replies and what their SYN-ACKs carry. */
static void count_sites(struct diag_result *r)
{
	const struct connect_result *cr = &r->conn;

	if (!r->have_conn)
		return;
	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *f = &cr->flows[i];
		const struct tcp_seg *t = &f->synack.tcp;
		struct site *s = NULL;

		if (!f->have_synack)
			continue;
		for (int k = 0; k < r->nsites; k++) {
			struct site *x = &r->sites[k];

			if (x->hops == return_hops(f->synack.ttl) &&
			    x->window == t->window && x->mss == t->mss &&
			    x->wscale == (t->have_wscale ? t->wscale : -1) &&
			    x->sack == t->sack_ok && x->ts == t->have_ts)
				s = x;
		}
		if (s == NULL && r->nsites < DIAG_MAX_SITES) {
			s = &r->sites[r->nsites++];
			s->hops = return_hops(f->synack.ttl);
			s->window = t->window;
			s->mss = t->mss;
			s->wscale = t->have_wscale ? t->wscale : -1;
			s->sack = t->sack_ok;
			s->ts = t->have_ts;
		}
		if (s == NULL)
			continue;
		s->synacks++;
		site_flow(s, f->sport, ECN_NOT_ECT, 0);
	}
	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *f = &cr->flows[i];
		struct site *s = NULL;

		int other;

		/* Where the ECT(0) path itself resets, an RST is not a site. */
		if (!f->have_rst || !f->rst_after_data || ect_path_resets(r))
			continue;
		/* Same hop count as a SYN-ACK site, but proven another
		 * machine: keep it apart. */
		other = f->result == CR_RESET_SAME && proven_other(r, f->sport);
		for (int k = 0; k < r->nsites && !s; k++)
			if (r->sites[k].hops == return_hops(f->rst.ttl) &&
			    r->sites[k].by_behaviour == other)
				s = &r->sites[k];
		if (s == NULL && r->nsites < DIAG_MAX_SITES) {
			s = &r->sites[r->nsites++];
			s->hops = return_hops(f->rst.ttl);
			s->wscale = -1;
			s->by_behaviour = other;
		}
		if (s == NULL)
			continue;
		s->rsts++;
		site_flow(s, f->sport, f->data_tos & 3, 1);
	}
}

static struct finding *add_finding(struct diag_result *r, enum cause_kind k,
				   int hop, const struct addr *a, double conf)
{
	int note = k >= NOTE_DSCP_HASH;
	struct finding *f;

	if (note ? r->nnotes >= DIAG_MAX_NOTES : r->ncauses >= DIAG_MAX_CAUSES)
		return NULL;
	f = note ? &r->notes[r->nnotes++] : &r->causes[r->ncauses++];
	memset(f, 0, sizeof(*f));
	f->kind = k;
	f->hop = hop;
	if (a)
		f->addr = *a;
	f->confidence = conf;
	return f;
}

/* The responder of the trace at ttl, or NULL. */
static const struct probe *trace_at(const struct trace_result *t, int ttl)
{
	const struct probe *p = trace_probe(t, ttl, 0);

	return p && p->state == PROBE_ANSWERED ? p : NULL;
}

/* ECN rewritten on the way: the first hop whose quote differs from what
 * we sent; the router before it is the last that saw the packet intact. */
static void judge_quotes(struct diag_result *r)
{
	const struct trace_result *t = &r->trace;
	int last = t->dest_ttl ? t->dest_ttl - 1 : t->stop_ttl;

	for (int ttl = t->p.first_ttl; ttl <= last; ttl++) {
		const struct probe *p = trace_at(t, ttl), *prev;
		enum ecn_change ch;
		enum cause_kind kind;
		int seen = 0, dscp_too;
		struct finding *f;
		char a[INET6_ADDRSTRLEN];

		if (p == NULL || !p->reply.has_quote)
			continue;
		ch = ecn_compare(p->d.tos, p->reply.q.tos);
		if (ch == ECN_SAME)
			continue;
		kind = ch == ECN_BLEACHED ? CAUSE_BLEACHING :
		       ch == ECN_CE_MARKED ? CAUSE_CE_MARKING : CAUSE_MANGLING;
		for (int k = ttl; k <= last; k++) {
			const struct probe *q = trace_at(t, k);

			if (q && q->reply.has_quote &&
			    ecn_compare(q->d.tos, q->reply.q.tos) == ch)
				seen++;
		}
		prev = ttl > 1 ? trace_at(t, ttl - 1) : NULL;
		dscp_too = (p->reply.q.tos >> 2) != (p->d.tos >> 2);
		f = add_finding(r, kind, ttl - 1, prev ? &prev->reply.src : NULL,
				seen >= 2 ? 0.99 : 0.95);
		if (f == NULL)
			return;
		int n = snprintf(f->evidence, sizeof(f->evidence),
				 "probes sent %s; hop %d (%s) quotes %s",
				 ecn_name(p->d.tos & 3), ttl,
				 addr_str(&p->reply.src, a, sizeof(a)),
				 ecn_name(p->reply.q.tos & 3));

		if (last > ttl && n > 0 && (size_t)n < sizeof(f->evidence))
			n += snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				      ", and so do %d of the %d routers after it",
				      seen - 1, last - ttl);
		if (n > 0 && (size_t)n < sizeof(f->evidence))
			snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				 "%s%s", prev ? "" : "; the hop before did not answer",
				 dscp_too ? "; DSCP changed at the same hop "
				 "(remarking that clobbers ECN)" : "");
		if (dscp_too)
			(void)add_finding(r, NOTE_DSCP_REMARK, ttl - 1,
					  prev ? &prev->reply.src : NULL, 0.95);
		return;
	}
}

/* ECT probes vanish where Not-ECT ones pass: the last hop that answered
 * ECT(0) is the last router that let it through. */
static void judge_blackhole(struct diag_result *r)
{
	const struct trace_result *t = &r->trace, *pl = &r->plain;
	const struct connect_result *cr = &r->conn;
	int last = 0, lost = r->have_conn ? cr->counts[CR_ECT_DATA_LOST] : 0;
	struct finding *f;
	char a[INET6_ADDRSTRLEN] = "";

	if (t->dest_ttl || !r->have_plain_trace || !pl->dest_ttl) {
		if (lost == 0)
			return;
		f = add_finding(r, CAUSE_ECT_BLACKHOLE, 0, NULL, 0.9);
		if (f)
			snprintf(f->evidence, sizeof(f->evidence),
				 "%d of %d ECN connections: ECT(0) data never "
				 "acknowledged, its Not-ECT retransmission was",
				 lost, cr->p.nflows);
		return;
	}
	for (int ttl = t->p.first_ttl; ttl <= t->p.max_ttl; ttl++)
		if (trace_at(t, ttl))
			last = ttl;
	const struct probe *p = last ? trace_at(t, last) : NULL;

	f = add_finding(r, CAUSE_ECT_BLACKHOLE, last, p ? &p->reply.src : NULL,
			lost ? 0.99 : 0.95);
	if (f == NULL)
		return;
	if (p)
		addr_str(&p->reply.src, a, sizeof(a));
	snprintf(f->evidence, sizeof(f->evidence),
		 "ECT(0) probes of one flow are answered up to hop %d%s%s%s and "
		 "never beyond; the same flow Not-ECT reaches the target at hop %d"
		 "; %d of %d ECN connections lost their ECT(0) data",
		 last, a[0] ? " (" : "", a, a[0] ? ")" : "", pl->dest_ttl, lost,
		 r->have_conn ? cr->p.nflows : 0);
}

static void judge_connect(struct diag_result *r)
{
	const struct connect_result *cr = &r->conn;
	struct finding *f;

	if (!r->have_conn)
		return;
	if (cr->counts[CR_SYN_ECN_RESET]) {
		int hop = 0;

		for (size_t i = 0; i < cr->nflows; i++)
			if (cr->flows[i].result == CR_SYN_ECN_RESET)
				hop = return_hops(cr->flows[i].rst.ttl);
		/* A middlebox answering for the target starts at the usual
		 * initial TTL, so the RST's hop count says where it is. */
		const struct probe *at = hop ? trace_at(&r->trace, hop) : NULL;

		f = add_finding(r, CAUSE_SYN_ECN_RESET, hop, at ? &at->reply.src : NULL,
				1.0 - pow(0.5, cr->counts[CR_SYN_ECN_RESET] +
						   cr->control_ok));
		if (f)
			snprintf(f->evidence, sizeof(f->evidence),
				 "%d of %d ECN-setup SYNs were answered with RST "
				 "(from %d hops away) while %d of %d plain SYNs got "
				 "SYN-ACKs",
				 cr->counts[CR_SYN_ECN_RESET], cr->p.nflows, hop,
				 cr->control_ok, (int)cr->nflows - cr->p.nflows);
	}
	if (cr->counts[CR_SYN_ECN_DROPPED]) {
		f = add_finding(r, CAUSE_SYN_ECN_DROP, 0, NULL,
				1.0 - pow(0.5, cr->counts[CR_SYN_ECN_DROPPED] +
						   cr->control_ok));
		if (f)
			snprintf(f->evidence, sizeof(f->evidence),
				 "%d of %d ECN-setup SYNs went unanswered, twice each, "
				 "while %d of %d plain SYNs got SYN-ACKs",
				 cr->counts[CR_SYN_ECN_DROPPED], cr->p.nflows,
				 cr->control_ok, (int)cr->nflows - cr->p.nflows);
	}
	if (cr->counts[CR_CE_MARKED]) {
		int have = 0;

		for (int i = 0; i < r->ncauses; i++)
			have |= r->causes[i].kind == CAUSE_CE_MARKING;
		if (!have && (f = add_finding(r, CAUSE_CE_MARKING, 0, NULL, 0.9)))
			snprintf(f->evidence, sizeof(f->evidence),
				 "%d of %d ECN connections had their ECT(0) data "
				 "acknowledged with ECE: it arrived CE-marked",
				 cr->counts[CR_CE_MARKED], cr->p.nflows);
	}
	if (cr->counts[CR_ECN_DECLINED] &&
	    (f = add_finding(r, NOTE_ECN_DECLINED, 0, NULL, 1.0)))
		snprintf(f->evidence, sizeof(f->evidence),
			 "%d of %d SYN-ACKs did not agree to ECN: the server (or a "
			 "middlebox) does not use it, so ECT data was not tested",
			 cr->counts[CR_ECN_DECLINED], cr->p.nflows);
}

static void judge_paths(struct diag_result *r)
{
	const struct connect_result *cr = &r->conn;
	struct finding *f;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int resets = r->have_conn ? cr->counts[CR_RESET_OTHER] : 0;

	if (r->ecn_dependent && !r->split_inferred) {
		/* A replay that got no handshake at all (closed port) says
		 * nothing about the machines: judge as if there were none. */
		int replayed = r->have_conn && r->nsites > 0;
		int fault = !replayed || resets > 0 || r->nsites > 1 ||
			    r->ect_check_ok > 0;
		const struct diag_flow *fl = &r->flows[r->split_flow];

		f = add_finding(r, fault ? CAUSE_ECN_HASH : NOTE_ECN_PATH_ONE_SITE,
				r->split_unknown_from ? r->split_unknown_from - 1
						      : r->divergence_ttl - 1,
				r->balancer.answered ? &r->balancer.addr : NULL,
				r->path_confidence);
		if (f == NULL)
			return;
		addr_str(&r->split_at[0].addr, a, sizeof(a));
		addr_str(&r->split_at[1].addr, b, sizeof(b));
		int n = snprintf(f->evidence, sizeof(f->evidence),
				 "flow sport %u: %s probes reach %s and %s probes reach %s "
				 "at hop %d, with everything else identical; %d of %d "
				 "repeated probes agreed",
				 fl->sport, ecn_name(r->split_ecn[0]), a,
				 ecn_name(r->split_ecn[1]), b, r->divergence_ttl,
				 r->repeats_agreed, r->repeats);
		if (r->split_unknown_from && n > 0 && (size_t)n < sizeof(f->evidence))
			n += snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				      "; hops %d to %d did not answer both codepoints, so "
				      "the router that parts them is the last one that "
				      "answered both alike, at hop %d, or a silent one up "
				      "to hop %d",
				      r->split_unknown_from, r->divergence_ttl - 1,
				      r->split_unknown_from - 1, r->divergence_ttl - 1);
		if (!replayed && n > 0 && (size_t)n < sizeof(f->evidence))
			snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				 r->have_conn ?
				 "; no replayed connection got a SYN-ACK, so whether "
				 "another machine answers the ECT(0) data is not known" :
				 "; no connection was replayed (--flows 0), so whether "
				 "another machine answers the ECT(0) data is not known");
		if (replayed && n > 0 && (size_t)n < sizeof(f->evidence)) {
			int sa = 0, rs = 0;

			for (size_t i = 0; i < cr->nflows; i++)
				if (cr->flows[i].result == CR_RESET_OTHER) {
					sa = cr->flows[i].synack.ttl;
					rs = cr->flows[i].rst.ttl;
				}
			if (resets) {
				n += snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
					      "; %d of %d ECN connections were reset by "
					      "another machine (SYN-ACK TTL %d, RST TTL %d)",
					      resets, cr->p.nflows, sa, rs);
				if (r->ect_check_ok && n > 0 &&
				    (size_t)n < sizeof(f->evidence))
					snprintf(f->evidence + n,
						 sizeof(f->evidence) - (size_t)n,
						 "; sent entirely ECT(0), the same flows "
						 "worked (%d of %d)", r->ect_check_ok,
						 (int)r->ect_check.nflows);
			} else if (cr->counts[CR_OK] == cr->p.nflows)
				snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
					 "; all %d ECN connections worked", cr->p.nflows);
			else
				snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
					 "; no ECN connection was reset by another "
					 "machine (%d of %d worked)", cr->counts[CR_OK],
					 cr->p.nflows);
		}
	} else if ((r->ect_check_ok > 0 || (resets > 0 && !ect_path_resets(r))) &&
		   r->lb != LB_PER_PACKET &&
		   cr->control_ok == (int)cr->nflows - cr->p.nflows) {
		/* The replay proves what no probe located (the routers after
		 * the split may not answer, or the split is at the last
		 * router): ECT(0) data reached another machine than its
		 * handshake, and plain connections work. */
		int sa = 0, rs = 0, n, bad = resets + cr->counts[CR_RESET_SAME];

		for (size_t i = 0; i < cr->nflows; i++)
			if (cr->flows[i].result == CR_RESET_OTHER ||
			    cr->flows[i].result == CR_RESET_SAME) {
				sa = cr->flows[i].synack.ttl;
				rs = cr->flows[i].rst.ttl;
			}
		f = add_finding(r, CAUSE_ECN_HASH,
				r->split_inferred ? r->divergence_ttl - 1 : 0,
				r->split_inferred ? &r->balancer.addr : NULL,
				1.0 - pow(0.5, bad + r->ect_check_ok + cr->control_ok));
		if (f == NULL)
			return;
		n = snprintf(f->evidence, sizeof(f->evidence),
			     "%d of %d ECN connections were reset after their "
			     "ECT(0) data (SYN-ACK TTL %d, RST TTL %d) while %d of %d "
			     "plain connections worked",
			     bad, cr->p.nflows, sa, rs, cr->control_ok,
			     (int)cr->nflows - cr->p.nflows);
		if (r->ect_check_ok && n > 0 && (size_t)n < sizeof(f->evidence))
			n += snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				      "; the same flows sent entirely ECT(0), SYN "
				      "included, worked (%d of %d): the ECT(0) path "
				      "works, it only ends at another machine",
				      r->ect_check_ok, (int)r->ect_check.nflows);
		if (n > 0 && (size_t)n < sizeof(f->evidence) && r->split_inferred)
			snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				 "; the router at hop %d, the last before the target, "
				 "answers both codepoints alike, so it is the one "
				 "that parts them", r->divergence_ttl - 1);
		else if (n > 0 && (size_t)n < sizeof(f->evidence))
			snprintf(f->evidence + n, sizeof(f->evidence) - (size_t)n,
				 "; no path probe showed where the path splits");
	}
	if (ect_path_resets(r) &&
	    cr->control_ok == (int)cr->nflows - cr->p.nflows) {
		/* Whoever resets starts at the usual initial TTL: the RST's hop
		 * count says how far it is, short of the server or not. */
		const struct conn_flow *x = NULL;
		const struct probe *at = NULL;
		int hop = 0;

		for (size_t i = 0; i < r->ect_check.nflows && !x; i++)
			if (r->ect_check.flows[i].have_rst &&
			    r->ect_check.flows[i].have_synack)
				x = &r->ect_check.flows[i];
		if (x && return_hops(x->rst.ttl) < return_hops(x->synack.ttl)) {
			hop = return_hops(x->rst.ttl);
			at = trace_at(&r->trace, hop);
		}
		f = add_finding(r, CAUSE_ECT_RESET, hop, at ? &at->reply.src : NULL,
				1.0 - pow(0.5, r->ect_check_reset + cr->control_ok));
		if (f)
			snprintf(f->evidence, sizeof(f->evidence),
				 "ECT(0) data is reset even when the whole connection, "
				 "SYN included, is ECT(0) (%d of %d), while plain "
				 "connections work; the RST comes from %s",
				 r->ect_check_reset, (int)r->ect_check.nflows,
				 hop ? "a hop short of the server" :
				 "as far away as the server");
	}
	if (r->lb == LB_PER_PACKET &&
	    (f = add_finding(r, CAUSE_PER_PACKET_LB, r->divergence_ttl - 1,
			     r->balancer.answered ? &r->balancer.addr : NULL,
			     r->path_confidence)))
		snprintf(f->evidence, sizeof(f->evidence),
			 "identical probes (same flow, same ECN codepoint) reach "
			 "different routers at hop %d%s",
			 r->divergence_ttl,
			 r->have_conn && cr->control_ok < (int)cr->nflows - cr->p.nflows ?
			 "; connections fail with and without ECN" : "");
	if (r->lb == LB_PER_FLOW && !r->ecn_dependent &&
	    (f = add_finding(r, NOTE_SAFE_MULTIPATH, 0, NULL, r->path_confidence)))
		snprintf(f->evidence, sizeof(f->evidence),
			 "different flows take different paths, but each flow's four "
			 "ECN codepoints always take the same one (%d flows)",
			 r->nflows);
	if (r->dscp_dependent && r->lb != LB_PER_PACKET &&
	    (f = add_finding(r, NOTE_DSCP_HASH, 0, NULL, 0.9)))
		snprintf(f->evidence, sizeof(f->evidence),
			 "the same flow with another DSCP takes another path at "
			 "hop %d; harmless while DSCP is constant within a flow",
			 r->screen_ttl);
}

static void verdict(struct diag_result *r)
{
	const struct connect_result *cr = &r->conn;
	int controls = r->have_conn ? (int)cr->nflows - cr->p.nflows : 0;
	int reached = r->trace.dest_ttl || (r->have_plain_trace && r->plain.dest_ttl);
	char a[INET6_ADDRSTRLEN] = "?";

	judge_quotes(r);
	judge_blackhole(r);
	judge_connect(r);
	judge_paths(r);
	if (r->ncauses > 0) {
		const struct finding *c = &r->causes[0];

		r->status = DIAG_BROKEN;
		if (c->addr.family)
			addr_str(&c->addr, a, sizeof(a));
		switch (c->kind) {
		case CAUSE_ECN_HASH:
			if (c->hop == 0) {
				snprintf(r->summary, sizeof(r->summary),
					 "ECN-dependent ECMP: a connection's ECT(0) data "
					 "reaches another machine than its Not-ECT handshake "
					 "and is reset; a router whose hop the probes could "
					 "not locate puts the ECN bits into its "
					 "load-balancing hash");
				break;
			}
			snprintf(r->summary, sizeof(r->summary),
				 "ECN-dependent ECMP: the router at hop %d (%s) puts the "
				 "ECN bits into its load-balancing hash, so a connection's "
				 "Not-ECT handshake and its ECT(0) data take different "
				 "paths%s",
				 c->hop, a, r->nsites > 1 ?
				 ", to different anycast sites, and the data is reset" : "");
			break;
		case CAUSE_PER_PACKET_LB:
			snprintf(r->summary, sizeof(r->summary),
				 "per-packet load balancing after hop %d (%s): packets of "
				 "one connection take different paths", c->hop, a);
			break;
		default:
			snprintf(r->summary, sizeof(r->summary), "%s at hop %d (%s)",
				 cause_name(c->kind), c->hop, c->hop ? a : "unknown");
			break;
		}
		return;
	}
	if (!reached || (r->have_conn && controls > 0 && cr->control_ok == 0)) {
		r->status = DIAG_INCONCLUSIVE;
		(void)add_finding(r, NOTE_TARGET_NOT_REACHED, 0, NULL, 1.0);
		if (r->have_conn && cr->counts[CR_REFUSED] > 0)
			snprintf(r->summary, sizeof(r->summary),
				 "the target refused TCP port %u (an RST to every SYN, "
				 "with or without ECN); nothing to compare", r->p.dport);
		else
			snprintf(r->summary, sizeof(r->summary),
				 "the target did not answer on TCP port %u, with or "
				 "without ECN; nothing to compare", r->p.dport);
		return;
	}
	if (r->path_confidence + 1e-12 < r->p.confidence) {
		r->status = DIAG_INCONCLUSIVE;
		snprintf(r->summary, sizeof(r->summary),
			 "no ECN fault seen, but too few probes were answered to be "
			 "%.0f%% sure (%.1f%%)", r->p.confidence * 100,
			 r->path_confidence * 100);
		return;
	}
	r->status = DIAG_HEALTHY;
	if (r->ecn_dependent)
		snprintf(r->summary, sizeof(r->summary),
			 "connections work: the path splits on the ECN bits at hop "
			 "%d, but one machine answers on every branch",
			 r->divergence_ttl);
	else
		snprintf(r->summary, sizeof(r->summary),
			 "no ECN fault: the path does not depend on the ECN bits%s",
			 r->lb == LB_PER_FLOW ? " (per-flow multipath, safe)" : "");
}

int diagnose_run(struct engine *e, const struct diag_params *p,
		 struct diag_result *r, char *err, size_t errlen)
{
	struct dctx c = { .e = e, .p = p, .r = r, .err = err, .errlen = errlen };
	uint64_t sent0 = e->sent;
	int64_t t0 = now_ns();
	int rc, dest;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	rc = step_trace(&c);
	if (rc != 0)
		return rc;
	dest = r->trace.dest_ttl ? r->trace.dest_ttl
				 : r->have_plain_trace ? r->plain.dest_ttl : 0;
	r->screen_ttl = p->screen_ttl ? p->screen_ttl : dest > 1 ? dest - 1 : 0;
	if (r->screen_ttl > 0) {
		rc = step_paths(&c);
		if (rc != 0)
			return rc;
	} else if (dest == 1) {
		r->path_confidence = 1.0;    /* a neighbour: no path to split */
	}
	if (p->conn_flows > 0 && !engine_stop) {
		rc = step_connect(&c);
		if (rc != 0)
			return rc;
		if ((r->conn.counts[CR_RESET_OTHER] || r->conn.counts[CR_RESET_SAME]) &&
		    r->conn.control_ok == (int)r->conn.nflows - r->conn.p.nflows &&
		    !engine_stop) {
			rc = step_ect_check(&c);
			if (rc != 0)
				return rc;
		}
		if ((r->conn.counts[CR_RESET_OTHER] || r->ect_check_ok) &&
		    r->screen_ttl > 0 && !r->ecn_dependent &&
		    r->lb != LB_PER_PACKET && !engine_stop) {
			rc = rescreen_reset_flows(&c);
			if (rc != 0)
				return rc;
		}
	}
	if (engine_stop) {
		snprintf(err, errlen, "interrupted");
		return EX_TEMPFAIL;
	}
	count_sites(r);
	verdict(r);
	r->probes_sent = e->sent - sent0;
	r->duration_ns = now_ns() - t0;
	return 0;
}

void diagnose_free(struct diag_result *r)
{
	trace_free(&r->trace);
	if (r->have_plain_trace)
		trace_free(&r->plain);
	if (r->have_conn)
		connect_free(&r->conn);
	if (r->have_ect_check)
		connect_free(&r->ect_check);
}
