/*
 * Keeping the host's TCP stack out of our userspace connections: the
 * kernel has no socket for them, so it would answer the server's SYN-ACK
 * with an RST. A table of our own, named after our pid, drops just the
 * replies of our flows (source address and port of the target, our range
 * of source ports) before the stack sees them; the packet socket has
 * already copied them by then. The table goes on every exit path, and
 * tables of dead instances are reaped at start.
 */
#ifndef ECNTRACE_NFTGUARD_H
#define ECNTRACE_NFTGUARD_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

#define NFTG_PREFIX "ecntrace_"

struct nft_guard {
	char table[32];
	int active;
};

/* Delete the tables of ecntrace instances that no longer run. Returns the
 * number removed, or -1. */
int nftg_reap(void);

/* Returns 0, or an EX_* code with a one-line message in err. */
int nftg_install(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		 uint16_t sport_lo, uint16_t sport_hi, char *err, size_t errlen);
/* Idempotent; safe to call from an exit path. */
void nftg_remove(struct nft_guard *g);

/* The ruleset text nftg_install() loads (pure; for tests). */
int nftg_ruleset(char *buf, size_t len, const char *table,
		 const struct addr *dst, uint16_t dport, uint16_t sport_lo,
		 uint16_t sport_hi);

#endif
