/* Probe engine: sockets, pacing, deadlines, matching. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "engine.h"
#include "pkt_quic.h"
#include "pcapout.h"

volatile sig_atomic_t engine_stop;

static void on_signal(int sig)
{
	engine_stop = sig;
}

void engine_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	/* A reader that went away (ecntrace | head) stops the run the same
	 * way; the write that failed says so with EPIPE. */
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
}

void engine_deadline(int64_t ns)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)(ns / 1000000000);
	it.it_value.tv_usec = (suseconds_t)(ns % 1000000000 / 1000);
	if (ns > 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

const char *engine_stop_reason(void)
{
	switch (engine_stop) {
	case SIGALRM: return "deadline reached (--deadline)";
	case SIGINT: return "interrupted (SIGINT)";
	case SIGTERM: return "interrupted (SIGTERM)";
	case SIGHUP: return "interrupted (SIGHUP)";
	case SIGQUIT: return "interrupted (SIGQUIT)";
	case SIGPIPE: return "interrupted (SIGPIPE: the reader went away)";
	default: return "interrupted";
	}
}

double elapsed_ms(int64_t from_ns, int64_t to_ns)
{
	return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e6 : 0.0;
}

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Only ICMP of our family, TCP and UDP reach us: the filter runs in the kernel
 * so a busy host's other traffic costs nothing. libpcap compiles it for
 * raw IP, which is what a SOCK_DGRAM packet socket's filter sees.
 */
static int attach_filter(int fd, int family, char *err, size_t errlen)
{
	const char *expr = family == AF_INET ? "icmp or tcp or udp"
					     : "icmp6 or ip6 proto 6 or ip6 proto 17";
	struct bpf_program prog;
	struct sock_fprog fprog;
	pcap_t *p = pcap_open_dead(DLT_RAW, 65535);
	int rc = 0;

	if (p == NULL || pcap_compile(p, &prog, expr, 1,
				      PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "cannot compile capture filter");
		if (p)
			pcap_close(p);
		return -1;
	}
	fprog.len = (unsigned short)prog.bf_len;
	fprog.filter = (struct sock_filter *)prog.bf_insns;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog,
		       sizeof(fprog)) < 0) {
		snprintf(err, errlen, "SO_ATTACH_FILTER: %s", strerror(errno));
		rc = -1;
	}
	pcap_freecode(&prog);
	pcap_close(p);
	return rc;
}

static int open_error(const char *what, char *err, size_t errlen)
{
	int e = errno;

	if (e == EPERM || e == EACCES) {
		snprintf(err, errlen,
			 "%s: permission denied (run as root or grant CAP_NET_RAW)",
			 what);
		return EX_NOPERM;
	}
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return EX_OSERR;
}

int engine_init(struct engine *e, int family)
{
	uint32_t key;
	ssize_t n;

	memset(e, 0, sizeof(*e));
	e->family = family;
	e->send_fd = e->recv_fd = -1;
	/* Blocks only until the kernel's pool is first seeded, at boot. */
	do
		n = getrandom(&key, sizeof(key), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(key)) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	e->token_base = key;
	e->rxbuf = malloc(ENGINE_RXBUF);
	if (e->rxbuf == NULL)
		return -1;
	e->rxcap = ENGINE_RXBUF;
	return 0;
}

int engine_open(struct engine *e, int family, const char *iface,
		char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	unsigned int ifindex = 0;
	int one = 1, rcvbuf = 1 << 20;
	uint8_t junk[64];

	if (engine_init(e, family) < 0) {
		snprintf(err, errlen, "engine: %s", strerror(errno));
		engine_close(e);
		return EX_OSERR;
	}
	if (iface != NULL) {
		ifindex = if_nametoindex(iface);
		if (ifindex == 0) {
			snprintf(err, errlen, "no such interface: %s", iface);
			return EX_UNAVAILABLE;
		}
	}
	/* IPPROTO_RAW: we write the whole IP header, TOS byte included. */
	e->send_fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (e->send_fd < 0)
		return open_error("raw socket", err, errlen);
	if (iface != NULL &&
	    setsockopt(e->send_fd, SOL_SOCKET, SO_BINDTODEVICE, iface,
		       (socklen_t)strlen(iface) + 1) < 0) {
		int rc = open_error("SO_BINDTODEVICE", err, errlen);
		engine_close(e);
		return rc;
	}
	/* Protocol 0 until the filter is in place, so nothing unfiltered
	 * queues up; then bind to start receiving. */
	e->recv_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (e->recv_fd < 0) {
		int rc = open_error("packet socket", err, errlen);
		engine_close(e);
		return rc;
	}
	if (attach_filter(e->recv_fd, family, err, errlen) < 0 ||
	    setsockopt(e->recv_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one,
		       sizeof(one)) < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "SO_TIMESTAMPNS: %s",
				 strerror(errno));
		engine_close(e);
		return EX_OSERR;
	}
	/* A failure here only means a smaller buffer: not fatal. */
	(void)setsockopt(e->recv_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			 sizeof(rcvbuf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
	sll.sll_ifindex = (int)ifindex;
	if (bind(e->recv_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int rc = open_error("bind packet socket", err, errlen);
		engine_close(e);
		return rc;
	}
	while (recv(e->recv_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	/* Real time read between two monotonic reads: the offset is good to
	 * the few tens of nanoseconds the reads take. */
	{
		int64_t m1 = now_ns(), rt = real_ns(), m2 = now_ns();

		e->mono_minus_real = m1 + (m2 - m1) / 2 - rt;
	}
	return 0;
}

void engine_close(struct engine *e)
{
	if (e->send_fd >= 0)
		close(e->send_fd);
	if (e->recv_fd >= 0)
		close(e->recv_fd);
	e->send_fd = e->recv_fd = -1;
	free(e->rxbuf);
	e->rxbuf = NULL;
	e->rxcap = 0;
}

static socklen_t to_sockaddr(const struct addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = a->u.v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = a->u.v6;
	return sizeof(*sin6);
}

/* Build and send; counts nothing. */
static int send_desc(struct engine *e, const struct probe_desc *d,
		     int64_t *sent_ns)
{
	uint8_t buf[PKT_MAX];
	size_t len = sizeof(buf);
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(&d->dst, &ss);

	if (pkt_build(d, buf, &len) < 0) {
		errno = EINVAL;
		return -1;
	}
	*sent_ns = now_ns();
	if (sendto(e->send_fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0)
		return -1;
	if (e->pcap)
		pcapw_write(e->pcap, buf, len, *sent_ns - e->mono_minus_real);
	return 0;
}

int engine_send(struct engine *e, const struct probe_desc *d, int64_t *sent_ns)
{
	if (send_desc(e, d, sent_ns) < 0)
		return -1;
	e->sent++;
	return 0;
}

/*
 * A SYN probe the target answered leaves a half-open connection there.
 * The host's own RST is Not-ECT: where a router hashes the ECN bits it
 * can reach another server, and the one we reached would answer the next
 * probe of this flow with a challenge ACK that matches nothing. An RST of
 * the probe's own flow and TOS takes the probe's path and clears it.
 */
static void close_synack(struct engine *e, const struct probe *p)
{
	struct probe_desc d = p->d;
	int64_t t;

	if (p->d.proto != IPPROTO_TCP || !(p->d.tcp_flags & TH_SYN) ||
	    p->reply.kind != REPLY_TCP ||
	    (p->reply.tcp.flags & (TH_SYN | TH_ACK | TH_RST)) != (TH_SYN | TH_ACK))
		return;
	d.tcp_flags = TH_RST;
	d.seq = p->reply.tcp.ack;
	d.ack = 0;
	d.window = 0;
	d.tcp_optlen = 0;
	d.payload = NULL;
	d.payload_len = 0;
	if (send_desc(e, &d, &t) == 0)
		e->resets++;
}

int engine_recv(struct engine *e, const uint8_t **pkt, size_t *len,
		size_t *wire, int64_t *recv_ns, int64_t timeout_ns)
{
	int64_t deadline = now_ns() + timeout_ns;
	uint8_t *buf = e->rxbuf;

	for (;;) {
		struct pollfd pfd = { .fd = e->recv_fd, .events = POLLIN };
		int64_t left = deadline - now_ns();
		int ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		char cbuf[CMSG_SPACE(sizeof(struct timespec))];
		struct sockaddr_ll from = { 0 };
		struct iovec iov = { .iov_base = buf, .iov_len = e->rxcap };
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c;
		ssize_t n;
		int rc = poll(&pfd, 1, ms);

		if (rc < 0) {
			if (errno == EINTR)
				return 0;
			return -1;
		}
		if (rc == 0)
			return 0;
		/* MSG_TRUNC: a packet socket then returns the packet's real
		 * length, however much of it fitted. */
		n = recvmsg(e->recv_fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		*recv_ns = 0;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				*recv_ns = (int64_t)ts.tv_sec * 1000000000 +
					   ts.tv_nsec + e->mono_minus_real;
			}
		}
		if (*recv_ns == 0)
			*recv_ns = now_ns();
		*pkt = buf;
		*wire = (size_t)n;
		*len = (size_t)n < e->rxcap ? (size_t)n : e->rxcap;
		if (*wire > *len || (mh.msg_flags & MSG_TRUNC))
			e->truncated++;
		e->received++;
		if (e->pcap)
			pcapw_write_cut(e->pcap, buf, *len, *wire,
					*recv_ns - e->mono_minus_real);
		return 1;
	}
}

int engine_recv_reply(struct engine *e, struct pkt_reply *r,
		      int64_t *recv_ns, int64_t timeout_ns)
{
	const uint8_t *pkt;
	size_t len, wire;
	int rc = engine_recv(e, &pkt, &len, &wire, recv_ns, timeout_ns);

	if (rc <= 0)
		return rc;
	return pkt_parse_cut(pkt, len, wire, r) == 0;
}

/* The sequence number the far end acknowledges for what d carries. */
static uint32_t tcp_next_seq(const struct probe_desc *d)
{
	uint32_t n = (uint32_t)d->payload_len;

	if (d->tcp_flags & TH_SYN)
		n++;
	if (d->tcp_flags & TH_FIN)
		n++;
	return d->seq + n;
}

/* Is d a QUIC probe (a long header of a reserved version)? Its CIDs. */
static int quic_probe(const struct probe_desc *d, struct quic_cids *c)
{
	return d->proto == IPPROTO_UDP && d->payload != NULL &&
	       quic_long_cids(d->payload, d->payload_len, c) == 0 &&
	       quic_version_reserved(c->version);
}

/* A QUIC probe's quote: by its CIDs when quoted that far (IPv6 routers
 * quote up to 1280 bytes, Linux 576 for IPv4), else IPv4's ID; an IPv6
 * quote without them matches nothing, every probe having one length. */
static int quic_quote_matches(const struct probe_desc *d,
			      const struct quic_cids *p, const struct quote *q)
{
	struct quic_cids qc;

	if (q->l4_head_len > 8 &&
	    quic_long_cids(q->l4_head + 8, q->l4_head_len - 8, &qc) == 0)
		return qc.dcid_len == p->dcid_len && qc.scid_len == p->scid_len &&
		       memcmp(qc.dcid, p->dcid, p->dcid_len) == 0 &&
		       memcmp(qc.scid, p->scid, p->scid_len) == 0;
	return d->dst.family == AF_INET && q->ip_id == d->ip_id;
}

/* A UDP answer: to a QUIC probe, a Version Negotiation that echoes its
 * CIDs; to a plain one, any datagram of the flow. */
static int udp_matches(const struct probe_desc *d, const struct pkt_reply *r)
{
	struct quic_cids pc;
	struct quic_vn vn;

	if (d->proto != IPPROTO_UDP || r->udp.sport != d->dport ||
	    r->udp.dport != d->sport)
		return 0;
	if (!quic_probe(d, &pc))
		return 1;
	return quic_vn_parse(r->udp.data, r->udp.kept, &vn) == 0 &&
	       r->udp.kept == r->udp.len && quic_vn_answers(&vn, &pc);
}

static int quote_matches(const struct probe_desc *d, const struct quote *q)
{
	struct quic_cids pc;

	if (q->proto != d->proto || !addr_eq(&q->src, &d->src) ||
	    !addr_eq(&q->dst, &d->dst) || q->l4_len < 8)
		return 0;
	switch (d->proto) {
	case IPPROTO_TCP:
		/* The RST that closes a SYN-ACKed probe carries the next
		 * sequence number and the probe's TTL; a quote of it, where
		 * the flags are quoted, is no answer to a SYN probe. */
		if (q->l4_len >= 14 &&
		    (q->tcp_flags & (TH_SYN | TH_RST)) != (d->tcp_flags & (TH_SYN | TH_RST)))
			return 0;
		return q->sport == d->sport && q->dport == d->dport &&
		       q->tcp_seq == d->seq;
	case IPPROTO_UDP:
		if (q->sport != d->sport || q->dport != d->dport)
			return 0;
		if (quic_probe(d, &pc))
			return quic_quote_matches(d, &pc, q);
		/* IPv4 carries a probe's token in the ID; IPv6 has no ID, so
		 * its token is the payload length. */
		if (d->dst.family == AF_INET)
			return q->ip_id == d->ip_id;
		/* A first fragment quoted as sent: its Fragment header's
		 * identification is the token (its length is fixed). Quoted
		 * after reassembly (the target's unreachable) it has none,
		 * and the whole datagram's length is the token again. */
		if (d->frag_part && q->frag)
			return q->frag_id == d->ip_id;
		return q->ip_len == 40 + 8 + d->payload_len + d->pad_len;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return q->icmp_id == d->icmp_id && q->icmp_seq == d->icmp_seq;
	}
	return 0;
}

static int direct_matches(const struct probe_desc *d, const struct pkt_reply *r)
{
	if (!addr_eq(&r->src, &d->dst) || !addr_eq(&r->dst, &d->src))
		return 0;
	if (r->kind == REPLY_ECHO_REPLY)
		return (d->proto == IPPROTO_ICMP || d->proto == IPPROTO_ICMPV6) &&
		       r->icmp_id == d->icmp_id && r->icmp_seq == d->icmp_seq;
	if (r->kind == REPLY_UDP)
		return udp_matches(d, r);
	if (r->kind != REPLY_TCP || d->proto != IPPROTO_TCP ||
	    r->tcp.sport != d->dport || r->tcp.dport != d->sport)
		return 0;
	if (r->tcp.flags & TH_ACK)
		return r->tcp.ack == tcp_next_seq(d);
	/* An RST without ACK answers a segment that carried an ACK: its
	 * sequence number is that segment's acknowledgment number. */
	return (r->tcp.flags & TH_RST) && (d->tcp_flags & TH_ACK) &&
	       r->tcp.seq == d->ack;
}

long probe_match(const struct probe *probes, size_t n, const struct pkt_reply *r)
{
	int quoted = r->has_quote && (r->kind == REPLY_TIME_EXCEEDED ||
				      r->kind == REPLY_UNREACH ||
				      r->kind == REPLY_PKT_TOO_BIG);

	for (size_t i = 0; i < n; i++) {
		const struct probe *p = &probes[i];

		if (p->state != PROBE_SENT)
			continue;
		if (quoted ? quote_matches(&p->d, &r->q) : direct_matches(&p->d, r))
			return (long)i;
	}
	return -1;
}

int engine_run(struct engine *e, struct probe *probes, size_t n,
	       const struct run_opts *o, char *err, size_t errlen)
{
	int64_t gap = (int64_t)(1e9 / (o->rate > 0 ? o->rate : 100));
	int64_t next_send = now_ns(), next_tick = next_send + 1000000000;
	size_t next = 0, done = 0;

	for (;;) {
		int64_t now = now_ns(), wake = INT64_MAX;
		size_t inflight = 0;
		struct pkt_reply r;
		int64_t rns;
		int rc;

		if (engine_stop) {
			snprintf(err, errlen, "%s", engine_stop_reason());
			return EX_TEMPFAIL;
		}
		while (next < n && probes[next].state != PROBE_UNSENT)
			next++;
		done = 0;
		for (size_t i = 0; i < n; i++) {
			struct probe *p = &probes[i];
			int64_t to = p->timeout_ns ? p->timeout_ns : o->timeout_ns;

			if (p->state == PROBE_SENT && now >= p->sent_ns + to)
				p->state = PROBE_TIMEOUT;
			if (p->state == PROBE_SENT) {
				inflight++;
				if (p->sent_ns + to < wake)
					wake = p->sent_ns + to;
			} else if (p->state != PROBE_UNSENT) {
				done++;
			}
		}
		if (o->on_tick && now >= next_tick) {
			o->on_tick(o->ctx, done, n);
			next_tick = now + 1000000000;
		}
		if (next < n && now >= next_send) {
			struct probe *p = &probes[next];

			if (engine_send(e, &p->d, &p->sent_ns) < 0) {
				snprintf(err, errlen, "send: %s", strerror(errno));
				return errno == EPERM || errno == EACCES ? EX_NOPERM
								       : EX_OSERR;
			}
			p->state = PROBE_SENT;
			/* Keep the pace, but never burst to catch up. */
			next_send += gap;
			if (next_send < now)
				next_send = now + gap;
			continue;
		}
		if (next >= n && inflight == 0)
			return 0;
		if (next < n && next_send < wake)
			wake = next_send;
		rc = engine_recv_reply(e, &r, &rns, wake - now);
		if (rc < 0) {
			snprintf(err, errlen, "receive: %s", strerror(errno));
			return EX_OSERR;
		}
		if (rc == 0)
			continue;
		long i;

		i = probe_match(probes, n, &r);
		if (i < 0)
			continue;
		probes[i].reply = r;
		probes[i].recv_ns = rns;
		probes[i].state = PROBE_ANSWERED;
		close_synack(e, &probes[i]);
		if (o->on_reply)
			o->on_reply(o->ctx, probes, n, (size_t)i);
	}
}
