/*
 * intent.h - what a person's own words say about a consent request.
 *
 * Input is the person's own new text only (reply.h removed quotes,
 * attributions and signatures), as UTF-8. Matching is case- and
 * umlaut-insensitive (ä = ae = a, ß = ss) and works on words, never on
 * substrings ("ja" does not match in "Januar", "no" not in "nothing").
 *
 *   yes       ja, jawohl, einverstanden, ich stimme (der Verknüpfung) zu,
 *             ich willige (in die Verknüpfung) ein, zustimmen, ok, okay,
 *             yes, i agree, agreed, i consent
 *   no        nein, nicht einverstanden, ich stimme nicht zu, ablehnen,
 *             ich lehne (die Verknüpfung) ab, verweigere, no, i do not
 *             agree, i don't agree, i disagree, decline, refuse, reject,
 *             withhold
 *   withdraw  widerrufen, ich widerrufe, widerruf, zurückziehen, ich ziehe
 *             (meine Einwilligung) zurück, ich nehme ... zurück, widerspreche,
 *             nicht mehr (einverstanden), no longer (agree), i don't agree
 *             anymore, revoke, withdraw, object, unsubscribe, stop, beenden,
 *             abmelden
 *
 * A yes-phrase preceded closely by a negation (nicht, kein, keineswegs,
 * mitnichten, not, don't, never, nie) counts as no. The answer is unclear
 * (never a grant) when the text is empty, holds a question, a condition
 * (wenn, falls, aber, jedoch, sofern, wobei, ab, erst, if, but, unless,
 * only if), doubt (vielleicht, maybe, jein), phrases of two different
 * kinds (yes and no, yes and withdraw), or a negated no or withdrawal.
 *
 * A yes needs every word to be known; unknown words never block a no or a
 * withdrawal. A yes also needs a short text (at most INTENT_WORDS_MAX
 * counted words, greetings and thanks not counted) with no negation and no
 * "nichts"/"nothing" anywhere, and every word must be a table word, a
 * neutral word (pronouns, articles, "Einwilligung", "Daten", "consent"),
 * a greeting or sign-off, a token, or a name where names stand (after a
 * salutation, in a signature after "Viele Grüße"/"Best regards"/"-- ", or
 * alone on the last line); any other word makes it unclear ("unknown word
 * 'xyz'"). Length limits only protect against a false yes: a no or a
 * withdrawal may be as long as INTENT_TEXT_MAX. Invisible format
 * characters (zero-width space, soft hyphen, BOM, ...) are dropped first.
 */
#ifndef CONSENTD_INTENT_H
#define CONSENTD_INTENT_H

#include <stddef.h>

#define INTENT_TEXT_MAX  (64 * 1024)   /* bytes looked at; more is unclear */
#define INTENT_WORDS_MAX 25            /* a short yes, greetings excluded */

enum intent {
	INTENT_UNCLEAR = 0,   /* empty, contradictory, conditional, a question,
	                       * or a yes with an unknown word or too many words */
	INTENT_YES,
	INTENT_NO,
	INTENT_WITHDRAW
};

/* intent_classify - the intent of text[0..len). why (may be NULL) gets a
 * short English reason ("negated yes", "question", "both yes and no",
 * "unknown word 'xyz'"). */
enum intent intent_classify(const char *text, size_t len, char *why, size_t whylen);

/* intent_name - "unclear", "yes", "no", "withdraw". */
const char *intent_name(enum intent i);

#endif
