/*
 * report: a diagnosis as one self-contained HTML page. The page loads
 * nothing (its Content-Security-Policy forbids it), runs no script and
 * draws with inline SVG. Every string that is not a literal of this file
 * goes through esc(): the target name comes from the user.
 *
 * Sections, one function each: report_verdict, report_paths,
 * report_timeline, report_hops, report_operator.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "connect_out.h"
#include "diagnose_out.h"
#include "ecntrace.h"
#include "diag_udp_out.h"
#include "report.h"
#include "term.h"

/* ------------------------------------------------------------ helpers */

/* The RFC 3168 spellings, as tcpdump prints them. */
static const char *const ecn_label[4] = { "Not-ECT", "ECT(1)", "ECT(0)", "CE" };
/* Codepoints in the order a reader expects them. */
static const int ecn_order[4] = { ECN_NOT_ECT, ECN_ECT0, ECN_ECT1, ECN_CE };

static const char *const path_color[3] = { "#2563eb", "#ea580c", "#7c3aed" };
#define TRUNK_COLOR "#64748b"
#define FAULT_COLOR "#dc2626"
#define SITE_COLOR "#059669"
#define NOTE_COLOR "#d97706"

/* Text into HTML: markup characters as entities. Controls (C0, DEL, C1,
 * bidirectional formatting: cp_is_control(), term.h) and bytes that are
 * not valid UTF-8 become U+FFFD, the replacement character, so the page
 * shows that something was there and never carries them raw. */
static void esc(FILE *fp, const char *s)
{
	while (s != NULL && *s) {
		uint32_t cp;
		int n = utf8_decode(s, &cp);

		switch (n == 1 ? *s : 0) {
		case '&': fputs("&amp;", fp); break;
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		default:
			if (n == 0 || cp_is_control(cp))
				fputs("&#xfffd;", fp);
			else
				fwrite(s, 1, (size_t)n, fp);
			break;
		}
		s += n ? n : 1;
	}
}

static void esc_addr(FILE *fp, const struct addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	esc(fp, a->family ? addr_str(a, buf, sizeof(buf)) : "unknown");
}

/* What each kind of finding means, in words, and what its router does
 * (shown on the router's node). */
static const struct {
	const char *title, *tag;
} finding_text[CAUSE_KIND_COUNT] = {
	[CAUSE_ECN_HASH] = { "Load-balancing hash includes the ECN bits", "hashes on the ECN bits" },
	[CAUSE_PER_PACKET_LB] = { "Per-packet load balancing", "balances per packet" },
	[CAUSE_BLEACHING] = { "ECN field cleared (bleaching)", "ECN cleared after it" },
	[CAUSE_MANGLING] = { "ECN field rewritten", "ECN rewritten after it" },
	[CAUSE_CE_MARKING] = { "CE marks without congestion", "CE marked after it" },
	[CAUSE_ECT_BLACKHOLE] = { "ECT-marked packets dropped", "ECT dropped after it" },
	[CAUSE_SYN_ECN_DROP] = { "ECN-setup SYNs dropped", "drops ECN-setup SYNs" },
	[CAUSE_SYN_ECN_RESET] = { "ECN-setup SYNs reset", "resets ECN-setup SYNs" },
	[CAUSE_ECT_RESET] = { "ECT data reset", "resets ECT-marked data" },
	[CAUSE_CE_HASH] = { "Load-balancing hash moves CE-marked packets", "moves CE packets" },
	[CAUSE_TTL_HASH] = { "Load-balancing hash includes the TTL", "hashes on the TTL" },
	[CAUSE_FLOWLABEL_HASH] = { "Load-balancing hash includes the IPv6 flow label", "hashes on the flow label" },
	[CAUSE_FRAGMENT_PATH] = { "Fragments take another path than whole datagrams", "sends fragments elsewhere" },
	[NOTE_DSCP_HASH] = { "Load-balancing hash includes DSCP", "hashes on DSCP" },
	[NOTE_SAFE_MULTIPATH] = { "Per-flow multipath, safe for ECN", NULL },
	[NOTE_ECN_PATH_ONE_SITE] = { "Path depends on ECN, but one machine answers", "hashes on the ECN bits" },
	[NOTE_ECN_DECLINED] = { "The server did not agree to ECN", NULL },
	[NOTE_TARGET_NOT_REACHED] = { "Target not reached", NULL },
	[NOTE_DSCP_REMARK] = { "DSCP remarked together with ECN", NULL },
};

/* Causes break connections (red); notes only explain (amber). */
static int is_note(const struct finding *f)
{
	return f->kind >= NOTE_DSCP_HASH;
}

static const char *finding_color(const struct finding *f)
{
	return is_note(f) ? NOTE_COLOR : FAULT_COLOR;
}

static const char *finding_title(enum cause_kind k)
{
	return k < CAUSE_KIND_COUNT && finding_text[k].title ? finding_text[k].title
							     : cause_name(k);
}

/* The first answered probe of a trace at this TTL, or NULL. */
static const struct probe *trace_answer(const struct trace_result *t, int ttl)
{
	for (int q = 0; q < t->p.nqueries; q++) {
		const struct probe *p = trace_probe(t, ttl, q);

		if (p != NULL && p->state == PROBE_ANSWERED)
			return p;
	}
	return NULL;
}

static struct responder trace_responder(const struct trace_result *t, int ttl)
{
	const struct probe *p = trace_answer(t, ttl);
	struct responder s;

	memset(&s, 0, sizeof(s));
	if (p == NULL)
		return s;
	s.answered = 1;
	s.addr = p->reply.src;
	s.kind = p->reply.kind;
	if (s.kind != REPLY_TIME_EXCEEDED)
		s.hops = return_hops(p->reply.ttl);
	return s;
}

/* The last TTL of a trace worth drawing: one silent hop after the last
 * answer says "nothing further". */
static int trace_rows(const struct trace_result *t)
{
	int last = 0;

	for (int ttl = t->p.first_ttl; ttl <= t->stop_ttl; ttl++)
		if (trace_answer(t, ttl))
			last = ttl;
	return last < t->stop_ttl ? last + 1 : last;
}

/* Two answers from the same machine (a silent hop is nobody). */
static int same_responder(const struct responder *a, const struct responder *b)
{
	return a->answered && b->answered && !responder_differs(a, b);
}

static int is_target(const struct diag_result *r, const struct responder *s)
{
	return s->answered && addr_eq(&s->addr, &r->p.dst) &&
	       (s->kind == REPLY_TCP || s->kind == REPLY_UDP ||
		s->kind == REPLY_UNREACH);
}

/* The anycast site (1-based) whose replies travel this many hops, or 0.
 * other: the machine that reset the data, which may share its hop count
 * with the SYN-ACK's site and then stands apart by behaviour. */
static int site_of(const struct diag_result *r, int hops, int other)
{
	for (int i = 0; i < r->v.nsites && other; i++)
		if (r->v.sites[i].hops == hops && r->v.sites[i].by_behaviour)
			return i + 1;
	for (int i = 0; i < r->v.nsites; i++)
		if (r->v.sites[i].hops == hops && !r->v.sites[i].by_behaviour)
			return i + 1;
	return 0;
}

/* "site 2 · 5 hops back", "target · 5 hops back", or just "2 hops back"
 * for a machine none of the target's SYN-ACKs came from. site: 1-based,
 * or 0 to look it up by hop count. */
static void site_words(const struct diag_result *r, int site, int hops,
		       char *buf, size_t len)
{
	if (site == 0)
		site = site_of(r, hops, 0);

	if (site && r->v.nsites > 1)
		snprintf(buf, len, "site %d \xc2\xb7 %d hops back", site, hops);
	else if (r->v.nsites && !site)
		snprintf(buf, len, "%d hops back", hops);
	else
		snprintf(buf, len, "target \xc2\xb7 %d hops back", hops);
}

/* A confidence as a percentage; a bound short of certainty never shows
 * as 100%. */
static void pct(FILE *fp, double c)
{
	if (c < 1.0 && c > 0.999)
		fputs("&gt;99.9%", fp);
	else
		fprintf(fp, "%.1f%%", c * 100);
}

/* ------------------------------------------------------------ page frame */

static const char page_css[] =
":root{--fg:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f1f5f9;"
"--red:#dc2626;--green:#059669;--amber:#b45309;--blue:#2563eb}\n"
"*{box-sizing:border-box}\n"
"body{margin:0;background:var(--bg);color:var(--fg);"
"font:15px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
"Arial,sans-serif}\n"
"main{max-width:1140px;margin:0 auto;padding:24px 28px 40px}\n"
"header{padding:6px 0 4px}\n"
".kicker{font-size:12px;letter-spacing:.08em;text-transform:uppercase;"
"color:var(--muted);font-weight:600}\n"
"h1{font-size:26px;line-height:1.25;margin:4px 0 6px;font-weight:700}\n"
"h2{font-size:17px;margin:0 0 4px}\n"
"h3{font-size:15px;margin:0}\n"
".meta{color:var(--muted);font-size:13px}\n"
"section{background:#fff;border:1px solid var(--line);border-radius:10px;"
"padding:20px 24px;margin:16px 0;break-inside:avoid}\n"
".lead{color:var(--muted);font-size:13.5px;margin:0 0 14px;max-width:900px}\n"
".badge{display:inline-block;padding:2px 12px;border-radius:999px;"
"font-weight:700;font-size:13px;letter-spacing:.06em;vertical-align:3px;"
"margin-right:8px}\n"
".broken{background:#fee2e2;color:#991b1b}\n"
".healthy{background:#d1fae5;color:#065f46}\n"
".inconclusive{background:#fef3c7;color:#92400e}\n"
".latent{background:#ffedd5;color:#9a3412}\n"
".summary{font-size:17px;margin:10px 0 16px}\n"
"dl.facts{display:grid;grid-template-columns:repeat(3,1fr);gap:12px 28px;"
"margin:0;padding:14px 0 2px;border-top:1px solid var(--line)}\n"
"dl.facts dt{font-size:11.5px;color:var(--muted);text-transform:uppercase;"
"letter-spacing:.06em;font-weight:600}\n"
"dl.facts dd{margin:0}\n"
".finding{border-left:4px solid var(--red);background:#fef2f2;"
"border-radius:6px;padding:12px 16px;margin:14px 0 0}\n"
".finding.note{border-color:#94a3b8;background:#f8fafc;padding:8px 16px}\n"
".finding p{margin:6px 0 0}\n"
".pill{display:inline-block;font-size:12px;padding:0 8px;border-radius:999px;"
"background:#fff;border:1px solid var(--line);margin-left:6px;color:#334155}\n"
".label{font-weight:600;color:#334155}\n"
"code,.mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,"
"'DejaVu Sans Mono','Liberation Mono',monospace;font-size:13px}\n"
"ul.legend{list-style:none;padding:0;margin:0 0 8px;display:flex;"
"flex-wrap:wrap;gap:4px 22px;font-size:13px}\n"
".sw{display:inline-block;width:22px;height:4px;border-radius:2px;"
"vertical-align:middle;margin-right:7px}\n"
".sw.dash{background:repeating-linear-gradient(90deg,#64748b 0 5px,"
"transparent 5px 9px)}\n"
"svg{display:block;max-width:100%;height:auto;margin:6px auto 0}\n"
"svg text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,"
"sans-serif}\n"
"svg .m{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,"
"'DejaVu Sans Mono','Liberation Mono',monospace}\n"
".caption{font-size:13px;color:var(--muted);margin:10px 0 0}\n"
"pre.capture{background:#0f172a;color:#e2e8f0;border-radius:8px;"
"padding:14px 16px;font-size:12px;line-height:1.55;margin:14px 0 0;"
"white-space:pre-wrap;overflow-wrap:anywhere}\n"
"pre.capture .l{display:block;padding-left:14ch;text-indent:-14ch}\n"
"pre.capture .c{color:#94a3b8}\n"
"pre.capture .x{color:#fdba74}\n"
"pre.capture .r{color:#fca5a5}\n"
"table{border-collapse:collapse;width:100%;font-size:14px}\n"
"th,td{padding:7px 10px;border-bottom:1px solid var(--line);"
"text-align:left;vertical-align:top}\n"
"th{font-size:11.5px;color:var(--muted);text-transform:uppercase;"
"letter-spacing:.05em;font-weight:600}\n"
"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
"tr.fault td{background:#fef2f2}\n"
"tr.note td{background:#fffbeb}\n"
".tagnote{color:#b45309;font-weight:600}\n"
".q{display:inline-block;min-width:64px;text-align:center;padding:0 8px;"
"border-radius:4px;font-size:12.5px;font-weight:600}\n"
".q.same{background:#d1fae5;color:#065f46}\n"
".q.changed{background:#fee2e2;color:#991b1b}\n"
".q.none{background:#f1f5f9;color:var(--muted);font-weight:400}\n"
".chg{color:var(--red);font-weight:600}\n"
".muted{color:var(--muted)}\n"
".operator{border-left:5px solid var(--blue)}\n"
".operator p{margin:8px 0 0;max-width:960px}\n"
"footer{color:var(--muted);font-size:12.5px;margin-top:20px}\n"
"@media print{body{background:#fff}main{padding:0}"
"section{border-color:#cbd5e1}}\n";

static void page_head(FILE *fp, const struct diag_result *r, const char *host)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
	      "'none'; style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"ecntrace " ECNTRACE_VERSION "\">\n"
	      "<title>ecntrace: ", fp);
	esc(fp, host);
	fprintf(fp, " \xe2\x80\x94 %s</title>\n<style>\n%s</style>\n</head>\n"
		"<body>\n<main>\n", diag_status_name(r->v.status), page_css);
}

static void page_header(FILE *fp, const struct diag_result *r,
			const char *host)
{
	char a[INET6_ADDRSTRLEN], when[64] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	addr_str(&r->p.dst, a, sizeof(a));
	fputs("<header>\n<div class=\"kicker\">ECN path diagnosis</div>\n<h1>", fp);
	esc(fp, host);
	if (strcmp(host, a) != 0) {
		fputs(" <span class=\"muted mono\">(", fp);
		esc(fp, a);
		fputs(")</span>", fp);
	}
	fprintf(fp, ", %s port %u</h1>\n<div class=\"meta\">From ",
		diag_proto_word(&r->ev), r->p.dport);
	esc_addr(fp, &r->p.src);
	fprintf(fp, " \xc2\xb7 %s \xc2\xb7 ecntrace %s \xc2\xb7 %llu packets in "
		"%.2f s</div>\n</header>\n", when, ECNTRACE_VERSION,
		(unsigned long long)r->probes_sent, (double)r->duration_ns / 1e9);
}

static void page_foot(FILE *fp)
{
	fputs("<footer>Written by ecntrace " ECNTRACE_VERSION ". The page is "
	      "self-contained: it loads no fonts, scripts or images. Hop counts "
	      "are inferred from reply TTLs (initial TTL 64, 128 or 255).</footer>\n"
	      "</main>\n</body>\n</html>\n", fp);
}

/* ------------------------------------------------------------ verdict */

static void verdict_fact(FILE *fp, const char *label)
{
	fprintf(fp, "<div><dt>%s</dt><dd>", label);
}

static int all_ect_delivered(const struct diag_result *r)
{
	int ok, reset;

	judge_all_ect(&r->ev, &ok, &reset);
	return ok;
}

static void verdict_facts(FILE *fp, const struct diag_result *r)
{
	const struct connect_result *cr = &r->ev.conn;
	int split = r->ev.divergence_ttl && (r->v.ecn_dependent || r->v.lb == LB_PER_PACKET);

	fputs("<dl class=\"facts\">\n", fp);
	verdict_fact(fp, "Load balancing");
	fprintf(fp, "%s%s</dd></div>\n", lb_name(r->v.lb),
		r->v.ecn_dependent ? ", <b>depends on ECN</b>" : "");
	verdict_fact(fp, "Paths part");
	if (split && r->ev.split_unknown_from) {
		/* Silent hops bound it: an interval, no router named. */
		fprintf(fp, "between hop %d and hop %d (hops %d to %d do not "
			"answer both codepoints)", r->ev.split_unknown_from - 1 > 0 ?
			r->ev.split_unknown_from - 1 : 1, r->ev.divergence_ttl - 1,
			r->ev.split_unknown_from, r->ev.divergence_ttl - 1);
	} else if (split) {
		fprintf(fp, "after hop %d", r->ev.divergence_ttl - 1);
		if (r->ev.balancer.answered) {
			fputs(" (<span class=\"mono\">", fp);
			esc_addr(fp, &r->ev.balancer.addr);
			fputs("</span>)", fp);
		}
	} else {
		fputs("nowhere seen", fp);
	}
	fputs("</dd></div>\n", fp);
	verdict_fact(fp, "Machines behind the address");
	if (r->v.nsites == 0)
		fputs("not measured", fp);
	for (int i = 0; i < r->v.nsites; i++)
		fprintf(fp, "%s%d hops back", i ? ", " : "", r->v.sites[i].hops);
	fputs("</dd></div>\n", fp);
	if (r->ev.have_sites) {
		struct comparison_result sc = judge_compare(&r->ev, CMP_SITE_ECT);

		verdict_fact(fp, "Flows Not-ECT, then ECT(0)");
		fprintf(fp, "%d of %d answered by another machine</dd></div>\n",
			sc.test_bad, sc.test_n);
		verdict_fact(fp, "Flows Not-ECT twice");
		fprintf(fp, "%d of %d answered by another machine</dd></div>\n",
			sc.control_bad, sc.control_n);
	} else {
	verdict_fact(fp, "Connections with ECN");
	if (!r->ev.have_conn)
		fputs("not replayed", fp);
	for (int k = 0, first = 1; r->ev.have_conn && k < CR_COUNT; k++)
		if (cr->counts[k]) {
			fprintf(fp, "%s%d %s", first ? "" : ", ", cr->counts[k],
				conn_result_name(k));
			first = 0;
		}
	fputs("</dd></div>\n", fp);
	verdict_fact(fp, "Connections without ECN");
	if (r->ev.have_conn)
		fprintf(fp, "%d of %d ok", cr->control_ok,
			(int)cr->nflows - cr->p.nflows);
	else
		fputs("not replayed", fp);
	fputs("</dd></div>\n", fp);
	}
	verdict_fact(fp, "Path verdict confidence");
	pct(fp, r->v.path_confidence);
	if (r->ev.split_inferred)
		fprintf(fp, " (%d flows at hop %d; the split shown by %d of %d "
			"all-ECT(0) replays)</dd></div>\n</dl>\n", r->ev.nflows,
			r->ev.screen_ttl, all_ect_delivered(r), (int)r->ev.ect_check.nflows);
	else
		fprintf(fp, " (%d flows at hop %d, %d of %d repeats agreed)"
			"</dd></div>\n</dl>\n", r->ev.nflows, r->ev.screen_ttl,
			(r->ev.repeats.answered - r->ev.repeats.differed), r->ev.repeats.answered);
}

static void verdict_finding(FILE *fp, const struct finding *f, int note)
{
	char adv[512], words[1024];

	fprintf(fp, "<div class=\"finding%s\">\n<h3>", note ? " note" : "");
	esc(fp, finding_title(f->kind));
	fputs(" <code class=\"pill\">", fp);
	esc(fp, cause_name(f->kind));
	fputs("</code>", fp);
	if (f->hop > 0) {
		fprintf(fp, "<span class=\"pill\">hop %d \xc2\xb7 <span class=\"mono\">",
			f->hop);
		esc_addr(fp, &f->addr);
		fputs("</span></span>", fp);
	} else if (f->hop_first > 0) {
		/* Bounded, not singled out: the interval, and no address. */
		fprintf(fp, "<span class=\"pill\">between hop %d and hop %d</span>",
			f->hop_first, f->hop_last);
	}
	if (f->latent)
		fputs("<span class=\"pill\">latent: today's connections escape it</span>", fp);
	fputs("<span class=\"pill\">confidence ", fp);
	pct(fp, f->confidence);
	fputs("</span></h3>\n", fp);
	diagnose_evidence(f, words, sizeof(words));
	if (words[0]) {
		fputs("<p><span class=\"label\">Evidence:</span> ", fp);
		esc(fp, words);
		fputs("</p>\n", fp);
	}
	diagnose_advice(f, adv, sizeof(adv));
	if (adv[0]) {
		fputs("<p><span class=\"label\">What to do:</span> ", fp);
		esc(fp, adv);
		fputs("</p>\n", fp);
	}
	fputs("</div>\n", fp);
}

static void report_verdict(FILE *fp, const struct diag_result *r)
{
	const char *st = diag_status_name(r->v.status);
	char sum[768];

	fprintf(fp, "<section id=\"verdict\">\n<h2>Verdict</h2>\n"
		"<p class=\"summary\"><span class=\"badge %s\">", st);
	for (const char *c = st; *c; c++)
		fputc(toupper((unsigned char)*c), fp);
	fputs("</span>", fp);
	diagnose_summary(r, sum, sizeof(sum));
	esc(fp, sum);
	fputs("</p>\n", fp);
	verdict_facts(fp, r);
	for (int i = 0; i < r->v.ncauses; i++)
		verdict_finding(fp, &r->v.causes[i], 0);
	for (int i = 0; i < r->v.nnotes; i++)
		verdict_finding(fp, &r->v.notes[i], 1);
	fputs("</section>\n", fp);
}

/* ------------------------------------------------------------ path map */

/*
 * The paths as a graph: one row per TTL (the client is row 0), a node per
 * responder, a coloured path per branch. Before the split both branches
 * share the nodes (the trunk, drawn in the middle column); after it each
 * branch has its own column. The target's replies are told apart by their
 * hop count, so two anycast sites are two nodes with one address.
 */
#define MAP_ROWS 256
#define MAP_PATHS 3
#define MAP_NODES 800
#define MAP_EDGES 1100
#define MAP_EXTRA 6

enum node_role { NODE_CLIENT, NODE_HOP, NODE_EXTRA };

struct map_node {
	int ttl;
	struct responder who;        /* answered 0: no reply at this TTL */
	enum node_role role;
	unsigned paths;              /* bit p: path p goes through it */
	int inferred;                /* placed from a reply's hop count */
	int col;
	int site;                    /* anycast site, 1-based; 0 none */
	const struct finding *fault; /* the cause that names this router */
};

struct map_edge {
	int from, to;
	unsigned paths;
	int dashed;
};

struct map {
	struct map_node node[MAP_NODES];
	int nnodes;
	struct map_edge edge[MAP_EDGES];
	int nedges;
	short at[MAP_PATHS][MAP_ROWS];  /* node of path p at a TTL, or -1 */
	int npaths, follows;         /* follows: 1 + branch the trace took */
	int col_of[MAP_PATHS], trunk_col, ncols, rows;
	int nextra, extra_left;
};

static int map_add(struct map *m, int ttl, const struct responder *who,
		   enum node_role role)
{
	struct map_node *n;

	if (m->nnodes >= MAP_NODES)
		return -1;
	n = &m->node[m->nnodes];
	memset(n, 0, sizeof(*n));
	n->ttl = ttl;
	n->who = *who;
	n->role = role;
	if (ttl > m->rows)
		m->rows = ttl;
	return m->nnodes++;
}

/* An answered responder already drawn at this TTL, or -1. */
static int map_find(const struct map *m, int ttl, const struct responder *who)
{
	for (int i = 1; i < m->nnodes; i++)
		if (m->node[i].ttl == ttl && same_responder(&m->node[i].who, who))
			return i;
	return -1;
}

/* Put who on the paths in mask at this TTL. Answers are shared between
 * paths (branches may rejoin); silent hops never are. */
static void map_put(struct map *m, unsigned mask, int ttl,
		    const struct responder *who)
{
	int n = who->answered ? map_find(m, ttl, who) : -1;

	if (ttl < 1 || ttl >= MAP_ROWS)
		return;
	if (n < 0)
		n = map_add(m, ttl, who, NODE_HOP);
	if (n < 0)
		return;
	m->node[n].paths |= mask;
	for (int p = 0; p < MAP_PATHS; p++)
		if (mask & (1u << p))
			m->at[p][ttl] = (short)n;
}

/* The rows from..last of a trace onto the paths in mask, except row skip. */
static void map_trace(struct map *m, unsigned mask, const struct trace_result *t,
		      int from, int skip)
{
	int last = trace_rows(t);

	for (int ttl = from; ttl <= last; ttl++) {
		struct responder s = trace_responder(t, ttl);

		if (ttl != skip)
			map_put(m, mask, ttl, &s);
	}
}

/* No ECN split: the ECT(0) trace, and beside it the Not-ECT trace of the
 * same flow when ECT(0) got lost (they share the hops up to the hole). */
static void map_traces(struct map *m, const struct diag_result *r)
{
	const struct trace_result *a = &r->ev.trace, *b = &r->ev.plain;
	int rows_a = trace_rows(a), rows_b, parted = 0;

	m->npaths = 1;
	if (!r->ev.have_plain_trace) {
		map_trace(m, 1, a, 1, 0);
		return;
	}
	m->npaths = 2;
	rows_b = trace_rows(b);
	for (int ttl = 1; ttl <= (rows_a > rows_b ? rows_a : rows_b); ttl++) {
		struct responder x = trace_responder(a, ttl);
		struct responder y = trace_responder(b, ttl);

		parted |= !same_responder(&x, &y) && (x.answered || y.answered);
		if (!parted) {
			map_put(m, 3, ttl, &x);
			continue;
		}
		if (ttl <= rows_a)
			map_put(m, 1, ttl, &x);
		if (ttl <= rows_b)
			map_put(m, 2, ttl, &y);
	}
}

/* The ECN split: the trunk up to the balancing router, then the two
 * branches of the split flow (at the split and at the screen TTL), each
 * continued with the ECT(0) trace's hops if the trace took it. */
static void map_split(struct map *m, const struct diag_result *r)
{
	const struct diag_flow *fl = &r->ev.flows[r->ev.split_flow];
	const struct trace_result *t = &r->ev.trace;
	int d = r->ev.divergence_ttl, s = r->ev.screen_ttl;
	struct responder at_d = trace_responder(t, d), at_s = trace_responder(t, s);

	m->npaths = 2;
	for (int ttl = 1; ttl < d - 1; ttl++) {
		struct responder x = trace_responder(t, ttl);

		map_put(m, 3, ttl, &x);
	}
	if (d > 1) {
		/* The balancer stands at d - 1 only when no silent hop lies
		 * between it and the split. */
		struct responder b = r->ev.balancer.answered && !r->ev.split_unknown_from
				     ? r->ev.balancer : trace_responder(t, d - 1);

		map_put(m, 3, d - 1, &b);
	}
	for (int p = 0; p < 2; p++) {
		const struct responder *end = &fl->by_ecn[r->ev.split_ecn[p]];

		map_put(m, 1u << p, d, &r->ev.split_at[p]);
		if (s > d && end->answered)
			map_put(m, 1u << p, s, end);
		if (same_responder(&at_d, &r->ev.split_at[p]) &&
		    !(s > d && responder_differs(&at_s, end))) {
			map_trace(m, 1u << p, t, d + 1, end->answered ? s : 0);
			m->follows = p + 1;
		}
	}
	if (!m->follows && at_d.answered) {
		m->npaths = 3;
		map_trace(m, 4, t, d, 0);
	}
}

/* Other flows' responders at the screen TTL that no path shows: more
 * next hops of a per-flow balancer, or other sites. */
static void map_extras(struct map *m, const struct diag_result *r)
{
	for (int i = 0; i < r->ev.nflows && r->ev.screen_ttl > 0; i++)
		for (int k = 0; k < 4; k++) {
			const struct responder *x = &r->ev.flows[i].by_ecn[k];

			if (!x->answered || map_find(m, r->ev.screen_ttl, x) >= 0)
				continue;
			if (m->nextra >= MAP_EXTRA) {
				m->extra_left++;
				continue;
			}
			if (map_add(m, r->ev.screen_ttl, x, NODE_EXTRA) >= 0)
				m->nextra++;
		}
}

/* The last node of path p, or -1. */
static int map_last(const struct map *m, int p)
{
	for (int ttl = MAP_ROWS - 1; ttl > 0; ttl--)
		if (m->at[p][ttl] >= 0)
			return m->at[p][ttl];
	return -1;
}

/* Name the target's nodes by site, and draw the sites no probe showed at
 * the end of a branch that stops short of the target (their row is their
 * hop count, so the edge is dashed: inferred, not traced). */
static void map_sites(struct map *m, const struct diag_result *r)
{
	int shown[DIAG_MAX_SITES] = { 0 };

	for (int i = 1; i < m->nnodes; i++)
		if (is_target(r, &m->node[i].who)) {
			m->node[i].site = site_of(r, m->node[i].who.hops,
						  m->node[i].who.reply &&
						  !strcmp(m->node[i].who.reply, "rst"));
			if (m->node[i].site)
				shown[m->node[i].site - 1] = 1;
		}
	for (int k = 0; k < r->v.nsites; k++) {
		struct responder s = { .answered = 1, .addr = r->p.dst,
				       .kind = REPLY_TCP, .hops = r->v.sites[k].hops };
		int row = s.hops < MAP_ROWS ? s.hops : MAP_ROWS - 1, placed = 0, n;

		if (shown[k] || row < 1)
			continue;
		for (int p = 0; p < m->npaths && !placed; p++) {
			int last = map_last(m, p);

			if (last < 0 || is_target(r, &m->node[last].who) ||
			    m->node[last].ttl >= row)
				continue;
			map_put(m, 1u << p, row, &s);
			placed = 1;
		}
		n = placed ? map_find(m, row, &s) : map_add(m, row, &s, NODE_EXTRA);
		if (n >= 0) {
			m->node[n].site = k + 1;
			m->node[n].inferred = 1;
		}
	}
}

static void map_faults(struct map *m, const struct diag_result *r)
{
	for (int c = 0; c < r->v.ncauses + r->v.nnotes; c++) {
		const struct finding *f = c < r->v.ncauses ? &r->v.causes[c]
							 : &r->v.notes[c - r->v.ncauses];

		if (f->hop <= 0 || f->addr.family == 0 ||
		    finding_text[f->kind].tag == NULL)
			continue;
		for (int i = 1; i < m->nnodes; i++) {
			struct map_node *n = &m->node[i];

			if (n->ttl == f->hop && n->who.answered && !n->fault &&
			    addr_eq(&n->who.addr, &f->addr))
				n->fault = f;
		}
	}
}

static void map_edge(struct map *m, int from, int to, unsigned mask, int dashed)
{
	for (int i = 0; i < m->nedges; i++)
		if (m->edge[i].from == from && m->edge[i].to == to) {
			m->edge[i].paths |= mask;
			return;
		}
	if (m->nedges < MAP_EDGES)
		m->edge[m->nedges++] = (struct map_edge){ from, to, mask, dashed };
}

static void map_edges(struct map *m)
{
	for (int p = 0; p < m->npaths; p++) {
		int prev = 0, prev_ttl = 0;

		for (int ttl = 1; ttl < MAP_ROWS; ttl++) {
			int n = m->at[p][ttl];

			if (n < 0)
				continue;
			map_edge(m, prev, n, 1u << p, ttl - prev_ttl > 1 ||
				 m->node[n].inferred || !m->node[n].who.answered);
			prev = n;
			prev_ttl = ttl;
		}
	}
}

/* The first column from `from` on with no node of node i's row yet. */
static int map_free_col(const struct map *m, int i, int from)
{
	for (int col = from;; col++) {
		int busy = 0;

		for (int j = 0; j < i; j++)
			busy |= m->node[j].col == col && m->node[j].ttl == m->node[i].ttl;
		if (!busy)
			return col;
	}
}

/* Shared nodes in the middle, branch p in its own column, extra
 * responders in further columns, never two in one cell. */
static void map_columns(struct map *m)
{
	int main_cols = m->npaths == 1 ? 1 : m->npaths + 1;

	m->trunk_col = m->npaths == 1 ? 0 : 1;
	m->col_of[0] = 0;
	m->col_of[1] = 2;
	m->col_of[2] = 3;
	m->ncols = main_cols;
	for (int i = 0; i < m->nnodes; i++) {
		struct map_node *n = &m->node[i];
		unsigned b = n->paths;

		if (n->role == NODE_CLIENT || (b & (b - 1)) != 0) {
			n->col = m->trunk_col;
		} else if (b != 0) {
			for (int p = 0; p < MAP_PATHS; p++)
				if (b == 1u << p)
					n->col = m->col_of[p];
		} else {
			n->col = map_free_col(m, i, main_cols);
			if (n->col + 1 > m->ncols)
				m->ncols = n->col + 1;
		}
	}
}

static struct map *map_build(const struct diag_result *r)
{
	struct map *m = calloc(1, sizeof(*m));
	struct responder me = { .answered = 1, .addr = r->p.src };

	if (m == NULL)
		return NULL;
	memset(m->at, 0xff, sizeof(m->at));   /* all -1 */
	(void)map_add(m, 0, &me, NODE_CLIENT);
	if (r->v.ecn_dependent && r->ev.divergence_ttl > 0)
		map_split(m, r);
	else
		map_traces(m, r);
	map_extras(m, r);
	map_sites(m, r);
	map_faults(m, r);
	map_edges(m);
	map_columns(m);
	return m;
}

/* --- drawing the map */

#define MAP_LEFT 78                  /* room for the hop labels */
#define MAP_GAP 40
#define MAP_TOP 34

/* Up to three lines of text for a node. */
static void node_lines(const struct diag_result *r, const struct map_node *n,
		       char l[3][96])
{
	char a[INET6_ADDRSTRLEN];

	l[0][0] = l[1][0] = l[2][0] = '\0';
	if (n->who.answered)
		snprintf(l[0], 96, "%s", addr_str(&n->who.addr, a, sizeof(a)));
	if (n->role == NODE_CLIENT) {
		snprintf(l[1], 96, "client (this host)");
	} else if (!n->who.answered) {
		snprintf(l[0], 96, "*");
		snprintf(l[1], 96, "no reply");
	} else if (is_target(r, &n->who)) {
		site_words(r, n->site, n->who.hops, l[1], 96);
		if (n->site && r->ev.have_conn)
			snprintf(l[2], 96, "%d SYN-ACK, %d RST to data",
				 r->v.sites[n->site - 1].synacks,
				 r->v.sites[n->site - 1].rsts);
		else if (n->site && r->v.sites[n->site - 1].quic_version)
			snprintf(l[2], 96, "QUIC, lists 0x%08x first",
				 r->v.sites[n->site - 1].quic_version);
	} else if (n->fault) {
		snprintf(l[1], 96, "%s", finding_text[n->fault->kind].tag);
	} else {
		snprintf(l[1], 96, "%s", n->who.kind == REPLY_TIME_EXCEEDED ? "router"
					 : n->who.kind == REPLY_UNREACH ? "unreachable"
					 : "answer");
	}
	if (n->role == NODE_EXTRA && !n->inferred && !l[2][0])
		snprintf(l[2], 96, "other flows at hop %d", n->ttl);
	else if (n->inferred && !l[2][0])
		snprintf(l[2], 96, "placed by its hop count");
}

static int node_height(const struct diag_result *r, const struct map_node *n)
{
	char l[3][96];

	node_lines(r, n, l);
	return l[2][0] ? 62 : 46;
}

/* Node width: the longest line of any node, monospace address or text. */
static int map_node_width(const struct map *m, const struct diag_result *r)
{
	int w = 170;

	for (int i = 0; i < m->nnodes; i++) {
		char l[3][96];
		int a, b;

		node_lines(r, &m->node[i], l);
		a = (int)(strlen(l[0]) * 8.2);
		b = (int)((strlen(l[1]) > strlen(l[2]) ? strlen(l[1]) : strlen(l[2])) * 6.4);
		if ((a > b ? a : b) + 28 > w)
			w = (a > b ? a : b) + 28;
	}
	return w;
}

static int col_x(int col, int w)
{
	return MAP_LEFT + col * (w + MAP_GAP) + w / 2;
}

/* Rows close up on long paths, as far as three-line boxes allow. */
static int row_y(const struct map *m, int ttl)
{
	return MAP_TOP + ttl * (m->rows > 12 ? 72 : 86);
}

static const char *edge_color(unsigned mask)
{
	for (int p = 0; p < MAP_PATHS; p++)
		if (mask == 1u << p)
			return path_color[p];
	return TRUNK_COLOR;
}

static void map_draw_rows(FILE *fp, const struct map *m, int width)
{
	for (int ttl = 0; ttl <= m->rows; ttl++) {
		int y = row_y(m, ttl);

		fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"#eef2f7\"/>\n", MAP_LEFT - 10, y, width - 8, y);
		if (ttl == 0)
			fprintf(fp, "<text x=\"14\" y=\"%d\" font-size=\"12\" "
				"fill=\"#94a3b8\">client</text>\n", y + 4);
		else
			fprintf(fp, "<text x=\"14\" y=\"%d\" font-size=\"12\" "
				"fill=\"#64748b\">hop %d</text>\n", y + 4, ttl);
	}
}

static void map_draw_edges(FILE *fp, const struct map *m,
			   const struct diag_result *r, int w)
{
	for (int i = 0; i < m->nedges; i++) {
		const struct map_edge *e = &m->edge[i];
		const struct map_node *a = &m->node[e->from], *b = &m->node[e->to];
		int x1 = col_x(a->col, w), y1 = row_y(m, a->ttl) + node_height(r, a) / 2;
		int x2 = col_x(b->col, w), y2 = row_y(m, b->ttl) - node_height(r, b) / 2;
		int ym = (y1 + y2) / 2;

		fprintf(fp, "<path d=\"M%d %d C%d %d %d %d %d %d\" fill=\"none\" "
			"stroke=\"%s\" stroke-width=\"%s\"%s/>\n", x1, y1, x1, ym,
			x2, ym, x2, y2, edge_color(e->paths),
			(e->paths & (e->paths - 1)) ? "3" : "2.5",
			e->dashed ? " stroke-dasharray=\"6 5\"" : "");
	}
}

static void map_draw_node(FILE *fp, const struct map *m,
			  const struct diag_result *r, const struct map_node *n,
			  int w)
{
	char l[3][96];
	int h = node_height(r, n), x = col_x(n->col, w), y = row_y(m, n->ttl);
	const char *fill = "#ffffff", *stroke = TRUNK_COLOR, *sub = "#64748b";
	int dashed = !n->who.answered || n->role == NODE_EXTRA || n->inferred;

	node_lines(r, n, l);
	if (n->role == NODE_CLIENT) {
		fill = "#eff6ff";
		stroke = "#93c5fd";
	} else if (n->fault) {
		fill = is_note(n->fault) ? "#fffbeb" : "#fef2f2";
		stroke = sub = finding_color(n->fault);
	} else if (is_target(r, &n->who)) {
		fill = "#ecfdf5";
		stroke = SITE_COLOR;
	} else if (!n->who.answered || n->role == NODE_EXTRA) {
		fill = "#f8fafc";
		stroke = "#94a3b8";
	} else if (n->paths && !(n->paths & (n->paths - 1))) {
		stroke = edge_color(n->paths);
	}
	fprintf(fp, "<g class=\"node\" data-ttl=\"%d\" data-path=\"%u\"%s>\n",
		n->ttl, n->paths, n->fault ? " data-fault=\"1\"" : "");
	fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"8\" "
		"fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"%s/>\n", x - w / 2,
		y - h / 2, w, h, fill, stroke, n->fault ? "2.5" : "1.5",
		dashed ? " stroke-dasharray=\"5 4\"" : "");
	fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"m\" "
		"font-size=\"13.5\" font-weight=\"600\" fill=\"#0f172a\">", x,
		y - h / 2 + 20);
	esc(fp, l[0]);
	fprintf(fp, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
		"font-size=\"11.5\" fill=\"%s\"%s>", x, y - h / 2 + 36, sub,
		n->fault ? " font-weight=\"700\"" : "");
	esc(fp, l[1]);
	fputs("</text>\n", fp);
	if (l[2][0]) {
		fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
			"font-size=\"11\" fill=\"#64748b\">", x, y - h / 2 + 52);
		esc(fp, l[2]);
		fputs("</text>\n", fp);
	}
	if (n->fault)
		fprintf(fp, "<circle cx=\"%d\" cy=\"%d\" r=\"10\" fill=\"%s\"/>"
			"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" "
			"font-weight=\"700\" fill=\"#fff\">!</text>\n", x + w / 2,
			y - h / 2, finding_color(n->fault), x + w / 2, y - h / 2 + 5);
	fputs("</g>\n", fp);
}

/* "flow sport 40100: Not-ECT, ECT(1)": the split flow's codepoints that
 * took branch p (those whose responder at the screen TTL is branch p's). */
static void map_branch_label(FILE *fp, const struct map *m,
			     const struct diag_result *r, int p)
{
	const struct diag_flow *fl = &r->ev.flows[r->ev.split_flow];
	const struct responder *mine = &fl->by_ecn[r->ev.split_ecn[p]];
	int first = 1;

	fprintf(fp, "flow sport %u: ", fl->sport);
	if (r->ev.split_inferred) {
		/* No probe parted the codepoints: the replay did. */
		fprintf(fp, "<b>%s</b> (the %s)", ecn_label[r->ev.split_ecn[p]],
			p == 0 ? "handshake" : "data");
		first = 0;
	}
	for (int k = 0; k < 4 && !r->ev.split_inferred; k++) {
		const struct responder *x = &fl->by_ecn[ecn_order[k]];

		if (ecn_order[k] == r->ev.split_ecn[p] || same_responder(x, mine)) {
			fprintf(fp, "%s<b>%s</b>", first ? "" : ", ",
				ecn_label[ecn_order[k]]);
			first = 0;
		}
	}
	if (m->follows == p + 1)
		fprintf(fp, " \xc2\xb7 also the ECT(0) trace (sport %u)",
			r->ev.trace.p.flow.sport);
}

/* One line of the legend per coloured path, then the line styles. */
static void map_legend(FILE *fp, const struct map *m, const struct diag_result *r)
{
	int split = r->v.ecn_dependent && r->ev.divergence_ttl > 0;
	const struct finding *shown = NULL;

	fputs("<ul class=\"legend\">\n", fp);
	for (int p = 0; p < m->npaths; p++) {
		fprintf(fp, "<li><span class=\"sw\" style=\"background:%s\"></span>",
			path_color[p]);
		if (split && p < 2)
			map_branch_label(fp, m, r, p);
		else if (!split && p == 1)
			fputs("<b>Not-ECT</b> trace, same flow", fp);
		else
			fprintf(fp, "<b>ECT(0)</b> trace, flow sport %u",
				r->ev.trace.p.flow.sport);
		fputs("</li>\n", fp);
	}
	if (m->npaths > 1)
		fputs("<li><span class=\"sw\" style=\"background:" TRUNK_COLOR
		      "\"></span>shared by every probe</li>\n", fp);
	fputs("<li><span class=\"sw dash\"></span>hops not traced</li>\n", fp);
	for (int i = 1; i < m->nnodes; i++)
		if (m->node[i].fault && (!shown || !is_note(m->node[i].fault)))
			shown = m->node[i].fault;
	if (shown)
		fprintf(fp, "<li><span class=\"sw\" style=\"background:%s\"></span>"
			"the router %s names</li>\n", finding_color(shown),
			is_note(shown) ? "a note" : "the verdict");
	fputs("</ul>\n", fp);
}

static void map_caption(FILE *fp, const struct map *m, const struct diag_result *r)
{
	fputs("<p class=\"caption\">", fp);
	if (r->ev.split_inferred) {
		fprintf(fp, "Every router up to hop %d answers the flow's Not-ECT and "
			"ECT(0) probes alike, yet its Not-ECT handshake and its ECT(0) "
			"data end at two machines with one address, at the same "
			"distance: the router at hop %d parts them. ",
			r->ev.divergence_ttl - 1, r->ev.divergence_ttl - 1);
	} else if (r->v.ecn_dependent && r->ev.divergence_ttl > 0) {
		fprintf(fp, "Probes of one flow that differ only in their ECN "
			"bits leave hop %d for different next hops at hop %d: <span "
			"class=\"mono\">", r->ev.divergence_ttl - 1, r->ev.divergence_ttl);
		esc_addr(fp, &r->ev.split_at[0].addr);
		fputs("</span> and <span class=\"mono\">", fp);
		esc_addr(fp, &r->ev.split_at[1].addr);
		fputs("</span>. ", fp);
	} else if (r->ev.have_plain_trace && !r->ev.trace.dest_ttl && r->ev.plain.dest_ttl) {
		fprintf(fp, "ECT(0) probes get no answer beyond hop %d, where the "
			"same flow sent Not-ECT goes on to the target. ",
			trace_rows(&r->ev.trace) - 1);
	} else if (r->v.lb == LB_PER_PACKET) {
		fprintf(fp, "Identical probes of one flow take different next hops "
			"at hop %d. ", r->ev.divergence_ttl);
	} else if (r->ev.nflows == 0) {
		fputs("The target was not reached, so no flow was probed with "
		      "every codepoint: whether the path depends on ECN is unknown. ",
		      fp);
	} else {
		fprintf(fp, "No flow's codepoints parted at hop %d (%d flows): the "
			"path does not depend on the ECN bits. ", r->ev.screen_ttl,
			r->ev.nflows);
	}
	if (r->ev.have_plain_trace && m->npaths > 1 && !r->v.ecn_dependent)
		fputs("The Not-ECT trace was taken because the ECT(0) one did not "
		      "reach the target. ", fp);
	if (r->v.nsites > 1)
		fputs("One address, several machines: each is drawn at the hop "
		      "count of its replies. ", fp);
	if (r->v.ecn_dependent)
		fputs("Which branch a codepoint takes depends on the whole flow "
		      "(addresses and ports), so another connection may take them "
		      "the other way round. ", fp);
	if (m->extra_left)
		fprintf(fp, "%d more responders of other flows are not drawn.",
			m->extra_left);
	fputs("</p>\n", fp);
}

static void report_paths(FILE *fp, const struct diag_result *r)
{
	struct map *m = map_build(r);
	int w, width, height;

	fputs("<section id=\"paths\">\n<h2>Paths by ECN codepoint</h2>\n"
	      "<p class=\"lead\">Each probe carries the same addresses and ports; "
	      "only the ECN bits differ. Each row is one hop (the TTL the probe "
	      "was sent with); each box is the machine that answered there.</p>\n",
	      fp);
	if (m == NULL) {
		fputs("<p>Out of memory drawing the paths.</p>\n</section>\n", fp);
		return;
	}
	map_legend(fp, m, r);
	w = map_node_width(m, r);
	width = MAP_LEFT + m->ncols * (w + MAP_GAP) + 4;
	height = row_y(m, m->rows) + 60;
	fprintf(fp, "<svg id=\"paths-map\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"paths by ECN codepoint\">\n",
		width, height, width, height);
	map_draw_rows(fp, m, width);
	map_draw_edges(fp, m, r, w);
	for (int i = 0; i < m->nnodes; i++)
		map_draw_node(fp, m, r, &m->node[i], w);
	fputs("</svg>\n", fp);
	map_caption(fp, m, r);
	fputs("</section>\n", fp);
	free(m);
}

/* ------------------------------------------------------------ timeline */

/* The machines in the ladder: the client, the one that answered the
 * handshake, and another one that answered the data. */
enum { LANE_CLIENT, LANE_SYNACK, LANE_OTHER };

struct tl_msg {
	int from, to;                /* LANE_* */
	int64_t t;                   /* CLOCK_MONOTONIC ns, 0 unknown */
	const char *what, *kind;     /* "SYN-ACK", data-kind "synack" */
	uint16_t flags;
	uint8_t tos;
	int ttl;                     /* as sent or as received */
	uint32_t seq, ack;
	int has_ack;
	uint16_t win;
	size_t len;
	int cleanup;                 /* our own closing RST */
};

#define TL_MAX 8

/* The flow the timeline shows: the first reset by another machine, else
 * the first failure, else the first ECN flow. */
static const struct conn_flow *timeline_flow(const struct diag_result *r)
{
	const struct connect_result *cr = &r->ev.conn;
	const struct conn_flow *fail = NULL;

	for (int i = 0; i < cr->p.nflows && (size_t)i < cr->nflows; i++) {
		if (diag_reset_by_other(&r->ev, &cr->flows[i]))
			return &cr->flows[i];
		if (fail == NULL && connect_is_failure(cr->flows[i].result))
			fail = &cr->flows[i];
	}
	return fail ? fail : cr->nflows ? &cr->flows[0] : NULL;
}

static struct tl_msg tl_reply(int from, int64_t t, const char *what,
			      const char *kind, const struct pkt_reply *p)
{
	struct tl_msg m = {
		.from = from, .to = LANE_CLIENT, .t = t, .what = what, .kind = kind,
		.flags = p->tcp.flags, .tos = p->tos, .ttl = p->ttl,
		.seq = p->tcp.seq, .ack = p->tcp.ack,
		.has_ack = (p->tcp.flags & TH_ACK) != 0, .win = p->tcp.window,
		.len = p->tcp.payload_len,
	};
	return m;
}

static struct tl_msg tl_sent(int to, int64_t t, const char *what,
			     const char *kind, uint16_t flags, uint8_t tos,
			     uint32_t seq, uint32_t ack, uint16_t win, size_t len)
{
	struct tl_msg m = {
		.from = LANE_CLIENT, .to = to, .t = t, .what = what, .kind = kind,
		.flags = flags, .tos = tos, .ttl = 64, .seq = seq, .ack = ack,
		.has_ack = (flags & TH_ACK) != 0, .win = win, .len = len,
	};
	return m;
}

/* An RST that arrived before the data went out answered the third ACK. */
static int rst_before_data(const struct conn_flow *f)
{
	return f->have_synack && f->have_rst && f->rst_after_data &&
	       f->t_answer < f->t_data;
}

/* The packets of flow f, in order, as connect sent and saw them. The
 * machine a packet reached is the one whose answer came back to it. */
static int tl_messages(const struct conn_flow *f, int other, size_t payload_len,
		       struct tl_msg *m)
{
	int n = 0, early = rst_before_data(f);
	int rst_lane = other ? LANE_OTHER : LANE_SYNACK;
	int reset = f->have_rst && f->rst_after_data;
	uint16_t syn = f->mode == MODE_PLAIN ? TH_SYN :
		       f->mode == MODE_ACCECN ? TH_SYN | TH_ECE | TH_CWR | TH_AE :
		       TH_SYN | TH_ECE | TH_CWR;

	m[n++] = tl_sent(LANE_SYNACK, f->t_syn, "SYN", "syn", syn,
			 f->mode == MODE_ACCECN ? ECN_ECT0 : ECN_NOT_ECT, f->iss,
			 0, 64240, 0);
	if (!f->have_synack) {
		if (f->have_rst)
			m[n++] = tl_reply(LANE_SYNACK, f->t_answer, "RST", "rst", &f->rst);
		return n;
	}
	m[n++] = tl_reply(LANE_SYNACK, f->t_synack, "SYN-ACK", "synack", &f->synack);
	m[n++] = tl_sent(early ? rst_lane : LANE_SYNACK, f->t_ack, "ACK", "ack",
			 TH_ACK, ECN_NOT_ECT, f->iss + 1, f->irs + 1, 502, 0);
	if (early)
		m[n++] = tl_reply(rst_lane, f->t_answer, "RST", "rst", &f->rst);
	m[n++] = tl_sent(reset && !early ? rst_lane : LANE_SYNACK, f->t_data,
			 "data", "data", TH_ACK | TH_PSH, f->data_tos, f->iss + 1,
			 f->irs + 1, 502, payload_len);
	if (reset && !early) {
		m[n++] = tl_reply(rst_lane, f->t_answer, "RST", "rst", &f->rst);
	} else if (f->data_acked) {
		if (f->acked_after_retx)
			m[n++] = tl_sent(LANE_SYNACK, f->t_retx, "retransmission", "retx",
					 TH_ACK | TH_PSH, ECN_NOT_ECT, f->iss + 1,
					 f->irs + 1, 502, payload_len);
		m[n++] = tl_reply(LANE_SYNACK, f->t_answer, "ACK", "data-ack", &f->ack);
	}
	m[n] = tl_sent(LANE_SYNACK, 0, "RST", "cleanup", TH_RST, ECN_NOT_ECT,
		       f->iss + 1 + (f->data_acked ? (uint32_t)payload_len : 0), 0,
		       502, 0);
	m[n++].cleanup = 1;
	return n;
}

/* "SYN [SEW] · Not-ECT" or "SYN-ACK [S.E] · Not-ECT · ttl 61, 4 hops back". */
static void tl_words(const struct tl_msg *m, char *buf, size_t len)
{
	char fl[16];
	int n;

	tcp_flags_str(m->flags, fl, sizeof(fl));
	n = snprintf(buf, len, "%s [%s] \xc2\xb7 %s", m->what, fl,
		     ecn_label[m->tos & 3]);
	if (n < 0 || (size_t)n >= len)
		return;
	if (m->to == LANE_CLIENT)
		snprintf(buf + n, len - (size_t)n, " \xc2\xb7 ttl %d, %d hops back",
			 m->ttl, return_hops(m->ttl));
	else if (m->cleanup)
		snprintf(buf + n, len - (size_t)n, " \xc2\xb7 ecntrace closes it");
	else if (m->len)
		snprintf(buf + n, len - (size_t)n, " \xc2\xb7 %zu bytes", m->len);
}

static const char *tl_color(const struct tl_msg *m)
{
	if (m->cleanup)
		return "#94a3b8";
	if (m->flags & TH_RST)
		return FAULT_COLOR;
	if (m->tos & 3)
		return "#ea580c";
	return "#334155";
}

#define TL_WIDTH 1040
#define TL_TOP 78
#define TL_STEP 46

static int lane_x(int lane, int lanes)
{
	static const int two[3] = { 200, 800, 800 }, three[3] = { 200, 580, 880 };

	return lanes == 3 ? three[lane] : two[lane];
}

static void tl_draw_lanes(FILE *fp, const struct diag_result *r,
			  const struct conn_flow *f, int lanes, int height)
{
	const struct connect_result *cr = &r->ev.conn;

	for (int lane = 0; lane < lanes; lane++) {
		char words[64] = "";
		int x = lane_x(lane, lanes), hops;

		if (lane == LANE_SYNACK && f->have_synack)
			hops = return_hops(f->synack.ttl);
		else if (lane != LANE_CLIENT && f->have_rst)
			hops = return_hops(f->rst.ttl);
		else
			hops = 0;
		if (hops)
			site_words(r, lane == LANE_OTHER ?
				   site_of(r, hops, diag_reset_by_other(&r->ev, f)) : 0,
				   hops, words, sizeof(words));
		fprintf(fp, "<line x1=\"%d\" y1=\"56\" x2=\"%d\" y2=\"%d\" "
			"stroke=\"#cbd5e1\" stroke-width=\"2\" stroke-dasharray=\"4 4\"/>\n",
			x, x, height - 12);
		fprintf(fp, "<rect x=\"%d\" y=\"6\" width=\"220\" height=\"50\" rx=\"8\" "
			"fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/>\n", x - 110,
			lane == LANE_CLIENT ? "#eff6ff" : "#ecfdf5",
			lane == LANE_CLIENT ? "#93c5fd" : SITE_COLOR);
		fprintf(fp, "<text x=\"%d\" y=\"27\" text-anchor=\"middle\" class=\"m\" "
			"font-size=\"13.5\" font-weight=\"600\">", x);
		esc_addr(fp, lane == LANE_CLIENT ? &cr->p.src : &cr->p.dst);
		fprintf(fp, "</text>\n<text x=\"%d\" y=\"45\" text-anchor=\"middle\" "
			"font-size=\"11.5\" fill=\"#64748b\">", x);
		esc(fp, lane == LANE_CLIENT ? "client" : words[0] ? words : "target");
		fputs("</text>\n", fp);
	}
}

static void tl_draw_msg(FILE *fp, const struct tl_msg *m, int i, int lanes,
			int64_t t0)
{
	int x1 = lane_x(m->from, lanes), x2 = lane_x(m->to, lanes);
	int y = TL_TOP + i * TL_STEP + 22, dir = x2 > x1 ? 1 : -1;
	const char *c = tl_color(m);
	char words[128];

	tl_words(m, words, sizeof(words));
	fprintf(fp, "<g class=\"msg\" data-kind=\"%s\" data-ttl=\"%d\">\n",
		m->kind, m->ttl);
	if (m->t)
		fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"m\" "
			"font-size=\"12\" fill=\"#64748b\">+%.3f ms</text>\n",
			lane_x(LANE_CLIENT, lanes) - 18, y + 4,
			(double)(m->t - t0) / 1e6);
	fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
		"stroke-width=\"2.2\"%s/>\n", x1, y, x2 - dir * 9, y, c,
		m->cleanup ? " stroke-dasharray=\"5 4\"" : "");
	fprintf(fp, "<path d=\"M%d %d L%d %d L%d %d Z\" fill=\"%s\"/>\n", x2, y,
		x2 - dir * 11, y - 5, x2 - dir * 11, y + 5, c);
	fprintf(fp, "<text x=\"%d\" y=\"%d\" font-size=\"12.5\" fill=\"%s\"%s>",
		lane_x(LANE_CLIENT, lanes) + 16, y - 7,
		m->cleanup ? "#94a3b8" : "#0f172a",
		(m->flags & TH_RST) && !m->cleanup ? " font-weight=\"600\"" : "");
	esc(fp, words);
	fputs("</text>\n</g>\n", fp);
}

/* The same packets as tcpdump -v would print them. */
static void tl_capture(FILE *fp, const struct tl_msg *m, int n,
		       const struct connect_result *cr, const struct conn_flow *f)
{
	int v6 = cr->p.dst.family == AF_INET6;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], fl[16];

	addr_str(&cr->p.src, src, sizeof(src));
	addr_str(&cr->p.dst, dst, sizeof(dst));
	fputs("<pre class=\"capture\">", fp);
	for (int i = 0; i < n; i++) {
		int in = m[i].to == LANE_CLIENT, ecn = m[i].tos & 3;

		tcp_flags_str(m[i].flags, fl, sizeof(fl));
		fputs(m[i].cleanup ? "<span class=\"l c\">" : ecn ? "<span class=\"l x\">" :
		      (m[i].flags & TH_RST) ? "<span class=\"l r\">" : "<span class=\"l\">",
		      fp);
		if (m[i].t)
			fprintf(fp, "%+9.3f ms  ", (double)(m[i].t - f->t_syn) / 1e6);
		else
			fputs("              ", fp);
		fprintf(fp, v6 ? "IP6 (class 0x%02x" : "IP (tos 0x%x", m[i].tos);
		if (ecn)
			fprintf(fp, ",%s", ecn_label[ecn]);
		fprintf(fp, ", %s %d) ", v6 ? "hlim" : "ttl", m[i].ttl);
		esc(fp, in ? dst : src);
		fprintf(fp, ".%u > ", in ? cr->p.dport : f->sport);
		esc(fp, in ? src : dst);
		fprintf(fp, ".%u: Flags [%s], seq %u", in ? f->sport : cr->p.dport,
			fl, m[i].seq);
		if (m[i].has_ack)
			fprintf(fp, ", ack %u", m[i].ack);
		fprintf(fp, ", win %u, length %zu", m[i].win, m[i].len);
		if (in)
			fprintf(fp, "  <span class=\"c\"># %d hops back</span>",
				return_hops(m[i].ttl));
		fputs("\n</span>", fp);
	}
	fputs("</pre>\n", fp);
}

static void tl_caption(FILE *fp, const struct conn_flow *f, int other)
{
	fprintf(fp, "<p class=\"lead\">One connection of the replay: source port "
		"%u, result <b>%s</b>. ", f->sport, conn_result_name(f->result));
	if (f->result == CR_SYN_ECN_RESET && f->have_rst)
		fprintf(fp, "The RST carries the target's address but comes from "
			"%d hops away (RST TTL %d): something on the path answers for "
			"the target. ", return_hops(f->rst.ttl), f->rst.ttl);
	if (!other) {
		fputs("Times are from the first SYN; hop counts come from the "
		      "reply TTLs.</p>\n", fp);
		return;
	}
	if (f->result == CR_RESET_SAME) {
		fprintf(fp, "The handshake (Not-ECT) and the RST to the %s data both "
			"come from %d hops away (TTL %d), but the same flow sent "
			"entirely ECT(0) delivered its data: another machine at the "
			"same distance, with no state for the connection, sent the "
			"RST.</p>\n", ecn_label[f->data_tos & 3],
			return_hops(f->synack.ttl), f->synack.ttl);
		return;
	}
	fprintf(fp, "The handshake (Not-ECT) is answered from %d hops away "
		"(SYN-ACK TTL %d); ", return_hops(f->synack.ttl), f->synack.ttl);
	if (rst_before_data(f))
		fprintf(fp, "an RST from %d hops away (RST TTL %d) arrived before "
			"the data was even sent, so it answered the Not-ECT third ACK",
			return_hops(f->rst.ttl), f->rst.ttl);
	else
		fprintf(fp, "the RST to the %s data comes from %d hops away (RST "
			"TTL %d)", ecn_label[f->data_tos & 3], return_hops(f->rst.ttl),
			f->rst.ttl);
	fputs(": another machine behind the same address, with no state for "
	      "the connection. Which machine got a packet is inferred from the "
	      "hop count of its answer.</p>\n", fp);
}

static void report_timeline(FILE *fp, const struct diag_result *r)
{
	const struct conn_flow *f = r->ev.have_conn ? timeline_flow(r) : NULL;
	int other = f && diag_reset_by_other(&r->ev, f);
	struct tl_msg m[TL_MAX];
	int n, lanes, height;

	if (r->ev.have_sites) {
		diag_sites_section(fp, r);
		return;
	}
	fprintf(fp, "<section id=\"connection\">\n<h2>%s</h2>\n",
		f && connect_is_failure(f->result) ? "The failing connection"
						   : "A replayed connection");
	if (f == NULL) {
		fputs("<p class=\"lead\">No connection was replayed (--flows 0).</p>\n"
		      "</section>\n", fp);
		return;
	}
	tl_caption(fp, f, other);
	n = tl_messages(f, other, r->ev.conn.p.payload_len, m);
	lanes = other ? 3 : 2;
	height = TL_TOP + n * TL_STEP + 24;
	fprintf(fp, "<svg id=\"timeline\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"connection timeline\">\n",
		TL_WIDTH, height, TL_WIDTH, height);
	tl_draw_lanes(fp, r, f, lanes, height);
	for (int i = 0; i < n; i++)
		tl_draw_msg(fp, &m[i], i, lanes, f->t_syn);
	fputs("</svg>\n", fp);
	tl_capture(fp, m, n, &r->ev.conn, f);
	fputs("</section>\n", fp);
}

/* ------------------------------------------------------------ hop table */

/* The finding that names the router at this hop (causes first), or NULL. */
static const struct finding *hop_fault(const struct diag_result *r, int ttl,
				       const struct addr *a)
{
	for (int i = 0; i < r->v.ncauses + r->v.nnotes; i++) {
		const struct finding *f = i < r->v.ncauses ? &r->v.causes[i]
							 : &r->v.notes[i - r->v.ncauses];

		if (f->hop == ttl && f->addr.family && addr_eq(&f->addr, a) &&
		    finding_text[f->kind].tag)
			return f;
	}
	return NULL;
}

static void hop_quote_cells(FILE *fp, const struct probe *p)
{
	const struct pkt_reply *rep = &p->reply;
	enum ecn_change c;

	if (!rep->has_quote) {
		fprintf(fp, "<td class=\"muted\">\xe2\x80\x94</td><td><span class=\"q "
			"none\">no quote</span></td><td class=\"muted\">%s</td>",
			reply_name(rep));
		return;
	}
	c = ecn_compare(p->d.tos, rep->q.tos);
	fprintf(fp, "<td class=\"mono\">0x%02x</td><td><span class=\"q %s\">%s"
		"</span></td><td>", rep->q.tos, c == ECN_SAME ? "same" : "changed",
		ecn_label[rep->q.tos & 3]);
	if (c == ECN_SAME)
		fputs("<span class=\"muted\">unchanged</span>", fp);
	else
		fprintf(fp, "<span class=\"chg\">%s</span> (sent %s)",
			ecn_change_name(c), ecn_label[p->d.tos & 3]);
	if ((rep->q.tos >> 2) != (p->d.tos >> 2))
		fprintf(fp, " <span class=\"chg\">DSCP %d&#8594;%d</span>",
			p->d.tos >> 2, rep->q.tos >> 2);
	fputs("</td>", fp);
}

static void hop_row(FILE *fp, const struct diag_result *r,
		    const struct trace_result *t, int ttl)
{
	const struct probe *p = trace_answer(t, ttl);
	const struct finding *f = p ? hop_fault(r, ttl, &p->reply.src) : NULL;

	fprintf(fp, "<tr%s><td class=\"n\">%d</td>", !f ? "" : is_note(f) ?
		" class=\"note\"" : " class=\"fault\"", ttl);
	if (p == NULL) {
		fputs("<td class=\"mono\">*</td><td class=\"muted\" colspan=\"6\">"
		      "no reply</td></tr>\n", fp);
		return;
	}
	fputs("<td class=\"mono\">", fp);
	esc_addr(fp, &p->reply.src);
	if (f) {
		fprintf(fp, " <span class=\"%s\">", is_note(f) ? "tagnote" : "chg");
		esc(fp, finding_text[f->kind].tag);
		fputs("</span>", fp);
	}
	fprintf(fp, "</td><td class=\"n\">%.3f ms</td><td class=\"n\">%d "
		"<span class=\"muted\">(%d back)</span></td>",
		elapsed_ms(p->sent_ns, p->recv_ns), p->reply.ttl,
		return_hops(p->reply.ttl));
	hop_quote_cells(fp, p);
	fputs("</tr>\n", fp);
}

static void hop_table(FILE *fp, const struct diag_result *r,
		      const struct trace_result *t)
{
	fputs("<table>\n<thead><tr><th class=\"n\">TTL</th><th>Address</th>"
	      "<th class=\"n\">RTT</th><th class=\"n\">Reply TTL</th>"
	      "<th>Quoted TOS</th><th>Quoted ECN</th><th>Change</th></tr></thead>\n"
	      "<tbody>\n", fp);
	int last = trace_rows(t);

	/* Silence after the last answer is one row, not thirty. */
	if (t->stop_ttl - last >= 1 && last > t->p.first_ttl && !trace_answer(t, last))
		last--;
	if (t->stop_ttl - last < 2)
		last = t->stop_ttl;
	for (int ttl = t->p.first_ttl; ttl <= last; ttl++)
		hop_row(fp, r, t, ttl);
	if (last < t->stop_ttl)
		fprintf(fp, "<tr><td class=\"n\">%d&#8211;%d</td><td class=\"mono\">*"
			"</td><td class=\"muted\" colspan=\"6\">no reply</td></tr>\n",
			last + 1, t->stop_ttl);
	fputs("</tbody>\n</table>\n", fp);
}

static void report_hops(FILE *fp, const struct diag_result *r)
{
	fprintf(fp, "<section id=\"hops\">\n<h2>ECN as each hop received it</h2>\n"
		"<p class=\"lead\">The ECT(0) trace (flow sport %u). A router's "
		"ICMP error quotes the probe's IP header as the router received it, "
		"so the quoted ECN field shows whether ECN survived to that hop.</p>\n",
		r->ev.trace.p.flow.sport);
	hop_table(fp, r, &r->ev.trace);
	if (r->ev.have_plain_trace) {
		fputs("<h3 style=\"margin-top:18px\">The same flow Not-ECT</h3>\n", fp);
		hop_table(fp, r, &r->ev.plain);
	}
	fputs("</section>\n", fp);
}

/* ------------------------------------------------------------ operator */

/* The story's own check, with the flow and codepoints that parted. */
static void operator_reproduce(FILE *fp, const struct diag_result *r)
{
	int v6 = r->p.dst.family == AF_INET6;

	if (r->ev.split_inferred) {
		/* traceroute shows nothing here: the routers are the same. */
		fprintf(fp, "<p><span class=\"label\">To see it again:</span> "
			"<code>ecntrace connect%s -p %u --sport %u --flows 1 ",
			v6 ? " -6" : "", r->p.dport, r->ev.flows[r->ev.split_flow].sport);
		esc_addr(fp, &r->p.dst);
		fputs("</code> (the ECT(0) data is reset) and the same with "
		      "<code>--mode all-ect</code> (it is delivered).</p>\n", fp);
		return;
	}

	if (r->ev.proto == IPPROTO_UDP) {
		diag_sites_reproduce(fp, r);
		return;
	}
	fprintf(fp, "<p><span class=\"label\">To see it with traceroute:</span> "
		"<code>traceroute%s -T -p %u --sport=%u -t %d ", v6 ? " -6" : "",
		r->p.dport, r->ev.flows[r->ev.split_flow].sport, r->ev.split_ecn[0]);
	esc_addr(fp, &r->p.dst);
	fprintf(fp, "</code> and the same with <code>-t %d</code> (the TOS byte: "
		"%s, then %s) show different routers from hop %d on.</p>\n",
		r->ev.split_ecn[1], ecn_label[r->ev.split_ecn[0]],
		ecn_label[r->ev.split_ecn[1]], r->ev.divergence_ttl);
}

static void report_operator(FILE *fp, const struct diag_result *r)
{
	const struct finding *f = r->v.ncauses ? &r->v.causes[0] : NULL;
	char adv[512], words[1024];

	fputs("<section id=\"operator\" class=\"operator\">\n"
	      "<h2>For the network operator</h2>\n<p>", fp);
	if (f == NULL) {
		esc(fp, r->v.status == DIAG_HEALTHY ? "Nothing to change: " :
			"No fault can be named yet: ");
		diagnose_summary(r, words, sizeof(words));
		esc(fp, words);
		fputs(r->v.status == DIAG_HEALTHY ? "." : ". Run the diagnosis again, "
		      "with more flows (--max-flows) or a longer wait (-w).", fp);
		fputs("</p>\n</section>\n", fp);
		return;
	}
	fputs("<b>", fp);
	esc(fp, finding_title(f->kind));
	fputs("</b> (confidence ", fp);
	pct(fp, f->confidence);
	fputs("). ", fp);
	diagnose_advice(f, adv, sizeof(adv));
	esc(fp, adv);
	fputs("</p>\n<p><span class=\"label\">Evidence:</span> ", fp);
	diagnose_evidence(f, words, sizeof(words));
	esc(fp, words);
	fputs(".</p>\n", fp);
	if (f->kind == CAUSE_ECN_HASH && r->v.ecn_dependent)
		operator_reproduce(fp, r);
	fputs("</section>\n", fp);
}

/* ------------------------------------------------------------ entry points */

void report_html(FILE *fp, const struct diag_result *r, const char *host)
{
	page_head(fp, r, host);
	page_header(fp, r, host);
	report_verdict(fp, r);
	report_paths(fp, r);
	report_timeline(fp, r);
	report_hops(fp, r);
	report_operator(fp, r);
	page_foot(fp);
}
