/*
 * analyze: follow TCP connections in captured packets and classify each
 * one with connect's result names. The connection table is bounded: a
 * keyed hash index over the 4-tuple; closed connections on a list of their
 * own, whose slots a new SYN takes first; open ones on a least-recently-
 * active list that the idle timeout eats from the old end, and that picks
 * the connection to evict when a new SYN still finds the table full.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "trace.h"

/* The slot: 16 bytes of the table's own, then the connection, laid out
 * so that what every packet reads is in the first two cache lines (see
 * struct an_conn); what only creating and finishing read comes last. */
struct an_slot {
	uint32_t hash;               /* its tuple_hash */
	int32_t lru_prev, lru_next;  /* most recently active first */
	uint8_t list;                /* LIST_OPEN, LIST_CLOSED, or 0 */
	uint8_t used;
	struct an_conn c;
	int32_t srv;                 /* its server's entry, -1 none (full) */
	int32_t hnext;               /* free list */
	uint64_t order;              /* creation order */
};
_Static_assert(offsetof(struct an_slot, c) == 16 &&
	       offsetof(struct an_slot, c.t_last) == 64 &&
	       offsetof(struct an_slot, c.data_acked) < 128,
	       "the slot's first lines hold what every packet reads");

static int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static int seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static size_t addr_len(const struct addr *x)
{
	return x->family == AF_INET6 ? 16 : 4;
}

/* An_slot.list: none, or which of a->lists (that index + 1). */
enum { LIST_OPEN = 1, LIST_CLOSED = 2 };

/* SipHash-2-4 (Aumasson and Bernstein), little-endian words. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* Up to 8 bytes as a little-endian word. */
static inline uint64_t le64(const uint8_t *p, size_t n)
{
	uint64_t w = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&w, p, n);
#else
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
#endif
	return w;
}

/* SipHash-c-d; c and d are constants at each call, so it unrolls. */
static inline uint64_t siphash_cd(const uint64_t key[2], const uint8_t *p,
				  size_t len, int c, int d)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i, 8);
		v3 ^= m;
		for (int r = 0; r < c; r++)
			SIPROUND;
		v0 ^= m;
	}
	m = le64(p + i, len - i) | (uint64_t)(len & 0xff) << 56;
	v3 ^= m;
	for (int r = 0; r < c; r++)
		SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	for (int r = 0; r < d; r++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t an_siphash(const uint64_t key[2], const void *data, size_t len)
{
	return siphash_cd(key, data, len, 2, 4);
}

uint64_t an_siphash13(const uint64_t key[2], const void *data, size_t len)
{
	return siphash_cd(key, data, len, 1, 3);
}

/* The per-packet hash's keys, drawn from a->key (SipHash-1-3 of their
 * index): a fresh set for every key. */
static void tuple_keys(struct analyzer *a)
{
	for (uint64_t i = 0; i < AN_TUPLE_KEYS; i++)
		a->tuple_key[i] = an_siphash13(a->key, &i, sizeof(i));
}

/* Bytes 4*i.. of an address, as a number: any fixed reading will do. */
static inline uint64_t word(const struct addr *x, int i)
{
	uint32_t w;

	memcpy(&w, (const uint8_t *)&x->u + 4 * i, 4);
	return w;
}

/*
 * The keyed hash of a connection's two endpoints, the same whichever
 * way a packet goes: the lesser endpoint (address, then port) first.
 * Once per packet, so the cheapest keyed hash that a crafted capture
 * cannot aim: multilinear hashing (Lemire and Kaser, "Strongly
 * universal string hashing is fast", 2014), k0 + sum of k_i * w_i
 * modulo 2^64 over the tuple's 32-bit words w_i with random 64-bit keys
 * k_i, its upper 32 bits. That family is strongly universal: for any
 * two tuples fixed before the keys were drawn, every pair of values is
 * equally likely, so any bits of it (the bucket index) collide with
 * probability 2^-bits. The capture cannot adapt to the keys: nothing of
 * the table's layout reaches the output.
 */
#define HOT static inline __attribute__((always_inline))

HOT uint32_t tuple_hash(const uint64_t *k, const struct addr *x,
			const struct addr *y, uint16_t xport, uint16_t yport)
{
	uint64_t h;

	if (x->family != AF_INET6) {
		/* Any fixed order of the endpoints will do. */
		uint64_t kx = (uint64_t)x->u.v4.s_addr << 16 | xport;
		uint64_t ky = (uint64_t)y->u.v4.s_addr << 16 | yport;
		uint64_t lo = kx < ky ? kx : ky, hi = kx < ky ? ky : kx;

		h = k[0] + k[1] * (lo >> 16) + k[2] * (hi >> 16) +
		    k[3] * ((lo & 0xffff) | (hi & 0xffff) << 16);
		return (uint32_t)(h >> 32);
	}
	int cmp = memcmp(&x->u, &y->u, 16);

	if (cmp > 0 || (cmp == 0 && xport > yport)) {
		const struct addr *t = x;
		uint16_t tp = xport;

		x = y, y = t;
		xport = yport, yport = tp;
	}
	h = k[4] + k[13] * (xport | (uint64_t)yport << 16);
	for (int i = 0; i < 4; i++)
		h += k[5 + i] * word(x, i) + k[9 + i] * word(y, i);
	return (uint32_t)(h >> 32);
}

/* addr_eq, inlined for the chain walk. */
static inline int same_addr(const struct addr *x, const struct addr *y)
{
	if (x->family != y->family)
		return 0;
	if (x->family == AF_INET)
		return memcmp(&x->u.v4, &y->u.v4, 4) == 0;
	if (x->family == AF_INET6)
		return memcmp(&x->u.v6, &y->u.v6, 16) == 0;
	return 1;
}

/* ------------------------------------------------------ classification */

static const char *const setup_names[] = {
	[SETUP_NONE] = "none", [SETUP_CLASSIC] = "classic",
	[SETUP_ACCECN] = "accecn",
};

const char *an_setup_name(enum an_setup s)
{
	return s <= SETUP_ACCECN ? setup_names[s] : "?";
}

const char *an_fwd_name(enum an_fwd f)
{
	static const char *const n[] = { "unknown", "kept", "bleached", "ce",
					 "mangled" };

	return f <= FWD_MANGLED ? n[f] : "?";
}

const char *an_result_name(int r)
{
	if (r == AR_NOT_ECN)
		return "not-ecn";
	if (r == AR_UNFINISHED)
		return "unfinished";
	if (r == AR_CE_ON_NOT_ECT)
		return "ce-on-not-ect";
	if (r == AR_ECT_ON_NOT_ECT)
		return "ect-on-not-ect";
	return r >= 0 && r < CR_COUNT ? conn_result_name((enum conn_result)r)
				       : "?";
}

int an_is_fault(int r)
{
	switch (r) {
	case CR_RESET_OTHER: case CR_RESET_SAME: case CR_ECT_DATA_LOST:
	case CR_DATA_UNACKED: case CR_SYN_ECN_RESET: case CR_SYN_ECN_DROPPED:
		return 1;
	default:
		/* no-answer and refused say nothing about ECN; declined,
		 * broken reflectors, CE marks and bleaching do not break
		 * the connection. */
		return 0;
	}
}

static int synack_ace(uint16_t fl)
{
	return (fl & TH_AE ? 4 : 0) | (fl & TH_CWR ? 2 : 0) |
	       (fl & TH_ECE ? 1 : 0);
}

static int classify(const struct an_conn *c, int dst_plain_synack,
		    int dst_plain_reset);

int an_classify(const struct an_conn *c, int dst_plain_synack,
		int dst_plain_reset)
{
	int r = classify(c, dst_plain_synack, dst_plain_reset);

	/* No ECN negotiated, yet data carried marks. */
	if (r == AR_NOT_ECN || r == CR_ECN_DECLINED ||
	    r == CR_BROKEN_REFLECTOR) {
		if (c->ce_marks)
			return AR_CE_ON_NOT_ECT;
		if (c->ect_marks)
			return AR_ECT_ON_NOT_ECT;
	}
	return r;
}

static int classify(const struct an_conn *c, int dst_plain_synack,
		    int dst_plain_reset)
{
	uint16_t fl = c->synack.flags;

	if (c->setup == SETUP_NONE)
		return AR_NOT_ECN;
	if (!c->have_synack) {
		if (c->syn_rst) {
			/* The plain SYN was reset too, or plain SYNs to this
			 * port are reset: a closed port, not ECN. */
			if (c->syn_rst_to_plain ||
			    (dst_plain_reset && !dst_plain_synack))
				return CR_REFUSED;
			return CR_SYN_ECN_RESET;
		}
		if (c->fallback)
			return CR_NO_ANSWER;     /* the plain SYN got nothing either */
		return dst_plain_synack ? CR_SYN_ECN_DROPPED : CR_NO_ANSWER;
	}
	/* RFC 3168 6.1.1.1 fallback: the ECN SYN got nothing (or an RST),
	 * the plain SYN that followed got the SYN-ACK. */
	if (c->synack_to_plain)
		return c->syn_rst ? CR_SYN_ECN_RESET : CR_SYN_ECN_DROPPED;
	if (c->have_rst && c->rst_after_ect)
		/* Same machine, same way back, same TTL; another hop count
		 * means another path, behind anycast another machine. */
		return c->rst_ttl == c->synack_ttl ? CR_RESET_SAME
						   : CR_RESET_OTHER;
	if (c->acked_after_retx)
		return CR_ECT_DATA_LOST;
	/* ECT data never acknowledged, and the client noticed (it resent or
	 * gave up): a capture that merely ends after the data is not this. */
	if (c->have_data && c->data_ecn != ECN_NOT_ECT && !c->data_acked &&
	    (c->data_retx > 0 || c->client_rst || c->client_fin))
		return CR_DATA_UNACKED;
	if (c->setup == SETUP_ACCECN) {
		int e = accecn_synack_ecn(synack_ace(fl));

		if (e == -3)
			return CR_BROKEN_REFLECTOR;
		if (e == -1)
			return CR_ECN_DECLINED;
		if (e >= 0) {
			if (e == ECN_NOT_ECT && c->syn_ecn != ECN_NOT_ECT)
				return CR_ECN_BLEACHED;
			if ((e == ECN_CE && c->syn_ecn != ECN_CE) ||
			    c->accecn_ce || c->ce_seen)
				return CR_CE_MARKED;
			return CR_OK;
		}
		/* 001: the server speaks classic ECN; judge it so. */
	}
	if ((fl & (TH_ECE | TH_CWR)) == (TH_ECE | TH_CWR))
		return CR_BROKEN_REFLECTOR;
	if (!(fl & TH_ECE))
		return CR_ECN_DECLINED;
	if (c->ece_acks > 0 || c->ce_seen)
		return CR_CE_MARKED;
	return CR_OK;
}

/* ------------------------------------------------------------- tables */

/* The list slot s belongs on: the closed one if it is closed. */
static inline int list_of(const struct an_slot *s)
{
	return s->c.closed ? LIST_CLOSED : LIST_OPEN;
}

/* A list's head: the slot past the table (slots[cap], slots[cap + 1]),
 * its lru_next the most recently active, its lru_prev the least; the
 * lists are circular through it, so linking needs no test. */
static inline int32_t list_head(const struct analyzer *a, int list)
{
	return (int32_t)a->cap + list - 1;
}

/* The least recently active slot on a list, -1 if it is empty. */
static inline int32_t list_tail(const struct analyzer *a, int list)
{
	int32_t t = a->slots[list_head(a, list)].lru_prev;

	return t == list_head(a, list) ? -1 : t;
}

/* Unlink slot i from whichever list holds it. */
static inline void lru_unlink(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];

	if (!s->list)
		return;
	a->lingering -= s->list == LIST_CLOSED;
	a->slots[s->lru_prev].lru_next = s->lru_next;
	a->slots[s->lru_next].lru_prev = s->lru_prev;
	s->lru_prev = s->lru_next = -1;
	s->list = 0;
}

/* Put slot i at the front of its list. */
static inline void lru_push(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];
	struct an_slot *h;

	s->list = (uint8_t)list_of(s);
	a->lingering += s->list == LIST_CLOSED;
	h = &a->slots[list_head(a, s->list)];
	s->lru_prev = list_head(a, s->list);
	s->lru_next = h->lru_next;
	a->slots[h->lru_next].lru_prev = i;
	h->lru_next = i;
}

/* Slot i was active at ts: its time, and to the front of its list
 * (unless it is there already). */
static inline void lru_touch(struct analyzer *a, int32_t i, int64_t ts)
{
	struct an_slot *s = &a->slots[i];
	int list = list_of(s);

	s->c.t_last = ts;
	if (s->list != list || a->slots[list_head(a, list)].lru_next != i) {
		lru_unlink(a, i);
		lru_push(a, i);
	}
}

/* The slots, zeroed. The table is touched as it fills: in huge pages
 * where the kernel allows them on request, a fault per 2 MiB rather
 * than per 4 KiB (the bench capture fills 25 MiB of it). */
static struct an_slot *slots_alloc(size_t cap)
{
	const uintptr_t huge = 2u << 20;
	struct an_slot *v = calloc(cap, sizeof(*v));
	uintptr_t lo = ((uintptr_t)v + huge - 1) & ~(huge - 1);
	uintptr_t hi = ((uintptr_t)v + cap * sizeof(*v)) & ~(huge - 1);

	if (v != NULL && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	return v;
}

int analyzer_init(struct analyzer *a, size_t cap, an_done_cb done, void *ctx)
{
	memset(a, 0, sizeof(*a));
	if (cap == 0)
		cap = AN_TABLE_DEFAULT;
	if (cap > AN_TABLE_MAX)
		cap = AN_TABLE_MAX;
	a->cap = cap;
	/* The index grows with the connections followed, up to twice the
	 * bound: a small one stays in the cache. */
	for (a->nbuckets_max = 16; a->nbuckets_max < 2 * cap;
	     a->nbuckets_max *= 2)
		;
	a->nbuckets = a->nbuckets_max < 1024 ? a->nbuckets_max : 1024;
	a->slots = slots_alloc(cap + 2);      /* and the two lists' heads */
	a->bucket = malloc(a->nbuckets * sizeof(*a->bucket));
	a->chain = malloc(cap * sizeof(*a->chain));
	servers_init(&a->servers, 0);
	if (a->slots == NULL || a->bucket == NULL || a->chain == NULL) {
		analyzer_free(a);
		return -1;
	}
	for (size_t i = 0; i < a->nbuckets; i++)
		a->bucket[i] = -1;
	a->free_head = -1;
	a->fresh = 0;
	for (int l = LIST_OPEN; l <= LIST_CLOSED; l++) {
		struct an_slot *h = &a->slots[list_head(a, l)];

		h->lru_prev = h->lru_next = list_head(a, l);
	}
	a->idle_ns = AN_IDLE_NS;
	a->linger_ns = AN_LINGER_NS;
	if (getrandom(a->key, sizeof(a->key), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(a->key)) {
		/* No entropy yet (early boot): something that varies. */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		a->key[0] = (uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec;
		a->key[1] = (uint64_t)getpid() ^ (uint64_t)(uintptr_t)a;
	}
	a->done = done;
	a->ctx = ctx;
	return 0;
}

void analyzer_free(struct analyzer *a)
{
	free(a->slots);
	free(a->bucket);
	free(a->chain);
	servers_free(&a->servers);
	a->slots = NULL;
	a->bucket = NULL;
	a->chain = NULL;
}

/* Per server and port: what plain SYNs got, as a hint for connections
 * whose ECN SYN got nothing or an RST, and the control for resets after
 * data. */
static uint32_t server_hash(const struct analyzer *a, const struct addr *server,
			    uint16_t dport)
{
	uint8_t b[18];
	size_t n = addr_len(server);

	memcpy(b, &server->u, n);
	memcpy(b + n, &dport, 2);
	return (uint32_t)an_siphash(a->key, b, n + 2);
}

static const struct an_dst *dst_get(const struct analyzer *a,
				    const struct an_conn *c)
{
	return servers_get(&a->servers, server_hash(a, &c->server, c->dport),
			   &c->server, c->dport);
}

/* The entry of slot s's server, NULL if it found no room. */
static struct an_dst *dst_of(struct analyzer *a, const struct an_slot *s)
{
	return s->srv >= 0 ? &a->servers.v[s->srv] : NULL;
}

static enum an_verdict verdict(const struct an_dst *d)
{
	if (d == NULL || d->plain_data == 0)
		return CTL_NO_PLAIN;
	/* The plain rate at least half the ECN rate. */
	if (d->plain_data_reset > 0 &&
	    2 * (uint64_t)d->plain_data_reset * d->ecn_data >=
	    (uint64_t)d->ecn_data_reset * d->plain_data)
		return CTL_PLAIN_TOO;
	return CTL_ECN_ONLY;
}

enum an_verdict an_dst_control(const struct an_dst *d, struct an_ctl *out)
{
	memset(out, 0, sizeof(*out));
	if (d != NULL) {
		out->plain_data = d->plain_data;
		out->plain_reset = d->plain_data_reset;
		out->ecn_data = d->ecn_data;
		out->ecn_reset = d->ecn_data_reset;
	}
	out->verdict = verdict(d);
	return out->verdict;
}

enum an_verdict an_control(const struct analyzer *a, const struct an_conn *c,
			   struct an_ctl *out)
{
	const struct an_dst *d = dst_get(a, c);

	an_dst_control(d, out);
	if (d == NULL && a->server_full)
		out->verdict = CTL_NO_ROOM;
	return out->verdict;
}

enum an_finding an_server_finding(const struct an_dst *d)
{
	uint32_t reset = d->ecn_reset_faults;
	uint32_t syn = d->ecn_results[CR_SYN_ECN_RESET] +
		       d->ecn_results[CR_SYN_ECN_DROPPED];
	uint32_t data = d->ecn_results[CR_ECT_DATA_LOST] +
			d->ecn_results[CR_DATA_UNACKED];

	if (reset > 0 && reset >= syn && reset >= data)
		return SF_RESET;
	if (syn > 0 && syn >= data)
		return SF_SYN;
	if (data > 0)
		return SF_DATA_LOST;
	if (d->reset_plain_too > 0)
		return SF_RESET_PLAIN_TOO;
	return d->ecn_conns ? SF_OK : SF_NO_ECN;
}

const char *an_finding_name(enum an_finding f)
{
	static const char *const n[] = {
		[SF_NO_ECN] = "no-ecn", [SF_OK] = "ok", [SF_RESET] = "ecn-reset",
		[SF_RESET_PLAIN_TOO] = "reset-plain-too",
		[SF_SYN] = "ecn-syn-refused", [SF_DATA_LOST] = "ect-data-lost",
	};

	return f <= SF_DATA_LOST ? n[f] : "?";
}

static void hop_set(uint64_t bits[4], uint8_t ttl)
{
	int h = return_hops(ttl);

	h = h < 1 ? 1 : h > 255 ? 255 : h;
	bits[h / 64] |= 1ULL << (h % 64);
}

int an_hops(const uint64_t bits[4], int *out, int max)
{
	int n = 0;

	for (int h = 0; h < 256; h++)
		if (bits[h / 64] >> (h % 64) & 1) {
			if (n < max)
				out[n] = h;
			n++;
		}
	return n;
}

/* A finished connection in its server's summary. */
static void server_count(struct an_dst *d, const struct an_conn *c,
			 uint64_t order)
{
	if (d->ecn_conns + d->plain_conns == 0)
		d->first_seen = order;
	if (c->setup == SETUP_NONE) {
		d->plain_conns++;
		d->plain_results[c->result]++;
	} else {
		d->ecn_conns++;
		d->ecn_results[c->result]++;
	}
	d->faults += (uint32_t)c->fault;
	if (c->have_synack)
		hop_set(d->synack_hops, c->synack_ttl);
	if (c->have_rst)
		hop_set(d->rst_hops, c->rst_ttl);
}

const char *an_verdict_name(enum an_verdict v)
{
	switch (v) {
	case CTL_ECN_ONLY: return "ecn-only";
	case CTL_PLAIN_TOO: return "plain-too";
	case CTL_NO_ROOM: return "no-room";
	default: return "no-plain";
	}
}

/*
 * The slot of the connection src:sport -> dst:dport (h: its tuple_hash),
 * *from_client 1, or of dst:dport -> src:sport, *from_client 0; -1. The
 * index holds at most one connection of a pair of endpoints, whichever
 * way (a SYN that matches one the other way is not followed), so the
 * first match is the answer: the chain's older slots, long out of the
 * cache, are not read.
 */
HOT int32_t find(const struct analyzer *a, uint32_t h, const struct addr *src,
		 const struct addr *dst, uint16_t sport, uint16_t dport,
		 int *from_client)
{
	for (int32_t i = a->bucket[h & (a->nbuckets - 1)]; i >= 0;
	     i = a->chain[i]) {
		const struct an_conn *c;

		if (a->slots[i].hash != h)
			continue;
		c = &a->slots[i].c;
		if (c->sport == sport && c->dport == dport &&
		    same_addr(&c->client, src) && same_addr(&c->server, dst)) {
			*from_client = 1;
			return i;
		}
		if (c->sport == dport && c->dport == sport &&
		    same_addr(&c->client, dst) && same_addr(&c->server, src)) {
			*from_client = 0;
			return i;
		}
	}
	*from_client = 0;
	return -1;
}

static int missing_evidence(const struct an_conn *c)
{
	if (c->result == CR_SYN_ECN_DROPPED)
		return !c->have_synack;
	if (c->result == CR_DATA_UNACKED)
		return !c->client_rst && !c->client_fin;
	return 0;
}

/* Classify slot i, count it, hand it over, and free the slot. */
static void finish(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];
	struct an_conn *c = &s->c;
	struct an_dst *dd = dst_of(a, s);
	const struct an_dst *d = dd;
	int32_t *pp = &a->bucket[s->hash & (a->nbuckets - 1)];

	c->result = an_classify(c, d ? d->plain_synack > 0 : 0,
				d ? d->plain_reset > 0 : 0);
	/* Followed too briefly to tell: whatever it lacked may have come
	 * after. Never a fault. Still open at the end only matters to the
	 * faults told by something missing: no SYN-ACK yet, no ACK yet. */
	if (an_is_fault(c->result) &&
	    (c->evicted || (c->unfinished && missing_evidence(c)))) {
		c->would_be = c->result;
		c->result = AR_UNFINISHED;
	}
	c->fault = an_is_fault(c->result);
	if (dd != NULL)
		server_count(dd, c, s->order);
	if (dd != NULL && c->have_data && c->have_synack && !c->evicted &&
	    c->result != AR_UNFINISHED) {
		int reset = c->have_rst && c->rst_after_data;

		if (c->setup == SETUP_NONE) {
			dd->plain_data++;
			dd->plain_data_reset += (uint32_t)reset;
		} else {
			dd->ecn_data++;
			dd->ecn_data_reset += (uint32_t)reset;
			dd->ecn_reset_faults += c->result == CR_RESET_OTHER ||
						c->result == CR_RESET_SAME;
		}
	}
	a->server_full += (uint64_t)c->server_full;
	a->unfinished += (uint64_t)c->unfinished;
	a->timed_out += (uint64_t)c->timed_out;
	a->counts[c->result]++;
	a->faults += (uint64_t)c->fault;
	if (a->done)
		a->done(a->ctx, c);

	while (*pp >= 0 && *pp != i)
		pp = &a->chain[*pp];
	if (*pp == i)
		*pp = a->chain[i];
	lru_unlink(a, i);
	s->used = 0;
	s->hnext = a->free_head;
	a->free_head = i;
	a->active--;
}

/* Twice as many buckets, the chains rebuilt from the stored hashes; on
 * no memory the index keeps its size (longer chains, same answers). */
static void grow_index(struct analyzer *a)
{
	size_t n = 2 * a->nbuckets;
	int32_t *b = realloc(a->bucket, n * sizeof(*b));

	if (b == NULL)
		return;
	a->bucket = b;
	a->nbuckets = n;
	for (size_t k = 0; k < n; k++)
		b[k] = -1;
	for (size_t k = 0; k < a->fresh; k++) {
		uint32_t h = a->slots[k].hash;

		if (!a->slots[k].used)
			continue;
		a->chain[k] = b[h & (n - 1)];
		b[h & (n - 1)] = (int32_t)k;
	}
}

/* Whether the closed connection at the tail (quiet for longest) gives a
 * new one its slot: when the table is full, or when AN_LINGER_MAX or more
 * linger and it has been quiet for AN_LINGER_MIN_NS (then a busy
 * capture's slots stay few, and in the cache, rather than filling the
 * table). */
static int room_lingering(const struct analyzer *a)
{
	int32_t t = list_tail(a, LIST_CLOSED);

	if (t < 0)
		return 0;
	return a->fresh == a->cap ||
	       (a->lingering >= AN_LINGER_MAX &&
		a->t_now - a->slots[t].c.t_last >= AN_LINGER_MIN_NS);
}

static int32_t create(struct analyzer *a, const struct pkt_reply *r,
		      uint32_t h, int64_t ts)
{
	int32_t i;
	struct an_slot *s;

	if (a->free_head < 0 && room_lingering(a)) {
		/* A closed connection makes room, finished as it is. */
		finish(a, list_tail(a, LIST_CLOSED));
	} else if (a->free_head < 0 && a->fresh == a->cap) {
		/* Full of open ones: the one quiet for longest is evicted. */
		i = list_tail(a, LIST_OPEN);
		a->slots[i].c.evicted = 1;
		a->evicted++;
		finish(a, i);
	}
	/* Grow before the new slot is marked used: its stored hash is still
	 * its last occupant's (or none), which the rebuild must not see. */
	if (a->active >= a->nbuckets / 2 && a->nbuckets < a->nbuckets_max)
		grow_index(a);
	if (a->free_head >= 0) {
		i = a->free_head;
		a->free_head = a->slots[i].hnext;
	} else {
		i = (int32_t)a->fresh++;
	}
	s = &a->slots[i];
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->order = a->seq++;
	/* Only the family's bytes: parse_fast leaves the rest of a v4
	 * address as it was (another packet's, or uninitialised). */
	s->c.client.family = r->src.family;
	s->c.server.family = r->dst.family;
	memcpy(&s->c.client.u, &r->src.u, addr_len(&r->src));
	memcpy(&s->c.server.u, &r->dst.u, addr_len(&r->dst));
	s->c.sport = r->tcp.sport;
	s->c.dport = r->tcp.dport;
	s->c.t_first = ts;
	s->hash = h;
	a->chain[i] = a->bucket[h & (a->nbuckets - 1)];
	a->bucket[h & (a->nbuckets - 1)] = i;
	{
		int full = 0;
		struct an_dst *d = servers_find(&a->servers,
			server_hash(a, &r->dst, r->tcp.dport), &r->dst,
			r->tcp.dport, 1, &full);

		s->srv = d ? (int32_t)(d - a->servers.v) : -1;
		s->c.server_full = full;
	}
	s->lru_prev = s->lru_next = -1;
	lru_push(a, i);
	a->active++;
	a->connections++;
	return i;
}

/* ------------------------------------------------------------ segments */

static enum an_setup syn_setup(uint16_t fl)
{
	if ((fl & (TH_ECE | TH_CWR)) != (TH_ECE | TH_CWR))
		return SETUP_NONE;
	return fl & TH_AE ? SETUP_ACCECN : SETUP_CLASSIC;
}

static void client_syn(struct analyzer *a, struct an_slot *s,
		       const struct pkt_reply *r, int64_t ts)
{
	struct an_conn *c = &s->c;
	enum an_setup setup = syn_setup(r->tcp.flags);

	if (c->syns++ == 0) {
		c->setup = setup;
		c->client_isn = r->tcp.seq;
		c->snd_max = r->tcp.seq + 1;
		c->t_syn = ts;
		c->syn_ecn = r->tos & 3;
		if (setup != SETUP_NONE)
			a->ecn_connections++;
	}
	if (setup != SETUP_NONE)
		c->ecn_syns++;
	else if (c->ecn_syns > 0 && !c->have_synack)
		c->fallback = 1;
	s->c.last_syn_plain = (uint8_t)(setup == SETUP_NONE);
}

/* A data segment's ECN field, for the marks on connections without ECN. */
static void mark(struct an_conn *c, int ecn, uint8_t ttl, int from_server)
{
	if (ecn == ECN_CE && c->ce_marks++ == 0) {
		c->ce_mark_ttl = ttl;
		c->ce_mark_from_server = from_server;
	} else if ((ecn == ECN_ECT0 || ecn == ECN_ECT1) &&
		   c->ect_marks++ == 0) {
		c->ect_mark_ttl = ttl;
		c->ect_mark_from_server = from_server;
	}
}

static void client_seg(struct an_slot *s, const struct pkt_reply *r,
		       size_t missing, int64_t ts)
{
	struct an_conn *c = &s->c;
	const struct tcp_seg *t = &r->tcp;
	size_t plen = t->payload_len + missing;
	int ecn = r->tos & 3;

	if (t->flags & TH_RST) {
		c->client_rst = 1;
		if (c->have_synack)
			c->closed = 1;
		return;
	}
	if (t->flags & TH_FIN) {
		c->client_fin = 1;
		c->closed |= c->server_fin;
	}
	if (t->flags & TH_ACK) {
		s->c.have_client_ack = 1;
		s->c.client_ack = t->ack;
	}
	if (plen == 0)
		return;
	uint32_t end = t->seq + (uint32_t)plen;

	if (ecn == ECN_CE)
		c->ce_seen = 1;
	mark(c, ecn, r->ttl, 0);
	if (!c->have_data) {
		c->have_data = 1;
		c->t_data = ts;
		c->data_ecn = (uint8_t)ecn;
		c->data_seq = t->seq;
		c->data_end = end;
	} else if (seq_lt(t->seq, c->snd_max)) {
		c->data_retx++;
		/* RFC 3168 6.1.5: a resend goes Not-ECT. If it carries the
		 * first segment, sent ECT and not yet acknowledged, and is
		 * acknowledged, the ECT copy was what got lost. */
		if (ecn == ECN_NOT_ECT && c->data_ecn != ECN_NOT_ECT &&
		    !c->data_acked && !seq_gt(t->seq, c->data_seq) &&
		    seq_gt(end, c->data_seq))
			c->retx_not_ect = 1;
	}
	c->data_segs++;
	if (ecn != ECN_NOT_ECT)
		c->ect_data = 1;
	if (seq_gt(end, c->snd_max))
		c->snd_max = end;
}

static void server_seg(struct analyzer *a, struct an_slot *s,
		       const struct pkt_reply *r, int64_t ts)
{
	struct an_conn *c = &s->c;
	const struct tcp_seg *t = &r->tcp;
	uint16_t fl = t->flags;

	if (fl & TH_RST) {
		/* An RST+ACK whose ACK covers the first data segment says
		 * the data arrived (Linux closing with unread data): it
		 * answers no lost or refused ECT data. */
		if ((fl & TH_ACK) && c->have_data && !c->data_acked &&
		    seq_gt(t->ack, c->data_seq))
			c->data_acked = 1;
		/* Keep the first RST, unless it answered a SYN and this is
		 * the first since the SYN-ACK: that one tells about the data. */
		c->rsts++;
		c->closed |= c->have_synack;
		if (c->have_rst && (c->rst_post_synack || !c->have_synack))
			return;
		c->have_rst = 1;
		c->rst_post_synack = c->have_synack;
		c->t_rst = ts;
		c->rst_ttl = r->ttl;
		c->rst_tos = r->tos;
		c->rst_flags = fl;
		c->rst_ip_id = r->ip_id;
		c->rst_ts = t->have_ts;
		c->rst_seq_is_ack = s->c.have_client_ack && t->seq == s->c.client_ack;
		if (!c->have_synack) {
			c->syn_rst = 1;
			c->syn_rst_to_plain = s->c.last_syn_plain;
			if (s->c.last_syn_plain) {
				struct an_dst *d = dst_of(a, s);

				if (d != NULL)
					d->plain_reset++;
			}
		} else if (c->have_data && !c->data_acked) {
			c->rst_after_data = 1;
			c->rst_after_ect = c->ect_data;
		}
		return;
	}
	if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
		c->synacks++;
		if (c->have_synack)
			return;
		c->have_synack = 1;
		c->t_synack = ts;
		c->synack_ttl = r->ttl;
		c->synack_tos = r->tos;
		c->synack_ip_id = r->ip_id;
		c->synack = (struct an_synack){
			.flags = t->flags, .window = t->window, .mss = t->mss,
			.wscale = t->wscale, .have_mss = (uint8_t)!!t->have_mss,
			.have_wscale = (uint8_t)!!t->have_wscale,
			.sack_ok = (uint8_t)!!t->sack_ok,
			.have_ts = (uint8_t)!!t->have_ts,
		};
		c->server_isn = t->seq;
		if (c->setup == SETUP_ACCECN) {
			int e = accecn_synack_ecn(synack_ace(fl));

			c->syn_arrived = e;
			c->fwd = e < 0 ? FWD_UNKNOWN
			       : e == c->syn_ecn ? FWD_KEPT
			       : e == ECN_CE ? FWD_CE
			       : e == ECN_NOT_ECT ? FWD_BLEACHED : FWD_MANGLED;
		}
		/* An answer without ECE after the fallback answered the
		 * plain SYN. */
		c->synack_to_plain = c->fallback && !(fl & TH_ECE);
		if (c->setup == SETUP_NONE || c->synack_to_plain) {
			struct an_dst *d = dst_of(a, s);

			if (d != NULL)
				d->plain_synack++;
		}
		return;
	}
	if (fl & TH_SYN)
		return;                  /* a SYN from the server side: ignore */
	if (fl & TH_FIN) {
		c->server_fin = 1;
		c->closed |= c->client_fin;
	}
	if (t->payload_len > 0 && (r->tos & 3) == ECN_CE)
		c->ce_seen = 1;
	if (t->payload_len > 0)
		mark(c, r->tos & 3, r->ttl, 1);
	if (!(fl & TH_ACK))
		return;
	if (!c->have_acked || seq_gt(t->ack, c->acked)) {
		c->acked = t->ack;
		c->have_acked = 1;
	}
	if (c->have_data && !c->data_acked && seq_gt(t->ack, c->data_seq)) {
		c->data_acked = 1;
		c->acked_after_retx = c->retx_not_ect;
	}
	if (!c->have_synack)
		return;
	if (c->setup == SETUP_ACCECN &&
	    accecn_synack_ecn(synack_ace(c->synack.flags)) >= 0) {
		/* RFC 9768 3.2.2.1: the ACE counter starts at 5; any other
		 * value counts CE marks the server received. */
		if (synack_ace(fl) != 5)
			c->accecn_ce = 1;
	} else if (fl & TH_ECE) {
		c->ece_acks++;
	}
}

/*
 * A segment without options that is no SYN (most of a capture): only
 * what analyze reads of a segment that is no SYN (ports, sequence and
 * acknowledgment numbers, flags, the timestamp option's presence, the
 * payload length), as pkt_parse_tcp would set them; the rest (the
 * window, the other options) is left unset, for only a SYN-ACK's is
 * kept. Returns 0, or -1 to leave the segment to pkt_parse_tcp.
 */
static int tcp_fast(const uint8_t *b, size_t len, struct tcp_seg *t)
{
	if (len < 20 || b[12] >> 4 != 5 || (b[13] & TH_SYN))
		return -1;
	t->sport = (uint16_t)(b[0] << 8 | b[1]);
	t->dport = (uint16_t)(b[2] << 8 | b[3]);
	t->seq = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
		 (uint32_t)b[6] << 8 | b[7];
	t->ack = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 |
		 (uint32_t)b[10] << 8 | b[11];
	t->flags = (uint16_t)(b[13] | (b[12] & 1) << 8);
	t->have_ts = 0;
	t->payload_len = len - 20;
	return 0;
}

/*
 * The common case read directly: a whole IPv4 packet (not a later
 * fragment) or an IPv6 one without extension headers, carrying TCP, its
 * length field within what was captured. Fills what analyze reads of a
 * TCP reply (kind, addresses, TTL, TOS, IP ID, the segment), as
 * pkt_parse would. Returns 0, or -1 to leave the packet to pkt_parse
 * (anything else, including what pkt_parse refuses).
 */
static int parse_fast(const uint8_t *b, size_t len, struct pkt_reply *r)
{
	size_t hl, total;

	if (len >= 20 && b[0] == 0x45) {
		hl = 20;
		total = (size_t)b[2] << 8 | b[3];
		if (b[9] != IPPROTO_TCP || total < hl || total > len ||
		    ((b[6] & 0x1f) | b[7]) != 0)
			return -1;
		r->src.family = r->dst.family = AF_INET;
		memcpy(&r->src.u.v4, b + 12, 4);
		memcpy(&r->dst.u.v4, b + 16, 4);
		r->ttl = b[8];
		r->tos = b[1];
		r->ip_id = (uint16_t)(b[4] << 8 | b[5]);
	} else if (len >= 40 && b[0] >> 4 == 6) {
		hl = 40;
		total = ((size_t)b[4] << 8 | b[5]) + 40;
		if (b[6] != IPPROTO_TCP || total == 40 || total > len)
			return -1;
		r->src.family = r->dst.family = AF_INET6;
		memcpy(&r->src.u.v6, b + 8, 16);
		memcpy(&r->dst.u.v6, b + 24, 16);
		r->ttl = b[7];
		r->tos = (uint8_t)((b[0] << 4 | b[1] >> 4) & 0xff);
		r->ip_id = 0;
	} else {
		return -1;
	}
	r->kind = REPLY_TCP;
	if (tcp_fast(b + hl, total - hl, &r->tcp) == 0)
		return 0;
	return pkt_parse_tcp(b + hl, total - hl, &r->tcp) < 0 ? -1 : 0;
}

/*
 * Parse a packet; when the snap length cut it after its headers, let the
 * parser see what is there as if it were the whole packet and report how
 * many payload bytes the cut took (*missing).
 */
static int parse_ip(const uint8_t *buf, size_t len, size_t wire_len,
		    struct pkt_reply *r, size_t *missing)
{
	uint8_t tmp[256];
	size_t n, claimed;

	*missing = 0;
	if (parse_fast(buf, len, r) == 0 || pkt_parse(buf, len, r) == 0)
		return 0;
	if (wire_len <= len || len < 20)
		return -1;
	n = len < sizeof(tmp) ? len : sizeof(tmp);
	memcpy(tmp, buf, n);
	switch (tmp[0] >> 4) {
	case 4:
		claimed = (size_t)tmp[2] << 8 | tmp[3];
		if (claimed <= n || claimed > wire_len)
			return -1;
		tmp[2] = (uint8_t)(n >> 8);
		tmp[3] = (uint8_t)n;
		break;
	case 6:
		if (n < 40)
			return -1;
		claimed = ((size_t)tmp[4] << 8 | tmp[5]) + 40;
		if (claimed <= n || claimed > wire_len)
			return -1;
		tmp[4] = (uint8_t)((n - 40) >> 8);
		tmp[5] = (uint8_t)(n - 40);
		break;
	default:
		return -1;
	}
	if (pkt_parse(tmp, n, r) < 0)
		return -1;
	*missing = claimed - n;
	return 1;
}

/* An ICMP error quoting a segment of a connection we follow: recorded
 * on it. Returns whether it was one. */
static int icmp_error(struct analyzer *a, const struct pkt_reply *r)
{
	const struct quote *q = &r->q;
	struct an_conn *c;
	int32_t i;
	int to_client = 1;

	if ((r->kind != REPLY_UNREACH && r->kind != REPLY_TIME_EXCEEDED &&
	     r->kind != REPLY_PKT_TOO_BIG) || !r->has_quote ||
	    q->proto != IPPROTO_TCP || q->l4_len < 8)
		return 0;
	i = find(a, tuple_hash(a->tuple_key, &q->src, &q->dst, q->sport, q->dport),
		 &q->src, &q->dst, q->sport, q->dport, &to_client);
	if (i < 0)
		return 0;
	c = &a->slots[i].c;
	if (c->icmp_errors++ == 0) {
		c->icmp_type = r->icmp_type;
		c->icmp_code = r->icmp_code;
		c->icmp_from = r->src;
		c->icmp_quoted_ecn = q->tos & 3;
		c->icmp_quoted_flags = q->l4_len >= 14 ? q->tcp_flags : 0;
		c->icmp_to_client = to_client;
	}
	a->icmp_matched++;
	return 1;
}

/* When the connection at a list's tail would be due (t + ns, at most
 * INT64_MAX); an empty list's next one comes no earlier than t_now. */
static int64_t due(const struct analyzer *a, int list, int64_t ns)
{
	int32_t i = list_tail(a, list);
	int64_t t = i >= 0 ? a->slots[i].c.t_last : a->t_now;

	return t > INT64_MAX - ns ? INT64_MAX : t + ns;
}

/* Finish closed connections past their linger, open ones past the idle
 * timeout: the oldest are at the tails. */
static void expire(struct analyzer *a)
{
	int32_t i;

	while ((i = list_tail(a, LIST_CLOSED)) >= 0 &&
	       a->t_now - a->slots[i].c.t_last >= a->linger_ns)
		finish(a, i);
	while ((i = list_tail(a, LIST_OPEN)) >= 0 &&
	       a->t_now - a->slots[i].c.t_last >= a->idle_ns) {
		a->slots[i].c.timed_out = 1;
		finish(a, i);
	}
	/* The closed tail is the next to finish, its slot long out of the
	 * cache: fetch it, and the head of its chain, while other packets
	 * are read. */
	if ((i = list_tail(a, LIST_CLOSED)) >= 0) {
		for (size_t off = 0; off < sizeof(struct an_slot); off += 64)
			__builtin_prefetch((const char *)&a->slots[i] + off);
		__builtin_prefetch(&a->bucket[a->slots[i].hash &
					      (a->nbuckets - 1)]);
	}
	/* While capture times only grow, a list's tail is its oldest and
	 * a later tail no older: nothing is due before the earlier of the
	 * two tails' times. */
	a->quiet_until = due(a, LIST_CLOSED, a->linger_ns);
	if (due(a, LIST_OPEN, a->idle_ns) < a->quiet_until)
		a->quiet_until = due(a, LIST_OPEN, a->idle_ns);
}

void analyzer_keys(struct analyzer *a)
{
	if (!a->keyed) {
		tuple_keys(a);
		a->keyed = 1;
	}
}

/* The first half of a packet's work, which reads nothing of the analyzer
 * but its keys (tuple_key, or a copy): parse it into *p and hash it. */
void analyzer_take(const uint64_t *key, const uint8_t *buf, size_t len,
		   size_t wire_len, int64_t ts, struct an_pending *p)
{
	const struct pkt_reply *r = &p->r;

	p->ts = ts;
	p->rc = parse_ip(buf, len, wire_len, &p->r, &p->missing);
	if (p->rc < 0 || r->kind != REPLY_TCP)
		return;
	p->h = tuple_hash(key, &r->src, &r->dst, r->tcp.sport, r->tcp.dport);
}

/* Ask the cache for a taken packet's index entry and the slot it leads
 * to, which another packet's second half may meanwhile change (a fetch
 * is only a hint). */
static inline void hint(const struct analyzer *a, const struct an_pending *p)
{
	int32_t i;

	if (p->rc < 0 || p->r.kind != REPLY_TCP)
		return;
	i = a->bucket[p->h & (a->nbuckets - 1)];
	if (i >= 0) {
		__builtin_prefetch(&a->slots[i]);
		__builtin_prefetch((const char *)&a->slots[i] + 64);
	}
}

static void take(struct analyzer *a, const uint8_t *buf, size_t len,
		 size_t wire_len, int64_t ts, struct an_pending *p)
{
	analyzer_keys(a);
	analyzer_take(a->tuple_key, buf, len, wire_len, ts, p);
	hint(a, p);
}

/* The second half: the packet taken into *p, followed. The return value
 * of analyzer_packet(). */
static int follow(struct analyzer *a, struct an_pending *p)
{
	const struct pkt_reply *r = &p->r;
	int64_t ts = p->ts;
	int32_t i;
	int from_client = 1;

	a->packets++;
	if (ts > a->t_now)
		a->t_now = ts;
	else if (ts < a->t_now)
		a->time_back = 1;        /* from now on, look every time */
	if (a->t_now >= a->quiet_until || a->time_back)
		expire(a);
	if (p->rc < 0) {
		a->skipped++;
		return -1;
	}
	if (r->kind != REPLY_TCP) {
		a->not_tcp++;
		return icmp_error(a, r) ? 0 : 1;
	}
	a->snapped += p->rc == 1;
	i = find(a, p->h, &r->src, &r->dst, r->tcp.sport, r->tcp.dport,
		 &from_client);
	if ((r->tcp.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
		if (i >= 0 && !from_client) {
			a->untracked++;          /* simultaneous open: not ours */
			return 1;
		}
		/* A new initial sequence number on the same ports is a new
		 * connection; the same one is a retransmitted SYN. */
		if (i >= 0 && r->tcp.seq != a->slots[i].c.client_isn) {
			finish(a, i);
			i = -1;
		}
		if (i < 0)
			i = create(a, r, p->h, ts);
		from_client = 1;
		client_syn(a, &a->slots[i], r, ts);
	} else if (i < 0) {
		a->untracked++;
		return 1;
	} else if (from_client) {
		client_seg(&a->slots[i], r, p->missing, ts);
	} else {
		server_seg(a, &a->slots[i], r, ts);
	}
	a->slots[i].c.packets++;
	lru_touch(a, i, ts);
	return 0;
}

int analyzer_packet(struct analyzer *a, const uint8_t *buf, size_t len,
		    size_t wire_len, int64_t ts)
{
	struct an_pending p;

	analyzer_flush(a);
	take(a, buf, len, wire_len, ts, &p);
	return follow(a, &p);
}

void analyzer_feed(struct analyzer *a, const uint8_t *buf, size_t len,
		   size_t wire_len, int64_t ts)
{
	struct an_pending *p = &a->pending[a->npending & 1];

	take(a, buf, len, wire_len, ts, p);
	if (a->npending++ > 0)
		(void)follow(a, &a->pending[a->npending & 1]);
}

void analyzer_follow(struct analyzer *a, struct an_pending *p, size_t n)
{
	analyzer_flush(a);
	for (size_t k = 0; k < n; k++) {
		if (k + 6 < n) {
			__builtin_prefetch(&p[k + 6]);
			__builtin_prefetch((const char *)&p[k + 6] + 64);
		}
		if (k + 1 < n)
			hint(a, &p[k + 1]);
		(void)follow(a, &p[k]);
	}
}

void analyzer_flush(struct analyzer *a)
{
	if (a->npending > 0)
		(void)follow(a, &a->pending[(a->npending - 1) & 1]);
	a->npending = 0;
}

/* A slot still in use at the end, by its creation order. */
struct an_open { uint64_t order; int32_t i; };

static int by_order(const void *x, const void *y)
{
	const struct an_open *p = x, *q = y;

	return p->order < q->order ? -1 : p->order > q->order;
}

/* Finish the n connections of v in creation order. Orders are unique:
 * when they span at most 4n values (the usual end of a capture, the
 * connections still open or lingering being the latest), each goes to
 * its place in an array of the span, no sort; else they are sorted. */
static void finish_in_order(struct analyzer *a, struct an_open *v, size_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	int32_t *at = NULL;

	for (size_t i = 0; i < n; i++) {
		lo = v[i].order < lo ? v[i].order : lo;
		hi = v[i].order > hi ? v[i].order : hi;
	}
	if (n > 0 && hi - lo < 4 * (uint64_t)n)
		at = malloc((size_t)(hi - lo + 1) * sizeof(*at));
	if (at == NULL) {
		qsort(v, n, sizeof(*v), by_order);
		for (size_t i = 0; i < n; i++)
			finish(a, v[i].i);
		return;
	}
	for (uint64_t k = 0; k <= hi - lo; k++)
		at[k] = -1;
	for (size_t i = 0; i < n; i++)
		at[v[i].order - lo] = v[i].i;
	for (uint64_t k = 0; k <= hi - lo; k++)
		if (at[k] >= 0)
			finish(a, at[k]);
	free(at);
}

/* The whole capture seen: resets that plain connections to the same
 * server got as often are no faults. */
static void control(struct analyzer *a)
{
	for (size_t i = 0; i < a->servers.n; i++) {
		struct an_dst *d = &a->servers.v[i];

		if (verdict(d) != CTL_PLAIN_TOO)
			continue;
		a->faults -= d->ecn_reset_faults;
		a->reset_plain_too += d->ecn_reset_faults;
		d->faults -= d->ecn_reset_faults;
		d->reset_plain_too += d->ecn_reset_faults;
		d->ecn_reset_faults = 0;
	}
}

void analyzer_finish(struct analyzer *a)
{
	struct an_open *v;
	size_t n = 0;

	if (a->slots == NULL)
		return;
	analyzer_flush(a);
	if (a->active == 0) {
		control(a);
		return;
	}
	v = malloc(a->active * sizeof(*v));
	for (size_t i = 0; i < a->fresh; i++) {
		struct an_conn *c = &a->slots[i].c;

		if (!a->slots[i].used)
			continue;
		/* Past the idle timeout is finished; closed is finished. */
		if (c->closed)
			;
		else if (a->t_now - c->t_last >= a->idle_ns)
			c->timed_out = 1;
		else
			c->unfinished = 1;
		if (v != NULL) {
			v[n].order = a->slots[i].order;
			v[n++].i = (int32_t)i;
		}
	}
	if (v == NULL) {
		/* No room to sort: finish them least recently active first. */
		int32_t i;

		while ((i = list_tail(a, LIST_CLOSED)) >= 0)
			finish(a, i);
		while ((i = list_tail(a, LIST_OPEN)) >= 0)
			finish(a, i);
		control(a);
		return;
	}
	/* By the keys, not the slots: no slot read to put them in order. */
	finish_in_order(a, v, n);
	free(v);
	control(a);
}
