/*
 * judge_fields: findings from the --fields screen, and CE alone. Pure.
 * A field is charged only for a flow whose value parted from its control
 * (the field's default on the same flow, everything else identical) and
 * whose repeats, identical probes of both, all agreed: per-packet
 * balancing is ruled out at the run's confidence (the bound of
 * diag_perpacket.c). Per-packet balancing seen anywhere charges no field
 * (judge() does not call this then). Too few repeats, or one that
 * differed: said (unconfirmed), not charged.
 */
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "judge_int.h"
#include "stats.h"

static const char *const field_names[FIELD_COUNT] = {
	[FIELD_ECN] = "ecn", [FIELD_TTL] = "ttl",
	[FIELD_FLOWLABEL] = "flowlabel", [FIELD_DSCP] = "dscp",
	[FIELD_FRAG] = "frag",
};

const char *field_name(int field)
{
	return field >= 0 && field < FIELD_COUNT ? field_names[field] : "?";
}

int fields_parse(const char *s, unsigned *mask)
{
	*mask = 1u << FIELD_ECN;
	if (*s == '\0')
		return -1;
	while (*s) {
		size_t n = strcspn(s, ",");
		int k, found = 0;

		if (n == 3 && strncmp(s, "all", 3) == 0) {
			*mask = FIELDS_ALL;
			found = 1;
		}
		for (k = 0; k < FIELD_COUNT && !found; k++)
			if (strlen(field_names[k]) == n && strncmp(s, field_names[k], n) == 0) {
				*mask |= 1u << k;
				found = 1;
			}
		if (!found)
			return -1;
		s += n;
		if (*s == ',' && *++s == '\0')
			return -1;           /* a trailing comma */
	}
	return 0;
}

int ce_only_flows(const struct diag_evidence *ev, int *parted)
{
	const unsigned others = 1u << ECN_NOT_ECT | 1u << ECN_ECT0 | 1u << ECN_ECT1;
	int m = 0;

	*parted = 0;
	for (int i = 0; i < ev->nflows; i++) {
		int differ = codepoints_differ(&ev->flows[i], others);

		*parted |= differ;
		m += ev->flows[i].full && !differ && router_answered(&ev->flows[i]);
	}
	return m;
}

static struct finding *find_cause(struct diag_verdict *v, enum cause_kind k)
{
	for (int i = 0; i < v->ncauses; i++)
		if (v->causes[i].kind == k)
			return &v->causes[i];
	return NULL;
}

/* Does some flow's SYN-ACK come with this TTL: a site of the target? */
static int synack_ttl_seen(const struct connect_result *cr, int ttl)
{
	for (size_t i = 0; i < cr->nflows; i++)
		if (cr->flows[i].have_synack && cr->flows[i].synack.ttl == ttl)
			return 1;
	return 0;
}

/* ECN connections whose data an RST answered from another hop count
 * than their SYN-ACK, one that another flow's SYN-ACK came with: another
 * site of the target. An RST from a hop count no SYN-ACK had is a
 * middlebox's (review A7): that is the ect-reset's, not a ce-hash's. */
static int ecn_reset_by_other_site(const struct diag_evidence *ev)
{
	const struct connect_result *cr = &ev->conn;
	int n = 0;

	for (size_t i = 0; ev->have_conn && i < cr->nflows; i++)
		n += !cr->flows[i].control &&
		     (cr->flows[i].data_tos & 3) != ECN_NOT_ECT &&
		     cr->flows[i].result == CR_RESET_OTHER &&
		     synack_ttl_seen(cr, cr->flows[i].rst.ttl);
	return n;
}

/* Any CE mark seen: ECN connections whose data the server echoed as
 * CE-marked, or a ce-marking finding (from them or from quotes). */
static int ce_marks_seen(const struct diag_evidence *ev,
			 struct diag_verdict *v)
{
	return find_cause(v, CAUSE_CE_MARKING) != NULL ||
	       (ev->have_conn && ev->conn.counts[CR_CE_MARKED] > 0);
}

/*
 * The replay's likelihood ratio, CE alone against a hash over every
 * codepoint, when no CE mark was seen (two paths, each codepoint's drawn
 * alike, as for 4^-m). An ECN connection (Not-ECT handshake, ECT data) is
 * reset by another site with probability 1/2 under the ECN hash, p/2
 * under CE alone with data marked at a rate p (marked, and CE's path the
 * other one); delivered without ECE 1/2 against 1 - p (a marked one on
 * CE's same path would echo ECE). The all-ECT(0) replay of a reset flow
 * is delivered with probability 1 under the ECN hash (one codepoint, one
 * path) against 1 - p. So p^k (2(1-p))^d (1-p)^ok, at its largest at
 * p = k / (k + d + ok). An all-ECT(0) replay reset by another site is
 * what the ECN hash cannot do: no ratio (INFINITY), as when no ECN
 * connection was reset.
 */
static double ce_replay_ratio(const struct diag_evidence *ev)
{
	const struct connect_result *cr = &ev->conn;
	int ok, reset, k = ecn_reset_by_other_site(ev), d = 0;
	double p;

	judge_all_ect(ev, &ok, &reset);
	if (k == 0 || reset > 0)
		return INFINITY;
	for (size_t i = 0; i < cr->nflows; i++)
		d += !cr->flows[i].control &&
		     (cr->flows[i].data_tos & 3) != ECN_NOT_ECT &&
		     cr->flows[i].data_acked && !cr->flows[i].have_rst;
	p = (double)k / (k + d + ok);
	return pow(p, k) * pow(2.0 * (1.0 - p), d) * pow(1.0 - p, ok);
}

/* An ecn-hash whose split pairs CE with another codepoint, on a path
 * where the three others never parted: under a hash over all of ECN each
 * whole flow would part them with probability 3/4, so m such flows leave
 * 4^-m. Unless, with no CE mark seen, the replay speaks more strongly
 * against CE alone (ce_replay_ratio at most 4^-m: its ECT data reset by
 * another site as often as ECT(0) itself moving it would, the all-ECT(0)
 * replays delivered): then ecn-hash, the wider claim, stands. */
static void judge_ce(const struct diag_evidence *ev, double c,
		     struct diag_verdict *v)
{
	for (int i = 0; i < v->ncauses; i++) {
		struct finding *f = &v->causes[i];
		int parted, m;

		if (f->kind != CAUSE_ECN_HASH || !finding_has(f, FACT_ECN_A) ||
		    (f->fact[FACT_ECN_A] != ECN_CE && f->fact[FACT_ECN_B] != ECN_CE))
			continue;
		m = ce_only_flows(ev, &parted);
		if (parted || pow(0.25, m) > 1.0 - c + 1e-12)
			continue;
		if (!ce_marks_seen(ev, v) && ce_replay_ratio(ev) <= pow(0.25, m))
			continue;
		f->kind = CAUSE_CE_HASH;
		judge_fact(f, FACT_CE_FLOWS, m);
		if (f->confidence > 1.0 - pow(0.25, m))
			f->confidence = 1.0 - pow(0.25, m);
	}
}

/* A ce-hash, and ECN data reset even when the whole flow was sent ECT(0)
 * (ect-reset): where that data arrived CE-marked (ce-marking from the
 * replay's ECEs) or was reset by another site of the target, the marks
 * moved it there, so the resets are the ce-hash's doing, not a
 * consistent path's. One cause, not latent. */
static void ce_explains_resets(const struct diag_evidence *ev,
			       struct diag_verdict *v)
{
	struct finding *ce = find_cause(v, CAUSE_CE_HASH);
	struct finding *marks = find_cause(v, CAUSE_CE_MARKING);
	struct finding *rst = find_cause(v, CAUSE_ECT_RESET);
	int marked = marks && !finding_has(marks, FACT_QUOTE_HOP);

	if (!ce || !rst || (!marked && ecn_reset_by_other_site(ev) == 0))
		return;
	ce->latent = 0;
	for (int k = FACT_TEST; k <= FACT_CONTROL_BAD; k++)
		judge_fact(ce, (enum fact)k, rst->fact[k]);
	judge_fact(ce, FACT_ALL_ECT_N, rst->fact[FACT_ALL_ECT_N]);
	judge_fact(ce, FACT_ALL_ECT_RESET, rst->fact[FACT_ALL_ECT_RESET]);
	ce->p_value = rst->p_value;
	*rst = v->causes[--v->ncauses];
}

int fields_tests(unsigned asked, int family)
{
	int m = 1;                   /* ECN, always screened */

	for (int k = FIELD_TTL; k < FIELD_COUNT; k++)
		if (asked & (1u << k))
			m += k == FIELD_FLOWLABEL ? family == AF_INET6 : 1;
	return m;
}

double field_level(double confidence, int tests)
{
	return tests > 1 ? 1.0 - (1.0 - confidence) / tests : confidence;
}

int fork_flows_needed(double level, int hops)
{
	double miss = (1.0 - level) / (hops > 1 ? hops : 1);

	return 1 + (int)ceil(log2(1.0 / miss) - 1e-9);
}

double fields_level(const struct diag_evidence *ev, double confidence)
{
	int m = 1;

	for (int k = FIELD_TTL; k < FIELD_COUNT; k++)
		m += ev->fields.f[k].screened && ev->fields.f[k].applies;
	return field_level(confidence, m);
}

int fields_short(const struct diag_evidence *ev, double confidence)
{
	double lvl = fields_level(ev, confidence);
	int n = 0;

	for (int k = FIELD_TTL; k < FIELD_COUNT; k++) {
		const struct field_evidence *fe = &ev->fields.f[k];

		n += fe->screened && fe->applies && !fe->parted &&
		     field_confidence(fe) + 1e-12 < lvl;
	}
	return n;
}

/* 1 - 2^-bits, the bound of a 2-way hash splitting flows evenly (a
 * many-way even one parts them more often); capped at FIELD_CONF_CAP, as
 * an uneven split hides longer than the bound says (review B13). */
double field_confidence(const struct field_evidence *fe)
{
	int bits = 0;

	for (int i = 0; i < fe->nflows; i++) {
		const struct field_flow *ff = &fe->flows[i];
		int hop = fe->at_hop, end = 1;

		for (int k = 0; k < fe->nvalues; k++) {
			hop &= ff->hop[k].answered &&
			       !responder_differs(&ff->hop[0], &ff->hop[k]);
			end &= ff->end[k].answered &&
			       !responder_differs(&ff->end[0], &ff->end[k]);
		}
		/* One draw a flow: its hop and its end share the balancer. */
		if (hop || end)
			bits += fe->nvalues - 1;
	}
	return fmin(1.0 - pow(0.5, bits), FIELD_CONF_CAP);
}

/* The target's distance, 0 if never reached. */
static int dest_hop(const struct diag_evidence *ev)
{
	return ev->trace.dest_ttl ? ev->trace.dest_ttl :
	       ev->have_plain_trace ? ev->plain.dest_ttl : 0;
}

/* The last hop where all fork flows met one router, 0 if none met
 * there in the number this level wants (answers lost on asking again). */
static int fork_trunk(const struct diag_evidence *ev, double lvl)
{
	const struct field_evidence *fe = &ev->fields.f[FIELD_TTL];

	return fe->fork_trunk > 0 &&
	       fe->fork_trunk_flows >= fork_flows_needed(lvl, ev->screen_ttl) ?
	       fe->fork_trunk : 0;
}

/* Where the TTL's router can be: at the last hop where every fork flow
 * met one router, or after it, up to the last router before the target
 * (or from the first hop, none such). Named only when that is one hop.
 * The first fork of the flows' paths is no evidence: any ECMP router
 * forks flows of other ports (review A3). */
static void ttl_where(const struct diag_evidence *ev, double lvl,
		      struct finding *f)
{
	const struct field_evidence *fe = &ev->fields.f[FIELD_TTL];
	int dest = dest_hop(ev), trunk = fork_trunk(ev, lvl);
	int first = trunk > 0 ? trunk : 1;
	int last = dest > ev->screen_ttl + 1 ? dest - 1 : ev->screen_ttl;

	if (last < first)
		last = first;
	judge_locate(f, first, last, trunk > 0 ? &fe->balancer : NULL);
	/* The bound holds but for a chance meeting at one of the hops
	 * scanned: the finding is no surer than that (at least lvl). */
	if (trunk > 0)
		f->confidence = fmin(f->confidence, 1.0 - ev->screen_ttl *
				     pow(0.5, fe->fork_trunk_flows - 1));
	judge_fact(f, FACT_SPLIT_HOP, trunk + 1);
	/* Flows that met at the trunk, else as many as a hop needed. */
	judge_fact(f, FACT_FORK_FLOWS, trunk > 0 ? fe->fork_trunk_flows :
		   fork_flows_needed(lvl, ev->screen_ttl));
}

/* Where: the router before the first TTL at which the two values part,
 * up to the hops silent on the way. Parted only at the target with the
 * screen's hop alike: that hop, or one after it before the target. */
static void field_where(const struct diag_evidence *ev, double lvl, int k,
			struct finding *f)
{
	const struct field_evidence *fe = &ev->fields.f[k];
	int last = fe->divergence_ttl - 1;
	int first = fe->split_unknown_from ? fe->split_unknown_from - 1 : last;
	int dest = dest_hop(ev);

	if (k == FIELD_TTL) {
		ttl_where(ev, lvl, f);
		return;
	}
	if (fe->divergence_ttl > ev->screen_ttl && dest > ev->screen_ttl + 1)
		last = dest - 1;
	judge_locate(f, first, last, &fe->balancer);
	judge_fact(f, FACT_SPLIT_HOP, fe->divergence_ttl);
}

static void field_facts(const struct field_evidence *fe, int k,
			struct finding *f)
{
	const struct field_flow *ff = &fe->flows[fe->split_flow];

	judge_fact(f, FACT_FIELD, k);
	judge_fact(f, FACT_SPORT, ff->sport);
	judge_fact(f, FACT_VALUE_A, ff->value[0]);
	judge_fact(f, FACT_VALUE_B, ff->value[fe->split_value]);
	judge_fact(f, FACT_AT_END, fe->at_end);
	judge_fact(f, FACT_REPEATS, fe->repeats.answered);
	judge_fact(f, FACT_REPEATS_AGREED, fe->repeats.answered - fe->repeats.differed);
	/* Where it was located, else the first answers that parted. */
	f->reach[0] = fe->split_at[0].answered ? fe->split_at[0] :
		      fe->at_end ? ff->end[0] : ff->hop[0];
	f->reach[1] = fe->split_at[1].answered ? fe->split_at[1] :
		      fe->at_end ? ff->end[fe->split_value] : ff->hop[fe->split_value];
}

/* A flow label or DSCP parted only at the target, by the answer's return
 * hop count alone (one address, one kind of answer): a server reflecting
 * the field into its SYN-ACK (net.ipv6.flowlabel_reflect,
 * net.ipv4.tcp_reflect_tos) behind a return path hashing on it moves
 * the answers, not the probes (review A6). */
static int return_hops_only(const struct field_evidence *fe, int k)
{
	const struct field_flow *ff = &fe->flows[fe->split_flow];
	const struct responder *a = &ff->end[0], *b = &ff->end[fe->split_value];

	return fe->at_end && (k == FIELD_FLOWLABEL || k == FIELD_DSCP) &&
	       a->kind == b->kind && addr_eq(&a->addr, &b->addr);
}

static void judge_field(const struct diag_evidence *ev, double c, int k,
			struct diag_verdict *v)
{
	const struct field_evidence *fe = &ev->fields.f[k];
	double conf;
	struct finding *f;

	if (!fe->screened || !fe->applies || !fe->parted)
		return;
	conf = 1.0 - pp_miss_pair(fe->split_draws[0], fe->split_draws[1]);
	if (return_hops_only(fe, k)) {
		if ((f = judge_add(v, NOTE_UNCONFIRMED, conf)) != NULL) {
			field_facts(fe, k, f);
			judge_fact(f, FACT_HOPS_ONLY, 1);
		}
		return;
	}
	if (!fe->split_seen || fe->repeats.differed > 0 || conf + 1e-12 < c) {
		if ((f = judge_add(v, NOTE_UNCONFIRMED, conf)) != NULL)
			field_facts(fe, k, f);
		return;
	}
	f = judge_add(v, k == FIELD_TTL ? CAUSE_TTL_HASH :
		      k == FIELD_FLOWLABEL ? CAUSE_FLOWLABEL_HASH :
		      k == FIELD_FRAG ? CAUSE_FRAGMENT_PATH : NOTE_DSCP_HASH, conf);
	if (f == NULL)
		return;
	/* Conditional: it breaks a connection only when the field changes
	 * within it (a TTL per packet, a new flow label after a timeout, a
	 * datagram too big for the path). */
	f->latent = k != FIELD_DSCP;
	field_facts(fe, k, f);
	field_where(ev, c, k, f);
	if (k == FIELD_DSCP) {
		v->dscp_dependent = 1;
		judge_fact(f, FACT_SCREEN_HOP, ev->screen_ttl);
	}
}

void judge_fields(const struct diag_evidence *ev, double confidence,
		  struct diag_verdict *v)
{
	double lvl = fields_level(ev, confidence);

	judge_ce(ev, confidence, v);
	ce_explains_resets(ev, v);
	for (int k = FIELD_TTL; k < FIELD_COUNT; k++) {
		const struct field_evidence *fe = &ev->fields.f[k];

		judge_field(ev, lvl, k, v);
		/* A field that did not part is cleared only as far as its
		 * agreeing flows go: the path verdict is no surer than that
		 * (too few answers: inconclusive, as for ECN; judge_status
		 * also wants each field at its level, fields_short). */
		if (fe->screened && fe->applies && !fe->parted &&
		    field_confidence(fe) < v->path_confidence)
			v->path_confidence = field_confidence(fe);
	}
}
