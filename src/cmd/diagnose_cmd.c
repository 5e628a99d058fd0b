/* ecntrace [diagnose] HOST: options, guard, measure, verdict. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "diagnose_out.h"
#include "ecntrace.h"
#include "nftguard.h"
#include "outfile.h"
#include "report.h"
#include "session.h"
#include "term.h"

static const char diagnose_usage[] =
"usage: ecntrace [diagnose] [options] HOST\n"
"\n"
"The full diagnosis: trace one flow with ECT(0) and read the ECN value each\n"
"hop received; probe several flows with every ECN codepoint to find the hop\n"
"whose load-balancing hash includes ECN; replay the ECN connection to see\n"
"which machine answers; give a verdict with its confidence and evidence.\n"
"\n"
"  -4, -6            use IPv4 or IPv6 only\n"
"  -p PORT           TCP port (default 80; UDP 33434, QUIC 443)\n"
"  -U                a UDP target: probe with UDP datagrams; the machine that\n"
"                    answers is told by its port unreachable (or reply)\n"
"      --quic        a QUIC target (UDP): probe with QUIC long headers of a\n"
"                    reserved version, answered by Version Negotiation\n"
"  -c CONF           confidence of the path verdict (0.9-0.9999, default 0.99)\n"
"  -m MAX            max TTL (default 30)\n"
"  -w SEC            wait for each reply (default: 3 round trips of the\n"
"                    path, 0.2 to 1 s)\n"
"      --flows N     connections a round to replay with ECN (0-64,\n"
"                    default 7; up to 6 rounds until significant;\n"
"                    0 skips the replay); as many without. With -U or\n"
"                    --quic: flows a round sent Not-ECT then ECT(0), and\n"
"                    as many Not-ECT twice\n"
"      --max-flows N flows to probe the path with (4-32, default 16)\n"
"      --ttl T       probe the flows at TTL T (default: the last router\n"
"                    before the target)\n"
"      --fields LIST header fields that must not move a flow's path,\n"
"                    comma-separated: ecn (always), ttl, flowlabel (IPv6),\n"
"                    dscp, frag (UDP fragments), or all (default ecn)\n"
"      --sport PORT  first source port (default from the pid)\n"
"      --rate PPS    probes per second (default 200)\n"
"      --deadline S  give up after S seconds in all (default 300)\n"
"  -s ADDR           source address\n"
"  -i IFACE          interface\n"
"  -q, --quiet       no progress on stderr\n"
"      --json        one JSON object (schema ecntrace/1)\n"
"      --pcap FILE   write every packet sent and received to FILE\n"
"      --report FILE write the diagnosis as a self-contained HTML page\n"
"  -h, --help        this help\n"
"\n"
"Needs CAP_NET_RAW, and CAP_NET_ADMIN for the connection replay (see\n"
"'ecntrace connect --help').\n"
"\n"
"Exit: 0 healthy, 1 broken, 2 inconclusive, 3 latent fault, 64 usage,\n"
"68 unknown host, 69 no route, 71 system error, 73 cannot create a file,\n"
"74 cannot write one or stdout, 75 interrupted or past the deadline,\n"
"77 no permission.\n";

enum { OPT_FLOWS = 256, OPT_MAXFLOWS, OPT_TTL, OPT_SPORT, OPT_RATE,
       OPT_JSON, OPT_PCAP, OPT_REPORT, OPT_DEADLINE, OPT_QUIC, OPT_FIELDS };

static const struct option diagnose_opts[] = {
	{ "flows", required_argument, NULL, OPT_FLOWS },
	{ "max-flows", required_argument, NULL, OPT_MAXFLOWS },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "quic", no_argument, NULL, OPT_QUIC },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_diagnose(int argc, char **argv)
{
	struct session_conf sc = { .keep_net_admin = 1 };
	int64_t deadline = 300LL * 1000000000LL;
	struct diag_params dp;
	struct diag_result res;
	struct nft_guard guard = { .active = 0 };
	struct session s;
	uint8_t payload[1024];
	char err[256] = "", *end;
	const char *report_path = NULL;
	struct outfile report = { 0 };
	int json = 0, quiet = 0, rc, wrc, c;
	long v, port = -1, sport = -1, flows = 7;
	int udp = 0, quic = 0;

	memset(&dp, 0, sizeof(dp));
	dp.confidence = 0.99;
	dp.max_ttl = 30;
	dp.max_flows = 16;
	dp.timeout_ns = 1000000000LL;
	dp.rate = 200;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46Up:c:m:w:s:i:qh", diagnose_opts,
				NULL)) != -1) {
		switch (c) {
		case '4': sc.family = AF_INET; break;
		case '6': sc.family = AF_INET6; break;
		case 'U': udp = 1; break;
		case OPT_QUIC: quic = 1; break;
		case 'p':
			if (cli_num(optarg, 1, 65535, "port", &port) < 0)
				return EX_USAGE;
			break;
		case 'c':
			dp.confidence = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(dp.confidence >= 0.9) ||
			    !(dp.confidence <= 0.9999)) {
				warnx_("invalid confidence '%s' (0.9-0.9999)", optarg);
				return EX_USAGE;
			}
			break;
		case 'm':
			if (cli_num(optarg, 2, 255, "max TTL", &v) < 0)
				return EX_USAGE;
			dp.max_ttl = (int)v;
			break;
		case 'w':
			if (cli_secs(optarg, 60, "wait", &dp.timeout_ns) < 0)
				return EX_USAGE;
			dp.fixed_wait = 1;
			break;
		case OPT_FLOWS:
			if (cli_num(optarg, 0, 64, "flows", &flows) < 0)
				return EX_USAGE;
			break;
		case OPT_MAXFLOWS:
			if (cli_num(optarg, 4, DIAG_MAX_FLOWS, "max flows", &v) < 0)
				return EX_USAGE;
			dp.max_flows = (int)v;
			break;
		case OPT_TTL:
			if (cli_num(optarg, 1, 255, "TTL", &v) < 0)
				return EX_USAGE;
			dp.screen_ttl = (int)v;
			break;
		case OPT_FIELDS:
			if (fields_parse(optarg, &dp.fields) < 0) {
				warnx_("invalid --fields '%s' (ecn, ttl, flowlabel, "
				       "dscp, frag or all, comma-separated)", optarg);
				return EX_USAGE;
			}
			break;
		case OPT_SPORT:
			if (cli_num(optarg, 1, 65535 - 64 - DIAG_CONN_ROUNDS * 2 * 64,
				    "source port", &sport) < 0)
				return EX_USAGE;
			break;
		case OPT_RATE:
			if (cli_rate(optarg, 100000, "rate", &dp.rate) < 0)
				return EX_USAGE;
			break;
		case OPT_DEADLINE:
			if (cli_secs(optarg, 86400, "deadline", &deadline) < 0)
				return EX_USAGE;
			break;
		case 's': sc.src = optarg; break;
		case 'i': sc.iface = optarg; break;
		case 'q': quiet = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_PCAP: sc.pcap = optarg; break;
		case OPT_REPORT: report_path = optarg; break;
		case 'h':
			fputs(diagnose_usage, stdout);
			return 0;
		default:
			cli_bad_option(NULL, argc, argv, c);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		warnx_("%s (see 'ecntrace --help')",
		       optind >= argc ? "no host given" : "one host only");
		return EX_USAGE;
	}
	if (udp && quic) {
		warnx_("-U and --quic are two kinds of target: give one");
		return EX_USAGE;
	}
	if ((udp || quic) && (dp.fields & ~(1u << FIELD_ECN))) {
		warnx_("--fields other than ecn screen TCP targets: not with %s",
		       quic ? "--quic" : "-U");
		return EX_USAGE;
	}
	if (port < 0)
		port = quic ? 443 : udp ? 33434 : 80;
	if (dp.screen_ttl > dp.max_ttl) {
		warnx_("--ttl %d is above the max TTL %d", dp.screen_ttl, dp.max_ttl);
		return EX_USAGE;
	}
	if (sport < 0)
		sport = default_sport();
	dp.sport_base = (uint16_t)sport;
	dp.conn_flows = (int)flows;
	sc.host = argv[optind];
	dp.proto = udp || quic ? IPPROTO_UDP : IPPROTO_TCP;
	dp.quic = quic;
	/* UDP and QUIC replay no connection: no RST guard, no CAP_NET_ADMIN. */
	sc.keep_net_admin = flows > 0 && dp.proto == IPPROTO_TCP;
	rc = session_open(&s, &sc);
	if (rc != 0)
		return rc;
	/* After session_open: the report is created as the caller. */
	if (report_path && outfile_open(&report, report_path, err, sizeof(err)) < 0) {
		warnx_("cannot create report %s: %s", report_path, err);
		session_close(&s);
		return EX_CANTCREAT;
	}
	dp.src = s.src;
	dp.dst = s.dst;
	dp.dport = (uint16_t)port;
	dp.payload_len = dp.proto == IPPROTO_TCP ?
		client_payload(dp.dport, sc.host, payload, sizeof(payload)) : 0;
	dp.payload = payload;
	progress_init(!quiet);
	dp.on_progress = progress_phase;
	dp.on_tick = progress_tick;

	engine_catch_signals();
	engine_deadline(deadline);
	/* The path probes' ports too: ecntrace closes what they open with
	 * RSTs of the probe's own ECN, and the host's Not-ECT RST would only
	 * wander to another server. */
	if (flows > 0 && dp.proto == IPPROTO_TCP &&
	    (rc = session_guard(&guard, &s.dst, dp.dport, (uint16_t)sport,
				(uint16_t)(sport + diag_port_span((int)flows) - 1))) != 0) {
		session_close(&s);
		goto discard;
	}
	rc = diagnose_run(&s.e, &dp, &res, err, sizeof(err));
	session_unguard(&guard);
	wrc = session_close(&s);
	progress_end();
	if (rc != 0) {
		warnx_("%s", err);
		diagnose_free(&res);
		goto discard;
	}
	if (json)
		diagnose_print_json(stdout, &res, sc.host);
	else
		diagnose_print_text(stdout, &res, sc.host);
	rc = wrc ? wrc : (int)res.v.status;
	if (report.fp) {
		report_html(report.fp, &res, sc.host);
		if (outfile_close(&report) < 0) {
			warnx_("cannot write report %s: %s", report_path, strerror(errno));
			rc = EX_IOERR;
		}
	}
	diagnose_free(&res);
	return rc;
discard:
	outfile_discard(&report);
	return rc;
}
