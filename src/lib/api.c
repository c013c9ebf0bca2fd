/*
 * api.c - the public API of consentd.h on top of config, store and consent.
 * Read-only: nothing here writes to the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/consentd.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/text.h"

struct consentd_handle {
	config *cfg;
	store *st;
	char err[512];
};

int consentd_open(consentd_handle **out, const char *config_path, char *err, size_t errlen)
{
	consentd_handle *h = xcalloc(1, sizeof(*h));

	*out = NULL;
	if (config_load(&h->cfg, config_path, err, errlen) ||
	    store_open(&h->st, h->cfg->store_path, h->cfg->busy_timeout_ms, 0, err, errlen)) {
		consentd_close(h);
		return -1;
	}
	*out = h;
	return 0;
}

const char *consentd_state(consentd_handle *h, const char *id, const char *purpose)
{
	static const char *const words[] = { STATE_NONE, STATE_PENDING, STATE_GRANTED,
		STATE_DECLINED, STATE_REVOKED, STATE_EXPIRED };
	char state[16];
	account a;
	size_t i;
	int rc;

	if (!config_purpose_find(h->cfg, purpose)) {
		snprintf(h->err, sizeof(h->err), "unknown purpose '%s'", purpose);
		return NULL;
	}
	rc = store_account_get(h->st, id, &a);
	if (rc == STORE_NOTFOUND)
		return STATE_NONE;
	if (rc == STORE_OK)
		rc = consent_state(h->st, a.key, purpose, text_now(), state);
	if (rc) {
		snprintf(h->err, sizeof(h->err), "%s", store_errmsg(h->st));
		return NULL;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(words[i], state))
			return words[i];
	snprintf(h->err, sizeof(h->err), "store holds an unknown state '%s'", state);
	return NULL;
}

int consentd_check(consentd_handle *h, const char *id, const char *purpose,
		   bool *granted_out)
{
	const char *state = consentd_state(h, id, purpose);

	*granted_out = state && !strcmp(state, STATE_GRANTED);
	return state ? 0 : -1;
}

int consentd_granted(consentd_handle *h, const char *purpose,
		     int (*fn)(const char *account, void *arg), void *arg)
{
	int rc;

	if (!config_purpose_find(h->cfg, purpose)) {
		snprintf(h->err, sizeof(h->err), "unknown purpose '%s'", purpose);
		return -1;
	}
	rc = store_granted_each(h->st, purpose, text_now(), fn, arg);
	if (rc < 0) {
		snprintf(h->err, sizeof(h->err), "%s", store_errmsg(h->st));
		return -1;
	}
	return rc;
}

const char *consentd_errmsg(const consentd_handle *h)
{
	return h->err;
}

void consentd_close(consentd_handle *h)
{
	if (!h)
		return;
	store_close(h->st);
	config_free(h->cfg);
	free(h);
}
