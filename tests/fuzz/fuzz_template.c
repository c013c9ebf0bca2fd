/*
 * fuzz_template.c - the template loader and renderer on arbitrary bytes.
 *
 * A scratch directory is filled once with the shipped templates. Each
 * input is then written in turn as de/<name>.txt for every template name
 * (the shipped file is put back afterwards) and the set is loaded. The
 * loader must refuse with a message naming that file, or accept; an
 * accepted input must obey the rules any accepted template obeys (bounded,
 * valid UTF-8, no control characters but LF and CR before LF, starting
 * with "Subject:"), and it must render with every value: a one-line
 * subject, a body of valid UTF-8 lines ending in LF, no placeholder left.
 * Any difference aborts.
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consentd/template.h"
#include "consentd/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_template: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static const char *const names[TPL_COUNT] = {
	"consent-request", "receipt-granted", "receipt-declined", "receipt-revoked",
	"unclear-answer", "policy-change",
};

static const tpl_var vars[] = {
	{ "service_name", "CloudWerk Datenschutz" },
	{ "service_address", "datenschutz@cloudwerk.example" },
	{ "controller", "CloudWerk GmbH, Musterstraße 1, 10115 Berlin" },
	{ "account_name", "Jörg Müller" },
	{ "account_email", "joerg@example.org" },
	{ "purpose", "log-linking" },
	{ "purpose_title", "Verknüpfung Ihrer Daten mit Protokolldaten" },
	{ "purpose_description", "Zeile eins\nZeile zwei" },
	{ "purpose_version", "3" },
	{ "token", "0123456789abcdef0123456789abcdef" },
	{ "reply_address", "consent+0123456789abcdef@cloudwerk.example" },
	{ "withdraw_address", "consent@cloudwerk.example" },
	{ "expires", "2026-12-28" },
	{ "lifetime_days", "30" },
	{ "decision_time", "2026-11-28T02:51:47Z" },
	{ "policy_version", "1.2" },
	{ "effective_date", "2027-01-01" },
	{ "policy_summary", "- eins\n- zwei" },
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static char scratch[256];
static char *shipped[2][TPL_COUNT];    /* the shipped texts */
static size_t shipped_len[2][TPL_COUNT];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void cleanup_scratch(void)
{
	int l, i;

	if (scratch[0])
		nftw(scratch, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	for (l = 0; l < 2; l++)
		for (i = 0; i < TPL_COUNT; i++)
			free(shipped[l][i]);
}

static void write_file(const char *lang, const char *name, const void *data, size_t n)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s/%s.txt", scratch, lang, name);
	fp = fopen(path, "wb");
	CHECK(fp != NULL);
	CHECK(fwrite(data, 1, n, fp) == n);
	CHECK(fclose(fp) == 0);
}

static char *read_all(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long sz;

	CHECK(fp != NULL);
	CHECK(fseek(fp, 0, SEEK_END) == 0);
	sz = ftell(fp);
	CHECK(sz >= 0);
	rewind(fp);
	buf = malloc((size_t)sz + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)sz, fp) == (size_t)sz);
	fclose(fp);
	*n = (size_t)sz;
	return buf;
}

/* setup_once - SRC/mailtemplates (this file is SRC/tests/fuzz/...) copied
 * into a scratch directory. */
static void setup_once(void)
{
	const char *f = __FILE__, *tail = "tests/fuzz/fuzz_template.c";
	size_t n = strlen(f), t = strlen(tail);
	char path[512], src[400];
	int l, i;
	static const char *const langs[2] = { "de", "en" };

	if (scratch[0])
		return;
	CHECK(n >= t && strcmp(f + n - t, tail) == 0);
	snprintf(src, sizeof(src), "%.*smailtemplates", (int)(n - t), f);
	snprintf(scratch, sizeof(scratch), "/tmp/consentd-fuzz-XXXXXX");
	CHECK(mkdtemp(scratch) != NULL);
	atexit(cleanup_scratch);
	for (l = 0; l < 2; l++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, langs[l]);
		CHECK(mkdir(path, 0700) == 0);
		for (i = 0; i < TPL_COUNT; i++) {
			snprintf(path, sizeof(path), "%s/%s/%s.txt", src, langs[l], names[i]);
			shipped[l][i] = read_all(path, &shipped_len[l][i]);
			write_file(langs[l], names[i], shipped[l][i], shipped_len[l][i]);
		}
	}
}

/* acceptable - the rules every loaded template obeys, restated simply. */
static bool acceptable(const uint8_t *d, size_t n)
{
	size_t i, start = 0;

	if (n > TEMPLATE_MAX)
		return false;
	if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
		start = 3;
	if (n - start < 8 || strncasecmp((const char *)d + start, "Subject:", 8) != 0)
		return false;
	for (i = 0; i < n; i++) {
		if (d[i] == '\n')
			continue;
		if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n')
			continue;
		if (d[i] < 0x20 || d[i] == 0x7F)
			return false;
	}
	return text_utf8_valid((const char *)d, n);
}

static void check_render(const template_set *ts)
{
	static const char *const langs[2] = { "de", "en" };
	char err[512];
	int l, i;

	for (l = 0; l < 2; l++)
		for (i = 0; i < TPL_COUNT; i++) {
			char *subject = NULL, *body = NULL;
			size_t bn;

			if (template_render(ts, (enum template_id)i, langs[l], vars, NVARS,
					    &subject, &body, err, sizeof(err)) != 0) {
				/* only a subject grown past its bound may fail */
				CHECK(strstr(err, "longer than") != NULL);
				CHECK(subject == NULL && body == NULL);
				continue;
			}
			CHECK(strchr(subject, '\n') == NULL && strchr(subject, '\r') == NULL);
			CHECK(!text_has_control(subject, strlen(subject)));
			CHECK(strstr(subject, "{{") == NULL && strstr(body, "{{") == NULL);
			bn = strlen(body);
			CHECK(bn > 0 && body[bn - 1] == '\n');
			CHECK(text_utf8_valid(body, bn));
			CHECK(strchr(body, '\r') == NULL);
			free(subject);
			free(body);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024], prefix[512];
	int i;

	setup_once();
	for (i = 0; i < TPL_COUNT; i++) {
		template_set *ts = NULL;
		int r;

		write_file("de", names[i], data, size);
		r = template_load(&ts, scratch, err, sizeof(err));
		if (r == 0) {
			CHECK(ts != NULL);
			CHECK(acceptable(data, size));
			check_render(ts);
		} else {
			CHECK(r == -1 && ts == NULL);
			snprintf(prefix, sizeof(prefix), "%s/de/%s.txt:", scratch, names[i]);
			if (strncmp(err, prefix, strlen(prefix)) != 0) {
				fprintf(stderr, "fuzz_template: error \"%s\" does not name %s\n",
					err, prefix);
				abort();
			}
		}
		template_set_free(ts);
		write_file("de", names[i], shipped[0][i], shipped_len[0][i]);
	}
	return 0;
}
