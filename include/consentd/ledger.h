/*
 * ledger.h - the append-only, hash-chained record of consent events.
 *
 * Every event is one row. Its hash is SHA-256 over a canonical serialisation
 * (netstrings, fixed field order, documented in ledger.c and the README) of
 * its own fields and the previous row's hash. Personal fields (the address
 * concerned, the mail's sender and Message-ID, a staff reason) enter the
 * chain only through pd_mac = HMAC-SHA256(account key, those fields). On
 * erasure the personal fields and the account key are destroyed; the chain
 * still verifies, but nothing personal can be recovered from it.
 *
 * The consent state of (account, purpose) is derived by replaying its
 * events through ledger_next_state; the store keeps the result as a cache
 * written in the same transaction, and ledger_verify checks that cache.
 */
#ifndef CONSENTD_LEDGER_H
#define CONSENTD_LEDGER_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* States (PRODUCT.md) and event kinds. */
#define STATE_NONE     "none"
#define STATE_PENDING  "pending"
#define STATE_GRANTED  "granted"
#define STATE_DECLINED "declined"
#define STATE_REVOKED  "revoked"
#define STATE_EXPIRED  "expired"

#define EV_REQUEST "request"
#define EV_GRANT   "grant"
#define EV_DECLINE "decline"
#define EV_REVOKE  "revoke"
#define EV_EXPIRE  "expire"
#define EV_ERASE   "erase"

#define CHANNEL_STAFF "staff"
#define CHANNEL_IMAP  "imap"
#define CHANNEL_PIPE  "pipe"
#define CHANNEL_AUTO  "consentd"   /* the service itself: expiry */

/* ledger_next_state - the state after kind is applied to state, or NULL
 * when that event is not allowed in that state. */
const char *ledger_next_state(const char *state, const char *kind);

/* ledger_append - hash and insert ev for account a (ev->acct, account_id,
 * seq, prev, pd_mac and hash are filled in here) and update the consent
 * cache, inside the caller's transaction. A grant or decline must name the
 * open, unexpired request of that account and purpose in ev->request.
 * Returns a store code; on STORE_EXISTS the event is not allowed now
 * (wrong state, no such open request, request expired): nothing written. */
int ledger_append(store *st, event_row *ev, const account *a);

/* ledger_hash_event - compute pd_mac (when hkey is non-NULL) and hash of ev
 * from its fields and ev->prev. Exposed for tests and verification. */
void ledger_pd_mac(const event_row *ev, const unsigned char *hkey, char out[SHA256_HEX]);
void ledger_hash(const event_row *ev, char out[SHA256_HEX]);

typedef struct ledger_report {
	int64_t events;            /* rows read */
	int64_t bad_seq;           /* first bad event, 0 when intact */
	char problem[256];         /* what is wrong with it */
	char head[SHA256_HEX];     /* hash of the last event */
	int64_t policies;          /* policy versions */
	char policy_chain[SHA256_HEX];   /* their chain value ("" when none) */
} ledger_report;

/* ledger_policy_seal - for a version about to be published (its summaries
 * and purposes written in this transaction, the version row not yet): its
 * place p->n, the ledger head p->seq and its chain value p->chain. */
int ledger_policy_seal(store *st, policy_row *p);

/* ledger_policy_chain_at - the chain value over the first n versions, as
 * recomputed (STORE_NOTFOUND when fewer are published): what an anchor
 * "Pn:HASH" printed by ledger verify is checked against. */
int ledger_policy_chain_at(store *st, int64_t n, char out[SHA256_HEX]);

/* ledger_verify - check the whole chain, the personal-data MACs of accounts
 * not erased, the head record, the policy versions (their chain, and the
 * version each event says was in force) and the consent cache. Returns 0 when intact,
 * 1 when broken (report says where), a negative store code on error. */
int ledger_verify(store *st, ledger_report *out);

#endif
