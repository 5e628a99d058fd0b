/*
 * judge's parts share these (judge.c, judge_fields.c, judge_compare.c);
 * internal, pure.
 */
#ifndef ECNTRACE_JUDGE_INT_H
#define ECNTRACE_JUDGE_INT_H

#include "judge.h"

/* A new finding of kind k (a cause or a note), or NULL when full. */
struct finding *judge_add(struct diag_verdict *v, enum cause_kind k, double conf);
void judge_fact(struct finding *f, enum fact k, long long val);
/* The router lies in [first, last]; who answered at first, if anyone. */
void judge_locate(struct finding *f, int first, int last,
		  const struct responder *at_first);

/* judge_compare.c: counting and scoring the comparisons. */
int is_ecn_flow(const struct conn_flow *f);
int proven_other(const struct diag_evidence *ev, uint16_t sport);
int ect_path_resets(const struct diag_evidence *ev);
int pair_whole(const struct diag_evidence *ev, const struct site_pair *s);
int significant(const struct comparison_result *c, double confidence);
int suggestive(enum comparison k, const struct comparison_result *c,
	       double confidence);
struct comparison_result site_unproven(const struct diag_evidence *ev);
double site_confidence(const struct diag_evidence *ev, double c);
int sites_split(const struct diag_evidence *ev,
		const struct comparison_result *ss, double c);
int site_leans(const struct comparison_result *r);

#endif
