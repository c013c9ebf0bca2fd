/*
 * test_store.c - unit tests for store.h: creating and reopening a database,
 * refusing missing, corrupt, foreign and newer files without touching them,
 * the busy timeout, and the account, consent, request and outbox rows.
 *
 * This is the one unit test besides test_ledger.c that speaks SQL itself
 * (consentd_core links SQLite publicly): to prepare foreign and newer
 * files, to hold a lock from a second connection, and to look at columns
 * the store API does not return.
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

#include <sqlite3.h>

#include "consentd/store.h"
#include "testutil.h"

#define CONSENTD_APP_ID 0x436E5344   /* "CnSD", as store.c writes it */

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char db[TU_PATH_MAX];
	char err[1024];
	store *st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_tmpdir(f->dir);
	tu_path(f->db, f->dir, "consentd.db");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_close(f->st);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

/* open_new - create the store at f->db and keep it open in f->st. */
static void open_new(fixture *f)
{
	int rc = store_open(&f->st, f->db, 200, STORE_CREATE, f->err, sizeof(f->err));

	if (rc != STORE_OK)
		fail_msg("store_open: %d %s", rc, f->err);
	assert_non_null(f->st);
}

/* ---- direct SQL helpers ---- */

static sqlite3 *sql_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open %s: %s", path, sqlite3_errmsg(db));
	return db;
}

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("%s: %s", sql, msg ? msg : "?");
	}
}

/* sql_int - the first column of the first row of sql, as an integer. */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* sql_text - the first column of the first row, copied; "(null)" for NULL. */
static void sql_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_text(s, 0);
	snprintf(out, outlen, "%s", v ? (const char *)v : "(null)");
	sqlite3_finalize(s);
}

/* ---- opening ---- */

static void test_create_and_reopen(void **state)
{
	fixture *f = *state;
	sqlite3 *db;
	char mode[32];
	account a;

	open_new(f);
	store_close(f->st);
	f->st = NULL;

	/* What a new file carries: our application id, the schema version, WAL. */
	db = sql_open(f->db);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(db, "PRAGMA application_id"), CONSENTD_APP_ID);
	sql_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	sqlite3_close(db);

	/* Reopening without STORE_CREATE works and finds an empty store. */
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("reopen: %s", f->err);
	assert_int_equal(store_account_get(f->st, "nobody", &a), STORE_NOTFOUND);

	/* Reopening with STORE_CREATE does not recreate or migrate again. */
	assert_int_equal(store_account_upsert(f->st, "kept", "kept@example.org", NULL, "de",
					      NULL), STORE_OK);
	store_close(f->st);
	f->st = NULL;
	if (store_open(&f->st, f->db, 200, STORE_CREATE, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("reopen with STORE_CREATE: %s", f->err);
	assert_int_equal(store_account_get(f->st, "kept", &a), STORE_OK);
	assert_string_equal(a.email, "kept@example.org");
}

/* An existing empty file (e.g. made by touch) becomes a store. */
static void test_create_in_empty_file(void **state)
{
	fixture *f = *state;

	tu_write(f->db, "", 0, 0600);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("empty file: %s", f->err);
	assert_int_equal(store_account_upsert(f->st, "a", "a@example.org", NULL, "de", NULL),
			 STORE_OK);
}

static void test_missing_file_without_create(void **state)
{
	fixture *f = *state;
	size_t n;
	char *bytes;

	strcpy(f->err, "untouched");
	assert_int_equal(store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)), STORE_ERR);
	assert_null(f->st);
	assert_non_null(strstr(f->err, f->db));
	assert_non_null(strstr(f->err, "no such database"));
	bytes = tu_read(f->db, &n);
	assert_null(bytes);   /* and nothing was created */
}

static void test_missing_directory(void **state)
{
	fixture *f = *state;
	char path[TU_PATH_MAX];

	tu_path(path, f->dir, "nodir/consentd.db");
	assert_int_equal(store_open(&f->st, path, 200, STORE_CREATE, f->err, sizeof(f->err)),
			 STORE_ERR);
	assert_null(f->st);
	assert_non_null(strstr(f->err, "does not exist"));
	assert_non_null(strstr(f->err, "nodir"));
}

/* refused_untouched - store_open refuses path with a message holding want,
 * with and without STORE_CREATE, and leaves its bytes exactly as they were
 * (and creates no WAL). */
static void refused_untouched(fixture *f, const char *want)
{
	char wal[TU_PATH_MAX + 8];
	char *before, *after;
	size_t nb, na;
	int flags;

	before = tu_read(f->db, &nb);
	assert_non_null(before);
	for (flags = 0; flags <= STORE_CREATE; flags += STORE_CREATE) {
		f->err[0] = '\0';
		assert_int_equal(store_open(&f->st, f->db, 200, flags, f->err, sizeof(f->err)),
				 STORE_ERR);
		assert_null(f->st);
		if (!strstr(f->err, want))
			fail_msg("got '%s', want it to contain '%s'", f->err, want);
		assert_non_null(strstr(f->err, f->db));
		after = tu_read(f->db, &na);
		assert_int_equal(na, nb);
		assert_memory_equal(after, before, nb);
		free(after);
	}
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	after = tu_read(wal, &na);
	if (after && na > 0)
		fail_msg("a WAL file with %zu bytes was created next to a refused file", na);
	free(after);
	free(before);
}

static void test_random_bytes_refused(void **state)
{
	fixture *f = *state;
	unsigned char junk[8192];
	size_t i;
	uint32_t x = 2463534242u;

	for (i = 0; i < sizeof(junk); i++) {   /* xorshift: reproducible noise */
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		junk[i] = (unsigned char)x;
	}
	tu_write(f->db, junk, sizeof(junk), 0600);
	refused_untouched(f, "not a consentd database, or corrupt");
}

static void test_text_file_refused(void **state)
{
	fixture *f = *state;

	tu_write(f->db, "id,email\n1,a@example.org\n", (size_t)-1, 0600);
	refused_untouched(f, "not a consentd database, or corrupt");
}

static void test_foreign_database_refused(void **state)
{
	fixture *f = *state;
	sqlite3 *db = sql_open(f->db);

	sql_exec(db, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
		 "INSERT INTO customers (name) VALUES ('Erika Mustermann');");
	sqlite3_close(db);
	refused_untouched(f, "another application");
}

static void test_foreign_application_id_refused(void **state)
{
	fixture *f = *state;
	sqlite3 *db = sql_open(f->db);

	/* Even an empty file with another application's id is not ours. */
	sql_exec(db, "PRAGMA application_id = 1196444237");   /* GPKG */
	sqlite3_close(db);
	refused_untouched(f, "another application");
}

/* Another application's database that sets user_version (many do) but no
 * application_id is still not ours: refused, and not switched to WAL. */
static void test_foreign_database_with_user_version_refused(void **state)
{
	fixture *f = *state;
	sqlite3 *db = sql_open(f->db);

	sql_exec(db, "CREATE TABLE notes (body TEXT);"
		 "INSERT INTO notes VALUES ('hello');"
		 "PRAGMA user_version = 1;");
	sqlite3_close(db);
	refused_untouched(f, "another application");
}

/* A file with our application id and no schema yet (a create that was
 * interrupted before its first transaction) is completed on open. */
static void test_empty_own_file_migrated(void **state)
{
	fixture *f = *state;
	sqlite3 *db = sql_open(f->db);
	account a;

	sql_exec(db, "PRAGMA application_id = 1131303748");   /* 0x436E5344 */
	sqlite3_close(db);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("open: %s", f->err);
	assert_int_equal(store_account_get(f->st, "x", &a), STORE_NOTFOUND);
	db = sql_open(f->db);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	sqlite3_close(db);
}

/* A newer file as a newer consentd leaves it: in WAL mode. */
static void test_newer_schema_wal_refused(void **state)
{
	fixture *f = *state;
	sqlite3 *db;

	open_new(f);
	store_close(f->st);
	f->st = NULL;
	db = sql_open(f->db);
	sql_exec(db, "PRAGMA user_version = 2");
	sqlite3_close(db);   /* last connection: checkpointed into the main file */
	refused_untouched(f, "schema version 2 is newer");
}

static void test_newer_schema_refused(void **state)
{
	fixture *f = *state;
	sqlite3 *db;

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "a", "a@example.org", NULL, "de", NULL),
			 STORE_OK);
	store_close(f->st);
	f->st = NULL;
	db = sql_open(f->db);
	sql_exec(db, "PRAGMA user_version = 99");
	sql_exec(db, "PRAGMA journal_mode = DELETE");   /* everything in the main file */
	sqlite3_close(db);

	refused_untouched(f, "schema version 99 is newer");
	assert_non_null(strstr(f->err, "not modified"));
}

/* ---- transactions and the busy timeout ---- */

static void test_busy(void **state)
{
	fixture *f = *state;
	sqlite3 *other;
	account a;

	open_new(f);
	store_close(f->st);
	f->st = NULL;
	if (store_open(&f->st, f->db, 100, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("open: %s", f->err);

	other = sql_open(f->db);
	sql_exec(other, "BEGIN IMMEDIATE");
	assert_int_equal(store_begin(f->st), STORE_BUSY);
	if (!strstr(store_errmsg(f->st), "locked"))
		fail_msg("got '%s', want it to say the database is locked", store_errmsg(f->st));
	assert_non_null(strstr(store_errmsg(f->st), "100 ms"));
	/* Readers are not blocked by the writer (WAL). */
	assert_int_equal(store_account_get(f->st, "x", &a), STORE_NOTFOUND);
	sql_exec(other, "COMMIT");
	sqlite3_close(other);

	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_account_upsert(f->st, "x", "x@example.org", NULL, "de", NULL),
			 STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
	assert_int_equal(store_account_get(f->st, "x", &a), STORE_OK);
}

static void test_rollback_discards(void **state)
{
	fixture *f = *state;
	account a;

	open_new(f);
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_account_upsert(f->st, "gone", "gone@example.org", NULL, "de",
					      NULL), STORE_OK);
	assert_int_equal(store_account_get(f->st, "gone", &a), STORE_OK);
	store_rollback(f->st);
	assert_int_equal(store_account_get(f->st, "gone", &a), STORE_NOTFOUND);
	store_rollback(f->st);   /* outside a transaction: harmless */
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
}

/* ---- accounts ---- */

static void test_account_upsert(void **state)
{
	fixture *f = *state;
	account got, first;
	bool created = false;
	static const unsigned char zero[ACCOUNT_KEY_LEN];

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "acct-1", "Erika@Example.org",
					      "Erika Mustermann", "de", &created), STORE_OK);
	assert_true(created);
	assert_int_equal(store_account_get(f->st, "acct-1", &first), STORE_OK);
	assert_true(first.key > 0);
	assert_string_equal(first.id, "acct-1");
	assert_string_equal(first.email, "Erika@Example.org");
	assert_string_equal(first.name, "Erika Mustermann");
	assert_string_equal(first.lang, "de");
	assert_true(first.has_hkey);
	assert_memory_not_equal(first.hkey, zero, ACCOUNT_KEY_LEN);
	assert_true(first.created > 0);
	assert_int_equal(first.updated, first.created);

	/* The same values again: nothing to do, not created. */
	created = true;
	assert_int_equal(store_account_upsert(f->st, "acct-1", "Erika@Example.org",
					      "Erika Mustermann", "de", &created), STORE_OK);
	assert_false(created);

	/* New values ("" clears the name): updated in place, same key and
	 * account key. */
	created = true;
	assert_int_equal(store_account_upsert(f->st, "acct-1", "erika@example.net", "", "en",
					      &created), STORE_OK);
	assert_false(created);
	assert_int_equal(store_account_get(f->st, "acct-1", &got), STORE_OK);
	assert_int_equal(got.key, first.key);
	assert_string_equal(got.email, "erika@example.net");
	assert_string_equal(got.name, "");
	assert_string_equal(got.lang, "en");
	assert_memory_equal(got.hkey, first.hkey, ACCOUNT_KEY_LEN);
	assert_int_equal(got.created, first.created);
	assert_true(got.updated >= first.updated);

	/* By key too. */
	assert_int_equal(store_account_get_key(f->st, first.key, &got), STORE_OK);
	assert_string_equal(got.id, "acct-1");
	assert_int_equal(store_account_get_key(f->st, first.key + 1000, &got), STORE_NOTFOUND);

	/* A second account gets its own key. */
	assert_int_equal(store_account_upsert(f->st, "acct-2", "max@example.org", NULL, "de",
					      &created), STORE_OK);
	assert_true(created);
	assert_int_equal(store_account_get(f->st, "acct-2", &got), STORE_OK);
	assert_true(got.key != first.key);
	assert_memory_not_equal(got.hkey, first.hkey, ACCOUNT_KEY_LEN);

	/* set_email */
	assert_int_equal(store_account_set_email(f->st, got.key, "max@example.net"), STORE_OK);
	assert_int_equal(store_account_get(f->st, "acct-2", &got), STORE_OK);
	assert_string_equal(got.email, "max@example.net");
}

static void test_account_erase(void **state)
{
	fixture *f = *state;
	account before, got;
	sqlite3 *db;
	char sql[256], text[64];

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "acct-9", "Erika@Example.org",
					      "Erika Mustermann", "de", NULL), STORE_OK);
	assert_int_equal(store_account_get(f->st, "acct-9", &before), STORE_OK);
	assert_int_equal(store_account_erase(f->st, before.key), STORE_OK);

	assert_int_equal(store_account_get(f->st, "acct-9", &got), STORE_NOTFOUND);
	assert_int_equal(store_account_get_key(f->st, before.key, &got), STORE_OK);
	assert_string_equal(got.id, "");
	assert_string_equal(got.email, "");
	assert_string_equal(got.name, "");
	assert_string_equal(got.lang, "");
	assert_false(got.has_hkey);

	/* Every personal column is NULL in the file, the tombstone stays. */
	db = sql_open(f->db);
	snprintf(sql, sizeof(sql), "SELECT coalesce(id, email, email_lc, name, lang, hkey) IS NULL"
		 " AND erased IS NOT NULL FROM account WHERE key = %lld", (long long)before.key);
	assert_int_equal(sql_int(db, sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM account WHERE email_lc = 'erika@example.org'");
	assert_int_equal(sql_int(db, sql), 0);
	sql_text(db, "SELECT count(*) FROM account", text, sizeof(text));
	assert_string_equal(text, "1");
	sqlite3_close(db);

	/* The id is free again: a new account, with a new key. */
	assert_int_equal(store_account_upsert(f->st, "acct-9", "new@example.org", NULL, "de",
					      NULL), STORE_OK);
	assert_int_equal(store_account_get(f->st, "acct-9", &got), STORE_OK);
	assert_true(got.key != before.key);
	assert_true(got.has_hkey);
	assert_memory_not_equal(got.hkey, before.hkey, ACCOUNT_KEY_LEN);
}

/* ---- consent cache ---- */

struct seen {
	int n;
	char text[8][80];
};

static int collect_consent(int64_t acct, const char *purpose, const char *state,
			   int64_t seq, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->text[s->n], sizeof(s->text[0]), "%lld/%s/%s/%lld", (long long)acct,
			 purpose, state, (long long)seq);
	s->n++;
	return 0;
}

static int collect_id(const char *id, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->text[s->n], sizeof(s->text[0]), "%s", id);
	s->n++;
	return 0;
}

static int stop_at_first(const char *id, void *arg)
{
	(void)id; (void)arg;
	return 7;
}

static void test_consent_cache(void **state)
{
	fixture *f = *state;
	account a, b;
	char got[16], want[80];
	int64_t seq;
	struct seen s;

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "b-acct", "b@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_upsert(f->st, "a-acct", "a@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_get(f->st, "a-acct", &a), 0);
	assert_int_equal(store_account_get(f->st, "b-acct", &b), 0);

	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", got, &seq), STORE_NOTFOUND);
	assert_string_equal(got, "none");
	assert_int_equal(seq, 0);

	assert_int_equal(store_consent_set(f->st, a.key, "log-linking", "pending", 1), 0);
	assert_int_equal(store_consent_set(f->st, a.key, "log-linking", "granted", 2), 0);
	assert_int_equal(store_consent_set(f->st, a.key, "testimonials", "pending", 3), 0);
	assert_int_equal(store_consent_set(f->st, b.key, "log-linking", "granted", 4), 0);
	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", got, &seq), STORE_OK);
	assert_string_equal(got, "granted");
	assert_int_equal(seq, 2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_consents_each(f->st, a.key, collect_consent, &s), 0);
	assert_int_equal(s.n, 2);
	snprintf(want, sizeof(want), "%lld/log-linking/granted/2", (long long)a.key);
	assert_string_equal(s.text[0], want);
	snprintf(want, sizeof(want), "%lld/testimonials/pending/3", (long long)a.key);
	assert_string_equal(s.text[1], want);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_consents_each(f->st, -1, collect_consent, &s), 0);
	assert_int_equal(s.n, 3);

	/* granted: every granted id once; erased accounts never appear. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_granted_each(f->st, "log-linking", collect_id, &s), 0);
	assert_int_equal(s.n, 2);
	/* store.h: streamed in account creation order (b-acct was created first). */
	assert_string_equal(s.text[0], "b-acct");
	assert_string_equal(s.text[1], "a-acct");
	assert_int_equal(store_granted_each(f->st, "log-linking", stop_at_first, NULL), 7);

	assert_int_equal(store_account_erase(f->st, b.key), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_granted_each(f->st, "log-linking", collect_id, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.text[0], "a-acct");

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_granted_each(f->st, "testimonials", collect_id, &s), 0);
	assert_int_equal(s.n, 0);

	assert_int_equal(store_consent_delete_account(f->st, a.key), 0);
	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", got, &seq), STORE_NOTFOUND);
	assert_string_equal(got, "none");
}

/* ---- requests and outbox ---- */

static void make_request(fixture *f, int64_t acct, const char *purpose, char hash_digit,
			 int64_t expires, request_row *out)
{
	memset(out, 0, sizeof(*out));
	out->acct = acct;
	snprintf(out->purpose, sizeof(out->purpose), "%s", purpose);
	memset(out->token_hash, hash_digit, 64);
	out->token_hash[64] = '\0';
	out->created = expires - 100;
	out->expires = expires;
	snprintf(out->state, sizeof(out->state), "open");
	assert_int_equal(store_request_insert(f->st, out), STORE_OK);
	assert_true(out->id > 0);
}

static void test_requests(void **state)
{
	fixture *f = *state;
	account a, b;
	request_row r1, r2, r3, got, due[4];
	char hash[65];
	int n;

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "a", "a@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_upsert(f->st, "b", "b@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_get(f->st, "a", &a), 0);
	assert_int_equal(store_account_get(f->st, "b", &b), 0);

	make_request(f, a.key, "log-linking", '1', 3000, &r1);
	make_request(f, b.key, "log-linking", '2', 2000, &r2);
	make_request(f, a.key, "testimonials", '3', 1000, &r3);

	/* A token hash is unique. */
	memset(&got, 0, sizeof(got));
	got = r1;
	assert_int_equal(store_request_insert(f->st, &got), STORE_ERR);

	assert_int_equal(store_request_open(f->st, a.key, "log-linking", &got), STORE_OK);
	assert_int_equal(got.id, r1.id);
	assert_int_equal(got.expires, 3000);
	assert_string_equal(got.state, "open");
	assert_int_equal(store_request_open(f->st, b.key, "testimonials", &got), STORE_NOTFOUND);

	memset(hash, '2', 64);
	hash[64] = '\0';
	assert_int_equal(store_request_by_token_hash(f->st, hash, &got), STORE_OK);
	assert_int_equal(got.id, r2.id);
	assert_int_equal(got.acct, b.key);
	hash[0] = '9';
	assert_int_equal(store_request_by_token_hash(f->st, hash, &got), STORE_NOTFOUND);

	/* Due: oldest expiry first, limited, per account or all. */
	assert_int_equal(store_requests_due(f->st, -1, 999, due, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_requests_due(f->st, -1, 2000, due, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(due[0].id, r3.id);
	assert_int_equal(due[1].id, r2.id);
	assert_int_equal(store_requests_due(f->st, -1, 5000, due, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].id, r3.id);
	assert_int_equal(store_requests_due(f->st, a.key, 5000, due, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(due[0].id, r3.id);
	assert_int_equal(due[1].id, r1.id);

	/* Closed requests are neither open nor due. */
	assert_int_equal(store_request_set_state(f->st, r3.id, "expired"), 0);
	assert_int_equal(store_request_open(f->st, a.key, "testimonials", &got), STORE_NOTFOUND);
	assert_int_equal(store_requests_due(f->st, a.key, 5000, due, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].id, r1.id);
	assert_int_equal(store_request_by_token_hash(f->st, r3.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "expired");
}

static void test_outbox(void **state)
{
	fixture *f = *state;
	account a;
	int64_t id1 = 0, id2 = 0;
	sqlite3 *db;
	char sql[128];

	open_new(f);
	assert_int_equal(store_account_upsert(f->st, "a", "a@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_get(f->st, "a", &a), 0);
	assert_int_equal(store_outbox_insert(f->st, "request", a.key, "log-linking", 0,
					     "0123456789abcdef0123456789abcdef", &id1), 0);
	assert_int_equal(store_outbox_insert(f->st, "receipt-declined", a.key, NULL, 0, NULL,
					     &id2), 0);
	assert_true(id1 > 0);
	assert_true(id2 > id1);
	/* A request id must name a request (foreign keys are on). */
	assert_int_equal(store_outbox_insert(f->st, "request", a.key, "log-linking", 4242, NULL,
					     NULL), STORE_ERR);

	db = sql_open(f->db);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE acct = %lld AND state = 'queued'",
		 (long long)a.key);
	assert_int_equal(sql_int(db, sql), 2);
	assert_int_equal(store_outbox_delete_account(f->st, a.key), 0);
	assert_int_equal(sql_int(db, sql), 0);
	sqlite3_close(db);
}

static void test_head_of_empty_ledger(void **state)
{
	fixture *f = *state;
	int64_t seq = 42;
	char hash[SHA256_HEX] = "x";

	open_new(f);
	assert_int_equal(store_head(f->st, &seq, hash), STORE_OK);
	assert_int_equal(seq, 0);
	assert_string_equal(hash, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_in_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_bytes_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_application_id_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_database_with_user_version_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_own_file_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_wal_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_discards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_of_empty_ledger, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
