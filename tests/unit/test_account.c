/*
 * test_account.c - unit tests for account.h: the field rules every account
 * obeys however it arrives (table of accepted and refused values, at and
 * past each limit), single create/upsert, and the streaming CSV import:
 * header columns in any order, header errors, bad records reported by line
 * with the good ones imported, re-import as update, CRLF and BOM input.
 * CSV input is fed through fmemopen().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/account.h"
#include "consentd/config.h"
#include "consentd/store.h"
#include "consentd/text.h"
#include "testutil.h"

/* ---- account_validate ---- */

#define ID128 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NAME50 "Erika Mustermann Erika Mustermann Erika Musterman."
#define NAME200 NAME50 NAME50 NAME50 NAME50
#define UML100 "ääääääääääääääääääääääääääääääääääääääääääääääääää" \
	       "ääääääääääääääääääääääääääääääääääääääääääääääääää"

struct validate_case {
	const char *name;
	const char *id, *email, *aname, *lang;
	const char *want;   /* NULL: accepted; else a substring of the reason */
};

static const struct validate_case validate_cases[] = {
	/* accepted */
	{ "plain", "acct-1", "erika@example.org", NULL, NULL, NULL },
	{ "with name and lang de", "acct-1", "erika@example.org", "Erika Mustermann", "de", NULL },
	{ "lang en", "x", "x@example.org", "", "en", NULL },
	{ "empty lang means default", "x", "x@example.org", NULL, "", NULL },
	{ "id of visible ASCII", "!~{}[]#$%&'()*+,-./:;<=>?@\\^_`|\"", "x@example.org", NULL, NULL, NULL },
	{ "id at 128 bytes", ID128, "x@example.org", NULL, NULL, NULL },
	{ "UTF-8 name", "x", "x@example.org", "Jörg Müller-Lüdenscheidt 王", NULL, NULL },
	{ "name at 200 bytes", "x", "x@example.org", NAME200, NULL, NULL },
	{ "name of 100 two-byte letters", "x", "x@example.org", UML100, NULL, NULL },
	{ "address with plus and dots", "x", "erika.m+news@mail.example.org", NULL, NULL, NULL },
	/* id */
	{ "empty id", "", "x@example.org", NULL, NULL, "empty id" },
	{ "id of 129 bytes", ID128 "9", "x@example.org", NULL, NULL, "longer than 128" },
	{ "id with space", "acct 1", "x@example.org", NULL, NULL, "visible ASCII" },
	{ "id with tab", "acct\t1", "x@example.org", NULL, NULL, "visible ASCII" },
	{ "id with newline", "acct1\n", "x@example.org", NULL, NULL, "visible ASCII" },
	{ "id with DEL", "acct\x7f", "x@example.org", NULL, NULL, "visible ASCII" },
	{ "non-ASCII id", "kundé", "x@example.org", NULL, NULL, "visible ASCII" },
	/* email */
	{ "empty email", "x", "", NULL, NULL, "empty email" },
	{ "email without @", "x", "erika.example.org", NULL, NULL, "email" },
	{ "email with one-label domain", "x", "erika@localhost", NULL, NULL, "email" },
	{ "email with display name", "x", "Erika <erika@example.org>", NULL, NULL, "email" },
	{ "email with newline", "x", "erika@example.org\nBcc: all@example.org", NULL, NULL, "email" },
	{ "email with space", "x", "erika @example.org", NULL, NULL, "email" },
	{ "two addresses", "x", "a@example.org,b@example.org", NULL, NULL, "email" },
	/* name */
	{ "name with newline", "x", "x@example.org", "Erika\nBcc: all@example.org", NULL, "control" },
	{ "name with CR", "x", "x@example.org", "Erika\r", NULL, "control" },
	{ "name with tab", "x", "x@example.org", "Erika\tM", NULL, "control" },
	{ "name with C1 control", "x", "x@example.org", "Erika\xc2\x85M", NULL, "control" },
	{ "name of invalid UTF-8", "x", "x@example.org", "J\xf6rg", NULL, "UTF-8" },
	{ "name with overlong UTF-8", "x", "x@example.org", "a\xc0\xaf" "b", NULL, "UTF-8" },
	{ "name with a surrogate", "x", "x@example.org", "a\xed\xa0\x80", NULL, "UTF-8" },
	{ "name of 201 bytes", "x", "x@example.org", NAME200 "!", NULL, "longer than 200" },
	{ "name of 201 bytes, multibyte", "x", "x@example.org", UML100 "!", NULL, "longer than 200" },
	/* lang */
	{ "lang xx", "x", "x@example.org", NULL, "xx", "lang" },
	{ "lang DE", "x", "x@example.org", NULL, "DE", "lang" },
	{ "lang deu", "x", "x@example.org", NULL, "deu", "lang" },
	{ "lang de-DE", "x", "x@example.org", NULL, "de-DE", "lang" },
};

static void test_validate(void **state)
{
	char why[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
		const struct validate_case *c = &validate_cases[i];
		const char *got;

		memset(why, 'Z', sizeof(why));
		got = account_validate(c->id, c->email, c->aname, c->lang, why, sizeof(why));
		if (!c->want && got)
			fail_msg("%s: got refused (%s), want accepted", c->name, got);
		if (c->want && !got)
			fail_msg("%s: got accepted, want refused (%s)", c->name, c->want);
		if (c->want && !strstr(got, c->want))
			fail_msg("%s: got reason '%s', want it to contain '%s'", c->name, got, c->want);
		/* A reason is one line of text that can be printed and logged. */
		if (got && (text_has_control(got, strlen(got)) || !text_utf8_valid(got, strlen(got))))
			fail_msg("%s: the reason holds control characters or invalid UTF-8", c->name);
	}
}

/* The reason quotes the refused address; a header-injection attempt must
 * not come back as a line break in it. */
static void test_validate_reason_is_safe(void **state)
{
	char why[160];
	const char *got;

	(void)state;
	got = account_validate("x", "a@b\r\nBcc: c@d.example", NULL, NULL, why, sizeof(why));
	assert_non_null(got);
	assert_false(text_has_control(got, strlen(got)));
	got = account_validate("x", "\xff\xfe@example.org", NULL, NULL, why, sizeof(why));
	assert_non_null(got);
	assert_true(text_utf8_valid(got, strlen(got)));
	/* A long address is quoted in part, within the buffer. */
	{
		char email[400];

		memset(email, 'a', 300);
		strcpy(email + 300, "@example.org");
		got = account_validate("x", email, NULL, NULL, why, sizeof(why));
		assert_non_null(got);
		assert_true(strlen(got) < sizeof(why));
	}
}

/* The reason quotes at most 80 bytes of the address; it must not cut a
 * UTF-8 character in two (the reason ends up in JSON output, which
 * requires valid UTF-8). */
static void test_validate_reason_cut_utf8(void **state)
{
	char why[160], email[128];
	const char *got;

	(void)state;
	memset(email, 'a', 79);
	strcpy(email + 79, "é@example.org");    /* é is bytes 80 and 81 */
	got = account_validate("x", email, NULL, NULL, why, sizeof(why));
	assert_non_null(got);
	if (!text_utf8_valid(got, strlen(got)))
		fail_msg("got a reason with invalid UTF-8: '%s'", got);
}

/* ---- store-backed tests ---- */

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char err[1024];
	config *cfg;
	store *st;
	/* what the bad-row callback saw */
	int nbad;
	unsigned long bad_line[16];
	char bad_why[16][160];
} fixture;

static void load_config(fixture *f, const char *default_lang)
{
	char conf[TU_PATH_MAX], text[2048];

	tu_path(conf, f->dir, "consentd.conf");
	snprintf(text, sizeof(text), TU_CONF_FMT, default_lang, f->dir, 30);
	tu_write(conf, text, (size_t)-1, 0600);
	config_free(f->cfg);
	if (config_load(&f->cfg, conf, f->err, sizeof(f->err)))
		fail_msg("config_load: %s", f->err);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char db[TU_PATH_MAX];

	assert_non_null(f);
	tu_tmpdir(f->dir);
	load_config(f, "de");
	if (store_open(&f->st, tu_path(db, f->dir, "consentd.db"), 200, STORE_CREATE, f->err,
		       sizeof(f->err)))
		fail_msg("store_open: %s", f->err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_close(f->st);
	config_free(f->cfg);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static account get(fixture *f, const char *id)
{
	account a;

	if (store_account_get(f->st, id, &a) != STORE_OK)
		fail_msg("no account '%s'", id);
	return a;
}

static void test_put(void **state)
{
	fixture *f = *state;
	account a;
	bool created = false;
	int rc;

	rc = account_put(f->st, f->cfg, "acct-1", "erika@example.org", "Erika", NULL, true,
			 &created, f->err, sizeof(f->err));
	assert_int_equal(rc, STORE_OK);
	assert_true(created);
	a = get(f, "acct-1");
	assert_string_equal(a.email, "erika@example.org");
	assert_string_equal(a.name, "Erika");
	assert_string_equal(a.lang, "de");   /* [service] default_lang */

	/* create only: the id is taken */
	rc = account_put(f->st, f->cfg, "acct-1", "other@example.org", NULL, "en", true,
			 &created, f->err, sizeof(f->err));
	assert_int_equal(rc, STORE_EXISTS);
	assert_non_null(strstr(f->err, "already exists"));
	assert_string_equal(get(f, "acct-1").email, "erika@example.org");

	/* upsert: updated */
	created = true;
	rc = account_put(f->st, f->cfg, "acct-1", "erika@example.net", "", "en", false,
			 &created, f->err, sizeof(f->err));
	assert_int_equal(rc, STORE_OK);
	assert_false(created);
	a = get(f, "acct-1");
	assert_string_equal(a.email, "erika@example.net");
	assert_string_equal(a.name, "");
	assert_string_equal(a.lang, "en");

	/* invalid: refused with the reason, nothing stored */
	rc = account_put(f->st, f->cfg, "acct-2", "not an address", NULL, NULL, false, NULL,
			 f->err, sizeof(f->err));
	assert_int_equal(rc, STORE_ERR);
	assert_non_null(strstr(f->err, "email"));
	assert_int_equal(store_account_get(f->st, "acct-2", &a), STORE_NOTFOUND);
	rc = account_put(f->st, f->cfg, "acct-1", "erika@example.org", "Erika\nX", NULL, false,
			 NULL, f->err, sizeof(f->err));
	assert_int_equal(rc, STORE_ERR);
	assert_non_null(strstr(f->err, "control"));
	assert_string_equal(get(f, "acct-1").email, "erika@example.net");
}

static void test_put_default_lang_en(void **state)
{
	fixture *f = *state;

	load_config(f, "en");
	assert_int_equal(account_put(f->st, f->cfg, "a", "a@example.org", NULL, NULL, true, NULL,
				     f->err, sizeof(f->err)), STORE_OK);
	assert_int_equal(account_put(f->st, f->cfg, "b", "b@example.org", NULL, "", true, NULL,
				     f->err, sizeof(f->err)), STORE_OK);
	assert_int_equal(account_put(f->st, f->cfg, "c", "c@example.org", NULL, "de", true, NULL,
				     f->err, sizeof(f->err)), STORE_OK);
	assert_string_equal(get(f, "a").lang, "en");
	assert_string_equal(get(f, "b").lang, "en");
	assert_string_equal(get(f, "c").lang, "de");
}

/* ---- import ---- */

static void on_bad(unsigned long line, const char *why, void *arg)
{
	fixture *f = arg;

	if (f->nbad < 16) {
		f->bad_line[f->nbad] = line;
		snprintf(f->bad_why[f->nbad], sizeof(f->bad_why[0]), "%s", why);
	}
	f->nbad++;
}

/* import - account_import over the bytes of csv (len 0: strlen). */
static int import(fixture *f, const char *csv, size_t len, import_report *rep)
{
	FILE *in;
	int rc;

	f->nbad = 0;
	in = fmemopen((void *)(uintptr_t)csv, len ? len : strlen(csv), "r");
	assert_non_null(in);
	rc = account_import(f->st, f->cfg, in, rep, on_bad, f, f->err, sizeof(f->err));
	fclose(in);
	return rc;
}

static void test_import_header_any_order(void **state)
{
	fixture *f = *state;
	import_report rep;
	account a;

	assert_int_equal(import(f, "lang,name,email,id\n"
				"en,Erika Mustermann,erika@example.org,acct-1\n"
				",,max@example.org,acct-2\n", 0, &rep), 0);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.created, 2);
	assert_int_equal(rep.updated_or_same, 0);
	assert_int_equal(rep.bad, 0);
	a = get(f, "acct-1");
	assert_string_equal(a.email, "erika@example.org");
	assert_string_equal(a.name, "Erika Mustermann");
	assert_string_equal(a.lang, "en");
	a = get(f, "acct-2");
	assert_string_equal(a.email, "max@example.org");
	assert_string_equal(a.name, "");
	assert_string_equal(a.lang, "de");

	/* id and email are enough. */
	assert_int_equal(import(f, "email,id\nmoritz@example.org,acct-3\n", 0, &rep), 0);
	assert_int_equal(rep.created, 1);
	a = get(f, "acct-3");
	assert_string_equal(a.email, "moritz@example.org");
	assert_string_equal(a.lang, "de");
}

struct header_case {
	const char *name, *csv, *want;
};

static const struct header_case header_cases[] = {
	{ "missing email column", "id,name,lang\nacct-1,Erika,de\n", "at least id and email" },
	{ "missing id column", "email\nerika@example.org\n", "at least id and email" },
	{ "unknown column", "id,email,phone\nacct-1,erika@example.org,123\n", "unknown column 'phone'" },
	{ "column twice", "id,email,id\nacct-1,erika@example.org,x\n", "'id' twice" },
	{ "upper-case column", "ID,Email\nacct-1,erika@example.org\n", "unknown column" },
	{ "empty input", "", "empty input" },
	{ "blank lines only", "\n\r\n\n", "empty input" },
	{ "no header, data first", "acct-1,erika@example.org\n", "unknown column" },
	{ "unclosed quote in header", "\"id,email\n", "line 1: header" },
};

static void test_import_header_refused(void **state)
{
	fixture *f = *state;
	import_report rep;
	account a;
	size_t i;

	for (i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct header_case *c = &header_cases[i];
		int rc = import(f, c->csv, 0, &rep);

		if (rc != -1)
			fail_msg("%s: got %d, want -1", c->name, rc);
		if (!strstr(f->err, c->want))
			fail_msg("%s: got '%s', want it to contain '%s'", c->name, f->err, c->want);
		assert_int_equal(rep.rows, 0);
		assert_int_equal(rep.created, 0);
		assert_int_equal(f->nbad, 0);
	}
	assert_int_equal(store_account_get(f->st, "acct-1", &a), STORE_NOTFOUND);
}

static void test_import_bad_rows(void **state)
{
	fixture *f = *state;
	import_report rep;
	account a;
	static const char csv[] =
		"id,email,name,lang\n"                          /* 1 */
		"acct-1,erika@example.org,Erika,de\n"           /* 2 good */
		"acct-2,not-an-address,Max,en\n"                /* 3 bad email */
		"\n"                                            /* 4 blank */
		"acct-3,moritz@example.org,Moritz\n"            /* 5 three fields */
		"acct-4,lisa@example.org,Lisa,en,extra\n"       /* 6 five fields */
		"acct-5,\"unclosed@example.org,Anna,de\n"       /* 7 unclosed quote */
		"acct 6,paul@example.org,Paul,de\n"             /* 8 id with space */
		"acct-7,eva@example.org,Eva,fr\n"               /* 9 lang */
		"acct-8,\"otto@example.org\",\"Otto, Jr.\",en\n" /* 10 good, quoted */
		"acct-9,ida@example.org,\"I\xff" "da\",de\n"       /* 11 bad UTF-8 */
		"acct-10,karl@example.org,,\n";                 /* 12 good, empty fields */
	static const unsigned long want_lines[] = { 3, 5, 6, 7, 8, 9, 11 };
	static const char *const want_why[] = { "email", "expected 4 fields, got 3",
		"expected 4 fields, got 5", "quote", "visible ASCII", "lang", "UTF-8" };
	size_t i;
	FILE *in;

	assert_int_equal(import(f, csv, 0, &rep), 0);
	assert_int_equal(rep.rows, 10);   /* the blank line is no record */
	assert_int_equal(rep.created, 3);
	assert_int_equal(rep.updated_or_same, 0);
	assert_int_equal(rep.bad, 7);
	assert_int_equal(f->nbad, 7);
	for (i = 0; i < sizeof(want_lines) / sizeof(want_lines[0]); i++) {
		if (f->bad_line[i] != want_lines[i])
			fail_msg("bad row %zu: got line %lu (%s), want line %lu", i, f->bad_line[i],
				 f->bad_why[i], want_lines[i]);
		if (!strstr(f->bad_why[i], want_why[i]))
			fail_msg("line %lu: got reason '%s', want it to contain '%s'",
				 want_lines[i], f->bad_why[i], want_why[i]);
	}
	assert_string_equal(get(f, "acct-1").name, "Erika");
	assert_string_equal(get(f, "acct-8").name, "Otto, Jr.");
	a = get(f, "acct-10");
	assert_string_equal(a.name, "");
	assert_string_equal(a.lang, "de");
	assert_int_equal(store_account_get(f->st, "acct-2", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_get(f->st, "acct-3", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_get(f->st, "acct-7", &a), STORE_NOTFOUND);

	/* Without a callback, bad rows are only counted. */
	in = fmemopen((void *)(uintptr_t)csv, strlen(csv), "r");
	assert_non_null(in);
	assert_int_equal(account_import(f->st, f->cfg, in, &rep, NULL, NULL, f->err,
					sizeof(f->err)), 0);
	fclose(in);
	assert_int_equal(rep.bad, 7);
	assert_int_equal(rep.updated_or_same, 3);
}

static void test_import_reimport_updates(void **state)
{
	fixture *f = *state;
	import_report rep;
	account before, after;

	assert_int_equal(import(f, "id,email,name\nacct-1,erika@example.org,Erika\n"
				"acct-2,max@example.org,Max\n", 0, &rep), 0);
	assert_int_equal(rep.created, 2);
	before = get(f, "acct-1");

	/* The same file again: nothing new. */
	assert_int_equal(import(f, "id,email,name\nacct-1,erika@example.org,Erika\n"
				"acct-2,max@example.org,Max\n", 0, &rep), 0);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.created, 0);
	assert_int_equal(rep.updated_or_same, 2);

	/* Changed values: updated in place (same account, same key). */
	assert_int_equal(import(f, "id,email,name\nacct-1,erika@example.net,Erika M.\n"
				"acct-3,moritz@example.org,Moritz\n", 0, &rep), 0);
	assert_int_equal(rep.rows, 2);
	assert_int_equal(rep.created, 1);
	assert_int_equal(rep.updated_or_same, 1);
	after = get(f, "acct-1");
	assert_int_equal(after.key, before.key);
	assert_memory_equal(after.hkey, before.hkey, ACCOUNT_KEY_LEN);
	assert_string_equal(after.email, "erika@example.net");
	assert_string_equal(after.name, "Erika M.");
	assert_string_equal(get(f, "acct-2").email, "max@example.org");

	/* The same id twice in one file: the last row wins. */
	assert_int_equal(import(f, "id,email\nacct-4,a@example.org\nacct-4,b@example.org\n", 0,
				&rep), 0);
	assert_int_equal(rep.created, 1);
	assert_int_equal(rep.updated_or_same, 1);
	assert_string_equal(get(f, "acct-4").email, "b@example.org");
}

/* A column the file does not have leaves the stored value alone: an update
 * of addresses (id,email) must not wipe names, nor switch the language of
 * people who chose English back to the default. (An empty value in a column
 * that is there is a deliberate change and is not covered here.) */
static void test_import_absent_columns_kept(void **state)
{
	fixture *f = *state;
	import_report rep;
	account a;

	assert_int_equal(import(f, "id,email,name,lang\nacct-1,erika@example.org,Erika,en\n", 0,
				&rep), 0);
	assert_int_equal(import(f, "id,email\nacct-1,erika@example.net\n", 0, &rep), 0);
	assert_int_equal(rep.updated_or_same, 1);
	a = get(f, "acct-1");
	assert_string_equal(a.email, "erika@example.net");
	assert_string_equal(a.name, "Erika");
	assert_string_equal(a.lang, "en");
}

static void test_import_crlf_and_bom(void **state)
{
	fixture *f = *state;
	import_report rep;
	account a;

	assert_int_equal(import(f, "\xEF\xBB\xBFid,email,name,lang\r\n"
				"acct-1,erika@example.org,Erika,en\r\n"
				"\r\n"
				"acct-2,bad address,Max,de\r\n"
				"acct-3,\"moritz@example.org\",\"Moritz\",de\r\n", 0, &rep), 0);
	assert_int_equal(rep.rows, 3);
	assert_int_equal(rep.created, 2);
	assert_int_equal(rep.bad, 1);
	assert_int_equal(f->bad_line[0], 4);
	a = get(f, "acct-1");
	assert_string_equal(a.email, "erika@example.org");   /* no CR left on it */
	assert_string_equal(a.lang, "en");
	a = get(f, "acct-3");
	assert_string_equal(a.name, "Moritz");
	assert_string_equal(a.lang, "de");

	/* No newline at the end of the last line. */
	assert_int_equal(import(f, "id,email\r\nacct-4,lisa@example.org", 0, &rep), 0);
	assert_int_equal(rep.created, 1);
	assert_string_equal(get(f, "acct-4").email, "lisa@example.org");
}

/* More rows than one import transaction holds (20000): all of them land. */
static void test_import_many_rows(void **state)
{
	fixture *f = *state;
	import_report rep;
	const int rows = 20005;
	FILE *in = tmpfile();
	int i, rc;

	assert_non_null(in);
	fputs("id,email\n", in);
	for (i = 0; i < rows; i++) {
		if (i == 12345)
			fputs("broken row\n", in);
		fprintf(in, "bulk-%05d,bulk-%05d@example.org\n", i, i);
	}
	rewind(in);
	f->nbad = 0;
	rc = account_import(f->st, f->cfg, in, &rep, on_bad, f, f->err, sizeof(f->err));
	fclose(in);
	assert_int_equal(rc, 0);
	assert_int_equal(rep.rows, rows + 1);
	assert_int_equal(rep.created, rows);
	assert_int_equal(rep.bad, 1);
	assert_int_equal(f->bad_line[0], 12345 + 2);
	assert_string_equal(get(f, "bulk-00000").email, "bulk-00000@example.org");
	assert_string_equal(get(f, "bulk-20004").email, "bulk-20004@example.org");
}

/* A store that cannot take the write stops the import with a message. */
static void test_import_locked(void **state)
{
	fixture *f = *state;
	import_report rep;
	store *other = NULL;
	char db[TU_PATH_MAX];
	account a;
	int rc;

	if (store_open(&other, tu_path(db, f->dir, "consentd.db"), 200, 0, f->err, sizeof(f->err)))
		fail_msg("second store_open: %s", f->err);
	assert_int_equal(store_begin(other), STORE_OK);
	rc = import(f, "id,email\nbad row\nacct-1,erika@example.org\n", 0, &rep);
	store_rollback(other);
	store_close(other);
	assert_true(rc < 0);
	if (!strstr(f->err, "line 3") || !strstr(f->err, "locked"))
		fail_msg("got '%s', want the line (3) and that the database is locked", f->err);
	assert_int_equal(f->nbad, 1);
	assert_int_equal(store_account_get(f->st, "acct-1", &a), STORE_NOTFOUND);
	/* And the store works again afterwards. */
	assert_int_equal(import(f, "id,email\nacct-1,erika@example.org\n", 0, &rep), 0);
	assert_int_equal(rep.created, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_reason_is_safe),
		cmocka_unit_test(test_validate_reason_cut_utf8),
		cmocka_unit_test_setup_teardown(test_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_default_lang_en, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_header_any_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_header_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_bad_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_reimport_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_absent_columns_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_crlf_and_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_many_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_locked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
