/*
 * judge's parts share these (judge.c, judge_fields.c); internal, pure.
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

#endif
