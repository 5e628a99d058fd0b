/*
 * The HTML report of a diagnosis: one self-contained page (inline CSS and
 * SVG, no script, nothing loaded from elsewhere) that a customer can hand
 * to an ISP: the verdict, the paths per ECN codepoint, the failing
 * connection as a timeline, the ECN value each hop quoted, and what to do.
 */
#ifndef ECNTRACE_REPORT_H
#define ECNTRACE_REPORT_H

#include <stdio.h>

#include "diagnose.h"

/* The page itself. host is what the user typed; it is escaped. */
void report_html(FILE *fp, const struct diag_result *r, const char *host);

#endif
