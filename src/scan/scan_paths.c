/* scan_paths: routers per prefix and TTL (the budgets), splits located. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "scan_paths.h"

#define RB_SIZE 16384
#define PC_SIZE 65536
#define PATHS_WAYS 4
#define SC_SIZE 1024
#define PP_SIZE 4096
#define GC_SIZE 1024
#define PP_PROBE 32

struct rbucket {
	struct addr a;
	double tokens;
	int64_t last;
	int used;
};

struct pcache {
	uint64_t key;                /* 0: empty */
	uint32_t bucket[PATHS_WAYS]; /* the routers seen (ECMP) */
	uint8_t n, next;
};

struct split_cache {
	uint64_t key;                /* path_key(target, screen TTL); 0: empty */
	struct addr r[2];            /* the two routers at the screen */
	struct scan_hopans loc[SCAN_MAX_TTL][2];
};

struct scan_paths {
	double rate, burst;
	struct rbucket *rb;          /* RB_SIZE; [0] the unknown routers' */
	struct pcache *pc;           /* PC_SIZE */
	struct split_cache *sc;      /* SC_SIZE */
	struct addr *pp;             /* PP_SIZE: routers seen per packet */
	struct split_guess {
		uint64_t key;            /* guess_key(); 0: empty */
		int hop;
	} *gc;                       /* GC_SIZE */
	int pp_full;                 /* one did not fit: every router is */
};

struct scan_paths *scan_paths_new(double rate, double burst)
{
	struct scan_paths *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->rate = rate;
	p->burst = burst;
	p->rb = calloc(RB_SIZE, sizeof(*p->rb));
	p->pc = calloc(PC_SIZE, sizeof(*p->pc));
	p->sc = calloc(SC_SIZE, sizeof(*p->sc));
	p->pp = calloc(PP_SIZE, sizeof(*p->pp));
	p->gc = calloc(GC_SIZE, sizeof(*p->gc));
	if (!p->rb || !p->pc || !p->sc || !p->pp || !p->gc) {
		scan_paths_free(p);
		return NULL;
	}
	p->rb[0].tokens = burst;
	p->rb[0].last = now_ns();
	return p;
}

void scan_paths_free(struct scan_paths *p)
{
	if (p == NULL)
		return;
	free(p->rb);
	free(p->pc);
	free(p->sc);
	free(p->pp);
	free(p->gc);
	free(p);
}

/* The target's /24 (IPv6 /48) and a TTL: where routing puts the same
 * routers. Never 0. */
static uint64_t path_key(const struct addr *dst, int ttl)
{
	uint64_t k = 0;

	if (dst->family == AF_INET) {
		k = ntohl(dst->u.v4.s_addr) >> 8;
	} else {
		for (int i = 0; i < 6; i++)
			k = k << 8 | dst->u.v6.s6_addr[i];
	}
	return (k * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ttl << 1 ^
		(uint64_t)dst->family << 9) | 1;
}

static uint32_t addr_hash(const struct addr *a)
{
	uint32_t h = 2166136261u;
	const uint8_t *b = a->family == AF_INET ? (const uint8_t *)&a->u.v4
						: a->u.v6.s6_addr;
	size_t n = a->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* The bucket of router a (created on first sight; the table full, the
 * unknown routers' bucket). */
static uint32_t router_bucket(struct scan_paths *p, const struct addr *a)
{
	uint32_t h = addr_hash(a) % (RB_SIZE - 1) + 1;

	for (uint32_t i = 0; i < 64; i++, h = h % (RB_SIZE - 1) + 1) {
		struct rbucket *b = &p->rb[h];

		if (b->used && addr_eq(&b->a, a))
			return h;
		if (!b->used) {
			b->used = 1;
			b->a = *a;
			b->tokens = p->burst;
			b->last = now_ns();
			return h;
		}
	}
	return 0;
}

static struct rbucket *refill(struct scan_paths *p, uint32_t i)
{
	struct rbucket *b = &p->rb[i];
	int64_t now = now_ns();

	b->tokens += (double)(now - b->last) * p->rate / 1e9;
	b->last = now;
	if (b->tokens > p->burst)
		b->tokens = p->burst;
	return b;
}

/* The routers predicted for a probe at ttl towards dst, or NULL. */
static const struct pcache *predict(const struct scan_paths *p,
				    const struct addr *dst, int ttl)
{
	uint64_t k = path_key(dst, ttl);
	const struct pcache *c = &p->pc[k % PC_SIZE];

	return c->key == k && c->n > 0 ? c : NULL;
}

static int in_debt(struct scan_paths *p, const struct addr *dst, int ttl)
{
	const struct pcache *c = predict(p, dst, ttl);

	if (c == NULL)
		return refill(p, 0)->tokens < 0;
	for (int i = 0; i < c->n; i++)
		if (refill(p, c->bucket[i])->tokens < 0)
			return 1;
	return 0;
}

int scan_paths_ok(struct scan_paths *p, const struct addr *dst, int lo, int hi)
{
	if (p->rate <= 0)
		return 1;
	for (int t = lo; t <= hi && t > 0; t++)
		if (in_debt(p, dst, t))
			return 0;
	return 1;
}

int scan_paths_charge(struct scan_paths *p, const struct addr *dst, int ttl,
		      const struct addr *hint)
{
	const struct pcache *c;

	if (p->rate <= 0)
		return 0;
	if (hint && hint->family) {
		refill(p, router_bucket(p, hint))->tokens -= 1.0;
		return 0;
	}
	c = predict(p, dst, ttl);
	if (c == NULL) {
		refill(p, 0)->tokens -= 1.0;
		return 1;
	}
	for (int i = 0; i < c->n; i++)
		refill(p, c->bucket[i])->tokens -= 1.0 / c->n;
	return 0;
}

void scan_paths_answer(struct scan_paths *p, const struct addr *dst, int ttl,
		       const struct addr *router, int unknown)
{
	uint64_t k = path_key(dst, ttl);
	struct pcache *c = &p->pc[k % PC_SIZE];
	uint32_t b = router_bucket(p, router);

	if (unknown && p->rate > 0)
		refill(p, b)->tokens -= 1.0;
	if (c->key != k) {
		memset(c, 0, sizeof(*c));
		c->key = k;
	}
	for (int i = 0; i < c->n; i++)
		if (c->bucket[i] == b)
			return;
	if (c->n < PATHS_WAYS) {
		c->bucket[c->n++] = b;
		return;
	}
	c->bucket[c->next] = b;
	c->next = (uint8_t)((c->next + 1) % PATHS_WAYS);
}

static struct split_cache *split_slot(struct scan_paths *p, uint64_t k,
				      const struct addr *r0, const struct addr *r1)
{
	return &p->sc[(k ^ (uint64_t)addr_hash(r0) * 31 ^ addr_hash(r1)) % SC_SIZE];
}

const struct scan_hopans (*scan_paths_split(struct scan_paths *p,
	const struct addr *dst, int screen_ttl, const struct addr *r0,
	const struct addr *r1))[2]
{
	uint64_t k = path_key(dst, screen_ttl);
	const struct split_cache *c = split_slot(p, k, r0, r1);

	if (c->key == k && addr_eq(&c->r[0], r0) && addr_eq(&c->r[1], r1))
		return c->loc;
	return NULL;
}

void scan_paths_keep_split(struct scan_paths *p, const struct addr *dst,
			   int screen_ttl, const struct addr *r0,
			   const struct addr *r1,
			   const struct scan_hopans loc[SCAN_MAX_TTL][2])
{
	uint64_t k = path_key(dst, screen_ttl);
	struct split_cache *c = split_slot(p, k, r0, r1);

	c->key = k;
	c->r[0] = *r0;
	c->r[1] = *r1;
	memcpy(c->loc, loc, sizeof(c->loc));
}

/* The screen TTL and the two routers there, in any prefix. Never 0. */
static uint64_t guess_key(int screen_ttl, const struct addr *r0,
			  const struct addr *r1)
{
	return ((uint64_t)addr_hash(r0) << 32 ^ (uint64_t)addr_hash(r1) * 0x9e3779b1u ^
		(uint64_t)screen_ttl << 8 ^ (uint64_t)r0->family) | 1;
}

void scan_paths_keep_hop(struct scan_paths *p, int screen_ttl,
			 const struct addr *r0, const struct addr *r1, int hop)
{
	uint64_t k = guess_key(screen_ttl, r0, r1);
	struct split_guess *g = &p->gc[k % GC_SIZE];

	g->key = k;
	g->hop = hop;
}

int scan_paths_guess_hop(const struct scan_paths *p, int screen_ttl,
			 const struct addr *r0, const struct addr *r1)
{
	uint64_t k = guess_key(screen_ttl, r0, r1);
	const struct split_guess *g = &p->gc[k % GC_SIZE];

	return g->key == k ? g->hop : 0;
}

void scan_paths_mark_perpacket(struct scan_paths *p, const struct addr *router)
{
	uint32_t h = addr_hash(router) % PP_SIZE;

	if (router->family == 0)
		return;
	for (int i = 0; i < PP_PROBE; i++, h = (h + 1) % PP_SIZE) {
		if (addr_eq(&p->pp[h], router))
			return;
		if (p->pp[h].family == 0) {
			p->pp[h] = *router;
			return;
		}
	}
	p->pp_full = 1;
}

int scan_paths_perpacket(const struct scan_paths *p, const struct addr *router)
{
	uint32_t h = addr_hash(router) % PP_SIZE;

	if (p->pp_full)
		return 1;
	for (int i = 0; i < PP_PROBE; i++, h = (h + 1) % PP_SIZE) {
		if (p->pp[h].family == 0)
			return 0;
		if (addr_eq(&p->pp[h], router))
			return 1;
	}
	return 0;
}
