/* connect: userspace TCP replay of an ECN connection. Never prints. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "connect.h"
#include "trace.h"

#define SYN_TRIES 2

static int seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *const result_names[CR_COUNT] = {
	[CR_OK] = "ok",
	[CR_RESET_OTHER] = "reset-by-other-endpoint",
	[CR_RESET_SAME] = "reset-same-endpoint",
	[CR_ECT_DATA_LOST] = "ect-data-lost",
	[CR_DATA_UNACKED] = "data-unacked",
	[CR_SYN_ECN_RESET] = "syn-ecn-reset",
	[CR_SYN_ECN_DROPPED] = "syn-ecn-dropped",
	[CR_ECN_DECLINED] = "ecn-declined",
	[CR_BROKEN_REFLECTOR] = "broken-reflector",
	[CR_CE_MARKED] = "ce-marked",
	[CR_ECN_BLEACHED] = "ecn-bleached",
	[CR_REFUSED] = "refused",
	[CR_NO_ANSWER] = "no-answer",
};

const char *conn_result_name(enum conn_result c)
{
	return c < CR_COUNT ? result_names[c] : "?";
}

static const char *const mode_names[] = {
	[MODE_CLASSIC] = "classic", [MODE_ACCECN] = "accecn",
	[MODE_L4S] = "l4s", [MODE_CE] = "ce", [MODE_PLAIN] = "plain",
	[MODE_ALL_ECT] = "all-ect",
};

const char *conn_mode_name(enum conn_mode m)
{
	return m < MODE_COUNT ? mode_names[m] : "?";
}

int conn_mode_parse(const char *s)
{
	for (int m = 0; m < MODE_COUNT; m++)
		if (!strcmp(s, mode_names[m]))
			return m;
	return -1;
}

int accecn_synack_ecn(int ace)
{
	switch (ace & 7) {
	case 0: return -1;           /* 000: no ECN */
	case 1: return -2;           /* 001: classic ECN only */
	case 2: return ECN_NOT_ECT;  /* 010 */
	case 3: return ECN_ECT1;     /* 011 */
	case 4: return ECN_ECT0;     /* 100 */
	case 6: return ECN_CE;       /* 110 */
	default: return -3;          /* 101 (reserved), 111: broken */
	}
}

/* TLS 1.2 ClientHello with the server name, seven common suites. */
static size_t client_hello(const char *host, uint8_t *buf, size_t len)
{
	static const uint8_t suites[] = {
		0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b,
		0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30,
	};
	size_t hl = strlen(host), body, ext, n = 0;
	uint8_t a[16];

	/* RFC 6066 3: no addresses in server_name; clients send none then. */
	if (hl > 200 || inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1)
		hl = 0;
	ext = hl ? 9 + hl : 0;
	body = 2 + 32 + 1 + 2 + sizeof(suites) + 2 + 2 + ext;
	if (5 + 4 + body > len)
		return 0;
	buf[n++] = 0x16; buf[n++] = 0x03; buf[n++] = 0x01;     /* handshake */
	buf[n++] = (uint8_t)((4 + body) >> 8); buf[n++] = (uint8_t)(4 + body);
	buf[n++] = 0x01;                                       /* ClientHello */
	buf[n++] = 0; buf[n++] = (uint8_t)(body >> 8); buf[n++] = (uint8_t)body;
	buf[n++] = 0x03; buf[n++] = 0x03;
	for (int i = 0; i < 32; i++)                           /* random */
		buf[n++] = (uint8_t)(0xa5 ^ (i * 37));
	buf[n++] = 0;                                          /* session id */
	buf[n++] = 0; buf[n++] = sizeof(suites);
	memcpy(buf + n, suites, sizeof(suites));
	n += sizeof(suites);
	buf[n++] = 1; buf[n++] = 0;                            /* no compression */
	buf[n++] = (uint8_t)(ext >> 8); buf[n++] = (uint8_t)ext;
	if (hl) {                                              /* server_name */
		buf[n++] = 0; buf[n++] = 0;
		buf[n++] = (uint8_t)((hl + 5) >> 8); buf[n++] = (uint8_t)(hl + 5);
		buf[n++] = (uint8_t)((hl + 3) >> 8); buf[n++] = (uint8_t)(hl + 3);
		buf[n++] = 0;
		buf[n++] = (uint8_t)(hl >> 8); buf[n++] = (uint8_t)hl;
		memcpy(buf + n, host, hl);
		n += hl;
	}
	return n;
}

size_t client_payload(uint16_t dport, const char *host, uint8_t *buf,
		      size_t len)
{
	int n;

	if (dport == 443)
		return client_hello(host, buf, len);
	if (dport == 80 || dport == 8080)
		/* An IPv6 address goes in brackets (RFC 9110 7.2). */
		n = snprintf((char *)buf, len,
			     "GET / HTTP/1.1\r\nHost: %s%s%s\r\n"
			     "User-Agent: ecntrace\r\nAccept: */*\r\n"
			     "Connection: close\r\n\r\n",
			     strchr(host, ':') ? "[" : "", host,
			     strchr(host, ':') ? "]" : "");
	else
		n = snprintf((char *)buf, len, "ecntrace\r\n");
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

enum conn_result conn_classify(const struct conn_flow *f,
			       int controls_answered, int controls_synack)
{
	uint16_t fl = f->synack.tcp.flags;
	/* Only an ECN-setup SYN can be dropped or reset for being one. */
	int ecn_syn = !f->control && f->mode != MODE_PLAIN;

	if (!f->have_synack) {
		if (f->have_rst)
			return ecn_syn && controls_synack ? CR_SYN_ECN_RESET
							  : CR_REFUSED;
		return ecn_syn && controls_answered ? CR_SYN_ECN_DROPPED
						    : CR_NO_ANSWER;
	}
	if (f->have_rst && f->rst_after_data)
		/* The same machine on the same path answers with the same
		 * TTL; another hop count means another path, and behind an
		 * anycast address another machine. */
		return f->rst.ttl == f->synack.ttl ? CR_RESET_SAME
						   : CR_RESET_OTHER;
	if (!f->data_acked)
		return CR_DATA_UNACKED;
	/* Only a lost ECT segment says something about ECN; after plain
	 * loss of Not-ECT data the handshake's verdict still stands. */
	if (f->acked_after_retx && (f->data_tos & 3) != ECN_NOT_ECT)
		return CR_ECT_DATA_LOST;
	if (f->control || f->mode == MODE_PLAIN)
		return CR_OK;
	if (f->mode == MODE_ACCECN) {
		int e = accecn_synack_ecn(f->accecn_ace);

		if (e == -3)
			return CR_BROKEN_REFLECTOR;
		if (e == -1)
			return CR_ECN_DECLINED;
		if (e == ECN_NOT_ECT)
			return CR_ECN_BLEACHED;
		if (e == ECN_CE)
			return CR_CE_MARKED;
		if (e >= 0)
			return CR_OK;
		/* 001: the server speaks classic ECN; judge it so. */
	}
	if ((fl & (TH_ECE | TH_CWR)) == (TH_ECE | TH_CWR))
		return CR_BROKEN_REFLECTOR;
	if (!(fl & TH_ECE))
		return CR_ECN_DECLINED;
	if (f->mode == MODE_CE)
		/* We sent CE: an ECN server echoes ECE unless the mark was
		 * cleared on the way. */
		return (f->ack.tcp.flags & TH_ECE) ? CR_OK : CR_ECN_BLEACHED;
	if (f->ack.tcp.flags & TH_ECE)
		return CR_CE_MARKED;
	return CR_OK;
}

struct cstate {
	struct engine *e;
	const struct connect_params *p;
	struct connect_result *r;
	uint32_t ts0;
};

static uint32_t ts_now(void)
{
	return (uint32_t)(now_ns() / 1000000);
}

/* Send one segment of flow f. */
static int send_seg(struct cstate *cs, struct conn_flow *f, uint16_t flags,
		    uint32_t seq, uint8_t tos, int with_payload)
{
	struct probe_desc d;
	int64_t t;
	const struct connect_params *p = cs->p;

	memset(&d, 0, sizeof(d));
	d.src = p->src;
	d.dst = p->dst;
	d.ttl = 64;
	d.tos = tos;
	d.dont_frag = 1;
	d.ip_id = f->ip_id++;
	d.proto = IPPROTO_TCP;
	d.sport = f->sport;
	d.dport = p->dport;
	d.seq = seq;
	d.tcp_flags = flags;
	d.window = 64240;
	if (flags & TH_ACK)
		d.ack = f->irs + 1;
	if (flags & TH_SYN) {
		/* What Linux sends: MSS, SACK permitted, timestamps, wscale. */
		static const uint8_t o[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10,
					     0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7 };

		memcpy(d.tcp_opts, o, sizeof(o));
		put32(d.tcp_opts + 8, ts_now());
		d.tcp_optlen = sizeof(o);
	} else if (!(flags & TH_RST) && f->synack.tcp.have_ts) {
		d.tcp_opts[0] = 1;
		d.tcp_opts[1] = 1;
		d.tcp_opts[2] = 8;
		d.tcp_opts[3] = 10;
		put32(d.tcp_opts + 4, ts_now());
		put32(d.tcp_opts + 8, f->synack.tcp.ts_val);
		d.tcp_optlen = 12;
		d.window = 502;      /* scaled by 7, as Linux does */
	} else if (!(flags & TH_SYN)) {
		d.window = 502;
	}
	if (with_payload) {
		d.payload = p->payload;
		d.payload_len = p->payload_len;
		d.tcp_flags |= TH_PSH;
	}
	return engine_send(cs->e, &d, &t);
}

static uint8_t syn_tos(const struct conn_flow *f)
{
	/* AccECN mode marks the SYN so the SYN-ACK can tell what arrived;
	 * all-ect marks everything. */
	return f->mode == MODE_ACCECN || f->mode == MODE_ALL_ECT ? ECN_ECT0
								 : ECN_NOT_ECT;
}

/* The TOS of our pure ACKs, retransmission and closing RST: Not-ECT as
 * RFC 3168 says, but ECT(0) in all-ect mode, to stay on the data's path. */
static uint8_t ctl_tos(const struct conn_flow *f)
{
	return f->mode == MODE_ALL_ECT ? ECN_ECT0 : ECN_NOT_ECT;
}

static uint16_t syn_flags(const struct conn_flow *f)
{
	switch (f->mode) {
	case MODE_PLAIN: return TH_SYN;
	case MODE_ACCECN: return TH_SYN | TH_AE | TH_CWR | TH_ECE;
	default: return TH_SYN | TH_ECE | TH_CWR;
	}
}

/* The TOS of the first data segment, once the SYN-ACK is in. */
static uint8_t data_tos(const struct conn_flow *f)
{
	uint16_t fl = f->synack.tcp.flags;
	int agreed;

	if (f->mode == MODE_PLAIN)
		return ECN_NOT_ECT;
	if (f->mode == MODE_ALL_ECT)
		return ECN_ECT0;
	if (f->mode == MODE_ACCECN)
		agreed = (fl & (TH_AE | TH_CWR | TH_ECE)) != 0 &&
			 (fl & (TH_AE | TH_CWR | TH_ECE)) != (TH_AE | TH_CWR | TH_ECE);
	else
		agreed = (fl & (TH_ECE | TH_CWR)) == TH_ECE;
	if (!agreed)
		return ECN_NOT_ECT;
	switch (f->mode) {
	case MODE_L4S: return ECN_ECT1;
	case MODE_CE: return ECN_CE;
	default: return ECN_ECT0;
	}
}

static void finish(struct cstate *cs, struct conn_flow *f)
{
	/* Close what the server may still hold, with the sequence number
	 * it expects (RFC 5961 servers ignore any other). Also after an RST
	 * to our data: it may have come from another machine, and the one
	 * that sent the SYN-ACK still holds the connection. Our RST is
	 * Not-ECT like the SYN, so it takes the SYN's way. */
	if (f->have_synack) {
		uint32_t seq = f->iss + 1 +
			       (f->data_acked ? (uint32_t)cs->p->payload_len : 0);

		(void)send_seg(cs, f, TH_RST, seq, ctl_tos(f), 0);
	}
	f->state = ST_DONE;
}

uint32_t conn_rcv_window(const struct conn_flow *f)
{
	/* Our SYN offers window scale 7 (send_seg). */
	return f->have_synack && f->synack.tcp.have_wscale ? 502u << 7 : 502u;
}

int rst_acceptable(const struct conn_flow *f, const struct tcp_seg *s)
{
	if (!(s->flags & TH_RST))
		return 0;
	if (!f->have_synack)
		return (s->flags & TH_ACK) && s->ack == f->iss + 1;
	return s->seq - (f->irs + 1) < conn_rcv_window(f);
}

static void on_segment(struct cstate *cs, struct conn_flow *f,
		       const struct pkt_reply *r, int64_t t)
{
	const struct tcp_seg *s = &r->tcp;
	uint32_t data_end = f->iss + 1 + (uint32_t)cs->p->payload_len;

	if ((s->flags & TH_RST) && (f->state == ST_SYN_SENT ||
				    f->state == ST_DATA_SENT ||
				    f->state == ST_RETX_SENT) &&
	    !rst_acceptable(f, s)) {
		f->rst_ignored++;
		return;
	}
	/* The same SYN-ACK again, after our ACK went out (also once the
	 * flow is done: the server's timer and our retransmission race):
	 * the server still waited for the handshake's end. */
	if (f->have_synack && f->state != ST_SYN_SENT &&
	    (s->flags & (TH_SYN | TH_ACK | TH_RST)) == (TH_SYN | TH_ACK) &&
	    s->seq == f->irs && s->ack == f->iss + 1) {
		if (f->synack_retx++ == 0)
			f->t_synack_retx = t;
		return;
	}
	switch (f->state) {
	case ST_SYN_SENT:
		if (s->flags & TH_RST) {
			f->have_rst = 1;
			f->rst = *r;
			f->t_answer = t;
			f->state = ST_DONE;
			return;
		}
		if ((s->flags & (TH_SYN | TH_ACK)) != (TH_SYN | TH_ACK) ||
		    s->ack != f->iss + 1)
			return;
		f->have_synack = 1;
		f->synack = *r;
		f->t_synack = t;
		f->irs = s->seq;
		f->accecn_ace = ((s->flags & TH_AE) ? 4 : 0) |
				((s->flags & TH_CWR) ? 2 : 0) |
				((s->flags & TH_ECE) ? 1 : 0);
		f->data_tos = data_tos(f);
		f->t_ack = now_ns();
		(void)send_seg(cs, f, TH_ACK, f->iss + 1, ctl_tos(f), 0);
		/* The time before sending: an answer's kernel timestamp can
		 * be earlier than our clock read after the send returns. */
		f->t_data = now_ns();
		(void)send_seg(cs, f, TH_ACK, f->iss + 1, f->data_tos, 1);
		f->data_tries = 1;
		f->state = ST_DATA_SENT;
		f->deadline_ns = f->t_data + cs->p->timeout_ns;
		return;
	case ST_DATA_SENT:
	case ST_RETX_SENT:
		if (s->flags & TH_RST) {
			f->have_rst = 1;
			f->rst_after_data = 1;
			f->rst = *r;
			f->t_answer = t;
			finish(cs, f);
			return;
		}
		if ((s->flags & TH_ACK) && !(s->flags & TH_SYN) &&
		    seq_geq(s->ack, data_end)) {
			f->data_acked = 1;
			f->acked_after_retx = f->state == ST_RETX_SENT;
			f->ack = *r;
			f->t_answer = t;
			finish(cs, f);
		}
		return;
	default:
		return;
	}
}

void connect_on_segment(struct engine *e, const struct connect_params *p,
			struct conn_flow *f, const struct pkt_reply *r,
			int64_t t)
{
	struct connect_result res;
	struct cstate cs = { .e = e, .p = p, .r = &res };

	memset(&res, 0, sizeof(res));
	on_segment(&cs, f, r, t);
}

static void on_timeout(struct cstate *cs, struct conn_flow *f, int64_t now)
{
	switch (f->state) {
	case ST_SYN_SENT:
		if (f->syn_tries < SYN_TRIES) {
			/* The same SYN again, as a stack's retransmission. */
			(void)send_seg(cs, f, syn_flags(f), f->iss, syn_tos(f), 0);
			f->syn_tries++;
			f->deadline_ns = now + cs->p->timeout_ns;
		} else {
			f->state = ST_DONE;
		}
		return;
	case ST_DATA_SENT:
		/* RFC 3168 6.1.5: a retransmission goes Not-ECT. */
		f->t_retx = now_ns();
		(void)send_seg(cs, f, TH_ACK, f->iss + 1, ctl_tos(f), 1);
		f->data_tries++;
		f->data_retransmitted = 1;
		f->state = ST_RETX_SENT;
		f->deadline_ns = now + cs->p->timeout_ns;
		return;
	case ST_RETX_SENT:
		finish(cs, f);
		return;
	default:
		return;
	}
}

void connect_on_timeout(struct engine *e, const struct connect_params *p,
			struct conn_flow *f, int64_t now)
{
	struct connect_result res;
	struct cstate cs = { .e = e, .p = p, .r = &res };

	memset(&res, 0, sizeof(res));
	on_timeout(&cs, f, now);
}

static struct conn_flow *flow_of(struct connect_result *r,
				 const struct pkt_reply *rep)
{
	const struct connect_params *p = &r->p;

	if (rep->kind != REPLY_TCP || !addr_eq(&rep->src, &p->dst) ||
	    !addr_eq(&rep->dst, &p->src) || rep->tcp.sport != p->dport)
		return NULL;
	for (size_t i = 0; i < r->nflows; i++)
		if (r->flows[i].sport == rep->tcp.dport)
			return &r->flows[i];
	return NULL;
}

int connect_run(struct engine *e, const struct connect_params *p,
		struct connect_result *r, char *err, size_t errlen)
{
	struct cstate cs = { .e = e, .p = p, .r = r };
	int64_t t0 = now_ns(), gap = (int64_t)(1e9 / (p->rate > 0 ? p->rate : 50));
	int64_t next_tick = t0 + 1000000000LL, next_syn = t0;
	uint64_t sent0 = e->sent, trunc0 = e->truncated;
	int answered = 0, synacked = 0;

	memset(r, 0, sizeof(*r));
	r->p = *p;
	r->nflows = 2 * (size_t)p->nflows;
	if (p->mode == MODE_PLAIN || p->no_controls)
		r->nflows = (size_t)p->nflows;
	r->flows = calloc(r->nflows, sizeof(*r->flows));
	if (r->flows == NULL) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	/* ECN flows and controls alternate in time, so a path change during
	 * the run hits both alike. */
	for (size_t i = 0; i < r->nflows; i++) {
		struct conn_flow *f = &r->flows[i];
		size_t k = i < (size_t)p->nflows ? 2 * i : 2 * (i - (size_t)p->nflows) + 1;

		f->sport = p->sports && i < (size_t)p->nflows ? p->sports[i]
							     : (uint16_t)(p->sport_base + i);
		f->control = i >= (size_t)p->nflows;
		f->mode = f->control ? MODE_PLAIN : p->mode;
		f->iss = random_u32();
		f->start_ns = t0 + (int64_t)k * gap;
		f->accecn_ace = -1;
		f->ip_id = (uint16_t)(random_u32() | 1);
	}
	for (;;) {
		int64_t now = now_ns(), wake = INT64_MAX;
		size_t active = 0;
		struct pkt_reply rep;
		struct conn_flow *rf;
		int64_t t;
		int rc;

		struct conn_flow *due = NULL;

		if (engine_stop) {
			r->interrupted = 1;
			break;
		}
		/* One new flow at a time, in schedule order, at most one per
		 * gap: after we were held up (a busy host), the overdue SYNs
		 * must not leave in a burst. Handshakes overlapping at the
		 * server overflow a short accept queue (a listen backlog of 5),
		 * which then drops the ACK completing a handshake, and the
		 * data with it. */
		for (size_t i = 0; i < r->nflows; i++) {
			struct conn_flow *f = &r->flows[i];

			if (f->state == ST_INIT && now >= f->start_ns &&
			    (due == NULL || f->start_ns < due->start_ns))
				due = f;
		}
		if (due != NULL && now >= next_syn) {
			if (send_seg(&cs, due, syn_flags(due), due->iss,
				     syn_tos(due), 0) < 0) {
				snprintf(err, errlen, "send: %m");
				free(r->flows);
				r->flows = NULL;
				return EX_OSERR;
			}
			due->t_syn = now;
			due->syn_tries = 1;
			due->state = ST_SYN_SENT;
			due->deadline_ns = now + p->timeout_ns;
			next_syn += gap;
			if (next_syn < now)
				next_syn = now + gap;
		}
		for (size_t i = 0; i < r->nflows; i++) {
			struct conn_flow *f = &r->flows[i];

			if (f->state != ST_INIT && f->state != ST_DONE &&
			    f != due && now >= f->deadline_ns)
				on_timeout(&cs, f, now);
			if (f->state == ST_INIT) {
				int64_t go = f->start_ns > next_syn ? f->start_ns
								    : next_syn;

				if (go < wake)
					wake = go;
			}
			if (f->state != ST_INIT && f->state != ST_DONE &&
			    f->deadline_ns < wake)
				wake = f->deadline_ns;
			active += f->state != ST_DONE;
		}
		if (active == 0)
			break;
		if (p->on_tick && now >= next_tick) {
			p->on_tick(NULL, r->nflows - active, r->nflows);
			next_tick = now + 1000000000LL;
		}
		if (p->on_tick && next_tick < wake)
			wake = next_tick;
		rc = engine_recv_reply(e, &rep, &t, wake - now);
		if (rc < 0) {
			snprintf(err, errlen, "receive: %m");
			free(r->flows);
			r->flows = NULL;
			return EX_OSERR;
		}
		if (rc == 0 || (rf = flow_of(r, &rep)) == NULL)
			continue;
		on_segment(&cs, rf, &rep, t);
	}
	/* Interrupted: close whatever is open. */
	for (size_t i = 0; i < r->nflows; i++)
		if (r->flows[i].state != ST_DONE)
			finish(&cs, &r->flows[i]);
	for (size_t i = 0; i < r->nflows; i++) {
		const struct conn_flow *f = &r->flows[i];

		if (!f->control && p->mode != MODE_PLAIN)
			continue;
		answered += f->have_synack || f->have_rst;
		synacked += f->have_synack;
	}
	if (p->mode == MODE_PLAIN || p->no_controls)
		answered = synacked = 1;     /* nothing to compare with */
	for (size_t i = 0; i < r->nflows; i++) {
		struct conn_flow *f = &r->flows[i];

		f->result = conn_classify(f, answered > 0, synacked > 0);
		if (f->control)
			r->control_ok += f->result == CR_OK;
		else
			r->counts[f->result]++;
	}
	r->duration_ns = now_ns() - t0;
	r->sent = e->sent - sent0;
	r->truncated = e->truncated - trunc0;
	return 0;
}

void connect_free(struct connect_result *r)
{
	free(r->flows);
	r->flows = NULL;
}
