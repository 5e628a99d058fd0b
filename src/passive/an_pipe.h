/*
 * A capture file through the analyzer on two threads: this one reads and
 * parses (libpcap, analyzer_take), another follows the packets in order
 * (analyzer_follow), batch by batch through a small ring. The analyzer's
 * callback runs on the follower. One processor to run on, or no thread
 * to be had: one thread, analyzer_feed. The same results either way.
 */
#ifndef ECNTRACE_AN_PIPE_H
#define ECNTRACE_AN_PIPE_H

#include <stddef.h>

#include "analyze.h"
#include "capture.h"

/* Packets a batch, batches in the ring. */
#define AN_PIPE_BATCH 1024
#define AN_PIPE_RING 4

/* threads: 0 for as many as help (2 if the process may run on two
 * processors or more, else 1),
 * 1 or 2. What capture_each() returns: 0 at the end, -2 if interrupted,
 * -1 on a read error (message in err). Every packet read has been
 * followed on return (analyzer_finish() next). */
int an_pipe_each(struct capture *c, struct analyzer *a, int threads,
		 char *err, size_t errlen);

#endif
