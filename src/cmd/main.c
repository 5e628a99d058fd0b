/* ecntrace: command dispatch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "ecntrace.h"

static const char usage[] =
"usage: ecntrace [COMMAND] [options] HOST\n"
"\n"
"Find out why TCP connections break when ECN is on, and where.\n"
"\n"
"With no command, the full diagnosis of HOST (same as 'diagnose').\n"
"\n"
"Commands:\n"
"  diagnose HOST     find the hop whose ECMP hash includes ECN, tell anycast\n"
"                    sites apart, name other ECN faults, give a verdict\n"
"  trace HOST        traceroute of one flow with a chosen ECN codepoint,\n"
"                    showing the ECN value each hop received\n"
"  connect HOST      replay the ECN connection in userspace and show which\n"
"                    machine answered each flow\n"
"  analyze FILE      find the same signatures in a capture (tcpdump -w):\n"
"                    ECN connections reset by another machine, and more\n"
"  watch             the same, captured live (-i IFACE, default any)\n"
"  scan TARGET...    the ECN-dependence test over many targets at rate,\n"
"                    NDJSON, and the routers that hash on ECN\n"
"\n"
"Run 'ecntrace COMMAND --help' for a command's options.\n"
"  -h, --help        this help\n"
"  -V, --version     version\n"
"\n"
"Exit codes: 0 success (diagnosis: healthy), 1 broken, 2 inconclusive,\n"
"3 latent fault (diagnosis), 64 usage, 65 bad capture file, 66 no such\n"
"file, 68 unknown host, 69 no route or interface, 70 internal error,\n"
"71 system error, 73 cannot create an output file, 74 cannot write one,\n"
"75 interrupted, 77 no permission.\n";

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		warnx_("no host given (usage: ecntrace [COMMAND] [options] HOST; "
		       "see 'ecntrace --help')");
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ecntrace %s (JSON schema %s)\n", ECNTRACE_VERSION,
		       ECNTRACE_SCHEMA);
		return 0;
	}
	if (!strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "connect"))
		return cmd_connect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "diagnose"))
		return cmd_diagnose(argc - 1, argv + 1);
	if (!strcmp(argv[1], "analyze"))
		return cmd_analyze(argc - 1, argv + 1);
	if (!strcmp(argv[1], "watch"))
		return cmd_watch(argc - 1, argv + 1);
	if (!strcmp(argv[1], "scan"))
		return cmd_scan(argc - 1, argv + 1);
	/* No command: the full diagnosis of HOST. */
	return cmd_diagnose(argc, argv);
}

int main(int argc, char **argv)
{
	int rc = dispatch(argc, argv);

	/* A verdict nobody could read is no verdict: a failed write to
	 * standard output (a full disk, a closed pipe) ends with 74. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx_("cannot write to standard output: %s", strerror(errno));
		rc = EX_IOERR;
	}
	return rc;
}
