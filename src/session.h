/* What every measuring command does before and after measuring: resolve
 * the target, choose the source address, open the raw sockets and the
 * pcap file, then drop privileges. */
#ifndef ECNTRACE_SESSION_H
#define ECNTRACE_SESSION_H

#include "engine.h"

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
};

/* Returns 0 or an EX_* code after printing a one-line error. */
int session_open(struct session *s, const struct session_conf *c);
void session_close(struct session *s);

#endif
