/* trace: a flow-stable traceroute with a chosen TOS byte. Every probe of
 * one trace has the same flow identifier (addresses, protocol, ports or
 * ICMP id, checksum); only the TTL and a per-probe token vary. */
#ifndef ECNTRACE_TRACE_H
#define ECNTRACE_TRACE_H

#include "engine.h"
#include "pkt_quic.h"

struct flow {
	struct addr src, dst;
	uint8_t proto;               /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	uint16_t sport, dport;       /* TCP, UDP; sport is the ICMP id */
	uint8_t tos;                 /* DSCP << 2 | ECN */
	uint32_t flowlabel;          /* IPv6 */
	uint16_t syn_flags;          /* TCP flags of the probe; 0 = SYN */
	int quic;                    /* UDP: QUIC long-header probes of a
				      * reserved version (pkt_quic.h) */
};

/*
 * Fill d for one probe of flow f at this TTL. token tells probes apart:
 * it goes into the TCP sequence number, the ICMP sequence number, the
 * IPv4 ID (token % 65535 + 1, never 0), and for UDP over IPv6 the payload
 * length (distinct modulo 512). A QUIC probe is a 1200-byte datagram
 * whose CIDs carry the token (and the flow's ports); over IPv6 its length
 * stays put and the CIDs alone tell probes apart.
 * The UDP and ICMP checksums stay the same whatever the token.
 */
void flow_probe(const struct flow *f, int ttl, uint32_t token,
		struct probe *p);

struct trace_params {
	struct flow flow;
	int first_ttl, max_ttl, nqueries;
	int64_t timeout_ns;
	double rate;
	uint32_t token_base;         /* random per run (engine's token_base):
				      * probe i carries token_base + i */
	/* Called with each new responder while the trace runs (e.g. to
	 * start its reverse DNS lookup); may be NULL. */
	void (*on_responder)(const struct addr *a);
	/* Progress, about once a second; may be NULL. */
	void (*on_tick)(void *ctx, size_t done, size_t total);
};

struct trace_result {
	struct trace_params p;
	struct probe *probes;        /* nqueries rounds of TTL first..max */
	size_t nprobes;
	int dest_ttl;                /* TTL at which the target answered, or 0 */
	int stop_ttl;                /* last TTL worth showing */
	int64_t duration_ns;
	uint64_t sent;
};

int trace_run(struct engine *e, const struct trace_params *p,
	      struct trace_result *r, char *err, size_t errlen);
void trace_free(struct trace_result *r);
/* The probe for (ttl, query), or NULL if out of range. */
struct probe *trace_probe(const struct trace_result *r, int ttl, int q);

/* What a reply says about the ECN and DSCP the router received,
 * compared with what we sent. */
enum ecn_change {
	ECN_SAME = 0,
	ECN_BLEACHED,                /* ECT/CE became Not-ECT */
	ECN_MANGLED,                 /* changed otherwise (ECT(0) <-> ECT(1), Not-ECT -> ECT) */
	ECN_CE_MARKED,               /* ECT became CE */
};
enum ecn_change ecn_compare(uint8_t sent_tos, uint8_t quoted_tos);
const char *ecn_change_name(enum ecn_change c);

/* Initial TTL a reply most likely started with, and the hop count it
 * implies (1 for a neighbour). */
int initial_ttl(int ttl);
int return_hops(int ttl);

/* "syn-ack", "rst", "port-unreachable", "echo-reply", "time-exceeded",
 * "unreachable", ... for a reply. */
const char *reply_name(const struct pkt_reply *r);
/* The Version Negotiation a UDP reply carries: 0, or -1 if it is none. */
int reply_quic_vn(const struct pkt_reply *r, struct quic_vn *vn);
/* "quic", or the protocol's name ("tcp", "udp", "icmp", "icmp6");
 * trace_out.c. */
const char *flow_proto_name(const struct flow *f);

#endif
