/*
 * account.c - account validation, single upsert and CSV import.
 *
 * Import streams: one csv_reader with fixed buffers, rows upserted through
 * the store in transactions of IMPORT_BATCH rows, so memory stays flat for
 * any input size. Every bad record is reported with its line and reason and
 * skipped; the good ones are all imported. A store failure stops the import
 * with everything before the failing batch committed.
 */
#include <stdio.h>
#include <string.h>

#include "consentd/account.h"
#include "consentd/addr.h"
#include "consentd/csv.h"
#include "consentd/digest.h"
#include "consentd/text.h"

#define IMPORT_BATCH 20000

const char *account_validate(const char *id, const char *email, const char *name,
			     const char *lang, char *why, size_t whylen)
{
	size_t n = strlen(id), i;
	const char *r;

	if (n == 0)
		return "empty id";
	if (n > ACCOUNT_ID_MAX) {
		snprintf(why, whylen, "id longer than %d bytes", ACCOUNT_ID_MAX);
		return why;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
			return "id must be visible ASCII without spaces";
	if (!*email)
		return "empty email";
	if ((r = addr_check(email, strlen(email)))) {
		/* Quote at most 80 bytes, cut at a character boundary; never
		 * quote bytes that could break a terminal or a JSON string. */
		size_t cut = strnlen(email, 81);

		if (cut > 80)
			for (cut = 80; cut > 0 && ((unsigned char)email[cut] & 0xC0) == 0x80; cut--)
				;
		if (!text_utf8_valid(email, strlen(email)) || text_has_control(email, strlen(email)))
			snprintf(why, whylen, "email: %s", r);
		else
			snprintf(why, whylen, "email '%.*s%s': %s", (int)cut, email,
				 email[cut] ? "..." : "", r);
		return why;
	}
	if (name) {
		n = strlen(name);
		if (n > ACCOUNT_NAME_MAX) {
			snprintf(why, whylen, "name longer than %d bytes", ACCOUNT_NAME_MAX);
			return why;
		}
		if (!text_utf8_valid(name, n))
			return "name is not valid UTF-8";
		if (text_has_control(name, n))
			return "name holds control characters (line breaks, tabs)";
	}
	if (lang && *lang && strcmp(lang, "de") && strcmp(lang, "en"))
		return "lang must be de or en";
	return NULL;
}

/* upsert - name/lang NULL when the column is absent: an existing account
 * keeps its value. A new account, or an empty lang, gets default_lang. */
static int upsert(store *st, const config *cfg, const char *id, const char *email,
		  const char *name, const char *lang, bool *created_out)
{
	account existing;
	int rc;

	if (lang && !*lang) {
		lang = cfg->default_lang;
	} else if (!lang) {
		rc = store_account_get(st, id, &existing);
		digest_wipe(existing.hkey, sizeof(existing.hkey));
		if (rc == STORE_NOTFOUND)
			lang = cfg->default_lang;
		else if (rc)
			return rc;
	}
	return store_account_upsert(st, id, email, name, lang, created_out);
}

int account_put(store *st, const config *cfg, const char *id, const char *email,
		const char *name, const char *lang, bool create_only,
		bool *created_out, char *err, size_t errlen)
{
	account existing;
	char why[160];
	const char *bad = account_validate(id, email, name, lang, why, sizeof(why));
	int rc;

	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return STORE_ERR;
	}
	if ((rc = store_begin(st)))
		goto fail;
	if (create_only) {
		rc = store_account_get(st, id, &existing);
		digest_wipe(existing.hkey, sizeof(existing.hkey));
		if (rc == STORE_OK) {
			snprintf(err, errlen, "account '%s' already exists "
				 "(account set-email changes its address)", id);
			store_rollback(st);
			return STORE_EXISTS;
		}
		if (rc != STORE_NOTFOUND)
			goto fail;
	}
	if ((rc = upsert(st, cfg, id, email, name, lang, created_out)))
		goto fail;
	if ((rc = store_commit(st)))
		goto fail;
	return STORE_OK;
fail:
	store_rollback(st);
	snprintf(err, errlen, "%s", store_errmsg(st));
	return rc;
}

enum { COL_ID, COL_EMAIL, COL_NAME, COL_LANG, NCOLS };
static const char *const col_names[NCOLS] = { "id", "email", "name", "lang" };

/* read_header - map column names to positions; -1 with err on a bad header. */
static int read_header(csv_reader *r, int pos[NCOLS], size_t *nfields_out,
		       char *err, size_t errlen)
{
	csv_row row;
	size_t i;
	int c, rc = csv_next(r, &row);

	if (rc == CSV_EOF) {
		snprintf(err, errlen, "empty input: expected a header line id,email,name,lang");
		return -1;
	}
	if (rc != CSV_ROW) {
		snprintf(err, errlen, "line %lu: header: %s", row.line,
			 rc == CSV_BAD ? row.error : "read error");
		return -1;
	}
	for (c = 0; c < NCOLS; c++)
		pos[c] = -1;
	for (i = 0; i < row.nfields; i++) {
		for (c = 0; c < NCOLS; c++)
			if (!strcmp(row.field[i], col_names[c]))
				break;
		if (c == NCOLS) {
			snprintf(err, errlen, "line %lu: header: unknown column '%.40s' "
				 "(expected id,email,name,lang)", row.line, row.field[i]);
			return -1;
		}
		if (pos[c] >= 0) {
			snprintf(err, errlen, "line %lu: header: column '%s' twice", row.line,
				 col_names[c]);
			return -1;
		}
		pos[c] = (int)i;
	}
	if (pos[COL_ID] < 0 || pos[COL_EMAIL] < 0) {
		snprintf(err, errlen, "line %lu: header must name at least id and email",
			 row.line);
		return -1;
	}
	*nfields_out = row.nfields;
	return 0;
}

int account_import(store *st, const config *cfg, FILE *in, import_report *out,
		   import_bad_fn bad, void *arg, char *err, size_t errlen)
{
	csv_reader *r = csv_reader_new(in);
	int pos[NCOLS];
	size_t nfields;
	unsigned long in_batch = 0, committed = 0;
	char why[160];
	csv_row row;
	bool created, open = false;
	int rc = -1, crc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (read_header(r, pos, &nfields, err, errlen))
		goto cleanup;
	while ((crc = csv_next(r, &row)) != CSV_EOF) {
		const char *reason, *name, *lang;

		if (crc == CSV_IOERR) {
			snprintf(err, errlen, "read error after line %lu", row.line);
			goto cleanup;
		}
		out->rows++;
		if (crc == CSV_BAD) {
			reason = row.error;
		} else if (row.nfields != nfields) {
			snprintf(why, sizeof(why), "expected %zu fields, got %zu", nfields,
				 row.nfields);
			reason = why;
		} else {
			name = pos[COL_NAME] >= 0 ? row.field[pos[COL_NAME]] : NULL;
			lang = pos[COL_LANG] >= 0 ? row.field[pos[COL_LANG]] : NULL;
			reason = account_validate(row.field[pos[COL_ID]], row.field[pos[COL_EMAIL]],
						  name, lang, why, sizeof(why));
			if (!reason) {
				if (!open) {
					if ((rc = store_begin(st)))
						goto store_fail;
					open = true;
				}
				if ((rc = upsert(st, cfg, row.field[pos[COL_ID]],
						 row.field[pos[COL_EMAIL]], name, lang, &created)))
					goto store_fail;
				if (created)
					out->created++;
				else
					out->updated_or_same++;
				if (++in_batch == IMPORT_BATCH) {
					if ((rc = store_commit(st)))
						goto store_fail;
					open = false;
					committed += in_batch;
					in_batch = 0;
				}
				continue;
			}
		}
		out->bad++;
		if (bad)
			bad(row.line, reason, arg);
	}
	if (open && (rc = store_commit(st)))
		goto store_fail;
	open = false;
	rc = 0;
	goto cleanup;
store_fail:
	snprintf(err, errlen, "stopped at line %lu: %s (%lu rows were stored "
		 "before it; importing the file again is safe)", row.line,
		 store_errmsg(st), committed);
	store_rollback(st);
	if (rc == 0)
		rc = -1;
cleanup:
	csv_reader_free(r);
	return rc;
}
