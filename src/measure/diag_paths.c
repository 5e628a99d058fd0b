/* diag_paths: the path screen. Flows sent with every ECN codepoint at the
 * last router before the target, the split found and its hop searched,
 * DSCP tried; evidence only. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "diag_probe.h"

#define ecn_order diag_ecn_order

/* DSCP values tried against the same flow to see whether the hash
 * includes DSCP: af11, ef, cs1. */
static const uint8_t dscp_try[] = { 10, 46, 8 };

int repeats_needed(double c)
{
	return (int)ceil(log2(1.0 / (1.0 - c)) - 1e-9);
}

int flows_needed(double c)
{
	return (int)ceil(log(1.0 - c) / log(1.0 / 8.0) - 1e-9);
}

/* Screen flows [from, to) with all four codepoints at the screen TTL. */
int screen_flows(struct dctx *c, int from, int to)
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
 * routers would limit too. Returns run_batch's status; *asked: the
 * probes sent, *answered: of them answered. */
static int screen_fill(struct dctx *c, size_t limit, size_t *asked,
		       size_t *answered)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[4 * DIAG_MAX_FLOWS];
	size_t n = 0;
	int rc;

	*answered = 0;
	*asked = 0;
	for (int i = 0; i < ev->nflows; i++) {
		int some = 0;

		/* A flow with no answer at all meets a silent router, not a
		 * rate limit: asking again would only wait. */
		for (int k = 0; k < 4; k++)
			some |= ev->flows[i].by_ecn[k].answered;
		for (int k = 0; k < 4 && some && !ev->flows[i].full && n < limit; k++) {
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
	*asked = n;
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

/* Rounds of asking again: a rate-limited router answers about one probe
 * a second, each answer another bit (screen_bits); rounds go on while
 * they get answers, up to this many. */
#define FILL_ROUNDS 10

/* Probe flow fi with codepoints e1 and e2 at ttl; fills a and b. */
static int probe_pair(struct dctx *c, int fi, int e1, int e2, int ttl,
		      struct responder *a, struct responder *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	/* Ask again only for what did not come: a rate-limited router
	 * answers one of the two often enough. */
	for (int64_t t0 = 0, tries = 0; tries < 3 && !(a->answered && b->answered);
	     tries++) {
		struct probe pr[2];
		struct responder *slot[2];
		size_t n = 0;
		int rc;

		if (tries)
			pace_retry(t0);
		t0 = now_ns();

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
/* Hops that gave neither codepoint an answer bound the split. Before
 * giving up on one, ask it once more after a pause, if it answers at all
 * (the trace saw it): a rate-limited router's budget (Linux: one a
 * second) refills meanwhile. A hop that answers both alike moves the
 * bound on. At most SILENT_RETRIES hops, so a truly silent path costs
 * a few seconds, not more. */
#define SILENT_RETRIES 3

/* A hop that answers no TCP probe may answer another kind: an ICMP echo
 * request and a UDP probe with the same addresses and TTL. Another
 * protocol is another flow, which a balancer before the hop may send
 * elsewhere, so what answers is a fact for the operator, never proof
 * that it carries the split flow: it is reported, no one is named. */
static int ask_other_protocols(struct dctx *c, int ttl)
{
	struct diag_evidence *ev = c->ev;
	static const uint8_t protos[2] = { IPPROTO_ICMP, IPPROTO_UDP };
	struct probe pr[2];
	int rc;

	if (ev->nsilent >= DIAG_MAX_SILENT)
		return 0;
	for (int k = 0; k < 2; k++) {
		struct flow f = path_flow(c->p, c->p->sport_base, ECN_NOT_ECT);

		f.proto = protos[k];
		if (f.proto == IPPROTO_ICMP && f.dst.family == AF_INET6)
			f.proto = IPPROTO_ICMPV6;
		if (f.proto == IPPROTO_UDP)
			f.dport = 33434;
		flow_probe(&f, ttl, c->e->token_base + c->token, &pr[k]);
		c->token += 2;
	}
	rc = run_batch(c, pr, 2);
	if (rc != 0)
		return rc;
	for (int k = 0; k < 2; k++) {
		struct responder r = responder_of(&pr[k]);

		if (r.answered && r.kind == REPLY_TIME_EXCEEDED) {
			ev->silent[ev->nsilent].ttl = ttl;
			ev->silent[ev->nsilent].proto = pr[k].d.proto;
			ev->silent[ev->nsilent].who = r;
			ev->nsilent++;
			break;
		}
	}
	return 0;
}

static int retry_silent(struct dctx *c, int fi, int e1, int e2)
{
	struct diag_evidence *ev = c->ev;
	int last_same = ev->split_unknown_from - 1, tried = 0;
	struct responder a, b;

	for (int t = ev->divergence_ttl - 1; t > last_same && tried < SILENT_RETRIES; t--) {
		const struct probe *tp = trace_probe(&ev->trace, t, 0);
		struct timespec pause = { 1, 100000000 };
		int rc;

		if (tp == NULL || tp->state != PROBE_ANSWERED) {
			/* Silent to TCP even in the trace: try it with ICMP
			 * echo and UDP. */
			if ((rc = ask_other_protocols(c, t)) != 0)
				return rc;
			continue;
		}
		tried++;
		nanosleep(&pause, NULL);
		rc = probe_pair(c, fi, e1, e2, t, &a, &b);
		if (rc != 0)
			return rc;
		if (a.answered && b.answered && !responder_differs(&a, &b)) {
			last_same = t;
			ev->balancer = a;
			break;
		}
	}
	ev->split_unknown_from = last_same < ev->divergence_ttl - 1 ? last_same + 1 : 0;
	return 0;
}

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
	return ev->split_unknown_from ? retry_silent(c, fi, e1, e2) : 0;
}

/* Step 3: the first TTL at which the two codepoints of the split flow
 * reach different responders, by bisection (they differ at the screen
 * TTL); then the router one hop before. */
int localize_split(struct dctx *c)
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

/* Does the path depend on DSCP? A note, not a fault: DSCP is stable
 * within most flows. */
static int screen_dscp(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[3 * sizeof(dscp_try)];
	size_t n = 0;
	int rc, flows = ev->nflows < 3 ? ev->nflows : 3;

	/* --fields dscp screens it fully (diag_fields.c). */
	if (c->p->fields & (1u << FIELD_DSCP))
		return 0;
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

/* Every answer at this TTL came from the target itself, none from a
 * router: the trace lost the target's answer at its own TTL and put it a
 * hop too far, and a screen of the target shows nothing of the routers
 * (branches that rejoin before it look like one path). */
static int screen_at_target(const struct diag_evidence *ev)
{
	int n = 0;

	for (int i = 0; i < ev->nflows; i++)
		for (int k = 0; k < 4; k++) {
			const struct responder *r = &ev->flows[i].by_ecn[k];

			if (!r->answered)
				continue;
			if (r->kind == REPLY_TIME_EXCEEDED || !addr_eq(&r->addr, &ev->dst))
				return 0;
			n++;
		}
	return n > 0;
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
int confirm_first_split(struct dctx *c, int from)
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

int per_packet_seen(const struct diag_evidence *ev)
{
	return ev->repeats.differed > 0 || ev->same.differed > 0;
}

/* Agreeing bits (screen_bits) that rule out a 2-way ECN hash with this
 * confidence: 1 - 2^-bits >= c. */
static int need_bits(double c)
{
	return (int)ceil(log2(1.0 / (1.0 - c)) - 1e-9);
}

/* Screen enough flows whole, within the budget: what a round loses the
 * next asks again; flows that never answer are replaced. */
static int screen_enough(struct dctx *c, int need)
{
	struct diag_evidence *ev = c->ev;
	size_t limit = 4 * DIAG_MAX_FLOWS;
	int64_t t0 = 0;
	int rc = 0;

	for (int round = 0, fills = 0, dry = 0; rc == 0 && round < 3 + FILL_ROUNDS &&
					 !ect_blackholed(ev); round++) {
		int proving, more, parted = 0;
		size_t asked, got;

		if (round)
			pace_retry(t0);
		t0 = now_ns();

		/* Agreeing answers prove a negative (screen_bits); one flow
		 * whose codepoints part is the lead to follow: no need to
		 * wait for more. */
		for (int i = 0; i < ev->nflows; i++) {
			int e1, e2;

			parted |= flow_split(&ev->flows[i], &e1, &e2);
		}
		proving = screen_proving_flows(ev);
		if (parted || screen_bits(ev) >= need_bits(c->p->confidence))
			break;
		if (fills < FILL_ROUNDS && dry < 2) {
			rc = screen_fill(c, limit, &asked, &got);
			if (rc != 0)
				break;
			/* Nothing came back twice running: the router is silent
			 * for these flows, not limited; add flows instead. A few
			 * answers of many: a rate limit. Ask for little more
			 * than it lets through; the rest would be lost. Nothing
			 * to ask (each flow whole or wholly silent): no dry
			 * round, add flows now. */
			if (asked > 0) {
				fills++;
				dry = got ? 0 : dry + 1;
				limit = got + 2;
				if (got || dry < 2)
					continue;
			}
		}
		if (ev->nflows >= c->p->max_flows)
			break;
		/* Ask new flows for the proving ones still missing (a fill
		 * that gets here asked or got nothing: proving stands). */
		more = need - proving > 0 ? need - proving : 1;
		if (ev->nflows + more > c->p->max_flows)
			more = c->p->max_flows - ev->nflows;
		rc = screen_flows(c, ev->nflows, ev->nflows + more);
	}
	return rc;
}

/* The screen again, from nothing, at another TTL. */
static int rescreen(struct dctx *c, int ttl, int need)
{
	memset(c->ev->flows, 0, sizeof(c->ev->flows));
	c->ev->nflows = 0;
	c->ev->screen_ttl = ttl;
	return screen_flows(c, 0, need);
}

int step_paths(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	int need = flows_needed(c->p->confidence), rc, up = 0;

	progress(c, "probing each flow with every ECN codepoint");
	if (need > c->p->max_flows)
		need = c->p->max_flows;
	rc = screen_flows(c, 0, need);
	/* Not one answer at this TTL: its routers are silent. One hop
	 * further the target (or the next routers) may speak. */
	for (; rc == 0 && up < 3 && screen_silent(ev) &&
	       ev->screen_ttl < c->p->max_ttl; up++)
		rc = rescreen(c, ev->screen_ttl + 1, need);
	/* Only the target answered: one hop nearer, where routers are (not
	 * back down to a TTL found silent). */
	for (int down = 0; rc == 0 && !up && down < 2 && screen_at_target(ev) &&
			   ev->screen_ttl > 1 && !c->p->screen_ttl; down++)
		rc = rescreen(c, ev->screen_ttl - 1, need);
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
	rc = screen_per_packet(c);
	if (rc == 0 && per_packet_seen(ev))
		return localize_per_packet(c);
	if (rc != 0)
		return rc;
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

int step_dest_compare(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	struct probe pr[2 * DEST_PROBES];
	int rc;

	for (int k = 0; k < 2 * DEST_PROBES; k++) {
		add_probe(c, &pr[k], (uint16_t)(c->p->sport_base + DIAG_PLAIN_PORT),
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
