/*
 * intent.c - what a person's own words say about a consent request.
 *
 * Implements intent.h. The text is validated as UTF-8, normalised into a
 * bounded array of words (ASCII lowercase, ä/ö/ü -> ae/oe/ue, ß -> ss,
 * apostrophes inside words dropped: "don't" = "don’t" = "dont") and then
 * matched against one table of word sequences. Every other character
 * separates words, so "ja" never matches inside "Januar" and "no" never
 * inside "nothing"; a hyphen separates too ("Nein-Sager" reads as "nein
 * sager", a refusal, which is never a grant).
 *
 * Promises:
 *  - INTENT_YES only when exactly one kind of answer (yes) is present, no
 *    negation stands anywhere in the text, and there is no question mark,
 *    condition, doubt word, or more than INTENT_WORDS_MAX counted words.
 *    When in doubt the answer is INTENT_UNCLEAR.
 *  - A yes-phrase with a negation among the 3 words before it is a no.
 *    A negated no or a negated withdrawal (negation within 3 words before
 *    or after it) is unclear.
 *  - Greetings, thanks and courtesy words ("hallo", "danke", "bitte",
 *    "viele Grüße", "sure", ...) and 32-hex-digit tokens neither count as
 *    words nor decide anything.
 *  - No allocation: the words live in a fixed array on the stack; the
 *    input is read at most once per pass, with bounded cursors.
 *
 * Table patterns are lowercase ASCII words separated by single spaces; an
 * uppercase A, O or U stands for an umlaut and matches "ae"/"a", "oe"/"o",
 * "ue"/"u" in the text, so "zurUckziehen" accepts "zurückziehen",
 * "zurueckziehen" and "zuruckziehen".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "consentd/intent.h"
#include "consentd/text.h"

#define WORD_CAP   40    /* bytes kept per normalised word (longer: odd) */
#define WORDS_CAP  (4 * INTENT_WORDS_MAX)  /* all words, greetings included */
#define NEG_WINDOW 3     /* words between a negation and what it negates */
#define HEX_WORD   32    /* a token reference: neutral */

enum kind {
	K_NEUTRAL,   /* greeting, thanks, courtesy */
	K_YES,
	K_NO,
	K_WITHDRAW,
	K_NEG,       /* negation: nicht, not, don't, ... */
	K_COND,      /* condition: wenn, aber, if, but, ... */
	K_DOUBT,     /* vielleicht, maybe, not sure, ... */
	K_OTHER      /* any other word (not in the table) */
};

struct phrase {
	const char *pat;
	enum kind kind;
};

static const struct phrase phrases[] = {
	/* greetings, thanks, courtesy */
	{ "hallo", K_NEUTRAL }, { "hi", K_NEUTRAL }, { "hello", K_NEUTRAL },
	{ "hey", K_NEUTRAL }, { "moin", K_NEUTRAL }, { "servus", K_NEUTRAL },
	{ "guten tag", K_NEUTRAL }, { "guten morgen", K_NEUTRAL },
	{ "guten abend", K_NEUTRAL }, { "good morning", K_NEUTRAL },
	{ "good afternoon", K_NEUTRAL }, { "good evening", K_NEUTRAL },
	{ "liebe", K_NEUTRAL }, { "lieber", K_NEUTRAL }, { "liebes", K_NEUTRAL },
	{ "dear", K_NEUTRAL },
	{ "sehr geehrte", K_NEUTRAL }, { "sehr geehrter", K_NEUTRAL },
	{ "sehr geehrtes", K_NEUTRAL }, { "damen und herren", K_NEUTRAL },
	{ "danke", K_NEUTRAL }, { "danke sehr", K_NEUTRAL },
	{ "danke schOn", K_NEUTRAL }, { "dankeschOn", K_NEUTRAL },
	{ "vielen dank", K_NEUTRAL }, { "vielen lieben dank", K_NEUTRAL },
	{ "herzlichen dank", K_NEUTRAL }, { "besten dank", K_NEUTRAL },
	{ "thanks", K_NEUTRAL }, { "thank you", K_NEUTRAL },
	{ "thank you very much", K_NEUTRAL }, { "thanks a lot", K_NEUTRAL },
	{ "many thanks", K_NEUTRAL }, { "thx", K_NEUTRAL },
	{ "mfg", K_NEUTRAL }, { "lg", K_NEUTRAL }, { "vg", K_NEUTRAL },
	{ "mit freundlichen grUssen", K_NEUTRAL },
	{ "freundliche grUsse", K_NEUTRAL }, { "viele grUsse", K_NEUTRAL },
	{ "liebe grUsse", K_NEUTRAL }, { "beste grUsse", K_NEUTRAL },
	{ "herzliche grUsse", K_NEUTRAL }, { "schOne grUsse", K_NEUTRAL },
	{ "grUsse", K_NEUTRAL }, { "grUss", K_NEUTRAL },
	{ "best", K_NEUTRAL }, { "best regards", K_NEUTRAL },
	{ "kind regards", K_NEUTRAL }, { "regards", K_NEUTRAL },
	{ "cheers", K_NEUTRAL },
	{ "bitte", K_NEUTRAL }, { "bitte schOn", K_NEUTRAL },
	{ "please", K_NEUTRAL }, { "gerne", K_NEUTRAL }, { "gern", K_NEUTRAL },
	{ "sehr gerne", K_NEUTRAL }, { "sure", K_NEUTRAL },
	{ "kein problem", K_NEUTRAL }, { "no problem", K_NEUTRAL },
	{ "no worries", K_NEUTRAL },

	/* yes */
	{ "ja", K_YES }, { "jawohl", K_YES }, { "einverstanden", K_YES },
	{ "ich stimme zu", K_YES }, { "stimme zu", K_YES },
	{ "ich stimme dem zu", K_YES }, { "stimme dem zu", K_YES },
	{ "ich stimme hiermit zu", K_YES }, { "stimme hiermit zu", K_YES },
	{ "ich willige ein", K_YES }, { "willige ein", K_YES },
	{ "ich willige hiermit ein", K_YES }, { "zustimmen", K_YES },
	{ "ok", K_YES }, { "okay", K_YES }, { "yes", K_YES },
	{ "agree", K_YES }, { "i agree", K_YES }, { "agreed", K_YES },
	{ "i consent", K_YES }, { "i hereby consent", K_YES },
	{ "i give my consent", K_YES },

	/* no */
	{ "nein", K_NO }, { "no", K_NO }, { "nope", K_NO },
	{ "nicht einverstanden", K_NO },
	{ "ich stimme nicht zu", K_NO }, { "stimme nicht zu", K_NO },
	{ "ich stimme dem nicht zu", K_NO }, { "stimme dem nicht zu", K_NO },
	{ "ich willige nicht ein", K_NO }, { "willige nicht ein", K_NO },
	{ "ablehnen", K_NO }, { "lehne ab", K_NO }, { "ich lehne ab", K_NO },
	{ "ich lehne das ab", K_NO }, { "lehne das ab", K_NO },
	{ "ich lehne dies ab", K_NO }, { "abgelehnt", K_NO },
	{ "auf keinen fall", K_NO }, { "keinesfalls", K_NO },
	{ "i do not agree", K_NO }, { "i dont agree", K_NO },
	{ "i don t agree", K_NO }, { "i do not consent", K_NO },
	{ "i dont consent", K_NO }, { "i don t consent", K_NO },
	{ "disagree", K_NO }, { "i disagree", K_NO },
	{ "decline", K_NO }, { "i decline", K_NO }, { "declined", K_NO },
	{ "refuse", K_NO }, { "i refuse", K_NO },
	{ "dagegen", K_NO }, { "against", K_NO },

	/* withdraw */
	{ "widerrufen", K_WITHDRAW }, { "widerrufe", K_WITHDRAW },
	{ "ich widerrufe", K_WITHDRAW }, { "widerruf", K_WITHDRAW },
	{ "zurUckziehen", K_WITHDRAW }, { "ziehe zurUck", K_WITHDRAW },
	{ "ziehe meine einwilligung zurUck", K_WITHDRAW },
	{ "ziehe meine zustimmung zurUck", K_WITHDRAW },
	{ "revoke", K_WITHDRAW }, { "withdraw", K_WITHDRAW },
	{ "unsubscribe", K_WITHDRAW }, { "stop", K_WITHDRAW },
	{ "stopp", K_WITHDRAW }, { "abmelden", K_WITHDRAW },
	{ "abbestellen", K_WITHDRAW }, { "austragen", K_WITHDRAW },
	{ "opt out", K_WITHDRAW }, { "optout", K_WITHDRAW },
	{ "keine mails mehr", K_WITHDRAW }, { "keine e mails mehr", K_WITHDRAW },
	{ "keine emails mehr", K_WITHDRAW }, { "no more emails", K_WITHDRAW },
	{ "no more e mails", K_WITHDRAW }, { "no more mails", K_WITHDRAW },
	{ "widerspreche", K_WITHDRAW }, { "widerspruch", K_WITHDRAW },
	{ "lOschen", K_WITHDRAW }, { "delete", K_WITHDRAW },
	{ "remove", K_WITHDRAW }, { "take me off", K_WITHDRAW },

	/* negations */
	{ "nicht", K_NEG }, { "nich", K_NEG }, { "kein", K_NEG },
	{ "keine", K_NEG }, { "keinen", K_NEG }, { "keinem", K_NEG },
	{ "keiner", K_NEG }, { "keines", K_NEG }, { "nie", K_NEG },
	{ "niemals", K_NEG }, { "not", K_NEG }, { "dont", K_NEG },
	{ "don t", K_NEG }, { "doesnt", K_NEG }, { "doesn t", K_NEG },
	{ "didnt", K_NEG }, { "didn t", K_NEG }, { "cant", K_NEG },
	{ "can t", K_NEG }, { "cannot", K_NEG }, { "wont", K_NEG },
	{ "won t", K_NEG }, { "wouldnt", K_NEG }, { "wouldn t", K_NEG },
	{ "isnt", K_NEG }, { "isn t", K_NEG }, { "never", K_NEG },
	{ "neither", K_NEG }, { "nor", K_NEG },

	/* conditions */
	{ "wenn", K_COND }, { "falls", K_COND }, { "aber", K_COND },
	{ "jedoch", K_COND }, { "sofern", K_COND }, { "soweit", K_COND },
	{ "solange", K_COND }, { "vorausgesetzt", K_COND },
	{ "ausser", K_COND }, { "ausgenommen", K_COND },
	{ "allerdings", K_COND }, { "bedingung", K_COND }, { "ob", K_COND },
	{ "if", K_COND }, { "but", K_COND }, { "unless", K_COND },
	{ "only if", K_COND }, { "provided", K_COND }, { "except", K_COND },
	{ "however", K_COND }, { "as long as", K_COND },
	{ "whether", K_COND }, { "condition", K_COND },
	{ "vorbehalt", K_COND }, { "vorbehaltlich", K_COND },
	{ "nur", K_COND }, { "lediglich", K_COND },
	{ "ausschliesslich", K_COND }, { "only", K_COND },

	/* doubt */
	{ "vielleicht", K_DOUBT }, { "eventuell", K_DOUBT },
	{ "evtl", K_DOUBT }, { "mOglicherweise", K_DOUBT },
	{ "wahrscheinlich", K_DOUBT }, { "jein", K_DOUBT },
	{ "unsicher", K_DOUBT }, { "nicht sicher", K_DOUBT },
	{ "weiss nicht", K_DOUBT }, { "weis nicht", K_DOUBT },
	{ "weiss ich nicht", K_DOUBT }, { "keine ahnung", K_DOUBT },
	{ "egal", K_DOUBT }, { "spAter", K_DOUBT },
	{ "maybe", K_DOUBT }, { "perhaps", K_DOUBT },
	{ "possibly", K_DOUBT }, { "probably", K_DOUBT },
	{ "unsure", K_DOUBT }, { "not sure", K_DOUBT },
	{ "no idea", K_DOUBT }, { "dont know", K_DOUBT },
	{ "don t know", K_DOUBT }, { "do not know", K_DOUBT },
	{ "later", K_DOUBT }, { "whatever", K_DOUBT },
	{ "nichts dagegen", K_DOUBT },
};

#define NPHRASES (sizeof phrases / sizeof phrases[0])

/* One normalised word. odd: holds a character no pattern has, or was cut.
 * brk_before/brk_after: the start or end of the text, or punctuation or a
 * line break (not just blanks) separates it from its neighbour. */
struct word {
	char s[WORD_CAP];
	size_t len;
	bool odd;
	bool hex;
	bool brk_before, brk_after;
};

struct words {
	struct word w[WORDS_CAP];
	size_t n;
	bool overflow;   /* more words than WORDS_CAP */
	bool question;
};

/* A matched table entry (or a single other word) at words [pos, pos+n). */
struct item {
	size_t pos, n;
	enum kind kind;
	bool used;       /* a negation that negated something */
};

/* ---- UTF-8 decoding (input already validated; still bounded) ---- */

/* utf8_next - decode the code point at s[*i] (i < n), advance *i. */
static uint32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned char c = s[*i];
	size_t need;
	uint32_t cp;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xf0) {
		need = 3;
		cp = c & 0x07u;
	} else if (c >= 0xe0) {
		need = 2;
		cp = c & 0x0fu;
	} else {
		need = 1;
		cp = c & 0x1fu;
	}
	(*i)++;
	while (need > 0 && *i < n) {
		cp = (cp << 6) | (s[*i] & 0x3fu);
		(*i)++;
		need--;
	}
	return cp;
}

static bool is_ascii_alnum(uint32_t cp)
{
	return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
	       (cp >= '0' && cp <= '9');
}

static bool is_apostrophe(uint32_t cp)
{
	return cp == '\'' || cp == '`' || cp == 0xb4 || cp == 0x2bc ||
	       cp == 0x2018 || cp == 0x2019;
}

static bool is_question(uint32_t cp)
{
	return cp == '?' || cp == 0xbf || cp == 0x37e || cp == 0x203d ||
	       (cp >= 0x2047 && cp <= 0x2049) || cp == 0xff1f;
}

/* is_separator - punctuation, spaces, symbols, emoji: not part of a word. */
/* is_blank - a separator that does not end a clause. */
static bool is_blank(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == 0xa0 || cp == 0x202f ||
	       (cp >= 0x2000 && cp <= 0x200b) || cp == 0xfeff;
}

static bool is_separator(uint32_t cp)
{
	if (cp < 0x80)
		return !is_ascii_alnum(cp);
	return cp <= 0xbf || cp == 0xd7 || cp == 0xf7 ||
	       (cp >= 0x2000 && cp <= 0x2bff) ||     /* punctuation, symbols */
	       (cp >= 0x2e00 && cp <= 0x2e7f) ||
	       (cp >= 0x3000 && cp <= 0x303f) ||
	       (cp >= 0xfe00 && cp <= 0xfe0f) ||     /* variation selectors */
	       (cp >= 0xfe30 && cp <= 0xfe4f) || cp == 0xfeff ||
	       (cp >= 0xff00 && cp <= 0xff0f) ||
	       (cp >= 0xff1a && cp <= 0xff20) ||
	       (cp >= 0x1f000 && cp <= 0x1faff);     /* emoji */
}

/* is_word_cp - a code point that belongs to a word. */
static bool is_word_cp(uint32_t cp)
{
	return !is_separator(cp) && !is_apostrophe(cp);
}

/* fold - the normalised ASCII form of a word character ("" for none:
 * the caller then stores a character no pattern holds). */
static const char *fold(uint32_t cp, char buf[2])
{
	switch (cp) {
	case 0xc4: case 0xe4: return "ae";
	case 0xd6: case 0xf6: return "oe";
	case 0xdc: case 0xfc: return "ue";
	case 0xdf: case 0x1e9e: return "ss";
	default: break;
	}
	if (is_ascii_alnum(cp)) {
		buf[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + ('a' - 'A') : cp);
		buf[1] = '\0';
		return buf;
	}
	return "";
}

/* ---- splitting into words ---- */

static void word_add(struct word *w, const char *s)
{
	if (*s == '\0') {
		s = "*";
		w->odd = true;
	}
	for (; *s != '\0'; s++) {
		if (w->len + 1 >= WORD_CAP) {
			w->odd = true;
			return;
		}
		w->s[w->len++] = *s;
	}
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* word_end - close the word being built, if any. */
static void word_end(struct words *ws, bool *open)
{
	struct word *w;

	if (!*open)
		return;
	*open = false;
	w = &ws->w[ws->n];
	w->s[w->len] = '\0';
	w->hex = !w->odd && w->len == HEX_WORD && all_hex(w->s, w->len);
	ws->n++;
}

/* split - normalise text[0..len) (valid UTF-8) into ws. Words past
 * WORDS_CAP set overflow; the scan for question marks goes on to the end. */
static void split(const char *text, size_t len, struct words *ws)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	bool open = false, brk = true;
	char buf[2];

	memset(ws, 0, sizeof *ws);
	while (i < len) {
		uint32_t cp = utf8_next(s, len, &i);

		if (is_question(cp))
			ws->question = true;
		if (is_apostrophe(cp) && open && i < len) {
			size_t j = i;
			if (is_word_cp(utf8_next(s, len, &j)))
				continue;    /* inside a word: "don't" -> "dont" */
		}
		if (!is_word_cp(cp)) {
			word_end(ws, &open);
			if (!is_blank(cp))
				brk = true;
			continue;
		}
		if (!open) {
			if (ws->n >= WORDS_CAP) {
				ws->overflow = true;
				continue;
			}
			memset(&ws->w[ws->n], 0, sizeof ws->w[ws->n]);
			ws->w[ws->n].brk_before = brk;
			if (ws->n > 0)
				ws->w[ws->n - 1].brk_after = brk;
			brk = false;
			open = true;
		}
		word_add(&ws->w[ws->n], fold(cp, buf));
	}
	word_end(ws, &open);
	if (ws->n > 0)
		ws->w[ws->n - 1].brk_after = true;
}

/* ---- matching ---- */

/* word_match - pattern word p[0..pn) against normalised t[0..tn). */
static bool word_match(const char *p, size_t pn, const char *t, size_t tn)
{
	while (pn > 0) {
		char c = *p;
		if (c == 'A' || c == 'O' || c == 'U') {
			char lc = (char)(c + ('a' - 'A'));
			if (tn == 0 || *t != lc)
				return false;
			if (tn >= 2 && t[1] == 'e' &&
			    word_match(p + 1, pn - 1, t + 2, tn - 2))
				return true;
		} else if (tn == 0 || *t != c) {
			return false;
		}
		p++, pn--, t++, tn--;
	}
	return tn == 0;
}

/* phrase_match - the number of words pat covers at ws->w[at], or 0. */
static size_t phrase_match(const char *pat, const struct words *ws, size_t at)
{
	size_t k = 0;

	while (*pat != '\0') {
		const char *sp = strchr(pat, ' ');
		size_t pn = sp != NULL ? (size_t)(sp - pat) : strlen(pat);
		const struct word *w;

		if (at + k >= ws->n)
			return 0;
		w = &ws->w[at + k];
		if (w->odd || !word_match(pat, pn, w->s, w->len))
			return 0;
		k++;
		pat += pn;
		if (*pat == ' ')
			pat++;
	}
	return k;
}

/* longest - the longest table entry at ws->w[at]; an OTHER item if none. */
static struct item longest(const struct words *ws, size_t at)
{
	struct item it = { at, 1, K_OTHER, false };
	size_t best = 0;

	for (size_t i = 0; i < NPHRASES; i++) {
		size_t k = phrase_match(phrases[i].pat, ws, at);
		if (k > best) {
			best = k;
			it.n = k;
			it.kind = phrases[i].kind;
		}
	}
	if (best == 0 && ws->w[at].hex)
		it.kind = K_NEUTRAL;
	return it;
}

/* ---- judging ---- */

/* particles - German "ja" is also a modal particle ("das ist ja toll"):
 * it is an answer only as the first word that counts, or as a clause of
 * its own ("Liebe Frau Weber, ja."). Elsewhere it is an ordinary word. */
static void particles(struct item *items, size_t ni, const struct words *ws)
{
	bool counted_before = false;

	for (size_t i = 0; i < ni; i++) {
		struct item *it = &items[i];
		const struct word *w = &ws->w[it->pos];

		if (it->kind == K_YES && it->n == 1 && strcmp(w->s, "ja") == 0 &&
		    counted_before && !(w->brk_before && w->brk_after))
			it->kind = K_OTHER;
		if (it->kind != K_NEUTRAL)
			counted_before = true;
	}
}

struct verdict {
	bool yes, no, withdraw;
	bool negated_yes, negated_no, negated_withdraw;
	bool cond, doubt, stray_neg;
	size_t counted;
};

/* negation_near - mark and report a negation ending in [from, to]
 * (word indices, inclusive). */
static bool negation_near(struct item *items, size_t ni, size_t from, size_t to)
{
	bool found = false;

	for (size_t j = 0; j < ni; j++) {
		size_t last;
		if (items[j].kind != K_NEG)
			continue;
		last = items[j].pos + items[j].n - 1;
		if (last >= from && last <= to) {
			items[j].used = true;
			found = true;
		}
	}
	return found;
}

/* negation_after - mark and report a negation starting in [from, to]. */
static bool negation_after(struct item *items, size_t ni, size_t from, size_t to)
{
	bool found = false;

	for (size_t j = 0; j < ni; j++) {
		if (items[j].kind == K_NEG && items[j].pos >= from &&
		    items[j].pos <= to) {
			items[j].used = true;
			found = true;
		}
	}
	return found;
}

static void weigh(struct item *items, size_t ni, struct verdict *v)
{
	memset(v, 0, sizeof *v);
	for (size_t i = 0; i < ni; i++) {
		struct item *it = &items[i];
		size_t from = it->pos >= NEG_WINDOW ? it->pos - NEG_WINDOW : 0;
		bool answer = it->kind == K_YES || it->kind == K_NO ||
		              it->kind == K_WITHDRAW;
		bool before = answer && it->pos > 0 &&
		              negation_near(items, ni, from, it->pos - 1);

		if (it->kind != K_NEUTRAL)
			v->counted += it->n;
		switch (it->kind) {
		case K_YES:
			if (before)
				v->negated_yes = v->no = true;
			else
				v->yes = true;
			break;
		case K_NO:
			if (before)
				v->negated_no = true;
			else
				v->no = true;
			break;
		case K_WITHDRAW: {
			size_t end = it->pos + it->n;
			bool after = negation_after(items, ni, end, end + NEG_WINDOW - 1);
			if (before || after)
				v->negated_withdraw = true;
			else
				v->withdraw = true;
			break;
		}
		case K_COND: v->cond = true; break;
		case K_DOUBT: v->doubt = true; break;
		default: break;
		}
	}
	for (size_t i = 0; i < ni; i++)
		if (items[i].kind == K_NEG && !items[i].used)
			v->stray_neg = true;
}

static enum intent unclear(const char **why, const char *reason)
{
	*why = reason;
	return INTENT_UNCLEAR;
}

/* decide - the verdict as an intent and a reason. */
static enum intent decide(const struct verdict *v, const char **why)
{
	int kinds = (int)v->yes + (int)v->no + (int)v->withdraw;

	if (v->counted > INTENT_WORDS_MAX)
		return unclear(why, "too many words");
	if (v->cond)
		return unclear(why, "condition");
	if (v->doubt)
		return unclear(why, "uncertain");
	if (v->negated_no)
		return unclear(why, "negated no");
	if (v->negated_withdraw)
		return unclear(why, "negated withdrawal");
	if (kinds > 1)
		return unclear(why, !v->withdraw ? "both yes and no" :
		                    !v->no ? "both yes and withdraw" :
		                    !v->yes ? "both no and withdraw" :
		                    "yes, no and withdraw");
	if (kinds == 0)
		return unclear(why, "no answer");
	if (v->yes && v->stray_neg)
		return unclear(why, "negation with yes");
	if (v->yes) {
		*why = "yes";
		return INTENT_YES;
	}
	if (v->no) {
		*why = v->negated_yes ? "negated yes" : "no";
		return INTENT_NO;
	}
	*why = "withdraw";
	return INTENT_WITHDRAW;
}

static enum intent classify(const char *text, size_t len, const char **why)
{
	struct words ws;
	struct item items[WORDS_CAP];
	struct verdict v;
	size_t ni = 0;

	if (text == NULL || len == 0)
		return unclear(why, "empty");
	if (len > INTENT_TEXT_MAX)
		return unclear(why, "too long");
	if (!text_utf8_valid(text, len))
		return unclear(why, "invalid UTF-8");
	split(text, len, &ws);
	if (ws.question)
		return unclear(why, "question");
	if (ws.overflow)
		return unclear(why, "too many words");
	if (ws.n == 0)
		return unclear(why, "empty");
	for (size_t at = 0; at < ws.n && ni < WORDS_CAP; ni++) {
		items[ni] = longest(&ws, at);
		at += items[ni].n;
	}
	particles(items, ni, &ws);
	weigh(items, ni, &v);
	return decide(&v, why);
}

enum intent intent_classify(const char *text, size_t len, char *why, size_t whylen)
{
	const char *reason = "";
	enum intent r = classify(text, len, &reason);

	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	return r;
}

const char *intent_name(enum intent i)
{
	switch (i) {
	case INTENT_YES: return "yes";
	case INTENT_NO: return "no";
	case INTENT_WITHDRAW: return "withdraw";
	case INTENT_UNCLEAR: return "unclear";
	}
	return "unclear";
}
