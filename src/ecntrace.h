/* Shared definitions: version, exit codes. */
#ifndef ECNTRACE_H
#define ECNTRACE_H

#include <sysexits.h>

#define ECNTRACE_VERSION "0.1.0"
#define ECNTRACE_SCHEMA "ecntrace/1"

/*
 * Exit codes (documented in ecntrace(1)):
 *   0  success; for a diagnosis: healthy
 *   1  diagnosis: broken
 *   2  diagnosis: inconclusive
 *   3  diagnosis: a latent fault (the path depends on ECN, today's
 *      connections escape it)
 *   64 EX_USAGE    bad option or argument
 *   65 EX_DATAERR  bad input file (capture)
 *   66 EX_NOINPUT  input file missing or unreadable
 *   68 EX_NOHOST   host name does not resolve
 *   69 EX_UNAVAILABLE no route, interface missing
 *   70 EX_SOFTWARE internal error
 *   71 EX_OSERR    a system call failed
 *   73 EX_CANTCREAT cannot create an output file (--pcap, --report)
 *   74 EX_IOERR    cannot write an output file or standard output
 *   75 EX_TEMPFAIL interrupted by SIGINT, SIGTERM, SIGHUP, SIGQUIT or
 *                  SIGPIPE, or --deadline reached
 *   77 EX_NOPERM   not allowed to open raw sockets (needs CAP_NET_RAW)
 */
#define EXIT_HEALTHY 0
#define EXIT_BROKEN 1
#define EXIT_INCONCLUSIVE 2

#endif
