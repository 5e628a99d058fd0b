/* fields_out: the --fields screen in words and JSON. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "fields_out.h"

#define FACT(k) ((int)f->fact[k])
#define PUT(...) do { if ((size_t)n < len) \
	n += snprintf(buf + n, len - (size_t)n, __VA_ARGS__); } while (0)

/* A field's value in words: "TTL 63", "flow label 0x12345", "DSCP 46 (ef)". */
static void value_words(int field, long long v, char *buf, size_t len)
{
	const char *name = field == FIELD_DSCP ? dscp_name((int)v) : NULL;

	if (field == FIELD_FRAG)
		snprintf(buf, len, "%s", v ? "fragmented" : "whole");
	else if (field == FIELD_TTL)
		snprintf(buf, len, "TTL %lld", v);
	else if (field == FIELD_FLOWLABEL)
		snprintf(buf, len, "flow label 0x%05llx", v);
	else if (name)
		snprintf(buf, len, "DSCP %lld (%s)", v, name);
	else
		snprintf(buf, len, "DSCP %lld", v);
}

static void parted_words(const struct finding *f, char *buf, size_t len)
{
	char a[48], b[48];
	int n = 0, field = FACT(FACT_FIELD);

	value_words(field, f->fact[FACT_VALUE_A], a, sizeof(a));
	value_words(field, f->fact[FACT_VALUE_B], b, sizeof(b));
	if (field == FIELD_FRAG)
		PUT("one UDP datagram (source port %d), whole and fragmented, "
		    "nothing else changed, %s", FACT(FACT_SPORT), FACT(FACT_AT_END) ?
		    "is answered by different machines at the target" :
		    "reaches different routers");
	else if (FACT(FACT_AT_END))
		PUT("SYNs of one flow (source port %d) with %s and with %s, "
		    "nothing else changed, are answered by different machines "
		    "(%d and %d hops back)", FACT(FACT_SPORT), a, b,
		    f->reach[0].hops, f->reach[1].hops);
	else
		PUT("probes of one flow (source port %d) with %s and with %s, "
		    "nothing else changed, reach different routers at hop %d",
		    FACT(FACT_SPORT), a, b, FACT(FACT_SPLIT_HOP));
	PUT("; %d of %d repeats agreed", FACT(FACT_REPEATS_AGREED),
	    FACT(FACT_REPEATS));
	if (!finding_has(f, FACT_FORK_FLOWS))
		return;
	if (FACT(FACT_SPLIT_HOP) > 1)
		PUT("; all %d flows probed at hop %d met one router, so paths "
		    "that part by the TTL part there or after it",
		    FACT(FACT_FORK_FLOWS), FACT(FACT_SPLIT_HOP) - 1);
	else
		PUT("; no hop where %d flows probed all met one router",
		    FACT(FACT_FORK_FLOWS));
	if (f->hop == 0)
		PUT(" (a probe expires where its TTL ends, so which of these "
		    "routers hashes on the TTL cannot be seen)");
}

int fields_evidence(const struct finding *f, char *buf, size_t len)
{
	int n = 0;

	buf[0] = '\0';
	if (f->kind == CAUSE_CE_HASH) {
		PUT("one flow's CE probes (source port %d) reach another router "
		    "at hop %d than its %s ones, while Not-ECT, ECT(0) and ECT(1) "
		    "agreed on each of %d whole flows (a hash over every codepoint "
		    "would part them on 3 flows in 4)", FACT(FACT_SPORT),
		    FACT(FACT_SPLIT_HOP),
		    ecn_name(FACT(FACT_ECN_A) == ECN_CE ? FACT(FACT_ECN_B) : FACT(FACT_ECN_A)),
		    FACT(FACT_CE_FLOWS));
		if (finding_has(f, FACT_ALL_ECT_RESET))
			PUT("; ECN connections had their data reset %d of %d "
			    "times against %d of %d plain connections, and sent "
			    "entirely ECT(0) too (%d of %d reset)",
			    FACT(FACT_TEST_BAD), FACT(FACT_TEST_N),
			    FACT(FACT_CONTROL_BAD), FACT(FACT_CONTROL_N),
			    FACT(FACT_ALL_ECT_RESET), FACT(FACT_ALL_ECT_N));
		return 1;
	}
	if (!finding_has(f, FACT_FIELD))
		return 0;
	switch (f->kind) {
	case CAUSE_TTL_HASH:
	case CAUSE_FLOWLABEL_HASH:
	case CAUSE_FRAGMENT_PATH:
	case NOTE_DSCP_HASH:
		parted_words(f, buf, len);
		if (FACT(FACT_FIELD) == FIELD_FRAG && finding_has(f, FACT_SPLIT_HOP)) {
			n = (int)strlen(buf);
			PUT("; a first fragment and the whole datagram part at hop %d",
			    FACT(FACT_SPLIT_HOP));
		}
		return 1;
	case NOTE_UNCONFIRMED:
		parted_words(f, buf, len);
		n = (int)strlen(buf);
		if (finding_has(f, FACT_HOPS_ONLY)) {
			PUT(": one address answered both, only the return hop count "
			    "differed, which a server reflecting the %s into its "
			    "answer and a return path hashing on it explain as well; "
			    "no fault is named", FACT(FACT_FIELD) == FIELD_DSCP ?
			    "DSCP" : "flow label");
			return 1;
		}
		PUT(": too few agreeing repeats to tell a hash over %s from "
		    "per-packet balancing; no fault is named",
		    field_name(FACT(FACT_FIELD)));
		return 1;
	default:
		return 0;
	}
}

int fields_advice(const struct finding *f, const char *w, char *buf, size_t len)
{
	char lw[192];

	/* w starts a sentence; lw goes inside one. */
	snprintf(lw, sizeof(lw), "%s", w);
	lw[0] = (char)tolower((unsigned char)lw[0]);
	switch (f->kind) {
	case CAUSE_CE_HASH:
		snprintf(buf, len, "%s moves CE-marked packets to another path, so "
			 "connections break under congestion (when a queue before "
			 "it marks CE); it must leave the ECN bits out of its ECMP "
			 "hash (RFC 2474 sec. 3, RFC 2991).%s", w, f->latent ? "" :
			 " Meanwhile the client avoids the failure by not requesting "
			 "ECN: sysctl -w net.ipv4.tcp_ecn=2");
		return 1;
	case CAUSE_TTL_HASH:
		snprintf(buf, len, "%s must leave the TTL (hop limit) out of its "
			 "ECMP hash: it changes along the path and between a "
			 "connection's packets where a middlebox or the client's "
			 "stack sets it differently, and those packets then reach "
			 "different sites.", w);
		return 1;
	case CAUSE_FLOWLABEL_HASH:
		snprintf(buf, len, "In front of anycast sites %s must hash on "
			 "addresses and ports, not the flow label: Linux clients can "
			 "change it after a retransmission timeout. Clients avoid it "
			 "with sysctl -w net.ipv6.auto_flowlabels=0, or "
			 "net.core.txrehash=0 (Linux 5.18+: no new label after a "
			 "timeout).", lw);
		return 1;
	case CAUSE_FRAGMENT_PATH:
		snprintf(buf, len, "%s hashes a UDP flow's fragments on addresses "
			 "only (a fragment carries no ports; Linux "
			 "fib_multipath_hash_policy=1 does so) and its whole datagrams "
			 "on the 5-tuple, so a fragmented datagram (DNS with EDNS) "
			 "reaches another site than the rest of its flow. It should "
			 "hash both alike (addresses only for UDP in front of anycast); "
			 "senders avoid it by not fragmenting (EDNS buffer 1232).", w);
		return 1;
	case NOTE_DSCP_HASH:
		if (!finding_has(f, FACT_FIELD))
			return 0;
		snprintf(buf, len, "Harmless while DSCP is constant within a "
			 "connection; an application that marks one flow's packets "
			 "differently (real-time media) would see them reach "
			 "different sites through %s.", lw);
		return 1;
	default:
		return 0;
	}
}

int fields_summary(const struct finding *f, const char *w, char *buf, size_t len)
{
	switch (f->kind) {
	case CAUSE_CE_HASH:
		snprintf(buf, len, "CE-dependent ECMP: %s moves only CE-marked "
			 "packets to another path, so connections break under "
			 "congestion%s", w, f->latent ?
			 " (today's connections meet no CE mark before it)" :
			 ", and CE marks before it break them now");
		return 1;
	case CAUSE_TTL_HASH:
		snprintf(buf, len, "TTL-dependent ECMP: %s puts the TTL into its "
			 "load-balancing hash, so packets of one connection sent "
			 "with different TTLs reach different machines; today's "
			 "connections from this host keep one TTL", w);
		return 1;
	case CAUSE_FRAGMENT_PATH:
		snprintf(buf, len, "fragments take another path: %s sends a UDP "
			 "flow's fragmented datagrams elsewhere than its whole ones, "
			 "so a fragmented answer or query reaches another machine", w);
		return 1;
	case CAUSE_FLOWLABEL_HASH:
		snprintf(buf, len, "flow-label ECMP: %s balances on the IPv6 flow "
			 "label, so a connection breaks when its label changes (Linux "
			 "can change it after a retransmission timeout)", w);
		return 1;
	default:
		return 0;
	}
}

void fields_print_text(FILE *fp, const struct diag_result *r)
{
	const struct diag_fields *fs = &r->ev.fields;
	double lvl = fields_level(&r->ev, r->v.confidence);
	int any = 0;

	for (int k = FIELD_TTL; k < FIELD_COUNT; k++) {
		const struct field_evidence *fe = &fs->f[k];

		if (!fe->screened)
			continue;
		fprintf(fp, "%s %s ", any++ ? "," : "  fields:", field_name(k));
		if (!fe->applies)
			fputs("does not apply to IPv4", fp);
		else if (fe->split_seen)
			fputs("moves the path", fp);
		else if (fe->parted)
			fputs("parted once, unconfirmed", fp);
		else
			/* At the target only, a machine: a unicast target's
			 * forward splits are not seen (review B15). */
			fprintf(fp, "%s (%.*f%%, %d flows%s)", fe->at_hop ?
				"does not move the path" :
				"does not change the answering machine",
				field_confidence(fe) > 0.999 ? 3 : 1,
				100 * field_confidence(fe), fe->nflows,
				field_confidence(fe) + 1e-12 < lvl ?
				", short of the confidence asked" : "");
	}
	if (any)
		fputc('\n', fp);
}

void fields_json(struct json *j, const struct diag_result *r)
{
	const struct diag_fields *fs = &r->ev.fields;

	json_open_arr(j, "fields");
	for (int k = FIELD_TTL; k < FIELD_COUNT; k++) {
		const struct field_evidence *fe = &fs->f[k];

		if (!fe->screened)
			continue;
		json_open_obj(j, NULL);
		json_str(j, "field", field_name(k));
		json_bool(j, "applies", fe->applies);
		if (fe->applies) {
			json_int(j, "flows", fe->nflows);
			json_int(j, "values", fe->nvalues);
			json_bool(j, "at_hop", fe->at_hop);
			json_bool(j, "moves_path", fe->split_seen);
			json_bool(j, "parted", fe->parted);
			json_num(j, "confidence", field_confidence(fe), 4);
			json_int(j, "repeats", fe->repeats.answered);
			json_int(j, "repeats_agreed",
				 fe->repeats.answered - fe->repeats.differed);
			if (fe->split_seen)
				json_int(j, "divergence_hop", fe->divergence_ttl);
			else
				json_null(j, "divergence_hop");
		}
		json_close_obj(j);
	}
	json_close_arr(j);
}
