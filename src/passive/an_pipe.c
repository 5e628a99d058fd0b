/*
 * Reading and following on two threads. libpcap's read and the parse
 * take about as long as following the packets does (the connection
 * table, the classifier, the callback): on two processors each gets
 * one (bench/analyze.sh: about a fifth less time than one thread, a
 * fifth more CPU).
 *
 * The reader fills a batch of taken packets, hands it over under the
 * mutex and goes on with the next; the follower follows each batch in
 * the order it was filled. The ring holds AN_PIPE_RING batches: the
 * reader waits while all are full, the follower while none is. Nothing
 * else is shared: the reader hashes with its own copy of the keys, and
 * the analyzer is the follower's until the join.
 */
#include "an_pipe.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pipe {
	struct analyzer *a;
	uint64_t key[AN_TUPLE_KEYS];     /* the reader's copy */
	struct an_pending *ring;         /* AN_PIPE_RING batches */
	size_t n;                        /* reader: in the batch it fills */
	uint64_t head;                   /* reader: the batch it fills */
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	/* under mu */
	size_t count[AN_PIPE_RING];
	uint64_t filled, followed;       /* batches handed over, followed */
	int end;                         /* nothing more will come */
};

static struct an_pending *batch(const struct pipe *pp, uint64_t b)
{
	return pp->ring + (size_t)(b % AN_PIPE_RING) * AN_PIPE_BATCH;
}

static void *follower(void *arg)
{
	struct pipe *pp = arg;

	for (uint64_t b = 0;; b++) {
		size_t n;

		pthread_mutex_lock(&pp->mu);
		while (pp->filled == b && !pp->end)
			pthread_cond_wait(&pp->more, &pp->mu);
		if (pp->filled == b) {
			pthread_mutex_unlock(&pp->mu);
			return NULL;
		}
		n = pp->count[b % AN_PIPE_RING];
		pthread_mutex_unlock(&pp->mu);
		analyzer_follow(pp->a, batch(pp, b), n);
		pthread_mutex_lock(&pp->mu);
		pp->followed = b + 1;
		pthread_cond_signal(&pp->room);
		pthread_mutex_unlock(&pp->mu);
	}
}

/* Hand the batch over; wait for room for the next. */
static void hand_over(struct pipe *pp)
{
	pthread_mutex_lock(&pp->mu);
	pp->count[pp->head % AN_PIPE_RING] = pp->n;
	pp->filled = ++pp->head;
	pthread_cond_signal(&pp->more);
	while (pp->filled - pp->followed >= AN_PIPE_RING)
		pthread_cond_wait(&pp->room, &pp->mu);
	pthread_mutex_unlock(&pp->mu);
	pp->n = 0;
}

static void on_packet(void *ctx, const struct cap_pkt *p)
{
	struct pipe *pp = ctx;

	analyzer_take(pp->key, p->ip, p->len, p->wire_len, p->ts_ns,
		      batch(pp, pp->head) + pp->n);
	if (++pp->n == AN_PIPE_BATCH)
		hand_over(pp);
}

static void on_packet1(void *ctx, const struct cap_pkt *p)
{
	analyzer_feed(ctx, p->ip, p->len, p->wire_len, p->ts_ns);
}

/* Start the follower with every signal blocked: they go to the reader
 * (analyze sets no handler: their default action ends the process,
 * as with one thread). */
static int start(pthread_t *t, struct pipe *pp)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, follower, pp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int two_threads(struct capture *c, struct analyzer *a, char *err,
		       size_t errlen, int *rc)
{
	struct pipe pp;
	pthread_t t;

	memset(&pp, 0, sizeof(pp));
	pp.ring = malloc(sizeof(*pp.ring) * AN_PIPE_RING * AN_PIPE_BATCH);
	if (pp.ring == NULL)
		return -1;
	pp.a = a;
	analyzer_keys(a);
	memcpy(pp.key, a->tuple_key, sizeof(pp.key));
	pthread_mutex_init(&pp.mu, NULL);
	pthread_cond_init(&pp.more, NULL);
	pthread_cond_init(&pp.room, NULL);
	if (start(&t, &pp) != 0) {
		pthread_cond_destroy(&pp.room);
		pthread_cond_destroy(&pp.more);
		pthread_mutex_destroy(&pp.mu);
		free(pp.ring);
		return -1;
	}
	*rc = capture_each(c, on_packet, &pp, err, errlen);
	if (pp.n > 0)
		hand_over(&pp);
	pthread_mutex_lock(&pp.mu);
	pp.end = 1;
	pthread_cond_signal(&pp.more);
	pthread_mutex_unlock(&pp.mu);
	pthread_join(t, NULL);
	pthread_cond_destroy(&pp.room);
	pthread_cond_destroy(&pp.more);
	pthread_mutex_destroy(&pp.mu);
	free(pp.ring);
	return 0;
}

/* Processors this process may run on (taskset, cpusets). */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

int an_pipe_each(struct capture *c, struct analyzer *a, int threads,
		 char *err, size_t errlen)
{
	int rc;

	if (threads == 0)
		threads = usable_cpus() >= 2 ? 2 : 1;
	if (threads >= 2 && two_threads(c, a, err, errlen, &rc) == 0)
		return rc;
	rc = capture_each(c, on_packet1, a, err, errlen);
	analyzer_flush(a);
	return rc;
}
