/* trace output: text and JSON renderings of a trace_result. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "resolve.h"
#include "term.h"
#include "trace_out.h"

const char *proto_name(int proto)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmp6";
	default: return "?";
	}
}

const char *flow_proto_name(const struct flow *f)
{
	return f->proto == IPPROTO_UDP && f->quic ? "quic" : proto_name(f->proto);
}

/* The quoted-TOS annotation of one reply: "ect0", "not-ect bleached",
 * plus DSCP when it was rewritten. */
static void quote_note(const struct probe *p, char *buf, size_t len)
{
	const struct pkt_reply *r = &p->reply;
	enum ecn_change c;
	int n;

	buf[0] = '\0';
	if (!r->has_quote)
		return;
	c = ecn_compare(p->d.tos, r->q.tos);
	n = snprintf(buf, len, "%s", ecn_name(r->q.tos & 3));
	if (c != ECN_SAME && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " [%s]", ecn_change_name(c));
	if ((r->q.tos >> 2) != (p->d.tos >> 2) && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " [dscp %d->%d]",
			 p->d.tos >> 2, r->q.tos >> 2);
}

/* A Version Negotiation's versions: " versions 0x1a1a1a1a,0x00000001". */
static void text_vn(FILE *f, const struct pkt_reply *r)
{
	struct quic_vn vn;

	if (reply_quic_vn(r, &vn) < 0)
		return;
	for (size_t i = 0; i < vn.nversions; i++)
		fprintf(f, "%s0x%08x", i ? "," : " versions ", vn.versions[i]);
	if (vn.total_versions > vn.nversions)
		fputs(",...", f);
}

void json_quic_versions(struct json *j, const struct pkt_reply *r)
{
	struct quic_vn vn;
	char v[16];

	if (reply_quic_vn(r, &vn) < 0)
		return;
	json_open_arr(j, "quic_versions");
	for (size_t i = 0; i < vn.nversions; i++) {
		snprintf(v, sizeof(v), "0x%08x", vn.versions[i]);
		json_str(j, NULL, v);
	}
	json_close_arr(j);
}

void trace_print_text(FILE *f, const struct trace_result *r, const char *host,
		      int numeric)
{
	const struct flow *fl = &r->p.flow;
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int color = use_color(f);

	fprintf(f, "trace to %s (%s), %s %s", TERM_STR(host), addr_str(&fl->dst, a, sizeof(a)),
		flow_proto_name(fl), addr_str(&fl->src, b, sizeof(b)));
	if (fl->proto == IPPROTO_TCP || fl->proto == IPPROTO_UDP)
		fprintf(f, " sport %u dport %u", fl->sport, fl->dport);
	else
		fprintf(f, " id %u", fl->sport);
	fprintf(f, ", tos 0x%02x (%s", fl->tos, ecn_name(fl->tos & 3));
	if (fl->tos >> 2)
		fprintf(f, ", dscp %d", fl->tos >> 2);
	fprintf(f, "), %d hops max\n", r->p.max_ttl);

	for (int ttl = r->p.first_ttl; ttl <= r->stop_ttl; ttl++) {
		struct addr last;
		int have_last = 0;

		memset(&last, 0, sizeof(last));
		fprintf(f, "%2d ", ttl);
		for (int q = 0; q < r->p.nqueries; q++) {
			const struct probe *p = trace_probe(r, ttl, q);

			if (p->state != PROBE_ANSWERED) {
				fputs(" *", f);
				continue;
			}
			if (!have_last || !addr_eq(&last, &p->reply.src)) {
				const char *name = numeric ? NULL : rdns_name(&p->reply.src);

				addr_str(&p->reply.src, a, sizeof(a));
				if (name)
					fprintf(f, " %s (%s)", TERM_STR(name), a);
				else
					fprintf(f, " %s", a);
				last = p->reply.src;
				have_last = 1;
			}
			fprintf(f, "  %.3f ms", elapsed_ms(p->sent_ns, p->recv_ns));
		}
		/* Details from the first answered probe of this hop. */
		for (int q = 0; q < r->p.nqueries; q++) {
			const struct probe *p = trace_probe(r, ttl, q);
			char note[96];

			if (p->state != PROBE_ANSWERED)
				continue;
			fprintf(f, "  ttl %d (%d back)", p->reply.ttl,
				return_hops(p->reply.ttl));
			quote_note(p, note, sizeof(note));
			if (note[0])
				fprintf(f, "  %s%s%s", strchr(note, '[') ?
					color_on(color, "yellow") : "", note,
					strchr(note, '[') ? color_off(color) : "");
			for (size_t m = 0; m < p->reply.n_mpls; m++)
				fprintf(f, "%s%u", m ? "," : "  MPLS L=",
					p->reply.mpls[m].label);
			if (p->reply.kind != REPLY_TIME_EXCEEDED)
				fprintf(f, "  %s", reply_name(&p->reply));
			text_vn(f, &p->reply);
			break;
		}
		fputc('\n', f);
	}
}

static void json_flow(struct json *j, const struct flow *fl)
{
	char a[INET6_ADDRSTRLEN];

	json_open_obj(j, "flow");
	json_str(j, "proto", proto_name(fl->proto));
	json_str(j, "src", addr_str(&fl->src, a, sizeof(a)));
	json_str(j, "dst", addr_str(&fl->dst, a, sizeof(a)));
	if (fl->proto == IPPROTO_TCP || fl->proto == IPPROTO_UDP) {
		json_int(j, "sport", fl->sport);
		json_int(j, "dport", fl->dport);
	} else {
		json_int(j, "icmp_id", fl->sport);
	}
	if (fl->proto == IPPROTO_UDP)
		json_bool(j, "quic", fl->quic);
	json_int(j, "tos", fl->tos);
	json_str(j, "ecn", ecn_name(fl->tos & 3));
	json_int(j, "dscp", fl->tos >> 2);
	if (fl->dst.family == AF_INET6)
		json_int(j, "flowlabel", fl->flowlabel);
	json_close_obj(j);
}

static void json_reply(struct json *j, const struct probe *p, int numeric)
{
	const struct pkt_reply *r = &p->reply;
	char a[INET6_ADDRSTRLEN];
	const char *name = numeric ? NULL : rdns_name(&r->src);

	json_str(j, "addr", addr_str(&r->src, a, sizeof(a)));
	json_str(j, "name", name);
	/* "reply" is a closed set in ecntrace/1: a UDP answer is "other",
	 * told by udp_reply (and a VN's quic_versions). */
	json_str(j, "reply", r->kind == REPLY_UDP ? "other" : reply_name(r));
	if (r->kind == REPLY_UDP)
		json_str(j, "udp_reply", reply_name(r));
	json_int(j, "reply_ttl", r->ttl);
	json_int(j, "return_hops", return_hops(r->ttl));
	json_quic_versions(j, r);
	if (r->has_quote) {
		json_int(j, "quoted_tos", r->q.tos);
		json_str(j, "quoted_ecn", ecn_name(r->q.tos & 3));
		json_int(j, "quoted_dscp", r->q.tos >> 2);
		json_str(j, "ecn_change", ecn_change_name(ecn_compare(p->d.tos, r->q.tos)));
		json_bool(j, "dscp_changed", (r->q.tos >> 2) != (p->d.tos >> 2));
	} else {
		json_null(j, "quoted_tos");
		json_null(j, "quoted_ecn");
	}
	if (r->n_mpls) {
		json_open_arr(j, "mpls");
		for (size_t m = 0; m < r->n_mpls; m++) {
			json_open_obj(j, NULL);
			json_int(j, "label", r->mpls[m].label);
			json_int(j, "tc", r->mpls[m].tc);
			json_int(j, "s", r->mpls[m].s);
			json_int(j, "ttl", r->mpls[m].ttl);
			json_close_obj(j);
		}
		json_close_arr(j);
	}
}

void trace_json_hops(struct json *j, const struct trace_result *r, int numeric)
{
	json_open_arr(j, "hops");
	for (int ttl = r->p.first_ttl; ttl <= r->stop_ttl; ttl++) {
		const struct probe *first = NULL;

		for (int q = 0; q < r->p.nqueries && !first; q++) {
			const struct probe *p = trace_probe(r, ttl, q);

			if (p->state == PROBE_ANSWERED)
				first = p;
		}
		json_open_obj(j, NULL);
		json_int(j, "ttl", ttl);
		if (first) {
			json_reply(j, first, numeric);
		} else {
			json_null(j, "addr");
			json_null(j, "reply_ttl");
			json_null(j, "quoted_tos");
			json_null(j, "quoted_ecn");
		}
		json_open_arr(j, "rtt_ms");
		for (int q = 0; q < r->p.nqueries; q++) {
			const struct probe *p = trace_probe(r, ttl, q);

			if (p->state == PROBE_ANSWERED)
				json_num(j, NULL, elapsed_ms(p->sent_ns, p->recv_ns), 3);
		}
		json_close_arr(j);
		json_open_arr(j, "probes");
		for (int q = 0; q < r->p.nqueries; q++) {
			const struct probe *p = trace_probe(r, ttl, q);

			json_open_obj(j, NULL);
			if (p->state == PROBE_ANSWERED) {
				json_reply(j, p, numeric);
				json_num(j, "rtt_ms", elapsed_ms(p->sent_ns, p->recv_ns), 3);
			} else {
				json_null(j, "addr");
				json_str(j, "reply", p->state == PROBE_CANCELLED ?
					 "not-sent" : "timeout");
			}
			json_close_obj(j);
		}
		json_close_arr(j);
		json_close_obj(j);
	}
	json_close_arr(j);
}

void trace_print_json(FILE *f, const struct trace_result *r, const char *host,
		      int numeric)
{
	struct json j;

	json_begin_doc(&j, f, "trace");
	json_str(&j, "target", host);
	json_int(&j, "family", r->p.flow.dst.family == AF_INET ? 4 : 6);
	json_flow(&j, &r->p.flow);
	json_int(&j, "first_ttl", r->p.first_ttl);
	json_int(&j, "max_ttl", r->p.max_ttl);
	json_int(&j, "queries", r->p.nqueries);
	trace_json_hops(&j, r, numeric);
	json_bool(&j, "reached", r->dest_ttl != 0);
	if (r->dest_ttl)
		json_int(&j, "dest_ttl", r->dest_ttl);
	else
		json_null(&j, "dest_ttl");
	json_stats(&j, (long long)r->sent, -1, r->duration_ns);
	json_close_obj(&j);
	json_end(&j);
}
