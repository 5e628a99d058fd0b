/*
 * libFuzzer target for pcapng captures: the input, made a pcapng section
 * (its first four bytes become the Section Header Block's type, so every
 * input reaches libpcap's pcapng reader rather than a format check), is
 * read through the capture layer (fmemopen + capture_open_stream): block
 * parsing, several interfaces, if_tsresol in any base, Enhanced and
 * Simple Packet Blocks, every link type we take apart. Seeds:
 * corpus_pcapng/ (tests/fuzz/make_pcapng_seeds.py). Besides the
 * sanitizers' checks, abort when a packet claims more than was captured,
 * a time stamp is negative, the frame counts do not balance, an error
 * message spans lines, or a second reading of the same bytes gives other
 * packets (state kept across captures). The packets also go through an
 * analyzer with a small table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reading {
	uint64_t fed, frames, not_ip, bad_link, dups, sum;
	int rc;
};

/* FNV-1a over what a packet says of itself. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void read_all(const uint8_t *data, size_t size, struct analyzer *an,
		     struct reading *r)
{
	struct capture *c;
	struct cap_pkt p;
	char err[512];
	FILE *f = fmemopen((void *)data, size, "rb");

	memset(r, 0, sizeof(*r));
	r->sum = 0xcbf29ce484222325ULL;
	if (f == NULL)
		abort();
	r->rc = capture_open_stream(&c, f, "fuzz", err, sizeof(err));
	if (r->rc != 0) {
		if (strchr(err, '\n') != NULL)
			abort();
		return;
	}
	for (int i = 0; i < 100000; i++) {
		r->rc = capture_next(c, &p, 0, err, sizeof(err));
		if (r->rc != 1)
			break;
		if (p.len > 262144 || p.wire_len < p.len || p.ts_ns < 0 ||
		    (p.len > 0 && p.ip == NULL))
			abort();
		r->fed++;
		r->sum = mix(r->sum, &p.len, sizeof(p.len));
		r->sum = mix(r->sum, &p.wire_len, sizeof(p.wire_len));
		r->sum = mix(r->sum, &p.ts_ns, sizeof(p.ts_ns));
		r->sum = mix(r->sum, p.ip, p.len < 64 ? p.len : 64);
		if (an != NULL &&
		    analyzer_packet(an, p.ip, p.len, p.wire_len, p.ts_ns) > 1)
			abort();
	}
	if (r->rc == -1 && strchr(err, '\n') != NULL)
		abort();
	capture_counts(c, &r->frames, &r->not_ip, &r->bad_link);
	r->dups = capture_duplicates(c);
	if (r->fed + r->not_ip + r->bad_link + r->dups != r->frames)
		abort();
	capture_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t shb[4] = { 0x0a, 0x0d, 0x0d, 0x0a };
	struct reading a, b;
	struct analyzer an;
	uint8_t *buf;
	uint64_t sum = 0;

	if (size < 4 || size > 65536)
		return 0;
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	memcpy(buf, shb, sizeof(shb));
	if (analyzer_init(&an, 16, NULL, NULL) < 0)
		abort();
	an.key[0] = an.key[1] = 0;
	read_all(buf, size, &an, &a);
	analyzer_finish(&an);
	for (int k = 0; k < AR_COUNT; k++)
		sum += an.counts[k];
	if (an.packets != a.fed || sum != an.connections || an.active != 0)
		abort();
	analyzer_free(&an);
	read_all(buf, size, NULL, &b);
	if (a.rc != b.rc || a.fed != b.fed || a.frames != b.frames ||
	    a.not_ip != b.not_ip || a.bad_link != b.bad_link ||
	    a.dups != b.dups || a.sum != b.sum)
		abort();
	free(buf);
	return 0;
}
