/*
 * fuzz_inbound.c - fuzz target over the whole inbound core: bytes in, one
 * recorded outcome out (inbound_process, inbound.h), against a real store.
 *
 * The store holds two accounts; u1 always has an open request whose token
 * replaces every "{{TOKEN}}" in the input, so inputs can reach every branch
 * (answers, withdrawals, forged senders, bounces of the request). The
 * first input byte chooses the channel and envelope. Promises checked on
 * any bytes: inbound_process records every message (returns 0), with one
 * of the five outcomes; a duplicate delivery of the same bytes is recorded
 * as a duplicate and changes no state; the ledger verifies. Any violation
 * aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/inbound.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_inbound: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#define FUZZ_INPUT_MAX (256 * 1024)   /* larger inputs are cut */

static store *st;
static config *cfg;
static template_set *ts;
static char token[33];
static unsigned long runs;

/* fresh_request - a new open request for u1; its token into token[]. */
static void fresh_request(void)
{
	consent_request_info info;
	outbox_item items[50];
	char err[512], state[16];
	int n, i;

	CHECK(consent_state(st, 1, "log-linking", text_now(), state) == STORE_OK);
	if (!strcmp(state, STATE_GRANTED)) {
		CHECK(consent_revoke(st, cfg, ts, "u1", "log-linking", "fuzz", state, err,
				     sizeof(err)) == CONSENT_OK);
	}
	CHECK(consent_request(st, cfg, ts, "u1", "log-linking", true, &info, err,
			      sizeof(err)) == CONSENT_OK);
	/* The plaintext token is only in the outbox: take it from there. */
	do {
		CHECK(store_outbox_claim(st, text_now() + 10, 60, items, 50, NULL, &n) == STORE_OK);
		for (i = 0; i < n; i++) {
			if (items[i].request == info.request && items[i].token)
				snprintf(token, sizeof(token), "%s", items[i].token);
			CHECK(store_outbox_result(st, items[i].id, "cancelled", "fuzz", 0,
						  text_now(), NULL, 0) == STORE_OK);
			outbox_item_clear(&items[i]);
		}
	} while (n > 0);
	CHECK(strlen(token) == 32);
}

static void setup(void)
{
	char dir[] = "/tmp/fuzz_inbound.XXXXXX", conf[4096], path[256], err[512];
	FILE *fp;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(conf, sizeof(conf),
		 "[service]\nname = Fuzz\naddress = dp@cloudwerk.example\n"
		 "reply_domain = cloudwerk.example\ncontroller = Fuzz GmbH, Berlin\n"
		 "[store]\npath = %s/f.db\n[templates]\ndir = %s/mailtemplates\n"
		 "[purpose log-linking]\ntitle_de = Verknüpfung\ntitle_en = Linking\n"
		 "description_de = Daten\ndescription_en = Data\n", dir, CONSENTD_SRC_DIR);
	CHECK((fp = fmemopen(conf, strlen(conf), "r")) != NULL);
	if (config_load_stream(&cfg, fp, "fuzz.conf", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	fclose(fp);
	CHECK(template_load(&ts, cfg->templates_dir, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "%s/f.db", dir);
	CHECK(store_open(&st, path, 1000, STORE_CREATE, err, sizeof(err)) == STORE_OK);
	CHECK(store_account_upsert(st, "u1", "anna@example.org", "Anna", "de", NULL) == STORE_OK);
	CHECK(store_account_upsert(st, "u2", "john@example.net", "John", "en", NULL) == STORE_OK);
	fresh_request();
}

/* fill - the input with {{TOKEN}} replaced, NUL-terminated. */
static char *fill(const uint8_t *data, size_t size, size_t *out_len)
{
	static const char ph[] = "{{TOKEN}}";
	char *out = xmalloc(size * 4 + 1);
	size_t i = 0, n = 0;

	while (i < size) {
		if (size - i >= sizeof(ph) - 1 && !memcmp(data + i, ph, sizeof(ph) - 1)) {
			memcpy(out + n, token, 32);
			n += 32;
			i += sizeof(ph) - 1;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

static int64_t events(void)
{
	int64_t seq;
	char h[SHA256_HEX];

	CHECK(store_head(st, &seq, h) == STORE_OK);
	return seq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const outcomes[] = { "granted", "declined", "revoked", "review",
						"ignored", NULL };
	char rcpt[128], err[512], state[16];
	inbound_result res, again;
	inbound_msg msg;
	ledger_report rep;
	size_t len;
	char *raw;
	int64_t before;
	int i;

	if (!st)
		setup();
	if (size < 1)
		return 0;
	if (size > FUZZ_INPUT_MAX)
		size = FUZZ_INPUT_MAX;
	raw = fill(data + 1, size - 1, &len);
	memset(&msg, 0, sizeof(msg));
	msg.channel = data[0] & 1 ? CHANNEL_PIPE : CHANNEL_IMAP;
	msg.raw = raw;
	msg.len = len;
	if (data[0] & 1) {
		snprintf(rcpt, sizeof(rcpt), "consent%s@cloudwerk.example",
			 data[0] & 2 ? "" : data[0] & 4 ? "+withdraw-log-linking" : "+x");
		if (data[0] & 8)
			snprintf(rcpt, sizeof(rcpt), "consent+%s@cloudwerk.example", token);
		msg.env_rcpt = rcpt;
		msg.env_sender = data[0] & 16 ? "" : "anna@example.org";
	}
	CHECK(inbound_process(st, cfg, ts, &msg, &res, err, sizeof(err)) == 0);
	for (i = 0; outcomes[i] && strcmp(outcomes[i], res.outcome); i++)
		;
	CHECK(outcomes[i] != NULL);
	CHECK(res.reason[0] != '\0');
	/* The same bytes again: a duplicate, nothing changes. */
	before = events();
	CHECK(consent_state(st, 1, "log-linking", text_now(), state) == STORE_OK);
	CHECK(inbound_process(st, cfg, ts, &msg, &again, err, sizeof(err)) == 0);
	CHECK(again.duplicate && !strcmp(again.outcome, "ignored"));
	CHECK(events() == before);
	free(raw);
	if (strcmp(res.outcome, "ignored") && strcmp(res.outcome, "review"))
		fresh_request();
	if (++runs % 256 == 0) {
		CHECK(ledger_verify(st, &rep) == 0);
	}
	return 0;
}
