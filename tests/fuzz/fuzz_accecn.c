/*
 * libFuzzer target for analyze's AccECN decoding (RFC 9768): the input
 * describes one TCP connection, which is built packet by packet
 * (pkt_build, IPv4 or IPv6) and fed to an analyzer:
 *   byte 0: the SYN's (AE,CWR,ECE) in bits 0-2, its IP ECN field in bits
 *           3-4, IPv6 if bit 5;
 *   byte 1: the SYN-ACK's (AE,CWR,ECE) in bits 0-2, its ECN field in 3-4,
 *           no SYN-ACK if bit 5;
 *   byte 2: n, then n % 41 bytes of the SYN-ACK's TCP options (the AccECN
 *           options 172/174 among them, any length);
 *   then segments of 4 bytes: the TCP flags (FIN to CWR); from the
 *           client if bit 7, AE if bit 6, the IP ECN field in bits 0-1 and
 *           a TTL in bits 2-4 (server side); how far the peer's ACK moves;
 *           the payload length.
 * On the finished connection, abort unless: the ECN setup is what the
 * first SYN asked for (a plain, classic or AccECN SYN); for AccECN, the
 * codepoint the SYN-ACK reports matches a table written here from RFC
 * 9768 3.2.2 (000 none, 001 classic, 010 Not-ECT, 011 ECT(1), 100 ECT(0),
 * 110 CE, 101 and 111 broken) and the forward path (kept, bleached, ce,
 * mangled) follows from it and the SYN's codepoint; a connection without
 * ECN is never a fault; the fault flag agrees with the result. The SYN-ACK
 * is also parsed back (pkt_parse): AE survives the round trip and the
 * option parser meets every AccECN option shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "analyze.h"
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct want {
	enum an_setup setup;
	int syn_ecn;
	int synack_ace;              /* of the first SYN-ACK, -1 none */
	int done;
};

/* RFC 9768 3.2.2, Table 3: what (AE,CWR,ECE) on a SYN-ACK says. */
static int rfc_table(int ace)
{
	static const int t[8] = { -1, -2, ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, -3,
				  ECN_CE, -3 };

	return t[ace & 7];
}

static int ace_of(uint16_t fl)
{
	return (fl & TH_AE ? 4 : 0) | (fl & TH_CWR ? 2 : 0) | (fl & TH_ECE ? 1 : 0);
}

static uint16_t flags_of(int ace)
{
	return (uint16_t)((ace & 4 ? TH_AE : 0) | (ace & 2 ? TH_CWR : 0) |
			  (ace & 1 ? TH_ECE : 0));
}

static void on_done(void *ctx, const struct an_conn *c)
{
	struct want *w = ctx;
	enum an_fwd fwd;
	int e;

	w->done++;
	if (c->setup != w->setup || c->syn_ecn != w->syn_ecn ||
	    c->have_synack != (w->synack_ace >= 0) ||
	    c->fault != an_is_fault(c->result) ||
	    c->result < 0 || c->result >= AR_COUNT)
		abort();
	if (c->setup == SETUP_NONE &&
	    (c->fault || (c->result != AR_NOT_ECN &&
			  c->result != AR_CE_ON_NOT_ECT &&
			  c->result != AR_ECT_ON_NOT_ECT)))
		abort();
	if (c->setup != SETUP_ACCECN || !c->have_synack) {
		if (c->fwd != FWD_UNKNOWN || c->accecn_ce)
			abort();
		return;
	}
	e = rfc_table(w->synack_ace);
	fwd = e < 0 ? FWD_UNKNOWN : e == c->syn_ecn ? FWD_KEPT
	    : e == ECN_CE ? FWD_CE : e == ECN_NOT_ECT ? FWD_BLEACHED
	    : FWD_MANGLED;
	if (c->syn_arrived != e || c->fwd != fwd)
		abort();
	if (strcmp(an_fwd_name(c->fwd), "?") == 0)
		abort();
	/* A bleached SYN or a broken reflector is what the result says,
	 * when nothing worse happened later. */
	if (c->result == CR_ECN_BLEACHED && fwd != FWD_BLEACHED)
		abort();
	if (c->result == CR_BROKEN_REFLECTOR && e != -3)
		abort();
}

/* Build and feed one packet; whether it parses (the analyzer skips one
 * that does not, as malformed). */
static int put(struct analyzer *a, struct probe_desc *d, int64_t *t)
{
	uint8_t pkt[PKT_MAX];
	size_t len = sizeof(pkt);
	struct pkt_reply r;
	int ok, rc;

	if (pkt_build(d, pkt, &len) != 0)
		return 0;
	/* The option bytes may not parse; when they do, the flags come
	 * back whole, AE included. */
	ok = pkt_parse(pkt, len, &r) == 0;
	if (ok && (r.kind != REPLY_TCP || r.tcp.flags != d->tcp_flags))
		abort();
	rc = analyzer_packet(a, pkt, len, len, *t);
	if (rc > 1 || (rc == -1) != !ok)
		abort();
	*t += 1000000;
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[256];
	struct probe_desc cl, sv;
	struct analyzer a;
	struct want w;
	int64_t t = 1700000000000000000LL;
	size_t i, nopt;
	int v6;

	if (size < 3)
		return 0;
	memset(&w, 0, sizeof(w));
	memset(&cl, 0, sizeof(cl));
	v6 = data[0] >> 5 & 1;
	cl.src.family = cl.dst.family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		cl.src.u.v6.s6_addr[0] = cl.dst.u.v6.s6_addr[0] = 0x20;
		cl.src.u.v6.s6_addr[1] = cl.dst.u.v6.s6_addr[1] = 0x01;
		cl.src.u.v6.s6_addr[2] = cl.dst.u.v6.s6_addr[2] = 0x0d;
		cl.src.u.v6.s6_addr[3] = cl.dst.u.v6.s6_addr[3] = 0xb8;
		cl.src.u.v6.s6_addr[15] = 1;
		cl.dst.u.v6.s6_addr[15] = 2;
	} else {
		cl.src.u.v4.s_addr = htonl(0xc0000282);   /* 192.0.2.130 */
		cl.dst.u.v4.s_addr = htonl(0xcb00710d);   /* 203.0.113.13 */
	}
	cl.proto = IPPROTO_TCP;
	cl.ttl = 64;
	cl.sport = 34420;
	cl.dport = 80;
	cl.seq = 1000;
	cl.window = 64240;
	cl.payload = payload;
	sv = cl;
	sv.src = cl.dst;
	sv.dst = cl.src;
	sv.sport = 80;
	sv.dport = 34420;
	sv.ttl = 58;
	sv.seq = 5000;

	if (analyzer_init(&a, 16, on_done, &w) < 0)
		abort();
	a.key[0] = a.key[1] = 0;
	/* The SYN. */
	cl.tcp_flags = TH_SYN | flags_of(data[0]);
	cl.tos = data[0] >> 3 & 3;
	w.setup = (cl.tcp_flags & (TH_ECE | TH_CWR)) != (TH_ECE | TH_CWR) ?
		  SETUP_NONE : cl.tcp_flags & TH_AE ? SETUP_ACCECN : SETUP_CLASSIC;
	w.syn_ecn = cl.tos;
	w.synack_ace = -1;
	if (!put(&a, &cl, &t))
		abort();                 /* a SYN without options parses */
	/* The SYN-ACK, with the options from the input. */
	nopt = data[2] % 41;
	if (nopt > size - 3)
		nopt = size - 3;
	if (!(data[1] & 0x20)) {
		sv.tcp_flags = TH_SYN | TH_ACK | flags_of(data[1]);
		sv.tos = data[1] >> 3 & 3;
		sv.ack = cl.seq + 1;
		memcpy(sv.tcp_opts, data + 3, nopt);
		sv.tcp_optlen = nopt;
		if (put(&a, &sv, &t))
			w.synack_ace = ace_of(sv.tcp_flags);
		sv.tcp_optlen = 0;
	}
	/* The rest of the connection. */
	cl.seq++;
	sv.seq++;
	for (i = 3 + nopt; i + 4 <= size && i < 3 + nopt + 4 * 64; i += 4) {
		int from_client = data[i + 1] >> 7;
		struct probe_desc *d = from_client ? &cl : &sv;
		uint16_t fl = (uint16_t)(data[i] | (data[i + 1] & 0x40 ? TH_AE : 0));

		/* A SYN from the client keeps the first one's sequence
		 * number (a retransmission, not a new connection). */
		d->tcp_flags = fl;
		d->tos = data[i + 1] & 3;
		d->ttl = (uint8_t)(from_client ? 64 : 56 + (data[i + 1] >> 2 & 7));
		d->payload_len = (fl & TH_SYN) ? 0 : data[i + 3] % 200;
		d->ack = from_client ? sv.seq : cl.seq;
		if (from_client && (fl & TH_SYN))
			d->seq = 1000;
		if (put(&a, d, &t) && !from_client && w.synack_ace < 0 &&
		    (fl & (TH_SYN | TH_ACK | TH_RST)) == (TH_SYN | TH_ACK))
			w.synack_ace = ace_of(fl);
		if (from_client && (fl & TH_SYN))
			d->seq = 1001;
		d->seq += (uint32_t)d->payload_len;
		/* Data i+2 of the input moves the peer's ACK. */
		(from_client ? &sv : &cl)->ack += data[i + 2] & 0x7f;
	}
	analyzer_finish(&a);
	if (w.done != 1 || a.connections != 1)
		abort();
	analyzer_free(&a);
	return 0;
}
