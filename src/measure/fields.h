/*
 * fields: the flow-consistency screen over header fields other than ECN
 * (--fields). Evidence only, as evidence.h: which responder answered each
 * value of one field on the same flows, at the screen's hop and at the
 * target. diag_fields.c measures it; judge_fields.c judges it.
 */
#ifndef ECNTRACE_FIELDS_H
#define ECNTRACE_FIELDS_H

#include <stdint.h>

enum diag_field {
	FIELD_ECN = 0,               /* the four-codepoint screen (evidence.h) */
	FIELD_TTL,                   /* initial TTL / hop limit */
	FIELD_FLOWLABEL,             /* IPv6 flow label */
	FIELD_DSCP,
	FIELD_FRAG,                  /* a UDP datagram whole, or fragmented */
	FIELD_COUNT
};
#define FIELDS_ALL ((1u << FIELD_COUNT) - 1)

/* Values of one field per flow, values[0] the control (the value every
 * other probe of ecntrace carries): 4 in all, so that a flow whose
 * values agree hides a 2-way hash over the field with probability 2^-3.
 * Each flow gets other values, so that flows are independent draws even
 * under a hash over the field alone. */
#define FIELD_VALUES 4
/* Flows of one field at most: at the Bonferroni level of 0.9999 over
 * five tests (0.99998), 6 of 4 values and 16 of 2 (frag), and a few more
 * where answers were lost. */
#define FIELD_FLOWS 20
#define FIELD_FLOWS_4 8
/* What a field's screen claims at most (field_confidence). */
#define FIELD_CONF_CAP 0.99999
/* Flows probed at every hop to find where paths fork (TTL): after one
 * responder, 1 + log2(1/(1-c)) flows rule out a second, at 0.99 8; the
 * last hop where all met is asked again with more, up to
 * fork_flows_needed: at 0.9999 over five tests, 22 for 30 hops and 25
 * for 255 (source ports sport_base + 1 .. + 25, below DIAG_PLAIN_PORT). */
#define FIELD_FORK_FLOWS 25

struct field_flow {
	uint16_t sport;
	uint32_t value[FIELD_VALUES];
	struct responder hop[FIELD_VALUES];  /* at the screen TTL */
	struct responder end[FIELD_VALUES];  /* the target's answer */
};

struct field_evidence {
	int screened;                /* asked for, and measured */
	int applies;                 /* 0: not in this family (flow label, IPv4) */
	int nvalues;
	int at_hop;                  /* the field is probed at the screen hop */
	struct field_flow flows[FIELD_FLOWS];
	int nflows;
	/* The first flow whose value parted from its control (at the hop,
	 * or at the target: at_end), and the repeats of both. */
	int parted, at_end;
	int split_flow, split_value; /* indexes into flows[], value[] */
	struct repeat_count repeats;
	int split_draws[2];
	int split_seen;              /* parted and no repeat differed */
	/* Where: the first TTL at which the two values' responders differ
	 * (hop screen), or where the flows' paths fork (TTL: fork_*). */
	int divergence_ttl, split_unknown_from;
	struct responder split_at[2], balancer;
	int fork_flows;              /* flows probed per hop in the fork scan */
	/* TTL: the last hop up to the screen's at which all fork_flows flows
	 * answered from one router, and then all fork_trunk_flows (more,
	 * asked again there), 0 if none: the TTL's router lies there or
	 * after it, before the target. A hop whose second ask parted or
	 * went short is passed over for the one before. */
	int fork_trunk, fork_trunk_flows;
};

struct diag_fields {
	unsigned asked;              /* 1 << FIELD_x */
	struct field_evidence f[FIELD_COUNT];
	/* CE: whole screened flows whose three other codepoints agreed, and
	 * whether any flow's other codepoints parted. */
	int ce_agree_flows;
	int ce_others_parted;
};

/* The order of one confirmation round's probes (diag_fields.c): side[j]
 * 0 the control, 1 the parted value; each side's probes back to back,
 * want - drawn[side] of them and two at least. Returns how many (<= max). */
int confirm_order(int want, const int drawn[2], int *side, int max);

/*
 * The fork scan's choice of its trunk (TTL): the last hop t of 1..hops
 * whose first flows all met one router (met[t].answered), asked again by
 * ask(ctx, t) with more flows when ask is not NULL: 1 if they met that
 * router too, 0 if they parted or went short (the hop before is tried
 * next), -1 to stop. Returns the hop, 0 if none, -1 if stopped. Pure but
 * for ask.
 */
typedef int (*fork_ask_fn)(void *ctx, int t);
int fork_choose(const struct responder *met, int hops, fork_ask_fn ask,
		void *ctx);

#endif
