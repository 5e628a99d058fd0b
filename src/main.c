/* ecntrace: command dispatch. */
#include <stdio.h>
#include <string.h>

#include "ecntrace.h"

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs("usage: ecntrace [trace|connect] [options] HOST\n", stdout);
		return argc < 2 ? EX_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ecntrace %s\n", ECNTRACE_VERSION);
		return 0;
	}
	fprintf(stderr, "ecntrace: unknown command '%s'\n", argv[1]);
	return EX_USAGE;
}
