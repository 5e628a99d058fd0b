/*
 * capture: IP packets out of a pcap file or a live interface, whatever
 * the link layer. Link headers are taken apart by capture_link_ip(), a
 * pure function; the rest is libpcap.
 */
#ifndef ECNTRACE_CAPTURE_H
#define ECNTRACE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct capture;

/* One packet, at its IP header. */
struct cap_pkt {
	const uint8_t *ip;           /* valid until the next capture_next() */
	size_t len;                  /* bytes captured from the IP header on */
	size_t wire_len;             /* bytes on the wire from the IP header on */
	int64_t ts_ns;               /* capture time, ns since the epoch */
};

/*
 * The same packet seen twice on Linux's "any" (a forwarded packet: in on
 * one interface, out on another; a bridge and its port): the second copy
 * within CAP_DUP_NS of the first, on another interface (SLL2's ifindex)
 * or in the other direction (SLL's packet type, one of them OUTGOING),
 * with the same TCP sequence and acknowledgement numbers, flags and length
 * and, for IPv4, the same IP ID. TTL, checksum, ECN field, addresses and
 * ports may differ (a router, NAT). A retransmission on the same
 * interface is no duplicate.
 */
#define CAP_DUP_NS 20000000LL        /* 20 ms */
#define CAP_DUP_SLOTS 4096
struct cap_dedup {
	struct {
		uint64_t fp;
		int64_t ts;
		int32_t ifindex;         /* -1 unknown */
		int16_t pkttype;
		uint8_t used;
	} e[CAP_DUP_SLOTS];
};
/* Is this IP packet (TCP) a copy of one just seen? Remembers it if not.
 * ifindex -1 when the link header has none; pkttype the SLL packet type
 * (4 OUTGOING). Pure but for *d. */
int capture_dedup(struct cap_dedup *d, const uint8_t *ip, size_t len,
		  int ifindex, int pkttype, int64_t ts_ns);

/*
 * Where the IP header starts in a frame of link type dlt (DLT_*).
 * Returns 0 and sets *off; 1 if the frame carries something other than
 * IP (ARP, ...); -1 if it is too short for its link header.
 */
int capture_link_ip(int dlt, const uint8_t *frame, size_t caplen,
		    size_t *off);
/* Is this link type one we read? */
int capture_dlt_ok(int dlt);

/*
 * Open a capture file ("-" is standard input). Returns 0, EX_NOINPUT if
 * it cannot be opened, EX_DATAERR if it is not a capture we read; a
 * one-line message goes into err.
 */
int capture_open_file(struct capture **c, const char *path, char *err,
		      size_t errlen);
/* The same on an open stream (taken over: capture_close closes it, also
 * on failure). */
int capture_open_stream(struct capture **c, FILE *f, const char *name,
			char *err, size_t errlen);
/*
 * Capture TCP live on iface (NULL or "any": every interface), in
 * immediate mode. Returns 0, EX_NOPERM without CAP_NET_RAW,
 * EX_UNAVAILABLE if the interface does not exist, EX_OSERR otherwise.
 */
int capture_open_live(struct capture **c, const char *iface, char *err,
		      size_t errlen);
/*
 * The next IP packet. Returns 1 with *p filled; 0 if a live capture has
 * nothing within timeout_ns (or a signal came); -2 at the end of a file;
 * -1 on a read error (message in err: e.g. a file cut short). Frames that
 * are not IP are passed over and counted, as are frames too short for
 * their link header.
 */
int capture_next(struct capture *c, struct cap_pkt *p, int64_t timeout_ns,
		 char *err, size_t errlen);
/*
 * Every IP packet of a file (or stream) to fn, as capture_next would
 * return them, through one pcap_dispatch loop: no call per packet
 * back to the caller's loop. p is valid during the call. Returns 0 at
 * the end, -1 on a read error (message in err; the packets before it
 * were handed over), -2 if pcap_breakloop stopped it.
 */
typedef void (*cap_each_fn)(void *ctx, const struct cap_pkt *p);
int capture_each(struct capture *c, cap_each_fn fn, void *ctx, char *err,
		 size_t errlen);
/* Frames read, frames that were not IP, frames cut inside the link
 * header. */
void capture_counts(const struct capture *c, uint64_t *frames,
		    uint64_t *not_ip, uint64_t *bad_link);
/* Frames passed over as copies of one just seen (capture_dedup(), for
 * Linux cooked captures: SLL, SLL2). */
uint64_t capture_duplicates(const struct capture *c);
/* Drops reported by the kernel for a live capture (0 for a file). */
uint64_t capture_drops(struct capture *c);
int capture_datalink(const struct capture *c);
/* libpcap's name of the link type ("EN10MB", "LINUX_SLL2", ...). */
const char *capture_link_name(const struct capture *c);
void capture_close(struct capture *c);

#endif
