/* judge: findings from evidence. Pure; see judge.h. */
#include <math.h>
#include <string.h>

#include "judge_int.h"
#include "stats.h"

int responder_differs(const struct responder *a, const struct responder *b)
{
	if (!a->answered || !b->answered)
		return 0;
	if (!addr_eq(&a->addr, &b->addr) || a->kind != b->kind)
		return 1;
	/* One anycast address, several machines: the target's replies are
	 * told apart by how far they travelled, and a QUIC server by the
	 * versions it offers. */
	if (a->quic_ident != b->quic_ident)
		return 1;
	return (a->kind == REPLY_TCP || a->kind == REPLY_UDP ||
		(a->kind == REPLY_UNREACH && a->hops)) && a->hops != b->hops;
}

/* --------------------------------------------------------- findings */

static struct finding *add(struct diag_verdict *v, enum cause_kind k,
			   double conf)
{
	int note = k >= NOTE_FIRST;
	struct finding *f;

	if (note ? v->nnotes >= DIAG_MAX_NOTES : v->ncauses >= DIAG_MAX_CAUSES)
		return NULL;
	f = note ? &v->notes[v->nnotes++] : &v->causes[v->ncauses++];
	memset(f, 0, sizeof(*f));
	f->kind = k;
	f->confidence = conf;
	f->p_value = -1;
	return f;
}

static void fact(struct finding *f, enum fact k, long long val)
{
	f->fact[k] = val;
	f->facts |= 1ULL << k;
}

/* The router lies in [first, last]; who answered at first, if anyone.
 * Only an interval of one hop singles a router out. */
static void locate(struct finding *f, int first, int last,
		   const struct responder *at_first)
{
	if (first < 1)
		first = 1;
	if (last < first)
		return;
	f->hop_first = first;
	f->hop_last = last;
	if (at_first && at_first->answered)
		f->first_addr = at_first->addr;
	if (first == last) {
		f->hop = first;
		f->addr = f->first_addr;
	}
}

static void compared(struct finding *f, enum comparison c,
		     const struct comparison_result *r)
{
	fact(f, FACT_TEST, c);
	fact(f, FACT_TEST_N, r->test_n);
	fact(f, FACT_TEST_BAD, r->test_bad);
	fact(f, FACT_CONTROL_N, r->control_n);
	fact(f, FACT_CONTROL_BAD, r->control_bad);
	f->p_value = r->p;
}

static struct responder trace_responder(const struct trace_result *t, int ttl)
{
	const struct probe *p = ttl > 0 ? trace_probe(t, ttl, 0) : NULL;
	struct responder s;

	memset(&s, 0, sizeof(s));
	if (p && p->state == PROBE_ANSWERED) {
		s.answered = 1;
		s.addr = p->reply.src;
		s.kind = p->reply.kind;
	}
	return s;
}

static const struct probe *trace_at(const struct trace_result *t, int ttl)
{
	const struct probe *p = trace_probe(t, ttl, 0);

	return p && p->state == PROBE_ANSWERED ? p : NULL;
}

/* ECN rewritten on the way: the first hop whose quote differs from what
 * was sent. The packet was intact at the last hop that quoted it so, and
 * changed by the router there (or its link on): the interval between. */
static void judge_quotes(const struct diag_evidence *ev, struct diag_verdict *v)
{
	const struct trace_result *t = &ev->trace;
	int last = t->dest_ttl ? t->dest_ttl - 1 : t->stop_ttl, intact = 0;

	for (int ttl = t->p.first_ttl; ttl <= last; ttl++) {
		const struct probe *p = trace_at(t, ttl);
		enum ecn_change ch;
		int seen = 0;
		struct finding *f;

		if (p == NULL || !p->reply.has_quote)
			continue;
		ch = ecn_compare(p->d.tos, p->reply.q.tos);
		if (ch == ECN_SAME) {
			intact = ttl;
			continue;
		}
		for (int k = ttl; k <= last; k++) {
			const struct probe *q = trace_at(t, k);

			if (q && q->reply.has_quote &&
			    ecn_compare(q->d.tos, q->reply.q.tos) == ch)
				seen++;
		}
		f = add(v, ch == ECN_BLEACHED ? CAUSE_BLEACHING :
			   ch == ECN_CE_MARKED ? CAUSE_CE_MARKING : CAUSE_MANGLING,
			seen >= 2 ? 0.99 : 0.95);
		if (f == NULL)
			return;
		struct responder at = trace_responder(t, intact ? intact : ttl - 1);

		locate(f, intact ? intact : 1, ttl - 1, &at);
		fact(f, FACT_SENT_ECN, p->d.tos & 3);
		fact(f, FACT_QUOTED_ECN, p->reply.q.tos & 3);
		fact(f, FACT_QUOTE_HOP, ttl);
		fact(f, FACT_ALSO_AFTER, seen - 1);
		fact(f, FACT_AFTER_OF, last - ttl);
		f->reach[0].answered = 1;
		f->reach[0].addr = p->reply.src;
		if ((p->reply.q.tos >> 2) != (p->d.tos >> 2)) {
			struct finding *n = add(v, NOTE_DSCP_REMARK, 0.95);

			fact(f, FACT_DSCP_TOO, 1);
			if (n)
				locate(n, f->hop_first, f->hop_last, &at);
		}
		return;
	}
}

/* ECT vanishes where Not-ECT passes: the ECT(0) trace stopped short, and
 * at the target's distance ECT(0) probes were lost significantly more
 * often than Not-ECT ones sent beside them. Or the replay's ECT(0) data
 * was lost more often than the plain connections' data. */
static void judge_blackhole(const struct diag_evidence *ev, double c,
			    struct diag_verdict *v)
{
	struct comparison_result dest = judge_compare(ev, CMP_DEST_ECT);
	struct comparison_result data = judge_compare(ev, CMP_DATA_LOST);
	int path = significant(&dest, c), conn = significant(&data, c);
	struct finding *f;

	/* ECT data that an ECN-dependent path (or per-packet balancing)
	 * sends to another machine is not acknowledged either, when that
	 * machine's RST is lost: the split explains it, no black hole. */
	if (v->ecn_dependent || v->lb == LB_PER_PACKET)
		conn = 0;

	v->cmp[CMP_DEST_ECT] = dest;
	if (!path && !conn)
		return;
	f = add(v, CAUSE_ECT_BLACKHOLE, 1.0 - (path ? dest.p : data.p));
	if (f == NULL)
		return;
	compared(f, path ? CMP_DEST_ECT : CMP_DATA_LOST, path ? &dest : &data);
	if (path) {
		int last = 0;

		for (int ttl = ev->trace.p.first_ttl; ttl <= ev->trace.p.max_ttl; ttl++)
			if (trace_at(&ev->trace, ttl))
				last = ttl;
		struct responder at = trace_responder(&ev->trace, last);

		/* Lost on the way out of the last router that answered, or on
		 * the way into the next. */
		locate(f, last, last + 1, &at);
		fact(f, FACT_REACH_HOP, last);
		fact(f, FACT_PLAIN_DEST_HOP, ev->plain.dest_ttl);
	}
}

/* A flow's RST: from how many hops back? The forward trace names a router
 * at that distance only when the path is as long back as forth. */
static void rst_origin(const struct diag_evidence *ev, struct finding *f,
		       const struct conn_flow *x, int dest_hops)
{
	int hops = return_hops(x->rst.ttl);
	int dest = ev->trace.dest_ttl;

	fact(f, FACT_RST_HOPS, hops);
	if (hops > 0 && dest_hops > 0 && dest == dest_hops && hops < dest) {
		struct responder at = trace_responder(&ev->trace, hops);

		locate(f, hops, hops, &at);
	}
}

/* Return hops of the target's SYN-ACKs to the controls, 0 if they vary
 * or none came: only a steady figure says how long the way back is. */
static int control_synack_hops(const struct connect_result *cr)
{
	int hops = 0;

	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *f = &cr->flows[i];
		int h;

		if (is_ecn_flow(f) || !f->have_synack)
			continue;
		h = return_hops(f->synack.ttl);
		if (hops && h != hops)
			return 0;
		hops = h;
	}
	return hops;
}

static void judge_syn(const struct diag_evidence *ev, double c,
		      struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;
	struct comparison_result rs = judge_compare(ev, CMP_SYN_RESET);
	struct comparison_result dr = judge_compare(ev, CMP_SYN_ANSWER);
	struct finding *f;

	if (significant(&rs, c) && (f = add(v, CAUSE_SYN_ECN_RESET, 1.0 - rs.p))) {
		compared(f, CMP_SYN_RESET, &rs);
		for (size_t i = 0; i < cr->nflows; i++)
			if (is_ecn_flow(&cr->flows[i]) && cr->flows[i].have_rst &&
			    !cr->flows[i].have_synack) {
				rst_origin(ev, f, &cr->flows[i], control_synack_hops(cr));
				break;
			}
	}
	if (significant(&dr, c) && (f = add(v, CAUSE_SYN_ECN_DROP, 1.0 - dr.p)))
		compared(f, CMP_SYN_ANSWER, &dr);
}

static void judge_marks(const struct diag_evidence *ev, struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;
	int have = 0, ce = cr->counts[CR_CE_MARKED], n = cr->p.nflows;
	struct finding *f;

	for (int i = 0; i < v->ncauses; i++)
		have |= v->causes[i].kind == CAUSE_CE_MARKING;
	/* Loss never sets CE: two marked connections are no accident. */
	if (!have && ce >= 2 && (f = add(v, CAUSE_CE_MARKING, 0.99))) {
		fact(f, FACT_ECN_CONNS, n);
		fact(f, FACT_TEST_BAD, ce);
	}
	if (cr->counts[CR_ECN_DECLINED] && (f = add(v, NOTE_ECN_DECLINED, 1.0))) {
		fact(f, FACT_ECN_DECLINED, cr->counts[CR_ECN_DECLINED]);
		fact(f, FACT_ECN_CONNS, n);
	}
}

/* ------------------------------------------------------------- sites */

static void site_flow(struct site *s, uint16_t sport, int ecn, int rst)
{
	if (s->nflows < (int)(sizeof(s->flows) / sizeof(s->flows[0]))) {
		s->flows[s->nflows].sport = sport;
		s->flows[s->nflows].ecn = (uint8_t)ecn;
		s->flows[s->nflows].rst = (uint8_t)rst;
		s->nflows++;
	}
}

static struct site *synack_site(struct diag_verdict *v, const struct conn_flow *f)
{
	const struct tcp_seg *t = &f->synack.tcp;
	int hops = return_hops(f->synack.ttl), ws = t->have_wscale ? t->wscale : -1;
	struct site *s;

	for (int k = 0; k < v->nsites; k++) {
		s = &v->sites[k];
		if (s->hops == hops && s->window == t->window && s->mss == t->mss &&
		    s->wscale == ws && s->sack == t->sack_ok && s->ts == t->have_ts)
			return s;
	}
	if (v->nsites >= DIAG_MAX_SITES)
		return NULL;
	s = &v->sites[v->nsites++];
	s->hops = hops;
	s->window = t->window;
	s->mss = t->mss;
	s->wscale = ws;
	s->sack = t->sack_ok;
	s->ts = t->have_ts;
	return s;
}

static struct site *rst_site(struct diag_verdict *v, int hops, int other)
{
	for (int k = 0; k < v->nsites; k++)
		if (v->sites[k].hops == hops && v->sites[k].by_behaviour == other)
			return &v->sites[k];
	if (v->nsites >= DIAG_MAX_SITES)
		return NULL;
	v->sites[v->nsites].hops = hops;
	v->sites[v->nsites].wscale = -1;
	v->sites[v->nsites].by_behaviour = other;
	return &v->sites[v->nsites++];
}

/* The machines behind the address, told apart by the hop count of their
 * replies and what their SYN-ACKs carry. */
static void judge_sites(const struct diag_evidence *ev, struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;

	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *f = &cr->flows[i];
		struct site *s;

		if (f->have_synack && (s = synack_site(v, f)) != NULL) {
			s->synacks++;
			site_flow(s, f->sport, ECN_NOT_ECT, 0);
		}
	}
	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *f = &cr->flows[i];
		struct site *s;
		int other;

		/* Where the ECT(0) path itself resets, an RST is not a site. */
		if (!f->have_rst || !f->rst_after_data || ect_path_resets(ev))
			continue;
		/* Same hop count as a SYN-ACK site, but proven another
		 * machine: keep it apart. */
		other = f->result == CR_RESET_SAME && proven_other(ev, f->sport);
		if ((s = rst_site(v, return_hops(f->rst.ttl), other)) != NULL) {
			s->rsts++;
			site_flow(s, f->sport, f->data_tos & 3, 1);
		}
	}
}

/* ------------------------------------------------------------- paths */

/* A router's Time Exceeded answered one of the flow's codepoints. */
int router_answered(const struct diag_flow *f)
{
	for (int k = 0; k < 4; k++)
		if (f->by_ecn[k].answered && f->by_ecn[k].kind == REPLY_TIME_EXCEEDED)
			return 1;
	return 0;
}

int codepoints_differ(const struct diag_flow *f, unsigned mask)
{
	for (int a = 0; a < 4; a++)
		for (int b = a + 1; b < 4; b++)
			if ((mask >> a & mask >> b & 1) &&
			    responder_differs(&f->by_ecn[a], &f->by_ecn[b]))
				return 1;
	return 0;
}

int screen_proving_flows(const struct diag_evidence *ev)
{
	int n = 0;

	/* Whole flows only. A flow with some codepoints unanswered would
	 * count 2^-(k-1) if answers went missing at random, but a rate limit
	 * empties one router's budget, not the other's: the answers that
	 * come are those of one branch, and they agree because the other
	 * branch is silent, not because there is none. And flows a router
	 * answered: the target answering every codepoint alike shows no path
	 * (branches that rejoin before it look like one). */
	for (int i = 0; i < ev->nflows; i++)
		n += ev->flows[i].full && !codepoints_differ(&ev->flows[i], 0xf) &&
		     router_answered(&ev->flows[i]);
	return n;
}

int screen_bits(const struct diag_evidence *ev)
{
	return 3 * screen_proving_flows(ev);
}

int flows_disagree(const struct diag_evidence *ev)
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

static int breaks_connections(const struct diag_evidence *ev,
			      const struct comparison_result *rs, double c);

/* The replay alone located a split at the last router: only if ECN
 * connections were reset by another machine significantly more often
 * than plain ones. An all-ECT(0) replay that worked once after a random
 * reset proves nothing. */
static int inferred_split(const struct diag_evidence *ev, double c)
{
	struct comparison_result rs = judge_compare(ev, CMP_DATA_RESET);

	return ev->split_inferred && breaks_connections(ev, &rs, c);
}

static void judge_lb(const struct diag_evidence *ev, double c,
		     struct diag_verdict *v)
{
	int inferred = inferred_split(ev, c);

	if (ev->repeats.differed > 0 || ev->same.differed > 0) {
		v->lb = LB_PER_PACKET;
		v->path_confidence = 1.0;
		return;
	}
	if (ev->split_seen || inferred) {
		v->ecn_dependent = 1;
		v->lb = LB_PER_FLOW;
		v->path_confidence = inferred && !ev->split_seen ? 1.0 :
				     1.0 - pp_miss_pair(ev->split_draws[0],
							ev->split_draws[1]);
		return;
	}
	v->path_confidence = 1.0 - pow(0.5, screen_bits(ev));
	if (ev->screen_ttl == 0 && ev->trace.dest_ttl == 1)
		v->path_confidence = 1.0;    /* a neighbour: no path to split */
	v->lb = flows_disagree(ev) ? LB_PER_FLOW : LB_NONE;
}

/* Where the split lies: the last router both codepoints reached alike,
 * up to the one before the first hop where they differ. */
static void locate_split(const struct diag_evidence *ev, struct finding *f)
{
	int last = ev->divergence_ttl - 1;
	int first = ev->split_unknown_from ? ev->split_unknown_from - 1 : last;

	locate(f, first, last, &ev->balancer);
	f->reach[0] = ev->split_at[0];
	f->reach[1] = ev->split_at[1];
	fact(f, FACT_SPLIT_HOP, ev->divergence_ttl);
	for (int i = 0; i < ev->nsilent && f->hop == 0; i++)
		if (ev->silent[i].ttl > first && ev->silent[i].ttl <= last) {
			fact(f, FACT_ALT_HOP, ev->silent[i].ttl);
			fact(f, FACT_ALT_PROTO, ev->silent[i].proto);
			f->alt = ev->silent[i].who;
			break;
		}
}

/* The replay's ECN connections, as facts of an ecn-hash finding. */
static void replay_facts(const struct diag_evidence *ev, struct finding *f,
			 const struct comparison_result *rs)
{
	const struct connect_result *cr = &ev->conn;
	int other = 0, ok, reset;

	for (size_t i = 0; i < cr->nflows; i++) {
		const struct conn_flow *x = &cr->flows[i];

		if (!is_ecn_flow(x) || !diag_reset_by_other(ev, x))
			continue;
		if (other++ == 0) {
			fact(f, FACT_SYNACK_TTL, x->synack.ttl);
			fact(f, FACT_RST_TTL, x->rst.ttl);
		}
	}
	fact(f, FACT_RESET_OTHER, other);
	fact(f, FACT_ECN_CONNS, cr->p.nflows);
	fact(f, FACT_ECN_OK, cr->counts[CR_OK]);
	fact(f, FACT_ECN_DECLINED, cr->counts[CR_ECN_DECLINED]);
	compared(f, CMP_DATA_RESET, rs);
	judge_all_ect(ev, &ok, &reset);
	if (ev->have_ect_check) {
		fact(f, FACT_ALL_ECT_N, (long long)ev->ect_check.nflows);
		fact(f, FACT_ALL_ECT_OK, ok);
		fact(f, FACT_ALL_ECT_RESET, reset);
	}
}

/* Resets after the data that came from another machine than the
 * handshake, significantly more often with ECN than without. */
static int breaks_connections(const struct diag_evidence *ev,
			      const struct comparison_result *rs, double c)
{
	const struct connect_result *cr = &ev->conn;
	int other = 0;

	for (size_t i = 0; i < cr->nflows; i++)
		other += is_ecn_flow(&cr->flows[i]) &&
			 diag_reset_by_other(ev, &cr->flows[i]);
	return other > 0 && significant(rs, c) && !ect_path_resets(ev);
}

/* The site probes, as facts of an ecn-hash finding. */
static void site_facts(const struct diag_evidence *ev, struct finding *f,
		       const struct comparison_result *ss)
{
	struct comparison_result u = site_unproven(ev);

	fact(f, FACT_SITE_FLOWS, ss->test_n + ss->control_n);
	compared(f, CMP_SITE_ECT, ss);
	if (u.test_bad > 0) {
		fact(f, FACT_SITE_PARTED, u.test_bad);
		fact(f, FACT_SITE_PARTED_CONTROL, u.control_bad);
	}
	for (int i = 0; i < ev->sites.n; i++) {
		const struct site_pair *s = &ev->sites.pairs[i];

		if (s->ecn == ECN_NOT_ECT || !pair_whole(ev, s) ||
		    !site_moved(&s->first, &s->second))
			continue;
		fact(f, FACT_SITE_HOPS_A, s->first.hops);
		fact(f, FACT_SITE_HOPS_B, s->second.hops);
		if (s->first.quic_ident)
			fact(f, FACT_SITE_QUIC_A, s->first.quic_version);
		if (s->second.quic_ident)
			fact(f, FACT_SITE_QUIC_B, s->second.quic_version);
		fact(f, FACT_SITE_SPORT, s->sport);
		return;
	}
}

static int controls_reset_by_other(const struct diag_evidence *ev)
{
	int n = 0;

	for (size_t i = 0; ev->have_conn && i < ev->conn.nflows; i++)
		n += !is_ecn_flow(&ev->conn.flows[i]) &&
		     ev->conn.flows[i].result == CR_RESET_OTHER;
	if (ev->have_sites)           /* moved, or parted in any way */
		n += judge_site_parted(ev).control_bad;
	return n;
}

static void judge_ecn_path(const struct diag_evidence *ev, double c,
			   struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;
	struct comparison_result rs = judge_compare(ev, CMP_DATA_RESET);
	struct comparison_result ss = judge_compare(ev, CMP_SITE_ECT);
	int replayed = ev->have_conn && cr->control_ok + cr->counts[CR_OK] > 0;
	int breaks = ev->have_sites ? sites_split(ev, &ss, c) :
		     replayed && breaks_connections(ev, &rs, c);
	struct finding *f;

	v->cmp[CMP_DATA_RESET] = rs;
	/* Plain connections reset by another machine: their packets, all
	 * Not-ECT, took different paths, which no hash over ECN does. The
	 * codepoints' parting was then not ECN's doing (per-packet or
	 * unstable balancing the repeats did not catch): say so, charge
	 * nothing. */
	if (v->ecn_dependent && controls_reset_by_other(ev) > 0) {
		v->ecn_dependent = 0;
		v->lb = LB_NONE;
		if ((f = add(v, NOTE_UNCONFIRMED, v->path_confidence)) != NULL) {
			fact(f, FACT_SPLIT_HOP, ev->divergence_ttl);
			fact(f, FACT_CONTROL_BAD, controls_reset_by_other(ev));
			fact(f, FACT_CONTROL_N, ev->have_sites ? ss.control_n :
			     (long long)(cr->nflows - (size_t)cr->p.nflows));
			if (ev->have_sites)
				fact(f, FACT_SITE_FLOWS, ss.test_n + ss.control_n);
			fact(f, FACT_REPEATS, ev->repeats.answered);
			fact(f, FACT_REPEATS_AGREED,
			     ev->repeats.answered - ev->repeats.differed);
		}
		return;
	}
	if (v->ecn_dependent && v->path_confidence + 1e-12 < c) {
		/* Parted once, too few repeats to tell a hash from per-packet
		 * balancing: said, not charged. */
		v->ecn_dependent = 0;
		v->lb = LB_NONE;
		if ((f = add(v, NOTE_UNCONFIRMED, v->path_confidence)) != NULL) {
			fact(f, FACT_SPLIT_HOP, ev->divergence_ttl);
			fact(f, FACT_REPEATS, ev->repeats.answered);
			fact(f, FACT_REPEATS_AGREED,
			     ev->repeats.answered - ev->repeats.differed);
		}
		return;
	}
	if (v->ecn_dependent) {
		f = add(v, CAUSE_ECN_HASH, v->path_confidence);
		if (f == NULL)
			return;
		/* Proven by the path probes; whether it breaks anything today
		 * is the replay's to show. */
		f->latent = !breaks;
		locate_split(ev, f);
		fact(f, FACT_SPORT, ev->flows[ev->split_flow].sport);
		fact(f, FACT_ECN_A, ev->split_ecn[0]);
		fact(f, FACT_ECN_B, ev->split_ecn[1]);
		fact(f, FACT_REPEATS, ev->repeats.answered);
		fact(f, FACT_REPEATS_AGREED, ev->repeats.answered - ev->repeats.differed);
		if (ev->have_conn)
			replay_facts(ev, f, &rs);
		if (ev->have_sites)
			site_facts(ev, f, &ss);
		if (ev->split_inferred && !ev->split_seen)
			f->confidence = 1.0 - rs.p;
		return;
	}
	if (breaks && v->lb != LB_PER_PACKET &&
	    (f = add(v, CAUSE_ECN_HASH, 1.0 - (ev->have_sites ? ss.p : rs.p))) != NULL) {
		/* The replay proves what no probe located. */
		v->ecn_dependent = 1;
		if (ev->have_sites)
			site_facts(ev, f, &ss);
		else
			replay_facts(ev, f, &rs);
	}
}

static void judge_ect_reset(const struct diag_evidence *ev, double c,
			    struct diag_verdict *v)
{
	struct comparison_result rs = judge_compare(ev, CMP_DATA_RESET);
	const struct conn_flow *x = NULL;
	struct finding *f;
	int ok, reset;

	if (!ect_path_resets(ev) || !significant(&rs, c))
		return;
	judge_all_ect(ev, &ok, &reset);
	for (size_t i = 0; i < ev->ect_check.nflows && !x; i++)
		if (ev->ect_check.flows[i].have_rst && ev->ect_check.flows[i].have_synack)
			x = &ev->ect_check.flows[i];
	f = add(v, CAUSE_ECT_RESET, 1.0 - rs.p);
	if (f == NULL)
		return;
	compared(f, CMP_DATA_RESET, &rs);
	fact(f, FACT_ALL_ECT_N, (long long)ev->ect_check.nflows);
	fact(f, FACT_ALL_ECT_RESET, reset);
	if (x && return_hops(x->rst.ttl) < return_hops(x->synack.ttl))
		rst_origin(ev, f, x, return_hops(x->synack.ttl));
	else if (x)
		fact(f, FACT_RST_HOPS, return_hops(x->rst.ttl));
}

static void judge_per_packet(const struct diag_evidence *ev,
			     struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;
	const struct repeat_count *n = ev->same.differed ? &ev->same : &ev->repeats;
	struct finding *f;

	if (v->lb != LB_PER_PACKET || (f = add(v, CAUSE_PER_PACKET_LB, 1.0)) == NULL)
		return;
	locate_split(ev, f);
	fact(f, FACT_REPEATS, n->answered);
	fact(f, FACT_REPEATS_AGREED, n->answered - n->differed);
	if (ev->have_conn) {
		fact(f, FACT_ECN_CONNS, cr->p.nflows);
		fact(f, FACT_ECN_OK, cr->counts[CR_OK]);
		fact(f, FACT_CONTROL_N, (long long)cr->nflows - (long long)f->fact[FACT_ECN_CONNS]);
		fact(f, FACT_CONTROL_BAD, f->fact[FACT_CONTROL_N] - cr->control_ok);
	}
}

static void judge_path_notes(const struct diag_evidence *ev,
			     struct diag_verdict *v)
{
	struct finding *f;

	if (v->lb == LB_PER_FLOW && !v->ecn_dependent &&
	    (f = add(v, NOTE_SAFE_MULTIPATH, v->path_confidence)))
		fact(f, FACT_SCREEN_FLOWS, ev->nflows);
	v->dscp_dependent = ev->dscp_differs;
	/* Screened as a field (--fields dscp): judge_fields says it. */
	if (ev->dscp_differs && v->lb != LB_PER_PACKET &&
	    !ev->fields.f[FIELD_DSCP].screened &&
	    (f = add(v, NOTE_DSCP_HASH, 0.9)))
		fact(f, FACT_SCREEN_HOP, ev->screen_ttl);
}

/* UDP / QUIC answers that parted with ECT(0) but show no other machine:
 * from the target over another number of hops or with another kind of
 * reply (the way there or only the way back depends on ECN), or from
 * another address (something answers ECT(0) for the target: a filter, no
 * site). Either leaves "healthy" unproven; neither charges anyone. Where
 * the path probes proved the split, the first is a fact of its finding
 * (site_facts). */
static void judge_site_notes(const struct diag_evidence *ev,
			     struct diag_verdict *v)
{
	struct comparison_result u = site_unproven(ev);
	struct comparison_result e = judge_site_elsewhere(ev);
	struct finding *f;

	if (!ev->have_sites)
		return;
	if (!v->ecn_dependent && site_leans(&u) &&
	    (f = add(v, NOTE_UNCONFIRMED, 1.0 - u.p)) != NULL) {
		compared(f, CMP_SITE_ECT, &u);
		fact(f, FACT_SITE_PARTED, u.test_bad);
		fact(f, FACT_SITE_PARTED_CONTROL, u.control_bad);
	}
	if (site_leans(&e) && (f = add(v, NOTE_UNCONFIRMED, 1.0 - e.p)) != NULL) {
		compared(f, CMP_SITE_ECT, &e);
		fact(f, FACT_SITE_ELSEWHERE, e.test_bad);
		fact(f, FACT_SITE_ELSEWHERE_CONTROL, e.control_bad);
	}
}

/* Failures that struck ECN and its control alike are loss; ECN failing
 * more, short of significance, is said as such. */
static void judge_loss(const struct diag_evidence *ev, double c,
		       struct diag_verdict *v)
{
	for (int k = CMP_SYN_ANSWER; k < CMP_COUNT; k++) {
		struct comparison_result r = judge_compare(ev, (enum comparison)k);
		struct finding *f;

		v->cmp[k] = r;
		if (k == CMP_SITE_ECT) {
			/* Loss moves no flow: only an unproven lean is said
			 * (a moved control is judge_ecn_path's to say). */
			double sc = site_confidence(ev, c);

			if (r.control_bad == 0 && suggestive(CMP_DATA_RESET, &r, sc) &&
			    !significant(&r, sc) &&
			    (f = add(v, NOTE_UNCONFIRMED, 1.0 - r.p)) != NULL)
				compared(f, CMP_SITE_ECT, &r);
			continue;
		}
		/* Nothing got through either way: nothing to compare. */
		if (r.test_bad + r.control_bad == 0 || significant(&r, c) ||
		    r.control_bad == r.control_n)
			continue;
		/* The server itself resets SYNs, with ECN or without. */
		f = add(v, k == CMP_SYN_RESET && r.control_bad > 0 ? NOTE_SERVER_REFUSED :
			   suggestive((enum comparison)k, &r, c) ? NOTE_UNCONFIRMED : NOTE_LOSS,
			1.0 - r.p);
		if (f)
			compared(f, (enum comparison)k, &r);
	}
}

/* Causes that break something first, then by kind: the headline is
 * causes[0]. */
static void order_causes(struct diag_verdict *v)
{
	for (int i = 1; i < v->ncauses; i++)
		for (int j = i; j > 0; j--) {
			struct finding *a = &v->causes[j - 1], *b = &v->causes[j];
			struct finding t;

			if (a->latent < b->latent ||
			    (a->latent == b->latent && a->kind <= b->kind))
				break;
			t = *a;
			*a = *b;
			*b = t;
		}
}

static int has_note(const struct diag_verdict *v, enum cause_kind k)
{
	for (int i = 0; i < v->nnotes; i++)
		if (v->notes[i].kind == k)
			return 1;
	return 0;
}

static int site_whole_pairs(const struct diag_evidence *ev)
{
	struct comparison_result r = judge_compare(ev, CMP_SITE_ECT);

	return r.test_n + r.control_n;
}

/* The machines that answered the site probes: by return hops and QUIC
 * versions. */
static void judge_udp_sites(const struct diag_evidence *ev, struct diag_verdict *v)
{
	for (int i = 0; i < ev->sites.n; i++)
		for (int k = 0; k < 2; k++) {
			const struct site_pair *p = &ev->sites.pairs[i];
			const struct responder *r = k ? &p->second : &p->first;
			int j;

			if (!r->answered || r->kind == REPLY_TIME_EXCEEDED ||
			    !addr_eq(&r->addr, &ev->dst))
				continue;
			for (j = 0; j < v->nsites; j++)
				if (v->sites[j].hops == r->hops &&
				    v->sites[j].quic_version == r->quic_version)
					break;
			if (j == v->nsites && v->nsites < DIAG_MAX_SITES) {
				v->sites[j].hops = r->hops;
				v->sites[j].quic_version = r->quic_version;
				v->nsites++;
			}
			if (j < v->nsites)
				v->sites[j].answers++;
		}
}

static void judge_status(const struct diag_evidence *ev, struct diag_verdict *v)
{
	const struct connect_result *cr = &ev->conn;
	int controls = ev->have_conn ? (int)cr->nflows - cr->p.nflows : 0;
	int reached = ev->trace.dest_ttl || (ev->have_plain_trace && ev->plain.dest_ttl);
	int latent = 0;

	for (int i = 0; i < v->ncauses; i++) {
		if (!v->causes[i].latent) {
			v->status = DIAG_BROKEN;
			v->reason = WHY_CAUSE;
			return;
		}
		latent = 1;
	}
	if (!reached || (ev->have_conn && controls > 0 && cr->control_ok == 0) ||
	    (ev->have_sites && site_whole_pairs(ev) == 0)) {
		v->status = DIAG_INCONCLUSIVE;
		v->reason = ev->have_conn && cr->counts[CR_REFUSED] > 0 ? WHY_REFUSED
								       : WHY_NOT_REACHED;
		/* An ECN-dependent path is worth its words even so. */
		if (latent)
			v->status = DIAG_LATENT, v->reason = WHY_CAUSE;
		else
			(void)add(v, NOTE_TARGET_NOT_REACHED, 1.0);
		return;
	}
	if (has_note(v, NOTE_UNCONFIRMED)) {
		v->status = DIAG_INCONCLUSIVE;
		v->reason = v->path_confidence + 1e-12 < v->confidence ?
			    WHY_FEW_ANSWERS : WHY_NOT_SIGNIFICANT;
		return;
	}
	if (latent) {
		v->status = DIAG_LATENT;
		v->reason = WHY_CAUSE;
		return;
	}
	/* Each field asked for must reach its level too (review B15). */
	if (v->path_confidence + 1e-12 < v->confidence ||
	    fields_short(ev, v->confidence) > 0) {
		v->status = DIAG_INCONCLUSIVE;
		v->reason = WHY_FEW_ANSWERS;
		return;
	}
	v->status = DIAG_HEALTHY;
	v->reason = WHY_NO_FAULT;
}

void judge(const struct diag_evidence *ev, double confidence,
	   struct diag_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->confidence = confidence;
	judge_lb(ev, confidence, v);
	if (ev->have_conn)
		judge_sites(ev, v);
	if (ev->have_sites)
		judge_udp_sites(ev, v);
	judge_quotes(ev, v);
	/* Per-packet balancing breaks connections with ECN or without: no
	 * ECN cause on top of it. */
	if (v->lb == LB_PER_PACKET) {
		judge_per_packet(ev, v);
		judge_blackhole(ev, confidence, v);
	} else {
		if (ev->have_conn) {
			judge_syn(ev, confidence, v);
			judge_marks(ev, v);
		}
		judge_ecn_path(ev, confidence, v);
		judge_site_notes(ev, v);
		judge_blackhole(ev, confidence, v);
		if (ev->have_conn)
			judge_ect_reset(ev, confidence, v);
		judge_path_notes(ev, v);
		judge_fields(ev, confidence, v);
		judge_loss(ev, confidence, v);
	}
	order_causes(v);
	judge_status(ev, v);
}

/* For judge_fields.c (judge_int.h). */
struct finding *judge_add(struct diag_verdict *v, enum cause_kind k, double conf)
{
	return add(v, k, conf);
}

void judge_fact(struct finding *f, enum fact k, long long val)
{
	fact(f, k, val);
}

void judge_locate(struct finding *f, int first, int last,
		  const struct responder *at_first)
{
	locate(f, first, last, at_first);
}
