/*
 * consent.h - what staff and the service do to a consent: ask, withdraw,
 * expire, erase, and read the state.
 *
 * Each operation is one write transaction: it brings the account's expired
 * requests up to date, checks the state machine, appends the ledger event,
 * updates requests and outbox, and commits durably before it returns
 * CONSENT_OK. Nothing is written when it returns anything else.
 */
#ifndef CONSENTD_CONSENT_H
#define CONSENTD_CONSENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "template.h"

enum consent_rc {
	CONSENT_OK = 0,
	CONSENT_REFUSED = 1,   /* not allowed in the current state; err says why */
	CONSENT_ERR = 2        /* unknown account/purpose, store failure; err says */
};

typedef struct consent_request_info {
	int64_t request, outbox, expires;
} consent_request_info;

/* consent_request - a new request: fresh token, the mail rendered from the
 * templates into the outbox (its SHA-256 in the ledger event as the text
 * the person is shown). */
int consent_request(store *st, const config *cfg, const template_set *ts, const char *id,
		    const char *purpose, bool resend, consent_request_info *out,
		    char *err, size_t errlen);

/* consent_revoke - a withdrawal staff received another way; queues the
 * receipt to the primary address. */
int consent_revoke(store *st, const config *cfg, const template_set *ts, const char *id,
		   const char *purpose, const char *reason, char prev_state_out[16],
		   char *err, size_t errlen);

/* consent_erase - erasure (see README). CONSENT_REFUSED when the erasure
 * is recorded but the WAL could not be truncated yet because another
 * process holds the database open: consent_purge_wal finishes it later. */
int consent_erase(store *st, const char *id, char *err, size_t errlen);

/* consent_purge_wal - if an erasure left old pages in the WAL, truncate it
 * now. *done_out: the owed purge was completed. */
int consent_purge_wal(store *st, bool *done_out, char *err, size_t errlen);

/* consent_expire_due - record expiry for every open request past its
 * lifetime (acct < 0: all accounts). *n_out: how many expired. */
int consent_expire_due(store *st, int64_t acct, int64_t now, int *n_out,
		       char *err, size_t errlen);

/* consent_state - the state as the person would see it now: the cached
 * state, except that a pending request past its expiry reads "expired"
 * before the expiry duty has recorded it. */
int consent_state(store *st, int64_t acct, const char *purpose, int64_t now,
		  char state_out[16]);

/* ---- the same, inside the caller's transaction (for inbound mail, which
 * records its inbox row in the same transaction). Store codes; STORE_EXISTS
 * when the state does not allow it (err says why). ---- */

/* consent_tx_expire_account - record expiry of the account's due requests. */
int consent_tx_expire_account(store *st, int64_t acct);

/* consent_tx_request - a new request for a (loaded, expiries done). */
int consent_tx_request(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, bool resend,
		       consent_request_info *out, char *err, size_t errlen);

/* consent_tx_ask - consent_tx_request with the options of a broadcast:
 * reask asks a granted account again (a policy version changes the
 * purpose; the grant stands until that version is in force), campaign
 * ties the mail to the broadcast (throttled, counted, once per account). */
typedef struct consent_ask {
	bool resend, reask;
	int64_t campaign;
	const char *why;          /* why the request it replaces was not sent (NULL:
				   * "a newer request replaced it") */
} consent_ask;
int consent_tx_ask(store *st, const config *cfg, const template_set *ts,
		   const account *a, const config_purpose *pu, const consent_ask *ask,
		   consent_request_info *out, char *err, size_t errlen);

/* consent_tx_address_changed - after the primary address of a (loaded with
 * it) changed: each open request whose mail was never delivered (waiting,
 * in flight, refused by the old address) is asked again at the new address
 * (fresh token; mail still waiting is cancelled, never sent to the old
 * address). *asked_out: how many. */
int consent_tx_address_changed(store *st, const config *cfg, const template_set *ts,
			       const account *a, int *asked_out, char *err, size_t errlen);

/* consent_tx_withdraw - withdraw (granted -> revoked, pending -> declined)
 * with evidence's channel, sender, msg_id, raw_sha256 and reason; queues
 * the receipt. */
int consent_tx_withdraw(store *st, const config *cfg, const template_set *ts,
			const account *a, const config_purpose *pu, const event_row *evidence,
			char prev_state_out[16], char *err, size_t errlen);

/* consent_tx_receipt - queue a receipt (TPL_RECEIPT_*) to a's primary address. */
int consent_tx_receipt(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, enum template_id id,
		       int64_t decision_time, char *err, size_t errlen);

/* consent_tx_unclear - queue the "please answer JA or NEIN" mail of req,
 * carrying its token again. */
int consent_tx_unclear(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, const request_row *req,
		       const char *token, char *err, size_t errlen);

#endif
