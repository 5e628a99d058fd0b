/*
 * evidence: what a diagnosis measured, and nothing decided yet. The
 * measurement (diagnose.c) fills it; judge() turns it into findings; the
 * writers show both. Counts, codepoints, TTLs and answers only: no
 * verdicts, no words.
 */
#ifndef ECNTRACE_EVIDENCE_H
#define ECNTRACE_EVIDENCE_H

#include "connect.h"
#include "trace.h"

#define DIAG_MAX_FLOWS 32
#define DIAG_MAX_SILENT 4

/* What answered one probe, reduced to what identifies a path. */
struct responder {
	int answered;
	const char *reply;           /* reply_name() of the answer */
	struct addr addr;
	enum reply_kind kind;
	int hops;                    /* return hops, for the target's replies */
	uint32_t quic_ident;         /* a Version Negotiation's version list
				      * (quic_vn_ident), 0 for other replies */
	uint32_t quic_version;       /* ... and the first it lists that is
				      * not reserved (grease) */
};

struct diag_flow {
	uint16_t sport;
	struct responder by_ecn[4];  /* at the screen TTL, per codepoint */
	int full;                    /* all four codepoints were answered */
};

/* Identical probes (same flow, same codepoint), sent to tell a hash from
 * per-packet balancing: how many were answered, and how many of those
 * reached another responder than the first of their kind. */
struct repeat_count {
	int answered, differed;
};

/* UDP and QUIC targets: the analogue of the connection replay. Two
 * probes of one flow to the target, the first Not-ECT and the second
 * ECT(0) (as a QUIC stack marks its later packets), against control flows
 * whose second probe is Not-ECT too; which machine answered each. */
#define DIAG_MAX_PAIRS 256

struct site_pair {
	uint16_t sport;
	uint8_t ecn;                 /* the second probe's codepoint */
	struct responder first, second;
};

struct diag_sites {
	int rounds;
	int n;
	struct site_pair pairs[DIAG_MAX_PAIRS];
};
#include "fields.h"

struct diag_evidence {
	struct addr dst;
	uint16_t dport;
	uint8_t proto;               /* IPPROTO_TCP (0 reads as TCP) or _UDP */
	int quic;                    /* UDP probes are QUIC long headers */
	/* Step 1: one flow traced ECT(0); Not-ECT too when ECT(0) did not
	 * reach the target. */
	struct trace_result trace;
	int have_plain_trace;
	struct trace_result plain;
	/* ECT(0) against Not-ECT at the target's distance, interleaved, when
	 * the ECT(0) trace stopped short and the Not-ECT one did not. */
	int dest_probes;             /* of each codepoint */
	int dest_ect_answered, dest_plain_answered;
	/* Step 2: flows screened with all four codepoints at screen_ttl. */
	int screen_ttl;
	struct diag_flow flows[DIAG_MAX_FLOWS];
	int nflows;
	/* A flow whose codepoints parted, and its repeated probes. */
	int split_seen;
	int split_flow;              /* index in flows[] */
	int split_ecn[2];            /* the two codepoints */
	struct repeat_count repeats; /* the parted probes, re-sent */
	int split_draws[2];          /* independent agreeing draws of each */
	/* Identical Not-ECT probes of one flow (the per-packet test). */
	struct repeat_count same;
	/* Where they part: the first TTL with different responders; hops
	 * from split_unknown_from to divergence_ttl - 1 did not answer both
	 * (0: every hop before answered). */
	int divergence_ttl;
	int split_unknown_from;
	struct responder split_at[2];/* the two responders at divergence_ttl */
	struct responder balancer;   /* the last responder both reached alike */
	/* Hops silent to TCP that answered another protocol (ICMP echo,
	 * UDP): another flow, so a fact, not a location. */
	struct {
		int ttl;
		uint8_t proto;
		struct responder who;
	} silent[DIAG_MAX_SILENT];
	int nsilent;
	/* No probe parted the flow, but the replay proved its handshake and
	 * data reached different machines; the last router answered both
	 * codepoints alike. */
	int split_inferred;
	int dscp_differs;            /* another DSCP moved a screened flow */
	/* --fields: the other header fields, screened alike (fields.h). */
	struct diag_fields fields;
	/* Step 3: the replay, ECN connections and plain controls interleaved
	 * (pooled over every round), and the reset ones replayed all-ECT(0). */
	int have_conn;
	struct connect_result conn;
	int conn_rounds;
	int have_ect_check;
	struct connect_result ect_check;
	/* Step 3 for UDP and QUIC targets instead of the replay. */
	int have_sites;
	struct diag_sites sites;
};

#endif
