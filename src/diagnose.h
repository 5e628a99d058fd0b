/*
 * diagnose: the full diagnosis of one target.
 *
 *  1. A trace of one flow marked ECT(0): the path length and the ECN value
 *     each hop received (bleaching, CE marking, mangling, black holes).
 *  2. A screen at the last router before the target: several flows, each
 *     sent with all four ECN codepoints and nothing else changed. Within a
 *     flow, different responders mean the path depends on ECN, or on
 *     nothing at all (per-packet balancing); repeating the differing probes
 *     tells the two apart. Across flows, different responders mean per-flow
 *     balancing.
 *  3. A search over TTL for the first hop where the flow's codepoints part:
 *     the router one hop before hashes on ECN.
 *  4. A connection replay (connect) for the proof: which machine answered
 *     the handshake and which the data.
 *  5. The verdict, with its confidence and evidence.
 * Never prints; diagnose_out.c renders the result.
 */
#ifndef ECNTRACE_DIAGNOSE_H
#define ECNTRACE_DIAGNOSE_H

#include "connect.h"
#include "trace.h"

#define DIAG_MAX_FLOWS 32
#define DIAG_MAX_CAUSES 8
#define DIAG_MAX_NOTES 8
#define DIAG_MAX_SITES 8

struct diag_params {
	struct addr src, dst;
	uint16_t dport;
	uint16_t sport_base;         /* path probes; connect uses +64.. */
	double confidence;           /* 0.9 .. 0.9999, default 0.99 */
	int max_ttl;
	int max_flows;               /* screen flows, at most DIAG_MAX_FLOWS */
	int conn_flows;              /* connect's ECN flows; 0 skips connect */
	int64_t timeout_ns;
	double rate;
	const uint8_t *payload;
	size_t payload_len;
	int screen_ttl;              /* 0: the last router before the target */
	void (*on_progress)(void *ctx, const char *phase);
	void (*on_tick)(void *ctx, size_t done, size_t total);
	void *ctx;
};

/* What answered one probe, reduced to what identifies a path. */
struct responder {
	int answered;
	const char *reply;           /* reply_name() of the answer */
	struct addr addr;
	enum reply_kind kind;
	int hops;                    /* return hops, for the target's replies */
};

struct diag_flow {
	uint16_t sport;
	struct responder by_ecn[4];  /* at the screen TTL, per codepoint */
	int full;                    /* all four codepoints were sent */
};

enum cause_kind {
	CAUSE_ECN_HASH = 0,
	CAUSE_PER_PACKET_LB,
	CAUSE_BLEACHING,
	CAUSE_MANGLING,
	CAUSE_CE_MARKING,
	CAUSE_ECT_BLACKHOLE,
	CAUSE_SYN_ECN_DROP,
	CAUSE_SYN_ECN_RESET,
	CAUSE_ECT_RESET,             /* ECT data reset even on a consistent path */
	/* notes */
	NOTE_DSCP_HASH,
	NOTE_SAFE_MULTIPATH,
	NOTE_ECN_PATH_ONE_SITE,
	NOTE_ECN_DECLINED,
	NOTE_TARGET_NOT_REACHED,
	NOTE_DSCP_REMARK,
	CAUSE_KIND_COUNT
};

struct finding {
	enum cause_kind kind;
	int hop;                     /* TTL at which that router answers; 0 unknown */
	struct addr addr;            /* family 0: unknown */
	double confidence;
	char evidence[512];
};

struct site {
	int hops;                    /* return hop count of its replies */
	int synacks, rsts;
	uint16_t window, mss;
	int wscale, sack, ts;
	/* Told from a machine at the same hop count by behaviour: it reset
	 * ECT(0) data that the same flow, sent entirely ECT(0), delivered. */
	int by_behaviour;
	/* The connections it answered: the source port, and the ECN codepoint
	 * of the segment it answered (Not-ECT SYN, or the data). */
	struct {
		uint16_t sport;
		uint8_t ecn;
		uint8_t rst;             /* answered with an RST */
	} flows[2 * 64];
	int nflows;
};

enum lb_kind { LB_NONE = 0, LB_PER_FLOW, LB_PER_PACKET };

enum diag_status { DIAG_HEALTHY = 0, DIAG_BROKEN = 1, DIAG_INCONCLUSIVE = 2 };

struct diag_result {
	struct diag_params p;
	struct trace_result trace;   /* step 1: ECT(0) trace */
	int have_plain_trace;
	struct trace_result plain;   /* Not-ECT trace, when ECT(0) got lost */
	int screen_ttl;
	struct diag_flow flows[DIAG_MAX_FLOWS];
	int nflows;
	enum lb_kind lb;
	int ecn_dependent;
	int dscp_dependent;
	int divergence_ttl;          /* first TTL where the codepoints part, 0 none */
	/* Hops from here to divergence_ttl - 1 did not answer both
	 * codepoints: the split may lie anywhere among them. 0: exact. */
	int split_unknown_from;
	int split_flow;              /* index in flows[] that showed it */
	int split_ecn[2];            /* the two codepoints */
	struct responder split_at[2];/* their responders at divergence_ttl */
	struct responder balancer;   /* the responder at divergence_ttl - 1 */
	int repeats, repeats_agreed; /* identical probes re-sent, agreeing */
	double path_confidence;
	int have_conn;
	struct connect_result conn;
	/* The reset connections replayed with every segment ECT(0) (SYN
	 * included), on the same source ports: a path that depends on ECN
	 * then keeps the connection on one branch. */
	int have_ect_check;
	struct connect_result ect_check;
	int ect_check_ok, ect_check_reset;
	int split_inferred;          /* the replay located the split, not probes */
	struct site sites[DIAG_MAX_SITES];
	int nsites;
	struct finding causes[DIAG_MAX_CAUSES];
	int ncauses;
	struct finding notes[DIAG_MAX_NOTES];
	int nnotes;
	enum diag_status status;
	char summary[512];
	uint64_t probes_sent, path_probes;
	int64_t duration_ns;
};

int diagnose_run(struct engine *e, const struct diag_params *p,
		 struct diag_result *r, char *err, size_t errlen);
void diagnose_free(struct diag_result *r);

const char *cause_name(enum cause_kind k);
const char *lb_name(enum lb_kind k);
const char *diag_status_name(enum diag_status s);

/* Was the RST to flow f's data sent by another machine than its SYN-ACK?
 * By a different hop count, or, at the same hop count, because the same
 * flow sent entirely ECT(0) delivered its data. */
int diag_reset_by_other(const struct diag_result *r, const struct conn_flow *f);

/* Probes that must agree to say "not per-packet balancing" with this
 * confidence against a 2-way per-packet balancer: ceil(log2(1/(1-c))). */
int repeats_needed(double confidence);
/* Flows of four codepoints that must agree to rule out an ECN hash with
 * this confidence: each such flow hides a 2-way ECN hash with
 * probability 1/8. */
int flows_needed(double confidence);
/* Do two responders stand for different paths? Missing answers never
 * differ from anything. Pure. */
int responder_differs(const struct responder *a, const struct responder *b);

#endif
