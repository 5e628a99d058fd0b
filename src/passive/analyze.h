/*
 * analyze: find the ECN failure signatures in captured TCP traffic.
 *
 * Fed IP packets one at a time (buffer at the IP header, capture time),
 * it follows each TCP connection from its first SYN (the SYN's sender is
 * the client) and records what the story's tcpdump showed: whether the
 * SYN asked for ECN, the SYN-ACK's TTL and flags, the ECN codepoint of the
 * client's data, an RST and its TTL, retransmissions and ACKs. Finished
 * connections are classified with connect's result names. Pure: no
 * printing, no I/O; finished connections go to a callback.
 */
#ifndef ECNTRACE_ANALYZE_H
#define ECNTRACE_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "an_servers.h"
#include "connect.h"
#include "pkt.h"

/* Results: enum conn_result, plus two of our own: connections that
 * never asked for ECN, and connections whose fault could not be told
 * because we stopped following them too early (evicted from a full table,
 * or still going when the capture ended): never a fault. */
#define AR_NOT_ECN CR_COUNT
#define AR_UNFINISHED (CR_COUNT + 1)
/* A connection that negotiated no ECN carried CE (or ECT) data: a router
 * marked Not-ECT packets, or something set the ECN field. No fault. */
#define AR_CE_ON_NOT_ECT (CR_COUNT + 2)
#define AR_ECT_ON_NOT_ECT (CR_COUNT + 3)
#define AR_COUNT (CR_COUNT + 4)
_Static_assert(AR_COUNT == AN_SERVER_RESULTS, "AN_SERVER_RESULTS");

/* What an AccECN SYN-ACK says of the SYN's codepoint on arrival, against
 * what the SYN was sent with. */
enum an_fwd {
	FWD_UNKNOWN = 0,             /* no AccECN SYN-ACK to tell */
	FWD_KEPT,                    /* arrived as sent */
	FWD_BLEACHED,                /* ECT sent, arrived Not-ECT */
	FWD_CE,                      /* arrived CE */
	FWD_MANGLED,                 /* arrived another codepoint */
};

/* Default and largest bound of the connection table. */
#define AN_TABLE_DEFAULT 65536
#define AN_TABLE_MAX (1u << 24)
/* A connection quiet this long (capture time) is finished: the client
 * gave up. */
#define AN_IDLE_NS (120 * 1000000000LL)
/* A closed connection (FIN both ways, or an RST after the SYN-ACK) keeps
 * its slot until quiet this long, for its last ACKs, unless the slot is
 * needed: the table is full, or AN_LINGER_MAX or more linger and it has
 * been quiet for AN_LINGER_MIN_NS (a last ACK comes within a round trip). */
#define AN_LINGER_NS (5 * 1000000000LL)
#define AN_LINGER_MAX 4096
#define AN_LINGER_MIN_NS (1 * 1000000000LL)

enum an_setup {
	SETUP_NONE = 0,              /* plain SYN */
	SETUP_CLASSIC,               /* RFC 3168: ECE+CWR */
	SETUP_ACCECN,                /* RFC 9768: AE+CWR+ECE */
};

/* The first SYN-ACK's TCP header, as much of it as the report shows. */
struct an_synack {
	uint16_t flags, window, mss;
	uint8_t wscale;
	uint8_t have_mss, have_wscale, sack_ok, have_ts;
};

/*
 * In the order the analyzer reads them. The table's slot puts 16 bytes
 * of its own before it, so the first 48 bytes (what matching reads) end
 * the slot's first cache line, and the next 64 (what a segment after the
 * handshake reads and writes) fill its second; what only a SYN, a
 * SYN-ACK, an RST, an ICMP error or the report reads comes after.
 */
struct an_conn {
	uint16_t sport, dport;       /* client's port, server's port */
	struct addr client, server;
	uint32_t snd_max;            /* highest sequence sent + 1 */

	/* Every segment. */
	int64_t t_last;              /* capture time, ns since the epoch */
	uint64_t packets;
	uint32_t client_ack;         /* ACK number of the client's latest
	                              * segment (with have_client_ack) */
	uint32_t data_seq, data_end; /* first data segment's sequence range */
	uint32_t acked;              /* highest ACK from the server */
	int data_segs, data_retx;
	int ece_acks;                /* server ACKs with ECE (classic) */
	int ect_marks, ce_marks;     /* see "Marks" below */
	uint8_t client_rst, client_fin, server_fin;
	uint8_t closed;              /* FIN both ways, or an RST after the SYN-ACK */
	uint8_t setup;               /* enum an_setup: what the first SYN asked */
	uint8_t have_synack, have_data, have_acked, have_client_ack;
	uint8_t data_ecn;            /* IP ECN field of the first data segment */
	uint8_t ect_data;            /* some client data was ECT or CE */
	uint8_t data_acked;          /* the first segment was acknowledged */

	uint8_t ce_seen;             /* a CE-marked data segment was captured */
	uint8_t retx_not_ect;        /* the first segment, ECT, resent Not-ECT */
	uint8_t acked_after_retx;    /* ... only after the Not-ECT resend */
	uint8_t accecn_ce;           /* server's ACE counter moved (AccECN) */
	int64_t t_first;             /* capture times, ns since the epoch */
	int64_t t_data;

	/* The handshake. */
	int64_t t_syn, t_synack;
	uint32_t client_isn, server_isn;
	int syns, ecn_syns;          /* SYNs sent, of them ECN-setup SYNs */
	int synacks;
	uint8_t syn_ecn;             /* IP ECN field of the first SYN */
	uint8_t fallback;            /* a plain SYN followed ECN-setup SYNs */
	uint8_t last_syn_plain;      /* the latest SYN asked for no ECN */
	uint8_t syn_rst;             /* an RST before any SYN-ACK */
	uint8_t syn_rst_to_plain;    /* ... and it answered a plain SYN */
	uint8_t synack_to_plain;     /* first SYN-ACK came after the fallback */
	uint8_t synack_ttl, synack_tos;
	uint16_t synack_ip_id;
	struct an_synack synack;     /* the first SYN-ACK's flags, window,
	                              * options */

	/* AccECN: the SYN's codepoint on arrival (an ECN_* value, or -1 000,
	 * -2 001 classic only, -3 111 broken), valid with have_synack; and
	 * what that says of the forward path (enum an_fwd). */
	int8_t syn_arrived;
	uint8_t fwd;

	/* Marks on a connection that negotiated no ECN (data segments of
	 * either side with ECT or CE): how many (ect_marks, ce_marks above),
	 * the first one's TTL and whether it came from the server. */
	uint8_t ect_mark_ttl, ce_mark_ttl;
	uint8_t ect_mark_from_server, ce_mark_from_server;

	/* The reset: the first one, or the first after the SYN-ACK if an
	 * earlier one answered a SYN. */
	uint8_t have_rst;
	uint8_t rst_post_synack;     /* it came after the SYN-ACK */
	uint8_t rst_ttl, rst_tos;
	uint16_t rst_flags, rst_ip_id;
	int rsts;
	int64_t t_rst;
	uint8_t rst_ts;              /* the RST carried a timestamp option */
	uint8_t rst_after_data;      /* client data outstanding, none acked */
	uint8_t rst_after_ect;       /* ... and that data was ECT */
	uint8_t rst_seq_is_ack;      /* RST's seq = the ACK of the client's
	                              * last segment: a host with no state */
	uint8_t timed_out;           /* finished by the idle timeout */
	uint8_t unfinished;          /* still open (and not idle) at the end */
	uint8_t fault;               /* the result is an ECN fault */
	uint8_t evicted;             /* pushed out of a full table */
	uint8_t server_full;         /* its server found no room in the
	                              * per-server table: no control */

	/* ICMP errors quoting one of its segments: the first one. */
	uint8_t icmp_type, icmp_code;
	uint8_t icmp_quoted_ecn;     /* the quoted packet's ECN field */
	uint8_t icmp_to_client;      /* it quoted a client segment */
	uint16_t icmp_quoted_flags;  /* its TCP flags, 0 if not quoted */
	int icmp_errors;
	struct addr icmp_from;

	int result;                  /* enum conn_result or AR_NOT_ECN */
	int would_be;                /* for AR_UNFINISHED: the result it had */
};

/* Called once per connection when it is finished: replaced by a new
 * connection on the same ports, evicted, or at analyzer_finish(). */
typedef void (*an_done_cb)(void *ctx, const struct an_conn *c);

struct an_slot;

struct analyzer {
	size_t cap;                  /* connection table bound */
	struct an_slot *slots;       /* cap of them, then the heads of the
	                              * lists of open and of closed ones
	                              * (most recently active first) */
	int32_t *bucket;             /* hash index into slots, -1 = empty */
	int32_t *chain;              /* per slot: the next in its bucket, -1;
	                              * apart from the slots, so that
	                              * finishing one walks its chain without
	                              * reading the others */
	size_t nbuckets, nbuckets_max;
	int32_t free_head;
	size_t fresh;                /* slots below this have been used: the
	                              * table's memory is touched as it fills */
	uint64_t key[2];             /* hash key, random per analyzer */
#define AN_TUPLE_KEYS 14
	uint64_t tuple_key[AN_TUPLE_KEYS]; /* the per-packet hash's keys,
	                              * drawn from key at the first packet */
	int64_t t_now;               /* latest capture time seen */
	int64_t idle_ns, linger_ns;  /* AN_IDLE_NS, AN_LINGER_NS */
	int64_t quiet_until;         /* no connection is due to expire before
	                              * this capture time ... */
	int time_back;               /* ... unless a packet's time went back */
	size_t active;
	size_t lingering;            /* of them closed (on the closed list) */
	uint64_t seq;                /* creation order */
	struct an_servers servers;   /* per server:port: hints, control */
	an_done_cb done;
	void *ctx;
	/* counters */
	uint64_t packets;            /* everything fed in */
	uint64_t skipped;            /* malformed or truncated in a header */
	uint64_t snapped;            /* cut by the snap length, headers whole */
	uint64_t not_tcp;            /* IP but not TCP (or a later fragment) */
	uint64_t untracked;          /* TCP of connections whose SYN we missed */
	uint64_t icmp_matched;       /* ICMP errors quoting a tracked connection */
	uint64_t connections, ecn_connections, faults, evicted;
	uint64_t timed_out;          /* finished by the idle timeout */
	uint64_t unfinished;         /* still open and active at the end */
	uint64_t reset_plain_too;    /* reset-* results that are no fault:
	                              * plain connections to the server were
	                              * reset after data as often */
	uint64_t server_full;        /* connections whose server found no
	                              * room in the per-server table (more
	                              * than AN_SERVERS_MAX servers) */
	uint64_t counts[AR_COUNT];
	/* analyzer_feed(): the packet taken, not yet followed (the other
	 * one of the two is the packet being taken). */
	int keyed;                   /* tuple_key drawn */
	uint64_t npending;           /* packets fed since the last flush */
	struct an_pending {
		int64_t ts;
		uint32_t h;          /* tuple_hash, for TCP */
		int rc;              /* parse: 0, 1 cut, -1 malformed */
		size_t missing;      /* payload bytes the snap length cut */
		struct pkt_reply r;  /* what a segment fills is at its head */
	} pending[2];
};

/* cap: most connections followed at once (0: AN_TABLE_DEFAULT, at most
 * AN_TABLE_MAX). done may be NULL. The hash key comes from getrandom(2)
 * (a crafted capture cannot aim its connections at one chain); set
 * a->key after init to fix it (before the first packet). Returns 0, or -1 if out of memory. */
int analyzer_init(struct analyzer *a, size_t cap, an_done_cb done, void *ctx);
/*
 * One packet: buf starts at the IP header, len bytes captured of
 * wire_len (wire_len > len when the snap length cut it; pass len if
 * unknown). ts_ns: capture time. Returns 0 if used, 1 if ignored (not
 * TCP, or not part of a connection we follow), -1 if skipped as malformed.
 */
int analyzer_packet(struct analyzer *a, const uint8_t *buf, size_t len,
		    size_t wire_len, int64_t ts_ns);
/*
 * analyzer_packet() one packet behind, for a reader of a whole capture:
 * this packet is parsed and its connection asked of the cache, then the
 * one before is followed, while the cache fetches. The same results once
 * analyzer_flush() (or analyzer_finish(), or analyzer_packet()) has
 * followed the last one.
 */
void analyzer_feed(struct analyzer *a, const uint8_t *buf, size_t len,
		   size_t wire_len, int64_t ts_ns);
void analyzer_flush(struct analyzer *a);
/*
 * The same in two halves, for a reader on another thread (an_pipe.c):
 * analyzer_take() parses a packet into *p and hashes it with the keys
 * that analyzer_keys() drew into a->tuple_key (or a copy of them: the
 * follower writes the analyzer's other members); analyzer_follow() then
 * follows n packets taken, in order. The same results as
 * analyzer_packet() on each.
 */
void analyzer_keys(struct analyzer *a);
void analyzer_take(const uint64_t *key, const uint8_t *buf, size_t len,
		   size_t wire_len, int64_t ts_ns, struct an_pending *p);
void analyzer_follow(struct analyzer *a, struct an_pending *p, size_t n);
/* Classify every connection still open, in the order they started, and
 * hand each to the callback. One not closed and active within the idle
 * timeout of the last packet is unfinished: it counts no fault. */
void analyzer_finish(struct analyzer *a);
void analyzer_free(struct analyzer *a);

/* Classify one connection from what it saw. Pure. The two hints say what
 * other connections to the same server and port saw: plain SYNs answered
 * with a SYN-ACK, plain SYNs reset. */
int an_classify(const struct an_conn *c, int dst_plain_synack,
		int dst_plain_reset);
/*
 * The control for a reset after ECT data: plain connections to the same
 * server and port, in the whole capture. Valid after analyzer_finish().
 */
enum an_verdict {
	CTL_NO_PLAIN = 0,            /* no plain connection sent data: the
	                              * reset stands as a fault, uncompared */
	CTL_ECN_ONLY,                /* plain ones were reset less than half as
	                              * often: an ECN fault */
	CTL_PLAIN_TOO,               /* plain ones were reset about as often:
	                              * not about ECN, no fault */
	CTL_NO_ROOM,                 /* the server found no room in the
	                              * per-server table: uncompared */
};
struct an_ctl {
	uint32_t plain_data, plain_reset;   /* plain connections with data,
	                                     * of them reset before an ACK */
	uint32_t ecn_data, ecn_reset;       /* the same for ECN connections */
	enum an_verdict verdict;
};
/* Fill *out for c's server and port; returns out->verdict. */
enum an_verdict an_control(const struct analyzer *a, const struct an_conn *c,
			   struct an_ctl *out);
/* "no-plain", "ecn-only", "plain-too", "no-room". */
const char *an_verdict_name(enum an_verdict v);
/* The same for one server's entry. */
enum an_verdict an_dst_control(const struct an_dst *d, struct an_ctl *out);

/*
 * What one server's connections say, after analyzer_finish(): the
 * largest kind of fault among them (resets win a tie, then refused SYNs),
 * or why there is none.
 */
enum an_finding {
	SF_NO_ECN = 0,               /* no connection asked for ECN */
	SF_OK,                       /* ECN connections, no fault */
	SF_RESET,                    /* ECN connections reset after their data
	                              * (see the control for how compared) */
	SF_RESET_PLAIN_TOO,          /* ... but plain ones as often: no fault */
	SF_SYN,                      /* ECN-setup SYNs reset or dropped */
	SF_DATA_LOST,                /* ECT data lost or never acknowledged */
};
enum an_finding an_server_finding(const struct an_dst *d);
/* "no-ecn", "ok", "ecn-reset", "reset-plain-too", "ecn-syn-refused",
 * "ect-data-lost". */
const char *an_finding_name(enum an_finding f);
/* The server's distinct hop counts in bits (synack_hops, rst_hops): the
 * count of them, and the first max of them in out, ascending. */
int an_hops(const uint64_t bits[4], int *out, int max);

/* The keyed hashes: SipHash-2-4 (per server, and its test), and
 * SipHash-1-3 (the connection table's multilinear keys, drawn from
 * key). */
uint64_t an_siphash(const uint64_t key[2], const void *data, size_t len);
uint64_t an_siphash13(const uint64_t key[2], const void *data, size_t len);
/* Does this result say ECN broke (or harmed) the connection? */
int an_is_fault(int result);
/* conn_result_name(), "not-ecn" and "unfinished". */
const char *an_result_name(int result);
/* "unknown", "kept", "bleached", "ce", "mangled". */
const char *an_fwd_name(enum an_fwd f);
/* "none", "classic", "accecn". */
const char *an_setup_name(enum an_setup s);

#endif
