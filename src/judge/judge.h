/*
 * judge: evidence in, findings out. A pure function of a plain struct: no
 * sockets, no clock, no printing, no words. Every fault is a comparison
 * with a control measured alike (ECT vs Not-ECT on one flow, ECN-setup
 * SYNs vs plain ones, ECN connections vs plain ones); the writers
 * (diagnose_out.c, report.c) render the findings' fields into words.
 *
 * A new rule is a cause kind, a fact or two, one function here and one
 * sentence in the writer.
 */
#ifndef ECNTRACE_JUDGE_H
#define ECNTRACE_JUDGE_H

#include "evidence.h"

#define DIAG_MAX_CAUSES 8
#define DIAG_MAX_NOTES 8
#define DIAG_MAX_SITES 8

enum cause_kind {
	CAUSE_ECN_HASH = 0,
	CAUSE_CE_HASH,               /* an ECN hash that only CE moves */
	CAUSE_PER_PACKET_LB,
	CAUSE_BLEACHING,
	CAUSE_MANGLING,
	CAUSE_CE_MARKING,
	CAUSE_ECT_BLACKHOLE,
	CAUSE_SYN_ECN_DROP,
	CAUSE_SYN_ECN_RESET,
	CAUSE_ECT_RESET,             /* ECT data reset even on a consistent path */
	CAUSE_TTL_HASH,              /* --fields: the hash includes the TTL */
	CAUSE_FLOWLABEL_HASH,        /* ... the IPv6 flow label */
	CAUSE_FRAGMENT_PATH,         /* ... fragments take another path */
	/* notes */
	NOTE_DSCP_HASH,
	NOTE_SAFE_MULTIPATH,
	NOTE_ECN_PATH_ONE_SITE,      /* kept for the schema; see latent */
	NOTE_ECN_DECLINED,
	NOTE_TARGET_NOT_REACHED,
	NOTE_DSCP_REMARK,
	NOTE_LOSS,                   /* failures that struck ECN and control alike */
	NOTE_UNCONFIRMED,            /* ECN failed more, but not significantly */
	NOTE_SERVER_REFUSED,         /* the server reset SYNs, ECN or not */
	CAUSE_KIND_COUNT
};
#define NOTE_FIRST NOTE_DSCP_HASH

/* What a finding rests on, as numbers; the writers turn them into words
 * and JSON members. A finding sets only the facts its kind uses. */
enum fact {
	FACT_SPORT,                  /* the flow that showed it */
	FACT_ECN_A, FACT_ECN_B,      /* the codepoints compared */
	FACT_SPLIT_HOP,              /* the TTL at which their paths differ */
	FACT_REPEATS, FACT_REPEATS_AGREED,
	FACT_TEST,                   /* enum comparison: which one */
	FACT_TEST_N, FACT_TEST_BAD,  /* ECN trials, and how many failed */
	FACT_CONTROL_N, FACT_CONTROL_BAD,
	FACT_RESET_OTHER,            /* ECN connections reset by another machine */
	FACT_SYNACK_TTL, FACT_RST_TTL,
	FACT_ALL_ECT_N, FACT_ALL_ECT_OK, FACT_ALL_ECT_RESET,
	FACT_SENT_ECN, FACT_QUOTED_ECN,
	FACT_QUOTE_HOP,              /* the first hop whose quote shows it */
	FACT_ALSO_AFTER, FACT_AFTER_OF, /* routers after it quoting the same */
	FACT_DSCP_TOO,               /* DSCP changed at the same hop */
	FACT_REACH_HOP,              /* the last hop ECT(0) probes reached */
	FACT_PLAIN_DEST_HOP,         /* the target's hop for Not-ECT probes */
	FACT_RST_HOPS,               /* return hops of the RST */
	FACT_SCREEN_FLOWS, FACT_SCREEN_HOP,
	FACT_ECN_DECLINED,           /* SYN-ACKs that declined ECN */
	FACT_ECN_CONNS,              /* ECN connections replayed */
	FACT_ECN_OK,                 /* ... that worked */
	FACT_ALT_HOP, FACT_ALT_PROTO,/* a hop silent to TCP that answered
				      * another protocol (address in alt) */
	/* UDP / QUIC targets: flows whose Not-ECT and ECT(0) probes were
	 * answered, and the machines of the first that parted (return hops,
	 * the first version its Version Negotiation lists). */
	FACT_SITE_FLOWS, FACT_SITE_SPORT,
	FACT_SITE_HOPS_A, FACT_SITE_HOPS_B,
	FACT_SITE_QUIC_A, FACT_SITE_QUIC_B,
	FACT_FIELD,                  /* enum diag_field that parted the flow */
	FACT_VALUE_A, FACT_VALUE_B,  /* its control value, and the other */
	FACT_AT_END,                 /* parted at the target, not at a hop */
	FACT_CE_FLOWS,               /* flows whose other codepoints agreed */
	FACT_FORK_FLOWS,             /* flows per hop that located a fork */
	/* ... pairs whose answers parted without another machine shown
	 * (same address, other return hops or kind of reply), ECT(0) and
	 * control; pairs whose second probe another address answered. */
	FACT_SITE_PARTED, FACT_SITE_PARTED_CONTROL,
	FACT_SITE_ELSEWHERE, FACT_SITE_ELSEWHERE_CONTROL,
	FACT_HOPS_ONLY,              /* parted at the target by return hops alone */
	FACT_COUNT
};
_Static_assert(FACT_COUNT <= 64, "struct finding.facts is a 64-bit mask");

/* The comparisons between ECN and its control. */
enum comparison {
	CMP_SYN_ANSWER = 0,          /* SYN unanswered: ECN-setup vs plain */
	CMP_SYN_RESET,               /* SYN reset: ECN-setup vs plain */
	CMP_DATA_LOST,               /* first data unacknowledged: ECT vs Not-ECT */
	CMP_DATA_RESET,              /* data reset: ECN connection vs plain */
	CMP_DEST_ECT,                /* probe to the target lost: ECT(0) vs Not-ECT */
	CMP_SITE_ECT,                /* UDP/QUIC: a flow's second probe answered
				      * by another machine, ECT(0) vs Not-ECT */
	CMP_COUNT
};

struct finding {
	enum cause_kind kind;
	int latent;                  /* breaks nothing today; would with ECN */
	/* The router: hop when the evidence singles it out (0 otherwise),
	 * and the interval it lies in (first..last; 0 0 when unknown). */
	int hop, hop_first, hop_last;
	struct addr addr;            /* of hop; family 0 when not singled out */
	struct addr first_addr;      /* the router at hop_first, if it answered */
	struct responder reach[2];   /* where the two probes went */
	struct responder alt;        /* see FACT_ALT_HOP */
	double confidence;
	double p_value;              /* of the comparison, when there is one */
	long long fact[FACT_COUNT];
	unsigned long long facts;    /* bit (1 << FACT_x) per fact set */
};

static inline int finding_has(const struct finding *f, enum fact k)
{
	return (f->facts >> k) & 1;
}

struct site {
	int hops;                    /* return hop count of its replies */
	uint32_t quic_version;       /* UDP/QUIC targets: the first version
				      * its Version Negotiation lists */
	int answers;                 /* UDP/QUIC targets: probes it answered */
	int synacks, rsts;
	uint16_t window, mss;
	int wscale, sack, ts;
	/* Told from a machine at the same hop count by behaviour: it reset
	 * ECT(0) data that the same flow, sent entirely ECT(0), delivered. */
	int by_behaviour;
	struct {
		uint16_t sport;
		uint8_t ecn;
		uint8_t rst;             /* answered with an RST */
	} flows[2 * 64];
	int nflows;
};

enum lb_kind { LB_NONE = 0, LB_PER_FLOW, LB_PER_PACKET };

enum diag_status {
	DIAG_HEALTHY = 0, DIAG_BROKEN = 1, DIAG_INCONCLUSIVE = 2,
	DIAG_LATENT = 3,             /* a fault that today's connections escape */
};

/* Why the status is what it is, when no cause says it. */
enum verdict_reason {
	WHY_CAUSE = 0,               /* causes[0] */
	WHY_NO_FAULT,
	WHY_NOT_REACHED,
	WHY_REFUSED,
	WHY_FEW_ANSWERS,             /* path confidence short of the goal */
	WHY_NOT_SIGNIFICANT,         /* ECN failed more, not significantly */
};

struct diag_verdict {
	enum diag_status status;
	enum verdict_reason reason;
	double confidence;           /* the confidence asked for */
	enum lb_kind lb;
	int ecn_dependent;
	int dscp_dependent;
	double path_confidence;
	struct site sites[DIAG_MAX_SITES];
	int nsites;
	struct finding causes[DIAG_MAX_CAUSES];
	int ncauses;
	struct finding notes[DIAG_MAX_NOTES];
	int nnotes;
	/* The comparisons made, with their counts and one-sided p. */
	struct comparison_result {
		int test_n, test_bad, control_n, control_bad;
		double p;
	} cmp[CMP_COUNT];
};

/* The whole judgement. confidence in (0, 1): a fault needs p < 1 - c. */
void judge(const struct diag_evidence *ev, double confidence,
	   struct diag_verdict *v);

/* One comparison of the replay, ECN connections against the plain ones
 * (or the ECT probes against the Not-ECT ones). Pure. */
struct comparison_result judge_compare(const struct diag_evidence *ev,
				       enum comparison c);
/* Does this comparison call for more connections: ECN failed more often
 * than its control, but not significantly? */
int judge_wants_more(const struct diag_evidence *ev, double confidence);

/* Was the RST to flow f's data sent by another machine than its SYN-ACK?
 * By a different hop count, or, at the same hop count, because the same
 * flow sent entirely ECT(0) delivered its data. */
int diag_reset_by_other(const struct diag_evidence *ev,
			const struct conn_flow *f);

/* The all-ECT(0) replay: connections that delivered, and that were reset. */
void judge_all_ect(const struct diag_evidence *ev, int *delivered, int *reset);

/* UDP / QUIC targets: another round of site probes, while ECN moves
 * flows to another machine more often than the control without
 * significance, or the path splits on ECN and no flow has moved yet. */
int judge_sites_want_more(const struct diag_evidence *ev, double confidence);
/* judge_fields.c: the --fields screen's causes and notes, and CE alone
 * (an ecn-hash finding becomes ce-hash). Called by judge(). */
void judge_fields(const struct diag_evidence *ev, double confidence,
		  struct diag_verdict *v);
/* Whole screened flows whose Not-ECT, ECT(0) and ECT(1) agreed; *parted:
 * did those three part in any flow? */
int ce_only_flows(const struct diag_evidence *ev, int *parted);
/* What the screen of a field says against a hash over it: each flow
 * whose values all agreed, at the hop and at the target, hides a 2-way
 * hash with probability 2^-(values - 1); 1 - the product. */
double field_confidence(const struct field_evidence *fe);
/* The tests a --fields run makes: ECN and each field asked for that
 * applies to the family; each field is judged, and measured, at
 * 1 - (1 - c) / tests (Bonferroni: review C16). */
int fields_tests(unsigned asked, int family);
double field_level(double confidence, int tests);
/* Flows that must all meet one router at a hop before the TTL's router
 * is bounded by it, at this level over a fork scan of this many hops:
 * an even 2-way fork would leave them together with probability
 * 2^-(flows - 1), at most (1 - level) / hops at each hop (Bonferroni
 * over the hops, as the scan keeps the last that agreed). */
int fork_flows_needed(double level, int hops);
/* The level of this evidence's fields (the tests it screened). */
double fields_level(const struct diag_evidence *ev, double confidence);
/* Fields screened, not parted, whose screen fell short of that level:
 * no "healthy" on them (review B15). */
int fields_short(const struct diag_evidence *ev, double confidence);
const char *field_name(int field);   /* "ecn", "ttl", "flowlabel", "dscp", "frag" */
/* Parse a --fields list ("ttl,dscp", "all"); -1 if a name is unknown. */
int fields_parse(const char *s, unsigned *mask);

/* UDP / QUIC site pairs the target answered twice: how often the second
 * answer differed from the first in any way (address, return hops, kind
 * of reply, QUIC versions), ECT(0) against Not-ECT; CMP_SITE_ECT counts
 * only those another machine answered (site_moved). And pairs whose
 * second probe another address answered (a filter, not a site). */
struct comparison_result judge_site_parted(const struct diag_evidence *ev);
struct comparison_result judge_site_elsewhere(const struct diag_evidence *ev);
/* Did another machine answer b than a: both Version Negotiations, listing
 * other versions? Return hops alone do not tell. */
int site_moved(const struct responder *a, const struct responder *b);

const char *cause_name(enum cause_kind k);
const char *fact_name(enum fact k);
const char *comparison_name(enum comparison c);
const char *lb_name(enum lb_kind k);
const char *diag_status_name(enum diag_status s);
int responder_differs(const struct responder *a, const struct responder *b);
/* Whether two of the codepoints in mask (bit 1 << ECN_x each) met
 * different responders on flow f. */
int codepoints_differ(const struct diag_flow *f, unsigned mask);
/* The screened flows that prove: whole (four codepoints answered),
 * answered alike, and by a router (the target's own answers show no
 * path). */
int screen_proving_flows(const struct diag_evidence *ev);
/* What the screen says against an ECN hash: a flow whose four codepoints
 * all agree would, under a 2-way hash over ECN, do so with probability
 * 2^-3; the sum of those exponents over the proving flows. The path
 * verdict's confidence is 1 - 2^-bits. */
int screen_bits(const struct diag_evidence *ev);
/* A router's Time Exceeded answered one of the flow's codepoints; only
 * such flows show a path (the target's own answers do not). */
int router_answered(const struct diag_flow *f);
/* Do the screened flows reach different responders (Not-ECT)? That is
 * per-flow balancing, or the first sign of it. */
int flows_disagree(const struct diag_evidence *ev);

#endif
