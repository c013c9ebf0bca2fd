/*
 * reply.c - the person's own new text in a reply, without what they quoted
 * (reply.h). Only this text is read for an answer, so nothing from our own
 * request (which says "JA" and "NEIN") may survive in it.
 *
 * How: the body is split into at most REPLY_LINES_MAX lines (LF, CRLF and
 * a lone CR all end a line; the output joins lines with LF and has no
 * final newline). The first line that starts quoted or foreign matter (a
 * quote attribution, an Outlook header block, an "Original Message" or
 * forward marker, a signature separator, a mobile footer, a disclaimer)
 * cuts it and everything after it; '>' lines before the cut are dropped
 * wherever they stand. Then blank lines and rule lines ("____", "-----")
 * are trimmed at both ends.
 *
 * Promises:
 *   - never NULL (memory exhaustion aborts, see xmalloc); the result is
 *     NUL-terminated and never longer than the input;
 *   - no line of the result starts with '>' (after spaces, tabs or NBSP);
 *   - nothing after the first attribution or Outlook block is kept, not
 *     even unquoted text below it (bottom-posting under an attribution
 *     gives an empty answer, which is "unclear" - safe, never a leak);
 *     without an attribution, text below or between '>' blocks is kept;
 *   - a NUL byte ends the input: what follows it is not looked at (text
 *     from the decoder never has one; a NUL means broken or hostile input,
 *     and the result is a C string).
 *
 * Decisions, so that the person's own words are not cut by accident:
 *   - an attribution "Am/On/Le <...> schrieb/wrote/a écrit <...>:" must
 *     hold a digit or an '@' (a date or an address), so "Am besten
 *     schrieb ich:" is text. It may be folded over up to three lines. A
 *     bare "<name> wrote:" / "schrieb:" line counts only when a '>' line
 *     follows it (after at most one blank line);
 *   - "Von:"/"From:" cuts only when a "Gesendet:"/"Sent:"/"An:"/"To:"/
 *     "Betreff:"/"Subject:"/"Datum:"/"Date:"/"Cc:" line follows within 4
 *     lines; a lone "From: me" is kept as the person's text;
 *   - every matcher works on one line span with a bounded cursor; no line
 *     is copied, so line length is not limited.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/reply.h"
#include "consentd/text.h"

#define ATTR_LINES_MAX   3      /* an attribution folded over this many */
#define ATTR_BYTES_MAX   1024   /* longer "attributions" are prose */
#define OUTLOOK_WINDOW   4      /* header lines looked for after "Von:" */
#define FOOTER_BYTES_MAX 160    /* a mobile footer is a short line */

/* A line: [p, end), without its line terminator. */
typedef struct span {
	const char *p;
	const char *end;
} span;

static size_t span_len(span s)
{
	return (size_t)(s.end - s.p);
}

/* ws_width - bytes of one whitespace character at p (space, tab, UTF-8
 * NO-BREAK SPACE), 0 if there is none. */
static size_t ws_width(const char *p, const char *end)
{
	if (p >= end)
		return 0;
	if (*p == ' ' || *p == '\t')
		return 1;
	if (end - p >= 2 && (unsigned char)p[0] == 0xC2 &&
	    (unsigned char)p[1] == 0xA0)
		return 2;
	return 0;
}

static span trim_left(span s)
{
	size_t w;

	while ((w = ws_width(s.p, s.end)) > 0)
		s.p += w;
	return s;
}

static span trim_right(span s)
{
	while (s.end > s.p) {
		if (s.end[-1] == ' ' || s.end[-1] == '\t')
			s.end--;
		else if (s.end - s.p >= 2 && (unsigned char)s.end[-2] == 0xC2 &&
			 (unsigned char)s.end[-1] == 0xA0)
			s.end -= 2;
		else
			break;
	}
	return s;
}

static span trim(span s)
{
	return trim_right(trim_left(s));
}

static bool is_blank(span s)
{
	return span_len(trim_left(s)) == 0;
}

/* is_quoted - the line starts with '>' after optional whitespace. */
static bool is_quoted(span s)
{
	s = trim_left(s);
	return s.p < s.end && *s.p == '>';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* eq_ci - p[0..n) equals word (ASCII case-insensitive, other bytes
 * exact); p must have n bytes. */
static bool eq_ci(const char *p, const char *word, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(p[i]) != lower(word[i]))
			return false;
	return true;
}

static bool starts_ci(span s, const char *prefix)
{
	size_t n = strlen(prefix);

	return span_len(s) >= n && eq_ci(s.p, prefix, n);
}

static bool ends_ci(span s, const char *suffix)
{
	size_t n = strlen(suffix);

	return span_len(s) >= n && eq_ci(s.end - n, suffix, n);
}

static bool starts_any(span s, const char *const *list)
{
	for (; *list; list++)
		if (starts_ci(s, *list))
			return true;
	return false;
}

/* has_word - word occurs in s at a word start (line start or after
 * whitespace) and is followed by the line end, whitespace, ':' or ','. */
static bool has_word(span s, const char *word)
{
	size_t n = strlen(word);
	const char *q;

	for (q = s.p; span_len(s) >= n && q <= s.end - n; q++) {
		char after;

		if (q > s.p && q[-1] != ' ' && q[-1] != '\t')
			continue;
		if (!eq_ci(q, word, n))
			continue;
		if (q + n == s.end)
			return true;
		after = q[n];
		if (after == ' ' || after == '\t' || after == ':' ||
		    after == ',' || (unsigned char)after == 0xC2)
			return true;
	}
	return false;
}

/* has_date_or_addr - s holds a digit or an '@'. */
static bool has_date_or_addr(span s)
{
	const char *q;

	for (q = s.p; q < s.end; q++)
		if ((*q >= '0' && *q <= '9') || *q == '@')
			return true;
	return false;
}

/* --- quote attributions ------------------------------------------------ */

struct attribution {
	const char *prefix;     /* how the line starts */
	const char *verb;       /* the word that says "wrote" */
};

static const struct attribution ATTRIBUTIONS[] = {
	{ "Am ", "schrieb" },           /* Gmail, Thunderbird, Apple (de) */
	{ "On ", "wrote" },             /* Gmail, Apple, Thunderbird (en) */
	{ "On ", "writes" },            /* mutt, slrn */
	{ "Le ", "a \xC3\xA9" "crit" }, /* French: a écrit */
	{ "El ", "escribi\xC3\xB3" },   /* Spanish: escribió */
	{ "Op ", "schreef" },           /* Dutch */
	{ "Il ", "ha scritto" },        /* Italian */
};

#define N_ATTRIBUTIONS (sizeof ATTRIBUTIONS / sizeof ATTRIBUTIONS[0])

/* attribution_at - lines[i] starts an attribution folded over 1 to
 * ATTR_LINES_MAX unquoted, non-blank lines: the first starts with the
 * prefix, one of them holds the verb, the last ends with ':', and
 * together they hold a digit or '@' and are not too long. */
static bool attribution_at(const span *lines, size_t n, size_t i)
{
	size_t a;

	for (a = 0; a < N_ATTRIBUTIONS; a++) {
		const struct attribution *at = &ATTRIBUTIONS[a];
		bool verb = false, mark = false;
		size_t bytes = 0, j;

		if (!starts_ci(trim_left(lines[i]), at->prefix))
			continue;
		for (j = i; j < n && j < i + ATTR_LINES_MAX; j++) {
			span t = trim(lines[j]);

			if (span_len(t) == 0 || is_quoted(t))
				break;
			bytes += span_len(t);
			if (bytes > ATTR_BYTES_MAX)
				break;
			verb = verb || has_word(t, at->verb);
			mark = mark || has_date_or_addr(t);
			if (verb && mark && ends_ci(t, ":"))
				return true;
		}
	}
	return false;
}

/* next_unblank - index of the first non-blank line after i, looking at
 * most one blank line further; n if there is none. */
static size_t next_unblank(const span *lines, size_t n, size_t i)
{
	size_t j = i + 1;

	if (j < n && is_blank(lines[j]))
		j++;
	return (j < n && !is_blank(lines[j])) ? j : n;
}

/* bare_attribution_at - "<anyone> wrote:" / "schrieb:" / "a écrit :"
 * directly followed by a '>' line. */
static bool bare_attribution_at(const span *lines, size_t n, size_t i)
{
	span t = trim(lines[i]);
	size_t a, j;

	if (span_len(t) == 0 || span_len(t) > ATTR_BYTES_MAX || !ends_ci(t, ":"))
		return false;
	t.end--;
	t = trim_right(t);
	for (a = 0; a < N_ATTRIBUTIONS; a++) {
		if (!ends_ci(t, ATTRIBUTIONS[a].verb))
			continue;
		j = next_unblank(lines, n, i);
		return j < n && is_quoted(lines[j]);
	}
	return false;
}

/* --- Outlook header blocks --------------------------------------------- */

static const char *const OUTLOOK_FROM[] = { "Von", "From", "De", NULL };
static const char *const OUTLOOK_NEXT[] = {
	"Gesendet", "Datum", "An", "Cc", "Betreff",
	"Sent", "Date", "To", "Subject",
	"Envoy\xC3\xA9", "\xC3\x80", "Objet", NULL
};

/* header_label - the line is "<label>:" with optional bold markers
 * ("*Von:*", "**From:**", "*Von*:") and optional space before ':'. */
static bool header_label(span s, const char *const *labels)
{
	s = trim_left(s);
	while (s.p < s.end && *s.p == '*')
		s.p++;
	for (; *labels; labels++) {
		size_t n = strlen(*labels);
		span r;

		if (span_len(s) < n || !eq_ci(s.p, *labels, n))
			continue;
		r.p = s.p + n;
		r.end = s.end;
		while (r.p < r.end && *r.p == '*')
			r.p++;
		r = trim_left(r);
		if (r.p < r.end && *r.p == ':')
			return true;
	}
	return false;
}

/* outlook_at - "Von: X" followed within OUTLOOK_WINDOW lines by another
 * header line of the block. */
static bool outlook_at(const span *lines, size_t n, size_t i)
{
	size_t j;

	if (!header_label(lines[i], OUTLOOK_FROM))
		return false;
	for (j = i + 1; j < n && j <= i + OUTLOOK_WINDOW; j++)
		if (header_label(lines[j], OUTLOOK_NEXT))
			return true;
	return false;
}

/* --- markers on a line of their own ------------------------------------ */

/* The words inside "-----Original Message-----" style markers. */
static const char *const DASHED[] = {
	"Original Message", "Originalnachricht",
	"Urspr\xC3\xBCngliche Nachricht", "Ursprungliche Nachricht",
	"Forwarded message", "Weitergeleitete Nachricht", "Message d'origine",
	NULL
};

static const char *const FORWARD[] = {
	"Begin forwarded message:", "Anfang der weitergeleiteten Nachricht:",
	NULL
};

static const char *const FOOTERS[] = {
	"Von meinem iPhone gesendet", "Von meinem iPad gesendet",
	"Von meinem ",                   /* "... Smartphone gesendet" */
	"Sent from my ", "Sent from Mail for ", "Sent from Outlook",
	"Sent from Yahoo", "Gesendet von ", "Gesendet mit der ",
	"Get Outlook for ", "Outlook f\xC3\xBCr ",
	"Diese Nachricht wurde von meinem ",
	NULL
};

static const char *const DISCLAIMERS[] = {
	"Diese E-Mail enth\xC3\xA4lt vertrauliche",
	"Diese Nachricht enth\xC3\xA4lt vertrauliche",
	"This e-mail (and any attachment", "This e-mail and any attachment",
	"This email and any attachments are confidential",
	"This message and any attachments are confidential",
	"CONFIDENTIALITY NOTICE", "Vertraulichkeitshinweis",
	NULL
};

/* dashed_marker - "---- Original Message ----" and friends: at least two
 * '-' before the words, any after. */
static bool dashed_marker(span t)
{
	size_t dashes = 0;

	while (t.p < t.end && *t.p == '-') {
		t.p++;
		dashes++;
	}
	if (dashes < 2)
		return false;
	t = trim_left(t);
	while (t.end > t.p && t.end[-1] == '-')
		t.end--;
	t = trim_right(t);
	return starts_any(t, DASHED) && span_len(t) < 40;
}

static bool signature_line(span s)
{
	s = trim_right(s);
	return span_len(s) == 2 && s.p[0] == '-' && s.p[1] == '-';
}

/* footer_line - a short mobile footer. "Von meinem ..." must also say
 * "gesendet", as every such footer does. */
static bool footer_line(span t)
{
	if (span_len(t) > FOOTER_BYTES_MAX || !starts_any(t, FOOTERS))
		return false;
	if (starts_ci(t, "Von meinem "))
		return has_word(t, "gesendet") || has_word(t, "gesendet.");
	return true;
}

/* cut_at - lines[i] (not quoted) starts what is not the person's text. */
static bool cut_at(const span *lines, size_t n, size_t i)
{
	span t = trim(lines[i]);

	if (span_len(t) == 0)
		return false;
	return signature_line(lines[i]) || dashed_marker(t) ||
	       starts_any(t, FORWARD) || footer_line(t) ||
	       starts_any(t, DISCLAIMERS) || outlook_at(lines, n, i) ||
	       attribution_at(lines, n, i) || bare_attribution_at(lines, n, i);
}

/* rule_line - a line of only '_', '-', '=', '~', '*' (at least 3), as
 * Outlook puts before its header block. */
static bool rule_line(span s)
{
	const char *q;

	s = trim(s);
	if (span_len(s) < 3)
		return false;
	for (q = s.p; q < s.end; q++)
		if (!strchr("_-=~*", *q) || *q == '\0')
			return false;
	return true;
}

/* --- splitting and joining ---------------------------------------------- */

/* split_lines - s[0..len) into at most max lines; CRLF, LF and a lone CR
 * end a line. A final line without terminator counts; an empty tail after
 * the last terminator does not. Returns the number of lines. */
static size_t split_lines(const char *s, size_t len, span *lines, size_t max)
{
	const char *p = s, *end = s + len;
	size_t n = 0;

	while (p < end && n < max) {
		const char *q = p;

		while (q < end && *q != '\n' && *q != '\r')
			q++;
		lines[n].p = p;
		lines[n].end = q;
		n++;
		if (q < end && *q == '\r') {
			q++;
			if (q < end && *q == '\n')
				q++;
		} else if (q < end) {
			q++;
		}
		p = q;
	}
	return n;
}

char *reply_own_text(const char *body, size_t len, size_t *out_len)
{
	span *lines;
	bool *keep;
	size_t n, i, cut, first, last, o = 0;
	char *out;
	const char *nul;

	if (body == NULL)
		len = 0;
	nul = len ? memchr(body, '\0', len) : NULL;
	if (nul)
		len = (size_t)(nul - body);

	lines = xcalloc(REPLY_LINES_MAX, sizeof *lines);
	n = len ? split_lines(body, len, lines, REPLY_LINES_MAX) : 0;

	for (cut = 0; cut < n; cut++)
		if (!is_quoted(lines[cut]) && cut_at(lines, n, cut))
			break;

	keep = xcalloc(n + 1, sizeof *keep);
	for (i = 0; i < cut; i++)
		keep[i] = !is_quoted(lines[i]);
	for (i = 0; i < cut && (!keep[i] || is_blank(lines[i])); i++)
		;
	/* Bottom-posting: nothing of the person's above a '>'-quoting
	 * attribution; their text is below the quote, up to the next cut. */
	if (i == cut && cut < n && (attribution_at(lines, n, cut) ||
				    bare_attribution_at(lines, n, cut))) {
		size_t a = cut;

		while (a < n && !ends_ci(trim(lines[a]), ":"))
			a++;
		for (i = a + 1; i < n && (is_quoted(lines[i]) || !cut_at(lines, n, i)); i++)
			keep[i] = !is_quoted(lines[i]);
		first = a + 1;
		cut = i;
	} else {
		first = 0;
	}

	/* Trim blank and rule lines at both ends of what is kept. */
	for (; first < cut; first++)
		if (keep[first] && !is_blank(lines[first]))
			break;
	for (last = cut; last > first; last--)
		if (keep[last - 1] && !is_blank(lines[last - 1]) &&
		    !rule_line(lines[last - 1]))
			break;

	out = xmalloc(len + 1);
	for (i = first; i < last; i++) {
		size_t l;

		if (!keep[i])
			continue;
		if (o > 0)
			out[o++] = '\n';
		l = span_len(lines[i]);
		memcpy(out + o, lines[i].p, l);
		o += l;
	}
	out[o] = '\0';
	free(keep);
	free(lines);
	if (out_len)
		*out_len = o;
	return out;
}
