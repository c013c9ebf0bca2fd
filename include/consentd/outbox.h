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
 * messages in flight at the crash can arrive twice, none is lost.
 */
#ifndef CONSENTD_OUTBOX_H
#define CONSENTD_OUTBOX_H

#include <stdint.h>

#include "config.h"
#include "store.h"

#define OUTBOX_BATCH 50                 /* messages per SMTP session */
#define OUTBOX_LEASE 600                /* seconds a claim is held */
#define OUTBOX_BACKOFF_MIN 300
#define OUTBOX_BACKOFF_MAX 4000
#define OUTBOX_MAX_AGE (5 * 86400)

typedef struct outbox_stats {
	int sent, deferred, failed, retried;   /* retried: untried, requeued at once */
	int sessions;
} outbox_stats;

/* Called once per message with its outcome, for the log. */
typedef void (*outbox_log_fn)(const outbox_item *it, const char *state,
			      const char *response, void *arg);

/* outbox_run - send everything due now, batch by batch, until nothing is
 * due, stop() (may be NULL; asked between sessions) says so, or a session
 * makes no progress (the server is unreachable: the rest waits for its
 * backoff). Returns 0, or a store code with err set; a connection-level
 * problem is left in err with 0 returned. */
int outbox_run(store *st, const config *cfg, int (*stop)(void), outbox_log_fn log,
	       void *arg, outbox_stats *out, char *err, size_t errlen);

/* outbox_reclaim - at start-up, with the instance lock held: rows left in
 * "sending" by a crash go back to the queue now. *n_out: how many. */
int outbox_reclaim(store *st, int *n_out);

/* outbox_backoff - seconds to wait before attempt number attempts+1. */
int64_t outbox_backoff(int attempts);

#endif
