/*
 * scan engine: stateless probes at rate. Targets are taken in a keyed
 * permutation of the shard's positions; each active target has a slot
 * (found from a reply's address by a hash table, never by a scan); its
 * rounds are timers in a FIFO (every round waits the same time, so the
 * queue is sorted as it is filled); probes leave in sendmmsg batches
 * under a token bucket on CLOCK_MONOTONIC; replies are read in place from
 * a TPACKET_V3 ring (recvmmsg where the kernel has none) of a packet
 * socket whose BPF filter passes only our ports and ICMP errors, and
 * prove themselves by their cookie (scan_cookie.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "scan.h"
#include "scan_paths.h"

#define BATCH 64
#define PKTBUF 128
#define RXBUF 2048
#define RING (1u << 17)

enum txkind { TX_PLAIN, TX_ECNSETUP, TX_RST };

struct txent {
	struct addr dst;
	uint32_t seq;                /* RST: its sequence number */
	uint16_t sport;
	uint8_t ttl, ecn, kind, tag;
	uint16_t tagv;
};

struct slot {
	uint64_t idx;
	struct addr dst;
	int used;
	int round;
	int retried;
	int waited;                  /* deferrals for a budget */
	int confirms;                /* confirm rounds sent */
	int lowered;                 /* times the screen TTL was lowered */
	int pf, pe;                  /* the flow repeated, its codepoint */
	int pf2, pe2;                /* a second parted flow repeated (-1) */
	int loc_confirmed;           /* the split's repeats were sent */
	int stage;                   /* of the screen (stage_ports) */
	int guessed;                 /* 1: located at a guessed hop first,
				      * 3: asked again there, 2: searched */
	int guess_hop;
	int pf2_asked;               /* a second parted flow looked for */
	int direct2;                 /* the confirm round that sent the
				      * other flows' direct probes (0: none) */
	int full;                    /* the strong repeats: a router at its
				      * screen was seen balancing per packet */
	uint32_t unknown_ttls;       /* TTLs charged to the unknown routers */
	struct scan_evidence ev;
};

struct timer {
	uint32_t slot;
	int64_t due;
};

/* A FIFO of timers that all wait the same time: sorted as it fills. */
struct fifo {
	struct timer *t;
	uint32_t head, len, cap;
};

/* A TPACKET_V3 receive ring: blocks the kernel fills and hands over
 * (full, or after a millisecond), read in place. */
#define RX_BLOCK (1u << 20)
#define RX_BLOCKS 8
struct rxring {
	uint8_t *map;                /* NULL: no ring, recvmmsg instead */
	unsigned cur;
};

struct scan_engine {
	const struct scan_params *p;
	int send4, send6, recv4, recv6;
	struct rxring ring4, ring6;
	struct scan_key key;
	struct scan_perm perm;
	uint64_t next_pos, positions;
	/* slots, free list, index -> slot table */
	struct slot *slots;
	uint32_t nslots, *freel, nfree;
	int32_t *tab;
	uint32_t tabmask;
	/* round timers; rounds waiting for a router's budget */
	struct fifo tq, dq;
	struct scan_paths *paths;    /* routers (budgets), splits located */
	/* send ring */
	struct txent *tx;
	uint32_t tx_head, tx_len;
	double tokens;
	int64_t last_fill, start;
	struct scan_summary *sum;
	enum scan_phase phase;       /* of the probes being queued */
	int err;
};

/* ------------------------------------------------------------ sockets */

static int attach(int fd, const char *expr, char *err, size_t errlen)
{
	struct bpf_program prog;
	struct sock_fprog fprog;
	pcap_t *pc = pcap_open_dead(DLT_RAW, 65535);
	int rc = 0;

	if (pc == NULL || pcap_compile(pc, &prog, expr, 1,
				       PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "cannot compile capture filter '%s'", expr);
		if (pc)
			pcap_close(pc);
		return -1;
	}
	fprog.len = (unsigned short)prog.bf_len;
	fprog.filter = (struct sock_filter *)prog.bf_insns;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) < 0) {
		snprintf(err, errlen, "SO_ATTACH_FILTER: %s", strerror(errno));
		rc = -1;
	}
	pcap_freecode(&prog);
	pcap_close(pc);
	return rc;
}

static int sock_error(const char *what, char *err, size_t errlen)
{
	int e = errno;

	snprintf(err, errlen, "%s: %s%s", what, strerror(e),
		 e == EPERM || e == EACCES ?
		 " (run as root or grant CAP_NET_RAW)" : "");
	return e == EPERM || e == EACCES ? EX_NOPERM : EX_OSERR;
}

/* Map a receive ring on the packet socket fd (before bind). A kernel
 * that will not leaves *ring empty: recvmmsg reads the socket then. */
static void ring_open(int fd, struct rxring *ring)
{
	int v = TPACKET_V3;
	struct tpacket_req3 req;

	memset(&req, 0, sizeof(req));
	req.tp_block_size = RX_BLOCK;
	req.tp_block_nr = RX_BLOCKS;
	req.tp_frame_size = RXBUF;
	req.tp_frame_nr = RX_BLOCK / RXBUF * RX_BLOCKS;
	req.tp_retire_blk_tov = 1;   /* ms: a quiet block waits no longer */
	ring->map = NULL;
	ring->cur = 0;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		return;
	void *m = mmap(NULL, (size_t)RX_BLOCK * RX_BLOCKS, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	if (m != MAP_FAILED)
		ring->map = m;
}

static int bind_src(int fd, const struct addr *src)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (src->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = src->u.v4;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = src->u.v6;
		len = sizeof(*sin6);
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

static int open_family(struct scan_engine *se, int family, const struct addr *src,
		       char *err, size_t errlen)
{
	const struct scan_params *p = se->p;
	char expr[512], sb[INET6_ADDRSTRLEN];
	int snd = 4 << 20, rcv = 16 << 20;
	unsigned ifindex = 0;
	struct sockaddr_ll sll;
	int s, r;

	if (p->iface && (ifindex = if_nametoindex(p->iface)) == 0) {
		snprintf(err, errlen, "no such interface: %s", p->iface);
		return EX_UNAVAILABLE;
	}
	s = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (s < 0)
		return sock_error("raw socket", err, errlen);
	(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (family == AF_INET)
		se->send4 = s;
	else
		se->send6 = s;
	if (p->iface && setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, p->iface,
				   (socklen_t)strlen(p->iface) + 1) < 0)
		return sock_error("SO_BINDTODEVICE", err, errlen);
	/* Bound to the source address, the kernel skips choosing one for
	 * every packet's route lookup (IPv6: a fifth of the send path). */
	if (bind_src(s, src) < 0)
		return sock_error("bind raw socket", err, errlen);
	r = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r < 0)
		return sock_error("packet socket", err, errlen);
	if (family == AF_INET)
		se->recv4 = r;
	else
		se->recv6 = r;
	addr_str(src, sb, sizeof(sb));
	if (family == AF_INET)
		snprintf(expr, sizeof(expr), "dst host %s and ((tcp src port %u and "
			 "tcp dst portrange %u-%u) or (icmp and (icmp[0] == 3 or "
			 "icmp[0] == 11)))", sb, p->dport, p->sport_base,
			 p->sport_base + 2 * p->flows - 1);
	else
		snprintf(expr, sizeof(expr), "dst host %s and ((tcp src port %u and "
			 "tcp dst portrange %u-%u) or (icmp6 and (ip6[40] == 1 or "
			 "ip6[40] == 3)))", sb, p->dport, p->sport_base,
			 p->sport_base + 2 * p->flows - 1);
	if (attach(r, expr, err, errlen) < 0)
		return EX_OSERR;
	ring_open(r, family == AF_INET ? &se->ring4 : &se->ring6);
	(void)setsockopt(r, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	(void)setsockopt(r, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	sll.sll_ifindex = (int)ifindex;
	if (bind(r, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return sock_error("bind packet socket", err, errlen);
	return 0;
}

/* Slots for what the rate keeps in flight: each target lives about five
 * waits and takes some 28 probes. */
static uint32_t slot_count(const struct scan_params *p)
{
	double want = p->rate * 6.0 * ((double)p->wait_ns / 1e9) / 20.0 + 256;
	uint32_t n = want > 32768 ? 32768 : (uint32_t)want;

	return n < 256 ? 256 : n;
}

int scan_engine_open(struct scan_engine **out, const struct scan_params *p,
		     char *err, size_t errlen)
{
	struct scan_engine *se = calloc(1, sizeof(*se));
	int rc;

	*out = se;
	if (se == NULL) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	se->p = p;
	se->send4 = se->send6 = se->recv4 = se->recv6 = -1;
	if (getrandom(se->key.k, sizeof(se->key.k), 0) != sizeof(se->key.k)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return EX_OSERR;
	}
	se->nslots = slot_count(p);
	uint32_t tab = 1;

	while (tab < 2 * se->nslots)
		tab <<= 1;
	se->tabmask = tab - 1;
	se->slots = calloc(se->nslots, sizeof(*se->slots));
	se->freel = calloc(se->nslots, sizeof(*se->freel));
	se->tab = malloc(tab * sizeof(*se->tab));
	se->tq.t = calloc(se->nslots, sizeof(*se->tq.t));
	se->dq.t = calloc(se->nslots, sizeof(*se->dq.t));
	se->tq.cap = se->dq.cap = se->nslots;
	se->tx = calloc(RING, sizeof(*se->tx));
	se->paths = scan_paths_new(p->router_rate, p->router_burst);
	if (!se->paths || !se->slots || !se->freel || !se->tab || !se->tq.t ||
	    !se->dq.t || !se->tx) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	memset(se->tab, 0xff, tab * sizeof(*se->tab));
	for (uint32_t i = 0; i < se->nslots; i++)
		se->freel[i] = se->nslots - 1 - i;
	se->nfree = se->nslots;
	if (p->src4.family && (rc = open_family(se, AF_INET, &p->src4, err, errlen)))
		return rc;
	if (p->src6.family && (rc = open_family(se, AF_INET6, &p->src6, err, errlen)))
		return rc;
	return 0;
}

void scan_engine_close(struct scan_engine *se)
{
	if (se == NULL)
		return;
	int fds[4] = { se->send4, se->send6, se->recv4, se->recv6 };

	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (se->ring4.map)
		munmap(se->ring4.map, (size_t)RX_BLOCK * RX_BLOCKS);
	if (se->ring6.map)
		munmap(se->ring6.map, (size_t)RX_BLOCK * RX_BLOCKS);
	free(se->slots);
	free(se->freel);
	free(se->tab);
	free(se->tq.t);
	free(se->dq.t);
	free(se->tx);
	scan_paths_free(se->paths);
	free(se);
}

/* ------------------------------------------------------- slot lookup */

static uint32_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static struct slot *find_slot(struct scan_engine *se, uint64_t idx)
{
	for (uint32_t h = mix(idx) & se->tabmask;; h = (h + 1) & se->tabmask) {
		int32_t s = se->tab[h];

		if (s < 0)
			return NULL;
		if (se->slots[s].idx == idx)
			return &se->slots[s];
	}
}

static void tab_insert(struct scan_engine *se, uint32_t slot)
{
	uint32_t h = mix(se->slots[slot].idx) & se->tabmask;

	while (se->tab[h] >= 0)
		h = (h + 1) & se->tabmask;
	se->tab[h] = (int32_t)slot;
}

/* Linear probing's deletion: shift later members of the run back. */
static void tab_remove(struct scan_engine *se, uint64_t idx)
{
	uint32_t m = se->tabmask, h = mix(idx) & m;

	while (se->tab[h] >= 0 && se->slots[se->tab[h]].idx != idx)
		h = (h + 1) & m;
	if (se->tab[h] < 0)
		return;
	for (uint32_t j = (h + 1) & m; se->tab[j] >= 0; j = (j + 1) & m) {
		uint32_t home = mix(se->slots[se->tab[j]].idx) & m;

		/* Move j into the hole h unless its home lies in (h, j]. */
		if (((j - home) & m) >= ((j - h) & m)) {
			se->tab[h] = se->tab[j];
			h = j;
		}
	}
	se->tab[h] = -1;
}

/* ------------------------------------------------------------ sending */

static int tx_push(struct scan_engine *se, const struct txent *t)
{
	if (se->tx_len == RING)
		return -1;
	se->tx[(se->tx_head + se->tx_len++) % RING] = *t;
	return 0;
}

/* A TTL-limited probe's charge (scan_paths.h); the TTLs charged to the
 * unknown routers are noted, so their answers are charged too. */
static void charge(struct scan_engine *se, struct slot *s, int ttl,
		   const struct addr *hint)
{
	if (scan_paths_charge(se->paths, &s->dst, ttl, hint) && ttl < 32)
		s->unknown_ttls |= 1u << ttl;
}

static void probe_to(struct scan_engine *se, struct slot *s, int port, int kind,
		     int ttl, int ecn, int rep, const struct addr *hint);

static void probe(struct scan_engine *se, struct slot *s, int port, int kind,
		  int ttl, int ecn, int rep)
{
	probe_to(se, s, port, kind, ttl, ecn, rep, NULL);
}

static void probe_to(struct scan_engine *se, struct slot *s, int port, int kind,
		     int ttl, int ecn, int rep, const struct addr *hint)
{
	if (ttl)
		charge(se, s, ttl, hint);
	struct scan_tag tg = { (unsigned)ttl, (unsigned)ecn, (unsigned)rep };
	struct txent t = {
		.dst = s->dst, .sport = (uint16_t)(se->p->sport_base + port),
		.ttl = (uint8_t)(ttl ? ttl : 64), .ecn = (uint8_t)ecn,
		.kind = (uint8_t)kind, .tagv = (uint16_t)scan_tag_pack(&tg),
	};

	if (ttl && ttl == s->ev.screen_ttl)
		s->ev.scr[port][ecn].sent++;
	se->sum->by_phase[se->phase]++;
	(void)tx_push(se, &t);
}

/* MSS, SACK permitted, timestamps, window scale: a client's SYN, so the
 * server's SYN-ACK shows its fingerprint and clock. */
static const uint8_t syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10,
	0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };

static size_t build(struct scan_engine *se, const struct txent *t, uint8_t *buf)
{
	const struct scan_params *p = se->p;
	struct probe_desc d;
	size_t len = PKTBUF;

	memset(&d, 0, sizeof(d));
	d.src = t->dst.family == AF_INET ? p->src4 : p->src6;
	d.dst = t->dst;
	d.ttl = t->ttl;
	d.tos = t->ecn;
	d.proto = IPPROTO_TCP;
	d.sport = t->sport;
	d.dport = p->dport;
	d.dont_frag = 1;
	if (t->kind == TX_RST) {
		d.tcp_flags = TH_RST;
		d.seq = t->seq;
		d.ip_id = 1;
	} else {
		d.seq = scan_cookie_base(&se->key, &t->dst, t->sport, p->dport) +
			t->tagv;
		d.ip_id = (uint16_t)(t->tagv + 1);
		d.tcp_flags = TH_SYN | (t->kind == TX_ECNSETUP ? TH_ECE | TH_CWR : 0);
		d.window = 64240;
		memcpy(d.tcp_opts, syn_opts, sizeof(syn_opts));
		d.tcp_optlen = sizeof(syn_opts);
	}
	if (pkt_build(&d, buf, &len) < 0)
		return 0;
	return len;
}

static void backoff(int64_t ns)
{
	struct timespec ts = { 0, (long)ns };

	nanosleep(&ts, NULL);
}

/* Send up to n queued packets of one family at the head of the ring. */
static int send_batch(struct scan_engine *se, uint32_t n)
{
	static uint8_t bufs[BATCH][PKTBUF];
	struct sockaddr_storage ss[BATCH];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int family = se->tx[se->tx_head].dst.family;
	uint32_t k = 0;

	while (k < n && k < BATCH && k < se->tx_len) {
		const struct txent *t = &se->tx[(se->tx_head + k) % RING];

		if (t->dst.family != family)
			break;
		memset(&ss[k], 0, sizeof(ss[k]));
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss[k];

			sin->sin_family = AF_INET;
			sin->sin_addr = t->dst.u.v4;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss[k];

			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = t->dst.u.v6;
		}
		iov[k].iov_base = bufs[k];
		iov[k].iov_len = build(se, t, bufs[k]);
		memset(&mm[k], 0, sizeof(mm[k]));
		mm[k].msg_hdr.msg_name = &ss[k];
		mm[k].msg_hdr.msg_namelen = family == AF_INET ?
			sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		mm[k].msg_hdr.msg_iov = &iov[k];
		mm[k].msg_hdr.msg_iovlen = 1;
		k++;
	}
	int fd = family == AF_INET ? se->send4 : se->send6;
	int sent = sendmmsg(fd, mm, k, 0);

	if (sent < 0) {
		if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
			/* The queue is full: wait for it, do not abort. */
			se->sum->retries++;
			backoff(50000);
			return 0;
		}
		/* One packet the kernel refuses (no route to it): drop it,
		 * its target gets no answer. */
		if (errno != ENETUNREACH && errno != EHOSTUNREACH &&
		    errno != EINVAL && errno != EMSGSIZE)
			return -1;
		se->sum->unsent++;
		se->tx_head = (se->tx_head + 1) % RING;
		se->tx_len--;
		return 1;
	}
	for (int i = 0; i < sent; i++) {
		if (se->tx[se->tx_head].kind == TX_RST)
			se->sum->resets++;
		else
			se->sum->probes++;
		se->tx_head = (se->tx_head + 1) % RING;
		se->tx_len--;
	}
	return sent;
}

/* The token bucket: at most one batch of burst. */
static int pump(struct scan_engine *se, int64_t now)
{
	se->tokens += (double)(now - se->last_fill) * se->p->rate / 1e9;
	se->last_fill = now;
	if (se->tokens > BATCH)
		se->tokens = BATCH;
	while (se->tx_len > 0 && se->tokens >= 1.0) {
		int n = send_batch(se, (uint32_t)se->tokens);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		se->tokens -= n;
	}
	return 0;
}

/* ------------------------------------------------------------- rounds */

static void push_timer(struct fifo *q, uint32_t slot, int64_t due)
{
	struct timer *t = &q->t[(q->head + q->len) % q->cap];

	/* Never before the timer ahead of it: the FIFO stays sorted (a
	 * round's wait grows by the send queue's, which shrinks too). */
	if (q->len > 0) {
		int64_t last = q->t[(q->head + q->len - 1) % q->cap].due;

		if (due < last)
			due = last;
	}
	q->len++;
	t->slot = slot;
	t->due = due;
}

static void arm(struct scan_engine *se, struct slot *s)
{
	/* The wait starts when the round's probes will have left. */
	push_timer(&se->tq, (uint32_t)(s - se->slots), now_ns() + se->p->wait_ns +
		   (int64_t)((double)se->tx_len * 1e9 / se->p->rate));
}

/* Try again in 10 ms: a router's budget is spent. */
static void defer(struct scan_engine *se, struct slot *s)
{
	push_timer(&se->dq, (uint32_t)(s - se->slots), now_ns() + 10000000);
}

/* The localisation kept for slot s's flow pf parted on codepoint pe. */
static const struct scan_hopans (*split_known(struct scan_engine *se,
	const struct slot *s, int pf, int pe))[2]
{
	const struct scan_evidence *ev = &s->ev;

	return scan_paths_split(se->paths, &s->dst, ev->screen_ttl,
				&ev->scr[pf][ECN_NOT_ECT].first,
				&ev->scr[pf][pe].first);
}

/* The TTLs the slot's next round will probe at: lo..hi, none if lo 0. */
static void next_ttls(struct scan_engine *se, const struct slot *s, int *lo,
		      int *hi)
{
	const struct scan_evidence *ev = &s->ev;
	int pf, pe;

	*lo = *hi = 0;
	switch (s->round) {
	case 0:
		*lo = *hi = scan_screen_ttl(ev);
		break;
	case 1:
		*lo = *hi = ev->screen_ttl;
		break;
	default:
		if (ev->screen_ttl > 1 && scan_parted(ev, &pf, &pe) == 0) {
			int hit = s->round == 2 && s->pf >= 0 &&
				  split_known(se, s, s->pf, s->pe) != NULL;

			if (!hit) {
				*lo = 1;
				*hi = ev->screen_ttl - 1;
			}
		}
	}
}

static int round_direct(struct scan_engine *se, struct slot *s, int rep)
{
	int n = 0;

	for (int f = 0; f < scan_direct_flows(&s->ev); f++, n += 3) {
		se->phase = rep ? SCAN_PH_DIRECT_RETRY : SCAN_PH_DIRECT;
		probe(se, s, f, TX_PLAIN, 0, ECN_NOT_ECT, rep);
		probe(se, s, s->ev.nflows + f, TX_ECNSETUP, 0, ECN_NOT_ECT, rep);
		se->phase = rep ? SCAN_PH_DIRECT_RETRY : SCAN_PH_ECT0;
		probe(se, s, f, TX_PLAIN, 0, ECN_ECT0, rep);
	}
	return n;
}

static int any_direct(const struct scan_evidence *ev)
{
	for (int f = 0; f < ev->nflows; f++)
		if (ev->f[f].neg.got || ev->f[f].tgt[0].got)
			return 1;
	return 0;
}

/* The ports screened by stage: one flow first (an ECN hash over two
 * paths parts it with 7 in 8), a second if it did not part, then (after
 * a round for the other flows' direct probes, whose answers may show a
 * nearer machine and so a lower screen TTL) all the rest (round_confirm). */
static int stage_ports(int stage, const struct scan_evidence *ev)
{
	int all = 2 * ev->nflows;

	return stage <= 1 ? 1 : stage <= 3 ? (all < 2 ? all : 2) : all;
}

/* Round 1: ECT(0) of each flow to the target; every codepoint of each
 * flow at the screen TTL; ECN-setup SYNs lost in round 0 again. */
static int round_screen(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	ev->screen_ttl = scan_screen_ttl(ev);
	for (int f = 0; f < scan_direct_flows(ev); f++) {
		if (!ev->f[f].neg.got) {
			se->phase = SCAN_PH_DIRECT_RETRY;
			probe(se, s, ev->nflows + f, TX_ECNSETUP, 0, ECN_NOT_ECT, 1);
			n++;
		}
		se->phase = SCAN_PH_SCREEN;
		for (int e = 0; e < 4 && ev->screen_ttl && f < stage_ports(1, ev);
		     e++, n++)
			probe(se, s, f, TX_PLAIN, ev->screen_ttl, e, 0);
	}
	se->phase = SCAN_PH_TTL1;
	/* One return hop: a TTL-1 probe of two flows must reach the target
	 * itself for "no router between" (a firewall's or proxy's reset
	 * with a standard initial TTL is not enough). */
	if (!ev->screen_ttl && scan_hops_min(ev) == 1)
		for (int f = 0; f < ev->nflows && f < 2; f++, n++) {
			probe(se, s, f, TX_PLAIN, 1, ECN_NOT_ECT, 0);
			ev->ttl1_sent++;
		}
	return n;
}

static int screen_some(const struct scan_evidence *ev)
{
	for (int f = 0; f < 2 * ev->nflows; f++)
		for (int e = 0; e < 4; e++)
			if (ev->scr[f][e].answered)
				return 1;
	return 0;
}

/* Repeats of parted flow pf's two codepoints at the screen, SCAN_REPEATS
 * each less those answered: each codepoint's as one block of identical
 * probes back to back, not alternating, so that a round-robin balancer
 * (which would line up with an alternation) sends a block's probes to
 * different routers: per-packet, never a hash. */
static int repeat_flow(struct scan_engine *se, struct slot *s, int pf, int pe,
		       int reps)
{
	struct scan_evidence *ev = &s->ev;
	const int cp[2] = { ECN_NOT_ECT, pe };
	int n = 0;

	if (pf < 0)
		return 0;
	for (int k = 0; k < 2; k++) {
		struct scan_rep *rr = &ev->scr[pf][cp[k]];

		for (int r = 1; r <= reps; r++)
			if (!(rr->repmask & 1u << r)) {
				probe_to(se, s, pf, TX_PLAIN, ev->screen_ttl, cp[k],
					 r, &rr->first);
				n++;
			}
	}
	return n;
}

/* Round 2: the parted flow's two codepoints SCAN_REPEATS times more
 * (and, twice more at most, the repeats that got no answer); with no
 * parting yet, the second half of the flows screened; the codepoints
 * the screen did not answer again; the first time also ECT(0) lost. */
/* Did the screen reach the target itself on some path (a return path
 * longer than the forward one, or a screen TTL taken before a nearer
 * answer came)? */
static int screen_reached(const struct scan_evidence *ev)
{
	for (int f = 0; f < 2 * ev->nflows; f++)
		for (int e = 0; e < 4; e++) {
			const struct scan_rep *r = &ev->scr[f][e];

			if (r->answered && (r->kind == ANS_SYNACK || r->kind == ANS_RST))
				return 1;
		}
	return 0;
}

/* The screen again one TTL lower (twice at most): the earlier answers
 * came from the target, so they said nothing about the routers. */
static int lower_screen(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	int ports = stage_ports(1, ev);

	for (int f = ports; f < 2 * ev->nflows; f++)
		if (ev->scr[f][ECN_NOT_ECT].sent)
			ports = f + 1;
	ev->screen_ttl--;
	s->lowered++;
	se->phase = SCAN_PH_SCREEN_LOWER;
	memset(ev->scr, 0, sizeof(ev->scr));
	for (int f = 0; f < ports; f++)
		for (int e = 0; e < 4; e++, n++)
			probe(se, s, f, TX_PLAIN, ev->screen_ttl, e, 0);
	return n;
}

/* No flow parted on the first ones: the other flows' direct probes
 * (plain Not-ECT, ECN-setup, ECT(0)), for a verdict on all K flows. */
static int direct_rest(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	se->phase = SCAN_PH_DIRECT_MORE;
	for (int f = ev->direct_flows; f < ev->nflows; f++, n += 3) {
		probe(se, s, f, TX_PLAIN, 0, ECN_NOT_ECT, 0);
		probe(se, s, ev->nflows + f, TX_ECNSETUP, 0, ECN_NOT_ECT, 0);
		probe(se, s, f, TX_PLAIN, 0, ECN_ECT0, 0);
	}
	if (n)
		s->direct2 = s->confirms;
	ev->direct_flows = ev->nflows;
	return n;
}

/* Those the round after: an ECN-setup SYN or ECT(0) lost, again once,
 * as the first flows' were. */
static int direct_rest_again(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	se->phase = SCAN_PH_DIRECT_RETRY;
	for (int f = SCAN_FIRST_FLOWS; f < ev->nflows; f++) {
		if (!ev->f[f].neg.got) {
			probe(se, s, ev->nflows + f, TX_ECNSETUP, 0, ECN_NOT_ECT, 1);
			n++;
		}
		if (!ev->f[f].tgt[1].got && ev->f[f].tgt[0].got == ANS_SYNACK) {
			probe(se, s, f, TX_PLAIN, 0, ECN_ECT0, 1);
			n++;
		}
	}
	return n;
}

/* No flow parted yet: the next stage of the screen, and with the last
 * the other flows' direct probes; so a healthy verdict has all 2k ports
 * (the ECN-setup SYNs' too: a hash the plain flows missed by chance is
 * missed on twice as many flows). A screen with nothing to screen on (no
 * screen TTL, or no answer yet): only the direct probes, for the record. */
static int next_stage(struct scan_engine *se, struct slot *s, int first,
		      int some)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0, from, to;

	if (!ev->screen_ttl || !some)
		return first ? direct_rest(se, s) : 0;
	if (s->stage >= 4)
		return 0;
	from = stage_ports(s->stage, ev);
	to = stage_ports(++s->stage, ev);
	if (s->stage == 3 && (n = direct_rest(se, s)) > 0)
		return n;
	if (s->stage == 3)
		to = stage_ports(++s->stage, ev);
	se->phase = SCAN_PH_SCREEN_MORE;
	for (int f = from; f < to; f++)
		for (int e = 0; e < 4; e++, n++)
			probe(se, s, f, TX_PLAIN, ev->screen_ttl, e, 0);
	return n;
}

/* Did a router that answered s's screen answer identical probes of some
 * target differently (scan_paths_mark_perpacket)? */
static int suspect(const struct scan_engine *se, const struct slot *s)
{
	const struct scan_evidence *ev = &s->ev;

	for (int f = 0; f < 2 * ev->nflows; f++)
		for (int e = 0; e < 4; e++) {
			const struct scan_rep *r = &ev->scr[f][e];

			if (r->answered && r->kind == ANS_ICMP_TE &&
			    scan_paths_perpacket(se->paths, &r->first))
				return 1;
		}
	return 0;
}

/* Repeats of each codepoint of a parted flow: the fewest that can decide
 * at the confidence asked (sequential: a repeat that differs vetoes for
 * good, so stopping there is the fixed test); full, SCAN_REPEATS at
 * least, on two flows. */
static int repeats(const struct scan_engine *se, const struct slot *s)
{
	int r = scan_repeats_for(se->p->conf);

	return s->full && r < SCAN_REPEATS ? SCAN_REPEATS : r;
}

static int round_confirm(struct scan_engine *se, struct slot *s);

/* A target about to be judged on the light repeats whose screen shares a
 * router with a per-packet target: the full repeats first. */
static int upgrade(struct scan_engine *se, struct slot *s)
{
	if (s->pf < 0)
		return 0;
	if (!s->full) {
		if (!suspect(se, s))
			return 0;
		s->full = s->ev.pp_suspect = 1;
		return round_confirm(se, s);
	}
	/* Full with one parted flow: the ports screened wider for a
	 * second (widen_screen); once more to repeat it. */
	if (s->pf2 < 0 && s->stage >= 4 && !s->pf2_asked) {
		s->pf2_asked = 1;
		return round_confirm(se, s);
	}
	return 0;
}

/* Full, and no second parted flow among the ports screened: all ports
 * screened, so that one can be found and repeated. */
static int widen_screen(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0, from = stage_ports(s->stage, ev);

	if (s->stage >= 4 || !ev->screen_ttl)
		return 0;
	s->stage = 4;
	se->phase = SCAN_PH_SCREEN_MORE;
	for (int f = from; f < 2 * ev->nflows; f++)
		for (int e = 0; e < 4; e++, n++)
			probe(se, s, f, TX_PLAIN, ev->screen_ttl, e, 0);
	return n;
}

static int round_confirm(struct scan_engine *se, struct slot *s)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0, pf = s->pf, pe = s->pe;

	/* Before any repeat, or with no flow parted yet (the later flows'
	 * direct answers may show a nearer machine than the first ones). */
	if ((s->confirms == 0 || pf < 0) && s->lowered < 2 && ev->screen_ttl > 1 &&
	    (screen_reached(ev) || scan_screen_ttl(ev) < ev->screen_ttl))
		return lower_screen(se, s);

	/* The flow first seen parted stays the one repeated. */
	if (ev->screen_ttl && pf < 0 && scan_parted(ev, &pf, &pe) == 0) {
		s->pf = pf;
		s->pe = pe;
	}
	if (!s->full && suspect(se, s))
		s->full = s->ev.pp_suspect = 1;
	/* Full: a second parted flow repeated too, so a per-packet balancer
	 * must fool two flows' repeats, not one. */
	if (pf >= 0 && s->pf2 < 0 && s->full)
		(void)scan_parted_from(ev, pf + 1, &s->pf2, &s->pe2);
	se->phase = SCAN_PH_REPEATS;
	n += repeat_flow(se, s, pf, pe, repeats(se, s));
	if (s->full)
		n += repeat_flow(se, s, s->pf2, s->pe2, repeats(se, s));
	int first = s->confirms++ == 0, some = screen_some(ev);

	if (s->direct2 && s->confirms == s->direct2 + 1)
		n += direct_rest_again(se, s);
	se->phase = SCAN_PH_DIRECT_RETRY;

	for (int f = 0; f < ev->nflows; f++)
		if (first && !ev->f[f].tgt[1].got && ev->f[f].tgt[0].got == ANS_SYNACK) {
			probe(se, s, f, TX_PLAIN, 0, ECN_ECT0, 1);
			n++;
		}
	se->phase = SCAN_PH_SCREEN_RETRY;
	for (int f = 0; f < 2 * ev->nflows && ev->screen_ttl; f++) {
		/* A screen probe lost (a router's ICMP limit, loss): again,
		 * up to three times while the screen answers at all, twice
		 * when it does not (a silent router only makes us wait). */
		for (int e = 0; e < 4 && (some || s->confirms <= 2); e++)
			if (ev->scr[f][e].sent && !ev->scr[f][e].answered) {
				probe(se, s, f, TX_PLAIN, ev->screen_ttl, e, s->confirms);
				n++;
			}
	}
	if (pf < 0)                  /* after the retries: new probes wait */
		n += next_stage(se, s, first, some);
	else if (s->full && s->pf2 < 0)
		n += widen_screen(se, s);
	return n;
}

/* The split seen at TTL `hop` on one answer per codepoint: repeats of
 * both codepoints there, as many as the screen's (the test of a
 * per-packet balancer), and two one hop before (where one more answer
 * each, from the same router, is what the judge asks), each codepoint's
 * as a block (repeat numbers 2..7, after the locate and its retry). */
static int round_split_confirm(struct scan_engine *se, struct slot *s, int hop)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	se->phase = SCAN_PH_SPLIT_CONFIRM;
	for (int t = hop - 1; t <= hop && t < ev->screen_ttl; t++) {
		int want = t == hop ? repeats(se, s) : 2;

		if (t < 1)
			continue;
		for (int k = 0; k < 2; k++)
			for (int r = 2; r < 2 + want && r <= 7; r++)
				if (!(ev->loc[t][k].repmask & 1u << r)) {
					probe(se, s, ev->loc_flow, TX_PLAIN, t,
					      ev->loc_ecn[k], r);
					n++;
				}
	}
	s->loc_confirmed = 1;
	return n;
}

static int round_locate(struct scan_engine *se, struct slot *s, int retry)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	se->phase = retry ? SCAN_PH_LOCATE_RETRY : SCAN_PH_LOCATE;
	for (int t = 1; t < ev->screen_ttl; t++)
		for (int k = 0; k < 2; k++)
			if (!retry || !ev->loc[t][k].got) {
				probe(se, s, ev->loc_flow, TX_PLAIN, t, ev->loc_ecn[k],
				      retry);
				n++;
			}
	ev->located = 1;
	return n;
}

/* The parted flow's two codepoints at the hop a split was named at for
 * another target behind the same two screen routers (two answers each
 * there, the judge's "alike before" test), and, when that hop's next is
 * not the screen, the repeats there that rule out per-packet balancing:
 * the target's own evidence names the router, or the search follows. */
static int round_guess(struct scan_engine *se, struct slot *s, int hop,
		       int again)
{
	struct scan_evidence *ev = &s->ev;
	int n = 0;

	se->phase = SCAN_PH_LOCATE_GUESS;
	for (int t = hop; t <= hop + 1 && t < ev->screen_ttl; t++) {
		int want = t == hop ? 2 : 1 + repeats(se, s);

		for (int k = 0; k < 2; k++) {
			/* Again: as many new repeats (numbers after the first
			 * try's) as answers are missing. */
			int from = again ? want : 0;
			int to = again ? want + want - ev->loc[t][k].answered : want;

			for (int r = from; r < to && r < 7; r++, n++)
				probe(se, s, ev->loc_flow, TX_PLAIN, t,
				      ev->loc_ecn[k], r == 0 ? 0 : r + 1);
		}
	}
	ev->located = 1;
	s->loc_confirmed = 1;
	return n;
}

/* A dependent target's localisation: an earlier target's of the same
 * prefix and screen routers (no probes), a guessed hop, or the search. */
static int start_locate(struct scan_engine *se, struct slot *s,
			const struct scan_verdict *v)
{
	struct scan_evidence *ev = &s->ev;
	const struct scan_hopans (*known)[2] =
		split_known(se, s, v->parted_flow, v->parted_ecn);
	int hop;

	ev->loc_flow = v->parted_flow;
	ev->loc_ecn[0] = ECN_NOT_ECT;
	ev->loc_ecn[1] = v->parted_ecn;
	if (known) {
		memcpy(ev->loc, known, sizeof(ev->loc));
		ev->located = 1;
		se->sum->splits_reused++;
		return 0;
	}
	hop = scan_paths_guess_hop(se->paths, ev->screen_ttl,
				   &ev->scr[ev->loc_flow][ECN_NOT_ECT].first,
				   &ev->scr[ev->loc_flow][ev->loc_ecn[1]].first);
	if (hop >= 1 && hop < ev->screen_ttl) {
		s->guessed = 1;
		s->guess_hop = hop;
		return round_guess(se, s, hop, 0);
	}
	return round_locate(se, s, 0);
}

static void finish(struct scan_engine *se, struct slot *s)
{
	struct scan_verdict v;

	scan_judge(&s->ev, se->p->conf, &v);
	/* A split located to one hop serves the targets that part on the
	 * same routers after it. */
	if (v.has_split && v.split.known && s->ev.located) {
		const struct scan_evidence *ev = &s->ev;

		scan_paths_keep_split(se->paths, &s->dst, ev->screen_ttl,
				      &ev->scr[ev->loc_flow][ECN_NOT_ECT].first,
				      &ev->scr[ev->loc_flow][ev->loc_ecn[1]].first,
				      ev->loc);
		scan_paths_keep_hop(se->paths, ev->screen_ttl,
				    &ev->scr[ev->loc_flow][ECN_NOT_ECT].first,
				    &ev->scr[ev->loc_flow][ev->loc_ecn[1]].first,
				    v.split.hop);
	}
	if (se->p->out)
		scan_print_target(se->p->out, &s->dst, se->p->dport, &v);
	if (scan_summary_add(se->sum, s->idx, &v) < 0)
		se->err = 1;
	tab_remove(se, s->idx);
	s->used = 0;
	se->freel[se->nfree++] = (uint32_t)(s - se->slots);
}

/* The next round of a slot whose wait is over, or its end. */
static void advance(struct scan_engine *se, struct slot *s)
{
	struct scan_verdict v;
	int n = 0, lo, hi;

	next_ttls(se, s, &lo, &hi);
	if (s->waited < 3000 && !scan_paths_ok(se->paths, &s->dst, lo, hi)) {
		s->waited++;             /* at most 30 s for a budget */
		defer(se, s);
		return;
	}

	switch (s->round++) {
	case 0:
		if (any_direct(&s->ev)) {
			n = round_screen(se, s);
		} else if (!s->retried) {  /* lost, maybe: once more */
			s->retried = 1;
			s->round = 0;
			n = round_direct(se, s, 1);
		}
		break;
	case 1:
		n = round_confirm(se, s);
		if (n > 0) {
			/* Again for what stays missing (3 rounds, and one more
			 * for each later stage of the screen). */
			if (s->confirms < 2 + s->stage)
				s->round = 1;
			break;
		}
		s->round++;
		/* fall through */
	case 2:
		if ((n = upgrade(se, s)) > 0) {
			s->round = 2;
			break;
		}
		scan_judge(&s->ev, se->p->conf, &v);
		if (v.dependent == 1 && se->p->locate && s->ev.screen_ttl > 1)
			n = start_locate(se, s, &v);
		break;
	case 3:
		/* A guessed hop that did not name the router: its lost
		 * answers asked again (once), then the search. */
		if (s->guessed == 1 || s->guessed == 3) {
			scan_judge(&s->ev, se->p->conf, &v);
			if (v.has_split && v.split.known)
				break;
			s->round = 3;
			if (s->guessed == 1 &&
			    (n = round_guess(se, s, s->guess_hop, 1)) > 0) {
				s->guessed = 3;
				break;
			}
			s->guessed = 2;
			s->round = 3;
			s->loc_confirmed = 0;
			n = round_locate(se, s, 0);
			break;
		}
		/* fall through */
	case 4:
		/* A split on one answer each: repeats decide (once); hops
		 * silent: the locate again (once, the first time here). */
		scan_judge(&s->ev, se->p->conf, &v);
		if (v.has_split && v.split.confirm_hop && !s->loc_confirmed)
			n = round_split_confirm(se, s, v.split.confirm_hop);
		else if (v.has_split && !v.split.known && s->round == 4)
			n = round_locate(se, s, 1);
		break;
	}
	if (n > 0)
		arm(se, s);
	else
		finish(se, s);
}

/* Take the next target of the shard, skipping what --resume names. */
static int start_next(struct scan_engine *se)
{
	const struct scan_params *p = se->p;

	while (se->next_pos < se->positions) {
		uint64_t pos = scan_shard_pos(se->next_pos++, p->shards, p->shard);
		uint64_t idx = scan_perm_at(&se->perm, pos);
		struct slot *s;
		struct addr a;

		scan_target_at(p->targets, idx, &a);
		if (p->skip && scan_target_index(p->skip, &a) >= 0) {
			se->sum->resumed++;
			continue;
		}
		s = &se->slots[se->freel[--se->nfree]];
		memset(s, 0, sizeof(*s));
		s->idx = idx;
		s->dst = a;
		s->used = 1;
		s->pf = s->pe = s->pf2 = s->pe2 = -1;
		s->ev.nflows = p->flows;
		s->ev.direct_flows = p->flows < SCAN_FIRST_FLOWS ? p->flows
								 : SCAN_FIRST_FLOWS;
		s->stage = 1;
		tab_insert(se, (uint32_t)(s - se->slots));
		round_direct(se, s, 0);
		arm(se, s);
		return 1;
	}
	return 0;
}

/* ----------------------------------------------------------- replies */

static uint8_t optsig(const struct tcp_seg *t)
{
	unsigned h = 0;

	for (size_t i = 0; i < t->n_opts; i++)
		h = h * 31 + t->opt_kinds[i];
	return (uint8_t)(h ^ h >> 8);
}

static void fill_obs(struct scan_engine *se, struct scan_obs *o,
		     const struct pkt_reply *r, int kind)
{
	if (o->got)
		return;
	o->got = (uint8_t)kind;
	o->ttl = r->ttl;
	o->from = r->src;
	o->t_ms = (uint32_t)((now_ns() - se->start) / 1000000);
	if (r->kind != REPLY_TCP)
		return;
	o->ece = (r->tcp.flags & TH_ECE) != 0;
	o->window = r->tcp.window;
	o->mss = r->tcp.have_mss ? r->tcp.mss : 0;
	o->wscale = r->tcp.have_wscale ? r->tcp.wscale : 0xff;
	o->optsig = optsig(&r->tcp);
	o->have_ts = (uint8_t)r->tcp.have_ts;
	o->tsval = r->tcp.ts_val;
}

static void rep_answer(struct scan_rep *r, unsigned rep, const struct addr *from,
		       int kind)
{
	if (r->repmask & 1u << rep)
		return;
	r->repmask |= (uint8_t)(1u << rep);
	if (r->answered == 0) {
		r->first = *from;
		r->kind = (uint8_t)kind;
	} else {
		r->differed += !addr_eq(&r->first, from);
		r->kinddiff += r->kind != kind;
	}
	r->answered++;
}

/* The same for a localisation hop. */
static void hop_answer(struct scan_hopans *h, unsigned rep, const struct addr *from,
		       int kind)
{
	if (h->repmask & 1u << rep)
		return;
	h->repmask |= (uint8_t)(1u << rep);
	if (!h->got) {
		h->got = 1;
		h->a = *from;
		h->kind = (uint8_t)kind;
	} else {
		h->differed += !addr_eq(&h->a, from);
		h->kinddiff += h->kind != kind;
	}
	h->answered++;
}

/* A TTL-limited probe's answer, from a router or from the target. */
/* Identical probes answered by another router (or kind) than the
 * first: both are behind a per-packet balancer. */
static void note_differ(struct scan_paths *paths, unsigned before, unsigned now,
			const struct addr *first, const struct addr *from)
{
	if (now == before)
		return;
	scan_paths_mark_perpacket(paths, first);
	scan_paths_mark_perpacket(paths, from);
}

static void limited_answer(struct scan_paths *paths, struct slot *s, int port,
			   const struct scan_tag *t, const struct addr *from,
			   int kind)
{
	struct scan_evidence *ev = &s->ev;

	if (port >= 2 * ev->nflows)
		return;
	if (ev->screen_ttl == 0) {       /* only the TTL-1 probes */
		if (t->ttl == 1 && (kind == ANS_SYNACK || kind == ANS_RST) &&
		    ev->ttl1_reached < 255)
			ev->ttl1_reached++;
		return;
	}
	if ((int)t->ttl == ev->screen_ttl) {
		struct scan_rep *r = &ev->scr[port][t->ecn];
		unsigned before = r->differed + r->kinddiff;

		rep_answer(r, t->rep, from, kind);
		note_differ(paths, before, r->differed + r->kinddiff, &r->first,
			    from);
		return;
	}
	if (port != ev->loc_flow || t->ttl >= SCAN_MAX_TTL || !ev->located)
		return;
	for (int k = 0; k < 2; k++)
		if ((int)t->ecn == ev->loc_ecn[k]) {
			struct scan_hopans *h = &ev->loc[t->ttl][k];
			unsigned before = h->differed + h->kinddiff;

			hop_answer(h, t->rep, from, kind);
			note_differ(paths, before, h->differed + h->kinddiff,
				    &h->a, from);
		}
}

/* What a TTL-limited probe's answer is: a router's time-exceeded, the
 * target's own SYN-ACK or RST (the TTL reached it), or another ICMP
 * error (a filter's unreachable, a time-exceeded from the target). */
static int limited_kind(const struct slot *s, const struct scan_match *m,
			const struct pkt_reply *r)
{
	if (!m->icmp)
		return m->synack ? ANS_SYNACK : ANS_RST;
	if (r->kind == REPLY_TIME_EXCEEDED && !addr_eq(&r->src, &s->dst))
		return ANS_ICMP_TE;
	return ANS_ICMP_UNREACH;
}

static void direct_answer(struct scan_engine *se, struct slot *s, int port,
			  const struct scan_tag *t, const struct pkt_reply *r,
			  int kind)
{
	struct scan_evidence *ev = &s->ev;

	if (port < ev->nflows && (t->ecn == ECN_NOT_ECT || t->ecn == ECN_ECT0))
		fill_obs(se, &ev->f[port].tgt[t->ecn == ECN_ECT0], r, kind);
	else if (port >= ev->nflows && port < 2 * ev->nflows && t->ecn == ECN_NOT_ECT)
		fill_obs(se, &ev->f[port - ev->nflows].neg, r, kind);
}

static void close_synack(struct scan_engine *se, const struct pkt_reply *r,
			 const struct scan_tag *t)
{
	struct txent x = {
		.dst = r->src, .seq = r->tcp.ack, .sport = r->tcp.dport,
		.ttl = 64, .ecn = (uint8_t)t->ecn, .kind = TX_RST,
	};

	(void)tx_push(se, &x);
}

static void on_packet(struct scan_engine *se, const uint8_t *b, size_t len,
		      size_t wire)
{
	const struct scan_params *p = se->p;
	struct scan_match m;
	struct pkt_reply r;
	struct slot *s;

	if (pkt_parse_cut(b, len, wire, &r) < 0 ||
	    scan_validate(&se->key, p->targets, p->dport, p->sport_base,
			  p->flows, &r, &m) < 0 ||
	    (s = find_slot(se, m.idx)) == NULL)
		return;
	se->sum->replies++;
	if (m.synack)
		close_synack(se, &r, &m.tag);
	if (m.tag.ttl == 0)
		direct_answer(se, s, m.port, &m.tag, &r,
			      m.icmp ? ANS_ICMP_UNREACH : m.synack ? ANS_SYNACK
								   : ANS_RST);
	else {
		scan_paths_answer(se->paths, &s->dst, (int)m.tag.ttl, &r.src,
				  m.tag.ttl < 32 && (s->unknown_ttls & 1u << m.tag.ttl));
		limited_answer(se->paths, s, m.port, &m.tag, &r.src,
			       limited_kind(s, &m, &r));
	}
}

/* Read the blocks the kernel has handed over, a few at most. */
static void drain_ring(struct scan_engine *se, struct rxring *ring)
{
	for (int n = 0; n < RX_BLOCKS; n++) {
		struct tpacket_block_desc *b =
			(void *)(ring->map + (size_t)ring->cur * RX_BLOCK);

		if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
		      TP_STATUS_USER))
			return;
		uint32_t npkts = b->hdr.bh1.num_pkts;
		size_t off = b->hdr.bh1.offset_to_first_pkt;

		for (uint32_t i = 0; i < npkts && off + sizeof(struct tpacket3_hdr) <= RX_BLOCK; i++) {
			const struct tpacket3_hdr *h = (const void *)((uint8_t *)b + off);

			if (h->tp_net + (size_t)h->tp_snaplen <= RX_BLOCK - off)
				on_packet(se, (const uint8_t *)h + h->tp_net,
					  h->tp_snaplen, h->tp_len);
			if (h->tp_next_offset == 0)
				break;
			off += h->tp_next_offset;
		}
		__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		ring->cur = (ring->cur + 1) % RX_BLOCKS;
	}
}

/* Read what is queued on fd, a few batches at most. */
static int drain(struct scan_engine *se, int fd, struct rxring *ring)
{
	static uint8_t bufs[BATCH][RXBUF];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];

	if (fd < 0)
		return 0;
	if (ring->map) {
		drain_ring(se, ring);
		return 0;
	}
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = RXBUF;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		for (int i = 0; i < n; i++) {
			size_t wire = mm[i].msg_len;

			on_packet(se, bufs[i], wire < RXBUF ? wire : RXBUF, wire);
		}
		if (n < BATCH)
			return 0;
	}
	return 0;
}

/* --------------------------------------------------------------- run */

/* Advance the slots whose timers in q are due (while the send ring has
 * room for a round). */
static void expire(struct scan_engine *se, struct fifo *q, int64_t now)
{
	while (q->len > 0 && q->t[q->head].due <= now &&
	       se->tx_len + 64 + 4 * SCAN_MAX_TTL < RING) {
		struct slot *s = &se->slots[q->t[q->head].slot];

		q->head = (q->head + 1) % q->cap;
		q->len--;
		advance(se, s);
	}
}

static void wait_io(struct scan_engine *se, int64_t until)
{
	struct pollfd pf[2];
	int n = 0;
	int64_t left = until - now_ns();

	if (left <= 0)
		return;
	if (left < 200000)           /* a short gap: spin, a sleep overshoots */
		return;
	if (se->recv4 >= 0)
		pf[n++] = (struct pollfd){ .fd = se->recv4, .events = POLLIN };
	if (se->recv6 >= 0)
		pf[n++] = (struct pollfd){ .fd = se->recv6, .events = POLLIN };
	struct timespec ts = { (time_t)(left / 1000000000), (long)(left % 1000000000) };

	(void)ppoll(pf, (nfds_t)n, &ts, NULL);
}

static void progress(struct scan_engine *se, int64_t now, int64_t *next)
{
	if (!se->p->progress || now < *next || !isatty(STDERR_FILENO))
		return;
	*next = now + 1000000000;
	fprintf(stderr, "\rscan: %llu/%llu targets, %llu probes, %.0f/s ",
		(unsigned long long)se->sum->completed,
		(unsigned long long)se->positions,
		(unsigned long long)se->sum->probes,
		(double)se->sum->probes / ((double)(now - se->start) / 1e9));
}

static void finish_stats(struct scan_engine *se, struct scan_summary *sum)
{
	sum->seconds = (double)(now_ns() - se->start) / 1e9;
	sum->rate = sum->seconds > 0 ? (double)sum->probes / sum->seconds : 0;
	if (se->p->progress && isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
}

static int run_loop(struct scan_engine *se, char *err, size_t errlen);

int scan_engine_run(struct scan_engine *se, struct scan_summary *sum,
		    char *err, size_t errlen)
{
	int rc;

	se->sum = sum;
	rc = run_loop(se, err, errlen);
	finish_stats(se, sum);
	return rc;
}

static int run_loop(struct scan_engine *se, char *err, size_t errlen)
{
	const struct scan_params *p = se->p;
	uint64_t total = p->targets->total;
	int64_t next_tick;

	scan_perm_init(&se->perm, total, p->seed);
	se->positions = scan_shard_size(total, p->shards, p->shard);
	se->start = se->last_fill = now_ns();
	next_tick = se->start + 1000000000;
	for (;;) {
		int64_t now = now_ns(), until;

		if (engine_stop) {
			snprintf(err, errlen, "%s", engine_stop_reason());
			return EX_TEMPFAIL;
		}
		if (drain(se, se->recv4, &se->ring4) < 0 ||
		    drain(se, se->recv6, &se->ring6) < 0) {
			snprintf(err, errlen, "receive: %s", strerror(errno));
			return EX_OSERR;
		}
		expire(se, &se->tq, now);
		expire(se, &se->dq, now);
		/* New targets while the queue is short: 10 ms of sending. */
		while (se->nfree > 0 && se->tx_len < 64 + p->rate / 100 &&
		       start_next(se))
			;
		if (pump(se, now) < 0) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return errno == EPERM || errno == EACCES ? EX_NOPERM : EX_OSERR;
		}
		if (se->err) {
			snprintf(err, errlen, "out of memory");
			return EX_OSERR;
		}
		progress(se, now, &next_tick);
		if (se->tq.len == 0 && se->dq.len == 0 && se->tx_len == 0 &&
		    se->next_pos >= se->positions)
			break;
		until = now + 100000000;
		if (se->tq.len && se->tq.t[se->tq.head].due < until)
			until = se->tq.t[se->tq.head].due;
		if (se->dq.len && se->dq.t[se->dq.head].due < until)
			until = se->dq.t[se->dq.head].due;
		if (se->tx_len > 0) {
			int64_t tok = now + (int64_t)((1.0 - se->tokens) * 1e9 / p->rate);

			if (tok < until)
				until = tok;
		}
		wait_io(se, until);
	}
	return 0;
}
