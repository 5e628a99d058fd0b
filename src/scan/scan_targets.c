/* scan targets: words to sorted, merged address ranges; the blocklist;
 * index <-> address; the keyed permutation of the index range. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "resolve.h"
#include "scan.h"

/* Reserved ranges no scan should reach (RFC 6890 and friends). The
 * documentation ranges (TEST-NETs, 198.18.0.0/15, 2001:db8::/32) are
 * left out on purpose: they are routed nowhere, and the lab uses them. */
const char *const scan_default_blocklist[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16",
	"224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10",
	"ff00::/8",
	NULL,
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void addr_split(const struct addr *a, uint64_t *hi, uint64_t *lo)
{
	if (a->family == AF_INET) {
		*hi = 0;
		*lo = ntohl(a->u.v4.s_addr);
		return;
	}
	*hi = be64(a->u.v6.s6_addr);
	*lo = be64(a->u.v6.s6_addr + 8);
}

/* 128-bit arithmetic on (hi, lo): a compiler extension gcc and clang
 * both have on every 64-bit target. */
typedef unsigned __int128 u128;

static u128 join(uint64_t hi, uint64_t lo)
{
	return (u128)hi << 64 | lo;
}

static u128 r_first(const struct scan_range *r)
{
	return join(r->hi, r->lo);
}

static u128 r_last(const struct scan_range *r)
{
	return join(r->lhi, r->llo);
}

static uint64_t span(u128 first, u128 last)
{
	u128 n = last - first;

	return n >= UINT64_MAX ? UINT64_MAX : (uint64_t)n + 1;
}

static int push(struct scan_targets *t, int family, u128 first, u128 last)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct scan_range *r = realloc(t->r, cap * sizeof(*r));

		if (r == NULL)
			return -1;
		t->r = r;
		t->cap = cap;
	}
	t->r[t->n++] = (struct scan_range){
		family, (uint64_t)(first >> 64), (uint64_t)first,
		(uint64_t)(last >> 64), (uint64_t)last, span(first, last),
	};
	return 0;
}

/* A prefix "ADDR/LEN" into a range (the address's host bits cleared,
 * as a router reads it). min6: the shortest IPv6 prefix allowed. */
static int add_prefix(struct scan_targets *t, const char *word, int family,
		      int min6, char *err, size_t errlen)
{
	const char *slash = strchr(word, '/');
	char buf[INET6_ADDRSTRLEN + 1];
	size_t alen = (size_t)(slash - word);
	struct addr a;
	uint64_t hi, lo;
	long len;
	char *end;

	if (alen == 0 || alen >= sizeof(buf) || !isdigit((unsigned char)slash[1])) {
		snprintf(err, errlen, "invalid prefix '%s'", word);
		return -1;
	}
	memcpy(buf, word, alen);
	buf[alen] = '\0';
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (parse_addr(buf, family, &a) < 0 || *end != '\0' || errno) {
		snprintf(err, errlen, "invalid prefix '%s'", word);
		return -1;
	}
	int bits = a.family == AF_INET ? 32 : 128;
	int min = a.family == AF_INET ? 0 : min6;

	if (len < min || len > bits) {
		snprintf(err, errlen, "prefix '%s' out of range (/%d-/%d)", word,
			 min, bits);
		return -1;
	}
	addr_split(&a, &hi, &lo);
	int host = bits - (int)len;
	u128 hostmask = host == 128 ? ~(u128)0 : ((u128)1 << host) - 1;
	u128 first = join(hi, lo) & ~hostmask;

	if (push(t, a.family, first, first | hostmask) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int add_word(struct scan_targets *t, const char *word, int family,
		    int min6, char *err, size_t errlen)
{
	struct addr a;
	uint64_t hi, lo;

	if (strchr(word, '/') != NULL)
		return add_prefix(t, word, family, min6, err, errlen);
	if (parse_addr(word, family, &a) < 0 &&
	    resolve_target(word, family, &a, err, errlen) != 0)
		return -1;
	addr_split(&a, &hi, &lo);
	if (push(t, a.family, join(hi, lo), join(hi, lo)) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int scan_targets_add(struct scan_targets *t, const char *word, int family,
		     char *err, size_t errlen)
{
	return add_word(t, word, family, 96, err, errlen);
}

/* Addresses and prefixes only: a blocklist names no host. */
int scan_block_add(struct scan_targets *t, const char *word, char *err,
		   size_t errlen)
{
	struct addr a;

	if (strchr(word, '/') == NULL && parse_addr(word, 0, &a) < 0) {
		snprintf(err, errlen, "invalid address '%s'", word);
		return -1;
	}
	return add_word(t, word, 0, 0, err, errlen);
}

/* By family, then first address. */
static int range_cmp(const void *x, const void *y)
{
	const struct scan_range *a = x, *b = y;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (r_first(a) != r_first(b))
		return r_first(a) < r_first(b) ? -1 : 1;
	return 0;
}

int scan_targets_finish(struct scan_targets *t)
{
	size_t w = 0;

	if (t->n > 1)
		qsort(t->r, t->n, sizeof(*t->r), range_cmp);
	for (size_t i = 0; i < t->n; i++) {
		struct scan_range *c = w ? &t->r[w - 1] : NULL, *r = &t->r[i];

		if (c && c->family == r->family &&
		    (r_last(c) == ~(u128)0 || r_first(r) <= r_last(c) + 1)) {
			if (r_last(r) > r_last(c)) {
				c->lhi = r->lhi;
				c->llo = r->llo;
				c->count = span(r_first(c), r_last(c));
			}
			continue;
		}
		t->r[w++] = *r;
	}
	t->n = w;
	free(t->first);
	t->first = malloc((t->n ? t->n : 1) * sizeof(*t->first));
	if (t->first == NULL)
		return -1;
	t->total = 0;
	for (size_t i = 0; i < t->n; i++) {
		t->first[i] = t->total;
		t->total += t->r[i].count;
	}
	return 0;
}

/* The first range of b (sorted, merged) that ends at or after (family,
 * x). */
static size_t first_after(const struct scan_targets *b, int family, u128 x)
{
	size_t l = 0, h = b->n;

	while (l < h) {
		size_t m = l + (h - l) / 2;
		const struct scan_range *r = &b->r[m];

		if (r->family < family || (r->family == family && r_last(r) < x))
			l = m + 1;
		else
			h = m;
	}
	return l;
}

uint64_t scan_targets_subtract(struct scan_targets *t,
			       const struct scan_targets *block)
{
	struct scan_targets out = { 0 };
	uint64_t removed = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct scan_range *r = &t->r[i];
		u128 cur = r_first(r), last = r_last(r);
		int left = 1;
		size_t j = first_after(block, r->family, cur);

		for (; j < block->n && left; j++) {
			const struct scan_range *b = &block->r[j];

			if (b->family != r->family || r_first(b) > last)
				break;
			if (r_first(b) > cur)
				(void)push(&out, r->family, cur, r_first(b) - 1);
			u128 from = r_first(b) > cur ? r_first(b) : cur;
			u128 to = r_last(b) < last ? r_last(b) : last;

			removed += span(from, to);
			left = to < last;
			cur = to + 1;
		}
		if (left)
			(void)push(&out, r->family, cur, last);
	}
	free(t->r);
	t->r = out.r;
	t->n = out.n;
	t->cap = out.cap;
	(void)scan_targets_finish(t);
	return removed;
}

void scan_target_at(const struct scan_targets *t, uint64_t i, struct addr *a)
{
	size_t l = 0, h = t->n;

	while (h - l > 1) {
		size_t m = l + (h - l) / 2;

		if (t->first[m] <= i)
			l = m;
		else
			h = m;
	}
	const struct scan_range *r = &t->r[l];
	u128 x = r_first(r) + (i - t->first[l]);

	memset(a, 0, sizeof(*a));
	a->family = r->family;
	if (r->family == AF_INET) {
		a->u.v4.s_addr = htonl((uint32_t)x);
		return;
	}
	put_be64(a->u.v6.s6_addr, (uint64_t)(x >> 64));
	put_be64(a->u.v6.s6_addr + 8, (uint64_t)x);
}

int64_t scan_target_index(const struct scan_targets *t, const struct addr *a)
{
	uint64_t hi, lo;

	if (t->n == 0 || (a->family != AF_INET && a->family != AF_INET6))
		return -1;
	addr_split(a, &hi, &lo);
	u128 x = join(hi, lo);
	size_t j = first_after(t, a->family, x);

	if (j >= t->n)
		return -1;
	const struct scan_range *r = &t->r[j];

	if (r->family != a->family || x < r_first(r))
		return -1;
	return (int64_t)(t->first[j] + (uint64_t)(x - r_first(r)));
}

uint64_t scan_targets_digest(const struct scan_targets *t)
{
	static const uint64_t key[2] = { 0x65636e7472616365ULL, 0x7363616e2d736565ULL };
	uint64_t h = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct scan_range *r = &t->r[i];
		uint64_t b[6] = { h, (uint64_t)r->family, r->hi, r->lo, r->lhi, r->llo };

		h = an_siphash(key, b, sizeof(b));
	}
	return h;
}

void scan_targets_free(struct scan_targets *t)
{
	free(t->r);
	free(t->first);
	memset(t, 0, sizeof(*t));
}

static int read_words(struct scan_targets *t, FILE *fp, const char *name,
		      int family, int min6, char *err, size_t errlen)
{
	char line[1024];
	long no = 0;

	while (fgets(line, sizeof(line), fp) != NULL) {
		char *s = line, *e, why[256];

		no++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%ld: line too long", name, no);
			return -1;
		}
		if ((e = strchr(s, '#')) != NULL)
			*e = '\0';
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s == '\0')
			continue;
		if ((min6 ? add_word(t, s, family, min6, why, sizeof(why))
			  : scan_block_add(t, s, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "%s:%ld: %s", name, no, why);
			return -1;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int scan_targets_read(struct scan_targets *t, FILE *fp, const char *name,
		      int family, char *err, size_t errlen)
{
	return read_words(t, fp, name, family, 96, err, errlen);
}

int scan_block_read(struct scan_targets *t, FILE *fp, const char *name,
		    char *err, size_t errlen)
{
	return read_words(t, fp, name, 0, 0, err, errlen);
}

int scan_resume_read(struct scan_targets *t, FILE *fp)
{
	static const char key[] = "\"target\":\"";
	char line[4096];
	int whole = 1;

	while (fgets(line, sizeof(line), fp) != NULL) {
		const char *k = strstr(line, key);
		char word[INET6_ADDRSTRLEN + 1];
		int was_whole = whole;
		struct addr a;
		size_t n;

		/* A line longer than the buffer is read in pieces: only a
		 * piece that starts a line and ends it counts. */
		whole = strchr(line, '\n') != NULL;
		if (!was_whole || !whole || k == NULL ||
		    strstr(line, "\"command\":\"scan\"") == NULL)
			continue;
		k += strlen(key);
		n = strcspn(k, "\"");
		if (n == 0 || n >= sizeof(word) || k[n] != '"')
			continue;
		memcpy(word, k, n);
		word[n] = '\0';
		if (parse_addr(word, 0, &a) == 0) {
			uint64_t hi, lo;

			addr_split(&a, &hi, &lo);
			if (push(t, a.family, join(hi, lo), join(hi, lo)) < 0)
				return -1;
		}
	}
	return scan_targets_finish(t);
}

/* ------------------------------------------------------- permutation */

void scan_perm_init(struct scan_perm *p, uint64_t n, uint64_t seed)
{
	uint64_t s[2] = { seed, ~seed };

	p->n = n;
	p->half_bits = 1;
	while (p->half_bits < 32 && (1ULL << (2 * p->half_bits)) < n)
		p->half_bits++;
	p->key[0] = an_siphash(s, "ecntrace-perm-0", 15);
	p->key[1] = an_siphash(s, "ecntrace-perm-1", 15);
}

static uint64_t feistel(const struct scan_perm *p, uint64_t x)
{
	uint64_t mask = (1ULL << p->half_bits) - 1;
	uint64_t l = x >> p->half_bits, r = x & mask;

	for (uint64_t round = 0; round < 4; round++) {
		uint64_t in[2] = { r, round };
		uint64_t f = an_siphash(p->key, in, sizeof(in)) & mask;
		uint64_t nl = r;

		r = l ^ f;
		l = nl;
	}
	return l << p->half_bits | r;
}

uint64_t scan_perm_at(const struct scan_perm *p, uint64_t i)
{
	uint64_t x = i;

	if (p->n <= 1)
		return 0;
	/* A bijection of the domain: the walk from i < n comes back into
	 * [0, n) (each step leaves a cycle's out-of-range run). */
	do
		x = feistel(p, x);
	while (x >= p->n);
	return x;
}

uint64_t scan_shard_size(uint64_t total, uint64_t shards, uint64_t shard)
{
	return total > shard ? (total - shard + shards - 1) / shards : 0;
}

uint64_t scan_shard_pos(uint64_t j, uint64_t shards, uint64_t shard)
{
	return j * shards + shard;
}
