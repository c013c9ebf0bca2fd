/*
 * test_digest.c - unit tests for digest.h: SHA-256 and HMAC-SHA256 against
 * published test vectors (FIPS 180-2, RFC 4231), reuse of one digest object
 * across restarts of either kind, the netstring helpers the ledger hashes
 * are built from, random bytes, and the constant-time compare and wipe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/digest.h"

struct sha_case {
	const char *name, *in, *want;
};

static const struct sha_case sha_cases[] = {
	{ "empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

static void test_sha256_vectors(void **state)
{
	digest *d = digest_new();
	char got[DIGEST_HEX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sha_cases) / sizeof(sha_cases[0]); i++) {
		const struct sha_case *c = &sha_cases[i];

		digest_sha256_hex(c->in, strlen(c->in), got);
		if (strcmp(got, c->want))
			fail_msg("%s one-shot: got %s, want %s", c->name, got, c->want);
		digest_start_sha256(d);
		digest_update(d, c->in, strlen(c->in));
		digest_final_hex(d, got);
		if (strcmp(got, c->want))
			fail_msg("%s streamed: got %s, want %s", c->name, got, c->want);
	}
	digest_free(d);
}

static void test_sha256_million_a(void **state)
{
	digest *d = digest_new();
	char chunk[1000], got[DIGEST_HEX];
	int i;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	digest_start_sha256(d);
	for (i = 0; i < 1000; i++)
		digest_update(d, chunk, sizeof(chunk));
	digest_final_hex(d, got);
	assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	digest_free(d);
}

static void test_hmac_vectors(void **state)
{
	digest *d = digest_new();
	unsigned char key1[20], key6[131];
	char got[DIGEST_HEX];
	const char *data6 = "Test Using Larger Than Block-Size Key - Hash Key First";

	(void)state;
	/* RFC 4231 test case 1 */
	memset(key1, 0x0b, sizeof(key1));
	digest_start_hmac(d, key1, sizeof(key1));
	digest_update(d, "Hi There", 8);
	digest_final_hex(d, got);
	assert_string_equal(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* test case 2 */
	digest_start_hmac(d, (const unsigned char *)"Jefe", 4);
	digest_update(d, "what do ya ", 11);
	digest_update(d, "want for nothing?", 17);
	digest_final_hex(d, got);
	assert_string_equal(got, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* test case 6: key longer than the block */
	memset(key6, 0xaa, sizeof(key6));
	digest_start_hmac(d, key6, sizeof(key6));
	digest_update(d, data6, strlen(data6));
	digest_final_hex(d, got);
	assert_string_equal(got, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	digest_free(d);
}

/* One object, alternating kinds and abandoned runs, gives what fresh ones
 * give: a restart forgets everything before it. */
static void test_restart(void **state)
{
	digest *d = digest_new();
	unsigned char key[20], raw[DIGEST_LEN];
	char got[DIGEST_HEX];
	int round;

	(void)state;
	memset(key, 0x0b, sizeof(key));
	for (round = 0; round < 3; round++) {
		digest_start_sha256(d);
		digest_update(d, "abandoned", 9);       /* never finished */
		digest_start_hmac(d, key, sizeof(key));
		digest_update(d, "Hi There", 8);
		digest_final_hex(d, got);
		assert_string_equal(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

		digest_start_hmac(d, key, sizeof(key));
		digest_update(d, "abandoned", 9);
		digest_start_sha256(d);
		digest_update(d, "abc", 3);
		digest_final(d, raw);
		assert_int_equal(raw[0], 0xba);
		assert_int_equal(raw[31], 0xad);
	}
	digest_free(d);
	digest_free(NULL);   /* NULL-safe */
}

/* Netstrings: "LEN:BYTES," - NULL as "", integers in decimal. */
static void test_netstrings(void **state)
{
	digest *d = digest_new();
	char got[DIGEST_HEX], want[DIGEST_HEX];

	(void)state;
	digest_start_sha256(d);
	digest_ns(d, "hello");
	digest_final_hex(d, got);
	digest_sha256_hex("5:hello,", 8, want);
	assert_string_equal(got, want);

	digest_start_sha256(d);
	digest_ns(d, NULL);
	digest_final_hex(d, got);
	digest_sha256_hex("0:,", 3, want);
	assert_string_equal(got, want);
	digest_start_sha256(d);
	digest_ns(d, "");
	digest_final_hex(d, want);
	assert_string_equal(got, want);

	digest_start_sha256(d);
	digest_ns_int(d, INT64_MIN);
	digest_ns_int(d, 0);
	digest_ns_int(d, 42);
	digest_final_hex(d, got);
	digest_sha256_hex("20:-9223372036854775808,1:0,2:42,", 33, want);
	assert_string_equal(got, want);

	/* ("ab","c") and ("a","bc") differ, as do ("a","") and ("","a"). */
	digest_start_sha256(d);
	digest_ns(d, "ab");
	digest_ns(d, "c");
	digest_final_hex(d, got);
	digest_start_sha256(d);
	digest_ns(d, "a");
	digest_ns(d, "bc");
	digest_final_hex(d, want);
	assert_string_not_equal(got, want);
	digest_start_sha256(d);
	digest_ns(d, "a");
	digest_ns(d, "");
	digest_final_hex(d, got);
	digest_start_sha256(d);
	digest_ns(d, "");
	digest_ns(d, "a");
	digest_final_hex(d, want);
	assert_string_not_equal(got, want);
	digest_free(d);
}

static void test_random(void **state)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	unsigned char big[4096];
	size_t i, ones = 0;

	(void)state;
	assert_int_equal(digest_random(a, sizeof(a)), 0);
	assert_int_equal(digest_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(digest_random(a, 0), 0);
	assert_int_equal(digest_random(big, sizeof(big)), 0);
	for (i = 0; i < sizeof(big); i++)
		ones += (size_t)__builtin_popcount(big[i]);
	/* 32768 bits: expect 16384 +- 91 (1 sigma) */
	assert_true(ones > 15500 && ones < 17300);
}

static void test_equal_and_wipe(void **state)
{
	unsigned char a[40], b[40];

	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(digest_equal(a, b, sizeof(a)));
	b[39] ^= 0x80;
	assert_false(digest_equal(a, b, sizeof(a)));
	assert_true(digest_equal(a, b, 39));          /* only n bytes */
	assert_true(digest_equal(a, b, 0));
	b[0] ^= 1;
	assert_false(digest_equal(a, b, 39));

	digest_wipe(a, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_memory_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_netstrings),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_equal_and_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
