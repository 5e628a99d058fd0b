/*
 * Small helpers of the packet layer: the Internet checksum, ECN and DSCP
 * names, address comparison and formatting.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "pkt.h"

/*
 * RFC 1071 sum of big-endian 16-bit words; an odd last byte is the high
 * half of a word padded with zero. Folding as we go keeps the 32-bit
 * accumulator from overflowing on any length.
 */
uint32_t pkt_sum(const uint8_t *buf, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (i < len)
		sum += (uint32_t)buf[i] << 8;
	return sum;
}

/* Fold the carries back in. The result is the one's complement sum; the
 * checksum field is its complement. */
uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static const char *const ecn_names[4] = { "not-ect", "ect1", "ect0", "ce" };

const char *ecn_name(int ecn)
{
	if (ecn < 0 || ecn > 3)
		return "invalid";
	return ecn_names[ecn];
}

int ecn_parse(const char *s)
{
	static const struct {
		const char *name;
		int ecn;
	} tab[] = {
		{ "not-ect", ECN_NOT_ECT }, { "notect", ECN_NOT_ECT },
		{ "ect0", ECN_ECT0 }, { "ect(0)", ECN_ECT0 },
		{ "ect1", ECN_ECT1 }, { "ect(1)", ECN_ECT1 },
		{ "ce", ECN_CE },
	};
	size_t i;

	if (s == NULL)
		return -1;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(s, tab[i].name) == 0)
			return tab[i].ecn;
	return -1;
}

/*
 * DSCP keywords (RFC 2474 class selectors, RFC 2597 AF, RFC 3246 EF,
 * RFC 5865 VOICE-ADMIT, RFC 8622 LE). "default" and "cs0" are both 0;
 * dscp_name gives the first one listed.
 */
static const struct {
	const char *name;
	int dscp;
} dscp_tab[] = {
	{ "default", 0 }, { "cs0", 0 }, { "le", 1 },
	{ "cs1", 8 }, { "af11", 10 }, { "af12", 12 }, { "af13", 14 },
	{ "cs2", 16 }, { "af21", 18 }, { "af22", 20 }, { "af23", 22 },
	{ "cs3", 24 }, { "af31", 26 }, { "af32", 28 }, { "af33", 30 },
	{ "cs4", 32 }, { "af41", 34 }, { "af42", 36 }, { "af43", 38 },
	{ "cs5", 40 }, { "va", 44 }, { "ef", 46 },
	{ "cs6", 48 }, { "cs7", 56 },
};
#define DSCP_TAB_N (sizeof(dscp_tab) / sizeof(dscp_tab[0]))

int dscp_parse(const char *s)
{
	size_t i;
	int v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (i = 0; i < DSCP_TAB_N; i++)
		if (strcasecmp(s, dscp_tab[i].name) == 0)
			return dscp_tab[i].dscp;
	/* Plain decimal only: no sign, no hex, at most 63. */
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > 63)
			return -1;
	}
	return v;
}

const char *dscp_name(int dscp)
{
	size_t i;

	for (i = 0; i < DSCP_TAB_N; i++)
		if (dscp_tab[i].dscp == dscp)
			return dscp_tab[i].name;
	return NULL;
}

int addr_eq(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return 0;
	switch (a->family) {
	case AF_INET:
		return memcmp(&a->u.v4, &b->u.v4, sizeof(a->u.v4)) == 0;
	case AF_INET6:
		return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
	default:
		return 1;	/* both unset */
	}
}

/* Dotted quad into buf (at least INET_ADDRSTRLEN bytes), as inet_ntop
 * writes it, without its trip through sprintf: analyze prints one or
 * two per connection. */
static void v4_str(const struct in_addr *in, char *buf)
{
	const uint8_t *b = (const uint8_t *)in;
	char *p = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

const char *addr_str(const struct addr *a, char *buf, size_t len)
{
	if (len == 0)
		return "";
	if (a->family == AF_INET && len >= INET_ADDRSTRLEN) {
		v4_str(&a->u.v4, buf);
		return buf;
	}
	if ((a->family == AF_INET || a->family == AF_INET6) &&
	    inet_ntop(a->family, &a->u, buf, (socklen_t)len) != NULL)
		return buf;
	/* Unknown family or buffer too small: never leave it unterminated. */
	buf[0] = '\0';
	if (len >= 2)
		memcpy(buf, "?", 2);
	return buf;
}
