/* Renderings of what the UDP / QUIC site probes found (diag_udp.c): the
 * parts of the diagnosis's text, JSON and report that differ from TCP's. */
#ifndef ECNTRACE_DIAG_UDP_OUT_H
#define ECNTRACE_DIAG_UDP_OUT_H

#include <stdio.h>

#include "diagnose.h"
#include "json.h"

/* "TCP", "UDP" or "QUIC": the target's protocol. */
const char *diag_proto_word(const struct diag_evidence *ev);
/* "tcp", "udp" or "quic", for JSON. */
const char *diag_proto_name(const struct diag_evidence *ev);
/* An ecn-hash finding's site-probe facts in words (appended at buf,
 * which holds n bytes already); returns the new length. */
int diag_site_words(const struct finding *f, char *buf, size_t len, int n);
int diag_site_parted_words(const struct finding *f, char *buf, size_t len,
			   int n);
/* One line: the site probes' counts. Nothing without them. */
void diag_sites_text(FILE *fp, const struct diag_evidence *ev);
/* "sites" (the site probes, pair by pair), in the diagnosis's object. */
void diag_sites_json(struct json *j, const struct diag_evidence *ev);

/* The HTML report's parts: the section in place of the replayed
 * connection, and how to see the split again. */
void diag_sites_section(FILE *fp, const struct diag_result *r);
void diag_sites_reproduce(FILE *fp, const struct diag_result *r);

#endif
