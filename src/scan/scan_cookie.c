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

static int validate_tcp(const struct scan_key *key, const struct scan_targets *t,
			uint16_t dport, uint16_t sport_base, int flows,
			const struct pkt_reply *r, struct scan_match *m)
{
	int64_t idx = scan_target_index(t, &r->src);
	int port = r->tcp.dport - sport_base;

	/* Only answers to a SYN: they acknowledge it. */
	if (idx < 0 || r->tcp.sport != dport || port < 0 || port >= 2 * flows ||
	    !(r->tcp.flags & TH_ACK))
		return -1;
	uint32_t base = scan_cookie_base(key, &r->src, r->tcp.dport, dport);

	if (scan_tag_unpack(r->tcp.ack - 1 - base, &m->tag) < 0)
		return -1;
	m->idx = (uint64_t)idx;
	m->port = port;
	m->synack = (r->tcp.flags & (TH_SYN | TH_RST)) == TH_SYN;
	m->icmp = 0;
	m->target = &r->src;
	return 0;
}

static int validate_icmp(const struct scan_key *key, const struct scan_targets *t,
			 uint16_t dport, uint16_t sport_base, int flows,
			 const struct pkt_reply *r, struct scan_match *m)
{
	const struct quote *q = &r->q;

	if (!r->has_quote || q->proto != IPPROTO_TCP || q->l4_len < 8 ||
	    q->dport != dport || !addr_eq(&q->src, &r->dst))
		return -1;
	int port = q->sport - sport_base;
	int64_t idx = scan_target_index(t, &q->dst);

	if (port < 0 || port >= 2 * flows || idx < 0)
		return -1;
	uint32_t base = scan_cookie_base(key, &q->dst, q->sport, dport);

	if (scan_tag_unpack(q->tcp_seq - base, &m->tag) < 0)
		return -1;
	m->idx = (uint64_t)idx;
	m->port = port;
	m->synack = 0;
	m->icmp = 1;
	m->target = &q->dst;
	return 0;
}

int scan_validate(const struct scan_key *key, const struct scan_targets *t,
		  uint16_t dport, uint16_t sport_base, int flows,
		  const struct pkt_reply *r, struct scan_match *m)
{
	if (r->kind == REPLY_TCP)
		return validate_tcp(key, t, dport, sport_base, flows, r, m);
	if (r->kind == REPLY_TIME_EXCEEDED || r->kind == REPLY_UNREACH)
		return validate_icmp(key, t, dport, sport_base, flows, r, m);
	return -1;
}
