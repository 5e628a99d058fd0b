/*
 * connect: replay a real ECN connection in userspace over raw sockets, so
 * that every ECN bit is ours to choose: the RFC 3168 handshake (SYN with
 * ECE+CWR, Not-ECT), the third ACK (Not-ECT), then a first data segment
 * like a real client's marked ECT(0); if it is never acknowledged, a
 * Not-ECT retransmission. Control flows do the same without ECN. Every
 * connection is closed with an RST so no server keeps state.
 */
#ifndef ECNTRACE_CONNECT_H
#define ECNTRACE_CONNECT_H

#include "engine.h"

enum conn_mode {
	MODE_CLASSIC = 0,            /* RFC 3168, ECT(0) data */
	MODE_ACCECN,                 /* RFC 9768 SYN, marked ECT(0) */
	MODE_L4S,                    /* classic setup, ECT(1) data */
	MODE_CE,                     /* classic setup, CE-marked data */
	MODE_PLAIN,                  /* no ECN */
	MODE_ALL_ECT,                /* classic setup, every segment ECT(0),
				      * the SYN included: a path that depends
				      * on ECN keeps the whole connection on
				      * one branch */
	MODE_COUNT
};

enum conn_result {
	CR_OK = 0,
	CR_RESET_OTHER,              /* RST from another machine */
	CR_RESET_SAME,               /* RST from the SYN-ACK's machine */
	CR_ECT_DATA_LOST,            /* ECT data lost, Not-ECT retransmission acked */
	CR_DATA_UNACKED,             /* data never acknowledged */
	CR_SYN_ECN_RESET,            /* ECN-setup SYN reset, plain SYN works */
	CR_SYN_ECN_DROPPED,          /* ECN-setup SYN unanswered, plain SYN works */
	CR_ECN_DECLINED,             /* SYN-ACK without ECE */
	CR_BROKEN_REFLECTOR,         /* SYN-ACK with ECE+CWR */
	CR_CE_MARKED,                /* ECT data acknowledged with ECE: CE on the way */
	CR_ECN_BLEACHED,             /* the server saw our ECN field cleared */
	CR_REFUSED,                  /* every SYN, ECN or not, reset */
	CR_NO_ANSWER,                /* nothing at all */
	CR_COUNT
};

/* Where a flow is (conn_flow.state). */
enum conn_state {
	ST_INIT = 0,                 /* SYN not yet sent */
	ST_SYN_SENT,
	ST_DATA_SENT,                /* SYN-ACK in, ACK and first data sent */
	ST_RETX_SENT,                /* the data resent Not-ECT */
	ST_DONE,
};

struct conn_flow {
	uint16_t sport;
	enum conn_mode mode;
	int control;                 /* a plain flow run beside the ECN ones */
	/* progress */
	int state, syn_tries, data_tries;
	uint16_t ip_id;              /* next IPv4 ID of this flow */
	uint32_t iss, irs;
	int64_t start_ns, deadline_ns;
	int64_t t_syn, t_synack, t_ack, t_data, t_retx, t_answer; /* CLOCK_MONOTONIC */
	uint8_t data_tos;            /* IP TOS of the first data segment */
	/* what came back */
	int have_synack;
	struct pkt_reply synack;
	int have_rst, rst_after_data;
	struct pkt_reply rst;
	int data_acked, acked_after_retx;
	struct pkt_reply ack;
	/* The first data went unacknowledged for the whole wait and was
	 * resent (Not-ECT), whatever came after: set for ECN and control
	 * flows alike, so their losses compare. */
	int data_retransmitted;
	/* SYN-ACKs the server sent again after our third ACK and data went
	 * out (counted also once the flow is done, while the run still
	 * reads): it had not taken the ACK (or the data), e.g. its accept queue
	 * was full (Linux drops the completing ACK then, and the data with
	 * it) or the Not-ECT ACK was lost. Loss that is not the ECT data's.
	 * With syn_tries > 1 one of them may answer our second SYN. */
	int synack_retx;
	int64_t t_synack_retx;       /* the first of them, CLOCK_MONOTONIC */
	/* RSTs of this flow that no stack would accept (RFC 9293 3.10.7.3
	 * in SYN-SENT: ACK of iss + 1 required; RFC 5961 3.2 after: sequence
	 * number in the receive window): ignored, not evidence. */
	int rst_ignored;
	int accecn_ace;              /* (AE,CWR,ECE) of the SYN-ACK, accecn mode */
	enum conn_result result;
};

struct connect_params {
	struct addr src, dst;
	uint16_t dport;
	uint16_t sport_base;         /* flows use sport_base .. +2*nflows-1 */
	int nflows;                  /* ECN flows; as many control flows */
	enum conn_mode mode;
	int64_t timeout_ns;
	double rate;                 /* new flows per second */
	const uint8_t *payload;
	size_t payload_len;
	/* nflows source ports to use instead of sport_base..; may be NULL */
	const uint16_t *sports;
	int no_controls;             /* only the ECN flows */
	/* Progress, about once a second; may be NULL. */
	void (*on_tick)(void *ctx, size_t done, size_t total);
};

struct connect_result {
	struct connect_params p;
	struct conn_flow *flows;     /* nflows ECN flows, then the controls */
	size_t nflows;
	int counts[CR_COUNT];        /* ECN flows only */
	int control_ok;              /* control flows that worked */
	int64_t duration_ns;
	uint64_t sent;
	uint64_t truncated;          /* packets longer than the receive buffer */
	int interrupted;             /* SIGINT/SIGTERM stopped the run */
};

int connect_run(struct engine *e, const struct connect_params *p,
		struct connect_result *r, char *err, size_t errlen);
void connect_free(struct connect_result *r);

const char *conn_result_name(enum conn_result c);
const char *conn_mode_name(enum conn_mode m);
int conn_mode_parse(const char *s);  /* -1 if unknown */

/* The codepoint a SYN arrived with, from an AccECN SYN-ACK's
 * (AE,CWR,ECE): an ECN_* value, or -1 for 000 (no ECN), -2 for 001
 * (classic ECN only), -3 for 111 (broken). Pure. */
int accecn_synack_ecn(int ace);

/* A first data segment like a real client's for this port: an HTTP
 * request (80, 8080), a TLS ClientHello (443), else a line of text.
 * Returns its length. Pure. */
size_t client_payload(uint16_t dport, const char *host, uint8_t *buf,
		      size_t len);

/* Would a TCP stack in f's place accept this RST? Before the SYN-ACK
 * (SYN-SENT) only one that acknowledges the SYN (ACK set, ack ==
 * iss + 1); after it, only one whose sequence number is in our receive
 * window [irs + 1, irs + 1 + window): we never acknowledge any of the
 * server's data, so rcv.nxt stays irs + 1 (which is what a stateless
 * host that resets our data uses: the ACK number of that segment). Pure. */
int rst_acceptable(const struct conn_flow *f, const struct tcp_seg *s);

/* The receive window our segments advertise after the handshake, in
 * bytes (502, scaled by 7 when the SYN-ACK agreed to window scaling). */
uint32_t conn_rcv_window(const struct conn_flow *f);

/*
 * One received segment of flow f: the replay's state machine step (it may
 * send the ACK, the data or the closing RST through e). Exposed for unit
 * tests, which pass an engine without sockets (engine_init): its sends
 * fail and are ignored, as a lost packet would be.
 */
void connect_on_segment(struct engine *e, const struct connect_params *p,
			struct conn_flow *f, const struct pkt_reply *r,
			int64_t t);

/* The flow's deadline passed at now: resend the SYN or the data, or give
 * up. Exposed for unit tests, like connect_on_segment. */
void connect_on_timeout(struct engine *e, const struct connect_params *p,
			struct conn_flow *f, int64_t now);

/* Decide a flow's result from what it saw; controls_answered tells
 * whether plain SYNs to the target are answered at all. Pure. */
enum conn_result conn_classify(const struct conn_flow *f,
			       int controls_answered, int controls_synack);

#endif
