/*
 * ledger_grant - test stand-in for the inbound channel: records that the
 * person granted (or declined) consent to a pending request, through the
 * same ledger_append the inbound code uses.
 *
 *   ledger_grant CONFIG ID PURPOSE [grant|decline]
 * Exit 0 when recorded, 1 when the state does not allow it, 2 on error.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/config.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/text.h"

int main(int argc, char **argv)
{
	config *cfg = NULL;
	store *st = NULL;
	char err[512];
	event_row ev;
	request_row req;
	account a;
	int rc = 2;

	if (argc < 4) {
		fprintf(stderr, "usage: ledger_grant CONFIG ID PURPOSE [grant|decline]\n");
		return 2;
	}
	if (config_load(&cfg, argv[1], err, sizeof(err)) ||
	    store_open(&st, cfg->store_path, cfg->busy_timeout_ms, 0, err, sizeof(err))) {
		fprintf(stderr, "ledger_grant: %s\n", err);
		goto cleanup;
	}
	if (store_begin(st) || store_account_get(st, argv[2], &a)) {
		fprintf(stderr, "ledger_grant: no account %s\n", argv[2]);
		goto cleanup;
	}
	memset(&ev, 0, sizeof(ev));
	ev.at = text_now();
	ev.acct = a.key;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", argv[3]);
	snprintf(ev.kind, sizeof(ev.kind), "%s", argc > 4 && !strcmp(argv[4], "decline")
		 ? EV_DECLINE : EV_GRANT);
	snprintf(ev.channel, sizeof(ev.channel), CHANNEL_PIPE);
	ev.address = a.email;
	ev.sender = a.email;
	ev.msg_id = "test-reply@example.org";
	if (store_request_open(st, a.key, argv[3], &req) == STORE_OK) {
		ev.request = req.id;
		store_request_set_state(st, req.id, "answered");
	}
	rc = ledger_append(st, &ev, a.hkey);
	if (rc == STORE_EXISTS) {
		fprintf(stderr, "ledger_grant: not allowed in the current state\n");
		rc = 1;
		goto cleanup;
	}
	if (rc || store_commit(st)) {
		fprintf(stderr, "ledger_grant: %s\n", store_errmsg(st));
		rc = 2;
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (st)
		store_rollback(st);
	store_close(st);
	config_free(cfg);
	return rc;
}
