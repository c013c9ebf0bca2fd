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
 * The account id (the application's, which check and granted look up) is
 * inside pd_mac: swapping ids between account rows breaks the MAC.
 *
 * Verification walks the events in seq order and checks: seq has no gaps,
 * prev equals the hash before, hash recomputes, pd_mac recomputes while the
 * account still has its key; an account without a key must be marked
 * erased, hold no personal field and have an erase event; the head record
 * names the last event; and the consent cache equals the state replayed
 * from the events. The first failure is reported.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "consentd/digest.h"
#include "consentd/ledger.h"

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

void ledger_hash(const event_row *ev, char out[SHA256_HEX])
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
	digest_final_hex(d, out);
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
	int64_t seq, last;
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
	/* The policy version in force when it happened (evidence). */
	if (!ev->policy[0] && (rc = store_policy_in_force(st, ev->at, ev->policy)))
		goto cleanup;
	if ((rc = store_head(st, &seq, ev->prev)))
		goto cleanup;
	ev->seq = seq + 1;
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
} verify_ctx;

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
	ledger_hash(ev, want);
	if (!digest_equal(want, ev->hash, SHA256_HEX))
		return broken(v->rep, ev->seq, "content does not match its hash");
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
	verify_ctx v = { out, 1, "" };
	char head_hash[SHA256_HEX];
	int64_t head_seq, acct;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_events_each(st, -1, verify_event, &v);
	if (rc)
		return rc;
	snprintf(out->head, sizeof(out->head), "%s", v.prev);
	if ((rc = store_head(st, &head_seq, head_hash)))
		return rc;
	if (head_seq != v.expect_seq - 1 || strcmp(head_hash, v.prev)) {
		out->bad_seq = head_seq > v.expect_seq - 1 ? v.expect_seq : head_seq;
		snprintf(out->problem, sizeof(out->problem), "ledger ends at event %" PRId64
			 " but its head record names event %" PRId64 " (events removed from "
			 "the end?)", v.expect_seq - 1, head_seq);
		if (out->bad_seq == 0)
			out->bad_seq = 1;
		return 1;
	}
	if ((rc = store_erasure_mismatch(st, &acct)) < 0)
		return rc;
	if (rc > 0) {
		snprintf(out->problem, sizeof(out->problem), "account #%" PRId64 " is erased "
			 "without an erase event, or has one but still holds personal data "
			 "or its key", acct);
		return 1;
	}
	return verify_states(st, out);
}
