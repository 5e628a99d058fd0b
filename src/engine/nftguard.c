/* nftables guard with libnftables. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "nftguard.h"

#define LOCK_SUFFIX ".lock"
/* The inode of the initial PID namespace (PROC_PID_INIT_INO, Linux 3.8). */
#define PID_INIT_INO 0xEFFFFFFCu

/* libnftables prints its own complaints when netlink refuses us; ask
 * first, so the user sees one line of ours. */
static int have_net_admin(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps != NULL) {
		(void)cap_get_flag(caps, CAP_NET_ADMIN, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (ctx != NULL) {
		nft_ctx_buffer_output(ctx);
		nft_ctx_buffer_error(ctx);
	}
	return ctx;
}

int nftg_ruleset(char *buf, size_t len, const char *table,
		 const struct addr *dst, uint16_t dport, uint16_t sport_lo,
		 uint16_t sport_hi)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	/* Priority -300 (raw): before conntrack and before the stack. */
	n = snprintf(buf, len,
		     "table inet %s {\n"
		     "  chain in {\n"
		     "    type filter hook prerouting priority -300; policy accept;\n"
		     "    %s saddr %s tcp sport %u tcp dport %u-%u drop\n"
		     "  }\n"
		     "}\n",
		     table, dst->family == AF_INET ? "ip" : "ip6",
		     addr_str(dst, a, sizeof(a)), dport, sport_lo, sport_hi);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* ------------------------------------------------------------- names */

int nftg_new_name(char *buf, size_t len)
{
	unsigned char r[8];
	size_t got = 0;
	int n;

	if (len < NFTG_NAME_LEN)
		return -1;
	while (got < sizeof(r)) {
		ssize_t k = getrandom(r + got, sizeof(r) - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	n = snprintf(buf, len, NFTG_PREFIX "%ld_%02x%02x%02x%02x%02x%02x%02x%02x",
		     (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* Digits of a pid from 1 to INT_MAX without a leading zero; the end. */
static const char *parse_pid(const char *s, long *pid)
{
	long v = 0;
	int n = 0;

	if (*s < '1' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++n > 10)
			return NULL;
		v = v * 10 + (*s - '0');
	}
	if (v > INT_MAX)
		return NULL;
	*pid = v;
	return s;
}

enum nftg_kind nftg_name_kind(const char *name, long *pid)
{
	const char *p;
	long v;
	int i;

	if (strncmp(name, NFTG_PREFIX, strlen(NFTG_PREFIX)) != 0)
		return NFTG_OTHER;
	p = parse_pid(name + strlen(NFTG_PREFIX), &v);
	if (p == NULL)
		return NFTG_OTHER;
	if (*p == '\0') {
		*pid = v;
		return NFTG_LEGACY;
	}
	if (*p++ != '_')
		return NFTG_OTHER;
	for (i = 0; i < 16; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return NFTG_OTHER;
	if (p[16] != '\0')
		return NFTG_OTHER;
	*pid = v;
	return NFTG_OURS;
}

/* ---------------------------------------------- reading `list tables` */

/* One word of 1..max bytes from *s, ended by a space or the line's end;
 * copied to out. NULL if the word is empty, too long or has a byte other
 * than printable non-space ASCII. */
static const char *word(const char *s, const char *eol, char *out, size_t max)
{
	size_t n = 0;

	while (s < eol && *s != ' ') {
		if (*s <= ' ' || *s > '~' || n >= max)
			return NULL;
		out[n++] = *s++;
	}
	out[n] = '\0';
	return n > 0 ? s : NULL;
}

int nftg_parse_tables(const char *text, nftg_table_fn fn, void *arg)
{
	char family[16], name[NFTG_NAME_MAX + 1];
	const char *line, *eol, *p;
	int calls = 0;

	for (line = text; *line != '\0'; line = *eol ? eol + 1 : eol) {
		eol = strchr(line, '\n');
		if (eol == NULL)
			eol = line + strlen(line);
		p = eol;
		if (p > line && p[-1] == '\r')
			p--;
		if ((size_t)(p - line) < 6 || memcmp(line, "table ", 6) != 0)
			continue;
		{
			const char *q = word(line + 6, p, family, sizeof(family) - 1);
			size_t i;

			if (q == NULL || q >= p || *q != ' ')
				continue;
			for (i = 0; family[i]; i++)
				if (!islower((unsigned char)family[i]) &&
				    !isdigit((unsigned char)family[i]))
					break;
			if (family[i] != '\0')
				continue;
			q = word(q + 1, p, name, NFTG_NAME_MAX);
			if (q == NULL || q != p)
				continue;
		}
		calls++;
		if (fn(family, name, arg) != 0)
			break;
	}
	return calls;
}

/* ------------------------------------------------------------- locks */

static int lock_name(char *buf, size_t len, const char *table)
{
	int n = snprintf(buf, len, "%s" LOCK_SUFFIX, table);

	return n > 0 && (size_t)n < len && strchr(table, '/') == NULL &&
	       table[0] != '.' ? 0 : -1;
}

int nftg_lockdir_open(const char *path, int create)
{
	struct stat st;
	int fd;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int nftg_lock_create(int dirfd, const char *table)
{
	char name[NFTG_NAME_MAX + 8];
	int fd;

	if (lock_name(name, sizeof(name), table) < 0)
		return -1;
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		(void)unlinkat(dirfd, name, 0);
		close(fd);
		return -1;
	}
	return fd;
}

enum nftg_lock nftg_lock_probe(int dirfd, const char *table, int *fdp)
{
	char name[NFTG_NAME_MAX + 8];
	struct stat a, b;
	int fd;

	*fdp = -1;
	if (lock_name(name, sizeof(name), table) < 0)
		return NFTG_LOCK_UNKNOWN;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? NFTG_LOCK_MISSING : NFTG_LOCK_UNKNOWN;
	if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode)) {
		close(fd);
		return NFTG_LOCK_UNKNOWN;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		return e == EWOULDBLOCK ? NFTG_LOCK_HELD : NFTG_LOCK_UNKNOWN;
	}
	/* Unlinked (or replaced) since we opened it: its owner, or another
	 * reaper, is removing it; the lock we hold proves nothing. */
	if (fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fd);
		return NFTG_LOCK_UNKNOWN;
	}
	*fdp = fd;
	return NFTG_LOCK_FREE;
}

/* ------------------------------------------------ the reaping rule */

/*
 * A table is deleted only when its owner is provably gone:
 *
 *  - ecntrace_<pid>_<hex>: only if we take the lock on its lock file. The
 *    owner locks it before it creates the table and holds it until after
 *    deleting it, and the kernel drops the lock when the owner dies. A
 *    missing lock file proves nothing: the owner may see another /run (a
 *    container with its own mount namespace sharing our network
 *    namespace), may run as another user, or may have found no directory
 *    to lock in at all. Such a table is left alone.
 *  - ecntrace_<pid> (versions before the locks): only if no lock file of
 *    that name exists and no process in any PID namespace has that pid,
 *    which only a process of the initial PID namespace, with a /proc of
 *    that namespace not mounted hidepid, can tell (nftg_pid_unused). A pid
 *    dead in our namespace may live in another one.
 *  - anything else is not ours.
 */
int nftg_may_reap(enum nftg_kind kind, enum nftg_lock lock, int pid_unused)
{
	switch (kind) {
	case NFTG_OURS:
		return lock == NFTG_LOCK_FREE;
	case NFTG_LEGACY:
		return lock == NFTG_LOCK_FREE ||
		       (lock == NFTG_LOCK_MISSING && pid_unused);
	case NFTG_OTHER:
		break;
	}
	return 0;
}

/* The pids of the NSpid line of a /proc/PID/status text: does it hold
 * pid? -1 without an NSpid line. */
static int nspid_has(const char *status, long pid)
{
	const char *p = strstr(status, "\nNSpid:");
	char *end;

	if (p == NULL)
		return -1;
	p += strlen("\nNSpid:");
	for (;;) {
		long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return 0;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno == 0 && v == pid)
			return 1;
		p = end;
	}
}

static int read_small(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return 0;
}

int nftg_pid_unused(const char *procdir, long pid)
{
	char buf[4096], path[NAME_MAX + 16];
	struct dirent *de;
	DIR *d = opendir(procdir);
	int found = 0, seen = 0;

	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		const char *s = de->d_name;

		if (*s < '1' || *s > '9' || strspn(s, "0123456789") != strlen(s))
			continue;
		snprintf(path, sizeof(path), "%s/status", s);
		if (read_small(dirfd(d), path, buf, sizeof(buf)) < 0)
			continue;    /* gone meanwhile */
		switch (nspid_has(buf, pid)) {
		case 1:
			found = 1;
			break;
		case 0:
			seen++;
			break;
		default:     /* no NSpid (before Linux 4.1): cannot tell */
			found = 1;
		}
	}
	closedir(d);
	return !found && seen > 0;
}

/* Whether /proc shows every process of every PID namespace: we are in the
 * initial one, /proc is its own (our NSpid has one pid, ours) and it hides
 * no process (no hidepid). */
static int proc_sees_all(void)
{
	char buf[4096], *line, *save;
	struct stat st;
	long self;
	FILE *f;
	int ok = 0;

	if (stat("/proc/self/ns/pid", &st) < 0 || st.st_ino != PID_INIT_INO)
		return 0;
	if (read_small(AT_FDCWD, "/proc/self/status", buf, sizeof(buf)) < 0 ||
	    (line = strstr(buf, "\nNSpid:")) == NULL)
		return 0;
	line += strlen("\nNSpid:");
	self = strtol(line, &save, 10);
	while (*save == ' ' || *save == '\t')
		save++;
	if (self != (long)getpid() || *save != '\n')
		return 0;
	if ((f = fopen("/proc/self/mounts", "re")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char dev[256], dir[256], type[64], opts[1024];

		if (sscanf(buf, "%255s %255s %63s %1023s", dev, dir, type, opts) != 4 ||
		    strcmp(dir, "/proc") != 0 || strcmp(type, "proc") != 0)
			continue;
		/* The last mount on /proc is the one we see. */
		save = strstr(opts, "hidepid=");
		ok = save == NULL || strncmp(save, "hidepid=0", 9) == 0 ||
		     strncmp(save, "hidepid=off", 11) == 0;
	}
	fclose(f);
	return ok;
}

/* ------------------------------------------------------ the guard */

/* The directories a lock file may be in: /run/ecntrace, else our own
 * runtime directory. */
static int lock_dirs(char dirs[2][PATH_MAX])
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	int n = 0;

	snprintf(dirs[n++], PATH_MAX, "%s", NFTG_LOCK_DIR);
	if (x != NULL && x[0] == '/' &&
	    (size_t)snprintf(dirs[n], PATH_MAX, "%s/ecntrace", x) < PATH_MAX)
		n++;
	return n;
}

static void guard_lock(struct nft_guard *g)
{
	char dirs[2][PATH_MAX];
	int i, n = lock_dirs(dirs);

	for (i = 0; i < n && !g->locked; i++) {
		int dfd = nftg_lockdir_open(dirs[i], 1);

		if (dfd < 0)
			continue;
		g->lockfd = nftg_lock_create(dfd, g->table);
		if (g->lockfd < 0) {
			close(dfd);
			continue;
		}
		g->dirfd = dfd;
		g->locked = 1;
	}
}

static void guard_unlock(struct nft_guard *g)
{
	char name[NFTG_NAME_MAX + 8];

	if (!g->locked)
		return;
	g->locked = 0;
	if (lock_name(name, sizeof(name), g->table) == 0)
		(void)unlinkat(g->dirfd, name, 0);
	close(g->lockfd);
	close(g->dirfd);
}

int nftg_install(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		 uint16_t sport_lo, uint16_t sport_hi, char *err, size_t errlen)
{
	char rules[640];
	struct nft_ctx *ctx;
	int n, rc;

	memset(g, 0, sizeof(*g));
	if (!have_net_admin()) {
		snprintf(err, errlen, "the connection replay needs CAP_NET_ADMIN "
			 "for its nftables table (run as root or grant it)");
		return EX_NOPERM;
	}
	if (nftg_new_name(g->table, sizeof(g->table)) < 0) {
		snprintf(err, errlen, "nftables: no random table name: %s",
			 strerror(errno));
		return EX_OSERR;
	}
	/* The lock before the table, so no reaper ever sees the table with
	 * its lock free. */
	guard_lock(g);
	n = snprintf(rules, sizeof(rules), "create table inet %s\n", g->table);
	if (n < 0 || (size_t)n >= sizeof(rules) ||
	    nftg_ruleset(rules + n, sizeof(rules) - (size_t)n, g->table, dst,
			 dport, sport_lo, sport_hi) < 0) {
		guard_unlock(g);
		snprintf(err, errlen, "nftables: rule too long");
		return EX_SOFTWARE;
	}
	ctx = ctx_new();
	if (ctx == NULL) {
		guard_unlock(g);
		snprintf(err, errlen, "nftables: cannot create a context");
		return EX_OSERR;
	}
	rc = nft_run_cmd_from_buffer(ctx, rules);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		const char *nl = e ? strchr(e, '\n') : NULL;
		int perm = e && (strstr(e, "Operation not permitted") != NULL);

		snprintf(err, errlen, "nftables: %.*s%s",
			 nl ? (int)(nl - e) : 200, e ? e : "failed",
			 perm ? " (needs CAP_NET_ADMIN)" : "");
		nft_ctx_free(ctx);
		guard_unlock(g);
		return perm ? EX_NOPERM : EX_OSERR;
	}
	nft_ctx_free(ctx);
	g->active = 1;
	return 0;
}

static int delete_table(const char *table)
{
	char cmd[NFTG_NAME_MAX + 32];
	struct nft_ctx *ctx = ctx_new();
	int rc;

	if (ctx == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", table);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	nft_ctx_free(ctx);
	return rc == 0 ? 0 : -1;
}

void nftg_remove(struct nft_guard *g)
{
	if (g->active) {
		g->active = 0;
		(void)delete_table(g->table);
	}
	/* Only once the table is gone. */
	guard_unlock(g);
}

struct reap {
	char dirs[2][PATH_MAX];
	int dirfd[2];
	int direrr[2];          /* errno of a directory not opened */
	int ndirs;
	int legacy_ok;          /* -1 until proc_sees_all() is asked */
	int removed;
};

/* The best we know of a table's lock file over the directories: a lock
 * held anywhere wins, then one we took (in *fd), then not knowing. */
static enum nftg_lock probe_all(struct reap *r, const char *table, int *fd,
				int *dir)
{
	enum nftg_lock best = NFTG_LOCK_MISSING;
	int i;

	*fd = -1;
	for (i = 0; i < r->ndirs; i++) {
		enum nftg_lock s;
		int f;

		if (r->dirfd[i] < 0) {
			/* No directory is no file; one we may not use is
			 * not knowing. */
			if (r->direrr[i] != ENOENT && best == NFTG_LOCK_MISSING)
				best = NFTG_LOCK_UNKNOWN;
			continue;
		}
		s = nftg_lock_probe(r->dirfd[i], table, &f);
		if (s == NFTG_LOCK_HELD) {
			if (*fd >= 0)
				close(*fd);
			*fd = -1;
			return NFTG_LOCK_HELD;
		}
		if (s == NFTG_LOCK_FREE && *fd < 0) {
			*fd = f;
			*dir = i;
			best = NFTG_LOCK_FREE;
		} else if (s == NFTG_LOCK_FREE) {
			close(f);
		} else if (s == NFTG_LOCK_UNKNOWN && best == NFTG_LOCK_MISSING) {
			best = NFTG_LOCK_UNKNOWN;
		}
	}
	return best;
}

static int reap_one(const char *family, const char *name, void *arg)
{
	struct reap *r = arg;
	enum nftg_kind kind;
	enum nftg_lock lock;
	long pid = 0;
	int fd, dir = -1, unused = 0;
	char lname[NFTG_NAME_MAX + 8];

	if (strcmp(family, "inet") != 0)
		return 0;
	kind = nftg_name_kind(name, &pid);
	if (kind == NFTG_OTHER)
		return 0;
	lock = probe_all(r, name, &fd, &dir);
	if (kind == NFTG_LEGACY && lock == NFTG_LOCK_MISSING &&
	    pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		if (r->legacy_ok < 0)
			r->legacy_ok = proc_sees_all();
		unused = r->legacy_ok && nftg_pid_unused("/proc", pid);
	}
	if (nftg_may_reap(kind, lock, unused) && delete_table(name) == 0) {
		r->removed++;
		if (fd >= 0 && lock_name(lname, sizeof(lname), name) == 0)
			(void)unlinkat(r->dirfd[dir], lname, 0);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

int nftg_reap(void)
{
	struct reap r = { .legacy_ok = -1 };
	struct nft_ctx *ctx;
	const char *out;
	char *copy;
	int i;

	if (!have_net_admin() || (ctx = ctx_new()) == NULL)
		return -1;
	if (nft_run_cmd_from_buffer(ctx, "list tables inet\n") != 0) {
		nft_ctx_free(ctx);
		return -1;
	}
	out = nft_ctx_get_output_buffer(ctx);
	copy = strdup(out ? out : "");
	nft_ctx_free(ctx);
	if (copy == NULL)
		return -1;
	r.ndirs = lock_dirs(r.dirs);
	for (i = 0; i < r.ndirs; i++) {
		r.dirfd[i] = nftg_lockdir_open(r.dirs[i], 0);
		r.direrr[i] = r.dirfd[i] < 0 ? errno : 0;
	}
	(void)nftg_parse_tables(copy, reap_one, &r);
	for (i = 0; i < r.ndirs; i++)
		if (r.dirfd[i] >= 0)
			close(r.dirfd[i]);
	free(copy);
	return r.removed;
}
