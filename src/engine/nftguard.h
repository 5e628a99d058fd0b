/*
 * Keeping the host's TCP stack out of our userspace connections: the
 * kernel has no socket for them, so it would answer the server's SYN-ACK
 * with an RST. A table of our own drops just the replies of our flows
 * (source address and port of the target, our range of source ports)
 * before the stack sees them; the packet socket has already copied them
 * by then. The table goes on every exit path, and tables of instances
 * that are provably gone are reaped at start.
 *
 * The table is named ecntrace_<pid>_<16 hex digits from getrandom(2)>:
 * unique even when instances in different PID namespaces share a network
 * namespace (and a pid). Its owner holds an flock(2) on a lock file
 * <dir>/<table>.lock for its whole life, dir being /run/ecntrace or else
 * $XDG_RUNTIME_DIR/ecntrace; the kernel drops the lock when the process
 * dies, even of SIGKILL. The reaping rule is in nftguard.c, nftg_may_reap.
 */
#ifndef ECNTRACE_NFTGUARD_H
#define ECNTRACE_NFTGUARD_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

#define NFTG_PREFIX "ecntrace_"
/* "ecntrace_" + pid (at most 10 digits) + "_" + 16 hex + NUL: 37. The
 * kernel takes names of up to 255 bytes (NFT_NAME_MAXLEN, Linux 4.14 on). */
#define NFTG_NAME_LEN 40
/* Longest table name the parser passes on (NFT_NAME_MAXLEN - 1). */
#define NFTG_NAME_MAX 255
#define NFTG_LOCK_DIR "/run/ecntrace"

struct nft_guard {
	char table[NFTG_NAME_LEN];
	int active;
	int locked;             /* lockfd and dirfd are open */
	int lockfd;             /* holds LOCK_EX on dirfd/<table>.lock */
	int dirfd;
};

/* Delete the tables of ecntrace instances that are provably gone.
 * Returns the number removed, or -1. */
int nftg_reap(void);

/* Returns 0, or an EX_* code with a one-line message in err. Without a
 * directory for the lock file the table is installed all the same, and
 * no reaper will ever delete it (only nftg_remove). */
int nftg_install(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		 uint16_t sport_lo, uint16_t sport_hi, char *err, size_t errlen);
/* Deletes the table, then the lock file. Idempotent; safe to call from an
 * exit path, and on a guard that was never installed if zeroed. */
void nftg_remove(struct nft_guard *g);

/* --- The parts below are pure or take their directory; for tests. --- */

/* The ruleset nftg_install() loads after "create table inet TABLE" (which
 * fails rather than merge with a table of the same name). */
int nftg_ruleset(char *buf, size_t len, const char *table,
		 const struct addr *dst, uint16_t dport, uint16_t sport_lo,
		 uint16_t sport_hi);

/* A fresh table name for this process: ecntrace_<pid>_<16 hex>. Returns
 * 0, or -1 (getrandom failed, or len below NFTG_NAME_LEN). */
int nftg_new_name(char *buf, size_t len);

enum nftg_kind {
	NFTG_OTHER,     /* not ours: never touched */
	NFTG_LEGACY,    /* ecntrace_<pid>, from versions without a lock */
	NFTG_OURS,      /* ecntrace_<pid>_<16 lowercase hex> */
};
/* What a table name is; *pid gets its pid (LEGACY and OURS). Exact
 * grammar: pid 1 to 2^31-1 without leading zeros, nothing after. */
enum nftg_kind nftg_name_kind(const char *name, long *pid);

/* Calls fn(family, name, arg) for every line of `nft list tables` output
 * that is exactly "table FAMILY NAME" (FAMILY 1-15 of [a-z0-9], NAME 1 to
 * NFTG_NAME_MAX printable non-space ASCII bytes; a trailing CR is allowed);
 * other lines are skipped. Stops when fn returns non-zero. Returns the
 * number of calls. */
typedef int (*nftg_table_fn)(const char *family, const char *name, void *arg);
int nftg_parse_tables(const char *text, nftg_table_fn fn, void *arg);

enum nftg_lock {
	NFTG_LOCK_FREE,     /* the file exists, we now hold its lock */
	NFTG_LOCK_HELD,     /* someone alive holds it */
	NFTG_LOCK_MISSING,  /* no such file in this directory */
	NFTG_LOCK_UNKNOWN,  /* cannot open or lock it: say nothing */
};
/* Create dirfd/<table>.lock (O_EXCL, 0600) and lock it; returns its fd or
 * -1. */
int nftg_lock_create(int dirfd, const char *table);
/* Try dirfd/<table>.lock; on FREE *fd is the locked file (still linked
 * under that name), else -1. */
enum nftg_lock nftg_lock_probe(int dirfd, const char *table, int *fd);
/* Open (with create, make) a lock directory we may trust: a real
 * directory owned by us or root and writable by no one else. fd or -1. */
int nftg_lockdir_open(const char *path, int create);

/* Whether no process in any PID namespace has this pid, judged from the
 * NSpid lines under procdir (a /proc of the initial PID namespace). */
int nftg_pid_unused(const char *procdir, long pid);

/* The rule: whether a table of this kind may be deleted given the state
 * of its lock file (the best over the lock directories) and, for a legacy
 * name, whether its pid is provably unused in every PID namespace. */
int nftg_may_reap(enum nftg_kind kind, enum nftg_lock lock, int pid_unused);

#endif
