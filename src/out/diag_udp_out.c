/* diag_udp_out: the UDP / QUIC site probes in words and JSON. */
#include <string.h>

#include "diag_udp_out.h"

const char *diag_proto_word(const struct diag_evidence *ev)
{
	if (ev->proto == IPPROTO_UDP)
		return ev->quic ? "QUIC" : "UDP";
	return "TCP";
}

const char *diag_proto_name(const struct diag_evidence *ev)
{
	if (ev->proto == IPPROTO_UDP)
		return ev->quic ? "quic" : "udp";
	return "tcp";
}

#define PUT(...) do {                                                      \
	if (n >= 0 && (size_t)n < len)                                         \
		n += snprintf(buf + n, len - (size_t)n, __VA_ARGS__);          \
} while (0)
#define FACT(k) ((int)f->fact[k])

/* "the Not-ECT probe is answered from 4 hops back (QUIC versions from
 * 0x1a1a1a1a) and the ECT(0) one from 5 hops back (0x2a2a2a2a)" */
static int machine(const struct finding *f, enum fact hops, enum fact quic,
		   char *buf, size_t len, int n)
{
	PUT("%d hops back", FACT(hops));
	if (finding_has(f, quic))
		PUT(" (Version Negotiation listing 0x%08x first)",
		    (unsigned)f->fact[quic]);
	return n;
}

/* "; 7 flows had their ECT(0) probe answered from the same address over
 * another number of hops ..." */
int diag_site_parted_words(const struct finding *f, char *buf, size_t len, int n)
{
	PUT("%s%d of %d flows sent Not-ECT and then ECT(0) had the ECT(0) probe "
	    "answered from the same address over another number of hops or with "
	    "another kind of reply, against %d of %d sent Not-ECT twice: another "
	    "machine, or only another way back (the target's ICMP errors keep "
	    "the probe's ECT bit), so they are not counted as moved",
	    n ? "; " : "", FACT(FACT_SITE_PARTED), FACT(FACT_TEST_N),
	    FACT(FACT_SITE_PARTED_CONTROL), FACT(FACT_CONTROL_N));
	return n;
}

int diag_site_words(const struct finding *f, char *buf, size_t len, int n)
{
	PUT("%s%d of %d flows sent Not-ECT and then ECT(0) on one 5-tuple had "
	    "the ECT(0) probe answered by another machine, while %d of %d sent "
	    "Not-ECT twice did (p = %.2g)", n ? "; " : "", FACT(FACT_TEST_BAD),
	    FACT(FACT_TEST_N), FACT(FACT_CONTROL_BAD), FACT(FACT_CONTROL_N),
	    f->p_value);
	if (finding_has(f, FACT_SITE_HOPS_A)) {
		PUT("; flow sport %d: Not-ECT answered from ", FACT(FACT_SITE_SPORT));
		n = machine(f, FACT_SITE_HOPS_A, FACT_SITE_QUIC_A, buf, len, n);
		PUT(", ECT(0) from ");
		n = machine(f, FACT_SITE_HOPS_B, FACT_SITE_QUIC_B, buf, len, n);
	} else if (FACT(FACT_TEST_N) > 0 && !finding_has(f, FACT_SITE_PARTED)) {
		PUT("; one machine answers on every branch");
	}
	if (finding_has(f, FACT_SITE_PARTED))
		n = diag_site_parted_words(f, buf, len, n);
	return n;
}

void diag_sites_text(FILE *fp, const struct diag_evidence *ev)
{
	struct comparison_result r = judge_compare(ev, CMP_SITE_ECT);

	if (!ev->have_sites)
		return;
	fprintf(fp, "  %s flows Not-ECT then ECT(0): %d of %d answered by another "
		"machine; Not-ECT twice: %d of %d", diag_proto_word(ev),
		r.test_bad, r.test_n, r.control_bad, r.control_n);
	if (ev->sites.rounds > 1)
		fprintf(fp, " (%d rounds)", ev->sites.rounds);
	fputc('\n', fp);
}

static void json_machine(struct json *j, const char *key,
			 const struct responder *s)
{
	char a[INET6_ADDRSTRLEN], v[16];

	json_open_obj(j, key);
	if (s->answered) {
		json_str(j, "addr", addr_str(&s->addr, a, sizeof(a)));
		json_str(j, "reply", s->reply && s->kind != REPLY_UDP ? s->reply : "other");
		if (s->kind == REPLY_UDP)
			json_str(j, "udp_reply", s->reply);
		json_int(j, "return_hops", s->hops);
		if (s->quic_ident) {
			snprintf(v, sizeof(v), "0x%08x", s->quic_version);
			json_str(j, "quic_version", v);
			snprintf(v, sizeof(v), "0x%08x", s->quic_ident);
			json_str(j, "quic_versions_id", v);
		}
	} else {
		json_null(j, "addr");
	}
	json_close_obj(j);
}

void diag_sites_json(struct json *j, const struct diag_evidence *ev)
{
	if (!ev->have_sites)
		return;
	json_open_obj(j, "sites");
	json_int(j, "rounds", ev->sites.rounds);
	{
		struct comparison_result r = judge_compare(ev, CMP_SITE_ECT);

		json_int(j, "ecn_trials", r.test_n);
		json_int(j, "ecn_moved", r.test_bad);
		json_int(j, "control_trials", r.control_n);
		json_int(j, "control_moved", r.control_bad);
		json_num(j, "p_value", r.p, 6);
	}
	json_open_arr(j, "flows");
	for (int i = 0; i < ev->sites.n; i++) {
		const struct site_pair *p = &ev->sites.pairs[i];

		json_open_obj(j, NULL);
		json_int(j, "sport", p->sport);
		json_str(j, "second_ecn", ecn_name(p->ecn));
		json_machine(j, "first", &p->first);
		json_machine(j, "second", &p->second);
		json_close_obj(j);
	}
	json_close_arr(j);
	json_close_obj(j);
}

/* The first test flow whose two probes reached different machines, or
 * else the first test flow answered twice; NULL if none. */
static const struct site_pair *shown_pair(const struct diag_evidence *ev)
{
	const struct site_pair *any = NULL;

	for (int i = 0; i < ev->sites.n; i++) {
		const struct site_pair *p = &ev->sites.pairs[i];

		if (p->ecn == ECN_NOT_ECT || !p->first.answered || !p->second.answered)
			continue;
		if (site_moved(&p->first, &p->second))
			return p;
		if (any == NULL)
			any = p;
	}
	return any;
}

static void html_machine(FILE *fp, const struct responder *s)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(fp, "<span class=\"mono\">%s</span>, %d hops back",
		addr_str(&s->addr, a, sizeof(a)), s->hops);
	if (s->quic_ident)
		fprintf(fp, ", its Version Negotiation listing <span class=\"mono\">"
			"0x%08x</span> first", s->quic_version);
}

void diag_sites_section(FILE *fp, const struct diag_result *r)
{
	const struct diag_evidence *ev = &r->ev;
	const struct site_pair *p = shown_pair(ev);
	struct comparison_result c = judge_compare(ev, CMP_SITE_ECT);

	fprintf(fp, "<section id=\"connection\">\n<h2>A %s flow, Not-ECT then "
		"ECT(0)</h2>\n<p class=\"lead\">A %s stack sends a flow's first "
		"packets Not-ECT and marks later ones ECT(0). Each test flow sent one "
		"Not-ECT probe and then one ECT(0) probe on the same addresses and "
		"ports; each control flow sent Not-ECT twice.</p>\n",
		diag_proto_word(ev), ev->quic ? "QUIC" : "UDP");
	if (p) {
		fprintf(fp, "<p>Flow sport %u: the Not-ECT probe was answered by ",
			p->sport);
		html_machine(fp, &p->first);
		fputs("; the ECT(0) probe by ", fp);
		html_machine(fp, &p->second);
		fprintf(fp, "%s.</p>\n", site_moved(&p->first, &p->second) ?
			": another machine" : !responder_differs(&p->first, &p->second) ?
			": the same machine" : ": the same address, so perhaps the same "
			"machine by another way back");
	}
	fprintf(fp, "<p>%d of %d test flows had their ECT(0) probe answered by "
		"another machine than their Not-ECT one; %d of %d controls had their "
		"second probe answered elsewhere (Fisher's exact test, one-sided: "
		"p = %.2g).</p>\n</section>\n", c.test_bad, c.test_n,
		c.control_bad, c.control_n, c.p);
}

void diag_sites_reproduce(FILE *fp, const struct diag_result *r)
{
	char a[INET6_ADDRSTRLEN];
	int v6 = r->p.dst.family == AF_INET6;

	fprintf(fp, "<p><span class=\"label\">To see it again:</span> "
		"<code>ecntrace trace%s %s -p %u --sport %u --ecn %s %s</code> and "
		"the same with <code>--ecn %s</code> show different routers from "
		"hop %d on.</p>\n", v6 ? " -6" : "", r->ev.quic ? "--quic" : "-U",
		r->p.dport, r->ev.flows[r->ev.split_flow].sport,
		ecn_name(r->ev.split_ecn[0]), addr_str(&r->p.dst, a, sizeof(a)),
		ecn_name(r->ev.split_ecn[1]), r->ev.divergence_ttl);
}
