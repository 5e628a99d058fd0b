/*
 * libFuzzer target for what ecntrace scan reads: the input as a reply
 * (pkt_parse_cut, then scan_validate against a target list and a key:
 * a match must name a target of the list, a port of ours and a tag in
 * range), and as a blocklist file and a --resume file (each parsed,
 * merged, subtracted, every index mapped back). Target files differ from
 * blocklists only by resolving host names, which a fuzzer must not do.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reply(const uint8_t *data, size_t size, const struct scan_targets *t)
{
	static const struct scan_key key = { { 0x0123456789abcdefULL, 42 } };
	struct pkt_reply r;
	struct scan_match m;
	struct addr a;

	if (pkt_parse_cut(data, size, size, &r) < 0 ||
	    scan_validate(&key, t, 80, 40000, 4, &r, &m) < 0)
		return;
	if (m.idx >= t->total || m.port < 0 || m.port >= 8 || m.tag.ecn > 3 ||
	    m.tag.rep > 7 || m.tag.ttl > 127)
		abort();
	scan_target_at(t, m.idx, &a);
	if (!addr_eq(&a, m.target))
		abort();
}

static void lists(const uint8_t *data, size_t size)
{
	struct scan_targets blk = { 0 }, res = { 0 }, copy = { 0 };
	char err[256];
	FILE *fp = fmemopen((void *)data, size, "r");

	if (fp == NULL)
		return;
	if (scan_block_read(&blk, fp, "fuzz", err, sizeof(err)) == 0 &&
	    scan_targets_finish(&blk) == 0) {
		scan_block_add(&copy, "198.18.0.0/16", err, sizeof(err));
		scan_block_add(&copy, "2001:db8::/112", err, sizeof(err));
		if (scan_targets_finish(&copy) == 0) {
			uint64_t before = copy.total;
			uint64_t cut = scan_targets_subtract(&copy, &blk);

			if (cut + copy.total != before)
				abort();
			for (uint64_t i = 0; i < copy.total; i += 97) {
				struct addr a;

				scan_target_at(&copy, i, &a);
				if (scan_target_index(&copy, &a) != (int64_t)i)
					abort();
			}
		}
	}
	rewind(fp);
	if (scan_resume_read(&res, fp) == 0)
		for (uint64_t i = 0; i < res.total && i < 1000; i++) {
			struct addr a;

			scan_target_at(&res, i, &a);
			if (scan_target_index(&res, &a) != (int64_t)i)
				abort();
		}
	fclose(fp);
	scan_targets_free(&blk);
	scan_targets_free(&res);
	scan_targets_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct scan_targets t;
	static int ready;
	char err[256];

	if (!ready) {
		scan_targets_add(&t, "198.18.0.0/16", 0, err, sizeof(err));
		scan_targets_add(&t, "2001:db8::/112", 0, err, sizeof(err));
		scan_targets_add(&t, "203.0.113.80", 0, err, sizeof(err));
		if (scan_targets_finish(&t) < 0)
			abort();
		ready = 1;
	}
	reply(data, size, &t);
	lists(data, size);
	return 0;
}
