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

static int push(struct scan_targets *t, int family, uint64_t hi, uint64_t lo,
		uint64_t count)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct scan_range *r = realloc(t->r, cap * sizeof(*r));

		if (r == NULL)
			return -1;
		t->r = r;
		t->cap = cap;
	}
	t->r[t->n++] = (struct scan_range){ family, hi, lo, count };
	return 0;
}

/* A prefix "ADDR/LEN" into a range (the address's host bits cleared,
 * as a router reads it). IPv6 needs /96 or longer (2^32 addresses). */
static int add_prefix(struct scan_targets *t, const char *word, int family,
		      char *err, size_t errlen)
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
	int min = a.family == AF_INET ? 0 : 96;

	if (len < min || len > bits) {
		snprintf(err, errlen, "prefix '%s' out of range (/%d-/%d)", word,
			 min, bits);
		return -1;
	}
	addr_split(&a, &hi, &lo);
	int host = bits - (int)len;
	uint64_t count = 1ULL << host;

	lo &= ~(count - 1);
	return push(t, a.family, hi, lo, count) < 0 ?
	       (snprintf(err, errlen, "out of memory"), -1) : 0;
}

int scan_targets_add(struct scan_targets *t, const char *word, int family,
		     char *err, size_t errlen)
{
	struct addr a;
	uint64_t hi, lo;

	if (strchr(word, '/') != NULL)
		return add_prefix(t, word, family, err, errlen);
	if (parse_addr(word, family, &a) < 0 &&
	    resolve_target(word, family, &a, err, errlen) != 0)
		return -1;
	addr_split(&a, &hi, &lo);
	if (push(t, a.family, hi, lo, 1) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int range_cmp(const void *x, const void *y)
{
	const struct scan_range *a = x, *b = y;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static uint64_t range_last(const struct scan_range *r)
{
	return r->lo + (r->count - 1);
}

int scan_targets_finish(struct scan_targets *t)
{
	size_t w = 0;

	if (t->n > 1)
		qsort(t->r, t->n, sizeof(*t->r), range_cmp);
	for (size_t i = 0; i < t->n; i++) {
		struct scan_range *c = w ? &t->r[w - 1] : NULL, *r = &t->r[i];

		if (c && c->family == r->family && c->hi == r->hi &&
		    (range_last(c) == UINT64_MAX || r->lo <= range_last(c) + 1)) {
			if (range_last(r) > range_last(c))
				c->count = range_last(r) - c->lo + 1;
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

/* The first range of b (sorted) that ends at or after (family, hi, lo). */
static size_t first_after(const struct scan_targets *b, int family,
			  uint64_t hi, uint64_t lo)
{
	size_t l = 0, h = b->n;

	while (l < h) {
		size_t m = l + (h - l) / 2;
		const struct scan_range *r = &b->r[m];
		struct scan_range key = { family, hi, lo, 1 };
		struct scan_range end = *r;

		end.lo = range_last(r);
		if (range_cmp(&end, &key) < 0)
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
		struct scan_range r = t->r[i];
		size_t j = first_after(block, r.family, r.hi, r.lo);

		for (; j < block->n && r.count > 0; j++) {
			const struct scan_range *b = &block->r[j];

			if (b->family != r.family || b->hi != r.hi ||
			    b->lo > range_last(&r))
				break;
			if (b->lo > r.lo) {
				(void)push(&out, r.family, r.hi, r.lo, b->lo - r.lo);
				r.count -= b->lo - r.lo;
				r.lo = b->lo;
			}
			uint64_t cut = range_last(b) >= range_last(&r) ? r.count
					: range_last(b) - r.lo + 1;

			removed += cut;
			r.count -= cut;
			r.lo += cut;
		}
		if (r.count > 0)
			(void)push(&out, r.family, r.hi, r.lo, r.count);
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
	uint64_t lo = r->lo + (i - t->first[l]);

	memset(a, 0, sizeof(*a));
	a->family = r->family;
	if (r->family == AF_INET) {
		a->u.v4.s_addr = htonl((uint32_t)lo);
		return;
	}
	put_be64(a->u.v6.s6_addr, r->hi);
	put_be64(a->u.v6.s6_addr + 8, lo);
}

int64_t scan_target_index(const struct scan_targets *t, const struct addr *a)
{
	uint64_t hi, lo;

	if (t->n == 0 || (a->family != AF_INET && a->family != AF_INET6))
		return -1;
	addr_split(a, &hi, &lo);
	size_t j = first_after(t, a->family, hi, lo);

	if (j >= t->n)
		return -1;
	const struct scan_range *r = &t->r[j];

	if (r->family != a->family || r->hi != hi || lo < r->lo)
		return -1;
	return (int64_t)(t->first[j] + (lo - r->lo));
}

void scan_targets_free(struct scan_targets *t)
{
	free(t->r);
	free(t->first);
	memset(t, 0, sizeof(*t));
}

int scan_targets_read(struct scan_targets *t, FILE *fp, const char *name,
		      int family, char *err, size_t errlen)
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
		if (scan_targets_add(t, s, family, why, sizeof(why)) < 0) {
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
