/*
 * ECN and DSCP names, address helpers, the Internet checksum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "pkt.h"

static void test_ecn_names(void **state)
{
	assert_string_equal(ecn_name(ECN_NOT_ECT), "not-ect");
	assert_string_equal(ecn_name(ECN_ECT1), "ect1");
	assert_string_equal(ecn_name(ECN_ECT0), "ect0");
	assert_string_equal(ecn_name(ECN_CE), "ce");
	assert_string_equal(ecn_name(4), "invalid");
	assert_string_equal(ecn_name(-1), "invalid");
}

static void test_ecn_parse(void **state)
{
	static const struct {
		const char *s;
		int ecn;
	} t[] = {
		{ "not-ect", 0 }, { "notect", 0 }, { "NOT-ECT", 0 }, { "0", 0 },
		{ "ect1", 1 }, { "ect(1)", 1 }, { "ECT(1)", 1 }, { "1", 1 },
		{ "ect0", 2 }, { "ect(0)", 2 }, { "2", 2 },
		{ "ce", 3 }, { "CE", 3 }, { "3", 3 },
		{ "", -1 }, { "4", -1 }, { "00", -1 }, { "-1", -1 },
		{ "ect", -1 }, { "ect2", -1 }, { "ect(2)", -1 }, { "ce ", -1 },
		{ "not_ect", -1 }, { "3x", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("# ecn_parse(\"%s\")\n", t[i].s);
		assert_int_equal(ecn_parse(t[i].s), t[i].ecn);
	}
	assert_int_equal(ecn_parse(NULL), -1);
	/* every name round-trips */
	for (i = 0; i < 4; i++)
		assert_int_equal(ecn_parse(ecn_name((int)i)), (int)i);
}

static void test_dscp(void **state)
{
	static const struct {
		const char *s;
		int dscp;
	} t[] = {
		{ "default", 0 }, { "cs0", 0 }, { "le", 1 }, { "cs1", 8 },
		{ "af11", 10 }, { "af12", 12 }, { "af13", 14 }, { "cs2", 16 },
		{ "af21", 18 }, { "af22", 20 }, { "af23", 22 }, { "cs3", 24 },
		{ "af31", 26 }, { "af32", 28 }, { "af33", 30 }, { "cs4", 32 },
		{ "af41", 34 }, { "af42", 36 }, { "af43", 38 }, { "cs5", 40 },
		{ "va", 44 }, { "ef", 46 }, { "cs6", 48 }, { "cs7", 56 },
		{ "EF", 46 }, { "AF41", 34 },
		{ "0", 0 }, { "46", 46 }, { "63", 63 }, { "007", 7 },
		{ "64", -1 }, { "-1", -1 }, { "", -1 }, { "af44", -1 },
		{ "af14", -1 }, { "af51", -1 }, { "cs8", -1 }, { "1a", -1 },
		{ " 1", -1 }, { "0x2e", -1 }, { "+5", -1 }, { "99999999999", -1 },
	};
	size_t i;
	int d;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("# dscp_parse(\"%s\")\n", t[i].s);
		assert_int_equal(dscp_parse(t[i].s), t[i].dscp);
	}
	assert_int_equal(dscp_parse(NULL), -1);

	assert_string_equal(dscp_name(0), "default");
	assert_string_equal(dscp_name(46), "ef");
	assert_string_equal(dscp_name(10), "af11");
	assert_string_equal(dscp_name(44), "va");
	assert_string_equal(dscp_name(1), "le");
	assert_null(dscp_name(2));
	assert_null(dscp_name(64));
	assert_null(dscp_name(-1));
	/* every value with a name round-trips through it */
	for (d = 0; d < 64; d++)
		if (dscp_name(d) != NULL)
			assert_int_equal(dscp_parse(dscp_name(d)), d);
}

static struct addr mk(int af, const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = af;
	assert_int_equal(inet_pton(af, s, &a.u), 1);
	return a;
}

static void test_addr(void **state)
{
	struct addr a = mk(AF_INET, "192.0.2.1"), b = mk(AF_INET, "192.0.2.1");
	struct addr c = mk(AF_INET, "192.0.2.2");
	struct addr d = mk(AF_INET6, "2001:db8::1"), e = mk(AF_INET6, "2001:db8::1");
	struct addr f = mk(AF_INET6, "2001:db8::2"), z1, z2;
	struct addr m = mk(AF_INET6, "::ffff:192.0.2.1");
	char buf[INET6_ADDRSTRLEN], tiny[4];

	assert_true(addr_eq(&a, &b));
	assert_false(addr_eq(&a, &c));
	assert_true(addr_eq(&d, &e));
	assert_false(addr_eq(&d, &f));
	assert_false(addr_eq(&a, &m));	/* families differ */
	memset(&z1, 0, sizeof(z1));
	memset(&z2, 0, sizeof(z2));
	assert_true(addr_eq(&z1, &z2));

	assert_string_equal(addr_str(&a, buf, sizeof(buf)), "192.0.2.1");
	assert_ptr_equal(addr_str(&a, buf, sizeof(buf)), buf);
	assert_string_equal(addr_str(&d, buf, sizeof(buf)), "2001:db8::1");
	assert_string_equal(addr_str(&m, buf, sizeof(buf)),
	    "::ffff:192.0.2.1");
	/* too small, or no family: a terminated "?" */
	assert_string_equal(addr_str(&a, tiny, sizeof(tiny)), "?");
	assert_string_equal(addr_str(&z1, buf, sizeof(buf)), "?");
	assert_string_equal(addr_str(&a, tiny, 1), "");
	assert_string_equal(addr_str(&a, tiny, 0), "");
	/* IPv4 is written by hand: what inet_ntop writes, every byte value
	 * in every position (0, 9, 10, 99, 100, 255 among them). */
	for (unsigned v = 0; v < 256; v++) {
		char want[INET_ADDRSTRLEN];
		uint8_t *q = (uint8_t *)&a.u.v4;

		q[0] = (uint8_t)v, q[1] = (uint8_t)(255 - v);
		q[2] = (uint8_t)(v * 7), q[3] = (uint8_t)(v / 3);
		assert_non_null(inet_ntop(AF_INET, &a.u.v4, want, sizeof(want)));
		assert_string_equal(addr_str(&a, buf, sizeof(buf)), want);
		assert_string_equal(addr_str(&a, buf, INET_ADDRSTRLEN), want);
	}
}

static void test_checksum(void **state)
{
	/* RFC 1071 section 3 example: sum 0xddf2 */
	static const uint8_t ex[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5,
	    0xf6, 0xf7 };
	/* a real IPv4 header (cap_v4_te_tcp's outer): verifies */
	static const uint8_t ip[] = { 0x45, 0xc2, 0x00, 0x48, 0x6d, 0xcf,
	    0x00, 0x00, 0x40, 0x01, 0x87, 0x24, 0xc0, 0x00, 0x02, 0xfe, 0xc0,
	    0x00, 0x02, 0x01 };
	uint8_t *big;
	size_t n = 300000;

	assert_int_equal(pkt_fold(pkt_sum(ex, sizeof(ex), 0)), 0xddf2);
	/* odd length: the last byte is the high half */
	assert_int_equal(pkt_fold(pkt_sum(ex, 3, 0)), 0xf201);
	assert_int_equal(pkt_fold(pkt_sum(ex, 0, 0x1234)), 0x1234);
	/* the initial sum carries on (pseudo-headers) */
	assert_int_equal(pkt_fold(pkt_sum(ex + 4, 4, pkt_sum(ex, 4, 0))),
	    0xddf2);
	assert_int_equal(pkt_fold(pkt_sum(ip, sizeof(ip), 0)), 0xffff);
	assert_int_equal(pkt_fold(0x2fffd), 0xffff);
	assert_int_equal(pkt_fold(0), 0);

	/* long input: the 32-bit accumulator must not overflow */
	big = malloc(n);
	assert_non_null(big);
	memset(big, 0xff, n);
	assert_int_equal(pkt_fold(pkt_sum(big, n, 0)), 0xffff);
	memset(big, 0, n);
	big[n - 2] = 0x12;
	big[n - 1] = 0x34;
	assert_int_equal(pkt_fold(pkt_sum(big, n, 0xffffff00u)), 0x1135);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecn_names),
		cmocka_unit_test(test_ecn_parse),
		cmocka_unit_test(test_dscp),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
