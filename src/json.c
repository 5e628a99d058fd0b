/* Streaming JSON writer. */
#include <math.h>

#include "ecntrace.h"
#include "json.h"

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->count[0] = 0;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
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
