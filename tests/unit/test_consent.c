/*
 * test_consent.c - unit tests for consent.h: what staff and the service do
 * to a consent. Asking (and asking again only with resend), withdrawing
 * before and after a grant, expiry both as read and as recorded, erasure,
 * and that every refusal leaves the store as it was.
 *
 * There is no staff grant: a person's grant arrives by mail, which these
 * tests stand in for with ledger_append, as the inbound code does (naming
 * the open request it answers).
 *
 * The mail side: a request is rendered from the templates when it is made;
 * its outbox row holds the exact bytes, their SHA-256 (which the request
 * event carries as the text the person was shown), the envelope and the
 * token. A withdrawal while pending, a resend and expiry cancel the queued
 * request mail and drop its token; a withdrawal queues a receipt. The
 * outbox is read with SQLite directly (consentd_core links it publicly),
 * and SHA-256 is computed with OpenSSL directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "consentd/account.h"
#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"
#include "consentd/token.h"
#include "testutil.h"

#define DAY INT64_C(86400)
#define LIFETIME_DAYS 30

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char db[TU_PATH_MAX];
	char err[1024];
	config *cfg;
	store *st;
	template_set *ts;
} fixture;

static void add_account(fixture *f, const char *id, const char *email, const char *name)
{
	if (account_put(f->st, f->cfg, id, email, name, NULL, true, NULL, f->err,
			sizeof(f->err)) != STORE_OK)
		fail_msg("account_put %s: %s", id, f->err);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	char conf[TU_PATH_MAX], text[2048];

	assert_non_null(f);
	tu_tmpdir(f->dir);
	tu_path(f->db, f->dir, "consentd.db");
	tu_path(conf, f->dir, "consentd.conf");
	snprintf(text, sizeof(text), TU_CONF_FMT, "de", f->dir, LIFETIME_DAYS);
	tu_write(conf, text, (size_t)-1, 0600);
	if (config_load(&f->cfg, conf, f->err, sizeof(f->err)))
		fail_msg("config_load: %s", f->err);
	if (store_open(&f->st, f->db, f->cfg->busy_timeout_ms, STORE_CREATE, f->err,
		       sizeof(f->err)))
		fail_msg("store_open: %s", f->err);
	if (template_load(&f->ts, TEST_TEMPLATES_DIR, f->err, sizeof(f->err)))
		fail_msg("template_load: %s", f->err);
	add_account(f, "acct-1", "erika.mustermann@example.org", "Erika Mustermann");
	add_account(f, "acct-2", "max@example.org", NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_close(f->st);
	template_set_free(f->ts);
	config_free(f->cfg);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static account get_account(fixture *f, const char *id)
{
	account a;

	if (store_account_get(f->st, id, &a) != STORE_OK)
		fail_msg("no account %s", id);
	return a;
}

/* state_of - consent_state of id/purpose at time now. */
static const char *state_of(fixture *f, const char *id, const char *purpose, int64_t now)
{
	static char got[16];
	account a = get_account(f, id);

	assert_int_equal(consent_state(f->st, a.key, purpose, now, got), STORE_OK);
	return got;
}

static void expect_state(fixture *f, const char *id, const char *purpose, const char *want)
{
	const char *got = state_of(f, id, purpose, text_now());

	if (strcmp(got, want))
		fail_msg("%s/%s: got '%s', want '%s'", id, purpose, got, want);
}

/* The ledger: event count, last event, and that it verifies. */
struct ledger_look {
	int64_t n;
	event_row last;
	char last_reason[REASON_MAX + 1];
	bool personal;   /* any personal field present in the account's events */
};

static int look_event(const event_row *ev, void *arg)
{
	struct ledger_look *l = arg;

	l->n++;
	l->last = *ev;
	snprintf(l->last_reason, sizeof(l->last_reason), "%s", ev->reason ? ev->reason : "");
	l->last.address = l->last.sender = l->last.msg_id = l->last.reason = NULL;
	if (ev->address || ev->sender || ev->msg_id || ev->reason)
		l->personal = true;
	return 0;
}

static struct ledger_look look(fixture *f, int64_t acct)
{
	struct ledger_look l;

	memset(&l, 0, sizeof(l));
	assert_int_equal(store_events_each(f->st, acct, look_event, &l), STORE_OK);
	return l;
}

static void expect_intact(fixture *f)
{
	ledger_report rep;
	int rc = ledger_verify(f->st, &rep);

	if (rc != 0)
		fail_msg("ledger_verify: got %d (event %" PRId64 ": %s), want 0", rc, rep.bad_seq,
			 rep.problem);
}

/* open_requests - how many requests of acct are open (due at any time). */
static int open_requests(fixture *f, int64_t acct, request_row *first)
{
	request_row due[8];
	int n = 0;

	assert_int_equal(store_requests_due(f->st, acct, INT64_MAX, due, 8, &n), STORE_OK);
	if (first && n > 0)
		*first = due[0];
	return n;
}

/* inbound - stand-in for a reply by mail: append kind (grant or decline)
 * and answer the open request, in one transaction. */
static int inbound(fixture *f, const char *id, const char *purpose, const char *kind)
{
	account a = get_account(f, id);
	request_row req;
	event_row ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.at = text_now();
	ev.acct = a.key;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", purpose);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.channel, sizeof(ev.channel), CHANNEL_IMAP);
	ev.address = a.email;
	ev.sender = a.email;
	ev.msg_id = "<reply-1@mail.example.org>";
	assert_int_equal(store_begin(f->st), STORE_OK);
	if (store_request_open(f->st, a.key, purpose, &req) == STORE_OK)
		ev.request = req.id;
	rc = ledger_append(f->st, &ev, &a);
	if (rc == STORE_OK && ev.request)
		assert_int_equal(store_request_set_state(f->st, ev.request, "answered"), STORE_OK);
	if (rc == STORE_OK)
		assert_int_equal(store_commit(f->st), STORE_OK);
	else
		store_rollback(f->st);
	return rc;
}

static void request_ok(fixture *f, const char *id, const char *purpose, bool resend,
		       consent_request_info *info)
{
	consent_request_info tmp;
	int rc = consent_request(f->st, f->cfg, f->ts, id, purpose, resend, info ? info : &tmp,
				 f->err, sizeof(f->err));

	if (rc != CONSENT_OK)
		fail_msg("consent_request %s %s: got %d (%s), want CONSENT_OK", id, purpose, rc,
			 f->err);
}

static void expect_contains(const char *got, const char *want)
{
	if (!strstr(got, want))
		fail_msg("got '%s', want it to contain '%s'", got, want);
}

/* ---- the outbox, read directly ---- */

typedef struct mail_row {
	int64_t id, request;
	char kind[32], state[16], purpose[64];
	char token[64];            /* "" when NULL */
	bool has_token;
	char sender[320], rcpt[320], sha256[SHA256_HEX];
	char *message;             /* malloc'd; NULL when none */
	size_t len;
} mail_row;

static void mail_rows_free(mail_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(rows[i].message);
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t outlen)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	snprintf(out, outlen, "%s", v ? (const char *)v : "");
}

/* mails - the outbox rows of acct (all accounts when acct < 0), by id, into
 * rows (at most max); how many there are. */
static int mails(fixture *f, int64_t acct, mail_row *rows, int max)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int n = 0;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT id, ifnull(request, 0), kind, state, purpose, token,"
			       " ifnull(sender, ''), ifnull(rcpt, ''), ifnull(sha256, ''), message"
			       " FROM outbox LEFT JOIN outbox_mail USING (id)"
			       " WHERE ?1 < 0 OR acct = ?1 ORDER BY id", -1, &s,
			       NULL) != SQLITE_OK)
		fail_msg("outbox query: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(s, 1, acct);
	while (sqlite3_step(s) == SQLITE_ROW) {
		mail_row *r;

		if (n == max) {
			n++;
			continue;
		}
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(s, 0);
		r->request = sqlite3_column_int64(s, 1);
		col_text(s, 2, r->kind, sizeof(r->kind));
		col_text(s, 3, r->state, sizeof(r->state));
		col_text(s, 4, r->purpose, sizeof(r->purpose));
		r->has_token = sqlite3_column_type(s, 5) != SQLITE_NULL;
		col_text(s, 5, r->token, sizeof(r->token));
		col_text(s, 6, r->sender, sizeof(r->sender));
		col_text(s, 7, r->rcpt, sizeof(r->rcpt));
		col_text(s, 8, r->sha256, sizeof(r->sha256));
		if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
			const void *b = sqlite3_column_blob(s, 9);

			r->len = (size_t)sqlite3_column_bytes(s, 9);
			r->message = malloc(r->len + 1);
			assert_non_null(r->message);
			memcpy(r->message, b, r->len);
			r->message[r->len] = '\0';
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_true(n <= max);
	return n;
}

/* sha256_hex - SHA-256 with OpenSSL directly. */
static void sha256_hex(const void *data, size_t n, char out[SHA256_HEX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256(data, n, md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* unmasked - a copy of the stored mail with every run of 32 'x' replaced by
 * token: the bytes as sent (a request is stored without its token). */
static char *unmasked(const mail_row *r)
{
	char *copy = malloc(r->len + 1);
	size_t i, k;

	assert_non_null(copy);
	memcpy(copy, r->message, r->len);
	copy[r->len] = '\0';
	for (i = 0; r->has_token && i + 32 <= r->len; i++) {
		for (k = 0; k < 32 && copy[i + k] == 'x'; k++)
			;
		if (k == 32) {
			memcpy(copy + i, r->token, 32);
			i += 31;
		}
	}
	return copy;
}

/* expect_rendered - r holds a rendered mail to rcpt: bytes, the SHA-256 of
 * the mail as sent, the envelope sender of the service, CRLF line ends; a
 * request's stored copy holds no token, only 'x' x 32 in its place. */
static void expect_rendered(fixture *f, const mail_row *r, const char *rcpt)
{
	char sha[SHA256_HEX], sender[320], *sent;
	size_t i;

	if (!r->message || r->len == 0)
		fail_msg("outbox #%" PRId64 " (%s): no rendered message", r->id, r->kind);
	if (r->has_token && memmem(r->message, r->len, r->token, strlen(r->token)))
		fail_msg("outbox #%" PRId64 ": the stored mail holds the plaintext token", r->id);
	sent = unmasked(r);
	sha256_hex(sent, r->len, sha);
	free(sent);
	assert_string_equal(r->sha256, sha);
	assert_string_equal(r->rcpt, rcpt);
	snprintf(sender, sizeof(sender), "%s%sbounce@%s", f->cfg->reply_local,
		 f->cfg->delimiter, f->cfg->reply_domain);
	assert_string_equal(r->sender, sender);
	assert_string_equal(r->sender, "consent+bounce@cloudwerk.example");
	for (i = 0; i < r->len; i++)
		if (r->message[i] == '\n' && (i == 0 || r->message[i - 1] != '\r'))
			fail_msg("outbox #%" PRId64 ": bare LF at byte %zu", r->id, i);
	expect_contains(r->message, "Auto-Submitted: auto-generated");
}

/* ---- request ---- */

static void test_request_makes_pending(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	account a = get_account(f, "acct-1");
	request_row open;
	struct ledger_look l;
	int64_t before = text_now(), after;

	expect_state(f, "acct-1", "log-linking", STATE_NONE);
	request_ok(f, "acct-1", "log-linking", false, &info);
	after = text_now();
	assert_true(info.request > 0);
	assert_true(info.outbox > 0);
	assert_in_range(info.expires, before + LIFETIME_DAYS * DAY, after + LIFETIME_DAYS * DAY);

	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	expect_state(f, "acct-1", "testimonials", STATE_NONE);
	expect_state(f, "acct-2", "log-linking", STATE_NONE);
	assert_int_equal(open_requests(f, a.key, &open), 1);
	assert_int_equal(open.id, info.request);
	assert_string_equal(open.purpose, "log-linking");
	assert_int_equal(open.expires, info.expires);
	assert_int_equal(strlen(open.token_hash), 64);

	l = look(f, a.key);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.last.kind, EV_REQUEST);
	assert_string_equal(l.last.channel, CHANNEL_STAFF);
	assert_int_equal(l.last.request, info.request);
	expect_intact(f);
}

static void test_second_request_refused(void **state)
{
	fixture *f = *state;
	consent_request_info first, again;
	account a = get_account(f, "acct-1");
	request_row open;
	int rc;

	request_ok(f, "acct-1", "log-linking", false, &first);
	memset(&again, 0xff, sizeof(again));
	rc = consent_request(f->st, f->cfg, f->ts, "acct-1", "log-linking", false, &again, f->err,
			     sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	expect_contains(f->err, "pending");
	expect_contains(f->err, "--resend");
	assert_int_equal(again.request, 0);

	/* Nothing written: one event, the first request still the open one. */
	assert_int_equal(look(f, a.key).n, 1);
	assert_int_equal(open_requests(f, a.key, &open), 1);
	assert_int_equal(open.id, first.request);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);

	/* Another purpose is independent. */
	request_ok(f, "acct-1", "testimonials", false, NULL);
	expect_intact(f);
}

static void test_resend_supersedes(void **state)
{
	fixture *f = *state;
	consent_request_info first, second;
	account a = get_account(f, "acct-1");
	request_row open;
	struct ledger_look l;

	request_ok(f, "acct-1", "log-linking", false, &first);
	request_ok(f, "acct-1", "log-linking", true, &second);
	assert_true(second.request != first.request);
	assert_true(second.outbox != first.outbox);
	/* Only the new request is open: the old token stopped working. */
	assert_int_equal(open_requests(f, a.key, &open), 1);
	assert_int_equal(open.id, second.request);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	l = look(f, a.key);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last.kind, EV_REQUEST);
	assert_int_equal(l.last.request, second.request);
	expect_intact(f);

	/* resend with nothing pending is an ordinary request. */
	request_ok(f, "acct-2", "log-linking", true, NULL);
	expect_state(f, "acct-2", "log-linking", STATE_PENDING);
}

/* ---- withdrawal ---- */

static void test_revoke_pending_declines(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	account a = get_account(f, "acct-1");
	char prev[16];
	struct ledger_look l;

	request_ok(f, "acct-1", "log-linking", false, &info);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking",
					"phoned: does not want it", prev, f->err,
					sizeof(f->err)), CONSENT_OK);
	assert_string_equal(prev, STATE_PENDING);
	expect_state(f, "acct-1", "log-linking", STATE_DECLINED);
	assert_int_equal(open_requests(f, a.key, NULL), 0);   /* its token is spent */
	l = look(f, a.key);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last.kind, EV_REVOKE);
	assert_string_equal(l.last.channel, CHANNEL_STAFF);
	assert_string_equal(l.last_reason, "phoned: does not want it");
	assert_int_equal(l.last.request, info.request);   /* it answers that request */
	expect_intact(f);

	/* A new request after a refusal: pending again. */
	request_ok(f, "acct-1", "log-linking", false, NULL);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
}

static void test_grant_then_revoke(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	account a = get_account(f, "acct-1");
	char prev[16];
	int rc;

	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(inbound(f, "acct-1", "log-linking", EV_GRANT), STORE_OK);
	expect_state(f, "acct-1", "log-linking", STATE_GRANTED);
	assert_int_equal(open_requests(f, a.key, NULL), 0);

	/* No request while granted, resend or not. */
	rc = consent_request(f->st, f->cfg, f->ts, "acct-1", "log-linking", false, &info, f->err,
			     sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	expect_contains(f->err, "already granted");
	rc = consent_request(f->st, f->cfg, f->ts, "acct-1", "log-linking", true, &info, f->err,
			     sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	assert_int_equal(look(f, a.key).n, 2);
	assert_int_equal(open_requests(f, a.key, NULL), 0);

	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "by letter",
					prev, f->err, sizeof(f->err)), CONSENT_OK);
	assert_string_equal(prev, STATE_GRANTED);
	expect_state(f, "acct-1", "log-linking", STATE_REVOKED);

	/* Nothing left to withdraw. */
	rc = consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "again", prev, f->err,
			    sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	assert_string_equal(prev, STATE_REVOKED);
	expect_contains(f->err, "nothing to withdraw");
	assert_int_equal(look(f, a.key).n, 3);

	/* Asking again after a withdrawal is allowed. */
	request_ok(f, "acct-1", "log-linking", false, NULL);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	expect_intact(f);
}

static void test_decline_then_request(void **state)
{
	fixture *f = *state;

	request_ok(f, "acct-2", "testimonials", false, NULL);
	assert_int_equal(inbound(f, "acct-2", "testimonials", EV_DECLINE), STORE_OK);
	expect_state(f, "acct-2", "testimonials", STATE_DECLINED);
	/* A grant after a refusal needs a new request first. */
	assert_int_equal(inbound(f, "acct-2", "testimonials", EV_GRANT), STORE_EXISTS);
	request_ok(f, "acct-2", "testimonials", false, NULL);
	expect_state(f, "acct-2", "testimonials", STATE_PENDING);
	expect_intact(f);
}

static void test_revoke_nothing_refused(void **state)
{
	fixture *f = *state;
	char prev[16];
	int rc;

	rc = consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "no reason", prev, f->err,
			    sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	assert_string_equal(prev, STATE_NONE);
	expect_contains(f->err, "nothing to withdraw");
	expect_contains(f->err, "none");
	assert_int_equal(look(f, -1).n, 0);
	expect_state(f, "acct-1", "log-linking", STATE_NONE);
}

/* ---- expiry ---- */

static void test_expiry(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	account a = get_account(f, "acct-1");
	char cached[16];
	int64_t seq;
	struct ledger_look l;
	int n = -1;

	request_ok(f, "acct-1", "log-linking", false, &info);

	/* Read: pending until its lifetime is over, then expired, before the
	 * expiry duty has recorded anything. */
	assert_string_equal(state_of(f, "acct-1", "log-linking", info.expires - 1), STATE_PENDING);
	assert_string_equal(state_of(f, "acct-1", "log-linking", info.expires + 1), STATE_EXPIRED);
	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", cached, &seq), STORE_OK);
	assert_string_equal(cached, STATE_PENDING);

	/* Recorded: nothing due before the end, then exactly this request. */
	assert_int_equal(consent_expire_due(f->st, -1, info.expires - 1, &n, f->err,
					    sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(consent_expire_due(f->st, -1, info.expires + 1, &n, f->err,
					    sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_consent_get(f->st, a.key, "log-linking", cached, &seq), STORE_OK);
	assert_string_equal(cached, STATE_EXPIRED);
	expect_state(f, "acct-1", "log-linking", STATE_EXPIRED);
	assert_int_equal(open_requests(f, a.key, NULL), 0);
	l = look(f, a.key);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last.kind, EV_EXPIRE);
	assert_string_equal(l.last.channel, CHANNEL_AUTO);
	assert_int_equal(l.last.at, info.expires);
	assert_int_equal(l.last.request, info.request);
	expect_intact(f);

	/* Once only. */
	assert_int_equal(consent_expire_due(f->st, -1, info.expires + DAY, &n, f->err,
					    sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(look(f, a.key).n, 2);

	/* A late grant is refused; a new request is allowed. */
	assert_int_equal(inbound(f, "acct-1", "log-linking", EV_GRANT), STORE_EXISTS);
	request_ok(f, "acct-1", "log-linking", false, NULL);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	expect_intact(f);
}

/* consent_state and the expiry duty agree at every instant around the end. */
static void test_expiry_boundary_agrees(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	int64_t d;

	request_ok(f, "acct-1", "log-linking", false, &info);
	for (d = -1; d <= 1; d++) {
		const char *read = state_of(f, "acct-1", "log-linking", info.expires + d);
		int n = -1;

		assert_int_equal(consent_expire_due(f->st, -1, info.expires + d, &n, f->err,
						    sizeof(f->err)), CONSENT_OK);
		if ((n == 1) != !strcmp(read, STATE_EXPIRED))
			fail_msg("at expires%+" PRId64 ": consent_state says '%s' but the "
				 "expiry duty expired %d", d, read, n);
		if (n == 1)
			break;
	}
}

/* Expiry per account, and across accounts in more than one batch. */
static void test_expire_due_scope(void **state)
{
	fixture *f = *state;
	consent_request_info i1, i2;
	account a1 = get_account(f, "acct-1"), a2 = get_account(f, "acct-2");
	int n = -1;

	request_ok(f, "acct-1", "log-linking", false, &i1);
	request_ok(f, "acct-2", "log-linking", false, &i2);
	assert_int_equal(consent_expire_due(f->st, a2.key, i2.expires + 1, &n, f->err,
					    sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(open_requests(f, a1.key, NULL), 1);
	assert_int_equal(open_requests(f, a2.key, NULL), 0);
	expect_intact(f);
}

static void test_expire_due_many(void **state)
{
	fixture *f = *state;
	char id[32], email[64];
	int i, n = -1;
	const int many = 300;   /* more than one batch of 256 */

	assert_int_equal(store_begin(f->st), STORE_OK);
	for (i = 0; i < many; i++) {
		snprintf(id, sizeof(id), "bulk-%03d", i);
		snprintf(email, sizeof(email), "bulk-%03d@example.org", i);
		assert_int_equal(store_account_upsert(f->st, id, email, NULL, "de", NULL), 0);
	}
	assert_int_equal(store_commit(f->st), STORE_OK);
	for (i = 0; i < many; i++) {
		snprintf(id, sizeof(id), "bulk-%03d", i);
		request_ok(f, id, "log-linking", false, NULL);
	}
	assert_int_equal(consent_expire_due(f->st, -1, text_now() + (LIFETIME_DAYS + 1) * DAY,
					    &n, f->err, sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, many);
	expect_state(f, "bulk-000", "log-linking", STATE_EXPIRED);
	expect_state(f, "bulk-299", "log-linking", STATE_EXPIRED);
	assert_int_equal(open_requests(f, -1, NULL), 0);
	expect_intact(f);
}

/* A request whose lifetime is over no longer blocks a new one: the request
 * operation records the expiry first. (The past request is planted through
 * the store, as if made 31 days ago.) */
static void test_stale_pending_does_not_block(void **state)
{
	fixture *f = *state;
	account a = get_account(f, "acct-1");
	request_row old;
	event_row ev;
	char prev[16];
	struct ledger_look l;
	int64_t then = text_now() - (LIFETIME_DAYS + 1) * DAY;
	int rc;

	assert_int_equal(store_begin(f->st), STORE_OK);
	memset(&old, 0, sizeof(old));
	old.acct = a.key;
	strcpy(old.purpose, "log-linking");
	memset(old.token_hash, 'c', 64);
	old.created = then;
	old.expires = then + LIFETIME_DAYS * DAY;
	strcpy(old.state, "open");
	assert_int_equal(store_request_insert(f->st, &old), STORE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.at = then;
	ev.acct = a.key;
	ev.request = old.id;
	strcpy(ev.purpose, "log-linking");
	strcpy(ev.kind, EV_REQUEST);
	strcpy(ev.channel, CHANNEL_STAFF);
	ev.address = a.email;
	assert_int_equal(ledger_append(f->st, &ev, &a), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
	expect_state(f, "acct-1", "log-linking", STATE_EXPIRED);   /* as read */

	/* Withdrawing an expired request: nothing to withdraw, and (refused
	 * means nothing written) not even the expiry is recorded. */
	rc = consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "x", prev, f->err,
			    sizeof(f->err));
	assert_int_equal(rc, CONSENT_REFUSED);
	assert_string_equal(prev, STATE_EXPIRED);
	expect_contains(f->err, "expired");
	assert_int_equal(look(f, a.key).n, 1);

	/* A new request records the expiry, then itself. */
	request_ok(f, "acct-1", "log-linking", false, NULL);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	l = look(f, a.key);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.last.kind, EV_REQUEST);
	assert_int_equal(open_requests(f, a.key, NULL), 1);
	expect_intact(f);
}

/* ---- erasure ---- */

static void test_erase(void **state)
{
	fixture *f = *state;
	account a = get_account(f, "acct-1"), got;
	struct ledger_look l;
	char st16[16];
	int rc;

	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(inbound(f, "acct-1", "log-linking", EV_GRANT), STORE_OK);
	request_ok(f, "acct-1", "testimonials", false, NULL);
	request_ok(f, "acct-2", "log-linking", false, NULL);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-2", "log-linking",
					"asked by phone", st16, f->err, sizeof(f->err)), CONSENT_OK);

	rc = consent_erase(f->st, "acct-1", f->err, sizeof(f->err));
	if (rc != CONSENT_OK)
		fail_msg("consent_erase: got %d (%s)", rc, f->err);
	assert_int_equal(store_account_get(f->st, "acct-1", &got), STORE_NOTFOUND);
	assert_int_equal(store_account_get_key(f->st, a.key, &got), STORE_OK);
	assert_string_equal(got.email, "");
	assert_string_equal(got.name, "");
	assert_false(got.has_hkey);
	assert_int_equal(consent_state(f->st, a.key, "log-linking", text_now(), st16), STORE_OK);
	assert_string_equal(st16, STATE_NONE);
	assert_int_equal(consent_state(f->st, a.key, "testimonials", text_now(), st16), STORE_OK);
	assert_string_equal(st16, STATE_NONE);

	/* The ledger keeps the events, without anything personal, and verifies. */
	l = look(f, a.key);
	assert_int_equal(l.n, 5);   /* request, grant, request, erase x2 */
	assert_string_equal(l.last.kind, EV_ERASE);
	assert_false(l.personal);
	expect_intact(f);

	/* The other account is untouched. */
	expect_state(f, "acct-2", "log-linking", STATE_DECLINED);
	l = look(f, get_account(f, "acct-2").key);
	assert_true(l.personal);

	/* Gone is gone. */
	rc = consent_erase(f->st, "acct-1", f->err, sizeof(f->err));
	assert_int_equal(rc, CONSENT_ERR);
	expect_contains(f->err, "no account 'acct-1'");
	rc = consent_request(f->st, f->cfg, f->ts, "acct-1", "log-linking", false,
			     &(consent_request_info){ 0 }, f->err, sizeof(f->err));
	assert_int_equal(rc, CONSENT_ERR);
	expect_contains(f->err, "no account");
	expect_intact(f);
}

/* Erasure ends the account's open requests: their tokens no longer lead to
 * an open request, and the expiry duty has nothing of the account to do
 * (today it later reports them as expired without recording anything). */
static void test_erase_closes_requests(void **state)
{
	fixture *f = *state;
	account a = get_account(f, "acct-1");
	request_row req;
	int n = -1;

	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(consent_erase(f->st, "acct-1", f->err, sizeof(f->err)), CONSENT_OK);
	assert_int_equal(store_request_open(f->st, a.key, "log-linking", &req), STORE_NOTFOUND);
	assert_int_equal(consent_expire_due(f->st, -1, INT64_MAX / 2, &n, f->err,
					    sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 0);
}

static void test_erase_never_asked(void **state)
{
	fixture *f = *state;
	account a = get_account(f, "acct-2");
	struct ledger_look l;

	assert_int_equal(consent_erase(f->st, "acct-2", f->err, sizeof(f->err)), CONSENT_OK);
	l = look(f, a.key);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.last.kind, EV_ERASE);
	assert_false(l.personal);
	expect_intact(f);
	/* A new account may take the id again; it starts from nothing. */
	add_account(f, "acct-2", "max@example.org", NULL);
	expect_state(f, "acct-2", "log-linking", STATE_NONE);
	assert_true(get_account(f, "acct-2").key != a.key);
}

/* After erasure no copy of the personal data is left in the database file
 * or its write-ahead log (secure_delete, WAL truncated). */
static void test_erase_leaves_no_trace_in_file(void **state)
{
	fixture *f = *state;
	static const char *const secrets[] = {
		"erika.mustermann@example.org", "ERIKA.MUSTERMANN@EXAMPLE.ORG",
		"Erika Mustermann", "reply-1@mail.example.org", "secret-reason-7731",
	};
	const char *files[] = { "consentd.db", "consentd.db-wal" };
	char path[TU_PATH_MAX], prev[16];
	size_t i, k, n;
	char *bytes;

	/* The upper-case address goes through an update, leaving an old row. */
	assert_int_equal(account_put(f->st, f->cfg, "acct-1", "ERIKA.MUSTERMANN@EXAMPLE.ORG",
				     "Erika Mustermann", NULL, false, NULL, f->err,
				     sizeof(f->err)), STORE_OK);
	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(inbound(f, "acct-1", "log-linking", EV_GRANT), STORE_OK);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking",
					"secret-reason-7731", prev, f->err, sizeof(f->err)),
			 CONSENT_OK);
	assert_int_equal(consent_erase(f->st, "acct-1", f->err, sizeof(f->err)), CONSENT_OK);

	for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		bytes = tu_read(tu_path(path, f->dir, files[k]), &n);
		for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
			if (tu_contains(bytes, n, secrets[i]))
				fail_msg("%s still holds '%s' after erasure", files[k], secrets[i]);
		free(bytes);
	}
	/* The other account's data is of course still there. */
	bytes = tu_read(tu_path(path, f->dir, "consentd.db"), &n);
	assert_true(tu_contains(bytes, n, "max@example.org"));
	free(bytes);
}

/* ---- the mail side ---- */

/* The request is rendered when it is made: the outbox row holds the bytes
 * to the primary address, from the service's bounce address, and the
 * ledger event carries their SHA-256 as the text the person was shown. */
static void test_request_renders_mail(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	account a = get_account(f, "acct-1");
	mail_row rows[4];
	request_row open;
	struct ledger_look l;
	char want[128], th[SHA256_HEX], *sent;
	int n;

	request_ok(f, "acct-1", "log-linking", false, &info);
	n = mails(f, -1, rows, 4);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, info.outbox);
	assert_string_equal(rows[0].kind, "request");
	assert_string_equal(rows[0].state, "queued");
	assert_string_equal(rows[0].purpose, "log-linking");
	assert_int_equal(rows[0].request, info.request);
	expect_rendered(f, &rows[0], "erika.mustermann@example.org");

	/* The token is in the row, and in the mail as sent (Reply-To,
	 * Message-ID); the stored copy has 'x' x 32 there; the request stores
	 * only its hash. */
	assert_true(rows[0].has_token);
	assert_int_equal(strlen(rows[0].token), TOKEN_LEN);
	assert_int_equal(open_requests(f, a.key, &open), 1);
	assert_int_equal(token_hash(rows[0].token, TOKEN_LEN, th), 0);
	assert_string_equal(open.token_hash, th);
	sha256_hex(rows[0].token, TOKEN_LEN, th);
	assert_string_equal(open.token_hash, th);
	expect_contains(rows[0].message, "consent+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@cloudwerk.example");
	sent = unmasked(&rows[0]);
	snprintf(want, sizeof(want), "consent+%s@cloudwerk.example", rows[0].token);
	expect_contains(sent, want);
	snprintf(want, sizeof(want), "consent.%s@cloudwerk.example", rows[0].token);
	expect_contains(sent, want);
	free(sent);

	/* The text the person is shown, in the ledger. */
	l = look(f, a.key);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.last.kind, EV_REQUEST);
	assert_string_equal(l.last.shown_sha256, rows[0].sha256);
	mail_rows_free(rows, n);
	expect_intact(f);
}

/* A refused request or withdrawal queues nothing. */
static void test_refused_queues_nothing(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	mail_row rows[4];
	char prev[16];
	int n;

	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "letter",
					prev, f->err, sizeof(f->err)), CONSENT_REFUSED);
	assert_int_equal(mails(f, -1, rows, 4), 0);
	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(consent_request(f->st, f->cfg, f->ts, "acct-1", "log-linking", false,
					 &info, f->err, sizeof(f->err)), CONSENT_REFUSED);
	assert_int_equal(consent_request(f->st, f->cfg, f->ts, "ghost", "log-linking", false,
					 &info, f->err, sizeof(f->err)), CONSENT_ERR);
	n = mails(f, -1, rows, 4);
	assert_int_equal(n, 1);
	mail_rows_free(rows, n);
}

/* resend: the superseded request's queued mail is cancelled and its token
 * dropped; the new one is queued with a new token. */
static void test_resend_cancels_old_mail(void **state)
{
	fixture *f = *state;
	consent_request_info first, second;
	mail_row rows[4];
	int n;

	request_ok(f, "acct-1", "log-linking", false, &first);
	request_ok(f, "acct-1", "log-linking", true, &second);
	n = mails(f, -1, rows, 4);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, first.outbox);
	assert_string_equal(rows[0].state, "cancelled");
	assert_false(rows[0].has_token);
	assert_int_equal(rows[1].id, second.outbox);
	assert_string_equal(rows[1].state, "queued");
	assert_true(rows[1].has_token);
	assert_int_equal(rows[1].request, second.request);
	assert_string_not_equal(rows[0].sha256, rows[1].sha256);
	mail_rows_free(rows, n);
}

/* A withdrawal while pending cancels the request mail (its token is spent)
 * and queues a receipt of the refusal; after a grant, a receipt of the
 * withdrawal. */
static void test_revoke_cancels_and_sends_receipt(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	mail_row rows[8];
	char prev[16];
	int n;

	request_ok(f, "acct-1", "log-linking", false, &info);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking",
					"phoned", prev, f->err, sizeof(f->err)), CONSENT_OK);
	n = mails(f, -1, rows, 8);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, info.outbox);
	assert_string_equal(rows[0].kind, "request");
	assert_string_equal(rows[0].state, "cancelled");
	assert_false(rows[0].has_token);
	assert_string_equal(rows[1].kind, "receipt-declined");
	assert_string_equal(rows[1].state, "queued");
	assert_string_equal(rows[1].purpose, "log-linking");
	assert_false(rows[1].has_token);
	expect_rendered(f, &rows[1], "erika.mustermann@example.org");
	mail_rows_free(rows, n);

	/* Granted, then withdrawn: receipt-revoked. */
	request_ok(f, "acct-2", "log-linking", false, NULL);
	assert_int_equal(inbound(f, "acct-2", "log-linking", EV_GRANT), STORE_OK);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-2", "log-linking",
					"by letter", prev, f->err, sizeof(f->err)), CONSENT_OK);
	assert_string_equal(prev, STATE_GRANTED);
	n = mails(f, get_account(f, "acct-2").key, rows, 8);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].kind, "request");
	assert_string_equal(rows[1].kind, "receipt-revoked");
	assert_string_equal(rows[1].state, "queued");
	expect_rendered(f, &rows[1], "max@example.org");
	mail_rows_free(rows, n);
	expect_intact(f);
}

/* Expiry cancels the request mail that was never sent. */
static void test_expiry_cancels_mail(void **state)
{
	fixture *f = *state;
	consent_request_info i1, i2;
	mail_row rows[4];
	int n = -1;

	request_ok(f, "acct-1", "log-linking", false, &i1);
	request_ok(f, "acct-2", "log-linking", false, &i2);
	assert_int_equal(consent_expire_due(f->st, get_account(f, "acct-1").key, i1.expires,
					    &n, f->err, sizeof(f->err)), CONSENT_OK);
	assert_int_equal(n, 1);
	n = mails(f, -1, rows, 4);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, i1.outbox);
	assert_string_equal(rows[0].state, "cancelled");
	assert_false(rows[0].has_token);
	assert_int_equal(rows[1].id, i2.outbox);
	assert_string_equal(rows[1].state, "queued");
	assert_true(rows[1].has_token);
	mail_rows_free(rows, n);
}

/* Erasure leaves no mail of the account in the outbox. */
static void test_erase_empties_outbox(void **state)
{
	fixture *f = *state;
	account a = get_account(f, "acct-1");
	mail_row rows[8];
	char prev[16];
	int n;

	request_ok(f, "acct-1", "log-linking", false, NULL);
	assert_int_equal(inbound(f, "acct-1", "log-linking", EV_GRANT), STORE_OK);
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking",
					"letter", prev, f->err, sizeof(f->err)), CONSENT_OK);
	request_ok(f, "acct-1", "testimonials", false, NULL);
	request_ok(f, "acct-2", "log-linking", false, NULL);
	assert_int_equal(mails(f, a.key, rows, 8), 3);
	mail_rows_free(rows, 3);
	assert_int_equal(consent_erase(f->st, "acct-1", f->err, sizeof(f->err)), CONSENT_OK);
	assert_int_equal(mails(f, a.key, rows, 8), 0);
	n = mails(f, -1, rows, 8);
	assert_int_equal(n, 1);   /* acct-2's stays */
	mail_rows_free(rows, n);
}

/* ---- errors ---- */

static void test_unknown_account_and_purpose(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	char prev[16];

	assert_int_equal(consent_request(f->st, f->cfg, f->ts, "ghost", "log-linking", false, &info,
					 f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "no account 'ghost'");
	assert_int_equal(consent_request(f->st, f->cfg, f->ts, "acct-1", "marketing", false, &info,
					 f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "unknown purpose 'marketing'");
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "ghost", "log-linking", "letter", prev,
					f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "no account 'ghost'");
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "marketing", "letter", prev,
					f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "unknown purpose 'marketing'");
	assert_int_equal(consent_erase(f->st, "ghost", f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "no account 'ghost'");
	assert_int_equal(look(f, -1).n, 0);
	/* The store is usable afterwards (no transaction left open). */
	request_ok(f, "acct-1", "log-linking", false, NULL);
}

/* While another process holds the write lock, every operation fails with a
 * message saying so, and writes nothing. */
static void test_locked(void **state)
{
	fixture *f = *state;
	consent_request_info info;
	store *other = NULL;
	char prev[16];
	int n;

	request_ok(f, "acct-1", "log-linking", false, NULL);
	if (store_open(&other, f->db, 200, 0, f->err, sizeof(f->err)))
		fail_msg("second store_open: %s", f->err);
	assert_int_equal(store_begin(other), STORE_OK);

	assert_int_equal(consent_request(f->st, f->cfg, f->ts, "acct-2", "log-linking", false, &info,
					 f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "locked");
	assert_int_equal(consent_revoke(f->st, f->cfg, f->ts, "acct-1", "log-linking", "letter", prev,
					f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "locked");
	assert_int_equal(consent_erase(f->st, "acct-1", f->err, sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "locked");
	assert_int_equal(consent_expire_due(f->st, -1, INT64_MAX / 2, &n, f->err,
					    sizeof(f->err)), CONSENT_ERR);
	expect_contains(f->err, "locked");

	store_rollback(other);
	store_close(other);
	assert_int_equal(look(f, -1).n, 1);
	expect_state(f, "acct-1", "log-linking", STATE_PENDING);
	expect_state(f, "acct-2", "log-linking", STATE_NONE);
	expect_intact(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_makes_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_request_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_supersedes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_pending_declines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_then_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decline_then_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_nothing_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_boundary_agrees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_due_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_due_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_pending_does_not_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_closes_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_never_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_leaves_no_trace_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_renders_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_queues_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_cancels_old_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_cancels_and_sends_receipt, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_cancels_mail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_empties_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_account_and_purpose, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
