/* diagnose: one target's diagnosis, step by step. The steps fill the
 * evidence (diag_paths.c, diag_perpacket.c, diag_replay.c); judge()
 * decides; the writers speak. Never prints. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "diag_probe.h"

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
	rc = trace_run(c->e, &tp, &c->ev->trace, c->err, c->errlen);
	c->res->path_probes += c->ev->trace.sent;
	if (rc != 0 || c->ev->trace.dest_ttl)
		return rc;
	/* On another source port: all the trace's probes are one flow, and
	 * where the target's first SYN-ACK was lost it holds that flow half
	 * open and answers no later SYN of it. The ECT(0) against Not-ECT
	 * comparison that may follow (step_dest_compare) is made on this new
	 * flow, both codepoints alike. */
	progress(c, "tracing the path Not-ECT");
	tp.flow = path_flow(c->p, (uint16_t)(c->p->sport_base + DIAG_PLAIN_PORT),
			    ECN_NOT_ECT);
	tp.token_base += 1000;
	rc = trace_run(c->e, &tp, &c->ev->plain, c->err, c->errlen);
	c->ev->have_plain_trace = 1;
	c->res->path_probes += c->ev->plain.sent;
	return rc;
}

/* How long to wait for a reply once the path is traced: three times the
 * slowest round trip the trace saw (as TCP's timer, routers slow to make
 * ICMP included), at least 200 ms, at most the -w limit. A reply that
 * never comes (loss, a rate limit) then costs a fraction of a second,
 * not a second, every batch. -w fixes it. */
#define MIN_WAIT_NS 200000000LL

static int64_t path_wait(const struct diag_params *p, const struct trace_result *t)
{
	int64_t rtt = 0, w;

	if (p->fixed_wait)
		return p->timeout_ns;
	for (size_t i = 0; i < t->nprobes; i++) {
		const struct probe *pr = &t->probes[i];

		if (pr->state == PROBE_ANSWERED && pr->recv_ns - pr->sent_ns > rtt)
			rtt = pr->recv_ns - pr->sent_ns;
	}
	if (rtt <= 0)
		return p->timeout_ns;
	w = 3 * rtt;
	if (w < MIN_WAIT_NS)
		w = MIN_WAIT_NS;
	return w < p->timeout_ns ? w : p->timeout_ns;
}

/* Where to screen: the last router before the target. Not past the
 * first hop after the last router that answered: where the target's
 * answers went missing for some TTLs (a per-packet balancer sends our RST
 * of its SYN-ACK to another site, which leaves the first one holding the
 * flow), the target seems farther than it is, and a screen beyond it
 * would probe the target, not a router. */
static int screen_at(const struct diag_evidence *ev, int dest)
{
	const struct trace_result *t = ev->trace.dest_ttl ? &ev->trace : &ev->plain;
	int last = 0;

	if (dest <= 1)
		return 0;
	for (int ttl = 1; ttl < dest; ttl++) {
		const struct probe *pr = trace_probe(t, ttl, 0);

		if (pr && pr->state == PROBE_ANSWERED &&
		    pr->reply.kind == REPLY_TIME_EXCEEDED)
			last = ttl;
	}
	return last && last + 1 < dest - 1 ? last + 1 : dest - 1;
}

int diag_port_span(int conn_flows)
{
	return 64 + DIAG_CONN_ROUNDS * 2 * conn_flows;
}

int diagnose_run(struct engine *e, const struct diag_params *p,
		 struct diag_result *r, char *err, size_t errlen)
{
	struct dctx c = { .e = e, .p = p, .res = r, .ev = &r->ev,
			  .wait_ns = p->timeout_ns, .err = err, .errlen = errlen };
	struct diag_evidence *ev = &r->ev;
	uint64_t sent0 = e->sent;
	int64_t t0 = now_ns();
	int rc, dest;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	ev->dst = p->dst;
	ev->dport = p->dport;
	ev->proto = p->proto ? p->proto : IPPROTO_TCP;
	ev->quic = ev->proto == IPPROTO_UDP && p->quic;
	rc = step_trace(&c);
	c.wait_ns = path_wait(p, &ev->trace);
	if (rc == 0 && !ev->trace.dest_ttl && ev->have_plain_trace &&
	    ev->plain.dest_ttl)
		rc = step_dest_compare(&c);
	if (rc != 0)
		return rc;
	dest = ev->trace.dest_ttl ? ev->trace.dest_ttl
				  : ev->have_plain_trace ? ev->plain.dest_ttl : 0;
	ev->screen_ttl = p->screen_ttl ? p->screen_ttl : screen_at(ev, dest);
	if (ev->screen_ttl > 0) {
		rc = step_paths(&c);
		if (rc == 0)
			rc = step_fields(&c);
		if (rc != 0)
			return rc;
	}
	if (p->conn_flows > 0 && !engine_stop) {
		rc = ev->proto == IPPROTO_TCP ? step_replays(&c) : step_sites(&c);
		if (rc != 0)
			return rc;
	}
	if (engine_stop) {
		snprintf(err, errlen, "%s", engine_stop_reason());
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
