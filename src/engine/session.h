/* What every measuring command does before and after measuring: resolve
 * the target, choose the source address, open the raw sockets, drop
 * privileges, then open the pcap file as the caller. */
#ifndef ECNTRACE_SESSION_H
#define ECNTRACE_SESSION_H

#include "engine.h"
#include "nftguard.h"
#include "outfile.h"

struct session_conf {
	const char *host;
	int family;                  /* 0, AF_INET, AF_INET6 */
	const char *src;             /* -s, or NULL */
	const char *iface;           /* -i, or NULL */
	const char *pcap;            /* --pcap FILE, or NULL */
	int keep_net_admin;          /* connect: its nft table */
};

struct session {
	struct addr dst, src;
	struct engine e;
	struct pcap_writer *pcap;
	struct outfile pcap_file;
};

/* Returns 0 or an EX_* code after printing a one-line error. */
int session_open(struct session *s, const struct session_conf *c);
/* Close the sockets and the pcap file: 0, or EX_IOERR (after a one-line
 * error) if the pcap could not be written whole. */
int session_close(struct session *s);

/* The nftables guard of the replayed flows: CAP_NET_ADMIN is made
 * effective for the reaping and the install, and for the removal, and at
 * no other time. 0, or an EX_* code after a one-line error. */
int session_guard(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		  uint16_t sport_lo, uint16_t sport_hi);
void session_unguard(struct nft_guard *g);

#endif
