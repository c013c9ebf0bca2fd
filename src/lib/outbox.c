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
#include <time.h>

#include "consentd/outbox.h"
#include "consentd/broadcast.h"
#include "consentd/digest.h"
#include "consentd/outmail.h"
#include "consentd/smtp_out.h"
#include "consentd/text.h"

typedef struct run_ctx {
	store *st;
	outbox_pacer *pacer;
	outbox_item *items;
	outbox_log_fn log;
	void *arg;
	outbox_stats *stats;
	int progress;             /* messages with a server answer this session */
	int store_rc;             /* first store failure */
	char store_err[256];
} run_ctx;

/* ---- the pace of bulk mail ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void outbox_pacer_free(outbox_pacer *p)
{
	if (!p)
		return;
	free(p->dom);
	p->dom = NULL;
	p->ndom = 0;
}

static unsigned long hash_name(const char *s)
{
	unsigned long h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* pacer_find - the domain's slot (created full); never NULL. */
static pacer_domain *pacer_find(outbox_pacer *p, const char *name, double burst, int64_t t)
{
	unsigned long i;
	pacer_domain *d;

	if (!p->dom)
		p->dom = xcalloc(PACER_DOMAINS_MAX, sizeof(*p->dom));
	for (i = hash_name(name) % PACER_DOMAINS_MAX;; i = (i + 1) % PACER_DOMAINS_MAX) {
		d = &p->dom[i];
		if (!d->name[0])
			break;
		if (!strcmp(d->name, name))
			return d;
	}
	if (p->ndom >= PACER_DOMAINS_MAX * 3 / 4) {
		/* Full: forget them all (each starts with a full bucket again). */
		memset(p->dom, 0, PACER_DOMAINS_MAX * sizeof(*p->dom));
		p->ndom = 0;
		return pacer_find(p, name, burst, t);
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->tokens = burst;
	d->factor = 1;
	d->last_ms = t;
	p->ndom++;
	return d;
}

/* refill - a bucket of rate per second holding at most one second's worth
 * (and at least one message). */
static void refill(double *tokens, int64_t *last_ms, double rate, int64_t t)
{
	double burst = rate > 1 ? rate : 1;

	*tokens += (double)(t - *last_ms) * rate / 1000.0;
	if (*tokens > burst)
		*tokens = burst;
	*last_ms = t;
}

/* wait_ms - how long until a bucket holds one message again. */
static int64_t wait_ms(double tokens, double rate)
{
	double w = (1.0 - tokens) * 1000.0 / rate;

	return w < 1 ? 1 : (int64_t)w + 1;
}

/* pacer_take - store_quota's take: how many of want may go to domain now. */
static int pacer_take(const char *domain, int want, void *arg)
{
	outbox_pacer *p = arg;
	double rate = p->cfg->broadcast_rate, drate = p->cfg->broadcast_domain_rate;
	int64_t t = now_ms(), w;
	pacer_domain *d = NULL;
	int n = want;

	if (rate > 0) {
		if (!p->last_ms) {
			p->last_ms = t;
			p->tokens = rate > 1 ? rate : 1;
		}
		refill(&p->tokens, &p->last_ms, rate, t);
		if (n > (int)p->tokens)
			n = (int)p->tokens;
	}
	if (drate > 0) {
		d = pacer_find(p, domain, drate > 1 ? drate : 1, t);
		drate *= d->factor;
		refill(&d->tokens, &d->last_ms, drate, t);
		if (n > (int)d->tokens)
			n = (int)d->tokens;
	}
	if (n < 0)
		n = 0;
	if (rate > 0 && p->tokens - n < 1)
		p->quota.exhausted = true;   /* no other domain can have any either */
	if (rate > 0)
		p->tokens -= n;
	if (d)
		d->tokens -= n;
	if (n < want) {
		w = rate > 0 && p->tokens < 1 ? wait_ms(p->tokens, rate) : 0;
		if (d && d->tokens < 1 && wait_ms(d->tokens, drate) > w)
			w = wait_ms(d->tokens, drate);
		if (w > 0 && (!p->wake_ms || w < p->wake_ms))
			p->wake_ms = w;
	}
	return n;
}

/* pacer_refused - the domain answered 4xx: halve its rate. */
static void pacer_refused(outbox_pacer *p, const char *domain)
{
	pacer_domain *d = pacer_find(p, domain, 1, now_ms());

	d->held = true;
	d->factor = d->factor / 2 < 1.0 / 16 ? 1.0 / 16 : d->factor / 2;
	d->tokens = 0;
}

/* pacer_took - the domain took a message: recover its rate; true when we
 * had put it on hold (the hold can go). */
static bool pacer_took(outbox_pacer *p, const char *domain)
{
	pacer_domain *d;
	bool held;

	if (!p->dom)
		return false;
	d = pacer_find(p, domain, 1, now_ms());
	held = d->held;
	d->held = false;
	d->factor = d->factor * 1.25 > 1 ? 1 : d->factor * 1.25;
	return held;
}

int64_t outbox_backoff(int attempts)
{
	int64_t b = OUTBOX_BACKOFF_MIN;

	while (--attempts > 0 && b < OUTBOX_BACKOFF_MAX)
		b *= 2;
	return b < OUTBOX_BACKOFF_MAX ? b : OUTBOX_BACKOFF_MAX;
}

#define RESULT_RETRY_SECONDS 60

static void store_failed(run_ctx *r, int rc)
{
	if (rc && !r->store_rc) {
		r->store_rc = rc;
		snprintf(r->store_err, sizeof(r->store_err), "%s", store_errmsg(r->st));
	}
}

/* record - the outcome of one message, in its own transaction, as soon as
 * the server has answered (no transaction stays open while the server
 * thinks). Losing this write would send the mail again (a lock held by
 * consentctl, e.g. an import), so it waits for the lock up to
 * RESULT_RETRY_SECONDS. */
static void record(run_ctx *r, const outbox_item *it, const char *state, const char *response,
		   int64_t next)
{
	int64_t now = text_now(), until = now + RESULT_RETRY_SECONDS;
	int rc;

	while ((rc = store_outbox_result(r->st, it->id, state, response, next,
					 strcmp(state, "sent") && strcmp(state, "failed") &&
					 strcmp(state, "cancelled") ? 0 : now, NULL, 0)) == STORE_BUSY &&
	       text_now() < until)
		;
	store_failed(r, rc);
	if (r->log)
		r->log(it, state, response, r->arg);
}

/* throttling - a 4xx that speaks for the whole domain: 421 (service not
 * available, closing), or enhanced status 4.7.x (policy: rate limits,
 * greylisting of the client). */
static bool throttling(const char *response)
{
	size_t n = strlen(response);

	return (n >= 3 && !strncmp(response, "421", 3)) ||
	       (n >= 8 && !strncmp(response + 3, " 4.7.", 5));
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
		if (it->campaign && it->domain[0] && pacer_took(r->pacer, it->domain))
			store_domain_release(r->st, it->domain);
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
	if (it->campaign && it->domain[0] && job->status == SMTP_JOB_DEFERRED) {
		/* Bulk mail refused for now: that domain slows down; when it says
		 * it throttles us (421, 4.7.x), it waits, and the others go on. A
		 * busy mailbox (450 4.2.x, 452) waits alone. */
		int64_t until = 0;

		pacer_refused(r->pacer, it->domain);
		if (throttling(job->response) &&
		    store_domain_hold(r->st, it->domain, now, job->response, &until) == STORE_OK &&
		    until > now) {
			record(r, it, "deferred", job->response, until);
			return;
		}
	}
	record(r, it, "deferred", job->response, now + outbox_backoff(it->attempts));
}

int outbox_reclaim(store *st, int *n_out)
{
	return store_outbox_reclaim_sending(st, n_out);
}

/* render_notice - a broadcast's announcement, rendered now for the
 * account as it is now. 0; -1 with why when the account is gone (the row
 * is cancelled); -2 with why when it cannot be rendered now (deferred). */
typedef struct notice_cache {
	int64_t campaign;             /* whose version is in policy (0: none) */
	char version[PURPOSE_NAME_MAX + 1];   /* a broadcast's name */
	policy_cache policy;
} notice_cache;

static int render_notice(store *st, const config *cfg, const template_set *ts,
			 notice_cache *nc, outbox_item *it, char *why, size_t whylen)
{
	campaign_row c;
	outmail m;
	account a;
	int rc;

	rc = store_account_get_key(st, it->acct, &a);
	digest_wipe(a.hkey, sizeof(a.hkey));
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && !a.id[0])) {
		snprintf(why, whylen, "not sent: the account was erased");
		return -1;
	}
	/* Anything else may pass (a lock, a template being fixed): try later. */
	if (!rc && nc->campaign != it->campaign) {
		if (!(rc = store_campaign_get(st, it->campaign, &c))) {
			nc->campaign = it->campaign;
			snprintf(nc->version, sizeof(nc->version), "%s", c.name);
		}
	}
	if (rc) {
		snprintf(why, whylen, "not rendered: %s", store_errmsg(st));
		return -2;
	}
	if (!ts || policy_render(st, cfg, ts, nc->version, &a, &nc->policy, &m, why, whylen)) {
		if (!ts)
			snprintf(why, whylen, "not rendered: no templates loaded");
		return -2;
	}
	free(it->message);
	free(it->rcpt);
	it->message = m.message;
	it->message_len = m.len;
	it->rcpt = xstrdup(m.rcpt);
	snprintf(it->sha256, sizeof(it->sha256), "%s", m.sha256);
	m.message = NULL;
	outmail_clear(&m);
	return 0;
}

/* note_rendered - where the batch's rendered notices go and the SHA-256
 * of their bytes, in one transaction before they are sent. */
static int note_rendered(store *st, const outbox_item *items, int n)
{
	int i, rc;

	if ((rc = store_begin(st)))
		return rc;
	for (i = 0; i < n; i++)
		if (items[i].lazy && items[i].sha256[0] &&
		    (rc = store_outbox_rendered(st, items[i].id, items[i].rcpt, items[i].sha256))) {
			store_rollback(st);
			return rc;
		}
	return store_commit(st);
}

int outbox_run(store *st, const config *cfg, const template_set *ts, outbox_pacer *pacer,
	       int (*stop)(void), outbox_log_fn log, void *arg, outbox_stats *out, char *err,
	       size_t errlen)
{
	outbox_item items[OUTBOX_BATCH];
	smtp_job jobs[OUTBOX_BATCH];
	char session_err[SMTP_RESPONSE_MAX], why[SMTP_RESPONSE_MAX + 64];
	outbox_pacer own = { 0 };
	notice_cache notices = { 0 };   /* for this run: templates may be reloaded */
	int64_t started = text_now();
	struct timespec pause;
	run_ctx r;
	size_t nj;
	int n, i, lazy, rc = STORE_OK;

	if (!pacer)
		pacer = &own;
	pacer->cfg = cfg;
	pacer->quota.take = pacer_take;
	pacer->quota.arg = pacer;
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
		pacer->wake_ms = 0;
		if ((rc = store_outbox_claim(st, text_now(), OUTBOX_LEASE, items, OUTBOX_BATCH,
					     &pacer->quota, &n))) {
			snprintf(err, errlen, "%s", store_errmsg(st));
			break;
		}
		if (n == 0 && pacer->quota.limited && pacer->wake_ms > 0) {
			/* Held back by the rates only: wait here when nothing else
			 * needs the time, else let the caller nap. */
			if (pacer->slice_seconds > 0) {
				out->wake_ms = pacer->wake_ms;
				break;
			}
			pause.tv_sec = pacer->wake_ms / 1000;
			pause.tv_nsec = (pacer->wake_ms % 1000) * 1000000;
			nanosleep(&pause, NULL);
			continue;
		}
		if (n == 0)
			break;
		memset(jobs, 0, sizeof(jobs));
		memset(&r, 0, sizeof(r));
		r.st = st;
		r.pacer = pacer;
		r.items = items;
		r.log = log;
		r.arg = arg;
		r.stats = out;
		for (i = 0, lazy = 0, nj = 0; i < n; i++) {
			if (items[i].lazy) {
				int got = render_notice(st, cfg, ts, &notices, &items[i], why,
							sizeof(why));

				lazy++;
				if (got == -1) {
					record(&r, &items[i], "cancelled", why, 0);
					continue;
				}
				if (got < 0) {
					record(&r, &items[i], "deferred", why, text_now() +
					       outbox_backoff(items[i].attempts));
					continue;
				}
			} else if (items[i].address_changed) {
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
		if (lazy && (rc = note_rendered(st, items, n))) {
			snprintf(err, errlen, "%s", store_errmsg(st));
			for (i = 0; i < n; i++)
				outbox_item_clear(&items[i]);
			break;   /* the claims run out and are taken again */
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
		if (pacer->slice_seconds > 0 && text_now() - started >= pacer->slice_seconds) {
			out->wake_ms = 1;   /* more is due: the other duties first */
			break;
		}
	}
	outbox_pacer_free(&own);
	policy_cache_clear(&notices.policy);
	for (i = 0; i < OUTBOX_BATCH; i++)
		outbox_item_clear(&items[i]);
	if (store_sync_full(st, true) && !rc) {
		rc = STORE_ERR;
		snprintf(err, errlen, "%s", store_errmsg(st));
	}
	return rc;
}
