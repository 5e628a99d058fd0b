/* A small streaming JSON writer: keys and strings escaped, commas placed,
 * nesting bounded. Output writers use it; nothing else prints JSON. */
#ifndef ECNTRACE_JSON_H
#define ECNTRACE_JSON_H

#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];   /* members written at each level */
};

void json_init(struct json *j, FILE *f);
/* key is NULL for array elements and the top-level value. */
void json_open_obj(struct json *j, const char *key);
void json_close_obj(struct json *j);
void json_open_arr(struct json *j, const char *key);
void json_close_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *val); /* NULL -> null */
void json_int(struct json *j, const char *key, long long val);
void json_num(struct json *j, const char *key, double val, int decimals);
void json_bool(struct json *j, const char *key, int val);
void json_null(struct json *j, const char *key);
/* Finish the document with a newline. */
void json_end(struct json *j);

/* What every ecntrace/1 document starts with: the top-level object, its
 * "schema" and its "command". */
void json_begin_doc(struct json *j, FILE *f, const char *command);
/* The "stats" object of a measurement; path_probes < 0 leaves it out. */
void json_stats(struct json *j, long long probes_sent, long long path_probes,
		long long duration_ns);

#endif
