/*
 * Probe engine: raw sockets, an event loop that paces probes and sleeps
 * until the earliest deadline, and matching of replies to the probes that
 * caused them by the flow identifiers and a per-probe token (never by
 * arrival order). The engine never prints; measurements read the results
 * out of their probe arrays.
 */
#ifndef ECNTRACE_ENGINE_H
#define ECNTRACE_ENGINE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "pkt.h"

struct pcap_writer;

/*
 * The receive buffer: the largest IP packet a length field can describe
 * (IPv6: 40 + 65535 bytes), with room to spare. GRO hands a packet socket
 * merged segments up to 64 KiB; anything longer (BIG TCP) is cut, counted
 * and parsed as far as its headers go.
 */
#define ENGINE_RXBUF (65536 + 1024)

struct engine {
	int family;
	int send_fd;                 /* raw, header included */
	int recv_fd;                 /* AF_PACKET, SOCK_DGRAM, filtered */
	int64_t mono_minus_real;     /* to convert kernel stamps, ns */
	struct pcap_writer *pcap;    /* every probe and reply, or NULL */
	uint64_t sent, received;     /* probes sent, packets received */
	uint64_t resets;             /* RSTs closing SYN-ACKed probes */
	uint64_t truncated;          /* packets longer than the receive
				      * buffer (kept cut, never parsed as
				      * whole) */
	uint8_t *rxbuf;              /* ENGINE_RXBUF bytes, owned */
	size_t rxcap;
	/* Random per engine (getrandom(2)) at engine_open: measurements
	 * number their probes' tokens from here, so nobody off the path can
	 * guess one (not from the pid, the ports or the time). */
	uint32_t token_base;
};

enum probe_state {
	PROBE_UNSENT = 0,
	PROBE_SENT,
	PROBE_ANSWERED,
	PROBE_TIMEOUT,
	PROBE_CANCELLED,
};

/* One probe and, once matched, its reply. */
struct probe {
	struct probe_desc d;         /* what to send */
	uint8_t payload[600];        /* d.payload points here when used */
	enum probe_state state;
	int64_t sent_ns;             /* CLOCK_MONOTONIC */
	int64_t recv_ns;             /* kernel stamp, same clock */
	int64_t timeout_ns;          /* per probe; 0 = the run's default */
	struct pkt_reply reply;
	int user;                    /* free for the measurement (e.g. hop) */
};

/*
 * Called for each probe that got its answer, in arrival order. A
 * measurement may cancel probes not yet sent (state = PROBE_CANCELLED),
 * e.g. beyond the hop where the destination answered.
 */
typedef void (*probe_cb)(void *ctx, struct probe *probes, size_t n,
			 size_t answered);

struct run_opts {
	double rate;                 /* probes per second, > 0 */
	int64_t timeout_ns;          /* default per-probe wait */
	probe_cb on_reply;
	void *ctx;
	/* Called once a second or so while a run lasts; may be NULL. */
	void (*on_tick)(void *ctx, size_t done, size_t total);
};

/*
 * Open the sockets for one address family. iface may be NULL. On error
 * returns an EX_* code and writes a one-line message into err.
 */
int engine_open(struct engine *e, int family, const char *iface,
		char *err, size_t errlen);

/*
 * What engine_open does before any socket: zero *e, no sockets, the
 * receive buffer allocated and a new random token_base. 0, or -1 with
 * errno (no memory, no randomness). Exposed for unit tests.
 */
int engine_init(struct engine *e, int family);
void engine_close(struct engine *e);

/* Send one packet built from d now; fills *sent_ns. 0 or -1 (errno). */
int engine_send(struct engine *e, const struct probe_desc *d,
		int64_t *sent_ns);

/*
 * Wait up to timeout_ns for one packet, received into the engine's own
 * buffer; on success points *pkt at it (valid until the next receive),
 * sets *len to the bytes kept, *wire to the packet's real length (more
 * than *len if it was cut; e->truncated counts those) and the kernel's
 * receive time. Returns 1 for a packet, 0 for timeout, -1 on error.
 * Outgoing copies are skipped.
 */
int engine_recv(struct engine *e, const uint8_t **pkt, size_t *len,
		size_t *wire, int64_t *recv_ns, int64_t timeout_ns);

/*
 * engine_recv and pkt_parse_cut: 1 for a packet parsed into *r (a cut one
 * has r->truncated set), 0 for a timeout or a packet that does not parse,
 * -1 on error.
 */
int engine_recv_reply(struct engine *e, struct pkt_reply *r,
		      int64_t *recv_ns, int64_t timeout_ns);

/*
 * Send every unsent probe under the pacing rate, collect replies until
 * each probe is answered, timed out or cancelled. Returns 0 or an EX_*
 * code (with a message in err).
 */
int engine_run(struct engine *e, struct probe *probes, size_t n,
	       const struct run_opts *o, char *err, size_t errlen);

/*
 * Which probe does this reply answer? Compares the flow (addresses,
 * protocol, ports or ICMP id) and the per-probe token (TCP sequence
 * number, ICMP sequence number, IPv4 ID / IPv6 payload length for UDP)
 * from the quote or from the reply itself. Returns the index or -1.
 * Pure: exposed for unit tests.
 */
long probe_match(const struct probe *probes, size_t n,
		 const struct pkt_reply *r);

int64_t now_ns(void);                /* CLOCK_MONOTONIC */

/* Milliseconds from one time to a later one, never below zero: receive
 * times are kernel stamps moved to our clock by an offset measured once,
 * and at lab distances its rounding can exceed the interval. */
double elapsed_ms(int64_t from_ns, int64_t to_ns);

/* Set by a SIGINT/SIGTERM handler: runs stop at the next wake-up. */
extern volatile sig_atomic_t engine_stop;
/* Install that handler for SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE and
 * SIGALRM (no SA_RESTART, so a wait is cut short). */
void engine_catch_signals(void);
/* Stop the run (as SIGALRM) after ns nanoseconds of wall time; 0: never. */
void engine_deadline(int64_t ns);
/* Why engine_stop was set, in words. */
const char *engine_stop_reason(void);

#endif
