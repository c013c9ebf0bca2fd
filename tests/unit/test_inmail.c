/*
 * test_inmail.c - unit tests for inmail.h: every header field the judge
 * reads, RFC 2047 subjects, transfer encodings and charsets, the choice of
 * the text part, HTML to text without quotes, format=flowed, undecodable
 * parts, DSNs, bounces and MDNs (realistic Postfix, Exchange, qmail and
 * Exim ones, a delay notice, a reply that only looks like one), malformed
 * delivery-status parts, and every limit exactly at and one past its bound;
 * nesting in every spelling libetpan accepts refused before libetpan
 * recurses; the text of every part and the HTML alternative (alt_text).
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
#include <time.h>

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
	bool is_bounce, is_mdn;
	const char *dsn_rcpts, *dsn_status, *orig_msgids;
	const char *text, *alt_text;
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
	{ .name = "classic bounce: null sender and bounce subject",
	  .raw = "Return-Path: <>\nFrom: mailer@example.com\nSubject: Undeliverable: Ihre Einwilligung\n\n"
		 "<anna@example.org>: 550 5.1.1 unknown\n",
	  .return_path = "", .from_count = 1, .from_addr = "mailer@example.com",
	  .subject = "Undeliverable: Ihre Einwilligung", .is_bounce = true,
	  .dsn_rcpts = "anna@example.org", .dsn_status = "5.1.1",
	  .text = "<anna@example.org>: 550 5.1.1 unknown\n" },
	{ .name = "classic bounce: postmaster and bounce subject",
	  .raw = "From: Postmaster@example.com\nSubject: Returned mail: see transcript\n\n"
		 "x <consent.0123456789ABCDEF0123456789abcdef@cloudwerk.example> y\n",
	  .from_count = 1, .from_addr = "Postmaster@example.com",
	  .subject = "Returned mail: see transcript", .is_bounce = true,
	  .orig_msgids = "consent.0123456789ABCDEF0123456789abcdef@cloudwerk.example",
	  .text = "x <consent.0123456789ABCDEF0123456789abcdef@cloudwerk.example> y\n" },
	{ .name = "bounce subject from a person is no bounce",
	  .raw = HDR "Subject: Returned mail\n\n<anna@example.org>: 550 5.1.1\n"
		 "<consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n",
	  .from_count = 1, .from_addr = "anna@example.org", .subject = "Returned mail",
	  .text = "<anna@example.org>: 550 5.1.1\n"
		  "<consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n" },
	{ .name = "daemon sender without bounce subject is no bounce",
	  .raw = "Return-Path: <>\nFrom: MAILER-DAEMON@example.com\nSubject: Warning: message delayed\n\nx\n",
	  .return_path = "", .from_count = 1, .from_addr = "MAILER-DAEMON@example.com",
	  .subject = "Warning: message delayed", .text = "x\n" },
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
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Plain", .alt_text = "HTML" },
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
	  .is_bounce = true, .dsn_rcpts = "x@example.net", .dsn_status = "5.1.1",
	  .orig_msgids = "req9@example.com",
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
		if (m.is_bounce != w->is_bounce)
			fail_msg("%s: is_bounce got %d", w->name, m.is_bounce);
		if (m.is_mdn != w->is_mdn)
			fail_msg("%s: is_mdn got %d", w->name, m.is_mdn);
		join(m.dsn_rcpts, m.n_dsn_rcpts, buf, sizeof(buf));
		check_str("dsn_rcpts", w->name, m.n_dsn_rcpts ? buf : NULL, w->dsn_rcpts);
		check_str("dsn_status", w->name, m.dsn_status, w->dsn_status);
		join(m.orig_msgids, m.n_orig_msgids, buf, sizeof(buf));
		check_str("orig_msgids", w->name, m.n_orig_msgids ? buf : NULL, w->orig_msgids);
		check_str("text", w->name, m.text, w->text);
		check_str("alt_text", w->name, m.alt_text, w->alt_text);
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
	assert_int_equal(strlen(m.text), (INMAIL_PARTS_MAX - 1) * 6 - 2);  /* "part" each, blank line between */
	assert_memory_equal(m.text, "part\n\npart", 10);
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

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* inmail_parse's error for raw, which must take less than secs. */
static enum inmail_error timed_err(const char *raw, size_t len, double secs)
{
	double t0 = now();
	enum inmail_error e = parse_err(raw, len);
	double t = now() - t0;

	if (t >= secs)
		fail_msg("parse took %.3f s, limit %.3f s", t, secs);
	return e;
}

/* add_level - template t with every '#' replaced by the number i. */
static void add_level(strbuf *b, const char *t, size_t i)
{
	char num[32];

	snprintf(num, sizeof(num), "%zu", i);
	for (; *t != '\0'; t++)
		strbuf_add(b, *t == '#' ? num : t, *t == '#' ? strlen(num) : 1);
}

/* n levels, each the header line(s) of level and what follows it up to
 * the next level's header, the innermost holding "deep" as text/plain,
 * then close (if any) for each level, innermost first; '#' in level and
 * close stands for the level's number. */
static char *nest(size_t n, const char *level, const char *close)
{
	strbuf b = { 0 };
	size_t i;

	strbuf_adds(&b, "From: a@example.org\n");
	for (i = 0; i < n; i++)
		add_level(&b, level, i);
	strbuf_adds(&b, "Content-Type: text/plain\n\ndeep\n");
	for (i = n; close != NULL && i-- > 0;)
		add_level(&b, close, i);
	return b.s;
}

/* Nesting is refused before libetpan parses it (which recurses per level,
 * overflowing the stack at 30,000 levels and taking seconds at 5,000),
 * whatever spelling of Content-Type libetpan accepts: blanks before the
 * colon, any case, folded, CRLF, RFC 2047 words in the value, a part
 * header starting on its boundary's line, after other fields, embedded
 * messages and digests (whose parts are messages without a Content-Type).
 * Exactly INMAIL_DEPTH_MAX levels still parse. */
static void test_nesting_any_spelling(void **state)
{
	static const struct {
		const char *level, *close;
		size_t per_level;  /* count_tree levels one level adds */
		bool text;         /* the innermost text is read (not inside a message) */
	} sp[] = {
		{ "Content-Type : multipart/mixed; boundary=bK\n\n--bK", NULL, 1, true },
		{ "content-TYPE\t: multipart/mixed; boundary=B#x\n\n--B#x\n", "--B#x--\n", 1, true },
		{ "Content-Type\n :\n multipart/mixed;\n\tboundary=\"B#x\"\n\n--B#x\n", "--B#x--\n", 1, true },
		{ "CONTENT-TYPE :\tmultipart/mixed;boundary=B#x\r\n\r\n--B#x\r\n", "--B#x--\r\n", 1, true },
		{ "Content-Type: =?us-ascii?q?multipart/mixed;_boundary=3DB#x?=\n\n--B#x\n", "--B#x--\n", 1, true },
		{ "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B#x\nX-Level: #\n\n"
		  "preamble\n--B#x\n", "--B#x--\nepilogue\n", 1, true },
		{ "Content-Type: message/rfc822\nX-Level: #\n\n", NULL, 1, false },
		{ "Content-Type: multipart/digest; boundary=D#x\n\n--D#x\nX-Part: #\n\n", "--D#x--\n", 2, false },
	};
	size_t i, n;
	char *s;
	inmail m;

	(void)state;
	for (i = 0; i < sizeof(sp) / sizeof(sp[0]); i++) {
		n = INMAIL_DEPTH_MAX / sp[i].per_level;
		s = nest(n, sp[i].level, sp[i].close);
		if (inmail_parse(s, strlen(s), &m, NULL, 0) != 0)
			fail_msg("%s: %zu levels refused (error %d)", sp[i].level, n, m.error);
		check_str("text", sp[i].level, m.text, sp[i].text ? "deep" : NULL);
		inmail_clear(&m);
		free(s);
		s = nest(n + 1, sp[i].level, sp[i].close);
		if (parse_err(s, strlen(s)) != INMAIL_TOO_COMPLEX)
			fail_msg("%s: %zu levels not refused", sp[i].level, n + 1);
		free(s);
		s = nest(400, sp[i].level, sp[i].close);  /* fewer Content-Types than prescan counts */
		if (timed_err(s, strlen(s), 0.1) != INMAIL_TOO_COMPLEX)
			fail_msg("%s: 400 levels not refused", sp[i].level);
		free(s);
		s = nest(30000, sp[i].level, sp[i].close);
		if (timed_err(s, strlen(s), 0.1) != INMAIL_TOO_COMPLEX)
			fail_msg("%s: 30000 levels not refused", sp[i].level);
		free(s);
	}
}

/* Many composite parts side by side are no nesting: 66 alternatives in a
 * mixed are 199 parts at depth 2 and parse; the text is every plain one,
 * alt_text every HTML one. */
static void test_wide_not_deep(void **state)
{
	strbuf b = { 0 };
	char line[200];
	size_t i;
	inmail m;

	(void)state;
	strbuf_adds(&b, "From: a@example.org\nContent-Type : multipart/mixed; boundary=M\n\n");
	for (i = 0; i < 66; i++) {
		snprintf(line, sizeof(line), "--M\nContent-Type: multipart/alternative; boundary=A%zu\n\n"
			 "--A%zu\nContent-Type: text/plain\n\np%zu\n--A%zu\nContent-Type: text/html\n\n"
			 "<b>h%zu</b>\n--A%zu--\n", i, i, i, i, i, i);
		strbuf_adds(&b, line);
	}
	strbuf_adds(&b, "--M--\n");
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), 0);
	assert_memory_equal(m.text, "p0\n\np1\n\np2", 10);
	assert_non_null(strstr(m.text, "\n\np65"));
	assert_non_null(m.alt_text);
	assert_memory_equal(m.alt_text, "h0\n\nh1\n\nh2", 10);
	inmail_clear(&m);
	free(b.s);
}

/* libetpan decodes RFC 2047 words in a Content-Type value before parsing
 * its comments: nesting hidden in one is refused, not parsed. */
static void test_encoded_comments(void **state)
{
	strbuf b = { 0 };
	size_t i;

	(void)state;
	strbuf_adds(&b, "From: a@example.org\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n"
		    "Content-Type: =?us-ascii?b?dGV4dC9wbGFpbjsgeD0g");  /* "text/plain; x= " */
	for (i = 0; i < 100; i++)
		strbuf_adds(&b, "KCgo");  /* "(((" */
	strbuf_adds(&b, "?=\n\nx\n--Q--\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_UNPARSABLE);
	free(b.s);
	b = (strbuf){ 0 };
	strbuf_adds(&b, "From: a@example.org\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n"
		    "Content-Type: =?us-ascii?q?text/plain;_x=3D");
	for (i = 0; i < 300; i++)
		strbuf_adds(&b, "=28");
	strbuf_adds(&b, "?=\n\nx\n--Q--\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_UNPARSABLE);
	free(b.s);
	b = (strbuf){ 0 };  /* a shallow one is fine */
	strbuf_adds(&b, "From: a@example.org\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n"
		    "Content-Type: =?us-ascii?q?text/plain;_x=3D=28=28y=29=29?=\n\nx\n--Q--\n");
	assert_int_equal(parse_err(b.s, b.len), INMAIL_OK);
	free(b.s);
}

/* --- HTML limit -------------------------------------------------------- */

/* A message with one text/html body of n bytes of unit repeated (cut to
 * n), after prefix. */
static char *html_message(const char *prefix, const char *unit, size_t n, size_t *len)
{
	strbuf b = { 0 };
	size_t k = strlen(unit);

	strbuf_adds(&b, "From: a@example.org\n");
	strbuf_adds(&b, prefix);
	while (n > 0) {
		strbuf_add(&b, unit, n < k ? n : k);
		n -= n < k ? n : k;
	}
	*len = b.len;
	return b.s;
}

static void test_html_limit(void **state)
{
	size_t len, n;
	char *s, err[128];
	inmail m;

	(void)state;
	/* 10 MB of "<p>x" cost libxml2 seconds and most of a gigabyte */
	s = html_message("Content-Type: text/html\n\n", "<p>x", 2600000 * 4, &len);
	assert_true(len <= INMAIL_SIZE_MAX);
	{
		double t0 = now();
		assert_int_equal(inmail_parse(s, len, &m, err, sizeof(err)), -1);
		if (now() - t0 >= 0.2)
			fail_msg("10 MB of HTML refused after %.3f s", now() - t0);
	}
	assert_int_equal(m.error, INMAIL_UNDECODABLE);
	assert_non_null(strstr(err, "HTML"));
	assert_null(m.text);
	assert_null(m.alt_text);
	assert_string_equal(m.from_addr, "a@example.org");  /* the header is still read */
	inmail_clear(&m);
	free(s);
	/* exactly at the limit, and one byte past it */
	for (n = INMAIL_HTML_MAX; n <= INMAIL_HTML_MAX + 1; n++) {
		s = html_message("Content-Type: text/html\n\n<p>Ja</p>", "x", n - 9, &len);
		assert_int_equal(parse_err(s, len), n == INMAIL_HTML_MAX ? INMAIL_OK : INMAIL_UNDECODABLE);
		free(s);
	}
	/* the HTML alternative beside a short "Ja" counts too: never a grant unread */
	s = html_message("Content-Type: multipart/alternative; boundary=A\n\n--A\n"
			 "Content-Type: text/plain\n\nJa\n--A\nContent-Type: text/html\n\n",
			 "<p>x", INMAIL_HTML_MAX + 4, &len);
	assert_int_equal(inmail_parse(s, len, &m, NULL, 0), -1);
	assert_int_equal(m.error, INMAIL_UNDECODABLE);
	assert_null(m.text);
	assert_null(m.alt_text);
	inmail_clear(&m);
	free(s);
	/* two HTML parts under the limit each count together */
	s = html_message("Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/html\n\n",
			 "<p>x", INMAIL_HTML_MAX / 2 + 4, &len);
	{
		strbuf b = { s, len, len + 1, 0, false };
		size_t k;
		strbuf_adds(&b, "\n--M\nContent-Type: text/html\n\n");
		for (k = 0; k < INMAIL_HTML_MAX / 2 + 4; k += 4)
			strbuf_adds(&b, "<p>y");
		strbuf_adds(&b, "\n--M--\n");
		assert_int_equal(parse_err(b.s, b.len), INMAIL_UNDECODABLE);
		free(b.s);
	}
}

/* --- the text of every part ------------------------------------------- */

static const struct want text_cases[] = {
	{ .name = "apple mail: text, inline image, text",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=\"Apple-Mail=_1\"\n\n"
		 "--Apple-Mail=_1\nContent-Transfer-Encoding: 7bit\nContent-Type: text/plain;\n\tcharset=us-ascii\n\n"
		 "Ja.\n\n"
		 "--Apple-Mail=_1\nContent-Disposition: inline;\n\tfilename=Screenshot.png\n"
		 "Content-Type: image/png;\n\tx-unix-mode=0644;\n\tname=\"Screenshot.png\"\n"
		 "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
		 "--Apple-Mail=_1\nContent-Transfer-Encoding: quoted-printable\nContent-Type: text/plain;\n"
		 "\tcharset=utf-8\n\nAber nur wenn das hier im Screenshot nicht passiert. Sonst nein=2E\n"
		 "--Apple-Mail=_1--\n",
	  .from_count = 1, .from_addr = "anna@example.org",
	  .text = "Ja.\n\nAber nur wenn das hier im Screenshot nicht passiert. Sonst nein." },
	{ .name = "attachments are not text: disposition, filename, name, RFC 2231 forms",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n"
		 "--M\nContent-Type: text/plain\nContent-Disposition: attachment\n\nA1\n"
		 "--M\nContent-Type: text/plain\nContent-Disposition: inline; filename=a.txt\n\nA2\n"
		 "--M\nContent-Type: text/plain; name=\"a.txt\"\n\nA3\n"
		 "--M\nContent-Type: text/plain\nContent-Disposition: inline; filename*=utf-8''%C3%A4.txt\n\nA4\n"
		 "--M\nContent-Type: text/plain; name*0=a; name*1=.txt\n\nA5\n"
		 "--M\nContent-Type: text/html\nContent-Disposition: attachment; filename=a.html\n\n<p>A6</p>\n"
		 "--M\nContent-Type: text/plain\nContent-Disposition: inline\n\nNein\n--M--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Nein" },
	{ .name = "a later part undecodable",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\nJa\n"
		 "--M\nContent-Type: text/plain; charset=utf-8\n\nnein \xff\n--M--\n",
	  .error = INMAIL_UNDECODABLE, .from_count = 1, .from_addr = "anna@example.org" },
	{ .name = "embedded message is not the person's text",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\nJa\n"
		 "--M\nContent-Type: message/rfc822\n\nFrom: b@example.org\n\nNein\n--M--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja" },
	{ .name = "html part beside plain in mixed is read",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\nJa\n"
		 "--M\nContent-Type: text/html\n\n<p>Nein</p>\n--M--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja\n\nNein" },
	{ .name = "alternative: ja in plain, nein in html",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\nJa\n"
		 "--A\nContent-Type: text/html\n\n<html><body><p>Nein</p><blockquote>Ja?</blockquote></body></html>\n"
		 "--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja", .alt_text = "Nein" },
	{ .name = "alternative inside mixed, with a footer part",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n--M\n"
		 "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\nJa\n"
		 "--A\nContent-Type: text/html\n\n<p>Nein</p>\n--A--\n"
		 "--M\nContent-Type: text/plain\n\n-- \nListe\n--M--\n",
	  .from_count = 1, .from_addr = "anna@example.org",
	  .text = "Ja\n\n-- \nListe", .alt_text = "Nein\n\n-- \nListe" },
	{ .name = "apple mail rich: the html alternative in three parts",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\n"
		 "Ja.\n\nAber sonst nein.\n--A\nContent-Type: multipart/mixed; boundary=M\n\n"
		 "--M\nContent-Type: text/html\n\n<html><body>Ja.</body></html>\n"
		 "--M\nContent-Type: image/png; name=s.png\nContent-Disposition: inline; filename=s.png\n\nx\n"
		 "--M\nContent-Type: text/html\n\n<html><body>Aber sonst nein.</body></html>\n--M--\n--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org",
	  .text = "Ja.\n\nAber sonst nein.", .alt_text = "Ja.\n\nAber sonst nein." },
	{ .name = "alternative: the last html alternative is what a client shows",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\nJa\n"
		 "--A\nContent-Type: text/html\n\n<p>Ja</p>\n"
		 "--A\nContent-Type: multipart/related; boundary=R\n\n--R\nContent-Type: text/html\n\n<p>Nein</p>\n"
		 "--R\nContent-Type: image/png\n\nx\n--R--\n--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja", .alt_text = "Nein" },
	{ .name = "alternative without html: no alt_text",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\nJa\n"
		 "--A\nContent-Type: text/enriched\n\n<bold>Ja</bold>\n--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja" },
	{ .name = "alternative without plain: html is the text, no alt_text",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/enriched\n\nx\n"
		 "--A\nContent-Type: text/html\n\n<p>Ja</p>\n--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja" },
	{ .name = "alternative html undecodable",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\nJa\n"
		 "--A\nContent-Type: text/html; charset=x-no-such-charset\n\n<p>N\xe4in</p>\n--A--\n",
	  .error = INMAIL_UNDECODABLE, .from_count = 1, .from_addr = "anna@example.org" },
	{ .name = "html: <pre> keeps its line breaks (a signature separator stays one)",
	  .raw = HDR "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\n"
		 "Ja\n-- \nAnna\n--A\nContent-Type: text/html\n\n<p>Ja</p>\n"
		 "<pre class=\"moz-signature\" cols=\"72\">-- \nAnna</pre>\n--A--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja\n-- \nAnna", .alt_text = "Ja\n-- \nAnna" },
	{ .name = "empty parts leave no blank lines",
	  .raw = HDR "Content-Type: multipart/mixed; boundary=M\n\n--M\nContent-Type: text/plain\n\n\n"
		 "--M\nContent-Type: text/plain\n\nJa\n--M\nContent-Type: text/html\n\n<p></p>\n"
		 "--M\nContent-Type: text/plain; format=flowed\n\nund \nnein\n--M--\n",
	  .from_count = 1, .from_addr = "anna@example.org", .text = "Ja\n\nund nein" },
};

static void test_text_parts(void **state)
{
	size_t i;
	inmail m;
	char err[128];

	(void)state;
	for (i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
		const struct want *w = &text_cases[i];
		int r = inmail_parse(w->raw, strlen(w->raw), &m, err, sizeof(err));
		if (m.error != w->error)
			fail_msg("%s: error got %d (%s), want %d", w->name, m.error, err, w->error);
		assert_int_equal(r, w->error == INMAIL_OK ? 0 : -1);
		check_str("text", w->name, m.text, w->text);
		check_str("alt_text", w->name, m.alt_text, w->alt_text);
		inmail_clear(&m);
	}
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

/* --- bounces, DSNs and MDNs as real MTAs and clients send them -------- */

static const char POSTFIX_BOUNCE[] =
	"Return-Path: <>\n"
	"Delivered-To: consent+bounce@cloudwerk.example\n"
	"Received: by mx.cloudwerk.example (Postfix)\n"
	"\tid 4Xy1Z2AbCdz; Mon,  3 Mar 2025 10:15:02 +0100 (CET)\n"
	"Date: Mon,  3 Mar 2025 10:15:02 +0100 (CET)\n"
	"From: MAILER-DAEMON@mx.cloudwerk.example (Mail Delivery System)\n"
	"Subject: Undelivered Mail Returned to Sender\n"
	"To: consent+bounce@cloudwerk.example\n"
	"Auto-Submitted: auto-replied\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"4Xy1Z2AbCdz.1741000502/mx.cloudwerk.example\"\n"
	"Content-Transfer-Encoding: 8bit\n"
	"Message-Id: <20250303091502.4Xy1Z2AbCdz@mx.cloudwerk.example>\n"
	"\n"
	"This is a MIME-encapsulated message.\n"
	"\n"
	"--4Xy1Z2AbCdz.1741000502/mx.cloudwerk.example\n"
	"Content-Description: Notification\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: 8bit\n"
	"\n"
	"This is the mail system at host mx.cloudwerk.example.\n"
	"\n"
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients. It's attached below.\n"
	"\n"
	"                   The mail system\n"
	"\n"
	"<anna.mueller@example.org>: host mx01.example.org[192.0.2.25] said: 550 5.1.1\n"
	"    <anna.mueller@example.org>: Recipient address rejected: User unknown in\n"
	"    virtual mailbox table (in reply to RCPT TO command)\n"
	"\n"
	"--4Xy1Z2AbCdz.1741000502/mx.cloudwerk.example\n"
	"Content-Description: Delivery report\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; mx.cloudwerk.example\n"
	"X-Postfix-Queue-ID: 4Xy1Z2AbCdz\n"
	"X-Postfix-Sender: rfc822; consent+bounce@cloudwerk.example\n"
	"Arrival-Date: Mon,  3 Mar 2025 10:15:01 +0100 (CET)\n"
	"\n"
	"Final-Recipient: rfc822; anna.mueller@example.org\n"
	"Original-Recipient: rfc822;anna.mueller@example.org\n"
	"Action: failed\n"
	"Status: 5.1.1\n"
	"Remote-MTA: dns; mx01.example.org\n"
	"Diagnostic-Code: smtp; 550 5.1.1 <anna.mueller@example.org>: Recipient address\n"
	"    rejected: User unknown in virtual mailbox table\n"
	"\n"
	"--4Xy1Z2AbCdz.1741000502/mx.cloudwerk.example\n"
	"Content-Description: Undelivered Message\n"
	"Content-Type: message/rfc822\n"
	"Content-Transfer-Encoding: 8bit\n"
	"\n"
	"Return-Path: <consent+bounce@cloudwerk.example>\n"
	"Received: from app.cloudwerk.example (app.cloudwerk.example [192.0.2.10])\n"
	"\tby mx.cloudwerk.example (Postfix) with ESMTP id 4Xy1Z2AbCdz\n"
	"\tfor <anna.mueller@example.org>; Mon,  3 Mar 2025 10:15:01 +0100 (CET)\n"
	"Date: Mon, 03 Mar 2025 10:15:00 +0100\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: anna.mueller@example.org\n"
	"Reply-To: consent+0123456789abcdef0123456789abcdef@cloudwerk.example\n"
	"Subject: Ihre Einwilligung [0123456789abcdef0123456789abcdef]\n"
	"Message-ID: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"Auto-Submitted: auto-generated\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Guten Tag Anna M=C3=BCller,\n"
	"bitte antworten Sie mit JA oder NEIN.\n"
	"\n"
	"--4Xy1Z2AbCdz.1741000502/mx.cloudwerk.example--\n";

static const char EXCHANGE_NDR[] =
	"Return-Path: <>\n"
	"Received: from AM0PR01MB1234.eurprd01.prod.exchangelabs.com (2603:10a6:208:ac::18)\n"
	" by mx.cloudwerk.example with ESMTPS; Mon, 3 Mar 2025 09:15:04 +0000\n"
	"From: <postmaster@contoso.onmicrosoft.com>\n"
	"To: <consent+bounce@cloudwerk.example>\n"
	"Date: Mon, 3 Mar 2025 09:15:04 +0000\n"
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"b44a2ea5-7b58-4d1c-9ee6-3c8bd8e2f0e1\"\n"
	"X-MS-Exchange-Message-Is-Ndr:\n"
	"Content-Language: de-DE\n"
	"Message-ID:\n"
	"\t<7d3c8b9c-2e1f-4f6a-9c0d-1a2b3c4d5e6f@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>\n"
	"In-Reply-To: <consent.fedcba9876543210fedcba9876543210@cloudwerk.example>\n"
	"References: <consent.fedcba9876543210fedcba9876543210@cloudwerk.example>\n"
	"Thread-Topic: Ihre Einwilligung [fedcba9876543210fedcba9876543210]\n"
	"Subject: Unzustellbar: Ihre Einwilligung [fedcba9876543210fedcba9876543210]\n"
	"Auto-Submitted: auto-replied\n"
	"MIME-Version: 1.0\n"
	"\n"
	"--b44a2ea5-7b58-4d1c-9ee6-3c8bd8e2f0e1\n"
	"Content-Type: multipart/alternative; differences=Content-Type;\n"
	"\tboundary=\"2d1b7f3e-aa11-4c22-8d33-9e44f55a6b77\"\n"
	"\n"
	"--2d1b7f3e-aa11-4c22-8d33-9e44f55a6b77\n"
	"Content-Type: text/plain; charset=\"utf-8\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"SWhyZSBOYWNocmljaHQgaGF0IGZvbGdlbmRlIEVtcGbDpG5nZXIgbmljaHQgZXJyZWljaHQ6DQoN\n"
	"CmFubmEubXVlbGxlckBjb250b3NvLmV4YW1wbGUNCkRpZSBFLU1haWwtQWRyZXNzZSB3dXJkZSBu\n"
	"aWNodCBnZWZ1bmRlbi4NCg==\n"
	"\n"
	"--2d1b7f3e-aa11-4c22-8d33-9e44f55a6b77\n"
	"Content-Type: text/html; charset=\"utf-8\"\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"<html><head><meta http-equiv=3D\"Content-Type\" content=3D\"text/html; charset=\n"
	"=3Dutf-8\"></head><body><p><b><font color=3D\"#000066\" size=3D\"3\">Ihre Nachri=\n"
	"cht hat folgende Empf=C3=A4nger nicht erreicht:</font></b></p><p><a href=3D=\n"
	"\"mailto:anna.mueller@contoso.example\">anna.mueller@contoso.example</a></p>=\n"
	"<p>Diagnoseinformationen f=C3=BCr Administratoren:</p><p>Urspr=C3=BCnglich=\n"
	"e Nachrichtenkopfzeilen:</p><pre>Message-ID: &lt;consent.fedcba9876543210f=\n"
	"edcba9876543210@cloudwerk.example&gt;</pre></body></html>\n"
	"\n"
	"--2d1b7f3e-aa11-4c22-8d33-9e44f55a6b77--\n"
	"\n"
	"--b44a2ea5-7b58-4d1c-9ee6-3c8bd8e2f0e1\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com\n"
	"Received-From-MTA: dns;mail-db8eur05on2060.outbound.protection.outlook.com\n"
	"Arrival-Date: Mon, 3 Mar 2025 09:15:03 +0000\n"
	"\n"
	"Final-Recipient: rfc822;anna.mueller@contoso.example\n"
	"Action: failed\n"
	"Status: 5.1.10\n"
	"Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not\n"
	" found by SMTP address lookup\n"
	"X-Display-Name: Anna Mueller\n"
	"\n"
	"\n"
	"--b44a2ea5-7b58-4d1c-9ee6-3c8bd8e2f0e1\n"
	"Content-Type: text/rfc822-headers\n"
	"\n"
	"Received: from app.cloudwerk.example (192.0.2.10) by\n"
	" DB8EUR05FT012.mail.protection.outlook.com (10.233.238.85) with Microsoft SMTP\n"
	" Server id 15.20.8489.16; Mon, 3 Mar 2025 09:15:03 +0000\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: <anna.mueller@contoso.example>\n"
	"Subject: Ihre Einwilligung [fedcba9876543210fedcba9876543210]\n"
	"Date: Mon, 3 Mar 2025 10:15:00 +0100\n"
	"Message-ID: <consent.fedcba9876543210fedcba9876543210@cloudwerk.example>\n"
	"Reply-To: consent+fedcba9876543210fedcba9876543210@cloudwerk.example\n"
	"Auto-Submitted: auto-generated\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=\"utf-8\"\n"
	"\n"
	"--b44a2ea5-7b58-4d1c-9ee6-3c8bd8e2f0e1--\n";

static const char POSTFIX_DELAY[] =
	"Return-Path: <>\n"
	"Date: Tue,  4 Mar 2025 14:15:02 +0100 (CET)\n"
	"From: MAILER-DAEMON@mx.cloudwerk.example (Mail Delivery System)\n"
	"Subject: Delayed Mail (still being retried)\n"
	"To: consent+bounce@cloudwerk.example\n"
	"Auto-Submitted: auto-replied\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"5Ab2C3dEfgh.1741094102/mx.cloudwerk.example\"\n"
	"Message-Id: <20250304131502.5Ab2C3dEfgh@mx.cloudwerk.example>\n"
	"\n"
	"--5Ab2C3dEfgh.1741094102/mx.cloudwerk.example\n"
	"Content-Description: Notification\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"This is the mail system at host mx.cloudwerk.example.\n"
	"\n"
	"####################################################################\n"
	"# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
	"####################################################################\n"
	"\n"
	"Your message could not be delivered for more than 4 hour(s).\n"
	"It will be retried until it is 5 day(s) old.\n"
	"\n"
	"<bert@slow.example>: connect to mx.slow.example[198.51.100.7]:25: Connection\n"
	"    timed out\n"
	"\n"
	"--5Ab2C3dEfgh.1741094102/mx.cloudwerk.example\n"
	"Content-Description: Delivery report\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; mx.cloudwerk.example\n"
	"X-Postfix-Queue-ID: 5Ab2C3dEfgh\n"
	"Arrival-Date: Tue,  4 Mar 2025 10:10:00 +0100 (CET)\n"
	"\n"
	"Final-Recipient: rfc822; bert@slow.example\n"
	"Original-Recipient: rfc822;bert@slow.example\n"
	"Action: delayed\n"
	"Status: 4.4.1\n"
	"Diagnostic-Code: X-Postfix; connect to mx.slow.example[198.51.100.7]:25:\n"
	"    Connection timed out\n"
	"Will-Retry-Until: Sun,  9 Mar 2025 10:10:00 +0100 (CET)\n"
	"\n"
	"--5Ab2C3dEfgh.1741094102/mx.cloudwerk.example\n"
	"Content-Description: Undelivered Message Headers\n"
	"Content-Type: text/rfc822-headers\n"
	"\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: bert@slow.example\n"
	"Subject: Ihre Einwilligung [00112233445566778899aabbccddeeff]\n"
	"Message-ID: <consent.00112233445566778899aabbccddeeff@cloudwerk.example>\n"
	"\n"
	"--5Ab2C3dEfgh.1741094102/mx.cloudwerk.example--\n";

static const char MDN_THUNDERBIRD[] =
	"Return-Path: <anna.mueller@example.org>\n"
	"From: Anna Mueller <anna.mueller@example.org>\n"
	"To: consent+0123456789abcdef0123456789abcdef@cloudwerk.example\n"
	"Subject: Return Receipt (displayed) - Ihre Einwilligung\n"
	"Date: Mon, 3 Mar 2025 11:02:41 +0100\n"
	"Message-ID: <8a1f0c2e-mdn@example.org>\n"
	"In-Reply-To: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"References: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=disposition-notification;\n"
	" boundary=\"------------mdn0123\"\n"
	"\n"
	"This is a multi-part message in MIME format.\n"
	"--------------mdn0123\n"
	"Content-Type: text/plain; charset=UTF-8\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"This is a Return Receipt for the mail that you sent to\n"
	"anna.mueller@example.org.\n"
	"\n"
	"Note: This Return Receipt only acknowledges that the message was displayed\n"
	"on the recipient's computer.\n"
	"\n"
	"--------------mdn0123\n"
	"Content-Type: message/disposition-notification; name=\"MDNPart2.txt\"\n"
	"Content-Disposition: inline\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"Reporting-UA: example.org; Thunderbird 115.8.0\n"
	"Final-Recipient: rfc822;anna.mueller@example.org\n"
	"Original-Message-ID: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"Disposition: manual-action/MDN-sent-manually; displayed\n"
	"\n"
	"--------------mdn0123\n"
	"Content-Type: text/rfc822-headers; name=\"MDNPart3.txt\"\n"
	"Content-Disposition: inline\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: anna.mueller@example.org\n"
	"Subject: Ihre Einwilligung\n"
	"Message-ID: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"\n"
	"--------------mdn0123--\n";

static const char QMAIL_BOUNCE[] =
	"Return-Path: <>\n"
	"Delivered-To: consent+bounce@cloudwerk.example\n"
	"Date: 3 Mar 2025 09:20:11 -0000\n"
	"From: MAILER-DAEMON@mail.example.net\n"
	"To: consent+bounce@cloudwerk.example\n"
	"Subject: failure notice\n"
	"\n"
	"Hi. This is the qmail-send program at mail.example.net.\n"
	"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
	"This is a permanent error; I've given up. Sorry it didn't work out.\n"
	"\n"
	"<anna@example.org>:\n"
	"Sorry, I couldn't find any host named example.org. (#5.1.2)\n"
	"\n"
	"<bert@example.org>:\n"
	"192.0.2.44 does not like recipient.\n"
	"Remote host said: 550 5.1.1 <bert@example.org>: User unknown\n"
	"Giving up on 192.0.2.44.\n"
	"\n"
	"--- Below this line is a copy of the message.\n"
	"\n"
	"Return-Path: <consent+bounce@cloudwerk.example>\n"
	"Received: (qmail 4711 invoked from network); 3 Mar 2025 09:20:10 -0000\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: anna@example.org\n"
	"Subject: Ihre Einwilligung [0123456789abcdef0123456789abcdef]\n"
	"Message-ID: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"Date: Mon, 03 Mar 2025 10:20:00 +0100\n"
	"\n"
	"Guten Tag,\n"
	"<carol@example.org>: not a recipient line, it is below the copy marker\n"
	"bitte antworten Sie mit JA oder NEIN.\n";

static const char EXIM_BOUNCE[] =
	"Return-path: <>\n"
	"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
	"To: consent+bounce@cloudwerk.example\n"
	"Subject: Mail delivery failed: returning message to sender\n"
	"Message-Id: <E1tp4Xa-0001Ab-Cd@mx.example.net>\n"
	"Date: Mon, 03 Mar 2025 10:30:00 +0100\n"
	"Auto-Submitted: auto-replied\n"
	"\n"
	"This message was created automatically by mail delivery software.\n"
	"\n"
	"A message that you sent could not be delivered to one or more of its\n"
	"recipients. This is a permanent error. The following address(es) failed:\n"
	"\n"
	"  dora@example.net\n"
	"    SMTP error from remote mail server after RCPT TO:<dora@example.net>:\n"
	"    550 5.1.1 User unknown\n"
	"\n"
	"------ This is a copy of the message, including all the headers. ------\n"
	"\n"
	"Return-path: <consent+bounce@cloudwerk.example>\n"
	"From: Cloudwerk <consent@cloudwerk.example>\n"
	"To: dora@example.net\n"
	"Subject: Ihre Quittung\n"
	"Message-ID: <receipt.0a1b2c3d4e5f60718293a4b5@cloudwerk.example>\n"
	"\n"
	"Sie haben eingewilligt.\n";

static const char PLAIN_REPLY_QUOTING[] =
	"Return-Path: <anna.mueller@example.org>\n"
	"From: Anna Mueller <anna.mueller@example.org>\n"
	"To: consent+0123456789abcdef0123456789abcdef@cloudwerk.example\n"
	"Subject: Re: Undeliverable: Ihre Einwilligung [0123456789abcdef0123456789abcdef]\n"
	"Message-ID: <c0ffee@example.org>\n"
	"In-Reply-To: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"\n"
	"Ja, ich bin einverstanden.\n"
	"\n"
	"<anna.mueller@example.org>: my old mail said 550 5.1.1, ignore that\n"
	"\n"
	"Am 03.03.2025 schrieb Cloudwerk <consent@cloudwerk.example>:\n"
	"> Message-ID: <consent.0123456789abcdef0123456789abcdef@cloudwerk.example>\n"
	"> Bitte antworten Sie mit JA oder NEIN.\n";

/* replace - s with the first from replaced by to (which must be there). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	strbuf b = { 0 };

	assert_non_null(at);
	strbuf_add(&b, s, (size_t)(at - s));
	strbuf_adds(&b, to);
	strbuf_adds(&b, at + strlen(from));
	return b.s;
}

/* crlf - s with every LF made CRLF. */
static char *crlf(const char *s)
{
	strbuf b = { 0 };

	for (; *s != '\0'; s++)
		strbuf_add(&b, *s == '\n' ? "\r\n" : s, *s == '\n' ? 2 : 1);
	return b.s;
}

struct bwant {
	const char *name;
	const char *raw;
	bool multipart_report, is_bounce, is_mdn;
	const char *dsn_rcpts, *dsn_status, *orig_msgids;
	const char *text_start;  /* the text is kept as for any mail: its start */
};

static void check_bounce(const struct bwant *w, const char *raw)
{
	char buf[2048], err[128];
	inmail m;

	if (inmail_parse(raw, strlen(raw), &m, err, sizeof(err)) != 0)
		fail_msg("%s: %s", w->name, err);
	if (m.multipart_report != w->multipart_report)
		fail_msg("%s: multipart_report got %d", w->name, m.multipart_report);
	if (m.is_bounce != w->is_bounce)
		fail_msg("%s: is_bounce got %d", w->name, m.is_bounce);
	if (m.is_mdn != w->is_mdn)
		fail_msg("%s: is_mdn got %d", w->name, m.is_mdn);
	join(m.dsn_rcpts, m.n_dsn_rcpts, buf, sizeof(buf));
	check_str("dsn_rcpts", w->name, m.n_dsn_rcpts ? buf : NULL, w->dsn_rcpts);
	check_str("dsn_status", w->name, m.dsn_status, w->dsn_status);
	join(m.orig_msgids, m.n_orig_msgids, buf, sizeof(buf));
	check_str("orig_msgids", w->name, m.n_orig_msgids ? buf : NULL, w->orig_msgids);
	if (m.text == NULL || strncmp(m.text, w->text_start, strlen(w->text_start)) != 0)
		fail_msg("%s: text got [%s]", w->name, m.text ? m.text : "(null)");
	inmail_clear(&m);
}

#define ANNA_ID "consent.0123456789abcdef0123456789abcdef@cloudwerk.example"

static const struct bwant bounces[] = {
	{ "postfix bounce", POSTFIX_BOUNCE, true, true, false,
	  "anna.mueller@example.org", "5.1.1", ANNA_ID,
	  "This is the mail system at host mx.cloudwerk.example.\n\nI'm sorry" },
	{ "exchange ndr", EXCHANGE_NDR, true, true, false,
	  "anna.mueller@contoso.example", "5.1.10",
	  "consent.fedcba9876543210fedcba9876543210@cloudwerk.example",
	  "Ihre Nachricht hat folgende Empfänger nicht erreicht:\n\nanna.mueller@contoso.example\n" },
	/* A delay notice is automatic mail (multipart_report) but not a
	 * failure: is_bounce false, no failed recipients, no status; the
	 * original's id is still reported. */
	{ "postfix delay notice", POSTFIX_DELAY, true, false, false,
	  NULL, NULL, "consent.00112233445566778899aabbccddeeff@cloudwerk.example",
	  "This is the mail system" },
	{ "thunderbird mdn", MDN_THUNDERBIRD, true, false, true,
	  NULL, NULL, ANNA_ID, "This is a Return Receipt" },
	/* No MIME report: recipients from the "<addr>:" lines before the
	 * copy, the status from the first one's paragraph, the id from the
	 * copied header found in the text. */
	{ "qmail bounce", QMAIL_BOUNCE, false, true, false,
	  "anna@example.org,bert@example.org", "5.1.2", ANNA_ID,
	  "Hi. This is the qmail-send program" },
	{ "exim bounce of a receipt", EXIM_BOUNCE, false, true, false,
	  "dora@example.net", "5.1.1", "receipt.0a1b2c3d4e5f60718293a4b5@cloudwerk.example",
	  "This message was created automatically" },
	/* The person's reply quotes a bounce subject, an "<addr>:" line and
	 * our Message-ID: none of it is read, it is not from a daemon. */
	{ "plain reply", PLAIN_REPLY_QUOTING, false, false, false,
	  NULL, NULL, NULL, "Ja, ich bin einverstanden.\n" },
};

static void test_bounces(void **state)
{
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(bounces) / sizeof(bounces[0]); i++) {
		check_bounce(&bounces[i], bounces[i].raw);
		s = crlf(bounces[i].raw);  /* the same over CRLF */
		check_bounce(&bounces[i], s);
		free(s);
	}
}

/* Postfix with bounce_size_limit exceeded or "headers only" sends the
 * original's header as text/rfc822-headers; message/global and
 * message/global-headers (RFC 6533) and a base64-wrapped message/rfc822
 * are read the same way. */
static void test_returned_headers(void **state)
{
	static const struct { const char *to; const char *enc; } forms[] = {
		{ "Content-Type: text/rfc822-headers\n", "" },
		{ "Content-Type: message/global-headers\n", "" },
		{ "Content-Type: message/global\n", "" },
		{ "Content-Type: message/rfc822\n", "Content-Transfer-Encoding: base64\n" },
	};
	struct bwant w = { "postfix headers only", NULL, true, true, false,
			   "anna.mueller@example.org", "5.1.1", ANNA_ID, "This is the mail system" };
	char *a, *b;
	size_t i;

	(void)state;
	a = replace(POSTFIX_BOUNCE, "\nGuten Tag Anna M=C3=BCller,\nbitte antworten Sie mit JA oder NEIN.\n", "");
	b = replace(a, "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n"
		    "Content-Transfer-Encoding: 8bit\n",
		    "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n");
	check_bounce(&w, b);
	free(a);
	free(b);
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		strbuf m = { 0 };
		w.name = forms[i].to;
		strbuf_adds(&m, "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example\n"
			    "Content-Type: multipart/report; report-type=delivery-status; boundary=R\n\n"
			    "--R\nContent-Type: message/delivery-status\n\n"
			    "Final-Recipient: rfc822; anna.mueller@example.org\nAction: failed\nStatus: 5.1.1\n\n--R\n");
		strbuf_adds(&m, forms[i].to);
		strbuf_adds(&m, forms[i].enc);
		if (forms[i].enc[0] != '\0')  /* "Message-ID: <ANNA_ID>\n\n" */
			strbuf_adds(&m, "\nTWVzc2FnZS1JRDogPGNvbnNlbnQuMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWZAY2xv\n"
				    "dWR3ZXJrLmV4YW1wbGU+Cgo=\n");
		else
			strbuf_adds(&m, "\nReceived: by x\nMessage-Id:\n <" ANNA_ID ">\n\n");
		strbuf_adds(&m, "--R\nContent-Type: text/plain\n\nThis is the mail system\n--R--\n");
		check_bounce(&w, m.s);
		free(m.s);
	}
}

/* A delivery-status part: fields in groups, what counts and what not. */
struct dwant {
	const char *name;
	const char *ds;           /* the body of the message/delivery-status part */
	bool is_bounce;
	const char *dsn_rcpts, *dsn_status;
};

static const struct dwant dsn_cases[] = {
	{ "folded, bracketed, comment, odd case",
	  "Reporting-MTA: dns; mx\n\nfinal-recipient : RFC822;\n <Anna@Example.org> (Anna)\n"
	  "ACTION: Failed (permanent)\nStatus:\t5.1.1 (user unknown)\n", true, "Anna@Example.org", "5.1.1" },
	{ "original recipient when the final one is unusable",
	  "Final-Recipient: x400; /C=DE/O=Example/\nOriginal-Recipient: rfc822;anna@example.org\n"
	  "Action: failed\nStatus: 5.0.0\n", true, "anna@example.org", "5.0.0" },
	{ "only failed groups; status of the first failed one with a status",
	  "Reporting-MTA: dns; mx\n\n"
	  "Final-Recipient: rfc822; a@example.org\nAction: delayed\nStatus: 4.4.1\n\n"
	  "Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 5.9.9.9\n\n"
	  "Final-Recipient: rfc822; c@example.org\nAction: failed\nStatus: 5.2.2\n\n"
	  "Final-Recipient: rfc822; C@EXAMPLE.ORG\nAction: failed\nStatus: 5.1.1\n\n"
	  "Final-Recipient: rfc822; d@example.org\nAction: delivered\nStatus: 2.0.0\n",
	  true, "b@example.org,c@example.org", "5.2.2" },
	{ "success notice is no bounce",
	  "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@example.org\nAction: relayed\nStatus: 2.0.0\n\n"
	  "Final-Recipient: rfc822; b@example.org\nAction: expanded\nStatus: 2.0.0\n",
	  false, NULL, NULL },
	{ "malformed status codes are not kept",
	  "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1\n\n"
	  "Final-Recipient: rfc822; b@example.org\nAction: failed\nStatus: 9.1.1\n\n"
	  "Final-Recipient: rfc822; c@example.org\nAction: failed\nStatus: 5.1.1234\n\n"
	  "Final-Recipient: rfc822; d@example.org\nAction: failed\nStatus: 5.1.1.\n",
	  true, "a@example.org,b@example.org,c@example.org,d@example.org", NULL },
	{ "unusable addresses are dropped, the failure still counts",
	  "Final-Recipient: rfc822; no-at-sign\nAction: failed\n\n"
	  "Final-Recipient: rfc822; <a b@example.org>\nAction: failed\n\n"
	  "Final-Recipient: rfc822; @example.org\nAction: failed\n\n"
	  "Final-Recipient: rfc822; <unclosed@example.org\nAction: failed\n",
	  true, NULL, NULL },
	{ "an action word that only starts with failed is not one",
	  "Final-Recipient: rfc822; a@example.org\nAction: failedish\n", false, NULL, NULL },
	/* No blank lines: all one group, the first field of each kind counts. */
	{ "no blank lines",
	  "Reporting-MTA: dns; mx\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n"
	  "Final-Recipient: rfc822; b@example.org\nAction: delayed\nStatus: 4.4.1\n",
	  true, "a@example.org", "5.1.1" },
	{ "whitespace-only lines separate groups, CRLF",
	  "Reporting-MTA: dns; mx\r\n \t\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: failed\r\n"
	  "Status: 5.1.1\r\n  \r\nFinal-Recipient: rfc822; b@example.org\r\nAction: failed\r\n",
	  true, "a@example.org,b@example.org", "5.1.1" },
	{ "lines without a colon and stray continuations are skipped",
	  " continuation before any field\ngarbage line\nFinal-Recipient: rfc822; a@example.org\n"
	  "junk\n more junk\nAction: failed\n", true, "a@example.org", NULL },
	/* No Action anywhere: the report's header decides (a delivery-status
	 * report is a bounce), nothing is guessed from the groups. */
	{ "no actions", "Final-Recipient: rfc822; a@example.org\nStatus: 5.1.1\n", true, NULL, NULL },
	{ "empty", "", true, NULL, NULL },
};

static char *dsn_message(const char *ds, const char *cte)
{
	strbuf b = { 0 };

	strbuf_adds(&b, "From: MAILER-DAEMON@mx.example\nSubject: report\n"
		    "Content-Type: multipart/report; report-type=delivery-status; boundary=R\n\n"
		    "--R\nContent-Type: text/plain\n\nhuman\n--R\nContent-Type: message/delivery-status\n");
	strbuf_adds(&b, cte);
	strbuf_adds(&b, "\n");
	strbuf_adds(&b, ds);
	strbuf_adds(&b, "\n--R--\n");
	return b.s;
}

static void check_dsn(const struct dwant *w, const char *raw)
{
	char buf[4096], err[128];
	inmail m;

	if (inmail_parse(raw, strlen(raw), &m, err, sizeof(err)) != 0)
		fail_msg("%s: %s", w->name, err);
	if (m.is_bounce != w->is_bounce)
		fail_msg("%s: is_bounce got %d", w->name, m.is_bounce);
	join(m.dsn_rcpts, m.n_dsn_rcpts, buf, sizeof(buf));
	check_str("dsn_rcpts", w->name, m.n_dsn_rcpts ? buf : NULL, w->dsn_rcpts);
	check_str("dsn_status", w->name, m.dsn_status, w->dsn_status);
	assert_false(m.is_mdn);
	assert_int_equal(m.n_orig_msgids, 0);
	assert_string_equal(m.text, "human");
	inmail_clear(&m);
}

static void test_dsn_groups(void **state)
{
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(dsn_cases) / sizeof(dsn_cases[0]); i++) {
		s = dsn_message(dsn_cases[i].ds, "");
		check_dsn(&dsn_cases[i], s);
		free(s);
	}
	/* A transfer-encoded delivery-status part is decoded first. */
	s = dsn_message("RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGI2NEBleGFtcGxlLm9yZw0KQWN0aW9uOiBmYWlsZWQNClN0YXR1czogNS4yLjINCg==",
			"Content-Transfer-Encoding: base64\n");
	check_dsn(&(struct dwant){ "base64", NULL, true, "b64@example.org", "5.2.2" }, s);
	free(s);
}

/* The limits of a delivery-status part: a 20 KB line, a 20 KB folded
 * value, one group with 1000 recipients, 1000 groups, a part longer than
 * INMAIL_REPORT_PART_MAX. */
static void test_dsn_limits(void **state)
{
	strbuf b = { 0 };
	char line[128], *s, want[INMAIL_DSN_RCPTS_MAX * 32];
	size_t i, o = 0;

	(void)state;
	/* a 20 KB value is ignored (its address unusable): Original-Recipient
	 * stands in; a 20 KB line without a colon is skipped */
	strbuf_adds(&b, "Final-Recipient: rfc822; ");
	for (i = 0; i < 20000; i++)
		strbuf_add(&b, "x", 1);
	strbuf_adds(&b, "@example.org\n");
	for (i = 0; i < 20000; i++)
		strbuf_add(&b, "y", 1);
	strbuf_adds(&b, "\nOriginal-Recipient: rfc822; c@example.org\nAction: failed\nStatus: 5.1.1\n");
	s = dsn_message(b.s, "");
	check_dsn(&(struct dwant){ "20 KB line", NULL, true, "c@example.org", "5.1.1" }, s);
	free(s);
	free(b.s);
	/* a value exactly at INMAIL_DSN_VALUE_MAX is read, one byte more is not */
	for (i = 0; i < 2; i++) {
		static const char head[] = "Action: failed\nFinal-Recipient:", tail[] = "rfc822; a@example.org";
		b = (strbuf){ 0 };
		strbuf_adds(&b, head);
		while (b.len - (sizeof(head) - 1) + (sizeof(tail) - 1) < INMAIL_DSN_VALUE_MAX + i)
			strbuf_add(&b, " ", 1);  /* the value: blanks and tail, VALUE_MAX + i bytes */
		strbuf_adds(&b, tail);
		strbuf_adds(&b, "\n");
		s = dsn_message(b.s, "");
		check_dsn(&(struct dwant){ "value at limit", NULL, true, i == 0 ? "a@example.org" : NULL, NULL }, s);
		free(s);
		free(b.s);
	}
	/* a folded value over the limit is ignored too */
	b = (strbuf){ 0 };
	strbuf_adds(&b, "Action: failed\nFinal-Recipient: rfc822;\n");
	for (i = 0; i < 2000; i++)
		strbuf_adds(&b, " (fold)\n");
	strbuf_adds(&b, " a@example.org\nOriginal-Recipient: rfc822; o@example.org\n");
	s = dsn_message(b.s, "");
	check_dsn(&(struct dwant){ "folded 16 KB", NULL, true, "o@example.org", NULL }, s);
	free(s);
	free(b.s);
	/* one group with 1000 recipients: the first one counts */
	b = (strbuf){ 0 };
	strbuf_adds(&b, "Action: failed\n");
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "Final-Recipient: rfc822; r%zu@example.org\n", i);
		strbuf_adds(&b, line);
	}
	s = dsn_message(b.s, "");
	check_dsn(&(struct dwant){ "1000 in one group", NULL, true, "r0@example.org", NULL }, s);
	free(s);
	free(b.s);
	/* 1000 failed groups: the first INMAIL_DSN_RCPTS_MAX are kept */
	b = (strbuf){ 0 };
	want[0] = '\0';
	for (i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "\nFinal-Recipient: rfc822; r%zu@example.org\nAction: failed\n", i);
		strbuf_adds(&b, line);
		if (i < INMAIL_DSN_RCPTS_MAX)
			o += (size_t)snprintf(want + o, sizeof(want) - o, "%sr%zu@example.org", i ? "," : "", i);
	}
	s = dsn_message(b.s, "");
	check_dsn(&(struct dwant){ "1000 groups", NULL, true, want, NULL }, s);
	free(s);
	free(b.s);
	/* groups past INMAIL_REPORT_PART_MAX bytes of the part are not read:
	 * a delayed group inside, a failed one beyond */
	b = (strbuf){ 0 };
	strbuf_adds(&b, "Final-Recipient: rfc822; a@example.org\nAction: delayed\n\n");
	while (b.len < INMAIL_REPORT_PART_MAX)
		strbuf_adds(&b, "X-Pad: 0123456789012345678901234567890123456789012345678901234567890123\n");
	strbuf_adds(&b, "\nFinal-Recipient: rfc822; b@example.org\nAction: failed\n");
	s = dsn_message(b.s, "");
	check_dsn(&(struct dwant){ "beyond the part limit", NULL, false, NULL, NULL }, s);
	free(s);
	free(b.s);
}

/* Returned ids: distinct, at most INMAIL_ORIG_IDS_MAX, our forms only in
 * the fallback, nothing malformed. */
static void test_orig_ids(void **state)
{
	strbuf b = { 0 };
	char line[160];
	size_t i;
	inmail m;

	(void)state;
	strbuf_adds(&b, "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example\nSubject: failure notice\n\n"
		    "<consent.0123456789abcdef0123456789abcdef@a.example>\n"
		    "<CONSENT.0123456789ABCDEF0123456789ABCDEF@A.EXAMPLE>\n"  /* the same */
		    "<consent.0123456789abcdef0123456789abcde@a.example>\n"   /* 31 hex */
		    "<consent.0123456789abcdef0123456789abcdef0@a.example>\n" /* 33 hex */
		    "<consent.0123456789abcdef0123456789abcdeg@a.example>\n"  /* not hex */
		    "<consent.0123456789abcdef0123456789abcdef@a_b.example>\n"
		    "<consent.0123456789abcdef0123456789abcdef@>\n"
		    "<consent.0123456789abcdef0123456789abcdef@a.example\n"
		    "<other.0123456789abcdef0123456789abcdef@a.example>\n"
		    "<receipt.@a.example> <receipt.ab@b.example><<receipt.cd@c.example>\n");
	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "<receipt.%zx@d.example>\n", i + 10);
		strbuf_adds(&b, line);
	}
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), 0);
	assert_true(m.is_bounce);
	assert_int_equal(m.n_orig_msgids, INMAIL_ORIG_IDS_MAX);
	assert_string_equal(m.orig_msgids[0], "consent.0123456789abcdef0123456789abcdef@a.example");
	assert_string_equal(m.orig_msgids[1], "receipt.ab@b.example");
	assert_string_equal(m.orig_msgids[2], "receipt.cd@c.example");
	assert_string_equal(m.orig_msgids[3], "receipt.a@d.example");
	inmail_clear(&m);
	free(b.s);
	/* the returned header's id wins over ids in the text, any form */
	b = (strbuf){ 0 };
	strbuf_adds(&b, "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n"
		    "Content-Type: multipart/mixed; boundary=M\n\n--M\n\n"
		    "<consent.0123456789abcdef0123456789abcdef@a.example>\n"
		    "--M\nContent-Type: message/rfc822\n\nSubject: x\nMessage-ID: <any-id@else.example>\n\nbody\n"
		    "--M\nContent-Type: message/rfc822\n\nMessage-ID: no brackets\n\nbody\n"
		    "--M\nContent-Type: message/rfc822\n\nMessage-ID: <with space@x>\n\n"
		    "Message-ID: <in-body@x>\n--M--\n");
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), 0);
	assert_true(m.is_bounce);
	assert_int_equal(m.n_orig_msgids, 1);
	assert_string_equal(m.orig_msgids[0], "any-id@else.example");
	assert_int_equal(m.n_dsn_rcpts, 0);
	inmail_clear(&m);
	free(b.s);
}

/* A report over the size limit: the body is refused, is_bounce comes
 * from the header alone. An MDN is never a bounce, even with a
 * delivery-status part inside. */
static void test_bounce_from_header(void **state)
{
	strbuf b = { 0 };
	inmail m;

	(void)state;
	strbuf_adds(&b, "From: MAILER-DAEMON@mx.example\n"
		    "Content-Type: multipart/report; report-type=\"delivery-status\"; boundary=R\n\n--R\n\n");
	while (b.len <= INMAIL_SIZE_MAX)
		strbuf_adds(&b, "0123456789012345678901234567890123456789012345678901234567890123456789\n");
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), -1);
	assert_int_equal(m.error, INMAIL_TOO_BIG);
	assert_true(m.is_bounce);
	assert_false(m.is_mdn);
	assert_int_equal(m.n_dsn_rcpts, 0);
	inmail_clear(&m);
	free(b.s);
	b = (strbuf){ 0 };
	strbuf_adds(&b, "Return-Path: <>\nSubject: Undelivered Mail Returned to Sender\n"
		    "Content-Type: multipart/report; report-type=disposition-notification; boundary=R\n\n"
		    "--R\nContent-Type: message/delivery-status\n\n"
		    "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n--R--\n");
	assert_int_equal(inmail_parse(b.s, b.len, &m, NULL, 0), 0);
	assert_true(m.is_mdn);
	assert_false(m.is_bounce);
	assert_int_equal(m.n_dsn_rcpts, 0);
	assert_null(m.dsn_status);
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
		cmocka_unit_test(test_nesting_any_spelling),
		cmocka_unit_test(test_wide_not_deep),
		cmocka_unit_test(test_encoded_comments),
		cmocka_unit_test(test_html_limit),
		cmocka_unit_test(test_text_parts),
		cmocka_unit_test(test_ids_kept_up_to_max),
		cmocka_unit_test(test_bounces),
		cmocka_unit_test(test_returned_headers),
		cmocka_unit_test(test_dsn_groups),
		cmocka_unit_test(test_dsn_limits),
		cmocka_unit_test(test_orig_ids),
		cmocka_unit_test(test_bounce_from_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
