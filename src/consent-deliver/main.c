/*
 * consent-deliver - the Postfix pipe(8) end of consentd.
 *
 *   consent-deliver [-c FILE] -f SENDER -r RECIPIENT   < message
 *
 * Reads one message on stdin and hands it to the same core that judges
 * mail read over IMAP (inbound.h). Promises: exit 0 only once the outcome
 * (applied, ignored with a reason, or held for review) is committed to the
 * store; every other ending, whatever the cause, exits 75 (EX_TEMPFAIL) so
 * that Postfix keeps the message and retries: a reply is never bounced or
 * lost because of us. The exit status comes from one table.
 *
 * The message is read up to [inbound] max_size; a larger one is still read
 * to its end (to hash it as evidence) and recorded as oversized.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "consentd/config.h"
#include "consentd/digest.h"
#include "consentd/inbound.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

#define READ_CHUNK 65536   /* bytes read from stdin at a time */

enum status {
	ST_RECORDED,          /* the outcome is committed */
	ST_USAGE,             /* bad command line (master.cf) */
	ST_CONFIG,            /* configuration or templates broken */
	ST_STORE,             /* database missing, locked, unwritable, full */
	ST_INPUT,             /* reading stdin failed */
	ST_COUNT
};

/* The one table: what Postfix is told. Anything not listed is 75. */
static const struct { enum status st; int code; const char *meaning; } exit_table[] = {
	{ ST_RECORDED, 0, "recorded" },
	{ ST_USAGE, 75, "usage error: fix master.cf; Postfix keeps the mail" },
	{ ST_CONFIG, 75, "configuration error: Postfix keeps the mail" },
	{ ST_STORE, 75, "store unavailable: Postfix retries" },
	{ ST_INPUT, 75, "input error: Postfix retries" },
};
#define EXIT_DEFAULT 75   /* EX_TEMPFAIL */

static int exit_code(enum status st)
{
	size_t i;

	for (i = 0; i < sizeof(exit_table) / sizeof(exit_table[0]); i++)
		if (exit_table[i].st == st)
			return exit_table[i].code;
	return EXIT_DEFAULT;
}

static void report(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* report - to syslog (mail) and stderr: Postfix shows a failing command's
 * output in its log. */
static void report(int prio, const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	syslog(prio, "%s", line);
	if (prio <= LOG_WARNING)
		fprintf(stderr, "consent-deliver: %s\n", line);
}

typedef struct input {
	char *buf;                /* the first max bytes */
	size_t len, max;
	size_t canon_size;        /* size of the whole in CRLF form */
	bool truncated;
	bool prev_cr;
	digest *d;                /* SHA-256 of the whole in CRLF form */
} input;

/* feed - hash chunk as CRLF text and keep what fits. */
static void feed(input *in, const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && !in->prev_cr) {
			digest_update(in->d, p + start, i - start);
			digest_update(in->d, "\r", 1);
			in->canon_size++;
			start = i;
		}
		in->prev_cr = p[i] == '\r';
	}
	digest_update(in->d, p + start, n - start);
	in->canon_size += n;
	if (in->len + n > in->max) {
		in->truncated = true;
		n = in->max - in->len;
	}
	memcpy(in->buf + in->len, p, n);
	in->len += n;
}

static int read_all(input *in)
{
	char chunk[READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		feed(in, chunk, (size_t)n);
	}
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: consent-deliver [-c FILE] -f SENDER -r RECIPIENT < message\n"
		"  for Postfix pipe(8): flags=DRhu argv=consent-deliver -c FILE "
		"-f ${sender} -r ${recipient}\n"
		"  exit 0 when the outcome is recorded, 75 (retry later) otherwise\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL, *sender = NULL, *rcpt = NULL;
	config *cfg = NULL;
	template_set *ts = NULL;
	store *st = NULL;
	input in;
	inbound_msg msg;
	inbound_result res;
	char err[1024], sha[DIGEST_HEX];
	enum status status = ST_USAGE;
	int i, rc;

	memset(&in, 0, sizeof(in));
	openlog("consent-deliver", LOG_PID, LOG_MAIL);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "-f") && i + 1 < argc)
			sender = argv[++i];
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			rcpt = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			goto cleanup;
		}
	}
	if (!sender || !rcpt) {
		usage(stderr);
		report(LOG_ERR, "-f SENDER and -r RECIPIENT are required");
		goto cleanup;
	}
	status = ST_CONFIG;
	if (config_load(&cfg, path, err, sizeof(err)) ||
	    template_load(&ts, cfg->templates_dir, err, sizeof(err))) {
		report(LOG_ERR, "%s", err);
		goto cleanup;
	}
	status = ST_INPUT;
	in.max = (size_t)cfg->inbound_max_size;
	in.buf = xmalloc(in.max + 1);
	in.d = digest_new();
	digest_start_sha256(in.d);
	if (read_all(&in)) {
		report(LOG_ERR, "reading the message: %s", strerror(errno));
		goto cleanup;
	}
	digest_final_hex(in.d, sha);
	status = ST_STORE;
	/* No STORE_CREATE: a wrong path must not start an empty store. */
	if (store_open(&st, cfg->store_path, cfg->busy_timeout_ms, 0, err, sizeof(err))) {
		report(LOG_ERR, "%s", err);
		goto cleanup;
	}
	memset(&msg, 0, sizeof(msg));
	msg.channel = CHANNEL_PIPE;
	msg.raw = in.buf;
	msg.len = in.len;
	msg.truncated = in.truncated;
	msg.full_size = in.canon_size;
	msg.full_sha256 = sha;
	msg.env_sender = sender;
	msg.env_rcpt = rcpt;
	if ((rc = inbound_process(st, cfg, ts, &msg, &res, err, sizeof(err)))) {
		report(LOG_ERR, "not recorded (%s), Postfix will retry: %s",
		       rc == STORE_BUSY ? "store locked" : "error", err);
		goto cleanup;
	}
	status = ST_RECORDED;
	report(LOG_INFO, "#%lld msgid=<%s> %s %s%s%s%s%s: %s", (long long)res.inbox_id,
	       res.msg_id, res.outcome, res.reason, res.account[0] ? " account=" : "",
	       res.account, res.purpose[0] ? " purpose=" : "", res.purpose, res.detail);
cleanup:
	store_close(st);
	template_set_free(ts);
	config_free(cfg);
	digest_free(in.d);
	free(in.buf);
	closelog();
	return exit_code(status);
}
