/*
 * connect's pure parts: conn_classify() over a table of synthetic flow
 * states (every result), accecn_synack_ecn() for all eight values, the
 * first data segment (HTTP request compared in full, TLS ClientHello
 * parsed and checked field by field), the nftables guard's ruleset text,
 * mode and result names, and the exit code of a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"
#include "connect_out.h"
#include "ecntrace.h"
#include "nftguard.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------- conn_classify */

/* What a flow saw, in the terms of the wire. */
enum answer { NONE, SYN_RST, SYNACK };

struct classify_case {
	const char *name;
	enum conn_mode mode;
	int control;
	enum answer answer;
	uint16_t synack_flags;       /* SYN-ACK's TCP flags, TH_AE included */
	int synack_ttl;
	int rst_after_data, rst_ttl; /* an RST to our data, and its TTL */
	int acked, after_retx;
	uint8_t data_tos;            /* ECN field of the first data segment */
	uint16_t ack_flags;
	int controls_answered, controls_synack;
	enum conn_result want;
};

#define SA 0x12                       /* SYN|ACK */
#define SAE (SA | TH_ECE)             /* 0x52: ECN agreed */
#define SAEC (SA | TH_ECE | TH_CWR)   /* 0xD2: broken reflector */
#define ACK TH_ACK
#define ACKE (TH_ACK | TH_ECE)

static const struct classify_case classify_cases[] = {
	/* No SYN-ACK: judged against what the plain SYNs got. */
	{ "ECN SYN reset, plain SYNs answered with SYN-ACKs", MODE_CLASSIC, 0,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_SYN_ECN_RESET },
	{ "ECN SYN reset, plain SYNs reset too", MODE_CLASSIC, 0,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, CR_REFUSED },
	{ "ECN SYN reset, plain SYNs unanswered", MODE_CLASSIC, 0,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, CR_REFUSED },
	{ "control SYN reset, other controls answered", MODE_PLAIN, 1,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_REFUSED },
	{ "accecn SYN reset, plain SYNs answered", MODE_ACCECN, 0,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_SYN_ECN_RESET },
	{ "ECN SYN unanswered, plain SYNs answered", MODE_CLASSIC, 0,
	  NONE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_SYN_ECN_DROPPED },
	{ "ECN SYN unanswered, plain SYNs only reset", MODE_CLASSIC, 0,
	  NONE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, CR_SYN_ECN_DROPPED },
	{ "ECN SYN unanswered, plain SYNs unanswered", MODE_CLASSIC, 0,
	  NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, CR_NO_ANSWER },
	{ "control unanswered, other controls answered", MODE_PLAIN, 1,
	  NONE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_NO_ANSWER },
	/* --mode plain sends no ECN SYN: its flows can't lose one. connect_run
	 * passes 1, 1 for plain runs ("nothing to compare with"). */
	{ "plain mode flow unanswered", MODE_PLAIN, 0,
	  NONE, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_NO_ANSWER },
	{ "plain mode flow's SYN reset", MODE_PLAIN, 0,
	  SYN_RST, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, CR_REFUSED },

	/* The handshake's verdict, data acknowledged at once. */
	{ "SYN-ACK 0x52, ECT(0) data acked", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_ECT0, ACK, 1, 1, CR_OK },
	{ "SYN-ACK 0x12: ECN declined", MODE_CLASSIC, 0,
	  SYNACK, SA, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACK, 1, 1, CR_ECN_DECLINED },
	{ "SYN-ACK 0xD2: broken reflector", MODE_CLASSIC, 0,
	  SYNACK, SAEC, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACK, 1, 1,
	  CR_BROKEN_REFLECTOR },
	{ "SYN-ACK 0xD2 with an ECE ack is still a broken reflector",
	  MODE_CLASSIC, 0,
	  SYNACK, SAEC, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACKE, 1, 1,
	  CR_BROKEN_REFLECTOR },
	{ "control, SYN-ACK 0x12, data acked", MODE_PLAIN, 1,
	  SYNACK, SA, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACK, 1, 1, CR_OK },
	{ "control with an ECE ack is ok", MODE_PLAIN, 1,
	  SYNACK, SA, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACKE, 1, 1, CR_OK },
	{ "plain mode flow, SYN-ACK 0x12", MODE_PLAIN, 0,
	  SYNACK, SA, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACK, 1, 1, CR_OK },

	/* Data lost once, Not-ECT retransmission acknowledged. */
	{ "ECT(0) data lost, Not-ECT retransmission acked", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 1, ECN_ECT0, ACK, 1, 1, CR_ECT_DATA_LOST },
	{ "ECT(1) data lost (l4s), retransmission acked", MODE_L4S, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 1, ECN_ECT1, ACK, 1, 1, CR_ECT_DATA_LOST },
	{ "CE data lost (ce mode), retransmission acked", MODE_CE, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 1, ECN_CE, ACKE, 1, 1, CR_ECT_DATA_LOST },
	{ "control's Not-ECT data lost once: plain loss", MODE_PLAIN, 1,
	  SYNACK, SA, 61, 0, 0, 1, 1, ECN_NOT_ECT, ACK, 1, 1, CR_OK },
	{ "declined, Not-ECT data lost once: still declined", MODE_CLASSIC, 0,
	  SYNACK, SA, 61, 0, 0, 1, 1, ECN_NOT_ECT, ACK, 1, 1, CR_ECN_DECLINED },

	/* Data never acknowledged, or reset. */
	{ "data and retransmission unacked", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 0, 0, 0, 0, ECN_ECT0, 0, 1, 1, CR_DATA_UNACKED },
	{ "control's data unacked", MODE_PLAIN, 1,
	  SYNACK, SA, 61, 0, 0, 0, 0, ECN_NOT_ECT, 0, 1, 1, CR_DATA_UNACKED },
	{ "RST to data, same TTL as SYN-ACK", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 1, 61, 0, 0, ECN_ECT0, 0, 1, 1, CR_RESET_SAME },
	{ "RST to data, TTL 60 vs SYN-ACK 61 (the story)", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 1, 60, 0, 0, ECN_ECT0, 0, 1, 1, CR_RESET_OTHER },
	{ "RST to data, TTL 62 vs SYN-ACK 61", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 1, 62, 0, 0, ECN_ECT0, 0, 1, 1, CR_RESET_OTHER },
	{ "RST to data beats a declining SYN-ACK", MODE_CLASSIC, 0,
	  SYNACK, SA, 61, 1, 60, 0, 0, ECN_NOT_ECT, 0, 1, 1, CR_RESET_OTHER },
	{ "control reset by another endpoint (per-packet balancing)",
	  MODE_PLAIN, 1,
	  SYNACK, SA, 61, 1, 60, 0, 0, ECN_NOT_ECT, 0, 1, 1, CR_RESET_OTHER },

	/* ECE in the ACK of our data. */
	{ "classic: ECT(0) data acked with ECE: CE on the way", MODE_CLASSIC, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_ECT0, ACKE, 1, 1, CR_CE_MARKED },
	{ "l4s: ECT(1) data acked with ECE", MODE_L4S, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_ECT1, ACKE, 1, 1, CR_CE_MARKED },
	{ "l4s: ECT(1) data acked without ECE", MODE_L4S, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_ECT1, ACK, 1, 1, CR_OK },
	{ "ce mode: CE data echoed with ECE", MODE_CE, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_CE, ACKE, 1, 1, CR_OK },
	{ "ce mode: CE data acked without ECE: bleached", MODE_CE, 0,
	  SYNACK, SAE, 61, 0, 0, 1, 0, ECN_CE, ACK, 1, 1, CR_ECN_BLEACHED },
	{ "ce mode, server declined: declined, not bleached", MODE_CE, 0,
	  SYNACK, SA, 61, 0, 0, 1, 0, ECN_NOT_ECT, ACK, 1, 1, CR_ECN_DECLINED },
};

static void fill_flow(struct conn_flow *f, const struct classify_case *c)
{
	memset(f, 0, sizeof(*f));
	f->sport = 40000;
	f->mode = c->mode;
	f->control = c->control;
	f->accecn_ace = -1;
	if (c->answer == SYN_RST) {
		f->have_rst = 1;
		f->rst.ttl = 61;
		f->rst.tcp.flags = TH_RST | TH_ACK;
		return;
	}
	if (c->answer == NONE)
		return;
	f->have_synack = 1;
	f->synack.ttl = (uint8_t)c->synack_ttl;
	f->synack.tcp.flags = c->synack_flags;
	f->data_tos = c->data_tos;
	if (c->rst_after_data) {
		f->have_rst = 1;
		f->rst_after_data = 1;
		f->rst.ttl = (uint8_t)c->rst_ttl;
		f->rst.tcp.flags = TH_RST;
	}
	if (c->acked) {
		f->data_acked = 1;
		f->acked_after_retx = c->after_retx;
		f->ack.ttl = (uint8_t)c->synack_ttl;
		f->ack.tcp.flags = c->ack_flags;
	}
}

static void test_classify_table(void **state)
{
	int seen[CR_COUNT] = { 0 };

	for (size_t i = 0; i < N(classify_cases); i++) {
		const struct classify_case *c = &classify_cases[i];
		struct conn_flow f;
		enum conn_result got;

		fill_flow(&f, c);
		got = conn_classify(&f, c->controls_answered, c->controls_synack);
		if (got != c->want)
			fail_msg("%s: got %s, want %s", c->name,
				 conn_result_name(got), conn_result_name(c->want));
		seen[got]++;
	}
	/* AccECN's results are in the next test; everything else is here. */
	for (int k = 0; k < CR_COUNT; k++)
		if (!seen[k])
			fail_msg("no case gives %s", conn_result_name(k));
}

/* AccECN: the SYN-ACK's (AE,CWR,ECE) tells what our ECT(0) SYN arrived
 * as. 001 means a classic-only server: judged as classic ECN. */
static void test_classify_accecn(void **state)
{
	static const struct {
		int ace;
		uint16_t ack_flags;
		enum conn_result want;
	} t[] = {
		{ 0, ACK, CR_ECN_DECLINED },      /* 000: no ECN */
		{ 1, ACK, CR_OK },                /* 001: classic, no CE */
		{ 1, ACKE, CR_CE_MARKED },        /* 001: classic, ECE echoed */
		{ 2, ACK, CR_ECN_BLEACHED },      /* 010: arrived Not-ECT */
		{ 3, ACK, CR_OK },                /* 011: arrived ECT(1) */
		{ 4, ACK, CR_OK },                /* 100: arrived ECT(0) */
		{ 4, ACKE, CR_OK },               /* ECE is a counter bit here */
		{ 5, ACK, CR_BROKEN_REFLECTOR },  /* 101: reserved */
		{ 6, ACK, CR_CE_MARKED },         /* 110: arrived CE */
		{ 7, ACK, CR_BROKEN_REFLECTOR },  /* 111: broken */
	};

	for (size_t i = 0; i < N(t); i++) {
		struct conn_flow f;
		enum conn_result got;
		int ace = t[i].ace;

		memset(&f, 0, sizeof(f));
		f.mode = MODE_ACCECN;
		f.have_synack = 1;
		f.synack.ttl = 61;
		/* The SYN-ACK's flags as connect_run() derives ace from. */
		f.synack.tcp.flags = SA | ((ace & 4) ? TH_AE : 0) |
				     ((ace & 2) ? TH_CWR : 0) |
				     ((ace & 1) ? TH_ECE : 0);
		f.accecn_ace = ace;
		f.data_tos = (ace == 0 || ace == 7) ? ECN_NOT_ECT : ECN_ECT0;
		f.data_acked = 1;
		f.ack.tcp.flags = t[i].ack_flags;
		got = conn_classify(&f, 1, 1);
		if (got != t[i].want)
			fail_msg("accecn ace %d%d%d ack %#x: got %s, want %s",
				 (ace >> 2) & 1, (ace >> 1) & 1, ace & 1,
				 t[i].ack_flags, conn_result_name(got),
				 conn_result_name(t[i].want));
	}
}

static void test_accecn_synack_ecn(void **state)
{
	/* RFC 9768 table 2, (AE,CWR,ECE) of the SYN-ACK. */
	static const int want[8] = {
		-1,            /* 000 no ECN */
		-2,            /* 001 classic ECN only */
		ECN_NOT_ECT,   /* 010 */
		ECN_ECT1,      /* 011 */
		ECN_ECT0,      /* 100 */
		-3,            /* 101 reserved */
		ECN_CE,        /* 110 */
		-3,            /* 111 broken */
	};

	for (int ace = 0; ace < 8; ace++)
		if (accecn_synack_ecn(ace) != want[ace])
			fail_msg("accecn_synack_ecn(%d) = %d, want %d", ace,
				 accecn_synack_ecn(ace), want[ace]);
	assert_int_equal(ECN_NOT_ECT, 0);
	assert_int_equal(ECN_ECT1, 1);
	assert_int_equal(ECN_ECT0, 2);
	assert_int_equal(ECN_CE, 3);
}

/* ------------------------------------------- RST acceptance, RFC 5961 */

static struct tcp_seg seg(uint16_t flags, uint32_t seq, uint32_t ack)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.sport = 80;
	s.dport = 40000;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	return s;
}

static void test_rst_acceptable(void **state)
{
	struct conn_flow f;
	struct tcp_seg s;

	memset(&f, 0, sizeof(f));
	f.iss = 1000;
	/* SYN-SENT: only an RST that acknowledges our SYN. */
	s = seg(TH_RST | TH_ACK, 0, 1001);
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST | TH_ACK, 0, 1000);
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_RST | TH_ACK, 0, 1002);
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_RST, 0, 1001);              /* no ACK: RFC 9293 drops it */
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_ACK, 0, 1001);              /* not an RST at all */
	assert_false(rst_acceptable(&f, &s));
	f.iss = 0xffffffffu;                   /* iss + 1 wraps to 0 */
	s = seg(TH_RST | TH_ACK, 0, 0);
	assert_true(rst_acceptable(&f, &s));

	/* After the SYN-ACK: sequence number in [irs + 1, + window). */
	f.iss = 1000;
	f.have_synack = 1;
	f.irs = 5000;
	f.synack.tcp.have_wscale = 1;
	assert_int_equal(conn_rcv_window(&f), 502u << 7);
	s = seg(TH_RST, 5001, 0);              /* a stateless host's answer */
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST | TH_ACK, 5001, 1098);
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST, 5001 + (502u << 7) - 1, 0);
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST, 5001 + (502u << 7), 0);
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_RST, 5000, 0);              /* the SYN-ACK's own number */
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_RST, 1001, 0);              /* our number, not theirs */
	assert_false(rst_acceptable(&f, &s));
	s = seg(TH_RST, 5001 - 0x40000000u, 0);
	assert_false(rst_acceptable(&f, &s));
	/* No window scaling agreed: 502 bytes. */
	f.synack.tcp.have_wscale = 0;
	assert_int_equal(conn_rcv_window(&f), 502);
	s = seg(TH_RST, 5001 + 501, 0);
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST, 5001 + 502, 0);
	assert_false(rst_acceptable(&f, &s));
	/* rcv.nxt wraps. */
	f.irs = 0xffffffffu;
	s = seg(TH_RST, 0, 0);
	assert_true(rst_acceptable(&f, &s));
	s = seg(TH_RST, 0xffffffffu, 0);
	assert_false(rst_acceptable(&f, &s));
}

/* ------------------------------------------------ the state machine */

/* An engine without sockets: what the replay sends fails, as if lost. */
static void replay_setup(struct engine *e, struct connect_params *p,
			 struct conn_flow *f, int control)
{
	assert_int_equal(engine_init(e, AF_INET), 0);
	memset(p, 0, sizeof(*p));
	p->src.family = p->dst.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.100", &p->src.u.v4), 1);
	assert_int_equal(inet_pton(AF_INET, "203.0.113.80", &p->dst.u.v4), 1);
	p->dport = 80;
	p->payload = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
	p->payload_len = 18;
	p->timeout_ns = 1000000000;
	memset(f, 0, sizeof(*f));
	f->sport = 40000;
	f->control = control;
	f->mode = control ? MODE_PLAIN : MODE_CLASSIC;
	f->iss = 0x10000000u;
	f->state = ST_SYN_SENT;
	f->syn_tries = 1;
	f->accecn_ace = -1;
}

static struct pkt_reply tcp_in(uint16_t flags, uint32_t seq, uint32_t ack,
			       uint8_t ttl)
{
	struct pkt_reply r;

	memset(&r, 0, sizeof(r));
	r.kind = REPLY_TCP;
	r.proto = IPPROTO_TCP;
	r.ttl = ttl;
	r.tcp = seg(flags, seq, ack);
	r.tcp.window = 64240;
	return r;
}

#define IRS 0x20000000u

/* Forged RSTs are ignored and counted; the real one still counts. */
static void test_replay_rsts(void **state)
{
	struct engine e;
	struct connect_params p;
	struct conn_flow f;
	struct pkt_reply r;

	replay_setup(&e, &p, &f, 0);
	/* SYN-SENT: an RST whose ACK is not iss + 1, one without ACK. */
	r = tcp_in(TH_RST | TH_ACK, 0, f.iss + 2, 61);
	connect_on_segment(&e, &p, &f, &r, 1);
	r = tcp_in(TH_RST, f.iss + 1, 0, 61);
	connect_on_segment(&e, &p, &f, &r, 2);
	assert_int_equal(f.rst_ignored, 2);
	assert_false(f.have_rst);
	assert_int_equal(f.state, ST_SYN_SENT);
	/* The SYN-ACK: ACK and data go out. */
	r = tcp_in(TH_SYN | TH_ACK | TH_ECE, IRS, f.iss + 1, 61);
	r.tcp.have_wscale = 1;
	connect_on_segment(&e, &p, &f, &r, 3);
	assert_true(f.have_synack);
	assert_int_equal(f.irs, IRS);
	assert_int_equal(f.state, ST_DATA_SENT);
	assert_int_equal(f.data_tos, ECN_ECT0);
	/* After it: out of the window, or the SYN-ACK's own number. */
	r = tcp_in(TH_RST, IRS + 1 + (502u << 7), 0, 60);
	connect_on_segment(&e, &p, &f, &r, 4);
	r = tcp_in(TH_RST, IRS, 0, 60);
	connect_on_segment(&e, &p, &f, &r, 5);
	assert_int_equal(f.rst_ignored, 4);
	assert_false(f.have_rst);
	assert_int_equal(f.state, ST_DATA_SENT);
	/* The stateless host's RST to our data: seq = our ACK number. */
	r = tcp_in(TH_RST, IRS + 1, 0, 60);
	connect_on_segment(&e, &p, &f, &r, 6);
	assert_true(f.have_rst);
	assert_true(f.rst_after_data);
	assert_int_equal(f.state, ST_DONE);
	assert_int_equal(f.rst_ignored, 4);
	assert_int_equal(conn_classify(&f, 1, 1), CR_RESET_OTHER);
	engine_close(&e);

	/* A real RST|ACK to the SYN is taken. */
	replay_setup(&e, &p, &f, 0);
	r = tcp_in(TH_RST | TH_ACK, 0, f.iss + 1, 61);
	connect_on_segment(&e, &p, &f, &r, 1);
	assert_true(f.have_rst);
	assert_int_equal(f.rst_ignored, 0);
	assert_int_equal(f.state, ST_DONE);
	engine_close(&e);
}

/*
 * A server whose full accept queue dropped the ACK ending the handshake,
 * and the data with it: it sends its SYN-ACK again, our data goes again
 * Not-ECT and is acknowledged. ECN flow and control see the same, and
 * their flows say so alike (data_retransmitted, acked_after_retx,
 * synack_retx); only the result differs, for the judge to weigh.
 */
static void test_replay_retransmission(void **state)
{
	for (int control = 0; control <= 1; control++) {
		struct engine e;
		struct connect_params p;
		struct conn_flow f;
		struct pkt_reply r;
		uint32_t end;

		replay_setup(&e, &p, &f, control);
		end = f.iss + 1 + (uint32_t)p.payload_len;
		r = tcp_in(TH_SYN | TH_ACK | (control ? 0 : TH_ECE), IRS,
			   f.iss + 1, 61);
		connect_on_segment(&e, &p, &f, &r, 10);
		assert_int_equal(f.state, ST_DATA_SENT);
		assert_false(f.data_retransmitted);
		/* The SYN-ACK again, 1 s on; a SYN-ACK of another ISN is not
		 * the same one. */
		connect_on_segment(&e, &p, &f, &r, 1000000010);
		r.tcp.seq = IRS + 7;
		connect_on_segment(&e, &p, &f, &r, 1000000011);
		assert_int_equal(f.synack_retx, 1);
		assert_int_equal(f.t_synack_retx, 1000000010);
		assert_int_equal(f.state, ST_DATA_SENT);
		assert_false(f.data_acked);
		/* Our wait ends: the data again, Not-ECT. */
		connect_on_timeout(&e, &p, &f, 1000000020);
		assert_int_equal(f.state, ST_RETX_SENT);
		assert_true(f.data_retransmitted);
		assert_int_equal(f.data_tries, 2);
		r = tcp_in(TH_ACK, IRS + 1, end, 61);
		connect_on_segment(&e, &p, &f, &r, 1000000030);
		assert_true(f.data_acked);
		assert_true(f.acked_after_retx);
		assert_int_equal(f.state, ST_DONE);
		/* The server's timer fires as our resend arrives: its SYN-ACK
		 * comes after the flow is done, and still counts. */
		r = tcp_in(TH_SYN | TH_ACK | (control ? 0 : TH_ECE), IRS,
			   f.iss + 1, 61);
		connect_on_segment(&e, &p, &f, &r, 1000000040);
		assert_int_equal(f.synack_retx, 2);
		assert_int_equal(f.t_synack_retx, 1000000010);
		assert_int_equal(conn_classify(&f, 1, 1),
				 control ? CR_OK : CR_ECT_DATA_LOST);
		engine_close(&e);
	}
	/* Acknowledged at once: nothing retransmitted, nothing flagged. */
	{
		struct engine e;
		struct connect_params p;
		struct conn_flow f;
		struct pkt_reply r;

		replay_setup(&e, &p, &f, 1);
		r = tcp_in(TH_SYN | TH_ACK, IRS, f.iss + 1, 61);
		connect_on_segment(&e, &p, &f, &r, 10);
		r = tcp_in(TH_ACK, IRS + 1, f.iss + 1 + (uint32_t)p.payload_len, 61);
		connect_on_segment(&e, &p, &f, &r, 20);
		assert_true(f.data_acked);
		assert_false(f.acked_after_retx);
		assert_false(f.data_retransmitted);
		assert_int_equal(f.synack_retx, 0);
		engine_close(&e);
	}
}

/* ------------------------------------------------------ client_payload */

static void test_payload_http(void **state)
{
	static const char want[] =
		"GET / HTTP/1.1\r\n"
		"Host: www.example.com\r\n"
		"User-Agent: ecntrace\r\n"
		"Accept: */*\r\n"
		"Connection: close\r\n"
		"\r\n";
	uint8_t buf[512];
	size_t n;

	memset(buf, 0xee, sizeof(buf));
	n = client_payload(80, "www.example.com", buf, sizeof(buf));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, strlen(want));

	memset(buf, 0xee, sizeof(buf));
	n = client_payload(8080, "www.example.com", buf, sizeof(buf));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, strlen(want));

	/* An address as the host: IPv4 as it is, IPv6 in brackets. */
	{
		static const char v4[] =
			"GET / HTTP/1.1\r\nHost: 203.0.113.80\r\n"
			"User-Agent: ecntrace\r\nAccept: */*\r\n"
			"Connection: close\r\n\r\n";
		static const char v6[] =
			"GET / HTTP/1.1\r\nHost: [2001:db8:80::80]\r\n"
			"User-Agent: ecntrace\r\nAccept: */*\r\n"
			"Connection: close\r\n\r\n";

		n = client_payload(80, "203.0.113.80", buf, sizeof(buf));
		assert_int_equal(n, strlen(v4));
		assert_memory_equal(buf, v4, strlen(v4));
		n = client_payload(80, "2001:db8:80::80", buf, sizeof(buf));
		assert_int_equal(n, strlen(v6));
		assert_memory_equal(buf, v6, strlen(v6));
	}

	/* Other ports: one line of text. */
	n = client_payload(25, "www.example.com", buf, sizeof(buf));
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "ecntrace\r\n", 10);

	/* A buffer too small by one (no room for snprintf's NUL) gives 0,
	 * never a truncated request. */
	assert_int_equal(client_payload(80, "www.example.com", buf,
					strlen(want)), 0);
	assert_int_equal(client_payload(80, "www.example.com", buf,
					strlen(want) + 1), strlen(want));
	assert_int_equal(client_payload(25, "x", buf, 10), 0);
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static unsigned be24(const uint8_t *p)
{
	return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

/* Walk a ClientHello record; fail on any inconsistent length. Returns the
 * SNI host name found (into sni), "" if none. */
static void check_client_hello(const uint8_t *b, size_t n, char *sni,
			       size_t snilen)
{
	size_t p, end, ext_end;

	sni[0] = '\0';
	assert_true(n >= 5 + 4 + 2 + 32 + 1);
	assert_int_equal(b[0], 0x16);                  /* handshake record */
	assert_int_equal(be16(b + 1), 0x0301);
	assert_int_equal(be16(b + 3), n - 5);          /* record length */
	assert_int_equal(b[5], 0x01);                  /* ClientHello */
	assert_int_equal(be24(b + 6), n - 9);          /* handshake length */
	assert_int_equal(be16(b + 9), 0x0303);         /* TLS 1.2 */
	p = 9 + 2 + 32;
	assert_true(p + 1 + b[p] <= n);
	p += 1 + b[p];                                 /* session id */
	assert_true(p + 2 <= n);
	{
		unsigned sl = be16(b + p);

		assert_true(sl >= 2 && sl % 2 == 0);
		assert_true(p + 2 + sl <= n);
		/* Suites a TLS 1.3 server takes: TLS_AES_128_GCM_SHA256. */
		assert_int_equal(be16(b + p + 2), 0x1301);
		p += 2 + sl;
	}
	assert_true(p + 2 <= n);
	assert_int_equal(b[p], 1);                     /* one method */
	assert_int_equal(b[p + 1], 0);                 /* null */
	p += 2;
	assert_true(p + 2 <= n);
	ext_end = p + 2 + be16(b + p);
	assert_int_equal(ext_end, n);                  /* extensions fill it */
	p += 2;
	while (p < ext_end) {
		unsigned type, len;

		assert_true(p + 4 <= ext_end);
		type = be16(b + p);
		len = be16(b + p + 2);
		p += 4;
		assert_true(p + len <= ext_end);
		if (type == 0) {                       /* server_name */
			size_t q = p, l;

			assert_true(len >= 5);
			assert_int_equal(be16(b + q), len - 2);
			assert_int_equal(b[q + 2], 0); /* host_name */
			l = be16(b + q + 3);
			assert_int_equal(l, len - 5);
			assert_true(l < snilen);
			memcpy(sni, b + q + 5, l);
			sni[l] = '\0';
		}
		p += len;
	}
	end = p;
	assert_int_equal(end, n);
}

static void test_payload_tls(void **state)
{
	uint8_t buf[1024];
	char sni[256], host[256];
	size_t n;

	memset(buf, 0xee, sizeof(buf));
	n = client_payload(443, "www.example.com", buf, sizeof(buf));
	assert_true(n > 0 && n < sizeof(buf));
	check_client_hello(buf, n, sni, sizeof(sni));
	assert_string_equal(sni, "www.example.com");

	/* The longest name that still gets an SNI, and one too long for it:
	 * the hello stays well-formed either way. */
	memset(host, 'a', 200);
	host[200] = '\0';
	n = client_payload(443, host, buf, sizeof(buf));
	assert_true(n > 0);
	check_client_hello(buf, n, sni, sizeof(sni));
	assert_string_equal(sni, host);
	memset(host, 'b', 201);
	host[201] = '\0';
	n = client_payload(443, host, buf, sizeof(buf));
	assert_true(n > 0);
	check_client_hello(buf, n, sni, sizeof(sni));
	assert_string_equal(sni, "");

	/* Addresses are no server names (RFC 6066 3): no SNI for them. */
	n = client_payload(443, "203.0.113.80", buf, sizeof(buf));
	assert_true(n > 0);
	check_client_hello(buf, n, sni, sizeof(sni));
	assert_string_equal(sni, "");
	n = client_payload(443, "2001:db8:80::80", buf, sizeof(buf));
	assert_true(n > 0);
	check_client_hello(buf, n, sni, sizeof(sni));
	assert_string_equal(sni, "");

	/* Too small a buffer: nothing, not half a record. */
	n = client_payload(443, "www.example.com", buf, sizeof(buf));
	assert_int_equal(client_payload(443, "www.example.com", buf, n - 1), 0);
	assert_int_equal(client_payload(443, "www.example.com", buf, n), n);
}

/* ---------------------------------------------------------- nft guard */

static void test_nft_ruleset(void **state)
{
	struct addr a4 = { .family = AF_INET }, a6 = { .family = AF_INET6 };
	char buf[512];
	static const char want4[] =
		"table inet ecntrace_4242 {\n"
		"  chain in {\n"
		"    type filter hook prerouting priority -300; policy accept;\n"
		"    ip saddr 203.0.113.80 tcp sport 80 tcp dport 40000-40019 drop\n"
		"  }\n"
		"}\n";
	static const char want6[] =
		"table inet ecntrace_7 {\n"
		"  chain in {\n"
		"    type filter hook prerouting priority -300; policy accept;\n"
		"    ip6 saddr 2001:db8:80::80 tcp sport 443 tcp dport 65535-65535 drop\n"
		"  }\n"
		"}\n";

	assert_int_equal(inet_pton(AF_INET, "203.0.113.80", &a4.u.v4), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:80::80", &a6.u.v6), 1);
	assert_int_equal(nftg_ruleset(buf, sizeof(buf), "ecntrace_4242", &a4,
				      80, 40000, 40019), 0);
	assert_string_equal(buf, want4);
	assert_int_equal(nftg_ruleset(buf, sizeof(buf), "ecntrace_7", &a6,
				      443, 65535, 65535), 0);
	assert_string_equal(buf, want6);
	/* A buffer one byte short is an error, never a truncated rule. */
	assert_int_equal(nftg_ruleset(buf, strlen(want6), "ecntrace_7", &a6,
				      443, 65535, 65535), -1);
	assert_int_equal(nftg_ruleset(buf, strlen(want6) + 1, "ecntrace_7",
				      &a6, 443, 65535, 65535), 0);
	assert_string_equal(NFTG_PREFIX, "ecntrace_");
}

/* ------------------------------------------------------ names and codes */

static void test_mode_names(void **state)
{
	static const struct { const char *s; int m; } t[] = {
		{ "classic", MODE_CLASSIC }, { "accecn", MODE_ACCECN },
		{ "l4s", MODE_L4S }, { "ce", MODE_CE }, { "plain", MODE_PLAIN },
		{ "all-ect", MODE_ALL_ECT },
	};
	static const char *const bad[] = {
		"", "Classic", "CLASSIC", "classic ", " ce", "l4", "l4s1",
		"plainx", "accECN", "0", "none", "ect0", "all_ect", "allect",
	};

	for (size_t i = 0; i < N(t); i++) {
		assert_int_equal(conn_mode_parse(t[i].s), t[i].m);
		assert_string_equal(conn_mode_name((enum conn_mode)t[i].m), t[i].s);
	}
	for (size_t i = 0; i < N(bad); i++)
		if (conn_mode_parse(bad[i]) != -1)
			fail_msg("conn_mode_parse('%s') = %d, want -1", bad[i],
				 conn_mode_parse(bad[i]));
	assert_string_equal(conn_mode_name(MODE_COUNT), "?");
}

static void test_result_names(void **state)
{
	/* The JSON "result" values: a public interface, so spelled out. */
	static const char *const want[CR_COUNT] = {
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

	assert_int_equal(CR_COUNT, 13);
	for (int k = 0; k < CR_COUNT; k++) {
		assert_non_null(want[k]);
		assert_string_equal(conn_result_name((enum conn_result)k), want[k]);
	}
	assert_string_equal(conn_result_name(CR_COUNT), "?");
}

static void test_is_failure(void **state)
{
	/* Results that break the connection, and those that only tell how
	 * ECN fared on a connection that works. */
	static const int broken[CR_COUNT] = {
		[CR_RESET_OTHER] = 1, [CR_RESET_SAME] = 1,
		[CR_ECT_DATA_LOST] = 1, [CR_DATA_UNACKED] = 1,
		[CR_SYN_ECN_RESET] = 1, [CR_SYN_ECN_DROPPED] = 1,
		[CR_REFUSED] = 1, [CR_NO_ANSWER] = 1,
	};

	for (int k = 0; k < CR_COUNT; k++)
		if (connect_is_failure((enum conn_result)k) != broken[k])
			fail_msg("connect_is_failure(%s) = %d, want %d",
				 conn_result_name(k),
				 connect_is_failure((enum conn_result)k), broken[k]);
}

/* A run of nflows ECN flows with results ecn[], then as many controls
 * with results ctl[] (none in plain mode). */
static int exit_code_of(enum conn_mode mode, int nflows,
			const enum conn_result *ecn, const enum conn_result *ctl)
{
	struct conn_flow flows[16];
	struct connect_result r;
	size_t n = 0;

	memset(&r, 0, sizeof(r));
	memset(flows, 0, sizeof(flows));
	r.p.mode = mode;
	r.p.nflows = nflows;
	for (int i = 0; i < nflows; i++) {
		flows[n].mode = mode;
		flows[n].result = ecn[i];
		r.counts[ecn[i]]++;
		n++;
	}
	if (mode != MODE_PLAIN)
		for (int i = 0; i < nflows; i++) {
			flows[n].mode = MODE_PLAIN;
			flows[n].control = 1;
			flows[n].result = ctl[i];
			r.control_ok += ctl[i] == CR_OK;
			n++;
		}
	r.flows = flows;
	r.nflows = n;
	return connect_exit_code(&r);
}

static void test_exit_code(void **state)
{
	const enum conn_result ok3[3] = { CR_OK, CR_OK, CR_OK };

	assert_int_equal(exit_code_of(MODE_CLASSIC, 3, ok3, ok3), EXIT_HEALTHY);
	/* Every result, as the one odd ECN flow beside working controls. */
	for (int k = 0; k < CR_COUNT; k++) {
		enum conn_result e[3] = { CR_OK, (enum conn_result)k, CR_OK };
		int want = connect_is_failure(k) ? EXIT_BROKEN : EXIT_HEALTHY;
		int got = exit_code_of(MODE_CLASSIC, 3, e, ok3);

		if (got != want)
			fail_msg("one %s flow, controls ok: exit %d, want %d",
				 conn_result_name(k), got, want);
	}
	/* The story: half the ECN flows reset, every control works. */
	{
		const enum conn_result e[4] = { CR_RESET_OTHER, CR_OK,
						CR_RESET_OTHER, CR_OK };
		const enum conn_result c[4] = { CR_OK, CR_OK, CR_OK, CR_OK };

		assert_int_equal(exit_code_of(MODE_CLASSIC, 4, e, c), EXIT_BROKEN);
	}
	/* One control failing makes any run inconclusive. */
	{
		const enum conn_result c[3] = { CR_OK, CR_NO_ANSWER, CR_OK };
		const enum conn_result e[3] = { CR_RESET_OTHER, CR_OK, CR_OK };

		assert_int_equal(exit_code_of(MODE_CLASSIC, 3, ok3, c),
				 EXIT_INCONCLUSIVE);
		assert_int_equal(exit_code_of(MODE_CLASSIC, 3, e, c),
				 EXIT_INCONCLUSIVE);
		assert_int_equal(exit_code_of(MODE_ACCECN, 3, e, c),
				 EXIT_INCONCLUSIVE);
	}
	/* Plain mode has no controls: its own flows decide. */
	{
		const enum conn_result e[2] = { CR_OK, CR_RESET_OTHER };
		const enum conn_result d[2] = { CR_OK, CR_ECN_DECLINED };

		assert_int_equal(exit_code_of(MODE_PLAIN, 2, ok3, NULL),
				 EXIT_HEALTHY);
		assert_int_equal(exit_code_of(MODE_PLAIN, 2, e, NULL),
				 EXIT_BROKEN);
		assert_int_equal(exit_code_of(MODE_PLAIN, 2, d, NULL),
				 EXIT_HEALTHY);
	}
	assert_int_equal(EXIT_HEALTHY, 0);
	assert_int_equal(EXIT_BROKEN, 1);
	assert_int_equal(EXIT_INCONCLUSIVE, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_accecn),
		cmocka_unit_test(test_accecn_synack_ecn),
		cmocka_unit_test(test_rst_acceptable),
		cmocka_unit_test(test_replay_rsts),
		cmocka_unit_test(test_replay_retransmission),
		cmocka_unit_test(test_payload_http),
		cmocka_unit_test(test_payload_tls),
		cmocka_unit_test(test_nft_ruleset),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_is_failure),
		cmocka_unit_test(test_exit_code),
	};

	return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
