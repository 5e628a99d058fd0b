/*
 * The analyzer's per-server table: linear probing over an index of
 * int32 positions into a dense array of entries.
 */
#include <stdlib.h>
#include <string.h>

#include "an_servers.h"

void servers_init(struct an_servers *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max == 0 || max > AN_SERVERS_MAX ? AN_SERVERS_MAX : max;
}

void servers_free(struct an_servers *t)
{
	free(t->v);
	free(t->ix);
	t->v = NULL;
	t->ix = NULL;
	t->n = t->vcap = t->nix = 0;
}

static int same(const struct an_dst *d, uint32_t hash,
		const struct addr *server, uint16_t dport)
{
	return d->hash == hash && d->dport == dport &&
	       addr_eq(&d->server, server);
}

/* The slot of the index holding server:port, or the empty one where it
 * would go. t->nix > 0. */
static size_t probe(const struct an_servers *t, uint32_t hash,
		    const struct addr *server, uint16_t dport)
{
	size_t mask = t->nix - 1, i = hash & mask;

	while (t->ix[i] >= 0 && !same(&t->v[t->ix[i]], hash, server, dport))
		i = (i + 1) & mask;
	return i;
}

/* Room for one more entry: the array and the index grown (doubled). */
static int grow(struct an_servers *t)
{
	if (t->n == t->vcap) {
		size_t nc = t->vcap ? 2 * t->vcap : AN_SERVERS_MIN;
		struct an_dst *nv;

		if (nc > t->max)
			nc = t->max;
		nv = realloc(t->v, nc * sizeof(*nv));
		if (nv == NULL)
			return -1;
		t->v = nv;
		t->vcap = nc;
	}
	if (2 * (t->n + 1) > t->nix) {
		size_t nn = t->nix ? 2 * t->nix : 2 * AN_SERVERS_MIN;
		int32_t *ni = malloc(nn * sizeof(*ni));

		if (ni == NULL)
			return -1;
		free(t->ix);
		t->ix = ni;
		t->nix = nn;
		for (size_t i = 0; i < nn; i++)
			ni[i] = -1;
		for (size_t k = 0; k < t->n; k++) {
			const struct an_dst *d = &t->v[k];

			ni[probe(t, d->hash, &d->server, d->dport)] = (int32_t)k;
		}
	}
	return 0;
}

const struct an_dst *servers_get(const struct an_servers *t, uint32_t hash,
				 const struct addr *server, uint16_t dport)
{
	size_t i;

	if (t->nix == 0)
		return NULL;
	i = probe(t, hash, server, dport);
	return t->ix[i] >= 0 ? &t->v[t->ix[i]] : NULL;
}

struct an_dst *servers_find(struct an_servers *t, uint32_t hash,
			    const struct addr *server, uint16_t dport,
			    int create, int *full)
{
	struct an_dst *d = (struct an_dst *)servers_get(t, hash, server, dport);

	if (d != NULL || !create)
		return d;
	if (t->n >= t->max || grow(t) < 0) {
		if (full != NULL)
			*full = 1;
		return NULL;
	}
	d = &t->v[t->n];
	memset(d, 0, sizeof(*d));
	/* Only the family's bytes (the rest of a v4 address is whatever
	 * the parser left there). */
	d->server.family = server->family;
	memcpy(&d->server.u, &server->u, server->family == AF_INET6 ? 16 : 4);
	d->dport = dport;
	d->hash = hash;
	t->ix[probe(t, hash, server, dport)] = (int32_t)t->n++;
	return d;
}
