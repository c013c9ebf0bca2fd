/*
 * consent.c - consent operations on the store and the ledger.
 *
 * Every function here that writes wraps one transaction and leaves the
 * store untouched on any failure. The plaintext token of a new request
 * lives only in the outbox row that will carry it to the person.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/consent.h"
#include "consentd/digest.h"
#include "consentd/ledger.h"
#include "consentd/outmail.h"
#include "consentd/text.h"
#include "consentd/token.h"

#define EXPIRE_BATCH 256

static int fail(store *st, int rc, char *err, size_t errlen)
{
	store_rollback(st);
	if (!err[0])
		snprintf(err, errlen, "%s", store_errmsg(st));
	return rc == STORE_EXISTS ? CONSENT_REFUSED : CONSENT_ERR;
}

static int load_account(store *st, const char *id, account *out, char *err, size_t errlen)
{
	int rc = store_account_get(st, id, out);

	if (rc == STORE_NOTFOUND)
		snprintf(err, errlen, "no account '%s'", id);
	return rc;
}

/* expire_batch - expire up to EXPIRE_BATCH due requests; inside a tx. */
static int expire_batch(store *st, int64_t acct, int64_t now, int *n_out, bool *more_out)
{
	request_row due[EXPIRE_BATCH];
	account a;
	event_row ev;
	int n, i, rc;

	*n_out = 0;   /* expiries recorded (a closed request in another state is not one) */
	if ((rc = store_requests_due(st, acct, now, due, EXPIRE_BATCH, &n)))
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = store_request_set_state(st, due[i].id, "expired")) ||
		    (rc = store_outbox_cancel_request(st, due[i].id, "not sent: the request "
						      "expired")))
			return rc;
		if ((rc = store_account_get_key(st, due[i].acct, &a)))
			return rc;
		memset(&ev, 0, sizeof(ev));
		ev.at = due[i].expires;
		ev.acct = due[i].acct;
		ev.request = due[i].id;
		snprintf(ev.purpose, sizeof(ev.purpose), "%s", due[i].purpose);
		snprintf(ev.kind, sizeof(ev.kind), EV_EXPIRE);
		snprintf(ev.channel, sizeof(ev.channel), CHANNEL_AUTO);
		ev.address = a.email;
		rc = ledger_append(st, &ev, &a);
		digest_wipe(a.hkey, sizeof(a.hkey));
		if (rc == STORE_EXISTS)
			continue;   /* not pending any more: the request is just closed */
		if (rc)
			return rc;
		(*n_out)++;
	}
	*more_out = n == EXPIRE_BATCH;
	return STORE_OK;
}

int consent_tx_expire_account(store *st, int64_t acct)
{
	bool more = true;
	int n, rc = STORE_OK;

	while (more && rc == STORE_OK)
		rc = expire_batch(st, acct, text_now(), &n, &more);
	return rc;
}

int consent_purge_wal(store *st, bool *done_out, char *err, size_t errlen)
{
	int rc = store_pending(st, "wal-purge", 0);

	*done_out = false;
	err[0] = '\0';
	if (rc == STORE_NOTFOUND)
		return CONSENT_OK;
	if (rc || (rc = store_checkpoint_truncate(st)) ||
	    (rc = store_pending(st, "wal-purge", -1)) ||
	    (rc = store_checkpoint_truncate(st))) {
		snprintf(err, errlen, "%s", store_errmsg(st));
		return rc == STORE_BUSY ? CONSENT_REFUSED : CONSENT_ERR;
	}
	*done_out = true;
	return CONSENT_OK;
}

int consent_expire_due(store *st, int64_t acct, int64_t now, int *n_out,
		       char *err, size_t errlen)
{
	bool more = false;
	int n, rc;

	*n_out = 0;
	err[0] = '\0';
	do {
		if ((rc = store_begin(st)) || (rc = expire_batch(st, acct, now, &n, &more)) ||
		    (rc = store_commit(st)))
			return fail(st, rc, err, errlen);
		*n_out += n;
	} while (more);
	return CONSENT_OK;
}

int consent_state(store *st, int64_t acct, const char *purpose, int64_t now,
		  char state_out[16])
{
	char version[POLICY_VERSION_MAX + 1];
	request_row req;
	int64_t seq;
	int rc = store_consent_get(st, acct, purpose, state_out, &seq);

	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc)
		return rc;
	if (!strcmp(state_out, STATE_PENDING)) {
		rc = store_request_open(st, acct, purpose, &req);
		if (rc == STORE_OK && req.expires <= now)
			snprintf(state_out, 16, STATE_EXPIRED);
		else if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
	} else if (!strcmp(state_out, STATE_GRANTED)) {
		/* Asked before a policy version that changes this purpose came
		 * into force: no longer granted. Pending while the fresh request
		 * runs, expired when there is none. */
		if ((rc = store_grant_stale(st, acct, purpose, now, version)))
			return rc;
		if (version[0]) {
			rc = store_request_open(st, acct, purpose, &req);
			if (rc != STORE_OK && rc != STORE_NOTFOUND)
				return rc;
			snprintf(state_out, 16, rc == STORE_OK && req.expires > now
				 ? STATE_PENDING : STATE_EXPIRED);
		}
	}
	return STORE_OK;
}

/* queue_mail - put a rendered mail for account a into the outbox, inside
 * the caller's transaction. */
static int queue_mail(store *st, const char *kind, const account *a, const char *purpose,
		      int64_t request, const char *token, const outmail *mail, int64_t campaign,
		      int64_t *id_out)
{
	outbox_new ob;

	memset(&ob, 0, sizeof(ob));
	ob.campaign = campaign;
	ob.kind = kind;
	ob.acct = a->key;
	ob.request = request;
	ob.purpose = purpose;
	ob.token = token;
	ob.sender = mail->sender;
	ob.rcpt = mail->rcpt;
	ob.message = mail->message;
	ob.message_len = mail->len;
	ob.sha256 = mail->sha256;
	return store_outbox_insert(st, &ob, id_out);
}

int consent_tx_receipt(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, enum template_id id,
		       int64_t decision_time, char *err, size_t errlen)
{
	outmail mail = { 0 };
	int rc;

	if (outmail_receipt(cfg, ts, id, a, pu, decision_time, &mail, err, errlen))
		return STORE_ERR;
	rc = queue_mail(st, template_name(id), a, pu->name, 0, NULL, &mail, 0, NULL);
	outmail_clear(&mail);
	return rc;
}

int consent_tx_unclear(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, const request_row *req,
		       const char *token, char *err, size_t errlen)
{
	outmail mail = { 0 };
	int rc;

	if (outmail_unclear(cfg, ts, a, pu, token, req->expires, &mail, err, errlen))
		return STORE_ERR;
	rc = queue_mail(st, template_name(TPL_UNCLEAR), a, pu->name, req->id, token, &mail,
			0, NULL);
	outmail_clear(&mail);
	return rc;
}

static void event_init(event_row *ev, const account *a, const char *purpose,
		       const char *kind, const char *channel)
{
	memset(ev, 0, sizeof(*ev));
	ev->at = text_now();
	ev->acct = a->key;
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", purpose);
	snprintf(ev->kind, sizeof(ev->kind), "%s", kind);
	snprintf(ev->channel, sizeof(ev->channel), "%s", channel);
	ev->address = a->email;
}

int consent_tx_request(store *st, const config *cfg, const template_set *ts,
		       const account *a, const config_purpose *pu, bool resend,
		       consent_request_info *out, char *err, size_t errlen)
{
	consent_ask ask = { .resend = resend };

	return consent_tx_ask(st, cfg, ts, a, pu, &ask, out, err, errlen);
}

int consent_tx_ask(store *st, const config *cfg, const template_set *ts,
		   const account *a, const config_purpose *pu, const consent_ask *ask,
		   consent_request_info *out, char *err, size_t errlen)
{
	char token[TOKEN_SIZE] = "", state[16], stale[POLICY_VERSION_MAX + 1];
	outmail mail = { 0 };
	request_row req, old;
	event_row ev;
	int64_t seq;
	int rc;

	rc = store_consent_get(st, a->key, pu->name, state, &seq);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto cleanup;
	if (!strcmp(state, STATE_GRANTED) && !ask->reask) {
		/* A grant a policy version in force made stale may be asked anew. */
		if ((rc = store_grant_stale(st, a->key, pu->name, text_now(), stale)))
			goto cleanup;
		if (!stale[0]) {
			snprintf(err, errlen, "consent of '%s' for '%s' is already granted",
				 a->id, pu->name);
			rc = STORE_EXISTS;
			goto cleanup;
		}
	}
	if (!strcmp(state, STATE_PENDING) || !strcmp(state, STATE_GRANTED)) {
		if (!ask->resend && !strcmp(state, STATE_PENDING)) {
			snprintf(err, errlen, "a request to '%s' for '%s' is already pending; "
				 "use --resend to send a new one", a->id, pu->name);
			rc = STORE_EXISTS;
			goto cleanup;
		}
		/* One open request per (account, purpose): the old token stops working. */
		rc = store_request_open(st, a->key, pu->name, &old);
		if (rc == STORE_OK && !(rc = store_request_set_state(st, old.id, "superseded")))
			rc = store_outbox_cancel_request(st, old.id, ask->why ? ask->why :
							 "not sent: a newer request replaced it");
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			goto cleanup;
	}
	token_new(token);
	memset(&req, 0, sizeof(req));
	req.acct = a->key;
	snprintf(req.purpose, sizeof(req.purpose), "%s", pu->name);
	token_hash(token, TOKEN_LEN, req.token_hash);
	req.created = text_now();
	req.expires = req.created + (int64_t)cfg->lifetime_days * 86400;
	snprintf(req.state, sizeof(req.state), "open");
	if ((rc = store_request_insert(st, &req)))
		goto cleanup;
	/* Rendered now: these exact bytes are what the person will be shown. */
	if (outmail_request(cfg, ts, a, pu, token, req.expires, &mail, err, errlen)) {
		rc = STORE_ERR;
		goto cleanup;
	}
	if ((rc = queue_mail(st, "request", a, pu->name, req.id, token, &mail, ask->campaign,
			     &out->outbox)))
		goto cleanup;
	event_init(&ev, a, pu->name, EV_REQUEST, CHANNEL_STAFF);
	ev.at = req.created;
	ev.request = req.id;
	snprintf(ev.shown_sha256, sizeof(ev.shown_sha256), "%s", mail.sha256);
	if ((rc = ledger_append(st, &ev, a)))
		goto cleanup;
	out->request = req.id;
	out->expires = req.expires;
cleanup:
	digest_wipe(token, sizeof(token));
	outmail_clear(&mail);
	return rc;
}

int consent_tx_address_changed(store *st, const config *cfg, const template_set *ts,
			       const account *a, int *asked_out, char *err, size_t errlen)
{
	consent_ask ask = { .resend = true, .why = "not sent: the account's primary address "
			    "changed; asked again at the new address" };
	consent_request_info info;
	request_row req;
	bool unsent;
	int i, rc;

	*asked_out = 0;
	for (i = 0; i < cfg->npurposes; i++) {
		rc = store_request_open(st, a->key, cfg->purpose[i].name, &req);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc || (rc = store_request_unsent(st, req.id, &unsent)))
			return rc;
		if (!unsent)
			continue;   /* delivered to the old address: staff decide */
		if ((rc = consent_tx_ask(st, cfg, ts, a, &cfg->purpose[i], &ask, &info, err,
					 errlen)))
			return rc;
		(*asked_out)++;
	}
	return STORE_OK;
}

int consent_request(store *st, const config *cfg, const template_set *ts, const char *id,
		    const char *purpose, bool resend, consent_request_info *out,
		    char *err, size_t errlen)
{
	const config_purpose *pu = config_purpose_find(cfg, purpose);
	account a;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	err[0] = '\0';
	if (!pu) {
		snprintf(err, errlen, "unknown purpose '%s' (not in %s)", purpose, cfg->path);
		return CONSENT_ERR;
	}
	if (!(rc = store_begin(st)) && !(rc = load_account(st, id, &a, err, errlen)) &&
	    !(rc = consent_tx_expire_account(st, a.key)) &&
	    !(rc = consent_tx_request(st, cfg, ts, &a, pu, resend, out, err, errlen)))
		rc = store_commit(st);
	digest_wipe(a.hkey, sizeof(a.hkey));
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc ? fail(st, rc, err, errlen) : CONSENT_OK;
}

int consent_tx_withdraw(store *st, const config *cfg, const template_set *ts,
			const account *a, const config_purpose *pu, const event_row *evidence,
			char prev_state_out[16], char *err, size_t errlen)
{
	request_row req;
	event_row ev;
	int64_t seq;
	int rc;

	snprintf(prev_state_out, 16, STATE_NONE);
	rc = store_consent_get(st, a->key, pu->name, prev_state_out, &seq);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	/* A pending request is answered by the withdrawal: its token is spent. */
	rc = store_request_open(st, a->key, pu->name, &req);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	event_init(&ev, a, pu->name, EV_REVOKE, evidence->channel);
	ev.reason = evidence->reason;
	ev.sender = evidence->sender;
	ev.msg_id = evidence->msg_id;
	snprintf(ev.raw_sha256, sizeof(ev.raw_sha256), "%s", evidence->raw_sha256);
	if (rc == STORE_OK)
		ev.request = req.id;
	rc = ledger_append(st, &ev, a);
	if (rc == STORE_EXISTS) {
		snprintf(err, errlen, "nothing to withdraw: consent of '%s' for '%s' is %s",
			 a->id, pu->name, prev_state_out);
		return rc;
	}
	if (rc)
		return rc;
	if (ev.request && ((rc = store_request_set_state(st, ev.request, "answered")) ||
			   (rc = store_outbox_cancel_request(st, ev.request, "not sent: "
							     "withdrawn before it went out"))))
		return rc;
	return consent_tx_receipt(st, cfg, ts, a, pu, !strcmp(prev_state_out, STATE_GRANTED)
				  ? TPL_RECEIPT_REVOKED : TPL_RECEIPT_DECLINED, ev.at, err,
				  errlen);
}

int consent_revoke(store *st, const config *cfg, const template_set *ts, const char *id,
		   const char *purpose, const char *reason, char prev_state_out[16],
		   char *err, size_t errlen)
{
	const config_purpose *pu = config_purpose_find(cfg, purpose);
	event_row evidence;
	account a;
	int rc;

	memset(&a, 0, sizeof(a));
	err[0] = '\0';
	snprintf(prev_state_out, 16, STATE_NONE);
	if (!reason || !*reason || strlen(reason) > REASON_MAX ||
	    !text_utf8_valid(reason, strlen(reason)) || text_has_control(reason, strlen(reason))) {
		snprintf(err, errlen, "the reason must be one line of valid UTF-8, 1 to %d bytes",
			 REASON_MAX);
		return CONSENT_ERR;
	}
	if (!pu) {
		snprintf(err, errlen, "unknown purpose '%s' (not in %s)", purpose, cfg->path);
		return CONSENT_ERR;
	}
	memset(&evidence, 0, sizeof(evidence));
	snprintf(evidence.channel, sizeof(evidence.channel), CHANNEL_STAFF);
	evidence.reason = reason;
	if (!(rc = store_begin(st)) && !(rc = load_account(st, id, &a, err, errlen)) &&
	    !(rc = consent_tx_expire_account(st, a.key)) &&
	    !(rc = consent_tx_withdraw(st, cfg, ts, &a, pu, &evidence, prev_state_out, err,
				       errlen)))
		rc = store_commit(st);
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc ? fail(st, rc, err, errlen) : CONSENT_OK;
}

typedef struct erase_ctx {
	char purposes[PURPOSES_MAX * 4][PURPOSE_NAME_MAX + 1];
	int npurposes;
} erase_ctx;

static int collect_purpose(int64_t acct, const char *purpose, const char *state,
			   int64_t seq, void *arg)
{
	erase_ctx *e = arg;

	(void)acct; (void)state; (void)seq;
	if (e->npurposes == (int)(sizeof(e->purposes) / sizeof(e->purposes[0])))
		return STORE_ERR;
	snprintf(e->purposes[e->npurposes++], PURPOSE_NAME_MAX + 1, "%s", purpose);
	return 0;
}

int consent_erase(store *st, const char *id, char *err, size_t errlen)
{
	erase_ctx e;
	event_row ev;
	account a;
	int i, rc;

	memset(&a, 0, sizeof(a));
	memset(&e, 0, sizeof(e));
	err[0] = '\0';
	if ((rc = store_begin(st)))
		goto cleanup;
	if ((rc = load_account(st, id, &a, err, errlen)))
		goto cleanup;
	if ((rc = store_consents_each(st, a.key, collect_purpose, &e)))
		goto cleanup;
	if (e.npurposes == 0)
		e.npurposes = 1;   /* one erase event for an account never asked */
	for (i = 0; i < e.npurposes; i++) {
		event_init(&ev, &a, e.purposes[i], EV_ERASE, CHANNEL_STAFF);
		ev.address = NULL;   /* the event that erases carries nothing personal */
		if ((rc = ledger_append(st, &ev, &a)))
			goto cleanup;
	}
	/* The key goes first: the ledger lets personal columns be cleared only
	 * for an account without one. */
	if ((rc = store_inbox_erase(st, a.key, a.email)) ||
	    (rc = store_requests_close_account(st, a.key, "erased")) ||
	    (rc = store_account_erase(st, a.key)) ||
	    (rc = store_event_personal_clear(st, a.key)) ||
	    (rc = store_outbox_delete_account(st, a.key)) ||
	    (rc = store_consent_delete_account(st, a.key)) ||
	    (rc = store_commit(st)))
		goto cleanup;
	/* Old page images in the WAL still hold the data until checkpointed. */
	if (store_checkpoint_truncate(st)) {
		if (store_pending(st, "wal-purge", 1) == STORE_OK)
			snprintf(err, errlen, "account '%s' erased, but another process holds the "
				 "database open, so old copies stay in its WAL file until consentd "
				 "truncates it (it retries on every pass)", id);
		else
			snprintf(err, errlen, "account '%s' erased, but the WAL could not be "
				 "truncated: %s", id, store_errmsg(st));
		digest_wipe(a.hkey, sizeof(a.hkey));
		return CONSENT_REFUSED;
	}
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc ? fail(st, rc, err, errlen) : CONSENT_OK;
}
