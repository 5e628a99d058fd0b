/*
 * libFuzzer target for analyze: the input is a capture file (pcap or
 * pcapng, any link type), read through the capture layer (fmemopen +
 * pcap_fopen_offline) into an analyzer with a small table, so eviction
 * and port reuse are reached too. Besides the sanitizers' checks, abort
 * when the books do not balance: every connection finished exactly once,
 * the results adding up, no packet counted twice. A file that reads to
 * its end cleanly then goes through `ecntrace analyze --all` in JSON and
 * text (standard output to /dev/null), so the renderings meet every
 * connection state too.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyze.h"
#include "capture.h"
#include "commands.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct books {
	uint64_t done, faults;
};

static void on_done(void *ctx, const struct an_conn *c)
{
	struct books *b = ctx;
	char a[INET6_ADDRSTRLEN];

	b->done++;
	b->faults += (uint64_t)c->fault;
	if (c->result < 0 || c->result >= AR_COUNT ||
	    c->fault != an_is_fault(c->result) ||
	    strcmp(an_result_name(c->result), "?") == 0)
		abort();
	if (c->client.family != c->server.family || c->syns < 1 ||
	    c->ecn_syns > c->syns || c->packets < 1)
		abort();
	addr_str(&c->client, a, sizeof(a));
	addr_str(&c->server, a, sizeof(a));
}

/* The whole command on the input, as a file; its exit code. */
static int run_command(const uint8_t *data, size_t size, int json)
{
	static int quiet;
	char path[64];
	/* A small table: the default one (65536 slots) would cost more to
	 * set up than a small input costs to read, and a full table's
	 * eviction is what a fuzzer should reach. */
	char *argv[] = { "analyze", "--all", "--max-conns", "16",
			 json ? "--json" : "--all", path, NULL };
	int fd, rc;

	if (!quiet) {
		int null = open("/dev/null", O_WRONLY);

		if (null < 0 || dup2(null, 1) < 0)
			abort();
		close(null);
		quiet = 1;
	}
	fd = memfd_create("fuzz_analyze", 0);
	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = cmd_analyze(6, argv);
	close(fd);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct books b = { 0, 0 };
	struct analyzer an;
	struct capture *c;
	struct cap_pkt p;
	char err[512];
	uint64_t frames, not_ip, bad_link, sum = 0, fed = 0;
	FILE *f;
	int rc;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (f == NULL)
		return 0;
	if (capture_open_stream(&c, f, "fuzz", err, sizeof(err)) != 0) {
		if (strchr(err, '\n') != NULL)
			abort();
		return 0;
	}
	if (analyzer_init(&an, 8, on_done, &b) < 0)
		abort();
	/* A fixed key: a crash found must replay the same way. */
	an.key[0] = an.key[1] = 0;
	/* A file is finite; the bound is only a guard. */
	for (int i = 0;; i++) {
		if (i == 100000)
			abort();         /* a file of 2 KiB has no such number */
		rc = capture_next(c, &p, 0, err, sizeof(err));
		if (rc != 1)
			break;
		if (p.len > 262144 || p.wire_len < p.len)
			abort();
		fed++;
		rc = analyzer_packet(&an, p.ip, p.len, p.wire_len, p.ts_ns);
		if (rc < -1 || rc > 1)
			abort();
	}
	capture_counts(c, &frames, &not_ip, &bad_link);
	if (fed + not_ip + bad_link + capture_duplicates(c) != frames)
		abort();
	capture_close(c);
	analyzer_finish(&an);
	for (int k = 0; k < AR_COUNT; k++)
		sum += an.counts[k];
	if (b.done != an.connections || sum != an.connections ||
	    b.faults != an.faults + an.reset_plain_too || an.active != 0 ||
	    an.ecn_connections > an.connections || an.packets != fed ||
	    an.skipped + an.not_tcp + an.untracked > an.packets)
		abort();
	analyzer_free(&an);
	if (rc == -2) {
		/* Its table is larger than ours: the verdict may differ. */
		int j = run_command(data, size, 1), t = run_command(data, size, 0);

		if ((j != 0 && j != 1) || j != t)
			abort();
	}
	return 0;
}
