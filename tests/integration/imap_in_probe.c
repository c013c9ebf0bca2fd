/*
 * imap_in_probe - drive the imap_in module against a real IMAP server for
 * tests/integration/test_imap_in.sh.
 *
 *   imap_in_probe -c CONFIG [--state FILE] [--batch N] [--max-bytes N]
 *                 [--route processed|review|odd] [--fail-at K]
 *                 [--stop-after N] [--passes N] [--idle SECS] [--timeout S]
 *
 * --state FILE    the remembered "UIDVALIDITY LAST_UID" (read when the file
 *                 exists, written after every pass; absent: 0 0)
 * --route         where the callback sends messages: all to processed
 *                 (default), all to review, or odd UIDs to review and even
 *                 ones to processed
 * --fail-at K     the callback returns -1 for the K-th message of this run
 * --stop-after N  stop() says stop once N messages were handed over
 * --passes N      passes to run (default 1)
 * --timeout S     per network operation (default: [imap] timeout)
 * --idle SECS     after the passes: print "idle waiting", wait with IDLE up
 *                 to SECS for new mail, print "idle new_mail=0|1 waited=S",
 *                 and when mail came run one more pass
 *
 * Prints one line per message handed over,
 *   uid=N len=N size=N truncated=0|1 sha256=HEX
 * (len: bytes handed over, size: the full size), and after each pass
 *   pass n=N uidvalidity=V last_uid=U
 * Exit 0, or 1 with "imap_in_probe: ..." on stderr (after a failed pass, the
 * state file still holds what was moved), 2 on a usage error.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/config.h"
#include "consentd/digest.h"
#include "consentd/imap_in.h"

enum route { ROUTE_PROCESSED, ROUTE_REVIEW, ROUTE_ODD };

static enum route route = ROUTE_PROCESSED;
static long handed, fail_at, stop_after;

static int on_message(const char *raw, size_t len, uint32_t uid, bool truncated,
		      uint32_t full_size, void *arg)
{
	char hex[DIGEST_HEX];

	(void)arg;
	digest_sha256_hex(raw, len, hex);
	printf("uid=%u len=%zu size=%u truncated=%d sha256=%s\n", uid, len, full_size,
	       truncated ? 1 : 0, hex);
	fflush(stdout);
	if (++handed == fail_at)
		return -1;
	if (route == ROUTE_ODD)
		return uid % 2 ? IMAP_DEST_REVIEW : IMAP_DEST_PROCESSED;
	return route == ROUTE_REVIEW ? IMAP_DEST_REVIEW : IMAP_DEST_PROCESSED;
}

static int should_stop(void)
{
	return stop_after > 0 && handed >= stop_after;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void save_state(const char *path, uint32_t uv, uint32_t last)
{
	FILE *f;

	if (!path)
		return;
	if (!(f = fopen(path, "w")) || fprintf(f, "%u %u\n", uv, last) < 0 || fclose(f)) {
		fprintf(stderr, "imap_in_probe: cannot write %s\n", path);
		exit(1);
	}
}

static int pass(imap_in *s, const char *state, uint32_t *uv, uint32_t *last, int batch,
		size_t max_bytes)
{
	char err[512];
	int n, r;

	r = imap_in_pass(s, uv, last, batch, max_bytes, on_message, NULL, NULL, should_stop, &n, err,
			 sizeof(err));
	save_state(state, *uv, *last);
	if (r) {
		fprintf(stderr, "imap_in_probe: pass: %s\n", err);
		return -1;
	}
	printf("pass n=%d uidvalidity=%u last_uid=%u\n", n, *uv, *last);
	fflush(stdout);
	return 0;
}

/* idle - wait up to secs for new mail; 1 when it came, 0 when not, -1. */
static int idle(imap_in *s, double secs, double *waited)
{
	double t0 = now_s(), left;
	char err[512] = "";
	bool new_mail = false;
	int r;

	printf("idle waiting\n");
	fflush(stdout);
	while (!new_mail && (left = secs - (now_s() - t0)) > 0) {
		struct pollfd pfd = { .fd = imap_in_idle_fd(s), .events = POLLIN };

		if ((r = imap_in_idle_start(s, err, sizeof(err))) < 0)
			break;
		if (r == 0 && poll(&pfd, 1, (int)(left * 1000) + 1) < 0) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			break;
		}
		if (imap_in_idle_done(s, &new_mail, err, sizeof(err)))
			break;
		err[0] = '\0';
	}
	*waited = now_s() - t0;
	if (err[0]) {
		fprintf(stderr, "imap_in_probe: idle: %s\n", err);
		return -1;
	}
	return new_mail;
}

static void usage(void)
{
	fprintf(stderr, "usage: imap_in_probe -c CONFIG [--state FILE] [--batch N] [--max-bytes N]\n"
		"       [--route processed|review|odd] [--fail-at K] [--stop-after N]\n"
		"       [--passes N] [--idle SECS] [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *state = NULL;
	config *cfg = NULL;
	imap_in *s = NULL;
	char err[512];
	uint32_t uv = 0, last = 0;
	long batch = 100, passes = 1, timeout = 0;
	double idle_secs = 0, waited;
	size_t max_bytes = 10u << 20;
	int i, rc = 1, r;
	FILE *f;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "-c"))
			conf = v;
		else if (!strcmp(a, "--state"))
			state = v;
		else if (!strcmp(a, "--batch"))
			batch = strtol(v, NULL, 10);
		else if (!strcmp(a, "--max-bytes"))
			max_bytes = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--route") && !strcmp(v, "processed"))
			route = ROUTE_PROCESSED;
		else if (!strcmp(a, "--route") && !strcmp(v, "review"))
			route = ROUTE_REVIEW;
		else if (!strcmp(a, "--route") && !strcmp(v, "odd"))
			route = ROUTE_ODD;
		else if (!strcmp(a, "--fail-at"))
			fail_at = strtol(v, NULL, 10);
		else if (!strcmp(a, "--stop-after"))
			stop_after = strtol(v, NULL, 10);
		else if (!strcmp(a, "--passes"))
			passes = strtol(v, NULL, 10);
		else if (!strcmp(a, "--idle"))
			idle_secs = strtod(v, NULL);
		else if (!strcmp(a, "--timeout"))
			timeout = strtol(v, NULL, 10);
		else
			usage();
	}
	if (!conf)
		usage();
	if (state && (f = fopen(state, "r"))) {
		if (fscanf(f, "%u %u", &uv, &last) != 2)
			uv = last = 0;
		fclose(f);
	}
	if (config_load(&cfg, conf, err, sizeof(err))) {
		fprintf(stderr, "imap_in_probe: %s\n", err);
		return 1;
	}
	if (timeout <= 0)
		timeout = cfg->imap_timeout;
	if (imap_in_open(&s, cfg, (int)timeout, err, sizeof(err))) {
		fprintf(stderr, "imap_in_probe: open: %s\n", err);
		goto cleanup;
	}
	for (i = 0; i < passes; i++)
		if (pass(s, state, &uv, &last, (int)batch, max_bytes))
			goto cleanup;
	if (idle_secs > 0) {
		if (!imap_in_has_idle(s)) {
			fprintf(stderr, "imap_in_probe: the server has no IDLE\n");
			goto cleanup;
		}
		if ((r = idle(s, idle_secs, &waited)) < 0)
			goto cleanup;
		printf("idle new_mail=%d waited=%.2f\n", r, waited);
		if (r && pass(s, state, &uv, &last, (int)batch, max_bytes))
			goto cleanup;
	}
	rc = 0;
cleanup:
	imap_in_free(s);
	config_free(cfg);
	return rc;
}
