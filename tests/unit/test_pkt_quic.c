/*
 * QUIC probes and Version Negotiation: the builder's bytes (RFC 9000
 * sections 17.2, 17.2.2, 14.1), the VN parser on good packets, every
 * truncation and malformed ones (RFC 8999 section 6), and the whole path
 * the engine runs: flow_probe -> pkt_build -> (a server's VN / a router's
 * quote) -> pkt_parse -> probe_match.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"
#include "pkt.h"
#include "pkt_quic.h"
#include "trace.h"

#define NPROBES 8

static struct addr mkaddr(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.u.v6) == 1)
		a.family = AF_INET6;
	return a;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static struct flow quic_flow(int family, uint8_t tos)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	f.src = mkaddr(family == AF_INET ? "192.0.2.10" : "2001:db8:1::10");
	f.dst = mkaddr(family == AF_INET ? "203.0.113.80" : "2001:db8:80::80");
	f.proto = IPPROTO_UDP;
	f.quic = 1;
	f.sport = 40001;
	f.dport = 443;
	f.tos = tos;
	return f;
}

static void make_probes(struct probe *pr, int family, uint8_t tos)
{
	struct flow f = quic_flow(family, tos);

	for (int i = 0; i < NPROBES; i++) {
		flow_probe(&f, i + 1, 0x9e3779b9u + (uint32_t)i, &pr[i]);
		pr[i].state = PROBE_SENT;
	}
}

/* ------------------------------------------------------------------ */

static void test_reserved(void **st)
{
	assert_true(quic_version_reserved(0x0a0a0a0a));
	assert_true(quic_version_reserved(QUIC_PROBE_VERSION));
	assert_true(quic_version_reserved(0xfafafafa));
	assert_false(quic_version_reserved(0x00000001));
	assert_false(quic_version_reserved(0x6b3343cf));  /* QUIC v2 */
	assert_false(quic_version_reserved(0x0a0a0a0b));
}

/* The head's bytes, field by field. */
static void test_head_bytes(void **st)
{
	const uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t s[5] = { 9, 10, 11, 12, 13 };
	uint8_t b[64];
	size_t n = quic_probe_head(b, sizeof(b), 0x1a2a3a4a, d, 8, s, 5, 1200);
	struct quic_cids c;

	assert_int_equal(n, 1 + 4 + 1 + 8 + 1 + 5 + 1 + 2 + 1);
	assert_int_equal(b[0], 0xc0);           /* long, fixed, Initial */
	assert_memory_equal(b + 1, "\x1a\x2a\x3a\x4a", 4);
	assert_int_equal(b[5], 8);
	assert_memory_equal(b + 6, d, 8);
	assert_int_equal(b[14], 5);
	assert_memory_equal(b + 15, s, 5);
	assert_int_equal(b[20], 0);             /* token length */
	/* Length (2-byte varint) = packet number + payload to 1200 bytes */
	assert_int_equal(b[21] >> 6, 1);
	assert_int_equal(((b[21] & 0x3f) << 8 | b[22]), 1200 - 23);
	assert_int_equal(b[23], 0);             /* packet number */
	assert_int_equal(quic_long_cids(b, n, &c), 0);
	assert_int_equal(c.version, 0x1a2a3a4a);
	assert_int_equal(c.dcid_len, 8);
	assert_int_equal(c.scid_len, 5);
	assert_memory_equal(c.scid, s, 5);
	/* too long a CID, too small a buffer or datagram */
	assert_int_equal(quic_probe_head(b, sizeof(b), 1, d, 21, s, 5, 1200), 0);
	assert_int_equal(quic_probe_head(b, 10, 1, d, 8, s, 5, 1200), 0);
	assert_int_equal(quic_probe_head(b, sizeof(b), 1, d, 8, s, 5, 20), 0);
}

/* A whole probe: 1200 bytes of UDP payload, one checksum per flow
 * whatever the token and TTL, CIDs unique per probe, the token in the
 * IPv4 ID, one length over IPv6. */
static void whole_probe(int family)
{
	struct probe pr[NPROBES];
	uint8_t buf[PKT_MAX];
	size_t iphl = family == AF_INET ? 20 : 40;
	uint16_t ck0 = 0;

	make_probes(pr, family, 0x02);
	for (int i = 0; i < NPROBES; i++) {
		size_t len = sizeof(buf);
		struct quic_cids c, c0;
		uint8_t *udp = buf + iphl;

		assert_int_equal(pkt_build(&pr[i].d, buf, &len), 0);
		assert_int_equal(len, iphl + 8 + QUIC_DATAGRAM);
		assert_int_equal(udp[4] << 8 | udp[5], 8 + QUIC_DATAGRAM);
		assert_int_equal(quic_long_cids(udp + 8, QUIC_DATAGRAM, &c), 0);
		assert_int_equal(c.version, QUIC_PROBE_VERSION);
		assert_int_equal(c.dcid_len, QUIC_CID_LEN);
		if (i == 0)
			ck0 = (uint16_t)(udp[6] << 8 | udp[7]);
		assert_int_equal(udp[6] << 8 | udp[7], ck0);
		/* verifies: pseudo-header + UDP sums to 0xffff */
		{
			uint32_t sum;

			if (family == AF_INET) {
				sum = pkt_sum(buf + 12, 8, 0);
			} else {
				sum = pkt_sum(buf + 8, 32, 0);
			}
			sum += IPPROTO_UDP + 8 + QUIC_DATAGRAM;
			assert_int_equal(pkt_fold(pkt_sum(udp, 8 + QUIC_DATAGRAM, sum)), 0xffff);
		}
		for (int k = 0; k < i; k++) {
			assert_int_equal(quic_long_cids(pr[k].payload, pr[k].d.payload_len, &c0), 0);
			assert_memory_not_equal(c.dcid, c0.dcid, QUIC_CID_LEN);
			assert_memory_not_equal(c.scid, c0.scid, QUIC_CID_LEN);
			if (family == AF_INET)
				assert_int_not_equal(pr[k].d.ip_id, pr[i].d.ip_id);
		}
	}
}

static void test_probe_v4(void **st) { whole_probe(AF_INET); }
static void test_probe_v6(void **st) { whole_probe(AF_INET6); }

/* ------------------------------------------------------------------ */
/* Version Negotiation */

/* What the lab's responder (and any server) sends for probe p. */
static size_t vn_for(const struct probe *p, uint8_t *b, const uint32_t *v, size_t nv)
{
	struct quic_cids c;
	size_t off = 0;

	assert_int_equal(quic_long_cids(p->payload, p->d.payload_len, &c), 0);
	b[off++] = 0xd3;                        /* long, unused bits random */
	memset(b + off, 0, 4);
	off += 4;
	b[off++] = c.scid_len;
	memcpy(b + off, c.scid, c.scid_len);
	off += c.scid_len;
	b[off++] = c.dcid_len;
	memcpy(b + off, c.dcid, c.dcid_len);
	off += c.dcid_len;
	for (size_t i = 0; i < nv; i++, off += 4) {
		b[off] = (uint8_t)(v[i] >> 24);
		b[off + 1] = (uint8_t)(v[i] >> 16);
		b[off + 2] = (uint8_t)(v[i] >> 8);
		b[off + 3] = (uint8_t)v[i];
	}
	return off;
}

static const uint32_t site_a[] = { 0x1a1a1a1a, 0x00000001 };
static const uint32_t site_b[] = { 0x2a2a2a2a, 0x00000001 };

static void test_vn_parse(void **st)
{
	struct probe pr[NPROBES];
	uint8_t b[128];
	struct quic_vn vn;
	struct quic_cids c;
	size_t n;

	make_probes(pr, AF_INET, 0);
	n = vn_for(&pr[3], b, site_a, 2);
	assert_int_equal(quic_vn_parse(b, n, &vn), 0);
	assert_int_equal(vn.nversions, 2);
	assert_int_equal(vn.total_versions, 2);
	assert_int_equal(vn.versions[0], 0x1a1a1a1a);
	assert_int_equal(vn.versions[1], 1);
	assert_int_equal(quic_long_cids(pr[3].payload, pr[3].d.payload_len, &c), 0);
	assert_true(quic_vn_answers(&vn, &c));
	assert_int_equal(quic_long_cids(pr[4].payload, pr[4].d.payload_len, &c), 0);
	assert_false(quic_vn_answers(&vn, &c));
	/* every cut: a shorter VN never parses (but at 4-byte steps of the
	 * version list, which is a shorter list) */
	for (size_t k = 0; k < n; k++) {
		int rc = quic_vn_parse(b, k, &vn);

		if (k == n - 4)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -1);
	}
	/* not version 0, a short header, a ragged list */
	b[4] = 1;
	assert_int_equal(quic_vn_parse(b, n, &vn), -1);
	b[4] = 0;
	b[0] = 0x43;
	assert_int_equal(quic_vn_parse(b, n, &vn), -1);
	b[0] = 0xd3;
	assert_int_equal(quic_vn_parse(b, n - 1, &vn), -1);
	/* a CID length running past the end */
	b[5] = 200;
	assert_int_equal(quic_vn_parse(b, n, &vn), -1);
}

static void test_vn_many_versions(void **st)
{
	uint8_t b[7 + 4 * 40] = { 0x80, 0, 0, 0, 0, 0, 0 };
	struct quic_vn vn;

	for (int i = 0; i < 40; i++)
		b[7 + 4 * i + 3] = (uint8_t)(i + 1);
	assert_int_equal(quic_vn_parse(b, sizeof(b), &vn), 0);
	assert_int_equal(vn.total_versions, 40);
	assert_int_equal(vn.nversions, QUIC_MAX_VERSIONS);
	assert_int_equal(vn.versions[QUIC_MAX_VERSIONS - 1], QUIC_MAX_VERSIONS);
}

static void test_vn_ident(void **st)
{
	struct probe pr[NPROBES];
	uint8_t b[128];
	struct quic_vn va, vb, va2;

	make_probes(pr, AF_INET, 0);
	assert_int_equal(quic_vn_parse(b, vn_for(&pr[0], b, site_a, 2), &va), 0);
	assert_int_equal(quic_vn_parse(b, vn_for(&pr[1], b, site_b, 2), &vb), 0);
	assert_int_equal(quic_vn_parse(b, vn_for(&pr[2], b, site_a, 2), &va2), 0);
	assert_int_not_equal(quic_vn_ident(&va), quic_vn_ident(&vb));
	assert_int_equal(quic_vn_ident(&va), quic_vn_ident(&va2));
	assert_int_not_equal(quic_vn_ident(&va), 0);
}

/* ------------------------------------------------------------------ */
/* Through pkt_parse and probe_match */

static size_t udp_reply(const struct probe *p, const uint8_t *pl, size_t n,
			uint8_t *buf, size_t cap)
{
	struct probe_desc d;
	size_t len = cap;

	memset(&d, 0, sizeof(d));
	d.src = p->d.dst;
	d.dst = p->d.src;
	d.ttl = 61;
	d.proto = IPPROTO_UDP;
	d.sport = p->d.dport;
	d.dport = p->d.sport;
	d.ip_id = 7;
	d.payload = pl;
	d.payload_len = n;
	assert_int_equal(pkt_build(&d, buf, &len), 0);
	return len;
}

static void vn_match(int family)
{
	struct probe pr[NPROBES];
	uint8_t vn[128], buf[PKT_MAX];
	struct pkt_reply r;
	size_t n, len;

	make_probes(pr, family, 0x02);
	for (int i = 0; i < NPROBES; i++) {
		n = vn_for(&pr[i], vn, i % 2 ? site_b : site_a, 2);
		len = udp_reply(&pr[i], vn, n, buf, sizeof(buf));
		assert_int_equal(pkt_parse(buf, len, &r), 0);
		assert_int_equal(r.kind, REPLY_UDP);
		assert_int_equal(r.udp.sport, 443);
		assert_int_equal(r.udp.len, n);
		assert_int_equal(r.udp.kept, n);
		assert_string_equal(reply_name(&r), "version-negotiation");
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
	}
	/* CIDs swapped back (not echoed as a server does): no probe's */
	n = vn_for(&pr[2], vn, site_a, 2);
	{
		uint8_t t[QUIC_CID_LEN];

		memcpy(t, vn + 6, QUIC_CID_LEN);
		memmove(vn + 6, vn + 7 + QUIC_CID_LEN, QUIC_CID_LEN);
		memcpy(vn + 7 + QUIC_CID_LEN, t, QUIC_CID_LEN);
	}
	len = udp_reply(&pr[2], vn, n, buf, sizeof(buf));
	assert_int_equal(pkt_parse(buf, len, &r), 0);
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	/* the right CIDs from another port: no */
	n = vn_for(&pr[2], vn, site_a, 2);
	len = udp_reply(&pr[2], vn, n, buf, sizeof(buf));
	assert_int_equal(pkt_parse(buf, len, &r), 0);
	r.udp.sport = 444;
	assert_int_equal(probe_match(pr, NPROBES, &r), -1);
}

static void test_vn_match_v4(void **st) { vn_match(AF_INET); }
static void test_vn_match_v6(void **st) { vn_match(AF_INET6); }

/* A UDP header whose length runs past the packet does not parse. */
static void test_udp_bad_length(void **st)
{
	struct probe pr[NPROBES];
	uint8_t vn[128], buf[PKT_MAX];
	struct pkt_reply r;
	size_t n, len;

	make_probes(pr, AF_INET, 0);
	n = vn_for(&pr[0], vn, site_a, 2);
	len = udp_reply(&pr[0], vn, n, buf, sizeof(buf));
	put16(buf + 24, (uint16_t)(8 + n + 1));
	assert_int_equal(pkt_parse(buf, len, &r), -1);
	put16(buf + 24, 7);
	assert_int_equal(pkt_parse(buf, len, &r), -1);
	for (size_t k = 0; k < len; k++)  /* every cut: no crash, never UDP
					   * with more than it has */
		if (pkt_parse(buf, k, &r) == 0)
			assert_true(r.kind != REPLY_UDP || r.udp.kept <= k);
}

/* A router's time exceeded quoting probe i, qlen bytes of it. */
static size_t time_exceeded(const struct probe *p, size_t qlen, uint8_t *out)
{
	struct addr router = mkaddr(p->d.src.family == AF_INET ? "198.51.100.1"
							       : "2001:db8:ff::1");
	uint8_t inner[PKT_MAX];
	size_t n = sizeof(inner), iphl = router.family == AF_INET ? 20 : 40;
	size_t icmplen, total;
	uint8_t *ic = out + iphl;
	uint32_t sum = 0;

	assert_int_equal(pkt_build(&p->d, inner, &n), 0);
	if (n > qlen)
		n = qlen;
	icmplen = 8 + n;
	total = iphl + icmplen;
	memset(out, 0, total);
	if (router.family == AF_INET) {
		out[0] = 0x45;
		put16(out + 2, (uint16_t)total);
		out[8] = 254;
		out[9] = IPPROTO_ICMP;
		memcpy(out + 12, &router.u.v4, 4);
		memcpy(out + 16, &p->d.src.u.v4, 4);
		put16(out + 10, (uint16_t)~pkt_fold(pkt_sum(out, 20, 0)));
		ic[0] = 11;
	} else {
		out[0] = 0x60;
		put16(out + 4, (uint16_t)icmplen);
		out[6] = IPPROTO_ICMPV6;
		out[7] = 64;
		memcpy(out + 8, &router.u.v6, 16);
		memcpy(out + 24, &p->d.src.u.v6, 16);
		sum = pkt_sum(out + 8, 32, 0) + (uint32_t)icmplen + IPPROTO_ICMPV6;
		ic[0] = 3;
	}
	memcpy(ic + 8, inner, n);
	put16(ic + 2, (uint16_t)~pkt_fold(pkt_sum(ic, icmplen, sum)));
	return total;
}

/* Quotes match by the CIDs; IPv4 quotes of 8 UDP bytes by the ID; IPv6
 * ones that short match nothing (every probe has one length). */
static void quote_match(int family)
{
	struct probe pr[NPROBES];
	uint8_t out[PKT_MAX + 64];
	size_t iphl = family == AF_INET ? 20 : 40;
	struct pkt_reply r;

	make_probes(pr, family, 0x02);
	for (int i = 0; i < NPROBES; i++) {
		size_t len = time_exceeded(&pr[i], 1280 - 48, out);

		assert_int_equal(pkt_parse(out, len, &r), 0);
		assert_int_equal(r.kind, REPLY_TIME_EXCEEDED);
		assert_int_equal(probe_match(pr, NPROBES, &r), i);
		len = time_exceeded(&pr[i], iphl + 8, out);
		assert_int_equal(pkt_parse(out, len, &r), 0);
		assert_int_equal(probe_match(pr, NPROBES, &r), family == AF_INET ? i : -1);
	}
	/* A quote whose DCID was changed is no probe's, even with the ID. */
	{
		size_t len = time_exceeded(&pr[5], 576 - 28, out);
		size_t at = iphl + 8 + iphl + 8 + 6;  /* the quoted DCID */

		out[at] ^= 0xff;
		assert_int_equal(pkt_parse(out, len, &r), 0);
		assert_int_equal(probe_match(pr, NPROBES, &r), -1);
	}
}

static void test_quote_v4(void **st) { quote_match(AF_INET); }
static void test_quote_v6(void **st) { quote_match(AF_INET6); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_head_bytes),
		cmocka_unit_test(test_probe_v4),
		cmocka_unit_test(test_probe_v6),
		cmocka_unit_test(test_vn_parse),
		cmocka_unit_test(test_vn_many_versions),
		cmocka_unit_test(test_vn_ident),
		cmocka_unit_test(test_vn_match_v4),
		cmocka_unit_test(test_vn_match_v6),
		cmocka_unit_test(test_udp_bad_length),
		cmocka_unit_test(test_quote_v4),
		cmocka_unit_test(test_quote_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
