/* Helpers shared by the commands' option parsers: numbers with range
 * checks and one-line errors, the common option set. */
#ifndef ECNTRACE_CLI_H
#define ECNTRACE_CLI_H

#include <stdint.h>

/* Parse a decimal (or 0x hex) integer in [min, max]. On error prints
 * "ecntrace: <what> <s>: <why>" and returns -1. */
int cli_num(const char *s, long min, long max, const char *what, long *out);
/* Parse seconds (decimal, > 0, <= max) into nanoseconds. */
int cli_secs(const char *s, double max, const char *what, int64_t *ns);
/* Parse a positive rate (per second) <= max. */
int cli_rate(const char *s, double max, const char *what, double *out);

/* 32 random bits from the kernel (time and pid if it has none). */
uint32_t random_u32(void);

/* One line for an option getopt_long rejected (opterr = 0, optstring
 * starting with ':'): c is ':' (argument missing) or '?' (unknown). A
 * short option is named by optopt, a long one by the word it came in.
 * cmd is the command's name, or NULL for the diagnosis without one. */
void cli_bad_option(const char *cmd, int argc, char **argv, int c);

/* One-line error on stderr: "ecntrace: ..." */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
