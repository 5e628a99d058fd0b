/* The terminal: a progress line on stderr once a run has lasted a second,
 * and colour only on a terminal and never with NO_COLOR. */
#ifndef ECNTRACE_TERM_H
#define ECNTRACE_TERM_H

#include <stddef.h>
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

#endif
