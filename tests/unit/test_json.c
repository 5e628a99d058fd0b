/*
 * The JSON writer: every test renders into memory and compares the whole
 * document with a golden string.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct buf {
	char *s;
	size_t n;
	FILE *f;
};

static void buf_open(struct buf *b, struct json *j)
{
	b->s = NULL;
	b->n = 0;
	b->f = open_memstream(&b->s, &b->n);
	assert_non_null(b->f);
	json_init(j, b->f);
}

/* Close the stream and compare everything written with want. */
static void buf_check(struct buf *b, const char *want)
{
	assert_int_equal(fclose(b->f), 0);
	assert_string_equal(b->s, want);
	assert_int_equal(b->n, strlen(want));
	free(b->s);
}

static void test_empty_containers(void **state)
{
	struct json j;
	struct buf b;

	(void)state;
	buf_open(&b, &j);
	json_open_obj(&j, NULL);
	json_close_obj(&j);
	json_end(&j);
	buf_check(&b, "{}\n");

	buf_open(&b, &j);
	json_open_arr(&j, NULL);
	json_close_arr(&j);
	json_end(&j);
	buf_check(&b, "[]\n");
}

static void test_nested(void **state)
{
	struct json j;
	struct buf b;

	(void)state;
	buf_open(&b, &j);
	json_open_obj(&j, NULL);
	json_str(&j, "schema", "ecntrace/1");
	json_int(&j, "n", 3);
	json_open_arr(&j, "hops");
	json_open_obj(&j, NULL);
	json_int(&j, "ttl", 1);
	json_null(&j, "addr");
	json_open_arr(&j, "rtt_ms");
	json_close_arr(&j);
	json_close_obj(&j);
	json_open_obj(&j, NULL);
	json_int(&j, "ttl", 2);
	json_str(&j, "addr", "192.0.2.1");
	json_open_arr(&j, "rtt_ms");
	json_num(&j, NULL, 0.25, 3);
	json_num(&j, NULL, 1.5, 3);
	json_close_arr(&j);
	json_open_obj(&j, "empty");
	json_close_obj(&j);
	json_close_obj(&j);
	json_close_arr(&j);
	json_bool(&j, "reached", 1);
	json_bool(&j, "bleached", 0);
	json_open_arr(&j, "matrix");
	json_open_arr(&j, NULL);
	json_int(&j, NULL, 1);
	json_int(&j, NULL, 2);
	json_close_arr(&j);
	json_open_arr(&j, NULL);
	json_close_arr(&j);
	json_open_arr(&j, NULL);
	json_null(&j, NULL);
	json_str(&j, NULL, NULL);
	json_bool(&j, NULL, 7);
	json_close_arr(&j);
	json_close_arr(&j);
	json_open_obj(&j, "stats");
	json_int(&j, "probes_sent", 90);
	json_close_obj(&j);
	json_close_obj(&j);
	json_end(&j);
	buf_check(&b,
		  "{\"schema\":\"ecntrace/1\",\"n\":3,\"hops\":["
		  "{\"ttl\":1,\"addr\":null,\"rtt_ms\":[]},"
		  "{\"ttl\":2,\"addr\":\"192.0.2.1\",\"rtt_ms\":[0.250,1.500],"
		  "\"empty\":{}}],"
		  "\"reached\":true,\"bleached\":false,"
		  "\"matrix\":[[1,2],[],[null,null,true]],"
		  "\"stats\":{\"probes_sent\":90}}\n");
}

/* Deep nesting up to the documented bound keeps commas right at every
 * level on the way back out. */
static void test_deep(void **state)
{
	char want[256];
	size_t n = 0;
	struct json j;
	struct buf b;
	const int levels = JSON_MAX_DEPTH - 1;

	(void)state;
	buf_open(&b, &j);
	for (int i = 0; i < levels; i++) {
		json_open_arr(&j, NULL);
		json_int(&j, NULL, i);
		want[n++] = '[';
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%d,", i);
	}
	for (int i = 0; i < levels; i++) {
		json_int(&j, NULL, 100 + i);
		json_close_arr(&j);
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%d]%s",
				      100 + i, i + 1 < levels ? "," : "");
	}
	want[n] = '\0';
	json_end(&j);
	strcat(want, "\n");
	buf_check(&b, want);
	/* the template above must have made "[0,[1,...[14,100],101],...,114]" */
	assert_non_null(strstr(want, "[0,[1,"));
	assert_non_null(strstr(want, "[14,100],101]"));
	assert_non_null(strstr(want, ",113],114]\n"));
}

static void test_escaping(void **state)
{
	struct json j;
	struct buf b;

	(void)state;
	buf_open(&b, &j);
	json_open_obj(&j, NULL);
	json_str(&j, "quote", "say \"hi\"");
	json_str(&j, "backslash", "C:\\dir\\");
	json_str(&j, "ws", "a\nb\rc\td");
	json_str(&j, "ctl", "\x01\x08\x0c\x1f\x7f.");
	json_str(&j, "slash", "a/b");
	json_str(&j, "utf8", "caf\xc3\xa9 \xe2\x86\x92");
	json_str(&j, "empty", "");
	json_str(&j, "none", NULL);
	json_str(&j, "k\"e\\y\n", "v");
	json_close_obj(&j);
	json_end(&j);
	buf_check(&b,
		  "{\"quote\":\"say \\\"hi\\\"\","
		  "\"backslash\":\"C:\\\\dir\\\\\","
		  "\"ws\":\"a\\nb\\rc\\td\","
		  "\"ctl\":\"\\u0001\\u0008\\u000c\\u001f\\u007f.\","
		  "\"slash\":\"a/b\","
		  "\"utf8\":\"caf\xc3\xa9 \xe2\x86\x92\","
		  "\"empty\":\"\","
		  "\"none\":null,"
		  "\"k\\\"e\\\\y\\n\":\"v\"}\n");
}

/* Every control character 0x00-0x1f is escaped; nothing printable is. */
static void test_every_control_char(void **state)
{
	char in[0x80], want[0x80 * 6 + 3], *w = want;
	struct json j;
	struct buf b;

	(void)state;
	for (int c = 1; c < 0x80; c++)
		in[c - 1] = (char)c;
	in[0x7f] = '\0';
	*w++ = '"';
	for (int c = 1; c < 0x80; c++) {
		if (c == '"' || c == '\\') {
			*w++ = '\\';
			*w++ = (char)c;
		} else if (c == '\n') {
			w += sprintf(w, "\\n");
		} else if (c == '\r') {
			w += sprintf(w, "\\r");
		} else if (c == '\t') {
			w += sprintf(w, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			w += sprintf(w, "\\u%04x", c);
		} else {
			*w++ = (char)c;
		}
	}
	*w++ = '"';
	*w++ = '\n';
	*w = '\0';
	buf_open(&b, &j);
	json_str(&j, NULL, in);
	json_end(&j);
	buf_check(&b, want);
}

static void test_numbers(void **state)
{
	struct json j;
	struct buf b;

	(void)state;
	buf_open(&b, &j);
	json_open_arr(&j, NULL);
	json_num(&j, NULL, NAN, 3);
	json_num(&j, NULL, INFINITY, 3);
	json_num(&j, NULL, -INFINITY, 0);
	json_num(&j, NULL, 1.23456, 3);
	json_num(&j, NULL, 2.5, 0);
	json_num(&j, NULL, -0.125, 2);
	json_num(&j, NULL, 42, 1);
	json_num(&j, NULL, 1e6, 3);
	json_int(&j, NULL, 0);
	json_int(&j, NULL, -1);
	json_int(&j, NULL, LLONG_MAX);
	json_int(&j, NULL, LLONG_MIN);
	json_close_arr(&j);
	json_end(&j);
	/* printf rounds half to even: 2.5 -> "2", -0.125 -> "-0.12" */
	buf_check(&b,
		  "[null,null,null,1.235,2,-0.12,42.0,1000000.000,0,-1,"
		  "9223372036854775807,-9223372036854775808]\n");

	buf_open(&b, &j);
	json_open_obj(&j, NULL);
	json_num(&j, "rtt", NAN, 3);
	json_num(&j, "loss", 0.5, 2);
	json_close_obj(&j);
	json_end(&j);
	buf_check(&b, "{\"rtt\":null,\"loss\":0.50}\n");
}

/* Scalars at the top level and a fresh writer on the same stream: each
 * document stands alone, one per line. */
static void test_top_level(void **state)
{
	struct json j;
	struct buf b;

	(void)state;
	buf_open(&b, &j);
	json_str(&j, NULL, "x");
	json_end(&j);
	json_init(&j, b.f);
	json_int(&j, NULL, 7);
	json_end(&j);
	json_init(&j, b.f);
	json_null(&j, NULL);
	json_end(&j);
	buf_check(&b, "\"x\"\n7\nnull\n");
}

/* Hostile names (from a resolver, from a capture), each as a whole
 * document: controls as \u00XX, C1 and bidirectional controls and the
 * JavaScript line breaks as \uXXXX (the same characters), valid UTF-8 as
 * it is, every byte that is not valid UTF-8 as \ufffd. */
static const struct {
	const char *in, *want;
} hostile[] = {
	{ "a\033[2Jb", "\"a\\u001b[2Jb\"" },
	{ "\033]0;pwned\007", "\"\\u001b]0;pwned\\u0007\"" },
	{ "\2332J", "\"\\ufffd2J\"" },                      /* raw 0x9b */
	{ "\302\2332J", "\"\\u009b2J\"" },                  /* U+009B */
	{ "a\342\200\256b", "\"a\\u202eb\"" },              /* RLO */
	{ "\342\200\250\342\200\251", "\"\\u2028\\u2029\"" },
	{ "caf\303\251 \360\237\230\200", "\"caf\303\251 \360\237\230\200\"" },
	{ "\303", "\"\\ufffd\"" },                          /* cut short */
	{ "\300\257", "\"\\ufffd\\ufffd\"" },               /* overlong '/' */
	{ "\355\240\200", "\"\\ufffd\\ufffd\\ufffd\"" },    /* surrogate */
	{ "\364\220\200\200x", "\"\\ufffd\\ufffd\\ufffd\\ufffdx\"" },
	{ "\377", "\"\\ufffd\"" },
	{ "a\\b\"", "\"a\\\\b\\\"\"" },
};

static void test_hostile_strings(void **state)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct json j;
		struct buf b;
		char want[128];

		buf_open(&b, &j);
		json_str(&j, NULL, hostile[i].in);
		json_end(&j);
		snprintf(want, sizeof(want), "%s\n", hostile[i].want);
		buf_check(&b, want);
	}
}

/* A name of 1000 bytes, a control each, escaped whole. */
static void test_long_hostile(void **state)
{
	char name[1001], *want = malloc(6 * 1000 + 4);
	struct json j;
	struct buf b;
	size_t n = 0;

	assert_non_null(want);
	memset(name, '\033', 1000);
	name[1000] = '\0';
	want[n++] = '"';
	for (int i = 0; i < 1000; i++, n += 6)
		memcpy(want + n, "\\u001b", 6);
	memcpy(want + n, "\"\n", 3);
	buf_open(&b, &j);
	json_str(&j, NULL, name);
	json_end(&j);
	buf_check(&b, want);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_containers),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_every_control_char),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_long_hostile),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_top_level),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
