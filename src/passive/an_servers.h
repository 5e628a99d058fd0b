/*
 * The analyzer's per-server table: one entry per server address and port,
 * what its connections saw (the hints for SYNs that got nothing, the
 * control for resets after data). Open addressing under the analyzer's
 * keyed hash (SipHash), grown on demand up to a bound; the entries sit in
 * one array in the order first seen, so walking them costs what is used.
 * Past the bound a new server gets no entry (the caller counts it): no two
 * servers ever share one.
 */
#ifndef ECNTRACE_AN_SERVERS_H
#define ECNTRACE_AN_SERVERS_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* = AR_COUNT (analyze.h checks it) */
#define AN_SERVER_RESULTS 17

/* Most servers followed, and the table's first size. */
#define AN_SERVERS_MAX 65536
#define AN_SERVERS_MIN 16

struct an_dst {
	struct addr server;
	uint16_t dport;
	uint32_t hash;               /* of server and port, for growing */
	uint32_t plain_synack, plain_reset;
	/* the control for resets after data (struct an_ctl) */
	uint32_t plain_data, plain_data_reset, ecn_data, ecn_data_reset;
	uint32_t ecn_reset_faults;   /* of them counted as faults (0 once
	                              * the control found plain-too) */
	/* The summary: every connection finished, by its first SYN */
	uint32_t ecn_conns, plain_conns;
	uint32_t faults;             /* ECN faults, after the control */
	uint32_t reset_plain_too;    /* resets the control took back */
	uint32_t ecn_results[AN_SERVER_RESULTS], plain_results[AN_SERVER_RESULTS];
	/* Hop counts (return_hops() of the TTL, 1-255, 255 for more) that
	 * first SYN-ACKs and kept RSTs came from: bit h set */
	uint64_t synack_hops[4], rst_hops[4];
	uint64_t first_seen;         /* order of its first connection */
};

struct an_servers {
	struct an_dst *v;            /* entries, in the order first seen */
	size_t n, vcap;
	int32_t *ix;                 /* index into v, -1 empty; nix a power
	                              * of two, at most half full */
	size_t nix;
	size_t max;                  /* bound on n */
};

/* max 0: AN_SERVERS_MAX. Allocates nothing until the first entry. */
void servers_init(struct an_servers *t, size_t max);
void servers_free(struct an_servers *t);
/*
 * The entry of server:port (hash: its keyed hash), created if create
 * and there is room. NULL when absent, or when it would be new and the
 * table is at its bound or out of memory (*full set to 1 then, if full
 * is not NULL).
 */
struct an_dst *servers_find(struct an_servers *t, uint32_t hash,
			    const struct addr *server, uint16_t dport,
			    int create, int *full);
/* The same, never creating: const. */
const struct an_dst *servers_get(const struct an_servers *t, uint32_t hash,
				 const struct addr *server, uint16_t dport);

#endif
