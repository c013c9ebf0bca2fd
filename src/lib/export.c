/*
 * export.c - JSON export of an account (jansson). The document holds the
 * account fields, the current state per purpose, and every ledger event
 * with its evidence references and chain hashes, so that the person (or an
 * auditor) can check each event against `consentctl ledger verify`.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "consentd/consent.h"
#include "consentd/digest.h"
#include "consentd/export.h"
#include "consentd/ledger.h"
#include "consentd/text.h"

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *time_json(int64_t t)
{
	char buf[TEXT_TIME_LEN];

	text_time_fmt(t, buf);
	return json_string(buf);
}

static int add_event(const event_row *ev, void *arg)
{
	json_t *events = arg;
	json_t *o = json_object();

	json_object_set_new(o, "seq", json_integer(ev->seq));
	json_object_set_new(o, "time", time_json(ev->at));
	json_object_set_new(o, "purpose", str_or_null(ev->purpose));
	json_object_set_new(o, "event", json_string(ev->kind));
	json_object_set_new(o, "channel", json_string(ev->channel));
	json_object_set_new(o, "request", ev->request ? json_integer(ev->request) : json_null());
	json_object_set_new(o, "address", str_or_null(ev->address));
	json_object_set_new(o, "sender", str_or_null(ev->sender));
	json_object_set_new(o, "message_id", str_or_null(ev->msg_id));
	json_object_set_new(o, "reason", str_or_null(ev->reason));
	json_object_set_new(o, "raw_message_sha256", str_or_null(ev->raw_sha256));
	json_object_set_new(o, "shown_text_sha256", str_or_null(ev->shown_sha256));
	json_object_set_new(o, "policy_version", str_or_null(ev->policy));
	json_object_set_new(o, "prev_hash", str_or_null(ev->prev));
	json_object_set_new(o, "hash", json_string(ev->hash));
	json_array_append_new(events, o);
	return 0;
}

static int add_mail(const inbox_listing *r, void *arg)
{
	json_t *mails = arg;
	json_t *o = json_object();
	char *b64;

	json_object_set_new(o, "received", time_json(r->received));
	json_object_set_new(o, "channel", json_string(r->channel));
	json_object_set_new(o, "outcome", json_string(r->outcome));
	json_object_set_new(o, "reason", json_string(r->reason));
	json_object_set_new(o, "purpose", str_or_null(r->purpose));
	json_object_set_new(o, "from", str_or_null(r->from_addr));
	json_object_set_new(o, "message_id", str_or_null(r->msg_id));
	json_object_set_new(o, "subject", str_or_null(r->subject));
	json_object_set_new(o, "event", r->event ? json_integer(r->event) : json_null());
	json_object_set_new(o, "raw_message_sha256", json_string(r->raw_sha256));
	json_object_set_new(o, "authentication_results", str_or_null(r->auth_results));
	/* The message itself, as received (base64 of its CRLF form). */
	if (r->raw) {
		b64 = xmalloc(4 * ((r->raw_len + 2) / 3) + 1);
		digest_base64(r->raw, r->raw_len, b64);
		json_object_set_new(o, "message_base64", json_string(b64));
		free(b64);
	} else {
		json_object_set_new(o, "message_base64", json_null());
	}
	json_array_append_new(mails, o);
	return 0;
}

int export_account(store *st, const config *cfg, const char *id, FILE *fp,
		   char *err, size_t errlen)
{
	json_t *doc = json_object(), *acc = json_object(), *consents = json_object();
	json_t *events = json_array(), *mails = json_array();
	char state[16];
	account a;
	int i, rc;

	err[0] = '\0';
	memset(&a, 0, sizeof(a));
	rc = store_account_get(st, id, &a);
	if (rc == STORE_NOTFOUND)
		snprintf(err, errlen, "no account '%s'", id);
	if (rc)
		goto cleanup;
	json_object_set_new(acc, "id", json_string(a.id));
	json_object_set_new(acc, "email", json_string(a.email));
	json_object_set_new(acc, "name", str_or_null(a.name));
	json_object_set_new(acc, "lang", json_string(a.lang));
	json_object_set_new(acc, "created", time_json(a.created));
	json_object_set_new(acc, "updated", time_json(a.updated));
	for (i = 0; i < cfg->npurposes; i++) {
		if ((rc = consent_state(st, a.key, cfg->purpose[i].name, text_now(), state)))
			goto cleanup;
		json_object_set_new(consents, cfg->purpose[i].name, json_string(state));
	}
	if ((rc = store_events_each(st, a.key, add_event, events)) ||
	    (rc = store_inbox_of_account(st, a.key, a.email, add_mail, mails)))
		goto cleanup;
	json_object_set_new(doc, "format", json_string("consentd-export-1"));
	json_object_set_new(doc, "exported", time_json(text_now()));
	json_object_set_new(doc, "controller", str_or_null(cfg->controller));
	json_object_set_new(doc, "account", acc);
	json_object_set_new(doc, "consents", consents);
	json_object_set_new(doc, "events", events);
	json_object_set_new(doc, "mail_received", mails);
	acc = consents = events = mails = NULL;
	if (json_dumpf(doc, fp, JSON_INDENT(2)) || fputc('\n', fp) == EOF) {
		snprintf(err, errlen, "cannot write the export");
		rc = STORE_ERR;
	}
cleanup:
	if (rc && !err[0])
		snprintf(err, errlen, "%s", store_errmsg(st));
	digest_wipe(a.hkey, sizeof(a.hkey));
	json_decref(acc);
	json_decref(consents);
	json_decref(events);
	json_decref(mails);
	json_decref(doc);
	return rc;
}
