/* Common set-up of the measuring commands. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "pcapout.h"
#include "priv.h"
#include "resolve.h"
#include "session.h"

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
	if (c->pcap != NULL) {
		s->pcap = pcapw_open(c->pcap, err, sizeof(err));
		if (s->pcap == NULL) {
			warnx_("%s: %s", c->pcap, err);
			engine_close(&s->e);
			return EX_CANTCREAT;
		}
		s->e.pcap = s->pcap;
	}
	/* Sockets and files are open: nothing else needs privilege, except
	 * connect's removal of its own firewall rule at exit. */
	if (priv_drop(c->keep_net_admin) < 0) {
		warnx_("cannot drop privileges");
		session_close(s);
		return EX_OSERR;
	}
	return 0;
}

void session_close(struct session *s)
{
	engine_close(&s->e);
	pcapw_close(s->pcap);
	s->pcap = NULL;
}
