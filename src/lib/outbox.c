/*
 * outbox.c - the sending duty (see outbox.h). Each message's outcome is
 * written in its own transaction from inside the SMTP session, right after
 * the server's reply for it, so a crash can repeat at most the messages in
 * flight. Sent requests are kept as evidence with their token masked (the
 * SHA-256 of the bytes as sent stays in the row and in the ledger).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/outbox.h"
#include "consentd/outmail.h"
#include "consentd/smtp_out.h"
#include "consentd/text.h"

typedef struct run_ctx {
	store *st;
	outbox_item *items;
	outbox_log_fn log;
	void *arg;
	outbox_stats *stats;
	int progress;             /* messages with a server answer this session */
	int store_rc;             /* first store failure */
	char store_err[256];
} run_ctx;

int64_t outbox_backoff(int attempts)
{
	int64_t b = OUTBOX_BACKOFF_MIN;

	while (--attempts > 0 && b < OUTBOX_BACKOFF_MAX)
		b *= 2;
	return b < OUTBOX_BACKOFF_MAX ? b : OUTBOX_BACKOFF_MAX;
}

static void record(run_ctx *r, const outbox_item *it, const char *state, const char *response,
		   int64_t next, const char *message, size_t len)
{
	int64_t now = text_now();
	int rc = store_outbox_result(r->st, it->id, state, response, next,
				     strcmp(state, "sent") && strcmp(state, "failed") ? 0 : now,
				     message, len);

	if (rc && !r->store_rc) {
		r->store_rc = rc;
		snprintf(r->store_err, sizeof(r->store_err), "%s", store_errmsg(r->st));
	}
	if (r->log)
		r->log(it, state, response, r->arg);
}

/* job_done - the outcome of one message, straight from the SMTP session. */
static void job_done(smtp_job *job, void *arg)
{
	run_ctx *r = arg;
	const outbox_item *it = NULL;
	int64_t now = text_now();
	char why[SMTP_RESPONSE_MAX + 64];
	char *masked = NULL;
	size_t i;

	for (i = 0; i < OUTBOX_BATCH; i++)
		if (r->items[i].id == job->id) {
			it = &r->items[i];
			break;
		}
	if (!it)
		return;
	switch (job->status) {
	case SMTP_JOB_SENT:
		r->progress++;
		r->stats->sent++;
		if (it->token)
			masked = outmail_mask_token(it->message, it->message_len, it->token);
		record(r, it, "sent", job->response, 0, masked, masked ? it->message_len : 0);
		free(masked);
		return;
	case SMTP_JOB_FAILED:
		r->progress++;
		r->stats->failed++;
		record(r, it, "failed", job->response, 0, NULL, 0);
		return;
	case SMTP_JOB_DEFERRED:
		r->progress++;
		break;
	case SMTP_JOB_UNTRIED:
		break;
	}
	if (now - it->created >= OUTBOX_MAX_AGE) {
		r->stats->failed++;
		snprintf(why, sizeof(why), "undelivered for 5 days; last: %s", job->response);
		record(r, it, "failed", why, 0, NULL, 0);
		return;
	}
	r->stats->deferred++;
	record(r, it, "deferred", job->response, now + outbox_backoff(it->attempts), NULL, 0);
}

int outbox_reclaim(store *st, int *n_out)
{
	return store_outbox_reclaim_sending(st, n_out);
}

int outbox_run(store *st, const config *cfg, int (*stop)(void), outbox_log_fn log,
	       void *arg, outbox_stats *out, char *err, size_t errlen)
{
	outbox_item items[OUTBOX_BATCH];
	smtp_job jobs[OUTBOX_BATCH];
	char session_err[SMTP_RESPONSE_MAX];
	run_ctx r;
	int n, i, rc = STORE_OK;

	memset(out, 0, sizeof(*out));
	memset(items, 0, sizeof(items));
	err[0] = '\0';
	/* Outcomes are written with synchronous=NORMAL: a power loss can at
	 * worst forget that a mail was sent, and it is sent again; it cannot
	 * lose a mail (queued rows were written with FULL). */
	if ((rc = store_sync_full(st, false))) {
		snprintf(err, errlen, "%s", store_errmsg(st));
		return rc;
	}
	while (!(stop && stop())) {
		if ((rc = store_outbox_claim(st, text_now(), OUTBOX_LEASE, items, OUTBOX_BATCH, &n))) {
			snprintf(err, errlen, "%s", store_errmsg(st));
			break;
		}
		if (n == 0)
			break;
		memset(jobs, 0, sizeof(jobs));
		for (i = 0; i < n; i++) {
			jobs[i].id = items[i].id;
			jobs[i].sender = items[i].sender;
			jobs[i].rcpt = items[i].rcpt;
			jobs[i].data = items[i].message;
		}
		memset(&r, 0, sizeof(r));
		r.st = st;
		r.items = items;
		r.log = log;
		r.arg = arg;
		r.stats = out;
		out->sessions++;
		if (smtp_out_send(cfg, jobs, (size_t)n, job_done, &r, session_err,
				  sizeof(session_err))) {
			/* Not even a session: put the batch back for later. */
			for (i = 0; i < n; i++) {
				job_done(&jobs[i], &r);
			}
			snprintf(err, errlen, "%s", session_err);
		}
		for (i = 0; i < n; i++)
			outbox_item_clear(&items[i]);
		if (r.store_rc) {
			rc = r.store_rc;
			snprintf(err, errlen, "%s", r.store_err);
			break;
		}
		if (r.progress == 0)
			break;   /* unreachable or refusing everything: wait for backoff */
	}
	if (store_sync_full(st, true) && !rc) {
		rc = STORE_ERR;
		snprintf(err, errlen, "%s", store_errmsg(st));
	}
	return rc;
}
