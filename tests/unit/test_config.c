/*
 * test_config.c - unit tests for config.h: the shipped example loads, every
 * key has its documented default, every kind of bad input is refused with a
 * one-line "FILE:LINE: [section] key: ..." message, password files readable
 * by others are refused, and purposes are found by name.
 *
 * Each test writes its configuration into a scratch directory under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/config.h"
#include "consentd/limits.h"
#include "testutil.h"

/* The two keys every config needs; line numbers below count from here. */
#define BASE "[service]\n" \
	"address = datenschutz@cloudwerk.example\n" \
	"reply_domain = cloudwerk.example\n"
#define BASE_LINES 3

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char conf[TU_PATH_MAX];
	char err[1024];
	config *cfg;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_tmpdir(f->dir);
	tu_path(f->conf, f->dir, "consentd.conf");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	config_free(f->cfg);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

/* load - write text as the config file and load it. */
static int load(fixture *f, const char *text)
{
	config_free(f->cfg);
	f->cfg = NULL;
	tu_write(f->conf, text, (size_t)-1, 0600);
	return config_load(&f->cfg, f->conf, f->err, sizeof(f->err));
}

/* The path of the shipped example: TEST_DATA_DIR is SRC/tests/data. */
static void shipped_conf_path(char out[TU_PATH_MAX])
{
	const char *data = TEST_DATA_DIR;
	const char *tail = "/tests/data";
	size_t n = strlen(data), t = strlen(tail);

	assert_true(n > t && !strcmp(data + n - t, tail));
	snprintf(out, TU_PATH_MAX, "%.*s/conf/consentd.conf", (int)(n - t), data);
}

/* ---- the shipped example and the defaults ---- */

static void test_shipped_example_loads(void **state)
{
	fixture *f = *state;
	char path[TU_PATH_MAX];
	const config_purpose *pu;
	int got;

	shipped_conf_path(path);
	got = config_load(&f->cfg, path, f->err, sizeof(f->err));
	if (got != 0)
		fail_msg("shipped example refused: %s", f->err);
	assert_string_equal(f->cfg->path, path);
	assert_string_equal(f->cfg->service_name, "CloudWerk Datenschutz");
	assert_string_equal(f->cfg->service_address, "datenschutz@cloudwerk.example");
	assert_string_equal(f->cfg->reply_local, "consent");
	assert_string_equal(f->cfg->reply_domain, "cloudwerk.example");
	assert_string_equal(f->cfg->delimiter, "+");
	assert_string_equal(f->cfg->default_lang, "de");
	assert_string_equal(f->cfg->store_path, "/var/lib/consentd/consentd.db");
	assert_int_equal(f->cfg->smtp_port, 25);
	assert_int_equal(f->cfg->smtp_starttls, TLS_NO);
	assert_true(f->cfg->imap_enabled);
	assert_int_equal(f->cfg->imap_tls, TLS_NO);
	/* The secret file may not exist here; that is allowed at load time. */
	assert_string_equal(f->cfg->imap_password_file, "/etc/consentd/imap.secret");
	assert_int_equal(f->cfg->lifetime_days, 30);
	assert_int_equal(f->cfg->broadcast_rate, 50);
	assert_int_equal(f->cfg->broadcast_domain_rate, 10);
	assert_int_equal(f->cfg->npurposes, 1);
	pu = config_purpose_find(f->cfg, "log-linking");
	assert_non_null(pu);
	assert_string_equal(pu->title_en, "Linking your personal data with log data");
	assert_string_equal(pu->title_de,
			    "Verknüpfung Ihrer personenbezogenen Daten mit Protokolldaten");
	assert_non_null(pu->description_de);
	assert_non_null(pu->description_en);
	assert_int_equal(pu->version, 1);
}

static void test_defaults_when_keys_absent(void **state)
{
	fixture *f = *state;
	const config *c;

	if (load(f, BASE) != 0)
		fail_msg("minimal config refused: %s", f->err);
	c = f->cfg;
	assert_string_equal(c->service_name, "consentd");
	assert_string_equal(c->reply_local, "consent");
	assert_string_equal(c->delimiter, "+");
	assert_string_equal(c->default_lang, "de");
	assert_string_equal(c->controller, "");
	assert_string_equal(c->store_path, "/var/lib/consentd/consentd.db");
	assert_int_equal(c->busy_timeout_ms, 5000);
	assert_string_equal(c->smtp_host, "127.0.0.1");
	assert_int_equal(c->smtp_port, 25);
	assert_int_equal(c->smtp_starttls, TLS_NO);
	assert_string_equal(c->smtp_user, "");
	assert_string_equal(c->smtp_password_file, "");
	assert_int_equal(c->smtp_timeout, 60);
	assert_false(c->imap_enabled);
	assert_string_equal(c->imap_host, "127.0.0.1");
	assert_int_equal(c->imap_port, 143);
	assert_int_equal(c->imap_tls, TLS_NO);
	assert_string_equal(c->imap_user, "");
	assert_string_equal(c->imap_password_file, "");
	assert_string_equal(c->imap_mailbox, "INBOX");
	assert_string_equal(c->imap_processed_mailbox, "consent/processed");
	assert_string_equal(c->imap_review_mailbox, "consent/review");
	assert_int_equal(c->lifetime_days, 30);
	assert_string_equal(c->templates_dir, "/usr/share/consentd/mailtemplates");
	assert_int_equal(c->broadcast_rate, 50);
	assert_int_equal(c->broadcast_domain_rate, 10);
	assert_int_equal(c->npurposes, 0);
	assert_null(config_purpose_find(c, "log-linking"));
}

/* Values that are accepted, and what they become. */
static void test_values_accepted(void **state)
{
	fixture *f = *state;
	const config *c;

	if (load(f, BASE
		 "name = Ä Service ; trailing comment\n"
		 "delimiter = -\n"
		 "default_lang = en\n"
		 "[store]\n"
		 "busy_timeout_ms = 0\n"
		 "[smtp]\n"
		 "port = 65535\n"
		 "starttls = require\n"
		 "[imap]\n"
		 "enabled = true\n"
		 "port = 1\n"
		 "tls = starttls\n"
		 "[tokens]\n"
		 "lifetime_days = 3650\n"
		 "[broadcast]\n"
		 "rate = 0\n") != 0)
		fail_msg("refused: %s", f->err);
	c = f->cfg;
	assert_string_equal(c->service_name, "Ä Service");
	assert_string_equal(c->delimiter, "-");
	assert_string_equal(c->default_lang, "en");
	assert_int_equal(c->busy_timeout_ms, 0);
	assert_int_equal(c->smtp_port, 65535);
	assert_int_equal(c->smtp_starttls, TLS_REQUIRE);
	assert_true(c->imap_enabled);
	assert_int_equal(c->imap_port, 1);
	assert_int_equal(c->imap_tls, TLS_STARTTLS);
	assert_int_equal(c->lifetime_days, 3650);
	assert_int_equal(c->broadcast_rate, 0);

	if (load(f, BASE "[smtp]\nstarttls = try\n[imap]\ntls = imaps\nenabled = 0\n") != 0)
		fail_msg("refused: %s", f->err);
	assert_int_equal(f->cfg->smtp_starttls, TLS_TRY);
	assert_int_equal(f->cfg->imap_tls, TLS_IMAPS);
	assert_false(f->cfg->imap_enabled);

	/* A known section without keys is allowed (it only sets defaults). */
	if (load(f, BASE "[smtp]\n[imap]\n; nothing\n[templates]\n") != 0)
		fail_msg("known sections without keys refused: %s", f->err);
	assert_int_equal(f->cfg->smtp_port, 25);
}

/* ---- refusals: FILE:LINE: and the key ---- */

struct bad_case {
	const char *name;
	const char *text;
	unsigned line;          /* 0: the message names the file but no line */
	const char *want[3];    /* substrings the message must hold */
};

static const struct bad_case bad_cases[] = {
	/* Errors about a section are reported on its [section] line. */
	{ "unknown section", BASE "[bogus]\nx = 1\n", BASE_LINES + 1,
	  { "[bogus]", "unknown section" } },
	{ "unknown section without keys", BASE "[bogus]\n", BASE_LINES + 1,
	  { "[bogus]", "unknown section" } },
	{ "unknown section without keys before a known one",
	  BASE "[bogus]\n; nothing here\n[smtp]\nport = 25\n", BASE_LINES + 1,
	  { "[bogus]", "unknown section" } },
	{ "unknown section with a comment only", BASE "[smtp]\nport = 25\n[bogus]\n; x\n",
	  BASE_LINES + 3, { "[bogus]", "unknown section" } },
	{ "key before any section", "address = a@b.example\n" BASE, 1,
	  { "unknown section" } },
	{ "unknown key", BASE "[smtp]\nhots = mail.example\n", BASE_LINES + 2,
	  { "[smtp] hots", "unknown key" } },
	{ "unknown key in [service]", BASE "adress = x@y.example\n", BASE_LINES + 1,
	  { "[service] adress", "unknown key" } },
	{ "key given twice", BASE "[smtp]\nport = 25\nport = 26\n", BASE_LINES + 3,
	  { "[smtp] port", "twice" } },
	{ "key given twice in two sections of the same name",
	  BASE "[smtp]\nport = 25\n[imap]\nport = 143\n[smtp]\nport = 26\n",
	  BASE_LINES + 6, { "[smtp] port", "twice" } },
	{ "port 0", BASE "[smtp]\nport = 0\n", BASE_LINES + 2,
	  { "[smtp] port", "'0'", "1 to 65535" } },
	{ "port 70000", BASE "[smtp]\nport = 70000\n", BASE_LINES + 2,
	  { "[smtp] port", "'70000'", "1 to 65535" } },
	{ "port not a number", BASE "[imap]\nport = 143x\n", BASE_LINES + 2,
	  { "[imap] port", "'143x'" } },
	{ "port empty", BASE "[imap]\nport =\n", BASE_LINES + 2, { "[imap] port" } },
	{ "port beyond long", BASE "[imap]\nport = 99999999999999999999999\n",
	  BASE_LINES + 2, { "[imap] port" } },
	{ "busy timeout negative", BASE "[store]\nbusy_timeout_ms = -1\n", BASE_LINES + 2,
	  { "[store] busy_timeout_ms", "0 to 600000" } },
	{ "lifetime 0 days", BASE "[tokens]\nlifetime_days = 0\n", BASE_LINES + 2,
	  { "[tokens] lifetime_days" } },
	{ "bad enum starttls", BASE "[smtp]\nstarttls = maybe\n", BASE_LINES + 2,
	  { "[smtp] starttls", "'maybe'" } },
	{ "smtp value for imap tls", BASE "[imap]\ntls = try\n", BASE_LINES + 2,
	  { "[imap] tls", "'try'" } },
	{ "empty imap tls", BASE "[imap]\ntls =\n", BASE_LINES + 2, { "[imap] tls" } },
	{ "bad bool", BASE "[imap]\nenabled = maybe\n", BASE_LINES + 2,
	  { "[imap] enabled", "'maybe'", "yes or no" } },
	{ "purpose missing title_en",
	  BASE "[purpose log-linking]\ntitle_de = Verknüpfung\n", BASE_LINES + 1,
	  { "[purpose log-linking]", "title_en" } },
	{ "purpose missing title_de after other sections",
	  BASE "[purpose a]\ntitle_en = a\n[smtp]\nport = 25\n", BASE_LINES + 1,
	  { "[purpose a]", "title_de" } },
	{ "empty purpose section", BASE "[purpose log-linking]\n", BASE_LINES + 1,
	  { "[purpose log-linking]", "title_de and title_en are required" } },
	{ "empty purpose section before another",
	  BASE "[purpose a]\n[purpose b]\ntitle_de = b\ntitle_en = b\n", BASE_LINES + 1,
	  { "[purpose a]", "required" } },
	{ "purpose name with uppercase",
	  BASE "[purpose Log-Linking]\ntitle_de = a\ntitle_en = b\n", BASE_LINES + 1,
	  { "[purpose Log-Linking]", "a-z" } },
	{ "purpose name with uppercase, no keys", BASE "[purpose Log-Linking]\n",
	  BASE_LINES + 1, { "[purpose Log-Linking]", "a-z" } },
	{ "purpose name with space",
	  BASE "[purpose log linking]\ntitle_de = a\ntitle_en = b\n", BASE_LINES + 1,
	  { "[purpose log linking]" } },
	{ "purpose defined twice",
	  BASE "[purpose a]\ntitle_de = a\ntitle_en = a\n[purpose a]\ntitle_de = b\n",
	  BASE_LINES + 4, { "[purpose a]", "twice", "first on line 4" } },
	{ "purpose defined twice, the second without keys",
	  BASE "[purpose a]\ntitle_de = a\ntitle_en = a\n[purpose a]\n",
	  BASE_LINES + 4, { "[purpose a]", "twice" } },
	{ "purpose key given twice",
	  BASE "[purpose a]\ntitle_de = a\ntitle_de = b\ntitle_en = c\n", BASE_LINES + 3,
	  { "[purpose a] title_de", "twice" } },
	{ "purpose unknown key",
	  BASE "[purpose a]\ntitle_de = a\ntitle_en = b\ntitle_fr = c\n", BASE_LINES + 4,
	  { "[purpose a] title_fr", "unknown key" } },
	{ "purpose version 0",
	  BASE "[purpose a]\ntitle_de = a\ntitle_en = b\nversion = 0\n", BASE_LINES + 4,
	  { "[purpose a] version", "'0'" } },
	{ "syntax error line without '='", BASE "[smtp]\nport 25\n", BASE_LINES + 2,
	  { "syntax error" } },
	{ "unclosed section header", BASE "[smtp\nport = 25\n", BASE_LINES + 1,
	  { "syntax error" } },
	{ "tab in a value", BASE "name = Cloud\tWerk\n", BASE_LINES + 1,
	  { "[service] name", "control characters" } },
	{ "DEL in a value", BASE "[smtp]\nhost = mail\x7f.example\n", BASE_LINES + 2,
	  { "[smtp] host", "control characters" } },
	{ "C1 control in a value", BASE "name = Cloud\xc2\x85Werk\n", BASE_LINES + 1,
	  { "[service] name", "control characters" } },
	{ "ESC in a value", BASE "name = \x1b[31mred\n", BASE_LINES + 1,
	  { "[service] name", "control characters" } },
	{ "invalid UTF-8 in a value", BASE "name = Cloud\xffWerk\n", BASE_LINES + 1,
	  { "[service] name", "UTF-8" } },
	{ "control character in a purpose title",
	  BASE "[purpose a]\ntitle_de = a\x01b\ntitle_en = b\n", BASE_LINES + 2,
	  { "[purpose a] title_de", "control characters" } },
	/* Cross-key rules: there is no line for a key that is absent. */
	{ "missing [service] address",
	  "[service]\nreply_domain = cloudwerk.example\n", 0,
	  { "[service] address", "required" } },
	{ "missing reply_domain",
	  "[service]\naddress = datenschutz@cloudwerk.example\n", 0,
	  { "[service] reply_domain", "required" } },
};

/* expect_refusal - *err is one line "PATH:LINE: ..." (or "PATH: ..." when
 * line is 0) holding every wanted substring. */
static void expect_refusal(const char *name, const char *path, const char *err,
			   unsigned line, const char *const want[3])
{
	char prefix[TU_PATH_MAX + 32];
	int i;

	if (line)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("%s: got '%s', want it to start with '%s'", name, err, prefix);
	if (strchr(err, '\n'))
		fail_msg("%s: got a message with a line break: '%s'", name, err);
	for (i = 0; i < 3 && want[i]; i++)
		if (!strstr(err, want[i]))
			fail_msg("%s: got '%s', want it to contain '%s'", name, err, want[i]);
}

static void test_refusals(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int got = load(f, c->text);

		if (got != -1)
			fail_msg("%s: got %d, want -1 (refused)", c->name, got);
		assert_null(f->cfg);
		expect_refusal(c->name, f->conf, f->err, c->line, c->want);
	}
}

/* Cross-key values that are wrong: the message names the file, line and key. */
static const struct bad_case crosskey_cases[] = {
	{ "invalid address", "[service]\naddress = not-an-address\n"
	  "reply_domain = cloudwerk.example\n", 2, { "[service] address", "not-an-address" } },
	{ "address with display name", "[service]\naddress = CW <a@cloudwerk.example>\n"
	  "reply_domain = cloudwerk.example\n", 2, { "[service] address" } },
	{ "bad delimiter", BASE "delimiter = #\n", BASE_LINES + 1, { "[service] delimiter" } },
	{ "two-character delimiter", BASE "delimiter = ++\n", BASE_LINES + 1,
	  { "[service] delimiter" } },
	{ "reply address invalid", BASE "reply_local = a..b\n", BASE_LINES + 1,
	  { "reply_local" } },
	{ "default_lang fr", BASE "default_lang = fr\n", BASE_LINES + 1,
	  { "[service] default_lang" } },
	{ "empty store path", BASE "[store]\npath =\n", BASE_LINES + 2, { "[store] path" } },
};

static void test_crosskey_refusals(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(crosskey_cases) / sizeof(crosskey_cases[0]); i++) {
		const struct bad_case *c = &crosskey_cases[i];
		int got = load(f, c->text);

		if (got != -1)
			fail_msg("%s: got %d, want -1 (refused)", c->name, got);
		assert_null(f->cfg);
		/* Today "FILE: [section] key: ...", without a line; accept both. */
		if (!strncmp(f->err, f->conf, strlen(f->conf)) &&
		    !strncmp(f->err + strlen(f->conf), ": ", 2))
			expect_refusal(c->name, f->conf, f->err, 0, c->want);
		else
			expect_refusal(c->name, f->conf, f->err, c->line, c->want);
	}
}

/* A wrong value found by the cross-key checks should name its line like
 * every other wrong value does. */
static void test_crosskey_refusals_name_line(void **state)
{
	fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(crosskey_cases) / sizeof(crosskey_cases[0]); i++) {
		const struct bad_case *c = &crosskey_cases[i];

		assert_int_equal(load(f, c->text), -1);
		expect_refusal(c->name, f->conf, f->err, c->line, c->want);
	}
}

/* ---- line length ---- */

/* conf_with_line - BASE, then one line of exactly len bytes (a comment)
 * ending with eol, then more. Returns a malloc'd string. */
static char *conf_with_line(size_t len, const char *eol, const char *more)
{
	size_t b = strlen(BASE), e = strlen(eol), m = strlen(more);
	char *s = malloc(b + len + e + m + 1);

	assert_non_null(s);
	memcpy(s, BASE, b);
	s[b] = ';';
	memset(s + b + 1, 'x', len - 1);
	memcpy(s + b + len, eol, e);
	memcpy(s + b + len + e, more, m + 1);
	return s;
}

static void test_line_length(void **state)
{
	fixture *f = *state;
	char *text;
	const char *const want[3] = { "line longer than 4096 bytes" };

	/* At the limit: accepted. */
	text = conf_with_line(CONFIG_LINE_MAX, "\n", "[smtp]\nport = 26\n");
	if (load(f, text) != 0)
		fail_msg("a %d-byte line: got refused (%s), want accepted",
			 CONFIG_LINE_MAX, f->err);
	assert_int_equal(f->cfg->smtp_port, 26);
	free(text);

	/* One byte over, and far over: refused with the line number. */
	text = conf_with_line(CONFIG_LINE_MAX + 1, "\n", "[smtp]\nport = 26\n");
	assert_int_equal(load(f, text), -1);
	expect_refusal("4097-byte line", f->conf, f->err, BASE_LINES + 1, want);
	free(text);

	text = conf_with_line(3 * CONFIG_LINE_MAX, "\n", "[smtp]\nport = 26\n");
	assert_int_equal(load(f, text), -1);
	expect_refusal("12288-byte line", f->conf, f->err, BASE_LINES + 1, want);
	free(text);

	/* A long value, not only a comment. */
	text = malloc(strlen(BASE) + 5000 + 16);
	assert_non_null(text);
	strcpy(text, BASE "name = ");
	memset(text + strlen(text), 'n', 5000);
	strcpy(text + strlen(BASE) + 7 + 5000, "\n");
	assert_int_equal(load(f, text), -1);
	expect_refusal("5007-byte value line", f->conf, f->err, BASE_LINES + 1, want);
	free(text);
}

/* The limit counts the bytes of the line, not its line end: a 4096-byte
 * line ending in CRLF is accepted, and a 4097-byte last line without a line
 * end is refused like any other 4097-byte line. */
static void test_line_length_edges(void **state)
{
	fixture *f = *state;
	char *text;
	const char *const want[3] = { "line longer than 4096 bytes" };

	text = conf_with_line(CONFIG_LINE_MAX, "\r\n", "[smtp]\r\nport = 26\r\n");
	if (load(f, text) != 0)
		fail_msg("a %d-byte line with CRLF: got refused (%s), want accepted",
			 CONFIG_LINE_MAX, f->err);
	free(text);

	text = conf_with_line(CONFIG_LINE_MAX + 1, "", "");
	if (load(f, text) != -1)
		fail_msg("a %d-byte last line without newline: got accepted, want refused",
			 CONFIG_LINE_MAX + 1);
	expect_refusal("4097-byte last line", f->conf, f->err, BASE_LINES + 1, want);
	free(text);
}

/* CRLF files are read like LF files. */
static void test_crlf_file(void **state)
{
	fixture *f = *state;

	if (load(f, "[service]\r\naddress = datenschutz@cloudwerk.example\r\n"
		 "reply_domain = cloudwerk.example\r\n[smtp]\r\nport = 587\r\n") != 0)
		fail_msg("CRLF config refused: %s", f->err);
	assert_string_equal(f->cfg->reply_domain, "cloudwerk.example");
	assert_int_equal(f->cfg->smtp_port, 587);
}

/* ---- password files ---- */

static void test_password_file_mode(void **state)
{
	fixture *f = *state;
	char secret[TU_PATH_MAX], text[2048];
	const char *const want[] = { "[smtp] password_file", "chmod 600", "0644" };
	size_t i;

	tu_path(secret, f->dir, "smtp.secret");
	snprintf(text, sizeof(text), BASE "[smtp]\nuser = consent\npassword_file = %s\n"
		 "timeout = 30\n[tokens]\nlifetime_days = 7\n", secret);

	tu_write(secret, "hunter2\n", (size_t)-1, 0644);
	assert_int_equal(load(f, text), -1);
	assert_null(f->cfg);
	/* Check the file, the key, the secret's path and the advice. */
	if (strncmp(f->err, f->conf, strlen(f->conf)) != 0 || f->err[strlen(f->conf)] != ':')
		fail_msg("got '%s', want it to start with '%s:'", f->err, f->conf);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(f->err, want[i]))
			fail_msg("got '%s', want it to contain '%s'", f->err, want[i]);
	assert_non_null(strstr(f->err, secret));

	tu_write(secret, "hunter2\n", (size_t)-1, 0640);
	assert_int_equal(load(f, text), -1);
	assert_non_null(strstr(f->err, "chmod 600"));

	tu_write(secret, "hunter2\n", (size_t)-1, 0604);
	assert_int_equal(load(f, text), -1);
	assert_non_null(strstr(f->err, "chmod 600"));

	tu_write(secret, "hunter2\n", (size_t)-1, 0600);
	if (load(f, text) != 0)
		fail_msg("mode 0600: got refused (%s), want accepted", f->err);
	assert_string_equal(f->cfg->smtp_password_file, secret);

	tu_write(secret, "hunter2\n", (size_t)-1, 0400);
	if (load(f, text) != 0)
		fail_msg("mode 0400: got refused (%s), want accepted", f->err);

	/* The imap one is checked the same way. */
	snprintf(text, sizeof(text), BASE "[imap]\npassword_file = %s\n", secret);
	tu_write(secret, "hunter2\n", (size_t)-1, 0644);
	assert_int_equal(load(f, text), -1);
	assert_non_null(strstr(f->err, "[imap] password_file"));
	assert_non_null(strstr(f->err, "chmod 600"));
}

/* The refusal of a readable password file names the line of the key (the
 * header promises file, line and key); today it names the last line read. */
static void test_password_file_names_its_line(void **state)
{
	fixture *f = *state;
	char secret[TU_PATH_MAX], text[2048];
	const char *const want[3] = { "[smtp] password_file", "chmod 600" };

	tu_path(secret, f->dir, "smtp.secret");
	snprintf(text, sizeof(text), BASE "[smtp]\nuser = consent\npassword_file = %s\n"
		 "timeout = 30\n[tokens]\nlifetime_days = 7\n", secret);
	tu_write(secret, "hunter2\n", (size_t)-1, 0644);
	assert_int_equal(load(f, text), -1);
	expect_refusal("0644 password file", f->conf, f->err, BASE_LINES + 3, want);
}

static void test_password_file_missing_allowed(void **state)
{
	fixture *f = *state;
	char text[2048], secret[TU_PATH_MAX];

	tu_path(secret, f->dir, "does-not-exist.secret");
	snprintf(text, sizeof(text), BASE "[imap]\nenabled = yes\npassword_file = %s\n", secret);
	if (load(f, text) != 0)
		fail_msg("missing password file: got refused (%s), want accepted", f->err);
	assert_string_equal(f->cfg->imap_password_file, secret);
}

/* ---- purposes ---- */

static void test_purposes(void **state)
{
	fixture *f = *state;
	const config_purpose *pu;

	if (load(f, BASE
		 "[purpose log-linking]\n"
		 "title_de = Verknüpfung\n"
		 "title_en = Linking\n"
		 "[smtp]\n"
		 "port = 587\n"
		 "[purpose testimonials-2]\n"
		 "title_en = Testimonials\n"
		 "description_en = Your name next to your words\n"
		 "title_de = Kundenstimmen\n"
		 "version = 3\n") != 0)
		fail_msg("refused: %s", f->err);
	assert_int_equal(f->cfg->npurposes, 2);

	pu = config_purpose_find(f->cfg, "log-linking");
	assert_non_null(pu);
	assert_string_equal(pu->name, "log-linking");
	assert_string_equal(pu->title_de, "Verknüpfung");
	assert_string_equal(pu->title_en, "Linking");
	assert_null(pu->description_de);
	assert_null(pu->description_en);
	assert_int_equal(pu->version, 1);

	pu = config_purpose_find(f->cfg, "testimonials-2");
	assert_non_null(pu);
	assert_string_equal(pu->description_en, "Your name next to your words");
	assert_null(pu->description_de);
	assert_int_equal(pu->version, 3);

	assert_null(config_purpose_find(f->cfg, "Log-Linking"));
	assert_null(config_purpose_find(f->cfg, "log"));
	assert_null(config_purpose_find(f->cfg, ""));
	assert_int_equal(f->cfg->smtp_port, 587);
}

/* Purpose names up to PURPOSE_NAME_MAX (64) are allowed, longer ones are
 * refused. Today inih cuts section names at 49 bytes, so "purpose " and
 * 41 characters is all that arrives: a 64-character name is stored cut to
 * 41 characters (not found under its real name), a 70-character one is
 * accepted, cut. */
static void test_purpose_name_at_limit(void **state)
{
	fixture *f = *state;
	char name[PURPOSE_NAME_MAX + 2], text[1024];

	memset(name, 'p', PURPOSE_NAME_MAX);
	name[PURPOSE_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), BASE "[purpose %s]\ntitle_de = a\ntitle_en = b\n", name);
	if (load(f, text) != 0)
		fail_msg("%d-character purpose name refused: %s", PURPOSE_NAME_MAX, f->err);
	assert_non_null(config_purpose_find(f->cfg, name));

	strcat(name, "p");
	snprintf(text, sizeof(text), BASE "[purpose %s]\ntitle_de = a\ntitle_en = b\n", name);
	assert_int_equal(load(f, text), -1);
	assert_non_null(strstr(f->err, "purpose names are 1 to 64"));
}

/* "a key given twice" is an error in purpose sections too, version included. */
static void test_purpose_version_twice(void **state)
{
	fixture *f = *state;
	const char *const want[3] = { "[purpose a] version", "twice" };

	if (load(f, BASE "[purpose a]\ntitle_de = a\ntitle_en = b\nversion = 2\n"
		 "version = 3\n") != -1)
		fail_msg("version given twice: got accepted (version %d), want refused",
			 f->cfg->purpose[0].version);
	expect_refusal("version twice", f->conf, f->err, BASE_LINES + 5, want);
}

/* ---- other failures ---- */

static void test_missing_file(void **state)
{
	fixture *f = *state;
	char path[TU_PATH_MAX];

	tu_path(path, f->dir, "nope.conf");
	assert_int_equal(config_load(&f->cfg, path, f->err, sizeof(f->err)), -1);
	assert_null(f->cfg);
	assert_non_null(strstr(f->err, path));
	assert_non_null(strstr(f->err, "cannot read configuration"));

	/* A directory opens but cannot be read. */
	assert_int_equal(config_load(&f->cfg, f->dir, f->err, sizeof(f->err)), -1);
	assert_null(f->cfg);
	assert_non_null(strstr(f->err, f->dir));
}

/* config_load_stream reads the same way, naming the stream in messages. */
static void test_load_stream(void **state)
{
	fixture *f = *state;
	static const char good[] = BASE "[smtp]\nport = 2525\n";
	static const char bad[] = BASE "[smtp]\nport = 0\n";
	FILE *in;
	int rc;

	in = fmemopen((void *)(uintptr_t)good, strlen(good), "r");
	assert_non_null(in);
	rc = config_load_stream(&f->cfg, in, "<stdin>", f->err, sizeof(f->err));
	fclose(in);
	if (rc != 0)
		fail_msg("refused: %s", f->err);
	assert_int_equal(f->cfg->smtp_port, 2525);
	assert_string_equal(f->cfg->path, "<stdin>");
	config_free(f->cfg);
	f->cfg = NULL;

	in = fmemopen((void *)(uintptr_t)bad, strlen(bad), "r");
	assert_non_null(in);
	rc = config_load_stream(&f->cfg, in, "<stdin>", f->err, sizeof(f->err));
	fclose(in);
	assert_int_equal(rc, -1);
	assert_null(f->cfg);
	expect_refusal("stream", "<stdin>", f->err, BASE_LINES + 2,
		       (const char *const[3]){ "[smtp] port", "'0'", NULL });
}

/* A short error buffer is filled, not overrun (ASan watches). */
static void test_short_error_buffer(void **state)
{
	fixture *f = *state;
	char small[12];
	size_t len;

	tu_write(f->conf, BASE "[smtp]\nport = 0\n", (size_t)-1, 0600);
	memset(small, 'Z', sizeof(small));
	assert_int_equal(config_load(&f->cfg, f->conf, small, sizeof(small)), -1);
	len = strnlen(small, sizeof(small));
	assert_true(len < sizeof(small));
	assert_memory_equal(small, f->conf, len);
}

static void test_default_path(void **state)
{
	(void)state;
	assert_non_null(config_default_path());
	assert_true(config_default_path()[0] == '/');
	config_free(NULL);   /* NULL-safe */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shipped_example_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_when_keys_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crosskey_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crosskey_refusals_name_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_file_names_its_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_length_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_file_missing_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purposes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purpose_name_at_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purpose_version_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_error_buffer, setup, teardown),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
