/*
 * diag_fields: the flow-consistency screen over header fields (--fields).
 * One field varied alone, everything else byte-identical (addresses,
 * ports, TOS, the TCP SYN), over the screen's flows:
 *  - at the screen's hop (the last router before the target): which
 *    router answers each value (flow label, DSCP);
 *  - at the target: which machine answers (the SYN-ACK's hop count),
 *    each value's SYN sent with TTL 64, the TTL field's with its own.
 * A TTL cannot be varied at a hop: a probe expires where its TTL ends,
 * so the TTL is screened at the target only and its router found as the
 * fork of the flows' paths (fork_scan). The first flow whose value
 * parts from its control is repeated to tell a hash from per-packet
 * balancing, then located. CE: where the ECN split is CE's alone, more
 * flows tell a hash over CE from one over all of ECN. Evidence only.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "diag_probe.h"
#include "stats.h"

/* SYNs that must reach the target: the TTL's control. */
#define END_TTL 64
/* Fragments: UDP to a high port, which the target answers closed (ICMP
 * port unreachable) whichever of its machines gets the datagram. */
#define FRAG_PORT 33435
#define CONFIRM_ROUNDS 6
#define FIELD_TRIES 2
/* Rounds of the screen while they get answers: a target rate-limiting
 * its ICMP (Linux: a burst of 6, then one a second) answers a few
 * fragments a round, and a field short of its level says nothing. */
#define FIELD_FILL_ROUNDS 6

/* DSCPs tried, three a flow after the control 0: af11 ef cs1 first,
 * then others, so that flows are independent draws even under a hash
 * over DSCP alone. */
static const uint8_t dscp_values[3 * FIELD_FLOWS_4] = {
	10, 46, 8, 18, 26, 34, 16, 24, 12, 20, 28, 36, 40, 48, 14, 22, 30, 38,
	32, 44, 4, 6, 42, 50,
};

/* The confidence each field is measured at: the run's, over the tests
 * --fields makes (judge_fields.c judges at the same). */
static double level(const struct dctx *c)
{
	return field_level(c->p->confidence,
			   fields_tests(c->p->fields, c->p->dst.family));
}

static uint32_t field_value(int field, int flow, int k)
{
	uint32_t x;

	if (k == 0)
		return field == FIELD_TTL ? END_TTL : 0;
	switch (field) {
	case FIELD_FRAG:
		return 1;                /* fragmented; 0: whole */
	case FIELD_TTL:
		/* 63, 128, 255 for the first flow, one less each next flow. */
		return (uint32_t)((k == 1 ? 63 : k == 2 ? 128 : 255) - flow);
	case FIELD_DSCP:
		return dscp_values[3 * flow + k - 1];
	default:                     /* FIELD_FLOWLABEL: 20 bits, not 0 */
		x = (uint32_t)(flow * FIELD_VALUES + k) * 0x9e3779b1u;
		x = (x >> 12) & 0xfffff;
		return x ? x : 1;
	}
}

/* The probe of flow sport with this value of the field, expiring at
 * ttl (the target: ttl 0, END_TTL or the TTL field's value). */
static void field_probe(struct dctx *c, struct probe *pr, uint16_t sport,
			int field, uint32_t value, int ttl)
{
	struct flow f = path_flow(c->p, sport, ECN_NOT_ECT);

	if (ttl == 0)
		ttl = field == FIELD_TTL ? (int)value : END_TTL;
	if (field == FIELD_FLOWLABEL)
		f.flowlabel = value;
	else if (field == FIELD_DSCP)
		f.tos = (uint8_t)(value << 2);
	else if (field == FIELD_FRAG) {
		f.proto = IPPROTO_UDP;
		f.quic = 0;
		f.dport = FRAG_PORT;
	}
	flow_probe(&f, ttl, c->e->token_base + c->token, pr);
	if (field == FIELD_FRAG && value)
		pr->d.frag_part = 1;
	c->token += 2;
}

/* A fragmented datagram for the target: its second fragment goes ahead
 * of the probe (the first), so the target can reassemble it when the
 * first arrives and answer. TTL-limited probes need no second part:
 * routers answer the first fragment alone. */
static int send_rest(struct dctx *c, const struct probe *pr, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct probe_desc d = pr[k].d;
		int64_t t;

		if (d.frag_part != 1 || d.ttl != END_TTL)
			continue;
		d.frag_part = 2;
		if (engine_send(c->e, &d, &t) < 0) {
			snprintf(c->err, c->errlen, "cannot send a fragment: %s",
				 strerror(errno));
			return EX_OSERR;
		}
		c->res->path_probes++;
	}
	return 0;
}

/* One batch of every unanswered slot of the field's flows; user: flow *
 * 2 * FIELD_VALUES + where * FIELD_VALUES + k (where 0 hop, 1 end). */
static int screen_round(struct dctx *c, struct field_evidence *fe, int field,
			size_t *answered)
{
	struct probe pr[2 * FIELD_VALUES * FIELD_FLOWS];
	size_t n = 0;
	int rc;

	*answered = 0;
	for (int i = 0; i < fe->nflows; i++) {
		struct field_flow *ff = &fe->flows[i];

		for (int w = fe->at_hop ? 0 : 1; w < 2; w++)
			for (int k = 0; k < fe->nvalues; k++) {
				struct responder *r = w ? &ff->end[k] : &ff->hop[k];

				if (r->answered)
					continue;
				field_probe(c, &pr[n], ff->sport, field, ff->value[k],
					    w ? 0 : c->ev->screen_ttl);
				pr[n++].user = (i * 2 + w) * FIELD_VALUES + k;
			}
	}
	if (n == 0)
		return 0;
	if ((rc = send_rest(c, pr, n)) != 0)
		return rc;
	rc = run_batch(c, pr, n);
	for (size_t j = 0; j < n; j++) {
		int u = pr[j].user, k = u % FIELD_VALUES, w = (u / FIELD_VALUES) % 2;
		struct field_flow *ff = &fe->flows[u / (2 * FIELD_VALUES)];

		if (pr[j].state != PROBE_ANSWERED)
			continue;
		(*answered)++;
		if (w)
			ff->end[k] = responder_of(&pr[j]);
		else
			ff->hop[k] = responder_of(&pr[j]);
	}
	return rc;
}

/* The first flow whose value k parts from its control, at the hop first. */
static int find_parted(struct field_evidence *fe)
{
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < fe->nflows; i++)
			for (int k = 1; k < fe->nvalues; k++) {
				const struct field_flow *ff = &fe->flows[i];
				const struct responder *r = w ? ff->end : ff->hop;

				if (!responder_differs(&r[0], &r[k]))
					continue;
				fe->parted = 1;
				fe->at_end = w;
				fe->split_flow = i;
				fe->split_value = k;
				return 1;
			}
	return 0;
}

int confirm_order(int want, const int drawn[2], int *side, int max)
{
	int n = 0;

	/* Each side's probes back to back, two at least: a round-robin
	 * balancer (on either path) parts two identical probes in a row,
	 * where it would line up with an alternation of the two values
	 * (review A6). */
	for (int w = 0; w < 2; w++) {
		int need = want - drawn[w];

		if (need < 2)
			need = 2;
		for (int j = 0; j < need && n < max; j++)
			side[n++] = w;
	}
	return n;
}

/* Repeat the two parted probes, each against its first answer, until
 * per-packet balancing is ruled out at the run's confidence (the bound
 * of diag_perpacket.c) or a repeat differs. */
static int confirm(struct dctx *c, struct field_evidence *fe, int field)
{
	const struct field_flow *ff = &fe->flows[fe->split_flow];
	int k = fe->split_value, ttl = fe->at_end ? 0 : c->ev->screen_ttl;
	const struct responder *ref = fe->at_end ? ff->end : ff->hop;
	double miss = 1.0 - level(c);
	int want = (int)ceil(log(miss) / log(0.25) - 1e-9), differ = 0, rc;
	int64_t t0 = 0;

	for (int round = 0; round < CONFIRM_ROUNDS && !differ &&
			    pp_miss_pair(fe->split_draws[0], fe->split_draws[1]) > miss;
	     round++) {
		struct probe pr[32];
		int side[32];
		size_t n = (size_t)confirm_order(want, fe->split_draws, side, 32);

		if (round)
			pace_retry(t0);
		t0 = now_ns();
		for (size_t j = 0; j < n; j++) {
			field_probe(c, &pr[j], ff->sport, field,
				    ff->value[side[j] ? k : 0], ttl);
			pr[j].user = side[j];
		}
		if ((rc = send_rest(c, pr, n)) != 0 || (rc = run_batch(c, pr, n)) != 0)
			return rc;
		for (size_t j = 0; j < n; j++) {
			struct responder s = responder_of(&pr[j]);
			int w = pr[j].user;

			if (!s.answered)
				continue;
			fe->repeats.answered++;
			if (responder_differs(&s, &ref[w ? k : 0])) {
				fe->repeats.differed++;
				differ = 1;
			} else {
				fe->split_draws[w]++;
			}
		}
	}
	fe->split_seen = !differ &&
			 pp_miss_pair(fe->split_draws[0], fe->split_draws[1]) <= miss;
	return 0;
}

/* The two values of the split flow at ttl, asked again once for what
 * did not come. */
static int pair_at(struct dctx *c, struct field_evidence *fe, int field,
		   int ttl, struct responder *a, struct responder *b)
{
	const struct field_flow *ff = &fe->flows[fe->split_flow];
	struct responder *slot[2] = { a, b };
	int64_t t0 = 0;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	for (int tries = 0; tries < FIELD_TRIES && !(a->answered && b->answered);
	     tries++) {
		struct probe pr[2];
		int idx[2];
		size_t n = 0;
		int rc;

		if (tries)
			pace_retry(t0);
		t0 = now_ns();
		for (int w = 0; w < 2; w++) {
			if (slot[w]->answered)
				continue;
			field_probe(c, &pr[n], ff->sport, field,
				    ff->value[w ? fe->split_value : 0], ttl);
			idx[n++] = w;
		}
		if ((rc = run_batch(c, pr, n)) != 0)
			return rc;
		for (size_t j = 0; j < n; j++)
			*slot[idx[j]] = responder_of(&pr[j]);
	}
	return 0;
}

/* Where the values part: walking down from the screen's hop, the first
 * TTL at which both answer alike ends the walk; silent TTLs on the way
 * are the margin (split_unknown_from). Parted only at the target: the
 * screen's hop answered both alike, so the split lies past it. */
static int locate(struct dctx *c, struct field_evidence *fe, int field)
{
	struct diag_evidence *ev = c->ev;
	const struct field_flow *ff = &fe->flows[fe->split_flow];
	int first = ev->screen_ttl, last_same = 0;
	struct responder a, b;

	fe->split_at[0] = fe->at_end ? ff->end[0] : ff->hop[0];
	fe->split_at[1] = fe->at_end ? ff->end[fe->split_value] : ff->hop[fe->split_value];
	if (fe->at_end) {
		fe->divergence_ttl = ev->screen_ttl + 1;
		if (fe->at_hop && ff->hop[0].answered &&
		    !responder_differs(&ff->hop[0], &ff->hop[fe->split_value])) {
			fe->balancer = ff->hop[0];
			return 0;
		}
		first = ev->screen_ttl + 1;
	}
	for (int t = first - 1; t >= 1; t--) {
		int rc = pair_at(c, fe, field, t, &a, &b);

		if (rc != 0)
			return rc;
		if (responder_differs(&a, &b)) {
			first = t;
			fe->split_at[0] = a;
			fe->split_at[1] = b;
			continue;
		}
		if (a.answered && b.answered) {
			last_same = t;
			fe->balancer = a;
			break;
		}
	}
	fe->divergence_ttl = first;
	fe->split_unknown_from = last_same < first - 1 ? last_same + 1 : 0;
	return 0;
}

/* The answers at ttl of the fork flows from..to-1 (source ports
 * sport_base + 1 + i), asked again once for what did not come; how
 * many answered. */
static int fork_hop(struct dctx *c, int from, int to, int ttl,
		    struct responder *got, int *answered)
{
	int64_t t0 = 0;

	memset(got, 0, sizeof(*got) * FIELD_FORK_FLOWS);
	*answered = 0;
	for (int tries = 0; tries < FIELD_TRIES && *answered < to - from; tries++) {
		struct probe pr[FIELD_FORK_FLOWS];
		size_t n = 0;
		int rc;

		if (tries)
			pace_retry(t0);
		t0 = now_ns();
		for (int i = from; i < to; i++)
			if (!got[i].answered) {
				add_probe(c, &pr[n], (uint16_t)(c->p->sport_base + 1 + i),
					  ECN_NOT_ECT, ttl);
				pr[n++].user = i;
			}
		if ((rc = run_batch(c, pr, n)) != 0)
			return rc;
		for (size_t j = 0; j < n; j++)
			if (pr[j].state == PROBE_ANSWERED) {
				got[pr[j].user] = responder_of(&pr[j]);
				(*answered)++;
			}
	}
	return 0;
}

/* Did the fork flows from..to-1 all answer, from one router (ref, set
 * from the first when ref has none)? */
static int fork_met(const struct responder *got, int from, int to,
		    struct responder *ref)
{
	for (int i = from; i < to; i++) {
		if (!got[i].answered)
			return 0;
		if (!ref->answered)
			*ref = got[i];
		else if (responder_differs(ref, &got[i]))
			return 0;
	}
	return 1;
}

int fork_choose(const struct responder *met, int hops, fork_ask_fn ask,
		void *ctx)
{
	for (int t = hops; t >= 1; t--) {
		int r;

		if (!met[t].answered)
			continue;
		if (ask == NULL)
			return t;
		if ((r = ask(ctx, t)) != 0)
			return r > 0 ? t : -1;
	}
	return 0;
}

/* fork_scan's second ask at a hop: the flows want..need-1. */
struct fork_ask {
	struct dctx *c;
	struct responder *ref;
	int want, need, rc;
	int met;                     /* flows that met at the hop chosen */
};

static int fork_again(void *ctx, int t)
{
	struct fork_ask *q = ctx;
	struct responder got[FIELD_FORK_FLOWS];
	int answered;

	if (engine_stop)
		return -1;
	if ((q->rc = fork_hop(q->c, q->want, q->need, t, got, &answered)) != 0)
		return -1;
	if (!fork_met(got, q->want, q->need, &q->ref[t]))
		return 0;
	q->met = q->need;
	return 1;
}

/* Where the TTL's router can be, for the TTL: hop by hop from the first
 * up to the screen's hop, fork_flows flows at each TTL (1 +
 * log2(1/(1-c)), so that all agreeing rules out a 2-way fork before that
 * hop). The last TTL at which every flow met one router (fork_trunk) is
 * where the flows' paths last join: a router hashing on the TTL (and the
 * ports) at or before it would have its branches rejoin there, so it lies
 * at that hop or after it. A fork seen on the way is not the TTL's: any
 * ECMP router forks flows of other ports (review A3), so the scan does
 * not stop at the first one. The scan keeps the last of several hops
 * where flows met, each by chance as likely past a fork: that hop is
 * asked again with more flows, up to fork_flows_needed, and passed over
 * for the one before if they part or go short (fork_choose). */
static int fork_scan(struct dctx *c, struct field_evidence *fe)
{
	struct diag_evidence *ev = c->ev;
	struct responder ref[256];
	struct fork_ask q = { c, ref, 1 + repeats_needed(level(c)),
			      fork_flows_needed(level(c), ev->screen_ttl), 0, 0 };
	int hops = ev->screen_ttl < 256 ? ev->screen_ttl : 255, t;

	if (q.want > FIELD_FORK_FLOWS)
		q.want = FIELD_FORK_FLOWS;
	if (q.need > FIELD_FORK_FLOWS)
		q.need = FIELD_FORK_FLOWS;
	if (q.need < q.want)
		q.need = q.want;
	fe->fork_flows = q.want;
	memset(ref, 0, sizeof(ref));
	for (t = 1; t <= hops && !engine_stop; t++) {
		struct responder got[FIELD_FORK_FLOWS];
		int answered, rc;

		if ((rc = fork_hop(c, 0, q.want, t, got, &answered)) != 0)
			return rc;
		if (!fork_met(got, 0, q.want, &ref[t]))
			ref[t].answered = 0;
	}
	t = engine_stop ? 0 : fork_choose(ref, hops, q.need > q.want ?
					  fork_again : NULL, &q);
	if (q.rc != 0)
		return q.rc;
	fe->fork_trunk = t > 0 ? t : 0;
	fe->fork_trunk_flows = t <= 0 ? 0 : q.need > q.want ? q.met : q.want;
	if (t > 0)
		fe->balancer = ref[t];
	fe->divergence_ttl = fe->fork_trunk + 1;
	fe->split_unknown_from = 0;
	return 0;
}

/* Rounds that add a flow where answers were lost. */
#define FIELD_MORE 4

static void add_flow(struct dctx *c, struct field_evidence *fe, int field)
{
	struct field_flow *ff = &fe->flows[fe->nflows];

	ff->sport = (uint16_t)(c->p->sport_base + 1 + fe->nflows);
	for (int k = 0; k < FIELD_VALUES; k++)
		ff->value[k] = field_value(field, fe->nflows, k);
	fe->nflows++;
}

/* The controls of fields screened before (TTL 64, flow label 0, DSCP 0:
 * one probe, byte for byte but the token) answer for this field's too:
 * a probe fewer each flow and place. Not for fragments (UDP). */
static void reuse_controls(struct diag_evidence *ev, struct field_evidence *fe,
			   int field)
{
	for (int k = FIELD_TTL; k < field && field != FIELD_FRAG; k++) {
		const struct field_evidence *o = &ev->fields.f[k];

		if (!o->screened || !o->applies)
			continue;
		for (int i = 0; i < fe->nflows && i < o->nflows; i++) {
			struct field_flow *ff = &fe->flows[i];
			const struct field_flow *of = &o->flows[i];

			if (ff->sport != of->sport)
				continue;
			if (!ff->end[0].answered)
				ff->end[0] = of->end[0];
			if (fe->at_hop && o->at_hop && !ff->hop[0].answered)
				ff->hop[0] = of->hop[0];
		}
	}
}

static int screen_field(struct dctx *c, int field)
{
	struct diag_evidence *ev = c->ev;
	struct field_evidence *fe = &ev->fields.f[field];
	/* A flow of 4 values hides a 2-way hash with 2^-3, of 2 with 2^-1:
	 * for fragments 1 + log2(1/(1-c)) flows, as after one responder the
	 * multipath search asks (8 at 0.99: at most 2^-7 missed). */
	int two = field == FIELD_FRAG;
	int want = two ? 1 + repeats_needed(level(c)) : flows_needed(level(c));
	int most = two ? FIELD_FLOWS : FIELD_FLOWS_4;
	size_t got;
	int64_t t0 = 0;
	int rc = 0;

	fe->screened = 1;
	fe->applies = field != FIELD_FLOWLABEL || c->p->dst.family == AF_INET6;
	if (!fe->applies)
		return 0;
	fe->nvalues = two ? 2 : FIELD_VALUES;
	/* The TTL cannot be varied at a hop; fragments are screened at the
	 * target only (a fifth of the cost), and located hop by hop once
	 * they part. */
	fe->at_hop = field != FIELD_TTL && field != FIELD_FRAG;
	fe->nflows = 0;
	for (int i = 0; i < (want < most ? want : most); i++)
		add_flow(c, fe, field);
	reuse_controls(ev, fe, field);
	for (int round = 0; rc == 0 && round < FIELD_FILL_ROUNDS; round++) {
		if (round)
			pace_retry(t0);
		t0 = now_ns();
		rc = screen_round(c, fe, field, &got);
		if (got == 0 || find_parted(fe))
			break;
	}
	/* Answers lost (a flow counts only whole): more flows, a few, until
	 * the agreeing ones rule the hash out at the confidence asked. */
	for (int more = 0; rc == 0 && got > 0 && more < FIELD_MORE &&
			   fe->nflows < most && !find_parted(fe) &&
			   field_confidence(fe) + 1e-12 < level(c); more++) {
		pace_retry(t0);
		t0 = now_ns();
		add_flow(c, fe, field);
		rc = screen_round(c, fe, field, &got);
	}
	if (rc != 0 || !find_parted(fe))
		return rc;
	progress(c, "repeating the probes a field parted");
	if ((rc = confirm(c, fe, field)) != 0 || !fe->split_seen)
		return rc;
	progress(c, "finding the hop where the field splits the path");
	return field == FIELD_TTL ? fork_scan(c, fe) : locate(c, fe, field);
}

/* The ECN split involves CE: screen more flows until the three other
 * codepoints agreeing on enough of them tells a hash over CE alone from
 * one over every codepoint (each such flow: 1/4 under the latter). */
static int screen_ce(struct dctx *c)
{
	struct diag_evidence *ev = c->ev;
	double miss = 1.0 - c->p->confidence;
	int rc = 0, parted;

	if (!ev->split_seen ||
	    (ev->split_ecn[0] != ECN_CE && ev->split_ecn[1] != ECN_CE))
		return 0;
	progress(c, "telling a hash over CE from one over ECN");
	for (int round = 0; rc == 0 && round < 4 && ev->nflows < c->p->max_flows;
	     round++) {
		int m = ce_only_flows(ev, &parted), more;

		if (parted || pow(0.25, m) <= miss)
			break;
		more = (int)ceil(log(miss) / log(0.25) - 1e-9) - m;
		if (more < 1)
			more = 1;
		if (ev->nflows + more > c->p->max_flows)
			more = c->p->max_flows - ev->nflows;
		rc = screen_flows(c, ev->nflows, ev->nflows + more);
	}
	return rc;
}

int step_fields(struct dctx *c)
{
	int rc = screen_ce(c);

	for (int k = FIELD_TTL; rc == 0 && k < FIELD_COUNT && !engine_stop; k++) {
		if (!(c->p->fields & (1u << k)))
			continue;
		progress(c, k == FIELD_TTL ? "screening the TTL" :
			    k == FIELD_FLOWLABEL ? "screening the flow label" :
			    k == FIELD_DSCP ? "screening DSCP" : "screening fragments");
		rc = screen_field(c, k);
	}
	return rc;
}
