/*
 * Hostile text on the terminal: term_escape, TERM_STR and term_fputs on
 * names a resolver or a capture could hand us, each compared with the
 * whole expected rendering; and the UTF-8 decoder they rest on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term.h"

static const struct {
	const char *name, *in, *want;
} cases[] = {
	{ "plain name", "core1.lab.example", "core1.lab.example" },
	{ "empty", "", "" },
	{ "clear screen", "a\033[2Jb", "a\\x1b[2Jb" },
	{ "window title", "\033]0;pwned\007.example", "\\x1b]0;pwned\\x07.example" },
	{ "bell", "\007", "\\x07" },
	{ "newline, cr, tab", "a\nb\rc\td", "a\\x0ab\\x0dc\\x09d" },
	{ "del", "x\177y", "x\\x7fy" },
	{ "every C0 edge", "\001\037 ~", "\\x01\\x1f ~" },
	{ "raw 0x9b CSI (invalid UTF-8)", "\2332J", "\\x9b2J" },
	{ "C1 CSI as UTF-8 (U+009B)", "\302\2332J", "\\xc2\\x9b2J" },
	{ "C1 U+0080", "\302\200", "\\xc2\\x80" },
	{ "U+00A0 kept", "\302\240", "\302\240" },
	{ "backslash", "a\\b", "a\\\\b" },
	{ "backslash x looks like an escape", "\\x1b", "\\\\x1b" },
	{ "utf-8 kept", "caf\303\251 \342\206\222 \360\237\230\200",
	  "caf\303\251 \342\206\222 \360\237\230\200" },
	{ "right-to-left override", "a\342\200\256b", "a\\xe2\\x80\\xaeb" },
	{ "bidi isolate U+2066", "\342\201\246", "\\xe2\\x81\\xa6" },
	{ "arabic letter mark U+061C", "\330\234", "\\xd8\\x9c" },
	{ "U+2010 kept (next to U+200E..F)", "\342\200\220", "\342\200\220" },
	{ "stray continuation", "\200", "\\x80" },
	{ "lead byte cut short", "a\303", "a\\xc3" },
	{ "lead byte then ascii", "\303a", "\\xc3a" },
	{ "3-byte cut short", "\342\202", "\\xe2\\x82" },
	{ "overlong slash", "\300\257", "\\xc0\\xaf" },
	{ "overlong 3-byte", "\340\200\257", "\\xe0\\x80\\xaf" },
	{ "surrogate", "\355\240\200", "\\xed\\xa0\\x80" },
	{ "beyond U+10FFFF", "\364\220\200\200", "\\xf4\\x90\\x80\\x80" },
	{ "U+10FFFF kept", "\364\217\277\277", "\364\217\277\277" },
	{ "0xff, 0xfe", "\377\376", "\\xff\\xfe" },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		size_t n = term_escape(cases[i].in, out, sizeof(out));

		print_message("# %s\n", cases[i].name);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
		assert_string_equal(TERM_STR(cases[i].in), cases[i].want);
	}
}

/* term_fputs writes what term_escape renders. */
static void test_fputs(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&s, &len);

		assert_non_null(f);
		assert_int_equal(term_fputs(cases[i].in, f), 0);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
}

/* Nothing a terminal acts on survives, whatever the bytes: every byte
 * value alone, and after a lead byte. */
static void test_no_control_survives(void **state)
{
	for (int a = 1; a < 256; a++) {
		for (int b = 0; b < 256; b++) {
			char in[3] = { (char)a, (char)b, 0 }, out[16];

			term_escape(in, out, sizeof(out));
			for (const unsigned char *p = (unsigned char *)out; *p; p++) {
				assert_true(*p >= 0x20 && *p != 0x7f);
				/* 0xc2 0x80-0x9f are C1 controls */
				if (p[0] == 0xc2)
					assert_true(p[1] >= 0xa0);
			}
		}
	}
}

/* A name of 1000 bytes of ESC: 4000 bytes escaped, all of them in
 * TERM_STR's buffer; in a small one, a prefix that never splits an
 * escape, and the length it would have needed. */
static void test_long(void **state)
{
	char name[1001], out[64];
	size_t n;

	memset(name, '\033', 1000);
	name[1000] = '\0';
	assert_int_equal(strlen(TERM_STR(name)), 4000);
	n = term_escape(name, out, sizeof(out));
	assert_int_equal(n, 4000);
	assert_int_equal(strlen(out), 60);     /* 15 escapes of 4 */
	assert_memory_equal(out + 56, "\\x1b", 4);

	memset(name, 'a', 1000);
	n = term_escape(name, out, sizeof(out));
	assert_int_equal(n, 1000);
	assert_int_equal(strlen(out), 63);

	/* A UTF-8 character is not cut either. */
	n = term_escape("ab\303\251", out, 4);
	assert_int_equal(n, 4);
	assert_string_equal(out, "ab");
	n = term_escape("abc", out, 0);
	assert_int_equal(n, 3);
}

static void test_decode(void **state)
{
	uint32_t cp = 0;

	assert_int_equal(utf8_decode("A", &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode("\303\251", &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(utf8_decode("\342\202\254", &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode("\360\237\230\200", &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(utf8_decode("\360\237\230", &cp), 0);   /* cut at NUL */
	assert_int_equal(utf8_decode("\301\201", &cp), 0);       /* overlong A */
	assert_int_equal(utf8_decode("\360\200\200\200", &cp), 0);
	assert_int_equal(utf8_decode("\355\237\277", &cp), 3);   /* U+D7FF */
	assert_int_equal(utf8_decode("\356\200\200", &cp), 3);   /* U+E000 */
	assert_true(cp_is_control(0x1b) && cp_is_control(0x7f) &&
		    cp_is_control(0x9b) && cp_is_control(0x202e));
	assert_false(cp_is_control(' ') || cp_is_control(0xa0) ||
		     cp_is_control(0x2010) || cp_is_control(0x2028));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fputs),
		cmocka_unit_test(test_no_control_survives),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_decode),
	};

	return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
