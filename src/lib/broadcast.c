/*
 * broadcast.c - publish policy versions, render their announcement, and
 * queue broadcasts (see broadcast.h for the promises).
 *
 * Queueing is a walk over account keys: each chunk of BROADCAST_CHUNK
 * accounts is one transaction that queues their mail and moves the
 * broadcast's cursor past them, so the walk holds one chunk of keys in
 * memory and a restart neither skips nor repeats an account. The store's
 * unique index (broadcast, account, kind) is the last word on "once".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/broadcast.h"
#include "consentd/consent.h"
#include "consentd/digest.h"
#include "consentd/ledger.h"
#include "consentd/text.h"

static int fail(store *st, int rc, char *err, size_t errlen)
{
	if (!err[0])
		snprintf(err, errlen, "%s", rc == STORE_BUSY ? "the database is locked by "
			 "another process; try again" : store_errmsg(st));
	return rc == STORE_EXISTS ? BROADCAST_REFUSED : BROADCAST_ERR;
}

static bool version_ok(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > POLICY_VERSION_MAX || v[0] == '.' || v[0] == '-' || v[0] == '_')
		return false;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '-' || v[i] == '_'))
			return false;
	return true;
}

/* invisible - s (valid UTF-8) starts with a zero-width, line/paragraph
 * separator or bidirectional formatting character: text that would not
 * read as it is written. */
static bool invisible(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
	    ((p[2] >= 0x8B && p[2] <= 0x8F) || (p[2] >= 0xA8 && p[2] <= 0xAE)))
		return true;   /* U+200B-200F, U+2028-202E */
	if (n >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] >= 0xA0 && p[2] <= 0xAF)
		return true;   /* U+2060-206F */
	return n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF;   /* U+FEFF */
}

/* read_summary - the file as UTF-8 text with LF line ends, checked. */
static char *read_summary(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL, *out = NULL;
	size_t n, i, o = 0, line = 1, col = 0;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(POLICY_SUMMARY_MAX + 2);
	n = fread(buf, 1, POLICY_SUMMARY_MAX + 1, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (n > POLICY_SUMMARY_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, POLICY_SUMMARY_MAX);
		goto cleanup;
	}
	if (n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {   /* a BOM is not text */
		memmove(buf, buf + 3, n - 3);
		n -= 3;
	}
	if (!text_utf8_valid(buf, n)) {
		snprintf(err, errlen, "%s: not UTF-8 text (save it as UTF-8)", path);
		goto cleanup;
	}
	out = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r' && i + 1 < n && buf[i + 1] == '\n')
			continue;
		if (c == '\n') {
			line++;
			col = 0;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "%s:%zu: %s", path, line, c == '\t'
				 ? "tab character (use spaces)" : "control character");
			goto bad;
		} else if (c == 0xC2 && i + 1 < n && (unsigned char)buf[i + 1] < 0xA0) {
			snprintf(err, errlen, "%s:%zu: control character", path, line);
			goto bad;
		} else if (invisible(buf + i, n - i)) {
			snprintf(err, errlen, "%s:%zu: invisible or direction-changing "
				 "character (U+200B-U+200F, U+2028-U+202E, U+2060-U+206F, "
				 "U+FEFF): the text must read as it is", path, line);
			goto bad;
		} else if (++col > 998) {
			snprintf(err, errlen, "%s:%zu: line longer than 998 bytes", path, line);
			goto bad;
		}
		out[o++] = (char)c;
	}
	while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' '))
		o--;
	out[o] = '\0';
	if (o == 0) {
		snprintf(err, errlen, "%s: empty", path);
		goto bad;
	}
	goto cleanup;
bad:
	free(out);
	out = NULL;
cleanup:
	free(buf);
	fclose(fp);
	return out;
}

int policy_publish(store *st, const config *cfg, const policy_new *p, char *err,
		   size_t errlen)
{
	char *text[POLICY_LANGS_MAX] = { 0 };
	char lang[POLICY_LANGS_MAX][3];
	char sha[SHA256_HEX];
	policy_row row, old;
	bool have_default = false;
	int i, j, rc = BROADCAST_ERR;

	err[0] = '\0';
	memset(&row, 0, sizeof(row));
	if (!version_ok(p->version)) {
		snprintf(err, errlen, "version '%.60s': use 1 to %d of A-Z a-z 0-9 . - _, "
			 "starting with a letter or digit", p->version, POLICY_VERSION_MAX);
		return BROADCAST_ERR;
	}
	snprintf(row.version, sizeof(row.version), "%s", p->version);
	if (!p->effective || text_time_parse(p->effective, &row.effective)) {
		snprintf(err, errlen, "--effective '%.60s': use YYYY-MM-DD (UTC) or "
			 "YYYY-MM-DDTHH:MM:SSZ", p->effective ? p->effective : "");
		return BROADCAST_ERR;
	}
	row.material = p->material;
	row.published = text_now();
	for (i = 0; i < p->naffects; i++)
		if (!config_purpose_find(cfg, p->affects[i])) {
			snprintf(err, errlen, "--affects '%.60s': no such purpose in %s",
				 p->affects[i], cfg->path);
			return BROADCAST_ERR;
		}
	if (p->naffects && !p->material) {
		snprintf(err, errlen, "--affects needs --material: a change that needs new "
			 "consent is a material change");
		return BROADCAST_ERR;
	}
	if (p->nsummary == 0) {
		snprintf(err, errlen, "no --summary LANG=FILE given");
		return BROADCAST_ERR;
	}
	for (i = 0; i < p->nsummary; i++) {
		const char *eq = strchr(p->summary[i], '=');

		if (!eq || eq - p->summary[i] != 2 ||
		    (strncmp(p->summary[i], "de", 2) && strncmp(p->summary[i], "en", 2))) {
			snprintf(err, errlen, "--summary '%.60s': use de=FILE or en=FILE",
				 p->summary[i]);
			goto cleanup;
		}
		memcpy(lang[i], p->summary[i], 2);
		lang[i][2] = '\0';
		for (j = 0; j < i; j++)
			if (!strcmp(lang[j], lang[i])) {
				snprintf(err, errlen, "--summary %s given twice", lang[i]);
				goto cleanup;
			}
		if (!strcmp(lang[i], cfg->default_lang))
			have_default = true;
		if (!(text[i] = read_summary(eq + 1, err, errlen)))
			goto cleanup;
	}
	if (!have_default) {
		snprintf(err, errlen, "a summary in [service] default_lang (%s) is needed: "
			 "it is what accounts in other languages read", cfg->default_lang);
		goto cleanup;
	}
	/* Texts and purposes first: once the policy row exists, the store
	 * refuses anything more for this version. */
	if ((rc = store_begin(st)))
		goto store_fail;
	if ((rc = store_policy_get(st, row.version, &old)) != STORE_NOTFOUND) {
		if (rc == STORE_OK)
			rc = STORE_EXISTS;
		goto store_fail;
	}
	for (i = 0; i < p->nsummary; i++) {
		digest_sha256_hex(text[i], strlen(text[i]), sha);
		if ((rc = store_policy_text_insert(st, row.version, lang[i], text[i], sha)))
			goto store_fail;
	}
	for (i = 0; i < p->naffects; i++)
		if ((rc = store_policy_affects_insert(st, row.version, p->affects[i])))
			goto store_fail;
	if ((rc = ledger_policy_seal(st, &row)) || (rc = store_policy_insert(st, &row)) ||
	    (rc = store_commit(st)))
		goto store_fail;
	rc = BROADCAST_OK;
	goto cleanup;
store_fail:
	store_rollback(st);
	if (rc == STORE_EXISTS)
		snprintf(err, errlen, "policy version %s is published already; a published "
			 "version never changes (publish a new version)", row.version);
	rc = fail(st, rc, err, errlen);
cleanup:
	for (i = 0; i < POLICY_LANGS_MAX; i++)
		free(text[i]);
	return rc;
}

void policy_cache_clear(policy_cache *c)
{
	if (!c)
		return;
	free(c->summary[0]);
	free(c->summary[1]);
	memset(c, 0, sizeof(*c));
}

/* summary_for - the summary of c->p in lang (else default_lang), read once. */
static int summary_for(store *st, const config *cfg, policy_cache *c, const char *lang,
		       const char **out)
{
	char **slot = &c->summary[strcmp(lang, "de") ? 1 : 0], sha[SHA256_HEX];
	int rc;

	if (!*slot) {
		rc = store_policy_text(st, c->p.version, lang, slot, sha);
		if (rc == STORE_NOTFOUND)
			rc = store_policy_text(st, c->p.version, cfg->default_lang, slot, sha);
		if (rc)
			return rc;
	}
	*out = *slot;
	return STORE_OK;
}

int policy_render(store *st, const config *cfg, const template_set *ts, const char *version,
		  const account *a, policy_cache *cache, outmail *out, char *err, size_t errlen)
{
	policy_cache own = { 0 };
	const char *summary;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cache)
		cache = &own;
	if (strcmp(cache->p.version, version)) {
		policy_cache_clear(cache);
		if ((rc = store_policy_get(st, version, &cache->p))) {
			if (rc == STORE_NOTFOUND)
				snprintf(err, errlen, "unknown policy version '%.60s'", version);
			else
				snprintf(err, errlen, "%s", store_errmsg(st));
			policy_cache_clear(cache);
			return BROADCAST_ERR;
		}
	}
	if ((rc = summary_for(st, cfg, cache, a->lang[0] ? a->lang : cfg->default_lang,
			      &summary))) {
		snprintf(err, errlen, "policy %s: %s", version, rc == STORE_NOTFOUND
			 ? "no summary in default_lang" : store_errmsg(st));
		policy_cache_clear(&own);
		return BROADCAST_ERR;
	}
	rc = outmail_policy(cfg, ts, a, cache->p.version, cache->p.effective, summary, out, err,
			    errlen) ? BROADCAST_ERR : BROADCAST_OK;
	policy_cache_clear(&own);
	return rc;
}

int broadcast_begin(store *st, const config *cfg, const char *kind, const char *name,
		    campaign_row *out, bool *resumed_out, char *err, size_t errlen)
{
	policy_row p;
	int rc;

	err[0] = '\0';
	*resumed_out = false;
	memset(out, 0, sizeof(*out));
	if (!strcmp(kind, BROADCAST_POLICY)) {
		if ((rc = store_policy_get(st, name, &p))) {
			if (rc == STORE_NOTFOUND)
				snprintf(err, errlen, "unknown policy version '%.60s' (see "
					 "consentctl policy list)", name);
			return fail(st, rc == STORE_NOTFOUND ? STORE_ERR : rc, err, errlen);
		}
		if (!p.material) {
			snprintf(err, errlen, "policy version %s is not material: the policy "
				 "promises notice of material changes only, and a notice "
				 "nobody needs teaches people to ignore the ones that matter "
				 "(publish a new version with --material if it is)", name);
			return BROADCAST_REFUSED;
		}
	} else if (!config_purpose_find(cfg, name)) {
		snprintf(err, errlen, "unknown purpose '%.60s'", name);
		return BROADCAST_ERR;
	}
	rc = store_campaign_find(st, kind, name, out);
	if (rc == STORE_OK && (!strcmp(kind, BROADCAST_POLICY) || !out->finished)) {
		*resumed_out = true;
		return BROADCAST_OK;
	}
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return fail(st, rc, err, errlen);
	memset(out, 0, sizeof(*out));
	snprintf(out->kind, sizeof(out->kind), "%s", kind);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->started = text_now();
	if ((rc = store_begin(st)))
		return fail(st, rc, err, errlen);
	if ((rc = store_campaign_insert(st, out)) || (rc = store_commit(st))) {
		store_rollback(st);
		return fail(st, rc, err, errlen);
	}
	return BROADCAST_OK;
}

typedef struct queue_ctx {
	store *st;
	const config *cfg;
	const template_set *ts;
	const campaign_row *c;
	policy_row policy;
	const config_purpose *affects[POLICY_AFFECTS_MAX];
	int naffects;
	char sender[ADDR_MAX + 1];
	int64_t queued, requests;
	char *err;
	size_t errlen;
} queue_ctx;

static int add_affected(const char *purpose, void *arg)
{
	queue_ctx *q = arg;
	const config_purpose *pu = config_purpose_find(q->cfg, purpose);

	/* A purpose removed from the configuration since: nobody to ask. */
	if (pu && q->naffects < POLICY_AFFECTS_MAX)
		q->affects[q->naffects++] = pu;
	return 0;
}

/* ask - a consent request as part of the broadcast. */
static int ask(queue_ctx *q, const account *a, const config_purpose *pu, bool resend,
	       bool reask)
{
	consent_ask opts = { .resend = resend, .reask = reask, .campaign = q->c->id };
	consent_request_info info;
	int rc = consent_tx_ask(q->st, q->cfg, q->ts, a, pu, &opts, &info, q->err, q->errlen);

	if (rc == STORE_OK) {
		q->queued++;
		q->requests++;
	}
	return rc;
}

/* reask - a policy version changes pu: a grant, or a pending request,
 * asked for before it was published is asked anew. */
static int reask(queue_ctx *q, const account *a, const config_purpose *pu)
{
	char state[16] = STATE_NONE;
	request_row req;
	int64_t seq, asked, req_seq = 0;
	int rc;

	rc = store_consent_get(q->st, a->key, pu->name, state, &seq);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc)
		return rc;
	if (!strcmp(state, STATE_GRANTED)) {
		if ((rc = store_grant_asked(q->st, a->key, pu->name, &asked)))
			return rc;
		/* Ledger order, not the clock: a request in the same second as
		 * the publication but before it is old. */
		if (asked > q->policy.seq)
			return STORE_OK;
		/* An open request made before the version was published is replaced. */
		rc = store_request_open(q->st, a->key, pu->name, &req);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		if (rc == STORE_OK &&
		    (rc = store_request_seq(q->st, a->key, pu->name, req.id, &req_seq)))
			return rc;
		if (req_seq > q->policy.seq)
			return STORE_OK;
		return ask(q, a, pu, true, true);
	}
	if (!strcmp(state, STATE_PENDING)) {
		rc = store_request_open(q->st, a->key, pu->name, &req);
		if (rc == STORE_NOTFOUND)
			return STORE_OK;
		if (rc || (rc = store_request_seq(q->st, a->key, pu->name, req.id, &req_seq)))
			return rc;
		return req_seq <= q->policy.seq ? ask(q, a, pu, true, false) : STORE_OK;
	}
	return STORE_OK;
}

/* one_account - the broadcast's mail for account key, in the caller's
 * transaction. */
static int one_account(queue_ctx *q, int64_t key)
{
	char state[16];
	bool queued;
	account a;
	int i, rc;

	rc = store_account_get_key(q->st, key, &a);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && !a.id[0]))
		return STORE_OK;   /* erased meanwhile */
	if (rc)
		return rc;
	if (!strcmp(q->c->kind, BROADCAST_POLICY)) {
		if ((rc = store_outbox_notice(q->st, q->c->id, a.key, NOTICE_KIND, q->sender,
					      a.email, &queued)))
			goto cleanup;
		if (queued)
			q->queued++;
		if (q->naffects && (rc = consent_tx_expire_account(q->st, a.key)))
			goto cleanup;
		for (i = 0; i < q->naffects; i++)
			if ((rc = reask(q, &a, q->affects[i])))
				goto cleanup;
	} else {
		const config_purpose *pu = q->affects[0];

		if ((rc = consent_tx_expire_account(q->st, a.key)) ||
		    (rc = consent_state(q->st, a.key, pu->name, text_now(), state)))
			goto cleanup;
		if (!strcmp(state, STATE_NONE) || !strcmp(state, STATE_EXPIRED))
			rc = ask(q, &a, pu, false, false);
	}
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc;
}

int broadcast_queue(store *st, const config *cfg, const template_set *ts, campaign_row *c,
		    int64_t max_accounts, broadcast_progress_fn fn, void *arg, char *err,
		    size_t errlen)
{
	int64_t keys[BROADCAST_CHUNK], handled = 0, total = 0;
	queue_ctx q;
	int n, i, rc;

	err[0] = '\0';
	memset(&q, 0, sizeof(q));
	q.st = st;
	q.cfg = cfg;
	q.ts = ts;
	q.c = c;
	q.err = err;
	q.errlen = errlen;
	outmail_envelope_sender(cfg, q.sender);
	if (!strcmp(c->kind, BROADCAST_POLICY)) {
		if ((rc = store_policy_get(st, c->name, &q.policy)) ||
		    (rc = store_policy_affects_each(st, c->name, add_affected, &q)))
			return fail(st, rc, err, errlen);
	} else if (!(q.affects[0] = config_purpose_find(cfg, c->name))) {
		snprintf(err, errlen, "purpose '%s' of broadcast #%lld is no longer configured",
			 c->name, (long long)c->id);
		return BROADCAST_ERR;
	} else {
		q.naffects = 1;
	}
	if (fn && (rc = store_accounts_count(st, &total)))
		return fail(st, rc, err, errlen);
	while (!c->finished && (max_accounts <= 0 || handled < max_accounts)) {
		q.queued = q.requests = 0;
		if ((rc = store_begin(st)))
			return fail(st, rc, err, errlen);
		/* Where it stands now: another process may have moved it on. */
		if ((rc = store_campaign_get(st, c->id, c)))
			goto store_fail;
		if (c->finished) {
			store_rollback(st);
			break;
		}
		if ((rc = store_accounts_after(st, c->cursor, c->upto, keys, BROADCAST_CHUNK, &n)))
			goto store_fail;
		for (i = 0; i < n; i++)
			if ((rc = one_account(&q, keys[i])))
				goto store_fail;
		if ((rc = store_campaign_progress(st, c->id, n ? keys[n - 1] : c->cursor, n,
						  q.queued, q.requests, n < BROADCAST_CHUNK
						  ? text_now() : 0)) ||
		    (rc = store_commit(st)))
			goto store_fail;
		if ((rc = store_campaign_get(st, c->id, c)))
			return fail(st, rc, err, errlen);
		handled += n;
		if (fn)
			fn(c, total, arg);
	}
	return BROADCAST_OK;
store_fail:
	store_rollback(st);
	return fail(st, rc, err, errlen);
}
