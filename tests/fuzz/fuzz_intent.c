/*
 * fuzz_intent.c - fuzz target for intent_classify.
 *
 * For any bytes: the result is one of the four intents with a short,
 * printable, NUL-terminated reason that fits the buffer; the answer is
 * deterministic and blind to ASCII case; a "yes" never comes from invalid
 * UTF-8, a question mark or an over-long text, and stops being a "yes"
 * when a question mark, a trailing negation or a "nein" is added. Any
 * violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/intent.h"
#include "consentd/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_intent: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* check_why - a short printable reason, NUL-terminated inside why. */
static void check_why(const char *why, size_t cap)
{
	size_t n = strnlen(why, cap);

	CHECK(n < cap);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK(why[i] >= 0x20 && why[i] < 0x7f);
}

/* with_suffix - classify data followed by suffix (yes/no answer only). */
static enum intent with_suffix(const uint8_t *data, size_t size, const char *suffix)
{
	size_t sn = strlen(suffix);
	char *buf = xmalloc(size + sn + 1);
	enum intent r;

	memcpy(buf, data, size);
	memcpy(buf + size, suffix, sn);
	r = intent_classify(buf, size + sn, NULL, 0);
	free(buf);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[64], why2[64], tiny[4];
	enum intent r, r2;
	char *upper;

	if (size > INTENT_TEXT_MAX + 16)
		return 0;
	r = intent_classify((const char *)data, size, why, sizeof why);
	CHECK(r == INTENT_UNCLEAR || r == INTENT_YES || r == INTENT_NO ||
	      r == INTENT_WITHDRAW);
	check_why(why, sizeof why);
	CHECK(strcmp(intent_name(r), r == INTENT_YES ? "yes" : r == INTENT_NO ? "no" :
	             r == INTENT_WITHDRAW ? "withdraw" : "unclear") == 0);

	/* Deterministic, whatever the reason buffer. */
	CHECK(intent_classify((const char *)data, size, NULL, 0) == r);
	CHECK(intent_classify((const char *)data, size, tiny, sizeof tiny) == r);
	CHECK(strnlen(tiny, sizeof tiny) < sizeof tiny);
	CHECK(strncmp(tiny, why, strlen(tiny)) == 0);

	/* Blind to ASCII case. */
	upper = xmalloc(size + 1);
	for (size_t i = 0; i < size; i++)
		upper[i] = (char)((data[i] >= 'a' && data[i] <= 'z') ? data[i] - 32 : data[i]);
	r2 = intent_classify(upper, size, why2, sizeof why2);
	CHECK(r2 == r);
	CHECK(strcmp(why, why2) == 0);
	free(upper);

	if (r == INTENT_YES) {
		CHECK(size <= INTENT_TEXT_MAX);
		CHECK(text_utf8_valid((const char *)data, size));
		CHECK(memchr(data, '?', size) == NULL);
		if (size + 8 <= INTENT_TEXT_MAX) {
			CHECK(with_suffix(data, size, "?") == INTENT_UNCLEAR);
			CHECK(with_suffix(data, size, " nicht") != INTENT_YES);
			CHECK(with_suffix(data, size, " not") != INTENT_YES);
			CHECK(with_suffix(data, size, " nein") != INTENT_YES);
		}
	}
	if (!text_utf8_valid((const char *)data, size))
		CHECK(r == INTENT_UNCLEAR);
	return 0;
}
