/*
 * ecntrace scan: the same-flow test over many targets. Targets are a
 * sorted, merged list of address ranges (scan_targets.c); probes carry
 * their own validation (scan_cookie.c); the stateless engine
 * (scan_engine.c) fills one scan_evidence per target; scan_judge() (pure)
 * turns it into a scan_verdict; scan_out.c writes NDJSON or words.
 */
#ifndef ECNTRACE_SCAN_H
#define ECNTRACE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pkt.h"

#define SCAN_MAX_FLOWS 8
#define SCAN_MAX_TTL 32          /* screen and locate no farther */
#define SCAN_REPEATS 5           /* extra probes of a parted codepoint
				  * when per-packet balancing is near */
#define SCAN_FIRST_FLOWS 1       /* flows with direct probes before the
				  * rest (and screened first) */

/* ---------------------------------------------------------- targets */

/* A run of consecutive addresses: IPv4 in lo (hi = 0), IPv6 as the
 * upper and lower 64 bits. */
struct scan_range {
	int family;
	uint64_t hi, lo;             /* first address */
	uint64_t lhi, llo;           /* last address */
	uint64_t count;              /* >= 1; UINT64_MAX: that many or more
				      * (only a blocklist's may be) */
};

struct scan_targets {
	struct scan_range *r;
	size_t n, cap;
	uint64_t total;              /* addresses in all ranges */
	uint64_t *first;             /* index of each range's first address */
};

/* Add one target word: address, CIDR prefix (IPv6: /96 or longer) or
 * host name (resolved, family 0 = either). 0, or -1 with a one-line
 * reason in err. */
int scan_targets_add(struct scan_targets *t, const char *word, int family,
		     char *err, size_t errlen);
/* The same for a blocklist: any prefix length. */
int scan_block_add(struct scan_targets *t, const char *word, char *err,
		   size_t errlen);
/* Sort and merge (duplicates and overlaps count once), then compute the
 * index. 0 or -1 (no memory). */
int scan_targets_finish(struct scan_targets *t);
/* Remove what block covers; returns the number of addresses removed.
 * Both must be finished; t is finished again. */
uint64_t scan_targets_subtract(struct scan_targets *t,
			       const struct scan_targets *block);
/* The address at index i (< total). */
void scan_target_at(const struct scan_targets *t, uint64_t i, struct addr *a);
/* The index of a, or -1 if a is no target. */
int64_t scan_target_index(const struct scan_targets *t, const struct addr *a);
void scan_targets_free(struct scan_targets *t);
/* A hash of the (finished) list: the same targets, the same value. */
uint64_t scan_targets_digest(const struct scan_targets *t);

/* The built-in blocklist (reserved ranges; documented in ecntrace(1)). */
extern const char *const scan_default_blocklist[];
/* Read a blocklist or target file: one word a line, '#' comments, blank
 * lines. 0, or -1 with a one-line reason (file:line: ...) in err. */
int scan_targets_read(struct scan_targets *t, FILE *fp, const char *name,
		      int family, char *err, size_t errlen);
/* The targets an earlier run's output has an object for (complete lines
 * of command "scan" with a "target"), finished. 0 or -1 (no memory). */
int scan_resume_read(struct scan_targets *t, FILE *fp);
/* A blocklist file, the same way (addresses and prefixes of any length,
 * no names). */
int scan_block_read(struct scan_targets *t, FILE *fp, const char *name,
		    char *err, size_t errlen);

/* ------------------------------------------------------- permutation */

/* A keyed bijection of [0, n): a 4-round Feistel network over the
 * smallest even power of two >= n, cycle-walking into range. */
struct scan_perm {
	uint64_t n;
	unsigned half_bits;
	uint64_t key[2];
};
void scan_perm_init(struct scan_perm *p, uint64_t n, uint64_t seed);
uint64_t scan_perm_at(const struct scan_perm *p, uint64_t i);
/* Shard `shard` of `shards` takes the permutation's positions shard,
 * shard + shards, ...: how many of total, and the j-th's position. */
uint64_t scan_shard_size(uint64_t total, uint64_t shards, uint64_t shard);
uint64_t scan_shard_pos(uint64_t j, uint64_t shards, uint64_t shard);

/* ------------------------------------------------------------ cookies */

/*
 * Every probe's TCP sequence number is H(secret, target, sport, dport) +
 * tag: the tag (12 bits) says which probe it was. A reply is ours if its
 * acknowledgment (SYN-ACK, RST) or quoted sequence number (ICMP) minus
 * H decodes to a tag we could have sent.
 */
enum scan_ttl_kind { SCAN_TTL_FULL = 0 };   /* ttl field 0: full TTL */
struct scan_tag {
	unsigned ttl;                /* 0: to the target (full TTL), else
				      * the TTL-limited probe's TTL */
	unsigned ecn;                /* codepoint sent */
	unsigned rep;                /* repeat, 0..7 */
};
struct scan_key {
	uint64_t k[2];
};
uint32_t scan_cookie_base(const struct scan_key *key, const struct addr *dst,
			  uint16_t sport, uint16_t dport);
uint32_t scan_tag_pack(const struct scan_tag *t);
/* Decode seq - base: 0, or -1 if it is no tag. */
int scan_tag_unpack(uint32_t v, struct scan_tag *t);

/* A reply proved ours: the target's index, the flow's port offset from
 * the first source port, the probe's tag, and what answered. */
struct scan_match {
	uint64_t idx;
	int port;
	struct scan_tag tag;
	int synack;                  /* a SYN-ACK (to be reset) */
	int icmp;                    /* an ICMP error quoting the probe */
	const struct addr *target;   /* in the reply */
};
/* Is r (parsed) the answer to one of our probes: to targets t, port
 * dport, from source ports sport_base .. sport_base + 2 * flows - 1?
 * 0 and *m, or -1. Pure. */
int scan_validate(const struct scan_key *key, const struct scan_targets *t,
		  uint16_t dport, uint16_t sport_base, int flows,
		  const struct pkt_reply *r, struct scan_match *m);

/* ----------------------------------------------------------- evidence */

/* One answer, reduced to what tells machines and routers apart. */
struct scan_obs {
	uint8_t got;                 /* 0 none, else enum scan_ans */
	uint8_t ttl;                 /* on arrival */
	uint8_t ece;                 /* SYN-ACK had ECE */
	uint8_t wscale;              /* 0xff: none */
	uint16_t window, mss;        /* mss 0: none */
	uint8_t optsig;              /* hash of the option kinds' order */
	uint8_t have_ts;
	uint32_t tsval;
	uint32_t t_ms;               /* arrival, ms since the run began */
	struct addr from;
};
enum scan_ans { ANS_NONE = 0, ANS_SYNACK, ANS_RST, ANS_ICMP_TE,
		ANS_ICMP_UNREACH };

/* A codepoint's TTL-limited probes of one flow: the first responder and
 * how many of the answers came from another one. */
struct scan_rep {
	uint8_t sent, answered, differed;
	uint8_t repmask;             /* repeats answered (duplicates count once) */
	uint8_t kind;                /* enum scan_ans of the first answer:
				      * ANS_ICMP_TE only for a time-exceeded
				      * from another address than the target */
	uint8_t kinddiff;            /* later answers of another kind */
	struct addr first;
};

struct scan_flow {
	struct scan_obs neg;         /* ECN-setup SYN (ECE|CWR), Not-ECT */
	struct scan_obs tgt[2];      /* plain SYN: [0] Not-ECT, [1] ECT(0) */
};

struct scan_evidence {
	int nflows;
	/* Flows 0..direct_flows-1 got direct probes (the others none yet:
	 * a target that parts on the first flows needs no more); 0: all. */
	int direct_flows;
	struct scan_flow f[SCAN_MAX_FLOWS];
	/* TTL-limited SYNs at the screen TTL, by flow and codepoint: flows
	 * 0..nflows-1 are the ports of the plain SYNs, nflows..2*nflows-1
	 * those of the ECN-setup SYNs, screened when the first half showed
	 * no parting (a hash that the first flows happened to miss). */
	struct scan_rep scr[2 * SCAN_MAX_FLOWS][4];
	int screen_ttl;              /* 0: none (target not reached, or no
				      * router before it) */
	/* Localisation of one parted flow: both codepoints at TTLs
	 * 1..screen_ttl-1. */
	int loc_flow, loc_ecn[2];
	int located;                 /* probes were sent */
	struct scan_hopans {
		uint8_t got;             /* answered at least once */
		uint8_t kind;            /* of the first answer (enum scan_ans) */
		uint8_t answered, differed, kinddiff;
		uint8_t repmask;         /* repeats answered */
		struct addr a;           /* the first answer's source */
	} loc[SCAN_MAX_TTL][2];
	/* With no router before the target (one return hop): TTL-1 probes
	 * sent, and those the target itself answered (a router there would
	 * have sent time-exceeded instead). */
	uint8_t ttl1_sent, ttl1_reached;
	/* A router at this target's screen answered identical probes (of
	 * any target) differently: a per-packet balancer there. Then one
	 * parted flow's agreeing repeats prove no hash; two parted flows
	 * must agree (each its own draws). */
	uint8_t pp_suspect;
};

/* ------------------------------------------------------------ verdict */

enum scan_status { SCAN_HEALTHY = 0, SCAN_BROKEN, SCAN_INCONCLUSIVE,
		   SCAN_UNREACHABLE };
struct scan_setup_count {
	int answered, reset, dropped, ece;
};
struct scan_split {
	int known;                   /* hop and addr named */
	int confirm_hop;             /* > 0: the codepoints parted first at
				      * this TTL, one answer each; repeats
				      * there and one hop before decide */
	int hop, hop_first, hop_last;
	struct addr addr, candidate; /* family 0: none */
};
struct scan_verdict {
	enum scan_status status;
	int dependent;               /* 1, 0, or -1 (null: not decided) */
	double confidence;           /* of the decision; 0 when none */
	const char *reason;          /* a short token, or NULL */
	int hops;                    /* return hops of the target, 0: none */
	int screen_ttl;              /* 0: none */
	int machines;                /* machines answering the address */
	struct scan_setup_count ecn, plain;
	int parted_flow;             /* flow to localise, -1 none */
	int parted_ecn;              /* its other codepoint */
	int has_split;
	struct scan_split split;
};

/* The flows with direct probes: direct_flows, or nflows if 0. Pure. */
int scan_direct_flows(const struct scan_evidence *ev);
/* The shortest return distance of the target's own answers (0: none). */
int scan_hops_min(const struct scan_evidence *ev);
/* The screen TTL from the target's answers (0: none). Pure. */
int scan_screen_ttl(const struct scan_evidence *ev);
/* Return hops from a reply's TTL (initial TTL guessed as the next of
 * 32, 64, 128, 255). */
int scan_hops(uint8_t ttl);
/* A flow that parted at the screen and the codepoint it parted on, for
 * the repeats: 0 and flow and ecn set, or -1. Pure. */
int scan_parted(const struct scan_evidence *ev, int *flow, int *ecn);
/* The same, the first such flow from flow `from` on. */
int scan_parted_from(const struct scan_evidence *ev, int from, int *flow,
		     int *ecn);
/* Judge one target's evidence at confidence conf. Pure. */
void scan_judge(const struct scan_evidence *ev, double conf,
		struct scan_verdict *v);
const char *scan_status_name(enum scan_status s);
/* The fewest repeats of each of a parted flow's two codepoints that can
 * rule out a per-packet balancer at confidence conf (1..7). Pure. */
int scan_repeats_for(double conf);

/* ------------------------------------------------------------- output */

struct scan_router {
	struct scan_split split;
	uint64_t *targets;           /* indexes */
	size_t n, cap;
	double *pv;                  /* each target's per-target p (any order) */
};
/* What each probe was for (summary.probes_by_phase). */
enum scan_phase { SCAN_PH_DIRECT = 0, SCAN_PH_DIRECT_RETRY, SCAN_PH_ECT0,
		  SCAN_PH_DIRECT_MORE,
		  SCAN_PH_SCREEN, SCAN_PH_SCREEN_MORE, SCAN_PH_SCREEN_RETRY,
		  SCAN_PH_SCREEN_LOWER, SCAN_PH_TTL1, SCAN_PH_REPEATS,
		  SCAN_PH_LOCATE, SCAN_PH_LOCATE_GUESS, SCAN_PH_LOCATE_RETRY,
		  SCAN_PH_SPLIT_CONFIRM,
		  SCAN_PH_COUNT };
extern const char *const scan_phase_names[SCAN_PH_COUNT];

struct scan_summary {
	uint64_t targets, blocked, resumed, completed;
	uint64_t by_status[4], dependent;
	uint64_t probes, replies, resets, retries, unsent;
	uint64_t by_phase[SCAN_PH_COUNT];   /* probes queued, by purpose */
	uint64_t splits_reused;      /* localisations taken from a target before */
	uint64_t screened;           /* targets whose screen was judged */
	double conf;                 /* of the per-router test (0: 0.99) */
	double seconds, rate;
	struct scan_router *routers;
	size_t nrouters, caprouters;
};

/* Could chance explain a router's group? For j = 1, 2, 4, ... and n (its
 * targets), the chance that per-packet balancing alone lets j or more of
 * the targets screened pass at the group's j-th smallest per-target p
 * (binomial); the smallest, times the number of j tried and of routers
 * (Bonferroni). Pure. */
double scan_router_p(const struct scan_summary *s, const struct scan_router *r);

void scan_print_target(FILE *fp, const struct addr *a, int port,
		       const struct scan_verdict *v);
/* Count v into s (and its router group). 0 or -1 (no memory). */
int scan_summary_add(struct scan_summary *s, uint64_t idx,
		     const struct scan_verdict *v);
void scan_print_summary(FILE *fp, const struct scan_summary *s,
			const struct scan_targets *t);
void scan_print_text(FILE *fp, const struct scan_summary *s,
		     const struct scan_targets *t);
void scan_summary_free(struct scan_summary *s);

/* --------------------------------------------------------------- run */

struct scan_params {
	struct scan_targets *targets;
	uint64_t shards, shard;
	uint64_t seed;
	uint16_t dport, sport_base;
	int flows;
	double rate;
	double router_rate;          /* TTL-limited probes a router a second
				      * (0: no limit) */
	double router_burst;
	double conf;
	int64_t wait_ns;
	int locate;
	struct addr src4, src6;      /* family 0: not used */
	const char *iface;
	FILE *out;                   /* NDJSON per target, or NULL */
	/* Skip these (from --resume), NULL for none. */
	const struct scan_targets *skip;
	int progress;
};

struct scan_engine;
/* Open the sockets (before privileges are dropped). 0 or an EX_* code
 * with a message in err. */
int scan_engine_open(struct scan_engine **se, const struct scan_params *p,
		     char *err, size_t errlen);
/* Scan every target of the shard; fills s. 0 or an EX_* code. */
int scan_engine_run(struct scan_engine *se, struct scan_summary *s,
		    char *err, size_t errlen);
void scan_engine_close(struct scan_engine *se);

#endif
