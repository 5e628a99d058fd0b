/*
 * libFuzzer target for what the command line and the outside world hand
 * over as text, with no network: the input (up to its first NUL) as an
 * option value for cli_num, cli_secs, cli_rate, ecn_parse, dscp_parse,
 * conn_mode_parse and parse_addr; as a host name for host_name_ok and
 * then client_payload (the HTTP request and TLS ClientHello that carry
 * it); and as a hostile name for term_escape and the JSON writer.
 *
 * Besides the sanitizers' checks, abort when
 *   - a value is accepted out of its range, or does not read back
 *     (ecn_parse(ecn_name(v)) == v, addresses through addr_str, ...);
 *   - a rejection's message is not one line "ecntrace: ...\n" free of
 *     control characters (warnx_ escapes it), or an acceptance prints;
 *   - term_escape's output has a control character or invalid UTF-8 in
 *     it, disagrees with term_fputs or with its own length, or does not
 *     unescape to the input;
 *   - a JSON string is not valid UTF-8 or carries a raw control;
 *   - a host name accepted has a byte a header could be split with, or
 *     client_payload writes past its buffer or miscounts its lengths.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "connect.h"
#include "json.h"
#include "pkt.h"
#include "resolve.h"
#include "term.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checks themselves are not what is explored: no coverage
 * instrumentation for them (it was most of the time spent). */
#define CHECKER __attribute__((no_sanitize("coverage")))

/* stderr (the stdio stream; the sanitizers write to fd 2 themselves)
 * goes into this buffer, checked after every parser. */
static char errbuf[1 << 20];

static void err_start(void)
{
	static int done;

	if (!done) {
		stderr = fmemopen(errbuf, sizeof(errbuf), "w");
		if (stderr == NULL)
			abort();
		done = 1;
	}
	rewind(stderr);
}

/* What was written since err_start: nothing when the value was taken;
 * else one clean line. */
CHECKER static void err_check(int rejected)
{
	long n;

	fflush(stderr);
	n = ftell(stderr);
	if (n < 0)
		abort();
	if (!rejected) {
		if (n != 0)
			abort();
		return;
	}
	if (n < 11 || strncmp(errbuf, "ecntrace: ", 10) != 0 ||
	    errbuf[n - 1] != '\n')
		abort();
	for (long i = 0; i < n - 1; i++) {
		unsigned char c = (unsigned char)errbuf[i];

		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n &&
		    (unsigned char)errbuf[i + 1] < 0xa0))
			abort();
	}
}

CHECKER static int all_digits(const char *s, const char *set)
{
	return s[0] != '\0' && s[strspn(s, set)] == '\0';
}

static void numbers(const char *s)
{
	static const long ranges[][2] = {
		{ 0, 255 }, { -10, 10 }, { -2147483647L - 1, 2147483647L },
	};
	int64_t ns;
	double d;

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		long v = 12345;
		int rc;

		err_start();
		rc = cli_num(s, ranges[i][0], ranges[i][1], "value", &v);
		err_check(rc != 0);
		if (rc != 0 && rc != -1)
			abort();
		if (rc == 0) {
			const char *d0 = s[0] == '-' ? s + 1 : s;

			if (v < ranges[i][0] || v > ranges[i][1])
				abort();
			/* decimal digits, or 0x and hex digits, and a sign */
			if (!all_digits(d0, "0123456789") &&
			    !(d0[0] == '0' && (d0[1] == 'x' || d0[1] == 'X') &&
			      all_digits(d0 + 2, "0123456789abcdefABCDEF")))
				abort();
		} else if (v != 12345) {
			abort();
		}
	}
	err_start();
	ns = -7;
	if (cli_secs(s, 86400, "wait", &ns) == 0) {
		err_check(0);
		if (ns < 1 || ns > 86400000000000LL)
			abort();
	} else {
		err_check(1);
		if (ns != -7)
			abort();
	}
	err_start();
	d = -7;
	if (cli_rate(s, 1e6, "rate", &d) == 0) {
		err_check(0);
		if (!isfinite(d) || d <= 0 || d > 1e6)
			abort();
	} else {
		err_check(1);
		if (d != -7)
			abort();
	}
}

static void names(const char *s)
{
	int e = ecn_parse(s), v = dscp_parse(s), m = conn_mode_parse(s);

	if (e < -1 || e > 3 || (e >= 0 && ecn_parse(ecn_name(e)) != e))
		abort();
	if (v < -1 || v > 63)
		abort();
	if (v >= 0 && dscp_name(v) != NULL && dscp_parse(dscp_name(v)) != v)
		abort();
	if (m < -1 || m >= MODE_COUNT ||
	    (m >= 0 && strcmp(conn_mode_name(m), s) != 0))
		abort();
}

static void addresses(const char *s)
{
	static const int fams[] = { 0, AF_INET, AF_INET6 };

	for (size_t i = 0; i < 3; i++) {
		struct addr a, b;
		char buf[INET6_ADDRSTRLEN];

		if (parse_addr(s, fams[i], &a) != 0)
			continue;
		if ((a.family != AF_INET && a.family != AF_INET6) ||
		    (fams[i] && a.family != fams[i]))
			abort();
		/* What it prints, it reads back as the same address. */
		if (parse_addr(addr_str(&a, buf, sizeof(buf)), a.family, &b) != 0 ||
		    !addr_eq(&a, &b))
			abort();
	}
}

/* Undo term_escape; -1 if out is not something it could have written. */
CHECKER static int unescape(const char *out, char *back, size_t len)
{
	size_t n = 0;

	while (*out) {
		int c;

		if (n + 1 >= len)
			return -1;
		if (out[0] != '\\') {
			back[n++] = *out++;
			continue;
		}
		if (out[1] == '\\') {
			c = '\\';
			out += 2;
		} else if (out[1] == 'x' && out[2] && out[3] &&
			   sscanf(out + 2, "%2x", (unsigned *)&c) == 1) {
			out += 4;
		} else {
			return -1;
		}
		back[n++] = (char)c;
	}
	back[n] = '\0';
	return 0;
}

/* Every character of s valid UTF-8 and none a terminal acts on (and,
 * not only by cp_is_control's word, no C0, DEL or C1 byte pattern). */
CHECKER static void inert(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 &&
						p[1] < 0xa0))
			abort();
	while (*s) {
		uint32_t cp;
		int n = utf8_decode(s, &cp);

		if (n == 0 || cp_is_control(cp))
			abort();
		s += n;
	}
}

static void escaping(const char *s, size_t len)
{
	static char out[TERM_ESC_MAX * 4 + 16], back[TERM_ESC_MAX * 4 + 16],
		small[16];
	size_t n = term_escape(s, out, sizeof(out)), k;
	char *fb = NULL, *jb = NULL;
	size_t fl = 0, jl = 0;
	FILE *f;
	struct json j;

	if (n >= sizeof(out) || strlen(out) != n || n < len || n > 4 * len)
		abort();
	inert(out);
	if (unescape(out, back, sizeof(back)) != 0 || strcmp(back, s) != 0)
		abort();
	/* A small buffer holds a prefix, never half an escape. */
	k = term_escape(s, small, sizeof(small));
	if (k != n || strncmp(small, out, strlen(small)) != 0 ||
	    unescape(small, back, sizeof(back)) != 0 ||
	    strncmp(back, s, strlen(back)) != 0)
		abort();
	inert(small);

	f = open_memstream(&fb, &fl);
	if (f == NULL)
		abort();
	if (term_fputs(s, f) != 0 || fclose(f) != 0 || fl != n ||
	    memcmp(fb, out, n) != 0)
		abort();
	free(fb);

	f = open_memstream(&jb, &jl);
	if (f == NULL)
		abort();
	json_init(&j, f);
	json_str(&j, NULL, s);
	if (fclose(f) != 0 || jl < 2 || jb[0] != '"' || jb[jl - 1] != '"' ||
	    strlen(jb) != jl)
		abort();
	inert(jb);
	free(jb);
}

static void host(const char *s, size_t len)
{
	static uint8_t buf[2048];
	static const uint16_t ports[] = { 80, 443, 8080, 7 };

	if (!host_name_ok(s))
		return;
	if (len == 0 || len > 253 || strpbrk(s, "\r\n \t") != NULL ||
	    (strcmp(TERM_STR(s), s) != 0 && strchr(s, '\\') == NULL))
		abort();
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		/* Room for it, and too little room. */
		for (size_t room = sizeof(buf); room > 8; room /= 5) {
			size_t n;

			memset(buf, 0xee, sizeof(buf));
			n = client_payload(ports[i], s, buf, room);
			/* nothing past the room it had; TLS nothing past n */
			if (n > room || (room < sizeof(buf) && buf[room] != 0xee) ||
			    (ports[i] == 443 && buf[n] != 0xee))
				abort();
			if (n == 0)
				continue;
			if (ports[i] == 443) {
				/* record length, handshake length */
				if (buf[0] != 0x16 ||
				    (size_t)(buf[3] << 8 | buf[4]) != n - 5 ||
				    (size_t)(buf[7] << 8 | buf[8]) != n - 9)
					abort();
			} else if (ports[i] != 7) {
				size_t crlf = 0;

				for (size_t b = 0; b + 1 < n; b++)
					crlf += buf[b] == '\r' && buf[b + 1] == '\n';
				if (crlf != 6 || memcmp(buf, "GET / HTTP/1.1\r\nHost: ", 22))
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t len;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	if (len <= 4096) {
		numbers(s);
		names(s);
		addresses(s);
		escaping(s, len);
		host(s, len);
	}
	free(s);
	return 0;
}
