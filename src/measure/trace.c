/* trace: the measurement. Never prints; trace_out.c renders the result. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "trace.h"

/* The TCP probe a real client's SYN looks like, less what we do not need:
 * MSS only, so every host answers and the probe stays small. */
static const uint8_t syn_opts[] = { 2, 4, 0x05, 0xb4 };

/* A QUIC probe: CIDs from the token (unique per probe, random per run
 * as the token base is) and the ports; the head in the payload, zeros to
 * 1200 bytes after it, the last two fixed for the flow's checksum. */
static void quic_flow_probe(const struct flow *f, uint32_t token,
			    struct probe *p)
{
	uint8_t dcid[QUIC_CID_LEN], scid[QUIC_CID_LEN];
	uint32_t mix = token * 2654435761u ^ (uint32_t)f->sport << 16 ^ f->dport;

	for (int i = 0; i < 4; i++) {
		dcid[i] = (uint8_t)(token >> (24 - 8 * i));
		dcid[4 + i] = (uint8_t)(mix >> (24 - 8 * i));
		scid[i] = (uint8_t)(~mix >> (8 * i));
		scid[4 + i] = (uint8_t)(token >> (8 * i)) ^ 0x5a;
	}
	p->d.payload_len = quic_probe_head(p->payload, sizeof(p->payload),
					   QUIC_PROBE_VERSION, dcid, sizeof(dcid),
					   scid, sizeof(scid), QUIC_DATAGRAM);
	p->d.pad_len = QUIC_DATAGRAM - p->d.payload_len;
	p->d.fix_checksum = 1;
	p->d.checksum = (uint16_t)(0x5eed ^ f->sport);
}

void flow_probe(const struct flow *f, int ttl, uint32_t token, struct probe *p)
{
	struct probe_desc *d = &p->d;

	memset(p, 0, sizeof(*p));
	d->src = f->src;
	d->dst = f->dst;
	d->ttl = (uint8_t)ttl;
	d->tos = f->tos;
	d->flowlabel = f->flowlabel;
	/* 1..65535, distinct for 65535 tokens in a row (short of the
	 * 2^32 wrap): the kernel replaces an ID of 0. */
	d->ip_id = (uint16_t)(token % 65535 + 1);
	d->proto = f->proto;
	d->sport = f->sport;
	d->dport = f->dport;
	switch (f->proto) {
	case IPPROTO_TCP:
		d->seq = token;
		d->tcp_flags = f->syn_flags ? f->syn_flags : TH_SYN;
		d->window = 64240;
		memcpy(d->tcp_opts, syn_opts, sizeof(syn_opts));
		d->tcp_optlen = sizeof(syn_opts);
		break;
	case IPPROTO_UDP:
		if (f->quic) {
			quic_flow_probe(f, token, p);
			break;
		}
		/* IPv6 has no ID to carry the token: the length carries it. */
		d->payload_len = 16 + (f->dst.family == AF_INET6 ? token % 512 : 0);
		if (d->payload_len > sizeof(p->payload))
			d->payload_len = 16 + token % (sizeof(p->payload) - 16);
		d->fix_checksum = 1;
		d->checksum = (uint16_t)(0x5eed ^ f->sport);
		break;
	default:                     /* ICMP / ICMPv6 echo */
		d->icmp_id = f->sport;
		d->icmp_seq = (uint16_t)token;
		d->payload_len = 16;
		d->fix_checksum = 1;
		d->checksum = (uint16_t)(0x5eed ^ f->sport);
		break;
	}
	/* Payload: a constant pattern; the builder fixes the last two bytes
	 * when the checksum must stay constant. */
	if (!(f->proto == IPPROTO_UDP && f->quic))
		for (size_t i = 0; i < sizeof(p->payload); i++)
			p->payload[i] = (uint8_t)(0x40 + i % 32);
	d->payload = d->payload_len ? p->payload : NULL;
}

struct probe *trace_probe(const struct trace_result *r, int ttl, int q)
{
	int width = r->p.max_ttl - r->p.first_ttl + 1;

	if (ttl < r->p.first_ttl || ttl > r->p.max_ttl || q < 0 ||
	    q >= r->p.nqueries)
		return NULL;
	return &r->probes[(size_t)q * (size_t)width + (size_t)(ttl - r->p.first_ttl)];
}

/* After the target (or an unreachable) answers at some TTL, probes
 * beyond it would only reach the target again: cancel the unsent ones. */
static void on_reply(void *ctx, struct probe *probes, size_t n, size_t i)
{
	struct trace_result *r = ctx;
	const struct pkt_reply *rep = &probes[i].reply;
	int ttl = probes[i].user;

	if (r->p.on_responder)
		r->p.on_responder(&rep->src);
	if (!addr_eq(&rep->src, &r->p.flow.dst) && rep->kind != REPLY_UNREACH)
		return;
	if (addr_eq(&rep->src, &r->p.flow.dst) &&
	    (r->dest_ttl == 0 || ttl < r->dest_ttl))
		r->dest_ttl = ttl;
	if (r->stop_ttl == 0 || ttl < r->stop_ttl)
		r->stop_ttl = ttl;
	for (size_t k = 0; k < n; k++)
		if (probes[k].state == PROBE_UNSENT && probes[k].user > r->stop_ttl)
			probes[k].state = PROBE_CANCELLED;
}

int trace_run(struct engine *e, const struct trace_params *p,
	      struct trace_result *r, char *err, size_t errlen)
{
	int width = p->max_ttl - p->first_ttl + 1;
	struct run_opts o = {
		.rate = p->rate, .timeout_ns = p->timeout_ns,
		.on_reply = on_reply, .ctx = r, .on_tick = p->on_tick,
	};
	uint64_t sent0 = e->sent;
	int64_t t0 = now_ns();
	int rc;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	r->nprobes = (size_t)width * (size_t)p->nqueries;
	r->probes = calloc(r->nprobes, sizeof(*r->probes));
	if (r->probes == NULL) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	/* Round-major: one probe per TTL, then the next round, so replies
	 * from one router are spread out (routers rate-limit ICMP). */
	for (int q = 0; q < p->nqueries; q++) {
		for (int ttl = p->first_ttl; ttl <= p->max_ttl; ttl++) {
			struct probe *pr = trace_probe(r, ttl, q);
			uint32_t token = (uint32_t)(pr - r->probes);

			/* Every protocol's tokens from the run's random
			 * base: a reply forged off the path must guess it.
			 * TCP's two apart: the RST that closes a SYN-ACKed
			 * probe carries its sequence number plus one. */
			flow_probe(&p->flow, ttl, p->token_base +
				   (p->flow.proto == IPPROTO_TCP ? 2 * token : token), pr);
			pr->user = ttl;
		}
	}
	rc = engine_run(e, r->probes, r->nprobes, &o, err, errlen);
	r->duration_ns = now_ns() - t0;
	r->sent = e->sent - sent0;
	if (r->stop_ttl == 0)
		r->stop_ttl = p->max_ttl;
	return rc;
}

void trace_free(struct trace_result *r)
{
	free(r->probes);
	r->probes = NULL;
}

enum ecn_change ecn_compare(uint8_t sent_tos, uint8_t quoted_tos)
{
	int s = sent_tos & 3, q = quoted_tos & 3;

	if (s == q)
		return ECN_SAME;
	if (q == ECN_NOT_ECT)
		return ECN_BLEACHED;
	if (q == ECN_CE && s != ECN_NOT_ECT)
		return ECN_CE_MARKED;
	return ECN_MANGLED;
}

const char *ecn_change_name(enum ecn_change c)
{
	switch (c) {
	case ECN_BLEACHED: return "bleached";
	case ECN_MANGLED: return "mangled";
	case ECN_CE_MARKED: return "ce-marked";
	default: return "same";
	}
}

int initial_ttl(int ttl)
{
	if (ttl <= 32)
		return 32;
	if (ttl <= 64)
		return 64;
	if (ttl <= 128)
		return 128;
	return 255;
}

int return_hops(int ttl)
{
	return initial_ttl(ttl) - ttl + 1;
}

int reply_quic_vn(const struct pkt_reply *r, struct quic_vn *vn)
{
	if (r->kind != REPLY_UDP || r->udp.kept != r->udp.len)
		return -1;
	return quic_vn_parse(r->udp.data, r->udp.kept, vn);
}

static int is_vn(const struct pkt_reply *r)
{
	struct quic_vn vn;

	return reply_quic_vn(r, &vn) == 0;
}

const char *reply_name(const struct pkt_reply *r)
{
	int v6 = r->src.family == AF_INET6;

	switch (r->kind) {
	case REPLY_TIME_EXCEEDED:
		return "time-exceeded";
	case REPLY_ECHO_REPLY:
		return "echo-reply";
	case REPLY_PKT_TOO_BIG:
		return "packet-too-big";
	case REPLY_UDP:
		return is_vn(r) ? "version-negotiation" : "udp";
	case REPLY_TCP:
		if (r->tcp.flags & TH_RST)
			return "rst";
		if ((r->tcp.flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
			return "syn-ack";
		return "tcp";
	case REPLY_UNREACH:
		if (v6) {
			switch (r->icmp_code) {
			case 0: return "no-route";
			case 1: return "admin-prohibited";
			case 3: return "host-unreachable";
			case 4: return "port-unreachable";
			default: return "unreachable";
			}
		}
		switch (r->icmp_code) {
		case 0: return "net-unreachable";
		case 1: return "host-unreachable";
		case 2: return "protocol-unreachable";
		case 3: return "port-unreachable";
		case 4: return "frag-needed";
		case 9: case 10: case 13: return "admin-prohibited";
		default: return "unreachable";
		}
	default:
		return "other";
	}
}
