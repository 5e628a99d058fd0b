/*
 * pcap_gen: write a synthetic capture (classic pcap, Ethernet) for
 * bench/analyze.sh. TCP connections from clients in 192.0.2.0/24 to
 * BENCH servers in 203.0.113.0/24 port 443, a window of them interleaved:
 * half ask for ECN (ECE+CWR on the SYN, ECE on the SYN-ACK, ECT(0) data)
 * and every other one of those is reset after its first data segment by
 * an RST from another hop count (TTL 60 against the SYN-ACK's 58); the
 * other half are plain. Connections that are not reset send -d data
 * segments of -s bytes, each acknowledged, and close with FINs.
 *
 *   pcap_gen [-n PACKETS] [-b BYTES] [-d SEGS] [-s SIZE] [-S SERVERS]
 *            [-w PID] [-c COUNTS] [-o FILE]
 *
 * It starts connections until PACKETS packets or BYTES bytes are written,
 * then finishes those open. -c writes what it generated ("key value"
 * lines) to COUNTS; -w PID prints, on stderr, PID's resident memory each
 * time another GiB is written (the reader of a pipe). Writes to standard
 * output without -o. Exit 0, or 1 on a write error, 64 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 64                    /* connections open at once */
#define T_STEP_NS 10000              /* 10 us between packets */
#define MAX_SIZE 1460

enum kind { PLAIN, ECN_OK, ECN_RESET };
enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16, F_ECE = 64,
       F_CWR = 128 };

struct conn {
	uint64_t id;
	enum kind kind;
	int step, active;
	uint32_t cisn, sisn;
};

struct gen {
	FILE *out;
	uint64_t packets, bytes, conns, ecn, plain, reset, next_gib;
	uint64_t max_packets, max_bytes;
	int segs, size, servers, watch_pid;
	int64_t t_ns;
	uint16_t ip_id;
	uint8_t buf[14 + 20 + 20 + MAX_SIZE];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void ip_sum(uint8_t *ip)
{
	uint32_t s = 0;

	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(ip + 10, (uint16_t)~s);
}

static void rss(struct gen *g)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", g->watch_pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	fprintf(stderr, "at %" PRIu64 " GiB:", g->bytes >> 30);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6) || !strncmp(line, "VmHWM:", 6))
			fprintf(stderr, " %.*s", (int)strcspn(line, "\n"), line);
	fputc('\n', stderr);
	fclose(f);
}

/* One packet: from the client (to_server) or the server. */
static int emit(struct gen *g, const struct conn *c, int to_server,
		uint8_t flags, uint32_t seq, uint32_t ack, uint8_t tos,
		uint8_t ttl, int plen)
{
	uint8_t *e = g->buf, *ip = e + 14, *t = ip + 20, hdr[16];
	uint32_t cl = 0xc0000200u | (uint32_t)(1 + c->id % 250);
	uint32_t sv = 0xcb007100u | (uint32_t)(1 + c->id / 4 % (uint64_t)g->servers);
	uint16_t cport = (uint16_t)(10000 + c->id / 250 % 50000);
	size_t len = 14 + 20 + 20 + (size_t)plen;

	memset(e, 0, 14 + 40);
	e[5] = to_server ? 1 : 2;
	e[11] = to_server ? 2 : 1;
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = tos;
	put16(ip + 2, (uint16_t)(40 + plen));
	put16(ip + 4, g->ip_id++);
	ip[6] = 0x40;
	ip[8] = ttl;
	ip[9] = 6;
	put32(ip + 12, to_server ? cl : sv);
	put32(ip + 16, to_server ? sv : cl);
	ip_sum(ip);
	put16(t, to_server ? cport : 443);
	put16(t + 2, to_server ? 443 : cport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, flags & F_RST ? 0 : 64240);
	le32(hdr, (uint32_t)(g->t_ns / 1000000000));
	le32(hdr + 4, (uint32_t)(g->t_ns % 1000000000 / 1000));
	le32(hdr + 8, (uint32_t)len);
	le32(hdr + 12, (uint32_t)len);
	if (fwrite(hdr, 16, 1, g->out) != 1 || fwrite(e, len, 1, g->out) != 1)
		return -1;
	g->t_ns += T_STEP_NS;
	g->packets++;
	g->bytes += 16 + len;
	if (g->watch_pid && g->bytes >> 30 >= g->next_gib) {
		fflush(g->out);
		rss(g);
		g->next_gib++;
	}
	return 0;
}

/*
 * The next packet of c; c->active 0 after its last. Steps: 0 SYN, 1
 * SYN-ACK, 2 ACK, then data i (3 + 2i) and its ACK (4 + 2i), then FIN,
 * FIN, ACK; a reset connection: SYN, SYN-ACK, ACK, data, RST.
 */
static int step(struct gen *g, struct conn *c)
{
	int ecn = c->kind != PLAIN, s = c->step++, d = (s - 3) / 2;
	uint8_t ect = ecn ? 0x02 : 0;
	uint32_t cseq = c->cisn + 1 + (uint32_t)(d * g->size);
	uint32_t end = c->cisn + 1 + (uint32_t)(g->segs * g->size);

	if (s == 0)
		return emit(g, c, 1, F_SYN | (ecn ? F_ECE | F_CWR : 0), c->cisn,
			    0, 0, 64, 0);
	if (s == 1)
		return emit(g, c, 0, F_SYN | F_ACK | (ecn ? F_ECE : 0), c->sisn,
			    c->cisn + 1, 0, 58, 0);
	if (s == 2)
		return emit(g, c, 1, F_ACK, c->cisn + 1, c->sisn + 1, 0, 64, 0);
	if (c->kind == ECN_RESET && s == 4) {
		c->active = 0;
		return emit(g, c, 0, F_RST, c->sisn + 1, 0, 0, 60, 0);
	}
	if (d < g->segs && s % 2 == 1)
		return emit(g, c, 1, F_PSH | F_ACK, cseq, c->sisn + 1, ect, 64,
			    g->size);
	if (d < g->segs)
		return emit(g, c, 0, F_ACK, c->sisn + 1, cseq + (uint32_t)g->size,
			    0, 58, 0);
	s -= 3 + 2 * g->segs;
	if (s == 0)
		return emit(g, c, 1, F_FIN | F_ACK, end, c->sisn + 1, 0, 64, 0);
	if (s == 1)
		return emit(g, c, 0, F_FIN | F_ACK, c->sisn + 1, end + 1, 0, 58, 0);
	c->active = 0;
	return emit(g, c, 1, F_ACK, end + 1, c->sisn + 2, 0, 64, 0);
}

static int more(const struct gen *g)
{
	return (g->max_packets == 0 || g->packets < g->max_packets) &&
	       (g->max_bytes == 0 || g->bytes < g->max_bytes);
}

static void start(struct gen *g, struct conn *c)
{
	uint64_t id = g->conns++;

	c->id = id;
	c->kind = id % 4 == 0 ? ECN_OK : id % 4 == 1 ? ECN_RESET : PLAIN;
	c->step = 0;
	c->active = 1;
	c->cisn = (uint32_t)(id * 2654435761u);
	c->sisn = (uint32_t)(id * 40503u + 12345u);
	g->ecn += c->kind != PLAIN;
	g->plain += c->kind == PLAIN;
	g->reset += c->kind == ECN_RESET;
}

static int number(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s || x < lo || x > hi)
		return -1;
	if (*end == 'G' || *end == 'M') {
		x <<= *end == 'G' ? 30 : 20;
		end++;
	}
	if (*end != '\0')
		return -1;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	static struct gen g;
	struct conn w[WINDOW];
	const char *counts = NULL, *path = NULL;
	uint64_t v;
	int o, live = 0, rc = 0;

	g.segs = 4;
	g.size = 100;
	g.servers = 8;
	g.max_packets = 1000000;
	while ((o = getopt(argc, argv, "n:b:d:s:S:w:c:o:")) != -1) {
		if (o == 'c' || o == 'o') {
			*(o == 'c' ? &counts : &path) = optarg;
			continue;
		}
		if (number(optarg, o == 'n' || o == 'b' ? 0 : 1,
			   o == 's' ? MAX_SIZE : o == 'S' ? 250 : o == 'd' ? 10000
			   : o == 'w' ? 4194304 : UINT64_MAX >> 31, &v) < 0) {
			fprintf(stderr, "pcap_gen: bad -%c %s\n", o, optarg);
			return 64;
		}
		switch (o) {
		case 'n': g.max_packets = v; break;
		case 'b': g.max_bytes = v; g.max_packets = 0; break;
		case 'd': g.segs = (int)v; break;
		case 's': g.size = (int)v; break;
		case 'S': g.servers = (int)v; break;
		case 'w': g.watch_pid = (int)v; g.next_gib = 1; break;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: pcap_gen [-n PACKETS] [-b BYTES] [-d SEGS] "
			"[-s SIZE] [-S SERVERS] [-w PID] [-c COUNTS] [-o FILE]\n");
		return 64;
	}
	g.out = path ? fopen(path, "wb") : stdout;
	if (g.out == NULL) {
		perror(path);
		return 1;
	}
	g.t_ns = 1764633600LL * 1000000000;       /* 2025-12-02 */
	{
		uint8_t fh[24] = { 0 };

		le32(fh, 0xa1b2c3d4);
		fh[4] = 2;
		fh[6] = 4;
		le32(fh + 16, 65535);
		le32(fh + 20, 1);             /* DLT_EN10MB */
		if (fwrite(fh, sizeof(fh), 1, g.out) != 1)
			rc = 1;
		g.bytes = sizeof(fh);
	}
	memset(w, 0, sizeof(w));
	for (int i = 0; i < WINDOW && more(&g); i++, live++)
		start(&g, &w[i]);
	/* Round robin over the window; a finished slot takes a new one. */
	while (live > 0 && rc == 0) {
		for (int i = 0; i < WINDOW && rc == 0; i++) {
			if (!w[i].active)
				continue;
			if (step(&g, &w[i]) < 0)
				rc = 1;
			if (!w[i].active && more(&g))
				start(&g, &w[i]);
			else if (!w[i].active)
				live--;
		}
	}
	if (fflush(g.out) != 0 || (path && fclose(g.out) != 0))
		rc = 1;
	if (rc)
		fprintf(stderr, "pcap_gen: write error: %s\n", strerror(errno));
	if (counts != NULL) {
		FILE *f = fopen(counts, "w");

		if (f == NULL)
			return 1;
		fprintf(f, "packets %" PRIu64 "\nbytes %" PRIu64 "\nconnections %"
			PRIu64 "\necn_connections %" PRIu64 "\nplain %" PRIu64
			"\nreset %" PRIu64 "\nservers %d\n", g.packets, g.bytes,
			g.conns, g.ecn, g.plain, g.reset,
			g.conns < (uint64_t)g.servers ? (int)g.conns : g.servers);
		if (fclose(f) != 0)
			rc = 1;
	}
	return rc;
}
