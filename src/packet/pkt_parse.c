/*
 * Parse received packets: the outer IP header, ICMP / ICMPv6 errors with
 * the packet they quote and their RFC 4884 extensions, echo replies, and
 * TCP segments with their options.
 *
 * Every read is checked against the bytes we have. Multi-byte fields are
 * assembled byte by byte, so no pointer into the buffer is ever cast.
 * The outer packet must be whole, or, through pkt_parse_cut(), be known
 * to be cut (the receive buffer was shorter than the packet): then its
 * headers are parsed as far as they fit and it is flagged, never taken as
 * whole. A quote may be cut anywhere after its fixed IP header, and we
 * keep what is there.
 */
#include <string.h>
#include <sys/socket.h>

#include "pkt.h"

/* IPv6 extension headers we walk, and the most we walk through. */
#define NH_HOPOPTS 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_AH 51
#define NH_DSTOPTS 60
#define MAX_EXTHDRS 8

/* RFC 4884 section 5: an extension-unaware length of the quote. */
#define ICMP_EXT_ORIG_LEN 128

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | get24(p + 1);
}

/* What ip_parse finds in an IPv4 or IPv6 header. */
struct iph {
	struct addr src, dst;
	uint8_t tos, ttl, proto;
	uint16_t id, ip_len;
	uint32_t flowlabel;
	size_t total;		/* the packet's length, from its header */
	size_t len;		/* bytes of this packet we may use */
	size_t hl;		/* offset of the transport header */
	int later_frag;		/* not the first fragment: no transport header */
	int frag;		/* IPv6: a Fragment header, identification frag_id */
	uint32_t frag_id;
	int cut;		/* extension headers run past the bytes we have */
};

/*
 * Parse the IP header at b (len bytes), version from the first nibble.
 * Outer packets (strict) must be as long as their length field says (wire
 * bytes were received, of which len are in b) and are trimmed to it
 * (link-layer padding). A length field of 0 on a packet longer than 64 KiB
 * is a GRO packet past the field's reach (BIG TCP): the wire length is its
 * length. A quote may be shorter than its length field; if the length
 * field is plausible it trims the quote (RFC 4884 pads the quote with
 * zeros to 128 bytes).
 * Returns -1 unless the fixed header is whole and sane.
 */
static int ip_parse(const uint8_t *b, size_t len, size_t wire, int strict,
    struct iph *h)
{
	size_t off, total;
	uint8_t nh;
	int n;

	memset(h, 0, sizeof(*h));
	if (len < 1)
		return -1;
	switch (b[0] >> 4) {
	case 4:
		if (len < 20)
			return -1;
		h->hl = (size_t)(b[0] & 0x0f) * 4;
		if (h->hl < 20 || h->hl > len)
			return -1;
		h->ip_len = get16(b + 2);
		h->total = h->ip_len;
		if (strict && h->total == 0 && wire > 0xffff)
			h->total = wire;
		if (strict && (h->total < h->hl || h->total > wire))
			return -1;
		h->len = len;
		if (h->total >= h->hl && h->total < len)
			h->len = h->total;
		h->tos = b[1];
		h->id = get16(b + 4);
		h->later_frag = (get16(b + 6) & 0x1fff) != 0;
		h->ttl = b[8];
		h->proto = b[9];
		h->src.family = h->dst.family = AF_INET;
		memcpy(&h->src.u.v4, b + 12, 4);
		memcpy(&h->dst.u.v4, b + 16, 4);
		return 0;
	case 6:
		if (len < 40)
			return -1;
		total = (size_t)get16(b + 4) + 40;
		if (strict && total == 40 && wire > 0xffff + 40)
			total = wire;
		if (strict && total > wire)
			return -1;
		h->total = total;
		h->ip_len = total > 0xffff ? 0xffff : (uint16_t)total;
		h->len = total < len ? total : len;
		h->tos = (uint8_t)(get32(b) >> 20);
		h->flowlabel = get32(b) & 0xfffff;
		h->ttl = b[7];
		h->src.family = h->dst.family = AF_INET6;
		memcpy(&h->src.u.v6, b + 8, 16);
		memcpy(&h->dst.u.v6, b + 24, 16);
		break;
	default:
		return -1;
	}

	/* IPv6: walk the extension headers to the transport header. */
	nh = b[6];
	off = 40;
	for (n = 0; !h->later_frag; n++) {
		size_t el;

		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_DSTOPTS &&
		    nh != NH_FRAGMENT && nh != NH_AH)
			break;
		if (n == MAX_EXTHDRS || h->len - off < 8) {
			h->cut = 1;
			break;
		}
		if (nh == NH_FRAGMENT) {
			el = 8;
			h->later_frag = (get16(b + off + 2) & 0xfff8) != 0;
			h->frag = 1;
			h->frag_id = get32(b + off + 4);
		} else if (nh == NH_AH) {
			el = ((size_t)b[off + 1] + 2) * 4;
		} else {
			el = ((size_t)b[off + 1] + 1) * 8;
		}
		if (h->len - off < el) {
			h->cut = 1;
			break;
		}
		nh = b[off];
		off += el;
	}
	h->proto = nh;
	h->hl = off;
	return 0;
}

/* RFC 4950: one MPLS label stack entry per 32-bit word. */
static void mpls_parse(const uint8_t *p, size_t n, struct pkt_reply *r)
{
	size_t i;
	uint32_t w;

	for (i = 0; i + 4 <= n && r->n_mpls < PKT_MAX_MPLS; i += 4) {
		w = get32(p + i);
		r->mpls[r->n_mpls].label = w >> 12;
		r->mpls[r->n_mpls].tc = (w >> 9) & 7;
		r->mpls[r->n_mpls].s = (w >> 8) & 1;
		r->mpls[r->n_mpls].ttl = w & 0xff;
		r->n_mpls++;
	}
}

/*
 * RFC 4884 extension structure: a 4-byte header (version 2, checksum over
 * the whole structure, 0 meaning none) and objects of (length, class,
 * c-type). A bad object ends the walk; what came before stays.
 * Returns -1, touching nothing, if this is not an extension structure
 * (need_cksum: also unless it carries a checksum that verifies).
 */
static int ext_parse(const uint8_t *e, size_t n, int need_cksum,
    struct pkt_reply *r)
{
	size_t off, olen;
	uint16_t ck;

	if (n < 4 || e[0] >> 4 != 2)
		return -1;
	ck = get16(e + 2);
	if (ck == 0 && need_cksum)
		return -1;
	if (ck != 0 && pkt_fold(pkt_sum(e, n, 0)) != 0xffff)
		return -1;
	r->has_ext = 1;
	for (off = 4; n - off >= 4; off += olen) {
		olen = get16(e + off);
		if (olen < 4 || olen > n - off)
			break;
		if (e[off + 2] == 1 && e[off + 3] == 1)	/* MPLS stack */
			mpls_parse(e + off + 4, olen - 4, r);
	}
	return 0;
}

/* The packet quoted in an ICMP error: header must be whole, the rest is
 * taken as far as it goes. */
static void quote_parse(const uint8_t *d, size_t n, int af,
    struct pkt_reply *r)
{
	struct quote *q = &r->q;
	struct iph h;
	const uint8_t *l4;
	size_t l4n;

	if (ip_parse(d, n, n, 0, &h) < 0 || h.src.family != af)
		return;
	q->src = h.src;
	q->dst = h.dst;
	q->tos = h.tos;
	q->ttl = h.ttl;
	q->ip_id = h.id;
	q->flowlabel = h.flowlabel;
	q->frag = h.frag;
	q->frag_id = h.frag_id;
	q->ip_len = h.ip_len;
	q->proto = h.proto;
	q->quoted_len = h.len;
	l4 = d + h.hl;
	l4n = h.cut || h.later_frag ? 0 : h.len - h.hl;
	q->l4_len = l4n;
	q->l4_head_len = l4n < PKT_QUOTE_HEAD ? l4n : PKT_QUOTE_HEAD;
	memcpy(q->l4_head, l4, q->l4_head_len);
	r->has_quote = 1;

	switch (h.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (l4n >= 2)
			q->sport = get16(l4);
		if (l4n >= 4)
			q->dport = get16(l4 + 2);
		if (l4n >= 8 && h.proto == IPPROTO_TCP)
			q->tcp_seq = get32(l4 + 4);
		if (l4n >= 8 && h.proto == IPPROTO_UDP)
			q->udp_checksum = get16(l4 + 6);
		if (l4n >= 14 && h.proto == IPPROTO_TCP)
			q->tcp_flags = (uint16_t)(l4[13] | (l4[12] & 1) << 8);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((h.proto == IPPROTO_ICMP) != (af == AF_INET))
			break;
		if (l4n >= 1)
			q->icmp_type = l4[0];
		if (l4n >= 4)
			q->icmp_checksum = get16(l4 + 2);
		if (l4n >= 6)
			q->icmp_id = get16(l4 + 4);
		if (l4n >= 8)
			q->icmp_seq = get16(l4 + 6);
		break;
	}
}

/*
 * The body of an ICMP error after its 8-byte header: the original
 * datagram, then perhaps RFC 4884 extensions. orig_len is the length the
 * message's length field gives (0: none given, or the type has none).
 */
static void error_body(const uint8_t *d, size_t n, size_t orig_len, int af,
    struct pkt_reply *r)
{
	size_t qlen = n;

	if (orig_len > 0) {
		/* A length that does not fit, or is not followed by a valid
		 * structure, is some other use of the byte: ignore it. */
		if (orig_len < n && ext_parse(d + orig_len, n - orig_len, 0,
		    r) == 0)
			qlen = orig_len;
	} else if (n >= ICMP_EXT_ORIG_LEN + 8 &&
	    ext_parse(d + ICMP_EXT_ORIG_LEN, n - ICMP_EXT_ORIG_LEN, 1,
	    r) == 0) {
		/* RFC 4884 section 5: old implementations put extensions
		 * after exactly 128 bytes and no length. Only believed with
		 * a checksum that verifies, so a long quote is never cut. */
		qlen = ICMP_EXT_ORIG_LEN;
	}
	quote_parse(d, qlen, af, r);
}

static int icmp_parse(const uint8_t *b, size_t n, int af,
    struct pkt_reply *r)
{
	size_t orig_len = 0;

	if (n < 8)
		return -1;
	r->icmp_type = b[0];
	r->icmp_code = b[1];
	if (af == AF_INET) {
		switch (b[0]) {
		case 0:
			r->kind = REPLY_ECHO_REPLY;
			goto echo;
		case 3:
			r->kind = REPLY_UNREACH;
			if (b[1] == 4)	/* fragmentation needed */
				r->mtu = get16(b + 6);
			break;
		case 11:
			r->kind = REPLY_TIME_EXCEEDED;
			break;
		case 12:	/* parameter problem: quotes, no kind of its own */
			break;
		default:
			return 0;
		}
		orig_len = (size_t)b[5] * 4;
	} else {
		switch (b[0]) {
		case 129:
			r->kind = REPLY_ECHO_REPLY;
			goto echo;
		case 1:
			r->kind = REPLY_UNREACH;
			orig_len = (size_t)b[4] * 8;
			break;
		case 2:
			r->kind = REPLY_PKT_TOO_BIG;
			r->mtu = get32(b + 4);
			break;
		case 3:
			r->kind = REPLY_TIME_EXCEEDED;
			orig_len = (size_t)b[4] * 8;
			break;
		case 4:		/* parameter problem */
			break;
		default:
			return 0;
		}
	}
	error_body(b + 8, n - 8, orig_len, af, r);
	return 0;
echo:
	r->icmp_id = get16(b + 4);
	r->icmp_seq = get16(b + 6);
	return 0;
}

/* A UDP datagram: n bytes of it here, wire bytes on the wire (more when
 * cut). The length field must fit the packet; the payload is kept as far
 * as we have it, at most PKT_UDP_KEEP bytes. */
static int udp_parse(const uint8_t *b, size_t n, size_t wire,
    struct pkt_reply *r)
{
	size_t ulen;

	if (n < 8)
		return -1;
	ulen = get16(b + 4);
	if (ulen < 8 || ulen > wire)
		return -1;
	r->udp.sport = get16(b);
	r->udp.dport = get16(b + 2);
	r->udp.len = ulen - 8;
	r->udp.kept = (ulen < n ? ulen : n) - 8;
	if (r->udp.kept > PKT_UDP_KEEP)
		r->udp.kept = PKT_UDP_KEEP;
	memcpy(r->udp.data, b + 8, r->udp.kept);
	r->kind = REPLY_UDP;
	return 0;
}

int pkt_parse(const uint8_t *buf, size_t len, struct pkt_reply *r)
{
	return pkt_parse_cut(buf, len, len, r);
}

int pkt_parse_cut(const uint8_t *buf, size_t len, size_t wire,
    struct pkt_reply *r)
{
	struct iph h;
	int af;

	memset(r, 0, sizeof(*r));
	if (wire < len)
		wire = len;
	if (ip_parse(buf, len, wire, 1, &h) < 0 || h.cut)
		return -1;
	af = h.src.family;
	r->wire_len = h.total;
	r->truncated = h.total > len;
	r->src = h.src;
	r->dst = h.dst;
	r->ttl = h.ttl;
	r->tos = h.tos;
	r->ip_id = h.id;
	r->flowlabel = h.flowlabel;
	r->proto = h.proto;
	r->kind = REPLY_OTHER;
	if (h.later_frag)
		return 0;

	switch (h.proto) {
	case IPPROTO_TCP:
		if (pkt_parse_tcp(buf + h.hl, h.len - h.hl, &r->tcp) < 0)
			return -1;
		/* Cut: the header is whole, the payload as long as the
		 * packet says, though we do not have it. */
		if (r->truncated)
			r->tcp.payload_len = h.total - h.hl - r->tcp.data_off;
		r->kind = REPLY_TCP;
		return 0;
	case IPPROTO_UDP:
		return udp_parse(buf + h.hl, h.len - h.hl, h.total - h.hl, r);
	case IPPROTO_ICMP:
		if (af != AF_INET)
			return 0;
		return icmp_parse(buf + h.hl, h.len - h.hl, af, r);
	case IPPROTO_ICMPV6:
		if (af != AF_INET6)
			return 0;
		return icmp_parse(buf + h.hl, h.len - h.hl, af, r);
	default:
		return 0;
	}
}

int pkt_parse_tcp(const uint8_t *b, size_t len, struct tcp_seg *t)
{
	size_t i, olen, doff;
	uint8_t kind;

	memset(t, 0, sizeof(*t));
	if (len < 20)
		return -1;
	doff = (size_t)(b[12] >> 4) * 4;
	if (doff < 20 || doff > len)
		return -1;
	t->sport = get16(b);
	t->dport = get16(b + 2);
	t->seq = get32(b + 4);
	t->ack = get32(b + 8);
	t->flags = (uint16_t)(b[13] | (b[12] & 1) << 8);
	t->window = get16(b + 14);
	t->data_off = (uint8_t)doff;
	t->payload_len = len - doff;

	/* At most 40 option bytes, so opt_kinds never overflows. */
	for (i = 20; i < doff; i += olen) {
		kind = b[i];
		t->opt_kinds[t->n_opts++] = kind;
		if (kind == 0)		/* EOL */
			break;
		if (kind == 1) {	/* NOP */
			olen = 1;
			continue;
		}
		if (doff - i < 2)
			return -1;
		olen = b[i + 1];
		if (olen < 2 || olen > doff - i)
			return -1;
		switch (kind) {
		case 2:
			if (olen != 4)
				return -1;
			t->have_mss = 1;
			t->mss = get16(b + i + 2);
			break;
		case 3:
			if (olen != 3)
				return -1;
			t->have_wscale = 1;
			t->wscale = b[i + 2];
			break;
		case 4:
			if (olen != 2)
				return -1;
			t->sack_ok = 1;
			break;
		case 5:		/* SACK blocks: we only check the shape */
			if (olen < 10 || (olen - 2) % 8 != 0)
				return -1;
			break;
		case 8:
			if (olen != 10)
				return -1;
			t->have_ts = 1;
			t->ts_val = get32(b + i + 2);
			t->ts_ecr = get32(b + i + 6);
			break;
		case 172:	/* AccECN0 / AccECN1: 0..3 24-bit counters */
		case 174: {
			size_t k;

			if ((olen - 2) % 3 != 0 || olen > 11)
				return -1;
			t->have_accecn = 1;
			t->accecn_kind = kind;
			t->accecn_nfields = (uint8_t)((olen - 2) / 3);
			for (k = 0; k < t->accecn_nfields; k++)
				t->accecn_field[k] = get24(b + i + 2 + 3 * k);
			break;
		}
		default:	/* unknown: skipped by its length */
			break;
		}
	}
	return 0;
}
