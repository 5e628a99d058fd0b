/* diag_probe: the diagnosis's probes through the engine. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "diag_probe.h"

const int diag_ecn_order[4] = { ECN_NOT_ECT, ECN_ECT0, ECN_ECT1, ECN_CE };

struct responder responder_of(const struct probe *p)
{
	struct responder s;
	struct quic_vn vn;

	memset(&s, 0, sizeof(s));
	if (p->state != PROBE_ANSWERED)
		return s;
	s.answered = 1;
	s.addr = p->reply.src;
	s.kind = p->reply.kind;
	s.reply = reply_name(&p->reply);
	if (s.kind != REPLY_TIME_EXCEEDED)
		s.hops = return_hops(p->reply.ttl);
	if (reply_quic_vn(&p->reply, &vn) == 0) {
		s.quic_ident = quic_vn_ident(&vn);
		s.quic_version = quic_vn_first(&vn);
	}
	return s;
}

struct flow path_flow(const struct diag_params *p, uint16_t sport,
			     uint8_t tos)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.src = p->src;
	f.dst = p->dst;
	f.proto = p->proto ? p->proto : IPPROTO_TCP;
	f.quic = f.proto == IPPROTO_UDP && p->quic;
	f.sport = sport;
	f.dport = p->dport;
	f.tos = tos;
	return f;
}

static int run_at(struct dctx *c, struct probe *pr, size_t n, double rate)
{
	struct run_opts o = {
		.rate = rate, .timeout_ns = c->wait_ns,
		.on_tick = c->p->on_tick, .ctx = c->p->ctx,
	};
	uint64_t before = c->e->sent;
	int rc = engine_run(c->e, pr, n, &o, c->err, c->errlen);

	c->res->path_probes += c->e->sent - before;
	return rc;
}

int run_batch(struct dctx *c, struct probe *pr, size_t n)
{
	return run_at(c, pr, n, c->p->rate);
}

/* 1 us apart: nothing the answers provoke (our RST of a SYN-ACK) can fall
 * between them. */
#define BURST_RATE 1e6

int run_burst(struct dctx *c, struct probe *pr, size_t n)
{
	double rate = c->p->rate > 0 ? c->p->rate : 100;
	int64_t until = now_ns() + (int64_t)(1e9 * (double)n / rate);
	int rc = run_at(c, pr, n, BURST_RATE);

	for (int64_t left; rc == 0 && (left = until - now_ns()) > 0;) {
		struct timespec ts = { left / 1000000000, left % 1000000000 };

		nanosleep(&ts, NULL);
	}
	return rc;
}

void add_probe(struct dctx *c, struct probe *pr, uint16_t sport,
		      uint8_t tos, int ttl)
{
	struct flow f = path_flow(c->p, sport, tos);

	/* Tokens two apart: the engine closes a SYN-ACK with an RST whose
	 * sequence number is the probe's plus one, sent with the probe's TTL;
	 * where that RST expires, its time-exceeded quotes that number, and
	 * with consecutive tokens it was taken for the next probe's answer. */
	flow_probe(&f, ttl, c->e->token_base + c->token, pr);
	c->token += 2;
}

/* Routers rate-limit their ICMP (Linux: a burst of six, then one a
 * second per peer): a probe asked again sooner would meet the same empty
 * budget. A retry therefore comes at least RETRY_GAP after the try
 * before it began; a path that answers everything never retries. */
#define RETRY_GAP_NS 1000000000LL

void pace_retry(int64_t since)
{
	int64_t left = since + RETRY_GAP_NS - now_ns();

	if (left > 0) {
		struct timespec ts = { left / 1000000000, left % 1000000000 };

		nanosleep(&ts, NULL);
	}
}

void progress(struct dctx *c, const char *phase)
{
	if (c->p->on_progress)
		c->p->on_progress(c->p->ctx, phase);
}
