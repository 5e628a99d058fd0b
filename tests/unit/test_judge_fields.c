/*
 * judge_fields(): the --fields screen's evidence in, whole verdicts out,
 * rendered as in test_judge.c ("STATUS/REASON; causes KIND@HOP=ADDR
 * !latent ...; notes ..."): a field is charged only where a flow's value
 * parted from its control and the repeats agreed, at the fork (TTL) or
 * the hop before the split, as an interval when hops are silent; never
 * behind per-packet balancing; ce-hash only when the other codepoints
 * agreed on enough whole flows. And the --fields list parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"
#include "judge.h"

static struct addr ip4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u), 1);
	return a;
}

/* Router at TTL t on branch b (0: the common path): 198.51.100.(10b+t). */
static struct responder te(int t, int b)
{
	char s[32];
	struct responder r = { .answered = 1, .reply = "time-exceeded",
			       .kind = REPLY_TIME_EXCEEDED };

	snprintf(s, sizeof(s), "198.51.100.%d", 10 * b + t);
	r.addr = ip4(s);
	return r;
}

/* The target's answer from site b, hops back. */
static struct responder site(int hops)
{
	struct responder r = { .answered = 1, .reply = "syn-ack",
			       .addr = ip4("203.0.113.80"), .kind = REPLY_TCP,
			       .hops = hops };
	return r;
}

/* A reached trace of 3 routers; a healthy screen at hop 3 of nflows
 * flows, flow 1 on another branch (per-flow multipath). */
static void healthy(struct diag_evidence *ev, int nflows)
{
	struct trace_result *t = &ev->trace;

	memset(t, 0, sizeof(*t));
	t->p.first_ttl = 1;
	t->p.max_ttl = 4;
	t->nprobes = 4;
	t->probes = calloc(4, sizeof(*t->probes));
	assert_non_null(t->probes);
	for (int ttl = 1; ttl <= 4; ttl++) {
		struct probe *p = &t->probes[ttl - 1];

		p->d.ttl = (uint8_t)ttl;
		p->state = PROBE_ANSWERED;
		p->reply.src = ttl <= 3 ? te(ttl, 0).addr : ip4("203.0.113.80");
		p->reply.kind = ttl <= 3 ? REPLY_TIME_EXCEEDED : REPLY_TCP;
	}
	t->dest_ttl = 4;
	t->stop_ttl = 4;
	ev->screen_ttl = 3;
	ev->nflows = nflows;
	for (int i = 0; i < nflows; i++) {
		ev->flows[i].sport = (uint16_t)(31001 + i);
		for (int k = 0; k < 4; k++)
			ev->flows[i].by_ecn[k] = te(3, i == 1 ? 2 : 1);
		ev->flows[i].full = 1;
	}
}

/* Field k screened on 3 flows, all values alike at the hop and the end. */
static struct field_evidence *field(struct diag_evidence *ev, int k)
{
	struct field_evidence *fe = &ev->fields.f[k];

	fe->screened = fe->applies = 1;
	fe->nvalues = FIELD_VALUES;
	fe->at_hop = k != FIELD_TTL;
	fe->nflows = 3;
	for (int i = 0; i < 3; i++) {
		fe->flows[i].sport = (uint16_t)(31001 + i);
		for (int v = 0; v < FIELD_VALUES; v++) {
			fe->flows[i].value[v] = (uint32_t)(k == FIELD_TTL && v == 0 ? 64 : v);
			if (fe->at_hop)
				fe->flows[i].hop[v] = te(3, 1);
			fe->flows[i].end[v] = site(4);
		}
	}
	return fe;
}

/* Flow 0's value 1 parted (at the end for the TTL, else at the hop),
 * repeats: draws each side, differed; located at divergence. */
static void parted(struct field_evidence *fe, int draws, int differed,
		   int divergence, int unknown_from, int balancer_ttl)
{
	fe->parted = 1;
	fe->at_end = !fe->at_hop;
	fe->split_flow = 0;
	fe->split_value = 1;
	if (fe->at_end)
		fe->flows[0].end[1] = site(5);
	else
		fe->flows[0].hop[1] = te(3, 2);
	fe->split_draws[0] = fe->split_draws[1] = draws;
	fe->repeats.answered = 2 * draws + differed;
	fe->repeats.differed = differed;
	fe->split_seen = differed == 0 && draws >= 4;
	fe->divergence_ttl = divergence;
	fe->split_unknown_from = unknown_from;
	if (balancer_ttl)
		fe->balancer = te(balancer_ttl, 0);
	fe->fork_trunk = balancer_ttl;   /* TTL: the fork scan's last join */
	fe->fork_flows = 9;              /* at 0.995, 1 + 8 */
	fe->fork_trunk_flows = balancer_ttl ? FIELD_FORK_FLOWS : 0;
}

static void put_finding(char *buf, size_t len, const struct finding *f)
{
	char a[64] = "";
	size_t n = strlen(buf);

	if (f->hop > 0 && f->addr.family) {
		a[0] = '=';
		inet_ntop(AF_INET, &f->addr.u, a + 1, sizeof(a) - 1);
	}
	if (f->hop > 0)
		snprintf(buf + n, len - n, " %s@%d%s%s", cause_name(f->kind), f->hop,
			 a, f->latent ? "!latent" : "");
	else if (f->hop_first > 0)
		snprintf(buf + n, len - n, " %s@%d-%d%s", cause_name(f->kind),
			 f->hop_first, f->hop_last, f->latent ? "!latent" : "");
	else
		snprintf(buf + n, len - n, " %s%s", cause_name(f->kind),
			 f->latent ? "!latent" : "");
}

static void verdict(struct diag_evidence *ev, const char *want)
{
	struct diag_verdict v;
	char buf[512];

	judge(ev, 0.99, &v);
	snprintf(buf, sizeof(buf), "%s; causes", diag_status_name(v.status));
	for (int i = 0; i < v.ncauses; i++)
		put_finding(buf, sizeof(buf), &v.causes[i]);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "; notes");
	for (int i = 0; i < v.nnotes; i++)
		put_finding(buf, sizeof(buf), &v.notes[i]);
	trace_free(&ev->trace);
	assert_string_equal(buf, want);
}

static struct diag_evidence *new_ev(void)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	healthy(ev, 3);
	return ev;
}

static void test_healthy_fields(void **state)
{
	struct diag_evidence *ev = new_ev();

	field(ev, FIELD_TTL);
	field(ev, FIELD_FLOWLABEL);
	field(ev, FIELD_DSCP);
	assert_true(field_confidence(&ev->fields.f[FIELD_TTL]) > 0.99);
	verdict(ev, "healthy; causes; notes safe-multipath");
	free(ev);
}

/* The TTL screened on one flow only (3 bits, 87.5%): no "healthy" on
 * it (review B15). */
static void test_field_short_not_healthy(void **state)
{
	struct diag_evidence *ev = new_ev();

	field(ev, FIELD_TTL)->nflows = 1;
	verdict(ev, "inconclusive; causes; notes safe-multipath");
	free(ev);
}

/* Three fields and ECN screened: each is judged at 1 - 0.01/4. Four
 * agreeing repeats a side (enough for one field at 0.99) are not; five
 * are (review C16). */
static void test_fields_bonferroni(void **state)
{
	struct diag_evidence *ev = new_ev();

	assert_true(fabs(field_level(0.99, 4) - 0.9975) < 1e-12);
	assert_int_equal(fields_tests(FIELDS_ALL, AF_INET), 4);
	assert_int_equal(fields_tests(FIELDS_ALL, AF_INET6), 5);
	assert_int_equal(fields_tests(1u << FIELD_ECN, AF_INET), 1);
	parted(field(ev, FIELD_TTL), 4, 0, 3, 0, 2);
	field(ev, FIELD_FLOWLABEL);
	field(ev, FIELD_DSCP);
	verdict(ev, "inconclusive; causes; notes safe-multipath unconfirmed");
	free(ev);
	ev = new_ev();
	parted(field(ev, FIELD_TTL), 5, 0, 3, 0, 2);
	field(ev, FIELD_FLOWLABEL);
	field(ev, FIELD_DSCP);
	verdict(ev, "latent; causes ttl-hash@2-3!latent; notes safe-multipath");
	free(ev);
}

/* The TTL's SYNs were answered on one flow only: 3 agreeing bits, short
 * of 0.99; the path is not cleared (inconclusive, few answers). */
static void test_field_few_answers(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct field_evidence *fe = field(ev, FIELD_TTL);
	struct diag_verdict v;

	memset(&fe->flows[1].end[2], 0, sizeof(struct responder));
	memset(&fe->flows[2].end[1], 0, sizeof(struct responder));
	judge(ev, 0.99, &v);
	assert_int_equal(v.status, DIAG_INCONCLUSIVE);
	assert_int_equal(v.reason, WHY_FEW_ANSWERS);
	assert_true(v.path_confidence < 0.9);
	trace_free(&ev->trace);
	free(ev);
}

/* TTL 64 and 63 of one flow reach sites 4 and 5 hops back; all fork
 * flows met at hop 2 and forked at 3 (an ordinary ECMP router at 2 does
 * that too): the TTL's router is hop 2 or 3, none named (review A3). */
static void test_ttl_hash_at_fork(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 0, 3, 0, 2);
	verdict(ev, "latent; causes ttl-hash@2-3!latent; notes safe-multipath");
	free(ev);
}

/* Every fork flow met one router at each hop up to the screen's (3), the
 * last before the target: only that router can part them. */
static void test_ttl_hash_last_join(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 0, 4, 0, 3);
	verdict(ev, "latent; causes ttl-hash@3=198.51.100.3!latent; notes safe-multipath");
	free(ev);
}

/* The flows met at hop 3, the last before the target, in 10 flows: at
 * 0.995 (TTL and ECN tested) over 3 hops 11 are wanted (a chance of
 * 2^-10 for each of the 3 hops the scan kept the last of), so hop 3
 * is no bound and no one is named; with 11 it is, and named. Twostage
 * hash=ttl: the fork flows met by chance at a branch router past the
 * TTL's router, which was named. */
static void test_ttl_hash_trunk_by_chance(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct field_evidence *fe = field(ev, FIELD_TTL);

	parted(fe, 4, 0, 4, 0, 3);
	fe->fork_trunk_flows = 10;
	verdict(ev, "latent; causes ttl-hash@1-3!latent; notes safe-multipath");
	free(ev);
	ev = new_ev();
	fe = field(ev, FIELD_TTL);
	parted(fe, 4, 0, 4, 0, 3);
	fe->fork_trunk_flows = 11;
	verdict(ev, "latent; causes ttl-hash@3=198.51.100.3!latent; notes safe-multipath");
	free(ev);
}

/* A bound by the fork flows is sure but for a chance meeting at one of
 * the 3 hops scanned: 1 - 3 * 2^-10 with 11 flows, below what the split
 * alone gives with 8 draws a side; from the first hop, the split's. */
static void test_ttl_hash_bound_confidence(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct field_evidence *fe = field(ev, FIELD_TTL);
	struct diag_verdict v;

	(void)state;
	parted(fe, 8, 0, 4, 0, 3);
	fe->fork_trunk_flows = 11;
	judge(ev, 0.99, &v);
	assert_int_equal(v.ncauses, 1);
	assert_int_equal(v.causes[0].hop, 3);
	assert_float_equal(v.causes[0].confidence, 1.0 - 3.0 / 1024, 1e-9);
	fe->fork_trunk = 0;
	fe->fork_trunk_flows = 0;
	judge(ev, 0.99, &v);
	assert_int_equal(v.ncauses, 1);
	assert_int_equal(v.causes[0].hop, 0);
	assert_true(v.causes[0].confidence > 1.0 - 3.0 / 1024);
	trace_free(&ev->trace);
	free(ev);
}

/* The flows a hop needs: 1 + log2(hops / (1 - level)), rounded up. */
static void test_fork_flows_needed(void **state)
{
	assert_int_equal(fork_flows_needed(0.99, 1), 8);
	assert_int_equal(fork_flows_needed(0.99, 0), 8);
	assert_int_equal(fork_flows_needed(0.995, 3), 11);
	assert_int_equal(fork_flows_needed(0.995, 5), 11);
	assert_int_equal(fork_flows_needed(0.995, 6), 12);
	assert_int_equal(fork_flows_needed(1.0 - 0.0001 / 6, 30), 22);
	/* The most: -c 0.9999 over five tests (IPv6, --fields all), 255 hops;
	 * the scan can ask that many. */
	assert_int_equal(fork_flows_needed(1.0 - 0.0001 / 5, 255), 25);
	assert_true(fork_flows_needed(1.0 - 0.0001 / 5, 255) <= FIELD_FORK_FLOWS);
}

/* Hop 2 gave too few answers: the flows last met at hop 1. */
static void test_ttl_hash_silent_fork(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 0, 2, 0, 1);
	verdict(ev, "latent; causes ttl-hash@1-3!latent; notes safe-multipath");
	free(ev);
}

/* The flows never all met: every hop before the target a candidate,
 * none named. */
static void test_ttl_hash_no_fork(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 0, 1, 0, 0);
	verdict(ev, "latent; causes ttl-hash@1-3!latent; notes safe-multipath");
	free(ev);
}

/* A repeat of the parted TTL probes reached another machine: per-packet
 * balancing explains the difference; said, not charged. */
static void test_ttl_repeat_differs(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 1, 3, 0, 2);
	verdict(ev, "inconclusive; causes; notes safe-multipath unconfirmed");
	free(ev);
}

/* Two agreeing repeats a side: 1 - 4^-2 is short of 0.99. */
static void test_ttl_few_repeats(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 2, 0, 3, 0, 2);
	verdict(ev, "inconclusive; causes; notes safe-multipath unconfirmed");
	free(ev);
}

static void test_flowlabel_hash(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_FLOWLABEL), 4, 0, 3, 0, 2);
	verdict(ev, "latent; causes flowlabel-hash@2=198.51.100.2!latent; notes safe-multipath");
	free(ev);
}

/* Flow 0's flow label parted only at the target (the screen's hop alike),
 * confirmed: machine is the target's answer to the parted value. */
static void flowlabel_at_end(struct diag_evidence *ev, struct responder machine)
{
	struct field_evidence *fe = field(ev, FIELD_FLOWLABEL);

	parted(fe, 4, 0, 4, 0, 3);
	fe->at_end = 1;
	fe->flows[0].hop[1] = te(3, 1);
	fe->flows[0].end[1] = machine;
	fe->split_at[0] = fe->flows[0].end[0];
	fe->split_at[1] = machine;
}

/* Only the return hop count differs, one address: a server reflecting
 * the label and a return path hashing on it explain it as well; said,
 * not charged (review A6). */
static void test_flowlabel_return_hops_only(void **state)
{
	struct diag_evidence *ev = new_ev();

	flowlabel_at_end(ev, site(5));
	verdict(ev, "inconclusive; causes; notes safe-multipath unconfirmed");
	free(ev);
}

/* Another address answered the parted value: the probes moved. */
static void test_flowlabel_at_end_other_addr(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct responder other = site(4);

	other.addr = ip4("203.0.113.81");
	flowlabel_at_end(ev, other);
	verdict(ev, "latent; causes flowlabel-hash@3=198.51.100.3!latent; notes safe-multipath");
	free(ev);
}

/* A confirmation round sends each side's probes back to back, two at
 * least, so a round-robin balancer parts identical probes (review A6). */
/* A fake second ask: which hops' added flows meet, and which were asked. */
struct fake_ask { unsigned meets, asked; int stop_at; };

static int fake_again(void *ctx, int t)
{
	struct fake_ask *q = ctx;

	q->asked |= 1u << t;
	if (t == q->stop_at)
		return -1;
	return q->meets >> t & 1;
}

/* The fork scan keeps the last hop whose first flows met, once more
 * flows met there too; a hop where they part (past a fork, met by
 * chance) is passed over for the one before; no ask: the last met. */
static void test_fork_choose(void **state)
{
	struct responder met[8];
	struct fake_ask q;

	(void)state;
	memset(met, 0, sizeof(met));
	met[1] = met[2] = met[4] = met[5] = te(1, 0);    /* 3 parted */
	q = (struct fake_ask){ 1u << 1 | 1u << 2 | 1u << 4, 0, 0 };
	assert_int_equal(fork_choose(met, 6, fake_again, &q), 4);
	assert_int_equal(q.asked, 1u << 5 | 1u << 4);
	q = (struct fake_ask){ 1u << 5, 0, 0 };
	assert_int_equal(fork_choose(met, 6, fake_again, &q), 5);
	assert_int_equal(q.asked, 1u << 5);
	q = (struct fake_ask){ 0, 0, 0 };
	assert_int_equal(fork_choose(met, 6, fake_again, &q), 0);
	assert_int_equal(q.asked, 1u << 5 | 1u << 4 | 1u << 2 | 1u << 1);
	q = (struct fake_ask){ 0, 0, 4 };
	assert_int_equal(fork_choose(met, 6, fake_again, &q), -1);
	assert_int_equal(fork_choose(met, 6, NULL, NULL), 5);
	assert_int_equal(fork_choose(met, 3, NULL, NULL), 2);
	memset(met, 0, sizeof(met));
	assert_int_equal(fork_choose(met, 6, NULL, NULL), 0);
}

static void test_confirm_order(void **state)
{
	int side[32], drawn[2] = { 0, 0 }, n;

	n = confirm_order(4, drawn, side, 32);
	assert_int_equal(n, 8);
	for (int j = 0; j < n; j++)
		assert_int_equal(side[j], j >= 4);
	drawn[0] = 4;
	drawn[1] = 3;
	n = confirm_order(4, drawn, side, 32);
	assert_int_equal(n, 4);
	for (int j = 0; j < n; j++)
		assert_int_equal(side[j], j >= 2);
}

/* IPv4: no flow label; nothing said even if the evidence had a split. */
static void test_flowlabel_ipv4(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct field_evidence *fe = field(ev, FIELD_FLOWLABEL);

	parted(fe, 4, 0, 3, 0, 2);
	fe->applies = 0;
	verdict(ev, "healthy; causes; notes safe-multipath");
	free(ev);
}

/* DSCP moves the flow: a note at the hop, the path stays healthy. */
static void test_dscp_note(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_DSCP), 4, 0, 3, 0, 2);
	ev->dscp_differs = 1;    /* the legacy screen saw it too: one note */
	verdict(ev, "healthy; causes; notes safe-multipath dscp-hash@2=198.51.100.2");
	free(ev);
}

/* A UDP flow's fragmented datagram reaches another machine than its
 * whole one (two values a flow, seven flows): fragment-path, located. */
static void test_fragment_path(void **state)
{
	struct diag_evidence *ev = new_ev();
	struct field_evidence *fe = field(ev, FIELD_FRAG);

	fe->nvalues = 2;
	fe->nflows = 7;
	for (int i = 3; i < 7; i++)
		for (int v = 0; v < 2; v++)
			fe->flows[i].end[v] = site(4);
	fe->at_hop = 0;
	assert_true(field_confidence(fe) > 0.99);    /* 7 flows, 1 bit each */
	parted(fe, 4, 0, 3, 0, 2);
	verdict(ev, "latent; causes fragment-path@2=198.51.100.2!latent; notes safe-multipath");
	free(ev);
}

/* Per-packet balancing on the path: no field is charged. */
static void test_per_packet_no_field(void **state)
{
	struct diag_evidence *ev = new_ev();

	parted(field(ev, FIELD_TTL), 4, 0, 3, 0, 2);
	ev->same.answered = 8;
	ev->same.differed = 1;
	ev->divergence_ttl = 3;
	ev->balancer = te(2, 0);
	verdict(ev, "broken; causes per-packet-lb@2=198.51.100.2; notes");
	free(ev);
}

/* Flow 0's CE probe parts from its others at hop 3, confirmed; the three
 * other codepoints agree on n whole flows. */
static void ce_split(struct diag_evidence *ev, int n)
{
	healthy(ev, n);
	ev->flows[0].by_ecn[ECN_CE] = te(3, 2);
	ev->split_seen = 1;
	ev->split_flow = 0;
	ev->split_ecn[0] = ECN_NOT_ECT;
	ev->split_ecn[1] = ECN_CE;
	ev->repeats.answered = 8;
	ev->split_draws[0] = ev->split_draws[1] = 4;
	ev->divergence_ttl = 3;
	ev->split_at[0] = te(3, 1);
	ev->split_at[1] = te(3, 2);
	ev->balancer = te(2, 0);
}

/* The replay: n ECN connections, every other one reset after its data
 * from the SYN-ACK's hop count (rst_other 0), from another site's (1:
 * every other plain connection's SYN-ACK came from there) or from one no
 * SYN-ACK had (2: a middlebox), n plain ones fine; the reset ones
 * replayed all-ECT(0), and reset again. */
static void replay_reset(struct diag_evidence *ev, int n, int rst_other)
{
	struct connect_result *cr = &ev->conn, *x = &ev->ect_check;
	int k = 0;

	memset(cr, 0, sizeof(*cr));
	cr->p.nflows = n;
	cr->p.mode = MODE_CLASSIC;
	cr->nflows = 2 * (size_t)n;
	cr->flows = calloc(cr->nflows, sizeof(*cr->flows));
	x->flows = calloc(cr->nflows, sizeof(*x->flows));
	assert_non_null(cr->flows);
	assert_non_null(x->flows);
	for (int i = 0; i < 2 * n; i++) {
		struct conn_flow *f = &cr->flows[i];
		int reset = i < n && i % 2 == 0;

		f->sport = (uint16_t)(31064 + i);
		f->control = i >= n;
		f->mode = f->control ? MODE_PLAIN : MODE_CLASSIC;
		f->have_synack = 1;
		f->synack.ttl = rst_other == 1 && f->control && i % 2 ? 59 : 60;
		f->synack.tcp.flags = TH_SYN | TH_ACK | (f->control ? 0 : TH_ECE);
		f->data_tos = f->control ? ECN_NOT_ECT : ECN_ECT0;
		f->have_rst = f->rst_after_data = reset;
		f->rst.ttl = (uint8_t)(rst_other == 1 ? 59 : rst_other == 2 ? 58 : 60);
		f->data_acked = !reset;
	}
	for (int i = 0; i < 2 * n; i++) {
		struct conn_flow *f = &cr->flows[i];

		f->result = conn_classify(f, 1, 1);
		if (f->control)
			cr->control_ok += f->result == CR_OK;
		else
			cr->counts[f->result]++;
		if (!f->control && f->rst_after_data) {
			x->flows[k] = *f;
			x->flows[k].mode = MODE_ALL_ECT;
			k++;
		}
	}
	x->nflows = (size_t)k;
	x->p.nflows = k;
	ev->have_conn = ev->have_ect_check = 1;
	ev->conn_rounds = 3;
}

static void free_replay(struct diag_evidence *ev)
{
	free(ev->conn.flows);
	free(ev->ect_check.flows);
}

static void test_ce_hash(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 4);
	verdict(ev, "latent; causes ce-hash@2=198.51.100.2!latent; notes");
	free(ev);
}

/* CE-marked data reset by another machine, the all-ECT(0) replay too:
 * the ce-hash breaks connections, no ect-reset beside it. */
static void test_ce_hash_breaks(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 4);
	replay_reset(ev, 14, 1);
	verdict(ev, "broken; causes ce-hash@2=198.51.100.2; notes");
	free_replay(ev);
	free(ev);
}

/* The router at hop 1, before the balancer, marks CE on ECT(0) probes (their
 * quotes from hop 2 on show it). */
static void quote_ce(struct diag_evidence *ev)
{
	ev->trace.p.nqueries = 1;
	for (int ttl = 1; ttl <= 3; ttl++) {
		struct probe *p = &ev->trace.probes[ttl - 1];

		p->d.tos = ECN_ECT0;
		p->reply.has_quote = 1;
		p->reply.q.tos = ttl >= 2 ? ECN_CE : ECN_ECT0;
	}
}

/* ce_split(4) and the replay of n ECN connections, every other one reset
 * by another site; of their all-ECT(0) replays the first nrst reset
 * again, the rest delivered; ce ECN connections echoed CE (ECE). */
static int ce_replay_not_ect;   /* the ECN connections' data sent Not-ECT */

static void ce_replay(int n, int nrst, int ce, int quote, const char *want)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));
	struct connect_result *x;

	assert_non_null(ev);
	ce_split(ev, 4);
	replay_reset(ev, n, 1);
	x = &ev->ect_check;
	for (size_t i = 0; i < x->nflows; i++) {
		int r = (int)i < nrst;

		x->flows[i].have_rst = x->flows[i].rst_after_data = r;
		x->flows[i].data_acked = !r;
		x->flows[i].result = conn_classify(&x->flows[i], 1, 1);
	}
	ev->conn.counts[CR_CE_MARKED] += ce;
	if (quote)
		quote_ce(ev);
	for (size_t i = 0; ce_replay_not_ect && i < ev->conn.nflows; i++)
		ev->conn.flows[i].data_tos = ECN_NOT_ECT;
	verdict(ev, want);
	free_replay(ev);
	free(ev);
}

/*
 * The screen drew 4 flows whose Not-ECT, ECT(0) and ECT(1) agreed (1 in
 * 256 under a hash over all of ECN). Against it, the replay with no CE
 * mark seen: k ECN connections reset by another site, d delivered, ok
 * all-ECT(0) replays delivered; CE alone has at most p^k (2(1-p))^d
 * (1-p)^ok of it against the ECN hash.
 */
static void test_ce_hash_against_replay(void **state)
{
	(void)state;
	/* The stop-21 CI's case: 7, 7, 7: (8/27)^7 = 2.0e-4, so ecn-hash. */
	ce_replay(14, 0, 0, 0, "broken; causes ecn-hash@2=198.51.100.2; notes");
	/* 4, 4, 4: (8/27)^4 = 0.0077 > 1/256: the screen wins (4 of 8 reset
	 * against none of 8 plain is no fault yet). */
	ce_replay(8, 0, 0, 0, "inconclusive; causes ce-hash@2=198.51.100.2!latent; notes unconfirmed");
	/* One: no refutation, nor alone significant. */
	ce_replay(2, 0, 0, 0, "latent; causes ce-hash@2=198.51.100.2!latent; notes loss");
	/* All-ECT(0) replays reset again: no ECN hash does that. */
	ce_replay(14, 3, 0, 0, "broken; causes ce-hash@2=198.51.100.2; notes");
	/* CE marks seen, echoed or quoted: CE alone stands. */
	ce_replay(14, 0, 3, 0, "broken; causes ce-hash@2=198.51.100.2 ce-marking; notes");
	ce_replay(14, 0, 0, 1, "broken; causes ce-hash@2=198.51.100.2 ce-marking@1=198.51.100.1; notes");
	/* Data sent Not-ECT, reset: no mark could have moved it, and no
	 * hash over ECN either; it speaks neither way. */
	ce_replay_not_ect = 1;
	ce_replay(14, 0, 0, 0, "latent; causes ce-hash@2=198.51.100.2!latent; notes");
	ce_replay_not_ect = 0;
}

/* Reset from the SYN-ACK's own hop count, with no CE mark seen: a
 * consistent path resets ECT data; the ce-hash does not explain it. */
static void test_ce_hash_same_machine_reset(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 4);
	replay_reset(ev, 14, 0);
	verdict(ev, "broken; causes ect-reset ce-hash@2=198.51.100.2!latent; notes");
	free_replay(ev);
	free(ev);
}

/* ECN data reset from a hop count no SYN-ACK came with: a middlebox
 * resets it, whatever CE does; both causes stand (review A7). */
static void test_ce_hash_middlebox_reset(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 4);
	replay_reset(ev, 14, 2);
	verdict(ev, "broken; causes ect-reset ce-hash@2=198.51.100.2!latent; notes");
	free_replay(ev);
	free(ev);
}

/* Three flows: 4^-3 > 0.01, the hash may cover every codepoint. */
static void test_ce_too_few_flows(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 3);
	verdict(ev, "latent; causes ecn-hash@2=198.51.100.2!latent; notes");
	free(ev);
}

/* Another flow parted Not-ECT from ECT(0): not CE alone. */
static void test_ce_others_parted(void **state)
{
	struct diag_evidence *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ce_split(ev, 6);
	ev->flows[3].by_ecn[ECN_ECT0] = te(3, 2);
	verdict(ev, "latent; causes ecn-hash@2=198.51.100.2!latent; notes");
	free(ev);
}

static void test_fields_parse(void **state)
{
	unsigned m;

	assert_int_equal(fields_parse("ttl,dscp", &m), 0);
	assert_int_equal(m, 1u << FIELD_ECN | 1u << FIELD_TTL | 1u << FIELD_DSCP);
	assert_int_equal(fields_parse("ecn", &m), 0);
	assert_int_equal(m, 1u << FIELD_ECN);
	assert_int_equal(fields_parse("all", &m), 0);
	assert_int_equal(m, FIELDS_ALL);
	assert_int_equal(fields_parse("flowlabel,all", &m), 0);
	assert_int_equal(m, FIELDS_ALL);
	assert_int_equal(fields_parse("", &m), -1);
	assert_int_equal(fields_parse("ttl,", &m), -1);
	assert_int_equal(fields_parse(",ttl", &m), -1);
	assert_int_equal(fields_parse("frag", &m), 0);
	assert_int_equal(m, 1u << FIELD_ECN | 1u << FIELD_FRAG);
	assert_int_equal(fields_parse("fragx", &m), -1);
	assert_int_equal(fields_parse("tt", &m), -1);
	assert_int_equal(fields_parse("ttlx", &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_fields),
		cmocka_unit_test(test_field_short_not_healthy),
		cmocka_unit_test(test_fields_bonferroni),
		cmocka_unit_test(test_field_few_answers),
		cmocka_unit_test(test_ttl_hash_at_fork),
		cmocka_unit_test(test_ttl_hash_last_join),
		cmocka_unit_test(test_ttl_hash_silent_fork),
		cmocka_unit_test(test_ttl_hash_trunk_by_chance),
		cmocka_unit_test(test_ttl_hash_bound_confidence),
		cmocka_unit_test(test_fork_flows_needed),
		cmocka_unit_test(test_fork_choose),
		cmocka_unit_test(test_ttl_hash_no_fork),
		cmocka_unit_test(test_ttl_repeat_differs),
		cmocka_unit_test(test_ttl_few_repeats),
		cmocka_unit_test(test_flowlabel_hash),
		cmocka_unit_test(test_flowlabel_ipv4),
		cmocka_unit_test(test_flowlabel_return_hops_only),
		cmocka_unit_test(test_flowlabel_at_end_other_addr),
		cmocka_unit_test(test_confirm_order),
		cmocka_unit_test(test_dscp_note),
		cmocka_unit_test(test_fragment_path),
		cmocka_unit_test(test_per_packet_no_field),
		cmocka_unit_test(test_ce_hash),
		cmocka_unit_test(test_ce_hash_breaks),
		cmocka_unit_test(test_ce_hash_against_replay),
		cmocka_unit_test(test_ce_hash_same_machine_reset),
		cmocka_unit_test(test_ce_hash_middlebox_reset),
		cmocka_unit_test(test_ce_too_few_flows),
		cmocka_unit_test(test_ce_others_parted),
		cmocka_unit_test(test_fields_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
