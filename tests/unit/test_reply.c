/*
 * test_reply.c - unit tests for reply.h: the person's own new text, cut
 * before attributions (Gmail, Thunderbird, Apple Mail, mutt; German,
 * English, French; folded), Outlook header blocks (plain and bold, with
 * rule line), original-message and forward markers, signatures, mobile
 * footers and disclaimers; '>' lines dropped everywhere (inline answers
 * kept); CRLF and lone CR; NUL ends the input; long lines; the line limit.
 * Every result is also checked against the promises: never longer than
 * the input, NUL-terminated, no '>' line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/reply.h"

/* check_promises - what every result must satisfy. */
static void check_promises(const char *in, size_t len, const char *got,
			   size_t got_len)
{
	size_t i;

	(void)in;
	assert_non_null(got);
	assert_int_equal(strlen(got), got_len);
	assert_true(got_len <= len);
	for (i = 0; i < got_len; i++) {
		size_t j = i;

		assert_true(got[i] != '\r');
		if (i > 0 && got[i - 1] != '\n')
			continue;
		while (j < got_len && (got[j] == ' ' || got[j] == '\t'))
			j++;
		assert_true(j >= got_len || got[j] != '>');
	}
}

/* own - run reply_own_text on in[0..len) and check the promises. */
static char *own(const char *in, size_t len, size_t *got_len)
{
	size_t n = 0;
	char *got = reply_own_text(in, len, &n);

	check_promises(in, len, got, n);
	if (got_len)
		*got_len = n;
	return got;
}

struct reply_case {
	const char *name;
	const char *in;
	const char *want;
};

static const struct reply_case CASES[] = {
	/* --- basics ------------------------------------------------------ */
	{ "empty", "", "" },
	{ "plain yes", "JA", "JA" },
	{ "trim blank lines", "\n\n  \nJA\n\n\t\n", "JA" },
	{ "keeps inner blank line", "Ja,\n\neinverstanden.\n", "Ja,\n\neinverstanden." },
	{ "crlf", "JA\r\n\r\nGruss\r\nMax\r\n", "JA\n\nGruss\nMax" },
	{ "lone cr", "JA\r> NEIN\rMax", "JA\nMax" },
	{ "only quote", "> Bitte antworten Sie mit JA oder NEIN.\n> Danke\n", "" },
	{ "only blank", "\n\r\n \n", "" },

	/* --- '>' quoting without attribution ------------------------------ */
	{ "inline answers",
	  "> Stimmen Sie zu?\nJA\n> Newsletter?\nNEIN\n> Ende\n",
	  "JA\nNEIN" },
	{ "nested quotes", "Ja.\n>> alt\n> > alt 2\n>>> JA\n", "Ja." },
	{ "indented quote", "Ja.\n   > NEIN\n\t> NEIN\n", "Ja." },
	{ "nbsp before quote", "Ja.\n\xC2\xA0> NEIN\n", "Ja." },
	{ "bottom posting without attribution",
	  "> Bitte antworten Sie mit JA oder NEIN.\n>\n> CloudWerk\n\nNEIN, danke.\n",
	  "NEIN, danke." },

	/* --- attributions, German ----------------------------------------- */
	{ "gmail de",
	  "JA\n\nAm Fr., 27. Nov. 2026 um 10:12 Uhr schrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n\n> Antworten Sie mit JA oder NEIN.\n",
	  "JA" },
	{ "gmail de folded",
	  "Ja, gerne.\n\nAm Fr., 27. Nov. 2026 um 10:12 Uhr schrieb CloudWerk Datenschutz <\ndatenschutz@cloudwerk.example>:\n\n> NEIN\n",
	  "Ja, gerne." },
	{ "gmail de folded before schrieb",
	  "Einverstanden\nAm Fr., 27. Nov. 2026 um 10:12 Uhr\nschrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n> NEIN\n",
	  "Einverstanden" },
	{ "gmail de folded unquoted body",
	  "JA\nAm Fr., 27. Nov. 2026 um 10:12 Uhr schrieb\nCloudWerk Datenschutz:\nNEIN\n",
	  "JA" },
	{ "thunderbird de", "Ja\n\nAm 27.11.26 um 10:12 schrieb CloudWerk Datenschutz:\n> NEIN\n", "Ja" },
	{ "apple de",
	  "Ja\n\nVon meinem iPhone gesendet\n\n> Am 27.11.2026 um 10:12 schrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n> \n> NEIN\n",
	  "Ja" },
	{ "apple mail de",
	  "Nein danke.\n\n> Am 27.11.2026 um 10:12 schrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n> \n> JA\n",
	  "Nein danke." },
	{ "attribution without quote body", "JA\nAm 27.11.2026 um 10:12 schrieb CloudWerk:\nNEIN stimmt zu\n", "JA" },
	{ "bottom posting under attribution",
	  "Am 27.11.26 um 10:12 schrieb CloudWerk Datenschutz:\n> Antworten Sie mit JA oder NEIN.\n\nJA\n",
	  "JA" },
	{ "bottom posting, signature after it",
	  "On Fri, Nov 27, 2026 at 10:12 AM CloudWerk <dp@cloudwerk.example> wrote:\n> YES\n> NO\n\nNo thanks.\n\n-- \nJohn\n",
	  "No thanks." },
	{ "bottom posting, a second attribution below ends it",
	  "Am 27.11.26 um 10:12 schrieb CloudWerk:\n> JA\nNEIN\nAm 26.11.26 um 09:00 schrieb X <x@example.org>:\n> JA\n",
	  "NEIN" },
	{ "inline answers under attribution",
	  "Am 27.11.26 um 10:12 schrieb CloudWerk:\n> Frage 1?\nJA\n> Frage 2?\nNEIN\n",
	  "JA\nNEIN" },
	{ "outlook block with nothing above stays empty",
	  "\n\nVon: CloudWerk <dp@cloudwerk.example>\nGesendet: Freitag, 27. November 2026 10:12\nAn: Anna\nBetreff: Einwilligung\n\nJA\nNEIN\n",
	  "" },
	{ "am prose without date is text", "Am besten schrieb ich:\nJA\n", "Am besten schrieb ich:\nJA" },
	{ "am line without schrieb is text", "Am 1. Mai bin ich da.\nJA\n", "Am 1. Mai bin ich da.\nJA" },
	{ "bare schrieb before quote", "Ja.\nMax Muster schrieb:\n> NEIN\n", "Ja." },
	{ "bare schrieb without quote is text", "Ja, wie Max schrieb:\nalles gut\n", "Ja, wie Max schrieb:\nalles gut" },

	/* --- attributions, English and others ----------------------------- */
	{ "gmail en",
	  "Yes\n\nOn Fri, Nov 27, 2026 at 10:12 AM CloudWerk <privacy@cloudwerk.example> wrote:\n\n> Reply YES or NO\n",
	  "Yes" },
	{ "gmail en folded",
	  "I agree.\n\nOn Fri, Nov 27, 2026 at 10:12 AM CloudWerk Privacy <\nprivacy@cloudwerk.example> wrote:\n\n> NO\n",
	  "I agree." },
	{ "thunderbird en", "No thanks\n\nOn 27/11/2026 10:12, CloudWerk Privacy wrote:\n> YES\n", "No thanks" },
	{ "mutt writes", "yes\n\nOn Fri, Nov 27, 2026 at 10:12:00AM +0100, CloudWerk wrote:\n> no\n", "yes" },
	{ "on prose is text", "On second thought: yes\n", "On second thought: yes" },
	{ "french", "Oui\n\nLe ven. 27 nov. 2026 \xC3\xA0 10:12, CloudWerk <x@cloudwerk.example> a \xC3\xA9" "crit :\n> NON\n", "Oui" },
	{ "french nbsp colon", "Oui\nLe 27/11/2026 \xC3\xA0 10:12, CloudWerk a \xC3\xA9" "crit\xC2\xA0:\n> NON\n", "Oui" },

	/* --- Outlook ------------------------------------------------------ */
	{ "outlook de",
	  "JA\n\nVon: CloudWerk Datenschutz <datenschutz@cloudwerk.example>\nGesendet: Freitag, 27. November 2026 10:12\nAn: Max Muster <max@example.org>\nBetreff: Ihre Einwilligung\n\nAntworten Sie mit JA oder NEIN.\n",
	  "JA" },
	{ "outlook en",
	  "I agree\n\nFrom: CloudWerk Privacy <privacy@cloudwerk.example>\nSent: Friday, November 27, 2026 10:12 AM\nTo: Max <max@example.org>\nSubject: Your consent\n\nReply YES or NO.\n",
	  "I agree" },
	{ "outlook rule line",
	  "Ja\r\n\r\n________________________________\r\nVon: CloudWerk Datenschutz <datenschutz@cloudwerk.example>\r\nGesendet: Freitag, 27. November 2026 10:12\r\nAn: max@example.org\r\n\r\nNEIN\r\n",
	  "Ja" },
	{ "outlook bold de",
	  "JA\n\n*Von:* CloudWerk Datenschutz <datenschutz@cloudwerk.example>\n*Gesendet:* Freitag, 27. November 2026 10:12\n*An:* Max Muster\n*Betreff:* Einwilligung\n\nNEIN\n",
	  "JA" },
	{ "outlook bold en",
	  "Yes.\n\n*From:* CloudWerk <privacy@cloudwerk.example>\n*Sent:* Friday, November 27, 2026 10:12 AM\n*To:* Max\n\nNO\n",
	  "Yes." },
	{ "outlook mac date",
	  "Yes\n\nFrom: CloudWerk <privacy@cloudwerk.example>\nDate: Friday, 27 November 2026 at 10:12\nTo: Max\nSubject: consent\n\nNO\n",
	  "Yes" },
	{ "outlook from wrapped", "Ja\nVon: CloudWerk Datenschutz\n<datenschutz@cloudwerk.example>\n\nBetreff: x\nNEIN\n", "Ja" },
	{ "lone from is text", "From: me\nI agree\n", "From: me\nI agree" },
	{ "from followed late by to is text",
	  "From: me\na\nb\nc\nd\nTo: you\n", "From: me\na\nb\nc\nd\nTo: you" },
	{ "original message en", "Yes\n-----Original Message-----\nFrom: x\nNO\n", "Yes" },
	{ "original message spaced", "Yes\n----- Original Message -----\nNO\n", "Yes" },
	{ "urspruengliche nachricht", "Ja\n----- Urspr\xC3\xBCngliche Nachricht -----\nNEIN\n", "Ja" },
	{ "thunderbird forward", "Ja\n-------- Weitergeleitete Nachricht --------\nNEIN\n", "Ja" },
	{ "begin forwarded", "Yes\n\nBegin forwarded message:\n\nNO\n", "Yes" },

	/* --- signatures, footers, disclaimers ----------------------------- */
	{ "signature", "JA\n\n-- \nMax Muster\nNEIN GmbH\n", "JA" },
	{ "signature without space", "JA\n--\nMax\n", "JA" },
	{ "signature crlf", "JA\r\n-- \r\nNEIN\r\n", "JA" },
	{ "triple dash is text", "JA\n---\nweiter\n", "JA\n---\nweiter" },
	{ "iphone de", "Ja\n\nVon meinem iPhone gesendet\n", "Ja" },
	{ "samsung de", "Ja\nVon meinem Samsung Galaxy Smartphone gesendet.\nNEIN\n", "Ja" },
	{ "von meinem prose is text", "Von meinem Konto bitte nichts mehr.\nNEIN\n", "Von meinem Konto bitte nichts mehr.\nNEIN" },
	{ "sent from iphone", "Yes\n\nSent from my iPhone\n\n> On 27 Nov 2026, at 10:12, CloudWerk wrote:\n", "Yes" },
	{ "get outlook", "Yes\n\nGet Outlook for Android\n", "Yes" },
	{ "gesendet von", "Ja\nGesendet von Mail f\xC3\xBCr Windows\n", "Ja" },
	{ "disclaimer de",
	  "JA\n\nDiese E-Mail enth\xC3\xA4lt vertrauliche und/oder rechtlich gesch\xC3\xBCtzte Informationen. NEIN\n",
	  "JA" },
	{ "disclaimer en", "Yes\nThis email and any attachments are confidential. NO\n", "Yes" },
	{ "confidentiality notice", "Yes\n\nCONFIDENTIALITY NOTICE: NO\n", "Yes" },
	{ "first cut wins", "JA\n-- \nMax\nAm 27.11.26 um 10:12 schrieb X:\n", "JA" },
	{ "cut on first line", "-- \nJA\n", "" },
};

static void test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
		const struct reply_case *c = &CASES[i];
		size_t got_len;
		char *got = own(c->in, strlen(c->in), &got_len);

		if (strcmp(got, c->want) != 0)
			fail_msg("case \"%s\": got \"%s\", want \"%s\"",
				 c->name, got, c->want);
		free(got);
	}
}

static void test_null_out_len_and_null_body(void **state)
{
	char *got;

	(void)state;
	got = reply_own_text("JA\n", 3, NULL);
	assert_string_equal(got, "JA");
	free(got);
	got = reply_own_text(NULL, 0, NULL);
	assert_non_null(got);
	assert_string_equal(got, "");
	free(got);
}

/* A NUL byte ends the input: nothing after it is read. */
static void test_nul_ends_input(void **state)
{
	static const char in[] = "JA\0\nNEIN\n";
	size_t got_len;
	char *got;

	(void)state;
	got = own(in, sizeof in - 1, &got_len);
	assert_string_equal(got, "JA");
	assert_int_equal(got_len, 2);
	free(got);

	got = own("\0JA", 3, &got_len);
	assert_string_equal(got, "");
	assert_int_equal(got_len, 0);
	free(got);
}

/* Not NUL-terminated: only len bytes are read. */
static void test_len_is_respected(void **state)
{
	static const char in[] = "JA\nNEIN";
	char *got;

	(void)state;
	got = own(in, 2, NULL);
	assert_string_equal(got, "JA");
	free(got);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Lines far longer than any buffer; a quoted long line is still dropped
 * and a long attribution-looking line is prose. */
static void test_long_lines(void **state)
{
	size_t n = 100000, got_len;
	char *a = repeat('a', n);
	char *in = malloc(3 * n + 64);
	char *got;

	(void)state;
	assert_non_null(in);
	snprintf(in, 3 * n + 64, "JA %s\n> %s\nAm 1.1. %s schrieb:\n", a, a, a);
	got = own(in, strlen(in), &got_len);
	assert_int_equal(got_len, n + 3 + 1 + 8 + n + 9);
	assert_memory_equal(got, "JA ", 3);
	free(got);

	snprintf(in, 3 * n + 64, "%s\r\n-- \r\n%s", a, a);
	got = own(in, strlen(in), &got_len);
	assert_int_equal(got_len, n);
	free(got);
	free(in);
	free(a);
}

/* 3000 lines: only REPLY_LINES_MAX are looked at, the rest is dropped, and
 * a quote attribution after the limit does not matter. */
static void test_line_limit(void **state)
{
	size_t lines = 3000, i, got_len, nl = 0;
	char *in = malloc(lines * 8 + 64), *p, *got;

	(void)state;
	assert_non_null(in);
	p = in;
	for (i = 0; i < lines; i++)
		p += sprintf(p, "%s\n", i % 2 ? "> NEIN" : "JA");
	got = own(in, (size_t)(p - in), &got_len);
	for (i = 0; i < got_len; i++)
		nl += got[i] == '\n';
	assert_int_equal(nl + 1, REPLY_LINES_MAX / 2);
	assert_null(strstr(got, "NEIN"));
	free(got);

	p = in;
	for (i = 0; i < lines; i++)
		p += sprintf(p, "x%zu\n", i);
	got = own(in, (size_t)(p - in), &got_len);
	assert_non_null(strstr(got, "x1999"));
	assert_null(strstr(got, "x2000"));
	free(got);
	free(in);
}

/* Whatever precedes our request in a reply, the request's words never
 * survive: the request quoted in every client's way. */
static void test_request_never_leaks(void **state)
{
	static const char *const heads[] = {
		"Am 27.11.26 um 10:12 schrieb CloudWerk:\n",
		"On Fri, Nov 27, 2026 at 10:12 AM CloudWerk <a@b.example> wrote:\n",
		"Von: CloudWerk <a@b.example>\nGesendet: heute\n",
		"*From:* CloudWerk\n*Sent:* today\n",
		"-----Original Message-----\n",
		"-- \n",
		"",
	};
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		char *got;
		size_t n;

		n = (size_t)snprintf(buf, sizeof buf,
				     "ok\r\n%s\r\n> Antworten Sie mit JA oder NEIN.\r\n%s",
				     heads[i], heads[i][0] ? "JA\r\n" : "");
		got = own(buf, n, NULL);
		assert_string_equal(got, "ok");
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_null_out_len_and_null_body),
		cmocka_unit_test(test_nul_ends_input),
		cmocka_unit_test(test_len_is_respected),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_request_never_leaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
