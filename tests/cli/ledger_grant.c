/*
 * ledger_grant - test stand-in for the inbound channel: records that the
 * person granted (or declined) consent to a pending request, through the
 * same ledger_append the inbound code uses.
 *
 *   ledger_grant CONFIG ID PURPOSE [grant|decline]
 * Exit 0 when recorded, 1 when it is refused (no open request of that
 * account and purpose, the request's lifetime is over, or the state does
 * not allow it; stderr says which), 2 on error.
 *
 * As the inbound code does, the answer names the open request it answers
 * (ledger_append refuses a grant or decline without it) and closes that
 * request in the same transaction, after the event is appended.
 */
#include <inttypes.h>
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
	char err[512], state[16], when[TEXT_TIME_LEN];
	event_row ev;
	request_row req;
	account a;
	int64_t seq;
	int rc = 2, open_rc;

	if (argc < 4 || (argc > 4 && strcmp(argv[4], "grant") && strcmp(argv[4], "decline"))) {
		fprintf(stderr, "usage: ledger_grant CONFIG ID PURPOSE [grant|decline]\n");
		return 2;
	}
	if (config_load(&cfg, argv[1], err, sizeof(err)) ||
	    store_open(&st, cfg->store_path, cfg->busy_timeout_ms, 0, err, sizeof(err))) {
		fprintf(stderr, "ledger_grant: %s\n", err);
		goto cleanup;
	}
	if (store_begin(st)) {
		fprintf(stderr, "ledger_grant: %s\n", store_errmsg(st));
		goto cleanup;
	}
	if (store_account_get(st, argv[2], &a)) {
		fprintf(stderr, "ledger_grant: no account %s\n", argv[2]);
		goto cleanup;
	}
	memset(&ev, 0, sizeof(ev));
	ev.at = text_now();
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", argv[3]);
	snprintf(ev.kind, sizeof(ev.kind), "%s", argc > 4 && !strcmp(argv[4], "decline")
		 ? EV_DECLINE : EV_GRANT);
	snprintf(ev.channel, sizeof(ev.channel), CHANNEL_PIPE);
	ev.address = a.email;
	ev.sender = a.email;
	ev.msg_id = "test-reply@example.org";
	open_rc = store_request_open(st, a.key, argv[3], &req);
	if (open_rc != STORE_OK && open_rc != STORE_NOTFOUND) {
		fprintf(stderr, "ledger_grant: %s\n", store_errmsg(st));
		goto cleanup;
	}
	if (open_rc == STORE_OK)
		ev.request = req.id;
	rc = ledger_append(st, &ev, &a);
	if (rc == STORE_EXISTS) {
		/* Say why, as the inbound code will have to. */
		if (open_rc == STORE_NOTFOUND) {
			fprintf(stderr, "ledger_grant: %s refused: %s has no open request for %s "
				"(never asked, answered, superseded or expired)\n", ev.kind,
				argv[2], argv[3]);
		} else if (ev.at >= req.expires) {
			text_time_fmt(req.expires, when);
			fprintf(stderr, "ledger_grant: %s refused: request #%" PRId64 " of %s for %s "
				"expired at %s\n", ev.kind, req.id, argv[2], argv[3], when);
		} else {
			if (store_consent_get(st, a.key, argv[3], state, &seq) < 0)
				snprintf(state, sizeof(state), "?");
			fprintf(stderr, "ledger_grant: %s refused: not allowed in the current "
				"state '%s' of %s for %s\n", ev.kind, state, argv[2], argv[3]);
		}
		rc = 1;
		goto cleanup;
	}
	if (rc || store_request_set_state(st, ev.request, "answered") || store_commit(st)) {
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
