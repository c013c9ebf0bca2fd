/*
 * outbox.c - the sending duty (see outbox.h). Each message's outcome is
 * written in its own transaction from inside the SMTP session, right after
 * the server's reply for it, so a crash can repeat at most the messages in
 * flight. Sent requests are kept as evidence with their token masked (the
 * SHA-256 of the bytes as sent stays in the row and in the ledger). An
 * outcome write that meets a lock is retried for up to a minute before the
 * session goes on; a row whose account changed its primary address since
 * the mail was rendered is cancelled, never sent to the old address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/outbox.h"
#include "consentd/digest.h"
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

#define RESULT_RETRY_SECONDS 60

static void record(run_ctx *r, const outbox_item *it, const char *state, const char *response,
		   int64_t next)
{
	int64_t now = text_now(), until = now + RESULT_RETRY_SECONDS;
	int rc;

	/* The server has answered: losing this write would send the mail again
	 * (a lock held by consentctl, e.g. an import), so wait for the lock. */
	while ((rc = store_outbox_result(r->st, it->id, state, response, next,
					 strcmp(state, "sent") && strcmp(state, "failed") &&
					 strcmp(state, "cancelled") ? 0 : now, NULL, 0)) == STORE_BUSY &&
	       text_now() < until)
		;
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
		record(r, it, "sent", job->response, 0);
		return;
	case SMTP_JOB_FAILED:
		r->progress++;
		r->stats->failed++;
		record(r, it, "failed", job->response, 0);
		return;
	case SMTP_JOB_DEFERRED:
		r->progress++;
		break;
	case SMTP_JOB_UNTRIED:
		/* Untried after others got through (dropped connection, a stop):
		 * back to the queue now, the attempt not counted; the next session
		 * takes it. Untried with no progress at all: the server is
		 * unreachable, so back off. */
		if (r->progress > 0) {
			r->stats->retried++;
			record(r, it, "queued", job->response, now);
			return;
		}
		break;
	}
	if (now - it->created >= OUTBOX_MAX_AGE) {
		r->stats->failed++;
		snprintf(why, sizeof(why), "undelivered for 5 days; last: %s", job->response);
		record(r, it, "failed", why, 0);
		return;
	}
	r->stats->deferred++;
	record(r, it, "deferred", job->response, now + outbox_backoff(it->attempts));
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
	size_t nj;
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
		memset(&r, 0, sizeof(r));
		r.st = st;
		r.items = items;
		r.log = log;
		r.arg = arg;
		r.stats = out;
		for (i = 0, nj = 0; i < n; i++) {
			if (items[i].address_changed) {
				record(&r, &items[i], "cancelled", "not sent: the account's primary "
				       "address changed after this mail was queued", 0);
				continue;
			}
			/* The bytes as sent: the stored copy with its token put back,
			 * checked against the hash the ledger holds. */
			if (items[i].token) {
				char *real = outmail_unmask(items[i].message, items[i].message_len,
							    items[i].token);
				char sha[SHA256_HEX];

				digest_sha256_hex(real, items[i].message_len, sha);
				digest_wipe(items[i].message, items[i].message_len);
				free(items[i].message);
				items[i].message = real;
				if (strcmp(sha, items[i].sha256)) {
					record(&r, &items[i], "failed", "not sent: the stored mail "
					       "does not match its SHA-256 (evidence damaged)", 0);
					continue;
				}
			}
			jobs[nj].id = items[i].id;
			jobs[nj].sender = items[i].sender;
			jobs[nj].rcpt = items[i].rcpt;
			jobs[nj].data = items[i].message;
			nj++;
		}
		out->sessions++;
		session_err[0] = '\0';
		if (nj && smtp_out_send(cfg, jobs, (size_t)nj, stop, job_done, &r, session_err,
					sizeof(session_err))) {
			/* Not even a session (e.g. unreadable password file): all back
			 * to the queue with backoff. */
			for (i = 0; i < (int)nj; i++)
				job_done(&jobs[i], &r);
		}
		if (session_err[0])
			snprintf(err, errlen, "%s", session_err);
		for (i = 0; i < n; i++)
			outbox_item_clear(&items[i]);
		if (r.store_rc) {
			rc = r.store_rc;
			snprintf(err, errlen, "%s", r.store_err);
			break;
		}
		if (nj && r.progress == 0)
			break;   /* unreachable or refusing everything: wait for backoff */
	}
	for (i = 0; i < OUTBOX_BATCH; i++)
		outbox_item_clear(&items[i]);
	if (store_sync_full(st, true) && !rc) {
		rc = STORE_ERR;
		snprintf(err, errlen, "%s", store_errmsg(st));
	}
	return rc;
}
