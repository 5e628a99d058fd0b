/*
 * libFuzzer target for the QUIC reply side: the input as a Version
 * Negotiation (quic_vn_parse), as any long header (quic_long_cids), and
 * as an IP packet that goes through pkt_parse, reply_quic_vn, reply_name
 * and probe_match against QUIC probes of one flow (IPv4 and IPv6), as
 * the engine runs them. Besides the sanitizers' checks, abort when a
 * result claims more bytes than the input had, or when a reply matches a
 * probe whose CIDs it does not carry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "engine.h"
#include "pkt_quic.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPROBES 4

static struct probe probes[2][NPROBES];
static int ready;

static void setup(void)
{
	static const char *const src[2] = { "192.0.2.10", "2001:db8:1::10" };
	static const char *const dst[2] = { "203.0.113.80", "2001:db8:80::80" };

	for (int f = 0; f < 2; f++) {
		struct flow fl;
		int af = f ? AF_INET6 : AF_INET;

		memset(&fl, 0, sizeof(fl));
		fl.src.family = fl.dst.family = af;
		inet_pton(af, src[f], f ? (void *)&fl.src.u.v6 : (void *)&fl.src.u.v4);
		inet_pton(af, dst[f], f ? (void *)&fl.dst.u.v6 : (void *)&fl.dst.u.v4);
		fl.proto = IPPROTO_UDP;
		fl.quic = 1;
		fl.sport = 40001;
		fl.dport = 443;
		for (int i = 0; i < NPROBES; i++)
			flow_probe(&fl, i + 1, 1000u + (uint32_t)i, &probes[f][i]);
	}
	ready = 1;
}

static void check_vn(const struct quic_vn *vn, size_t size)
{
	if (vn->nversions > QUIC_MAX_VERSIONS || vn->nversions > vn->total_versions ||
	    7 + (size_t)vn->c.dcid_len + vn->c.scid_len + 4 * vn->total_versions != size ||
	    vn->total_versions == 0 || vn->c.version != 0)
		abort();
	(void)quic_vn_ident(vn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_cids c;
	struct quic_vn vn;
	struct pkt_reply r;

	if (!ready)
		setup();
	if (quic_vn_parse(data, size, &vn) == 0)
		check_vn(&vn, size);
	if (quic_long_cids(data, size, &c) == 0 &&
	    7 + (size_t)c.dcid_len + c.scid_len > size)
		abort();
	if (pkt_parse(data, size, &r) != 0)
		return 0;
	(void)reply_name(&r);
	if (reply_quic_vn(&r, &vn) == 0)
		check_vn(&vn, r.udp.kept);
	for (int f = 0; f < 2; f++) {
		long i;

		for (int k = 0; k < NPROBES; k++)
			probes[f][k].state = PROBE_SENT;
		i = probe_match(probes[f], NPROBES, &r);
		if (i < -1 || i >= NPROBES)
			abort();
		/* A direct answer must echo that probe's CIDs. */
		if (i >= 0 && r.kind == REPLY_UDP) {
			struct quic_cids p;

			if (reply_quic_vn(&r, &vn) != 0 ||
			    quic_long_cids(probes[f][i].payload,
					   probes[f][i].d.payload_len, &p) != 0 ||
			    !quic_vn_answers(&vn, &p))
				abort();
		}
	}
	return 0;
}
