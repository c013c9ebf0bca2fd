/*
 * fuzz_addr.c - fuzz target for address validation and comparison.
 *
 * Whatever addr_check accepts must satisfy every rule of addr.h when checked
 * independently here (one '@', lengths, allowed bytes, dot and hyphen
 * placement, a non-numeric TLD); whatever it refuses must come with a short
 * printable reason. addr_equal must be reflexive, symmetric and blind to
 * ASCII case. Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/addr.h"
#include "consentd/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_addr: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static int is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int is_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* check_accepted - s[0..n) was accepted: verify it independently. */
static void check_accepted(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	const char *dom;
	size_t local, domain, i, label = 0, labels = 0, tld_digits = 1;

	CHECK(n >= 5 && n <= ADDR_MAX);     /* the shortest is a@b.c */
	CHECK(at != NULL);
	CHECK(memchr(at + 1, '@', n - (size_t)(at - s) - 1) == NULL);
	local = (size_t)(at - s);
	dom = at + 1;
	domain = n - local - 1;
	CHECK(local >= 1 && local <= ADDR_LOCAL_MAX);
	CHECK(domain >= 3 && domain <= ADDR_DOMAIN_MAX);
	CHECK(s[0] != '.' && s[local - 1] != '.');
	for (i = 0; i < local; i++) {
		CHECK(s[i] == '.' || is_atext((unsigned char)s[i]));
		if (s[i] == '.')
			CHECK(s[i + 1] != '.');
	}
	for (i = 0; i <= domain; i++) {
		if (i < domain && dom[i] != '.') {
			CHECK(is_ldh((unsigned char)dom[i]));
			if (dom[i] < '0' || dom[i] > '9')
				tld_digits = 0;
			label++;
			continue;
		}
		CHECK(label >= 1 && label <= ADDR_LABEL_MAX);
		CHECK(dom[i - label] != '-' && dom[i - 1] != '-');
		labels++;
		if (i < domain) {
			label = 0;
			tld_digits = 1;
		}
	}
	CHECK(labels >= 2);
	CHECK(!tld_digits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *why = addr_check(s, size);
	char *copy, *upper;
	size_t i;

	CHECK(why == addr_check(s, size));          /* deterministic */
	if (why != NULL) {
		size_t len = strlen(why);

		CHECK(len > 0 && len < 80);
		for (i = 0; i < len; i++)
			CHECK(why[i] >= 0x20 && why[i] < 0x7F);
	} else {
		check_accepted(s, size);
	}

	/* addr_equal works on C strings: compare up to the first NUL. */
	copy = malloc(size + 1);
	upper = malloc(size + 1);
	CHECK(copy != NULL && upper != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (i = 0; i <= size; i++) {
		char c = copy[i];

		upper[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	CHECK(addr_equal(copy, copy));
	CHECK(addr_equal(copy, upper));
	CHECK(addr_equal(upper, copy));
	if (size > 0 && copy[0] != '\0') {
		/* Changing a byte into something not its case pair must differ. */
		upper[0] = (char)(copy[0] == 'x' || copy[0] == 'X' ? 'y' : 'x');
		CHECK(!addr_equal(copy, upper));
		CHECK(!addr_equal(upper, copy));
	}
	if (why == NULL)
		CHECK(strlen(copy) == size);
	free(copy);
	free(upper);
	return 0;
}
