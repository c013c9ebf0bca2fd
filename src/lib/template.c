/*
 * template.c - load, check and render the mail templates in
 * mailtemplates/<lang>/<name>.txt.
 *
 * Promises: template_load reads every template of both languages and
 * refuses, with "FILE:LINE: what", a file larger than TEMPLATE_MAX, a line
 * longer than 998 bytes, invalid UTF-8, any control character other than
 * the line feed (a CR directly before LF is dropped), anything but exactly
 * one "Subject:" line, one empty line and a non-empty body, a malformed
 * {{placeholder}}, a placeholder the template may not use, and (with the
 * file name only) a required placeholder that does not occur.
 * template_render substitutes values only after checking every one:
 * valid UTF-8, no control characters, a line feed only in the multi-line
 * values (purpose_description, policy_summary) and never in the subject.
 * So a rendered subject is always one line and no value can start a
 * header. Output is bounded (RENDER_MAX); nothing is silently truncated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "consentd/template.h"
#include "consentd/text.h"

#define LINE_MAX_BYTES  998               /* RFC 5322 2.1.1, without CRLF */
#define RENDER_MAX      (1024 * 1024)     /* rendered body, bytes */
#define SUBJECT_MAX     998               /* rendered subject, bytes */
#define NLANGS          2

static const char *const langs[NLANGS] = { "de", "en" };

/* Every placeholder any template may use; the index is its bit. */
enum ph {
	PH_SERVICE_NAME, PH_SERVICE_ADDRESS, PH_CONTROLLER, PH_ACCOUNT_NAME,
	PH_ACCOUNT_EMAIL, PH_PURPOSE, PH_PURPOSE_TITLE, PH_PURPOSE_DESCRIPTION,
	PH_PURPOSE_VERSION, PH_TOKEN, PH_REPLY_ADDRESS, PH_WITHDRAW_ADDRESS,
	PH_EXPIRES, PH_LIFETIME_DAYS, PH_DECISION_TIME, PH_POLICY_VERSION,
	PH_EFFECTIVE_DATE, PH_POLICY_SUMMARY, PH_COUNT
};

static const char *const ph_names[PH_COUNT] = {
	"service_name", "service_address", "controller", "account_name",
	"account_email", "purpose", "purpose_title", "purpose_description",
	"purpose_version", "token", "reply_address", "withdraw_address",
	"expires", "lifetime_days", "decision_time", "policy_version",
	"effective_date", "policy_summary",
};

#define B(x) (UINT32_C(1) << (x))

/* Values that may span lines (in the body only). */
static const uint32_t ph_multiline = B(PH_PURPOSE_DESCRIPTION) | B(PH_POLICY_SUMMARY);

static const uint32_t ph_common = B(PH_SERVICE_NAME) | B(PH_SERVICE_ADDRESS) |
	B(PH_CONTROLLER) | B(PH_ACCOUNT_NAME) | B(PH_ACCOUNT_EMAIL);

typedef struct tpl_kind {
	const char *name;
	uint32_t allowed;    /* besides ph_common */
	uint32_t required;
} tpl_kind;

#define RECEIPT_ALLOWED (B(PH_PURPOSE) | B(PH_PURPOSE_TITLE) | B(PH_DECISION_TIME) | \
			 B(PH_WITHDRAW_ADDRESS))

static const tpl_kind kinds[TPL_COUNT] = {
	[TPL_REQUEST] = { "consent-request",
		B(PH_PURPOSE) | B(PH_PURPOSE_TITLE) | B(PH_PURPOSE_DESCRIPTION) |
		B(PH_PURPOSE_VERSION) | B(PH_TOKEN) | B(PH_REPLY_ADDRESS) |
		B(PH_WITHDRAW_ADDRESS) | B(PH_EXPIRES) | B(PH_LIFETIME_DAYS),
		B(PH_CONTROLLER) | B(PH_PURPOSE_TITLE) | B(PH_PURPOSE_DESCRIPTION) |
		B(PH_TOKEN) | B(PH_EXPIRES) | B(PH_WITHDRAW_ADDRESS) },
	[TPL_RECEIPT_GRANTED] = { "receipt-granted", RECEIPT_ALLOWED,
		B(PH_PURPOSE_TITLE) | B(PH_DECISION_TIME) | B(PH_WITHDRAW_ADDRESS) },
	[TPL_RECEIPT_DECLINED] = { "receipt-declined", RECEIPT_ALLOWED,
		B(PH_PURPOSE_TITLE) | B(PH_DECISION_TIME) },
	[TPL_RECEIPT_REVOKED] = { "receipt-revoked", RECEIPT_ALLOWED,
		B(PH_PURPOSE_TITLE) | B(PH_DECISION_TIME) },
	[TPL_UNCLEAR] = { "unclear-answer",
		B(PH_PURPOSE) | B(PH_PURPOSE_TITLE) | B(PH_TOKEN) | B(PH_REPLY_ADDRESS) |
		B(PH_EXPIRES),
		B(PH_PURPOSE_TITLE) | B(PH_TOKEN) },
	[TPL_POLICY_CHANGE] = { "policy-change",
		B(PH_POLICY_VERSION) | B(PH_EFFECTIVE_DATE) | B(PH_POLICY_SUMMARY),
		B(PH_POLICY_VERSION) | B(PH_EFFECTIVE_DATE) | B(PH_POLICY_SUMMARY) },
};

/* One loaded template: the subject text and the body, both with their
 * placeholders still in them, and which placeholders each uses. */
typedef struct tpl {
	char *subject;          /* one line, no LF */
	char *body;             /* lines ending in LF */
	uint32_t used_subject, used_body;
} tpl;

struct template_set {
	tpl t[NLANGS][TPL_COUNT];
};

/* What template_load is working on, for messages. */
typedef struct load_ctx {
	char *path;
	char *err;
	size_t errlen;
} load_ctx;

static void load_fail(load_ctx *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void load_fail(load_ctx *c, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->errlen == 0)
		return;
	if (line)
		n = snprintf(c->err, c->errlen, "%s:%u: ", c->path, line);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *template_name(enum template_id id)
{
	if ((unsigned)id >= TPL_COUNT)
		return "?";
	return kinds[id].name;
}

/* ph_lookup - index of the placeholder name s[0..n), or -1. */
static int ph_lookup(const char *s, size_t n)
{
	int i;

	for (i = 0; i < PH_COUNT; i++)
		if (strlen(ph_names[i]) == n && memcmp(ph_names[i], s, n) == 0)
			return i;
	return -1;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

/* describe_control - message for the first control character in s[0..n),
 * or NULL when there is none. */
static const char *describe_control(const char *s, size_t n, char *buf, size_t buflen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\t')
			return "tab character (use spaces)";
		if (p[i] == '\r')
			return "carriage return not directly before a line feed";
		if (p[i] == 0)
			return "NUL byte";
		if (p[i] < 0x20 || p[i] == 0x7F) {
			snprintf(buf, buflen, "control character 0x%02X", p[i]);
			return buf;
		}
		if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) {
			snprintf(buf, buflen, "control character U+%04X", p[i + 1]);
			return buf;
		}
	}
	return NULL;
}

/* scan_placeholders - check the placeholders of one line s[0..n) and add
 * their bits to *used. 0, or -1 after load_fail. */
static int scan_placeholders(load_ctx *c, unsigned line, const char *s, size_t n,
			     uint32_t allowed, uint32_t *used)
{
	size_t i = 0;

	while (i + 1 < n) {
		size_t start, j;
		int ph;

		if (s[i] != '{' || s[i + 1] != '{') {
			i++;
			continue;
		}
		start = i + 2;
		for (j = start; j < n && is_name_char(s[j]); j++)
			;
		if (j == start || j + 1 >= n || s[j] != '}' || s[j + 1] != '}') {
			const char *close = NULL;
			size_t k;

			for (k = start; k + 1 < n; k++)
				if (s[k] == '}' && s[k + 1] == '}') {
					close = s + k;
					break;
				}
			if (!close)
				load_fail(c, line, "unterminated placeholder: \"{{\" without \"}}\"");
			else
				load_fail(c, line, "bad placeholder {{%.*s}}: a name is lowercase "
					  "letters a-z and _ only",
					  (int)((size_t)(close - s) - start > 60 ? 60 :
						(size_t)(close - s) - start),
					  s + start);
			return -1;
		}
		ph = ph_lookup(s + start, j - start);
		if (ph < 0) {
			load_fail(c, line, "unknown placeholder {{%.*s}}",
				  (int)(j - start > 60 ? 60 : j - start), s + start);
			return -1;
		}
		if (!((allowed | ph_common) & B(ph))) {
			load_fail(c, line, "unknown placeholder {{%s}}: not available in "
				  "this template", ph_names[ph]);
			return -1;
		}
		*used |= B(ph);
		i = j + 2;
	}
	return 0;
}

/* header_name_len - length of "Name" when s[0..n) looks like "Name: ...",
 * 0 otherwise. */
static size_t header_name_len(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == ':')
			return i;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
	}
	return 0;
}

static bool is_subject_line(const char *s, size_t n)
{
	return n >= 8 && strncasecmp(s, "Subject:", 8) == 0;
}

/* read_file - the whole file (at most TEMPLATE_MAX bytes) into *out. */
static int read_file(load_ctx *c, char **out, size_t *outlen)
{
	FILE *fp = NULL;
	struct stat st;
	char *buf = NULL;
	size_t n;
	int ret = -1;

	fp = fopen(c->path, "rb");
	if (!fp) {
		load_fail(c, 0, "cannot open: %s", strerror(errno));
		goto cleanup;
	}
	if (fstat(fileno(fp), &st) != 0) {
		load_fail(c, 0, "cannot stat: %s", strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		load_fail(c, 0, "not a regular file");
		goto cleanup;
	}
	if (st.st_size > TEMPLATE_MAX) {
		load_fail(c, 0, "file larger than %d bytes", TEMPLATE_MAX);
		goto cleanup;
	}
	buf = xmalloc((size_t)TEMPLATE_MAX + 2);
	n = fread(buf, 1, (size_t)TEMPLATE_MAX + 1, fp);
	if (ferror(fp)) {
		load_fail(c, 0, "read error");
		goto cleanup;
	}
	if (n > TEMPLATE_MAX) {   /* grew after fstat */
		load_fail(c, 0, "file larger than %d bytes", TEMPLATE_MAX);
		goto cleanup;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
	ret = 0;

cleanup:
	free(buf);
	if (fp)
		fclose(fp);
	return ret;
}

/* parse_template - check text[0..len) and fill *t. 0, or -1 after load_fail. */
static int parse_template(load_ctx *c, const tpl_kind *k, const char *text, size_t len, tpl *t)
{
	size_t pos = 0, bodylen = 0;
	unsigned line = 0;
	bool body_has_text = false;
	uint32_t missing;
	char cbuf[48];
	int ph;

	t->subject = NULL;
	t->body = xmalloc(len + 2);
	t->used_subject = t->used_body = 0;

	/* A byte order mark some editors write is not part of the subject. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	if (pos == len) {
		load_fail(c, 1, "empty file: expected a \"Subject:\" line");
		return -1;
	}
	while (pos < len) {
		const char *s = text + pos, *nl;
		size_t n, adv;
		const char *bad;

		nl = memchr(s, '\n', len - pos);
		n = nl ? (size_t)(nl - s) : len - pos;
		adv = nl ? n + 1 : n;
		if (nl && n > 0 && s[n - 1] == '\r')
			n--;    /* CR LF */
		line++;

		if (n > LINE_MAX_BYTES) {
			load_fail(c, line, "line longer than %d bytes", LINE_MAX_BYTES);
			return -1;
		}
		bad = describe_control(s, n, cbuf, sizeof(cbuf));
		if (bad) {
			load_fail(c, line, "%s", bad);
			return -1;
		}
		if (!text_utf8_valid(s, n)) {
			load_fail(c, line, "invalid UTF-8");
			return -1;
		}

		if (line == 1) {
			size_t hn = header_name_len(s, n), a = 8, b = n;

			if (!is_subject_line(s, n)) {
				if (hn)
					load_fail(c, line, "header \"%.*s:\" not allowed: a template "
						  "sets only \"Subject:\"", (int)(hn > 60 ? 60 : hn), s);
				else
					load_fail(c, line, "no Subject: line (a template starts with "
						  "\"Subject: ...\")");
				return -1;
			}
			while (a < b && s[a] == ' ')
				a++;
			while (b > a && s[b - 1] == ' ')
				b--;
			if (a == b) {
				load_fail(c, line, "empty Subject:");
				return -1;
			}
			t->subject = xstrndup(s + a, b - a);
			if (scan_placeholders(c, line, t->subject, b - a, k->allowed,
					      &t->used_subject) != 0)
				return -1;
		} else if (line == 2) {
			if (n != 0) {
				size_t hn = header_name_len(s, n);

				if (is_subject_line(s, n))
					load_fail(c, line, "second Subject: line");
				else if (s[0] == ' ')
					load_fail(c, line, "folded Subject: line: keep the subject "
						  "on one line");
				else if (hn)
					load_fail(c, line, "header \"%.*s:\" not allowed: a template "
						  "sets only \"Subject:\"", (int)(hn > 60 ? 60 : hn), s);
				else
					load_fail(c, line, "expected an empty line after the "
						  "Subject: line");
				return -1;
			}
		} else {
			size_t i;

			if (scan_placeholders(c, line, s, n, k->allowed, &t->used_body) != 0)
				return -1;
			for (i = 0; i < n; i++)
				if (s[i] != ' ')
					body_has_text = true;
			memcpy(t->body + bodylen, s, n);
			bodylen += n;
			t->body[bodylen++] = '\n';
		}
		pos += adv;
	}
	t->body[bodylen] = '\0';
	if (line < 2) {
		load_fail(c, line, "no empty line and body after the Subject: line");
		return -1;
	}
	if (!body_has_text) {
		load_fail(c, 0, "empty body: the text follows the empty line after Subject:");
		return -1;
	}
	missing = k->required & ~(t->used_subject | t->used_body);
	for (ph = 0; ph < PH_COUNT; ph++)
		if (missing & B(ph)) {
			load_fail(c, 0, "missing required placeholder {{%s}}", ph_names[ph]);
			return -1;
		}
	return 0;
}

static void tpl_clear(tpl *t)
{
	free(t->subject);
	free(t->body);
	t->subject = t->body = NULL;
}

void template_set_free(template_set *ts)
{
	int l, i;

	if (!ts)
		return;
	for (l = 0; l < NLANGS; l++)
		for (i = 0; i < TPL_COUNT; i++)
			tpl_clear(&ts->t[l][i]);
	free(ts);
}

int template_load(template_set **out, const char *dir, char *err, size_t errlen)
{
	template_set *ts = NULL;
	load_ctx c = { NULL, err, errlen };
	char *text = NULL;
	size_t len, plen;
	int l, i, ret = -1;

	if (errlen)
		err[0] = '\0';
	if (out)
		*out = NULL;
	if (!out || !dir || !*dir) {
		set_err(err, errlen, "template_load: no template directory");
		goto cleanup;
	}
	ts = xcalloc(1, sizeof(*ts));
	plen = strlen(dir) + 32;
	c.path = xmalloc(plen);
	for (l = 0; l < NLANGS; l++) {
		for (i = 0; i < TPL_COUNT; i++) {
			snprintf(c.path, plen, "%s/%s/%s.txt", dir, langs[l], kinds[i].name);
			if (read_file(&c, &text, &len) != 0)
				goto cleanup;
			if (parse_template(&c, &kinds[i], text, len, &ts->t[l][i]) != 0)
				goto cleanup;
			free(text);
			text = NULL;
		}
	}
	*out = ts;
	ts = NULL;
	ret = 0;

cleanup:
	free(text);
	free(c.path);
	template_set_free(ts);
	return ret;
}


/* substitute - text with every {{name}} replaced by values[name]. The
 * template was checked at load, so every placeholder is well-formed. */
static int substitute(const char *text, const char *const values[PH_COUNT],
		      size_t max, char **out)
{
	strbuf b = { NULL, 0, 0, max, false };
	const char *p = text, *open;

	strbuf_add(&b, "", 0);
	while ((open = strstr(p, "{{")) != NULL) {
		const char *name = open + 2, *end = name;
		const char *v;
		int ph;

		while (is_name_char(*end))
			end++;
		ph = ph_lookup(name, (size_t)(end - name));
		if (ph < 0 || end[0] != '}' || end[1] != '}') {   /* cannot happen */
			strbuf_add(&b, p, (size_t)(name - p));
			p = name;
			continue;
		}
		strbuf_add(&b, p, (size_t)(open - p));
		v = values[ph] ? values[ph] : "";
		strbuf_add(&b, v, strlen(v));
		p = end + 2;
	}
	strbuf_add(&b, p, strlen(p));
	if (b.over) {
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}

int template_render(const template_set *ts, enum template_id id, const char *lang,
		    const tpl_var *vars, size_t nvars, char **subject_out,
		    char **body_out, char *err, size_t errlen)
{
	const char *values[PH_COUNT];
	bool given[PH_COUNT];
	const tpl *t;
	char *subject = NULL, *body = NULL;
	uint32_t used;
	size_t i;
	int l, ph, ret = -1;

	if (errlen)
		err[0] = '\0';
	if (subject_out)
		*subject_out = NULL;
	if (body_out)
		*body_out = NULL;
	if (!ts || !subject_out || !body_out || (unsigned)id >= TPL_COUNT ||
	    (nvars && !vars)) {
		set_err(err, errlen, "template_render: bad arguments");
		goto cleanup;
	}
	for (l = 0; l < NLANGS; l++)
		if (lang && strcmp(lang, langs[l]) == 0)
			break;
	if (l == NLANGS) {
		set_err(err, errlen, "no templates for language '%.16s' (de, en)",
			lang ? lang : "(null)");
		goto cleanup;
	}
	t = &ts->t[l][id];
	used = t->used_subject | t->used_body;

	memset(given, 0, sizeof(given));
	for (ph = 0; ph < PH_COUNT; ph++)
		values[ph] = NULL;
	for (i = 0; i < nvars; i++) {
		const char *name = vars[i].name, *v = vars[i].value;
		size_t vn;

		if (!name) {
			set_err(err, errlen, "template value %zu has no name", i);
			goto cleanup;
		}
		ph = ph_lookup(name, strlen(name));
		if (ph >= 0 && given[ph]) {
			set_err(err, errlen, "value for {{%s}} given twice", name);
			goto cleanup;
		}
		if (!v)
			v = "";
		vn = strlen(v);
		if (!text_utf8_valid(v, vn)) {
			set_err(err, errlen, "value for {{%.60s}}: invalid UTF-8", name);
			goto cleanup;
		}
		if (ph >= 0 && (t->used_subject & B(ph)) && memchr(v, '\n', vn)) {
			set_err(err, errlen, "value for {{%s}}: line break in a value used "
				"in the Subject", name);
			goto cleanup;
		}
		if (ph >= 0 && (ph_multiline & B(ph))) {
			const char *p = v, *nl;

			/* each line on its own: LF separates, nothing else may */
			for (;;) {
				nl = strchr(p, '\n');
				if (text_has_control(p, nl ? (size_t)(nl - p) : strlen(p))) {
					set_err(err, errlen, "value for {{%s}}: control character",
						name);
					goto cleanup;
				}
				if (!nl)
					break;
				p = nl + 1;
			}
		} else if (text_has_control(v, vn)) {
			set_err(err, errlen, "value for {{%.60s}}: control character%s", name,
				memchr(v, '\n', vn) ? " (line break)" : "");
			goto cleanup;
		}
		if (ph >= 0) {
			given[ph] = true;
			values[ph] = v;
		}
	}
	for (ph = 0; ph < PH_COUNT; ph++)
		if ((used & B(ph)) && !given[ph]) {
			set_err(err, errlen, "%s/%s: no value for placeholder {{%s}}",
				langs[l], kinds[id].name, ph_names[ph]);
			goto cleanup;
		}

	if (substitute(t->subject, values, SUBJECT_MAX, &subject) != 0) {
		set_err(err, errlen, "%s/%s: rendered Subject longer than %d bytes",
			langs[l], kinds[id].name, SUBJECT_MAX);
		goto cleanup;
	}
	if (strspn(subject, " ") == strlen(subject)) {
		set_err(err, errlen, "%s/%s: rendered Subject is empty", langs[l],
			kinds[id].name);
		goto cleanup;
	}
	if (substitute(t->body, values, RENDER_MAX, &body) != 0) {
		set_err(err, errlen, "%s/%s: rendered text longer than %d bytes",
			langs[l], kinds[id].name, RENDER_MAX);
		goto cleanup;
	}
	*subject_out = subject;
	*body_out = body;
	subject = body = NULL;
	ret = 0;

cleanup:
	free(subject);
	free(body);
	return ret;
}
