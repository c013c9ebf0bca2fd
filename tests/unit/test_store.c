/*
 * test_store.c - unit tests for store.h: creating and reopening a database,
 * refusing missing, corrupt, foreign and newer files without touching them,
 * the busy timeout, and the account, consent, request and outbox rows.
 *
 * The outbox (schema 2) holds each mail as rendered bytes and carries its
 * delivery: claim (due rows only, under a lease; a lease that runs out is
 * claimed again), result (sent, deferred, failed, or released untried),
 * reclaim after a crash, the next due time and the listing. A database of
 * schema 1 is migrated on open.
 *
 * This is the one unit test besides test_ledger.c that speaks SQL itself
 * (consentd_core links SQLite publicly): to prepare foreign, older and
 * newer files, to hold a lock from a second connection, and to look at
 * columns the store API does not return.
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
#include <sys/stat.h>

#include <sqlite3.h>

#include "consentd/digest.h"
#include "consentd/store.h"
#include "consentd/text.h"
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
	chmod(path, 0600);   /* as the store would create it */
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

/* A missing directory is made, one level, 0700; the file 0600 whatever the
 * umask. Two levels missing: refused with the directory named. */
static void test_missing_directory(void **state)
{
	fixture *f = *state;
	char path[TU_PATH_MAX], dir[TU_PATH_MAX];
	struct stat sb;
	mode_t old = umask(0);

	tu_path(path, f->dir, "nodir/deeper/consentd.db");
	assert_int_equal(store_open(&f->st, path, 200, STORE_CREATE, f->err, sizeof(f->err)),
			 STORE_ERR);
	assert_null(f->st);
	assert_non_null(strstr(f->err, "does not exist"));
	assert_non_null(strstr(f->err, "nodir/deeper"));

	tu_path(path, f->dir, "nodir/consentd.db");
	tu_path(dir, f->dir, "nodir");
	if (store_open(&f->st, path, 200, STORE_CREATE, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("create with a missing directory: %s", f->err);
	umask(old);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

/* Anything granted to group or others, on the directory or the file, is
 * refused with the mode and the chmod that fixes it; nothing is written. */
static void test_wide_modes_refused(void **state)
{
	fixture *f = *state;
	static const mode_t file_modes[] = { 0640, 0604, 0660, 0666 };
	static const mode_t dir_modes[] = { 0750, 0711, 0755, 0770 };
	char want[64];
	size_t i;

	open_new(f);
	store_close(f->st);
	f->st = NULL;
	for (i = 0; i < sizeof(file_modes) / sizeof(file_modes[0]); i++) {
		assert_int_equal(chmod(f->db, file_modes[i]), 0);
		assert_int_equal(store_open(&f->st, f->db, 200, STORE_CREATE, f->err,
					    sizeof(f->err)), STORE_ERR);
		snprintf(want, sizeof(want), "mode %04o", (unsigned)file_modes[i]);
		if (!strstr(f->err, want) || !strstr(f->err, "chmod 600"))
			fail_msg("file %04o: got '%s'", (unsigned)file_modes[i], f->err);
	}
	assert_int_equal(chmod(f->db, 0600), 0);
	for (i = 0; i < sizeof(dir_modes) / sizeof(dir_modes[0]); i++) {
		assert_int_equal(chmod(f->dir, dir_modes[i]), 0);
		assert_int_equal(store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)),
				 STORE_ERR);
		snprintf(want, sizeof(want), "is mode %04o", (unsigned)dir_modes[i]);
		if (!strstr(f->err, want) || !strstr(f->err, "chmod 700"))
			fail_msg("directory %04o: got '%s'", (unsigned)dir_modes[i], f->err);
	}
	assert_int_equal(chmod(f->dir, 0700), 0);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("0700/0600 again: %s", f->err);
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
	sql_exec(db, "PRAGMA user_version = 6");
	sqlite3_close(db);   /* last connection: checkpointed into the main file */
	_Static_assert(STORE_SCHEMA_VERSION == 5, "the newer version above is this + 1");
	refused_untouched(f, "schema version 6 is newer");
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
	assert_int_equal(store_granted_each(f->st, "log-linking", 0, collect_id, &s), 0);
	assert_int_equal(s.n, 2);
	/* store.h: streamed in account creation order (b-acct was created first). */
	assert_string_equal(s.text[0], "b-acct");
	assert_string_equal(s.text[1], "a-acct");
	assert_int_equal(store_granted_each(f->st, "log-linking", 0, stop_at_first, NULL), 7);

	assert_int_equal(store_account_erase(f->st, b.key), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_granted_each(f->st, "log-linking", 0, collect_id, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.text[0], "a-acct");

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_granted_each(f->st, "testimonials", 0, collect_id, &s), 0);
	assert_int_equal(s.n, 0);

	assert_int_equal(store_consent_delete_account(f->st, a.key), 0);
	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", got, &seq), STORE_NOTFOUND);
	assert_string_equal(got, "none");
}

/* ---- requests ---- */

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

/* ---- outbox ---- */

#define SENDER "consent+bounce@cloudwerk.example"

/* queue - insert a mail (CRLF bytes made from body) for acct; its id. */
static int64_t queue(fixture *f, const char *kind, int64_t acct, int64_t request,
		     const char *token, const char *rcpt, const char *message)
{
	char sha[SHA256_HEX];
	outbox_new row;
	int64_t id = 0;
	int rc;

	digest_sha256_hex(message, strlen(message), sha);
	memset(&row, 0, sizeof(row));
	row.kind = kind;
	row.acct = acct;
	row.request = request;
	row.purpose = request ? "log-linking" : "";
	row.token = token;
	row.sender = SENDER;
	row.rcpt = rcpt;
	row.message = message;
	row.message_len = strlen(message);
	row.sha256 = sha;
	rc = store_outbox_insert(f->st, &row, &id);
	if (rc != STORE_OK)
		fail_msg("store_outbox_insert %s: %d %s", kind, rc, store_errmsg(f->st));
	assert_true(id > 0);
	return id;
}

/* outbox_col - one column of outbox row id as text ("(null)" for NULL). */
static const char *outbox_col(sqlite3 *db, int64_t id, const char *col)
{
	static char buf[4][512];
	static int k;
	char sql[256];

	k = (k + 1) % 4;
	snprintf(sql, sizeof(sql), "SELECT %s FROM outbox LEFT JOIN outbox_mail USING (id)"
		 " WHERE id = %lld", col, (long long)id);
	sql_text(db, sql, buf[k], sizeof(buf[k]));
	return buf[k];
}

static int64_t outbox_int(sqlite3 *db, int64_t id, const char *col)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM outbox LEFT JOIN outbox_mail USING (id)"
		 " WHERE id = %lld", col, (long long)id);
	return sql_int(db, sql);
}

/* claim - store_outbox_claim into items (max 8); how many. */
static int claim(fixture *f, int64_t now, int lease, outbox_item items[8], int max)
{
	int n = -1, rc = store_outbox_claim(f->st, now, lease, items, max, NULL, &n);

	if (rc != STORE_OK)
		fail_msg("store_outbox_claim: %d %s", rc, store_errmsg(f->st));
	assert_in_range(n, 0, max);
	return n;
}

static void clear_items(outbox_item *items, int n)
{
	int i;

	for (i = 0; i < n; i++)
		outbox_item_clear(&items[i]);
}

/* claim_ids - claim at now and return the claimed ids as "1 2 3" (items
 * freed). */
static const char *claim_ids(fixture *f, int64_t now, int lease, int max)
{
	static char buf[128];
	outbox_item items[8];
	size_t len = 0;
	int i, n = claim(f, now, lease, items, max);

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? " " : "",
					(long long)items[i].id);
	clear_items(items, n);
	return buf;
}

static const char *ids_str(int64_t a, int64_t b, int64_t c)
{
	static char buf[128];

	if (c)
		snprintf(buf, sizeof(buf), "%lld %lld %lld", (long long)a, (long long)b, (long long)c);
	else if (b)
		snprintf(buf, sizeof(buf), "%lld %lld", (long long)a, (long long)b);
	else
		snprintf(buf, sizeof(buf), "%lld", (long long)a);
	return buf;
}

/* result - store_outbox_result that must succeed. */
static void result(fixture *f, int64_t id, const char *state, const char *response,
		   int64_t next, int64_t done, const char *message)
{
	int rc = store_outbox_result(f->st, id, state, response, next, done, message,
				     message ? strlen(message) : 0);

	if (rc != STORE_OK)
		fail_msg("store_outbox_result %lld %s: %d %s", (long long)id, state, rc,
			 store_errmsg(f->st));
}

/* account_and_request - account "a" and an open request of it. */
static void account_and_request(fixture *f, account *a, request_row *req)
{
	assert_int_equal(store_account_upsert(f->st, "a", "a@example.org", NULL, "de", NULL), 0);
	assert_int_equal(store_account_get(f->st, "a", a), 0);
	make_request(f, a->key, "log-linking", '1', 4000000000, req);
}

static const char MSG1[] = "From: CloudWerk <datenschutz@cloudwerk.example>\r\n"
	"Subject: Einwilligung [0123456789abcdef0123456789abcdef]\r\n\r\n"
	"Antworten Sie JA oder NEIN.\r\n";

static void test_outbox_insert(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	int64_t id1, id2, before = 0;
	outbox_new bad;
	sqlite3 *db;
	char sql[128], sha[SHA256_HEX];

	open_new(f);
	account_and_request(f, &a, &req);
	db = sql_open(f->db);
	before = text_now();
	id1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		    "a@example.org", MSG1);
	id2 = queue(f, "receipt-declined", a.key, 0, NULL, "a@example.org", "x\r\n");
	assert_true(id2 > id1);

	/* What the row holds: the envelope, the exact bytes and their hash,
	 * queued and due at once, nothing tried yet. */
	assert_string_equal(outbox_col(db, id1, "kind"), "request");
	assert_string_equal(outbox_col(db, id1, "state"), "queued");
	assert_string_equal(outbox_col(db, id1, "purpose"), "log-linking");
	assert_int_equal(outbox_int(db, id1, "request"), req.id);
	assert_string_equal(outbox_col(db, id1, "token"), "0123456789abcdef0123456789abcdef");
	assert_string_equal(outbox_col(db, id1, "sender"), SENDER);
	assert_string_equal(outbox_col(db, id1, "rcpt"), "a@example.org");
	assert_int_equal(outbox_int(db, id1, "length(message)"), strlen(MSG1));
	assert_string_equal(outbox_col(db, id1, "CAST(message AS TEXT)"), MSG1);
	assert_string_equal(outbox_col(db, id1, "typeof(message)"), "blob");
	digest_sha256_hex(MSG1, strlen(MSG1), sha);
	assert_string_equal(outbox_col(db, id1, "sha256"), sha);
	assert_int_equal(outbox_int(db, id1, "attempts"), 0);
	assert_in_range(outbox_int(db, id1, "created"), before, before + 60);
	assert_int_equal(outbox_int(db, id1, "next_attempt"), outbox_int(db, id1, "created"));
	assert_string_equal(outbox_col(db, id1, "lease_until"), "(null)");
	assert_string_equal(outbox_col(db, id1, "done"), "(null)");
	assert_string_equal(outbox_col(db, id1, "last_response"), "(null)");
	/* No request: NULL, not 0; purpose "" and no token. */
	assert_string_equal(outbox_col(db, id2, "request"), "(null)");
	assert_string_equal(outbox_col(db, id2, "purpose"), "");
	assert_string_equal(outbox_col(db, id2, "token"), "(null)");

	/* A request id must name a request (foreign keys are on). */
	memset(&bad, 0, sizeof(bad));
	bad.kind = "request";
	bad.acct = a.key;
	bad.request = 4242;
	bad.purpose = "log-linking";
	bad.sender = SENDER;
	bad.rcpt = "a@example.org";
	bad.message = "x";
	bad.message_len = 1;
	bad.sha256 = sha;
	assert_int_equal(store_outbox_insert(f->st, &bad, NULL), STORE_ERR);
	bad.request = 0;
	bad.acct = a.key + 1000;   /* and an account an account */
	assert_int_equal(store_outbox_insert(f->st, &bad, NULL), STORE_ERR);

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE acct = %lld AND state = 'queued'",
		 (long long)a.key);
	assert_int_equal(sql_int(db, sql), 2);
	assert_int_equal(store_outbox_delete_account(f->st, a.key), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outbox"), 0);
	sqlite3_close(db);
}

/* Claim takes due rows only, in id order, up to max, under a lease; a row
 * whose lease ran out (a crash between claim and result) is due again. */
static void test_outbox_claim(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	outbox_item items[8];
	int64_t t0, t1, m1, m2, m3;
	sqlite3 *db;
	int n;

	open_new(f);
	account_and_request(f, &a, &req);
	db = sql_open(f->db);
	t0 = text_now();
	m1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		   "a@example.org", MSG1);
	m2 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "two\r\n");
	m3 = queue(f, "receipt-revoked", a.key, 0, NULL, "a@example.org", "three\r\n");

	/* Not due before they were queued. */
	assert_string_equal(claim_ids(f, t0 - 1, 60, 8), "");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outbox WHERE state = 'queued'"), 3);

	t1 = t0 + 100;
	n = claim(f, t1, 60, items, 2);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].id, m1);
	assert_int_equal(items[1].id, m2);
	/* The claimed row carries everything needed to send it. */
	assert_string_equal(items[0].kind, "request");
	assert_int_equal(items[0].acct, a.key);
	assert_int_equal(items[0].request, req.id);
	assert_string_equal(items[0].purpose, "log-linking");
	assert_string_equal(items[0].sender, SENDER);
	assert_string_equal(items[0].rcpt, "a@example.org");
	assert_int_equal(items[0].message_len, strlen(MSG1));
	assert_memory_equal(items[0].message, MSG1, strlen(MSG1));
	assert_string_equal(items[0].token, "0123456789abcdef0123456789abcdef");
	assert_int_equal(items[0].attempts, 1);
	assert_in_range(items[0].created, t0, t0 + 60);
	assert_int_equal(items[1].request, 0);
	assert_null(items[1].token);
	assert_string_equal(items[1].message, "two\r\n");
	clear_items(items, n);
	assert_string_equal(outbox_col(db, m1, "state"), "sending");
	assert_int_equal(outbox_int(db, m1, "lease_until"), t1 + 60);
	assert_int_equal(outbox_int(db, m2, "lease_until"), t1 + 60);
	assert_string_equal(outbox_col(db, m3, "state"), "queued");

	/* While leased, rows are not claimed again; the rest is. */
	assert_string_equal(claim_ids(f, t1 + 30, 60, 8), ids_str(m3, 0, 0));
	assert_string_equal(claim_ids(f, t1 + 59, 60, 8), "");
	/* The lease of m1 and m2 has run out (no result came): due again, and
	 * that is another attempt. */
	n = claim(f, t1 + 60, 30, items, 8);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].id, m1);
	assert_int_equal(items[1].id, m2);
	assert_int_equal(items[0].attempts, 2);
	assert_string_equal(items[0].token, "0123456789abcdef0123456789abcdef");
	clear_items(items, n);
	assert_int_equal(outbox_int(db, m1, "lease_until"), t1 + 90);
	assert_int_equal(outbox_int(db, m1, "attempts"), 2);
	assert_int_equal(outbox_int(db, m3, "attempts"), 1);

	/* The claim is committed: another connection sees it. */
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outbox WHERE state = 'sending'"), 3);
	sqlite3_close(db);
}

static void test_outbox_result(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	outbox_item items[8];
	int64_t t0, m1, m2, m3;
	sqlite3 *db;
	char masked[sizeof(MSG1)], *p;
	int n;

	open_new(f);
	account_and_request(f, &a, &req);
	db = sql_open(f->db);
	t0 = text_now() + 10;
	m1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		   "a@example.org", MSG1);
	m2 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "two\r\n");
	m3 = queue(f, "request", a.key, req.id, "fedcba9876543210fedcba9876543210",
		   "a@example.org", "three\r\n");
	n = claim(f, t0, 60, items, 8);
	assert_int_equal(n, 3);
	clear_items(items, n);

	/* Sent: the token is gone, the stored copy replaced (token masked). */
	snprintf(masked, sizeof(masked), "%s", MSG1);
	p = strstr(masked, "0123456789abcdef0123456789abcdef");
	assert_non_null(p);
	memset(p, 'x', 32);
	result(f, m1, "sent", "250 2.0.0 Ok: queued as 4Xyz", 0, t0 + 1, masked);
	assert_string_equal(outbox_col(db, m1, "state"), "sent");
	assert_string_equal(outbox_col(db, m1, "token"), "(null)");
	assert_string_equal(outbox_col(db, m1, "CAST(message AS TEXT)"), masked);
	assert_int_equal(outbox_int(db, m1, "done"), t0 + 1);
	assert_string_equal(outbox_col(db, m1, "last_response"), "250 2.0.0 Ok: queued as 4Xyz");
	assert_string_equal(outbox_col(db, m1, "lease_until"), "(null)");
	assert_int_equal(outbox_int(db, m1, "attempts"), 1);

	/* Deferred: kept with its bytes, due again at next_attempt. */
	result(f, m2, "deferred", "451 4.3.0 try again later", t0 + 300, 0, NULL);
	assert_string_equal(outbox_col(db, m2, "state"), "deferred");
	assert_string_equal(outbox_col(db, m2, "CAST(message AS TEXT)"), "two\r\n");
	assert_int_equal(outbox_int(db, m2, "next_attempt"), t0 + 300);
	assert_string_equal(outbox_col(db, m2, "done"), "(null)");
	assert_string_equal(outbox_col(db, m2, "last_response"), "451 4.3.0 try again later");

	/* Released untried (e.g. on shutdown): queued, the attempt not counted,
	 * token kept. */
	result(f, m3, "queued", NULL, t0, 0, NULL);
	assert_string_equal(outbox_col(db, m3, "state"), "queued");
	assert_int_equal(outbox_int(db, m3, "attempts"), 0);
	assert_string_equal(outbox_col(db, m3, "token"), "fedcba9876543210fedcba9876543210");
	assert_string_equal(outbox_col(db, m3, "lease_until"), "(null)");

	/* What is due now: m3 only; m2 at its next attempt; m1 never again. */
	assert_string_equal(claim_ids(f, t0 + 299, 60, 8), ids_str(m3, 0, 0));
	assert_int_equal(outbox_int(db, m3, "attempts"), 1);
	n = claim(f, t0 + 300, 60, items, 8);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].id, m2);
	assert_int_equal(items[0].attempts, 2);
	clear_items(items, n);

	/* Failed: final, with the server's answer. */
	result(f, m2, "failed", "550 5.1.1 no such user", 0, t0 + 301, NULL);
	assert_string_equal(outbox_col(db, m2, "state"), "failed");
	assert_int_equal(outbox_int(db, m2, "done"), t0 + 301);
	assert_string_equal(outbox_col(db, m2, "last_response"), "550 5.1.1 no such user");
	assert_string_equal(claim_ids(f, t0 + 86400 * 30, 60, 8), ids_str(m3, 0, 0));

	/* A result only applies to a row being sent: a sent row stays sent. */
	store_outbox_result(f->st, m1, "queued", NULL, 0, 0, NULL, 0);
	assert_string_equal(outbox_col(db, m1, "state"), "sent");
	assert_string_equal(outbox_col(db, m1, "CAST(message AS TEXT)"), masked);
	sqlite3_close(db);
}

/* After a crash, every row left in "sending" goes back to the queue. */
static void test_outbox_reclaim(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	outbox_item items[8];
	int64_t t0, m1, m2, m3, m4;
	sqlite3 *db;
	int n = -1;

	open_new(f);
	account_and_request(f, &a, &req);
	db = sql_open(f->db);
	t0 = text_now() + 10;
	assert_int_equal(store_outbox_reclaim_sending(f->st, &n), STORE_OK);
	assert_int_equal(n, 0);

	m1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		   "a@example.org", MSG1);
	m2 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "two\r\n");
	m3 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "three\r\n");
	m4 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "four\r\n");
	n = claim(f, t0, 600, items, 3);
	assert_int_equal(n, 3);
	clear_items(items, n);
	result(f, m3, "sent", "250 ok", 0, t0, NULL);

	assert_int_equal(store_outbox_reclaim_sending(f->st, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(outbox_col(db, m1, "state"), "queued");
	assert_string_equal(outbox_col(db, m2, "state"), "queued");
	assert_string_equal(outbox_col(db, m1, "lease_until"), "(null)");
	assert_string_equal(outbox_col(db, m1, "token"), "0123456789abcdef0123456789abcdef");
	assert_string_equal(outbox_col(db, m3, "state"), "sent");
	assert_string_equal(outbox_col(db, m4, "state"), "queued");
	/* Due at once, long before the lease would have run out. */
	assert_string_equal(claim_ids(f, t0, 600, 8), ids_str(m1, m2, m4));
	assert_int_equal(store_outbox_reclaim_sending(f->st, &n), STORE_OK);
	assert_int_equal(n, 3);
	sqlite3_close(db);
}

static void test_outbox_next_due(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	outbox_item items[8];
	int64_t t0, due = -1, m1, m2;
	sqlite3 *db;
	int n;

	open_new(f);
	account_and_request(f, &a, &req);
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, 0);   /* nothing at all */

	db = sql_open(f->db);
	m1 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "one\r\n");
	m2 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "two\r\n");
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, outbox_int(db, m1, "created"));

	t0 = outbox_int(db, m2, "created") + 10;
	n = claim(f, t0, 120, items, 8);
	assert_int_equal(n, 2);
	clear_items(items, n);
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, t0 + 120);   /* when the leases run out */

	result(f, m1, "deferred", "421 busy", t0 + 60, 0, NULL);
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, t0 + 60);
	result(f, m2, "sent", "250 ok", 0, t0, NULL);
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, t0 + 60);
	n = claim(f, t0 + 60, 120, items, 8);
	assert_int_equal(n, 1);
	clear_items(items, n);
	result(f, m1, "failed", "550 no", 0, t0 + 60, NULL);
	assert_int_equal(store_outbox_next_due(f->st, 0, &due), STORE_OK);
	assert_int_equal(due, 0);   /* everything done */
	sqlite3_close(db);
}

struct listing {
	int n;
	char text[8][256];
};

static int collect_listing(const outbox_listing *r, void *arg)
{
	struct listing *l = arg;

	if (l->n < 8)
		snprintf(l->text[l->n], sizeof(l->text[0]), "%lld %s %s %s %s %s %d %s",
			 (long long)r->id, r->kind, r->state, r->purpose, r->account, r->rcpt,
			 r->attempts, r->last_response);
	l->n++;
	return 0;
}

static int stop_listing(const outbox_listing *r, void *arg)
{
	(void)r; (void)arg;
	return 9;
}

static void test_outbox_list(void **state)
{
	fixture *f = *state;
	account a;
	request_row req;
	outbox_item items[8];
	struct listing l;
	int64_t t0, m1, m2, m3;
	char want[256];
	int n;

	open_new(f);
	account_and_request(f, &a, &req);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, NULL, collect_listing, &l), STORE_OK);
	assert_int_equal(l.n, 0);

	m1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		   "a@example.org", MSG1);
	m2 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "two\r\n");
	m3 = queue(f, "receipt-revoked", a.key, 0, NULL, "a@example.org", "three\r\n");
	t0 = text_now() + 10;
	n = claim(f, t0, 60, items, 1);
	assert_int_equal(n, 1);
	clear_items(items, n);
	result(f, m1, "deferred", "451 later", t0 + 60, 0, NULL);
	/* A deferred mail of a closed request is cancelled too: it must not go
	 * out later with a dead token. */
	assert_int_equal(store_outbox_cancel_request(f->st, req.id, "answered"), STORE_OK);

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, NULL, collect_listing, &l), STORE_OK);
	assert_int_equal(l.n, 3);
	snprintf(want, sizeof(want), "%lld request cancelled log-linking a a@example.org 1 answered",
		 (long long)m1);
	assert_string_equal(l.text[0], want);
	snprintf(want, sizeof(want), "%lld receipt-granted queued  a a@example.org 0 ",
		 (long long)m2);
	assert_string_equal(l.text[1], want);

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, "queued", collect_listing, &l), STORE_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(strtoll(l.text[0], NULL, 10), m2);
	assert_int_equal(strtoll(l.text[1], NULL, 10), m3);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, "cancelled", collect_listing, &l), STORE_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, "sent", collect_listing, &l), STORE_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(store_outbox_list(f->st, NULL, stop_listing, NULL), 9);

	/* An erased account's rows show without an account id. */
	assert_int_equal(store_account_erase(f->st, a.key), STORE_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(store_outbox_list(f->st, "queued", collect_listing, &l), STORE_OK);
	snprintf(want, sizeof(want), "%lld receipt-granted queued   a@example.org 0 ",
		 (long long)m2);
	assert_string_equal(l.text[0], want);
}

/* A request that is no longer open cancels its queued mail and drops the
 * plaintext token; mail already on its way, and other mail, stay. */
static void test_outbox_cancel_request(void **state)
{
	fixture *f = *state;
	account a;
	request_row req, req2;
	outbox_item items[8];
	int64_t m1, m2, m3, m4;
	sqlite3 *db;
	int n;

	open_new(f);
	account_and_request(f, &a, &req);
	make_request(f, a.key, "testimonials", '2', 4000000000, &req2);
	db = sql_open(f->db);
	m1 = queue(f, "request", a.key, req.id, "0123456789abcdef0123456789abcdef",
		   "a@example.org", MSG1);
	n = claim(f, text_now() + 10, 86400, items, 8);   /* m1 is being sent */
	assert_int_equal(n, 1);
	clear_items(items, n);
	m2 = queue(f, "request", a.key, req.id, "11111111111111111111111111111111",
		   "a@example.org", "resend\r\n");
	m3 = queue(f, "request", a.key, req2.id, "22222222222222222222222222222222",
		   "a@example.org", "other\r\n");
	m4 = queue(f, "receipt-granted", a.key, 0, NULL, "a@example.org", "four\r\n");

	assert_int_equal(store_outbox_cancel_request(f->st, req.id, "expired"), STORE_OK);
	assert_string_equal(outbox_col(db, m2, "state"), "cancelled");
	assert_string_equal(outbox_col(db, m2, "last_response"), "expired");
	assert_string_equal(outbox_col(db, m2, "token"), "(null)");
	assert_string_equal(outbox_col(db, m1, "state"), "sending");
	assert_string_equal(outbox_col(db, m3, "state"), "queued");
	assert_string_equal(outbox_col(db, m3, "token"), "22222222222222222222222222222222");
	assert_string_equal(outbox_col(db, m4, "state"), "queued");
	/* A cancelled row is never claimed. */
	assert_string_equal(claim_ids(f, text_now() + 3600, 60, 8), ids_str(m3, m4, 0));
	sqlite3_close(db);
}

/* ---- migration from schema 1 ---- */

/* make_schema1 - a schema-1 database at f->db, as consentd left it (WAL),
 * with account "old" (key 1), its open request 1 and two outbox rows: the
 * request's mail still queued (1) and a cancelled one (2). */
static void make_schema1(fixture *f)
{
	sqlite3 *db = sql_open(f->db);

	sql_exec(db, "PRAGMA journal_mode = WAL");
	sql_exec(db, "BEGIN");
	sql_exec(db, TU_SCHEMA1_SQL);
	sql_exec(db, "PRAGMA user_version = 1");
	sql_exec(db, "PRAGMA application_id = 1131303748");   /* 0x436E5344 */
	sql_exec(db, "INSERT INTO account (key, id, email, email_lc, lang, hkey, created, updated)"
		 " VALUES (1, 'old', 'Old@Example.org', 'old@example.org', 'de',"
		 " zeroblob(32), 1700000000, 1700000000);"
		 "INSERT INTO request (id, acct, purpose, token_hash, created, expires, state)"
		 " VALUES (1, 1, 'log-linking', printf('%064d', 1), 1700000000, 4000000000, 'open');"
		 "INSERT INTO outbox (id, kind, acct, purpose, request, token, state, created)"
		 " VALUES (1, 'request', 1, 'log-linking', 1, 'aaaabbbbccccddddaaaabbbbccccdddd',"
		 " 'queued', 1700000000),"
		 " (2, 'request', 1, 'log-linking', 1, NULL, 'cancelled', 1699990000);");
	sql_exec(db, "COMMIT");
	sqlite3_close(db);
}

static void test_migrate_schema1(void **state)
{
	fixture *f = *state;
	outbox_item items[8];
	account a;
	sqlite3 *db;
	char text[512];
	int64_t id;
	int n;

	make_schema1(f);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("schema 1 not opened: %s", f->err);

	db = sql_open(f->db);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(db, "PRAGMA application_id"), CONSENTD_APP_ID);
	/* Every schema-2 column is there. */
	assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_table_info('outbox') WHERE name IN"
				 " ('sender', 'rcpt', 'sha256', 'attempts', 'next_attempt',"
				 " 'lease_until', 'last_response', 'done')"), 8);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_table_info('outbox_mail') WHERE"
				 " name IN ('id', 'message')"), 2);
	/* The old queued mail was never rendered: it cannot be sent, so it is
	 * failed with an explanation, and its plaintext token is gone. */
	assert_string_equal(outbox_col(db, 1, "state"), "failed");
	sql_text(db, "SELECT last_response FROM outbox WHERE id = 1", text, sizeof(text));
	if (!strstr(text, "schema 1") || !strstr(text, "request again"))
		fail_msg("explanation of the failed row: got '%s'", text);
	assert_string_equal(outbox_col(db, 1, "token"), "(null)");
	assert_int_equal(outbox_int(db, 1, "attempts"), 0);
	assert_string_equal(outbox_col(db, 2, "state"), "cancelled");
	assert_string_equal(outbox_col(db, 2, "last_response"), "(null)");
	sqlite3_close(db);

	/* Nothing of it is claimed; the store works on schema 2. */
	assert_string_equal(claim_ids(f, 4000000000, 60, 8), "");
	assert_int_equal(store_account_get(f->st, "old", &a), STORE_OK);
	assert_string_equal(a.email, "Old@Example.org");
	assert_true(a.has_hkey);
	id = queue(f, "receipt-granted", a.key, 0, NULL, "Old@Example.org", "new\r\n");
	n = claim(f, 4000000000, 60, items, 8);
	assert_int_equal(n, 1);
	assert_int_equal(items[0].id, id);
	clear_items(items, n);

	/* Opened again: already current, nothing migrated twice. */
	store_close(f->st);
	f->st = NULL;
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("reopen: %s", f->err);
	db = sql_open(f->db);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM outbox"), 3);
	sqlite3_close(db);
}

/* A schema-1 database that another process holds locked is not migrated
 * (and not damaged): the open fails saying so, and works later. */
static void test_migrate_schema1_locked(void **state)
{
	fixture *f = *state;
	sqlite3 *other;

	make_schema1(f);
	other = sql_open(f->db);
	sql_exec(other, "BEGIN IMMEDIATE");
	assert_int_not_equal(store_open(&f->st, f->db, 100, 0, f->err, sizeof(f->err)), STORE_OK);
	assert_null(f->st);
	if (!strstr(f->err, "locked"))
		fail_msg("got '%s', want it to say the database is locked", f->err);
	assert_int_equal(sql_int(other, "PRAGMA user_version"), 1);
	sql_exec(other, "COMMIT");
	sqlite3_close(other);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)) != STORE_OK)
		fail_msg("open after the lock: %s", f->err);
	other = sql_open(f->db);
	assert_int_equal(sql_int(other, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	sqlite3_close(other);
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

/* ---- broadcasts: notices once, bulk mail by domain, holds, quotas ---- */

/* notice - queue the announcement of campaign c to the account with id. */
static bool notice(fixture *f, int64_t c, const char *id)
{
	account a;
	bool queued = false;

	assert_int_equal(store_account_get(f->st, id, &a), STORE_OK);
	assert_int_equal(store_outbox_notice(f->st, c, a.key, "policy-change",
					     "consent+bounce@cloudwerk.example", a.email, &queued),
			 STORE_OK);
	return queued;
}

static int64_t new_campaign(fixture *f, const char *kind, const char *name)
{
	campaign_row c;

	memset(&c, 0, sizeof(c));
	snprintf(c.kind, sizeof(c.kind), "%s", kind);
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.started = 1000;
	assert_int_equal(store_campaign_insert(f->st, &c), STORE_OK);
	assert_true(c.id > 0);
	return c.id;
}

/* Once per (broadcast, account, kind): the store says no to a second. */
static void test_notice_once(void **state)
{
	fixture *f = *state;
	campaign_row dup;
	policy_row p = { .version = "2.0", .effective = 2000, .published = 1000, .material = true };
	int64_t c;

	open_new(f);
	assert_int_equal(store_policy_insert(f->st, &p), STORE_OK);
	assert_int_equal(store_account_upsert(f->st, "a", "a@one.test", NULL, NULL, NULL), 0);
	c = new_campaign(f, "policy", "2.0");
	assert_true(notice(f, c, "a"));
	assert_false(notice(f, c, "a"));
	memset(&dup, 0, sizeof(dup));
	snprintf(dup.kind, sizeof(dup.kind), "policy");
	snprintf(dup.name, sizeof(dup.name), "2.0");
	assert_int_equal(store_campaign_insert(f->st, &dup), STORE_EXISTS);
	/* a notice is lazy: claimed without bytes, its domain known */
	{
		outbox_item it[8];
		int n = claim(f, text_now() + 10, 60, it, 8);

		assert_int_equal(n, 1);
		assert_true(it[0].lazy);
		assert_int_equal(it[0].campaign, c);
		assert_string_equal(it[0].domain, "one.test");
		clear_items(it, n);
	}
}

/* A published version cannot be changed or deleted, nor published twice. */
static void test_policy_immutable(void **state)
{
	fixture *f = *state;
	policy_row p = { .version = "1.1", .effective = 100, .published = 50 }, got;
	char in_force[POLICY_VERSION_MAX + 1];
	char *text = NULL, sha[SHA256_HEX];
	sqlite3 *db;

	open_new(f);
	/* texts first, then the version: afterwards nothing more goes in */
	assert_int_equal(store_begin(f->st), STORE_OK);
	assert_int_equal(store_policy_text_insert(f->st, "1.1", "de", "Text", "ab"), STORE_OK);
	assert_int_equal(store_policy_insert(f->st, &p), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
	assert_int_equal(store_policy_insert(f->st, &p), STORE_EXISTS);
	assert_int_not_equal(store_policy_text_insert(f->st, "1.1", "en", "Added", "cd"), STORE_OK);
	assert_int_not_equal(store_policy_affects_insert(f->st, "1.1", "log-linking"), STORE_OK);
	assert_int_equal(store_policy_get(f->st, "1.1", &got), STORE_OK);
	assert_int_equal(got.effective, 100);
	assert_int_equal(store_policy_text(f->st, "1.1", "de", &text, sha), STORE_OK);
	assert_string_equal(text, "Text");
	free(text);
	assert_int_equal(store_policy_text(f->st, "1.1", "en", &text, sha), STORE_NOTFOUND);
	assert_int_equal(store_policy_in_force(f->st, 99, in_force), STORE_OK);
	assert_string_equal(in_force, "");
	assert_int_equal(store_policy_in_force(f->st, 100, in_force), STORE_OK);
	assert_string_equal(in_force, "1.1");
	db = sql_open(f->db);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE policy SET effective = 0", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM policy_text", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE policy_text SET summary = 'x'", NULL, NULL,
					  NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* quota_take - lets `room` messages go per domain in all. */
typedef struct quota_box {
	int room;
	char seen[256];
	store_quota *quota;
} quota_box;

/* like outbox's pacer: a limit for all domains says so once it is used up */
static int quota_take(const char *domain, int want, void *arg)
{
	quota_box *q = arg;
	int n = want < q->room ? want : q->room;

	q->room -= n;
	if (q->room == 0)
		q->quota->exhausted = true;
	strncat(q->seen, domain, sizeof(q->seen) - strlen(q->seen) - 2);
	strcat(q->seen, " ");
	return n;
}

/* Single mail first; bulk mail domain by domain in turn; a held domain is
 * skipped and due again when its hold ends; the quota limits. */
static void test_bulk_claim(void **state)
{
	fixture *f = *state;
	store_quota q;
	quota_box box;
	outbox_item it[8];
	policy_row p = { .version = "2.0", .effective = 2000, .published = 1000, .material = true };
	char id[8], addr[64];
	int64_t c, until = 0, due;
	int i, n;

	open_new(f);
	assert_int_equal(store_policy_insert(f->st, &p), STORE_OK);
	c = new_campaign(f, "policy", "2.0");
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		snprintf(addr, sizeof(addr), "u%d@%s.test", i, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c");
		assert_int_equal(store_account_upsert(f->st, id, addr, NULL, NULL, NULL), 0);
		assert_true(notice(f, c, id));
	}
	/* a single mail queued after the bulk rows still goes first */
	{
		account u0;
		int64_t single;

		assert_int_equal(store_account_get(f->st, "u0", &u0), STORE_OK);
		single = queue(f, "receipt-granted", u0.key, 0, NULL, "u0@a.test", "ab");

		memset(&q, 0, sizeof(q));
		memset(&box, 0, sizeof(box));
		box.room = 2;
		box.quota = &q;
		q.take = quota_take;
		q.arg = &box;
		assert_int_equal(store_outbox_claim(f->st, text_now(), 60, it, 8, &q, &n), STORE_OK);
		assert_int_equal(n, 3);                 /* the single one and 2 of the quota */
		assert_int_equal(it[0].id, single);
		assert_int_equal(it[0].campaign, 0);
		assert_true(q.limited);
		assert_string_equal(it[1].domain, "a.test");
		assert_string_equal(it[2].domain, "a.test");
		assert_string_equal(q.after, "a.test");
		clear_items(it, n);
	}
	/* next time the turn starts after a.test; b.test is on hold */
	assert_int_equal(store_domain_hold(f->st, "b.test", text_now(), "421 4.7.0 slow", &until),
			 STORE_OK);
	assert_true(until >= text_now() + 59);
	box.room = 10;
	box.seen[0] = '\0';
	assert_int_equal(store_outbox_claim(f->st, text_now(), 60, it, 8, &q, &n), STORE_OK);
	assert_int_equal(n, 2);                         /* c.test's two */
	assert_string_equal(it[0].domain, "c.test");
	assert_string_equal(box.seen, "c.test ");
	clear_items(it, n);
	assert_int_equal(store_outbox_claim(f->st, text_now(), 60, it, 8, &q, &n), STORE_OK);
	assert_int_equal(n, 0);
	/* held domain: due when the hold ends */
	assert_int_equal(store_outbox_next_due(f->st, text_now(), &due), STORE_OK);
	assert_true(due > 0 && due <= until);
	/* a refusal during the hold changes nothing; one after it doubles */
	assert_int_equal(store_domain_hold(f->st, "b.test", text_now(), "421 again", &due),
			 STORE_OK);
	assert_int_equal(due, until);
	assert_int_equal(store_domain_hold(f->st, "b.test", until + 1, "421 again", &due),
			 STORE_OK);
	assert_int_equal(due, until + 1 + 120);
	assert_int_equal(store_domain_release(f->st, "b.test"), STORE_OK);
	assert_int_equal(store_outbox_claim(f->st, text_now(), 60, it, 8, NULL, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(it[0].domain, "b.test");
	clear_items(it, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_in_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_modes_refused, setup, teardown),
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
		cmocka_unit_test_setup_teardown(test_outbox_insert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_reclaim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_next_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_cancel_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_schema1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_schema1_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_of_empty_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_notice_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_immutable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_claim, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
