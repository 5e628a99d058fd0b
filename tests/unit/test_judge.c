/*
 * judge(): evidence records in, whole verdicts out. Each case builds the
 * evidence a network would leave (the story, per-packet balancing, loss,
 * a silent splitter, a busy server, a server that declines ECN, ...) and
 * compares the whole verdict, rendered as one line of its fields:
 *
 *   "STATUS/REASON; causes KIND[@HOP|@FIRST-LAST][=ADDR][!latent] ...;
 *    notes KIND ..."
 *
 * Also Fisher's exact test against values computed by hand.
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
#include "diagnose_out.h"
#include "judge.h"
#include "stats.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ builders */

static struct addr ip4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u), 1);
	return a;
}

/* Router at TTL t on branch b (0: the common path): 198.51.100.(10b+t). */
static struct addr router(int t, int b)
{
	char s[32];

	snprintf(s, sizeof(s), "198.51.100.%d", 10 * b + t);
	return ip4(s);
}

static struct responder te(int t, int b)
{
	struct responder r = { .answered = 1, .reply = "time-exceeded",
			       .addr = router(t, b), .kind = REPLY_TIME_EXCEEDED };
	return r;
}

/* A trace of `routers` routers then the target; TTLs in [silent_lo,
 * silent_hi] did not answer; the target answers only if reached. */
static void trace(struct trace_result *t, int routers, int reached,
		  int silent_lo, int silent_hi, uint8_t tos)
{
	memset(t, 0, sizeof(*t));
	t->p.first_ttl = 1;
	t->p.max_ttl = routers + 1;
	t->p.nqueries = 1;
	t->nprobes = (size_t)routers + 1;
	t->probes = calloc(t->nprobes, sizeof(*t->probes));
	assert_non_null(t->probes);
	for (int ttl = 1; ttl <= routers + 1; ttl++) {
		struct probe *p = &t->probes[ttl - 1];

		p->d.tos = tos;
		p->d.ttl = (uint8_t)ttl;
		if (ttl >= silent_lo && ttl <= silent_hi)
			continue;
		if (ttl == routers + 1 && !reached)
			continue;
		p->state = PROBE_ANSWERED;
		p->reply.src = ttl <= routers ? router(ttl, 0) : ip4("203.0.113.80");
		p->reply.kind = ttl <= routers ? REPLY_TIME_EXCEEDED : REPLY_TCP;
		p->reply.has_quote = ttl <= routers;
		p->reply.q.tos = tos;
	}
	t->dest_ttl = reached ? routers + 1 : 0;
	t->stop_ttl = routers + 1;
}

/* How one replayed connection went, on the wire. */
enum outcome {
	OK,                          /* data acknowledged */
	SYN_LOST,                    /* no answer to the SYN */
	SYN_RST,                     /* the SYN reset */
	DATA_LOST,                   /* first data acknowledged after a retransmission */
	DATA_NEVER,                  /* data never acknowledged */
	RST_OTHER,                   /* data reset from another hop count */
	RST_SAME,                    /* data reset from the SYN-ACK's hop count */
	DECLINED,                    /* SYN-ACK without ECE, then OK */
};

static void flow_set(struct conn_flow *f, enum outcome o)
{
	f->have_synack = o != SYN_LOST && o != SYN_RST;
	f->synack.ttl = 60;
	f->synack.tcp.flags = TH_SYN | TH_ACK |
			      (f->control || o == DECLINED ? 0 : TH_ECE);
	f->data_tos = f->control || o == DECLINED || !f->have_synack ? ECN_NOT_ECT
								    : ECN_ECT0;
	f->have_rst = o == SYN_RST || o == RST_OTHER || o == RST_SAME;
	f->rst_after_data = o == RST_OTHER || o == RST_SAME;
	f->rst.ttl = o == RST_OTHER ? 59 : 60;
	f->data_acked = o == OK || o == DATA_LOST || o == DECLINED;
	f->acked_after_retx = o == DATA_LOST;
}

/* A replay: ecn[i] and ctl[i] outcomes, n of each. */
static void replay(struct diag_evidence *ev, const enum outcome *ecn,
		   const enum outcome *ctl, int n)
{
	struct connect_result *cr = &ev->conn;
	int answered = 0, synacked = 0;

	memset(cr, 0, sizeof(*cr));
	cr->p.nflows = n;
	cr->p.mode = MODE_CLASSIC;
	cr->nflows = 2 * (size_t)n;
	cr->flows = calloc(cr->nflows, sizeof(*cr->flows));
	assert_non_null(cr->flows);
	for (int i = 0; i < 2 * n; i++) {
		struct conn_flow *f = &cr->flows[i];

		f->sport = (uint16_t)(31064 + i);
		f->control = i >= n;
		f->mode = f->control ? MODE_PLAIN : MODE_CLASSIC;
		flow_set(f, f->control ? ctl[i - n] : ecn[i]);
		if (f->control) {
			answered += f->have_synack || f->have_rst;
			synacked += f->have_synack;
		}
	}
	for (int i = 0; i < 2 * n; i++) {
		struct conn_flow *f = &cr->flows[i];

		f->result = conn_classify(f, answered > 0, synacked > 0);
		if (f->control)
			cr->control_ok += f->result == CR_OK;
		else
			cr->counts[f->result]++;
	}
	ev->have_conn = 1;
	ev->conn_rounds = 1;
}

/* The all-ECT(0) replay of every ECN flow reset after its data. */
static void all_ect(struct diag_evidence *ev, enum outcome o)
{
	struct connect_result *cr = &ev->conn, *x = &ev->ect_check;
	int n = 0;

	memset(x, 0, sizeof(*x));
	x->flows = calloc(cr->nflows, sizeof(*x->flows));
	assert_non_null(x->flows);
	for (size_t i = 0; i < cr->nflows; i++)
		if (!cr->flows[i].control && cr->flows[i].rst_after_data) {
			x->flows[n].sport = cr->flows[i].sport;
			x->flows[n].mode = MODE_ALL_ECT;
			flow_set(&x->flows[n], o);
			n++;
		}
	x->nflows = (size_t)n;
	x->p.nflows = n;
	ev->have_ect_check = 1;
}

/* The screen: nflows flows, all four codepoints answered by the router at
 * the screen TTL of branch 1 (no split). */
static void screen(struct diag_evidence *ev, int screen_ttl, int nflows)
{
	ev->screen_ttl = screen_ttl;
	ev->nflows = nflows;
	for (int i = 0; i < nflows; i++) {
		ev->flows[i].sport = (uint16_t)(31001 + i);
		for (int k = 0; k < 4; k++)
			ev->flows[i].by_ecn[k] = te(screen_ttl, 1);
		ev->flows[i].full = 1;
	}
}

/* Flow 0's Not-ECT and ECT(0) part at divergence; the hops from
 * unknown_from to divergence - 1 did not answer both (0: all did). */
static void split(struct diag_evidence *ev, int divergence, int unknown_from,
		  int repeats, int differed)
{
	int before = unknown_from ? unknown_from - 1 : divergence - 1;

	ev->split_seen = differed == 0;
	ev->split_flow = 0;
	ev->split_ecn[0] = ECN_NOT_ECT;
	ev->split_ecn[1] = ECN_ECT0;
	ev->repeats.answered = repeats;
	ev->repeats.differed = differed;
	ev->split_draws[0] = ev->split_draws[1] = differed ? 0 : repeats / 2;
	ev->divergence_ttl = divergence;
	ev->split_unknown_from = unknown_from;
	ev->split_at[0] = te(divergence, 1);
	ev->split_at[1] = te(divergence, 2);
	if (before >= 1)
		ev->balancer = te(before, 0);
	ev->flows[0].by_ecn[ECN_NOT_ECT] = te(ev->screen_ttl, 1);
	ev->flows[0].by_ecn[ECN_ECT0] = te(ev->screen_ttl, 2);
}

/* ------------------------------------------------------ the rendering */

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

static const char *const reasons[] = {
	"cause", "no-fault", "not-reached", "refused", "few-answers",
	"not-significant",
};

static void render(const struct diag_verdict *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s; causes", diag_status_name(v->status),
		 reasons[v->reason]);
	for (int i = 0; i < v->ncauses; i++)
		put_finding(buf, len, &v->causes[i]);
	snprintf(buf + strlen(buf), len - strlen(buf), "; notes");
	for (int i = 0; i < v->nnotes; i++)
		put_finding(buf, len, &v->notes[i]);
}

/* ---------------------------------------------------------- the cases */

/* The story: split at hop 3, the balancer at hop 2 answers; 7 of 14
 * ECN connections reset by another machine, the all-ECT replays work. */
static void ev_story(struct diag_evidence *ev)
{
	enum outcome e[14], c[14];

	for (int i = 0; i < 14; i++) {
		e[i] = i % 2 ? RST_OTHER : OK;
		c[i] = OK;
	}
	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 8, 0);
	replay(ev, e, c, 14);
	all_ect(ev, OK);
}

/* The story with one round only: 3 of 7 reset is not significant. */
static void ev_story_short(struct diag_evidence *ev)
{
	enum outcome e[7] = { RST_OTHER, OK, RST_OTHER, OK, RST_OTHER, OK, OK };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 8, 0);
	replay(ev, e, c, 7);
	all_ect(ev, OK);
}

/* The splitter at hop 2 sends no Time Exceeded: the split is bounded by
 * hop 1 (which answered both alike) and hop 2. */
static void ev_silent_splitter(struct diag_evidence *ev)
{
	ev_story(ev);
	trace_free(&ev->trace);
	trace(&ev->trace, 3, 1, 2, 2, ECN_ECT0);
	split(ev, 3, 2, 8, 0);
}

/* Silent hops 2..4 before a split at 5. */
static void ev_silent_run(struct diag_evidence *ev)
{
	ev_story(ev);
	trace_free(&ev->trace);
	trace(&ev->trace, 5, 1, 2, 4, ECN_ECT0);
	ev->screen_ttl = 5;
	split(ev, 5, 2, 8, 0);
}

/* The codepoints parted, but rate limits left two repeats answered: no
 * hash can be told from per-packet balancing yet. */
static void ev_split_unconfirmed(struct diag_evidence *ev)
{
	ev_story(ev);
	split(ev, 3, 0, 2, 0);
}

/* Round-robin per packet: repeats disagree; connections fail with and
 * without ECN. */
static void ev_per_packet(struct diag_evidence *ev)
{
	enum outcome e[7] = { RST_OTHER, OK, SYN_LOST, RST_OTHER, OK, RST_OTHER, OK };
	enum outcome c[7] = { RST_OTHER, OK, RST_OTHER, OK, OK, RST_OTHER, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 3, 2);
	replay(ev, e, c, 7);
}

/* The codepoints parted and the repeats agreed, by chance, behind random
 * per-packet balancing: plain connections were reset by another machine
 * too, which no ECN hash does. No ecn-hash. */
static void ev_random_pp_lucky(struct diag_evidence *ev)
{
	enum outcome e[7] = { RST_OTHER, OK, RST_OTHER, RST_OTHER, OK, RST_OTHER, OK };
	enum outcome c[7] = { OK, RST_OTHER, RST_OTHER, OK, RST_OTHER, RST_OTHER, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 10, 0);
	replay(ev, e, c, 7);
}

/* A correct 5-tuple balancer: flows differ, codepoints never. */
static void ev_safe(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 4);
	for (int k = 0; k < 4; k++)
		ev->flows[1].by_ecn[k] = te(3, 2);
	replay(ev, ok, ok, 7);
}

/* 3% loss everywhere, on a healthy path: one ECN SYN and one plain SYN
 * lost twice, one ECN data segment retransmitted. */
static void ev_loss(struct diag_evidence *ev)
{
	enum outcome e[7] = { OK, SYN_LOST, OK, DATA_LOST, OK, OK, OK };
	enum outcome c[7] = { OK, OK, SYN_LOST, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* Loss that hit only ECN, twice: within chance (p = 0.23). */
static void ev_two_ecn_losses(struct diag_evidence *ev)
{
	enum outcome e[7] = { OK, OK, OK, DATA_LOST, OK, OK, DATA_LOST };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* Four ECN data losses, none plain: suggestive (p = 0.035), not
 * significant at 99%. */
static void ev_one_ecn_loss(struct diag_evidence *ev)
{
	enum outcome e[7] = { OK, DATA_LOST, OK, DATA_LOST, DATA_LOST, OK, DATA_LOST };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* A slow server: its full accept queue drops the first data of ECN and
 * plain connections alike. */
static void ev_busy_server(struct diag_evidence *ev)
{
	enum outcome e[7] = { DATA_LOST, DATA_LOST, OK, DATA_LOST, OK, DATA_LOST, OK };
	enum outcome c[7] = { DATA_LOST, OK, DATA_LOST, DATA_LOST, OK, DATA_LOST, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* ECN-setup SYNs dropped, every one; plain SYNs answered. */
static void ev_syn_drop(struct diag_evidence *ev)
{
	enum outcome e[7] = { SYN_LOST, SYN_LOST, SYN_LOST, SYN_LOST, SYN_LOST,
			      SYN_LOST, SYN_LOST };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* ECN-setup SYNs reset from 2 hops away, on a path as long back as forth. */
static void ev_syn_reset(struct diag_evidence *ev)
{
	enum outcome e[7] = { SYN_RST, SYN_RST, SYN_RST, SYN_RST, SYN_RST,
			      SYN_RST, SYN_RST };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
	for (int i = 0; i < 14; i++) {
		ev->conn.flows[i].rst.ttl = 63;       /* 2 hops back */
		ev->conn.flows[i].synack.ttl = 61;    /* 4 hops: the target */
	}
}

/* ECT(0) stops after hop 2; Not-ECT reaches the target; ECT(0) probes to
 * the target all lost, Not-ECT ones all answered. */
static void ev_blackhole(struct diag_evidence *ev)
{
	enum outcome e[7] = { DATA_LOST, DATA_LOST, DATA_LOST, DATA_LOST,
			      DATA_LOST, DATA_LOST, DATA_LOST };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 0, 3, 4, ECN_ECT0);
	trace(&ev->plain, 3, 1, 0, 0, ECN_NOT_ECT);
	ev->have_plain_trace = 1;
	ev->dest_probes = 8;
	ev->dest_ect_answered = 0;
	ev->dest_plain_answered = 8;
	screen(ev, 3, 3);
	replay(ev, e, c, 7);
}

/* One ECT(0) trace lost at the end under loss: the side-by-side probes
 * show no difference. */
static void ev_blackhole_loss(struct diag_evidence *ev)
{
	ev_blackhole(ev);
	ev->dest_ect_answered = 7;
	ev->dest_plain_answered = 8;
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	connect_free(&ev->conn);
	replay(ev, ok, ok, 7);
}

/* The server declines ECN behind an ECN-hashing router. */
static void ev_declined(struct diag_evidence *ev)
{
	enum outcome e[7] = { DECLINED, DECLINED, DECLINED, DECLINED, DECLINED,
			      DECLINED, DECLINED };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 8, 0);
	replay(ev, e, c, 7);
}

/* The branches rejoin before one server: every ECN connection works. */
static void ev_one_site(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 4, 1, 0, 0, ECN_ECT0);
	screen(ev, 4, 3);
	split(ev, 3, 0, 8, 0);
	replay(ev, ok, ok, 7);
}

/* The split seen, no replay (--flows 0). */
static void ev_no_replay(struct diag_evidence *ev)
{
	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 8, 0);
}

/* A firewall resets ECT data, all-ECT replays too. */
static void ev_ect_reset(struct diag_evidence *ev)
{
	enum outcome e[7] = { RST_SAME, RST_SAME, RST_SAME, RST_SAME, RST_SAME,
			      RST_SAME, RST_SAME };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
	all_ect(ev, RST_SAME);
}

/* A middlebox injects RSTs for no ECN reason: as often without ECN. */
static void ev_injected_rst(struct diag_evidence *ev)
{
	enum outcome e[7] = { RST_OTHER, OK, OK, RST_OTHER, OK, OK, OK };
	enum outcome c[7] = { OK, RST_OTHER, OK, OK, RST_OTHER, OK, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
	all_ect(ev, OK);
}

/* The server refuses some SYNs, ECN or not. */
static void ev_some_refused(struct diag_evidence *ev)
{
	enum outcome e[7] = { OK, SYN_RST, OK, OK, SYN_RST, OK, OK };
	enum outcome c[7] = { SYN_RST, OK, OK, OK, OK, SYN_RST, OK };

	ev_safe(ev);
	connect_free(&ev->conn);
	replay(ev, e, c, 7);
}

/* A middlebox resets 5% of data segments on a single path: one ECN
 * connection reset from a hop away, its all-ECT(0) replay happened to
 * work, and the rescreen found no split, so the replay "inferred" one at
 * the last router. One reset proves nothing: no ecn-hash. */
static void ev_random_rst_inferred(struct diag_evidence *ev)
{
	enum outcome e[7] = { OK, OK, RST_OTHER, OK, OK, OK, OK };
	enum outcome c[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	replay(ev, e, c, 7);
	all_ect(ev, OK);
	ev->split_inferred = 1;
	ev->split_flow = 0;
	ev->divergence_ttl = 4;
	ev->balancer = te(3, 0);
}

/* The story under loss: some ECT(0) data reached the other site and its
 * RST was lost, so the data went unacknowledged: the split explains it,
 * no black hole. */
static void ev_story_rst_lost(struct diag_evidence *ev)
{
	enum outcome e[14], c[14];

	for (int i = 0; i < 14; i++) {
		e[i] = i % 2 ? RST_OTHER : i % 4 == 0 ? DATA_LOST : OK;
		c[i] = OK;
	}
	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	split(ev, 3, 0, 8, 0);
	replay(ev, e, c, 14);
	all_ect(ev, OK);
}

/* Edge cases. */
static void ev_nothing(struct diag_evidence *ev)
{
	trace(&ev->trace, 3, 0, 1, 4, ECN_ECT0);
	trace(&ev->plain, 3, 0, 1, 4, ECN_NOT_ECT);
	ev->have_plain_trace = 1;
}

static void ev_only_target(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 1, 3, ECN_ECT0);
	ev->screen_ttl = 3;
	ev->nflows = 3;      /* nothing answered at the screen */
	replay(ev, ok, ok, 7);
}

/* The trace lost the target's answer at its own TTL, so the screen went
 * one hop too far and the target answered every codepoint of every flow,
 * alike: that shows no path (branches that rejoin before one server look
 * like one), so no "healthy" rests on it. */
static void ev_screen_at_target(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };
	struct responder t = { .answered = 1, .reply = "syn-ack",
			       .addr = ip4("203.0.113.80"), .kind = REPLY_TCP,
			       .hops = 4 };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 4, 8);
	for (int i = 0; i < 8; i++)
		for (int k = 0; k < 4; k++)
			ev->flows[i].by_ecn[k] = t;
	replay(ev, ok, ok, 7);
}

static void ev_one_flow(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 1);
	replay(ev, ok, ok, 7);
}

/* Rate limits left no flow whole: four flows with three, three, three
 * and two agreeing answers. Those prove nothing: a rate-limited router on
 * one branch goes quiet, and the answers that come are all the other
 * branch's, agreeing for that reason. */
static void ev_partial_flows(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 4);
	for (int i = 0; i < 4; i++) {
		ev->flows[i].full = 0;
		memset(&ev->flows[i].by_ecn[ECN_CE], 0, sizeof(struct responder));
	}
	memset(&ev->flows[3].by_ecn[ECN_ECT1], 0, sizeof(struct responder));
	replay(ev, ok, ok, 7);
}

static void ev_controls_lost(struct diag_evidence *ev)
{
	enum outcome e[7] = { SYN_LOST, SYN_LOST, SYN_LOST, SYN_LOST, SYN_LOST,
			      SYN_LOST, SYN_LOST };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	replay(ev, e, e, 7);
}

static void ev_refused(struct diag_evidence *ev)
{
	enum outcome r[7] = { SYN_RST, SYN_RST, SYN_RST, SYN_RST, SYN_RST,
			      SYN_RST, SYN_RST };

	trace(&ev->trace, 3, 1, 0, 0, ECN_ECT0);
	screen(ev, 3, 3);
	replay(ev, r, r, 7);
}

/* Bleaching by the router at hop 2: hop 3 quotes Not-ECT. */
static void ev_bleach(struct diag_evidence *ev)
{
	enum outcome ok[7] = { OK, OK, OK, OK, OK, OK, OK };

	trace(&ev->trace, 4, 1, 0, 0, ECN_ECT0);
	ev->trace.probes[2].reply.q.tos = 0;
	ev->trace.probes[3].reply.q.tos = 0;
	screen(ev, 4, 3);
	replay(ev, ok, ok, 7);
}

/* The same with hop 2 silent: between hop 1 and hop 2. */
static void ev_bleach_silent(struct diag_evidence *ev)
{
	ev_bleach(ev);
	ev->trace.probes[1].state = PROBE_TIMEOUT;
}

struct judge_case {
	const char *name;
	void (*build)(struct diag_evidence *);
	const char *want;
};

static const struct judge_case cases[] = {
	{ "the story", ev_story,
	  "broken/cause; causes ecn-hash@2=198.51.100.2; notes" },
	{ "the story, one round: the split is proven, the breakage is not",
	  ev_story_short,
	  "inconclusive/not-significant; causes ecn-hash@2=198.51.100.2!latent; notes unconfirmed" },
	{ "a split too few repeats confirm: inconclusive, nobody named",
	  ev_split_unconfirmed,
	  "inconclusive/few-answers; causes; notes unconfirmed" },
	{ "the splitter silent: an interval, no router named", ev_silent_splitter,
	  "broken/cause; causes ecn-hash@1-2; notes" },
	{ "three silent hops before the split", ev_silent_run,
	  "broken/cause; causes ecn-hash@1-4; notes" },
	{ "per-packet balancing: no ECN cause on top", ev_per_packet,
	  "broken/cause; causes per-packet-lb@2=198.51.100.2; notes" },
	{ "a lucky split behind per-packet balancing: plain resets say no", ev_random_pp_lucky,
	  "inconclusive/not-significant; causes; notes unconfirmed loss" },
	{ "a correct 5-tuple balancer", ev_safe,
	  "healthy/no-fault; causes; notes safe-multipath" },
	{ "loss on both sides is loss", ev_loss,
	  "healthy/no-fault; causes; notes safe-multipath loss loss" },
	{ "two ECN data losses, none plain: within chance", ev_two_ecn_losses,
	  "healthy/no-fault; causes; notes safe-multipath loss" },
	{ "four ECN data losses, none plain: suggestive, not significant", ev_one_ecn_loss,
	  "inconclusive/not-significant; causes; notes safe-multipath unconfirmed" },
	{ "a busy server loses ECN and plain data alike", ev_busy_server,
	  "healthy/no-fault; causes; notes safe-multipath loss" },
	{ "ECN-setup SYNs dropped", ev_syn_drop,
	  "broken/cause; causes syn-ecn-drop; notes safe-multipath" },
	{ "ECN-setup SYNs reset two hops away", ev_syn_reset,
	  "broken/cause; causes syn-ecn-reset@2=198.51.100.2; notes safe-multipath" },
	{ "an ECT black hole after hop 2", ev_blackhole,
	  "broken/cause; causes ect-blackhole@2-3; notes" },
	{ "one lost ECT(0) probe is no black hole", ev_blackhole_loss,
	  "healthy/no-fault; causes; notes loss" },
	{ "the server declines ECN: latent", ev_declined,
	  "latent/cause; causes ecn-hash@2=198.51.100.2!latent; notes ecn-declined" },
	{ "one machine on every branch: latent", ev_one_site,
	  "latent/cause; causes ecn-hash@2=198.51.100.2!latent; notes" },
	{ "no replay: latent", ev_no_replay,
	  "latent/cause; causes ecn-hash@2=198.51.100.2!latent; notes" },
	{ "a firewall resets ECT data", ev_ect_reset,
	  "broken/cause; causes ect-reset; notes safe-multipath" },
	{ "injected RSTs as often without ECN", ev_injected_rst,
	  "healthy/no-fault; causes; notes safe-multipath loss" },
	{ "one random reset is no split at the last router", ev_random_rst_inferred,
	  "healthy/no-fault; causes; notes loss" },
	{ "the story with RSTs lost: no black hole beside the hash", ev_story_rst_lost,
	  "broken/cause; causes ecn-hash@2=198.51.100.2; notes" },
	{ "a server that refuses some SYNs, ECN or not", ev_some_refused,
	  "healthy/no-fault; causes; notes safe-multipath server-refused" },
	{ "nothing answers", ev_nothing,
	  "inconclusive/not-reached; causes; notes target-not-reached" },
	{ "only the target answers", ev_only_target,
	  "inconclusive/few-answers; causes; notes" },
	{ "a screen only the target answered shows no path", ev_screen_at_target,
	  "inconclusive/few-answers; causes; notes" },
	{ "one flow screened", ev_one_flow,
	  "inconclusive/few-answers; causes; notes" },
	{ "partial flows prove no negative (rate limits bias them)", ev_partial_flows,
	  "inconclusive/few-answers; causes; notes" },
	{ "every control lost", ev_controls_lost,
	  "inconclusive/not-reached; causes; notes target-not-reached" },
	{ "the port refused", ev_refused,
	  "inconclusive/refused; causes; notes target-not-reached" },
	{ "bleaching at hop 2", ev_bleach,
	  "broken/cause; causes bleaching@2=198.51.100.2; notes" },
	{ "bleaching after a silent hop: between hop 1 and hop 2", ev_bleach_silent,
	  "broken/cause; causes bleaching@1-2; notes" },
};

static void evidence_free(struct diag_evidence *ev)
{
	trace_free(&ev->trace);
	if (ev->have_plain_trace)
		trace_free(&ev->plain);
	if (ev->have_conn)
		connect_free(&ev->conn);
	if (ev->have_ect_check)
		connect_free(&ev->ect_check);
}

static void test_cases(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < N(cases); i++) {
		struct diag_evidence ev;
		struct diag_verdict v;
		char got[512];

		memset(&ev, 0, sizeof(ev));
		cases[i].build(&ev);
		judge(&ev, 0.99, &v);
		render(&v, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0) {
			print_message("%s:\n  want %s\n  got  %s\n", cases[i].name,
				      cases[i].want, got);
			failed++;
		}
		evidence_free(&ev);
	}
	assert_int_equal(failed, 0);
}

/* A latent fault names its hop but says today's connections work; a
 * bounded split never names the router in front of it. */
static void test_words(void **state)
{
	struct diag_result r;
	char buf[1024];

	memset(&r, 0, sizeof(r));
	r.p.dport = 80;
	ev_silent_splitter(&r.ev);
	judge(&r.ev, 0.99, &r.v);
	diagnose_summary(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "a router at hop 1 (198.51.100.1) or hop 2 puts"));
	assert_null(strstr(buf, "the router at hop 1"));
	diagnose_advice(&r.v.causes[0], buf, sizeof(buf));
	assert_null(strstr(buf, "at hop 1 ("));
	diagnose_evidence(&r.v.causes[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "hop 2 does not answer both codepoints"));
	evidence_free(&r.ev);

	/* The silent hop answered an ICMP echo: said, and still no router
	 * singled out. */
	memset(&r, 0, sizeof(r));
	ev_silent_splitter(&r.ev);
	r.ev.nsilent = 1;
	r.ev.silent[0].ttl = 2;
	r.ev.silent[0].proto = IPPROTO_ICMP;
	r.ev.silent[0].who = te(2, 0);
	judge(&r.ev, 0.99, &r.v);
	assert_int_equal(r.v.causes[0].hop, 0);
	assert_int_equal(r.v.causes[0].addr.family, 0);
	diagnose_evidence(&r.v.causes[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "hop 2 answers ICMP echo probes, as 198.51.100.2 (another flow"));
	evidence_free(&r.ev);

	memset(&r, 0, sizeof(r));
	ev_declined(&r.ev);
	judge(&r.ev, 0.99, &r.v);
	diagnose_summary(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "today's connections work (the server does not negotiate ECN)"));
	diagnose_evidence(&r.v.causes[0], buf, sizeof(buf));
	assert_null(strstr(buf, "reset"));
	evidence_free(&r.ev);

	/* A split too few repeats confirmed: inconclusive, and the words say
	 * a fault is suspected, not that none was seen. */
	memset(&r, 0, sizeof(r));
	ev_split_unconfirmed(&r.ev);
	judge(&r.ev, 0.99, &r.v);
	diagnose_summary(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "an ECN fault is suspected (see the unconfirmed note), not proven"));
	assert_null(strstr(buf, "no ECN fault seen"));
	evidence_free(&r.ev);

	/* Only the target answered the screen: nothing seen, nothing suspected. */
	memset(&r, 0, sizeof(r));
	ev_screen_at_target(&r.ev);
	judge(&r.ev, 0.99, &r.v);
	diagnose_summary(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "no ECN fault seen, but too few probes"));
	evidence_free(&r.ev);
}

/* More connections are asked for exactly while ECN fails more, short of
 * significance. */
static void test_wants_more(void **state)
{
	struct diag_evidence ev;

	memset(&ev, 0, sizeof(ev));
	ev_story_short(&ev);
	assert_true(judge_wants_more(&ev, 0.99));
	evidence_free(&ev);
	memset(&ev, 0, sizeof(ev));
	ev_story(&ev);
	assert_false(judge_wants_more(&ev, 0.99));
	evidence_free(&ev);
	memset(&ev, 0, sizeof(ev));
	ev_busy_server(&ev);
	assert_false(judge_wants_more(&ev, 0.99));
	evidence_free(&ev);
	/* A split with no reset yet: more rounds before "latent", up to
	 * three; none when the server declines ECN. */
	memset(&ev, 0, sizeof(ev));
	ev_one_site(&ev);
	assert_true(judge_wants_more(&ev, 0.99));
	ev.conn_rounds = 3;
	assert_false(judge_wants_more(&ev, 0.99));
	evidence_free(&ev);
	memset(&ev, 0, sizeof(ev));
	ev_declined(&ev);
	assert_false(judge_wants_more(&ev, 0.99));
	evidence_free(&ev);
}

/* Only whole flows a router answered alike prove: not one the target
 * answered whole (a shorter branch ends there), not one that parted, not
 * one with a codepoint unanswered. */
static void test_proving_flows(void **state)
{
	struct diag_evidence ev;
	struct responder syn_ack = { .answered = 1, .reply = "syn-ack",
				     .addr = ip4("203.0.113.80"),
				     .kind = REPLY_TCP };

	(void)state;
	memset(&ev, 0, sizeof(ev));
	screen(&ev, 3, 5);
	assert_int_equal(screen_proving_flows(&ev), 5);
	assert_int_equal(screen_bits(&ev), 15);
	for (int k = 0; k < 4; k++)
		ev.flows[1].by_ecn[k] = syn_ack;
	ev.flows[2].by_ecn[ECN_ECT0] = te(3, 2);
	memset(&ev.flows[3].by_ecn[ECN_CE], 0, sizeof(struct responder));
	ev.flows[3].full = 0;
	assert_int_equal(screen_proving_flows(&ev), 2);
	assert_int_equal(screen_bits(&ev), 6);
	evidence_free(&ev);
}

static void test_fisher(void **state)
{
	/* 7 of 7 against 0 of 7: 1 / C(14,7) = 1/3432. */
	assert_true(fabs(fisher_greater(7, 7, 0, 7) - 1.0 / 3432) < 1e-9);
	/* 3 of 7 against 0 of 7: C(7,3) / C(14,3) = 35/364. */
	assert_true(fabs(fisher_greater(3, 7, 0, 7) - 35.0 / 364) < 1e-9);
	/* 1 of 7 against 1 of 7: P(X >= 1), K = 2: 1 - C(7,2)/C(14,2). */
	assert_true(fabs(fisher_greater(1, 7, 1, 7) - (1 - 21.0 / 91)) < 1e-9);
	/* Nothing failed, or a group empty: nothing to say. */
	assert_true(fisher_greater(0, 7, 0, 7) == 1.0);
	assert_true(fisher_greater(3, 7, 0, 0) == 1.0);
	assert_true(fisher_greater(0, 7, 3, 7) == 1.0);
	/* Nonsense counts. */
	assert_true(fisher_greater(8, 7, 0, 7) == 1.0);
	assert_true(fisher_greater(-1, 7, 0, 7) == 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_wants_more),
		cmocka_unit_test(test_proving_flows),
		cmocka_unit_test(test_fisher),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
