/*
 * Build probe packets, IP header included, into a caller's buffer.
 * The result is what goes to a raw socket with IP_HDRINCL (IPv4) or to a
 * packet socket / IPV6 raw socket that takes the whole header (IPv6).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "pkt.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* Sum of the TCP/UDP/ICMPv6 pseudo-header. The IPv4 form (proto, 16-bit
 * length) and the IPv6 form (32-bit length, 32-bit next header) add up to
 * the same words for lengths below 64 KiB. */
static uint32_t pseudo_sum(const struct probe_desc *p, size_t l4len)
{
	uint32_t sum;

	if (p->dst.family == AF_INET) {
		sum = pkt_sum((const uint8_t *)&p->src.u.v4, 4, 0);
		sum = pkt_sum((const uint8_t *)&p->dst.u.v4, 4, sum);
	} else {
		sum = pkt_sum((const uint8_t *)&p->src.u.v6, 16, 0);
		sum = pkt_sum((const uint8_t *)&p->dst.u.v6, 16, sum);
	}
	return sum + p->proto + (uint32_t)l4len;
}

/*
 * Paris traceroute: pick the two bytes at l4[at] so that the checksum
 * field (at l4[ck], currently zero) can hold `want` and still verify.
 * A packet verifies when the sum of everything, checksum included, is
 * 0xffff, so the rest must sum to ~want. For want 0xffff that is 0, which
 * one's complement arithmetic gives as its other zero, 0xffff: still
 * 0xffff + 0xffff folds to 0xffff and verifies.
 */
static void fix_checksum(uint8_t *l4, size_t l4len, size_t at, size_t ck,
    uint32_t pseudo, uint16_t want)
{
	uint16_t target = (uint16_t)~want, rest, v;

	l4[at] = l4[at + 1] = 0;
	rest = pkt_fold(pkt_sum(l4, l4len, pseudo));
	/* one's complement subtraction: v = target - rest */
	v = pkt_fold((uint32_t)target + (uint16_t)~rest);
	/* At an odd offset the two bytes straddle two words and count
	 * byte-swapped (RFC 1071: the sum is byte-order independent). */
	if (at % 2 == 0) {
		l4[at] = v >> 8;
		l4[at + 1] = v & 0xff;
	} else {
		l4[at] = v & 0xff;
		l4[at + 1] = v >> 8;
	}
	put16(l4 + ck, want);
}

/* The same for IPv6: a Fragment header (8 bytes, identification id)
 * between the IPv6 header and the part; cap is buf's size. */
static int cut_fragment6(uint8_t *buf, size_t *len, size_t cap, int part,
			 uint32_t id)
{
	size_t l4len = *len - 40, rest = l4len - PKT_FRAG_FIRST, n;
	uint8_t *fh = buf + 40, nh = buf[6];

	if (l4len <= PKT_FRAG_FIRST)
		return -1;
	n = part == 1 ? PKT_FRAG_FIRST : rest;
	if (48 + n > cap)
		return -1;
	if (part == 1)
		memmove(fh + 8, buf + 40, n);
	else
		memmove(fh + 8, buf + 40 + PKT_FRAG_FIRST, n);
	fh[0] = nh;
	fh[1] = 0;
	put16(fh + 2, part == 1 ? 1 : PKT_FRAG_FIRST);  /* offset << 3 | M */
	put32(fh + 4, id);
	buf[6] = 44;
	put16(buf + 4, (uint16_t)(8 + n));
	*len = 48 + n;
	return 0;
}

/* An IPv4 packet built whole in buf (*len bytes), cut into the fragment
 * part (1: the first PKT_FRAG_FIRST bytes after the header, MF set; 2:
 * the rest at that offset). */
static int cut_fragment(uint8_t *buf, size_t *len, int part)
{
	size_t l4len = *len - 20;

	if (l4len <= PKT_FRAG_FIRST)
		return -1;
	if (part == 1) {
		*len = 20 + PKT_FRAG_FIRST;
		put16(buf + 6, 0x2000);
	} else {
		memmove(buf + 20, buf + 20 + PKT_FRAG_FIRST, l4len - PKT_FRAG_FIRST);
		*len = 20 + l4len - PKT_FRAG_FIRST;
		put16(buf + 6, PKT_FRAG_FIRST / 8);
	}
	put16(buf + 2, (uint16_t)*len);
	put16(buf + 10, 0);
	put16(buf + 10, (uint16_t)~pkt_fold(pkt_sum(buf, 20, 0)));
	return 0;
}

int pkt_build(const struct probe_desc *p, uint8_t *buf, size_t *len)
{
	int af = p->dst.family, fix;
	size_t iphl, l4hl, l4len, total, optlen, ck, cap = *len;
	uint32_t pseudo = 0;
	uint16_t want, sum;
	uint8_t *l4;

	if (p->src.family != af || (af != AF_INET && af != AF_INET6))
		return -1;
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		break;
	case IPPROTO_ICMP:
		if (af != AF_INET)
			return -1;
		break;
	case IPPROTO_ICMPV6:
		if (af != AF_INET6)
			return -1;
		break;
	default:
		return -1;
	}
	if (p->tcp_optlen > PKT_MAX_TCPOPT || (p->tcp_flags & ~0x1ffu) ||
	    p->flowlabel > 0xfffff)
		return -1;
	if (p->payload_len > PKT_MAX || p->pad_len > PKT_MAX ||
	    (p->pad_len && p->proto != IPPROTO_UDP))
		return -1;
	if (p->frag_part > 2 || (p->frag_part && af == AF_INET && p->dont_frag))
		return -1;
	fix = p->fix_checksum && p->proto != IPPROTO_TCP;
	if (fix && p->payload_len + p->pad_len < 2)
		return -1;

	iphl = af == AF_INET ? 20 : 40;
	optlen = (p->tcp_optlen + 3) & ~(size_t)3;
	l4hl = p->proto == IPPROTO_TCP ? 20 + optlen : 8;
	l4len = l4hl + p->payload_len + p->pad_len;  /* the pad: zeros */
	total = iphl + l4len;
	if (total > PKT_MAX || total > *len)
		return -1;
	memset(buf, 0, total);

	if (af == AF_INET) {
		buf[0] = 0x45;
		buf[1] = p->tos;
		put16(buf + 2, (uint16_t)total);  /* network order, see pkt.h */
		put16(buf + 4, p->ip_id);
		put16(buf + 6, p->dont_frag ? 0x4000 : 0);
		buf[8] = p->ttl;
		buf[9] = p->proto;
		memcpy(buf + 12, &p->src.u.v4, 4);
		memcpy(buf + 16, &p->dst.u.v4, 4);
		put16(buf + 10, (uint16_t)~pkt_fold(pkt_sum(buf, 20, 0)));
	} else {
		put32(buf, 6u << 28 | (uint32_t)p->tos << 20 | p->flowlabel);
		put16(buf + 4, (uint16_t)l4len);
		buf[6] = p->proto;
		buf[7] = p->ttl;
		memcpy(buf + 8, &p->src.u.v6, 16);
		memcpy(buf + 24, &p->dst.u.v6, 16);
	}

	l4 = buf + iphl;
	switch (p->proto) {
	case IPPROTO_TCP:
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put32(l4 + 4, p->seq);
		put32(l4 + 8, p->ack);
		l4[12] = (uint8_t)(l4hl / 4) << 4 | (p->tcp_flags >> 8 & 1);
		l4[13] = p->tcp_flags & 0xff;
		put16(l4 + 14, p->window);
		/* options; the zeroed padding reads as EOL */
		memcpy(l4 + 20, p->tcp_opts, p->tcp_optlen);
		ck = 16;
		break;
	case IPPROTO_UDP:
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, (uint16_t)l4len);
		ck = 6;
		break;
	default:	/* ICMP or ICMPv6 echo request */
		l4[0] = p->proto == IPPROTO_ICMP ? 8 : 128;
		put16(l4 + 4, p->icmp_id);
		put16(l4 + 6, p->icmp_seq);
		ck = 2;
		break;
	}
	if (p->payload != NULL && p->payload_len > 0)
		memcpy(l4 + l4hl, p->payload, p->payload_len);

	if (p->proto != IPPROTO_ICMP)	/* ICMPv4 has no pseudo-header */
		pseudo = pseudo_sum(p, l4len);
	if (fix) {
		want = ntohs(p->checksum);
		/* a zero UDP checksum means "none": send the other zero */
		if (p->proto == IPPROTO_UDP && want == 0)
			want = 0xffff;
		fix_checksum(l4, l4len, l4len - 2, ck, pseudo, want);
	} else {
		sum = (uint16_t)~pkt_fold(pkt_sum(l4, l4len, pseudo));
		if (p->proto == IPPROTO_UDP && sum == 0)
			sum = 0xffff;
		put16(l4 + ck, sum);
	}
	*len = total;
	if (p->frag_part == 0)
		return 0;
	return af == AF_INET ? cut_fragment(buf, len, p->frag_part)
			     : cut_fragment6(buf, len, cap, p->frag_part, p->ip_id);
}
