/* Option parsing helpers. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "term.h"

/* The message is escaped (term_fputs): it may quote a host name, a file
 * name, an option's value or an error read from a capture. */
void warnx_(const char *fmt, ...)
{
	char small[512], *msg = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(small) && (msg = malloc((size_t)n + 1)) != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	fputs("ecntrace: ", stderr);
	term_fputs(msg ? msg : small, stderr);
	fputc('\n', stderr);
	if (msg != small)
		free(msg);
}

int cli_num(const char *s, long min, long max, const char *what, long *out)
{
	char *end;
	long v;

	/* Decimal, or hex after "0x". Not strtol's base 0, which reads "010"
	 * as octal 8; and no leading space or '+', which it would skip. */
	const char *d = s[0] == '-' ? s + 1 : s;
	int base = d[0] == '0' && (d[1] == 'x' || d[1] == 'X') ? 16 : 10;

	errno = 0;
	v = strtol(s, &end, base);
	if (!isdigit((unsigned char)d[0]) || *end != '\0' || errno == ERANGE) {
		warnx_("invalid %s '%s'", what, s);
		return -1;
	}
	if (v < min || v > max) {
		warnx_("%s %s out of range (%ld-%ld)", what, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* strtod also takes hex, "inf", "nan" and leading space: a decimal
 * number is digits, one point, an exponent, and nothing else. */
static int is_decimal(const char *s)
{
	return (isdigit((unsigned char)s[0]) || s[0] == '.') &&
	       s[strspn(s, "0123456789.eE+-")] == '\0';
}

int cli_secs(const char *s, double max, const char *what, int64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* Under half a nanosecond rounds to no time at all. */
	if (!is_decimal(s) || *end != '\0' || errno == ERANGE ||
	    !isfinite(v) || v < 0.5e-9 || v > max) {
		warnx_("invalid %s '%s' (seconds, more than 0, at most %g)",
		       what, s, max);
		return -1;
	}
	*ns = llround(v * 1e9);
	return 0;
}

int cli_rate(const char *s, double max, const char *what, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!is_decimal(s) || *end != '\0' || errno == ERANGE ||
	    !isfinite(v) || v <= 0 || v > max) {
		warnx_("invalid %s '%s' (more than 0, at most %g)", what, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

uint32_t random_u32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid() * 2654435761u;
	return v;
}

void cli_bad_option(const char *cmd, int argc, char **argv, int c)
{
	const char *word = argv[optind - 1 < argc ? optind - 1 : argc - 1];
	char shortopt[3] = { '-', (char)optopt, '\0' };

	if (optopt > 0 && optopt < 128 && strncmp(word, "--", 2) != 0)
		word = shortopt;
	warnx_("%s%s%s '%s' (see 'ecntrace %s%s--help')", cmd ? cmd : "",
	       cmd ? ": " : "",
	       c == ':' ? "missing argument for" : "unknown option", word,
	       cmd ? cmd : "", cmd ? " " : "");
}
