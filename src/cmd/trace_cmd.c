/* ecntrace trace: options, then measure, then render. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "ecntrace.h"
#include "resolve.h"
#include "session.h"
#include "term.h"
#include "trace_out.h"

static const char trace_usage[] =
"usage: ecntrace trace [options] HOST\n"
"\n"
"A traceroute whose probes all belong to one flow, with a chosen ECN\n"
"codepoint; each hop shows the ECN value it received (from its ICMP quote).\n"
"\n"
"  -T, -U, -I        probe with TCP SYN (default), UDP, or ICMP echo\n"
"      --quic        probe with QUIC long headers of a reserved version\n"
"                    (1200-byte UDP datagrams; a server answers with\n"
"                    Version Negotiation, whose versions are shown)\n"
"  -4, -6            use IPv4 or IPv6 only\n"
"  -n                numeric output, no reverse DNS\n"
"  -q N              probes per hop (1-10, default 3)\n"
"  -w SEC            wait for a reply (default 3)\n"
"  -f FIRST          first TTL (1-255, default 1)\n"
"  -m MAX            max TTL (1-255, default 30)\n"
"  -p PORT           destination port (TCP default 80, UDP 33434, QUIC 443)\n"
"      --sport PORT  source port (ICMP: the echo id); default from the pid\n"
"  -t TOS            whole TOS / traffic class byte (0-255)\n"
"      --ecn CP      ECN codepoint: not-ect, ect0, ect1, ce\n"
"      --dscp D      DSCP name (ef, af11, cs1, le, ...) or number 0-63\n"
"  -l LABEL          IPv6 flow label (0-1048575)\n"
"  -s ADDR           source address\n"
"  -i IFACE          send and receive on this interface\n"
"      --rate PPS    probes per second (default 200)\n"
"      --deadline S  give up after S seconds in all (default 120)\n"
"      --json        one JSON object (schema ecntrace/1)\n"
"      --pcap FILE   write every probe and reply to FILE\n"
"      --quiet       no progress line on stderr\n"
"  -h, --help        this help\n"
"\n"
"Exit: 0 done, 64 usage, 68 unknown host, 69 no route or interface,\n"
"71 system error, 73 cannot create the pcap file, 74 cannot write it or\n"
"stdout, 75 interrupted or past the deadline, 77 no permission for raw\n"
"sockets.\n";

enum {
	OPT_SPORT = 256, OPT_ECN, OPT_DSCP, OPT_JSON, OPT_RATE, OPT_PCAP,
	OPT_QUIET, OPT_DEADLINE, OPT_QUIC,
};

static const struct option trace_opts[] = {
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "ecn", required_argument, NULL, OPT_ECN },
	{ "dscp", required_argument, NULL, OPT_DSCP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "quic", no_argument, NULL, OPT_QUIC },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int default_sport(void)
{
	/* Below Linux's ephemeral range (32768 up), so no local connection
	 * shares a port with our flows; room above for 192 of them. */
	return 20000 + (int)(getpid() % 12000);
}

int cmd_trace(int argc, char **argv)
{
	struct session_conf sc = { 0 };
	int64_t deadline = 120LL * 1000000000LL;
	struct trace_params tp;
	struct trace_result res;
	struct session s;
	char err[256] = "";
	int proto = IPPROTO_TCP, json = 0, numeric = 0, quiet = 0, rc, wrc, c;
	int quic = 0, proto_opt = 0;
	long v, tos = -1, ecn = -1, dscp = -1, port = -1, sport = -1, label = -1;

	memset(&tp, 0, sizeof(tp));
	tp.first_ttl = 1;
	tp.max_ttl = 30;
	tp.nqueries = 3;
	tp.timeout_ns = 3000000000LL;
	tp.rate = 200;
	optind = 1;
	opterr = 0;          /* getopt's messages name "trace" and take a line */
	while ((c = getopt_long(argc, argv, ":46TUInq:w:f:m:p:t:l:s:i:h",
				trace_opts, NULL)) != -1) {
		switch (c) {
		case '4': sc.family = AF_INET; break;
		case '6': sc.family = AF_INET6; break;
		case 'T': proto = IPPROTO_TCP; proto_opt = c; break;
		case 'U': proto = IPPROTO_UDP; proto_opt = c; break;
		case 'I': proto = IPPROTO_ICMP; proto_opt = c; break;
		case OPT_QUIC: quic = 1; break;
		case 'n': numeric = 1; break;
		case 'q':
			if (cli_num(optarg, 1, 10, "probes per hop", &v) < 0)
				return EX_USAGE;
			tp.nqueries = (int)v;
			break;
		case 'w':
			if (cli_secs(optarg, 60, "wait", &tp.timeout_ns) < 0)
				return EX_USAGE;
			break;
		case 'f':
			if (cli_num(optarg, 1, 255, "first TTL", &v) < 0)
				return EX_USAGE;
			tp.first_ttl = (int)v;
			break;
		case 'm':
			if (cli_num(optarg, 1, 255, "max TTL", &v) < 0)
				return EX_USAGE;
			tp.max_ttl = (int)v;
			break;
		case 'p':
			if (cli_num(optarg, 1, 65535, "port", &port) < 0)
				return EX_USAGE;
			break;
		case OPT_SPORT:
			if (cli_num(optarg, 1, 65535, "source port", &sport) < 0)
				return EX_USAGE;
			break;
		case 't':
			if (cli_num(optarg, 0, 255, "TOS", &tos) < 0)
				return EX_USAGE;
			break;
		case OPT_ECN:
			ecn = ecn_parse(optarg);
			if (ecn < 0) {
				warnx_("unknown ECN codepoint '%s' (not-ect, ect0, ect1, ce)",
				       optarg);
				return EX_USAGE;
			}
			break;
		case OPT_DSCP:
			dscp = dscp_parse(optarg);
			if (dscp < 0) {
				warnx_("unknown DSCP '%s' (a name such as ef, af11, cs1, or 0-63)",
				       optarg);
				return EX_USAGE;
			}
			break;
		case 'l':
			if (cli_num(optarg, 0, 0xfffff, "flow label", &label) < 0)
				return EX_USAGE;
			break;
		case OPT_DEADLINE:
			if (cli_secs(optarg, 86400, "deadline", &deadline) < 0)
				return EX_USAGE;
			break;
		case 's': sc.src = optarg; break;
		case 'i': sc.iface = optarg; break;
		case OPT_RATE:
			if (cli_rate(optarg, 100000, "rate", &tp.rate) < 0)
				return EX_USAGE;
			break;
		case OPT_JSON: json = 1; break;
		case OPT_PCAP: sc.pcap = optarg; break;
		case OPT_QUIET: quiet = 1; break;
		case 'h':
			fputs(trace_usage, stdout);
			return 0;
		default:
			cli_bad_option("trace", argc, argv, c);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		warnx_("trace: %s (see 'ecntrace trace --help')",
		       optind >= argc ? "no host given" : "one host only");
		return EX_USAGE;
	}
	if (quic && proto_opt) {
		warnx_("--quic probes are UDP: drop -%c", proto_opt);
		return EX_USAGE;
	}
	if (quic)
		proto = IPPROTO_UDP;
	if (tp.first_ttl > tp.max_ttl) {
		warnx_("first TTL %d is above max TTL %d", tp.first_ttl, tp.max_ttl);
		return EX_USAGE;
	}
	if (label >= 0 && sc.family == AF_INET) {
		warnx_("a flow label (-l) needs IPv6");
		return EX_USAGE;
	}
	tos = tos < 0 ? 0 : tos;
	if (ecn >= 0)
		tos = (tos & ~3L) | ecn;
	if (dscp >= 0)
		tos = (tos & 3L) | (dscp << 2);

	sc.host = argv[optind];
	if (label >= 0 && parse_addr(sc.host, AF_INET, &s.dst) == 0) {
		warnx_("a flow label (-l) needs IPv6, and %s is IPv4", sc.host);
		return EX_USAGE;
	}
	rc = session_open(&s, &sc);
	if (rc != 0)
		return rc;
	if (label >= 0 && s.dst.family != AF_INET6) {
		warnx_("a flow label (-l) needs IPv6, and %s is IPv4", sc.host);
		session_close(&s);
		return EX_USAGE;
	}
	if (proto == IPPROTO_UDP && !quic && s.dst.family == AF_INET6 &&
	    (tp.max_ttl - tp.first_ttl + 1) * tp.nqueries > 512) {
		/* UDP over IPv6 tells probes apart by their length. */
		warnx_("UDP over IPv6 sends at most 512 probes: lower -m or -q");
		session_close(&s);
		return EX_USAGE;
	}
	if (proto == IPPROTO_ICMP && s.dst.family == AF_INET6)
		proto = IPPROTO_ICMPV6;
	tp.flow.src = s.src;
	tp.flow.dst = s.dst;
	tp.flow.proto = (uint8_t)proto;
	tp.flow.sport = (uint16_t)(sport > 0 ? sport : default_sport());
	tp.flow.dport = (uint16_t)(port > 0 ? port : quic ? 443 :
				   proto == IPPROTO_UDP ? 33434 : 80);
	tp.flow.quic = quic;
	tp.flow.tos = (uint8_t)tos;
	tp.flow.flowlabel = label > 0 ? (uint32_t)label : 0;
	tp.token_base = s.e.token_base;
	tp.on_responder = numeric ? NULL : rdns_want;
	tp.on_tick = progress_tick;
	progress_init(!quiet);
	progress_phase(NULL, "tracing");

	engine_catch_signals();
	engine_deadline(deadline);
	rc = trace_run(&s.e, &tp, &res, err, sizeof(err));
	progress_end();
	wrc = session_close(&s);
	if (rc != 0) {
		warnx_("%s", err);
		trace_free(&res);
		return rc;
	}
	if (!numeric)
		rdns_finish(2000);
	if (json)
		trace_print_json(stdout, &res, sc.host, numeric);
	else
		trace_print_text(stdout, &res, sc.host, numeric);
	trace_free(&res);
	return wrc;
}
