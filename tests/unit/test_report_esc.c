/*
 * The HTML report's escaping: a page for an empty diagnosis, rendered for
 * a hostile target name, carries the name with its markup as entities and
 * every control and invalid byte as U+FFFD, and no raw control at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "term.h"

static void test_hostile_host(void **state)
{
	/* ESC [ 2 J, BEL, U+009B (C1 CSI), a raw 0x9b, an RLO, 0xff, markup,
	 * and UTF-8 that stays. */
	static const char host[] = "evil\033[2J\007\302\233\233\342\200\256\377"
				   "<b>&'\"caf\303\251";
	static const char want[] = "evil&#xfffd;[2J&#xfffd;&#xfffd;&#xfffd;"
				   "&#xfffd;&#xfffd;&lt;b&gt;&amp;&#39;&quot;"
				   "caf\303\251";
	struct diag_result *r = calloc(1, sizeof(*r));
	char *page = NULL;
	size_t len = 0, seen = 0;
	FILE *f = open_memstream(&page, &len);

	assert_non_null(r);
	assert_non_null(f);
	report_html(f, r, host);
	assert_int_equal(fclose(f), 0);
	/* The name is in the title and the header. */
	for (const char *p = page; (p = strstr(p, want)) != NULL; p++)
		seen++;
	assert_true(seen >= 2);
	/* All of it valid UTF-8, no control but newlines and tabs. */
	assert_int_equal(strlen(page), len);
	for (const char *p = page; *p; ) {
		uint32_t cp;
		int n = utf8_decode(p, &cp);

		assert_true(n > 0);
		assert_true(!cp_is_control(cp) || cp == '\n' || cp == '\t');
		p += n;
	}
	assert_null(strstr(page, "<b>&"));
	free(page);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_host),
	};

	return cmocka_run_group_tests_name("report_esc", tests, NULL, NULL);
}
