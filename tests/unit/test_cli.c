/*
 * Option number parsers: cli_num, cli_secs, cli_rate. Table-driven: each
 * accepted input with the exact value it gives, each rejected input with
 * the one line it must print on stderr and an output left untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "resolve.h"
#include "term.h"

/* Run fn with stderr sent to a temporary file; return what it wrote. */
struct capture {
	int saved;
	FILE *tmp;
	char text[2048];
};

static void cap_start(struct capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->tmp), 2) >= 0);
}

static const char *cap_end(struct capture *c)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(c->saved, 2) >= 0);
	close(c->saved);
	rewind(c->tmp);
	n = fread(c->text, 1, sizeof(c->text) - 1, c->tmp);
	c->text[n] = '\0';
	fclose(c->tmp);
	return c->text;
}

/* A rejection prints exactly one line, "ecntrace: ..." naming the input
 * (escaped, as warnx_ writes everything). */
static void assert_one_error_line(const char *err, const char *what,
				  const char *input)
{
	size_t n = strlen(err);

	if (n == 0 || err[n - 1] != '\n' || strchr(err, '\n') != err + n - 1 ||
	    strncmp(err, "ecntrace: ", 10) != 0 || strstr(err, what) == NULL ||
	    strstr(err, TERM_STR(input)) == NULL)
		fail_msg("input '%s': want one line 'ecntrace: ...%s...%s', got '%s'",
			 input, what, input, err);
}

/* ------------------------------------------------------------------ */

struct num_case {
	const char *s;
	long min, max;
	long want;
};

static const struct num_case num_ok[] = {
	{ "0", 0, 255, 0 },
	{ "1", 0, 255, 1 },
	{ "255", 0, 255, 255 },
	{ "80", 1, 65535, 80 },
	{ "65535", 1, 65535, 65535 },
	{ "1048575", 0, 0xfffff, 1048575 },
	{ "0x10", 0, 255, 16 },          /* hex is documented */
	{ "0XfF", 0, 255, 255 },
	{ "0x0", 0, 255, 0 },
	{ "010", 0, 255, 10 },           /* decimal, not octal */
	{ "08", 0, 255, 8 },
	{ "007", 0, 255, 7 },
	{ "-5", -10, 10, -5 },
	{ "-0x5", -10, 10, -5 },
};

struct bad_case {
	const char *s;
	long min, max;
};

static const struct bad_case num_bad[] = {
	{ "", 0, 255 },
	{ "abc", 0, 255 },
	{ "12abc", 0, 255 },
	{ "1 ", 0, 255 },
	{ " 1", 0, 255 },
	{ "\t1", 0, 255 },
	{ "+1", 0, 255 },
	{ "1.5", 0, 255 },
	{ "1e3", 0, 65535 },
	{ "0x", 0, 255 },
	{ "0xg", 0, 255 },
	{ "x10", 0, 255 },
	{ "-", 0, 255 },
	{ "--1", -10, 10 },
	{ "256", 0, 255 },
	{ "-1", 0, 255 },
	{ "0", 1, 65535 },
	{ "65536", 1, 65535 },
	{ "0x100", 0, 255 },
	{ "1048576", 0, 0xfffff },
	{ "99999999999999999999", 0, 255 },
	{ "-99999999999999999999", -10, 10 },
	{ "9223372036854775808", 0, 255 },
};

static void test_num_accepts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(num_ok) / sizeof(num_ok[0]); i++) {
		const struct num_case *c = &num_ok[i];
		struct capture cap;
		long v = 12345;
		int rc;

		cap_start(&cap);
		rc = cli_num(c->s, c->min, c->max, "TOS", &v);
		cap_end(&cap);
		if (rc != 0 || v != c->want || cap.text[0] != '\0')
			fail_msg("cli_num('%s', %ld, %ld): rc %d value %ld stderr '%s', want %ld",
				 c->s, c->min, c->max, rc, v, cap.text, c->want);
	}
}

static void test_num_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(num_bad) / sizeof(num_bad[0]); i++) {
		const struct bad_case *c = &num_bad[i];
		struct capture cap;
		long v = 12345;
		int rc;

		cap_start(&cap);
		rc = cli_num(c->s, c->min, c->max, "first TTL", &v);
		cap_end(&cap);
		if (rc != -1 || v != 12345)
			fail_msg("cli_num('%s', %ld, %ld) accepted it: rc %d value %ld",
				 c->s, c->min, c->max, rc, v);
		assert_one_error_line(cap.text, "first TTL", c->s);
	}
}

/* The message says why: out of range names the range. */
static void test_num_messages(void **state)
{
	struct capture cap;
	long v;

	(void)state;
	cap_start(&cap);
	assert_int_equal(cli_num("256", 0, 255, "TOS", &v), -1);
	assert_string_equal(cap_end(&cap), "ecntrace: TOS 256 out of range (0-255)\n");
	cap_start(&cap);
	assert_int_equal(cli_num("8x", 0, 255, "TOS", &v), -1);
	assert_string_equal(cap_end(&cap), "ecntrace: invalid TOS '8x'\n");
	cap_start(&cap);
	assert_int_equal(cli_num("", 1, 65535, "port", &v), -1);
	assert_string_equal(cap_end(&cap), "ecntrace: invalid port ''\n");
}

/* ------------------------------------------------------------------ */

struct secs_case {
	const char *s;
	double max;
	int64_t want;
};

static const struct secs_case secs_ok[] = {
	{ "1", 60, 1000000000LL },
	{ "3", 60, 3000000000LL },
	{ "60", 60, 60000000000LL },
	{ "0.5", 60, 500000000LL },
	{ ".25", 60, 250000000LL },
	{ "2.", 60, 2000000000LL },
	{ "2.01", 60, 2010000000LL },    /* rounded, not truncated */
	{ "0.000000001", 60, 1 },
	{ "1e-3", 60, 1000000LL },
	{ "1.5E1", 60, 15000000000LL },
	{ "59.999", 60, 59999000000LL },
};

static const char *const secs_bad[] = {   /* with max 60 */
	"",
	"0",
	"0.0",
	"-1",
	"60.001",
	"61",
	"1e400",
	"1e-12", /* rounds to no time at all */
	"abc",
	"1s",
	"1 ",
	" 1",
	"1,5",
	"inf",
	"nan",
	"0x10", /* decimal only */
	"0x1p-2",
	".",
	"e3",
};

static void test_secs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(secs_ok) / sizeof(secs_ok[0]); i++) {
		const struct secs_case *c = &secs_ok[i];
		struct capture cap;
		int64_t ns = -7;
		int rc;

		cap_start(&cap);
		rc = cli_secs(c->s, c->max, "wait", &ns);
		cap_end(&cap);
		if (rc != 0 || ns != c->want || cap.text[0] != '\0')
			fail_msg("cli_secs('%s'): rc %d ns %lld stderr '%s', want %lld",
				 c->s, rc, (long long)ns, cap.text,
				 (long long)c->want);
	}
	for (size_t i = 0; i < sizeof(secs_bad) / sizeof(secs_bad[0]); i++) {
		struct capture cap;
		int64_t ns = -7;
		int rc;

		cap_start(&cap);
		rc = cli_secs(secs_bad[i], 60, "wait", &ns);
		cap_end(&cap);
		if (rc != -1 || ns != -7)
			fail_msg("cli_secs('%s') accepted it: rc %d ns %lld",
				 secs_bad[i], rc, (long long)ns);
		assert_one_error_line(cap.text, "wait", secs_bad[i]);
	}
}

/* ------------------------------------------------------------------ */

struct rate_case {
	const char *s;
	double want;
};

static const struct rate_case rate_ok[] = {
	{ "1", 1.0 },
	{ "200", 200.0 },
	{ "100000", 100000.0 },
	{ "0.5", 0.5 },
	{ "2.5e3", 2500.0 },
	{ "0.001", 0.001 },
};

static const char *const rate_bad[] = {
	"", "0", "-5", "100000.5", "1e6", "fast", "10pps", " 10", "10 ",
	"inf", "-inf", "nan", "0x20", "1e-400",
};

static void test_rate(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rate_ok) / sizeof(rate_ok[0]); i++) {
		struct capture cap;
		double v = -7;
		int rc;

		cap_start(&cap);
		rc = cli_rate(rate_ok[i].s, 100000, "rate", &v);
		cap_end(&cap);
		if (rc != 0 || v != rate_ok[i].want || cap.text[0] != '\0')
			fail_msg("cli_rate('%s'): rc %d value %g stderr '%s', want %g",
				 rate_ok[i].s, rc, v, cap.text, rate_ok[i].want);
	}
	for (size_t i = 0; i < sizeof(rate_bad) / sizeof(rate_bad[0]); i++) {
		struct capture cap;
		double v = -7;
		int rc;

		cap_start(&cap);
		rc = cli_rate(rate_bad[i], 100000, "rate", &v);
		cap_end(&cap);
		if (rc != -1 || v != -7)
			fail_msg("cli_rate('%s') accepted it: rc %d value %g",
				 rate_bad[i], rc, v);
		assert_one_error_line(cap.text, "rate", rate_bad[i]);
	}
}

/* An option's value reaches the terminal escaped: no ESC, BEL or raw
 * 0x9b in the message, the \xNN form instead; a long one whole. */
static void test_hostile_value(void **state)
{
	static const struct {
		const char *in, *shown;
	} v[] = {
		{ "\033[2J", "'\\x1b[2J'" },
		{ "\033]0;pwned\007", "'\\x1b]0;pwned\\x07'" },
		{ "\2332J", "'\\x9b2J'" },
		{ "1\\n", "'1\\\\n'" },
	};
	char big[1001];
	struct capture cap;
	long n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		cap_start(&cap);
		assert_int_equal(cli_num(v[i].in, 0, 255, "count", &n), -1);
		cap_end(&cap);
		assert_one_error_line(cap.text, "count", v[i].in);
		assert_non_null(strstr(cap.text, v[i].shown));
		for (const unsigned char *p = (unsigned char *)cap.text; *p; p++)
			assert_true((*p >= 0x20 && *p < 0x7f) || *p == '\n');
	}
	/* Longer than warnx_'s first buffer: all of it, on one line. */
	memset(big, 'x', 1000);
	big[1000] = '\0';
	cap_start(&cap);
	warnx_("%s%s", big, "\033end");
	cap_end(&cap);
	assert_int_equal(strlen(cap.text), 10 + 1000 + 7 + 1);
	assert_string_equal(cap.text + 1010, "\\x1bend\n");
}

/* What resolve_target accepts before it resolves anything. */
static void test_host_name_ok(void **state)
{
	static const char *const ok[] = {
		"example.com", "a", "198.51.100.1", "2001:db8::1",
		"fe80::1%eth0", "under_score.example", "xn--caf-dma.example",
	};
	static const char *const bad[] = {
		"", " ", "a b", "a\tb", "a\nb", "a\033[2Jb", "\033]0;x\007",
		"a\177", "caf\303\251.example", "\233", "a\r\nHost: evil",
	};
	char name[300];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!host_name_ok(ok[i]))
			fail_msg("'%s' rejected", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (host_name_ok(bad[i]))
			fail_msg("'%s' accepted", TERM_STR(bad[i]));
	memset(name, 'a', sizeof(name));
	name[253] = '\0';
	assert_true(host_name_ok(name));
	name[253] = 'a';
	name[254] = '\0';
	assert_false(host_name_ok(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_accepts),
		cmocka_unit_test(test_num_rejects),
		cmocka_unit_test(test_num_messages),
		cmocka_unit_test(test_secs),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_hostile_value),
		cmocka_unit_test(test_host_name_ok),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
