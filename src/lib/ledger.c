/*
 * ledger.c - append and verify the hash-chained consent ledger.
 *
 * Canonical serialisation, version 1 (also in the README). A netstring
 * ns(x) is the decimal byte length of x, ':', x, ','; integers are written
 * in decimal, absent text as "".
 *
 *   pd_mac = HMAC-SHA256(account key, ns("consentd-pd-1") ns(account id)
 *              ns(address) ns(sender) ns(msg_id) ns(reason))
 *   hash   = SHA-256(ns("consentd-ledger-1") ns(seq) ns(at) ns(acct)
 *              ns(purpose) ns(kind) ns(channel) ns(request) ns(policy)
 *              ns(raw_sha256) ns(shown_sha256) ns(pd_mac) ns(prev))
 *
 * prev of the first event is "". All digests are lowercase hex.
 *
 * Policy versions (schema 5) are chained in the order published:
 *
 *   chain(v) = SHA-256(ns("consentd-policy-1") ns(chain of the version
 *                before, "" for the first) ns(version) ns(effective)
 *                ns(published) ns(material) ns(seq) ns(purpose)... ns("")
 *                ns(lang) ns(SHA-256 of summary)...)
 *
 * purposes sorted, summaries by language. An event after the head at the
 * upgrade to schema 5 (chained_from) appends ns(chain of the last version
 * published before it) to its hash input after ns(prev), when there is
 * one; so a version's date, purposes or summaries changed later break the
 * events that follow it, and the chain value kept with each version breaks
 * at the version itself.
 *
 * The account id (the application's, which check and granted look up) is
 * inside pd_mac: swapping ids between account rows breaks the MAC.
 *
 * Verification walks the events in seq order and checks: seq has no gaps,
 * prev equals the hash before, hash recomputes, pd_mac recomputes while the
 * account still has its key; an account without a key must be marked
 * erased, hold no personal field and have an erase event; the head record
 * names the last event; the policy versions recompute their chain, in
 * places 0..n-1 with each summary matching its SHA-256; each event names
 * the version that was in force at its time among those published before
 * it; and the consent cache equals the state replayed from the events. The
 * first failure is reported.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/digest.h"
#include "consentd/ledger.h"
#include "consentd/text.h"

struct transition {
	const char *from, *kind, *to;
};

/* The consent state machine of PRODUCT.md. Anything not listed is refused. */
static const struct transition transitions[] = {
	{ STATE_NONE, EV_REQUEST, STATE_PENDING },
	{ STATE_DECLINED, EV_REQUEST, STATE_PENDING },
	{ STATE_REVOKED, EV_REQUEST, STATE_PENDING },
	{ STATE_EXPIRED, EV_REQUEST, STATE_PENDING },
	{ STATE_PENDING, EV_REQUEST, STATE_PENDING },     /* --resend */
	{ STATE_PENDING, EV_GRANT, STATE_GRANTED },
	{ STATE_PENDING, EV_DECLINE, STATE_DECLINED },
	{ STATE_PENDING, EV_REVOKE, STATE_DECLINED },     /* withdrawn before granted */
	{ STATE_GRANTED, EV_REVOKE, STATE_REVOKED },
	{ STATE_PENDING, EV_EXPIRE, STATE_EXPIRED },
	/* A policy version that changes the purpose asks a granted account
	 * again (consent_tx_request, reask): the grant stands until that
	 * version is in force; the new answer replaces it. */
	{ STATE_GRANTED, EV_REQUEST, STATE_GRANTED },
	{ STATE_GRANTED, EV_GRANT, STATE_GRANTED },
	{ STATE_GRANTED, EV_DECLINE, STATE_DECLINED },
	{ STATE_GRANTED, EV_EXPIRE, STATE_GRANTED },
	{ "*", EV_ERASE, STATE_NONE },
};

const char *ledger_next_state(const char *state, const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if ((!strcmp(transitions[i].from, "*") || !strcmp(transitions[i].from, state)) &&
		    !strcmp(transitions[i].kind, kind))
			return transitions[i].to;
	return NULL;
}

static digest *shared_digest(void)
{
	static digest *d;

	if (!d)
		d = digest_new();
	return d;
}

void ledger_pd_mac(const event_row *ev, const unsigned char *hkey, char out[SHA256_HEX])
{
	digest *d = shared_digest();

	digest_start_hmac(d, hkey, ACCOUNT_KEY_LEN);
	digest_ns(d, "consentd-pd-1");
	digest_ns(d, ev->account_id);
	digest_ns(d, ev->address);
	digest_ns(d, ev->sender);
	digest_ns(d, ev->msg_id);
	digest_ns(d, ev->reason);
	digest_final_hex(d, out);
}

/* hash_event - the event's hash with policies as its policy chain value. */
static void hash_event(const event_row *ev, const char *policies, char out[SHA256_HEX])
{
	digest *d = shared_digest();

	digest_start_sha256(d);
	digest_ns(d, "consentd-ledger-1");
	digest_ns_int(d, ev->seq);
	digest_ns_int(d, ev->at);
	digest_ns_int(d, ev->acct);
	digest_ns(d, ev->purpose);
	digest_ns(d, ev->kind);
	digest_ns(d, ev->channel);
	digest_ns_int(d, ev->request);
	digest_ns(d, ev->policy);
	digest_ns(d, ev->raw_sha256);
	digest_ns(d, ev->shown_sha256);
	digest_ns(d, ev->pd_mac);
	digest_ns(d, ev->prev);
	if (policies[0])
		digest_ns(d, policies);
	digest_final_hex(d, out);
}

void ledger_hash(const event_row *ev, char out[SHA256_HEX])
{
	hash_event(ev, ev->policies, out);
}

/* ---- policy versions in the chain ---- */

typedef struct text_ctx {
	digest *d;
	const char *version;
	char *problem;
	size_t problemlen;
} text_ctx;

static int hash_purpose(const char *purpose, void *arg)
{
	digest_ns(arg, purpose);
	return 0;
}

static int hash_text(const char *lang, const char *summary, const char *sha, void *arg)
{
	text_ctx *t = arg;
	char want[SHA256_HEX];

	digest_sha256_hex(summary, strlen(summary), want);
	if (strcmp(want, sha)) {
		snprintf(t->problem, t->problemlen, "policy version %s: the %s summary does not "
			 "match its SHA-256 (changed after publication)", t->version, lang);
		return 1;
	}
	digest_ns(t->d, lang);
	digest_ns(t->d, want);
	return 0;
}

/* version_chain - the chain value of p after prev (see the top). 0; 1 with
 * problem when a summary does not match its SHA-256; a store code. */
static int version_chain(store *st, const policy_row *p, const char *prev,
			 char out[SHA256_HEX], char *problem, size_t problemlen)
{
	digest *d = digest_new();
	text_ctx t = { d, p->version, problem, problemlen };
	int rc;

	digest_start_sha256(d);
	digest_ns(d, "consentd-policy-1");
	digest_ns(d, prev);
	digest_ns(d, p->version);
	digest_ns_int(d, p->effective);
	digest_ns_int(d, p->published);
	digest_ns_int(d, p->material);
	digest_ns_int(d, p->seq);
	if (!(rc = store_policy_affects_each(st, p->version, hash_purpose, d))) {
		digest_ns(d, "");
		rc = store_policy_texts_each(st, p->version, hash_text, &t);
	}
	if (!rc)
		digest_final_hex(d, out);
	digest_free(d);
	return rc;
}

typedef struct policy_link {
	char version[POLICY_VERSION_MAX + 1];
	int64_t effective, published, seq;
	char chain[SHA256_HEX];
	bool kept;                    /* the store has its chain value */
} policy_link;

/* The versions as verify and the slow path of append recompute them. */
typedef struct chain_walk {
	store *st;
	int64_t n;                    /* versions so far */
	char chain[SHA256_HEX];       /* over them */
	policy_link *links;           /* kept when keep */
	size_t cap;
	bool keep;
	int64_t legacy;               /* versions that may lack a chain value */
	char problem[256];
} chain_walk;

static int walk_version(const policy_row *p, void *arg)
{
	chain_walk *w = arg;
	char next[SHA256_HEX];
	int rc;

	if (p->n != w->n) {
		snprintf(w->problem, sizeof(w->problem), "policy version %s is in place %" PRId64
			 " but %" PRId64 " versions come before it (a version removed?)",
			 p->version, p->n, w->n);
		return 1;
	}
	if ((rc = version_chain(w->st, p, w->chain, next, w->problem, sizeof(w->problem))))
		return rc;
	if (!p->chain[0] && p->n >= w->legacy) {
		snprintf(w->problem, sizeof(w->problem), "policy version %s has lost its chain "
			 "value (changed after publication?)", p->version);
		return 1;
	}
	if (p->chain[0] && strcmp(p->chain, next)) {
		snprintf(w->problem, sizeof(w->problem), "policy version %s was changed after "
			 "publication (date, purposes or summaries do not match its chain value)",
			 p->version);
		return 1;
	}
	if (w->keep) {
		if ((size_t)w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 16;
			w->links = xrealloc(w->links, w->cap * sizeof(*w->links));
		}
		snprintf(w->links[w->n].version, sizeof(w->links[w->n].version), "%s", p->version);
		w->links[w->n].effective = p->effective;
		w->links[w->n].published = p->published;
		w->links[w->n].seq = p->seq;
		memcpy(w->links[w->n].chain, next, SHA256_HEX);
		w->links[w->n].kept = p->chain[0] != '\0';
	}
	memcpy(w->chain, next, SHA256_HEX);
	w->n++;
	return 0;
}

/* policy_head - the chain value over every version published ("" if none):
 * kept with the last version. Versions published before schema 5 get
 * theirs computed and written once, and the head record too (this runs in
 * a write transaction). */
static int policy_head(store *st, char out[SHA256_HEX])
{
	char recorded[SHA256_HEX];
	int64_t count, i;
	chain_walk w;
	policy_row last;
	int rc = store_policy_last(st, &last);

	out[0] = '\0';
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc)
		return rc;
	if (last.chain[0]) {
		memcpy(out, last.chain, SHA256_HEX);
		return STORE_OK;
	}
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.keep = true;
	if ((rc = store_policy_head(st, &count, recorded, &w.legacy)))
		return rc;
	if ((rc = store_policies_each(st, walk_version, &w)) > 0)
		rc = store_fail(st, "%s", w.problem);
	for (i = 0; !rc && i < w.n; i++)
		if (!w.links[i].kept)
			rc = store_policy_chain_fill(st, w.links[i].version, w.links[i].chain);
	if (!rc && !(rc = store_policy_head_set(st, w.n, w.chain)))
		memcpy(out, w.chain, SHA256_HEX);
	free(w.links);
	return rc;
}

/* stop_at - a walk that ends once n versions are read. */
typedef struct stop_walk {
	chain_walk w;
	int64_t n;
} stop_walk;

static int walk_until(const policy_row *p, void *arg)
{
	stop_walk *s = arg;
	int rc = walk_version(p, &s->w);

	return rc ? rc : s->w.n >= s->n ? 2 : 0;
}

int ledger_policy_chain_at(store *st, int64_t n, char out[SHA256_HEX])
{
	stop_walk s;
	int64_t count;
	char recorded[SHA256_HEX];
	int rc;

	memset(&s, 0, sizeof(s));
	s.w.st = st;
	s.n = n;
	out[0] = '\0';
	if ((rc = store_policy_head(st, &count, recorded, &s.w.legacy)))
		return rc;
	rc = store_policies_each(st, walk_until, &s);
	if (rc == 1)
		return store_fail(st, "%s", s.w.problem);
	if (rc < 0)
		return rc;
	if (s.w.n < n)
		return STORE_NOTFOUND;
	memcpy(out, s.w.chain, SHA256_HEX);
	return STORE_OK;
}

int ledger_policy_seal(store *st, policy_row *p)
{
	char problem[256], prev[SHA256_HEX], head[SHA256_HEX];
	policy_row last;
	int rc = store_policy_last(st, &last);

	if (rc && rc != STORE_NOTFOUND)
		return rc;
	p->n = rc == STORE_NOTFOUND ? 0 : last.n + 1;
	if ((rc = policy_head(st, prev)) || (rc = store_head(st, &p->seq, head)))
		return rc;
	if ((rc = version_chain(st, p, prev, p->chain, problem, sizeof(problem))) > 0)
		return store_fail(st, "%s", problem);
	return rc ? rc : store_policy_head_set(st, p->n + 1, p->chain);
}

/* answers_open_request - a grant or decline must answer the open request of
 * this account and purpose, before it expires. */
static int answers_open_request(store *st, const event_row *ev)
{
	request_row req;
	int rc = store_request_open(st, ev->acct, ev->purpose, &req);

	if (rc == STORE_NOTFOUND)
		return STORE_EXISTS;
	if (rc)
		return rc;
	if (req.id != ev->request || ev->at >= req.expires)
		return STORE_EXISTS;
	return STORE_OK;
}

int ledger_append(store *st, event_row *ev, const account *caller)
{
	char state[16];
	const char *next;
	int64_t seq, last, from;
	account a;
	int rc;

	/* The row as it is now, not as the caller loaded it: an account erased
	 * meanwhile gets nothing more recorded. */
	rc = store_account_get_key(st, caller->key, &a);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && (!a.has_hkey || !a.id[0])))
		rc = STORE_EXISTS;
	if (rc)
		goto cleanup;
	ev->acct = a.key;
	ev->account_id = caller->id;   /* same text as a.id, and it outlives a */
	if (strcmp(a.id, caller->id)) {
		rc = STORE_EXISTS;
		goto cleanup;
	}
	rc = store_consent_get(st, ev->acct, ev->purpose, state, &last);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto cleanup;
	next = ledger_next_state(state, ev->kind);
	if (!next) {
		rc = STORE_EXISTS;
		goto cleanup;
	}
	if ((!strcmp(ev->kind, EV_GRANT) || !strcmp(ev->kind, EV_DECLINE)) &&
	    (rc = answers_open_request(st, ev)))
		goto cleanup;
	if (ev->request < 0)
		ev->request = 0;   /* stored as NULL, hashed as 0 */
	/* The policy version in force when it happened (evidence; never the
	 * caller's word: verify checks it against the versions). */
	if ((rc = store_policy_in_force(st, ev->at, ev->policy)))
		goto cleanup;
	if ((rc = store_head(st, &seq, ev->prev)) || (rc = store_chained_from(st, &from)))
		goto cleanup;
	ev->seq = seq + 1;
	ev->policies[0] = '\0';
	if (ev->seq > from && (rc = policy_head(st, ev->policies)))
		goto cleanup;
	ledger_pd_mac(ev, a.hkey, ev->pd_mac);
	ledger_hash(ev, ev->hash);
	if ((rc = store_event_insert(st, ev)))
		goto cleanup;
	rc = store_consent_set(st, ev->acct, ev->purpose, next, ev->seq);
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc;
}

typedef struct verify_ctx {
	ledger_report *rep;
	int64_t expect_seq;
	char prev[SHA256_HEX];
	chain_walk policies;          /* every version, with its chain value */
	int64_t before;               /* versions published before the event */
	int64_t chained_from;
} verify_ctx;

/* in_force - the version in force at at among the first n versions: the
 * newest effective on or before at, as store_policy_in_force chooses. */
static const char *in_force(const chain_walk *w, int64_t n, int64_t at)
{
	const policy_link *best = NULL, *l;
	int64_t i;

	for (i = 0; i < n; i++) {
		l = &w->links[i];
		if (l->effective > at)
			continue;
		if (!best || l->effective > best->effective ||
		    (l->effective == best->effective && l->published >= best->published))
			best = l;
	}
	return best ? best->version : "";
}

static int broken(ledger_report *rep, int64_t seq, const char *what)
{
	rep->bad_seq = seq;
	snprintf(rep->problem, sizeof(rep->problem), "%s", what);
	return 1;
}

static int verify_event(const event_row *ev, void *arg)
{
	verify_ctx *v = arg;
	char want[SHA256_HEX];
	bool personal = ev->address || ev->sender || ev->msg_id || ev->reason;

	v->rep->events++;
	if (ev->seq != v->expect_seq)
		return broken(v->rep, v->expect_seq, ev->seq > v->expect_seq
			      ? "event missing (sequence has a gap)" : "sequence out of order");
	if (strcmp(ev->prev, v->prev))
		return broken(v->rep, ev->seq, "prev does not match the hash of the event before");
	if (ev->has_hkey) {
		ledger_pd_mac(ev, ev->hkey, want);
		if (!digest_equal(want, ev->pd_mac, SHA256_HEX))
			return broken(v->rep, ev->seq, "personal fields (address, sender, "
				      "message id or reason) were changed");
	} else if (!ev->acct_erased) {
		return broken(v->rep, ev->seq, "the account's key is missing but the "
			      "account is not erased (evidence wiped?)");
	} else if (personal || ev->account_id) {
		return broken(v->rep, ev->seq, "personal fields present for an erased account");
	}
	/* The versions published before it: their seq is the head they saw. */
	while (v->before < v->policies.n && v->policies.links[v->before].seq < ev->seq)
		v->before++;
	if (strcmp(ev->policy, in_force(&v->policies, v->before, ev->at))) {
		snprintf(v->rep->problem, sizeof(v->rep->problem), "it records policy version "
			 "'%.32s' but '%.32s' was in force (a version's date changed, or one "
			 "removed?)", ev->policy, in_force(&v->policies, v->before, ev->at));
		v->rep->bad_seq = ev->seq;
		return 1;
	}
	hash_event(ev, ev->seq > v->chained_from && v->before ?
		   v->policies.links[v->before - 1].chain : "", want);
	if (!digest_equal(want, ev->hash, SHA256_HEX))
		return broken(v->rep, ev->seq, v->before ? "content does not match its hash "
			      "(or a policy version published before it was changed)" :
			      "content does not match its hash");
	memcpy(v->prev, ev->hash, SHA256_HEX);
	v->expect_seq++;
	return 0;
}

/* pair_cmp - order of (acct, purpose) as the store sorts them. */
static int pair_cmp(int64_t a1, const char *p1, int64_t a2, const char *p2)
{
	if (a1 != a2)
		return a1 < a2 ? -1 : 1;
	return strcmp(p1, p2);
}

/* verify_states - merge the events (grouped by pair) with the cache. */
static int verify_states(store *st, ledger_report *rep)
{
	store_iter *evs = NULL, *cache = NULL;
	int64_t ea = 0, ca = 0;
	const char *ep = NULL, *ek = NULL, *cp = NULL, *cs = NULL;
	char cur_purpose[PURPOSE_NAME_MAX + 1], cache_purpose[PURPOSE_NAME_MAX + 1];
	const char *state;
	int64_t cur_acct;
	int er, cr, rc, cmp;

	if ((rc = store_iter_event_kinds(st, &evs)) || (rc = store_iter_consents(st, &cache)))
		goto cleanup;
	er = store_iter_next(evs, &ea, &ep, &ek);
	cr = store_iter_next(cache, &ca, &cp, &cs);
	while (er != 0 || cr != 0) {
		if (er < 0 || cr < 0) {
			rc = er < 0 ? er : cr;
			goto cleanup;
		}
		cmp = er <= 0 ? 1 : cr <= 0 ? -1 : pair_cmp(ea, ep, ca, cp);
		if (cmp > 0) {
			/* A cached state with no event behind it. */
			if (strcmp(cs, STATE_NONE)) {
				snprintf(rep->problem, sizeof(rep->problem), "consent cache says "
					 "'%s' for account #%" PRId64 " purpose '%s' but no event "
					 "leads there", cs, ca, cp);
				rc = 1;
				goto cleanup;
			}
			cr = store_iter_next(cache, &ca, &cp, &cs);
			continue;
		}
		/* Replay the events of one pair. */
		cur_acct = ea;
		snprintf(cur_purpose, sizeof(cur_purpose), "%s", ep);
		state = STATE_NONE;
		while (er > 0 && ea == cur_acct && !strcmp(ep, cur_purpose)) {
			const char *next = ledger_next_state(state, ek);

			if (!next) {
				snprintf(rep->problem, sizeof(rep->problem), "event '%s' is not "
					 "allowed in state '%s' (account #%" PRId64 ", purpose '%s')",
					 ek, state, cur_acct, cur_purpose);
				rc = 1;
				goto cleanup;
			}
			state = next;
			er = store_iter_next(evs, &ea, &ep, &ek);
		}
		if (er < 0) {
			rc = er;
			goto cleanup;
		}
		cache_purpose[0] = '\0';
		if (cmp == 0) {
			snprintf(cache_purpose, sizeof(cache_purpose), "%s", cs);
			cr = store_iter_next(cache, &ca, &cp, &cs);
		} else {
			snprintf(cache_purpose, sizeof(cache_purpose), "%s", STATE_NONE);
		}
		if (strcmp(state, cache_purpose)) {
			snprintf(rep->problem, sizeof(rep->problem), "consent cache says '%s' "
				 "but the events say '%s' (account #%" PRId64 ", purpose '%s')",
				 cache_purpose, state, cur_acct, cur_purpose);
			rc = 1;
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	store_iter_free(evs);
	store_iter_free(cache);
	return rc;
}

int ledger_verify(store *st, ledger_report *out)
{
	verify_ctx v;
	char head_hash[SHA256_HEX], recorded[SHA256_HEX];
	int64_t head_seq, acct, count;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	v.rep = out;
	v.expect_seq = 1;
	v.policies.st = st;
	v.policies.keep = true;
	if ((rc = store_policy_head(st, &count, recorded, &v.policies.legacy)))
		goto cleanup;
	if ((rc = store_policies_each(st, walk_version, &v.policies)) > 0) {
		snprintf(out->problem, sizeof(out->problem), "%s", v.policies.problem);
		goto cleanup;
	}
	if (rc || (rc = store_chained_from(st, &v.chained_from)))
		goto cleanup;
	/* The head record names the versions: one removed from the end, or
	 * changed with its chain value recomputed, shows here. */
	if ((count >= 0 && count != v.policies.n) ||
	    (recorded[0] && strcmp(recorded, v.policies.chain))) {
		snprintf(out->problem, sizeof(out->problem), "the head record names %" PRId64
			 " policy versions (chain %.12s...) but %" PRId64 " are stored (chain "
			 "%.12s...): a version removed or changed?", count, recorded[0] ?
			 recorded : "-", v.policies.n, v.policies.chain[0] ? v.policies.chain : "-");
		rc = 1;
		goto cleanup;
	}
	out->policies = v.policies.n;
	memcpy(out->policy_chain, v.policies.chain, SHA256_HEX);
	if ((rc = store_events_each(st, -1, verify_event, &v)))
		goto cleanup;
	snprintf(out->head, sizeof(out->head), "%s", v.prev);
	if ((rc = store_head(st, &head_seq, head_hash)))
		goto cleanup;
	if (head_seq != v.expect_seq - 1 || strcmp(head_hash, v.prev)) {
		out->bad_seq = head_seq > v.expect_seq - 1 ? v.expect_seq : head_seq;
		snprintf(out->problem, sizeof(out->problem), "ledger ends at event %" PRId64
			 " but its head record names event %" PRId64 " (events removed from "
			 "the end?)", v.expect_seq - 1, head_seq);
		if (out->bad_seq == 0)
			out->bad_seq = 1;
		rc = 1;
		goto cleanup;
	}
	if ((rc = store_erasure_mismatch(st, &acct)) < 0)
		goto cleanup;
	if (rc > 0) {
		snprintf(out->problem, sizeof(out->problem), "account #%" PRId64 " is erased "
			 "without an erase event, or has one but still holds personal data "
			 "or its key", acct);
		rc = 1;
		goto cleanup;
	}
	rc = verify_states(st, out);
cleanup:
	free(v.policies.links);
	return rc;
}
