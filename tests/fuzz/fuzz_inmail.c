/*
 * fuzz_inmail.c - fuzz target for inmail_parse over whole raw messages.
 *
 * Whatever the bytes: no crash, leak or sanitizer report; the error code
 * is one of the enum and the return value agrees with it; on INMAIL_OK the
 * text and alt_text (if any) and the subject are valid UTF-8 without NUL,
 * alt_text only with a text, neither on an error; from_addr is set exactly
 * when from_count == 1; list counts stay within their limits;
 * inmail_clear leaves the struct zeroed and reusable (the input is parsed
 * a second time into the same struct and must give the same result).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/inmail.h"
#include "consentd/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_inmail: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static void check(const inmail *m, int r)
{
	CHECK(m->error >= INMAIL_OK && m->error <= INMAIL_UNDECODABLE);
	CHECK((r == 0) == (m->error == INMAIL_OK));
	CHECK((m->from_addr != NULL) == (m->from_count == 1));
	CHECK(m->n_in_reply_to <= INMAIL_IDS_MAX);
	CHECK(m->n_references <= INMAIL_IDS_MAX);
	CHECK(m->n_rcpts <= INMAIL_RCPTS_MAX);
	CHECK(m->report_type == NULL || m->multipart_report);
	if (m->subject != NULL)
		CHECK(text_utf8_valid(m->subject, strlen(m->subject)));
	if (m->error == INMAIL_OK && m->text != NULL)
		CHECK(text_utf8_valid(m->text, strlen(m->text)));
	if (m->error == INMAIL_OK && m->alt_text != NULL)
		CHECK(m->text != NULL && text_utf8_valid(m->alt_text, strlen(m->alt_text)));
	if (m->error != INMAIL_OK)
		CHECK(m->text == NULL && m->alt_text == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const inmail zero;
	inmail m;
	char err[128];
	int r, r2;
	enum inmail_error e;

	r = inmail_parse((const char *)data, size, &m, err, sizeof(err));
	check(&m, r);
	CHECK(r == 0 || err[0] != '\0');
	e = m.error;
	inmail_clear(&m);
	CHECK(memcmp(&m, &zero, sizeof(m)) == 0);
	r2 = inmail_parse((const char *)data, size, &m, NULL, 0);
	check(&m, r2);
	CHECK(r2 == r && m.error == e);
	inmail_clear(&m);
	return 0;
}
