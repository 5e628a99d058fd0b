/*
 * diagnose: the full diagnosis of one target. The measurement fills a
 * struct diag_evidence (evidence.h), step by step:
 *
 *  1. A trace of one flow marked ECT(0): the path length, the round trips
 *     that set the waits, and the ECN value each hop received; where
 *     ECT(0) stops short, ECT(0) and Not-ECT probes side by side at the
 *     target's distance (diagnose.c).
 *  2. A screen at the last router before the target: several flows, each
 *     sent with all four ECN codepoints and nothing else changed; the
 *     first flow whose codepoints part is repeated (identical probes) to
 *     tell a hash from per-packet balancing with a bounded miss
 *     probability; a search over TTL for the first hop where they part
 *     (diag_paths.c, diag_perpacket.c).
 *  3. Connection replays, ECN and plain interleaved, in rounds until the
 *     comparison is significant; the reset ones replayed all-ECT(0)
 *     (diag_replay.c).
 *
 * Then judge() (judge.c), a pure function, turns the evidence into the
 * verdict; diagnose_out.c and report.c put it into words. Never prints.
 */
#ifndef ECNTRACE_DIAGNOSE_H
#define ECNTRACE_DIAGNOSE_H

#include "judge.h"

struct diag_params {
	struct addr src, dst;
	uint16_t dport;
	uint8_t proto;               /* IPPROTO_TCP (or 0) or IPPROTO_UDP */
	int quic;                    /* UDP: QUIC Version Negotiation probes */
	uint16_t sport_base;         /* path probes; the replays use +64.. */
	double confidence;           /* 0.9 .. 0.9999, default 0.99 */
	int max_ttl;
	int max_flows;               /* screen flows, at most DIAG_MAX_FLOWS */
	int conn_flows;              /* connect's ECN flows a round; 0 skips it */
	int64_t timeout_ns;          /* the longest wait for a reply */
	int fixed_wait;              /* -w given: always wait timeout_ns */
	double rate;
	const uint8_t *payload;
	size_t payload_len;
	int screen_ttl;              /* 0: the last router before the target */
	unsigned fields;             /* --fields: 1 << FIELD_x (fields.h) */
	void (*on_progress)(void *ctx, const char *phase);
	void (*on_tick)(void *ctx, size_t done, size_t total);
	void *ctx;
};

/* The Not-ECT trace's source port, from sport_base: past the screen's
 * flows (sport_base + 1 .. + DIAG_MAX_FLOWS), short of the replays (+64). */
#define DIAG_PLAIN_PORT (DIAG_MAX_FLOWS + 1)

/* Rounds of the replay at most: more connections are made only while ECN
 * fails more often than its control without being significant yet. */
#define DIAG_CONN_ROUNDS 6

/* The source ports a diagnosis uses from sport_base on (path probes,
 * every replay round and the all-ECT replay), for the nftables guard. */
int diag_port_span(int conn_flows);

struct diag_result {
	struct diag_params p;
	struct diag_evidence ev;     /* measured: diagnose.c */
	struct diag_verdict v;       /* judged: judge.c */
	uint64_t probes_sent, path_probes;
	int64_t duration_ns;
};

int diagnose_run(struct engine *e, const struct diag_params *p,
		 struct diag_result *r, char *err, size_t errlen);
void diagnose_free(struct diag_result *r);


/* Probes that must agree to say "not per-packet balancing" with this
 * confidence against a 2-way per-packet balancer: ceil(log2(1/(1-c))). */
int repeats_needed(double confidence);
/* Flows of four codepoints that must agree to rule out an ECN hash with
 * this confidence: each such flow hides a 2-way ECN hash with
 * probability 1/8. */
int flows_needed(double confidence);

#endif
