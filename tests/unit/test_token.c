/*
 * test_token.c - unit tests for token.h: a token is 32 lowercase hex digits
 * of a random (version 4) UUID, fresh every time; its hash is the SHA-256 of
 * the lowercase form, so a token whose case an MTA folded still matches;
 * anything that is not exactly 32 hex digits has no hash; hashes compare
 * equal only when they are the same 64 digits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/digest.h"
#include "consentd/token.h"

#define MANY 10000

static int cmp_token(const void *a, const void *b)
{
	return memcmp(a, b, TOKEN_SIZE);
}

static void test_new_format(void **state)
{
	char tok[TOKEN_SIZE + 8];
	int i, k;

	(void)state;
	for (i = 0; i < 200; i++) {
		memset(tok, 'Z', sizeof(tok));
		token_new(tok);
		assert_int_equal(strlen(tok), TOKEN_LEN);
		assert_int_equal(tok[TOKEN_SIZE], 'Z');          /* nothing written past the NUL */
		for (k = 0; k < TOKEN_LEN; k++)
			if (!strchr("0123456789abcdef", tok[k]))
				fail_msg("token %s: byte %d '%c' is not lowercase hex", tok, k, tok[k]);
		/* Random UUID: version nibble 4 (byte 6), variant 10xx (byte 8). */
		if (tok[12] != '4')
			fail_msg("token %s: version digit '%c', want '4'", tok, tok[12]);
		if (!strchr("89ab", tok[16]))
			fail_msg("token %s: variant digit '%c', want 8, 9, a or b", tok, tok[16]);
	}
}

static void test_new_distinct(void **state)
{
	char (*toks)[TOKEN_SIZE] = calloc(MANY, TOKEN_SIZE);
	int i, bits[TOKEN_LEN * 4] = { 0 };

	(void)state;
	assert_non_null(toks);
	for (i = 0; i < MANY; i++)
		token_new(toks[i]);
	qsort(toks, MANY, TOKEN_SIZE, cmp_token);
	for (i = 1; i < MANY; i++)
		if (!memcmp(toks[i - 1], toks[i], TOKEN_SIZE))
			fail_msg("token %s came twice in %d", toks[i], MANY);

	/* Every one of the 122 random bits takes both values, and roughly
	 * equally often (a stuck or badly biased bit would show). */
	for (i = 0; i < MANY; i++) {
		int k, b;

		for (k = 0; k < TOKEN_LEN; k++) {
			int v = isdigit((unsigned char)toks[i][k]) ? toks[i][k] - '0'
								    : toks[i][k] - 'a' + 10;

			for (b = 0; b < 4; b++)
				bits[k * 4 + b] += (v >> (3 - b)) & 1;
		}
	}
	for (i = 0; i < TOKEN_LEN * 4; i++) {
		int fixed = (i >= 48 && i < 52) || i == 64 || i == 65;   /* version, variant */

		if (!fixed && (bits[i] < MANY * 45 / 100 || bits[i] > MANY * 55 / 100))
			fail_msg("bit %d was set in %d of %d tokens", i, bits[i], MANY);
	}
	free(toks);
}

static void test_hash_value(void **state)
{
	char got[65], want[65];
	const char *tok = "0123456789abcdef0123456789abcdef";

	(void)state;
	assert_int_equal(token_hash(tok, TOKEN_LEN, got), 0);
	assert_string_equal(got, "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9");
	digest_sha256_hex(tok, TOKEN_LEN, want);
	assert_string_equal(got, want);
}

static void test_hash_case_insensitive(void **state)
{
	char tok[TOKEN_SIZE], upper[TOKEN_SIZE], mixed[TOKEN_SIZE];
	char h_lower[65], h_upper[65], h_mixed[65], h_other[65];
	int i, k;

	(void)state;
	for (i = 0; i < 100; i++) {
		token_new(tok);
		for (k = 0; k < TOKEN_LEN; k++) {
			upper[k] = (char)toupper((unsigned char)tok[k]);
			mixed[k] = k % 2 ? upper[k] : tok[k];
		}
		upper[TOKEN_LEN] = mixed[TOKEN_LEN] = '\0';
		assert_int_equal(token_hash(tok, TOKEN_LEN, h_lower), 0);
		assert_int_equal(token_hash(upper, TOKEN_LEN, h_upper), 0);
		assert_int_equal(token_hash(mixed, TOKEN_LEN, h_mixed), 0);
		assert_string_equal(h_upper, h_lower);
		assert_string_equal(h_mixed, h_lower);
		assert_int_equal(strlen(h_lower), 64);
		assert_true(token_hash_equal(h_lower, h_upper));

		/* A different token has a different hash. */
		tok[0] = tok[0] == '0' ? '1' : '0';
		assert_int_equal(token_hash(tok, TOKEN_LEN, h_other), 0);
		assert_string_not_equal(h_other, h_lower);
		assert_false(token_hash_equal(h_other, h_lower));
	}
	/* The input is not modified (hashing folds a copy). */
	for (k = 0; k < TOKEN_LEN; k++)
		assert_false(islower((unsigned char)upper[k]));
}

struct bad_token {
	const char *name;
	const char *s;
	size_t n;   /* 0: strlen */
};

static const struct bad_token bad_tokens[] = {
	{ "empty", "", 0 },
	{ "31 digits", "0123456789abcdef0123456789abcde", 0 },
	{ "33 digits", "0123456789abcdef0123456789abcdef0", 0 },
	{ "64 digits", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0 },
	{ "UUID with dashes", "01234567-89ab-4def-8123-456789abcdef", 0 },
	{ "letter g", "0123456789abcdef0123456789abcdeg", 0 },
	{ "upper G", "0123456789ABCDEF0123456789ABCDEG", 0 },
	{ "space", "0123456789abcdef 123456789abcdef", 0 },
	{ "0x prefix", "0x23456789abcdef0123456789abcdef", 0 },
	{ "plus sign", "+123456789abcdef0123456789abcdef", 0 },
	{ "NUL inside", "0123456789abcdef\0" "123456789abcdef", 32 },
	{ "newline at end", "0123456789abcdef0123456789abcde\n", 0 },
	{ "UTF-8 fullwidth digit", "\xef\xbc\x90" "123456789abcdef0123456789abcd", 0 },
	{ "Latin-1 byte", "\xe9" "123456789abcdef0123456789abcdef", 0 },
};

static void test_hash_refuses(void **state)
{
	char out[65];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
		const struct bad_token *c = &bad_tokens[i];
		size_t n = c->n ? c->n : strlen(c->s);
		int got = token_hash(c->s, n, out);

		if (got != -1)
			fail_msg("%s: got %d, want -1", c->name, got);
	}
	/* A prefix of a longer buffer: only n bytes are read. */
	assert_int_equal(token_hash("0123456789abcdef0123456789abcdefXYZ", TOKEN_LEN, out), 0);
	assert_string_equal(out, "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9");
}

static void test_hash_equal(void **state)
{
	char a[65], b[65];

	(void)state;
	assert_int_equal(token_hash("0123456789abcdef0123456789abcdef", TOKEN_LEN, a), 0);
	strcpy(b, a);
	assert_true(token_hash_equal(a, b));
	b[63] = b[63] == '0' ? '1' : '0';
	assert_false(token_hash_equal(a, b));
	strcpy(b, a);
	b[0] = b[0] == '0' ? '1' : '0';
	assert_false(token_hash_equal(a, b));
	/* Wrong lengths never match, not even a prefix. */
	strcpy(b, a);
	b[63] = '\0';
	assert_false(token_hash_equal(a, b));
	assert_false(token_hash_equal(b, a));
	assert_false(token_hash_equal("", ""));
	assert_false(token_hash_equal(a, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_format),
		cmocka_unit_test(test_new_distinct),
		cmocka_unit_test(test_hash_value),
		cmocka_unit_test(test_hash_case_insensitive),
		cmocka_unit_test(test_hash_refuses),
		cmocka_unit_test(test_hash_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
