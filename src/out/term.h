/* The terminal: a progress line on stderr once a run has lasted a second,
 * and colour only on a terminal and never with NO_COLOR. */
#ifndef ECNTRACE_TERM_H
#define ECNTRACE_TERM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* enabled: not --quiet; the line shows only if stderr is a terminal. */
void progress_init(int enabled);
/* Callbacks for the measurements (ctx unused). */
void progress_phase(void *ctx, const char *phase);
void progress_tick(void *ctx, size_t done, size_t total);
/* Clear the line, if one was shown. */
void progress_end(void);

/* Should output to f be coloured? */
int use_color(FILE *f);
/* ANSI sequences, or "" when colour is off. */
const char *color_on(int color, const char *which); /* "red", "green", "yellow", "bold" */
const char *color_off(int color);

/*
 * Text from outside (reverse-DNS names, the host argument, strings read
 * from a capture, error messages quoting them) on a terminal. A name
 * with ESC [ 2 J in it must not clear the screen, nor one with ESC ] 0 ;
 * retitle the window. The rules:
 *   - a backslash becomes two backslashes, so what follows is unambiguous;
 *   - the bytes of a C0 control (below 0x20), DEL, a C1 control
 *     (U+0080-U+009F, which some terminals take as ESC + letter, U+009B
 *     as CSI) and a bidirectional formatting character (U+061C, U+200E,
 *     U+200F, U+202A-U+202E, U+2066-U+2069, which reorder what is shown)
 *     become "\xNN" each, NN two lowercase hex digits;
 *   - so does each byte that does not begin a valid UTF-8 sequence (a
 *     stray continuation byte such as a raw 0x9b, an overlong form, a
 *     surrogate, beyond U+10FFFF, a sequence cut short);
 *   - everything else, valid UTF-8 multibyte characters included, is
 *     copied as it is.
 * The result is printable, and the original bytes can be read back from it.
 */

/* Escaped text needs at most 4 bytes per input byte; a name from
 * getnameinfo (NI_MAXHOST, 1025 with its NUL) always fits in this. */
#define TERM_ESC_MAX (4 * 1024 + 1)

/* Escape in into out (outlen bytes, NUL-terminated when outlen > 0; an
 * escape is never cut in half). Returns the length the whole escaped text
 * has, as snprintf does: >= outlen means out holds only its beginning.
 * Pure. */
size_t term_escape(const char *in, char *out, size_t outlen);
/* term_escape into buf, returning buf (for a printf argument). */
const char *term_str(const char *in, char *buf, size_t len);
/* term_escape into a buffer that lives until the end of the enclosing
 * block: fprintf(f, "%s", TERM_STR(name)). Longer text is cut. */
#define TERM_STR(s) term_str((s), (char[TERM_ESC_MAX]){ 0 }, TERM_ESC_MAX)
/* Write in, escaped, to f, however long; EOF on error. */
int term_fputs(const char *in, FILE *f);

/* The length (1-4) of the valid UTF-8 sequence s begins with, and its
 * code point in *cp; 0 if the bytes at s are not one (see above). s is
 * NUL-terminated, and *s is not NUL. Pure. */
int utf8_decode(const char *s, uint32_t *cp);
/* Is cp one a terminal may act on rather than show: C0, DEL, C1, or a
 * bidirectional formatting character? Pure. */
int cp_is_control(uint32_t cp);

#endif
