/*
 * The per-server summary, rendered: the table analyze and watch print
 * last, and the JSON "servers" array.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze_servers.h"
#include "term.h"

static int by_faults(const void *x, const void *y)
{
	const struct an_dst *p = *(const struct an_dst *const *)x;
	const struct an_dst *q = *(const struct an_dst *const *)y;
	uint64_t np = (uint64_t)p->ecn_conns + p->plain_conns;
	uint64_t nq = (uint64_t)q->ecn_conns + q->plain_conns;

	if (p->faults != q->faults)
		return p->faults > q->faults ? -1 : 1;
	if (np != nq)
		return np > nq ? -1 : 1;
	return p->first_seen < q->first_seen ? -1 : p->first_seen > q->first_seen;
}

const struct an_dst **an_servers_sorted(const struct analyzer *a, size_t *n)
{
	const struct an_dst **v;
	size_t k = 0;

	*n = 0;
	if (a->servers.n == 0 ||
	    (v = malloc(a->servers.n * sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < a->servers.n; i++)
		/* An entry made only for a hint of a connection still being
		 * finished has no connection of its own: none is left. */
		if (a->servers.v[i].ecn_conns + a->servers.v[i].plain_conns)
			v[k++] = &a->servers.v[i];
	qsort(v, k, sizeof(*v), by_faults);
	*n = k;
	return v;
}

/* "192.0.2.1:80" or "[2001:db8::1]:80" */
static const char *endpoint(const struct an_dst *d, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	addr_str(&d->server, s, sizeof(s));
	snprintf(buf, len, d->server.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 s, d->dport);
	return buf;
}

/* "5,7" or "-", at most 4 of them and "+N" for the rest. */
static const char *hops_str(const uint64_t bits[4], char *buf, size_t len)
{
	int h[4], n = an_hops(bits, h, 4);
	size_t o = 0;

	buf[0] = '\0';
	if (n == 0)
		snprintf(buf, len, "-");
	for (int i = 0; i < n && i < 4 && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "", h[i]);
	if (n > 4 && o < len)
		snprintf(buf + o, len - o, ",+%d", n - 4);
	return buf;
}

/* The finding and the comparison it rests on, in a phrase. */
static void finding_str(const struct an_dst *d, char *buf, size_t len)
{
	struct an_ctl k;
	unsigned other = d->ecn_results[CR_RESET_OTHER];

	an_dst_control(d, &k);
	switch (an_server_finding(d)) {
	case SF_RESET:
		if (k.verdict == CTL_ECN_ONLY)
			snprintf(buf, len, "ECN reset after data %u/%u (%u by "
				 "another hop count), plain %u/%u", k.ecn_reset,
				 k.ecn_data, other, k.plain_reset, k.plain_data);
		else
			snprintf(buf, len, "ECN reset after data %u/%u (%u by "
				 "another hop count), no plain control",
				 k.ecn_reset, k.ecn_data, other);
		break;
	case SF_RESET_PLAIN_TOO:
		snprintf(buf, len, "no ECN fault: plain reset as often (ECN "
			 "%u/%u, plain %u/%u)", k.ecn_reset, k.ecn_data,
			 k.plain_reset, k.plain_data);
		break;
	case SF_SYN:
		snprintf(buf, len, "ECN SYN reset %u, dropped %u of %u (plain "
			 "SYNs answered %u)", d->ecn_results[CR_SYN_ECN_RESET],
			 d->ecn_results[CR_SYN_ECN_DROPPED], d->ecn_conns,
			 d->plain_synack);
		break;
	case SF_DATA_LOST:
		snprintf(buf, len, "ECT data lost %u, unacknowledged %u of %u",
			 d->ecn_results[CR_ECT_DATA_LOST],
			 d->ecn_results[CR_DATA_UNACKED], d->ecn_conns);
		break;
	case SF_OK:
		snprintf(buf, len, "no ECN fault");
		break;
	default:
		snprintf(buf, len, "no connection asked for ECN");
		break;
	}
}

/* "40 reset-by-other-endpoint, 10 ok" */
static void results_text(FILE *f, const uint32_t *r)
{
	int n = 0;

	for (int k = 0; k < AR_COUNT; k++)
		if (r[k])
			fprintf(f, "%s%u %s", n++ ? ", " : "", r[k],
				an_result_name(k));
	if (n == 0)
		fprintf(f, "none");
}

static void row_text(FILE *f, const struct an_dst *d, int w, int color)
{
	char ep[64], sh[40], rh[40], fd[160];

	finding_str(d, fd, sizeof(fd));
	fprintf(f, " %-*s %5u %6u %s%7u%s  %-11s  %-9s  %s\n", w,
		TERM_STR(endpoint(d, ep, sizeof(ep))), d->ecn_conns,
		d->plain_conns, d->faults ? color_on(color, "red") : "",
		d->faults, d->faults ? color_off(color) : "",
		hops_str(d->synack_hops, sh, sizeof(sh)),
		hops_str(d->rst_hops, rh, sizeof(rh)), fd);
	fprintf(f, " %*s ecn: ", 2, "");
	results_text(f, d->ecn_results);
	fprintf(f, "; plain: ");
	results_text(f, d->plain_results);
	fputc('\n', f);
}

void an_servers_text(FILE *f, const struct analyzer *a, int color)
{
	size_t n;
	const struct an_dst **v = an_servers_sorted(a, &n);
	int w = 6;
	char ep[64];

	if (n == 0 && a->servers.n > 0)
		fprintf(f, "servers: out of memory for the table\n");
	if (n == 0) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n && i < SERVERS_SHOWN; i++) {
		int l = (int)strlen(endpoint(v[i], ep, sizeof(ep)));

		w = l > w ? l : w;
	}
	fprintf(f, "%zu server%s, faults first:\n", n, n == 1 ? "" : "s");
	fprintf(f, " %-*s %5s %6s %7s  %-11s  %-9s  %s\n", w, "server", "ecn",
		"plain", "faults", "synack hops", "rst hops", "finding");
	for (size_t i = 0; i < n && i < SERVERS_SHOWN; i++)
		row_text(f, v[i], w, color);
	if (n > SERVERS_SHOWN)
		fprintf(f, " (%zu more servers, %s; --json lists them all)\n",
			n - SERVERS_SHOWN, v[SERVERS_SHOWN]->faults ?
			"some with faults" : "none with a fault");
	if (a->server_full)
		fprintf(f, " (%llu connections to servers beyond the %d "
			"followed are in no row)\n",
			(unsigned long long)a->server_full, AN_SERVERS_MAX);
	free(v);
}

static void results_json(struct json *j, const char *key, const uint32_t *r)
{
	json_open_obj(j, key);
	for (int k = 0; k < AR_COUNT; k++)
		if (r[k])
			json_int(j, an_result_name(k), r[k]);
	json_close_obj(j);
}

static void hops_json(struct json *j, const char *key, const uint64_t bits[4])
{
	int h[256], n = an_hops(bits, h, 256);

	json_open_arr(j, key);
	for (int i = 0; i < n; i++)
		json_int(j, NULL, h[i]);
	json_close_arr(j);
}

static void server_json(struct json *j, const struct an_dst *d)
{
	char a[INET6_ADDRSTRLEN], fd[160];
	struct an_ctl k;

	an_dst_control(d, &k);
	finding_str(d, fd, sizeof(fd));
	json_open_obj(j, NULL);
	json_str(j, "server", addr_str(&d->server, a, sizeof(a)));
	json_int(j, "port", d->dport);
	json_int(j, "family", d->server.family == AF_INET ? 4 : 6);
	json_int(j, "ecn_connections", d->ecn_conns);
	json_int(j, "plain_connections", d->plain_conns);
	json_int(j, "faults", d->faults);
	json_str(j, "finding", an_finding_name(an_server_finding(d)));
	json_str(j, "finding_text", fd);
	results_json(j, "ecn_results", d->ecn_results);
	results_json(j, "plain_results", d->plain_results);
	hops_json(j, "synack_hops", d->synack_hops);
	hops_json(j, "rst_hops", d->rst_hops);
	json_int(j, "plain_synacks", d->plain_synack);
	json_int(j, "plain_syn_resets", d->plain_reset);
	json_int(j, "reset_plain_too", d->reset_plain_too);
	an_control_json(j, &k);
	json_close_obj(j);
}

void an_servers_json(struct json *j, const struct analyzer *a)
{
	size_t n;
	const struct an_dst **v = an_servers_sorted(a, &n);

	json_open_arr(j, "servers");
	for (size_t i = 0; i < n; i++)
		server_json(j, v[i]);
	json_close_arr(j);
	free(v);
}

void an_control_json(struct json *j, const struct an_ctl *k)
{
	json_open_obj(j, "control");
	json_str(j, "verdict", an_verdict_name(k->verdict));
	json_int(j, "plain_connections", k->plain_data);
	json_int(j, "plain_reset", k->plain_reset);
	json_int(j, "ecn_connections", k->ecn_data);
	json_int(j, "ecn_reset", k->ecn_reset);
	json_close_obj(j);
}
