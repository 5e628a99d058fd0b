/* Renderings of a diagnosis. */
#ifndef ECNTRACE_DIAGNOSE_OUT_H
#define ECNTRACE_DIAGNOSE_OUT_H

#include <stdio.h>

#include "diagnose.h"

/* Words for a diagnosis, from the findings' fields. */
void diagnose_summary(const struct diag_result *r, char *buf, size_t len);
void diagnose_where(const struct finding *f, char *buf, size_t len);
void diagnose_evidence(const struct finding *f, char *buf, size_t len);
void diagnose_advice(const struct finding *f, char *buf, size_t len);
void diagnose_print_text(FILE *fp, const struct diag_result *r,
			 const char *host);
void diagnose_print_json(FILE *fp, const struct diag_result *r,
			 const char *host);

#endif
