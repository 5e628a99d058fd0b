/*
 * ecntrace analyze FILE / ecntrace watch: the signatures connect looks
 * for, found in captured traffic: options, reading, rendering.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "an_pipe.h"
#include "analyze.h"
#include "analyze_servers.h"
#include "capture.h"
#include "cli.h"
#include "commands.h"
#include "connect_out.h"
#include "ecntrace.h"
#include "engine.h"
#include "json.h"
#include "outfile.h"
#include "pcapout.h"
#include "priv.h"
#include "term.h"
#include "trace.h"

static const char analyze_usage[] =
"usage: ecntrace analyze [options] FILE\n"
"\n"
"Find the ECN failure signatures in a capture (pcap or pcapng, from\n"
"tcpdump -w; '-' reads standard input): per TCP connection, whether the\n"
"SYN asked for ECN, the SYN-ACK's TTL, the ECN codepoint of the data, and\n"
"an RST from another machine (another TTL than the SYN-ACK's) after\n"
"ECT data; ECN SYNs dropped or reset, ECT data lost. Ends with a table\n"
"per server: its ECN and plain connections, their results, the hop counts\n"
"of its SYN-ACKs and RSTs, and the finding with its comparison.\n"
"\n"
"      --json        one JSON object (schema ecntrace/1)\n"
"      --all         list every connection, not only those with an ECN fault\n"
"      --max-conns N connections followed at once (16-16777216, default\n"
"                    65536); closed ones give their slot back, ones quiet\n"
"                    for 120 s are finished, beyond that the quietest is\n"
"                    evicted (counted, never a fault)\n"
"      --threads N   1: read and follow the packets on one thread; 2: read\n"
"                    on one, follow on another (default where it may run\n"
"                    on two processors or more); the same report either way\n"
"  -h, --help        this help\n"
"\n"
"Link types: Ethernet (VLAN, MPLS, PPPoE), Linux cooked (SLL, SLL2), raw\n"
"IP, BSD loopback.\n"
"\n"
"Exit: 0 no ECN fault, 1 some connections show one, 64 usage,\n"
"65 not a capture (or an unsupported link type), or a capture cut short\n"
"(the report covers the packets before the cut), 66 no such file.\n";

static const char watch_usage[] =
"usage: ecntrace watch [options]\n"
"\n"
"Capture TCP live and find the ECN failure signatures, as 'analyze' does\n"
"for a file; report when stopped (Ctrl-C, -c, --duration).\n"
"\n"
"  -i IFACE          interface (default: any)\n"
"  -c N              stop after N TCP packets (1-1000000000)\n"
"      --duration SEC  stop after SEC seconds (at most 31536000)\n"
"      --json        one JSON object (schema ecntrace/1)\n"
"      --all         list every connection, not only those with an ECN fault\n"
"      --pcap FILE   also write the captured TCP packets to FILE\n"
"      --max-conns N connections followed at once (16-16777216, default\n"
"                    65536; see 'ecntrace analyze --help')\n"
"  -h, --help        this help\n"
"\n"
"On 'any' a packet seen on two interfaces (forwarded) counts once.\n"
"Needs CAP_NET_RAW; privileges are dropped once the capture is open.\n"
"\n"
"Exit: 0 no ECN fault, 1 some connections show one, 64 usage,\n"
"69 no such interface, 71 system error, 73 cannot create the pcap file,\n"
"77 no permission.\n";

enum { OPT_JSON = 256, OPT_ALL, OPT_DURATION, OPT_PCAP, OPT_MAX_CONNS,
       OPT_THREADS };

static const struct option analyze_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option watch_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Connections kept for the listing, beyond which they are only counted
 * (not_listed): 32768 records of 512 bytes, 16 MiB, so the whole report
 * stays within 64 MiB however long the capture. */
#define LIST_MAX 32768
/* Distinct (SYN-ACK TTL, RST TTL) pairs kept for the summary. */
#define PAIRS_MAX 8

struct ttl_pair {
	uint8_t synack, rst;
	uint64_t count;
};

struct report {
	const char *command, *source;
	int all, json;
	struct analyzer an;
	struct capture *cap;
	struct an_conn *list;
	size_t n, cap_n;
	uint64_t not_listed;
	struct ttl_pair pairs[PAIRS_MAX];
	size_t npairs;
	uint64_t pairs_other;
	/* The server of the faults, if they all share one. */
	struct addr fault_server;
	int fault_servers;           /* 0 none yet, 1 one, 2 several */
	int read_error;              /* the file ended in the middle */
	int write_error;             /* --pcap could not be written */
	int interrupted;
	uint64_t drops;
};

static void on_done(void *ctx, const struct an_conn *c)
{
	struct report *r = ctx;

	if (c->result == CR_RESET_OTHER) {
		size_t i;

		for (i = 0; i < r->npairs; i++)
			if (r->pairs[i].synack == c->synack_ttl &&
			    r->pairs[i].rst == c->rst_ttl)
				break;
		if (i < r->npairs) {
			r->pairs[i].count++;
		} else if (r->npairs < PAIRS_MAX) {
			r->pairs[r->npairs].synack = c->synack_ttl;
			r->pairs[r->npairs].rst = c->rst_ttl;
			r->pairs[r->npairs++].count = 1;
		} else {
			r->pairs_other++;
		}
	}
	if (c->fault) {
		if (r->fault_servers == 0) {
			r->fault_server = c->server;
			r->fault_servers = 1;
		} else if (!addr_eq(&r->fault_server, &c->server)) {
			r->fault_servers = 2;
		}
	}
	if (!r->all && !c->fault)
		return;
	if (r->n == r->cap_n) {
		size_t ncap = r->cap_n ? 2 * r->cap_n : 64;
		struct an_conn *nl;

		if (ncap > LIST_MAX)
			ncap = LIST_MAX;
		if (r->n >= LIST_MAX ||
		    (nl = realloc(r->list, ncap * sizeof(*nl))) == NULL) {
			r->not_listed++;
			return;
		}
		r->list = nl;
		r->cap_n = ncap;
	}
	r->list[r->n++] = *c;
}

static int by_start(const void *x, const void *y)
{
	const struct an_conn *a = x, *b = y;

	if (a->t_first != b->t_first)
		return a->t_first < b->t_first ? -1 : 1;
	return a->sport < b->sport ? -1 : a->sport > b->sport;
}

/* v in decimal at p; returns the end. */
static char *put_uint(char *p, unsigned v)
{
	char d[10];
	int n = 0;

	if (v < 1000) {              /* octets, TTLs, hop counts */
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		return p;
	}

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/* "192.0.2.1:80" or "[2001:db8::1]:80"; buf holds at least 64 bytes. The
 * listing prints two a connection: no snprintf. */
static const char *endpoint(const struct addr *a, uint16_t port, char *buf,
			    size_t len)
{
	char s[INET6_ADDRSTRLEN];
	size_t n;
	char *p = buf;

	if (a->family == AF_INET && len >= 22) {
		const uint8_t *b = (const uint8_t *)&a->u.v4;

		for (int i = 0; i < 4; i++) {
			p = put_uint(p, b[i]);
			*p++ = i < 3 ? '.' : ':';
		}
		*put_uint(p, port) = '\0';
		return buf;
	}
	addr_str(a, s, sizeof(s));
	n = strlen(s);
	if (len < n + 10) {
		snprintf(buf, len, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 s, port);
		return buf;
	}
	if (a->family == AF_INET6)
		*p++ = '[';
	memcpy(p, s, n);
	p += n;
	if (a->family == AF_INET6)
		*p++ = ']';
	*p++ = ':';
	*put_uint(p, port) = '\0';
	return buf;
}

/* Digits of v in decimal. */
static int ndigits(unsigned v)
{
	int n = 1;

	while (v >= 10)
		v /= 10, n++;
	return n;
}

/* strlen of endpoint()'s string; an IPv4 one counted, not written. */
static int endpoint_len(const struct addr *a, uint16_t port)
{
	char buf[64];
	const uint8_t *b = (const uint8_t *)&a->u.v4;

	if (a->family != AF_INET)
		return (int)strlen(endpoint(a, port, buf, sizeof(buf)));
	return ndigits(b[0]) + ndigits(b[1]) + ndigits(b[2]) +
	       ndigits(b[3]) + 4 + ndigits(port);
}

/* Two digits of v (0-99) at p; returns the end. */
static char *put2(char *p, int v)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* "HH:MM:SS.uuuuuu", local time. The listing's start times come a
 * connection at a time, mostly within the same second: the broken-down
 * time of the last second is kept. */
static void clock_str(int64_t ns, char *buf, size_t len)
{
	static time_t last = (time_t)-1;
	static struct tm tm;
	time_t t = (time_t)(ns / 1000000000);
	long us = (long)(ns % 1000000000 / 1000);
	char *p = buf;

	if (t != last) {
		if (localtime_r(&t, &tm) == NULL) {
			last = (time_t)-1;
			snprintf(buf, len, "?");
			return;
		}
		last = t;
	}
	if (len < 16 || tm.tm_hour < 0 || tm.tm_hour > 99 || tm.tm_min < 0 ||
	    tm.tm_min > 99 || tm.tm_sec < 0 || tm.tm_sec > 99 || us < 0) {
		snprintf(buf, len, "%02d:%02d:%02d.%06ld", tm.tm_hour,
			 tm.tm_min, tm.tm_sec, us);
		return;
	}
	p = put2(p, tm.tm_hour);
	*p++ = ':';
	p = put2(p, tm.tm_min);
	*p++ = ':';
	p = put2(p, tm.tm_sec);
	*p++ = '.';
	for (int i = 5; i >= 0; i--, us /= 10)
		p[i] = (char)('0' + us % 10);
	p[6] = '\0';
}

/* "58 (7 hops)" */
static void ttl_str(uint8_t ttl, char *buf, size_t len)
{
	int h = return_hops(ttl);
	char *p = buf;

	if (len < 24 || h < 0) {
		snprintf(buf, len, "%u (%d hop%s)", ttl, h, h == 1 ? "" : "s");
		return;
	}
	p = put_uint(p, ttl);
	memcpy(p, " (", 2);
	p = put_uint(p + 2, (unsigned)h);
	memcpy(p, h == 1 ? " hop)" : " hops)", h == 1 ? 6 : 7);
}

/* "12.3 ms", to - from as "%.1f ms" of elapsed_ms() prints it: in
 * integers, but for a time exactly halfway between two tenths (which
 * the double's binary rounding decides), from 10^15 ns (11.6 days) on,
 * or into a buffer under 24 bytes. */
static void ms_str(int64_t from, int64_t to, char *buf, size_t len)
{
	int64_t d = to > from ? to - from : 0, tenths;
	char *p = buf;

	if (len < 24 || d % 100000 == 50000 || d >= 1000000000000000LL) {
		snprintf(buf, len, "%.1f ms", elapsed_ms(from, to));
		return;
	}
	tenths = (d + 50000) / 100000;
	p = put_uint(p, (unsigned)(tenths / 10));
	*p++ = '.';
	*p++ = (char)('0' + tenths % 10);
	memcpy(p, " ms", 4);
}

static const char *fault_host(const struct report *r, char *buf, size_t len)
{
	if (r->fault_servers != 1)
		return "HOST";
	return addr_str(&r->fault_server, buf, len);
}

/* ------------------------------------------------------------- text */

/* s at p, then spaces up to w characters (as printf's %-*s); the end. */
static char *put_pad(char *p, const char *s, int w)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	p += n;
	for (; (int)n < w; n++)
		*p++ = ' ';
	return p;
}

/* One line of the listing, as
 * " %-15s  %-*s  %-*s  %s%-24s%s %-13s %-13s %-7s %s\n" prints it, put
 * together in a buffer: printf's parsing was a tenth of the run. Every
 * string is short (endpoints within 64, the rest within 32). */
static void list_line(FILE *f, const char *t, const char *cl, int wc,
		      const char *sv, int ws, const char *on, const char *res,
		      const char *off, const char *st, const char *rt,
		      const char *data, const char *ra)
{
	char line[512], *p = line;

	*p++ = ' ';
	p = put_pad(p, t, 15);
	p = put_pad(put_pad(p, "  ", 0), cl, wc);
	p = put_pad(put_pad(p, "  ", 0), sv, ws);
	p = put_pad(put_pad(p, "  ", 0), on, 0);
	p = put_pad(put_pad(p, res, 24), off, 0);
	p = put_pad(put_pad(p, " ", 0), st, 13);
	p = put_pad(put_pad(p, " ", 0), rt, 13);
	p = put_pad(put_pad(p, " ", 0), data, 7);
	p = put_pad(put_pad(p, " ", 0), ra, 0);
	*p++ = '\n';
	fwrite(line, 1, (size_t)(p - line), f);
}

static void print_text(FILE *f, struct report *r)
{
	const struct analyzer *a = &r->an;
	char cl[64], sv[64], t[32], st[24], rt[24], ra[24], host[INET6_ADDRSTRLEN];
	int wc = 6, ws = 6, color = use_color(f);
	uint64_t frames = 0, not_ip = 0, bad_link = 0;

	capture_counts(r->cap, &frames, &not_ip, &bad_link);
	fprintf(f, "%s%s: %llu packets", strcmp(r->command, "watch") ? ""
		: "interface ", TERM_STR(r->source), (unsigned long long)frames);
	if (a->skipped + bad_link)
		fprintf(f, " (%llu skipped as malformed)",
			(unsigned long long)(a->skipped + bad_link));
	if (capture_duplicates(r->cap))
		fprintf(f, " (%llu seen twice, on two interfaces, counted once)",
			(unsigned long long)capture_duplicates(r->cap));
	fprintf(f, ", %llu TCP connection%s, %llu asked for ECN\n",
		(unsigned long long)a->connections, a->connections == 1 ? "" : "s",
		(unsigned long long)a->ecn_connections);

	for (size_t i = 0; i < r->n; i++) {
		int l1 = endpoint_len(&r->list[i].client, r->list[i].sport);
		int l2 = endpoint_len(&r->list[i].server, r->list[i].dport);

		wc = l1 > wc ? l1 : wc;
		ws = l2 > ws ? l2 : ws;
	}
	if (r->n > 0)
		fprintf(f, " %-15s  %-*s  %-*s  %-24s %-13s %-13s %-7s %s\n",
			"start", wc, "client", ws, "server", "result",
			"synack ttl", "rst ttl", "data", "rst after data");
	for (size_t i = 0; i < r->n; i++) {
		const struct an_conn *c = &r->list[i];

		clock_str(c->t_first, t, sizeof(t));
		memcpy(st, "-", 2);
		memcpy(rt, "-", 2);
		memcpy(ra, "-", 2);
		if (c->have_synack)
			ttl_str(c->synack_ttl, st, sizeof(st));
		if (c->have_rst)
			ttl_str(c->rst_ttl, rt, sizeof(rt));
		if (c->have_rst && c->rst_after_data)
			ms_str(c->t_data, c->t_rst, ra, sizeof(ra));
		list_line(f, t, endpoint(&c->client, c->sport, cl, sizeof(cl)),
			  wc, endpoint(&c->server, c->dport, sv, sizeof(sv)), ws,
			  c->fault ? color_on(color, "red") : "",
			  an_result_name(c->result),
			  c->fault ? color_off(color) : "", st, rt,
			  c->have_data ? ecn_name(c->data_ecn) : "-", ra);
	}
	if (r->not_listed)
		fprintf(f, " (%llu more not listed)\n",
			(unsigned long long)r->not_listed);
	if (a->connections > 0 && a->faults == 0)
		fprintf(f, "no ECN faults\n");

	fprintf(f, "summary:");
	for (int k = 0, n = 0; k < AR_COUNT; k++)
		if (a->counts[k])
			fprintf(f, "%s %llu %s", n++ ? "," : "",
				(unsigned long long)a->counts[k], an_result_name(k));
	if (a->connections == 0)
		fprintf(f, " no TCP connection with its SYN in the capture");
	if (a->evicted)
		fprintf(f, "; %llu evicted from a full table (--max-conns)",
			(unsigned long long)a->evicted);
	if (a->server_full)
		fprintf(f, "; %llu connections to servers beyond the %d followed "
			"(no control)", (unsigned long long)a->server_full,
			AN_SERVERS_MAX);
	if (a->untracked)
		fprintf(f, "; %llu packets of connections whose SYN was not "
			"captured", (unsigned long long)a->untracked);
	if (r->drops)
		fprintf(f, "; %llu packets dropped by the kernel",
			(unsigned long long)r->drops);
	fputc('\n', f);

	if (a->counts[CR_RESET_OTHER]) {
		fprintf(f, "%llu of %llu ECN connections were reset by another "
			"machine: ", (unsigned long long)a->counts[CR_RESET_OTHER],
			(unsigned long long)a->ecn_connections);
		/* Several pairs (two paths: each way round): how often each. */
		for (size_t i = 0; i < r->npairs; i++) {
			fprintf(f, "%sSYN-ACK TTL %u, RST TTL %u", i ? "; " : "",
				r->pairs[i].synack, r->pairs[i].rst);
			if (r->npairs > 1 || r->pairs_other)
				fprintf(f, " (%llu)", (unsigned long long)r->pairs[i].count);
		}
		if (r->pairs_other)
			fprintf(f, "; other TTLs (%llu)",
				(unsigned long long)r->pairs_other);
		fprintf(f, " \u2014 the ECN-marked data took another path (see "
			"'ecntrace %s')\n", fault_host(r, host, sizeof(host)));
	}
	if (a->reset_plain_too)
		fprintf(f, "%llu of these resets are no ECN fault: plain connections "
			"to the same server were reset after their data as often\n",
			(unsigned long long)a->reset_plain_too);
	if (a->counts[AR_CE_ON_NOT_ECT] || a->counts[AR_ECT_ON_NOT_ECT])
		fprintf(f, "%llu connections without ECN carried CE-marked and "
			"%llu ECT-marked data: something on the path marks or "
			"sets the ECN field of Not-ECT packets\n",
			(unsigned long long)a->counts[AR_CE_ON_NOT_ECT],
			(unsigned long long)a->counts[AR_ECT_ON_NOT_ECT]);
	if (a->counts[CR_RESET_SAME])
		fprintf(f, "%llu of %llu ECN connections were reset after ECT data "
			"by the machine that answered the SYN (same TTL)\n",
			(unsigned long long)a->counts[CR_RESET_SAME],
			(unsigned long long)a->ecn_connections);
	if (a->counts[CR_ECT_DATA_LOST] || a->counts[CR_DATA_UNACKED])
		fprintf(f, "%llu of %llu ECN connections lost their ECT data "
			"(%llu got through resent Not-ECT): something drops "
			"ECN-marked packets (see 'ecntrace %s')\n",
			(unsigned long long)(a->counts[CR_ECT_DATA_LOST] +
					     a->counts[CR_DATA_UNACKED]),
			(unsigned long long)a->ecn_connections,
			(unsigned long long)a->counts[CR_ECT_DATA_LOST],
			fault_host(r, host, sizeof(host)));
	if (a->counts[CR_SYN_ECN_DROPPED] || a->counts[CR_SYN_ECN_RESET])
		fprintf(f, "%llu of %llu ECN connections had their ECN-setup SYN "
			"reset (%llu) or dropped (%llu): something refuses ECN "
			"negotiation (see 'ecntrace %s')\n",
			(unsigned long long)(a->counts[CR_SYN_ECN_DROPPED] +
					     a->counts[CR_SYN_ECN_RESET]),
			(unsigned long long)a->ecn_connections,
			(unsigned long long)a->counts[CR_SYN_ECN_RESET],
			(unsigned long long)a->counts[CR_SYN_ECN_DROPPED],
			fault_host(r, host, sizeof(host)));
	an_servers_text(f, a, color);
}

/* ------------------------------------------------------------- JSON */

/* KIND_marks, and the TTL and sender of the first marked packet (null
 * without one). */
static void json_marks(struct json *j, const char *kind, long long n, int ttl,
		       int from_server)
{
	char key[32];

	snprintf(key, sizeof(key), "%s_marks", kind);
	json_int(j, key, n);
	snprintf(key, sizeof(key), "%s_mark_ttl", kind);
	if (n)
		json_int(j, key, ttl);
	else
		json_null(j, key);
	snprintf(key, sizeof(key), "%s_mark_from", kind);
	json_str(j, key, n ? (from_server ? "server" : "client") : NULL);
}

static void json_conn(struct json *j, const struct analyzer *an,
		      const struct an_conn *c)
{
	char a[INET6_ADDRSTRLEN], fl[16];
	const struct an_synack *sa = &c->synack;
	const struct tcp_seg s = {
		.flags = sa->flags, .window = sa->window, .mss = sa->mss,
		.wscale = sa->wscale, .have_mss = sa->have_mss,
		.have_wscale = sa->have_wscale, .sack_ok = sa->sack_ok,
		.have_ts = sa->have_ts,
	};

	json_open_obj(j, NULL);
	json_str(j, "client", addr_str(&c->client, a, sizeof(a)));
	json_str(j, "server", addr_str(&c->server, a, sizeof(a)));
	json_int(j, "sport", c->sport);
	json_int(j, "dport", c->dport);
	json_int(j, "family", c->client.family == AF_INET ? 4 : 6);
	json_str(j, "result", an_result_name(c->result));
	json_bool(j, "fault", c->fault);
	if (c->result == AR_UNFINISHED)
		json_str(j, "unfinished_result", an_result_name(c->would_be));
	else
		json_null(j, "unfinished_result");
	json_num(j, "start", (double)c->t_first / 1e9, 6);
	json_str(j, "ecn_setup", an_setup_name(c->setup));
	json_int(j, "syns", c->syns);
	json_int(j, "ecn_syns", c->ecn_syns);
	json_bool(j, "fallback", c->fallback);
	if (c->have_synack) {
		json_synack(j, &s, c->synack_ttl, c->synack_tos, c->synack_ip_id);
		json_num(j, "synack_rtt_ms", elapsed_ms(c->t_syn, c->t_synack), 3);
		json_bool(j, "synack_to_plain_syn", c->synack_to_plain);
	} else {
		json_null(j, "synack_ttl");
		json_null(j, "synack_hops");
	}
	if (c->have_data) {
		json_str(j, "data_ecn", ecn_name(c->data_ecn));
		json_int(j, "data_segments", c->data_segs);
		json_int(j, "data_retransmissions", c->data_retx);
		json_bool(j, "data_acked", c->data_acked);
		json_bool(j, "resent_not_ect", c->retx_not_ect);
		json_bool(j, "acked_after_retransmission", c->acked_after_retx);
	} else {
		json_null(j, "data_ecn");
	}
	if (c->setup == SETUP_ACCECN && c->have_synack) {
		json_str(j, "syn_arrived_ecn", c->syn_arrived >= 0 ?
			 ecn_name(c->syn_arrived) : c->syn_arrived == -1 ? "none"
			 : c->syn_arrived == -2 ? "classic" : "broken");
		json_str(j, "forward_path", an_fwd_name(c->fwd));
	} else {
		json_null(j, "syn_arrived_ecn");
		json_null(j, "forward_path");
	}
	json_marks(j, "ect", c->ect_marks, c->ect_mark_ttl, c->ect_mark_from_server);
	json_marks(j, "ce", c->ce_marks, c->ce_mark_ttl, c->ce_mark_from_server);
	json_int(j, "icmp_errors", c->icmp_errors);
	if (c->icmp_errors) {
		char ia[INET6_ADDRSTRLEN];

		json_open_obj(j, "icmp");
		json_int(j, "type", c->icmp_type);
		json_int(j, "code", c->icmp_code);
		json_str(j, "from", addr_str(&c->icmp_from, ia, sizeof(ia)));
		json_str(j, "to", c->icmp_to_client ? "client" : "server");
		json_str(j, "quoted_ecn", ecn_name(c->icmp_quoted_ecn));
		tcp_flags_str(c->icmp_quoted_flags, fl, sizeof(fl));
		json_str(j, "quoted_flags", fl);
		json_close_obj(j);
	} else {
		json_null(j, "icmp");
	}
	json_int(j, "ece_acks", c->ece_acks);
	json_bool(j, "ce_seen", c->ce_seen || c->accecn_ce);
	if (c->have_rst) {
		json_int(j, "rst_ttl", c->rst_ttl);
		json_int(j, "rst_hops", return_hops(c->rst_ttl));
		tcp_flags_str(c->rst_flags, fl, sizeof(fl));
		json_str(j, "rst_flags", fl);
		json_str(j, "rst_ecn", ecn_name(c->rst_tos & 3));
		json_str(j, "rst_after", !c->rst_post_synack ? "syn" :
			 c->rst_after_data ? "data" : "other");
		json_bool(j, "rst_after_ect", c->rst_after_ect);
		json_bool(j, "rst_seq_is_ack", c->rst_seq_is_ack);
		json_bool(j, "rst_ts", c->rst_ts);
		json_int(j, "rst_ip_id", c->rst_ip_id);
		if (c->rst_after_data)
			json_num(j, "rst_ms_after_data", elapsed_ms(c->t_data, c->t_rst), 3);
		else
			json_null(j, "rst_ms_after_data");
		struct an_ctl k;

		if (c->rst_after_data && c->setup != SETUP_NONE &&
		    an_control(an, c, &k) != CTL_NO_ROOM)
			an_control_json(j, &k);
		else
			json_null(j, "control");
	} else {
		json_null(j, "rst_ttl");
		json_null(j, "rst_hops");
	}
	json_int(j, "packets", (long long)c->packets);
	json_num(j, "duration_ms", elapsed_ms(c->t_first, c->t_last), 3);
	json_bool(j, "evicted", c->evicted);
	json_bool(j, "closed", c->closed);
	json_bool(j, "timed_out", c->timed_out);
	json_bool(j, "unfinished", c->unfinished);
	json_close_obj(j);
}

static void print_json(FILE *f, struct report *r)
{
	const struct analyzer *a = &r->an;
	char host[INET6_ADDRSTRLEN];
	const char *dn = capture_link_name(r->cap);
	uint64_t frames = 0, not_ip = 0, bad_link = 0;
	struct json j;

	capture_counts(r->cap, &frames, &not_ip, &bad_link);
	json_begin_doc(&j, f, r->command);
	json_str(&j, "source", r->source);
	json_str(&j, "link_type", dn);
	json_int(&j, "packets", (long long)frames);
	json_int(&j, "skipped", (long long)(a->skipped + bad_link));
	json_int(&j, "not_ip", (long long)not_ip);
	json_int(&j, "duplicates", (long long)capture_duplicates(r->cap));
	json_int(&j, "not_tcp", (long long)a->not_tcp);
	json_int(&j, "untracked", (long long)a->untracked);
	json_int(&j, "icmp_matched", (long long)a->icmp_matched);
	json_int(&j, "snapped", (long long)a->snapped);
	json_bool(&j, "all", r->all);
	json_open_arr(&j, "connections");
	for (size_t i = 0; i < r->n; i++)
		json_conn(&j, a, &r->list[i]);
	json_close_arr(&j);
	an_servers_json(&j, a);
	json_open_obj(&j, "summary");
	json_int(&j, "connections", (long long)a->connections);
	json_int(&j, "ecn_connections", (long long)a->ecn_connections);
	json_int(&j, "faults", (long long)a->faults);
	json_open_obj(&j, "results");
	for (int k = 0; k < AR_COUNT; k++)
		if (a->counts[k])
			json_int(&j, an_result_name(k), (long long)a->counts[k]);
	json_close_obj(&j);
	json_open_arr(&j, "reset_ttls");
	for (size_t i = 0; i < r->npairs; i++) {
		json_open_obj(&j, NULL);
		json_int(&j, "synack_ttl", r->pairs[i].synack);
		json_int(&j, "rst_ttl", r->pairs[i].rst);
		json_int(&j, "count", (long long)r->pairs[i].count);
		json_close_obj(&j);
	}
	json_close_arr(&j);
	if (r->fault_servers == 1)
		json_str(&j, "fault_server", fault_host(r, host, sizeof(host)));
	else
		json_null(&j, "fault_server");
	json_int(&j, "evicted", (long long)a->evicted);
	json_int(&j, "timed_out", (long long)a->timed_out);
	json_int(&j, "reset_plain_too", (long long)a->reset_plain_too);
	json_int(&j, "unfinished", (long long)a->unfinished);
	json_int(&j, "max_conns", (long long)a->cap);
	json_int(&j, "server_full", (long long)a->server_full);
	json_int(&j, "not_listed", (long long)r->not_listed);
	json_bool(&j, "read_error", r->read_error);
	if (!strcmp(r->command, "watch")) {
		json_int(&j, "drops", (long long)r->drops);
		json_bool(&j, "interrupted", r->interrupted);
	}
	json_close_obj(&j);
	json_close_obj(&j);
	json_end(&j);
}

/* ------------------------------------------------------------ running */

static int report_init(struct report *r, const char *cmd, size_t max_conns)
{
	memset(r, 0, sizeof(*r));
	r->command = cmd;
	if (analyzer_init(&r->an, max_conns, on_done, r) < 0) {
		warnx_("out of memory");
		return EX_OSERR;
	}
	return 0;
}

/* Finish, print, free; the exit code. */
static int report_end(struct report *r)
{
	int rc;

	analyzer_finish(&r->an);
	/* The control, known now that the whole capture is seen: resets
	 * plain connections to the server got as often are no fault. */
	if (r->an.reset_plain_too) {
		struct an_ctl k;

		for (size_t i = 0; i < r->n; i++) {
			struct an_conn *c = &r->list[i];

			if ((c->result == CR_RESET_OTHER ||
			     c->result == CR_RESET_SAME) &&
			    an_control(&r->an, c, &k) == CTL_PLAIN_TOO)
				c->fault = 0;
		}
		if (!r->all) {
			size_t n = 0;

			for (size_t i = 0; i < r->n; i++)
				if (r->list[i].fault)
					r->list[n++] = r->list[i];
			r->n = n;
		}
		if (r->not_listed == 0) {
			r->fault_servers = 0;
			for (size_t i = 0; i < r->n; i++) {
				const struct an_conn *c = &r->list[i];

				if (!c->fault)
					continue;
				if (r->fault_servers == 0) {
					r->fault_server = c->server;
					r->fault_servers = 1;
				} else if (!addr_eq(&r->fault_server, &c->server)) {
					r->fault_servers = 2;
				}
			}
		}
	}
	if (r->n > 1)
		qsort(r->list, r->n, sizeof(*r->list), by_start);
	if (r->json)
		print_json(stdout, r);
	else
		print_text(stdout, r);
	rc = r->an.faults ? EXIT_BROKEN : EXIT_HEALTHY;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx_("writing the report failed");
		rc = EX_IOERR;
	}
	analyzer_free(&r->an);
	capture_close(r->cap);
	free(r->list);
	return rc;
}

int cmd_analyze(int argc, char **argv)
{
	struct report r;
	char err[512] = "";
	int json = 0, all = 0, c, rc;
	long max_conns = 0, threads = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", analyze_opts, NULL)) != -1) {
		switch (c) {
		case OPT_MAX_CONNS:
			if (cli_num(optarg, 16, AN_TABLE_MAX, "connection count",
				    &max_conns) < 0)
				return EX_USAGE;
			break;
		case OPT_THREADS:
			if (cli_num(optarg, 1, 2, "thread count", &threads) < 0)
				return EX_USAGE;
			break;
		case OPT_JSON: json = 1; break;
		case OPT_ALL: all = 1; break;
		case 'h':
			fputs(analyze_usage, stdout);
			return 0;
		default:
			cli_bad_option("analyze", argc, argv, c);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		warnx_(optind >= argc ? "analyze: no capture file given (see "
					"'ecntrace analyze --help')"
				      : "analyze: one capture file only (see "
					"'ecntrace analyze --help')");
		return EX_USAGE;
	}
	/* Reading a file needs no privilege: hold none while libpcap and
	 * the analyzer parse what may be hostile input. */
	if (priv_drop(0) < 0) {
		warnx_("cannot drop privileges");
		return EX_OSERR;
	}
	if ((rc = report_init(&r, "analyze", (size_t)max_conns)) != 0)
		return rc;
	r.json = json;
	r.all = all;
	r.source = argv[optind];
	rc = capture_open_file(&r.cap, r.source, err, sizeof(err));
	if (rc != 0) {
		warnx_("%s", err);
		analyzer_free(&r.an);
		return rc;
	}
	rc = an_pipe_each(r.cap, &r.an, (int)threads, err, sizeof(err));
	if (rc == -1 && strstr(err, "different from the type of the first "
			       "interface") != NULL) {
		/* libpcap reads a pcapng file's interfaces of one link type
		 * only: not a damaged file, say what to do. */
		warnx_("%s: a pcapng file whose interfaces have several link "
		       "types, which libpcap does not read; the report covers "
		       "the packets before it (split the file per interface, "
		       "e.g. tshark -r FILE -Y frame.interface_id==N -w PART)",
		       r.source);
		r.read_error = 1;
	} else if (rc == -1) {
		/* A capture cut short (tcpdump killed): what came before
		 * still counts. */
		warnx_("%s: the capture is cut short; the report covers the "
		       "packets before the cut", err);
		r.read_error = 1;
	}
	rc = report_end(&r);
	return r.read_error && rc != EX_IOERR ? EX_DATAERR : rc;
}

int cmd_watch(int argc, char **argv)
{
	struct report r;
	struct cap_pkt p;
	struct pcap_writer *pw = NULL;
	struct outfile pf = { 0 };
	const char *iface = NULL, *pcap_path = NULL;
	char err[512] = "";
	int json = 0, all = 0, c, rc;
	long count = 0, max_conns = 0;
	int64_t duration = 0, t_end = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:c:h", watch_opts, NULL)) != -1) {
		switch (c) {
		case 'i': iface = optarg; break;
		case 'c':
			if (cli_num(optarg, 1, 1000000000, "packet count", &count) < 0)
				return EX_USAGE;
			break;
		case OPT_DURATION:
			if (cli_secs(optarg, 31536000, "duration", &duration) < 0)
				return EX_USAGE;
			break;
		case OPT_JSON: json = 1; break;
		case OPT_ALL: all = 1; break;
		case OPT_PCAP: pcap_path = optarg; break;
		case OPT_MAX_CONNS:
			if (cli_num(optarg, 16, AN_TABLE_MAX, "connection count",
				    &max_conns) < 0)
				return EX_USAGE;
			break;
		case 'h':
			fputs(watch_usage, stdout);
			return 0;
		default:
			cli_bad_option("watch", argc, argv, c);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		warnx_("watch: unexpected argument '%s' (see 'ecntrace watch "
		       "--help')", argv[optind]);
		return EX_USAGE;
	}
	if ((rc = report_init(&r, "watch", (size_t)max_conns)) != 0)
		return rc;
	r.json = json;
	r.all = all;
	r.source = iface ? iface : "any";
	rc = capture_open_live(&r.cap, iface, err, sizeof(err));
	if (rc != 0) {
		warnx_("%s", err);
		analyzer_free(&r.an);
		return rc;
	}
	/* The capture is open: nothing else needs privilege; the file is
	 * created after, with the caller's own identity. */
	if (priv_drop(0) < 0) {
		warnx_("cannot drop privileges");
		capture_close(r.cap);
		analyzer_free(&r.an);
		return EX_OSERR;
	}
	if (pcap_path != NULL) {
		if (outfile_open(&pf, pcap_path, err, sizeof(err)) < 0 ||
		    (pw = pcapw_fopen(pf.fp, err, sizeof(err))) == NULL) {
			warnx_("cannot create %s: %s", pcap_path, err);
			outfile_discard(&pf);
			capture_close(r.cap);
			analyzer_free(&r.an);
			return EX_CANTCREAT;
		}
	}
	engine_catch_signals();
	if (duration)
		t_end = now_ns() + duration;
	for (;;) {
		int64_t wait = 200000000;    /* wake up to look at the clock */
		uint64_t frames, not_ip, bad_link;

		if (engine_stop) {
			r.interrupted = 1;
			break;
		}
		capture_counts(r.cap, &frames, &not_ip, &bad_link);
		if (count && frames >= (uint64_t)count)
			break;
		if (duration) {
			int64_t left = t_end - now_ns();

			if (left <= 0)
				break;
			if (left < wait)
				wait = left;
		}
		rc = capture_next(r.cap, &p, wait, err, sizeof(err));
		if (rc == 1) {
			pcapw_write(pw, p.ip, p.len, p.ts_ns);
			(void)analyzer_packet(&r.an, p.ip, p.len, p.wire_len,
					      p.ts_ns);
		} else if (rc < 0) {
			warnx_("%s", rc == -1 ? err : "capture ended");
			r.read_error = 1;
			break;
		}
	}
	r.drops = capture_drops(r.cap);
	if (pcapw_close(pw) < 0) {
		warnx_("cannot write %s: %s", pcap_path, strerror(errno));
		r.write_error = 1;
	}
	rc = report_end(&r);
	if (r.write_error)
		return EX_IOERR;
	return r.read_error && rc == EXIT_HEALTHY ? EX_OSERR : rc;
}
