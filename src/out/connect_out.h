/* Renderings of a connect run. */
#ifndef ECNTRACE_CONNECT_OUT_H
#define ECNTRACE_CONNECT_OUT_H

#include <stdio.h>

#include "connect.h"
#include "json.h"

void tcp_flags_str(uint16_t flags, char *buf, size_t len);
/* Does this result break the connection? */
int connect_is_failure(enum conn_result c);
/* 0 all ECN flows work, 1 some break while the controls work, 2 the
 * controls fail too. */
int connect_exit_code(const struct connect_result *r);
void connect_print_text(FILE *f, const struct connect_result *r,
			const char *host);
void connect_print_json(FILE *f, const struct connect_result *r,
			const char *host);
/* The synack_* members of a flow: TTL, hops, flags, ECN, window, IP ID,
 * MSS, window scale, SACK, timestamps (connect and analyze share them). */
void json_synack(struct json *j, const struct tcp_seg *s, uint8_t ttl,
		 uint8_t tos, uint16_t ip_id);
/* Members "dport", "mode", "flows", "summary", for embedding. */
void connect_json_body(struct json *j, const struct connect_result *r);

#endif
