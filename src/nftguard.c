/* nftables guard with libnftables. */
#include <errno.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sysexits.h>
#include <unistd.h>

#include "nftguard.h"

/* libnftables prints its own complaints when netlink refuses us; ask
 * first, so the user sees one line of ours. */
static int have_net_admin(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps != NULL) {
		(void)cap_get_flag(caps, CAP_NET_ADMIN, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (ctx != NULL) {
		nft_ctx_buffer_output(ctx);
		nft_ctx_buffer_error(ctx);
	}
	return ctx;
}

int nftg_ruleset(char *buf, size_t len, const char *table,
		 const struct addr *dst, uint16_t dport, uint16_t sport_lo,
		 uint16_t sport_hi)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	/* Priority -300 (raw): before conntrack and before the stack. */
	n = snprintf(buf, len,
		     "table inet %s {\n"
		     "  chain in {\n"
		     "    type filter hook prerouting priority -300; policy accept;\n"
		     "    %s saddr %s tcp sport %u tcp dport %u-%u drop\n"
		     "  }\n"
		     "}\n",
		     table, dst->family == AF_INET ? "ip" : "ip6",
		     addr_str(dst, a, sizeof(a)), dport, sport_lo, sport_hi);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int nftg_install(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		 uint16_t sport_lo, uint16_t sport_hi, char *err, size_t errlen)
{
	char rules[512];
	struct nft_ctx *ctx;
	int rc;

	memset(g, 0, sizeof(*g));
	if (!have_net_admin()) {
		snprintf(err, errlen, "the connection replay needs CAP_NET_ADMIN "
			 "for its nftables table (run as root or grant it)");
		return EX_NOPERM;
	}
	snprintf(g->table, sizeof(g->table), NFTG_PREFIX "%ld", (long)getpid());
	if (nftg_ruleset(rules, sizeof(rules), g->table, dst, dport, sport_lo,
			 sport_hi) < 0) {
		snprintf(err, errlen, "nftables: rule too long");
		return EX_SOFTWARE;
	}
	ctx = ctx_new();
	if (ctx == NULL) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return EX_OSERR;
	}
	rc = nft_run_cmd_from_buffer(ctx, rules);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		const char *nl = e ? strchr(e, '\n') : NULL;
		int perm = e && (strstr(e, "Operation not permitted") != NULL);

		snprintf(err, errlen, "nftables: %.*s%s",
			 nl ? (int)(nl - e) : 200, e ? e : "failed",
			 perm ? " (needs CAP_NET_ADMIN)" : "");
		nft_ctx_free(ctx);
		return perm ? EX_NOPERM : EX_OSERR;
	}
	nft_ctx_free(ctx);
	g->active = 1;
	return 0;
}

void nftg_remove(struct nft_guard *g)
{
	char cmd[64];
	struct nft_ctx *ctx;

	if (!g->active)
		return;
	g->active = 0;
	ctx = ctx_new();
	if (ctx == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", g->table);
	(void)nft_run_cmd_from_buffer(ctx, cmd);
	nft_ctx_free(ctx);
}

int nftg_reap(void)
{
	struct nft_ctx *ctx;
	const char *out, *p;
	int removed = 0;

	if (!have_net_admin() || (ctx = ctx_new()) == NULL)
		return -1;
	if (nft_run_cmd_from_buffer(ctx, "list tables inet\n") != 0) {
		nft_ctx_free(ctx);
		return -1;
	}
	out = nft_ctx_get_output_buffer(ctx);
	char *copy = strdup(out ? out : "");

	nft_ctx_free(ctx);
	if (copy == NULL)
		return -1;
	for (p = copy; (p = strstr(p, "table inet " NFTG_PREFIX)) != NULL; p++) {
		char *end;
		long pid = strtol(p + strlen("table inet " NFTG_PREFIX), &end, 10);
		struct nft_guard g;

		if (pid <= 0 || (*end != '\n' && *end != '\0' && *end != ' '))
			continue;
		if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		g.active = 1;
		snprintf(g.table, sizeof(g.table), NFTG_PREFIX "%ld", pid);
		nftg_remove(&g);
		removed++;
	}
	free(copy);
	return removed;
}
