/*
 * store.h - the SQLite store: the only module that speaks SQL.
 *
 * Every statement binds its parameters; no SQL is ever built from values.
 * The database runs in WAL mode with synchronous=FULL, foreign keys on,
 * secure_delete on (erased data is overwritten, not left in free pages) and
 * a busy timeout. Its schema carries an application id and a version
 * (PRAGMA user_version); older schemas are migrated forward on open, newer
 * or foreign files are refused and never modified.
 *
 * Write transactions are BEGIN IMMEDIATE, so a lock held elsewhere shows up
 * (after the busy timeout) at store_begin, before any work is done. When
 * store_commit returns 0 the change is on disk.
 */
#ifndef CONSENTD_STORE_H
#define CONSENTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

typedef struct store store;

enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,       /* see store_errmsg */
	STORE_BUSY = -2,      /* locked by another process past the busy timeout */
	STORE_NOTFOUND = -3,
	STORE_EXISTS = -4
};

enum store_open_flags {
	STORE_CREATE = 1      /* create the file (and schema) when missing */
};

#define STORE_SCHEMA_VERSION 5
#define SHA256_HEX 65         /* 64 hex digits and a NUL */
#define ACCOUNT_KEY_LEN 32    /* per-account HMAC key, destroyed on erasure */

int store_open(store **out, const char *path, int busy_timeout_ms, int flags,
	       char *err, size_t errlen);
void store_close(store *st);
const char *store_errmsg(const store *st);

/* store_fail - set the message store_errmsg returns; returns STORE_ERR. For
 * modules that find a store inconsistent at a level SQL cannot see. */
int store_fail(store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int store_begin(store *st);
int store_commit(store *st);
void store_rollback(store *st);

/* store_sync_full - synchronous=FULL (the default: every commit is on disk
 * when it returns) or NORMAL (a commit survives a crash of the process but
 * not necessarily a power loss). NORMAL is only for records whose loss can
 * at worst repeat work, never lose it: e.g. "this mail was sent". */
int store_sync_full(store *st, bool full);

/* store_durable - make every commit so far durable (for a run of commits
 * at NORMAL: one disk sync for all of them); leaves synchronous=NORMAL. */
int store_durable(store *st);

/* store_checkpoint_truncate - move the WAL into the main file and truncate
 * it, so no page image of erased data survives in the WAL file. */
int store_checkpoint_truncate(store *st);

/* store_pending - work owed after a failure (e.g. "wal-purge"): op > 0
 * records task, op < 0 removes it (both in autocommit or the caller's
 * transaction), op == 0 asks: STORE_OK when owed, STORE_NOTFOUND when not. */
int store_pending(store *st, const char *task, int op);

/* ---- accounts ---- */

typedef struct account {
	int64_t key;                        /* internal row id, never reused */
	char id[ACCOUNT_ID_MAX + 1];        /* the application's id; "" once erased */
	char email[ADDR_MAX + 1];
	char name[ACCOUNT_NAME_MAX + 1];
	char lang[3];                       /* "" when none: default_lang applies */
	int64_t created, updated;
	bool has_hkey;
	unsigned char hkey[ACCOUNT_KEY_LEN];
	int64_t failing;                    /* when a bounce marked the address failing, 0 */
	char failing_status[16];            /* its DSN status, e.g. "5.1.1", or "" */
} account;

int store_account_get(store *st, const char *id, account *out);
int store_account_get_key(store *st, int64_t key, account *out);

/* store_account_upsert - insert or update by id. name and lang: NULL keeps
 * the stored value (a new account has none), "" clears it; an account
 * without lang gets [service] default_lang at use. *created_out (may be
 * NULL) says whether the account is new; a new account gets a fresh random
 * hkey. */
int store_account_upsert(store *st, const char *id, const char *email,
			 const char *name, const char *lang, bool *created_out);
int store_account_set_email(store *st, int64_t key, const char *email);

/* store_account_erase - remove every personal field of the account and its
 * key; the row stays as a tombstone so ledger rows keep their reference. */
int store_account_erase(store *st, int64_t key);

/* ---- ledger rows (hashing is ledger.c's job) ---- */

typedef struct event_row {
	int64_t seq, at, acct, request;
	char purpose[PURPOSE_NAME_MAX + 1];
	char kind[16], channel[16];
	char policy[64];
	char raw_sha256[SHA256_HEX], shown_sha256[SHA256_HEX];
	char pd_mac[SHA256_HEX], prev[SHA256_HEX], hash[SHA256_HEX];
	/* not a column: the chain value of the policy versions published before
	 * the event, hashed with it (ledger.c); "" when none or before schema 5 */
	char policies[SHA256_HEX];
	/* personal data: NULL once the account is erased */
	const char *address, *sender, *msg_id, *reason;
	/* from the account row: its application id and key (NULL/false once
	 * erased) and whether it is marked erased; for verification */
	const char *account_id;
	bool has_hkey, acct_erased;
	unsigned char hkey[ACCOUNT_KEY_LEN];
} event_row;

int store_event_insert(store *st, const event_row *ev);

/* store_head - last seq and hash (0 and "" for an empty ledger) as kept in
 * the head record, which every insert updates in the same transaction. */
int store_head(store *st, int64_t *seq_out, char hash_out[SHA256_HEX]);

/* store_event_hash - the stored hash of event seq (STORE_NOTFOUND if none). */
int store_event_hash(store *st, int64_t seq, char out[SHA256_HEX]);

/* store_events_each - call fn for every event in seq order (acct < 0: all;
 * else that account only). fn returns 0 to go on, non-zero to stop (that
 * value is returned). Strings in the row live until fn returns. */
typedef int (*store_event_fn)(const event_row *ev, void *arg);
int store_events_each(store *st, int64_t acct, store_event_fn fn, void *arg);

/* store_erasure_mismatch - 1 and the account in *acct_out when some account
 * row disagrees with the ledger about erasure (marked erased, or without
 * id or key, but no erase event; or an erase event but id or key still
 * there); 0 when all agree; a negative store code on error. */
int store_erasure_mismatch(store *st, int64_t *acct_out);

/* store_event_personal_clear - erase the personal columns of an account's
 * events (pd_mac stays, so the chain still verifies). */
int store_event_personal_clear(store *st, int64_t acct);

/* ---- consent state cache (written with each event) ---- */

int store_consent_get(store *st, int64_t acct, const char *purpose,
		      char state_out[16], int64_t *seq_out);
int store_consent_set(store *st, int64_t acct, const char *purpose,
		      const char *state, int64_t seq);
int store_consent_delete_account(store *st, int64_t acct);

/* store_consents_each - (purpose, state, seq) of one account, or of all
 * accounts when acct < 0, ordered by acct, purpose. */
typedef int (*store_consent_fn)(int64_t acct, const char *purpose,
				const char *state, int64_t seq, void *arg);
int store_consents_each(store *st, int64_t acct, store_consent_fn fn, void *arg);

/* store_granted_each - ids of accounts whose cached state for purpose is
 * granted (and not made stale by a policy version in force at now, see
 * store_grant_stale), streamed in account creation order (from an index: no sort, so
 * memory stays constant for millions of accounts). */
typedef int (*store_id_fn)(const char *id, void *arg);
int store_granted_each(store *st, const char *purpose, int64_t now, store_id_fn fn,
		       void *arg);

/* ---- cursors, for merging two ordered streams (ledger verify) ---- */

typedef struct store_iter store_iter;

/* store_iter_event_kinds - (acct, purpose, kind) of every event, ordered by
 * acct, purpose, seq. store_iter_consents - (acct, purpose, state) of the
 * consent cache, ordered by acct, purpose. */
int store_iter_event_kinds(store *st, store_iter **out);
int store_iter_consents(store *st, store_iter **out);

/* store_iter_next - 1 with a row (strings valid until the next call), 0 at
 * the end, a negative store code on error. */
int store_iter_next(store_iter *it, int64_t *acct_out, const char **purpose_out,
		    const char **text_out);
void store_iter_free(store_iter *it);

/* ---- requests ---- */

typedef struct request_row {
	int64_t id, acct, created, expires;
	char purpose[PURPOSE_NAME_MAX + 1];
	char token_hash[SHA256_HEX];
	char state[16];                     /* open, answered, expired, superseded */
} request_row;

int store_request_insert(store *st, request_row *req);   /* sets req->id */
int store_request_open(store *st, int64_t acct, const char *purpose, request_row *out);
int store_request_by_token_hash(store *st, const char *token_hash, request_row *out);
int store_request_set_state(store *st, int64_t id, const char *state);

/* store_requests_due - up to max open requests with expires <= now, oldest
 * first (acct < 0: all accounts), into out[]; *n_out says how many. */
int store_requests_due(store *st, int64_t acct, int64_t now, request_row *out,
		       int max, int *n_out);

/* store_requests_close_account - set every open request of acct to state. */
int store_requests_close_account(store *st, int64_t acct, const char *state);

/* ---- outbox ---- */

/* A mail to send: rendered once, sent as these exact bytes. */
typedef struct outbox_new {
	const char *kind;             /* request, receipt-granted, ... */
	int64_t acct, request;        /* request 0 when none */
	const char *purpose;          /* "" when none */
	const char *token;            /* plaintext token in the message, or NULL */
	const char *sender, *rcpt;    /* envelope */
	const char *message;          /* CRLF bytes; a request's with its token as
				       * 'x' x 32 (outmail_unmask restores it) */
	size_t message_len;
	const char *sha256;           /* of the mail as it will be sent */
	int64_t campaign;             /* the broadcast it belongs to, 0: none */
} outbox_new;

int store_outbox_insert(store *st, const outbox_new *row, int64_t *id_out);

/* store_outbox_notice - queue the announcement of a broadcast to account
 * acct (rendered when it is sent, to the address the account has then):
 * *queued_out false when this broadcast already queued one for it (the
 * store enforces once per broadcast, account and kind). */
int store_outbox_notice(store *st, int64_t campaign, int64_t acct, const char *kind,
			const char *sender, const char *rcpt, bool *queued_out);
int store_outbox_delete_account(store *st, int64_t acct);

/* store_outbox_cancel_request - a queued or deferred mail of a request that
 * is no longer open is cancelled and loses its plaintext token; why (shown
 * in outbox list) says what happened. */
int store_outbox_cancel_request(store *st, int64_t request, const char *why);

/* store_request_unsent - whether no request mail of request was delivered
 * (queued, deferred, in flight, failed or cancelled): the person may not
 * have been shown it. */
int store_request_unsent(store *st, int64_t request, bool *out);

/* A claimed row; the strings are malloc'd (outbox_item_clear frees them). */
typedef struct outbox_item {
	int64_t id, acct, request, created;
	int attempts;                 /* including this one */
	char kind[32], purpose[PURPOSE_NAME_MAX + 1];
	char sha256[SHA256_HEX];
	char *sender, *rcpt, *message, *token;
	size_t message_len;
	bool address_changed;         /* the account's primary address is not rcpt
				       * any more (or the account is gone) */
	int64_t campaign;             /* 0: single mail */
	char domain[ADDR_DOMAIN_MAX + 1];
	bool lazy;                    /* no stored bytes: rendered at sending */
} outbox_item;

void outbox_item_clear(outbox_item *it);

/* store_outbox_claim - in its own transaction, take up to max rows that are
 * due at now (queued or deferred with next_attempt <= now, or sending with
 * an expired lease: a crash between claim and result) and mark them
 * sending with lease_until = now + lease. */
/* Bulk mail (rows of a broadcast) is claimed after single mail, domain by
 * domain (starting after the domain last served, so every domain gets its
 * turn), skipping domains on hold. take (may be NULL: no limit) says how
 * many of want rows for domain may go now, and counts them as gone. */
typedef struct store_quota {
	int (*take)(const char *domain, int want, void *arg);
	void *arg;
	char after[ADDR_DOMAIN_MAX + 1];   /* the domain served last, in/out */
	bool limited;                      /* out: bulk mail was due but held back */
	bool exhausted;                    /* set by take: nothing more may go now */
} store_quota;

int store_outbox_claim(store *st, int64_t now, int lease, outbox_item *out, int max,
		       store_quota *q, int *n_out);

/* store_outbox_result - record the outcome of a claimed row, in its own
 * transaction: state sent, deferred, failed, cancelled or queued (released
 * untried: the attempt is not counted). A row that is done (sent, failed,
 * cancelled) loses its plaintext token; message, when non-NULL, replaces
 * the stored bytes. */
int store_outbox_result(store *st, int64_t id, const char *state, const char *response,
			int64_t next_attempt, int64_t done, const char *message,
			size_t message_len);

/* store_outbox_rendered - a lazily rendered row, as it is about to be
 * sent: the address it goes to and the SHA-256 of its bytes. */
int store_outbox_rendered(store *st, int64_t id, const char *rcpt, const char *sha256);

/* store_outbox_reclaim_sending - every row in "sending" back to "queued"
 * (only with the instance lock held: nobody else can be sending). */
int store_outbox_reclaim_sending(store *st, int *n_out);

/* store_outbox_next_due - earliest time a row becomes due (0: none),
 * bulk mail of a domain on hold counting from the end of the hold. */
int store_outbox_next_due(store *st, int64_t now, int64_t *out);

/* store_domain_hold - bulk mail to domain waits: for 60 s after a first
 * 4xx, doubling while the domain keeps refusing, at most an hour. The
 * domain's due bulk mail is deferred to the end of the hold. *until_out
 * (may be NULL): when it ends. */
int store_domain_hold(store *st, const char *domain, int64_t now, const char *response,
		      int64_t *until_out);
/* store_domain_release - a domain took mail again: its hold is forgotten. */
int store_domain_release(store *st, const char *domain);

typedef struct outbox_listing {
	int64_t id, created, next_attempt, done;
	int attempts;
	const char *kind, *state, *purpose, *account, *rcpt, *last_response;
} outbox_listing;

typedef int (*store_outbox_fn)(const outbox_listing *row, void *arg);

/* store_outbox_list - every row (state NULL) or those in state, by id. */
int store_outbox_list(store *st, const char *state, store_outbox_fn fn, void *arg);

/* ---- inbox: every inbound message and what it became ---- */

typedef struct inbox_row {
	int64_t received, size, acct, request, event, dup_of;   /* 0: none */
	const char *channel, *raw_sha256, *outcome, *reason, *purpose;
	const char *content_sha256;   /* without the trace fields: the duplicate key */
	/* personal data (cleared on erasure), each may be NULL */
	const char *msg_id, *env_sender, *env_rcpt, *from_addr, *subject,
		   *auth_results, *detail;
	const char *raw;              /* the message kept as evidence, or NULL */
	size_t raw_len;
} inbox_row;

int store_inbox_insert(store *st, const inbox_row *row, int64_t *id_out);

/* store_inbox_find - the first recording of a message with this Message-ID
 * (NULL: none) and content SHA-256 (inbox_row.content_sha256): STORE_OK
 * with it in out, or STORE_NOTFOUND. */
typedef struct inbox_found {
	int64_t id, acct;
	char outcome[16], reason[32];
} inbox_found;
int store_inbox_find(store *st, const char *msg_id, const char *content_sha256,
		     inbox_found *out);

typedef struct inbox_listing {
	int64_t id, received, event, size;
	const char *channel, *outcome, *reason, *account, *purpose, *from_addr,
		   *msg_id, *subject, *detail, *raw_sha256;
	const char *auth_results;     /* store_inbox_of_account only: */
	const void *raw;              /* the kept message, NULL if none */
	size_t raw_len;
} inbox_listing;
typedef int (*store_inbox_fn)(const inbox_listing *row, void *arg);

/* store_inbox_list - every row, or only those held for review, by id. */
int store_inbox_list(store *st, bool review_only, store_inbox_fn fn, void *arg);

/* store_inbox_of_account - the rows that concern account acct or came
 * from email (may be NULL), with the kept message, by id. */
int store_inbox_of_account(store *st, int64_t acct, const char *email, store_inbox_fn fn,
			   void *arg);

/* store_inbox_erase - drop the kept raw messages and personal columns of
 * rows that concern account acct or came from email (may be NULL). */
int store_inbox_erase(store *st, int64_t acct, const char *email);

/* store_request_mark - note that the "please answer" mail (renewed false)
 * or a fresh request after a late reply (renewed true) was queued for
 * request id; *first_out is true only the first time. */
int store_request_mark(store *st, int64_t id, bool renewed, bool *first_out);

/* store_account_failing - a bounce said mail to the account's primary
 * address fails (status: the DSN status, e.g. "5.1.1", may be NULL). */
int store_account_failing(store *st, int64_t key, const char *status);

/* store_accounts_by_email - keys of up to max accounts (not erased) whose
 * primary address is email, case-insensitively. */
int store_accounts_by_email(store *st, const char *email, int64_t *out, int max, int *n_out);

/* store_imap_state - read (set false; 0/0 when unknown) or write the
 * UIDVALIDITY and last processed UID of an IMAP mailbox (writing also
 * notes the time: the last good pass). */
int store_imap_state(store *st, const char *mailbox, uint32_t *uidvalidity_io,
		     uint32_t *last_uid_io, bool set);

/* ---- policy versions: immutable once published ---- */

#define POLICY_VERSION_MAX 32

typedef struct policy_row {
	char version[POLICY_VERSION_MAX + 1];
	int64_t effective, published;
	int64_t seq;                        /* the ledger's last event when it was
					     * published: what came before it, in
					     * ledger order (not by the clock) */
	bool material;
	int64_t n;                          /* its place: 0 for the first published */
	char chain[SHA256_HEX];             /* the chain value over versions 0..n
					     * (ledger.c); "" for versions published
					     * before schema 5 */
} policy_row;

/* store_policy_insert - STORE_EXISTS when the version is published. Its
 * texts and affected purposes follow in the same transaction. */
int store_policy_insert(store *st, const policy_row *p);
int store_policy_text_insert(store *st, const char *version, const char *lang,
			     const char *summary, const char *sha256);
int store_policy_affects_insert(store *st, const char *version, const char *purpose);
int store_policy_get(store *st, const char *version, policy_row *out);

/* store_policy_text - the summary of version in lang (malloc'd) and its
 * SHA-256; STORE_NOTFOUND when there is none in that language. */
int store_policy_text(store *st, const char *version, const char *lang, char **summary_out,
		      char sha_out[SHA256_HEX]);

/* store_policy_list - every version by effective date; langs and affects
 * are comma-separated lists ("" when none). */
typedef int (*store_policy_fn)(const policy_row *p, const char *langs, const char *affects,
			       void *arg);
int store_policy_list(store *st, store_policy_fn fn, void *arg);

/* store_policies_each - every version in the order published (n). */
int store_policies_each(store *st, int (*fn)(const policy_row *p, void *arg), void *arg);

/* store_policy_last - the version published last; STORE_NOTFOUND if none. */
int store_policy_last(store *st, policy_row *out);

/* store_policy_texts_each - the summaries of version by language: lang,
 * summary and the SHA-256 stored with it. */
int store_policy_texts_each(store *st, const char *version,
			    int (*fn)(const char *lang, const char *summary, const char *sha256,
				      void *arg), void *arg);

/* store_policy_head - what the head record says of the policy versions:
 * how many (-1: not recorded), the chain value of the last ("" if not
 * recorded), and how many were published before schema 5 (their chain
 * value may be missing). */
int store_policy_head(store *st, int64_t *count_out, char chain_out[SHA256_HEX],
		      int64_t *legacy_out);
int store_policy_head_set(store *st, int64_t count, const char *chain);

/* store_policy_chain_fill - the chain value of a version published before
 * schema 5, written once (the store refuses any other change). */
int store_policy_chain_fill(store *st, const char *version, const char *chain);

/* store_chained_from - events after this seq hash the policy chain (the
 * ledger head when the store was upgraded to schema 5; 0 for a new store). */
int store_chained_from(store *st, int64_t *out);

/* store_policy_affects_each - the purposes version affects. */
int store_policy_affects_each(store *st, const char *version,
			      int (*fn)(const char *purpose, void *arg), void *arg);

/* store_policy_in_force - the version in force at time at: the newest
 * effective on or before it ("" when none). */
int store_policy_in_force(store *st, int64_t at, char out[POLICY_VERSION_MAX + 1]);

/* store_grant_stale - whether the current grant of (acct, purpose) was
 * asked for before a version that affects purpose was published (its
 * request event is in the ledger at or before the version's seq), and that
 * version is in force at now: then it no longer counts. version_out gets
 * that version, or "" when the grant still counts. */
int store_grant_stale(store *st, int64_t acct, const char *purpose, int64_t now,
		      char version_out[POLICY_VERSION_MAX + 1]);

/* store_request_stale - the same for an open request (id request): asked
 * for before such a version was published, so a yes to it would be a grant
 * that no longer counts. */
int store_request_stale(store *st, int64_t acct, const char *purpose, int64_t request,
			int64_t now, char version_out[POLICY_VERSION_MAX + 1]);

/* store_grant_asked - the ledger seq of the request event the current
 * grant answered (0 when there is no grant). */
int store_grant_asked(store *st, int64_t acct, const char *purpose, int64_t *out);

/* store_request_seq - the ledger seq of request's request event (0: none). */
int store_request_seq(store *st, int64_t acct, const char *purpose, int64_t request,
		      int64_t *out);

/* ---- broadcasts ---- */

typedef struct campaign_row {
	int64_t id, started, cursor, accounts, queued, requests, finished, updated;
	int64_t upto;                       /* the newest account key when it began:
					     * accounts created later are not in it */
	char kind[16];                      /* policy | request */
	char name[PURPOSE_NAME_MAX + 1];    /* version or purpose */
} campaign_row;

/* store_campaign_insert - sets c->id. STORE_EXISTS when kind policy and the
 * version has a broadcast already. */
int store_campaign_insert(store *st, campaign_row *c);
/* store_campaign_find - the newest broadcast of kind and name that is
 * still queueing or queued mail (else the newest). */
int store_campaign_find(store *st, const char *kind, const char *name, campaign_row *out);
int store_campaign_get(store *st, int64_t id, campaign_row *out);
/* store_campaign_progress - cursor moved, counts added, finished (0: not). */
int store_campaign_progress(store *st, int64_t id, int64_t cursor, int64_t accounts,
			    int64_t queued, int64_t requests, int64_t finished);
/* store_campaign_unfinished - the oldest broadcast still queueing whose
 * id is greater than after. */
int store_campaign_unfinished(store *st, int64_t after, campaign_row *out);

/* store_accounts_after - up to max keys of accounts not erased, greater
 * than after and at most upto, in key order. */
int store_accounts_after(store *st, int64_t after, int64_t upto, int64_t *keys_out, int max,
			 int *n_out);
int store_accounts_count(store *st, int64_t *out);

/* store_accounts_by_lang - (lang or dflt, count) of accounts not erased. */
int store_accounts_by_lang(store *st, const char *dflt,
			   int (*fn)(const char *lang, int64_t n, void *arg), void *arg);
/* store_accounts_failing_each - accounts whose address bounced. */
int store_accounts_failing_each(store *st, int (*fn)(const account *a, void *arg), void *arg);

typedef struct campaign_counts {
	int64_t queued, sending, sent, deferred, failed, cancelled;
	int64_t sent_since;                 /* sent at or after 'since' */
	int64_t first_done, last_done;
} campaign_counts;
int store_campaign_counts(store *st, int64_t id, int64_t since, campaign_counts *out);

typedef struct campaign_mail {
	int64_t id, done, next_attempt;
	int attempts;
	const char *account, *kind, *state, *rcpt, *response, *sha256;
} campaign_mail;
/* store_campaign_mail_each - the broadcast's mails by id: every one, or
 * only those not delivered (failed, or still waiting). */
int store_campaign_mail_each(store *st, int64_t id, bool undelivered_only,
			     int (*fn)(const campaign_mail *m, void *arg), void *arg);

/* ---- what an admin checks first (consentctl stats) ---- */

typedef struct store_stats {
	int64_t accounts, erased, failing;   /* failing: a bounce marked the address */
	int64_t outbox[6];                   /* queued sending sent deferred failed cancelled */
	int64_t oldest_waiting;              /* created of the oldest queued/deferred, 0 */
	int64_t inbox, review;
	char imap_mailbox[256];              /* "" when never read */
	int64_t imap_last_uid, imap_polled;  /* the last good IMAP pass, 0: never */
	int64_t broadcasts_open;             /* queueing, or with mail left to send */
	int64_t ledger_seq;
	char ledger_head[SHA256_HEX];
} store_stats;

int store_stats_get(store *st, store_stats *out);
/* store_stats_consents - (purpose, state, count) as recorded (the cache). */
int store_stats_consents(store *st, int (*fn)(const char *purpose, const char *state,
					       int64_t n, void *arg), void *arg);

#endif
