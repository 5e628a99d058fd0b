/*
 * The diagnosis's measuring parts share this: one run's context, and the
 * probes of one flow sent through the engine. Internal to diag_*.c and
 * diagnose.c; nothing here decides or prints.
 */
#ifndef ECNTRACE_DIAG_PROBE_H
#define ECNTRACE_DIAG_PROBE_H

#include "diagnose.h"

struct dctx {
	struct engine *e;
	const struct diag_params *p;
	struct diag_result *res;
	struct diag_evidence *ev;
	uint32_t token;
	int64_t wait_ns;             /* per reply, from the path's RTTs */
	char *err;
	size_t errlen;
};

/* ECN codepoints in the order a flow is screened. */
extern const int diag_ecn_order[4];

/* What answered a probe, reduced to what identifies a path. */
struct responder responder_of(const struct probe *p);
/* The diagnosis's flow (TCP, UDP or QUIC) from source port sport with this TOS. */
struct flow path_flow(const struct diag_params *p, uint16_t sport, uint8_t tos);
/* The probe of the diagnosis's flow sport with this TOS at this TTL. */
void add_probe(struct dctx *c, struct probe *pr, uint16_t sport, uint8_t tos,
	       int ttl);
/* Send probes at the run's rate and wait for them all. */
int run_batch(struct dctx *c, struct probe *pr, size_t n);
/* Send them back to back (sooner than any answer returns), then pause
 * so that the average stays at the run's rate. */
int run_burst(struct dctx *c, struct probe *pr, size_t n);
void progress(struct dctx *c, const char *phase);
/* Before asking again what a try begun at since did not get. */
void pace_retry(int64_t since);

/* diag_paths.c: the screen, the split and its hop. */
int step_paths(struct dctx *c);
int step_dest_compare(struct dctx *c);
int confirm_first_split(struct dctx *c, int from);
int localize_split(struct dctx *c);
int screen_flows(struct dctx *c, int from, int to);
int per_packet_seen(const struct diag_evidence *ev);

/* diag_perpacket.c: identical probes, a hash told from per-packet
 * balancing with a bounded miss probability. */
int confirm_split(struct dctx *c, int fi, int e1, int e2);
int localize_per_packet(struct dctx *c);
/* No flow parted: are identical probes balanced per packet even so? */
int screen_per_packet(struct dctx *c);

/* diag_fields.c: the other header fields (--fields), and CE alone. */
int step_fields(struct dctx *c);

/* diag_replay.c: the connection replays. */
int step_replays(struct dctx *c);

/* diag_udp.c: for UDP and QUIC targets, which machine answers a flow's
 * Not-ECT and its ECT(0) probes, against Not-ECT controls. */
int step_sites(struct dctx *c);

#endif
