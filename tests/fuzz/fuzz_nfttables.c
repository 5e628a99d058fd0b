/*
 * libFuzzer target for the reaper's reading of `nft list tables`:
 * nftg_parse_tables on the input as text, and nftg_name_kind on every
 * name it passes on. Besides the sanitizers' checks, abort when a table
 * handed over is not a line of the input word for word, breaks the
 * grammar the parser promises, or when a name taken for ours does not
 * print back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nftguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *text;
	int calls;
	int lines;
};

static int is_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static int check(const char *family, const char *name, void *arg)
{
	struct ctx *c = arg;
	char line[NFTG_NAME_MAX + 64], back[NFTG_NAME_MAX + 1];
	const char *f, *hit;
	size_t n;
	long pid = -1;

	c->calls++;
	if (!is_word(family, 15) || !is_word(name, NFTG_NAME_MAX))
		abort();
	for (f = family; *f; f++)
		if (!((*f >= 'a' && *f <= 'z') || (*f >= '0' && *f <= '9')))
			abort();
	/* "table FAMILY NAME" is a whole line of the input. */
	n = (size_t)snprintf(line, sizeof(line), "table %s %s", family, name);
	for (hit = c->text; (hit = strstr(hit, line)) != NULL; hit++)
		if ((hit == c->text || hit[-1] == '\n') &&
		    (hit[n] == '\0' || hit[n] == '\n' ||
		     (hit[n] == '\r' && (hit[n + 1] == '\0' || hit[n + 1] == '\n'))))
			break;
	if (hit == NULL)
		abort();
	switch (nftg_name_kind(name, &pid)) {
	case NFTG_LEGACY:
		snprintf(back, sizeof(back), NFTG_PREFIX "%ld", pid);
		if (pid < 1 || strcmp(back, name) != 0)
			abort();
		break;
	case NFTG_OURS:
		n = (size_t)snprintf(back, sizeof(back), NFTG_PREFIX "%ld_", pid);
		if (pid < 1 || strncmp(back, name, n) != 0 ||
		    strlen(name) != n + 16 || strlen(name) >= NFTG_NAME_LEN)
			abort();
		break;
	case NFTG_OTHER:
		if (pid != -1)
			abort();
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	char *text = malloc(size + 1);
	size_t i;
	int calls;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c.text = text;
	c.lines = 1;
	for (i = 0; text[i]; i++)
		c.lines += text[i] == '\n';
	calls = nftg_parse_tables(text, check, &c);
	if (calls != c.calls || calls > c.lines)
		abort();
	free(text);
	return 0;
}
