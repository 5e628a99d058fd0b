/* Progress line and colour. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "term.h"

static struct {
	int enabled, shown;
	int64_t start;
	const char *phase;
} pg;

void progress_init(int enabled)
{
	pg.enabled = enabled && isatty(STDERR_FILENO);
	pg.shown = 0;
	pg.start = now_ns();
	pg.phase = "probing";
}

static void show(size_t done, size_t total)
{
	/* Short runs stay silent: the line appears after one second. */
	if (!pg.enabled || now_ns() - pg.start < 1000000000LL)
		return;
	if (total)
		fprintf(stderr, "\r\033[K%s... %zu/%zu", pg.phase, done, total);
	else
		fprintf(stderr, "\r\033[K%s...", pg.phase);
	fflush(stderr);
	pg.shown = 1;
}

void progress_phase(void *ctx, const char *phase)
{
	(void)ctx;
	pg.phase = phase;
	show(0, 0);
}

void progress_tick(void *ctx, size_t done, size_t total)
{
	(void)ctx;
	show(done, total);
}

void progress_end(void)
{
	if (pg.shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	pg.shown = 0;
}

int use_color(FILE *f)
{
	const char *term = getenv("TERM");
	const char *nc = getenv("NO_COLOR");

	if (nc != NULL && nc[0] != '\0')
		return 0;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return 0;
	return isatty(fileno(f));
}

const char *color_on(int color, const char *which)
{
	if (!color)
		return "";
	if (!strcmp(which, "red"))
		return "\033[1;31m";
	if (!strcmp(which, "green"))
		return "\033[1;32m";
	if (!strcmp(which, "yellow"))
		return "\033[1;33m";
	return "\033[1m";
}

const char *color_off(int color)
{
	return color ? "\033[0m" : "";
}
