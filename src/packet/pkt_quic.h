/*
 * QUIC version-independent packets (RFC 8999) for probing: a client's
 * long-header Initial-like packet of a reserved version (RFC 9000 section
 * 15: versions 0x?a?a?a?a are never supported), which every QUIC server
 * answers with a Version Negotiation packet (RFC 9000 section 6, section
 * 17.2.1) echoing the connection IDs, without any cryptography. Pure: no
 * sockets, no globals; every length is checked against the buffer.
 */
#ifndef ECNTRACE_PKT_QUIC_H
#define ECNTRACE_PKT_QUIC_H

#include <stddef.h>
#include <stdint.h>

/* A client's first datagram must be at least 1200 bytes (RFC 9000
 * section 14.1); servers drop shorter ones rather than answer. */
#define QUIC_DATAGRAM 1200
/* Connection IDs of our probes; RFC 8999 allows 0..255 in a long header. */
#define QUIC_CID_LEN 8
#define QUIC_MAX_CID 255
/* Versions a parsed Version Negotiation keeps (the rest are counted). */
#define QUIC_MAX_VERSIONS 16
/* The reserved version our probes carry (RFC 9000 section 15). */
#define QUIC_PROBE_VERSION 0x1a2a3a4au

struct quic_cids {
	uint32_t version;
	uint8_t dcid_len, scid_len;
	uint8_t dcid[QUIC_MAX_CID], scid[QUIC_MAX_CID];
};

struct quic_vn {
	struct quic_cids c;          /* version is 0 */
	uint32_t versions[QUIC_MAX_VERSIONS];
	size_t nversions;            /* kept, <= QUIC_MAX_VERSIONS */
	size_t total_versions;       /* in the packet */
};

/* Is v a reserved version (0x?a?a?a?a)? */
int quic_version_reserved(uint32_t v);

/*
 * The head of a probe: long header (form and fixed bits set, type
 * Initial), version, DCID, SCID, an empty token, a Length field covering
 * the rest of a `datagram`-byte UDP payload and a one-byte packet number.
 * Only the head is written; the caller pads the datagram to `datagram`
 * bytes (zeros read as PADDING frames). Returns the head's length, or 0
 * if it does not fit in cap, a CID is longer than 20 bytes (RFC 9000
 * limits version 1, and we look like one) or the datagram is shorter than
 * the head.
 */
size_t quic_probe_head(uint8_t *buf, size_t cap, uint32_t version,
		       const uint8_t *dcid, size_t dcid_len,
		       const uint8_t *scid, size_t scid_len, size_t datagram);

/* The invariant part of any long header: version and CIDs. 0 or -1 (not
 * a long header, or cut short). */
int quic_long_cids(const uint8_t *b, size_t n, struct quic_cids *c);

/* A Version Negotiation packet (long header, version 0, a whole number of
 * 4-byte versions, at least one). 0 or -1. */
int quic_vn_parse(const uint8_t *b, size_t n, struct quic_vn *vn);

/* Does vn answer the probe whose CIDs are p? The server's DCID is the
 * probe's SCID and its SCID the probe's DCID (RFC 8999 section 6). */
int quic_vn_answers(const struct quic_vn *vn, const struct quic_cids *p);

/* A number that names the server by what it offers: FNV-1a over the
 * version list, in order, reserved (greased) versions left out; never 0. */
uint32_t quic_vn_ident(const struct quic_vn *vn);

/* The first version listed that is not reserved (grease), 0 if none. */
uint32_t quic_vn_first(const struct quic_vn *vn);

#endif
