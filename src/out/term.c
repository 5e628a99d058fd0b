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

/* ------------------------------------------------- hostile text */

int utf8_decode(const char *s, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	int n;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2, c = p[0] & 0x1fu, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3, c = p[0] & 0x0fu, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4, c = p[0] & 0x07u, min = 0x10000;
	} else {
		return 0;            /* continuation byte, 0xc0, 0xc1, 0xf5.. */
	}
	/* A NUL is not a continuation byte: never read past the string. */
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int cp_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x61c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* The escaped form of the character at s into piece (at most 16 bytes
 * and a NUL); how many input bytes it took in *used. Its length. */
static size_t escape_one(const char *s, char piece[17], int *used)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t cp;
	int n = utf8_decode(s, &cp);
	size_t k = 0;

	if (n == 1 && s[0] == '\\') {
		memcpy(piece, "\\\\", 3);
		*used = 1;
		return 2;
	}
	if (n > 0 && !cp_is_control(cp)) {
		memcpy(piece, s, (size_t)n);
		piece[n] = '\0';
		*used = n;
		return (size_t)n;
	}
	if (n == 0)
		n = 1;               /* invalid: this byte alone */
	for (int i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];

		piece[k++] = '\\';
		piece[k++] = 'x';
		piece[k++] = hex[b >> 4];
		piece[k++] = hex[b & 15];
	}
	piece[k] = '\0';
	*used = n;
	return k;
}

size_t term_escape(const char *in, char *out, size_t outlen)
{
	size_t total = 0, w = 0;
	int full = 0;

	while (*in) {
		char piece[17];
		int used;
		size_t k = escape_one(in, piece, &used);

		/* Once something did not fit, nothing after it is written
		 * (the output is a prefix of the whole). */
		if (!full && outlen > 0 && w + k < outlen) {
			memcpy(out + w, piece, k);
			w += k;
		} else {
			full = 1;
		}
		total += k;
		in += used;
	}
	if (outlen > 0)
		out[w] = '\0';
	return total;
}

const char *term_str(const char *in, char *buf, size_t len)
{
	term_escape(in, buf, len);
	return buf;
}

int term_fputs(const char *in, FILE *f)
{
	while (*in) {
		char piece[17];
		int used;

		escape_one(in, piece, &used);
		if (fputs(piece, f) == EOF)
			return EOF;
		in += used;
	}
	return 0;
}
