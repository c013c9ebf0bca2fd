/*
 * test_template.c - unit tests for template.h: the shipped templates of
 * both languages load and render with every value; every kind of broken
 * template is refused with "FILE:LINE: what" (or "FILE: what" for a
 * missing required placeholder); the allowed and required placeholders of
 * each template are exactly those of the table below (restated here from
 * the specification, not taken from template.c); values with control
 * characters, invalid UTF-8 or line breaks where they could reach a header
 * are refused, and so is a placeholder without a value.
 *
 * Each test works on a copy of the shipped templates in a scratch
 * directory and overwrites the file under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/template.h"
#include "consentd/text.h"
#include "testutil.h"

static const char *const langs[] = { "de", "en" };

static const char *const common_ph[] = {
	"service_name", "service_address", "controller", "account_name", "account_email", NULL
};

static const char *const all_ph[] = {
	"service_name", "service_address", "controller", "account_name", "account_email",
	"purpose", "purpose_title", "purpose_description", "purpose_version", "token",
	"reply_address", "withdraw_address", "expires", "lifetime_days", "decision_time",
	"policy_version", "effective_date", "policy_summary", NULL
};

/* The specification's table: besides the common ones, what each template
 * may use, and what it must use. */
typedef struct kind {
	enum template_id id;
	const char *file;
	const char *allowed[12];
	const char *required[8];
} kind;

static const kind kinds[] = {
	{ TPL_REQUEST, "consent-request",
	  { "purpose", "purpose_title", "purpose_description", "purpose_version", "token",
	    "reply_address", "withdraw_address", "expires", "lifetime_days", NULL },
	  { "controller", "purpose_title", "purpose_description", "token", "expires",
	    "withdraw_address", NULL } },
	{ TPL_RECEIPT_GRANTED, "receipt-granted",
	  { "purpose", "purpose_title", "decision_time", "withdraw_address", NULL },
	  { "purpose_title", "decision_time", "withdraw_address", NULL } },
	{ TPL_RECEIPT_DECLINED, "receipt-declined",
	  { "purpose", "purpose_title", "decision_time", "withdraw_address", NULL },
	  { "purpose_title", "decision_time", NULL } },
	{ TPL_RECEIPT_REVOKED, "receipt-revoked",
	  { "purpose", "purpose_title", "decision_time", "withdraw_address", NULL },
	  { "purpose_title", "decision_time", NULL } },
	{ TPL_UNCLEAR, "unclear-answer",
	  { "purpose", "purpose_title", "token", "reply_address", "expires", NULL },
	  { "purpose_title", "token", NULL } },
	{ TPL_POLICY_CHANGE, "policy-change",
	  { "policy_version", "effective_date", "policy_summary", NULL },
	  { "policy_version", "effective_date", "policy_summary", NULL } },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static bool in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

static bool allowed_in(const kind *k, const char *name)
{
	return in_list(common_ph, name) || in_list(k->allowed, name);
}

/* A value for every placeholder; LF only where a value may span lines. */
static const tpl_var all_vars[] = {
	{ "service_name", "CloudWerk Datenschutz" },
	{ "service_address", "datenschutz@cloudwerk.example" },
	{ "controller", "CloudWerk GmbH, Musterstraße 1, 10115 Berlin" },
	{ "account_name", "Jörg Müller" },
	{ "account_email", "joerg@example.org" },
	{ "purpose", "log-linking" },
	{ "purpose_title", "Verknüpfung Ihrer Daten mit Protokolldaten" },
	{ "purpose_description", "Wir verknüpfen Ihre Kundennummer mit den\n"
	  "IP-Adressen in unseren Server-Protokollen." },
	{ "purpose_version", "3" },
	{ "token", "0123456789abcdef0123456789abcdef" },
	{ "reply_address", "consent+0123456789abcdef0123456789abcdef@cloudwerk.example" },
	{ "withdraw_address", "consent@cloudwerk.example" },
	{ "expires", "2026-12-28" },
	{ "lifetime_days", "30" },
	{ "decision_time", "2026-11-28T02:51:47Z" },
	{ "policy_version", "1.2" },
	{ "effective_date", "2027-01-01" },
	{ "policy_summary", "- Neue Auftragsverarbeiter\n- Kürzere Speicherfristen" },
};
#define NVARS (sizeof(all_vars) / sizeof(all_vars[0]))

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char err[1024];
	template_set *ts;
	char *subject, *body;
} fixture;

/* fmt - snprintf that fails the test instead of truncating. */
static void fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));

static void fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vsnprintf(out, n, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < n);
}

/* shipped_dir - SRC/mailtemplates: this file is SRC/tests/unit/test_template.c. */
static void shipped_dir(char out[TU_PATH_MAX])
{
	const char *f = __FILE__, *tail = "tests/unit/test_template.c";
	const char *data = TEST_DATA_DIR, *dtail = "tests/data";
	size_t n = strlen(f), t = strlen(tail), dn = strlen(data), dt = strlen(dtail);

	if (n > t && !strcmp(f + n - t, tail) && f[0] == '/')
		snprintf(out, TU_PATH_MAX, "%.*smailtemplates", (int)(n - t), f);
	else if (dn > dt && !strcmp(data + dn - dt, dtail))
		snprintf(out, TU_PATH_MAX, "%.*smailtemplates", (int)(dn - dt), data);
	else
		fail_msg("cannot find the source tree from %s", f);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *text = tu_read(from, &n);

	if (!text)
		fail_msg("cannot read %s", from);
	tu_write(to, text, n, 0644);
	free(text);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char src[TU_PATH_MAX], a[TU_PATH_MAX], b[TU_PATH_MAX];
	size_t l, k;

	assert_non_null(f);
	tu_tmpdir(f->dir);
	shipped_dir(src);
	for (l = 0; l < 2; l++) {
		fmt(a, sizeof(a), "%s/%s", f->dir, langs[l]);
		assert_int_equal(mkdir(a, 0755), 0);
		for (k = 0; k < NKINDS; k++) {
			fmt(a, sizeof(a), "%s/%s/%s.txt", src, langs[l], kinds[k].file);
			fmt(b, sizeof(b), "%s/%s/%s.txt", f->dir, langs[l], kinds[k].file);
			copy_file(a, b);
		}
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	template_set_free(f->ts);
	free(f->subject);
	free(f->body);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

/* put - write n bytes (or strlen) as lang/name.txt in the scratch copy. */
static void put(fixture *f, const char *lang, const char *name, const char *text, size_t n)
{
	char p[TU_PATH_MAX];

	fmt(p, sizeof(p), "%s/%s/%s.txt", f->dir, lang, name);
	tu_write(p, text, n, 0644);
}

static int load(fixture *f)
{
	template_set_free(f->ts);
	f->ts = NULL;
	f->err[0] = '\0';
	return template_load(&f->ts, f->dir, f->err, sizeof(f->err));
}

/* expect_error - loading fails with exactly "DIR/lang/name.txt:LINE: msg"
 * (LINE 0: "DIR/lang/name.txt: msg"). */
static void expect_error(fixture *f, const char *lang, const char *name, unsigned line,
			 const char *msg)
{
	char want[1024];

	if (line)
		snprintf(want, sizeof(want), "%s/%s/%s.txt:%u: %s", f->dir, lang, name, line, msg);
	else
		snprintf(want, sizeof(want), "%s/%s/%s.txt: %s", f->dir, lang, name, msg);
	assert_int_equal(load(f), -1);
	assert_null(f->ts);
	assert_string_equal(f->err, want);
}

/* expect_error_prefix - as expect_error, but msg need only start the text. */
static void expect_error_prefix(fixture *f, const char *lang, const char *name,
				unsigned line, const char *msg)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s/%s/%s.txt:%u: %s", f->dir, lang, name, line, msg);
	assert_int_equal(load(f), -1);
	if (strncmp(f->err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", f->err, want);
}

static int render(fixture *f, enum template_id id, const char *lang, const tpl_var *vars,
		  size_t n)
{
	free(f->subject);
	free(f->body);
	f->subject = f->body = NULL;
	f->err[0] = '\0';
	return template_render(f->ts, id, lang, vars, n, &f->subject, &f->body, f->err,
			       sizeof(f->err));
}

/* A small valid request: the required placeholders, on known lines. */
#define REQ_OK "Subject: Einwilligung: {{purpose_title}}\n" \
	"\n" \
	"{{controller}} fragt.\n" \
	"{{purpose_description}}\n" \
	"Bis {{expires}}. Widerruf: {{withdraw_address}}\n" \
	"Referenz: {{token}}\n"

/* minimal - a valid template of kind k: its required placeholders. */
static void minimal(const kind *k, char *out, size_t n)
{
	size_t i, len;

	len = (size_t)snprintf(out, n, "Subject: Test\n\nText\n");
	for (i = 0; k->required[i]; i++)
		len += (size_t)snprintf(out + len, n - len, "{{%s}}\n", k->required[i]);
	assert_true(len < n);
}

/* ---- the shipped templates ---- */

static void test_shipped_load(void **state)
{
	fixture *f = *state;
	char src[TU_PATH_MAX];

	shipped_dir(src);
	assert_int_equal(template_load(&f->ts, src, f->err, sizeof(f->err)), 0);
	assert_non_null(f->ts);
}

static void test_names(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < NKINDS; k++)
		assert_string_equal(template_name(kinds[k].id), kinds[k].file);
	assert_string_equal(template_name(TPL_COUNT), "?");
}

/* Every shipped template renders in both languages; the subject is one
 * line, every value it uses appears, and the request says what the law
 * and the reply parser need, each on a line of its own. */
static void test_shipped_render_all(void **state)
{
	fixture *f = *state;
	size_t l, k;

	assert_int_equal(load(f), 0);
	for (l = 0; l < 2; l++) {
		for (k = 0; k < NKINDS; k++) {
			if (render(f, kinds[k].id, langs[l], all_vars, NVARS) != 0)
				fail_msg("%s/%s: %s", langs[l], kinds[k].file, f->err);
			assert_null(strchr(f->subject, '\n'));
			assert_null(strchr(f->subject, '\r'));
			assert_null(strstr(f->subject, "{{"));
			assert_null(strstr(f->body, "{{"));
			assert_null(strchr(f->body, '\r'));
			assert_true(text_utf8_valid(f->body, strlen(f->body)));
			assert_int_equal(f->body[strlen(f->body) - 1], '\n');
			if (kinds[k].id != TPL_POLICY_CHANGE)
				assert_non_null(strstr(f->subject, "Verknüpfung Ihrer Daten"));
		}
	}
	/* German request */
	assert_int_equal(render(f, TPL_REQUEST, "de", all_vars, NVARS), 0);
	assert_string_equal(f->subject,
			    "Bitte um Ihre Einwilligung: Verknüpfung Ihrer Daten mit Protokolldaten");
	assert_non_null(strstr(f->body, "\nJA\n"));
	assert_non_null(strstr(f->body, "\nNEIN\n"));
	assert_non_null(strstr(f->body, "\nWIDERRUFEN\n"));
	assert_non_null(strstr(f->body, "\nReferenz: 0123456789abcdef0123456789abcdef\n"));
	assert_non_null(strstr(f->body, "CloudWerk GmbH, Musterstraße 1, 10115 Berlin"));
	assert_non_null(strstr(f->body, "IP-Adressen in unseren Server-Protokollen."));
	assert_non_null(strstr(f->body, "Fassung des Zwecks: 3\n"));
	assert_non_null(strstr(f->body, "2026-12-28"));
	assert_non_null(strstr(f->body, "consent@cloudwerk.example"));
	assert_non_null(strstr(f->body, "freiwillig"));
	assert_non_null(strstr(f->body, "kein Nachteil"));
	assert_non_null(strstr(f->body, "Wirkung für die\nZukunft"));
	/* English request */
	assert_int_equal(render(f, TPL_REQUEST, "en", all_vars, NVARS), 0);
	assert_non_null(strstr(f->body, "\nYES\n"));
	assert_non_null(strstr(f->body, "\nNO\n"));
	assert_non_null(strstr(f->body, "\nREVOKE\n"));
	assert_non_null(strstr(f->body, "\nReference: 0123456789abcdef0123456789abcdef\n"));
	assert_non_null(strstr(f->body, "voluntary"));
	assert_non_null(strstr(f->body, "no disadvantage"));
	/* receipts repeat decision time and withdrawal address */
	assert_int_equal(render(f, TPL_RECEIPT_GRANTED, "de", all_vars, NVARS), 0);
	assert_non_null(strstr(f->body, "2026-11-28T02:51:47Z"));
	assert_non_null(strstr(f->body, "\nWIDERRUFEN\n"));
	assert_non_null(strstr(f->body, "consent@cloudwerk.example"));
	assert_int_equal(render(f, TPL_UNCLEAR, "en", all_vars, NVARS), 0);
	assert_non_null(strstr(f->body, "\nReference: 0123456789abcdef0123456789abcdef\n"));
	assert_int_equal(render(f, TPL_POLICY_CHANGE, "de", all_vars, NVARS), 0);
	assert_non_null(strstr(f->subject, "1.2"));
	assert_non_null(strstr(f->body, "- Neue Auftragsverarbeiter\n- Kürzere Speicherfristen\n"));
	assert_non_null(strstr(f->body, "2027-01-01"));
}

/* The shipped body lines stay short enough that quoted-printable never
 * breaks them (placeholders count as their names). */
static void test_shipped_line_width(void **state)
{
	char src[TU_PATH_MAX], p[TU_PATH_MAX];
	size_t l, k, n;

	(void)state;
	shipped_dir(src);
	for (l = 0; l < 2; l++)
		for (k = 0; k < NKINDS; k++) {
			char *text, *line, *save = NULL;
			unsigned no = 0;

			fmt(p, sizeof(p), "%s/%s/%s.txt", src, langs[l], kinds[k].file);
			text = tu_read(p, &n);
			assert_non_null(text);
			for (line = strtok_r(text, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save)) {
				size_t chars = 0;
				const char *c;

				no++;
				for (c = line; *c; c++)
					if (((unsigned char)*c & 0xC0) != 0x80)
						chars++;
				if (no > 1 && chars >= 76)
					fail_msg("%s:%u: %zu characters", p, no, chars);
			}
			free(text);
		}
}

/* ---- structure errors ---- */

static void test_missing_file(void **state)
{
	fixture *f = *state;
	char p[TU_PATH_MAX], want[TU_PATH_MAX + 64];

	fmt(p, sizeof(p), "%s/en/policy-change.txt", f->dir);
	assert_int_equal(remove(p), 0);
	snprintf(want, sizeof(want), "%s: cannot open: ", p);
	assert_int_equal(load(f), -1);
	assert_int_equal(strncmp(f->err, want, strlen(want)), 0);
	assert_null(f->ts);
}

static void test_not_regular(void **state)
{
	fixture *f = *state;
	char p[TU_PATH_MAX];

	fmt(p, sizeof(p), "%s/de/unclear-answer.txt", f->dir);
	assert_int_equal(remove(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	expect_error(f, "de", "unclear-answer", 0, "not a regular file");
}

static void test_too_large(void **state)
{
	fixture *f = *state;
	char *text = xmalloc(TEMPLATE_MAX + 2);
	size_t n;

	/* exactly TEMPLATE_MAX bytes loads */
	n = (size_t)snprintf(text, TEMPLATE_MAX, "%s", REQ_OK);
	while (n < TEMPLATE_MAX) {
		size_t take = TEMPLATE_MAX - n > 80 ? 80 : TEMPLATE_MAX - n;

		memset(text + n, 'x', take - 1);
		text[n + take - 1] = '\n';
		n += take;
	}
	put(f, "de", "consent-request", text, TEMPLATE_MAX);
	assert_int_equal(load(f), 0);
	/* one more byte does not */
	text[TEMPLATE_MAX] = '\n';
	put(f, "de", "consent-request", text, TEMPLATE_MAX + 1);
	expect_error(f, "de", "consent-request", 0, "file larger than 65536 bytes");
	free(text);
}

static void test_long_line(void **state)
{
	fixture *f = *state;
	char text[2048];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s", REQ_OK);

	memset(text + n, 'a', 998);
	memcpy(text + n + 998, "\n", 2);
	put(f, "en", "consent-request", text, (size_t)-1);
	assert_int_equal(load(f), 0);
	/* with CR LF, 998 bytes plus the line end are still fine */
	memcpy(text + n + 998, "\r\n", 3);
	put(f, "en", "consent-request", text, (size_t)-1);
	assert_int_equal(load(f), 0);
	memcpy(text + n + 998, "a\n", 3);
	put(f, "en", "consent-request", text, (size_t)-1);
	expect_error(f, "en", "consent-request", 7, "line longer than 998 bytes");
	/* the last line without a line feed counts too */
	text[n + 999] = '\0';
	put(f, "en", "consent-request", text, (size_t)-1);
	expect_error(f, "en", "consent-request", 7, "line longer than 998 bytes");
}

static void test_invalid_utf8(void **state)
{
	fixture *f = *state;
	static const char *const bad[] = {
		"Gr\374\337e\n",           /* Latin-1 */
		"\xC3\n",                     /* truncated */
		"\xC0\xAF\n",                 /* overlong */
		"\xED\xA0\x80\n",             /* surrogate */
		"\xF4\x90\x80\x80\n",         /* above U+10FFFF */
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "Subject: {{purpose_title}}\n\n{{token}}\n%s", bad[i]);
		put(f, "en", "unclear-answer", text, (size_t)-1);
		expect_error(f, "en", "unclear-answer", 4, "invalid UTF-8");
	}
	/* in the subject */
	put(f, "en", "unclear-answer", "Subject: \xFF {{purpose_title}}\n\n{{token}}\n",
	    (size_t)-1);
	expect_error(f, "en", "unclear-answer", 1, "invalid UTF-8");
}

static void test_control_chars(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "a\tb\n", "tab character (use spaces)" },
		{ "a\rb\n", "carriage return not directly before a line feed" },
		{ "a\r\r\n", "carriage return not directly before a line feed" },
		{ "a\x1b[31m\n", "control character 0x1B" },
		{ "a\x7f\n", "control character 0x7F" },
		{ "a\x0c\n", "control character 0x0C" },
		{ "a\xC2\x85\n", "control character U+0085" },
		{ "a\xC2\x9B\n", "control character U+009B" },
		{ "a\r", "carriage return not directly before a line feed" },
	};
	char text[512];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = (size_t)snprintf(text, sizeof(text), "%s%s", REQ_OK, cases[i].line);
		put(f, "de", "consent-request", text, n);
		expect_error(f, "de", "consent-request", 7, cases[i].msg);
	}
	/* a NUL byte */
	n = (size_t)snprintf(text, sizeof(text), "%sa", REQ_OK);
	text[n++] = '\0';
	text[n++] = '\n';
	put(f, "de", "consent-request", text, n);
	expect_error(f, "de", "consent-request", 7, "NUL byte");
	/* in the subject line */
	put(f, "de", "consent-request", "Subject: a\tb {{purpose_title}}\n\n{{controller}}\n",
	    (size_t)-1);
	expect_error(f, "de", "consent-request", 1, "tab character (use spaces)");
}

/* CR LF line ends are accepted and the CR is gone after loading. */
static void test_crlf_accepted(void **state)
{
	fixture *f = *state;

	put(f, "de", "consent-request",
	    "Subject: Einwilligung: {{purpose_title}}\r\n\r\n{{controller}}\r\n"
	    "{{purpose_description}} {{expires}} {{withdraw_address}}\r\n"
	    "Referenz: {{token}}\r\n", (size_t)-1);
	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_REQUEST, "de", all_vars, NVARS), 0);
	assert_string_equal(f->subject,
			    "Einwilligung: Verknüpfung Ihrer Daten mit Protokolldaten");
	assert_null(strchr(f->body, '\r'));
	assert_non_null(strstr(f->body, "\nReferenz: 0123456789abcdef0123456789abcdef\n"));
}

/* A UTF-8 byte order mark is not part of the Subject: line. */
static void test_bom_accepted(void **state)
{
	fixture *f = *state;

	put(f, "en", "consent-request", "\xEF\xBB\xBF" REQ_OK, (size_t)-1);
	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_REQUEST, "en", all_vars, NVARS), 0);
	assert_string_equal(f->subject,
			    "Einwilligung: Verknüpfung Ihrer Daten mit Protokolldaten");
}

static void test_subject_errors(void **state)
{
	fixture *f = *state;

	put(f, "de", "receipt-revoked", "", 0);
	expect_error(f, "de", "receipt-revoked", 1,
		     "empty file: expected a \"Subject:\" line");
	put(f, "de", "receipt-revoked", "\n\n{{purpose_title}} {{decision_time}}\n",
	    (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 1,
		     "no Subject: line (a template starts with \"Subject: ...\")");
	put(f, "de", "receipt-revoked", "Hallo {{purpose_title}}\n\n{{decision_time}}\n",
	    (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 1,
		     "no Subject: line (a template starts with \"Subject: ...\")");
	put(f, "de", "receipt-revoked", "Betreff: {{purpose_title}}\n\n{{decision_time}}\n",
	    (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 1,
		     "header \"Betreff:\" not allowed: a template sets only \"Subject:\"");
	put(f, "de", "receipt-revoked", "Subject:   \n\n{{purpose_title}} {{decision_time}}\n",
	    (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 1, "empty Subject:");
	put(f, "de", "receipt-revoked", "Subject: {{purpose_title}}\nSubject: again\n\n"
	    "{{decision_time}}\n", (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 2, "second Subject: line");
	put(f, "de", "receipt-revoked", "Subject: {{purpose_title}}\nbcc: x@example.org\n\n"
	    "{{decision_time}}\n", (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 2,
		     "header \"bcc:\" not allowed: a template sets only \"Subject:\"");
	put(f, "de", "receipt-revoked", "Subject: {{purpose_title}}\n more subject\n\n"
	    "{{decision_time}}\n", (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 2,
		     "folded Subject: line: keep the subject on one line");
	put(f, "de", "receipt-revoked", "Subject: {{purpose_title}}\nHallo,\n"
	    "{{decision_time}}\n", (size_t)-1);
	expect_error(f, "de", "receipt-revoked", 2,
		     "expected an empty line after the Subject: line");
	/* lower case "subject:" is the same header */
	put(f, "de", "receipt-revoked", "subject: {{purpose_title}}\n\n{{decision_time}}\n",
	    (size_t)-1);
	assert_int_equal(load(f), 0);
}

static void test_body_errors(void **state)
{
	fixture *f = *state;

	put(f, "en", "receipt-declined", "Subject: {{purpose_title}} {{decision_time}}",
	    (size_t)-1);
	expect_error(f, "en", "receipt-declined", 1,
		     "no empty line and body after the Subject: line");
	put(f, "en", "receipt-declined", "Subject: {{purpose_title}} {{decision_time}}\n",
	    (size_t)-1);
	expect_error(f, "en", "receipt-declined", 1,
		     "no empty line and body after the Subject: line");
	put(f, "en", "receipt-declined", "Subject: {{purpose_title}} {{decision_time}}\n\n",
	    (size_t)-1);
	expect_error(f, "en", "receipt-declined", 0,
		     "empty body: the text follows the empty line after Subject:");
	put(f, "en", "receipt-declined",
	    "Subject: {{purpose_title}} {{decision_time}}\n\n\n   \n\n", (size_t)-1);
	expect_error(f, "en", "receipt-declined", 0,
		     "empty body: the text follows the empty line after Subject:");
	/* required placeholders in the subject alone are enough; the body
	 * needs text, not placeholders */
	put(f, "en", "receipt-declined",
	    "Subject: {{purpose_title}} {{decision_time}}\n\nOK", (size_t)-1);
	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_RECEIPT_DECLINED, "en", all_vars, NVARS), 0);
	assert_string_equal(f->body, "OK\n");
}

/* ---- placeholders ---- */

static void test_placeholder_syntax(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "Hallo {{token\n", "unterminated placeholder: \"{{\" without \"}}\"" },
		{ "Hallo {{\n", "unterminated placeholder: \"{{\" without \"}}\"" },
		{ "Hallo {{token}\n", "unterminated placeholder: \"{{\" without \"}}\"" },
		{ "{{token}} {{\n", "unterminated placeholder: \"{{\" without \"}}\"" },
		{ "{{Token}}\n", "bad placeholder {{Token}}: a name is lowercase letters "
		  "a-z and _ only" },
		{ "{{ token }}\n", "bad placeholder {{ token }}: a name is lowercase letters "
		  "a-z and _ only" },
		{ "{{}}\n", "bad placeholder {{}}: a name is lowercase letters a-z and _ only" },
		{ "{{tok-en}}\n", "bad placeholder {{tok-en}}: a name is lowercase letters "
		  "a-z and _ only" },
		{ "{{{token}}}\n", "bad placeholder {{{token}}: a name is lowercase letters "
		  "a-z and _ only" },
		{ "{{foo}}\n", "unknown placeholder {{foo}}" },
		{ "x {{purpose_titles}}\n", "unknown placeholder {{purpose_titles}}" },
		{ "{{policy_summary}}\n", "unknown placeholder {{policy_summary}}: not "
		  "available in this template" },
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* eleven lines of text, then the case on line 12 */
		snprintf(text, sizeof(text), "%s\n\n\n\n\n%s", REQ_OK, cases[i].line);
		put(f, "de", "consent-request", text, (size_t)-1);
		expect_error(f, "de", "consent-request", 12, cases[i].msg);
	}
	/* in the subject */
	put(f, "de", "consent-request", "Subject: {{foo}}\n\n{{controller}}", (size_t)-1);
	expect_error(f, "de", "consent-request", 1, "unknown placeholder {{foo}}");
	put(f, "de", "consent-request", "Subject: {{token\n\n{{controller}}", (size_t)-1);
	expect_error(f, "de", "consent-request", 1,
		     "unterminated placeholder: \"{{\" without \"}}\"");
	/* single braces and a lone "}}" are plain text */
	snprintf(text, sizeof(text), "%s{x} }} {token}\n", REQ_OK);
	put(f, "de", "consent-request", text, (size_t)-1);
	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_REQUEST, "de", all_vars, NVARS), 0);
	assert_non_null(strstr(f->body, "\n{x} }} {token}\n"));
	/* a very long bad name is cut in the message, not overflowing it */
	memset(text, 'a', 400);
	memcpy(text, "Subject: x\n\n{{", 14);
	memcpy(text + 300, "}}\n", 4);
	put(f, "de", "consent-request", text, (size_t)-1);
	expect_error_prefix(f, "de", "consent-request", 3, "unknown placeholder {{aaaa");
}

/* For every template: each allowed placeholder loads, each other one is
 * refused, each required one is needed. */
static void test_placeholder_table(void **state)
{
	fixture *f = *state;
	char text[2048], want[128];
	size_t k, p, r, len;

	for (k = 0; k < NKINDS; k++) {
		const kind *kd = &kinds[k];

		/* all allowed ones at once */
		minimal(kd, text, sizeof(text));
		len = strlen(text);
		for (p = 0; all_ph[p]; p++)
			if (allowed_in(kd, all_ph[p]))
				len += (size_t)snprintf(text + len, sizeof(text) - len, "{{%s}}\n",
							all_ph[p]);
		put(f, "en", kd->file, text, (size_t)-1);
		if (load(f) != 0)
			fail_msg("%s: %s", kd->file, f->err);
		assert_int_equal(render(f, kd->id, "en", all_vars, NVARS), 0);

		/* each other one refused, on its line */
		for (p = 0; all_ph[p]; p++) {
			unsigned line = 3;

			if (allowed_in(kd, all_ph[p]))
				continue;
			minimal(kd, text, sizeof(text));
			for (r = 0; kd->required[r]; r++)
				line++;
			len = strlen(text);
			snprintf(text + len, sizeof(text) - len, "x {{%s}} y\n", all_ph[p]);
			put(f, "en", kd->file, text, (size_t)-1);
			snprintf(want, sizeof(want), "unknown placeholder {{%s}}: not available "
				 "in this template", all_ph[p]);
			expect_error(f, "en", kd->file, line + 1, want);
		}

		/* each required one missing */
		for (r = 0; kd->required[r]; r++) {
			size_t q;

			len = (size_t)snprintf(text, sizeof(text), "Subject: Test\n\nText\n");
			for (q = 0; kd->required[q]; q++)
				if (q != r)
					len += (size_t)snprintf(text + len, sizeof(text) - len,
								"{{%s}}\n", kd->required[q]);
			put(f, "en", kd->file, text, (size_t)-1);
			snprintf(want, sizeof(want), "missing required placeholder {{%s}}",
				 kd->required[r]);
			expect_error(f, "en", kd->file, 0, want);
		}

		/* the required ones in the subject count */
		len = (size_t)snprintf(text, sizeof(text), "Subject:");
		for (r = 0; kd->required[r]; r++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, " {{%s}}",
						kd->required[r]);
		snprintf(text + len, sizeof(text) - len, "\n\nText\n");
		put(f, "en", kd->file, text, (size_t)-1);
		if (load(f) != 0)
			fail_msg("%s: %s", kd->file, f->err);

		/* restore the shipped one */
		{
			char src[TU_PATH_MAX], a[TU_PATH_MAX], b[TU_PATH_MAX];

			shipped_dir(src);
			fmt(a, sizeof(a), "%s/en/%s.txt", src, kd->file);
			fmt(b, sizeof(b), "%s/en/%s.txt", f->dir, kd->file);
			copy_file(a, b);
		}
	}
	assert_int_equal(load(f), 0);
}

/* The shipped templates, each stripped of one required placeholder. */
static void test_shipped_missing_required(void **state)
{
	fixture *f = *state;
	char src[TU_PATH_MAX], p[TU_PATH_MAX], dst[TU_PATH_MAX], want[128], ph[64];
	size_t l, k, r, n;

	shipped_dir(src);
	for (l = 0; l < 2; l++)
		for (k = 0; k < NKINDS; k++)
			for (r = 0; kinds[k].required[r]; r++) {
				char *text, *hit;

				fmt(p, sizeof(p), "%s/%s/%s.txt", src, langs[l], kinds[k].file);
				text = tu_read(p, &n);
				assert_non_null(text);
				snprintf(ph, sizeof(ph), "{{%s}}", kinds[k].required[r]);
				assert_non_null(strstr(text, ph));
				while ((hit = strstr(text, ph)) != NULL)
					memset(hit, 'X', strlen(ph));
				put(f, langs[l], kinds[k].file, text, n);
				snprintf(want, sizeof(want), "missing required placeholder %s", ph);
				expect_error(f, langs[l], kinds[k].file, 0, want);
				free(text);
				fmt(dst, sizeof(dst), "%s/%s/%s.txt", f->dir, langs[l],
					 kinds[k].file);
				copy_file(p, dst);
			}
}

/* ---- rendering ---- */

static void test_render_exact(void **state)
{
	fixture *f = *state;
	static const tpl_var vars[] = {
		{ "purpose_title", "Titel" }, { "controller", "ACME" },
		{ "purpose_description", "Zeile 1\nZeile 2" }, { "expires", "morgen" },
		{ "withdraw_address", "w@example.org" }, { "token", "TOK" },
		{ "unused_extra", "ignored" },
	};

	put(f, "de", "consent-request", REQ_OK "{{token}}{{token}}\n", (size_t)-1);
	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_REQUEST, "de", vars, sizeof(vars) / sizeof(vars[0])), 0);
	assert_string_equal(f->subject, "Einwilligung: Titel");
	assert_string_equal(f->body, "ACME fragt.\nZeile 1\nZeile 2\n"
			    "Bis morgen. Widerruf: w@example.org\nReferenz: TOK\nTOKTOK\n");
	/* a value that looks like a placeholder is not expanded again */
	{
		tpl_var v2[sizeof(vars) / sizeof(vars[0])];

		memcpy(v2, vars, sizeof(vars));
		v2[1].value = "{{token}}";
		assert_int_equal(render(f, TPL_REQUEST, "de", v2, 7), 0);
		assert_non_null(strstr(f->body, "{{token}} fragt."));
	}
	/* NULL renders as "" */
	{
		tpl_var v3[sizeof(vars) / sizeof(vars[0])];

		memcpy(v3, vars, sizeof(vars));
		v3[3].value = NULL;
		assert_int_equal(render(f, TPL_REQUEST, "de", v3, 7), 0);
		assert_non_null(strstr(f->body, "Bis . Widerruf"));
	}
	/* the other language is still the shipped one */
	assert_int_equal(render(f, TPL_REQUEST, "en", all_vars, NVARS), 0);
	assert_non_null(strstr(f->body, "\nYES\n"));
}

static void test_render_missing_value(void **state)
{
	fixture *f = *state;
	tpl_var vars[NVARS];
	size_t i, j;

	assert_int_equal(load(f), 0);
	for (i = 0; i < NVARS; i++) {
		size_t n = 0;

		for (j = 0; j < NVARS; j++)
			if (j != i)
				vars[n++] = all_vars[j];
		/* every shipped request uses these */
		if (!strcmp(all_vars[i].name, "token") || !strcmp(all_vars[i].name, "controller") ||
		    !strcmp(all_vars[i].name, "purpose_title")) {
			char want[128];

			snprintf(want, sizeof(want), "de/consent-request: no value for "
				 "placeholder {{%s}}", all_vars[i].name);
			assert_int_equal(render(f, TPL_REQUEST, "de", vars, n), -1);
			assert_string_equal(f->err, want);
			assert_null(f->subject);
			assert_null(f->body);
		}
	}
	/* no values at all */
	assert_int_equal(render(f, TPL_POLICY_CHANGE, "en", NULL, 0), -1);
	assert_non_null(strstr(f->err, "no value for placeholder {{"));
}

/* bad_value - render with one value replaced; must fail naming it. */
static void bad_value(fixture *f, enum template_id id, const char *name, const char *value)
{
	tpl_var vars[NVARS];
	size_t i;
	char want[64];

	memcpy(vars, all_vars, sizeof(vars));
	for (i = 0; i < NVARS; i++)
		if (!strcmp(vars[i].name, name))
			vars[i].value = value;
	assert_int_equal(render(f, id, "de", vars, NVARS), -1);
	snprintf(want, sizeof(want), "{{%s}}", name);
	if (!strstr(f->err, want))
		fail_msg("error \"%s\" does not name %s", f->err, want);
	assert_null(f->subject);
	assert_null(f->body);
}

static void test_render_injection(void **state)
{
	fixture *f = *state;
	static const char *const bad[] = {
		"Eve\r\nBcc: x@example.org", "Eve\nBcc: x@example.org", "Eve\rBcc",
		"a\tb", "a\x1b", "a\x7f", "a\302\205b", "a\xC2\x9F", "\x01",
		"Gr\374\337e", "\xC3", "\xED\xA0\x80",
	};
	size_t i, k;

	assert_int_equal(load(f), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bad_value(f, TPL_REQUEST, "account_name", bad[i]);
		bad_value(f, TPL_REQUEST, "purpose_title", bad[i]);
		bad_value(f, TPL_REQUEST, "token", bad[i]);
		bad_value(f, TPL_RECEIPT_GRANTED, "service_name", bad[i]);
		/* a value the template does not use is checked all the same */
		bad_value(f, TPL_POLICY_CHANGE, "account_name", bad[i]);
		for (k = 0; k < NKINDS; k++)
			bad_value(f, kinds[k].id, "controller", bad[i]);
	}
	/* the multi-line values may hold LF in the body, but nothing else */
	bad_value(f, TPL_REQUEST, "purpose_description", "a\r\nb");
	bad_value(f, TPL_REQUEST, "purpose_description", "a\n\tb");
	bad_value(f, TPL_POLICY_CHANGE, "policy_summary", "a\nb\x1b");
	bad_value(f, TPL_POLICY_CHANGE, "policy_summary", "a\xC2\x85");

	/* LF in a value used in the subject: never */
	put(f, "de", "policy-change", "Subject: {{policy_summary}}\n\n{{policy_version}} "
	    "{{effective_date}}\n", (size_t)-1);
	assert_int_equal(load(f), 0);
	bad_value(f, TPL_POLICY_CHANGE, "policy_summary", "Neu\nBcc: x@example.org");
	assert_non_null(strstr(f->err, "Subject"));
}

static void test_render_args(void **state)
{
	fixture *f = *state;
	tpl_var dup[NVARS + 1];
	char *s = (char *)1, *b = (char *)1;

	assert_int_equal(load(f), 0);
	assert_int_equal(render(f, TPL_REQUEST, "fr", all_vars, NVARS), -1);
	assert_string_equal(f->err, "no templates for language 'fr' (de, en)");
	assert_int_equal(render(f, TPL_REQUEST, NULL, all_vars, NVARS), -1);
	assert_int_equal(render(f, TPL_REQUEST, "DE", all_vars, NVARS), -1);
	assert_int_equal(render(f, TPL_COUNT, "de", all_vars, NVARS), -1);
	assert_int_equal(template_render(NULL, TPL_REQUEST, "de", all_vars, NVARS, &s, &b,
					 f->err, sizeof(f->err)), -1);
	assert_null(s);
	assert_null(b);
	memcpy(dup, all_vars, sizeof(all_vars));
	dup[NVARS] = all_vars[0];
	assert_int_equal(render(f, TPL_REQUEST, "de", dup, NVARS + 1), -1);
	assert_string_equal(f->err, "value for {{service_name}} given twice");
	dup[NVARS].name = NULL;
	assert_int_equal(render(f, TPL_REQUEST, "de", dup, NVARS + 1), -1);
	/* load */
	template_set_free(f->ts);
	assert_int_equal(template_load(&f->ts, NULL, f->err, sizeof(f->err)), -1);
	assert_null(f->ts);
	assert_int_equal(template_load(&f->ts, "/nonexistent-consentd", f->err,
				       sizeof(f->err)), -1);
	assert_string_equal(f->err, "/nonexistent-consentd/de/consent-request.txt: "
			    "cannot open: No such file or directory");
	/* a tiny err buffer is not overrun */
	{
		char small[8];

		assert_int_equal(template_load(&f->ts, "/nonexistent-consentd", small,
					       sizeof(small)), -1);
		assert_int_equal(strlen(small), 7);
	}
	template_set_free(NULL);
}

static void test_render_subject_bounds(void **state)
{
	fixture *f = *state;
	tpl_var vars[NVARS];
	char *big;
	size_t i;

	memcpy(vars, all_vars, sizeof(vars));
	/* an empty rendered subject */
	put(f, "en", "unclear-answer", "Subject: {{purpose_title}}\n\n{{token}}\n", (size_t)-1);
	assert_int_equal(load(f), 0);
	for (i = 0; i < NVARS; i++)
		if (!strcmp(vars[i].name, "purpose_title"))
			vars[i].value = "";
	assert_int_equal(render(f, TPL_UNCLEAR, "en", vars, NVARS), -1);
	assert_string_equal(f->err, "en/unclear-answer: rendered Subject is empty");
	/* 998 bytes of subject are fine, 999 are not */
	big = xmalloc(1000);
	memset(big, 'a', 999);
	big[998] = '\0';
	for (i = 0; i < NVARS; i++)
		if (!strcmp(vars[i].name, "purpose_title"))
			vars[i].value = big;
	assert_int_equal(render(f, TPL_UNCLEAR, "en", vars, NVARS), 0);
	assert_int_equal(strlen(f->subject), 998);
	big[998] = 'a';
	big[999] = '\0';
	assert_int_equal(render(f, TPL_UNCLEAR, "en", vars, NVARS), -1);
	assert_string_equal(f->err, "en/unclear-answer: rendered Subject longer than 998 bytes");
	free(big);
}

static void test_render_body_bound(void **state)
{
	fixture *f = *state;
	tpl_var vars[NVARS];
	char *big;
	size_t i, n = 100 * 1024;

	memcpy(vars, all_vars, sizeof(vars));
	put(f, "en", "policy-change", "Subject: {{policy_version}} {{effective_date}}\n\n"
	    "{{policy_summary}}{{policy_summary}}{{policy_summary}}{{policy_summary}}\n"
	    "{{policy_summary}}{{policy_summary}}{{policy_summary}}{{policy_summary}}\n"
	    "{{policy_summary}}{{policy_summary}}{{policy_summary}}\n", (size_t)-1);
	assert_int_equal(load(f), 0);
	big = xmalloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	for (i = 0; i < NVARS; i++)
		if (!strcmp(vars[i].name, "policy_summary"))
			vars[i].value = big;
	assert_int_equal(render(f, TPL_POLICY_CHANGE, "en", vars, NVARS), -1);
	assert_string_equal(f->err, "en/policy-change: rendered text longer than 1048576 bytes");
	big[n / 2] = '\0';
	assert_int_equal(render(f, TPL_POLICY_CHANGE, "en", vars, NVARS), 0);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shipped_load, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_shipped_render_all, setup, teardown),
		cmocka_unit_test(test_shipped_line_width),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_chars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bom_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subject_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholder_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholder_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipped_missing_required, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_missing_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_subject_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_body_bound, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
