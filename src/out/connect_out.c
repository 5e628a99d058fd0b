/* connect output: text and JSON renderings of a connect_result. */
#include <stdio.h>
#include <string.h>

#include "connect_out.h"
#include "ecntrace.h"
#include "term.h"
#include "trace.h"

/* "SEW" style flag letters, as tcpdump prints them, plus A for AE. */
void tcp_flags_str(uint16_t fl, char *buf, size_t len)
{
	static const struct { uint16_t bit; char c; } t[] = {
		{ TH_SYN, 'S' }, { TH_FIN, 'F' }, { TH_RST, 'R' }, { TH_PSH, 'P' },
		{ TH_ACK, '.' }, { TH_URG, 'U' }, { TH_ECE, 'E' }, { TH_CWR, 'W' },
		{ TH_AE, 'A' },
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && n + 1 < len; i++)
		if (fl & t[i].bit)
			buf[n++] = t[i].c;
	buf[n] = '\0';
}

int connect_is_failure(enum conn_result c)
{
	switch (c) {
	case CR_RESET_OTHER: case CR_RESET_SAME: case CR_ECT_DATA_LOST:
	case CR_DATA_UNACKED: case CR_SYN_ECN_RESET: case CR_SYN_ECN_DROPPED:
	case CR_NO_ANSWER: case CR_REFUSED:
		return 1;
	default:
		return 0;
	}
}

int connect_exit_code(const struct connect_result *r)
{
	int failed = 0, ecn_flows = 0;
	int controls = (int)r->nflows - r->p.nflows;

	for (size_t i = 0; i < r->nflows; i++) {
		const struct conn_flow *f = &r->flows[i];

		if (f->control)
			continue;
		ecn_flows++;
		failed += connect_is_failure(f->result);
	}
	if (r->p.mode == MODE_PLAIN)
		return failed ? EXIT_BROKEN : EXIT_HEALTHY;
	/* Controls failing too: the host, not ECN, is the problem here. */
	if (controls > 0 && r->control_ok < controls)
		return EXIT_INCONCLUSIVE;
	return failed ? EXIT_BROKEN : EXIT_HEALTHY;
}

void connect_print_text(FILE *f, const struct connect_result *r,
			const char *host)
{
	char a[INET6_ADDRSTRLEN], fl[16];
	int controls = (int)r->nflows - (r->p.mode == MODE_PLAIN ? (int)r->nflows
								     : r->p.nflows);
	int color = use_color(f), resent_ctl = 0;

	fprintf(f, "connect to %s (%s) port %u: %d %s flows, %d control flows\n",
		TERM_STR(host), addr_str(&r->p.dst, a, sizeof(a)), r->p.dport, r->p.nflows,
		conn_mode_name(r->p.mode), controls);
	fprintf(f, " sport  mode     %-24s %-14s %-14s %s\n", "result",
		"synack ttl", "rst ttl", "flags");
	for (size_t i = 0; i < r->nflows; i++) {
		const struct conn_flow *c = &r->flows[i];
		char st[24] = "-", rt[24] = "-";

		if (c->have_synack)
			snprintf(st, sizeof(st), "%d (%d hops)", c->synack.ttl,
				 return_hops(c->synack.ttl));
		if (c->have_rst)
			snprintf(rt, sizeof(rt), "%d (%d hops)", c->rst.ttl,
				 return_hops(c->rst.ttl));
		tcp_flags_str(c->have_synack ? c->synack.tcp.flags : 0, fl, sizeof(fl));
		int bad = connect_is_failure(c->result);

		fprintf(f, " %5u  %-8s %s%-24s%s %-14s %-14s %s%s%s\n", c->sport,
			conn_mode_name(c->mode), bad ? color_on(color, "red") : "",
			conn_result_name(c->result), bad ? color_off(color) : "",
			st, rt, c->have_synack ? fl : "-",
			c->control ? "  (control)" : "",
			c->data_retransmitted ? "  (data resent)" : "");
		if (c->control)
			resent_ctl += c->data_retransmitted;
	}
	fprintf(f, "summary:");
	for (int k = 0; k < CR_COUNT; k++)
		if (r->counts[k])
			fprintf(f, " %d %s", r->counts[k], conn_result_name(k));
	if (controls)
		fprintf(f, "; controls %d/%d ok", r->control_ok, controls);
	/* A control's lost first data is plain loss and leaves it ok; say
	 * so, for ECN flows lost as often are no evidence against ECN. */
	if (resent_ctl)
		fprintf(f, " (%d of them needed the data resent)", resent_ctl);
	fprintf(f, "; %llu packets, %.0f ms\n", (unsigned long long)r->sent,
		(double)r->duration_ns / 1e6);
}

void json_synack(struct json *j, const struct tcp_seg *s, uint8_t ttl,
		 uint8_t tos, uint16_t ip_id)
{
	char fl[16];

	json_int(j, "synack_ttl", ttl);
	json_int(j, "synack_hops", return_hops(ttl));
	tcp_flags_str(s->flags, fl, sizeof(fl));
	json_str(j, "synack_flags", fl);
	json_str(j, "synack_ecn", ecn_name(tos & 3));
	json_int(j, "synack_window", s->window);
	json_int(j, "synack_ip_id", ip_id);
	if (s->have_mss)
		json_int(j, "synack_mss", s->mss);
	else
		json_null(j, "synack_mss");
	if (s->have_wscale)
		json_int(j, "synack_wscale", s->wscale);
	else
		json_null(j, "synack_wscale");
	json_bool(j, "synack_sack", s->sack_ok);
	json_bool(j, "synack_ts", s->have_ts);
}

void connect_json_body(struct json *j, const struct connect_result *r)
{
	int controls = (int)r->nflows - (r->p.mode == MODE_PLAIN ? (int)r->nflows
								     : r->p.nflows);

	json_int(j, "dport", r->p.dport);
	json_str(j, "mode", conn_mode_name(r->p.mode));
	json_open_arr(j, "flows");
	for (size_t i = 0; i < r->nflows; i++) {
		const struct conn_flow *c = &r->flows[i];

		json_open_obj(j, NULL);
		json_int(j, "sport", c->sport);
		json_str(j, "mode", conn_mode_name(c->mode));
		json_bool(j, "control", c->control);
		json_str(j, "result", conn_result_name(c->result));
		json_int(j, "syn_tries", c->syn_tries);
		if (c->have_synack) {
			const struct tcp_seg *s = &c->synack.tcp;

			json_synack(j, s, c->synack.ttl, c->synack.tos,
				    c->synack.ip_id);
			json_num(j, "synack_rtt_ms", elapsed_ms(c->t_syn, c->t_synack), 3);
			json_str(j, "data_ecn", ecn_name(c->data_tos & 3));
		} else {
			json_null(j, "synack_ttl");
			json_null(j, "synack_hops");
		}
		if (c->mode == MODE_ACCECN && c->have_synack) {
			int e = accecn_synack_ecn(c->accecn_ace);

			json_int(j, "accecn_ace", c->accecn_ace);
			json_str(j, "accecn_syn_arrived",
				 e >= 0 ? ecn_name(e) : e == -1 ? "no-ecn" :
				 e == -2 ? "classic-only" : "broken");
		}
		if (c->have_rst) {
			json_int(j, "rst_ttl", c->rst.ttl);
			json_int(j, "rst_hops", return_hops(c->rst.ttl));
			json_str(j, "rst_after", c->rst_after_data ? "data" : "syn");
			json_bool(j, "rst_ts", c->rst.tcp.have_ts);
			json_int(j, "rst_ip_id", c->rst.ip_id);
			if (c->rst_after_data)
				json_num(j, "rst_ms_after_data", elapsed_ms(c->t_data, c->t_answer), 3);
			else
				json_null(j, "rst_ms_after_data");
		} else {
			json_null(j, "rst_ttl");
			json_null(j, "rst_hops");
		}
		json_bool(j, "data_acked", c->data_acked);
		json_bool(j, "data_retransmitted", c->data_retransmitted);
		json_int(j, "synack_retransmissions", c->synack_retx);
		json_int(j, "rsts_ignored", c->rst_ignored);
		if (c->data_acked) {
			json_bool(j, "acked_after_retransmission", c->acked_after_retx);
			json_bool(j, "ack_ece", (c->ack.tcp.flags & TH_ECE) != 0);
			json_int(j, "ack_ttl", c->ack.ttl);
		}
		json_close_obj(j);
	}
	json_close_arr(j);
	json_open_obj(j, "summary");
	json_int(j, "ecn_flows", r->p.mode == MODE_PLAIN ? 0 : r->p.nflows);
	json_int(j, "control_flows", controls);
	json_int(j, "control_ok", r->control_ok);
	json_open_obj(j, "results");
	for (int k = 0; k < CR_COUNT; k++)
		if (r->counts[k])
			json_int(j, conn_result_name(k), r->counts[k]);
	json_close_obj(j);
	json_bool(j, "interrupted", r->interrupted);
	json_int(j, "packets_truncated", (long long)r->truncated);
	json_close_obj(j);
}

void connect_print_json(FILE *f, const struct connect_result *r,
			const char *host)
{
	struct json j;
	char a[INET6_ADDRSTRLEN];

	json_begin_doc(&j, f, "connect");
	json_str(&j, "target", host);
	json_str(&j, "addr", addr_str(&r->p.dst, a, sizeof(a)));
	json_int(&j, "family", r->p.dst.family == AF_INET ? 4 : 6);
	connect_json_body(&j, r);
	json_stats(&j, (long long)r->sent, -1, r->duration_ns);
	json_close_obj(&j);
	json_end(&j);
}
