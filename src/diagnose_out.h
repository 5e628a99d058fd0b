/* Renderings of a diagnosis. */
#ifndef ECNTRACE_DIAGNOSE_OUT_H
#define ECNTRACE_DIAGNOSE_OUT_H

#include <stdio.h>

#include "diagnose.h"

void diagnose_advice(const struct finding *f, char *buf, size_t len);
void diagnose_print_text(FILE *fp, const struct diag_result *r,
			 const char *host);
void diagnose_print_json(FILE *fp, const struct diag_result *r,
			 const char *host);

#endif
