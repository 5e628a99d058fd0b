/* scan cookies: what a probe's sequence number proves about a reply. */
#include <string.h>

#include "analyze.h"
#include "scan.h"

uint32_t scan_cookie_base(const struct scan_key *key, const struct addr *dst,
			  uint16_t sport, uint16_t dport)
{
	uint8_t b[21];

	memset(b, 0, sizeof(b));
	b[0] = dst->family == AF_INET ? 4 : 6;
	if (dst->family == AF_INET)
		memcpy(b + 1, &dst->u.v4, 4);
	else
		memcpy(b + 1, &dst->u.v6, 16);
	b[17] = (uint8_t)(sport >> 8);
	b[18] = (uint8_t)sport;
	b[19] = (uint8_t)(dport >> 8);
	b[20] = (uint8_t)dport;
	return (uint32_t)an_siphash(key->k, b, sizeof(b));
}

/* ttl 7 bits, codepoint 2, repeat 3: 12 bits; the other 20 of the
 * sequence number are the keyed hash's, which nobody off the path can
 * guess (one forged reply in 2^20 gets through). */
uint32_t scan_tag_pack(const struct scan_tag *t)
{
	return (uint32_t)((t->ttl & 0x7f) << 5 | (t->ecn & 3) << 3 | (t->rep & 7));
}

int scan_tag_unpack(uint32_t v, struct scan_tag *t)
{
	if (v >= 1u << 12)
		return -1;
	t->ttl = v >> 5;
	t->ecn = v >> 3 & 3;
	t->rep = v & 7;
	return 0;
}
