/*
 * scan_paths: what a scan learns about the paths to its targets. The
 * routers that answer TTL-limited probes, per target prefix and TTL, for
 * the per-router budgets; and the splits already located, for targets
 * that part on the same two routers.
 *
 * Budgets: each answer to a TTL-limited probe is an ICMP error a router's
 * control plane must make, and routers limit them (Linux: 1000/s with a
 * burst of 50 for all senders). A probe is charged to the routers that
 * answered probes of its TTL towards the same /24 (IPv6 /48) (routing is
 * per prefix; up to PATHS_WAYS of them, a share each, as ECMP spreads
 * flows), or, before one answered, to a bucket shared by every router
 * still unknown, and then, when its answer comes, to the router that sent
 * it too. A round starts only when its routers' buckets are not in debt.
 *
 * Splits: a dependent target whose parted flow meets the same two routers
 * at the same screen TTL as an earlier target of the same /24 (/48) takes
 * that target's localisation and sends no probe for it: the routers near
 * the scanner, which every localisation crosses, are spared. Only splits
 * located to one hop are kept.
 *
 * Per packet: the routers that answered identical probes of some target
 * differently (two routers, or a router and the target): a balancer
 * spreads packets, not flows, in front of them. A target screened by one
 * of them must bring the stronger evidence (scan_engine.c); this only
 * ever asks for more probes, never takes a verdict from another target.
 */
#ifndef ECNTRACE_SCAN_PATHS_H
#define ECNTRACE_SCAN_PATHS_H

#include "scan.h"

struct scan_paths;

/* rate: TTL-limited probes a router a second (0: no budget), burst: the
 * bucket's depth. NULL when out of memory. */
struct scan_paths *scan_paths_new(double rate, double burst);
void scan_paths_free(struct scan_paths *p);

/* May a round with probes at TTLs lo..hi towards dst start now? */
int scan_paths_ok(struct scan_paths *p, const struct addr *dst, int lo, int hi);
/* Charge one probe at ttl towards dst: to hint, the router that answered
 * the same flow and codepoint before, if given; else to the routers
 * predicted. 1 if it went to the unknown routers' bucket. */
int scan_paths_charge(struct scan_paths *p, const struct addr *dst, int ttl,
		      const struct addr *hint);
/* router answered a probe at ttl towards dst; charge it the probe too if
 * that one went to the unknown routers (unknown). */
void scan_paths_answer(struct scan_paths *p, const struct addr *dst, int ttl,
		       const struct addr *router, int unknown);

/* The localisation kept for dst's prefix, screen TTL and the two routers
 * at the screen, or NULL. */
const struct scan_hopans (*scan_paths_split(struct scan_paths *p,
	const struct addr *dst, int screen_ttl, const struct addr *r0,
	const struct addr *r1))[2];
void scan_paths_keep_split(struct scan_paths *p, const struct addr *dst,
			   int screen_ttl, const struct addr *r0,
			   const struct addr *r1,
			   const struct scan_hopans loc[SCAN_MAX_TTL][2]);

/* A split named at hop `hop` behind the two routers r0, r1 at screen_ttl;
 * and the hop to try first for another target (of any prefix) whose
 * parted flow meets the same two there: 0 if none. A guess only: the
 * target's own probes at that hop must name the router. */
void scan_paths_keep_hop(struct scan_paths *p, int screen_ttl,
			 const struct addr *r0, const struct addr *r1, int hop);
int scan_paths_guess_hop(const struct scan_paths *p, int screen_ttl,
			 const struct addr *r0, const struct addr *r1);

/* router answered identical probes differently from another answer. */
void scan_paths_mark_perpacket(struct scan_paths *p, const struct addr *router);
/* Was router so marked (or the table too full to tell: 1)? */
int scan_paths_perpacket(const struct scan_paths *p, const struct addr *router);

#endif
