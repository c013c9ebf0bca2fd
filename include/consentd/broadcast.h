/*
 * broadcast.h - policy versions and the broadcasts that announce them;
 * "request --all" uses the same machinery.
 *
 * A policy version is published once and never changes (the store refuses
 * updates): its effective date, whether it is material, the purposes it
 * changes (--affects) and a summary of changes per language.
 *
 * A broadcast walks the accounts in key order, BROADCAST_CHUNK per
 * transaction, and remembers in that same transaction how far it got, so
 * memory does not grow with the number of accounts and a crash or a second
 * start resumes where it stopped. The store enforces one mail per
 * (broadcast, account, kind): nothing can be queued twice. Announcements
 * are queued unrendered and rendered when sent, in the account's language
 * and to the primary address it has then; an account erased meanwhile has
 * no row left to send.
 */
#ifndef CONSENTD_BROADCAST_H
#define CONSENTD_BROADCAST_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "outmail.h"
#include "store.h"
#include "template.h"

#define POLICY_SUMMARY_MAX 32768       /* bytes of one summary file */
#define POLICY_AFFECTS_MAX PURPOSES_MAX
#define POLICY_LANGS_MAX 8
#define BROADCAST_CHUNK 1000           /* accounts per transaction */

#define BROADCAST_POLICY "policy"
#define BROADCAST_REQUEST "request"
#define NOTICE_KIND "policy-change"

enum broadcast_rc {
	BROADCAST_OK = 0,
	BROADCAST_REFUSED = 1,   /* not allowed (exists, not material, ...); err says */
	BROADCAST_ERR = 2        /* bad input, unknown version, store failure; err says */
};

typedef struct policy_new {
	const char *version;               /* [A-Za-z0-9._-], at most POLICY_VERSION_MAX */
	const char *effective;             /* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ */
	bool material;
	const char *affects[POLICY_AFFECTS_MAX];
	int naffects;
	const char *summary[POLICY_LANGS_MAX];   /* "LANG=FILE" */
	int nsummary;
} policy_new;

/* policy_publish - check everything (the version's spelling, the date,
 * every purpose, every summary file: readable, UTF-8, no control
 * characters but line ends, at most POLICY_SUMMARY_MAX bytes, lines of at
 * most 998 bytes; one for [service] default_lang), then record the version
 * in one transaction. BROADCAST_REFUSED when the version exists. */
int policy_publish(store *st, const config *cfg, const policy_new *p, char *err,
		   size_t errlen);

/* policy_cache - a version and its summaries, read once for many
 * announcements (a zeroed one is empty; a different version reloads). */
typedef struct policy_cache {
	policy_row p;                  /* p.version "" while empty */
	char *summary[2];              /* de, en: as read (after the fallback) */
} policy_cache;
void policy_cache_clear(policy_cache *c);

/* policy_render - the announcement of version for account a as it would
 * be sent now (summary in a's language, else default_lang). cache may be
 * NULL. */
int policy_render(store *st, const config *cfg, const template_set *ts, const char *version,
		  const account *a, policy_cache *cache, outmail *out, char *err, size_t errlen);

/* broadcast_begin - the broadcast of policy version name (kind
 * BROADCAST_POLICY; refused unless the version is material) or of a
 * request for purpose name to every account in state none or expired
 * (BROADCAST_REQUEST). A policy version has one broadcast: beginning it
 * again gives the existing one (*resumed_out true), which goes on queueing
 * where it stopped if it had not finished. A request broadcast still
 * queueing is resumed likewise; a finished one lets a new one begin. */
int broadcast_begin(store *st, const config *cfg, const char *kind, const char *name,
		    campaign_row *out, bool *resumed_out, char *err, size_t errlen);

/* broadcast_queue - queue the next accounts of broadcast c (at most
 * max_accounts; <= 0: all), a chunk per transaction; c is updated. Done
 * when c->finished is set. */
typedef void (*broadcast_progress_fn)(const campaign_row *c, int64_t total, void *arg);
int broadcast_queue(store *st, const config *cfg, const template_set *ts, campaign_row *c,
		    int64_t max_accounts, broadcast_progress_fn fn, void *arg, char *err,
		    size_t errlen);

#endif
