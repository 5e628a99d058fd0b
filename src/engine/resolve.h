/* Names and addresses: the target, our source address, and reverse DNS
 * done in the background so it never slows a measurement. */
#ifndef ECNTRACE_RESOLVE_H
#define ECNTRACE_RESOLVE_H

#include <stddef.h>

#include "pkt.h"

/* family: 0 (either, IPv4 first as traceroute does), AF_INET or AF_INET6.
 * Returns 0 or EX_NOHOST / EX_USAGE with a one-line message in err. */
int resolve_target(const char *host, int family, struct addr *out,
		   char *err, size_t errlen);

/* Could host be a name or an address to resolve: 1 to 253 bytes (a DNS
 * name's limit), each printable ASCII (0x21-0x7e)? No controls, spaces or
 * bytes >= 0x80: what resolve_target accepts, it can echo to a terminal
 * and put in an HTTP Host header or a TLS server_name (client_payload).
 * Pure; resolve_target checks it first. */
int host_name_ok(const char *host);

/* Parse a numeric address of the given family (0 = either). 0 or -1. */
int parse_addr(const char *s, int family, struct addr *out);

/* The source address the kernel would use towards dst (through iface if
 * given). Returns 0 or EX_UNAVAILABLE with a message. */
int pick_source(const struct addr *dst, const char *iface, struct addr *src,
		char *err, size_t errlen);

/* Reverse DNS in background threads. rdns_want() starts a lookup once
 * per address; rdns_name() returns the name found or NULL; rdns_finish()
 * waits at most timeout_ms for lookups still running. */
void rdns_want(const struct addr *a);
const char *rdns_name(const struct addr *a);
void rdns_finish(int timeout_ms);

#endif
