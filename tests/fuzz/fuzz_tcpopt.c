/*
 * libFuzzer target for TCP headers and options. The input is a TCP
 * segment for pkt_parse_tcp, checked against a second, plain reading of
 * the same bytes (option kinds in order, MSS, window scale, SACK-permitted,
 * timestamps, the AccECN option's 24-bit counters); its first 40 bytes are
 * also the options of a SYN-ACK that pkt_build puts in an IPv4 and an IPv6
 * packet, which pkt_parse must read back field for field. The flags go
 * through the AccECN handshake decoding (accecn_synack_ecn), the flag
 * letters (tcp_flags_str, any buffer size) and the SYN-ACK's JSON.
 * Besides the sanitizers' checks, abort on any disagreement, or a decoded
 * length beyond the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "connect.h"
#include "connect_out.h"
#include "json.h"
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The reference reading: what pkt_parse_tcp must have found, or -1 where
 * it must have refused the segment. */
static int reference(const uint8_t *b, size_t len, struct tcp_seg *t)
{
	size_t doff, i = 20;

	memset(t, 0, sizeof(*t));
	if (len < 20)
		return -1;
	doff = (size_t)(b[12] >> 4) * 4;
	if (doff < 20 || doff > len)
		return -1;
	t->data_off = (uint8_t)doff;
	t->payload_len = len - doff;
	while (i < doff) {
		uint8_t kind = b[i], olen;

		t->opt_kinds[t->n_opts++] = kind;
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			return -1;
		olen = b[i + 1];
		if (olen < 2 || i + olen > doff)
			return -1;
		if ((kind == 2 && olen != 4) || (kind == 3 && olen != 3) ||
		    (kind == 4 && olen != 2) || (kind == 8 && olen != 10) ||
		    (kind == 5 && (olen < 10 || (olen - 2) % 8)) ||
		    ((kind == 172 || kind == 174) &&
		     (olen > 11 || (olen - 2) % 3)))
			return -1;
		if (kind == 2)
			t->have_mss = 1, t->mss = (uint16_t)be(b + i + 2, 2);
		if (kind == 3)
			t->have_wscale = 1, t->wscale = b[i + 2];
		if (kind == 4)
			t->sack_ok = 1;
		if (kind == 8) {
			t->have_ts = 1;
			t->ts_val = be(b + i + 2, 4);
			t->ts_ecr = be(b + i + 6, 4);
		}
		if (kind == 172 || kind == 174) {
			t->have_accecn = 1;
			t->accecn_kind = kind;
			t->accecn_nfields = (uint8_t)((olen - 2) / 3);
			for (int k = 0; k < t->accecn_nfields; k++)
				t->accecn_field[k] = be(b + i + 2 + 3 * k, 3);
		}
		i += olen;
	}
	return 0;
}

static void same_options(const struct tcp_seg *a, const struct tcp_seg *b)
{
	if (a->data_off != b->data_off || a->payload_len != b->payload_len ||
	    a->n_opts != b->n_opts ||
	    memcmp(a->opt_kinds, b->opt_kinds, a->n_opts) != 0 ||
	    a->have_mss != b->have_mss || a->mss != b->mss ||
	    a->have_wscale != b->have_wscale || a->wscale != b->wscale ||
	    a->sack_ok != b->sack_ok || a->have_ts != b->have_ts ||
	    a->ts_val != b->ts_val || a->ts_ecr != b->ts_ecr ||
	    a->have_accecn != b->have_accecn ||
	    a->accecn_kind != b->accecn_kind ||
	    a->accecn_nfields != b->accecn_nfields ||
	    memcmp(a->accecn_field, b->accecn_field,
		   sizeof(a->accecn_field[0]) * a->accecn_nfields) != 0)
		abort();
}

static void flags(uint16_t fl, const struct tcp_seg *s)
{
	int ace = (fl & TH_AE ? 4 : 0) | (fl & TH_CWR ? 2 : 0) |
		  (fl & TH_ECE ? 1 : 0);
	int e = accecn_synack_ecn(ace);
	char buf[16], *js = NULL;
	size_t jl = 0;
	struct json j;
	FILE *f;

	/* ECN_* (0-3), or -1 no ECN, -2 classic, -3 broken; the same for
	 * any bits above the three. */
	if (e < -3 || e > 3 || e != accecn_synack_ecn(ace | (fl & ~7)))
		abort();
	if ((ace == 0) != (e == -1) || (ace == 1) != (e == -2))
		abort();
	for (size_t len = 1; len <= sizeof(buf); len++) {
		memset(buf, 'z', sizeof(buf));
		tcp_flags_str(fl, buf, len);
		if (strlen(buf) >= len || (len < sizeof(buf) && buf[len] != 'z'))
			abort();
	}
	f = open_memstream(&js, &jl);
	if (f == NULL)
		abort();
	json_init(&j, f);
	json_open_obj(&j, NULL);
	json_synack(&j, s, (uint8_t)fl, (uint8_t)(fl >> 3), fl);
	json_close_obj(&j);
	if (fclose(f) != 0 || jl < 2 || js[0] != '{' || js[jl - 1] != '}')
		abort();
	free(js);
}

/* The options (and a few fields) from the input, built into a SYN-ACK
 * and read back. */
static void roundtrip(const uint8_t *data, size_t size, int af)
{
	struct probe_desc d;
	struct pkt_reply r;
	struct tcp_seg want;
	uint8_t pkt[PKT_MAX], seg[60];
	size_t len = sizeof(pkt), optlen = size < 40 ? size : 40;
	int ref;

	memset(&d, 0, sizeof(d));
	d.src.family = d.dst.family = af;
	if (af == AF_INET) {
		d.src.u.v4.s_addr = htonl(0xc6336401);
		d.dst.u.v4.s_addr = htonl(0xc6336402);
	} else {
		d.src.u.v6.s6_addr[0] = d.dst.u.v6.s6_addr[0] = 0x20;
		d.src.u.v6.s6_addr[15] = 1;
		d.dst.u.v6.s6_addr[15] = 2;
	}
	d.ttl = 64;
	d.proto = IPPROTO_TCP;
	d.sport = 80;
	d.dport = (uint16_t)(size * 257);
	d.seq = size >= 4 ? be(data, 4) : 1;
	d.ack = size >= 8 ? be(data + 4, 4) : 2;
	d.tcp_flags = (uint16_t)((size >= 10 ? be(data + 8, 2) : 0x12) & 0x1ff);
	d.window = size >= 12 ? (uint16_t)be(data + 10, 2) : 502;
	memcpy(d.tcp_opts, data, optlen);
	d.tcp_optlen = optlen;
	if (pkt_build(&d, pkt, &len) != 0)
		abort();
	/* What the reference makes of the same header, padding included. */
	memset(seg, 0, sizeof(seg));
	seg[12] = (uint8_t)(((20 + ((optlen + 3) & ~(size_t)3)) / 4) << 4);
	memcpy(seg + 20, data, optlen);
	ref = reference(seg, 20 + ((optlen + 3) & ~(size_t)3), &want);
	if (pkt_parse(pkt, len, &r) != 0) {
		if (ref == 0)
			abort();
		return;
	}
	if (ref != 0 || r.kind != REPLY_TCP || r.truncated ||
	    r.wire_len != len || !addr_eq(&r.src, &d.src) ||
	    !addr_eq(&r.dst, &d.dst) || r.tcp.sport != d.sport ||
	    r.tcp.dport != d.dport || r.tcp.seq != d.seq ||
	    r.tcp.ack != d.ack || r.tcp.flags != d.tcp_flags ||
	    r.tcp.window != d.window)
		abort();
	same_options(&r.tcp, &want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcp_seg t, want;
	int rc = pkt_parse_tcp(data, size, &t), ref = reference(data, size, &want);

	if (rc != 0 && rc != -1)
		abort();
	if ((rc == 0) != (ref == 0))
		abort();
	if (rc == 0) {
		if (t.data_off < 20 || t.data_off > size ||
		    t.data_off + t.payload_len != size ||
		    t.n_opts > PKT_MAX_TCPOPT || t.n_opts > t.data_off - 20u ||
		    t.accecn_nfields > 3 ||
		    (t.have_accecn && t.accecn_kind != 172 && t.accecn_kind != 174))
			abort();
		for (int k = 0; k < t.accecn_nfields; k++)
			if (t.accecn_field[k] > 0xffffff)
				abort();
		if (t.sport != be(data, 2) || t.dport != be(data + 2, 2) ||
		    t.seq != be(data + 4, 4) || t.ack != be(data + 8, 4) ||
		    t.flags != (data[13] | (data[12] & 1) << 8))
			abort();
		same_options(&t, &want);
		flags(t.flags, &t);
	}
	roundtrip(data, size, AF_INET);
	roundtrip(data, size, AF_INET6);
	return 0;
}
