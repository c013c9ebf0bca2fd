/*
 * outbox.h - the sending duty: take due mail from the outbox, submit it in
 * bounded SMTP sessions, and record each outcome durably as soon as the
 * server has answered for that message.
 *
 * Row life: queued -> sending -> sent | deferred -> ... -> sent | failed.
 * A 2xx marks the row sent right away; a 4xx or a connection problem
 * defers it with backoff (5 minutes doubling to at most 4000 s, like
 * Postfix's minimal/maximal_backoff_time); a 5xx, or still undelivered 5
 * days after it was queued (Postfix's maximal_queue_lifetime), fails it.
 * A row found in "sending" after a crash is sent again: at most the
 * messages in flight at the crash can arrive twice, none is lost. (Writing
 * outcomes in groups of 10 was measured: 6 % faster sending, and up to 10
 * mails sent twice per crash instead of one; not done.)
 */
#ifndef CONSENTD_OUTBOX_H
#define CONSENTD_OUTBOX_H

#include <stdint.h>

#include "config.h"
#include "store.h"
#include "template.h"

#define OUTBOX_BATCH 50                 /* messages per SMTP session */
#define OUTBOX_LEASE 600                /* seconds a claim is held */
#define OUTBOX_BACKOFF_MIN 300
#define OUTBOX_BACKOFF_MAX 4000
#define OUTBOX_MAX_AGE (5 * 86400)

typedef struct outbox_stats {
	int sent, deferred, failed, retried;   /* retried: untried, requeued at once */
	int sessions;
	int64_t wake_ms;    /* > 0: bulk mail is held back by the rates; more may go
			     * in this many milliseconds */
} outbox_stats;

/* The pace of bulk mail (broadcasts): [broadcast] rate messages per second
 * in all and domain_rate per recipient domain, as token buckets holding at
 * most one second's worth. A domain that answers 4xx is put on hold in the
 * store (store_domain_hold) and its rate halved, recovering as it takes
 * mail again; its other mail waits, every other domain goes on. consentd
 * keeps one pacer for its life; a zeroed one is ready to use. */
#define PACER_DOMAINS_MAX 4096   /* domains remembered; more: forgotten, full again */

typedef struct pacer_domain {
	char name[ADDR_DOMAIN_MAX + 1];
	double tokens, factor;       /* factor: 1, halved per 4xx, at least 1/16 */
	int64_t last_ms;
	bool held;                   /* we put it on hold */
} pacer_domain;

typedef struct outbox_pacer {
	double tokens;
	int64_t last_ms;
	pacer_domain *dom;           /* open addressing, PACER_DOMAINS_MAX slots */
	int ndom;
	store_quota quota;
	int slice_seconds;           /* > 0: return after this long (other duties
				      * wait); 0: go on until nothing is due */
	int64_t wake_ms;
	const config *cfg;
} outbox_pacer;

void outbox_pacer_free(outbox_pacer *p);

/* Called once per message with its outcome, for the log. */
typedef void (*outbox_log_fn)(const outbox_item *it, const char *state,
			      const char *response, void *arg);

/* outbox_run - send everything due now, batch by batch, until nothing is
 * due, stop() (may be NULL; asked between sessions) says so, or a session
 * makes no progress (the server is unreachable: the rest waits for its
 * backoff). Returns 0, or a store code with err set; a connection-level
 * problem is left in err with 0 returned. */
int outbox_run(store *st, const config *cfg, const template_set *ts, outbox_pacer *pacer,
	       int (*stop)(void), outbox_log_fn log, void *arg, outbox_stats *out, char *err,
	       size_t errlen);

/* outbox_reclaim - at start-up, with the instance lock held: rows left in
 * "sending" by a crash go back to the queue now. *n_out: how many. */
int outbox_reclaim(store *st, int *n_out);

/* outbox_backoff - seconds to wait before attempt number attempts+1. */
int64_t outbox_backoff(int attempts);

#endif
