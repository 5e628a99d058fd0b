/*
 * analyze: follow TCP connections in captured packets and classify each
 * one with connect's result names. The connection table is bounded: a
 * hash index over the 4-tuple, and a least-recently-active list that
 * picks the connection to evict when a new SYN finds the table full.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "analyze.h"

/* Per server and port: what plain SYNs got, as a hint for connections
 * whose ECN SYN got nothing or an RST. A small cache, overwritten on
 * collision. */
#define AN_DSTS 1024

struct an_dst {
	struct addr server;
	uint16_t dport;
	int used;
	uint32_t plain_synack, plain_reset;
};

struct an_slot {
	struct an_conn c;
	uint64_t order;              /* creation order */
	int32_t hnext;               /* hash chain, or free list */
	int32_t lru_prev, lru_next;  /* most recently active first */
	int used;
	int last_syn_plain;          /* the latest SYN asked for no ECN */
	int have_client_ack;
	uint32_t client_ack;         /* ACK number of the client's latest segment */
};

static int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static int seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static size_t addr_len(const struct addr *x)
{
	return x->family == AF_INET6 ? 16 : 4;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t tuple_hash(const struct addr *c, const struct addr *s,
			   uint16_t sport, uint16_t dport)
{
	uint32_t h = 2166136261u;

	h = fnv(h, &c->u, addr_len(c));
	h = fnv(h, &s->u, addr_len(s));
	h = fnv(h, &sport, sizeof(sport));
	return fnv(h, &dport, sizeof(dport));
}

/* ------------------------------------------------------ classification */

static const char *const setup_names[] = {
	[SETUP_NONE] = "none", [SETUP_CLASSIC] = "classic",
	[SETUP_ACCECN] = "accecn",
};

const char *an_setup_name(enum an_setup s)
{
	return s <= SETUP_ACCECN ? setup_names[s] : "?";
}

const char *an_result_name(int r)
{
	if (r == AR_NOT_ECN)
		return "not-ecn";
	return r >= 0 && r < CR_COUNT ? conn_result_name((enum conn_result)r)
				       : "?";
}

int an_is_fault(int r)
{
	switch (r) {
	case CR_RESET_OTHER: case CR_RESET_SAME: case CR_ECT_DATA_LOST:
	case CR_DATA_UNACKED: case CR_SYN_ECN_RESET: case CR_SYN_ECN_DROPPED:
		return 1;
	default:
		/* no-answer and refused say nothing about ECN; declined,
		 * broken reflectors, CE marks and bleaching do not break
		 * the connection. */
		return 0;
	}
}

static int synack_ace(uint16_t fl)
{
	return (fl & TH_AE ? 4 : 0) | (fl & TH_CWR ? 2 : 0) |
	       (fl & TH_ECE ? 1 : 0);
}

int an_classify(const struct an_conn *c, int dst_plain_synack,
		int dst_plain_reset)
{
	uint16_t fl = c->synack.flags;

	if (c->setup == SETUP_NONE)
		return AR_NOT_ECN;
	if (!c->have_synack) {
		if (c->syn_rst) {
			/* The plain SYN was reset too, or plain SYNs to this
			 * port are reset: a closed port, not ECN. */
			if (c->syn_rst_to_plain ||
			    (dst_plain_reset && !dst_plain_synack))
				return CR_REFUSED;
			return CR_SYN_ECN_RESET;
		}
		if (c->fallback)
			return CR_NO_ANSWER;     /* the plain SYN got nothing either */
		return dst_plain_synack ? CR_SYN_ECN_DROPPED : CR_NO_ANSWER;
	}
	/* RFC 3168 6.1.1.1 fallback: the ECN SYN got nothing (or an RST),
	 * the plain SYN that followed got the SYN-ACK. */
	if (c->synack_to_plain)
		return c->syn_rst ? CR_SYN_ECN_RESET : CR_SYN_ECN_DROPPED;
	if (c->have_rst && c->rst_after_ect)
		/* Same machine, same way back, same TTL; another hop count
		 * means another path, behind anycast another machine. */
		return c->rst_ttl == c->synack_ttl ? CR_RESET_SAME
						   : CR_RESET_OTHER;
	if (c->acked_after_retx)
		return CR_ECT_DATA_LOST;
	/* ECT data never acknowledged, and the client noticed (it resent or
	 * gave up): a capture that merely ends after the data is not this. */
	if (c->have_data && c->data_ecn != ECN_NOT_ECT && !c->data_acked &&
	    (c->data_retx > 0 || c->client_rst || c->client_fin))
		return CR_DATA_UNACKED;
	if (c->setup == SETUP_ACCECN) {
		int e = accecn_synack_ecn(synack_ace(fl));

		if (e == -3)
			return CR_BROKEN_REFLECTOR;
		if (e == -1)
			return CR_ECN_DECLINED;
		if (e >= 0) {
			if (e == ECN_NOT_ECT && c->syn_ecn != ECN_NOT_ECT)
				return CR_ECN_BLEACHED;
			if ((e == ECN_CE && c->syn_ecn != ECN_CE) ||
			    c->accecn_ce || c->ce_seen)
				return CR_CE_MARKED;
			return CR_OK;
		}
		/* 001: the server speaks classic ECN; judge it so. */
	}
	if ((fl & (TH_ECE | TH_CWR)) == (TH_ECE | TH_CWR))
		return CR_BROKEN_REFLECTOR;
	if (!(fl & TH_ECE))
		return CR_ECN_DECLINED;
	if (c->ece_acks > 0 || c->ce_seen)
		return CR_CE_MARKED;
	return CR_OK;
}

/* ------------------------------------------------------------- tables */

static void lru_unlink(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];

	if (s->lru_prev >= 0)
		a->slots[s->lru_prev].lru_next = s->lru_next;
	else
		a->lru_head = s->lru_next;
	if (s->lru_next >= 0)
		a->slots[s->lru_next].lru_prev = s->lru_prev;
	else
		a->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = -1;
}

static void lru_push(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];

	s->lru_prev = -1;
	s->lru_next = a->lru_head;
	if (a->lru_head >= 0)
		a->slots[a->lru_head].lru_prev = i;
	a->lru_head = i;
	if (a->lru_tail < 0)
		a->lru_tail = i;
}

int analyzer_init(struct analyzer *a, size_t cap, an_done_cb done, void *ctx)
{
	memset(a, 0, sizeof(*a));
	if (cap == 0)
		cap = AN_TABLE_DEFAULT;
	if (cap > (1u << 24))
		cap = 1u << 24;
	a->cap = cap;
	for (a->nbuckets = 16; a->nbuckets < 2 * cap; a->nbuckets *= 2)
		;
	a->slots = calloc(cap, sizeof(*a->slots));
	a->bucket = malloc(a->nbuckets * sizeof(*a->bucket));
	a->dsts = calloc(AN_DSTS, sizeof(*a->dsts));
	if (a->slots == NULL || a->bucket == NULL || a->dsts == NULL) {
		analyzer_free(a);
		return -1;
	}
	a->ndsts = AN_DSTS;
	for (size_t i = 0; i < a->nbuckets; i++)
		a->bucket[i] = -1;
	for (size_t i = 0; i < cap; i++) {
		a->slots[i].hnext = i + 1 < cap ? (int32_t)(i + 1) : -1;
		a->slots[i].lru_prev = a->slots[i].lru_next = -1;
	}
	a->free_head = 0;
	a->lru_head = a->lru_tail = -1;
	a->done = done;
	a->ctx = ctx;
	return 0;
}

void analyzer_free(struct analyzer *a)
{
	free(a->slots);
	free(a->bucket);
	free(a->dsts);
	a->slots = NULL;
	a->bucket = NULL;
	a->dsts = NULL;
}

static struct an_dst *dst_find(struct analyzer *a, const struct addr *server,
			       uint16_t dport, int create)
{
	uint32_t h = fnv(2166136261u, &server->u, addr_len(server));
	struct an_dst *d;

	h = fnv(h, &dport, sizeof(dport));
	d = &a->dsts[h % a->ndsts];
	if (d->used && d->dport == dport && addr_eq(&d->server, server))
		return d;
	if (!create)
		return NULL;
	memset(d, 0, sizeof(*d));
	d->used = 1;
	d->server = *server;
	d->dport = dport;
	return d;
}

static int32_t find(const struct analyzer *a, const struct addr *client,
		    const struct addr *server, uint16_t sport, uint16_t dport)
{
	uint32_t h = tuple_hash(client, server, sport, dport);

	for (int32_t i = a->bucket[h & (a->nbuckets - 1)]; i >= 0;
	     i = a->slots[i].hnext) {
		const struct an_conn *c = &a->slots[i].c;

		if (c->sport == sport && c->dport == dport &&
		    addr_eq(&c->client, client) && addr_eq(&c->server, server))
			return i;
	}
	return -1;
}

/* Classify slot i, count it, hand it over, and free the slot. */
static void finish(struct analyzer *a, int32_t i)
{
	struct an_slot *s = &a->slots[i];
	struct an_conn *c = &s->c;
	const struct an_dst *d = dst_find(a, &c->server, c->dport, 0);
	uint32_t h = tuple_hash(&c->client, &c->server, c->sport, c->dport);
	int32_t *pp = &a->bucket[h & (a->nbuckets - 1)];

	c->result = an_classify(c, d ? d->plain_synack > 0 : 0,
				d ? d->plain_reset > 0 : 0);
	c->fault = an_is_fault(c->result);
	a->counts[c->result]++;
	a->faults += (uint64_t)c->fault;
	if (a->done)
		a->done(a->ctx, c);

	while (*pp >= 0 && *pp != i)
		pp = &a->slots[*pp].hnext;
	if (*pp == i)
		*pp = s->hnext;
	lru_unlink(a, i);
	s->used = 0;
	s->hnext = a->free_head;
	a->free_head = i;
	a->active--;
}

static int32_t create(struct analyzer *a, const struct pkt_reply *r,
		      int64_t ts)
{
	int32_t i;
	struct an_slot *s;
	uint32_t h;

	if (a->free_head < 0) {
		/* Full: the connection quiet for longest makes room. */
		i = a->lru_tail;
		a->slots[i].c.evicted = 1;
		a->evicted++;
		finish(a, i);
	}
	i = a->free_head;
	s = &a->slots[i];
	a->free_head = s->hnext;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->order = a->seq++;
	s->c.client = r->src;
	s->c.server = r->dst;
	s->c.sport = r->tcp.sport;
	s->c.dport = r->tcp.dport;
	s->c.t_first = ts;
	h = tuple_hash(&r->src, &r->dst, r->tcp.sport, r->tcp.dport);
	s->hnext = a->bucket[h & (a->nbuckets - 1)];
	a->bucket[h & (a->nbuckets - 1)] = i;
	s->lru_prev = s->lru_next = -1;
	lru_push(a, i);
	a->active++;
	a->connections++;
	return i;
}

/* ------------------------------------------------------------ segments */

static enum an_setup syn_setup(uint16_t fl)
{
	if ((fl & (TH_ECE | TH_CWR)) != (TH_ECE | TH_CWR))
		return SETUP_NONE;
	return fl & TH_AE ? SETUP_ACCECN : SETUP_CLASSIC;
}

static void client_syn(struct analyzer *a, struct an_slot *s,
		       const struct pkt_reply *r, int64_t ts)
{
	struct an_conn *c = &s->c;
	enum an_setup setup = syn_setup(r->tcp.flags);

	if (c->syns++ == 0) {
		c->setup = setup;
		c->client_isn = r->tcp.seq;
		c->snd_max = r->tcp.seq + 1;
		c->t_syn = ts;
		c->syn_ecn = r->tos & 3;
		if (setup != SETUP_NONE)
			a->ecn_connections++;
	}
	if (setup != SETUP_NONE)
		c->ecn_syns++;
	else if (c->ecn_syns > 0 && !c->have_synack)
		c->fallback = 1;
	s->last_syn_plain = setup == SETUP_NONE;
}

static void client_seg(struct an_slot *s, const struct pkt_reply *r,
		       size_t missing, int64_t ts)
{
	struct an_conn *c = &s->c;
	const struct tcp_seg *t = &r->tcp;
	size_t plen = t->payload_len + missing;
	int ecn = r->tos & 3;

	if (t->flags & TH_RST) {
		c->client_rst = 1;
		return;
	}
	if (t->flags & TH_FIN)
		c->client_fin = 1;
	if (t->flags & TH_ACK) {
		s->have_client_ack = 1;
		s->client_ack = t->ack;
	}
	if (plen == 0)
		return;
	uint32_t end = t->seq + (uint32_t)plen;

	if (ecn == ECN_CE)
		c->ce_seen = 1;
	if (!c->have_data) {
		c->have_data = 1;
		c->t_data = ts;
		c->data_ecn = (uint8_t)ecn;
		c->data_seq = t->seq;
		c->data_end = end;
	} else if (seq_lt(t->seq, c->snd_max)) {
		c->data_retx++;
		/* RFC 3168 6.1.5: a resend goes Not-ECT. If it carries the
		 * first segment, sent ECT and not yet acknowledged, and is
		 * acknowledged, the ECT copy was what got lost. */
		if (ecn == ECN_NOT_ECT && c->data_ecn != ECN_NOT_ECT &&
		    !c->data_acked && !seq_gt(t->seq, c->data_seq) &&
		    seq_gt(end, c->data_seq))
			c->retx_not_ect = 1;
	}
	c->data_segs++;
	if (ecn != ECN_NOT_ECT)
		c->ect_data = 1;
	if (seq_gt(end, c->snd_max))
		c->snd_max = end;
}

static void server_seg(struct analyzer *a, struct an_slot *s,
		       const struct pkt_reply *r, int64_t ts)
{
	struct an_conn *c = &s->c;
	const struct tcp_seg *t = &r->tcp;
	uint16_t fl = t->flags;

	if (fl & TH_RST) {
		/* An RST+ACK whose ACK covers the first data segment says
		 * the data arrived (Linux closing with unread data): it
		 * answers no lost or refused ECT data. */
		if ((fl & TH_ACK) && c->have_data && !c->data_acked &&
		    seq_gt(t->ack, c->data_seq))
			c->data_acked = 1;
		/* Keep the first RST, unless it answered a SYN and this is
		 * the first since the SYN-ACK: that one tells about the data. */
		c->rsts++;
		if (c->have_rst && (c->rst_post_synack || !c->have_synack))
			return;
		c->have_rst = 1;
		c->rst_post_synack = c->have_synack;
		c->t_rst = ts;
		c->rst_ttl = r->ttl;
		c->rst_tos = r->tos;
		c->rst_flags = fl;
		c->rst_ip_id = r->ip_id;
		c->rst_ts = t->have_ts;
		c->rst_seq_is_ack = s->have_client_ack && t->seq == s->client_ack;
		if (!c->have_synack) {
			c->syn_rst = 1;
			c->syn_rst_to_plain = s->last_syn_plain;
			if (s->last_syn_plain) {
				struct an_dst *d = dst_find(a, &c->server,
							    c->dport, 1);
				d->plain_reset++;
			}
		} else if (c->have_data && !c->data_acked) {
			c->rst_after_data = 1;
			c->rst_after_ect = c->ect_data;
		}
		return;
	}
	if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)) {
		c->synacks++;
		if (c->have_synack)
			return;
		c->have_synack = 1;
		c->t_synack = ts;
		c->synack_ttl = r->ttl;
		c->synack_tos = r->tos;
		c->synack_ip_id = r->ip_id;
		c->synack = *t;
		c->server_isn = t->seq;
		/* An answer without ECE after the fallback answered the
		 * plain SYN. */
		c->synack_to_plain = c->fallback && !(fl & TH_ECE);
		if (c->setup == SETUP_NONE || c->synack_to_plain) {
			struct an_dst *d = dst_find(a, &c->server, c->dport, 1);
			d->plain_synack++;
		}
		return;
	}
	if (fl & TH_SYN)
		return;                  /* a SYN from the server side: ignore */
	if (fl & TH_FIN)
		c->server_fin = 1;
	if (t->payload_len > 0 && (r->tos & 3) == ECN_CE)
		c->ce_seen = 1;
	if (!(fl & TH_ACK))
		return;
	if (!c->have_acked || seq_gt(t->ack, c->acked)) {
		c->acked = t->ack;
		c->have_acked = 1;
	}
	if (c->have_data && !c->data_acked && seq_gt(t->ack, c->data_seq)) {
		c->data_acked = 1;
		c->acked_after_retx = c->retx_not_ect;
	}
	if (!c->have_synack)
		return;
	if (c->setup == SETUP_ACCECN &&
	    accecn_synack_ecn(synack_ace(c->synack.flags)) >= 0) {
		/* RFC 9768 3.2.2.1: the ACE counter starts at 5; any other
		 * value counts CE marks the server received. */
		if (synack_ace(fl) != 5)
			c->accecn_ce = 1;
	} else if (fl & TH_ECE) {
		c->ece_acks++;
	}
}

/*
 * Parse a packet; when the snap length cut it after its headers, let the
 * parser see what is there as if it were the whole packet and report how
 * many payload bytes the cut took (*missing).
 */
static int parse_ip(const uint8_t *buf, size_t len, size_t wire_len,
		    struct pkt_reply *r, size_t *missing)
{
	uint8_t tmp[256];
	size_t n, claimed;

	*missing = 0;
	if (pkt_parse(buf, len, r) == 0)
		return 0;
	if (wire_len <= len || len < 20)
		return -1;
	n = len < sizeof(tmp) ? len : sizeof(tmp);
	memcpy(tmp, buf, n);
	switch (tmp[0] >> 4) {
	case 4:
		claimed = (size_t)tmp[2] << 8 | tmp[3];
		if (claimed <= n || claimed > wire_len)
			return -1;
		tmp[2] = (uint8_t)(n >> 8);
		tmp[3] = (uint8_t)n;
		break;
	case 6:
		if (n < 40)
			return -1;
		claimed = ((size_t)tmp[4] << 8 | tmp[5]) + 40;
		if (claimed <= n || claimed > wire_len)
			return -1;
		tmp[4] = (uint8_t)((n - 40) >> 8);
		tmp[5] = (uint8_t)(n - 40);
		break;
	default:
		return -1;
	}
	if (pkt_parse(tmp, n, r) < 0)
		return -1;
	*missing = claimed - n;
	return 1;
}

int analyzer_packet(struct analyzer *a, const uint8_t *buf, size_t len,
		    size_t wire_len, int64_t ts)
{
	struct pkt_reply r;
	size_t missing;
	int32_t i;
	int from_client = 1, rc;

	a->packets++;
	rc = parse_ip(buf, len, wire_len, &r, &missing);
	if (rc < 0) {
		a->skipped++;
		return -1;
	}
	if (r.kind != REPLY_TCP) {
		a->not_tcp++;
		return 1;
	}
	a->snapped += rc == 1;
	i = find(a, &r.src, &r.dst, r.tcp.sport, r.tcp.dport);
	if (i < 0) {
		i = find(a, &r.dst, &r.src, r.tcp.dport, r.tcp.sport);
		from_client = 0;
	}
	if ((r.tcp.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
		if (i >= 0 && !from_client) {
			a->untracked++;          /* simultaneous open: not ours */
			return 1;
		}
		/* A new initial sequence number on the same ports is a new
		 * connection; the same one is a retransmitted SYN. */
		if (i >= 0 && r.tcp.seq != a->slots[i].c.client_isn) {
			finish(a, i);
			i = -1;
		}
		if (i < 0)
			i = create(a, &r, ts);
		from_client = 1;
		client_syn(a, &a->slots[i], &r, ts);
	} else if (i < 0) {
		a->untracked++;
		return 1;
	} else if (from_client) {
		client_seg(&a->slots[i], &r, missing, ts);
	} else {
		server_seg(a, &a->slots[i], &r, ts);
	}
	a->slots[i].c.packets++;
	a->slots[i].c.t_last = ts;
	lru_unlink(a, i);
	lru_push(a, i);
	return 0;
}

static int by_order(const void *x, const void *y)
{
	const struct an_slot *const *p = x, *const *q = y;

	return (*p)->order < (*q)->order ? -1 : (*p)->order > (*q)->order;
}

void analyzer_finish(struct analyzer *a)
{
	struct an_slot **v;
	size_t n = 0;

	if (a->slots == NULL || a->active == 0)
		return;
	v = malloc(a->active * sizeof(*v));
	if (v == NULL) {
		/* No room to sort: finish them least recently active first. */
		while (a->lru_tail >= 0)
			finish(a, a->lru_tail);
		return;
	}
	for (size_t i = 0; i < a->cap; i++)
		if (a->slots[i].used)
			v[n++] = &a->slots[i];
	qsort(v, n, sizeof(*v), by_order);
	for (size_t i = 0; i < n; i++)
		finish(a, (int32_t)(v[i] - a->slots));
	free(v);
}
