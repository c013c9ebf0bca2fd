/*
 * fuzz_reply.c - fuzz target for reply_own_text (reply.h).
 *
 * Checks the promises on any bytes: the result is never NULL, is
 * NUL-terminated with the reported length, is never longer than the input
 * (nor than the part before the first NUL), has no CR, and no line of it
 * starts with '>' after spaces, tabs or NBSP. The function is
 * deterministic, and its own output read again keeps every promise (it
 * need not be unchanged: dropping '>' lines can bring lines together).
 * Any violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_reply: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* line_quoted - the line at s[i..n) starts with '>' after whitespace. */
static int line_quoted(const char *s, size_t i, size_t n)
{
	for (; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t')
			continue;
		if ((unsigned char)s[i] == 0xC2 && i + 1 < n &&
		    (unsigned char)s[i + 1] == 0xA0) {
			i++;
			continue;
		}
		return s[i] == '>';
	}
	return 0;
}

static void check_output(const char *got, size_t got_len, size_t limit)
{
	size_t i;

	CHECK(got != NULL);
	CHECK(got[got_len] == '\0');
	CHECK(strlen(got) == got_len);
	CHECK(got_len <= limit);
	for (i = 0; i < got_len; i++) {
		CHECK(got[i] != '\r');
		if (i == 0 || got[i - 1] == '\n')
			CHECK(!line_quoted(got, i, got_len));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t before_nul = nul ? (size_t)(nul - s) : size;
	size_t len1 = 0, len2 = 0, len3 = 0;
	char *got1, *got2, *got3;

	got1 = reply_own_text(s, size, &len1);
	check_output(got1, len1, before_nul);

	got2 = reply_own_text(s, size, &len2);       /* deterministic */
	CHECK(len1 == len2 && memcmp(got1, got2, len1) == 0);

	got3 = reply_own_text(got1, len1, &len3);    /* output stays clean */
	check_output(got3, len3, len1);

	free(got1);
	free(got2);
	free(got3);
	return 0;
}
