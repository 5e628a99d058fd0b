/* ecntrace scan TARGET... | -f FILE | - : options, targets, blocklist,
 * resume, dry run, privileges, output. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "commands.h"
#include "ecntrace.h"
#include "engine.h"
#include "outfile.h"
#include "priv.h"
#include "resolve.h"
#include "scan.h"

static const char scan_usage[] =
"usage: ecntrace scan [options] TARGET... | -f FILE | -\n"
"\n"
"The ECN-dependence test over many targets (addresses, CIDR prefixes, host\n"
"names; IPv4 and IPv6 /96 or longer), stateless at rate: for each, K flows\n"
"probed with Not-ECT and ECT(0) to the target and with every codepoint at\n"
"the last router before it; ECN-setup SYNs against plain ones; where the\n"
"path depends on ECN, the hop that splits it. One NDJSON object per target,\n"
"then a summary grouping the targets by the router that splits them.\n"
"\n"
"  -f FILE           read targets from FILE ('-': standard input), one a line\n"
"  -p PORT           TCP port (default 80)\n"
"  -4, -6            names resolve to IPv4 or IPv6 only\n"
"  -c CONF           confidence of a verdict (0.9-0.9999, default 0.99)\n"
"      --rate PPS    probes per second (default 10000, at most 10000000)\n"
"      --flows K     flows (source ports) per target (1-8, default 4)\n"
"      --wait SEC    wait for a round's answers (default 1)\n"
"      --router-rate PPS  TTL-limited probes (each an ICMP error to make)\n"
"                    a router gets a second (default 500; 0: no limit)\n"
"      --blocklist FILE  never probe what FILE lists (replaces the built-in\n"
"                    list of reserved ranges; /dev/null: none)\n"
"      --shards N    split the targets into N shards ...\n"
"      --shard I     ... and scan shard I (0..N-1)\n"
"      --seed N      the order of the targets (default: from the list, the\n"
"                    same on every shard)\n"
"      --resume FILE skip the targets FILE (an earlier output) has\n"
"      --sport PORT  first source port (default 40000; uses 2K ports)\n"
"      --no-locate   do not look for the splitting hop\n"
"      --dry-run     print the targets, probes and time, send nothing\n"
"      --deadline S  stop after S seconds (summary still printed)\n"
"  -o FILE           NDJSON to FILE (default standard output)\n"
"      --text        the summary in words on standard output\n"
"  -s ADDR           source address\n"
"  -i IFACE          interface\n"
"  -q, --quiet       no progress on stderr\n"
"  -h, --help        this help\n"
"\n"
"Needs CAP_NET_RAW.\n"
"\n"
"Exit: 0 no fault found, 1 an ECN fault on some target, 2 inconclusive\n"
"targets and no fault, 64 usage (no targets), 66 no such file, 68 unknown\n"
"host, 69 no route, 71 system error, 73 cannot create a file, 74 cannot\n"
"write one, 75 interrupted or past the deadline, 77 no permission.\n";

enum { OPT_RATE = 256, OPT_FLOWS, OPT_WAIT, OPT_BLOCK, OPT_SHARDS, OPT_SHARD,
       OPT_SEED, OPT_RESUME, OPT_SPORT, OPT_NOLOCATE, OPT_DRY, OPT_DEADLINE,
       OPT_TEXT, OPT_RRATE };

static const struct option scan_opts[] = {
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "flows", required_argument, NULL, OPT_FLOWS },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "blocklist", required_argument, NULL, OPT_BLOCK },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "resume", required_argument, NULL, OPT_RESUME },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "no-locate", no_argument, NULL, OPT_NOLOCATE },
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "router-rate", required_argument, NULL, OPT_RRATE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct scan_opts {
	struct scan_params p;
	int family, dry, text, quiet, have_seed;
	int64_t deadline;
	const char *file, *block, *resume, *out, *src;
	long shards, shard;
};

static int read_list(struct scan_targets *t, const char *path, int family,
		     int block, int *rc)
{
	char err[512];
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	int r;

	if (fp == NULL) {
		warnx_("cannot open %s: %s", path, strerror(errno));
		*rc = EX_NOINPUT;
		return -1;
	}
	r = block ? scan_block_read(t, fp, path, err, sizeof(err))
		  : scan_targets_read(t, fp, path, family, err, sizeof(err));
	if (fp != stdin)
		fclose(fp);
	if (r < 0) {
		warnx_("%s", err);
		*rc = EX_USAGE;
	}
	return r;
}

/* Targets an earlier run wrote: the "target" of every per-target line. */
static int read_resume(struct scan_targets *t, const char *path, int *rc)
{
	FILE *fp = fopen(path, "r");
	int r;

	if (fp == NULL) {
		warnx_("cannot open %s: %s", path, strerror(errno));
		*rc = EX_NOINPUT;
		return -1;
	}
	r = scan_resume_read(t, fp);
	fclose(fp);
	if (r < 0) {
		warnx_("out of memory");
		*rc = EX_OSERR;
	}
	return r;
}

static int parse_args(int argc, char **argv, struct scan_opts *o)
{
	long v;
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46f:p:c:o:s:i:qh", scan_opts,
				NULL)) != -1) {
		switch (c) {
		case '4': o->family = AF_INET; break;
		case '6': o->family = AF_INET6; break;
		case 'f': o->file = optarg; break;
		case 'p':
			if (cli_num(optarg, 1, 65535, "port", &v) < 0)
				return EX_USAGE;
			o->p.dport = (uint16_t)v;
			break;
		case 'c':
			o->p.conf = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(o->p.conf >= 0.9) ||
			    !(o->p.conf <= 0.9999)) {
				warnx_("invalid confidence '%s' (0.9-0.9999)", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_RATE:
			if (cli_rate(optarg, 1e7, "rate", &o->p.rate) < 0)
				return EX_USAGE;
			break;
		case OPT_FLOWS:
			if (cli_num(optarg, 1, SCAN_MAX_FLOWS, "flows", &v) < 0)
				return EX_USAGE;
			o->p.flows = (int)v;
			break;
		case OPT_WAIT:
			if (cli_secs(optarg, 60, "wait", &o->p.wait_ns) < 0)
				return EX_USAGE;
			break;
		case OPT_BLOCK: o->block = optarg; break;
		case OPT_SHARDS:
			if (cli_num(optarg, 1, 65536, "shards", &o->shards) < 0)
				return EX_USAGE;
			break;
		case OPT_SHARD:
			if (cli_num(optarg, 0, 65535, "shard", &o->shard) < 0)
				return EX_USAGE;
			break;
		case OPT_SEED:
			errno = 0;
			o->p.seed = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' || errno) {
				warnx_("invalid seed '%s'", optarg);
				return EX_USAGE;
			}
			o->have_seed = 1;
			break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_SPORT:
			if (cli_num(optarg, 1024, 65535 - 2 * SCAN_MAX_FLOWS,
				    "source port", &v) < 0)
				return EX_USAGE;
			o->p.sport_base = (uint16_t)v;
			break;
		case OPT_NOLOCATE: o->p.locate = 0; break;
		case OPT_DRY: o->dry = 1; break;
		case OPT_DEADLINE:
			if (cli_secs(optarg, 86400 * 30, "deadline", &o->deadline) < 0)
				return EX_USAGE;
			break;
		case OPT_TEXT: o->text = 1; break;
		case OPT_RRATE:
			if (!strcmp(optarg, "0")) {
				o->p.router_rate = 0;
				break;
			}
			if (cli_rate(optarg, 1e7, "router rate", &o->p.router_rate) < 0)
				return EX_USAGE;
			break;
		case 'o': o->out = optarg; break;
		case 's': o->src = optarg; break;
		case 'i': o->p.iface = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h':
			fputs(scan_usage, stdout);
			return -1;
		default:
			cli_bad_option("scan", argc, argv, c);
			return EX_USAGE;
		}
	}
	if (o->shard >= o->shards) {
		warnx_("scan: --shard %ld is not below --shards %ld", o->shard,
		       o->shards);
		return EX_USAGE;
	}
	if (optind >= argc && o->file == NULL) {
		warnx_("scan: no targets given (usage: ecntrace scan [options] "
		       "TARGET... | -f FILE | -)");
		return EX_USAGE;
	}
	return 0;
}

static int load_targets(int argc, char **argv, struct scan_opts *o,
			struct scan_targets *t, struct scan_summary *sum)
{
	struct scan_targets block = { 0 };
	char err[256];
	int rc = 0;

	if (o->file && read_list(t, o->file, o->family, 0, &rc) < 0)
		return rc;
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "-")) {
			if (read_list(t, "-", o->family, 0, &rc) < 0)
				return rc;
			continue;
		}
		if (scan_targets_add(t, argv[i], o->family, err, sizeof(err)) < 0) {
			warnx_("scan: %s", err);
			/* A word that is no address or prefix was a host name. */
			return strchr(argv[i], '/') == NULL && host_name_ok(argv[i])
			       ? EX_NOHOST : EX_USAGE;
		}
	}
	if (o->block) {
		if (read_list(&block, o->block, 0, 1, &rc) < 0)
			return rc;
	} else {
		for (int i = 0; scan_default_blocklist[i]; i++)
			(void)scan_block_add(&block, scan_default_blocklist[i],
					     err, sizeof(err));
	}
	if (scan_targets_finish(t) < 0 || scan_targets_finish(&block) < 0) {
		warnx_("out of memory");
		return EX_OSERR;
	}
	uint64_t given = t->total;

	if (given > 1ULL << 36) {
		warnx_("scan: %llu targets are more than 2^36",
		       (unsigned long long)given);
		return EX_USAGE;
	}

	sum->blocked = scan_targets_subtract(t, &block);
	sum->targets = given;
	scan_targets_free(&block);
	if (t->total == 0) {
		warnx_("scan: every target given is blocklisted");
		return EX_USAGE;
	}
	return 0;
}

static int pick_sources(struct scan_opts *o, const struct scan_targets *t)
{
	char err[256];

	for (size_t i = 0; i < t->n; i++) {
		int fam = t->r[i].family;
		struct addr *src = fam == AF_INET ? &o->p.src4 : &o->p.src6;
		struct addr a;

		if (src->family)
			continue;
		if (o->src && parse_addr(o->src, fam, src) == 0)
			continue;
		scan_target_at(t, t->first[i], &a);
		if (pick_source(&a, o->p.iface, src, err, sizeof(err)) != 0) {
			warnx_("%s", err);
			return EX_UNAVAILABLE;
		}
	}
	if (o->src && !o->p.src4.family && !o->p.src6.family) {
		warnx_("scan: invalid source address '%s'", o->src);
		return EX_USAGE;
	}
	return 0;
}

static void dry_run(const struct scan_opts *o, const struct scan_targets *t,
		    const struct scan_summary *sum)
{
	uint64_t n = scan_shard_size(t->total, o->p.shards, o->p.shard);
	/* Round 0: 2K; round 1: ECT(0) K and the screen 4K; round 2, when
	 * no flow parted: the screen of the other K ports, 4K. */
	uint64_t per = 11 * (uint64_t)o->p.flows;

	printf("targets: %llu (given %llu, blocklisted %llu, shard %llu of %llu)\n",
	       (unsigned long long)n, (unsigned long long)sum->targets,
	       (unsigned long long)sum->blocked,
	       (unsigned long long)o->p.shard, (unsigned long long)o->p.shards);
	printf("probes: %llu (%llu a target, and a reset for each SYN-ACK; more "
	       "for lost answers, %d for a parted flow and up to %d to locate a "
	       "split)\n",
	       (unsigned long long)(n * per), (unsigned long long)per,
	       2 * SCAN_REPEATS, 2 * (SCAN_MAX_TTL - 1));
	printf("time: %.1f s at %.0f probes/s, plus %.1f s of waiting\n",
	       (double)(n * per) / o->p.rate, o->p.rate,
	       4.0 * (double)o->p.wait_ns / 1e9);
}

static int exit_code(const struct scan_summary *s)
{
	if (s->by_status[SCAN_BROKEN])
		return EXIT_BROKEN;
	return s->by_status[SCAN_INCONCLUSIVE] ? EXIT_INCONCLUSIVE : 0;
}

static int run(struct scan_opts *o, struct scan_targets *t,
	       struct scan_summary *sum)
{
	struct scan_targets skip = { 0 };
	struct scan_engine *se = NULL;
	struct outfile of = { 0 };
	char err[256] = "";
	int rc;

	if (o->resume && read_resume(&skip, o->resume, &rc) < 0)
		return rc;
	o->p.skip = o->resume ? &skip : NULL;
	if ((rc = pick_sources(o, t)) != 0)
		goto out;
	rc = scan_engine_open(&se, &o->p, err, sizeof(err));
	if (rc != 0) {
		warnx_("%s", err);
		goto out;
	}
	if (priv_drop(0) < 0) {
		warnx_("cannot drop privileges: %s", strerror(errno));
		rc = EX_OSERR;
		goto out;
	}
	if (o->out && outfile_open(&of, o->out, err, sizeof(err)) < 0) {
		warnx_("cannot create %s: %s", o->out, err);
		rc = EX_CANTCREAT;
		goto out;
	}
	o->p.out = o->text && !o->out ? NULL : of.fp ? of.fp : stdout;
	engine_catch_signals();
	engine_deadline(o->deadline);
	sum->conf = o->p.conf;
	rc = scan_engine_run(se, sum, err, sizeof(err));
	if (rc != 0)
		warnx_("scan: %s", err);
	if (o->p.out)
		scan_print_summary(o->p.out, sum, t);
	if (o->text)
		scan_print_text(stdout, sum, t);
	if (of.fp && outfile_close(&of) < 0) {
		warnx_("cannot write %s: %s", o->out, strerror(errno));
		rc = EX_IOERR;
	}
	if (rc == 0)
		rc = exit_code(sum);
out:
	scan_engine_close(se);
	scan_targets_free(&skip);
	return rc;
}

int cmd_scan(int argc, char **argv)
{
	struct scan_opts o;
	struct scan_targets t = { 0 };
	struct scan_summary sum;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&sum, 0, sizeof(sum));
	o.p.dport = 80;
	o.p.rate = 10000;
	o.p.router_rate = 500;
	o.p.flows = 4;
	o.p.conf = 0.99;
	o.p.wait_ns = 1000000000LL;
	o.p.locate = 1;
	o.p.sport_base = 40000;
	o.shards = 1;
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	o.p.shards = (uint64_t)o.shards;
	o.p.shard = (uint64_t)o.shard;
	o.p.progress = !o.quiet;
	/* Half of Linux's ICMP limit (1000/s, a burst of 50). */
	o.p.router_burst = o.p.router_rate / 20 < 4 ? 4 : o.p.router_rate / 20;
	o.p.targets = &t;
	rc = load_targets(argc, argv, &o, &t, &sum);
	/* Without --seed the order follows from the targets: every shard
	 * of one list gets the same permutation. */
	if (rc == 0 && !o.have_seed)
		o.p.seed = scan_targets_digest(&t);
	if (rc == 0 && o.dry)
		dry_run(&o, &t, &sum);
	else if (rc == 0)
		rc = run(&o, &t, &sum);
	scan_summary_free(&sum);
	scan_targets_free(&t);
	return rc;
}
