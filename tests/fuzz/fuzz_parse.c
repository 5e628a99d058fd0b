/*
 * libFuzzer target for the reply parser: pkt_parse on the input as an IP
 * packet, pkt_parse_cut on its first half as a packet cut from the whole
 * input (what the engine does with a packet longer than its buffer),
 * pkt_parse_tcp on it as a TCP segment. Besides the sanitizers' checks,
 * abort when a result claims more bytes than the input had.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct pkt_reply *r, size_t size)
{
	char buf[INET6_ADDRSTRLEN];

	addr_str(&r->src, buf, sizeof(buf));
	addr_str(&r->dst, buf, sizeof(buf));
	if (r->n_mpls > PKT_MAX_MPLS)
		abort();
	if (r->has_quote) {
		addr_str(&r->q.src, buf, sizeof(buf));
		if (r->q.quoted_len > size || r->q.l4_len > r->q.quoted_len)
			abort();
		if (r->q.src.family != r->src.family)
			abort();
	}
	if (r->kind == REPLY_TCP && r->tcp.data_off > size)
		abort();
	if (r->kind == REPLY_UDP &&
	    (r->proto != IPPROTO_UDP || r->udp.kept > r->udp.len ||
	     r->udp.kept > PKT_UDP_KEEP || r->udp.kept > size))
		abort();
	if (r->kind != REPLY_TCP && r->kind != REPLY_OTHER && r->kind != REPLY_UDP &&
	    r->kind != REPLY_ECHO_REPLY && r->proto != IPPROTO_ICMP &&
	    r->proto != IPPROTO_ICMPV6)
		abort();
	if (r->has_quote && r->q.l4_head_len > r->q.l4_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_reply r;
	struct tcp_seg t;

	if (pkt_parse(data, size, &r) == 0) {
		check_reply(&r, size);
		if (r.truncated || r.wire_len > size)
			abort();
	}
	/* Only the first half received, of a packet as long as the input:
	 * nothing read past the half (ASan sees the copy's end). */
	if (size >= 2) {
		size_t half = size / 2;
		uint8_t *cut = malloc(half);

		if (cut == NULL)
			return 0;
		memcpy(cut, data, half);
		if (pkt_parse_cut(cut, half, size, &r) == 0) {
			check_reply(&r, half);
			if (r.wire_len > size ||
			    (r.truncated != (r.wire_len > half)))
				abort();
		}
		free(cut);
	}
	if (pkt_parse_tcp(data, size, &t) == 0) {
		if (t.data_off < 20 || t.data_off > size ||
		    t.data_off + t.payload_len != size ||
		    t.n_opts > PKT_MAX_TCPOPT || t.accecn_nfields > 3)
			abort();
	}
	return 0;
}
