/*
 * test_addr.c - unit tests for addr.h: which addresses are accepted, the
 * reason given for each refused one, the length limits exactly at and one
 * past each bound, and case-insensitive comparison.
 *
 * In the tables "x{N}" stands for the byte x repeated N times, so the long
 * cases stay readable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "consentd/addr.h"
#include "consentd/limits.h"

#define BUF_MAX 1024

/* expand - write spec to out, replacing "x{N}" with N copies of x. */
static size_t expand(const char *spec, char *out)
{
	size_t n = 0;
	const char *p = spec;

	while (*p != '\0') {
		char c = *p++;
		char *end = NULL;
		unsigned long count = 1;

		if (*p == '{' && p[1] >= '0' && p[1] <= '9') {
			count = strtoul(p + 1, &end, 10);
			if (*end == '}')
				p = end + 1;
			else
				count = 1;
		}
		while (count-- > 0) {
			assert_true(n < BUF_MAX);
			out[n++] = c;
		}
	}
	out[n] = '\0';
	return n;
}

static void test_valid(void **state)
{
	static const char *const cases[] = {
		"user@example.com",
		"a@b.co",
		"first.last@example.com",
		"user+tag@example.com",
		"x!#$%&'*+-/=?^_`{|}~@example.org",
		"USER@EXAMPLE.COM",
		"a-b@sub-domain.example.co.uk",
		"123@example.com",
		"user@123.example.com",
		"user@example.c0m",
		"user@xn--bcher-kva.example",
		"user@a1-b2.com",
		"a.b.c.d@e.f.g.h.example",
		"a{64}@example.com",                    /* local part at its limit */
		"a@b{63}.com",                          /* label at its limit */
		"a@b.c{63}",                            /* TLD at its limit */
		"a{64}@b{63}.c{63}.d{61}",              /* 254 bytes in all */
		"a@b{63}.c{63}.d{63}.e{60}",            /* 254: domain 252 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[BUF_MAX + 1];
		size_t n = expand(cases[i], buf);
		const char *got = addr_check(buf, n);

		if (got != NULL)
			fail_msg("case %zu (%s): refused: %s", i, cases[i], got);
	}
}

static void test_invalid(void **state)
{
	static const struct {
		const char *in;
		size_t len;             /* 0: length after expansion */
		const char *want;
	} cases[] = {
		{ "", 0, "empty address" },
		{ "userexample.com", 0, "missing @" },
		{ "a@b@example.com", 0, "more than one @" },
		{ "@example.com", 0, "empty local part" },
		{ "user@", 0, "empty domain" },
		{ "@", 0, "empty local part" },
		{ ".user@example.com", 0, "local part starts with a dot" },
		{ "user.@example.com", 0, "local part ends with a dot" },
		{ "us..er@example.com", 0, "two dots in a row in local part" },
		{ "\"user\"@example.com", 0, "quoted local part not supported" },
		{ "us(er)@example.com", 0, "invalid character in local part" },
		{ "us,er@example.com", 0, "invalid character in local part" },
		{ "<user@example.com>", 0, "invalid character in local part" },
		{ "us\\er@example.com", 0, "invalid character in local part" },
		{ "user@example", 0, "domain needs at least two labels" },
		{ "user@.example.com", 0, "domain starts with a dot" },
		{ "user@example.com.", 0, "domain ends with a dot" },
		{ "user@example..com", 0, "two dots in a row in domain" },
		{ "user@-example.com", 0, "domain label starts or ends with a hyphen" },
		{ "user@example-.com", 0, "domain label starts or ends with a hyphen" },
		{ "user@example.-com", 0, "domain label starts or ends with a hyphen" },
		{ "user@example.com-", 0, "domain label starts or ends with a hyphen" },
		{ "user@exa_mple.com", 0, "invalid character in domain" },
		{ "user@example.com>", 0, "invalid character in domain" },
		{ "user@[192.0.2.1]", 0, "IP address literal not supported" },
		{ "user@[IPv6:2001:db8::1]", 0, "IP address literal not supported" },
		{ "user@192.0.2.1", 0, "top-level domain is all digits" },
		{ "user@example.123", 0, "top-level domain is all digits" },
		{ "us er@example.com", 0, "control character or space in address" },
		{ "user@example.com ", 0, "control character or space in address" },
		{ " user@example.com", 0, "control character or space in address" },
		{ "user@example.com\n", 0, "control character or space in address" },
		{ "user@example.com\r\nBcc: x@y.com", 0, "control character or space in address" },
		{ "user\t@example.com", 0, "control character or space in address" },
		{ "user\x7f@example.com", 0, "control character or space in address" },
		{ "us\0er@example.com", 18, "control character or space in address" },
		{ "user@example.com\0", 17, "control character or space in address" },
		{ "j\xc3\xb6rg@example.com", 0, "non-ASCII address (SMTPUTF8) not supported" },
		{ "user@b\xc3\xbc" "cher.de", 0, "non-ASCII address (SMTPUTF8) not supported" },
		{ "user@example.com\xc2\x85", 0, "non-ASCII address (SMTPUTF8) not supported" },
		{ "a{65}@example.com", 0, "local part longer than 64 bytes" },
		{ "a@b{64}.com", 0, "domain label longer than 63 bytes" },
		{ "a@b.c{64}", 0, "domain label longer than 63 bytes" },
		{ "a{64}@b{63}.c{63}.d{62}", 0, "address longer than 254 bytes" },
		{ "a@b{63}.c{63}.d{63}.e{61}", 0, "address longer than 254 bytes" },
		{ "a@b{63}.c{63}.d{63}.e{62}", 0, "domain longer than 253 bytes" },
		{ "a{500}", 0, "missing @" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[BUF_MAX + 1];
		size_t n;
		const char *got;

		if (cases[i].len != 0) {            /* raw bytes, NUL included */
			n = cases[i].len;
			memcpy(buf, cases[i].in, n);
		} else {
			n = expand(cases[i].in, buf);
		}
		got = addr_check(buf, n);
		if (got == NULL)
			fail_msg("case %zu (%s): accepted", i, cases[i].in);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%s): got \"%s\", want \"%s\"", i,
				 cases[i].in, got, cases[i].want);
	}
}

static void test_limits_match_reasons(void **state)
{
	/* The reasons spell the limits; catch limits.h changing under them. */
	(void)state;
	assert_int_equal(ADDR_LOCAL_MAX, 64);
	assert_int_equal(ADDR_LABEL_MAX, 63);
	assert_int_equal(ADDR_DOMAIN_MAX, 253);
	assert_int_equal(ADDR_MAX, 254);
}

static void test_only_n_bytes_read(void **state)
{
	(void)state;
	assert_null(addr_check("user@example.com trailing junk", 16));
	assert_null(addr_check("user@example.com", 16));
	assert_null(addr_check("user@example.com", 15));         /* example.co */
	assert_string_equal(addr_check("user@example.com", 12), "domain needs at least two labels");
	assert_string_equal(addr_check(NULL, 0), "empty address");
}

static void test_equal(void **state)
{
	static const struct {
		const char *a;
		const char *b;
		bool want;
	} cases[] = {
		{ "user@example.com", "user@example.com", true },
		{ "User@Example.COM", "user@example.com", true },
		{ "USER@EXAMPLE.COM", "user@example.com", true },
		{ "", "", true },
		{ "a@b.co", "a@b.com", false },
		{ "a@b.com", "a@b.co", false },
		{ "user1@example.com", "user2@example.com", false },
		{ "a@b.com", "", false },
		{ "\xc3\x89@x.com", "\xc3\xa9@x.com", false },    /* no Unicode folding */
		{ "[@x.com", "{@x.com", false },                 /* not case pairs */
		{ "@@x.com", "`@x.com", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = addr_equal(cases[i].a, cases[i].b);
		bool got_swapped = addr_equal(cases[i].b, cases[i].a);

		if (got != cases[i].want || got_swapped != cases[i].want)
			fail_msg("case %zu (%s, %s): got %d/%d, want %d", i, cases[i].a,
				 cases[i].b, got, got_swapped, cases[i].want);
	}
	assert_false(addr_equal(NULL, "a@b.com"));
	assert_false(addr_equal("a@b.com", NULL));
	assert_false(addr_equal(NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits_match_reasons),
		cmocka_unit_test(test_only_n_bytes_read),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
