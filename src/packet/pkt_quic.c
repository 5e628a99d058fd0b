/* pkt_quic: QUIC long headers and Version Negotiation, pure. */
#include <string.h>

#include "pkt_quic.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int quic_version_reserved(uint32_t v)
{
	return (v & 0x0f0f0f0fu) == 0x0a0a0a0au;
}

size_t quic_probe_head(uint8_t *buf, size_t cap, uint32_t version,
		       const uint8_t *dcid, size_t dcid_len,
		       const uint8_t *scid, size_t scid_len, size_t datagram)
{
	/* form, version, 2 CID lengths, token length, 2-byte Length, PN */
	size_t head = 1 + 4 + 1 + dcid_len + 1 + scid_len + 1 + 2 + 1;
	size_t off = 0, rest;

	if (dcid_len > 20 || scid_len > 20 || head > cap || head > datagram)
		return 0;
	rest = datagram - head + 1;      /* the packet number and padding */
	if (rest > 0x3fff)
		return 0;
	buf[off++] = 0xc0;               /* long, fixed bit, Initial, PN 1 byte */
	put32(buf + off, version);
	off += 4;
	buf[off++] = (uint8_t)dcid_len;
	memcpy(buf + off, dcid, dcid_len);
	off += dcid_len;
	buf[off++] = (uint8_t)scid_len;
	memcpy(buf + off, scid, scid_len);
	off += scid_len;
	buf[off++] = 0;                  /* token length (varint 0) */
	buf[off++] = (uint8_t)(0x40 | rest >> 8);  /* 2-byte varint */
	buf[off++] = (uint8_t)(rest & 0xff);
	buf[off++] = 0;                  /* packet number 0 */
	return off;
}

int quic_long_cids(const uint8_t *b, size_t n, struct quic_cids *c)
{
	size_t off = 5;

	memset(c, 0, sizeof(*c));
	if (n < 7 || !(b[0] & 0x80))
		return -1;
	c->version = get32(b + 1);
	c->dcid_len = b[off++];
	if (c->dcid_len > n - off)
		return -1;
	memcpy(c->dcid, b + off, c->dcid_len);
	off += c->dcid_len;
	if (off >= n)
		return -1;
	c->scid_len = b[off++];
	if (c->scid_len > n - off)
		return -1;
	memcpy(c->scid, b + off, c->scid_len);
	return 0;
}

int quic_vn_parse(const uint8_t *b, size_t n, struct quic_vn *vn)
{
	size_t off;

	memset(vn, 0, sizeof(*vn));
	if (quic_long_cids(b, n, &vn->c) < 0 || vn->c.version != 0)
		return -1;
	off = 7 + (size_t)vn->c.dcid_len + vn->c.scid_len;
	if (off >= n || (n - off) % 4 != 0)
		return -1;
	vn->total_versions = (n - off) / 4;
	for (; off < n; off += 4)
		if (vn->nversions < QUIC_MAX_VERSIONS)
			vn->versions[vn->nversions++] = get32(b + off);
	return 0;
}

int quic_vn_answers(const struct quic_vn *vn, const struct quic_cids *p)
{
	return vn->c.dcid_len == p->scid_len && vn->c.scid_len == p->dcid_len &&
	       memcmp(vn->c.dcid, p->scid, p->scid_len) == 0 &&
	       memcmp(vn->c.scid, p->dcid, p->dcid_len) == 0;
}

uint32_t quic_vn_ident(const struct quic_vn *vn)
{
	uint32_t h = 2166136261u;

	/* Reserved versions are grease: servers add a random one to each
	 * Version Negotiation (RFC 9000 section 6.3; quic-go does), so two
	 * answers of one server would differ by them. */
	for (size_t i = 0; i < vn->nversions; i++)
		for (int k = 3; k >= 0 && !quic_version_reserved(vn->versions[i]); k--) {
			h ^= (vn->versions[i] >> (8 * k)) & 0xff;
			h *= 16777619u;
		}
	return h ? h : 1;
}

uint32_t quic_vn_first(const struct quic_vn *vn)
{
	for (size_t i = 0; i < vn->nversions; i++)
		if (!quic_version_reserved(vn->versions[i]))
			return vn->versions[i];
	return 0;
}
