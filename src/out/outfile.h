/*
 * Files a person names on the command line (--pcap, --report): opened
 * only after the privileges are dropped, so with the caller's own
 * identity; never through a symbolic link; and, when the run fails,
 * removed only if this run created them.
 */
#ifndef ECNTRACE_OUTFILE_H
#define ECNTRACE_OUTFILE_H

#include <stdio.h>

struct outfile {
	FILE *fp;
	const char *path;
	int created;                 /* this run made the file */
};

/* Open path for writing: a new file (mode 0666 less the umask), or an
 * existing regular file or FIFO, truncated. Returns 0, or -1 with a
 * one-line reason in err. */
int outfile_open(struct outfile *o, const char *path, char *err, size_t errlen);
/* Flush and close; 0, or -1 with errno set (a write error). */
int outfile_close(struct outfile *o);
/* Close, and remove the file if this run created it. */
void outfile_discard(struct outfile *o);

#endif
