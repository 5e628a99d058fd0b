/*
 * The per-server summary of analyze and watch: for each server address
 * and port, its ECN and plain connections, their results, the hop counts
 * its SYN-ACKs and RSTs came from, and the finding with the comparison it
 * rests on. Text (a table, faults first, one screen) and JSON (the
 * "servers" array, in the same order).
 */
#ifndef ECNTRACE_ANALYZE_SERVERS_H
#define ECNTRACE_ANALYZE_SERVERS_H

#include <stdio.h>

#include "analyze.h"
#include "json.h"

/* Servers shown in the text table; JSON lists them all. */
#define SERVERS_SHOWN 8

/* The entries of a finished analyzer, faults first (then the most
 * connections, then the first seen); NULL if there is none or no memory
 * (*n 0). Free with free(). */
const struct an_dst **an_servers_sorted(const struct analyzer *a, size_t *n);
void an_servers_text(FILE *f, const struct analyzer *a, int color);
void an_servers_json(struct json *j, const struct analyzer *a);
/* The "control" object: the per-server comparison a reset was judged by. */
void an_control_json(struct json *j, const struct an_ctl *k);

#endif
