/*
 * fuzz_policy.c - fuzz target over publishing a policy version and
 * rendering its announcement: bytes in as the summary file of
 * `policy publish`, the announcement out for a German and an English
 * account, against a real store and the shipped templates.
 *
 * Promises checked on any bytes: policy_publish either refuses with a
 * message or records the version; a recorded version renders for both
 * accounts; the mail is CRLF only, no line over 998 bytes, headers from a
 * fixed set (no summary byte can start a header), the body plain ASCII
 * (quoted-printable) with no line "." alone, and the rendered text
 * carries the summary as stored. Any violation aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consentd/broadcast.h"
#include "consentd/config.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_policy: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#define FUZZ_INPUT_MAX (POLICY_SUMMARY_MAX + 64)   /* a little over the limit */
#define RUNS_PER_STORE 500                         /* then a fresh store */

static store *st;
static config *cfg;
static template_set *ts;
static char dir[64], db[128], summary_path[128];
static unsigned long runs;

static void open_store(void)
{
	char path[160], err[512];

	store_close(st);
	st = NULL;
	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	CHECK(store_open(&st, db, 1000, STORE_CREATE, err, sizeof(err)) == STORE_OK);
	CHECK(store_account_upsert(st, "u1", "anna@example.org", "Anna Müller", "de", NULL) ==
	      STORE_OK);
	CHECK(store_account_upsert(st, "u2", "john@example.net", "John", "en", NULL) == STORE_OK);
}

static void setup(void)
{
	char conf[4096], err[512];
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/fuzz_policy.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/f.db", dir);
	snprintf(summary_path, sizeof(summary_path), "%s/summary.txt", dir);
	snprintf(conf, sizeof(conf),
		 "[service]\nname = Fuzz\naddress = dp@cloudwerk.example\n"
		 "reply_domain = cloudwerk.example\ncontroller = Fuzz GmbH, Berlin\n"
		 "[store]\npath = %s\n[templates]\ndir = %s/mailtemplates\n"
		 "[purpose log-linking]\ntitle_de = Verknüpfung\ntitle_en = Linking\n"
		 "description_de = Daten\ndescription_en = Data\n", db, CONSENTD_SRC_DIR);
	CHECK((fp = fmemopen(conf, strlen(conf), "r")) != NULL);
	if (config_load_stream(&cfg, fp, "fuzz.conf", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	fclose(fp);
	CHECK(template_load(&ts, cfg->templates_dir, err, sizeof(err)) == 0);
	open_store();
}

static bool allowed_header(const char *line, size_t n)
{
	static const char *const names[] = { "Date:", "From:", "To:", "Reply-To:", "Subject:",
		"Message-ID:", "Auto-Submitted:", "X-Auto-Response-Suppress:", "Content-Language:",
		"MIME-Version:", "Content-Type:", "Content-Transfer-Encoding:", NULL };
	size_t i, k;

	if (n > 0 && (line[0] == ' ' || line[0] == '\t'))
		return true;   /* a folded continuation */
	for (i = 0; names[i]; i++) {
		k = strlen(names[i]);
		if (n >= k && !strncmp(line, names[i], k))
			return true;
	}
	return false;
}

/* check_mail - the promises about the composed bytes. */
static void check_mail(const outmail *m)
{
	const char *p = m->message, *end = m->message + m->len, *eol;
	bool body = false;
	int subjects = 0;

	CHECK(m->len == strlen(m->message));
	while (p < end) {
		eol = strstr(p, "\r\n");
		CHECK(eol != NULL);                        /* every line ends in CRLF */
		CHECK(memchr(p, '\n', (size_t)(eol - p)) == NULL);
		CHECK(memchr(p, '\r', (size_t)(eol - p)) == NULL);
		CHECK(eol - p <= 998);
		if (!body && eol == p) {
			body = true;
		} else if (!body) {
			CHECK(allowed_header(p, (size_t)(eol - p)));
			if (!strncmp(p, "Subject:", 8))
				subjects++;
		} else {
			for (const char *q = p; q < eol; q++)
				CHECK((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
			CHECK(!(eol - p == 1 && p[0] == '.'));
		}
		p = eol + 2;
	}
	CHECK(body);
	CHECK(subjects == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char version[32], err[1024], sha[SHA256_HEX], *stored = NULL, spec[160];
	policy_new p;
	outmail m;
	account a;
	FILE *fp;
	int rc, i;

	if (!st)
		setup();
	if (size > FUZZ_INPUT_MAX)
		size = FUZZ_INPUT_MAX;
	if (++runs % RUNS_PER_STORE == 0)
		open_store();
	CHECK((fp = fopen(summary_path, "wb")) != NULL);
	CHECK(fwrite(data, 1, size, fp) == size);
	CHECK(fclose(fp) == 0);
	snprintf(version, sizeof(version), "v%lu", runs);
	snprintf(spec, sizeof(spec), "de=%s", summary_path);
	memset(&p, 0, sizeof(p));
	p.version = version;
	p.effective = "2030-01-01";
	p.material = true;
	p.summary[0] = spec;
	p.nsummary = 1;
	rc = policy_publish(st, cfg, &p, err, sizeof(err));
	if (rc != BROADCAST_OK) {
		CHECK(rc == BROADCAST_ERR && err[0]);   /* refused, and says why */
		return 0;
	}
	CHECK(store_policy_text(st, version, "de", &stored, sha) == STORE_OK);
	for (i = 0; i < 2; i++) {
		CHECK(store_account_get(st, i ? "u2" : "u1", &a) == STORE_OK);
		CHECK(policy_render(st, cfg, ts, version, &a, NULL, &m, err, sizeof(err)) == BROADCAST_OK);
		check_mail(&m);
		CHECK(strstr(m.body, stored) != NULL);   /* the summary as stored */
		outmail_clear(&m);
	}
	free(stored);
	return 0;
}
