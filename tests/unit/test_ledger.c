/*
 * test_ledger.c - unit tests for ledger.h: the consent state machine of
 * PRODUCT.md ("Consent states") as a full table, the documented canonical
 * serialisation, appending, and ledger_verify against every kind of
 * tampering a person with write access to the file could do: rewritten,
 * reassigned and deleted events, changed personal fields, a rewound head
 * record, and a consent cache that says more than the events do.
 *
 * Tampering goes around the store with SQLite directly (consentd_core links
 * it publicly), after dropping the append-only triggers the way an attacker
 * would; a separate test shows the triggers refuse it while they exist.
 * Tampering with the account table (no trigger there) is covered too: ids
 * swapped between accounts, a key removed from a live account, an account
 * marked erased without an erase event.
 *
 * ledger_append takes the account: it fills in acct and the account id,
 * refuses erased accounts, and a grant or decline must name the open,
 * unexpired request of that account and purpose.
 *
 * The pinned pd_mac values are computed independently of digest.c: with
 * OpenSSL's HMAC directly on the documented bytes, and (the literals) with
 * Python's hmac module on the same bytes.
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

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include "consentd/consent.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "testutil.h"

/* ---- the state machine ---- */

static const char *const states[] = {
	STATE_NONE, STATE_PENDING, STATE_GRANTED, STATE_DECLINED, STATE_REVOKED, STATE_EXPIRED
};
static const char *const kinds[] = {
	EV_REQUEST, EV_GRANT, EV_DECLINE, EV_REVOKE, EV_EXPIRE, EV_ERASE
};
#define NSTATES (sizeof(states) / sizeof(states[0]))
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* want[state][kind]: NULL = not allowed. PRODUCT.md: none -> pending
 * (request) -> granted | declined | expired; granted -> revoked; declined,
 * revoked, expired -> pending by a new request; a withdrawal while pending
 * -> declined; --resend re-requests while pending. A policy version that
 * changes the purpose asks a granted account again: the grant stands while
 * that request runs (and after it expires, until the version is in force),
 * a yes renews it, a no declines. Erasure ends every state (the account's
 * consent is gone: none). */
static const char *const want_next[NSTATES][NKINDS] = {
	/*              request        grant          decline         revoke          expire         erase */
	/* none     */ { STATE_PENDING, NULL,          NULL,           NULL,           NULL,          STATE_NONE },
	/* pending  */ { STATE_PENDING, STATE_GRANTED, STATE_DECLINED, STATE_DECLINED, STATE_EXPIRED, STATE_NONE },
	/* granted  */ { STATE_GRANTED, STATE_GRANTED, STATE_DECLINED, STATE_REVOKED,  STATE_GRANTED, STATE_NONE },
	/* declined */ { STATE_PENDING, NULL,          NULL,           NULL,           NULL,          STATE_NONE },
	/* revoked  */ { STATE_PENDING, NULL,          NULL,           NULL,           NULL,          STATE_NONE },
	/* expired  */ { STATE_PENDING, NULL,          NULL,           NULL,           NULL,          STATE_NONE },
};

static void test_next_state_table(void **state)
{
	size_t s, k;

	(void)state;
	for (s = 0; s < NSTATES; s++)
		for (k = 0; k < NKINDS; k++) {
			const char *got = ledger_next_state(states[s], kinds[k]);
			const char *want = want_next[s][k];

			if ((got == NULL) != (want == NULL) || (got && strcmp(got, want)))
				fail_msg("%s + %s: got %s, want %s", states[s], kinds[k],
					 got ? got : "NULL (refused)", want ? want : "NULL (refused)");
		}
}

static void test_next_state_unknown(void **state)
{
	size_t s;

	(void)state;
	for (s = 0; s < NSTATES; s++) {
		assert_null(ledger_next_state(states[s], "bogus"));
		assert_null(ledger_next_state(states[s], ""));
		assert_null(ledger_next_state(states[s], "Request"));
	}
	assert_null(ledger_next_state("bogus", EV_REQUEST));
	assert_null(ledger_next_state("", EV_GRANT));
	assert_null(ledger_next_state("*", EV_REQUEST));
	assert_null(ledger_next_state("PENDING", EV_GRANT));
}

/* ---- the canonical serialisation (ledger.c, "version 1") ---- */

static void test_hash_serialisation(void **state)
{
	event_row ev;
	char got[SHA256_HEX];

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.seq = 1;
	ev.at = 1700000000;
	ev.acct = 7;
	ev.request = 3;
	strcpy(ev.purpose, "log-linking");
	strcpy(ev.kind, "request");
	strcpy(ev.channel, "staff");
	strcpy(ev.policy, "1.1");
	memset(ev.pd_mac, 0, sizeof(ev.pd_mac));
	for (int i = 0; i < 64; i += 2)
		memcpy(ev.pd_mac + i, "ab", 2);
	/* SHA-256("17:consentd-ledger-1,1:1,10:1700000000,1:7,11:log-linking,
	 * 7:request,5:staff,1:3,3:1.1,0:,0:,64:abab...ab,0:,") */
	ledger_hash(&ev, got);
	assert_string_equal(got, "5053b18b89faf3e2ad3c2e4db1d0635f816fcfb9eff73d27ed160558ec96ef36");

	/* Personal fields are not in the hash (only through pd_mac). */
	ev.address = "erika@example.org";
	ev.reason = "x";
	ledger_hash(&ev, got);
	assert_string_equal(got, "5053b18b89faf3e2ad3c2e4db1d0635f816fcfb9eff73d27ed160558ec96ef36");

	/* Every hashed field matters. */
	ev.request = 4;
	ledger_hash(&ev, got);
	assert_string_not_equal(got, "5053b18b89faf3e2ad3c2e4db1d0635f816fcfb9eff73d27ed160558ec96ef36");
}

/* hmac_hex - HMAC-SHA256(key, bytes) with OpenSSL directly, as lowercase
 * hex: an implementation of the documented serialisation that shares no
 * code with digest.c or ledger.c. */
static void hmac_hex(const unsigned char key[ACCOUNT_KEY_LEN], const char *bytes,
		     char out[SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	assert_non_null(HMAC(EVP_sha256(), key, ACCOUNT_KEY_LEN, (const unsigned char *)bytes,
			     strlen(bytes), md, &mdlen));
	assert_int_equal(mdlen, 32);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* expect_pd_mac - ledger_pd_mac of ev equals HMAC over the documented
 * bytes, and equals the pinned value. */
static void expect_pd_mac(const event_row *ev, const unsigned char *key, const char *bytes,
			  const char *pinned)
{
	char got[SHA256_HEX], want[SHA256_HEX];

	ledger_pd_mac(ev, key, got);
	hmac_hex(key, bytes, want);
	if (strcmp(got, want))
		fail_msg("pd_mac: got %s, want HMAC-SHA256 of '%s' = %s", got, bytes, want);
	assert_string_equal(want, pinned);
}

static void test_pd_mac_serialisation(void **state)
{
	unsigned char key[ACCOUNT_KEY_LEN], other[ACCOUNT_KEY_LEN];
	event_row ev;
	char got[SHA256_HEX], base[SHA256_HEX];
	int i;

	(void)state;
	for (i = 0; i < ACCOUNT_KEY_LEN; i++)
		key[i] = (unsigned char)(i + 1);
	memset(&ev, 0, sizeof(ev));
	ev.account_id = "acct-1";
	ev.address = "erika@example.org";
	ev.msg_id = "<r1@example.org>";
	/* pd_mac = HMAC-SHA256(key, ns("consentd-pd-1") ns(account id)
	 * ns(address) ns(sender) ns(msg_id) ns(reason)); the pinned values are
	 * Python's hmac.new(bytes(range(1, 33)), BYTES, sha256).hexdigest(). */
	expect_pd_mac(&ev, key, "13:consentd-pd-1,6:acct-1,17:erika@example.org,0:,"
		      "16:<r1@example.org>,0:,",
		      "5cc01e721e27370719fde0661a866a2c97e97e0a3f257e5b8db0594966cb2281");
	ledger_pd_mac(&ev, key, base);

	/* Absent fields serialise as "". */
	memset(&ev, 0, sizeof(ev));
	expect_pd_mac(&ev, key, "13:consentd-pd-1,0:,0:,0:,0:,0:,",
		      "1074c1ca3b832835d1b1d30af39d03e9d399abcc1d07455baf680d4e67360c79");
	ev.account_id = "acct-1";
	expect_pd_mac(&ev, key, "13:consentd-pd-1,6:acct-1,0:,0:,0:,0:,",
		      "de4c6ba43edb8cf93864f559d57c7860907714bea86d1e13d76ad45b5af6cffe");
	/* The same value in the address field instead is something else. */
	ev.account_id = NULL;
	ev.address = "acct-1";
	ledger_pd_mac(&ev, key, got);
	assert_string_not_equal(got, "de4c6ba43edb8cf93864f559d57c7860907714bea86d1e13d76ad45b5af6cffe");

	/* The key, the account id and each personal field change it; moving a
	 * value from one field to the next does too (netstrings). */
	memset(&ev, 0, sizeof(ev));
	ev.account_id = "acct-1";
	ev.address = "erika@example.org";
	ev.msg_id = "<r1@example.org>";
	memcpy(other, key, sizeof(key));
	other[31] ^= 1;
	ledger_pd_mac(&ev, other, got);
	assert_string_not_equal(got, base);
	ev.account_id = "acct-2";          /* ids swapped between accounts */
	ledger_pd_mac(&ev, key, got);
	assert_string_not_equal(got, base);
	ev.account_id = "acct-1";
	ev.sender = "erika@example.org";
	ledger_pd_mac(&ev, key, got);
	assert_string_not_equal(got, base);
	ev.sender = NULL;
	ev.reason = "r";
	ledger_pd_mac(&ev, key, got);
	assert_string_not_equal(got, base);
	memset(&ev, 0, sizeof(ev));
	ev.account_id = "acct-1";
	ev.sender = "erika@example.org";
	ev.msg_id = "<r1@example.org>";
	ledger_pd_mac(&ev, key, got);
	assert_string_not_equal(got, base);
	/* Fields outside the personal ones are not in it (they are in the hash). */
	ledger_pd_mac(&(event_row){ .seq = 9, .at = 1700000000, .acct = 3, .request = 4,
				    .purpose = "log-linking", .kind = "grant", .channel = "imap",
				    .policy = "1.1", .account_id = "acct-1",
				    .address = "erika@example.org", .msg_id = "<r1@example.org>" },
		      key, got);
	assert_string_equal(got, base);
}

/* ---- a store with a small ledger ---- */

typedef struct fixture {
	char dir[TU_PATH_MAX];
	char db[TU_PATH_MAX];
	char err[1024];
	store *st;
	account a, b;
	int64_t clock;      /* time of the next event appended */
	int requests;       /* request rows made, for unique token hashes */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tu_tmpdir(f->dir);
	tu_path(f->db, f->dir, "consentd.db");
	if (store_open(&f->st, f->db, 200, STORE_CREATE, f->err, sizeof(f->err)))
		fail_msg("store_open: %s", f->err);
	assert_int_equal(store_account_upsert(f->st, "acct-a", "erika@example.org",
					      "Erika Mustermann", "de", NULL), STORE_OK);
	assert_int_equal(store_account_upsert(f->st, "acct-b", "max@example.org", NULL, "en",
					      NULL), STORE_OK);
	assert_int_equal(store_account_get(f->st, "acct-a", &f->a), STORE_OK);
	assert_int_equal(store_account_get(f->st, "acct-b", &f->b), STORE_OK);
	f->clock = 1700000000;
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

#define LIFETIME (30 * INT64_C(86400))

/* open_request - a request row of a for purpose, open, made at created and
 * expiring LIFETIME later, inside the caller's transaction. */
static int64_t open_request(fixture *f, const account *a, const char *purpose,
			    int64_t created)
{
	request_row req;

	memset(&req, 0, sizeof(req));
	req.acct = a->key;
	snprintf(req.purpose, sizeof(req.purpose), "%s", purpose);
	snprintf(req.token_hash, sizeof(req.token_hash), "%064d", ++f->requests);
	req.created = created;
	req.expires = created + LIFETIME;
	snprintf(req.state, sizeof(req.state), "open");
	assert_int_equal(store_request_insert(f->st, &req), STORE_OK);
	return req.id;
}

/* append_ev - ledger_append ev for a in its own transaction; committed when
 * it returns STORE_OK, rolled back otherwise. */
static int append_ev(fixture *f, event_row *ev, const account *a)
{
	int rc;

	assert_int_equal(store_begin(f->st), STORE_OK);
	rc = ledger_append(f->st, ev, a);
	if (rc == STORE_OK)
		assert_int_equal(store_commit(f->st), STORE_OK);
	else
		store_rollback(f->st);
	return rc;
}

/* append - one event in its own transaction, as the service makes them: a
 * request event opens a new request row (superseding an open one) and
 * carries its id; a grant, decline or revoke names the open request of
 * the pair, if any, and closes it. Returns ledger_append's code; nothing is
 * written unless it is STORE_OK. */
static int append(fixture *f, const account *a, const char *purpose, const char *kind,
		  const char *channel, const char *sender, const char *msg_id,
		  const char *reason, event_row *out)
{
	event_row ev;
	request_row open;
	int rc, open_rc;

	memset(&ev, 0, sizeof(ev));
	ev.at = f->clock;
	f->clock += 60;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", purpose);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.channel, sizeof(ev.channel), "%s", channel);
	ev.address = a->email;
	ev.sender = sender;
	ev.msg_id = msg_id;
	ev.reason = reason;
	assert_int_equal(store_begin(f->st), STORE_OK);
	open_rc = store_request_open(f->st, a->key, purpose, &open);
	assert_true(open_rc == STORE_OK || open_rc == STORE_NOTFOUND);
	if (!strcmp(kind, EV_REQUEST)) {
		if (open_rc == STORE_OK)
			assert_int_equal(store_request_set_state(f->st, open.id, "superseded"), 0);
		ev.request = open_request(f, a, purpose, ev.at);
	} else if (open_rc == STORE_OK && strcmp(kind, EV_EXPIRE) && strcmp(kind, EV_ERASE)) {
		ev.request = open.id;
	}
	rc = ledger_append(f->st, &ev, a);
	if (rc == STORE_OK && ev.request && strcmp(kind, EV_REQUEST))
		assert_int_equal(store_request_set_state(f->st, ev.request, "answered"), 0);
	if (rc == STORE_OK)
		assert_int_equal(store_commit(f->st), STORE_OK);
	else
		store_rollback(f->st);
	if (out)
		*out = ev;
	return rc;
}

/* build_standard - five events:
 *   1 acct-a log-linking  request (staff)
 *   2 acct-a log-linking  grant   (imap, sender and Message-ID)
 *   3 acct-b log-linking  request
 *   4 acct-a testimonials request
 *   5 acct-a log-linking  revoke  (staff, with a reason)
 * acct-a: log-linking revoked, testimonials pending; acct-b: pending. */
static void build_standard(fixture *f)
{
	assert_int_equal(append(f, &f->a, "log-linking", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(append(f, &f->a, "log-linking", EV_GRANT, CHANNEL_IMAP,
				"erika@example.org", "<reply-1@mail.example.org>", NULL, NULL),
			 STORE_OK);
	assert_int_equal(append(f, &f->b, "log-linking", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(append(f, &f->a, "testimonials", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(append(f, &f->a, "log-linking", EV_REVOKE, CHANNEL_STAFF, NULL, NULL,
				"called the hotline", NULL), STORE_OK);
}

static void expect_intact(fixture *f, int64_t events)
{
	ledger_report rep;
	int rc = ledger_verify(f->st, &rep);

	if (rc != 0)
		fail_msg("ledger_verify: got %d (event %" PRId64 ": %s), want 0 (intact)", rc,
			 rep.bad_seq, rep.problem);
	assert_int_equal(rep.events, events);
	assert_int_equal(rep.bad_seq, 0);
}

static void expect_state(fixture *f, const account *a, const char *purpose, const char *want)
{
	char got[16];
	int64_t seq;

	store_consent_get(f->st, a->key, purpose, got, &seq);
	if (strcmp(got, want))
		fail_msg("%s/%s: got state '%s', want '%s'", a->id, purpose, got, want);
}

static void test_append_and_verify(void **state)
{
	fixture *f = *state;
	event_row ev;
	ledger_report rep;
	char head[SHA256_HEX], prev[SHA256_HEX];
	int64_t seq;

	/* An empty ledger is intact. */
	expect_intact(f, 0);
	assert_int_equal(ledger_verify(f->st, &rep), 0);
	assert_string_equal(rep.head, "");

	assert_int_equal(append(f, &f->b, "testimonials", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, &ev), STORE_OK);
	assert_int_equal(ev.seq, 1);
	assert_string_equal(ev.prev, "");
	assert_int_equal(strlen(ev.hash), 64);
	assert_int_equal(strlen(ev.pd_mac), 64);
	strcpy(prev, ev.hash);

	assert_int_equal(append(f, &f->b, "testimonials", EV_GRANT, CHANNEL_IMAP,
				"max@example.org", "<m@x>", NULL, &ev), STORE_OK);
	assert_int_equal(ev.seq, 2);
	assert_string_equal(ev.prev, prev);

	build_standard(f);
	expect_intact(f, 7);
	assert_int_equal(store_head(f->st, &seq, head), STORE_OK);
	assert_int_equal(seq, 7);
	assert_int_equal(ledger_verify(f->st, &rep), 0);
	assert_string_equal(rep.head, head);
	expect_state(f, &f->a, "log-linking", STATE_REVOKED);
	expect_state(f, &f->a, "testimonials", STATE_PENDING);
	expect_state(f, &f->b, "log-linking", STATE_PENDING);
	expect_state(f, &f->b, "testimonials", STATE_GRANTED);
}

/* A transition the state machine refuses writes nothing. */
static void test_append_refused(void **state)
{
	fixture *f = *state;
	char head[SHA256_HEX], head2[SHA256_HEX];
	int64_t seq, seq2;
	size_t k;
	static const char *const refused_in_none[] = { EV_GRANT, EV_DECLINE, EV_REVOKE, EV_EXPIRE,
		"bogus" };

	build_standard(f);
	assert_int_equal(store_head(f->st, &seq, head), STORE_OK);
	for (k = 0; k < sizeof(refused_in_none) / sizeof(refused_in_none[0]); k++)
		assert_int_equal(append(f, &f->b, "testimonials", refused_in_none[k], CHANNEL_IMAP,
					NULL, NULL, NULL, NULL), STORE_EXISTS);
	/* acct-a log-linking is revoked: no grant, no second revoke. */
	assert_int_equal(append(f, &f->a, "log-linking", EV_GRANT, CHANNEL_IMAP, NULL, NULL,
				NULL, NULL), STORE_EXISTS);
	assert_int_equal(append(f, &f->a, "log-linking", EV_REVOKE, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_EXISTS);
	assert_int_equal(store_head(f->st, &seq2, head2), STORE_OK);
	assert_int_equal(seq2, seq);
	assert_string_equal(head2, head);
	expect_state(f, &f->b, "testimonials", STATE_NONE);
	expect_state(f, &f->a, "log-linking", STATE_REVOKED);
	expect_intact(f, 5);
}

/* expect_head - the head record still names seq (nothing was appended). */
static void expect_head(fixture *f, int64_t want_seq, const char *want_hash)
{
	char hash[SHA256_HEX];
	int64_t seq;

	assert_int_equal(store_head(f->st, &seq, hash), STORE_OK);
	assert_int_equal(seq, want_seq);
	assert_string_equal(hash, want_hash);
}

struct seen_row {
	int64_t acct;
	char id[64];
	int n;
};

static int collect_row(const event_row *row, void *arg)
{
	struct seen_row *seen = arg;

	seen->acct = row->acct;
	snprintf(seen->id, sizeof(seen->id), "%s", row->account_id ? row->account_id : "(null)");
	seen->n++;
	return 0;
}

/* ledger_append takes acct and the account id from the account, whatever
 * the caller left in the event. */
static void test_append_fills_account(void **state)
{
	fixture *f = *state;
	event_row ev;
	struct seen_row seen = { 0, "", 0 };

	memset(&ev, 0, sizeof(ev));
	ev.at = 1700000000;
	ev.acct = f->b.key + 1000;          /* wrong on purpose */
	ev.account_id = "someone-else";
	strcpy(ev.purpose, "log-linking");
	strcpy(ev.kind, EV_REQUEST);
	strcpy(ev.channel, CHANNEL_STAFF);
	ev.address = f->a.email;
	assert_int_equal(store_begin(f->st), STORE_OK);
	ev.request = open_request(f, &f->a, "log-linking", ev.at);
	assert_int_equal(ledger_append(f->st, &ev, &f->a), STORE_OK);
	assert_int_equal(store_commit(f->st), STORE_OK);
	assert_int_equal(ev.acct, f->a.key);
	assert_non_null(ev.account_id);
	assert_string_equal(ev.account_id, "acct-a");
	assert_int_equal(ev.seq, 1);

	/* Stored under acct-a, with acct-a's id. */
	assert_int_equal(store_events_each(f->st, f->a.key, collect_row, &seen), STORE_OK);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.acct, f->a.key);
	assert_string_equal(seen.id, "acct-a");
	expect_state(f, &f->a, "log-linking", STATE_PENDING);
	expect_state(f, &f->b, "log-linking", STATE_NONE);
	expect_intact(f, 1);
}

/* answer - a grant or decline of a for purpose at time at, naming request;
 * returns ledger_append's code (nothing written unless STORE_OK). */
static int answer(fixture *f, const account *a, const char *purpose, const char *kind,
		  int64_t request, int64_t at)
{
	event_row ev;

	memset(&ev, 0, sizeof(ev));
	ev.at = at;
	ev.request = request;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", purpose);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.channel, sizeof(ev.channel), CHANNEL_IMAP);
	ev.address = a->email;
	ev.sender = a->email;
	ev.msg_id = "<answer@example.org>";
	return append_ev(f, &ev, a);
}

/* A grant or decline must answer the open request of that account and
 * purpose, before it expires; anything else is refused and writes nothing. */
static void test_answer_needs_open_request(void **state)
{
	fixture *f = *state;
	request_row req1, req_b, req_t, req2;
	event_row ev;
	char head[SHA256_HEX];
	int64_t seq, t0;
	size_t k;
	static const char *const answers[] = { EV_GRANT, EV_DECLINE };

	/* Pending requests: acct-a log-linking (req1) and testimonials, acct-b
	 * log-linking. */
	assert_int_equal(append(f, &f->a, "log-linking", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, &ev), STORE_OK);
	t0 = ev.at;
	assert_int_equal(append(f, &f->a, "testimonials", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(append(f, &f->b, "log-linking", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(store_request_open(f->st, f->a.key, "log-linking", &req1), STORE_OK);
	assert_int_equal(store_request_open(f->st, f->a.key, "testimonials", &req_t), STORE_OK);
	assert_int_equal(store_request_open(f->st, f->b.key, "log-linking", &req_b), STORE_OK);
	assert_int_equal(req1.expires, t0 + LIFETIME);
	assert_int_equal(store_head(f->st, &seq, head), STORE_OK);
	assert_int_equal(seq, 3);

	for (k = 0; k < 2; k++) {
		const char *kind = answers[k];

		/* No request named, or one that does not exist. */
		assert_int_equal(answer(f, &f->a, "log-linking", kind, 0, t0 + 60), STORE_EXISTS);
		assert_int_equal(answer(f, &f->a, "log-linking", kind, req1.id + 1000, t0 + 60),
				 STORE_EXISTS);
		/* The open request of another purpose or of another account. */
		assert_int_equal(answer(f, &f->a, "log-linking", kind, req_t.id, t0 + 60),
				 STORE_EXISTS);
		assert_int_equal(answer(f, &f->a, "log-linking", kind, req_b.id, t0 + 60),
				 STORE_EXISTS);
		/* The right request, but at or after its expiry. */
		assert_int_equal(answer(f, &f->a, "log-linking", kind, req1.id, req1.expires),
				 STORE_EXISTS);
		assert_int_equal(answer(f, &f->a, "log-linking", kind, req1.id,
					req1.expires + 86400), STORE_EXISTS);
		expect_head(f, seq, head);
		expect_state(f, &f->a, "log-linking", STATE_PENDING);
	}

	/* A closed request (expired by the duty, answered) no longer counts,
	 * even before its expiry time. */
	assert_int_equal(store_request_set_state(f->st, req_b.id, "expired"), STORE_OK);
	assert_int_equal(answer(f, &f->b, "log-linking", EV_GRANT, req_b.id, t0 + 60),
			 STORE_EXISTS);
	assert_int_equal(store_request_set_state(f->st, req_b.id, "answered"), STORE_OK);
	assert_int_equal(answer(f, &f->b, "log-linking", EV_DECLINE, req_b.id, t0 + 60),
			 STORE_EXISTS);
	expect_head(f, seq, head);

	/* Superseded by a resend: the old request is refused, the new one
	 * answers, up to the last second of its lifetime. */
	assert_int_equal(append(f, &f->a, "log-linking", EV_REQUEST, CHANNEL_STAFF, NULL, NULL,
				NULL, NULL), STORE_OK);
	assert_int_equal(store_request_open(f->st, f->a.key, "log-linking", &req2), STORE_OK);
	assert_true(req2.id != req1.id);
	assert_int_equal(store_head(f->st, &seq, head), STORE_OK);
	assert_int_equal(answer(f, &f->a, "log-linking", EV_GRANT, req1.id, t0 + 600),
			 STORE_EXISTS);
	expect_head(f, seq, head);
	assert_int_equal(answer(f, &f->a, "log-linking", EV_GRANT, req2.id, req2.expires - 1),
			 STORE_OK);
	expect_state(f, &f->a, "log-linking", STATE_GRANTED);

	/* The testimonials request is answered by a decline, in time. */
	assert_int_equal(answer(f, &f->a, "testimonials", EV_DECLINE, req_t.id, t0 + 120),
			 STORE_OK);
	expect_state(f, &f->a, "testimonials", STATE_DECLINED);
	expect_intact(f, 6);
}

/* Nothing is recorded for an erased account any more. */
static void test_append_erased_refused(void **state)
{
	fixture *f = *state;
	account gone;
	event_row ev;
	char err[512], head[SHA256_HEX];
	int64_t seq;
	size_t k;
	static const char *const kinds_all[] = { EV_REQUEST, EV_GRANT, EV_DECLINE, EV_REVOKE,
		EV_EXPIRE, EV_ERASE };

	build_standard(f);
	assert_int_equal(consent_erase(f->st, "acct-b", err, sizeof(err)), CONSENT_OK);
	assert_int_equal(store_account_get_key(f->st, f->b.key, &gone), STORE_OK);
	assert_false(gone.has_hkey);
	assert_string_equal(gone.id, "");
	assert_int_equal(store_head(f->st, &seq, head), STORE_OK);

	for (k = 0; k < sizeof(kinds_all) / sizeof(kinds_all[0]); k++) {
		memset(&ev, 0, sizeof(ev));
		ev.at = f->clock;
		snprintf(ev.purpose, sizeof(ev.purpose), "log-linking");
		snprintf(ev.kind, sizeof(ev.kind), "%s", kinds_all[k]);
		snprintf(ev.channel, sizeof(ev.channel), CHANNEL_STAFF);
		if (append_ev(f, &ev, &gone) != STORE_EXISTS)
			fail_msg("%s for an erased account: not refused", kinds_all[k]);
	}
	expect_head(f, seq, head);
	expect_intact(f, seq);
}

/* ---- tampering ---- */

/* tamper - run sql on the file as an attacker: triggers dropped first. */
static void tamper(fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	rc = sqlite3_exec(db, "DROP TRIGGER IF EXISTS event_append_only_update;"
			  "DROP TRIGGER IF EXISTS event_append_only_delete;", NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		char copy[512];

		snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
		sqlite3_free(msg);
		sqlite3_close(db);
		fail_msg("tamper '%s': %s", sql, copy);
	}
	assert_int_equal(sqlite3_changes(db) > 0 || !strncmp(sql, "DROP", 4), 1);
	sqlite3_close(db);
}

struct tamper_case {
	const char *name;
	const char *sql;            /* {A}: acct-a's key, {B}: acct-b's */
	int64_t bad_seq;            /* 0: a cache problem, named in the text */
	const char *want[3];        /* substrings of the problem */
};

static const struct tamper_case tamper_cases[] = {
	{ "kind changed", "UPDATE event SET kind = 'decline' WHERE seq = 2", 2,
	  { "does not match its hash" } },
	{ "request changed to a grant", "UPDATE event SET kind = 'grant' WHERE seq = 3", 3,
	  { "does not match its hash" } },
	{ "time changed", "UPDATE event SET at = at + 1 WHERE seq = 3", 3,
	  { "does not match its hash" } },
	{ "purpose changed", "UPDATE event SET purpose = 'log-linking' WHERE seq = 4", 4,
	  { "does not match its hash" } },
	{ "channel changed", "UPDATE event SET channel = 'imap' WHERE seq = 1", 1,
	  { "does not match its hash" } },
	{ "policy changed", "UPDATE event SET policy = '1.0' WHERE seq = 5", 5,
	  { "records policy version '1.0' but '' was in force" } },
	{ "evidence hash changed", "UPDATE event SET raw_sha256 = 'ff' WHERE seq = 2", 2,
	  { "does not match its hash" } },
	{ "event moved to another account",
	  "UPDATE event SET acct = {B} WHERE seq = 4", 4, { NULL } },
	{ "sender of a live account changed",
	  "UPDATE event SET sender = 'mallory@example.org' WHERE seq = 2", 2,
	  { "personal fields" } },
	{ "address of a live account changed",
	  "UPDATE event SET address = 'mallory@example.org' WHERE seq = 1", 1,
	  { "personal fields" } },
	{ "message id changed",
	  "UPDATE event SET msg_id = '<forged@example.org>' WHERE seq = 2", 2,
	  { "personal fields" } },
	{ "reason removed", "UPDATE event SET reason = NULL WHERE seq = 5", 5,
	  { "personal fields" } },
	{ "personal fields cleared on a live account",
	  "UPDATE event SET address = NULL, sender = NULL, msg_id = NULL WHERE seq = 2", 2,
	  { "personal fields" } },
	{ "pd_mac recomputed by guess",
	  "UPDATE event SET pd_mac = lower(hex(randomblob(32))) WHERE seq = 3", 3, { NULL } },
	{ "prev changed", "UPDATE event SET prev = '' WHERE seq = 3", 3, { "prev" } },
	{ "hash changed", "UPDATE event SET hash = lower(hex(randomblob(32))) WHERE seq = 3", 3,
	  { "does not match its hash" } },
	{ "middle row deleted", "DELETE FROM event WHERE seq = 3", 3, { "missing" } },
	{ "first row deleted", "DELETE FROM event WHERE seq = 1", 1, { "missing" } },
	{ "last row deleted", "DELETE FROM event WHERE seq = 5", 5, { "head" } },
	{ "two last rows deleted", "DELETE FROM event WHERE seq >= 4", 4, { "head" } },
	{ "rows renumbered after a delete",
	  "DELETE FROM event WHERE seq = 3; UPDATE event SET seq = seq - 1 WHERE seq > 3", 3,
	  { NULL } },
	{ "head record rewritten",
	  "UPDATE ledger_head SET hash = lower(hex(randomblob(32)))", 5, { "head" } },
	{ "last row deleted and head rewound",
	  "DELETE FROM event WHERE seq = 5;"
	  "UPDATE ledger_head SET seq = 4, hash = (SELECT hash FROM event WHERE seq = 4)", 0,
	  { "'revoked'", "'granted'", "log-linking" } },
	{ "cache says granted for a pair that never had a grant",
	  "UPDATE consent SET state = 'granted' WHERE acct = {B} AND purpose = 'log-linking'", 0,
	  { "'granted'", "'pending'", "log-linking" } },
	{ "cache says granted again after a revoke",
	  "UPDATE consent SET state = 'granted' WHERE acct = {A} AND purpose = 'log-linking'", 0,
	  { "'granted'", "'revoked'" } },
	{ "granted consent row without events",
	  "INSERT INTO consent (acct, purpose, state, seq) VALUES ({B}, 'testimonials', 'granted', 3)",
	  0, { "'granted'", "no event", "testimonials" } },
	{ "granted consent row for an unknown purpose",
	  "INSERT INTO consent (acct, purpose, state, seq) VALUES ({A}, 'zzz', 'granted', 1)",
	  0, { "'granted'", "no event", "zzz" } },
	{ "consent row removed",
	  "DELETE FROM consent WHERE acct = {A} AND purpose = 'testimonials'", 0,
	  { "'none'", "'pending'", "testimonials" } },
	/* The account table has no trigger: what it says is checked too. */
	{ "application ids of two accounts swapped",
	  "UPDATE account SET id = 'swap' WHERE key = {A};"
	  "UPDATE account SET id = 'acct-a' WHERE key = {B};"
	  "UPDATE account SET id = 'acct-b' WHERE key = {A}", 1, { "personal fields" } },
	{ "application id changed", "UPDATE account SET id = 'acct-z' WHERE key = {B}", 3,
	  { "personal fields" } },
	{ "key of another account copied",
	  "UPDATE account SET hkey = (SELECT hkey FROM account WHERE key = {B}) WHERE key = {A}",
	  1, { "personal fields" } },
	{ "key removed from a live account", "UPDATE account SET hkey = NULL WHERE key = {B}",
	  3, { "key is missing", "not erased" } },
	{ "key removed and the personal fields cleared (evidence wiped)",
	  "UPDATE account SET hkey = NULL WHERE key = {A};"
	  "UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL"
	  " WHERE acct = {A}", 1, { "key is missing", "not erased" } },
	{ "account made to look erased, without an erase event",
	  "UPDATE account SET id = NULL, email = NULL, email_lc = NULL, name = NULL,"
	  " lang = NULL, hkey = NULL, erased = 1 WHERE key = {A};"
	  "UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL"
	  " WHERE acct = {A}", 0, { "is erased without an erase event" } },
	{ "live account marked erased", "UPDATE account SET erased = 1 WHERE key = {B}", 0,
	  { "is erased without an erase event" } },
};

/* The same on a ledger where acct-a was erased (events 6, 7: one erase per
 * purpose): its tombstone must stay without id, key and personal fields. */
static const struct tamper_case erased_cases[] = {
	{ "id given back to an erased account", "UPDATE account SET id = 'acct-a' WHERE key = {A}",
	  1, { "personal fields present for an erased account" } },
	{ "address put back into an erased account's event",
	  "UPDATE event SET address = 'erika@example.org' WHERE seq = 1", 1,
	  { "personal fields present for an erased account" } },
	{ "a key given to an erased account",
	  "UPDATE account SET hkey = randomblob(32) WHERE key = {A}", 1, { "personal fields" } },
	{ "erased account unmarked", "UPDATE account SET erased = NULL WHERE key = {A}", 1,
	  { "key is missing", "not erased" } },
	{ "erase events of a live account",
	  "UPDATE account SET erased = NULL, id = 'acct-a', hkey = randomblob(32) WHERE key = {A}",
	  1, { "personal fields" } },
	{ "consent cache given back to an erased account",
	  "INSERT INTO consent (acct, purpose, state, seq) VALUES ({A}, 'log-linking', 'granted', 2)",
	  0, { "'granted'", "'none'", "log-linking" } },
};

/* subst_keys - tmpl with {A} and {B} replaced by the two account keys. */
static void subst_keys(char *out, size_t outlen, const char *tmpl, int64_t a, int64_t b)
{
	size_t n = 0;
	int w;

	while (*tmpl && n + 1 < outlen) {
		if (!strncmp(tmpl, "{A}", 3) || !strncmp(tmpl, "{B}", 3)) {
			w = snprintf(out + n, outlen - n, "%" PRId64, tmpl[1] == 'A' ? a : b);
			assert_true(w > 0 && (size_t)w < outlen - n);
			n += (size_t)w;
			tmpl += 3;
		} else {
			out[n++] = *tmpl++;
		}
	}
	assert_true(*tmpl == '\0');
	out[n] = '\0';
}

/* run_tamper_cases - each case on a fresh standard ledger (acct-a erased
 * first when erase_a): intact before, broken as the case says after. */
static void run_tamper_cases(const struct tamper_case *cases, size_t n, bool erase_a)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct tamper_case *c = &cases[i];
		void *fs = NULL;
		fixture *f;
		ledger_report rep;
		char sql[1024], who[64], err[512];
		int rc, j;

		setup(&fs);
		f = fs;
		build_standard(f);
		if (erase_a)
			assert_int_equal(consent_erase(f->st, "acct-a", err, sizeof(err)),
					 CONSENT_OK);
		expect_intact(f, erase_a ? 7 : 5);
		subst_keys(sql, sizeof(sql), c->sql, f->a.key, f->b.key);
		tamper(f, sql);

		rc = ledger_verify(f->st, &rep);
		if (rc != 1)
			fail_msg("%s: ledger_verify got %d, want 1 (broken)", c->name, rc);
		if (rep.bad_seq != c->bad_seq)
			fail_msg("%s: got bad event %" PRId64 " (%s), want %" PRId64, c->name,
				 rep.bad_seq, rep.problem, c->bad_seq);
		if (!rep.problem[0])
			fail_msg("%s: no problem described", c->name);
		for (j = 0; j < 3 && c->want[j]; j++)
			if (!strstr(rep.problem, c->want[j]))
				fail_msg("%s: got problem '%s', want it to contain '%s'", c->name,
					 rep.problem, c->want[j]);
		if (c->bad_seq == 0) {
			/* A cache or account problem names the account. */
			int64_t key = strstr(c->sql, "{B}") ? f->b.key : f->a.key;

			snprintf(who, sizeof(who), "account #%" PRId64, key);
			if (!strstr(rep.problem, who))
				fail_msg("%s: got problem '%s', want it to name '%s'", c->name,
					 rep.problem, who);
		}
		teardown(&fs);
	}
}

static void test_tampering_detected(void **state)
{
	(void)state;
	run_tamper_cases(tamper_cases, sizeof(tamper_cases) / sizeof(tamper_cases[0]), false);
}

static void test_tampering_erased_account_detected(void **state)
{
	(void)state;
	run_tamper_cases(erased_cases, sizeof(erased_cases) / sizeof(erased_cases[0]), true);
}

/* Someone who knows the format can append a well-formed event with a
 * correct hash; a transition the state machine forbids still shows. */
static void test_forged_transition_detected(void **state)
{
	fixture *f = *state;
	event_row ev;
	ledger_report rep;
	int64_t seq;

	build_standard(f);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(store_head(f->st, &seq, ev.prev), STORE_OK);
	ev.seq = seq + 1;
	ev.at = 1700009999;
	ev.acct = f->b.key;
	strcpy(ev.purpose, "testimonials");
	strcpy(ev.kind, EV_GRANT);                     /* never requested */
	strcpy(ev.channel, CHANNEL_IMAP);
	ev.address = f->b.email;
	ev.account_id = f->b.id;
	ledger_pd_mac(&ev, f->b.hkey, ev.pd_mac);
	ledger_hash(&ev, ev.hash);
	assert_int_equal(store_event_insert(f->st, &ev), STORE_OK);
	assert_int_equal(store_consent_set(f->st, f->b.key, "testimonials", STATE_GRANTED, ev.seq),
			 STORE_OK);

	assert_int_equal(ledger_verify(f->st, &rep), 1);
	assert_int_equal(rep.events, 6);
	assert_non_null(strstr(rep.problem, "'grant' is not allowed in state 'none'"));
	assert_non_null(strstr(rep.problem, "testimonials"));
}

/* A read error of the consent cache after the last event must not come out
 * as "intact". The error is provoked with a cache row whose state is NULL
 * (the schema's NOT NULL removed through writable_schema), which the store
 * reports as "NULL where text is required". */
static void test_verify_reports_cache_read_error(void **state)
{
	fixture *f = *state;
	ledger_report rep;
	sqlite3 *db = NULL;
	char sql[256];
	int rc;

	build_standard(f);
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA writable_schema = ON;"
				      "UPDATE sqlite_master SET sql = replace(sql, 'state TEXT NOT NULL',"
				      " 'state TEXT') WHERE name = 'consent';"
				      "PRAGMA writable_schema = OFF;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO consent (acct, purpose, state, seq)"
		 " VALUES (%" PRId64 ", 'zzz', NULL, 0)", f->b.key);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	if (store_open(&f->st, f->db, 200, 0, f->err, sizeof(f->err)))
		fail_msg("store_open: %s", f->err);

	rc = ledger_verify(f->st, &rep);
	if (rc >= 0)
		fail_msg("ledger_verify: got %d (store says '%s'), want a negative store code",
			 rc, store_errmsg(f->st));
}

/* ---- erasure ---- */

static void test_verify_after_erase(void **state)
{
	fixture *f = *state;
	ledger_report rep;
	account gone;
	char err[512];
	char sql[256];

	build_standard(f);
	assert_int_equal(consent_erase(f->st, "acct-a", err, sizeof(err)), CONSENT_OK);
	/* Two erase events: one per purpose acct-a had. */
	expect_intact(f, 7);
	assert_int_equal(store_account_get(f->st, "acct-a", &gone), STORE_NOTFOUND);
	expect_state(f, &f->a, "log-linking", STATE_NONE);
	expect_state(f, &f->b, "log-linking", STATE_PENDING);

	/* More events after the erasure chain on. */
	assert_int_equal(append(f, &f->b, "log-linking", EV_GRANT, CHANNEL_PIPE, "max@example.org",
				"<m2@x>", NULL, NULL), STORE_OK);
	expect_intact(f, 8);

	/* Putting personal data back into an erased account's event shows. */
	snprintf(sql, sizeof(sql), "UPDATE event SET sender = 'erika@example.org' WHERE seq = 2");
	tamper(f, sql);
	assert_int_equal(ledger_verify(f->st, &rep), 1);
	assert_int_equal(rep.bad_seq, 2);
	assert_non_null(strstr(rep.problem, "erased"));
}

/* ---- the triggers ---- */

static void expect_sql_refused(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		fail_msg("'%s' was allowed, want refused by a trigger", sql);
	if (!msg || !strstr(msg, "append-only")) {
		char copy[256];

		snprintf(copy, sizeof(copy), "%s", msg ? msg : "(none)");
		sqlite3_free(msg);
		fail_msg("'%s': got error '%s', want 'the ledger is append-only'", sql, copy);
	}
	sqlite3_free(msg);
}

static void test_triggers(void **state)
{
	fixture *f = *state;
	sqlite3 *db = NULL;
	static const char *const refused[] = {
		"UPDATE event SET kind = 'grant' WHERE seq = 3",
		"UPDATE event SET seq = 9 WHERE seq = 5",
		"UPDATE event SET at = 0 WHERE seq = 1",
		"UPDATE event SET acct = acct + 1 WHERE seq = 1",
		"UPDATE event SET hash = 'x' WHERE seq = 1",
		"UPDATE event SET sender = 'mallory@example.org' WHERE seq = 2",
		"UPDATE event SET reason = 'other' WHERE seq = 5",
		/* Clearing personal columns is for erasure only: not while the
		 * account still has its key. */
		"UPDATE event SET reason = NULL WHERE seq = 5",
		"UPDATE event SET address = NULL WHERE seq = 1",
		"UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL",
		"DELETE FROM event WHERE seq = 5",
		"DELETE FROM event",
	};
	size_t i;

	build_standard(f);
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		expect_sql_refused(db, refused[i]);
	sqlite3_close(db);
	expect_intact(f, 5);
}

/* Erasure itself gets through the trigger (the key goes first), and then
 * the erased account's events cannot be rewritten either. */
static void test_triggers_after_erase(void **state)
{
	fixture *f = *state;
	sqlite3 *db = NULL;
	char err[512], sql[256];

	build_standard(f);
	assert_int_equal(consent_erase(f->st, "acct-a", err, sizeof(err)), CONSENT_OK);
	expect_intact(f, 7);
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	expect_sql_refused(db, "UPDATE event SET address = 'erika@example.org' WHERE seq = 1");
	expect_sql_refused(db, "UPDATE event SET kind = 'grant' WHERE seq = 6");
	expect_sql_refused(db, "DELETE FROM event WHERE seq = 7");
	/* acct-b still has its key: its personal columns stay. */
	snprintf(sql, sizeof(sql), "UPDATE event SET address = NULL WHERE acct = %" PRId64,
		 f->b.key);
	expect_sql_refused(db, sql);
	sqlite3_close(db);
	expect_intact(f, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_state_table),
		cmocka_unit_test(test_next_state_unknown),
		cmocka_unit_test(test_hash_serialisation),
		cmocka_unit_test(test_pd_mac_serialisation),
		cmocka_unit_test_setup_teardown(test_append_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_fills_account, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_needs_open_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_erased_refused, setup, teardown),
		cmocka_unit_test(test_tampering_detected),
		cmocka_unit_test(test_tampering_erased_account_detected),
		cmocka_unit_test_setup_teardown(test_forged_transition_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_reports_cache_read_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_after_erase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triggers_after_erase, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
