/*
 * test_intent.c - unit tests for intent.h: German and English answers,
 * negations, conditions, questions, contradictions, umlaut and case
 * variants, word boundaries, greetings that do not count, long texts,
 * invalid UTF-8 and NUL bytes. The guiding rule: a false "yes" is a legal
 * violation, so anything doubtful must come out INTENT_UNCLEAR.
 *
 * Word-boundary decisions documented here: a hyphen separates words, so
 * "Nein-Sager" reads as "nein sager" (a refusal, never a grant) and
 * "Ja-Wort" as "ja wort" (yes); "Januar", "nothing", "Okayama" are other
 * words and match nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/intent.h"

struct intent_case {
	const char *in;
	size_t len;            /* 0: strlen(in) */
	enum intent want;
	const char *want_why;  /* NULL: not checked */
};

#define Y INTENT_YES
#define N INTENT_NO
#define W INTENT_WITHDRAW
#define U INTENT_UNCLEAR

static void run_cases(const struct intent_case *cases, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		const struct intent_case *tc = &cases[i];
		size_t len = tc->len != 0 ? tc->len : strlen(tc->in);
		char why[64] = "";
		enum intent got = intent_classify(tc->in, len, why, sizeof why);

		if (got != tc->want) {
			print_error("case %zu \"%s\": got %s (%s), want %s\n", i,
			            tc->in, intent_name(got), why, intent_name(tc->want));
			failed++;
		} else if (tc->want_why != NULL && strcmp(why, tc->want_why) != 0) {
			print_error("case %zu \"%s\": got why \"%s\", want \"%s\"\n",
			            i, tc->in, why, tc->want_why);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof cases[0])

static void test_yes(void **state)
{
	static const struct intent_case cases[] = {
		{ "ja", 0, Y, "yes" },
		{ "Ja", 0, Y, NULL },
		{ "JA", 0, Y, NULL },
		{ "Ja.", 0, Y, NULL },
		{ "ja!", 0, Y, NULL },
		{ "  Ja  \r\n", 0, Y, NULL },
		{ "jawohl", 0, Y, NULL },
		{ "Einverstanden.", 0, Y, NULL },
		{ "Ich bin einverstanden.", 0, Y, NULL },
		{ "Ich stimme zu.", 0, Y, NULL },
		{ "ich stimme dem zu", 0, Y, NULL },
		{ "Ich willige ein.", 0, Y, NULL },
		{ "Ich möchte zustimmen.", 0, Y, NULL },
		{ "ok", 0, Y, NULL },
		{ "OK!", 0, Y, NULL },
		{ "Okay", 0, Y, NULL },
		{ "ja bitte", 0, Y, NULL },
		{ "Ja, gerne!", 0, Y, NULL },
		{ "Ja, danke! Anna", 0, Y, NULL },
		{ "Hallo, ja, ich bin einverstanden. Viele Grüße, Anna Müller", 0, Y, NULL },
		{ "Sehr geehrte Damen und Herren, ich stimme zu. Mit freundlichen Grüßen Max", 0, Y, NULL },
		{ "Ja, kein Problem.", 0, Y, NULL },
		{ "ja ja", 0, Y, NULL },
		{ "Ja-Wort", 0, Y, NULL },
		{ "Liebe Frau Weber, ja.", 0, Y, NULL },
		{ "Anna hier. Ja!", 0, Y, NULL },
		{ "Ich habe nachgedacht:\nJa", 0, Y, NULL },
		{ "yes", 0, Y, NULL },
		{ "Yes please", 0, Y, NULL },
		{ "YES!!!", 0, Y, NULL },
		{ "I agree.", 0, Y, NULL },
		{ "Agreed, thanks! Bob", 0, Y, NULL },
		{ "I consent.", 0, Y, NULL },
		{ "Hi, yes. Best regards, John", 0, Y, NULL },
		{ "Ja\n\nToken: 0123456789abcdef0123456789ABCDEF", 0, Y, NULL },
		{ "Ja 👍", 0, Y, NULL },
		{ "\xef\xbb\xbfJa", 0, Y, NULL },                 /* BOM */
	};
	(void)state;
	RUN(cases);
}

static void test_no(void **state)
{
	static const struct intent_case cases[] = {
		{ "nein", 0, N, "no" },
		{ "NEIN", 0, N, NULL },
		{ "Nein.", 0, N, NULL },
		{ "nein danke", 0, N, NULL },
		{ "Nein, danke.", 0, N, NULL },
		{ "Nicht einverstanden.", 0, N, NULL },
		{ "Ich bin nicht einverstanden.", 0, N, NULL },
		{ "Ich bin damit nicht einverstanden", 0, N, NULL },
		{ "Nein, ich bin nicht einverstanden.", 0, N, NULL },
		{ "Ich stimme nicht zu.", 0, N, NULL },
		{ "ich stimme dem nicht zu", 0, N, NULL },
		{ "Ich willige nicht ein.", 0, N, NULL },
		{ "Ich lehne ab.", 0, N, NULL },
		{ "Ablehnen", 0, N, NULL },
		{ "Auf keinen Fall!", 0, N, NULL },
		{ "Ich möchte nicht zustimmen.", 0, N, "negated yes" },
		{ "nicht ok", 0, N, "negated yes" },
		{ "Kein Ja von mir.", 0, U, "no answer" },   /* "ja" mid-clause */
		{ "Kein Ok von mir.", 0, N, "negated yes" },
		{ "Ich bin dagegen.", 0, N, NULL },
		{ "no", 0, N, NULL },
		{ "No thanks", 0, N, NULL },
		{ "no thank you", 0, N, NULL },
		{ "I do not agree.", 0, N, NULL },
		{ "I don't agree.", 0, N, NULL },
		{ "I don\xe2\x80\x99t agree.", 0, N, NULL },     /* ’ */
		{ "I dont agree", 0, N, NULL },
		{ "I don t agree", 0, N, NULL },
		{ "I can't agree", 0, N, "negated yes" },
		{ "I do not consent.", 0, N, NULL },
		{ "I don't consent", 0, N, NULL },
		{ "I disagree", 0, N, NULL },
		{ "decline", 0, N, NULL },
		{ "I refuse.", 0, N, NULL },
		{ "not ok", 0, N, NULL },
		{ "No, I don't agree.", 0, N, NULL },
		{ "Nein-Sager", 0, N, NULL },     /* hyphen splits: "nein" */
	};
	(void)state;
	RUN(cases);
}

static void test_withdraw(void **state)
{
	static const struct intent_case cases[] = {
		{ "Widerruf", 0, W, "withdraw" },
		{ "widerrufen", 0, W, NULL },
		{ "Ich widerrufe meine Einwilligung.", 0, W, NULL },
		{ "Zurückziehen", 0, W, NULL },
		{ "ZURÜCKZIEHEN", 0, W, NULL },
		{ "zurueckziehen", 0, W, NULL },
		{ "zuruckziehen", 0, W, NULL },
		{ "Ich ziehe meine Einwilligung zurück.", 0, W, NULL },
		{ "Ich ziehe meine Zustimmung zurueck", 0, W, NULL },
		{ "stop", 0, W, NULL },
		{ "STOP", 0, W, NULL },
		{ "Stopp!", 0, W, NULL },
		{ "Bitte abmelden.", 0, W, NULL },
		{ "please revoke my consent", 0, W, NULL },
		{ "I withdraw my consent.", 0, W, NULL },
		{ "Unsubscribe", 0, W, NULL },
		{ "opt-out", 0, W, NULL },
		{ "Keine E-Mails mehr, bitte abmelden.", 0, W, NULL },
		{ "Hallo, bitte austragen. Danke, Anna", 0, W, NULL },
		{ "Ich widerspreche.", 0, W, NULL },
		{ "Bitte löschen", 0, W, NULL },
		{ "bitte loeschen", 0, W, NULL },
	};
	(void)state;
	RUN(cases);
}

static void test_unclear_contradictions(void **state)
{
	static const struct intent_case cases[] = {
		{ "ja nein", 0, U, "both yes and no" },
		{ "Nein, ja.", 0, U, "both yes and no" },
		{ "Nein, ich bin einverstanden", 0, U, "both yes and no" },
		{ "Ja, ich bin nicht einverstanden", 0, U, "both yes and no" },
		{ "yes no", 0, U, NULL },
		{ "ja, widerrufen", 0, U, "both yes and withdraw" },
		{ "Yes, stop", 0, U, NULL },
		{ "Nein, ich widerrufe.", 0, U, "both no and withdraw" },
		{ "ja nein stop", 0, U, "yes, no and withdraw" },
		{ "Einverstanden bin ich nicht.", 0, U, "negation with yes" },
		{ "Ja, keine Frage", 0, U, "negation with yes" },
		{ "I agree, not", 0, U, NULL },
		{ "nicht nein", 0, U, "negated no" },
		{ "nicht widerrufen", 0, U, "negated withdrawal" },
		{ "Ich widerrufe nicht.", 0, U, "negated withdrawal" },
		{ "don't stop", 0, U, NULL },
		{ "Ja, löschen Sie meine Daten", 0, U, "both yes and withdraw" },
		{ "Yes, remove me", 0, U, "both yes and withdraw" },
		{ "Ja, ich bin dagegen", 0, U, "both yes and no" },
		{ "Ja, ich möchte keine Mails mehr", 0, U, "both yes and withdraw" },
		{ "Ja, ich will nicht", 0, U, "negation with yes" },
	};
	(void)state;
	RUN(cases);
}

static void test_unclear_conditions_doubt(void **state)
{
	static const struct intent_case cases[] = {
		{ "Ja, aber nur wenn ihr mir keine Werbung schickt.", 0, U, "condition" },
		{ "Ja, falls nötig", 0, U, "condition" },
		{ "Einverstanden, sofern meine Daten nicht weitergegeben werden", 0, U, "condition" },
		{ "Ja, jedoch nur für Newsletter", 0, U, "condition" },
		{ "Yes, but only monthly", 0, U, "condition" },
		{ "Yes if you must", 0, U, "condition" },
		{ "I agree unless it costs money", 0, U, "condition" },
		{ "ok, as long as it is free", 0, U, "condition" },
		{ "vielleicht", 0, U, "uncertain" },
		{ "Vielleicht ja", 0, U, "uncertain" },
		{ "maybe", 0, U, "uncertain" },
		{ "Maybe yes", 0, U, "uncertain" },
		{ "Weiß nicht", 0, U, "uncertain" },
		{ "weiss nicht, ja", 0, U, "uncertain" },
		{ "Ich bin nicht sicher. Ja.", 0, U, "uncertain" },
		{ "Not sure, yes", 0, U, "uncertain" },
		{ "I'm not sure", 0, U, "uncertain" },
		{ "I don't know", 0, U, "uncertain" },
		{ "jein", 0, U, "uncertain" },
		{ "Ja, später", 0, U, "uncertain" },
		{ "ja, spater", 0, U, "uncertain" },
		{ "Ja, unter Vorbehalt", 0, U, "condition" },
		{ "Yes, only for the newsletter", 0, U, "condition" },
		{ "Ja, nur Newsletter", 0, U, "condition" },
		{ "Ich habe nichts dagegen", 0, U, "uncertain" },
	};
	(void)state;
	RUN(cases);
}

static void test_unclear_questions_and_nothing(void **state)
{
	static const struct intent_case cases[] = {
		{ "Ja?", 0, U, "question" },
		{ "Was bedeutet das? Ja.", 0, U, "question" },
		{ "yes?", 0, U, "question" },
		{ "¿ja", 0, U, "question" },
		{ "ja\xef\xbc\x9f", 0, U, "question" },          /* fullwidth ? */
		{ "", 0, U, "empty" },
		{ " ", 0, U, "empty" },
		{ " \t\r\n ", 0, U, "empty" },
		{ "...!!!", 0, U, "empty" },
		{ "👍", 0, U, "empty" },
		{ "sure", 0, U, "no answer" },
		{ "gerne", 0, U, "no answer" },
		{ "Danke!", 0, U, "no answer" },
		{ "Hallo, vielen Dank. Viele Grüße", 0, U, "no answer" },
		{ "Januar", 0, U, "no answer" },
		{ "nothing", 0, U, "no answer" },
		{ "Okayama", 0, U, "no answer" },
		{ "Jana", 0, U, "no answer" },
		{ "nonsense", 0, U, "no answer" },
		{ "stopped", 0, U, "no answer" },
		{ "Einverständnis", 0, U, "no answer" },
		{ "consent", 0, U, "no answer" },
		{ "jà", 0, U, "no answer" },            /* not "ja" */
		{ "ja\xc2\xadnein", 0, U, NULL },          /* soft hyphen splits */
		{ "0123456789abcdef0123456789abcdef", 0, U, "no answer" },
		{ "Ich möchte das nicht", 0, U, "no answer" },
		{ "Das ist ja interessant.", 0, U, "no answer" },   /* particle */
		{ "Ich habe ja keine Zeit", 0, U, "no answer" },
		{ "Also ja", 0, U, "no answer" },
	};
	(void)state;
	RUN(cases);
}

static void test_bytes(void **state)
{
	static const struct intent_case cases[] = {
		{ "ja\xff", 0, U, "invalid UTF-8" },
		{ "ja\xc3", 0, U, "invalid UTF-8" },           /* cut sequence */
		{ "\xc0\xaf", 0, U, "invalid UTF-8" },         /* overlong */
		{ "\xed\xa0\x80", 0, U, "invalid UTF-8" },     /* surrogate */
		{ "ja\xe4", 0, U, "invalid UTF-8" },           /* Latin-1 ä */
		{ "ja\0", 3, U, "invalid UTF-8" },             /* NUL */
		{ "\0ja", 3, U, "invalid UTF-8" },
		{ "ja\0nein", 7, U, "invalid UTF-8" },
	};
	(void)state;
	RUN(cases);
}

/* words_text - "ja" plus n filler words, in buf. */
static void words_text(char *buf, size_t cap, const char *first, int n)
{
	size_t off = (size_t)snprintf(buf, cap, "%s", first);
	for (int i = 0; i < n && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, " wort%d", i);
}

static void test_word_count(void **state)
{
	char buf[4096];
	char why[64];

	(void)state;
	/* "ja" and 24 others: 25 words, a short answer. */
	words_text(buf, sizeof buf, "ja", INTENT_WORDS_MAX - 1);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_YES);
	/* 26 words: too long for a short answer. */
	words_text(buf, sizeof buf, "ja", INTENT_WORDS_MAX);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "too many words");
	words_text(buf, sizeof buf, "nein", 40);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	/* Greetings do not count: 24 other words plus many courtesy words. */
	words_text(buf, sizeof buf, "Hallo liebe Anna, danke vielen Dank. Ja,", INTENT_WORDS_MAX - 2);
	strcat(buf, " Viele Grüße, LG, mfg");
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_YES);
	/* A realistic long reply with a "ja" inside. */
	strcpy(buf, "Ich habe Ihre Mail erhalten und wollte nur sagen, dass ich ja "
	       "schon seit Jahren Kunde bin und mich über die vielen Newsletter "
	       "wundere, die ich bekomme, obwohl ich mich nie angemeldet habe");
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	/* Thousands of courtesy words are not a short answer either. */
	buf[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(buf, "danke ");
	strcat(buf, "ja");
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "too many words");
}

static void test_limits(void **state)
{
	char why[64];
	size_t n = INTENT_TEXT_MAX + 1;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = 'j';
	big[1] = 'a';
	/* Exactly INTENT_TEXT_MAX bytes: looked at, and it is a "ja". */
	assert_int_equal(intent_classify(big, INTENT_TEXT_MAX, why, sizeof why), INTENT_YES);
	assert_int_equal(intent_classify(big, n, why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "too long");
	free(big);

	/* A very long word is one (odd) word. */
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'a', 5000);
	memcpy(big, "ja ", 3);
	assert_int_equal(intent_classify(big, 5000, why, sizeof why), INTENT_YES);
	free(big);

	/* NULL text and NULL or tiny why buffers. */
	assert_int_equal(intent_classify(NULL, 0, why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "empty");
	assert_int_equal(intent_classify("ja", 2, NULL, 0), INTENT_YES);
	why[0] = 'x';
	assert_int_equal(intent_classify("ja", 2, why, 1), INTENT_YES);
	assert_int_equal(why[0], '\0');
	assert_int_equal(intent_classify("nein", 2, why, 3), INTENT_UNCLEAR);  /* "ne" */
	assert_string_equal(why, "no");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(intent_name(INTENT_UNCLEAR), "unclear");
	assert_string_equal(intent_name(INTENT_YES), "yes");
	assert_string_equal(intent_name(INTENT_NO), "no");
	assert_string_equal(intent_name(INTENT_WITHDRAW), "withdraw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yes),
		cmocka_unit_test(test_no),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_unclear_contradictions),
		cmocka_unit_test(test_unclear_conditions_doubt),
		cmocka_unit_test(test_unclear_questions_and_nothing),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_word_count),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
