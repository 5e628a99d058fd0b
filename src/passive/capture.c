/* capture: libpcap files and live interfaces, link headers removed. */
#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "capture.h"

#define LIVE_SNAPLEN 512             /* headers; payload lengths come from
				      * the IP header */
#define MAX_TAGS 4                   /* VLAN tags, MPLS labels walked */
#define FILE_BUF (1 << 16)           /* stdio buffer of a file or stream:
				      * libpcap freads each record, and
				      * the default (st_blksize, 4 KiB)
				      * costs a read(2) every 40 packets;
				      * 1 MiB was no faster (out of L2) */

struct capture {
	pcap_t *p;
	int dlt;
	int live;
	int fd;                      /* live: selectable descriptor */
	int nano;                    /* timestamps in ns, not us */
	uint64_t frames, not_ip, bad_link, dups;
	struct cap_dedup *dedup;     /* SLL and SLL2 only (98 KiB: not
	                              * cleared for captures without it) */
	char *iobuf;                 /* FILE_BUF for the FILE libpcap reads */
	char name[128];
};

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

int capture_dlt_ok(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
	case DLT_RAW: case DLT_IPV4: case DLT_IPV6: case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

/*
 * From an EtherType at b[off - 2]: walk VLAN tags (802.1Q, 802.1ad, the
 * old 0x9100), MPLS labels and a PPPoE session header to IPv4 or IPv6.
 */
static int ethertype_ip(const uint8_t *b, size_t n, size_t off, size_t *ip)
{
	uint16_t type = get16(b + off - 2);

	for (int i = 0; i <= MAX_TAGS; i++) {
		switch (type) {
		case 0x0800:
		case 0x86dd:
			*ip = off;
			return 0;
		case 0x8100: case 0x88a8: case 0x9100:
			if (n - off < 4)
				return -1;
			type = get16(b + off + 2);
			off += 4;
			break;
		case 0x8847:         /* MPLS unicast: labels to bottom of stack */
			for (int k = 0;; k++) {
				if (n - off < 4 || k == 8)
					return -1;
				off += 4;
				if (b[off - 2] & 1)
					break;
			}
			if (n - off < 1)
				return -1;
			if (b[off] >> 4 != 4 && b[off] >> 4 != 6)
				return 1;
			*ip = off;
			return 0;
		case 0x8864:         /* PPPoE session, then a PPP protocol */
			if (n - off < 8)
				return -1;
			type = get16(b + off + 6);
			off += 8;
			if (type == 0x0021 || type == 0x0057) {
				*ip = off;
				return 0;
			}
			return 1;
		default:
			return 1;
		}
	}
	return 1;                    /* more tags than any real frame */
}

int capture_link_ip(int dlt, const uint8_t *f, size_t n, size_t *off)
{
	uint32_t fam;

	switch (dlt) {
	case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
		*off = 0;
		return 0;
	case DLT_EN10MB:
		if (n < 14)
			return -1;
		return ethertype_ip(f, n, 14, off);
	case DLT_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8 address
		 * bytes, protocol. */
		if (n < 16)
			return -1;
		return ethertype_ip(f, n, 16, off);
	case DLT_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD type, packet type,
		 * address length, 8 address bytes. */
		if (n < 20)
			return -1;
		if (get16(f) != 0x0800 && get16(f) != 0x86dd)
			return 1;
		*off = 20;
		return 0;
	case DLT_NULL: case DLT_LOOP:
		/* The address family, in the writer's byte order (DLT_NULL)
		 * or network order (DLT_LOOP): read it either way. */
		if (n < 4)
			return -1;
		fam = (uint32_t)f[0] | (uint32_t)f[1] << 8 |
		      (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24;
		if (fam > 0xffff)
			fam = __builtin_bswap32(fam);
		/* AF_INET; AF_INET6 of Linux, NetBSD/OpenBSD, FreeBSD,
		 * Darwin. */
		if (fam != 2 && fam != 10 && fam != 24 && fam != 28 && fam != 30)
			return 1;
		*off = 4;
		return 0;
	default:
		return 1;
	}
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

int capture_dedup(struct cap_dedup *d, const uint8_t *ip, size_t len,
		  int ifindex, int pkttype, int64_t ts)
{
	size_t hl, plen;
	uint64_t fp;
	const uint8_t *t;

	if (len < 20)
		return 0;
	if (ip[0] >> 4 == 4) {
		hl = (size_t)(ip[0] & 15) * 4;
		if (hl < 20 || len < hl + 14 || ip[9] != 6 ||
		    (get16(ip + 6) & 0x3fff) != 0)
			return 0;
		plen = get16(ip + 2);
		fp = mix(4, (uint64_t)get16(ip + 4) << 32 | plen);
	} else if (ip[0] >> 4 == 6) {
		hl = 40;
		if (len < hl + 14 || ip[6] != 6)
			return 0;
		plen = get16(ip + 4) + 40u;
		fp = mix(6, plen);
	} else {
		return 0;
	}
	t = ip + hl;
	fp = mix(fp, (uint64_t)get32(t + 4) << 32 | get32(t + 8));
	fp = mix(fp, t[12] & 0xf0);
	fp = mix(fp, (uint64_t)(get16(t + 12) & 0x1ff));
	{
		size_t k = fp & (CAP_DUP_SLOTS - 1);
		int same_place;

		same_place = ifindex >= 0 && d->e[k].ifindex >= 0
			? d->e[k].ifindex == ifindex
			: (d->e[k].pkttype == 4) == (pkttype == 4);
		if (d->e[k].used && d->e[k].fp == fp && ts >= d->e[k].ts &&
		    ts - d->e[k].ts <= CAP_DUP_NS && !same_place)
			return 1;
		d->e[k].used = 1;
		d->e[k].fp = fp;
		d->e[k].ts = ts;
		d->e[k].ifindex = ifindex;
		d->e[k].pkttype = (int16_t)pkttype;
	}
	return 0;
}

/* The duplicate filter, for the link types that name the interface or
 * direction (set c->dlt first). Returns 0, or -1 out of memory. */
static int cap_dedup_init(struct capture *c)
{
	if (c->dlt != DLT_LINUX_SLL && c->dlt != DLT_LINUX_SLL2)
		return 0;
	c->dedup = calloc(1, sizeof(*c->dedup));
	return c->dedup != NULL ? 0 : -1;
}

static struct capture *cap_new(const char *name)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->fd = -1;
	}
	return c;
}

int capture_open_stream(struct capture **cp, FILE *f, const char *name,
			char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = cap_new(name);

	*cp = NULL;
	if (c == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	/* Before the first read; without memory stdio keeps its own. */
	c->iobuf = malloc(FILE_BUF);
	if (c->iobuf != NULL && setvbuf(f, c->iobuf, _IOFBF, FILE_BUF) != 0) {
		free(c->iobuf);
		c->iobuf = NULL;
	}
	/* One thread reads it (an_pipe.c's reader, or the only one): stdio
	 * need not lock it around each of libpcap's two freads a packet,
	 * which it does once the process has a second thread. */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	c->p = pcap_fopen_offline_with_tstamp_precision(f,
			PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (c->p == NULL) {
		fclose(f);
		free(c->iobuf);
		free(c);
		/* libpcap's reason ends without a period; keep one line. */
		ebuf[strcspn(ebuf, "\n")] = '\0';
		snprintf(err, errlen, "%s: not a pcap or pcapng capture (%s)",
			 name, ebuf);
		return EX_DATAERR;
	}
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	c->dlt = pcap_datalink(c->p);
	if (!capture_dlt_ok(c->dlt)) {
		const char *dn = pcap_datalink_val_to_name(c->dlt);

		snprintf(err, errlen, "%s: link type %s (%d) is not supported",
			 name, dn ? dn : "unknown", c->dlt);
		capture_close(c);
		return EX_DATAERR;
	}
	if (cap_dedup_init(c) < 0) {
		snprintf(err, errlen, "out of memory");
		capture_close(c);
		return EX_OSERR;
	}
	*cp = c;
	return 0;
}

int capture_open_file(struct capture **cp, const char *path, char *err,
		      size_t errlen)
{
	struct stat st;
	FILE *f;

	*cp = NULL;
	if (!strcmp(path, "-"))
		return capture_open_stream(cp, stdin, "standard input", err,
					   errlen);
	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return EX_NOINPUT;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		snprintf(err, errlen, "%s: is a directory", path);
		return EX_NOINPUT;
	}
	return capture_open_stream(cp, f, path, err, errlen);
}

int capture_open_live(struct capture **cp, const char *iface, char *err,
		      size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	struct capture *c;
	const char *dev = iface ? iface : "any";
	int rc;

	*cp = NULL;
	c = cap_new(dev);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	c->live = 1;
	c->p = pcap_create(dev, ebuf);
	if (c->p == NULL) {
		snprintf(err, errlen, "capture on %s: %s", dev, ebuf);
		free(c);
		return EX_OSERR;
	}
	if (pcap_set_snaplen(c->p, LIVE_SNAPLEN) != 0 ||
	    pcap_set_promisc(c->p, 0) != 0 ||
	    pcap_set_immediate_mode(c->p, 1) != 0) {
		snprintf(err, errlen, "capture on %s: %s", dev,
			 pcap_geterr(c->p));
		capture_close(c);
		return EX_OSERR;
	}
	/* Nanoseconds if the platform has them; microseconds do too. */
	(void)pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(c->p);
	if (rc < 0) {
		switch (rc) {
		case PCAP_ERROR_PERM_DENIED:
			snprintf(err, errlen, "capture on %s: permission denied "
				 "(run as root or grant CAP_NET_RAW)", dev);
			rc = EX_NOPERM;
			break;
		case PCAP_ERROR_NO_SUCH_DEVICE:
			snprintf(err, errlen, "interface %s: no such device", dev);
			rc = EX_UNAVAILABLE;
			break;
		case PCAP_ERROR_IFACE_NOT_UP:
			snprintf(err, errlen, "interface %s is down", dev);
			rc = EX_UNAVAILABLE;
			break;
		default:
			snprintf(err, errlen, "capture on %s: %s", dev,
				 pcap_geterr(c->p));
			rc = EX_OSERR;
			break;
		}
		err[strcspn(err, "\n")] = '\0';
		capture_close(c);
		return rc;
	}
	c->nano = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	/* On "any", SLL2 names the interface of each packet: what tells a
	 * forwarded packet's two copies apart from a retransmission. */
	if (pcap_datalink(c->p) == DLT_LINUX_SLL)
		(void)pcap_set_datalink(c->p, DLT_LINUX_SLL2);
	c->dlt = pcap_datalink(c->p);
	if (!capture_dlt_ok(c->dlt)) {
		const char *dn = pcap_datalink_val_to_name(c->dlt);

		snprintf(err, errlen, "interface %s: link type %s (%d) is not "
			 "supported", dev, dn ? dn : "unknown", c->dlt);
		capture_close(c);
		return EX_UNAVAILABLE;
	}
	if (cap_dedup_init(c) < 0) {
		snprintf(err, errlen, "out of memory");
		capture_close(c);
		return EX_OSERR;
	}
	if (pcap_compile(c->p, &prog, "tcp", 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "capture on %s: filter: %s", dev,
			 pcap_geterr(c->p));
		capture_close(c);
		return EX_OSERR;
	}
	rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc < 0 || pcap_setnonblock(c->p, 1, ebuf) < 0 ||
	    (c->fd = pcap_get_selectable_fd(c->p)) < 0) {
		snprintf(err, errlen, "capture on %s: %s", dev,
			 rc < 0 ? pcap_geterr(c->p) : ebuf[0] ? ebuf
			 : "no selectable descriptor");
		capture_close(c);
		return EX_OSERR;
	}
	*cp = c;
	return 0;
}

/* A file's time stamp in nanoseconds. pcapng carries 64-bit stamps of
 * any resolution, so a crafted file can name any second: clamp to what
 * int64_t nanoseconds hold (up to the year 2262). */
static int64_t ts_ns(int64_t sec, int64_t frac, int nano)
{
	const int64_t max_sec = INT64_MAX / 1000000000 - 1;

	if (sec < 0)
		sec = 0;
	if (sec > max_sec)
		sec = max_sec;
	if (frac < 0 || frac > 999999999)
		frac = 0;
	return sec * 1000000000 + (nano ? frac : frac % 1000000 * 1000);
}

/* Nothing yet on a live capture: wait once for at most timeout_ns (a
 * signal cuts the wait short). Returns whether to read again. */
static int live_wait(struct capture *c, int64_t timeout_ns, int *polled)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int ms;

	if (!c->live || *polled || timeout_ns <= 0)
		return 0;
	ms = (int)((timeout_ns + 999999) / 1000000);
	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	*polled = 1;
	return 1;
}

/* The IP packet's offset in frame f of n bytes: Ethernet with IPv4 or
 * IPv6 read here, the rest by capture_link_ip. */
static inline int link_ip(int dlt, const uint8_t *f, size_t n, size_t *off)
{
	if (dlt == DLT_EN10MB && n >= 14 && (get16(f + 12) == 0x0800 ||
					     get16(f + 12) == 0x86dd)) {
		*off = 14;
		return 0;
	}
	return capture_link_ip(dlt, f, n, off);
}

/* A duplicate on Linux 'any' (SLL, SLL2): the other copy was counted. */
static int link_dup(const struct capture *c, const u_char *data,
		    const struct cap_pkt *p)
{
	if (c->dlt == DLT_LINUX_SLL2)
		return capture_dedup(c->dedup, p->ip, p->len,
				     (int)(get32(data + 4) & 0x7fffffff),
				     data[10], p->ts_ns);
	return capture_dedup(c->dedup, p->ip, p->len, -1, get16(data),
			     p->ts_ns);
}

/* One frame read: 1 with *p filled, 0 if passed over (not IP, cut in
 * its link header, or the second copy of a packet on 'any'). */
static inline __attribute__((always_inline)) int
frame(struct capture *c, const struct pcap_pkthdr *h, const u_char *data,
      struct cap_pkt *p)
{
	size_t off;
	int rc;

	c->frames++;
	rc = link_ip(c->dlt, data, h->caplen, &off);
	if (rc != 0) {
		if (rc < 0)
			c->bad_link++;
		else
			c->not_ip++;
		return 0;
	}
	p->ip = data + off;
	p->len = h->caplen - off;
	p->wire_len = h->len > h->caplen ? h->len - off : p->len;
	p->ts_ns = ts_ns(h->ts.tv_sec, h->ts.tv_usec, c->nano);
	if ((c->dlt == DLT_LINUX_SLL2 || c->dlt == DLT_LINUX_SLL) &&
	    link_dup(c, data, p)) {
		c->dups++;
		return 0;
	}
	return 1;
}

static void read_error(const struct capture *c, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", c->name, pcap_geterr(c->p));
	err[strcspn(err, "\n")] = '\0';
}

int capture_next(struct capture *c, struct cap_pkt *p, int64_t timeout_ns,
		 char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int polled = 0;

	for (;;) {
		int rc = pcap_next_ex(c->p, &h, &data);

		if (rc == PCAP_ERROR_BREAK)
			return -2;
		if (rc < 0) {
			read_error(c, err, errlen);
			return -1;
		}
		if (rc == 0) {
			/* Only a live capture gets here: nothing yet. */
			if (!live_wait(c, timeout_ns, &polled))
				return 0;
			continue;
		}
		if (frame(c, h, data, p))
			return 1;
	}
}

struct each {
	struct capture *c;
	cap_each_fn fn;
	void *ctx;
};

static void each_frame(u_char *user, const struct pcap_pkthdr *h,
		       const u_char *data)
{
	struct each *e = (struct each *)(void *)user;
	struct cap_pkt p;

	if (frame(e->c, h, data, &p))
		e->fn(e->ctx, &p);
}

int capture_each(struct capture *c, cap_each_fn fn, void *ctx, char *err,
		 size_t errlen)
{
	struct each e = { c, fn, ctx };
	int n;

	/* pcap_dispatch reads a file to its end (the count), then 0. */
	while ((n = pcap_dispatch(c->p, -1, each_frame, (u_char *)&e)) > 0)
		;
	if (n == 0)
		return 0;
	if (n == PCAP_ERROR_BREAK)
		return -2;
	read_error(c, err, errlen);
	return -1;
}

void capture_counts(const struct capture *c, uint64_t *frames,
		    uint64_t *not_ip, uint64_t *bad_link)
{
	*frames = c->frames;
	*not_ip = c->not_ip;
	*bad_link = c->bad_link;
}

uint64_t capture_duplicates(const struct capture *c)
{
	return c->dups;
}

uint64_t capture_drops(struct capture *c)
{
	struct pcap_stat st;

	if (!c->live || pcap_stats(c->p, &st) < 0)
		return 0;
	return st.ps_drop;
}

int capture_datalink(const struct capture *c)
{
	return c->dlt;
}

const char *capture_link_name(const struct capture *c)
{
	const char *n = pcap_datalink_val_to_name(c->dlt);

	return n ? n : "unknown";
}

void capture_close(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->p != NULL)
		pcap_close(c->p);        /* closes the FILE: then its buffer */
	free(c->iobuf);
	free(c->dedup);
	free(c);
}
