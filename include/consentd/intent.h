/*
 * intent.h - what a person's own words say about a consent request.
 *
 * Input is the person's own new text only (reply.h removed quotes,
 * attributions and signatures), as UTF-8. Matching is case- and
 * umlaut-insensitive (ä = ae = a, ß = ss) and works on words, never on
 * substrings ("ja" does not match in "Januar", "no" not in "nothing").
 *
 *   yes       ja, jawohl, einverstanden, ich stimme zu, ich willige ein,
 *             zustimmen, ok, okay, yes, i agree, agreed, i consent
 *   no        nein, nicht einverstanden, ich stimme nicht zu, ablehnen,
 *             ich lehne ab, no, i do not agree, i don't agree, i disagree,
 *             decline, refuse
 *   withdraw  widerrufen, ich widerrufe, widerruf, zurückziehen, revoke,
 *             withdraw, unsubscribe, stop, abmelden
 *
 * A yes-phrase preceded closely by a negation (nicht, kein, not, don't,
 * never, nie) counts as no. The answer is unclear (never a grant) when the
 * text is empty, holds a question, a condition (wenn, falls, aber, jedoch,
 * sofern, if, but, unless, only if), phrases of two different kinds (yes
 * and no, yes and withdraw), or more words than a short answer has
 * (INTENT_WORDS_MAX, not counting greetings and thanks).
 */
#ifndef CONSENTD_INTENT_H
#define CONSENTD_INTENT_H

#include <stddef.h>

#define INTENT_TEXT_MAX  (64 * 1024)   /* bytes looked at; more is unclear */
#define INTENT_WORDS_MAX 25            /* a short answer, greetings excluded */

enum intent {
	INTENT_UNCLEAR = 0,   /* empty, contradictory, conditional, a question, too long */
	INTENT_YES,
	INTENT_NO,
	INTENT_WITHDRAW
};

/* intent_classify - the intent of text[0..len). why (may be NULL) gets a
 * short English reason ("negated yes", "question", "both yes and no"). */
enum intent intent_classify(const char *text, size_t len, char *why, size_t whylen);

/* intent_name - "unclear", "yes", "no", "withdraw". */
const char *intent_name(enum intent i);

#endif
