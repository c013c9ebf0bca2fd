/*
 * test_intent.c - unit tests for intent.h: German and English answers,
 * negations, conditions, questions, contradictions, umlaut and case
 * variants, word boundaries, greetings that do not count, long texts,
 * invalid UTF-8 and NUL bytes. The guiding rule: a false "yes" is a legal
 * violation, so anything doubtful must come out INTENT_UNCLEAR.
 *
 * Word-boundary decisions documented here: a hyphen separates words, so
 * "Nein-Sager" reads as "nein sager" (a refusal, never a grant) and
 * "Ja-Wort" as "ja wort" (unclear: "wort" is no word a yes may hold);
 * "Januar", "nothing", "Okayama" are other words and match nothing.
 *
 * The whitelist rule: a yes needs every word to be known (a yes phrase, a
 * greeting or sign-off, a neutral word) or to stand where a name stands
 * (after a salutation, in a signature after a sign-off, alone on the last
 * line); unknown words never block a no or a withdrawal, and neither
 * does length. test_false_yes holds texts that must never be a grant.
 */
#include <stdarg.h>
#include <stdbool.h>
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
		{ "Liebe Frau Weber, ja.", 0, Y, NULL },
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
		{ "J\xe2\x80\x8b" "a", 0, Y, NULL },           /* ZWSP inside "ja" */
		{ "ok!!", 0, Y, NULL },
		{ "Ja, ich stimme der Verknüpfung zu.", 0, Y, NULL },
		{ "Yes, that\xe2\x80\x99s fine with me.", 0, Y, NULL },
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

/* Real replies: a clear yes with greetings, sign-offs, names and
 * signatures (the CLI fixtures in tests/fixtures/inbound hold more). */
static void test_yes_real(void **state)
{
	static const struct intent_case cases[] = {
		{ "Ja, ich bin einverstanden.", 0, Y, "yes" },
		{ "Ja, ich willige ein.", 0, Y, NULL },
		{ "Yes, I agree.", 0, Y, NULL },
		{ "Ok \xf0\x9f\x91\x8d", 0, Y, NULL },                 /* Ok 👍 */
		{ "JA", 0, Y, NULL },
		{ "Ja, ich willige ein.\n\nViele Grüße\nAnna", 0, Y, NULL },
		{ "Ja\n\nDanke und Gruß\nAnna", 0, Y, NULL },
		{ "YES\n\nBest regards, John", 0, Y, NULL },
		{ "YES\n\nThanks,\nJohn", 0, Y, NULL },
		{ "Ja, ich bin einverstanden.\n\nAnna Müller", 0, Y, NULL },
		{ "Yes, I agree.\n\nJohn", 0, Y, NULL },
		{ "Ja\nAnna Müller", 0, Y, NULL },           /* as an HTML part renders */
		{ "Ja, einverstanden.\n-- Anna Müller", 0, Y, NULL },
		{ "Ja, einverstanden.\n-- \nAnna Müller\nBeispiel AG\nTel. 030 1234567", 0, Y, NULL },
		{ "I agree \xe2\x80\x93 thanks.\n\nKind regards\nJohn", 0, Y, NULL },
		{ "Ich bin einverstanden.\n\nMit freundlichen Grüßen\n\nAnna Müller\n"
		  "Einkauf | Beispiel AG\nTel. +49 30 5550 1234", 0, Y, NULL },
		{ "Ja\nViele Grüße\nAnna Müller\nGesendet: Montag, 23. November 2026 "
		  "um 10:15 Uhr", 0, Y, NULL },
		{ "Ja\n\ni. A. Petra Schneider\nAssistenz der Geschäftsführung", 0, Y, NULL },
		{ "Sehr geehrte Damen und Herren,\n\nja, ich bin einverstanden.\n\n"
		  "Referenz: cdb08391af2c47248f5b5b902f7e2a06\n\n"
		  "Mit freundlichen Grüßen\nAnna Müller", 0, Y, NULL },
		{ "Hallo,\n\nja, ich bin einverstanden.\n\nViele Grüße\nAnna Müller", 0, Y, NULL },
		{ "Guten Tag,\nich stimme zu.\nMit freundlichen Grüßen\n"
		  "Dr. Hans-Peter Schmidt", 0, Y, NULL },
		{ "Liebes Team,\nja, gerne!\nLG Jana", 0, Y, NULL },
		{ "Hi,\nyes, I agree.\nCheers,\nTom", 0, Y, NULL },
		{ "Dear Sir or Madam,\n\nI hereby consent to the linking of my personal "
		  "data with the log data.\n\nYours sincerely,\nJohn Smith", 0, Y, NULL },
		{ "Sehr geehrte Frau Weber,\n\nich bin mit der Verknüpfung meiner Daten "
		  "einverstanden.\n\nMit freundlichen Grüßen\nMax Mustermann", 0, Y, NULL },
		{ "Sehr geehrte Frau Weber,\n\nhiermit willige ich in die Verknüpfung "
		  "meiner Daten ein.\n\nMit freundlichen Grüßen\nMax Mustermann", 0, Y, NULL },
		{ "Ja \xf0\x9f\x91\x8d\n\nVon meinem iPhone gesendet", 0, Y, NULL },
		{ "OK, passt.\nGruß Klaus", 0, Y, NULL },
		{ "Ja, bin einverstanden. Danke und Gruß, Petra", 0, Y, NULL },
		{ "Yes please, thank you!\n\nBest,\nSarah", 0, Y, NULL },
		{ "Einverstanden.\n\nBeste Grüße\nLukas Becker\nBeispiel GmbH\n"
		  "Tel. 030 1234567", 0, Y, NULL },
		{ "Yes, that's fine with me.\n\nKind regards,\nEmily Clark", 0, Y, NULL },
		{ "Ja, ich willige ein.\n\nMit freundlichen Grüßen\ni. A. Petra Schneider", 0, Y, NULL },
		{ "JA!\n\nLiebe Grüße aus Hamburg\nOma Erna", 0, Y, NULL },
		{ "Hallo Frau Weber,\nja, das ist in Ordnung.\nLG\nAnna", 0, Y, NULL },
		{ "Hallo zusammen,\n\nvoll und ganz einverstanden.\n\nSchönes "
		  "Wochenende\nTim", 0, Y, NULL },
	};
	(void)state;
	RUN(cases);
}

/* Texts that must never come out as a grant (unclear, or a no where the
 * meaning is a refusal): first those found by review, which once did. */
static void test_false_yes(void **state)
{
	static const struct intent_case cases[] = {
		/* found by review */
		{ "Ich bin keineswegs einverstanden.", 0, N, "negated yes" },
		{ "Mitnichten einverstanden.", 0, N, "negated yes" },
		{ "Ok, ich lehne die Verknüpfung ab.", 0, U, "both yes and no" },
		{ "Ok, das lehne ich ab.", 0, U, "both yes and no" },
		{ "Ja, wobei ich das eigentlich ablehne", 0, U, NULL },
		{ "Ja, ich verweigere meine Einwilligung.", 0, U, "both yes and no" },
		{ "Ja, ich möchte der Verknüpfung widersprechen.", 0, U, "both yes and withdraw" },
		{ "OK, I reject.", 0, U, "both yes and no" },
		{ "Yes, I object.", 0, U, "both yes and withdraw" },
		{ "Yes, I withhold consent", 0, U, "both yes and no" },
		{ "I agree to nothing.", 0, U, "negation with yes" },
		{ "JA zu nichts.", 0, U, "negation with yes" },
		{ "ni\xe2\x80\x8b" "cht einverstanden", 0, N, "no" },   /* ZWSP */
		{ "OK, ich möchte das beenden.", 0, U, "both yes and withdraw" },
		{ "Ok, stoppt das", 0, U, "both yes and withdraw" },
		/* more of the same sort */
		{ "Ja, aber nur für ein Jahr", 0, U, "condition" },
		{ "Yes if", 0, U, "condition" },
		{ "yes?", 0, U, "question" },
		{ "Jaein", 0, U, "uncertain" },
		{ "Nein, ich bin einverstanden", 0, U, "both yes and no" },
		{ "Ich würde zustimmen", 0, U, "unknown word 'wuerde'" },
		{ "I would agree", 0, U, "unknown word 'would'" },
		{ "Ja, von mir aus", 0, U, "unknown word 'aus'" },
		{ "Ja, ab Montag", 0, U, "condition" },
		{ "Ja\n\nGrüße\nAnna\nPS: erst ab 2027", 0, U, "condition" },
		{ "Ja\nViele Grüße\nAnna\nich habe es mir anders überlegt", 0, U, NULL },
		{ "Ja\n\nViele Grüße\nAnna\nPS mir egal", 0, U, "uncertain" },
		{ "Ja\nVG\nAnna\nps das war ein versehen", 0, U, NULL },
		{ "Ok\n\nNö", 0, U, "both yes and no" },
		{ "Ja, nee", 0, U, "both yes and no" },
		{ "Yes, I agree. Just kidding.", 0, U, "uncertain" },
		{ "Ja, ich bin n\xc4\xb1" "cht einverstanden", 0, U, NULL },  /* dotless i */
		{ "ok\xe2\x81\xa0 nicht", 0, U, "negation with yes" },     /* word joiner */
		{ "Ich bin einverstanden, dass meine Daten nicht verknüpft werden", 0, U,
		  "negation with yes" },
		{ "I agree that my data will not be linked", 0, U, "negation with yes" },
		{ "Ja, ich stimme der Weitergabe meiner Daten an Dritte zu", 0, U,
		  "unknown word 'weitergabe'" },
		{ "Ok, ich stimme der Verknüpfung nicht zu", 0, U, NULL },
		{ "OK, verstanden. Ich lehne trotzdem ab.", 0, U, "condition" },
		{ "Nothing to add, I agree.", 0, U, "negation with yes" },
		{ "Ja, ich bin einverstanden. Nix da.", 0, U, "negation with yes" },
		{ "Einverstanden!!! NICHT", 0, U, "negation with yes" },
		{ "Yes. Regards, John. PS: only for 30 days", 0, U, "condition" },
		{ "Ja\nQuatsch", 0, U, "uncertain" },
		{ "Ja\n-- \nAnna\nPS: nur bis Juni", 0, U, "condition" },
		{ "Ja\n-- \nAnna Müller\nich habe es mir anders überlegt", 0, U, NULL },
		{ "Ja -- Anna Lena Maria Müller", 0, U, NULL },   /* "--" mid-line */
		{ "Ok\n\nAnna Lena Maria Müller", 0, U, "unknown word 'anna'" },
		{ "Ja, danke! Anna Lena Maria Müller", 0, U, NULL },
		{ "Anna hier. Ja!", 0, U, "unknown word 'anna'" },
		{ "Ja-Wort", 0, U, "unknown word 'wort'" },
		{ "Ja, gerne. Ich überlege es mir noch", 0, U, NULL },
		{ "Ok, danke für die Info", 0, U, "unknown word 'info'" },
		{ "Ok, danke. Überlege noch", 0, U, "uncertain" },
		{ "OK, verstanden.", 0, U, "unknown word 'verstanden'" },
		{ "Ja\nViele Grüße\nAnna\nbin im Urlaub", 0, U, "unknown word 'anna'" },
		{ "Ich stimme dem nur teilweise zu", 0, U, "condition" },
	};
	(void)state;
	RUN(cases);
}

/* Withdrawals in all their forms, of any length. */
static void test_withdraw_forms(void **state)
{
	static const struct intent_case cases[] = {
		{ "Hiermit ziehe ich meine Einwilligung zurück.", 0, W, "withdraw" },
		{ "Ich nehme meine Einwilligung zurück.", 0, W, "withdraw" },
		{ "I no longer want my personal data linked with the log data.", 0, W, "withdraw" },
		{ "Ich möchte nicht mehr, dass meine Daten mit den Protokolldaten "
		  "verknüpft werden.", 0, W, "withdraw" },
		{ "Ich bin nicht mehr einverstanden.", 0, W, "withdraw" },
		{ "I no longer agree.", 0, W, "withdraw" },
		{ "I don't agree anymore.", 0, W, "withdraw" },
		{ "I don\xe2\x80\x99t consent any longer.", 0, W, "withdraw" },
		{ "Ich stimme dem nicht mehr zu", 0, W, "withdraw" },
		{ "Sehr geehrte Damen und Herren, hiermit widerrufe ich meine am "
		  "03.06.2024 erteilte Einwilligung in die Verknüpfung meiner "
		  "personenbezogenen Daten mit Protokolldaten gemäß Art. 7 Abs. 3 "
		  "DSGVO mit sofortiger Wirkung. Bitte bestätigen Sie mir den Widerruf "
		  "schriftlich. Mit freundlichen Grüßen Anna Müller", 0, W, "withdraw" },
		{ "Ich widerrufe meine Einwilligung ab sofort.", 0, W, "withdraw" },
		{ "Bitte melden Sie mich ab.", 0, W, "withdraw" },
		{ "Bitte tragen Sie mich aus der Liste aus.", 0, W, "withdraw" },
		{ "Hört auf damit!", 0, W, "withdraw" },
		{ "Ich lehne die Verknüpfung ab.", 0, N, "no" },
		{ "Das lehne ich ab.", 0, N, "no" },
		{ "Ich verweigere meine Einwilligung.", 0, N, "no" },
		{ "I reject.", 0, N, "no" },
		{ "Nö", 0, N, "no" },
		/* still unclear */
		{ "Wie kann ich widerrufen?", 0, U, "question" },
		{ "Ich ziehe meine Einwilligung nicht zurück", 0, U, "negated withdrawal" },
		{ "Ich lehne das nicht ab", 0, U, "negated no" },
		{ "Ja, ich bin nicht mehr einverstanden", 0, U, "both yes and withdraw" },
		{ "No, not anymore", 0, U, "both no and withdraw" },
		{ "I don't want this anymore", 0, U, "no answer" },
		{ "Ich habe nicht mehr als zwei Fragen", 0, U, "condition" },
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

/* words_text - first plus n filler words (numbered: "wort0", "wort1", ...
 * when numbered), in buf. */
static void words_text(char *buf, size_t cap, const char *first, const char *filler,
                       bool numbered, int n)
{
	size_t off = (size_t)snprintf(buf, cap, "%s", first);
	for (int i = 0; i < n && off < cap; i++) {
		if (numbered)
			off += (size_t)snprintf(buf + off, cap - off, " %s%d", filler, i);
		else
			off += (size_t)snprintf(buf + off, cap - off, " %s", filler);
	}
}

static void test_word_count(void **state)
{
	char buf[4096];
	char why[64];

	(void)state;
	/* "ja" and 24 neutral words: 25 words, a short answer. */
	words_text(buf, sizeof buf, "ja", "daten", false, INTENT_WORDS_MAX - 1);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_YES);
	/* 26 words: too long for a short answer. */
	words_text(buf, sizeof buf, "ja", "daten", false, INTENT_WORDS_MAX);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "too many words");
	/* Unknown words stop a yes ... */
	words_text(buf, sizeof buf, "ja", "wort", true, 3);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "unknown word 'wort0'");
	/* ... but neither they nor length stop a no. */
	words_text(buf, sizeof buf, "nein", "wort", true, 40);
	assert_int_equal(intent_classify(buf, strlen(buf), why, sizeof why), INTENT_NO);
	/* Greetings do not count: 24 other words plus many courtesy words. */
	words_text(buf, sizeof buf, "Hallo liebe Anna, danke vielen Dank. Ja,", "daten",
	           false, INTENT_WORDS_MAX - 2);
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

/* long_letter - a withdrawal letter of about n words, with extra (if not
 * NULL) written at word i of it. */
static char *long_letter(int n, int at, const char *extra)
{
	size_t cap = (size_t)n * 16 + 256;
	char *buf = malloc(cap);
	size_t off;

	assert_non_null(buf);
	off = (size_t)snprintf(buf, cap, "Sehr geehrte Damen und Herren,\n\n"
	                       "hiermit widerrufe ich meine Einwilligung.");
	for (int i = 0; i < n; i++) {
		if (extra != NULL && i == at)
			off += (size_t)snprintf(buf + off, cap - off, " %s", extra);
		off += (size_t)snprintf(buf + off, cap - off, "%s", i % 9 == 8 ?
		                        " Satz.\n" : " Ausführung");
	}
	snprintf(buf + off, cap - off, "\n\nMit freundlichen Grüßen\nAnna Müller");
	return buf;
}

static void test_long_withdrawal(void **state)
{
	static const struct {
		int words, at;
		const char *extra;
		enum intent want;
		const char *want_why;
	} cases[] = {
		{ 60, 0, NULL, W, "withdraw" },
		{ 2000, 0, NULL, W, "withdraw" },               /* many chunks */
		{ 2000, 1500, "Ich widerrufe auch den Widerruf.", W, "withdraw" },
		{ 2000, 1500, "Wann wird das wirksam?", U, "question" },
		{ 2000, 1500, "Ja, einverstanden.", U, "both yes and withdraw" },
		{ 2000, 1500, "falls nötig", U, "condition" },
		{ 2000, 1999, "Widerrufen Sie nicht.", U, "negated withdrawal" },
		{ 5000, 4000, "Nein.", U, "both no and withdraw" },
	};
	char why[64];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *t = long_letter(cases[i].words, cases[i].at, cases[i].extra);
		enum intent got = intent_classify(t, strlen(t), why, sizeof why);
		if (got != cases[i].want ||
		    (cases[i].want_why != NULL && strcmp(why, cases[i].want_why) != 0))
			fail_msg("letter %zu: got %s (%s), want %s", i, intent_name(got), why,
			         intent_name(cases[i].want));
		free(t);
	}
	/* The same answer wherever the chunk edges fall. */
	for (int at = 40; at < 290; at++) {
		char *t = long_letter(300, at, "Ich widerrufe das nicht.");
		assert_int_equal(intent_classify(t, strlen(t), why, sizeof why), INTENT_UNCLEAR);
		assert_string_equal(why, "negated withdrawal");
		free(t);
		t = long_letter(300, at, "Ich lehne die Verknüpfung nicht ab");
		assert_int_equal(intent_classify(t, strlen(t), why, sizeof why), INTENT_UNCLEAR);
		assert_string_equal(why, "negated no");
		free(t);
		t = long_letter(300, at, "ok");
		assert_int_equal(intent_classify(t, strlen(t), why, sizeof why), INTENT_UNCLEAR);
		assert_string_equal(why, "both yes and withdraw");
		free(t);
	}
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

	/* A very long word is one (odd) word, and not a known one. */
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'a', 5000);
	memcpy(big, "ja ", 3);
	assert_int_equal(intent_classify(big, 5000, why, sizeof why), INTENT_UNCLEAR);
	assert_string_equal(why, "unknown word 'aaaaaaaaaaaaaaaaaaaaaaaa'");
	free(big);

	/* A withdrawal at the very end of INTENT_TEXT_MAX bytes of words. */
	big = malloc(INTENT_TEXT_MAX);
	assert_non_null(big);
	for (size_t i = 0; i + 3 <= INTENT_TEXT_MAX; i += 3)
		memcpy(big + i, "la ", 3);
	memcpy(big + INTENT_TEXT_MAX - 11, " widerrufe.", 11);
	assert_int_equal(intent_classify(big, INTENT_TEXT_MAX, why, sizeof why), INTENT_WITHDRAW);
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
		cmocka_unit_test(test_yes_real),
		cmocka_unit_test(test_false_yes),
		cmocka_unit_test(test_withdraw_forms),
		cmocka_unit_test(test_unclear_contradictions),
		cmocka_unit_test(test_unclear_conditions_doubt),
		cmocka_unit_test(test_unclear_questions_and_nothing),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_word_count),
		cmocka_unit_test(test_long_withdrawal),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
