/* Renderings of a trace. */
#ifndef ECNTRACE_TRACE_OUT_H
#define ECNTRACE_TRACE_OUT_H

#include <stdio.h>

#include "json.h"
#include "trace.h"

const char *proto_name(int proto);
/* A reply's QUIC versions as "quic_versions": ["0x..."], if a VN. */
void json_quic_versions(struct json *j, const struct pkt_reply *r);
void trace_print_text(FILE *f, const struct trace_result *r, const char *host,
		      int numeric);
void trace_print_json(FILE *f, const struct trace_result *r, const char *host,
		      int numeric);
/* The "hops" array, for documents that embed a trace. */
void trace_json_hops(struct json *j, const struct trace_result *r, int numeric);

#endif
