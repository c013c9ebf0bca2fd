/*
 * test_api - the public C API (consentd.h) gives the same answers as
 * consentctl: check, state, granted, and errors for unknown purposes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/consentd.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

static char dir[64], conf_path[128];

static void write_config(void)
{
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/consentd-api-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/c.conf", dir);
	fp = fopen(conf_path, "w");
	assert_non_null(fp);
	fprintf(fp, "[service]\naddress = dsb@example.org\nreply_domain = example.org\n"
		"controller = Example GmbH, Weg 1, 10115 Berlin\n"
		"[store]\npath = %s/c.db\n"
		"[purpose log-linking]\ntitle_de = Verknüpfung\ntitle_en = Linking\n"
		"description_de = Kontodaten und Protokolle\ndescription_en = account data and logs\n"
		"[purpose telemetry]\ntitle_de = Telemetrie\ntitle_en = Telemetry\n"
		"description_de = Nutzungsdaten\ndescription_en = usage data\n", dir);
	fclose(fp);
}

static void remove_dir(void)
{
	const char *files[] = { "c.conf", "c.db", "c.db-wal", "c.db-shm" };
	char path[160];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* grant - record a request and its grant, as the inbound channel will. */
static template_set *ts;

static void grant(store *st, const config *cfg, const char *id, const char *purpose)
{
	consent_request_info info;
	char err[256];
	event_row ev;
	account a;

	assert_int_equal(consent_request(st, cfg, ts, id, purpose, false, &info, err, sizeof(err)),
			 CONSENT_OK);
	assert_int_equal(store_begin(st), STORE_OK);
	assert_int_equal(store_account_get(st, id, &a), STORE_OK);
	memset(&ev, 0, sizeof(ev));
	ev.at = text_now();
	ev.acct = a.key;
	ev.request = info.request;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", purpose);
	snprintf(ev.kind, sizeof(ev.kind), EV_GRANT);
	snprintf(ev.channel, sizeof(ev.channel), CHANNEL_PIPE);
	assert_int_equal(ledger_append(st, &ev, &a), STORE_OK);
	assert_int_equal(store_commit(st), STORE_OK);
}

/* granted_is - consentd_check that must succeed. */
static bool granted_is(consentd_handle *h, const char *id, const char *purpose)
{
	bool granted = true;

	assert_int_equal(consentd_check(h, id, purpose, &granted), 0);
	return granted;
}

static int collect(const char *id, void *arg)
{
	char *buf = arg;

	strcat(buf, id);
	strcat(buf, " ");
	return 0;
}

static int stop_after_first(const char *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
	return 7;
}

static void test_api_answers(void **state)
{
	config *cfg = NULL;
	store *st = NULL;
	consentd_handle *h = NULL;
	char err[512], got_ids[256] = "";
	bool created, granted;
	int calls = 0;
	const char *ids[] = { "a", "b", "c" };
	size_t i;

	(void)state;
	write_config();
	assert_int_equal(config_load(&cfg, conf_path, err, sizeof(err)), 0);
	assert_int_equal(store_open(&st, cfg->store_path, 1000, STORE_CREATE, err, sizeof(err)), 0);
	assert_int_equal(template_load(&ts, TEST_TEMPLATES_DIR, err, sizeof(err)), 0);
	for (i = 0; i < 3; i++) {
		char email[64];

		snprintf(email, sizeof(email), "%s@example.org", ids[i]);
		assert_int_equal(store_account_upsert(st, ids[i], email, NULL, "de", &created), 0);
	}
	grant(st, cfg, "a", "log-linking");
	grant(st, cfg, "c", "log-linking");
	grant(st, cfg, "b", "telemetry");

	assert_int_equal(consentd_open(&h, conf_path, err, sizeof(err)), 0);
	assert_true(granted_is(h, "a", "log-linking"));
	assert_false(granted_is(h, "b", "log-linking"));   /* other purpose */
	assert_true(granted_is(h, "b", "telemetry"));
	assert_false(granted_is(h, "zz", "log-linking"));  /* unknown account */
	granted = true;
	assert_int_equal(consentd_check(h, "a", "nope", &granted), -1);
	assert_false(granted);
	assert_non_null(strstr(consentd_errmsg(h), "unknown purpose 'nope'"));
	assert_string_equal(consentd_state(h, "a", "telemetry"), "none");
	assert_string_equal(consentd_state(h, "a", "log-linking"), "granted");
	assert_int_equal(consentd_granted(h, "log-linking", collect, got_ids), 0);
	assert_string_equal(got_ids, "a c ");
	assert_int_equal(consentd_granted(h, "log-linking", stop_after_first, &calls), 7);
	assert_int_equal(calls, 1);
	assert_int_equal(consentd_granted(h, "nope", collect, got_ids), -1);

	/* Erasure: the API answers 0 at once. */
	assert_int_equal(consent_erase(st, "a", err, sizeof(err)), CONSENT_OK);
	assert_false(granted_is(h, "a", "log-linking"));

	consentd_close(h);
	consentd_close(NULL);
	template_set_free(ts);
	store_close(st);
	config_free(cfg);
	remove_dir();
}

static void test_api_open_errors(void **state)
{
	consentd_handle *h = (consentd_handle *)1;
	char err[512];

	(void)state;
	assert_int_equal(consentd_open(&h, "/nonexistent/consentd.conf", err, sizeof(err)), -1);
	assert_null(h);
	assert_non_null(strstr(err, "cannot read configuration"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_answers),
		cmocka_unit_test(test_api_open_errors),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
