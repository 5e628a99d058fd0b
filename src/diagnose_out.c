/* diagnose output: the verdict as a few lines, and as JSON. */
#include <stdio.h>
#include <string.h>

#include "connect_out.h"
#include "diagnose_out.h"
#include "json.h"
#include "term.h"
#include "trace_out.h"

static const char *hop_addr(const struct finding *f, char *buf, size_t len)
{
	if (f->addr.family == 0)
		return "address unknown";
	return addr_str(&f->addr, buf, len);
}

/* What to do about a cause: one or two sentences an operator can act on. */
void diagnose_advice(const struct finding *f, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const char *ad = hop_addr(f, a, sizeof(a));

	switch (f->kind) {
	case CAUSE_ECN_HASH:
		if (f->hop == 0) {
			snprintf(buf, len,
				 "A router on the path (the probes could not locate "
				 "it) must leave the ECN bits, or the whole TOS byte, "
				 "out of its ECMP hash (RFC 2474 sec. 3, RFC 2991). "
				 "Meanwhile the client avoids the failure by not "
				 "requesting ECN: sysctl -w net.ipv4.tcp_ecn=2");
			break;
		}
		snprintf(buf, len,
			 "The router at hop %d (%s) must leave the ECN bits, or the "
			 "whole TOS byte, out of its ECMP hash (RFC 2474 sec. 3, "
			 "RFC 2991). Meanwhile the client avoids the failure by not "
			 "requesting ECN: sysctl -w net.ipv4.tcp_ecn=2",
			 f->hop, ad);
		break;
	case CAUSE_PER_PACKET_LB:
		snprintf(buf, len,
			 "The router at hop %d (%s) must balance per flow (addresses "
			 "and ports), not per packet; ECN settings do not help.",
			 f->hop, ad);
		break;
	case CAUSE_BLEACHING:
		snprintf(buf, len,
			 "The router at hop %d (%s), or the link after it, clears the "
			 "ECN field, so ECN cannot work on this path; its operator "
			 "should pass the ECN bits unchanged (RFC 3168 sec. 6.1.6). "
			 "Connections still work.", f->hop, ad);
		break;
	case CAUSE_MANGLING:
		snprintf(buf, len,
			 "The router at hop %d (%s), or the link after it, rewrites "
			 "the ECN field; its operator should pass it unchanged.",
			 f->hop, ad);
		break;
	case CAUSE_CE_MARKING:
		snprintf(buf, len,
			 "A router (hop %d, %s) marks CE without congestion, so ECN "
			 "flows slow down needlessly; its AQM or remarking "
			 "configuration needs fixing.", f->hop, ad);
		break;
	case CAUSE_ECT_BLACKHOLE:
		snprintf(buf, len,
			 "The router after hop %d (%s) drops ECT-marked packets; its "
			 "operator must forward them. Meanwhile: sysctl -w "
			 "net.ipv4.tcp_ecn=2", f->hop, ad);
		break;
	case CAUSE_SYN_ECN_DROP:
		snprintf(buf, len,
			 "A middlebox drops ECN-setup SYNs; Linux retries without ECN "
			 "after a timeout (net.ipv4.tcp_ecn_fallback=1), so "
			 "connections start slowly. Find it with 'ecntrace trace "
			 "--ecn not-ect' and report it.");
		break;
	case CAUSE_ECT_RESET:
		if (f->hop > 0)
			snprintf(buf, len,
				 "The device at hop %d (%s) answers ECT-marked data with "
				 "RST; its operator must let ECT(0) and ECT(1) through "
				 "(RFC 3168, RFC 8311). Meanwhile: sysctl -w "
				 "net.ipv4.tcp_ecn=2", f->hop, ad);
		else
			snprintf(buf, len,
				 "The server, or something as far away, answers "
				 "ECT-marked data with RST; report it to the site. "
				 "Meanwhile: sysctl -w net.ipv4.tcp_ecn=2");
		break;
	case CAUSE_SYN_ECN_RESET:
		snprintf(buf, len,
			 "A middlebox about %d hops away resets ECN-setup SYNs "
			 "(RFC 3360 says it must not). Meanwhile: sysctl -w "
			 "net.ipv4.tcp_ecn=2", f->hop);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

static void print_finding(FILE *fp, const char *label, const struct finding *f)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(fp, "  %s %s", label, cause_name(f->kind));
	if (f->hop > 0)
		fprintf(fp, " at hop %d (%s)", f->hop, hop_addr(f, a, sizeof(a)));
	/* A probability bound is never certainty: past 99.9% say so. */
	if (f->confidence < 1.0 && f->confidence > 0.999)
		fprintf(fp, ", confidence >99.9%%\n");
	else
		fprintf(fp, ", confidence %.1f%%\n", f->confidence * 100);
	if (f->evidence[0])
		fprintf(fp, "    %s\n", f->evidence);
}

void diagnose_print_text(FILE *fp, const struct diag_result *r,
			 const char *host)
{
	const struct connect_result *cr = &r->conn;
	char a[INET6_ADDRSTRLEN], adv[512];
	int color = use_color(fp);

	fprintf(fp, "ecntrace %s (%s), TCP port %u: %s%s%s\n", host,
		addr_str(&r->p.dst, a, sizeof(a)), r->p.dport,
		color_on(color, r->status == DIAG_BROKEN ? "red" :
			 r->status == DIAG_HEALTHY ? "green" : "yellow"),
		r->status == DIAG_BROKEN ? "BROKEN" :
		r->status == DIAG_HEALTHY ? "HEALTHY" : "INCONCLUSIVE",
		color_off(color));
	fprintf(fp, "  %s\n", r->summary);
	for (int i = 0; i < r->ncauses; i++)
		print_finding(fp, "cause", &r->causes[i]);
	for (int i = 0; i < r->nnotes; i++)
		print_finding(fp, "note", &r->notes[i]);
	fprintf(fp, "  paths: %s load balancing, ECN-dependent: %s",
		lb_name(r->lb), r->ecn_dependent ? "yes" : "no");
	if (r->divergence_ttl && (r->ecn_dependent || r->lb == LB_PER_PACKET))
		fprintf(fp, ", split at hop %d", r->divergence_ttl);
	fprintf(fp, " (%d flows at hop %d)\n", r->nflows, r->screen_ttl);
	if (r->nsites) {
		fprintf(fp, "  endpoints: %d machine%s for %s:", r->nsites,
			r->nsites == 1 ? " answers" : "s answer", a);
		for (int i = 0; i < r->nsites; i++)
			fprintf(fp, "%s %d hops back%s", i ? "," : "", r->sites[i].hops,
				r->sites[i].by_behaviour ?
				" (told apart by what it resets)" : "");
		fputc('\n', fp);
	}
	if (r->have_conn) {
		int controls = (int)cr->nflows - cr->p.nflows;

		fprintf(fp, "  connections with ECN:");
		for (int k = 0; k < CR_COUNT; k++)
			if (cr->counts[k])
				fprintf(fp, " %d %s", cr->counts[k], conn_result_name(k));
		fprintf(fp, "; without ECN: %d/%d ok\n", cr->control_ok, controls);
	}
	fprintf(fp, "  %llu path probes, %llu packets in all, %.2f s\n",
		(unsigned long long)r->path_probes,
		(unsigned long long)r->probes_sent, (double)r->duration_ns / 1e9);
	for (int i = 0; i < r->ncauses; i++) {
		diagnose_advice(&r->causes[i], adv, sizeof(adv));
		if (adv[0])
			fprintf(fp, "%sWhat to do:%s %s\n", color_on(color, "bold"),
				color_off(color), adv);
	}
}

static void json_responder(struct json *j, const char *key,
			   const struct responder *s)
{
	char a[INET6_ADDRSTRLEN];

	json_open_obj(j, key);
	if (s->answered) {
		json_str(j, "addr", addr_str(&s->addr, a, sizeof(a)));
		json_str(j, "reply", s->reply ? s->reply : "other");
		if (s->hops)
			json_int(j, "return_hops", s->hops);
	} else {
		json_null(j, "addr");
	}
	json_close_obj(j);
}

static void json_findings(struct json *j, const char *key,
			  const struct finding *f, int n)
{
	char a[INET6_ADDRSTRLEN], adv[512];

	json_open_arr(j, key);
	for (int i = 0; i < n; i++) {
		json_open_obj(j, NULL);
		json_str(j, "kind", cause_name(f[i].kind));
		if (f[i].hop > 0)
			json_int(j, "hop", f[i].hop);
		else
			json_null(j, "hop");
		json_str(j, "addr", f[i].addr.family ? addr_str(&f[i].addr, a, sizeof(a))
						     : NULL);
		json_num(j, "confidence", f[i].confidence, 4);
		json_str(j, "evidence", f[i].evidence);
		diagnose_advice(&f[i], adv, sizeof(adv));
		if (adv[0])
			json_str(j, "advice", adv);
		json_close_obj(j);
	}
	json_close_arr(j);
}

void diagnose_print_json(FILE *fp, const struct diag_result *r,
			 const char *host)
{
	struct json j;
	char a[INET6_ADDRSTRLEN];

	json_begin_doc(&j, fp, "diagnose");
	json_str(&j, "target", host);
	json_str(&j, "addr", addr_str(&r->p.dst, a, sizeof(a)));
	json_int(&j, "family", r->p.dst.family == AF_INET ? 4 : 6);
	json_int(&j, "dport", r->p.dport);

	json_open_obj(&j, "verdict");
	json_str(&j, "status", diag_status_name(r->status));
	json_str(&j, "summary", r->summary);
	json_findings(&j, "causes", r->causes, r->ncauses);
	json_findings(&j, "notes", r->notes, r->nnotes);
	json_close_obj(&j);

	json_open_obj(&j, "paths");
	json_str(&j, "load_balancing", lb_name(r->lb));
	json_bool(&j, "ecn_dependent", r->ecn_dependent);
	json_bool(&j, "dscp_dependent", r->dscp_dependent);
	if (r->divergence_ttl && (r->ecn_dependent || r->lb == LB_PER_PACKET))
		json_int(&j, "divergence_hop", r->divergence_ttl);
	else
		json_null(&j, "divergence_hop");
	if (r->split_unknown_from)
		json_int(&j, "split_unknown_from", r->split_unknown_from);
	else
		json_null(&j, "split_unknown_from");
	json_num(&j, "confidence", r->path_confidence, 4);
	json_int(&j, "screen_ttl", r->screen_ttl);
	json_int(&j, "repeats", r->repeats);
	json_int(&j, "repeats_agreed", r->repeats_agreed);
	if (r->ecn_dependent) {
		json_int(&j, "split_sport", r->flows[r->split_flow].sport);
		json_open_arr(&j, "split_ecn");
		json_str(&j, NULL, ecn_name(r->split_ecn[0]));
		json_str(&j, NULL, ecn_name(r->split_ecn[1]));
		json_close_arr(&j);
		json_responder(&j, "balancer", &r->balancer);
		json_open_arr(&j, "branches");
		json_responder(&j, NULL, &r->split_at[0]);
		json_responder(&j, NULL, &r->split_at[1]);
		json_close_arr(&j);
	}
	json_open_arr(&j, "flows");
	for (int i = 0; i < r->nflows; i++) {
		json_open_obj(&j, NULL);
		json_int(&j, "sport", r->flows[i].sport);
		for (int k = 0; k < 4; k++) {
			static const char *const keys[4] = { "not-ect", "ect1", "ect0", "ce" };

			if (r->flows[i].by_ecn[k].answered || r->flows[i].full)
				json_responder(&j, keys[k], &r->flows[i].by_ecn[k]);
		}
		json_close_obj(&j);
	}
	json_close_arr(&j);
	json_close_obj(&j);

	json_open_obj(&j, "trace");
	json_str(&j, "ecn", "ect0");
	json_int(&j, "sport", r->trace.p.flow.sport);
	json_bool(&j, "reached", r->trace.dest_ttl != 0);
	trace_json_hops(&j, &r->trace, 1);
	json_close_obj(&j);

	json_open_obj(&j, "anycast");
	json_int(&j, "sites", r->nsites);
	json_open_arr(&j, "endpoints");
	for (int i = 0; i < r->nsites; i++) {
		const struct site *s = &r->sites[i];

		json_open_obj(&j, NULL);
		json_int(&j, "return_hops", s->hops);
		json_str(&j, "told_apart_by", s->by_behaviour ? "behaviour" : "fingerprint");
		json_int(&j, "synacks", s->synacks);
		json_int(&j, "rsts", s->rsts);
		if (s->synacks) {
			json_int(&j, "window", s->window);
			json_int(&j, "mss", s->mss);
			json_bool(&j, "timestamps", s->ts);
		}
		json_open_arr(&j, "flows");
		for (int k = 0; k < s->nflows; k++) {
			json_open_obj(&j, NULL);
			json_int(&j, "sport", s->flows[k].sport);
			json_str(&j, "ecn", ecn_name(s->flows[k].ecn));
			json_str(&j, "answer", s->flows[k].rst ? "rst" : "syn-ack");
			json_close_obj(&j);
		}
		json_close_arr(&j);
		json_close_obj(&j);
	}
	json_close_arr(&j);
	json_close_obj(&j);

	json_open_obj(&j, "connection");
	if (r->have_conn)
		connect_json_body(&j, &r->conn);
	if (r->have_ect_check) {
		json_open_obj(&j, "all_ect");
		json_int(&j, "delivered", r->ect_check_ok);
		json_int(&j, "reset", r->ect_check_reset);
		json_open_arr(&j, "flows");
		for (size_t i = 0; i < r->ect_check.nflows; i++) {
			const struct conn_flow *f = &r->ect_check.flows[i];

			json_open_obj(&j, NULL);
			json_int(&j, "sport", f->sport);
			json_str(&j, "result", conn_result_name(f->result));
			json_bool(&j, "data_acked", f->data_acked);
			if (f->have_synack)
				json_int(&j, "synack_ttl", f->synack.ttl);
			else
				json_null(&j, "synack_ttl");
			if (f->have_rst)
				json_int(&j, "rst_ttl", f->rst.ttl);
			else
				json_null(&j, "rst_ttl");
			json_close_obj(&j);
		}
		json_close_arr(&j);
		json_close_obj(&j);
	}
	json_close_obj(&j);

	json_stats(&j, (long long)r->probes_sent, (long long)r->path_probes,
		   r->duration_ns);
	json_close_obj(&j);
	json_end(&j);
}
