/* Option parsing helpers. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs("ecntrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_num(const char *s, long min, long max, const char *what, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (s[0] == '\0' || *end != '\0' || errno == ERANGE) {
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

int cli_secs(const char *s, double max, const char *what, int64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    v <= 0 || v > max) {
		warnx_("invalid %s '%s' (seconds, more than 0, at most %g)",
		       what, s, max);
		return -1;
	}
	*ns = (int64_t)(v * 1e9);
	return 0;
}

int cli_rate(const char *s, double max, const char *what, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) ||
	    v <= 0 || v > max) {
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
