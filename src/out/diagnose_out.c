/* diagnose output: the verdict as a few lines, and as JSON. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "connect_out.h"
#include "diag_udp_out.h"
#include "diagnose_out.h"
#include "fields_out.h"
#include "json.h"
#include "term.h"
#include "trace_out.h"

/* Where a finding's router is, in words: "at hop 2 (198.18.1.2)", or an
 * interval when silent hops leave it open. Empty when unknown. */
void diagnose_where(const struct finding *f, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (f->hop > 0 && f->addr.family)
		snprintf(buf, len, "at hop %d (%s)", f->hop,
			 addr_str(&f->addr, a, sizeof(a)));
	else if (f->hop > 0)
		snprintf(buf, len, "at hop %d (address unknown)", f->hop);
	else if (f->hop_first > 0) {
		/* Bounded, not singled out: each hop is a candidate, the first
		 * by its address if it answered, none accused. */
		char first[INET6_ADDRSTRLEN + 3] = "";

		if (f->first_addr.family)
			snprintf(first, sizeof(first), " (%s)",
				 addr_str(&f->first_addr, a, sizeof(a)));
		snprintf(buf, len, f->hop_last == f->hop_first + 1 ?
			 "at hop %d%s or hop %d" : "at one of hops %d%s to %d",
			 f->hop_first, first, f->hop_last);
	}
}

/* "the router at hop 2 (198.18.1.2)", "a router at hop 1 (...) or
 * hop 2", or "a router on the path". */
static void who(const struct finding *f, char *buf, size_t len)
{
	char w[128];

	diagnose_where(f, w, sizeof(w));
	if (f->hop > 0)
		snprintf(buf, len, "the router %s", w);
	else if (w[0])
		snprintf(buf, len, "a router %s", w);
	else
		snprintf(buf, len, "a router on the path (not located)");
}

/* The silent hops of an interval, said once. */
static void silent_part(const struct finding *f, char *buf, size_t len)
{
	buf[0] = '\0';
	if (f->hop == 0 && f->hop_first > 0 && f->hop_last > f->hop_first)
		snprintf(buf, len, f->hop_last - f->hop_first == 1 ?
			 "; hop %d does not answer both codepoints" :
			 "; hops %d to %d do not answer both codepoints",
			 f->hop_first + 1, f->hop_last);
}

/* What to do about a cause: one or two sentences an operator can act on. */
void diagnose_advice(const struct finding *f, char *buf, size_t len)
{
	char w[192], where[128];
	static const char sysctl[] =
		"Meanwhile the client avoids the failure by not requesting ECN: "
		"sysctl -w net.ipv4.tcp_ecn=2";
	static const char udp_meanwhile[] =
		"Meanwhile a QUIC or UDP client avoids the failure by not marking "
		"its packets ECT (its stack's ECN setting); TCP's sysctl does not "
		"govern it.";

	struct finding anon = *f;

	/* Advice addresses a router's operator: for a bounded finding it
	 * names hops only, not the address of a candidate. */
	memset(&anon.first_addr, 0, sizeof(anon.first_addr));
	f = &anon;
	who(f, w, sizeof(w));
	w[0] = (char)toupper((unsigned char)w[0]);
	diagnose_where(f, where, sizeof(where));
	if (fields_advice(f, w, buf, len))
		return;
	switch (f->kind) {
	case CAUSE_ECN_HASH:
		snprintf(buf, len, "%s must leave the ECN bits, or the whole TOS "
			 "byte, out of its ECMP hash (RFC 2474 sec. 3, RFC 2991).%s%s",
			 w, f->latent ? "" : " ", f->latent ? "" :
			 finding_has(f, FACT_SITE_FLOWS) ? udp_meanwhile : sysctl);
		break;
	case CAUSE_PER_PACKET_LB:
		snprintf(buf, len, "%s must balance per flow (addresses and ports), "
			 "not per packet; ECN settings do not help.", w);
		break;
	case CAUSE_BLEACHING:
		snprintf(buf, len, "%s, or the link after it, clears the ECN field, "
			 "so ECN cannot work on this path; its operator should pass "
			 "the ECN bits unchanged (RFC 3168 sec. 6.1.6). Connections "
			 "still work.", w);
		break;
	case CAUSE_MANGLING:
		snprintf(buf, len, "%s, or the link after it, rewrites the ECN "
			 "field; its operator should pass it unchanged.", w);
		break;
	case CAUSE_CE_MARKING:
		snprintf(buf, len, "%s marks CE without congestion, so ECN flows "
			 "slow down needlessly; its AQM or remarking configuration "
			 "needs fixing.", w);
		break;
	case CAUSE_ECT_BLACKHOLE:
		snprintf(buf, len, "%s drops ECT-marked packets (on its way out, or "
			 "the next on its way in); its operator must forward them. %s",
			 w, sysctl);
		break;
	case CAUSE_SYN_ECN_DROP:
		snprintf(buf, len, "A middlebox drops ECN-setup SYNs; Linux retries "
			 "without ECN after a timeout (net.ipv4.tcp_ecn_fallback=1), "
			 "so connections start slowly. Find it with 'ecntrace trace "
			 "--ecn not-ect' and report it.");
		break;
	case CAUSE_ECT_RESET:
		if (f->hop > 0)
			snprintf(buf, len, "The device %s answers ECT-marked data "
				 "with RST; its operator must let ECT(0) and ECT(1) "
				 "through (RFC 3168, RFC 8311). %s", where, sysctl);
		else
			snprintf(buf, len, "Something that answers for the server "
				 "resets ECT-marked data; report it to the site. %s",
				 sysctl);
		break;
	case CAUSE_SYN_ECN_RESET:
		snprintf(buf, len, "A middlebox %s resets ECN-setup SYNs (RFC 3360 "
			 "says it must not). %s",
			 where[0] ? where : "on the path", sysctl);
		break;
	default:
		buf[0] = '\0';
		break;
	}
}

#define PUT(...) do {                                                      \
	if (n >= 0 && (size_t)n < len)                                         \
		n += snprintf(buf + n, len - (size_t)n, __VA_ARGS__);          \
} while (0)
#define FACT(k) ((int)f->fact[k])

static const char *const cmp_words[CMP_COUNT][2] = {
	[CMP_SYN_ANSWER] = { "ECN-setup SYNs went unanswered", "plain SYNs" },
	[CMP_SYN_RESET] = { "ECN-setup SYNs were reset", "plain SYNs" },
	[CMP_DATA_LOST] = { "ECN connections lost their first data",
			    "plain connections" },
	[CMP_DATA_RESET] = { "ECN connections were reset after their data",
			     "plain connections" },
	[CMP_DEST_ECT] = { "ECT(0) probes to the target were lost",
			   "Not-ECT probes beside them" },
	[CMP_SITE_ECT] = { "flows had their ECT(0) probe answered by another "
			   "machine than their Not-ECT one", "Not-ECT controls" },
};

/* "3 of 21 ECN-setup SYNs went unanswered, against 1 of 21 plain SYNs
 * (one-sided Fisher p = 0.31)" */
static int comparison_words(const struct finding *f, char *buf, size_t len)
{
	int n = 0, k = FACT(FACT_TEST);

	if (!finding_has(f, FACT_TEST) || k < 0 || k >= CMP_COUNT)
		return 0;
	PUT("%d of %d %s, against %d of %d %s (Fisher's exact test, one-sided: "
	    "p = %.2g)", FACT(FACT_TEST_BAD), FACT(FACT_TEST_N), cmp_words[k][0],
	    FACT(FACT_CONTROL_BAD), FACT(FACT_CONTROL_N), cmp_words[k][1],
	    f->p_value);
	return n;
}

static void ecn_hash_words(const struct finding *f, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], s[96];
	int n = 0;

	if (finding_has(f, FACT_SPLIT_HOP) && finding_has(f, FACT_SPORT) &&
	    f->reach[0].answered) {
		PUT("flow sport %d: %s probes reach %s and %s probes reach %s at "
		    "hop %d, with everything else identical; %d of %d repeated "
		    "probes agreed", FACT(FACT_SPORT), ecn_name(FACT(FACT_ECN_A)),
		    addr_str(&f->reach[0].addr, a, sizeof(a)),
		    ecn_name(FACT(FACT_ECN_B)),
		    addr_str(&f->reach[1].addr, b, sizeof(b)),
		    FACT(FACT_SPLIT_HOP), FACT(FACT_REPEATS_AGREED),
		    FACT(FACT_REPEATS));
		silent_part(f, s, sizeof(s));
		PUT("%s", s);
		if (finding_has(f, FACT_ALT_HOP) && f->alt.answered)
			PUT("; hop %d answers %s probes, as %s (another flow, so "
			    "no proof that it carries this one)", FACT(FACT_ALT_HOP),
			    FACT(FACT_ALT_PROTO) == IPPROTO_UDP ? "UDP" : "ICMP echo",
			    addr_str(&f->alt.addr, a, sizeof(a)));
	}
	if (finding_has(f, FACT_SITE_FLOWS)) {
		n = diag_site_words(f, buf, len, n);
		if (!finding_has(f, FACT_SPLIT_HOP))
			PUT("; no path probe showed where the path splits");
		return;
	}
	if (!finding_has(f, FACT_ECN_CONNS)) {
		PUT("%sno connection was replayed (--flows 0), so whether another "
		    "machine answers the ECT(0) data is not known", n ? "; " : "");
		return;
	}
	if (FACT(FACT_RESET_OTHER))
		PUT("%s%d of %d ECN connections were reset by another machine "
		    "(SYN-ACK TTL %d, RST TTL %d) while %d of %d plain ones were "
		    "(p = %.2g)", n ? "; " : "", FACT(FACT_RESET_OTHER),
		    FACT(FACT_ECN_CONNS), FACT(FACT_SYNACK_TTL), FACT(FACT_RST_TTL),
		    FACT(FACT_CONTROL_BAD), FACT(FACT_CONTROL_N), f->p_value);
	else if (FACT(FACT_ECN_DECLINED) == FACT(FACT_ECN_CONNS))
		PUT("%sthe server declined ECN in all %d ECN connections, so their "
		    "data went Not-ECT, on the handshake's path, and worked",
		    n ? "; " : "", FACT(FACT_ECN_CONNS));
	else if (FACT(FACT_ECN_OK) == FACT(FACT_ECN_CONNS))
		PUT("%sall %d ECN connections worked: one machine answers on every "
		    "branch", n ? "; " : "", FACT(FACT_ECN_CONNS));
	else
		PUT("%sno ECN connection was shown reset by another machine (%d of "
		    "%d worked)", n ? "; " : "", FACT(FACT_ECN_OK),
		    FACT(FACT_ECN_CONNS));
	if (finding_has(f, FACT_ALL_ECT_OK) && FACT(FACT_ALL_ECT_OK))
		PUT("; sent entirely ECT(0), SYN included, the same flows worked "
		    "(%d of %d)", FACT(FACT_ALL_ECT_OK), FACT(FACT_ALL_ECT_N));
	if (!finding_has(f, FACT_SPLIT_HOP))
		PUT("; no path probe showed where the path splits");
	else if (!finding_has(f, FACT_SPORT) || !f->reach[0].answered)
		PUT("; the router at hop %d, the last before the target, answers "
		    "both codepoints alike, so it is the one that parts them",
		    f->hop);
}

/* The evidence of a finding, in one paragraph, from its facts. */
void diagnose_evidence(const struct finding *f, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int n = 0;

	buf[0] = '\0';
	if (fields_evidence(f, buf, len))
		return;
	switch (f->kind) {
	case CAUSE_ECN_HASH:
		ecn_hash_words(f, buf, len);
		return;
	case CAUSE_PER_PACKET_LB:
		PUT("identical probes (same flow, same ECN codepoint) reach "
		    "different routers at hop %d: %d of %d agreed",
		    FACT(FACT_SPLIT_HOP), FACT(FACT_REPEATS_AGREED),
		    FACT(FACT_REPEATS));
		if (finding_has(f, FACT_CONTROL_N))
			PUT("; connections fail with and without ECN (%d of %d "
			    "ECN ones and %d of %d plain ones worked)",
			    FACT(FACT_ECN_OK), FACT(FACT_ECN_CONNS),
			    FACT(FACT_CONTROL_N) - FACT(FACT_CONTROL_BAD),
			    FACT(FACT_CONTROL_N));
		return;
	case CAUSE_BLEACHING:
	case CAUSE_MANGLING:
	case CAUSE_CE_MARKING:
		if (!finding_has(f, FACT_QUOTE_HOP)) {
			PUT("%d of %d ECN connections had their ECT(0) data "
			    "acknowledged with ECE: it arrived CE-marked",
			    FACT(FACT_TEST_BAD), FACT(FACT_ECN_CONNS));
			return;
		}
		PUT("probes sent %s; hop %d (%s) quotes %s",
		    ecn_name(FACT(FACT_SENT_ECN)), FACT(FACT_QUOTE_HOP),
		    addr_str(&f->reach[0].addr, a, sizeof(a)),
		    ecn_name(FACT(FACT_QUOTED_ECN)));
		if (FACT(FACT_AFTER_OF) > 0)
			PUT(", and so do %d of the %d routers after it",
			    FACT(FACT_ALSO_AFTER), FACT(FACT_AFTER_OF));
		if (f->hop == 0)
			PUT("; the hops before it did not quote the packet");
		if (FACT(FACT_DSCP_TOO))
			PUT("; DSCP changed at the same hop (remarking that "
			    "clobbers ECN)");
		return;
	case CAUSE_ECT_BLACKHOLE:
		if (finding_has(f, FACT_REACH_HOP))
			PUT("ECT(0) probes of one flow are answered up to hop %d and "
			    "never beyond; Not-ECT ones reach the target at hop %d; ",
			    FACT(FACT_REACH_HOP), FACT(FACT_PLAIN_DEST_HOP));
		comparison_words(f, buf + n, len - (size_t)n);
		return;
	case CAUSE_SYN_ECN_RESET:
	case CAUSE_SYN_ECN_DROP:
	case CAUSE_ECT_RESET:
		n = comparison_words(f, buf, len);
		if (f->kind == CAUSE_ECT_RESET)
			PUT("; sent entirely ECT(0), SYN included, they were reset "
			    "too (%d of %d)", FACT(FACT_ALL_ECT_RESET),
			    FACT(FACT_ALL_ECT_N));
		if (finding_has(f, FACT_RST_HOPS))
			PUT("; the RST comes from %d hops back%s",
			    FACT(FACT_RST_HOPS), f->hop ? ", where the forward "
			    "trace has the router named" : "");
		return;
	case NOTE_SERVER_REFUSED:
		n = comparison_words(f, buf, len);
		PUT(": the server (or something for it) refuses some connections "
		    "with ECN or without; not an ECN fault");
		return;
	case NOTE_LOSS:
		n = comparison_words(f, buf, len);
		PUT(FACT(FACT_TEST) == CMP_DATA_RESET ?
		    ": resets that chance explains as well with ECN as without, "
		    "no ECN fault" : ": losses that chance explains as well with "
		    "ECN as without, no ECN fault");
		return;
	case NOTE_UNCONFIRMED:
		if (finding_has(f, FACT_SITE_ELSEWHERE)) {
			PUT("%d of %d flows sent Not-ECT and then ECT(0) had the "
			    "ECT(0) probe answered by another address than the "
			    "target, against %d of %d sent Not-ECT twice (p = %.2g): "
			    "something on the way answers ECT(0) for the target (a "
			    "filter, not another site); not located, no fault is "
			    "named", FACT(FACT_SITE_ELSEWHERE), FACT(FACT_TEST_N),
			    FACT(FACT_SITE_ELSEWHERE_CONTROL), FACT(FACT_CONTROL_N),
			    f->p_value);
			return;
		}
		if (finding_has(f, FACT_SITE_PARTED)) {
			n = diag_site_parted_words(f, buf, len, n);
			PUT(" (p = %.2g); the path or its way back depends on ECN, "
			    "but no other machine is shown: no fault is named",
			    f->p_value);
			return;
		}
		if (finding_has(f, FACT_CONTROL_BAD) && !finding_has(f, FACT_TEST) &&
		    finding_has(f, FACT_SITE_FLOWS)) {
			PUT("one flow's codepoints reached different routers at hop "
			    "%d and %d of %d repeats agreed, but %d of %d flows sent "
			    "Not-ECT twice had their second probe answered by another "
			    "machine, which no hash over ECN does: the paths are "
			    "unstable or balanced per packet; no ECN fault is named",
			    FACT(FACT_SPLIT_HOP), FACT(FACT_REPEATS_AGREED),
			    FACT(FACT_REPEATS), FACT(FACT_CONTROL_BAD),
			    FACT(FACT_CONTROL_N));
			return;
		}
		if (finding_has(f, FACT_CONTROL_BAD) && !finding_has(f, FACT_TEST)) {
			PUT("one flow's codepoints reached different routers at hop "
			    "%d and %d of %d repeats agreed, but %d of %d plain "
			    "connections were reset by another machine, which no hash "
			    "over ECN does: the paths are unstable or balanced per "
			    "packet; no ECN fault is named", FACT(FACT_SPLIT_HOP),
			    FACT(FACT_REPEATS_AGREED), FACT(FACT_REPEATS),
			    FACT(FACT_CONTROL_BAD), FACT(FACT_CONTROL_N));
			return;
		}
		if (!finding_has(f, FACT_TEST)) {
			PUT("one flow's codepoints reached different routers at hop "
			    "%d, but only %d of its repeated probes were answered "
			    "(%d agreed): too few to tell a hash on ECN from per-packet "
			    "balancing", FACT(FACT_SPLIT_HOP), FACT(FACT_REPEATS),
			    FACT(FACT_REPEATS_AGREED));
			return;
		}
		n = comparison_words(f, buf, len);
		PUT(": ECN did worse, but not significantly; no fault is named on "
		    "this");
		return;
	case NOTE_SAFE_MULTIPATH:
		PUT("different flows take different paths, but each flow's four "
		    "ECN codepoints always take the same one (%d flows)",
		    FACT(FACT_SCREEN_FLOWS));
		return;
	case NOTE_DSCP_HASH:
		PUT("the same flow with another DSCP takes another path at hop %d; "
		    "harmless while DSCP is constant within a flow",
		    FACT(FACT_SCREEN_HOP));
		return;
	case NOTE_ECN_DECLINED:
		PUT("%d of %d SYN-ACKs did not agree to ECN: the server (or a "
		    "middlebox) does not use it, so ECT data was not tested",
		    FACT(FACT_ECN_DECLINED), FACT(FACT_ECN_CONNS));
		return;
	default:
		return;
	}
}

/* The headline: what is wrong, or why nothing can be said. */

/* The verdict holds an unconfirmed lean or split (NOTE_UNCONFIRMED). */
static int suspected(const struct diag_verdict *v)
{
	for (int i = 0; i < v->nnotes; i++)
		if (v->notes[i].kind == NOTE_UNCONFIRMED)
			return 1;
	return 0;
}
void diagnose_summary(const struct diag_result *r, char *buf, size_t len)
{
	const struct diag_verdict *v = &r->v;
	const struct finding *c = v->ncauses ? &v->causes[0] : NULL;
	char w[192], where[128];
	int n = 0;

	if (c && (v->reason == WHY_CAUSE || v->status == DIAG_LATENT)) {
		who(c, w, sizeof(w));
		diagnose_where(c, where, sizeof(where));
		if (fields_summary(c, w, buf, len))
			return;
		switch (c->kind) {
		case CAUSE_ECN_HASH:
			if (r->ev.proto == IPPROTO_UDP)
				PUT("ECN-dependent ECMP: %s puts the ECN bits into its "
				    "load-balancing hash, so a %s flow's Not-ECT first "
				    "packets and its ECT(0) later ones take different "
				    "paths", w, diag_proto_word(&r->ev));
			else
				PUT("ECN-dependent ECMP: %s puts the ECN bits into its "
				    "load-balancing hash, so a connection's Not-ECT handshake "
				    "and its ECT(0) data take different paths", w);
			if (c->latent && r->ev.proto == IPPROTO_UDP &&
			    finding_has(c, FACT_SITE_PARTED))
				PUT("; whether today's flows meet another machine is "
				    "not shown (answers from one address came back "
				    "over other hop counts, which the way back alone "
				    "can do), but any %s server reached through this "
				    "router across sites would see them split",
				    diag_proto_word(&r->ev));
			else if (c->latent && r->ev.proto == IPPROTO_UDP)
				PUT("; today's flows escape it (%s), but any %s server "
				    "reached through this router across sites would "
				    "see them split", r->ev.have_sites ?
				    "one machine answers on every branch" :
				    "no site probes were sent (--flows 0)",
				    diag_proto_word(&r->ev));
			else if (c->latent)
				PUT("; today's connections work (%s), but any "
				    "ECN-capable server reached through this router "
				    "across sites would break",
				    finding_has(c, FACT_ECN_CONNS) &&
				    c->fact[FACT_ECN_DECLINED] == c->fact[FACT_ECN_CONNS] ?
				    "the server does not negotiate ECN" :
				    finding_has(c, FACT_ECN_CONNS) ?
				    "one machine answers on every branch" :
				    "no connection was replayed to show it");
			else if (v->nsites > 1 && r->ev.proto == IPPROTO_UDP)
				PUT(", to different anycast sites");
			else if (v->nsites > 1)
				PUT(", to different anycast sites, and the data is reset");
			return;
		case CAUSE_PER_PACKET_LB:
			PUT("per-packet load balancing %s: packets of one connection "
			    "take different paths, with or without ECN",
			    where[0] ? where : "on the path");
			return;
		default:
			PUT("%s %s", cause_name(c->kind), where[0] ? where :
			    "(where on the path is not known)");
			return;
		}
	}
	switch (v->reason) {
	case WHY_REFUSED:
		PUT("the target refused TCP port %u (an RST to every SYN, with or "
		    "without ECN); nothing to compare", r->p.dport);
		return;
	case WHY_NOT_REACHED:
		PUT("the target did not answer on %s port %u, with or without "
		    "ECN; nothing to compare", diag_proto_word(&r->ev), r->p.dport);
		return;
	case WHY_FEW_ANSWERS:
		PUT("%s, but too few probes were answered to be %.0f%% sure "
		    "(%.1f%%)", suspected(v) ? "an ECN fault is suspected (see "
		    "the unconfirmed note), not proven" : "no ECN fault seen",
		    v->confidence * 100, v->path_confidence * 100);
		return;
	case WHY_NOT_SIGNIFICANT:
		PUT("ECN connections failed more often than plain ones, but not "
		    "significantly at %.0f%% within the budget of %d rounds; no "
		    "fault is named", v->confidence * 100, DIAG_CONN_ROUNDS);
		return;
	default:
		PUT("no ECN fault: the path does not depend on the ECN bits%s",
		    v->lb == LB_PER_FLOW ? " (per-flow multipath, safe)" : "");
		return;
	}
}

static void print_finding(FILE *fp, const char *label, const struct finding *f)
{
	char where[128], ev[1024];

	diagnose_where(f, where, sizeof(where));
	fprintf(fp, "  %s %s%s%s%s", label, cause_name(f->kind),
		f->latent ? " (latent)" : "", where[0] ? " " : "", where);
	/* A probability bound is never certainty: past 99.9% say so. */
	if (f->confidence < 1.0 && f->confidence > 0.999)
		fprintf(fp, ", confidence >99.9%%\n");
	else
		fprintf(fp, ", confidence %.1f%%\n", f->confidence * 100);
	diagnose_evidence(f, ev, sizeof(ev));
	if (ev[0])
		fprintf(fp, "    %s\n", ev);
}

static const char *status_word(enum diag_status s)
{
	switch (s) {
	case DIAG_BROKEN: return "BROKEN";
	case DIAG_HEALTHY: return "HEALTHY";
	case DIAG_LATENT: return "LATENT FAULT";
	default: return "INCONCLUSIVE";
	}
}

void diagnose_print_text(FILE *fp, const struct diag_result *r,
			 const char *host)
{
	const struct diag_evidence *ev = &r->ev;
	const struct diag_verdict *v = &r->v;
	const struct connect_result *cr = &ev->conn;
	char a[INET6_ADDRSTRLEN], adv[512], sum[768];
	int color = use_color(fp);

	fprintf(fp, "ecntrace %s (%s), %s port %u: %s%s%s\n", TERM_STR(host),
		addr_str(&r->p.dst, a, sizeof(a)), diag_proto_word(ev), r->p.dport,
		color_on(color, v->status == DIAG_BROKEN ? "red" :
			 v->status == DIAG_HEALTHY ? "green" : "yellow"),
		status_word(v->status), color_off(color));
	diagnose_summary(r, sum, sizeof(sum));
	fprintf(fp, "  %s\n", sum);
	for (int i = 0; i < v->ncauses; i++)
		print_finding(fp, "cause", &v->causes[i]);
	for (int i = 0; i < v->nnotes; i++)
		print_finding(fp, "note", &v->notes[i]);
	fprintf(fp, "  paths: %s load balancing, ECN-dependent: %s",
		lb_name(v->lb), v->ecn_dependent ? "yes" : "no");
	if (ev->divergence_ttl && (v->ecn_dependent || v->lb == LB_PER_PACKET))
		fprintf(fp, ", split at hop %d", ev->divergence_ttl);
	fprintf(fp, " (%d flows at hop %d)\n", ev->nflows, ev->screen_ttl);
	fields_print_text(fp, r);
	if (v->nsites) {
		/* What was measured, the answers' hop counts; not a count
		 * of machines (one machine can answer from two distances
		 * over two return paths, two from one). */
		fprintf(fp, "  endpoints for %s: answers from", a);
		for (int i = 0; i < v->nsites; i++) {
			fprintf(fp, "%s %d hops back%s", i ? "," : "", v->sites[i].hops,
				v->sites[i].by_behaviour ?
				" (told apart by what it resets)" : "");
			if (v->sites[i].quic_version)
				fprintf(fp, " (QUIC 0x%08x)", v->sites[i].quic_version);
		}
		fputc('\n', fp);
	}
	diag_sites_text(fp, ev);
	if (ev->have_conn) {
		int controls = (int)cr->nflows - cr->p.nflows;

		fprintf(fp, "  connections with ECN:");
		for (int k = 0; k < CR_COUNT; k++)
			if (cr->counts[k])
				fprintf(fp, " %d %s", cr->counts[k], conn_result_name(k));
		fprintf(fp, "; without ECN: %d/%d ok", cr->control_ok, controls);
		if (ev->conn_rounds > 1)
			fprintf(fp, " (%d rounds)", ev->conn_rounds);
		fputc('\n', fp);
	}
	fprintf(fp, "  %llu path probes, %llu packets in all, %.2f s\n",
		(unsigned long long)r->path_probes,
		(unsigned long long)r->probes_sent, (double)r->duration_ns / 1e9);
	for (int i = 0; i < v->ncauses; i++) {
		diagnose_advice(&v->causes[i], adv, sizeof(adv));
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
		json_str(j, "reply", s->reply && s->kind != REPLY_UDP ? s->reply : "other");
		if (s->kind == REPLY_UDP)
			json_str(j, "udp_reply", s->reply);
		if (s->hops)
			json_int(j, "return_hops", s->hops);
	} else {
		json_null(j, "addr");
	}
	json_close_obj(j);
}

static void json_finding(struct json *j, const struct finding *f)
{
	char a[INET6_ADDRSTRLEN], words[1024];

	json_open_obj(j, NULL);
	json_str(j, "kind", cause_name(f->kind));
	json_bool(j, "latent", f->latent);
	if (f->hop > 0)
		json_int(j, "hop", f->hop);
	else
		json_null(j, "hop");
	if (f->hop_first > 0) {
		json_int(j, "hop_first", f->hop_first);
		json_int(j, "hop_last", f->hop_last);
	} else {
		json_null(j, "hop_first");
		json_null(j, "hop_last");
	}
	json_str(j, "addr", f->hop > 0 && f->addr.family ?
		 addr_str(&f->addr, a, sizeof(a)) : NULL);
	json_str(j, "first_addr", f->hop_first > 0 && f->first_addr.family ?
		 addr_str(&f->first_addr, a, sizeof(a)) : NULL);
	if (finding_has(f, FACT_ALT_HOP) && f->alt.answered)
		json_str(j, "other_protocol_addr", addr_str(&f->alt.addr, a, sizeof(a)));
	json_num(j, "confidence", f->confidence, 4);
	if (f->p_value >= 0)
		json_num(j, "p_value", f->p_value, 6);
	json_open_obj(j, "facts");
	for (int k = 0; k < FACT_COUNT; k++) {
		if (!finding_has(f, (enum fact)k))
			continue;
		if (k == FACT_TEST)
			json_str(j, fact_name(k), comparison_name((enum comparison)f->fact[k]));
		else if (k == FACT_FIELD)
			json_str(j, fact_name(k), field_name((int)f->fact[k]));
		else if (k == FACT_ECN_A || k == FACT_ECN_B || k == FACT_SENT_ECN ||
			 k == FACT_QUOTED_ECN)
			json_str(j, fact_name(k), ecn_name((int)f->fact[k]));
		else
			json_int(j, fact_name(k), f->fact[k]);
	}
	json_close_obj(j);
	diagnose_evidence(f, words, sizeof(words));
	json_str(j, "evidence", words);
	diagnose_advice(f, words, sizeof(words));
	if (words[0])
		json_str(j, "advice", words);
	json_close_obj(j);
}

static void json_findings(struct json *j, const char *key,
			  const struct finding *f, int n)
{
	json_open_arr(j, key);
	for (int i = 0; i < n; i++)
		json_finding(j, &f[i]);
	json_close_arr(j);
}

static const char *const reason_names[] = {
	[WHY_CAUSE] = "cause", [WHY_NO_FAULT] = "no-fault",
	[WHY_NOT_REACHED] = "not-reached", [WHY_REFUSED] = "refused",
	[WHY_FEW_ANSWERS] = "few-answers",
	[WHY_NOT_SIGNIFICANT] = "not-significant",
};

static void json_comparisons(struct json *j, const struct diag_verdict *v)
{
	json_open_arr(j, "comparisons");
	for (int k = 0; k < CMP_COUNT; k++) {
		const struct comparison_result *c = &v->cmp[k];

		/* site-moved is in "sites": comparison is a closed set */
		if ((c->test_n == 0 && c->control_n == 0) || k == CMP_SITE_ECT)
			continue;
		json_open_obj(j, NULL);
		json_str(j, "comparison", comparison_name((enum comparison)k));
		json_int(j, "ecn_trials", c->test_n);
		json_int(j, "ecn_failed", c->test_bad);
		json_int(j, "control_trials", c->control_n);
		json_int(j, "control_failed", c->control_bad);
		json_num(j, "p_value", c->p, 6);
		json_close_obj(j);
	}
	json_close_arr(j);
}

void diagnose_print_json(FILE *fp, const struct diag_result *r,
			 const char *host)
{
	struct json j;
	char a[INET6_ADDRSTRLEN], sum[768];
	int ok, reset;

	json_begin_doc(&j, fp, "diagnose");
	json_str(&j, "target", host);
	json_str(&j, "addr", addr_str(&r->p.dst, a, sizeof(a)));
	json_int(&j, "family", r->p.dst.family == AF_INET ? 4 : 6);
	json_int(&j, "dport", r->p.dport);
	json_str(&j, "protocol", diag_proto_name(&r->ev));

	json_open_obj(&j, "verdict");
	json_str(&j, "status", diag_status_name(r->v.status));
	diagnose_summary(r, sum, sizeof(sum));
	json_str(&j, "reason", reason_names[r->v.reason]);
	json_str(&j, "summary", sum);
	json_findings(&j, "causes", r->v.causes, r->v.ncauses);
	json_findings(&j, "notes", r->v.notes, r->v.nnotes);
	json_comparisons(&j, &r->v);
	json_close_obj(&j);

	json_open_obj(&j, "paths");
	json_str(&j, "load_balancing", lb_name(r->v.lb));
	json_bool(&j, "ecn_dependent", r->v.ecn_dependent);
	json_bool(&j, "dscp_dependent", r->v.dscp_dependent);
	if (r->ev.divergence_ttl && (r->v.ecn_dependent || r->v.lb == LB_PER_PACKET))
		json_int(&j, "divergence_hop", r->ev.divergence_ttl);
	else
		json_null(&j, "divergence_hop");
	if (r->ev.split_unknown_from)
		json_int(&j, "split_unknown_from", r->ev.split_unknown_from);
	else
		json_null(&j, "split_unknown_from");
	json_num(&j, "confidence", r->v.path_confidence, 4);
	json_int(&j, "screen_ttl", r->ev.screen_ttl);
	json_int(&j, "repeats", r->ev.repeats.answered);
	json_int(&j, "repeats_agreed", (r->ev.repeats.answered - r->ev.repeats.differed));
	if (r->v.ecn_dependent) {
		json_int(&j, "split_sport", r->ev.flows[r->ev.split_flow].sport);
		json_open_arr(&j, "split_ecn");
		json_str(&j, NULL, ecn_name(r->ev.split_ecn[0]));
		json_str(&j, NULL, ecn_name(r->ev.split_ecn[1]));
		json_close_arr(&j);
		json_responder(&j, "balancer", &r->ev.balancer);
		json_open_arr(&j, "branches");
		json_responder(&j, NULL, &r->ev.split_at[0]);
		json_responder(&j, NULL, &r->ev.split_at[1]);
		json_close_arr(&j);
	}
	fields_json(&j, r);
	json_open_arr(&j, "flows");
	for (int i = 0; i < r->ev.nflows; i++) {
		json_open_obj(&j, NULL);
		json_int(&j, "sport", r->ev.flows[i].sport);
		for (int k = 0; k < 4; k++) {
			static const char *const keys[4] = { "not-ect", "ect1", "ect0", "ce" };

			if (r->ev.flows[i].by_ecn[k].answered || r->ev.flows[i].full)
				json_responder(&j, keys[k], &r->ev.flows[i].by_ecn[k]);
		}
		json_close_obj(&j);
	}
	json_close_arr(&j);
	json_close_obj(&j);

	json_open_obj(&j, "trace");
	json_str(&j, "ecn", "ect0");
	json_int(&j, "sport", r->ev.trace.p.flow.sport);
	json_bool(&j, "reached", r->ev.trace.dest_ttl != 0);
	trace_json_hops(&j, &r->ev.trace, 1);
	json_close_obj(&j);

	json_open_obj(&j, "anycast");
	json_int(&j, "sites", r->v.nsites);
	json_open_arr(&j, "endpoints");
	for (int i = 0; i < r->v.nsites; i++) {
		const struct site *s = &r->v.sites[i];

		json_open_obj(&j, NULL);
		json_int(&j, "return_hops", s->hops);
		json_str(&j, "told_apart_by", s->by_behaviour ? "behaviour" : "fingerprint");
		json_int(&j, "synacks", s->synacks);
		json_int(&j, "rsts", s->rsts);
		if (r->ev.have_sites) {
			char qv[16];

			json_int(&j, "answers", s->answers);
			snprintf(qv, sizeof(qv), "0x%08x", s->quic_version);
			json_str(&j, "quic_version", s->quic_version ? qv : NULL);
		}
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

	diag_sites_json(&j, &r->ev);
	json_open_obj(&j, "connection");
	if (r->ev.have_conn)
		connect_json_body(&j, &r->ev.conn);
	if (r->ev.have_ect_check) {
		json_open_obj(&j, "all_ect");
		judge_all_ect(&r->ev, &ok, &reset);
		json_int(&j, "delivered", ok);
		json_int(&j, "reset", reset);
		json_open_arr(&j, "flows");
		for (size_t i = 0; i < r->ev.ect_check.nflows; i++) {
			const struct conn_flow *f = &r->ev.ect_check.flows[i];

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
