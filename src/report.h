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

/* Create the file while we still may (before privileges are dropped).
 * Prints a one-line error and returns NULL if it cannot be created. */
FILE *report_open(const char *path);
/* Write the page for r into fp and close it. Returns 0, or EX_IOERR
 * after a one-line error. */
int report_write(FILE *fp, const char *path, const struct diag_result *r,
		 const char *host);
/* No diagnosis to write: close fp and remove the file it created. */
void report_discard(FILE *fp, const char *path);

/* The page itself. host is what the user typed; it is escaped. */
void report_html(FILE *fp, const struct diag_result *r, const char *host);

#endif
