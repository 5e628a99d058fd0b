/* Common set-up of the measuring commands. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "nftguard.h"
#include "outfile.h"
#include "pcapout.h"
#include "priv.h"
#include "resolve.h"
#include "session.h"

static int session_pcap(struct session *s, const char *path)
{
	char err[256] = "";

	if (outfile_open(&s->pcap_file, path, err, sizeof(err)) < 0) {
		warnx_("cannot create %s: %s", path, err);
		return EX_CANTCREAT;
	}
	s->pcap = pcapw_fopen(s->pcap_file.fp, err, sizeof(err));
	if (s->pcap == NULL) {
		warnx_("%s: %s", path, err);
		outfile_discard(&s->pcap_file);
		return EX_CANTCREAT;
	}
	s->e.pcap = s->pcap;
	return 0;
}

int session_open(struct session *s, const struct session_conf *c)
{
	char err[256] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	s->e.send_fd = s->e.recv_fd = -1;
	rc = resolve_target(c->host, c->family, &s->dst, err, sizeof(err));
	if (rc != 0) {
		warnx_("%s", err);
		return rc;
	}
	if (c->src != NULL) {
		if (parse_addr(c->src, s->dst.family, &s->src) < 0) {
			warnx_("source address '%s' is not an IPv%d address",
			       c->src, s->dst.family == AF_INET ? 4 : 6);
			return EX_USAGE;
		}
	} else {
		rc = pick_source(&s->dst, c->iface, &s->src, err, sizeof(err));
		if (rc != 0) {
			warnx_("%s", err);
			return rc;
		}
	}
	rc = engine_open(&s->e, s->dst.family, c->iface, err, sizeof(err));
	if (rc != 0) {
		warnx_("%s", err);
		return rc;
	}
	/* The sockets are open: nothing else needs privilege, except the
	 * nftables table of connect and the diagnosis (CAP_NET_ADMIN, kept
	 * permitted, raised only around it). */
	if (priv_drop(c->keep_net_admin) < 0) {
		warnx_("cannot drop privileges");
		engine_close(&s->e);
		return EX_OSERR;
	}
	/* Files last: created with the caller's own identity. */
	if (c->pcap != NULL && (rc = session_pcap(s, c->pcap)) != 0) {
		engine_close(&s->e);
		return rc;
	}
	return 0;
}

int session_close(struct session *s)
{
	int bad = 0;

	engine_close(&s->e);
	if (s->pcap != NULL) {
		bad = pcapw_close(s->pcap) < 0;
		s->pcap = NULL;
		if (bad)
			warnx_("cannot write %s: %s", s->pcap_file.path, strerror(errno));
	}
	return bad ? EX_IOERR : 0;
}

int session_guard(struct nft_guard *g, const struct addr *dst, uint16_t dport,
		  uint16_t sport_lo, uint16_t sport_hi)
{
	char err[256] = "";
	int rc;

	if (priv_raise_admin() < 0) {
		warnx_("cannot use CAP_NET_ADMIN for the nftables table (run as "
		       "root, or setcap cap_net_raw,cap_net_admin+ep)");
		return EX_NOPERM;
	}
	(void)nftg_reap();
	rc = nftg_install(g, dst, dport, sport_lo, sport_hi, err, sizeof(err));
	(void)priv_lower_admin();
	if (rc != 0)
		warnx_("%s", err);
	return rc;
}

void session_unguard(struct nft_guard *g)
{
	if (!g->active)
		return;
	(void)priv_raise_admin();
	nftg_remove(g);
	(void)priv_lower_admin();
}
