/* fields_out: the --fields screen's findings and figures in words and
 * JSON, for diagnose_out.c. */
#ifndef ECNTRACE_FIELDS_OUT_H
#define ECNTRACE_FIELDS_OUT_H

#include <stdio.h>

#include "diagnose.h"
#include "json.h"

/* For ce-hash, ttl-hash, flowlabel-hash, a field's dscp-hash and its
 * unconfirmed note: 1 if written, 0 if f is none of them. */
int fields_evidence(const struct finding *f, char *buf, size_t len);
int fields_advice(const struct finding *f, const char *who, char *buf,
		  size_t len);
int fields_summary(const struct finding *f, const char *who, char *buf,
		   size_t len);
/* One line a screened field: "  fields: ttl 99.2% ...". */
void fields_print_text(FILE *fp, const struct diag_result *r);
/* "fields": [...] inside "paths". */
void fields_json(struct json *j, const struct diag_result *r);

#endif
