/*
 * export.h - an account's data and consent history as one JSON document,
 * for access (GDPR Art. 15) and portability (Art. 20) requests.
 */
#ifndef CONSENTD_EXPORT_H
#define CONSENTD_EXPORT_H

#include <stdio.h>

#include "config.h"
#include "store.h"

/* export_account - write the JSON document of account id to fp.
 * Returns 0, STORE_NOTFOUND, or another store code; err says why. */
int export_account(store *st, const config *cfg, const char *id, FILE *fp,
		   char *err, size_t errlen);

#endif
