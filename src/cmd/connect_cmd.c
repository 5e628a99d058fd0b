/* ecntrace connect: options, firewall guard, measure, render. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "commands.h"
#include "connect_out.h"
#include "ecntrace.h"
#include "nftguard.h"
#include "session.h"
#include "term.h"

static const char connect_usage[] =
"usage: ecntrace connect [options] HOST\n"
"\n"
"Replay a real ECN connection in userspace: ECN-setup SYN (Not-ECT), ACK,\n"
"then a first data segment marked ECT(0), on several flows, each beside a\n"
"control flow without ECN; show which machine answered each one.\n"
"\n"
"  -4, -6            use IPv4 or IPv6 only\n"
"  -p PORT           destination port (default 80)\n"
"      --flows N     ECN flows (1-64, default 7: a 2-way split is seen\n"
"                    with 99% confidence); as many control flows\n"
"      --sport PORT  first source port (default from the pid)\n"
"      --mode M      classic (default), accecn, l4s (ECT(1) data),\n"
"                    ce (CE-marked data), plain (no ECN, no controls),\n"
"                    all-ect (every segment ECT(0), the SYN included)\n"
"  -w SEC            wait for each answer (default 1)\n"
"      --payload S   first data segment (default: an HTTP request for 80,\n"
"                    a TLS ClientHello for 443)\n"
"      --rate N      new flows per second (default 50)\n"
"      --deadline S  give up after S seconds in all (default 120)\n"
"  -s ADDR           source address\n"
"  -i IFACE          interface\n"
"      --json        one JSON object (schema ecntrace/1)\n"
"      --pcap FILE   write every packet sent and received to FILE\n"
"      --quiet       no progress line on stderr\n"
"  -h, --help        this help\n"
"\n"
"Needs CAP_NET_RAW and CAP_NET_ADMIN: a table of its own in nftables keeps\n"
"the host's TCP stack from resetting these connections; it is removed on\n"
"exit, and tables left by killed instances are removed at start.\n"
"\n"
"Exit: 0 every ECN flow works, 1 ECN flows fail while controls work,\n"
"2 controls fail too, 64 usage, 68 unknown host, 69 no route,\n"
"71 system error, 73 cannot create the pcap file, 74 cannot write it or\n"
"stdout, 75 interrupted or past the deadline, 77 no permission.\n";

enum { OPT_FLOWS = 256, OPT_SPORT, OPT_MODE, OPT_PAYLOAD, OPT_RATE,
       OPT_JSON, OPT_PCAP, OPT_QUIET, OPT_DEADLINE };

static const struct option connect_opts[] = {
	{ "flows", required_argument, NULL, OPT_FLOWS },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_connect(int argc, char **argv)
{
	struct session_conf sc = { .keep_net_admin = 1 };
	int64_t deadline = 120LL * 1000000000LL;
	struct connect_params cp;
	struct connect_result res;
	struct nft_guard guard = { .active = 0 };
	struct session s;
	uint8_t payload[1024];
	const char *user_payload = NULL;
	char err[256] = "";
	int json = 0, quiet = 0, rc, wrc, c, mode = MODE_CLASSIC;
	long v, port = 80, sport = -1, nflows = 7;

	memset(&cp, 0, sizeof(cp));
	cp.timeout_ns = 1000000000LL;
	cp.rate = 50;
	optind = 1;
	opterr = 0;          /* getopt's messages name "connect" and take a line */
	while ((c = getopt_long(argc, argv, ":46p:w:s:i:h", connect_opts,
				NULL)) != -1) {
		switch (c) {
		case '4': sc.family = AF_INET; break;
		case '6': sc.family = AF_INET6; break;
		case 'p':
			if (cli_num(optarg, 1, 65535, "port", &port) < 0)
				return EX_USAGE;
			break;
		case OPT_FLOWS:
			if (cli_num(optarg, 1, 64, "flows", &nflows) < 0)
				return EX_USAGE;
			break;
		case OPT_SPORT:
			if (cli_num(optarg, 1, 65535, "source port", &sport) < 0)
				return EX_USAGE;
			break;
		case OPT_MODE:
			mode = conn_mode_parse(optarg);
			if (mode < 0) {
				warnx_("unknown mode '%s' (classic, accecn, l4s, ce, plain, all-ect)",
				       optarg);
				return EX_USAGE;
			}
			break;
		case 'w':
			if (cli_secs(optarg, 60, "wait", &cp.timeout_ns) < 0)
				return EX_USAGE;
			break;
		case OPT_PAYLOAD:
			user_payload = optarg;
			if (strlen(optarg) == 0 || strlen(optarg) > sizeof(payload)) {
				warnx_("payload must be 1-%zu bytes", sizeof(payload));
				return EX_USAGE;
			}
			break;
		case OPT_RATE:
			if (cli_rate(optarg, 10000, "rate", &cp.rate) < 0)
				return EX_USAGE;
			break;
		case OPT_DEADLINE:
			if (cli_secs(optarg, 86400, "deadline", &deadline) < 0)
				return EX_USAGE;
			break;
		case 's': sc.src = optarg; break;
		case 'i': sc.iface = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_PCAP: sc.pcap = optarg; break;
		case OPT_QUIET: quiet = 1; break;
		case 'h':
			fputs(connect_usage, stdout);
			return 0;
		default:
			cli_bad_option("connect", argc, argv, c);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		warnx_("connect: %s (see 'ecntrace connect --help')",
		       optind >= argc ? "no host given" : "one host only");
		return EX_USAGE;
	}
	cp.nflows = (int)nflows;
	cp.mode = (enum conn_mode)mode;
	v = (mode == MODE_PLAIN ? 1 : 2) * nflows;
	if (sport < 0)
		sport = default_sport();
	if (sport + v - 1 > 65535) {
		warnx_("source ports %ld-%ld do not fit below 65536", sport,
		       sport + v - 1);
		return EX_USAGE;
	}
	sc.host = argv[optind];
	rc = session_open(&s, &sc);
	if (rc != 0)
		return rc;
	cp.src = s.src;
	cp.dst = s.dst;
	cp.dport = (uint16_t)port;
	cp.sport_base = (uint16_t)sport;
	if (user_payload) {
		cp.payload_len = strlen(user_payload);
		memcpy(payload, user_payload, cp.payload_len);
	} else {
		cp.payload_len = client_payload(cp.dport, sc.host, payload,
						sizeof(payload));
	}
	cp.payload = payload;

	engine_catch_signals();
	engine_deadline(deadline);
	rc = session_guard(&guard, &s.dst, cp.dport, cp.sport_base,
			   (uint16_t)(cp.sport_base + v - 1));
	if (rc != 0) {
		session_close(&s);
		return rc;
	}
	progress_init(!quiet);
	progress_phase(NULL, "replaying connections");
	cp.on_tick = progress_tick;
	rc = connect_run(&s.e, &cp, &res, err, sizeof(err));
	progress_end();
	session_unguard(&guard);
	wrc = session_close(&s);
	if (rc != 0) {
		warnx_("%s", err);
		return rc;
	}
	if (json)
		connect_print_json(stdout, &res, sc.host);
	else
		connect_print_text(stdout, &res, sc.host);
	rc = res.interrupted ? EX_TEMPFAIL : wrc ? wrc : connect_exit_code(&res);
	if (res.interrupted)
		warnx_("%s", engine_stop_reason());
	connect_free(&res);
	return rc;
}
