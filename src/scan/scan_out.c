/* scan output: one NDJSON object per target, the summary with the
 * routers that split, and the same summary in words. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "scan.h"

static void setup_obj(struct json *j, const char *key,
		      const struct scan_setup_count *c, int ece)
{
	json_open_obj(j, key);
	json_int(j, "answered", c->answered);
	json_int(j, "reset", c->reset);
	json_int(j, "dropped", c->dropped);
	if (ece)
		json_int(j, "ece", c->ece);
	json_close_obj(j);
}

static void addr_or_null(struct json *j, const char *key, const struct addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (a->family == 0)
		json_null(j, key);
	else
		json_str(j, key, addr_str(a, buf, sizeof(buf)));
}

static void split_members(struct json *j, const struct scan_split *sp)
{
	if (sp->known)
		json_int(j, "hop", sp->hop);
	else
		json_null(j, "hop");
	json_int(j, "hop_first", sp->hop_first);
	json_int(j, "hop_last", sp->hop_last);
	addr_or_null(j, "addr", sp->known ? &sp->addr : &(struct addr){ 0 });
	addr_or_null(j, "candidate", &sp->candidate);
}

static void int_or_null(struct json *j, const char *key, int v)
{
	if (v > 0)
		json_int(j, key, v);
	else
		json_null(j, key);
}

void scan_print_target(FILE *fp, const struct addr *a, int port,
		       const struct scan_verdict *v)
{
	struct json j;

	json_begin_doc(&j, fp, "scan");
	addr_or_null(&j, "target", a);
	json_int(&j, "port", port);
	json_str(&j, "status", scan_status_name(v->status));
	json_str(&j, "reason", v->reason);
	setup_obj(&j, "ecn_setup", &v->ecn, 1);
	setup_obj(&j, "plain_setup", &v->plain, 0);
	int_or_null(&j, "hops", v->hops);
	int_or_null(&j, "screen_ttl", v->screen_ttl);
	if (v->dependent < 0)
		json_null(&j, "ecn_dependent");
	else
		json_bool(&j, "ecn_dependent", v->dependent);
	if (v->dependent < 0 && v->confidence <= 0)
		json_null(&j, "confidence");
	else
		json_num(&j, "confidence", v->confidence, 4);
	json_int(&j, "machines", v->machines);
	if (v->has_split) {
		json_open_obj(&j, "split");
		split_members(&j, &v->split);
		json_close_obj(&j);
	} else {
		json_null(&j, "split");
	}
	json_close_obj(&j);
	json_end(&j);
}

static int same_split(const struct scan_split *a, const struct scan_split *b)
{
	return a->known == b->known && a->hop == b->hop &&
	       a->hop_first == b->hop_first && a->hop_last == b->hop_last &&
	       a->candidate.family == b->candidate.family &&
	       (a->candidate.family == 0 || addr_eq(&a->candidate, &b->candidate)) &&
	       (!a->known || a->addr.family == 0 || addr_eq(&a->addr, &b->addr));
}

static struct scan_router *router_of(struct scan_summary *s,
				     const struct scan_split *sp)
{
	for (size_t i = 0; i < s->nrouters; i++)
		if (same_split(&s->routers[i].split, sp))
			return &s->routers[i];
	if (s->nrouters == s->caprouters) {
		size_t cap = s->caprouters ? s->caprouters * 2 : 8;
		struct scan_router *r = realloc(s->routers, cap * sizeof(*r));

		if (r == NULL)
			return NULL;
		s->routers = r;
		s->caprouters = cap;
	}
	struct scan_router *r = &s->routers[s->nrouters++];

	memset(r, 0, sizeof(*r));
	r->split = *sp;
	return r;
}

int scan_summary_add(struct scan_summary *s, uint64_t idx,
		     const struct scan_verdict *v)
{
	s->completed++;
	s->by_status[v->status]++;
	s->dependent += v->dependent == 1;
	s->screened += v->screen_ttl > 0 && v->status != SCAN_UNREACHABLE;
	if (!v->has_split)
		return 0;
	struct scan_router *r = router_of(s, &v->split);

	if (r == NULL)
		return -1;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		uint64_t *t = realloc(r->targets, cap * sizeof(*t));

		if (t == NULL)
			return -1;
		r->targets = t;
		double *pv = realloc(r->pv, cap * sizeof(*pv));

		if (pv == NULL)
			return -1;
		r->pv = pv;
		r->cap = cap;
	}
	r->pv[r->n] = 1.0 - v->confidence;
	r->targets[r->n++] = idx;
	return 0;
}

static int idx_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static double router_alpha(const struct scan_summary *s)
{
	return 1.0 - (s->conf > 0 ? s->conf : 0.99);
}

const char *const scan_phase_names[SCAN_PH_COUNT] = {
	[SCAN_PH_DIRECT] = "direct", [SCAN_PH_DIRECT_RETRY] = "direct_retry",
	[SCAN_PH_ECT0] = "direct_ect0", [SCAN_PH_DIRECT_MORE] = "direct_more",
	[SCAN_PH_SCREEN] = "screen",
	[SCAN_PH_SCREEN_MORE] = "screen_more",
	[SCAN_PH_SCREEN_RETRY] = "screen_retry",
	[SCAN_PH_SCREEN_LOWER] = "screen_lower", [SCAN_PH_TTL1] = "ttl1",
	[SCAN_PH_REPEATS] = "repeats", [SCAN_PH_LOCATE] = "locate",
	[SCAN_PH_LOCATE_GUESS] = "locate_guess",
	[SCAN_PH_LOCATE_RETRY] = "locate_retry",
	[SCAN_PH_SPLIT_CONFIRM] = "split_confirm",
};

void scan_print_summary(FILE *fp, const struct scan_summary *s,
			const struct scan_targets *t)
{
	char buf[INET6_ADDRSTRLEN];
	struct json j;
	struct addr a;

	json_begin_doc(&j, fp, "scan");
	json_open_obj(&j, "summary");
	json_int(&j, "targets", (long long)s->targets);
	json_int(&j, "blocked", (long long)s->blocked);
	json_int(&j, "skipped_resume", (long long)s->resumed);
	json_int(&j, "completed", (long long)s->completed);
	json_int(&j, "healthy", (long long)s->by_status[SCAN_HEALTHY]);
	json_int(&j, "broken", (long long)s->by_status[SCAN_BROKEN]);
	json_int(&j, "dependent", (long long)s->dependent);
	json_int(&j, "inconclusive", (long long)s->by_status[SCAN_INCONCLUSIVE]);
	json_int(&j, "unreachable", (long long)s->by_status[SCAN_UNREACHABLE]);
	json_int(&j, "probes_sent", (long long)s->probes);
	json_int(&j, "replies", (long long)s->replies);
	json_int(&j, "resets_sent", (long long)s->resets);
	json_int(&j, "send_retries", (long long)s->retries);
	json_int(&j, "unsent", (long long)s->unsent);
	json_int(&j, "splits_reused", (long long)s->splits_reused);
	json_open_obj(&j, "probes_by_phase");
	for (int k = 0; k < SCAN_PH_COUNT; k++)
		json_int(&j, scan_phase_names[k], (long long)s->by_phase[k]);
	json_close_obj(&j);
	json_num(&j, "seconds", s->seconds, 3);
	json_num(&j, "rate", s->rate, 0);
	json_close_obj(&j);
	json_open_arr(&j, "routers");
	for (size_t i = 0; i < s->nrouters; i++) {
		const struct scan_router *r = &s->routers[i];

		qsort(r->targets, r->n, sizeof(*r->targets), idx_cmp);
		double p = scan_router_p(s, r);

		json_open_obj(&j, NULL);
		split_members(&j, &r->split);
		json_num(&j, "p", p, 6);
		json_bool(&j, "confirmed", p <= router_alpha(s));
		json_open_arr(&j, "targets");
		for (size_t k = 0; k < r->n; k++) {
			scan_target_at(t, r->targets[k], &a);
			json_str(&j, NULL, addr_str(&a, buf, sizeof(buf)));
		}
		json_close_arr(&j);
		json_close_obj(&j);
	}
	json_close_arr(&j);
	json_close_obj(&j);
	json_end(&j);
}

void scan_print_text(FILE *fp, const struct scan_summary *s,
		     const struct scan_targets *t)
{
	char buf[INET6_ADDRSTRLEN], cb[INET6_ADDRSTRLEN];
	struct addr a;

	fprintf(fp, "%llu targets scanned (%llu blocked, %llu skipped from "
		"--resume): %llu healthy, %llu broken, %llu inconclusive, "
		"%llu unreachable\n", (unsigned long long)s->completed,
		(unsigned long long)s->blocked, (unsigned long long)s->resumed,
		(unsigned long long)s->by_status[SCAN_HEALTHY],
		(unsigned long long)s->by_status[SCAN_BROKEN],
		(unsigned long long)s->by_status[SCAN_INCONCLUSIVE],
		(unsigned long long)s->by_status[SCAN_UNREACHABLE]);
	fprintf(fp, "%llu probes in %.1f s (%.0f/s)\n",
		(unsigned long long)s->probes, s->seconds, s->rate);
	if (s->nrouters == 0)
		fprintf(fp, "No router found that splits ECN flows.\n");
	for (size_t i = 0; i < s->nrouters; i++) {
		const struct scan_router *r = &s->routers[i];
		double p = scan_router_p(s, r);
		char why[160];

		/* Many targets tested: a group that per-packet balancing
		 * could produce by chance is no accusation. */
		snprintf(why, sizeof(why), p <= router_alpha(s) ?
			 "%zu of %llu targets screened, chance p %.2g" :
			 "%zu of %llu targets screened, NOT significant "
			 "across them (chance p %.2g): unconfirmed",
			 r->n, (unsigned long long)s->screened, p);
		const char *verb = p <= router_alpha(s) ? "splits" : "may split";

		if (r->split.known && r->split.addr.family)
			fprintf(fp, "Router %s (hop %d) %s ECN flows (%s); "
				"the flows of these targets part by codepoint:\n",
				addr_str(&r->split.addr, buf, sizeof(buf)),
				r->split.hop, verb, why);
		else
			fprintf(fp, "A router between hops %d and %d (after %s; "
				"silent hops or unconfirmed answers hide which) "
				"%s ECN flows (%s); the flows of these targets "
				"part by codepoint:\n", r->split.hop_first,
				r->split.hop_last, r->split.candidate.family ?
				addr_str(&r->split.candidate, cb, sizeof(cb)) :
				"this host", verb, why);
		qsort(r->targets, r->n, sizeof(*r->targets), idx_cmp);
		for (size_t k = 0; k < r->n; k++) {
			scan_target_at(t, r->targets[k], &a);
			fprintf(fp, "  %s\n", addr_str(&a, buf, sizeof(buf)));
		}
	}
}

void scan_summary_free(struct scan_summary *s)
{
	for (size_t i = 0; i < s->nrouters; i++) {
		free(s->routers[i].targets);
		free(s->routers[i].pv);
	}
	free(s->routers);
	s->routers = NULL;
	s->nrouters = s->caprouters = 0;
}
