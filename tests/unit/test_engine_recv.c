/*
 * The engine's receive path without a packet socket: engine_recv reads
 * whatever datagram socket recv_fd is, so a UNIX datagram socketpair
 * (which honours MSG_TRUNC like a packet socket, Linux >= 3.4) stands in
 * for it. Checks that a GRO-sized packet fits the engine's buffer whole,
 * that one longer than the buffer is reported with its real length,
 * counted, and parsed only as a cut packet; and that every engine gets
 * its own random token base.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine.h"
#include "pkt.h"

/* An IPv4 or IPv6 TCP segment of total bytes (headers, then zeros),
 * 203.0.113.80:80 -> 192.0.2.10:40000, ACK with the given ack number. */
static size_t segment(uint8_t *b, int v6, size_t total, uint32_t ack)
{
	size_t ih = v6 ? 40 : 20;
	uint8_t *t = b + ih;

	memset(b, 0, total);
	if (v6) {
		b[0] = 0x60;
		b[4] = (uint8_t)((total - 40) >> 8);
		b[5] = (uint8_t)(total - 40);
		b[6] = IPPROTO_TCP;
		b[7] = 60;
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:80::80", b + 8), 1);
		assert_int_equal(inet_pton(AF_INET6, "2001:db8:c::100", b + 24), 1);
	} else {
		b[0] = 0x45;
		b[2] = (uint8_t)(total >> 8);
		b[3] = (uint8_t)total;
		b[8] = 60;
		b[9] = IPPROTO_TCP;
		assert_int_equal(inet_pton(AF_INET, "203.0.113.80", b + 12), 1);
		assert_int_equal(inet_pton(AF_INET, "192.0.2.10", b + 16), 1);
	}
	t[0] = 0; t[1] = 80;
	t[2] = 40000 >> 8; t[3] = 40000 & 0xff;
	t[8] = (uint8_t)(ack >> 24); t[9] = (uint8_t)(ack >> 16);
	t[10] = (uint8_t)(ack >> 8); t[11] = (uint8_t)ack;
	t[12] = 0x50;
	t[13] = TH_ACK | TH_PSH;
	return total;
}

struct fixture {
	struct engine e;
	int peer;
	uint8_t *pkt;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int sv[2], big = 1 << 20;

	if (fx == NULL || engine_init(&fx->e, AF_INET) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return -1;
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	fx->e.recv_fd = sv[0];
	fx->peer = sv[1];
	fx->pkt = malloc(ENGINE_RXBUF + 4096);
	*state = fx;
	return fx->pkt ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	close(fx->peer);
	engine_close(&fx->e);
	free(fx->pkt);
	free(fx);
	return 0;
}

static void put(struct fixture *fx, size_t n)
{
	assert_int_equal(send(fx->peer, fx->pkt, n, 0), (ssize_t)n);
}

/* The largest packets a length field allows arrive whole. */
static void test_gro_sized_whole(void **state)
{
	struct fixture *fx = *state;
	const uint8_t *p;
	size_t len, wire;
	int64_t t;
	struct pkt_reply r;

	assert_true(fx->e.rxcap >= 65535 + 40);
	for (int v6 = 0; v6 <= 1; v6++) {
		size_t n = segment(fx->pkt, v6, v6 ? 65535 + 40 : 65535, 12345);

		put(fx, n);
		assert_int_equal(engine_recv(&fx->e, &p, &len, &wire, &t,
					     1000000000), 1);
		assert_int_equal(len, n);
		assert_int_equal(wire, n);
		assert_memory_equal(p, fx->pkt, n);
		put(fx, n);
		assert_int_equal(engine_recv_reply(&fx->e, &r, &t, 1000000000), 1);
		assert_false(r.truncated);
		assert_int_equal(r.tcp.ack, 12345);
		assert_int_equal(r.tcp.payload_len, n - (v6 ? 60 : 40));
	}
	assert_int_equal(fx->e.truncated, 0);
	assert_int_equal(fx->e.received, 4);
}

/* A packet longer than the buffer: its real length, counted, and parsed
 * as a cut packet whose headers still count (the ACK in it). */
static void test_longer_than_buffer(void **state)
{
	struct fixture *fx = *state;
	const uint8_t *p;
	size_t len, wire, n = segment(fx->pkt, 0, 40000, 777);
	int64_t t;
	struct pkt_reply r;

	fx->e.rxcap = 1500;          /* as if the buffer were a stack MTU */
	put(fx, n);
	assert_int_equal(engine_recv(&fx->e, &p, &len, &wire, &t, 1000000000), 1);
	assert_int_equal(len, 1500);
	assert_int_equal(wire, 40000);
	assert_int_equal(fx->e.truncated, 1);
	put(fx, n);
	assert_int_equal(engine_recv_reply(&fx->e, &r, &t, 1000000000), 1);
	assert_true(r.truncated);
	assert_int_equal(r.wire_len, 40000);
	assert_int_equal(r.tcp.ack, 777);
	assert_int_equal(r.tcp.payload_len, 40000 - 40);
	assert_int_equal(fx->e.truncated, 2);
	/* Nothing more: a timeout. */
	assert_int_equal(engine_recv_reply(&fx->e, &r, &t, 1000000), 0);
}

/* Two engines, two token bases: from getrandom, not the pid or time. */
static void test_token_base_random(void **state)
{
	struct engine a, b, c;

	assert_int_equal(engine_init(&a, AF_INET), 0);
	assert_int_equal(engine_init(&b, AF_INET), 0);
	assert_int_equal(engine_init(&c, AF_INET6), 0);
	/* All three equal by chance once in 2^64. */
	assert_false(a.token_base == b.token_base && b.token_base == c.token_base);
	engine_close(&a);
	engine_close(&b);
	engine_close(&c);
	assert_null(a.rxbuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gro_sized_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longer_than_buffer, setup, teardown),
		cmocka_unit_test(test_token_base_random),
	};

	return cmocka_run_group_tests_name("engine_recv", tests, NULL, NULL);
}
