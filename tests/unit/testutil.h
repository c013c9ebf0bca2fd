/*
 * testutil.h - small helpers shared by the unit tests of the core modules
 * (config, store, ledger, token, digest, consent, account): a scratch
 * directory under /tmp that is removed afterwards, whole-file read/write,
 * and a configuration written into the scratch directory.
 *
 * Everything is static inline so that a test file that uses only some of
 * it compiles without "unused function" warnings. Include after cmocka.h.
 */
#ifndef CONSENTD_TESTUTIL_H
#define CONSENTD_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TU_PATH_MAX 512

/* tu_tmpdir - a fresh directory /tmp/consentd-unit-XXXXXX in buf. */
static inline void tu_tmpdir(char buf[TU_PATH_MAX])
{
	snprintf(buf, TU_PATH_MAX, "/tmp/consentd-unit-XXXXXX");
	if (!mkdtemp(buf))
		fail_msg("mkdtemp: %s", strerror(errno));
}

static inline int tu_rm_one(const char *path, const struct stat *sb, int flag,
			    struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* tu_rmrf - remove a scratch directory and everything in it. Refuses
 * anything that is not one of ours. */
static inline void tu_rmrf(const char *dir)
{
	if (!dir || strncmp(dir, "/tmp/consentd-unit-", 19) != 0)
		return;
	nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tu_path - dir/name into buf. */
static inline const char *tu_path(char buf[TU_PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(buf, TU_PATH_MAX, "%s/%s", dir, name);

	assert_true(n > 0 && n < TU_PATH_MAX);
	return buf;
}

/* tu_write - write n bytes (n == (size_t)-1: strlen) to path with mode. */
static inline void tu_write(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd;
	ssize_t w;

	if (n == (size_t)-1)
		n = strlen(data);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	w = write(fd, data, n);
	assert_int_equal(w, (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);   /* regardless of the umask */
	assert_int_equal(close(fd), 0);
}

/* tu_read - the whole file, NUL-terminated, in a malloc'd buffer; *n_out
 * its size. NULL when the file does not exist. */
static inline char *tu_read(const char *path, size_t *n_out)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	*n_out = 0;
	if (!fp)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
	} while (r > 0);
	fclose(fp);
	buf[n] = '\0';
	*n_out = n;
	return buf;
}

/* tu_contains - whether hay[0..n) holds needle anywhere (binary safe). */
static inline int tu_contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	if (!hay || m == 0 || m > n)
		return 0;
	for (i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return 1;
	return 0;
}

/* The smallest configuration that loads: the two required keys, the store in
 * the scratch directory (%s) and a short busy timeout, plus two purposes. */
#define TU_CONF_FMT \
	"[service]\n" \
	"address = datenschutz@cloudwerk.example\n" \
	"reply_domain = cloudwerk.example\n" \
	"controller = CloudWerk GmbH, Musterstraße 1, 10115 Berlin\n" \
	"default_lang = %s\n" \
	"[store]\n" \
	"path = %s/consentd.db\n" \
	"busy_timeout_ms = 200\n" \
	"[tokens]\n" \
	"lifetime_days = %d\n" \
	"[purpose log-linking]\n" \
	"title_de = Verknüpfung Ihrer Daten mit Protokolldaten\n" \
	"title_en = Linking your personal data with log data\n" \
	"description_de = Kontodaten mit Protokolldaten der Server\n" \
	"description_en = account data with server log data\n" \
	"[purpose testimonials]\n" \
	"title_de = Kundenstimmen mit Namen\n" \
	"title_en = Testimonials with your name\n" \
	"description_de = Ihr Name neben Ihrer Kundenstimme\n" \
	"description_en = your name next to your testimonial\n"

/* TU_SCHEMA1_SQL - schema 1, as migrations[0] in src/lib/store.c creates it
 * (schema 1 was never released in another form). */
#define TU_SCHEMA1_SQL \
	"CREATE TABLE account (" \
	"  key INTEGER PRIMARY KEY AUTOINCREMENT," \
	"  id TEXT UNIQUE," \
	"  email TEXT, email_lc TEXT, name TEXT, lang TEXT," \
	"  hkey BLOB," \
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL, erased INTEGER);" \
	"CREATE INDEX account_email ON account(email_lc);" \
	"CREATE TABLE event (" \
	"  seq INTEGER PRIMARY KEY," \
	"  at INTEGER NOT NULL," \
	"  acct INTEGER NOT NULL REFERENCES account(key)," \
	"  purpose TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL," \
	"  request INTEGER, policy TEXT NOT NULL," \
	"  raw_sha256 TEXT NOT NULL, shown_sha256 TEXT NOT NULL," \
	"  address TEXT, sender TEXT, msg_id TEXT, reason TEXT," \
	"  pd_mac TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);" \
	"CREATE INDEX event_pair ON event(acct, purpose, seq, kind);" \
	"CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event" \
	" BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;" \
	"CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event" \
	" WHEN NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.acct IS NOT OLD.acct" \
	"  OR NEW.purpose IS NOT OLD.purpose OR NEW.kind IS NOT OLD.kind" \
	"  OR NEW.channel IS NOT OLD.channel OR NEW.request IS NOT OLD.request" \
	"  OR NEW.policy IS NOT OLD.policy OR NEW.raw_sha256 IS NOT OLD.raw_sha256" \
	"  OR NEW.shown_sha256 IS NOT OLD.shown_sha256 OR NEW.pd_mac IS NOT OLD.pd_mac" \
	"  OR NEW.prev IS NOT OLD.prev OR NEW.hash IS NOT OLD.hash" \
	"  OR NEW.address IS NOT NULL OR NEW.sender IS NOT NULL" \
	"  OR NEW.msg_id IS NOT NULL OR NEW.reason IS NOT NULL" \
	"  OR (SELECT hkey FROM account WHERE key = OLD.acct) IS NOT NULL" \
	" BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;" \
	"CREATE TABLE ledger_head (" \
	"  one INTEGER PRIMARY KEY CHECK (one = 1)," \
	"  seq INTEGER NOT NULL, hash TEXT NOT NULL);" \
	"CREATE TABLE consent (" \
	"  acct INTEGER NOT NULL REFERENCES account(key)," \
	"  purpose TEXT NOT NULL, state TEXT NOT NULL, seq INTEGER NOT NULL," \
	"  PRIMARY KEY (acct, purpose)) WITHOUT ROWID;" \
	"CREATE INDEX consent_state ON consent(purpose, state);" \
	"CREATE TABLE request (" \
	"  id INTEGER PRIMARY KEY," \
	"  acct INTEGER NOT NULL REFERENCES account(key)," \
	"  purpose TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE," \
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, state TEXT NOT NULL);" \
	"CREATE INDEX request_open ON request(acct, purpose) WHERE state = 'open';" \
	"CREATE INDEX request_due ON request(expires) WHERE state = 'open';" \
	"CREATE TABLE outbox (" \
	"  id INTEGER PRIMARY KEY," \
	"  kind TEXT NOT NULL," \
	"  acct INTEGER NOT NULL REFERENCES account(key)," \
	"  purpose TEXT NOT NULL, request INTEGER REFERENCES request(id)," \
	"  token TEXT," \
	"  state TEXT NOT NULL, created INTEGER NOT NULL);" \
	"CREATE INDEX outbox_state ON outbox(state, id);"

#endif
