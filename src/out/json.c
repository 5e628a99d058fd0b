/* Streaming JSON writer. */
#include <math.h>
#include <stdint.h>

#include "ecntrace.h"
#include "json.h"
#include "term.h"

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->count[0] = 0;
}

/*
 * A JSON string (RFC 8259 7) from any bytes. Quote, backslash and the
 * controls below 0x20 are escaped as the RFC requires, DEL too. Valid
 * UTF-8 is kept, except that the C1 and bidirectional formatting
 * characters a terminal would act on (cp_is_control(), term.h) and
 * U+2028, U+2029 (line breaks to JavaScript) are written as \uXXXX: the
 * same characters, and a raw document shown on a terminal stays inert.
 * A byte that does not begin a valid UTF-8 sequence (a name from a
 * hostile resolver, a string from a capture) becomes \ufffd, the
 * replacement character, one per byte: the document stays valid UTF-8,
 * which RFC 8259 8.1 requires, at the price of that byte's value.
 */
static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		uint32_t cp;
		int n;

		switch (c) {
		case '"': fputs("\\\"", f); s++; continue;
		case '\\': fputs("\\\\", f); s++; continue;
		case '\n': fputs("\\n", f); s++; continue;
		case '\r': fputs("\\r", f); s++; continue;
		case '\t': fputs("\\t", f); s++; continue;
		default: break;
		}
		n = utf8_decode(s, &cp);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
		} else if (cp_is_control(cp) || cp == 0x2028 || cp == 0x2029) {
			fprintf(f, "\\u%04x", (unsigned)cp);
			s += n;
		} else {
			fwrite(s, 1, (size_t)n, f);
			s += n;
		}
	}
	fputc('"', f);
}

static void member(struct json *j, const char *key)
{
	if (j->count[j->depth]++ > 0)
		fputc(',', j->f);
	if (key != NULL) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open(struct json *j, const char *key, int c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->count[++j->depth] = 0;
}

static void close_(struct json *j, int c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_open_obj(struct json *j, const char *key) { open(j, key, '{'); }
void json_close_obj(struct json *j) { close_(j, '}'); }
void json_open_arr(struct json *j, const char *key) { open(j, key, '['); }
void json_close_arr(struct json *j) { close_(j, ']'); }

void json_str(struct json *j, const char *key, const char *val)
{
	member(j, key);
	if (val == NULL)
		fputs("null", j->f);
	else
		put_string(j->f, val);
}

void json_int(struct json *j, const char *key, long long val)
{
	member(j, key);
	fprintf(j->f, "%lld", val);
}

void json_num(struct json *j, const char *key, double val, int decimals)
{
	member(j, key);
	if (!isfinite(val))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.*f", decimals, val);
}

void json_bool(struct json *j, const char *key, int val)
{
	member(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void json_begin_doc(struct json *j, FILE *f, const char *command)
{
	json_init(j, f);
	json_open_obj(j, NULL);
	json_str(j, "schema", ECNTRACE_SCHEMA);
	json_str(j, "command", command);
}

void json_stats(struct json *j, long long probes_sent, long long path_probes,
		long long duration_ns)
{
	json_open_obj(j, "stats");
	json_int(j, "probes_sent", probes_sent);
	if (path_probes >= 0)
		json_int(j, "path_probes", path_probes);
	json_int(j, "duration_ms", duration_ns / 1000000);
	json_close_obj(j);
}
