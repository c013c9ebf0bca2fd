/*
 * test_mime.c - unit tests for mime.h: a composed message has every header
 * exactly once and in RFC 5322 form, CRLF line ends only, no header line
 * over 78 characters where a break is possible, encoded words of at most
 * 75 characters split only between UTF-8 characters; libetpan (the
 * receiving side's parser) reads the encoded words, display names and the
 * quoted-printable body back to the original UTF-8; the subject reference
 * stays literal; and every header value with a control character, every
 * invalid address, message id, URI or language tag is refused with the
 * field named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#include "consentd/mime.h"
#include "consentd/template.h"
#include "consentd/text.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

/* A full specification that composes; tests change one field. */
static mail_spec base_spec(void)
{
	mail_spec m;

	memset(&m, 0, sizeof(m));
	m.from_name = "CloudWerk Datenschutz";
	m.from_addr = "datenschutz@cloudwerk.example";
	m.to_name = "Jörg Müller";
	m.to_addr = "joerg@example.org";
	m.reply_to = "consent+" TOKEN "@cloudwerk.example";
	m.message_id = "consent." TOKEN "@cloudwerk.example";
	m.in_reply_to = "CAF=abc.def@mail.example.org";
	m.subject = "Bitte um Ihre Einwilligung: Verknüpfung Ihrer Daten";
	m.subject_ref = TOKEN;
	m.list_unsubscribe = "mailto:consent+" TOKEN "@cloudwerk.example?subject=WIDERRUFEN";
	m.date = INT64_C(1795834307);   /* Sat, 28 Nov 2026 02:51:47 +0000 */
	m.lang = "de";
	m.body = "Guten Tag,\n\nGrüße aus München.\n\nReferenz: " TOKEN "\n";
	return m;
}

typedef struct msg {
	char *text;
	size_t len;
	size_t hdr_len;       /* through the empty line */
	char err[512];
} msg;

static int compose(const mail_spec *m, msg *out)
{
	memset(out, 0, sizeof(*out));
	return mime_compose(m, &out->text, &out->len, out->err, sizeof(out->err));
}

static void msg_free(msg *m)
{
	free(m->text);
	m->text = NULL;
}

/* assert_crlf_only - CR only before LF, LF only after CR, ends in CRLF. */
static void assert_crlf_only(const char *s, size_t n)
{
	size_t i;

	assert_true(n >= 2);
	assert_memory_equal(s + n - 2, "\r\n", 2);
	for (i = 0; i < n; i++) {
		if (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))
			fail_msg("bare CR at %zu", i);
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			fail_msg("bare LF at %zu", i);
		if (s[i] == '\0')
			fail_msg("NUL at %zu", i);
	}
	assert_int_equal(strlen(s), n);
}

static const char *header_end(const msg *m)
{
	const char *e = strstr(m->text, "\r\n\r\n");

	assert_non_null(e);
	return e + 2;   /* the CRLF of the last header line stays with it */
}

/* field - the value of the header name (unfolded: CRLF removed, leading
 * white space after the colon dropped), malloc'd; *count how often the
 * header occurs. NULL when it does not. */
static char *field(const msg *m, const char *name, int *count)
{
	const char *p = m->text, *end = header_end(m);
	size_t nl = strlen(name);
	char *val = NULL;

	*count = 0;
	while (p < end) {
		const char *eol = strstr(p, "\r\n"), *vend;

		assert_non_null(eol);
		vend = eol;
		while (vend[2] == ' ' || vend[2] == '\t') {
			vend = strstr(vend + 2, "\r\n");
			assert_non_null(vend);
		}
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t o = 0;

			(*count)++;
			while (*v == ' ')
				v++;
			free(val);
			val = malloc((size_t)(vend - v) + 1);
			assert_non_null(val);
			for (; v < vend; v++) {
				if (v[0] == '\r' && v[1] == '\n') {
					v++;
					continue;
				}
				val[o++] = *v;
			}
			val[o] = '\0';
		}
		p = vend + 2;
	}
	return val;
}

/* field_raw - the header line(s) of name as written, through the final CRLF. */
static char *field_raw(const msg *m, const char *name)
{
	const char *p = m->text, *end = header_end(m);
	size_t nl = strlen(name);

	while (p < end) {
		const char *vend = strstr(p, "\r\n");

		while (vend[2] == ' ' || vend[2] == '\t')
			vend = strstr(vend + 2, "\r\n");
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			return strndup(p, (size_t)(vend + 2 - p));
		p = vend + 2;
	}
	return NULL;
}

/* decode_phrase - RFC 2047 decoding by libetpan, malloc'd UTF-8. */
static char *decode_phrase(const char *raw)
{
	char *out = NULL;
	size_t idx = 0;

	assert_int_equal(mailmime_encoded_phrase_parse("us-ascii", raw, strlen(raw), &idx,
						       "utf-8", &out), MAILIMF_NO_ERROR);
	assert_non_null(out);
	return out;
}

/* decode_b64 - the bytes of one base64 text. */
static char *decode_b64(const char *s, size_t n, size_t *outlen)
{
	char *dec = NULL, *copy;
	size_t idx = 0;

	assert_int_equal(mailmime_part_parse(s, n, &idx, MAILMIME_MECHANISM_BASE64, &dec,
					     outlen), MAILIMF_NO_ERROR);
	copy = malloc(*outlen + 1);
	assert_non_null(copy);
	memcpy(copy, dec, *outlen);
	copy[*outlen] = '\0';
	mmap_string_unref(dec);
	return copy;
}

/* check_words - every encoded word in s is "=?UTF-8?B?...?=", at most 75
 * characters, and holds whole UTF-8 characters; returns how many. */
static int check_words(const char *s)
{
	const char *p = s;
	int n = 0;

	while ((p = strstr(p, "=?")) != NULL) {
		const char *q = strstr(p + 10, "?=");
		char *bytes;
		size_t len;

		assert_non_null(q);
		assert_memory_equal(p, "=?UTF-8?B?", 10);
		if ((size_t)(q + 2 - p) > 75)
			fail_msg("encoded word of %zu characters", (size_t)(q + 2 - p));
		bytes = decode_b64(p + 10, (size_t)(q - p - 10), &len);
		assert_true(len > 0 && len <= 45);
		assert_true(text_utf8_valid(bytes, len));
		free(bytes);
		p = q + 2;
		n++;
	}
	return n;
}

/* check_header_lines - no header line over 78 characters unless it is a
 * single unbreakable word after the continuation space. */
static void check_header_lines(const msg *m)
{
	const char *p = m->text, *end = header_end(m);

	while (p < end) {
		const char *eol = strstr(p, "\r\n");
		size_t n = (size_t)(eol - p);

		assert_true(n <= 998);
		if (n > 78) {
			/* only a value without a place to fold may be longer:
			 * no space after "Name: " or the continuation space */
			const char *v = p[0] == ' ' ? p + 1 : memchr(p, ' ', n);

			if (v && memchr(v + 1, ' ', n - (size_t)(v + 1 - p)))
				fail_msg("header line of %zu characters: %.*s", n, (int)n, p);
		}
		if (n > 0 && strspn(p, " \t") == n)
			fail_msg("header line of white space only");
		p = eol + 2;
	}
}

/* body_decoded - the quoted-printable body decoded by libetpan. */
static char *body_decoded(const msg *m, size_t *n)
{
	const char *b = strstr(m->text, "\r\n\r\n") + 4;
	char *dec = NULL, *copy;
	size_t idx = 0;

	assert_int_equal(mailmime_part_parse(b, m->len - (size_t)(b - m->text), &idx,
					     MAILMIME_MECHANISM_QUOTED_PRINTABLE, &dec, n),
			 MAILIMF_NO_ERROR);
	copy = malloc(*n + 1);
	assert_non_null(copy);
	memcpy(copy, dec, *n);
	copy[*n] = '\0';
	mmap_string_unref(dec);
	return copy;
}

/* crlf - s with every LF made CRLF, malloc'd. */
static char *crlf(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1), *o = out;

	assert_non_null(out);
	for (; *s; s++) {
		if (*s == '\n')
			*o++ = '\r';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* to_display_name - the To mailbox as libetpan parses it: display name
 * (RFC 2047 decoded, malloc'd) and address. */
static char *to_display_name(const msg *m, char addr[256])
{
	struct mailmime *mime = NULL;
	clistiter *it;
	char *name = NULL;
	size_t idx = 0;
	bool found = false;

	assert_int_equal(mailmime_parse(m->text, m->len, &idx, &mime), MAILIMF_NO_ERROR);
	for (it = clist_begin(mime->mm_data.mm_message.mm_fields->fld_list); it;
	     it = clist_next(it)) {
		struct mailimf_field *f = clist_content(it);
		struct mailimf_address *a;

		if (f->fld_type != MAILIMF_FIELD_TO)
			continue;
		assert_int_equal(clist_count(f->fld_data.fld_to->to_addr_list->ad_list), 1);
		a = clist_content(clist_begin(f->fld_data.fld_to->to_addr_list->ad_list));
		assert_int_equal(a->ad_type, MAILIMF_ADDRESS_MAILBOX);
		snprintf(addr, 256, "%s", a->ad_data.ad_mailbox->mb_addr_spec);
		if (a->ad_data.ad_mailbox->mb_display_name)
			name = decode_phrase(a->ad_data.ad_mailbox->mb_display_name);
		found = true;
	}
	assert_true(found);
	mailmime_free(mime);
	return name;
}

/* ---- the whole message ---- */

static const char *const every_header[] = {
	"Date", "From", "To", "Reply-To", "Subject", "Message-ID", "In-Reply-To",
	"List-Unsubscribe", "Auto-Submitted", "X-Auto-Response-Suppress",
	"Content-Language", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
};
#define NHEADERS (sizeof(every_header) / sizeof(every_header[0]))

static void expect_field(const msg *m, const char *name, const char *value)
{
	int count;
	char *v = field(m, name, &count);

	if (count != 1)
		fail_msg("%s occurs %d times", name, count);
	assert_string_equal(v, value);
	free(v);
}

static void test_full_message(void **state)
{
	mail_spec s = base_spec();
	msg m;
	size_t i, n, lines = 0;
	const char *p;
	char *v, *dec, *want;
	int count;

	(void)state;
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	check_header_lines(&m);
	for (i = 0; i < NHEADERS; i++) {
		v = field(&m, every_header[i], &count);
		if (count != 1)
			fail_msg("%s occurs %d times", every_header[i], count);
		free(v);
	}
	/* nothing else in the header */
	for (p = m.text; p < header_end(&m); p = strstr(p, "\r\n") + 2)
		if (*p != ' ')
			lines++;
	assert_int_equal(lines, NHEADERS);

	expect_field(&m, "Date", "Sat, 28 Nov 2026 02:51:47 +0000");
	expect_field(&m, "From", "CloudWerk Datenschutz <datenschutz@cloudwerk.example>");
	expect_field(&m, "Reply-To", "<consent+" TOKEN "@cloudwerk.example>");
	expect_field(&m, "Message-ID", "<consent." TOKEN "@cloudwerk.example>");
	expect_field(&m, "In-Reply-To", "<CAF=abc.def@mail.example.org>");
	expect_field(&m, "List-Unsubscribe",
		     "<mailto:consent+" TOKEN "@cloudwerk.example?subject=WIDERRUFEN>");
	expect_field(&m, "Auto-Submitted", "auto-generated");
	expect_field(&m, "X-Auto-Response-Suppress", "OOF, AutoReply");
	expect_field(&m, "Content-Language", "de");
	expect_field(&m, "MIME-Version", "1.0");
	expect_field(&m, "Content-Type", "text/plain; charset=UTF-8");
	expect_field(&m, "Content-Transfer-Encoding", "quoted-printable");

	/* Subject: encoded words, then the literal reference */
	v = field(&m, "Subject", &count);
	assert_true(check_words(v) >= 1);
	assert_non_null(strstr(v, "?= [" TOKEN "]"));
	dec = decode_phrase(v);
	assert_string_equal(dec, "Bitte um Ihre Einwilligung: Verknüpfung Ihrer Daten [" TOKEN "]");
	free(dec);
	free(v);
	v = field_raw(&m, "Subject");
	assert_non_null(strstr(v, TOKEN));
	free(v);

	/* body */
	dec = body_decoded(&m, &n);
	want = crlf(s.body);
	assert_string_equal(dec, want);
	free(want);
	free(dec);
	assert_non_null(strstr(m.text, "\r\nReferenz: " TOKEN "\r\n"));
	msg_free(&m);
}

/* libetpan parses the whole message as a single text/plain UTF-8 part. */
static void test_libetpan_parses(void **state)
{
	mail_spec s = base_spec();
	struct mailmime *mime = NULL;
	struct mailmime_data *d;
	msg m;
	size_t idx = 0;

	(void)state;
	assert_int_equal(compose(&s, &m), 0);
	assert_int_equal(mailmime_parse(m.text, m.len, &idx, &mime), MAILIMF_NO_ERROR);
	assert_int_equal(mime->mm_type, MAILMIME_MESSAGE);
	assert_non_null(mime->mm_data.mm_message.mm_msg_mime);
	assert_int_equal(mime->mm_data.mm_message.mm_msg_mime->mm_type, MAILMIME_SINGLE);
	d = mime->mm_data.mm_message.mm_msg_mime->mm_data.mm_single;
	assert_int_equal(d->dt_encoding, MAILMIME_MECHANISM_QUOTED_PRINTABLE);
	assert_string_equal(mailmime_content_charset_get(
		mime->mm_data.mm_message.mm_msg_mime->mm_content_type), "UTF-8");
	mailmime_free(mime);
	msg_free(&m);
}

static void test_optional_fields(void **state)
{
	mail_spec s = base_spec();
	msg m;
	int count;
	char *v;

	(void)state;
	s.reply_to = NULL;
	s.in_reply_to = NULL;
	s.list_unsubscribe = NULL;
	s.lang = NULL;
	s.subject_ref = NULL;
	s.to_name = NULL;
	s.from_name = "";
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	v = field(&m, "Reply-To", &count);
	assert_int_equal(count, 0);
	v = field(&m, "In-Reply-To", &count);
	assert_int_equal(count, 0);
	v = field(&m, "List-Unsubscribe", &count);
	assert_int_equal(count, 0);
	v = field(&m, "Content-Language", &count);
	assert_int_equal(count, 0);
	(void)v;
	expect_field(&m, "To", "joerg@example.org");
	expect_field(&m, "From", "datenschutz@cloudwerk.example");
	v = field(&m, "Subject", &count);
	assert_null(strchr(v, '['));
	free(v);
	msg_free(&m);
	/* "" counts as not set for the reference and the language */
	s = base_spec();
	s.subject_ref = "";
	s.lang = "";
	s.to_name = "";
	assert_int_equal(compose(&s, &m), 0);
	v = field(&m, "Content-Language", &count);
	assert_int_equal(count, 0);
	expect_field(&m, "To", "joerg@example.org");
	v = field(&m, "Subject", &count);
	assert_null(strchr(v, '['));
	free(v);
	msg_free(&m);
}

static void test_date(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ INT64_C(951825605), "Tue, 29 Feb 2000 12:00:05 +0000" },
		{ INT64_C(1795834307), "Sat, 28 Nov 2026 02:51:47 +0000" },
		{ INT64_C(253402300799), "Fri, 31 Dec 9999 23:59:59 +0000" },
	};
	mail_spec s = base_spec();
	msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.date = cases[i].t;
		assert_int_equal(compose(&s, &m), 0);
		expect_field(&m, "Date", cases[i].s);
		msg_free(&m);
	}
	s.date = INT64_C(253402300800);
	assert_int_equal(compose(&s, &m), -1);
	assert_string_equal(m.err, "Date: out of range");
	s.date = INT64_MAX;
	assert_int_equal(compose(&s, &m), -1);
	assert_null(m.text);
}

/* ---- display names ---- */

static void check_to_name(const char *name, const char *raw_expect)
{
	mail_spec s = base_spec();
	msg m;
	char addr[256], *dn, *raw;
	int count;

	s.to_name = name;
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	check_header_lines(&m);
	raw = field(&m, "To", &count);
	assert_int_equal(count, 1);
	if (raw_expect)
		assert_string_equal(raw, raw_expect);
	check_words(raw);
	free(raw);
	dn = to_display_name(&m, addr);
	assert_string_equal(addr, "joerg@example.org");
	assert_non_null(dn);
	assert_string_equal(dn, name);
	free(dn);
	msg_free(&m);
}

static void test_display_names(void **state)
{
	(void)state;
	/* atoms */
	check_to_name("Joerg Mueller", "Joerg Mueller <joerg@example.org>");
	check_to_name("O'Brien", "O'Brien <joerg@example.org>");
	/* specials: a quoted string, with " and \ escaped */
	check_to_name("Mueller, Joerg", "\"Mueller, Joerg\" <joerg@example.org>");
	check_to_name("Dr. J. Mueller", "\"Dr. J. Mueller\" <joerg@example.org>");
	check_to_name("Eve \"the\" Hacker", "\"Eve \\\"the\\\" Hacker\" <joerg@example.org>");
	check_to_name("back\\slash", "\"back\\\\slash\" <joerg@example.org>");
	check_to_name("<eve@evil.example>", "\"<eve@evil.example>\" <joerg@example.org>");
	{
		/* leading space: quoted as given (libetpan drops it when parsing) */
		mail_spec s = base_spec();
		msg m;
		char *raw;
		int count;

		s.to_name = " leading";
		assert_int_equal(compose(&s, &m), 0);
		raw = field(&m, "To", &count);
		assert_string_equal(raw, "\" leading\" <joerg@example.org>");
		free(raw);
		msg_free(&m);
	}
	/* non-ASCII: encoded words */
	check_to_name("Jörg Müller", NULL);
	check_to_name("Jörg \"der Große\" Müller, Ph.D.", NULL);
	check_to_name("山田太郎", NULL);
	/* something that looks like an encoded word is encoded itself */
	check_to_name("=?UTF-8?B?RXZl?=", NULL);
	/* a long non-ASCII name folds into several words */
	check_to_name("Maximiliane Österreicher-Großmann von und zu Überlingen am "
		      "Bodensee und Fürstenfeldbruck", NULL);
	/* a long ASCII name folds at spaces */
	check_to_name("Maximiliane Oesterreicher-Grossmann von und zu Ueberlingen am "
		      "Bodensee und Fuerstenfeldbruck", NULL);
	check_to_name("Maximiliane Oesterreicher-Grossmann, von und zu Ueberlingen am "
		      "Bodensee und Fuerstenfeldbruck", NULL);
}

static void test_from_name(void **state)
{
	mail_spec s = base_spec();
	msg m;
	char *v, *dec;
	int count;

	(void)state;
	s.from_name = "CloudWerk Datenschutzbüro";
	assert_int_equal(compose(&s, &m), 0);
	v = field(&m, "From", &count);
	assert_int_equal(count, 1);
	assert_int_equal(check_words(v), 1);
	assert_non_null(strstr(v, "?= <datenschutz@cloudwerk.example>"));
	*strstr(v, " <") = '\0';
	dec = decode_phrase(v);
	assert_string_equal(dec, "CloudWerk Datenschutzbüro");
	free(dec);
	free(v);
	msg_free(&m);
}

/* ---- subjects ---- */

/* check_subject - compose with subject and ref; the lines obey the limits
 * and the decoded subject is the original plus " [ref]". */
static void check_subject(const char *subject, const char *ref)
{
	mail_spec s = base_spec();
	msg m;
	char *v, *dec, want[2048];
	int count;

	s.subject = subject;
	s.subject_ref = ref;
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	check_header_lines(&m);
	v = field(&m, "Subject", &count);
	assert_int_equal(count, 1);
	check_words(v);
	if (ref) {
		snprintf(want, sizeof(want), "[%s]", ref);
		assert_non_null(strstr(v, want));
		snprintf(want, sizeof(want), "%s%s[%s]", subject, *subject ? " " : "", ref);
	} else {
		snprintf(want, sizeof(want), "%s", subject);
	}
	dec = decode_phrase(v);
	assert_string_equal(dec, want);
	free(dec);
	free(v);
	/* the reference is never broken across lines */
	if (ref) {
		v = field_raw(&m, "Subject");
		assert_non_null(strstr(v, ref));
		free(v);
	}
	msg_free(&m);
}

static void test_subject_ascii(void **state)
{
	mail_spec s = base_spec();
	msg m;
	char *raw;

	(void)state;
	s.subject = "Please answer YES or NO";
	assert_int_equal(compose(&s, &m), 0);
	raw = field_raw(&m, "Subject");
	assert_string_equal(raw, "Subject: Please answer YES or NO [" TOKEN "]\r\n");
	free(raw);
	msg_free(&m);

	check_subject("Please answer YES or NO", TOKEN);
	check_subject("Request for your consent: Linking your personal data with log data "
		      "for the purpose of improving our services and the security of the "
		      "platform", TOKEN);
	check_subject("Request for your consent: Linking your personal data with log data",
		      NULL);
	/* one word longer than a line stays whole */
	check_subject("Einwilligung: "
		      "Donaudampfschifffahrtsgesellschaftskapitaenswitwenrentenversicherungs"
		      "anstaltsangestelltengewerkschaft und mehr", TOKEN);
	/* doubled spaces are written as given (libetpan's phrase decoder
	 * collapses them, so compare the raw header) */
	s.subject = "a  b   c";
	assert_int_equal(compose(&s, &m), 0);
	raw = field_raw(&m, "Subject");
	assert_string_equal(raw, "Subject: a  b   c [" TOKEN "]\r\n");
	free(raw);
	msg_free(&m);
	/* text that looks like an encoded word is encoded */
	check_subject("=?UTF-8?B?SGFjaw==?= not decoded", TOKEN);
	/* empty subject: the reference alone */
	check_subject("", TOKEN);
}

static void test_subject_umlauts(void **state)
{
	(void)state;
	check_subject("Bitte um Ihre Einwilligung: Verknüpfung Ihrer personenbezogenen "
		      "Daten mit Protokolldaten zur Verbesserung unserer Dienste und zur "
		      "Erhöhung der Sicherheit – Änderungen für Übersee-Kunden äöüß", TOKEN);
	check_subject("ÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüßÄÖÜäöüß", TOKEN);
	check_subject("€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€", TOKEN);
	check_subject("😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", TOKEN);
	check_subject("a€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀", NULL);
	check_subject("Ü", TOKEN);
}

/* mime_header_words at every starting column: lines within 78, words
 * within 75 holding whole characters, decoding back to the text. */
static void test_header_words_columns(void **state)
{
	static const char *const texts[] = {
		"a€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀ä€😀",
		"Verknüpfung Ihrer personenbezogenen Daten mit Protokolldaten",
		"Request for your consent: Linking your personal data with log data",
		"x",
	};
	char err[256];
	size_t t, used;

	(void)state;
	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		for (used = 0; used <= 76; used++) {
			char *w = mime_header_words(texts[t], used, err, sizeof(err));
			char *line, *dec, *unfolded, *o;
			const char *p;
			size_t col = used;
			bool first = true, ascii = true;

			for (p = texts[t]; *p; p++)
				if ((unsigned char)*p >= 0x80)
					ascii = false;

			assert_non_null(w);
			/* line lengths, counting the used columns on the first */
			for (p = w; *p; p++) {
				if (p[0] == '\r') {
					assert_int_equal(p[1], '\n');
					assert_int_equal(p[2], ' ');
					col = 0;
					first = false;
					p++;
					continue;
				}
				assert_int_not_equal(*p, '\n');
				col++;
				/* ASCII is folded at spaces only: the first word
				 * may overrun a line already nearly full */
				if (col > 78 && !(ascii && first))
					fail_msg("line of %zu columns at used=%zu", col, used);
			}
			check_words(w);
			unfolded = malloc(strlen(w) + 1);
			assert_non_null(unfolded);
			for (p = w, o = unfolded; *p; p++) {
				if (*p == '\r' || *p == '\n')
					continue;
				*o++ = *p;
			}
			*o = '\0';
			line = unfolded;
			dec = decode_phrase(line);
			assert_string_equal(dec, texts[t]);
			free(dec);
			free(unfolded);
			free(w);
		}
	}
	/* control characters and invalid UTF-8 are refused */
	assert_null(mime_header_words("a\r\nBcc: x@example.org", 9, err, sizeof(err)));
	assert_non_null(strstr(err, "control character"));
	assert_null(mime_header_words("Gr\374\337e", 9, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid UTF-8"));
	assert_null(mime_header_words(NULL, 9, err, sizeof(err)));
}

/* ---- body ---- */

static void check_body(const char *body)
{
	mail_spec s = base_spec();
	msg m;
	char *dec, *want, *withlf = NULL;
	const char *p;
	size_t n;

	s.body = body;
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	/* every body line within 76 characters */
	for (p = strstr(m.text, "\r\n\r\n") + 4; *p; p = strstr(p, "\r\n") + 2)
		assert_true((size_t)(strstr(p, "\r\n") - p) <= 76);
	dec = body_decoded(&m, &n);
	if (*body && body[strlen(body) - 1] != '\n') {
		withlf = malloc(strlen(body) + 2);
		assert_non_null(withlf);
		sprintf(withlf, "%s\n", body);
		body = withlf;
	}
	want = crlf(body);
	assert_string_equal(dec, want);
	free(want);
	free(dec);
	free(withlf);
	msg_free(&m);
}

static void test_body_qp(void **state)
{
	char longline[600];
	size_t i;

	(void)state;
	check_body("Grüße aus München äöü § = Ende\n");
	check_body("trailing space \nand tab\t\n");
	check_body("From me\nFrom: you\n");
	check_body(".\n..\nline\n.");
	check_body("no final line feed");
	check_body("\n\n\n");
	for (i = 0; i + 2 < sizeof(longline); i += 2)
		memcpy(longline + i, "ä", 2);
	longline[i] = '\0';
	check_body(longline);
	check_body("=?UTF-8?B?x?= =3D =\n");
	check_body("😀 € 漢字\n");
	/* trailing white space survives exactly (libetpan alone doubles it) */
	check_body("one \ntwo  \nthree\t\nfour \t \n   \n\t\nend ");
	for (i = 60; i < 80; i++) {
		char buf[128];

		memset(buf, 'x', i);
		memcpy(buf + i, "   \t \nnext\n", 12);
		check_body(buf);
		memset(buf, ' ', i);
		memcpy(buf + i, "\n", 2);
		check_body(buf);
	}
}

static void test_body_empty(void **state)
{
	mail_spec s = base_spec();
	msg m;

	(void)state;
	s.body = "";
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	assert_memory_equal(m.text + m.len - 4, "\r\n\r\n", 4);
	msg_free(&m);
}

/* The token reference line comes through literally, unbroken. */
static void test_body_token_literal(void **state)
{
	mail_spec s = base_spec();
	msg m;

	(void)state;
	assert_int_equal(compose(&s, &m), 0);
	assert_non_null(strstr(m.text, "\r\nReferenz: " TOKEN "\r\n"));
	msg_free(&m);
}

static void test_body_refused(void **state)
{
	static const char *const bad[] = {
		"Gr\374\337e\n", "\xC3", "a\r\nb\n", "a\rb\n", "a\x1b[2J\n", "a\x7f\n",
		"a\xC2\x85\n", "\x0c\n",
	};
	mail_spec s = base_spec();
	msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.body = bad[i];
		assert_int_equal(compose(&s, &m), -1);
		assert_null(m.text);
		assert_int_equal(strncmp(m.err, "body: ", 6), 0);
	}
	s.body = NULL;
	assert_int_equal(compose(&s, &m), -1);
	assert_string_equal(m.err, "body: missing");
}

/* ---- refusals ---- */

enum fld { F_FROM_NAME, F_FROM_ADDR, F_TO_NAME, F_TO_ADDR, F_REPLY_TO, F_MSGID,
	   F_IN_REPLY_TO, F_SUBJECT, F_REF, F_UNSUB, F_LANG, F_COUNT };

static const char *const fld_label[F_COUNT] = {
	"From name", "From address", "To name", "To address", "Reply-To", "Message-ID",
	"In-Reply-To", "Subject", "Subject reference", "List-Unsubscribe",
	"Content-Language",
};

static void set_field(mail_spec *s, enum fld f, const char *v)
{
	switch (f) {
	case F_FROM_NAME: s->from_name = v; break;
	case F_FROM_ADDR: s->from_addr = v; break;
	case F_TO_NAME: s->to_name = v; break;
	case F_TO_ADDR: s->to_addr = v; break;
	case F_REPLY_TO: s->reply_to = v; break;
	case F_MSGID: s->message_id = v; break;
	case F_IN_REPLY_TO: s->in_reply_to = v; break;
	case F_SUBJECT: s->subject = v; break;
	case F_REF: s->subject_ref = v; break;
	case F_UNSUB: s->list_unsubscribe = v; break;
	case F_LANG: s->lang = v; break;
	case F_COUNT: break;
	}
}

static void expect_refused(enum fld f, const char *v)
{
	mail_spec s = base_spec();
	msg m;

	set_field(&s, f, v);
	if (compose(&s, &m) != -1)
		fail_msg("%s = \"%s\" was accepted", fld_label[f], v);
	assert_null(m.text);
	assert_int_equal(m.len, 0);
	if (strncmp(m.err, fld_label[f], strlen(fld_label[f])) != 0 ||
	    m.err[strlen(fld_label[f])] != ':')
		fail_msg("error \"%s\" does not name %s", m.err, fld_label[f]);
}

/* Header injection through every field: CR, LF, both, TAB, other C0, DEL,
 * C1 (NEL U+0085, CSI U+009B) - all refused, naming the field. */
static void test_injection_every_field(void **state)
{
	static const char *const tails[] = {
		"\r\nBcc: x@example.org", "\nBcc: x@example.org", "\rBcc: x@example.org",
		"\r\n\r\nbody", "\r\n Folded", "\t", "\x01", "\x1b", "\x7f", "\xC2\x85", "\xC2\x9B",
	};
	static const char *const base[F_COUNT] = {
		"Eve", "eve@example.org", "Eve", "eve@example.org", "eve@example.org",
		"id@example.org", "id@example.org", "Subject", "REF", "mailto:x@example.org", "de",
	};
	char v[128];
	size_t f, t;

	(void)state;
	for (f = 0; f < F_COUNT; f++)
		for (t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			snprintf(v, sizeof(v), "%s%s", base[f], tails[t]);
			expect_refused((enum fld)f, v);
			/* at the start too */
			snprintf(v, sizeof(v), "%s%s", tails[t], base[f]);
			expect_refused((enum fld)f, v);
		}
	/* a subject with an injection in the middle of non-ASCII text */
	expect_refused(F_SUBJECT, "Einwilligung für Überprüfung\r\nBcc: x@example.org");
	expect_refused(F_TO_NAME, "Jörg\nBcc: x@example.org");
}

static void test_bad_values(void **state)
{
	static const struct {
		enum fld f;
		const char *v;
	} cases[] = {
		{ F_FROM_ADDR, NULL }, { F_FROM_ADDR, "" }, { F_FROM_ADDR, "no-at-sign" },
		{ F_FROM_ADDR, "a b@example.org" }, { F_FROM_ADDR, "\"q\"@example.org" },
		{ F_FROM_ADDR, "x@[127.0.0.1]" }, { F_FROM_ADDR, "jörg@example.org" },
		{ F_TO_ADDR, NULL }, { F_TO_ADDR, "<eve@example.org>" },
		{ F_TO_ADDR, "eve@example.org, bob@example.org" },
		{ F_TO_ADDR, "Eve <eve@example.org>" },
		{ F_REPLY_TO, "" }, { F_REPLY_TO, "consent+x@localhost" },
		{ F_MSGID, NULL }, { F_MSGID, "" }, { F_MSGID, "no-at" },
		{ F_MSGID, "a b@example.org" }, { F_MSGID, "<a@example.org>" },
		{ F_MSGID, "a@example.org>" }, { F_MSGID, "ä@example.org" },
		{ F_IN_REPLY_TO, "x" }, { F_IN_REPLY_TO, "a@b> <c@d" },
		{ F_SUBJECT, NULL }, { F_SUBJECT, "Gr\374\337e" },
		{ F_REF, "A B" }, { F_REF, "[x]" }, { F_REF, "ä" }, { F_REF, "=?x" },
		{ F_UNSUB, "" }, { F_UNSUB, "mailto:a@b.example> <http://evil.example" },
		{ F_UNSUB, "mailto:a b@example.org" }, { F_UNSUB, "mailto:ä@example.org" },
		{ F_LANG, "de de" }, { F_LANG, "-de" }, { F_LANG, "de_DE" },
		{ F_LANG, "abcdefghijklmnopqrstuvwxyzabcdefghij" },
		{ F_FROM_NAME, "Gr\374\337e" }, { F_TO_NAME, "\xED\xA0\x80" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].f, cases[i].v);
}

static void test_limits(void **state)
{
	mail_spec s = base_spec();
	char name[256], id[1100];
	msg m;

	(void)state;
	/* display names up to 200 bytes */
	memset(name, 'a', 200);
	name[200] = '\0';
	s.to_name = name;
	assert_int_equal(compose(&s, &m), 0);
	msg_free(&m);
	name[200] = 'a';
	name[201] = '\0';
	expect_refused(F_TO_NAME, name);
	expect_refused(F_FROM_NAME, name);
	/* no header line over 998 */
	memset(id, 'i', sizeof(id));
	memcpy(id + 1000, "@example.org", 13);
	s = base_spec();
	s.message_id = id;
	assert_int_equal(compose(&s, &m), -1);
	assert_string_equal(m.err, "Message-ID: header line longer than 998 characters");
	/* a subject word that cannot be folded below 998 is refused */
	{
		char word[1200];

		memset(word, 'w', 1100);
		word[1100] = '\0';
		s = base_spec();
		s.subject = word;
		assert_int_equal(compose(&s, &m), -1);
		assert_string_equal(m.err, "Subject: header line longer than 998 characters");
	}
	/* bad arguments */
	assert_int_equal(mime_compose(NULL, &m.text, &m.len, m.err, sizeof(m.err)), -1);
	s = base_spec();
	assert_int_equal(mime_compose(&s, NULL, &m.len, m.err, sizeof(m.err)), -1);
}

/* The shipped request, rendered and composed: what the person receives
 * decodes to exactly what the template rendered. */
static void test_rendered_request(void **state)
{
	static const tpl_var vars[] = {
		{ "service_name", "CloudWerk Datenschutz" },
		{ "service_address", "datenschutz@cloudwerk.example" },
		{ "controller", "CloudWerk GmbH, Musterstraße 1, 10115 Berlin" },
		{ "account_name", "Jörg Müller" }, { "account_email", "joerg@example.org" },
		{ "purpose", "log-linking" },
		{ "purpose_title", "Verknüpfung Ihrer personenbezogenen Daten mit Protokolldaten" },
		{ "purpose_description", "Wir verknüpfen Ihre Kundennummer mit den IP-Adressen "
		  "in unseren Server-Protokollen, um Missbrauch Ihres Kontos zu erkennen und "
		  "unsere Dienste zu verbessern. Betroffen sind Kundennummer und IP-Adresse." },
		{ "purpose_version", "1" }, { "token", TOKEN },
		{ "reply_address", "consent+" TOKEN "@cloudwerk.example" },
		{ "withdraw_address", "consent@cloudwerk.example" },
		{ "expires", "28.12.2026" }, { "lifetime_days", "30" },
	};
	const char *f = __FILE__, *tail = "tests/unit/test_mime.c";
	char dir[1024], err[512], *subject = NULL, *body = NULL, *v, *dec, *want;
	template_set *ts = NULL;
	mail_spec s = base_spec();
	msg m;
	size_t n = strlen(f), t = strlen(tail);
	int count;

	(void)state;
	assert_true(n > t && !strcmp(f + n - t, tail));
	snprintf(dir, sizeof(dir), "%.*smailtemplates", (int)(n - t), f);
	if (template_load(&ts, dir, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(template_render(ts, TPL_REQUEST, "de", vars,
					 sizeof(vars) / sizeof(vars[0]), &subject, &body, err,
					 sizeof(err)), 0);
	s.subject = subject;
	s.body = body;
	assert_int_equal(compose(&s, &m), 0);
	assert_crlf_only(m.text, m.len);
	check_header_lines(&m);
	v = field(&m, "Subject", &count);
	dec = decode_phrase(v);
	assert_string_equal(dec, "Bitte um Ihre Einwilligung: Verknüpfung Ihrer "
			    "personenbezogenen Daten mit Protokolldaten [" TOKEN "]");
	free(dec);
	free(v);
	dec = body_decoded(&m, &n);
	want = crlf(body);
	assert_string_equal(dec, want);
	assert_non_null(strstr(m.text, "\r\nReferenz: " TOKEN "\r\n"));
	assert_non_null(strstr(dec, "\r\nJA\r\n"));
	assert_non_null(strstr(dec, "\r\nNEIN\r\n"));
	assert_non_null(strstr(dec, "\r\nWIDERRUFEN\r\n"));
	free(want);
	free(dec);
	msg_free(&m);
	free(subject);
	free(body);
	template_set_free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_message),
		cmocka_unit_test(test_libetpan_parses),
		cmocka_unit_test(test_optional_fields),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_display_names),
		cmocka_unit_test(test_from_name),
		cmocka_unit_test(test_subject_ascii),
		cmocka_unit_test(test_subject_umlauts),
		cmocka_unit_test(test_header_words_columns),
		cmocka_unit_test(test_body_qp),
		cmocka_unit_test(test_body_empty),
		cmocka_unit_test(test_body_token_literal),
		cmocka_unit_test(test_body_refused),
		cmocka_unit_test(test_injection_every_field),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_rendered_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
