/*
 * test_inmail.c - unit tests for inmail.h: every header field the judge
 * reads, RFC 2047 subjects, transfer encodings and charsets, the choice of
 * the text part, HTML to text without quotes, format=flowed, undecodable
 * parts, DSNs, and every limit exactly at and one past its bound.
 *
 * The table cases compare every field: a member not named in a case must
 * come back NULL (or 0). Lists are written joined with ",".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/inmail.h"
#include "consentd/text.h"

struct want {
	const char *name;
	const char *raw;
	enum inmail_error error;
	const char *message_id, *in_reply_to, *references, *subject;
	size_t from_count;
	const char *from_addr, *return_path, *rcpts;
	const char *auto_submitted, *precedence, *list_id, *list_unsubscribe;
	const char *x_auto_response_suppress, *x_autoreply, *x_autorespond;
	const char *authentication_results;
	bool multipart_report;
	const char *report_type;
	const char *text;
};

#define HDR "From: Anna <anna@example.org>\n"

static const struct want cases[] = {
	{ .name = "plain fields",
	  .raw = "Return-Path: <anna@example.org>\n"
		 "Delivered-To: consent+abc@example.com\n"
		 "X-Original-To: consent+abc@example.com\n"
		 "From: Anna Muster <Anna@Example.org>\n"
		 "To: \"Consent\" <consent+abc@example.com>, other@example.net\n"
		 "Subject: Re: Ihre Einwilligung\n"
		 "Message-ID: <m1@example.org>\n"
		 "In-Reply-To: <req1@example.com>\n"
		 "References: <a@x> <req1@example.com>\n"
		 "Authentication-Results: mx.example.com;\n"
		 " dkim=pass header.d=example.org\n"
		 "\n"
		 "Ja\n",
	  .message_id = "m1@example.org", .in_reply_to = "req1@example.com",
	  .references = "a@x,req1@example.com", .subject = "Re: Ihre Einwilligung",
	  .from_count = 1, .from_addr = "Anna@Example.org", .return_path = "anna@example.org",
	  .rcpts = "consent+abc@example.com,consent+abc@example.com,consent+abc@example.com,other@example.net",
	  .authentication_results = "mx.example.com; dkim=pass header.d=example.org",
	  .text = "Ja\n" },
	{ .name = "crlf message",
	  .raw = "From: a@example.org\r\nSubject: hi\r\nMessage-ID: <c@x>\r\n\r\nline1\r\nline2\r\n",
	  .message_id = "c@x", .subject = "hi", .from_count = 1, .from_addr = "a@example.org",
	  .text = "line1\nline2\n" },
	{ .name = "automatic fields",
	  .raw = HDR "Auto-Submitted: auto-replied\nPrecedence: bulk\nList-Id: <news.example.org>\n"
		 "List-Unsubscribe: <mailto:unsub@example.org>\nX-Auto-Response-Suppress: All\n"
		 "X-Autoreply: yes\nX-Autorespond: yes\nauto-submitted: no\n\nbody\n",
	  .from_count = 1, .from_addr = "anna@example.org",
	  .auto_submitted = "auto-replied", .precedence = "bulk", .list_id = "<news.example.org>",
	  .list_unsubscribe = "<mailto:unsub@example.org>", .x_auto_response_suppress = "All",
	  .x_autoreply = "yes", .x_autorespond = "yes", .text = "body\n" },
	{ .name = "two from mailboxes",
	  .raw = "From: a@example.org, b@example.org\n\nx\n", .from_count = 2, .text = "x\n" },
	{ .name = "null return path",
	  .raw = "Return-Path: <>\nFrom: MAILER-DAEMON@example.com\n\nx\n",
	  .return_path = "", .from_count = 1, .from_addr = "MAILER-DAEMON@example.com", .text = "x\n" },
	{ .name = "subject Q iso-8859-1",
	  .raw = HDR "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=\n\nx\n",
	  .subject = "Grüße aus München", .from_count = 1, .from_addr = "anna@example.org", .text = "x\n" },
	{ .name = "subject B utf-8",
	  .raw = HDR "Subject: =?UTF-8?B?w7xiZXIg4oKs?=\n\nx\n",
	  .subject = "über €", .from_count = 1, .from_addr = "anna@example.org", .text = "x\n" },
	{ .name = "subject raw 8-bit utf-8",
	  .raw = HDR "Subject: Zustimmung für Müller\n\nx\n",
	  .subject = "Zustimmung für Müller", .from_count = 1, .from_addr = "anna@example.org", .text = "x\n" },
	{ .name = "subject raw 8-bit latin-1",
	  .raw = HDR "Subject: Gr\xfc\xdf" "e\n\nx\n",
	  .subject = "Grüße", .from_count = 1, .from_addr = "anna@example.org", .text = "x\n" },
	{ .name = "qp iso-8859-1 body",
	  .raw = HDR "MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\n"
		 "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe, ich stimme =\nzu\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Grüße, ich stimme zu\n" },
	{ .name = "qp escape cut off at the end",
	  .raw = HDR "Content-Type: text/plain; charset=ISO-8859-1\n"
		 "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe=F",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Grüße" },
	{ .name = "base64 utf-8 body",
	  .raw = HDR "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
		 "Content-Transfer-Encoding: base64\n\nSmEsIGVpbnZlcnN0YW5kZW4g4pyTCg==\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja, einverstanden ✓\n" },
	{ .name = "windows-1252 body",
	  .raw = HDR "Content-Type: text/plain; charset=windows-1252\n"
		 "Content-Transfer-Encoding: 8bit\n\n\x93Ja\x94 \x80\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "“Ja” €\n" },
	{ .name = "no charset but utf-8 bytes",
	  .raw = HDR "\nJa, gerne! Grüße\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja, gerne! Grüße\n" },
	{ .name = "no charset, latin-1 bytes",
	  .raw = HDR "\nGr\xfc\xdf" "e\n", .error = INMAIL_UNDECODABLE,
	  .from_count = 1, .from_addr = "anna@example.org" },
	{ .name = "alternative prefers plain",
	  .raw = HDR "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n"
		 "--b1\nContent-Type: text/html; charset=utf-8\n\n<p>HTML</p>\n"
		 "--b1\nContent-Type: text/plain; charset=utf-8\n\nPlain\n--b1--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Plain" },
	{ .name = "mixed with attachment first",
	  .raw = HDR "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b2\n\n"
		 "--b2\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nATT\n"
		 "--b2\nContent-Type: text/plain\n\nReal\n--b2--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Real" },
	{ .name = "html only with gmail quote",
	  .raw = HDR "Content-Type: text/html; charset=utf-8\n\n"
		 "<html><head><style>p{}</style></head><body><div dir=\"ltr\">Ja, gerne&nbsp;&amp; gut</div><br>"
		 "<div class=\"gmail_quote\"><div class=\"gmail_attr\">Am Mo schrieb X:</div>"
		 "<blockquote class=\"gmail_quote\">Bitte best&auml;tigen</blockquote></div></body></html>\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja, gerne & gut" },
	{ .name = "html outlook reply",
	  .raw = HDR "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
		 "<html><body><p>Nein, danke.</p><p>Gr=FC=DFe</p><div id=3D\"appendonsend\"></div>"
		 "<hr style=3D\"display:inline-block\"><div id=3D\"divRplyFwdMsg\"><b>Von:</b> X</div>"
		 "<div>Bitte antworten Sie</div></body></html>\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Nein, danke.\nGrüße" },
	{ .name = "html thunderbird, yahoo and old outlook quotes",
	  .raw = HDR "Content-Type: text/html; charset=utf-8\n\n"
		 "<p>Ich widerrufe</p><div class=\"moz-cite-prefix\">Am 1.3. schrieb X:</div>"
		 "<blockquote type=\"cite\">alt</blockquote><div class=\"yahoo_quoted\">y</div>"
		 "<p>Zeile<br>zwei</p><hr id=\"stopSpelling\">Von: X<p>alt</p>\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ich widerrufe\nZeile\nzwei" },
	{ .name = "format flowed",
	  .raw = HDR "Content-Type: text/plain; charset=utf-8; format=flowed\n\n"
		 "Ja, ich bin \neinverstanden.\n> quoted \n> more\nnew \n> never joined\n -- \n-- \nsig\n",
	  .from_count = 1, .from_addr = "anna@example.org",
	  .text = "Ja, ich bin einverstanden.\n> quoted more\nnew \n> never joined\n-- \n-- \nsig\n" },
	{ .name = "format flowed delsp",
	  .raw = HDR "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n\n"
		 "einver \nstanden\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "einverstanden\n" },
	{ .name = "unknown charset",
	  .raw = HDR "Content-Type: text/plain; charset=x-no-such-charset\n\nJa\xe4\n",
	  .error = INMAIL_UNDECODABLE, .from_count = 1, .from_addr = "anna@example.org" },
	{ .name = "invalid utf-8 in utf-8 part",
	  .raw = HDR "Content-Type: text/plain; charset=utf-8\n\nJa \xc3\x28 \xff\n",
	  .error = INMAIL_UNDECODABLE, .from_count = 1, .from_addr = "anna@example.org" },
	{ .name = "dsn",
	  .raw = "Return-Path: <>\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
		 "Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n"
		 "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n"
		 "\tboundary=\"RB\"\n\n--RB\nContent-Description: Notification\n"
		 "Content-Type: text/plain; charset=us-ascii\n\nI'm sorry to have to inform you\n\n"
		 "--RB\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
		 "Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1\n\n"
		 "--RB\nContent-Type: message/rfc822\n\nFrom: consent@example.com\nMessage-ID: <req9@example.com>\n"
		 "Subject: request\n\nplease\n--RB--\n",
	  .subject = "Undelivered Mail Returned to Sender", .from_count = 1,
	  .from_addr = "MAILER-DAEMON@mx.example.com", .return_path = "", .auto_submitted = "auto-replied",
	  .multipart_report = true, .report_type = "delivery-status",
	  .text = "I'm sorry to have to inform you\n" },
	{ .name = "empty message", .raw = "", .text = "" },
	{ .name = "garbage bytes", .raw = "\x01\x02\xff\xfe garbage \x80\n\x7f",
	  .error = INMAIL_UNDECODABLE },
};

static void join(char *const *v, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "," : "", v[i]);
}

static void check_str(const char *what, const char *caze, const char *got, const char *want)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s: got [%s], want [%s]", caze, what, got ? got : "(null)",
			 want ? want : "(null)");
}

static void test_table(void **state)
{
	size_t i;
	char buf[2048], err[128];
	inmail m;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct want *w = &cases[i];
		int r = inmail_parse(w->raw, strlen(w->raw), &m, err, sizeof(err));
		if (m.error != w->error)
			fail_msg("%s: error got %d (%s), want %d", w->name, m.error, err, w->error);
		assert_int_equal(r, w->error == INMAIL_OK ? 0 : -1);
		check_str("message_id", w->name, m.message_id, w->message_id);
		join(m.in_reply_to, m.n_in_reply_to, buf, sizeof(buf));
		check_str("in_reply_to", w->name, m.n_in_reply_to ? buf : NULL, w->in_reply_to);
		join(m.references, m.n_references, buf, sizeof(buf));
		check_str("references", w->name, m.n_references ? buf : NULL, w->references);
		check_str("subject", w->name, m.subject, w->subject);
		if (m.from_count != w->from_count)
			fail_msg("%s: from_count got %zu want %zu", w->name, m.from_count, w->from_count);
		check_str("from_addr", w->name, m.from_addr, w->from_addr);
		check_str("return_path", w->name, m.return_path, w->return_path);
		join(m.rcpts, m.n_rcpts, buf, sizeof(buf));
		check_str("rcpts", w->name, m.n_rcpts ? buf : NULL, w->rcpts);
		check_str("auto_submitted", w->name, m.auto_submitted, w->auto_submitted);
		check_str("precedence", w->name, m.precedence, w->precedence);
		check_str("list_id", w->name, m.list_id, w->list_id);
		check_str("list_unsubscribe", w->name, m.list_unsubscribe, w->list_unsubscribe);
		check_str("x_auto_response_suppress", w->name, m.x_auto_response_suppress,
			  w->x_auto_response_suppress);
		check_str("x_autoreply", w->name, m.x_autoreply, w->x_autoreply);
		check_str("x_autorespond", w->name, m.x_autorespond, w->x_autorespond);
		check_str("authentication_results", w->name, m.authentication_results,
			  w->authentication_results);
		if (m.multipart_report != w->multipart_report)
			fail_msg("%s: multipart_report", w->name);
		check_str("report_type", w->name, m.report_type, w->report_type);
		check_str("text", w->name, m.text, w->text);
		inmail_clear(&m);
		inmail_clear(&m);  /* twice: must be harmless */
	}
	inmail_clear(NULL);
}

/* --- limits ---------------------------------------------------------- */

static enum inmail_error parse_err(const char *raw, size_t len)
{
	inmail m;
	char err[128];
	enum inmail_error e;

	inmail_parse(raw, len, &m, err, sizeof(err));
	e = m.error;
	inmail_clear(&m);
	return e;
}

/* A message of exactly total bytes: a short header and a body of 'a'
 * lines. */
static char *sized_message(size_t total, size_t *len)
{
	static const char hdr[] = "From: a@example.org\nSubject: big\n\n";
	char *s = malloc(total + 1);
	size_t i;

	assert_non_null(s);
	memcpy(s, hdr, sizeof(hdr) - 1);
	for (i = sizeof(hdr) - 1; i < total; i++)
		s[i] = (i % 76 == 75) ? '\n' : 'a';
	s[total] = '\0';
	*len = total;
	return s;
}

static void test_size_limit(void **state)
{
	size_t len;
	char *s;
	inmail m;

	(void)state;
	s = sized_message(INMAIL_SIZE_MAX, &len);
	assert_int_equal(parse_err(s, len), INMAIL_OK);
	free(s);
	s = sized_message(INMAIL_SIZE_MAX + 1, &len);
	assert_int_equal(inmail_parse(s, len, &m, NULL, 0), -1);
	assert_int_equal(m.error, INMAIL_TOO_BIG);
	assert_string_equal(m.subject, "big");  /* header still read */
	inmail_clear(&m);
	free(s);
}

/* A header section of exactly hlen bytes (up to the empty line). */
static char *header_message(size_t hlen, size_t *len)
{
	static const char first[] = "From: a@example.org\n";
	char *s = malloc(hlen + 8);
	size_t o = sizeof(first) - 1;

	assert_non_null(s);
	memcpy(s, first, o);
	while (hlen - o > 1000) {
		memcpy(s + o, "X-Pad: ", 7);
		memset(s + o + 7, 'p', 1000 - 8);
		s[o + 999] = '\n';
		o += 1000;
	}
	memcpy(s + o, "X-Pad: ", 7);
	memset(s + o + 7, 'q', hlen - o - 8);
	s[hlen - 1] = '\n';
	memcpy(s + hlen, "\nbody\n", 7);
	*len = hlen + 6;
	return s;
}

static void test_header_limit(void **state)
{
	size_t len;
	char *s;

	(void)state;
	s = header_message(INMAIL_HEADER_MAX, &len);
	assert_int_equal(parse_err(s, len), INMAIL_OK);
	free(s);
	s = header_message(INMAIL_HEADER_MAX + 1, &len);
	assert_int_equal(parse_err(s, len), INMAIL_HEADER_TOO_BIG);
	free(s);
	/* both over: the size is reported */
	s = header_message(INMAIL_SIZE_MAX + 10, &len);
	assert_int_equal(parse_err(s, len), INMAIL_TOO_BIG);
	free(s);
}

/* n parts in all: one multipart/mixed holding n-1 text parts. */
static char *parts_message(size_t n)
{
	strbuf b = { 0 };
	size_t i;

	strbuf_adds(&b, "From: a@example.org\nContent-Type: multipart/mixed; boundary=XX\n\n");
	for (i = 0; i + 1 < n; i++)
		strbuf_adds(&b, "--XX\nContent-Type: text/plain\n\npart\n");
	strbuf_adds(&b, "--XX--\n");
	return b.s;
}

/* nesting of depth multiparts, the innermost holding one text part. */
static char *depth_message(size_t depth)
{
	strbuf b = { 0 };
	char line[128];
	size_t i;

	strbuf_adds(&b, "From: a@example.org\n");
	for (i = 0; i < depth; i++) {
		snprintf(line, sizeof(line), "Content-Type: multipart/mixed; boundary=B%zu\n\n--B%zu\n", i, i);
		strbuf_adds(&b, line);
	}
	strbuf_adds(&b, "Content-Type: text/plain\n\ndeep\n");
	for (i = depth; i-- > 0;) {
		snprintf(line, sizeof(line), "--B%zu--\n", i);
		strbuf_adds(&b, line);
	}
	return b.s;
}

static void test_parts_depth_limits(void **state)
{
	char *s;
	inmail m;

	(void)state;
	s = parts_message(INMAIL_PARTS_MAX);
	assert_int_equal(inmail_parse(s, strlen(s), &m, NULL, 0), 0);
	assert_string_equal(m.text, "part");
	inmail_clear(&m);
	free(s);
	s = parts_message(INMAIL_PARTS_MAX + 1);
	assert_int_equal(parse_err(s, strlen(s)), INMAIL_TOO_COMPLEX);
	free(s);
	s = depth_message(INMAIL_DEPTH_MAX);
	assert_int_equal(inmail_parse(s, strlen(s), &m, NULL, 0), 0);
	assert_string_equal(m.text, "deep");
	inmail_clear(&m);
	free(s);
	s = depth_message(INMAIL_DEPTH_MAX + 1);
	assert_int_equal(parse_err(s, strlen(s)), INMAIL_TOO_COMPLEX);
	free(s);
	s = depth_message(5000);  /* far too deep: refused before libetpan recurses */
	assert_int_equal(parse_err(s, strlen(s)), INMAIL_TOO_COMPLEX);
	free(s);
}

/* libetpan parses nested comments recursively: a deep nest must be
 * refused, not overflow the stack, in the top header and in a part. */
static void test_deep_comments(void **state)
{
	strbuf b = { 0 };
	size_t i;

	(void)state;
	strbuf_adds(&b, "From: a@example.org ");
	for (i = 0; i < 256; i++)
		strbuf_adds(&b, "(");
	for (i = 0; i < 256; i++)
		strbuf_adds(&b, ")");
	strbuf_adds(&b, "\n\nx\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_OK);
	free(b.s);
	b = (strbuf){ 0 };
	strbuf_adds(&b, "From: a@example.org\nTo: ");
	for (i = 0; i < 200000; i++)
		strbuf_adds(&b, i % 1000 == 999 ? "(\n " : "(");
	strbuf_adds(&b, "\n\nx\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_UNPARSABLE);
	free(b.s);
	b = (strbuf){ 0 };
	strbuf_adds(&b, "From: a@example.org\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n"
		     "Content-Type: text/plain; x=");
	for (i = 0; i < 200000; i++)
		strbuf_adds(&b, "(");
	strbuf_adds(&b, "\n\nx\n--Q--\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_UNPARSABLE);
	free(b.s);
}

static void test_ids_kept_up_to_max(void **state)
{
	strbuf b = { 0 };
	char id[64];
	size_t i;
	inmail m;

	(void)state;
	strbuf_adds(&b, "From: a@example.org\nReferences:");
	for (i = 0; i < INMAIL_IDS_MAX + 5; i++) {
		snprintf(id, sizeof(id), " <id%zu@example.org>\n", i);
		strbuf_adds(&b, id);
	}
	strbuf_adds(&b, "\nx\n");
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), 0);
	assert_int_equal(m.n_references, INMAIL_IDS_MAX);
	assert_string_equal(m.references[0], "id0@example.org");
	inmail_clear(&m);
	free(b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_parts_depth_limits),
		cmocka_unit_test(test_deep_comments),
		cmocka_unit_test(test_ids_kept_up_to_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
