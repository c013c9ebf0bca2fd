/*
 * mime.c - compose one outgoing text/plain message: RFC 5322 header
 * fields, RFC 2047 "B" encoded words for non-ASCII text, a quoted-printable
 * UTF-8 body, CRLF line ends.
 *
 * Promises: every value is checked before anything is written, and any
 * control character (C0 including TAB, CR and LF, DEL, C1) in a header
 * value, an invalid address, message id, URI or language tag, or invalid
 * UTF-8 makes mime_compose fail with the field named in err: no value can
 * start a header line of its own. Encoded words hold at most 45 bytes of
 * UTF-8 (75 characters), never split a character, and are folded with
 * CRLF SP so no header line is longer than 78 characters where a break is
 * possible (and never longer than 998). The subject reference " [REF]" is
 * written as plain ASCII, whole. The body is quoted-printable with lines of
 * at most 76 characters that decode to exactly the UTF-8 given (trailing
 * white space included). The output uses CRLF everywhere, holds no bare CR
 * or LF and ends with CRLF. No libetpan here (see qp_body); base64 comes
 * from the digest module.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "consentd/addr.h"
#include "consentd/limits.h"
#include "consentd/digest.h"
#include "consentd/mime.h"
#include "consentd/text.h"

#define LINE_SOFT    78   /* RFC 5322 2.1.1 SHOULD */
#define LINE_HARD    998  /* RFC 5322 2.1.1 MUST */
#define WORD_MAX     75   /* RFC 2047 2: one encoded word */
#define WORD_FRAME   12   /* "=?UTF-8?B?" and "?=" */
#define NAME_MAX_BYTES ACCOUNT_NAME_MAX
#define REF_MAX      200
#define LANG_MAX     35

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- checks ---- */

/* check_text - s is UTF-8 without control characters. */
static int check_text(const char *field, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (!text_utf8_valid(s, n)) {
		set_err(err, errlen, "%s: invalid UTF-8", field);
		return -1;
	}
	if (text_has_control(s, n)) {
		set_err(err, errlen, "%s: control character (CR, LF, TAB or other) "
			"not allowed in a header", field);
		return -1;
	}
	return 0;
}

static bool is_printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
			return false;
	return true;
}

/* check_token_ascii - non-empty printable ASCII without space, '<', '>'. */
static int check_token_ascii(const char *field, const char *s, char *err, size_t errlen)
{
	const unsigned char *p;

	if (!*s) {
		set_err(err, errlen, "%s: empty", field);
		return -1;
	}
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7F) {
			set_err(err, errlen, "%s: control character, space or non-ASCII byte "
				"not allowed", field);
			return -1;
		}
		if (*p == '<' || *p == '>') {
			set_err(err, errlen, "%s: '<' or '>' not allowed", field);
			return -1;
		}
	}
	return 0;
}

static int check_msgid(const char *field, const char *id, char *err, size_t errlen)
{
	if (check_token_ascii(field, id, err, errlen) != 0)
		return -1;
	if (!strchr(id, '@')) {
		set_err(err, errlen, "%s: no '@'", field);
		return -1;
	}
	return 0;
}

static int check_addr(const char *field, const char *a, char *err, size_t errlen)
{
	const char *why;

	if (!a || !*a) {
		set_err(err, errlen, "%s: missing", field);
		return -1;
	}
	why = addr_check(a, strlen(a));
	if (why) {
		set_err(err, errlen, "%s: %s", field, why);
		return -1;
	}
	return 0;
}

static int check_name(const char *field, const char *name, char *err, size_t errlen)
{
	if (check_text(field, name, err, errlen) != 0)
		return -1;
	if (strlen(name) > NAME_MAX_BYTES) {
		set_err(err, errlen, "%s: longer than %d bytes", field, NAME_MAX_BYTES);
		return -1;
	}
	return 0;
}

static int check_lang(const char *lang, char *err, size_t errlen)
{
	size_t i, n = strlen(lang);

	if (n == 0 || n > LANG_MAX) {
		set_err(err, errlen, "Content-Language: not a language tag");
		return -1;
	}
	for (i = 0; i < n; i++) {
		char c = lang[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c == '-' && i > 0))) {
			set_err(err, errlen, "Content-Language: not a language tag");
			return -1;
		}
	}
	return 0;
}

static int check_ref(const char *ref, char *err, size_t errlen)
{
	if (check_token_ascii("Subject reference", ref, err, errlen) != 0)
		return -1;
	if (strlen(ref) > REF_MAX || strpbrk(ref, "[]") || strstr(ref, "=?")) {
		set_err(err, errlen, "Subject reference: longer than %d bytes or holds "
			"'[', ']' or '=?'", REF_MAX);
		return -1;
	}
	return 0;
}

/* ---- writing header values ---- */

/* fold_ascii - write printable ASCII s[0..n), inserting CRLF before a
 * space where the next word would run past LINE_SOFT. A word longer than
 * a line stays whole. *col counts the characters on the current line. */
static void fold_ascii(strbuf *b, size_t *col, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i, k;

		while (j < n && s[j] == ' ')
			j++;
		k = j;
		while (k < n && s[k] != ' ')
			k++;
		/* fold only before spaces followed by a word, so that no
		 * continuation line is white space alone */
		if (j > i && k > j && *col + (k - i) > LINE_SOFT && *col > 1) {
			strbuf_add(b, "\r\n", 2);
			*col = 0;
		}
		strbuf_add(b, s + i, k - i);
		*col += k - i;
		i = k;
	}
}

static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

/* encode_words - s[0..n) (valid UTF-8) as "B" encoded words, each at most
 * WORD_MAX characters and within LINE_SOFT, split only between
 * characters, separated by CRLF SP. */
static int encode_words(strbuf *b, size_t *col, const char *s, size_t n)
{
	size_t i = 0;
	bool sep = false;

	while (i < n) {
		size_t room, maxbytes, take = 0;
		char b64[WORD_MAX];

		if (sep) {
			strbuf_add(b, "\r\n ", 3);
			*col = 1;
		}
		room = *col < LINE_SOFT ? LINE_SOFT - *col : 0;
		if (room > WORD_MAX)
			room = WORD_MAX;
		maxbytes = room > WORD_FRAME ? (room - WORD_FRAME) / 4 * 3 : 0;
		while (i + take < n) {
			size_t cl = utf8_len((unsigned char)s[i + take]);

			if (take + cl > maxbytes)
				break;
			take += cl;
		}
		if (take == 0) {
			if (*col <= 1)
				return -1;    /* cannot happen: a line holds 45 bytes */
			sep = true;       /* no room left on this line */
			continue;
		}
		digest_base64(s + i, take, b64);
		strbuf_adds(b, "=?UTF-8?B?");
		strbuf_adds(b, b64);
		strbuf_adds(b, "?=");
		*col += WORD_FRAME + strlen(b64);
		i += take;
		sep = true;
	}
	return 0;
}

/* needs_encoding - text a reader would not see as written: non-ASCII, or
 * something that looks like an encoded word. */
static bool needs_encoding(const char *s)
{
	return !is_printable_ascii(s) || strstr(s, "=?") != NULL;
}

/* write_unstructured - Subject-like text, then " [ref]" when ref is set. */
static int write_unstructured(strbuf *b, size_t *col, const char *text, const char *ref)
{
	size_t n = strlen(text);

	if (!needs_encoding(text)) {
		strbuf t = { 0 };

		strbuf_add(&t, text, n);
		if (ref) {
			if (n)
				strbuf_adds(&t, " ");
			strbuf_adds(&t, "[");
			strbuf_adds(&t, ref);
			strbuf_adds(&t, "]");
		}
		fold_ascii(b, col, t.s ? t.s : "", t.len);
		free(t.s);
		return 0;
	}
	if (encode_words(b, col, text, n) != 0)
		return -1;
	if (ref) {
		size_t rn = strlen(ref) + 3;   /* " [" ref "]" */

		if (*col + rn > LINE_SOFT) {
			strbuf_add(b, "\r\n", 2);
			*col = 0;
		}
		strbuf_adds(b, " [");
		strbuf_adds(b, ref);
		strbuf_adds(b, "]");
		*col += rn;
	}
	return 0;
}

static bool is_atext(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_atom_phrase - words of atext separated by single spaces. */
static bool is_atom_phrase(const char *s)
{
	const char *p;

	if (!*s || s[0] == ' ')
		return false;
	for (p = s; *p; p++) {
		if (*p == ' ') {
			if (p[1] == ' ' || p[1] == '\0')
				return false;
		} else if (!is_atext(*p)) {
			return false;
		}
	}
	return true;
}

/* write_mailbox - "phrase <addr>" or the bare addr-spec when name is
 * empty. name and addr have been checked. */
static int write_mailbox(strbuf *b, size_t *col, const char *name, const char *addr)
{
	size_t an = strlen(addr);

	if (!name || !*name) {
		strbuf_add(b, addr, an);
		*col += an;
		return 0;
	}
	if (needs_encoding(name)) {
		if (encode_words(b, col, name, strlen(name)) != 0)
			return -1;
	} else if (is_atom_phrase(name)) {
		fold_ascii(b, col, name, strlen(name));
	} else {
		strbuf q = { 0 };
		const char *p;

		strbuf_add(&q, "\"", 1);
		for (p = name; *p; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_add(&q, "\\", 1);
			strbuf_add(&q, p, 1);
		}
		strbuf_add(&q, "\"", 1);
		fold_ascii(b, col, q.s, q.len);
		free(q.s);
	}
	if (*col + 1 + an + 2 > LINE_SOFT) {
		strbuf_add(b, "\r\n", 2);
		*col = 0;
	}
	strbuf_adds(b, " <");
	strbuf_add(b, addr, an);
	strbuf_adds(b, ">");
	*col += an + 3;
	return 0;
}

/* ---- whole fields ---- */

/* field_done - end the field begun at offset start with CRLF, after
 * checking that none of its lines is longer than LINE_HARD. */
static int field_done(strbuf *b, size_t start, const char *field, char *err, size_t errlen)
{
	size_t i, linestart = start;

	for (i = start; i < b->len; i++) {
		if (b->s[i] == '\r') {
			if (i - linestart > LINE_HARD)
				break;
			linestart = i + 2;
		}
	}
	if (i < b->len || b->len - linestart > LINE_HARD) {
		set_err(err, errlen, "%s: header line longer than %d characters", field,
			LINE_HARD);
		return -1;
	}
	strbuf_add(b, "\r\n", 2);
	return 0;
}

/* simple_field - "Name: value" for a value already checked. */
static int simple_field(strbuf *b, const char *name, const char *pre, const char *value,
			const char *post, char *err, size_t errlen)
{
	size_t start = b->len;

	strbuf_adds(b, name);
	strbuf_adds(b, ": ");
	strbuf_adds(b, pre);
	strbuf_adds(b, value);
	strbuf_adds(b, post);
	return field_done(b, start, name, err, errlen);
}

static int mailbox_field(strbuf *b, const char *field, const char *name, const char *addr,
			 char *err, size_t errlen)
{
	size_t start = b->len, col;

	strbuf_adds(b, field);
	strbuf_adds(b, ": ");
	col = strlen(field) + 2;
	if (write_mailbox(b, &col, name, addr) != 0) {
		set_err(err, errlen, "%s: cannot encode the name", field);
		return -1;
	}
	return field_done(b, start, field, err, errlen);
}

static int format_date(int64_t date, char out[40], char *err, size_t errlen)
{
	static const char *const wday[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)date;
	struct tm tm;

	if ((int64_t)t != date || !gmtime_r(&t, &tm) || tm.tm_year < 0 ||
	    tm.tm_year > 9999 - 1900 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		set_err(err, errlen, "Date: out of range");
		return -1;
	}
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", wday[tm.tm_wday],
		 tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	return 0;
}

/* check_body - UTF-8; no control characters but LF and TAB. */
static int check_body(const char *body, size_t n, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)body;
	size_t i;

	if (!text_utf8_valid(body, n)) {
		set_err(err, errlen, "body: invalid UTF-8");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\t')
			continue;
		if (p[i] < 0x20 || p[i] == 0x7F ||
		    (p[i] == 0xC2 && i + 1 < n && p[i + 1] <= 0x9F)) {
			set_err(err, errlen, "body: control character at byte %zu", i);
			return -1;
		}
	}
	return 0;
}

/* qp_body - text[0..n) (lines ending in LF) as quoted-printable text
 * (RFC 2045 6.7) with CRLF line ends, appended to b: printable ASCII other
 * than '=' stays as it is (so the token and the JA/NEIN words stay
 * readable in the raw mail), white space at the end of a line, '=', control
 * and non-ASCII bytes become =XX, the F of a line starting "From " too (mbox
 * readers), and a '.' that would start a line, also after a soft break
 * (a lone "." ends SMTP data at a gateway that does not dot-stuff), and lines are soft-broken before column 76, never inside an
 * =XX. Written here rather than with libetpan so that consentctl, which
 * renders mail, does not load libetpan (1.7 ms per start; see README). */
static void qp_body(strbuf *b, const char *text, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t pos = 0;

	while (pos < n) {
		const char *line = text + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos, k, col = 0;
		bool from = len >= 5 && !memcmp(line, "From ", 5);

		for (k = 0; k < len; k++) {
			unsigned char c = (unsigned char)line[k];
			char enc[3];
			size_t el = 1;

			if ((c == ' ' || c == '\t') ? k + 1 < len
			    : (c >= 33 && c <= 126 && c != '=' && !(k == 0 && from))) {
				enc[0] = (char)c;
			} else {
				enc[0] = '=';
				enc[1] = hex[c >> 4];
				enc[2] = hex[c & 15];
				el = 3;
			}
			if (col + el > 75) {
				strbuf_add(b, "=\r\n", 3);
				col = 0;
			}
			if (col == 0 && el == 1 && enc[0] == '.') {
				enc[0] = '=';   /* no line of the body starts with '.' */
				enc[1] = '2';
				enc[2] = 'E';
				el = 3;
			}
			strbuf_add(b, enc, el);
			col += el;
		}
		strbuf_add(b, "\r\n", 2);
		pos += len + 1;
	}
}

/* crlf_clean - every CR is followed by LF and every LF preceded by CR. */
static bool crlf_clean(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
			return false;
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
	}
	return true;
}

/* check_spec - every value of m, before anything is written. */
static int check_spec(const mail_spec *m, char *err, size_t errlen)
{
	if (m->from_name && check_name("From name", m->from_name, err, errlen) != 0)
		return -1;
	if (check_addr("From address", m->from_addr, err, errlen) != 0)
		return -1;
	if (m->to_name && check_name("To name", m->to_name, err, errlen) != 0)
		return -1;
	if (check_addr("To address", m->to_addr, err, errlen) != 0)
		return -1;
	if (m->reply_to && check_addr("Reply-To", m->reply_to, err, errlen) != 0)
		return -1;
	if (!m->message_id) {
		set_err(err, errlen, "Message-ID: missing");
		return -1;
	}
	if (check_msgid("Message-ID", m->message_id, err, errlen) != 0)
		return -1;
	if (m->in_reply_to && check_msgid("In-Reply-To", m->in_reply_to, err, errlen) != 0)
		return -1;
	if (!m->subject) {
		set_err(err, errlen, "Subject: missing");
		return -1;
	}
	if (check_text("Subject", m->subject, err, errlen) != 0)
		return -1;
	if (m->subject_ref && *m->subject_ref && check_ref(m->subject_ref, err, errlen) != 0)
		return -1;
	if (m->list_unsubscribe &&
	    check_token_ascii("List-Unsubscribe", m->list_unsubscribe, err, errlen) != 0)
		return -1;
	if (m->lang && *m->lang && check_lang(m->lang, err, errlen) != 0)
		return -1;
	if (!m->body) {
		set_err(err, errlen, "body: missing");
		return -1;
	}
	return check_body(m->body, strlen(m->body), err, errlen);
}

char *mime_header_words(const char *text, size_t used, char *err, size_t errlen)
{
	strbuf b = { 0 };
	size_t col = used;

	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		set_err(err, errlen, "header text: missing");
		return NULL;
	}
	if (check_text("header text", text, err, errlen) != 0)
		return NULL;
	strbuf_add(&b, "", 0);
	if (write_unstructured(&b, &col, text, NULL) != 0) {
		free(b.s);
		set_err(err, errlen, "header text: cannot encode");
		return NULL;
	}
	return b.s;
}

int mime_compose(const mail_spec *m, char **out, size_t *outlen, char *err, size_t errlen)
{
	strbuf b = { 0 };
	char date[40];
	char *text = NULL;
	const char *ref;
	size_t start, col, bn;
	int ret = -1;

	if (err && errlen)
		err[0] = '\0';
	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!m || !out || !outlen) {
		set_err(err, errlen, "mime_compose: bad arguments");
		goto cleanup;
	}
	if (check_spec(m, err, errlen) != 0)
		goto cleanup;
	if (format_date(m->date, date, err, errlen) != 0)
		goto cleanup;
	ref = m->subject_ref && *m->subject_ref ? m->subject_ref : NULL;

	if (simple_field(&b, "Date", "", date, "", err, errlen) != 0)
		goto cleanup;
	if (mailbox_field(&b, "From", m->from_name, m->from_addr, err, errlen) != 0)
		goto cleanup;
	if (mailbox_field(&b, "To", m->to_name, m->to_addr, err, errlen) != 0)
		goto cleanup;
	if (m->reply_to && simple_field(&b, "Reply-To", "<", m->reply_to, ">", err, errlen) != 0)
		goto cleanup;

	start = b.len;
	strbuf_adds(&b, "Subject: ");
	col = 9;
	if (write_unstructured(&b, &col, m->subject, ref) != 0) {
		set_err(err, errlen, "Subject: cannot encode");
		goto cleanup;
	}
	if (field_done(&b, start, "Subject", err, errlen) != 0)
		goto cleanup;

	if (simple_field(&b, "Message-ID", "<", m->message_id, ">", err, errlen) != 0)
		goto cleanup;
	if (m->in_reply_to &&
	    simple_field(&b, "In-Reply-To", "<", m->in_reply_to, ">", err, errlen) != 0)
		goto cleanup;
	if (m->list_unsubscribe &&
	    simple_field(&b, "List-Unsubscribe", "<", m->list_unsubscribe, ">", err, errlen) != 0)
		goto cleanup;
	strbuf_adds(&b, "Auto-Submitted: auto-generated\r\n"
		    "X-Auto-Response-Suppress: OOF, AutoReply\r\n");
	if (m->lang && *m->lang &&
	    simple_field(&b, "Content-Language", "", m->lang, "", err, errlen) != 0)
		goto cleanup;
	strbuf_adds(&b, "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=UTF-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n"
		    "\r\n");

	/* The body, with a final line feed so the last line ends in CRLF. */
	bn = strlen(m->body);
	text = xmalloc(bn + 2);
	memcpy(text, m->body, bn);
	if (bn && text[bn - 1] != '\n')
		text[bn++] = '\n';
	text[bn] = '\0';
	qp_body(&b, text, bn);

	if (!crlf_clean(b.s, b.len) || b.len < 2 || memcmp(b.s + b.len - 2, "\r\n", 2) != 0) {
		set_err(err, errlen, "internal error: line ends not CRLF");
		goto cleanup;
	}
	*out = b.s;
	*outlen = b.len;
	b.s = NULL;
	ret = 0;

cleanup:
	free(text);
	free(b.s);
	return ret;
}
