/*
 * The nftables guard's parts that need no netlink: table names (format,
 * uniqueness, the grammar the reaper accepts), the reading of `nft list
 * tables` (table-driven, hostile lines included), the reaping rule, the
 * lock files (held by a live process, free once it is SIGKILLed, never
 * followed through a symlink), the trust in a lock directory, and the
 * NSpid scan that decides a legacy table's pid is unused everywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nftguard.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- names */

static int is_hex16(const char *s)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[16] == '\0';
}

static void test_new_name(void **state)
{
	enum { K = 256 };
	static char names[K][NFTG_NAME_LEN];
	char want[32], small[NFTG_NAME_LEN - 1];
	long pid;
	int i, j;

	snprintf(want, sizeof(want), NFTG_PREFIX "%ld_", (long)getpid());
	for (i = 0; i < K; i++) {
		assert_int_equal(nftg_new_name(names[i], sizeof(names[i])), 0);
		/* ecntrace_<pid>_<16 lowercase hex>, nothing else */
		assert_memory_equal(names[i], want, strlen(want));
		assert_true(is_hex16(names[i] + strlen(want)));
		assert_int_equal(nftg_name_kind(names[i], &pid), NFTG_OURS);
		assert_int_equal(pid, (long)getpid());
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	/* 64 random bits: the halves are not stuck either. */
	for (j = 1; j < K; j++)
		if (memcmp(names[0] + strlen(want), names[j] + strlen(want), 8) != 0)
			break;
	assert_true(j < K);
	assert_int_equal(nftg_new_name(small, sizeof(small)), -1);
	/* The longest name (a 10-digit pid) fits the buffer and nft's limit. */
	assert_true(strlen(NFTG_PREFIX "2147483647_0123456789abcdef") <
		    NFTG_NAME_LEN);
	assert_true(NFTG_NAME_LEN <= 256);
	assert_string_equal(NFTG_PREFIX, "ecntrace_");
}

static void test_name_kind(void **state)
{
	static const struct {
		const char *name;
		enum nftg_kind kind;
		long pid;
	} t[] = {
		{ "ecntrace_1_0123456789abcdef", NFTG_OURS, 1 },
		{ "ecntrace_4194304_ffffffffffffffff", NFTG_OURS, 4194304 },
		{ "ecntrace_2147483647_0000000000000000", NFTG_OURS, 2147483647 },
		{ "ecntrace_42", NFTG_LEGACY, 42 },
		{ "ecntrace_2147483647", NFTG_LEGACY, 2147483647 },
		{ "ecntrace_2147483648", NFTG_OTHER, 0 },     /* above INT_MAX */
		{ "ecntrace_99999999999", NFTG_OTHER, 0 },
		{ "ecntrace_0", NFTG_OTHER, 0 },
		{ "ecntrace_042", NFTG_OTHER, 0 },
		{ "ecntrace_-1", NFTG_OTHER, 0 },
		{ "ecntrace_+1", NFTG_OTHER, 0 },
		{ "ecntrace_", NFTG_OTHER, 0 },
		{ "ecntrace_x", NFTG_OTHER, 0 },
		{ "ecntrace_42x", NFTG_OTHER, 0 },
		{ "ecntrace_42_", NFTG_OTHER, 0 },
		{ "ecntrace_42_0123456789abcde", NFTG_OTHER, 0 },    /* 15 */
		{ "ecntrace_42_0123456789abcdef0", NFTG_OTHER, 0 },  /* 17 */
		{ "ecntrace_42_0123456789ABCDEF", NFTG_OTHER, 0 },
		{ "ecntrace_42_0123456789abcdeg", NFTG_OTHER, 0 },
		{ "ecntrace_42_0123456789abcdef_1", NFTG_OTHER, 0 },
		{ "ecntrace_42_0123456789abcdef.lock", NFTG_OTHER, 0 },
		{ "ecntrace_42__0123456789abcdef", NFTG_OTHER, 0 },
		{ "ecntrace_42 ", NFTG_OTHER, 0 },
		{ "ecntrace_42/x", NFTG_OTHER, 0 },
		{ "ecntrace_4_2", NFTG_OTHER, 0 },
		{ "ECNTRACE_42", NFTG_OTHER, 0 },
		{ "xecntrace_42", NFTG_OTHER, 0 },
		{ "ecntrace42", NFTG_OTHER, 0 },
		{ "filter", NFTG_OTHER, 0 },
		{ "", NFTG_OTHER, 0 },
	};
	size_t i;

	for (i = 0; i < N(t); i++) {
		long pid = -7;
		enum nftg_kind k = nftg_name_kind(t[i].name, &pid);

		if (k != t[i].kind)
			fail_msg("'%s': kind %d, want %d", t[i].name, k, t[i].kind);
		if (k != NFTG_OTHER && pid != t[i].pid)
			fail_msg("'%s': pid %ld, want %ld", t[i].name, pid, t[i].pid);
		if (k == NFTG_OTHER && pid != -7)
			fail_msg("'%s': pid set for another's table", t[i].name);
	}
}

/* ------------------------------------------------ parsing list tables */

struct seen {
	char out[2048];
	int calls;
	int stop_after;
};

static int collect(const char *family, const char *name, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->out);

	snprintf(s->out + n, sizeof(s->out) - n, "%s%s %s", n ? ";" : "",
		 family, name);
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

static void test_parse_tables(void **state)
{
	static char long255[300], long256[300], longline[9000];
	struct {
		const char *text;
		const char *want;     /* "family name;..." */
	} t[] = {
		{ "", "" },
		{ "\n\n", "" },
		{ "table inet ecntrace_1_0123456789abcdef\n",
		  "inet ecntrace_1_0123456789abcdef" },
		{ "table inet a\ntable ip b\ntable ip6 c\ntable bridge d\n"
		  "table netdev e\ntable arp f\n",
		  "inet a;ip b;ip6 c;bridge d;netdev e;arp f" },
		{ "table inet no_newline_at_end", "inet no_newline_at_end" },
		{ "table inet crlf\r\ntable inet lf\n", "inet crlf;inet lf" },
		/* not one of our lines */
		{ "table inet two words\n", "" },
		{ "table inet trailing \n", "" },
		{ "table  inet double\n", "" },
		{ "table inet  double\n", "" },
		{ " table inet indented\n", "" },
		{ "table\tinet tab\n", "" },
		{ "table inet\ttab\n", "" },
		{ "table inet a\tb\n", "" },
		{ "table inet a\vb\n", "" },
		{ "table inet a\x7f" "b\n", "" },
		{ "table inet\n", "" },
		{ "table inet \n", "" },
		{ "table \n", "" },
		{ "table", "" },
		{ "tables inet x\n", "" },
		{ "Table inet x\n", "" },
		{ "table INET x\n", "" },
		{ "table in-et x\n", "" },
		{ "table abcdefghijklmnop x\n", "" },         /* family of 16 */
		{ "table abcdefghijklmno x\n", "abcdefghijklmno x" },
		{ "table inet x\r\r\n", "" },
		{ "table inet a\x01" "b\n", "" },
		{ "table inet caf\xc3\xa9\n", "" },
		{ "table inet x # handle 3\n", "" },
		{ "# table inet x\n", "" },
		{ "table inet \"quoted name\"\n", "" },
		/* a hostile name cannot smuggle a line of ours */
		{ "table inet x\rtable inet ecntrace_1\n", "" },
		{ "table inet x\\ntable\n", "inet x\\ntable" },
		{ "garbage\ntable inet ok\nmore garbage", "inet ok" },
		{ long255, NULL },
		{ long256, "inet after" },
		{ longline, "inet after" },
	};
	size_t i;

	/* 255 bytes is the longest name; 256 is skipped, not cut. */
	memcpy(long255, "table inet ", 11);
	memset(long255 + 11, 'n', 255);
	long255[11 + 255] = '\0';
	memcpy(long256, "table inet ", 11);
	memset(long256 + 11, 'n', 256);
	strcpy(long256 + 11 + 256, "\ntable inet after\n");
	memcpy(longline, "table inet ", 11);
	memset(longline + 11, 'x', 8000);
	strcpy(longline + 11 + 8000, "\ntable inet after\n");

	for (i = 0; i < N(t); i++) {
		struct seen s = { .out = "" };
		int calls = nftg_parse_tables(t[i].text, collect, &s);

		if (t[i].want == NULL) {
			assert_int_equal(calls, 1);
			assert_int_equal(strlen(s.out), strlen("inet ") + 255);
			continue;
		}
		if (strcmp(s.out, t[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, s.out, t[i].want);
		assert_int_equal(calls, s.calls);
	}
	/* fn returning non-zero stops the walk. */
	{
		struct seen s = { .out = "", .stop_after = 2 };

		assert_int_equal(nftg_parse_tables("table inet a\ntable inet b\n"
						   "table inet c\n", collect, &s), 2);
		assert_string_equal(s.out, "inet a;inet b");
	}
}

/* ------------------------------------------------------ reaping rule */

static void test_may_reap(void **state)
{
	static const struct {
		enum nftg_kind kind;
		enum nftg_lock lock;
		int unused;
		int want;
	} t[] = {
		/* ours: the lock and only the lock decides */
		{ NFTG_OURS, NFTG_LOCK_FREE, 0, 1 },
		{ NFTG_OURS, NFTG_LOCK_FREE, 1, 1 },
		{ NFTG_OURS, NFTG_LOCK_HELD, 0, 0 },
		{ NFTG_OURS, NFTG_LOCK_HELD, 1, 0 },
		/* no lock file: maybe another /run, another user, no lock */
		{ NFTG_OURS, NFTG_LOCK_MISSING, 0, 0 },
		{ NFTG_OURS, NFTG_LOCK_MISSING, 1, 0 },
		{ NFTG_OURS, NFTG_LOCK_UNKNOWN, 0, 0 },
		{ NFTG_OURS, NFTG_LOCK_UNKNOWN, 1, 0 },
		/* legacy: no lock file and a pid no namespace uses */
		{ NFTG_LEGACY, NFTG_LOCK_MISSING, 1, 1 },
		{ NFTG_LEGACY, NFTG_LOCK_MISSING, 0, 0 },
		{ NFTG_LEGACY, NFTG_LOCK_UNKNOWN, 1, 0 },
		{ NFTG_LEGACY, NFTG_LOCK_HELD, 1, 0 },
		{ NFTG_LEGACY, NFTG_LOCK_FREE, 0, 1 },
		/* never another's */
		{ NFTG_OTHER, NFTG_LOCK_FREE, 1, 0 },
		{ NFTG_OTHER, NFTG_LOCK_MISSING, 1, 0 },
		{ NFTG_OTHER, NFTG_LOCK_UNKNOWN, 1, 0 },
		{ NFTG_OTHER, NFTG_LOCK_HELD, 1, 0 },
	};
	size_t i;

	for (i = 0; i < N(t); i++)
		if (nftg_may_reap(t[i].kind, t[i].lock, t[i].unused) != t[i].want)
			fail_msg("case %zu: kind %d lock %d unused %d: want %d", i,
				 t[i].kind, t[i].lock, t[i].unused, t[i].want);
}

/* ------------------------------------------------------------- locks */

static char tmpdir[64];

static int setup_tmp(void **state)
{
	strcpy(tmpdir, "/tmp/test_nftguard.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_tmp(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *T1 = "ecntrace_7_0123456789abcdef";

/* A child that takes T1's lock in dfd and waits; returns its pid once the
 * lock is held. */
static pid_t locker(int dfd)
{
	int p[2];
	char c = 0;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = nftg_lock_create(dfd, T1);

		c = fd >= 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(c, 'y');
	return pid;
}

static void test_lock_life(void **state)
{
	int dfd = nftg_lockdir_open(tmpdir, 0), fd, fd2, st;
	struct stat sb;
	pid_t pid;

	assert_true(dfd >= 0);
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_MISSING);
	assert_int_equal(fd, -1);
	pid = locker(dfd);
	assert_int_equal(fstatat(dfd, "ecntrace_7_0123456789abcdef.lock", &sb,
				 AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* Alive: held, and the name is taken. */
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_HELD);
	assert_int_equal(fd, -1);
	assert_int_equal(nftg_lock_create(dfd, T1), -1);
	assert_int_equal(errno, EEXIST);
	/* SIGKILLed: the kernel let go of the lock; the file stays. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_FREE);
	assert_true(fd >= 0);
	/* While a reaper holds it, another reaper sees it held. */
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd2), NFTG_LOCK_HELD);
	close(fd);
	assert_int_equal(unlinkat(dfd, "ecntrace_7_0123456789abcdef.lock", 0), 0);
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_MISSING);

	/* Our own lock, probed from this very process: held. */
	fd2 = nftg_lock_create(dfd, T1);
	assert_true(fd2 >= 0);
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_HELD);
	close(fd2);
	assert_int_equal(nftg_lock_probe(dfd, T1, &fd), NFTG_LOCK_FREE);
	close(fd);
	assert_int_equal(unlinkat(dfd, "ecntrace_7_0123456789abcdef.lock", 0), 0);
	close(dfd);
}

static void test_lock_hostile(void **state)
{
	char path[128];
	int dfd = nftg_lockdir_open(tmpdir, 0), fd;

	assert_true(dfd >= 0);
	/* A symlink in place of a lock file is neither followed nor free. */
	assert_int_equal(symlinkat("/etc/passwd", dfd,
				   "ecntrace_8_0123456789abcdef.lock"), 0);
	assert_int_equal(nftg_lock_probe(dfd, "ecntrace_8_0123456789abcdef", &fd),
			 NFTG_LOCK_UNKNOWN);
	assert_int_equal(fd, -1);
	assert_int_equal(nftg_lock_create(dfd, "ecntrace_8_0123456789abcdef"), -1);
	/* A FIFO is no lock file either (and must not block us). */
	assert_int_equal(mkfifoat(dfd, "ecntrace_9_0123456789abcdef.lock", 0600), 0);
	assert_int_equal(nftg_lock_probe(dfd, "ecntrace_9_0123456789abcdef", &fd),
			 NFTG_LOCK_UNKNOWN);
	/* Names that would leave the directory. */
	assert_int_equal(nftg_lock_probe(dfd, "../x", &fd), NFTG_LOCK_UNKNOWN);
	assert_int_equal(nftg_lock_create(dfd, "a/b"), -1);
	assert_int_equal(nftg_lock_create(dfd, ".hidden"), -1);
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	assert_int_equal(access(path, F_OK), -1);
	close(dfd);
}

static void test_lockdir_trust(void **state)
{
	char d[128], l[128], f[128];
	struct stat st;
	int fd;

	/* Created 0700 when asked, never followed through a symlink. */
	snprintf(d, sizeof(d), "%s/locks", tmpdir);
	assert_int_equal(nftg_lockdir_open(d, 0), -1);
	fd = nftg_lockdir_open(d, 1);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	fd = nftg_lockdir_open(d, 1);     /* existing: fine */
	assert_true(fd >= 0);
	close(fd);
	snprintf(l, sizeof(l), "%s/link", tmpdir);
	assert_int_equal(symlink(d, l), 0);
	assert_int_equal(nftg_lockdir_open(l, 0), -1);
	assert_int_equal(nftg_lockdir_open(l, 1), -1);
	/* Writable by others: anyone could plant a free "lock". */
	assert_int_equal(chmod(d, 0777), 0);
	assert_int_equal(nftg_lockdir_open(d, 0), -1);
	assert_int_equal(chmod(d, 0720), 0);
	assert_int_equal(nftg_lockdir_open(d, 0), -1);
	assert_int_equal(chmod(d, 0755), 0);
	fd = nftg_lockdir_open(d, 0);
	assert_true(fd >= 0);
	close(fd);
	/* Not a directory. */
	snprintf(f, sizeof(f), "%s/file", tmpdir);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(nftg_lockdir_open(f, 0), -1);
	assert_int_equal(nftg_lockdir_open(f, 1), -1);
}

/* ------------------------------------------------------ legacy pids */

static void put(const char *dir, const char *pid, const char *status)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, pid);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/status", dir, pid);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(status, f);
	fclose(f);
}

static void test_pid_unused(void **state)
{
	char proc[128], p2[128];

	snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
	assert_int_equal(mkdir(proc, 0755), 0);
	/* No process seen at all proves nothing. */
	assert_int_equal(nftg_pid_unused(proc, 5), 0);
	put(proc, "1", "Name:\tinit\nPid:\t1\nNSpid:\t1\nPPid:\t0\n");
	/* pid 42 here is pid 7 in its own namespace, 3 in a nested one. */
	put(proc, "42", "Name:\tecntrace\nTgid:\t42\nNSpid:\t42\t7\t3\nNSsid:\t1\n");
	put(proc, "420", "Name:\tx\nNSpid:\t420\n");
	assert_int_equal(mkdir(strcat(strcpy(p2, proc), "/self"), 0755), 0);
	assert_int_equal(mkdir(strcat(strcpy(p2, proc), "/sys"), 0755), 0);
	assert_int_equal(nftg_pid_unused(proc, 1), 0);
	assert_int_equal(nftg_pid_unused(proc, 42), 0);
	assert_int_equal(nftg_pid_unused(proc, 7), 0);    /* alive elsewhere */
	assert_int_equal(nftg_pid_unused(proc, 3), 0);
	assert_int_equal(nftg_pid_unused(proc, 420), 0);
	assert_int_equal(nftg_pid_unused(proc, 4), 1);
	assert_int_equal(nftg_pid_unused(proc, 2), 1);    /* no prefix match */
	assert_int_equal(nftg_pid_unused(proc, 4200), 1);
	/* A kernel without NSpid lines cannot tell. */
	put(proc, "43", "Name:\told\nPid:\t43\n");
	assert_int_equal(nftg_pid_unused(proc, 4), 0);
	assert_int_equal(nftg_pid_unused("/nonexistent/proc", 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_name),
		cmocka_unit_test(test_name_kind),
		cmocka_unit_test(test_parse_tables),
		cmocka_unit_test(test_may_reap),
		cmocka_unit_test_setup_teardown(test_lock_life, setup_tmp,
						teardown_tmp),
		cmocka_unit_test_setup_teardown(test_lock_hostile, setup_tmp,
						teardown_tmp),
		cmocka_unit_test_setup_teardown(test_lockdir_trust, setup_tmp,
						teardown_tmp),
		cmocka_unit_test_setup_teardown(test_pid_unused, setup_tmp,
						teardown_tmp),
	};

	return cmocka_run_group_tests_name("nftguard", tests, NULL, NULL);
}
