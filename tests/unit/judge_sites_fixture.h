/*
 * Shared by the unit tests of judge() on UDP and QUIC targets
 * (test_judge_sites.c, test_judge_site_compare.c): addresses, responders,
 * evidence for a path that splits or not, site pairs, and expect(), which
 * judges the evidence and compares the verdict rendered as one line.
 * Static helpers: include once, after cmocka.h.
 */
#ifndef JUDGE_SITES_FIXTURE_H
#define JUDGE_SITES_FIXTURE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_udp_out.h"
#include "diagnose.h"
#include "diagnose_out.h"
#include "judge.h"

static struct addr ip4(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a.u), 1);
	return a;
}

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

/* The target's Version Negotiation from a site `hops` back that lists
 * `version` first (0: a port unreachable, -U). */
static struct responder site(int hops, uint32_t version)
{
	struct responder r = { .answered = 1, .addr = ip4("203.0.113.80"),
			       .hops = hops };

	if (version) {
		r.kind = REPLY_UDP;
		r.reply = "version-negotiation";
		r.quic_version = version;
		r.quic_ident = version * 2654435761u | 1;
	} else {
		r.kind = REPLY_UNREACH;
		r.reply = "port-unreachable";
	}
	return r;
}

/* Three routers, then the target (a QUIC server). */
static void trace(struct trace_result *t)
{
	memset(t, 0, sizeof(*t));
	t->p.first_ttl = 1;
	t->p.max_ttl = 4;
	t->p.nqueries = 1;
	t->nprobes = 4;
	t->probes = calloc(t->nprobes, sizeof(*t->probes));
	assert_non_null(t->probes);
	for (int ttl = 1; ttl <= 4; ttl++) {
		struct probe *p = &t->probes[ttl - 1];

		p->d.tos = ECN_ECT0;
		p->state = PROBE_ANSWERED;
		p->reply.src = ttl <= 3 ? router(ttl, 0) : ip4("203.0.113.80");
		p->reply.kind = ttl <= 3 ? REPLY_TIME_EXCEEDED : REPLY_UDP;
		p->reply.has_quote = ttl <= 3;
		p->reply.q.tos = ECN_ECT0;
	}
	t->dest_ttl = 4;
	t->stop_ttl = 4;
}

static void base(struct diag_evidence *ev, int split)
{
	memset(ev, 0, sizeof(*ev));
	ev->dst = ip4("203.0.113.80");
	ev->dport = 443;
	ev->proto = IPPROTO_UDP;
	ev->quic = 1;
	trace(&ev->trace);
	ev->screen_ttl = 3;
	ev->nflows = 3;
	for (int i = 0; i < 3; i++) {
		ev->flows[i].sport = (uint16_t)(31001 + i);
		for (int k = 0; k < 4; k++)
			ev->flows[i].by_ecn[k] = te(3, 1);
		ev->flows[i].full = 1;
	}
	if (split) {
		ev->split_seen = 1;
		ev->split_ecn[0] = ECN_NOT_ECT;
		ev->split_ecn[1] = ECN_ECT0;
		ev->repeats.answered = 10;
		ev->split_draws[0] = ev->split_draws[1] = 5;
		ev->divergence_ttl = 3;
		ev->split_at[0] = te(3, 1);
		ev->split_at[1] = te(3, 2);
		ev->balancer = te(2, 0);
		ev->flows[0].by_ecn[ECN_ECT0] = te(3, 2);
	}
	ev->have_sites = 1;
	ev->sites.rounds = 1;
}

/* n test flows of which `moved` went to site B for ECT(0), n controls of
 * which `cmoved` did for their second probe. version 0: UDP (-U). */
static void sites(struct diag_evidence *ev, int n, int moved, int cmoved,
		  uint32_t va, uint32_t vb, int hb)
{
	for (int i = 0; i < 2 * n; i++) {
		struct site_pair *p = &ev->sites.pairs[ev->sites.n++];
		int test = i % 2 == 0, k = i / 2;

		p->sport = (uint16_t)(31065 + i);
		p->ecn = test ? ECN_ECT0 : ECN_NOT_ECT;
		p->first = site(4, va);
		p->second = (test ? k < moved : k < cmoved) ? site(hb, vb) : site(4, va);
	}
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
		snprintf(buf + strlen(buf), len - strlen(buf), " %s@%d%s",
			 cause_name(v->causes[i].kind), v->causes[i].hop,
			 v->causes[i].latent ? "!latent" : "");
	snprintf(buf + strlen(buf), len - strlen(buf), "; notes");
	for (int i = 0; i < v->nnotes; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), " %s",
			 cause_name(v->notes[i].kind));
}

static void expect(struct diag_evidence *ev, const char *want,
		   struct diag_verdict *v)
{
	char got[512];

	judge(ev, 0.99, v);
	render(v, got, sizeof(got));
	if (strcmp(got, want) != 0)
		print_error("got  %s\nwant %s\n", got, want);
	assert_string_equal(got, want);
}

static struct diag_evidence ev;
static struct diag_verdict v;

#endif
