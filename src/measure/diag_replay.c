/* diag_replay: the connection replays of the diagnosis. ECN connections
 * and plain controls interleaved, in rounds until the comparison is
 * significant or the budget is spent; the reset ones replayed all-ECT(0);
 * their flows screened. Evidence only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "diag_probe.h"

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
	cp.timeout_ns = c->wait_ns;
	cp.rate = 50;
	cp.payload = c->p->payload;
	cp.payload_len = c->p->payload_len;
	cp.on_tick = c->p->on_tick;
	return cp;
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

	uint16_t sports[64];

	cp.nflows = c->p->conn_flows;
	progress(c, "replaying the ECN connection");
	for (int round = 0; round < DIAG_CONN_ROUNDS && !engine_stop; round++) {
		struct connect_result more;

		if (round > 0 && !judge_wants_more(ev, c->p->confidence))
			break;
		if (round > 0)
			progress(c, "more connections, for a significant comparison");
		cp.sport_base = (uint16_t)(c->p->sport_base + 64 + round * 2 * cp.nflows);
		cp.sports = NULL;
		/* The first round replays the flow whose Not-ECT and ECT(0)
		 * probes parted among its connections: the one sure to show
		 * what the split does to a connection. */
		if (round == 0 && ev->split_seen && ev->split_ecn[0] == ECN_NOT_ECT &&
		    ev->split_ecn[1] == ECN_ECT0 && cp.nflows <= 64) {
			for (int i = 0; i < cp.nflows; i++)
				sports[i] = (uint16_t)(cp.sport_base + i);
			sports[0] = ev->flows[ev->split_flow].sport;
			cp.sports = sports;
		}
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

int step_replays(struct dctx *c)
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
