/*
 * account.h - accounts: validation, add/update, streaming CSV import.
 *
 * Rules for every account, however it arrives:
 *   id     1..ACCOUNT_ID_MAX bytes of visible ASCII (0x21..0x7e)
 *   email  a valid addr-spec (addr.h)
 *   name   optional, valid UTF-8 without control characters, at most
 *          ACCOUNT_NAME_MAX bytes (it will stand in a To: header)
 *   lang   optional, "de" or "en"; empty means [service] default_lang
 */
#ifndef CONSENTD_ACCOUNT_H
#define CONSENTD_ACCOUNT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "store.h"

/* account_validate - NULL when the fields are acceptable, else a reason.
 * why is a buffer for composed reasons. */
const char *account_validate(const char *id, const char *email, const char *name,
			     const char *lang, char *why, size_t whylen);

/* account_put - validate and store one account in its own transaction:
 * create only (STORE_EXISTS when the id is taken) or upsert. Returns a
 * store code; err holds the message. */
int account_put(store *st, const config *cfg, const char *id, const char *email,
		const char *name, const char *lang, bool create_only,
		bool *created_out, char *err, size_t errlen);

typedef struct import_report {
	unsigned long rows;        /* data records seen */
	unsigned long created, updated_or_same, bad;
} import_report;

/* Called for every refused record: its line and why. */
typedef void (*import_bad_fn)(unsigned long line, const char *why, void *arg);

/* account_import - stream CSV with header id,email[,name][,lang] (any
 * order) from in, upserting good rows in batches and reporting bad ones.
 * Returns 0 when the whole input was read (some rows may be bad: see
 * out->bad), or a negative store code / -1 when it stopped early (err says
 * why and at which line; batches already committed stay). */
int account_import(store *st, const config *cfg, FILE *in, import_report *out,
		   import_bad_fn bad, void *arg, char *err, size_t errlen);

#endif
