/*
 * inbound.c - judge one inbound message and record its outcome (inbound.h).
 *
 * Promises: nothing is granted without the token of an open, unexpired
 * request AND exactly one From mailbox equal to the account's primary
 * address AND an unambiguous yes in the person's own new text. Automatic
 * mail never changes a state and is never answered. Every mail this
 * sends (receipt, "please answer", fresh request) goes to the primary
 * address of the account concerned and nowhere else. The whole outcome is
 * one transaction: on any failure nothing is written and the caller
 * retries.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "consentd/addr.h"
#include "consentd/consent.h"
#include "consentd/digest.h"
#include "consentd/inbound.h"
#include "consentd/inmail.h"
#include "consentd/intent.h"
#include "consentd/ledger.h"
#include "consentd/reply.h"
#include "consentd/text.h"
#include "consentd/token.h"

#define SUBJECT_ANSWER_MAX 40   /* a subject read as the answer is this short */

/* Where a candidate token was found, strongest first. */
enum source { SRC_ENVELOPE, SRC_HEADER_RCPT, SRC_REFERENCE, SRC_SUBJECT, SRC_BODY };

typedef struct candidate {
	char token[TOKEN_SIZE];
	enum source src;
} candidate;

typedef struct judge {
	store *st;
	const config *cfg;
	const template_set *ts;
	const inbound_msg *msg;
	inmail m;
	char sha[SHA256_HEX];
	candidate cand[INBOUND_TOKENS_MAX];
	int ncand;
	bool strong_token;        /* a token came from envelope or references */
	char withdraw_purpose[PURPOSE_NAME_MAX + 1];   /* mail to LOCAL+withdraw-P@ */
	bool to_bounce_address;   /* mail to LOCAL+bounce@ */
	char *own;                /* the person's own new text (reply_own_text) */
	inbox_row row;
	inbound_result *out;
	char *err;
	size_t errlen;
} judge;

char *inbound_canon(const char *raw, size_t len, size_t *out_len)
{
	size_t i, n = 0, lf = 0;
	char *out;

	for (i = 0; i < len; i++)
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			lf++;
	out = xmalloc(len + lf + 1);
	for (i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = raw[i];
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

/* content_start - where the message starts without the trace fields the
 * delivering servers put on top (Received, Return-Path, Delivered-To, ...):
 * a second delivery along another path differs only there, so the hash
 * from here on identifies the message for exactly-once recording. */
static size_t content_start(const char *m, size_t len)
{
	static const char *const trace[] = {
		"return-path:", "received:", "delivered-to:", "x-original-to:",
		"authentication-results:", "arc-seal:", "arc-message-signature:",
		"arc-authentication-results:", "received-spf:", "x-envelope-from:",
		"x-envelope-to:", "x-spam-", "x-virus-", "x-rspamd-", NULL
	};
	size_t pos = 0, i, n;
	const char *nl;

	while (pos < len) {
		for (i = 0; trace[i]; i++) {
			n = strlen(trace[i]);
			if (len - pos >= n && !strncasecmp(m + pos, trace[i], n))
				break;
		}
		if (!trace[i])
			return pos;
		do {   /* the field and its continuation lines */
			if (!(nl = memchr(m + pos, '\n', len - pos)))
				return len;
			pos = (size_t)(nl - m) + 1;
		} while (pos < len && (m[pos] == ' ' || m[pos] == '\t'));
	}
	return pos;
}

/* clean - make untrusted text stored or logged safe: every byte that is a
 * control character or not part of valid UTF-8 becomes '?' (in place). */
static void clean(char *s)
{
	size_t i = 0, n, k;
	unsigned char c;

	while (s && s[i]) {
		c = (unsigned char)s[i];
		n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (n == 1) {
			if (c < 0x20 || c == 0x7f)
				s[i] = '?';
			i++;
			continue;
		}
		for (k = 1; n && k < n; k++)
			if (((unsigned char)s[i + k] >> 6) != 2)
				n = 0;
		if (n == 0 || !text_utf8_valid(s + i, n)) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

static void set_outcome(judge *j, const char *outcome, const char *reason,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_outcome(judge *j, const char *outcome, const char *reason,
			const char *fmt, ...)
{
	va_list ap;

	snprintf(j->out->outcome, sizeof(j->out->outcome), "%s", outcome);
	snprintf(j->out->reason, sizeof(j->out->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(j->out->detail, sizeof(j->out->detail), fmt, ap);
	va_end(ap);
	clean(j->out->detail);   /* it goes to the log */
}

static bool is_hex32(const char *s)
{
	int i;

	for (i = 0; i < TOKEN_LEN; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void add_candidate(judge *j, const char *tok, enum source src)
{
	char t[TOKEN_SIZE];
	int i;

	memcpy(t, tok, TOKEN_LEN);
	t[TOKEN_LEN] = '\0';
	text_lower_ascii(t);
	for (i = 0; i < j->ncand; i++)
		if (!strcmp(j->cand[i].token, t))
			return;
	if (j->ncand == INBOUND_TOKENS_MAX)
		return;
	memcpy(j->cand[j->ncand].token, t, TOKEN_SIZE);
	j->cand[j->ncand++].src = src;
	if (src <= SRC_REFERENCE)
		j->strong_token = true;
}

/* our_rcpt - look at a recipient address: LOCAL<delim>EXT@DOMAIN of ours
 * gives a token, a withdraw purpose or the bounce address. */
static void our_rcpt(judge *j, const char *addr, enum source src)
{
	const config *cfg = j->cfg;
	size_t ll = strlen(cfg->reply_local), dl = strlen(cfg->delimiter);
	const char *at = addr ? strrchr(addr, '@') : NULL, *ext;
	size_t extlen;

	if (!at || strcasecmp(at + 1, cfg->reply_domain))
		return;
	if ((size_t)(at - addr) <= ll + dl || strncasecmp(addr, cfg->reply_local, ll) ||
	    strncmp(addr + ll, cfg->delimiter, dl))
		return;
	ext = addr + ll + dl;
	extlen = (size_t)(at - ext);
	if (extlen == TOKEN_LEN && is_hex32(ext))
		add_candidate(j, ext, src);
	else if (extlen > 9 && !strncasecmp(ext, "withdraw-", 9) &&
		 extlen - 9 <= PURPOSE_NAME_MAX && !j->withdraw_purpose[0]) {
		memcpy(j->withdraw_purpose, ext + 9, extlen - 9);
		j->withdraw_purpose[extlen - 9] = '\0';
		text_lower_ascii(j->withdraw_purpose);
	} else if (extlen == 6 && !strncasecmp(ext, "bounce", 6))
		j->to_bounce_address = true;
}

/* our_msgid - "consent.TOKEN@DOMAIN": a reference to one of our requests. */
static void our_msgid(judge *j, const char *id, enum source src)
{
	const char *at = id ? strrchr(id, '@') : NULL;

	if (!at || strcasecmp(at + 1, j->cfg->reply_domain) || at - id != 8 + TOKEN_LEN ||
	    strncasecmp(id, "consent.", 8) || !is_hex32(id + 8))
		return;
	add_candidate(j, id + 8, src);
}

/* scan_hex - every run of exactly 32 hex digits in s (not part of a longer
 * run of letters and digits) is a candidate. */
static void scan_hex(judge *j, const char *s, enum source src)
{
	const char *p = s;
	size_t n;

	while (p && *p && j->ncand < INBOUND_TOKENS_MAX) {
		if (!isalnum((unsigned char)*p)) {
			p++;
			continue;
		}
		n = 0;
		while (isalnum((unsigned char)p[n]))
			n++;
		if (n == TOKEN_LEN && is_hex32(p))
			add_candidate(j, p, src);
		p += n;
	}
}

static void collect_candidates(judge *j)
{
	size_t i;

	if (j->msg->env_rcpt)
		our_rcpt(j, j->msg->env_rcpt, SRC_ENVELOPE);
	for (i = 0; i < j->m.n_rcpts; i++)
		our_rcpt(j, j->m.rcpts[i], SRC_HEADER_RCPT);
	for (i = 0; i < j->m.n_in_reply_to; i++)
		our_msgid(j, j->m.in_reply_to[i], SRC_REFERENCE);
	for (i = 0; i < j->m.n_references; i++)
		our_msgid(j, j->m.references[i], SRC_REFERENCE);
	scan_hex(j, j->m.subject, SRC_SUBJECT);
	scan_hex(j, j->m.text, SRC_BODY);
}

/* ---- automatic mail ---- */

static bool word_in(const char *hay, const char *const *needles)
{
	size_t i;

	for (i = 0; hay && needles[i]; i++)
		if (strcasestr(hay, needles[i]))
			return true;
	return false;
}

/* automatic - a reason word when the message is automatic mail, else NULL. */
static const char *automatic(const judge *j)
{
	static const char *const ooo[] = {
		"abwesenheit", "automatische antwort", "automatic reply", "auto-reply",
		"autoreply", "auto reply", "out of office", "out of the office",
		"nicht im büro", "nicht im buero", "urlaubsabwesenheit", "im urlaub",
		"on vacation", "vacation reply", "away from the office", "réponse automatique",
		"abwesend", NULL
	};
	static const char *const bulk[] = { "bulk", "list", "junk", "auto_reply", NULL };
	const inmail *m = &j->m;
	const char *s = j->msg->env_sender;

	if (m->is_bounce || (m->multipart_report && m->report_type &&
			     !strcasecmp(m->report_type, "delivery-status")))
		return "bounce";
	if (m->multipart_report || m->is_mdn)
		return "automatic";
	/* A null sender is a notification (RFC 5321 4.5.5); Postfix passes it
	 * as MAILER-DAEMON. */
	if ((s && (!*s || !strcmp(s, "<>") || !strcasecmp(s, "MAILER-DAEMON"))) ||
	    (m->return_path && !*m->return_path))
		return j->to_bounce_address ? "bounce" : "automatic";
	if (m->auto_submitted && strncasecmp(m->auto_submitted, "no", 2) != 0)
		return "automatic";
	if (m->auto_submitted && m->auto_submitted[2] && m->auto_submitted[2] != ';' &&
	    !isspace((unsigned char)m->auto_submitted[2]))
		return "automatic";   /* "notice", "no-thanks": not exactly "no" */
	if (m->x_auto_response_suppress || m->x_autoreply || m->x_autorespond || m->list_id)
		return "automatic";
	if (m->precedence && word_in(m->precedence, bulk))
		return "automatic";
	if (word_in(m->subject, ooo))
		return "automatic";
	if (j->to_bounce_address)
		return "bounce";
	return NULL;
}

/* ---- the store side ---- */

/* request_of - the first candidate that names a request (*cand_out), or
 * STORE_NOTFOUND. */
static int request_of(judge *j, request_row *out, const candidate **cand_out)
{
	char h[SHA256_HEX];
	int i, rc;

	*cand_out = NULL;
	for (i = 0; i < j->ncand; i++) {
		if (token_hash(j->cand[i].token, TOKEN_LEN, h))
			continue;
		rc = store_request_by_token_hash(j->st, h, out);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc == STORE_OK)
			*cand_out = &j->cand[i];
		return rc;
	}
	return STORE_NOTFOUND;
}

static bool sender_is(const judge *j, const account *a)
{
	return j->m.from_count == 1 && j->m.from_addr && addr_equal(j->m.from_addr, a->email);
}

static void link_account(judge *j, const account *a, const char *purpose, int64_t request)
{
	j->row.acct = a->key;
	j->row.request = request;
	snprintf(j->out->account, sizeof(j->out->account), "%s", a->id);
	snprintf(j->out->purpose, sizeof(j->out->purpose), "%s", purpose ? purpose : "");
	j->row.purpose = j->out->purpose;   /* lives as long as the result */
}

static void evidence_init(const judge *j, event_row *ev)
{
	memset(ev, 0, sizeof(*ev));
	snprintf(ev->channel, sizeof(ev->channel), "%s", j->msg->channel);
	ev->sender = j->m.from_addr;
	ev->msg_id = j->m.message_id;
	snprintf(ev->raw_sha256, sizeof(ev->raw_sha256), "%s", j->sha);
}

/* answer - grant or decline the open request req of account a. */
static int answer(judge *j, const account *a, const config_purpose *pu,
		  const request_row *req, bool yes)
{
	event_row ev;
	int rc;

	evidence_init(j, &ev);
	ev.at = text_now();
	ev.acct = a->key;
	ev.request = req->id;
	snprintf(ev.purpose, sizeof(ev.purpose), "%s", pu->name);
	snprintf(ev.kind, sizeof(ev.kind), "%s", yes ? EV_GRANT : EV_DECLINE);
	ev.address = a->email;
	if ((rc = ledger_append(j->st, &ev, a)))
		return rc;
	j->row.event = ev.seq;
	if ((rc = store_request_set_state(j->st, req->id, "answered")) ||
	    (rc = store_outbox_cancel_request(j->st, req->id, "not sent: answered before it "
					      "went out")))
		return rc;
	set_outcome(j, yes ? STATE_GRANTED : STATE_DECLINED, "answer", "%s answered %s to %s",
		    a->email, yes ? "yes" : "no", pu->name);
	return consent_tx_receipt(j->st, j->cfg, j->ts, a, pu, yes ? TPL_RECEIPT_GRANTED
				  : TPL_RECEIPT_DECLINED, ev.at, j->err, j->errlen);
}

/* withdraw - withdraw purpose pu of a; *applied_out says whether a state
 * changed (STORE_EXISTS from the ledger: nothing to withdraw, not an error). */
static int withdraw(judge *j, const account *a, const config_purpose *pu, bool *applied_out,
		    bool *revoked_out)
{
	char prev[16], err[256];
	event_row ev;
	int64_t seq;
	int rc;

	*applied_out = false;
	evidence_init(j, &ev);
	rc = consent_tx_withdraw(j->st, j->cfg, j->ts, a, pu, &ev, prev, err, sizeof(err));
	if (rc == STORE_EXISTS)
		return STORE_OK;
	if (rc) {
		if (!j->err[0])
			snprintf(j->err, j->errlen, "%s", err);
		return rc;
	}
	*applied_out = true;
	if (!strcmp(prev, STATE_GRANTED))
		*revoked_out = true;
	if (store_head(j->st, &seq, (char[SHA256_HEX]){ 0 }) == STORE_OK)
		j->row.event = seq;
	return STORE_OK;
}

/* own_intent - what the person's own new text says; an empty text reads the
 * subject instead when it is short (a mail with only "WIDERRUF" in the
 * subject, as the List-Unsubscribe link sends it). */
static enum intent own_intent(judge *j, char *why, size_t whylen)
{
	static const char *const prefixes[] = { "re:", "aw:", "wg:", "fw:", "fwd:", "sv:",
						"antw:", "antwort:", NULL };
	char *own, *alt, subj[SUBJECT_ANSWER_MAX + 1];
	const char *s = j->m.subject;
	size_t n = 0, altn = 0, i, k;
	enum intent in, alt_in;

	free(j->own);
	own = j->own = reply_own_text(j->m.text ? j->m.text : "",
				      j->m.text ? strlen(j->m.text) : 0, &n);
	if (n > 0) {
		in = intent_classify(own, n, why, whylen);
		/* A client showing HTML shows the other alternative: a yes only
		 * when it says yes too. */
		if (in == INTENT_YES && j->m.alt_text) {
			alt = reply_own_text(j->m.alt_text, strlen(j->m.alt_text), &altn);
			alt_in = intent_classify(alt, altn, NULL, 0);
			free(alt);
			if (alt_in != INTENT_YES) {
				snprintf(why, whylen, "the HTML part says %s", intent_name(alt_in));
				return INTENT_UNCLEAR;
			}
		}
		return in;
	}
	if (!s)
		return intent_classify("", 0, why, whylen);
	for (;;) {   /* strip reply prefixes and the [token] reference */
		while (*s == ' ' || *s == '\t')
			s++;
		for (i = 0; prefixes[i]; i++)
			if (!strncasecmp(s, prefixes[i], strlen(prefixes[i])))
				break;
		if (!prefixes[i])
			break;
		s += strlen(prefixes[i]);
	}
	for (i = 0, k = 0; s[i] && k < sizeof(subj) - 1; i++) {
		if (s[i] == '[' && strlen(s + i) >= TOKEN_LEN + 2 && is_hex32(s + i + 1) &&
		    s[i + 1 + TOKEN_LEN] == ']') {
			i += TOKEN_LEN + 1;
			continue;
		}
		subj[k++] = s[i];
	}
	subj[k] = '\0';
	if (s[i] && k == sizeof(subj) - 1)
		return intent_classify("", 0, why, whylen);   /* too long: not an answer */
	return intent_classify(subj, k, why, whylen);
}

/* bounce - a delivery failure: mark the addresses concerned as failing. */
static int bounce(judge *j)
{
	request_row req;
	const candidate *c;
	account a;
	int64_t keys[INBOUND_ACCOUNTS_MAX];
	size_t i, k;
	int n, rc, marked = 0;

	j->ncand = 0;
	for (i = 0; i < j->m.n_orig_msgids; i++)
		our_msgid(j, j->m.orig_msgids[i], SRC_REFERENCE);
	rc = request_of(j, &req, &c);
	if (rc == STORE_OK && (rc = store_account_get_key(j->st, req.acct, &a)) == STORE_OK &&
	    a.id[0]) {
		link_account(j, &a, req.purpose, req.id);
		for (k = 0; k < j->m.n_dsn_rcpts && !addr_equal(j->m.dsn_rcpts[k], a.email); k++)
			;
		/* The bounce must be about the address the account still has. */
		if (j->m.n_dsn_rcpts == 0 || k < j->m.n_dsn_rcpts) {
			if ((rc = store_account_failing(j->st, a.key, j->m.dsn_status)))
				goto cleanup;
			marked++;
		}
	} else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		goto cleanup;
	}
	for (k = 0; k < j->m.n_dsn_rcpts && !marked; k++) {
		if ((rc = store_accounts_by_email(j->st, j->m.dsn_rcpts[k], keys,
						  INBOUND_ACCOUNTS_MAX, &n)))
			goto cleanup;
		for (i = 0; i < (size_t)n; i++) {
			if ((rc = store_account_failing(j->st, keys[i], j->m.dsn_status)))
				goto cleanup;
			if (i == 0 && store_account_get_key(j->st, keys[i], &a) == STORE_OK)
				link_account(j, &a, NULL, 0);
			marked++;
		}
	}
	rc = STORE_OK;
	set_outcome(j, "ignored", "bounce", marked ? "delivery failed (%s): address marked "
		    "failing" : "delivery failure report about no known address (%s)",
		    j->m.dsn_status ? j->m.dsn_status : "no status");
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc;
}

/* named_purposes - purposes the text names (by name or title); 0 if none. */
static int named_purposes(const judge *j, const config_purpose **out)
{
	int i, n = 0;
	const config_purpose *p;

	if (j->withdraw_purpose[0]) {
		if ((p = config_purpose_find(j->cfg, j->withdraw_purpose)))
			out[n++] = p;
		return n;
	}
	for (i = 0; i < j->cfg->npurposes; i++) {
		p = &j->cfg->purpose[i];
		/* The person's own words only: a quoted receipt names its purpose. */
		if ((j->own && (strcasestr(j->own, p->name) ||
				(p->title_de && strcasestr(j->own, p->title_de)) ||
				(p->title_en && strcasestr(j->own, p->title_en)))) ||
		    (j->m.subject && strcasestr(j->m.subject, p->name)))
			out[n++] = p;
	}
	return n;
}

/* withdrawish - words that mean "stop": a withdrawal, a no without a
 * request to answer, anything sent to the withdraw address but a yes. */
static bool withdrawish(const judge *j, enum intent in)
{
	return in == INTENT_WITHDRAW || in == INTENT_NO ||
	       (j->withdraw_purpose[0] && in != INTENT_YES);
}

/* active - the account has a purpose granted or pending. */
static int active(judge *j, const account *a, bool *out)
{
	char state[16];
	int64_t seq;
	int i, rc;

	*out = false;
	for (i = 0; i < j->cfg->npurposes && !*out; i++) {
		rc = store_consent_get(j->st, a->key, j->cfg->purpose[i].name, state, &seq);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc)
			return rc;
		*out = !strcmp(state, STATE_GRANTED) || !strcmp(state, STATE_PENDING);
	}
	return STORE_OK;
}

/* hold - a message from a primary address that may be a withdrawal but
 * cannot be read as one for sure: a person reads it (review mailbox). */
static void hold(judge *j, const char *reason, const char *what)
{
	set_outcome(j, "review", reason, "%s from the primary address: it may be a "
		    "withdrawal, a person must read it", what);
	j->out->review = true;
}

/* tokenless - a message that names no request (or not one of the
 * sender's): a withdrawal from a primary address counts without a token; a
 * yes never does; anything else from an account with a consent granted or
 * pending is held for a person, so no withdrawal is lost. */
static int tokenless(judge *j, enum intent in, const char *why, bool undecodable)
{
	const config_purpose *named[PURPOSES_MAX], *pu;
	int64_t keys[INBOUND_ACCOUNTS_MAX];
	bool applied, revoked = false, any = false, act = false, a_act;
	char state[16];
	account a;
	int64_t seq;
	int n = 0, i, k, nnamed, rc = STORE_OK;

	memset(&a, 0, sizeof(a));
	if (j->m.from_count == 1 && j->m.from_addr &&
	    (rc = store_accounts_by_email(j->st, j->m.from_addr, keys, INBOUND_ACCOUNTS_MAX, &n)))
		return rc;
	if (n == 0) {
		if (j->ncand && j->strong_token)
			set_outcome(j, "ignored", "unknown-token", "the token matches no request");
		else
			set_outcome(j, "ignored", "unknown-sender", j->m.from_count == 1 ?
				    "the sender is no account's primary address" :
				    "%zu From mailboxes", j->m.from_count);
		return STORE_OK;
	}
	if (undecodable && !j->withdraw_purpose[0]) {
		in = INTENT_UNCLEAR;
	}
	if (!withdrawish(j, in)) {
		for (k = 0; k < n && !act; k++) {
			if ((rc = store_account_get_key(j->st, keys[k], &a)) ||
			    (rc = consent_tx_expire_account(j->st, a.key)) ||
			    (rc = active(j, &a, &a_act)))
				goto cleanup;
			if (k == 0 || a_act)
				link_account(j, &a, NULL, 0);
			act = a_act;
			digest_wipe(a.hkey, sizeof(a.hkey));
		}
		if (in == INTENT_YES || !act) {
			if (j->ncand && j->strong_token)
				set_outcome(j, "ignored", "unknown-token", "the token matches no "
					    "request (answer: %s)", intent_name(in));
			else
				set_outcome(j, "ignored", "no-token", "an answer (%s%s%s) without "
					    "the request's reference changes nothing", intent_name(in),
					    why[0] ? ": " : "", why);
		} else if (undecodable) {
			hold(j, "undecodable", "unreadable mail");
		} else {
			hold(j, "unclear", "mail without a reference");
		}
		rc = STORE_OK;
		goto cleanup;
	}
	nnamed = named_purposes(j, named);
	if (j->withdraw_purpose[0] && nnamed == 0) {
		set_outcome(j, "ignored", "nothing-to-withdraw", "no purpose '%s'",
			    j->withdraw_purpose);
		return STORE_OK;
	}
	for (k = 0; k < n; k++) {
		if ((rc = store_account_get_key(j->st, keys[k], &a)))
			return rc;
		if ((rc = consent_tx_expire_account(j->st, a.key)))
			goto cleanup;
		if (k == 0)
			link_account(j, &a, nnamed == 1 ? named[0]->name : NULL, 0);
		for (i = 0; i < (nnamed ? nnamed : j->cfg->npurposes); i++) {
			pu = nnamed ? named[i] : &j->cfg->purpose[i];
			if (!nnamed) {   /* all granted and pending ones */
				rc = store_consent_get(j->st, a.key, pu->name, state, &seq);
				if (rc == STORE_NOTFOUND)
					continue;
				if (rc)
					goto cleanup;
				if (strcmp(state, STATE_GRANTED) && strcmp(state, STATE_PENDING))
					continue;
			}
			if ((rc = withdraw(j, &a, pu, &applied, &revoked)))
				goto cleanup;
			if (applied && !any)
				link_account(j, &a, pu->name, 0);
			any |= applied;
		}
		digest_wipe(a.hkey, sizeof(a.hkey));
	}
	rc = STORE_OK;
	if (any)
		set_outcome(j, revoked ? STATE_REVOKED : STATE_DECLINED, "withdrawal",
			    "withdrawal from %s%s", j->m.from_addr, j->withdraw_purpose[0] ?
			    " to the withdraw address" : " without a token");
	else
		set_outcome(j, "ignored", "nothing-to-withdraw", "a withdrawal, but nothing of "
			    "%s is granted or pending", j->m.from_addr);
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc;
}

/* ask_again - a yes that would be a grant a policy version in force does
 * not count (what: which request it answered): recorded as ignored, and the
 * person asked again, once per request (a fresh token). */
static int ask_again(judge *j, const account *a, const config_purpose *pu,
		     const request_row *req, const char *version, const char *what)
{
	consent_request_info info;
	bool first;
	int rc;

	if ((rc = store_request_mark(j->st, req->id, true, &first)) ||
	    (first && (rc = consent_tx_request(j->st, j->cfg, j->ts, a, pu, true, &info, j->err,
					       j->errlen))))
		return rc;
	set_outcome(j, "ignored", "expired", "a yes to %s policy %s took effect%s", what, version,
		    first ? ": a fresh request was sent" : "");
	return STORE_OK;
}

/* with_request - a message that names request req (token in cand). */
static int with_request(judge *j, request_row *req, const candidate *cand, enum intent in,
			const char *why, bool undecodable)
{
	const config_purpose *pu;
	consent_request_info info;
	bool applied, revoked = false, first;
	char state[16] = STATE_NONE, stale[POLICY_VERSION_MAX + 1] = "";
	account a;
	int rc;

	memset(&a, 0, sizeof(a));
	if ((rc = store_account_get_key(j->st, req->acct, &a)))
		return rc;
	if (!a.id[0]) {
		set_outcome(j, "ignored", "unknown-token", "the token belongs to an erased account");
		return STORE_OK;
	}
	if (!sender_is(j, &a)) {
		/* Someone else's thread (a forwarded request): a withdrawal
		 * still counts for the sender's own accounts. */
		if (withdrawish(j, in) && !undecodable) {
			digest_wipe(a.hkey, sizeof(a.hkey));
			return tokenless(j, in, why, false);
		}
		link_account(j, &a, req->purpose, req->id);
		set_outcome(j, "ignored", "sender-mismatch", j->m.from_count == 1 ?
			    "From is not the account's primary address" :
			    "%zu From mailboxes (exactly one is needed)", j->m.from_count);
		goto cleanup;
	}
	link_account(j, &a, req->purpose, req->id);
	if (!(pu = config_purpose_find(j->cfg, req->purpose))) {
		set_outcome(j, "review", "unknown-purpose", "purpose '%s' is not configured",
			    req->purpose);
		j->out->review = true;
		goto cleanup;
	}
	/* Expiry first, in this transaction: a token past its lifetime is dead. */
	if ((rc = consent_tx_expire_account(j->st, a.key)) ||
	    (rc = store_request_by_token_hash(j->st, req->token_hash, req)))
		goto cleanup;
	if (j->withdraw_purpose[0] && in == INTENT_YES) {
		in = INTENT_UNCLEAR;
		why = "a yes sent to the withdrawal address";
	}
	if (in == INTENT_WITHDRAW || (j->withdraw_purpose[0] && in != INTENT_UNCLEAR)) {
		if ((rc = withdraw(j, &a, pu, &applied, &revoked)))
			goto cleanup;
		if (applied)
			set_outcome(j, revoked ? STATE_REVOKED : STATE_DECLINED, "withdrawal",
				    "withdrawal of %s", pu->name);
		else
			set_outcome(j, "ignored", "nothing-to-withdraw", "a withdrawal, but %s "
				    "is neither granted nor pending", pu->name);
		goto cleanup;
	}
	if (!strcmp(req->state, "expired")) {
		set_outcome(j, "ignored", "expired", "an answer to an expired request");
		/* As the person sees it: a grant a policy version made stale
		 * reads expired, and is asked again. */
		if ((rc = consent_state(j->st, a.key, pu->name, text_now(), state)))
			goto cleanup;
		/* At most once per request, and only when nothing newer is
		 * pending or granted: a fresh request. */
		if (strcmp(state, STATE_PENDING) && strcmp(state, STATE_GRANTED)) {
			if ((rc = store_request_mark(j->st, req->id, true, &first)))
				goto cleanup;
			if (first && (rc = consent_tx_request(j->st, j->cfg, j->ts, &a, pu, false,
							      &info, j->err, j->errlen)))
				goto cleanup;
			if (first)
				set_outcome(j, "ignored", "expired", "an answer to an expired "
					    "request: a fresh request was sent");
		}
		rc = STORE_OK;
		goto cleanup;
	}
	if (strcmp(req->state, "open")) {
		/* Answered or superseded: a "no" now ("nicht mehr
		 * einverstanden") withdraws; anything unclear may be one. */
		if (in == INTENT_NO) {
			if ((rc = withdraw(j, &a, pu, &applied, &revoked)))
				goto cleanup;
			if (applied)
				set_outcome(j, revoked ? STATE_REVOKED : STATE_DECLINED,
					    "withdrawal", "a no to the %s request of %s",
					    req->state, pu->name);
			else
				set_outcome(j, "ignored", "nothing-to-withdraw", "a no, but %s is "
					    "neither granted nor pending", pu->name);
		} else if (in == INTENT_UNCLEAR || undecodable) {
			hold(j, undecodable ? "undecodable" : "unclear",
			     "an unclear answer to a closed request");
		} else {
			/* A yes to the answered request of a grant a policy version
			 * made stale: asked again, once, as above. */
			if (!strcmp(req->state, "answered") && !undecodable && in == INTENT_YES &&
			    (rc = store_grant_stale(j->st, a.key, pu->name, text_now(), stale)))
				goto cleanup;
			if (!strcmp(req->state, "answered") && !undecodable && in == INTENT_YES &&
			    stale[0])
				rc = ask_again(j, &a, pu, req, stale, "the answered request of a "
					       "grant asked for before");
			else
				set_outcome(j, "ignored", !strcmp(req->state, "superseded") ?
					    "superseded" : "answered", "the request is %s", req->state);
		}
		goto cleanup;
	}
	/* A yes to a request asked for before a policy version that changes
	 * the purpose took effect would be a grant that does not count: the
	 * person is asked again instead, once (the old token stops working). */
	if (!undecodable && in == INTENT_YES) {
		if ((rc = store_request_stale(j->st, a.key, pu->name, req->id, text_now(), stale)))
			goto cleanup;
		if (stale[0]) {
			rc = ask_again(j, &a, pu, req, stale, "a request asked before");
			goto cleanup;
		}
	}
	if (!undecodable && (in == INTENT_YES || in == INTENT_NO)) {
		rc = answer(j, &a, pu, req, in == INTENT_YES);
		goto cleanup;
	}
	if (undecodable)
		set_outcome(j, "ignored", "undecodable", "the text cannot be read: %s", why);
	else
		set_outcome(j, "review", "unclear", "unclear answer: %s", why[0] ? why : "empty");
	j->out->review = true;
	if ((rc = store_request_mark(j->st, req->id, false, &first)))
		goto cleanup;
	if (first)
		rc = consent_tx_unclear(j->st, j->cfg, j->ts, &a, pu, req, cand->token, j->err,
					j->errlen);
cleanup:
	digest_wipe(a.hkey, sizeof(a.hkey));
	return rc;
}

/* from_account - the first account whose primary address is From, if any. */
static int from_account(judge *j, account *out, bool *found_out)
{
	int64_t key;
	int n = 0, rc;

	*found_out = false;
	if (j->m.from_count != 1 || !j->m.from_addr)
		return STORE_OK;
	if ((rc = store_accounts_by_email(j->st, j->m.from_addr, &key, 1, &n)) || n == 0)
		return rc;
	if ((rc = store_account_get_key(j->st, key, out)))
		return rc;
	*found_out = true;
	return STORE_OK;
}

/* decide - everything after the duplicate check, inside the transaction. */
static int decide(judge *j, const char *parse_err)
{
	char why[128] = "";
	const char *auto_reason;
	const candidate *cand;
	request_row req;
	enum intent in = INTENT_UNCLEAR;
	bool undecodable = false, found;
	account a;
	int rc;

	memset(&a, 0, sizeof(a));
	if (j->msg->truncated || j->m.error == INMAIL_TOO_BIG) {
		/* Unread: from a primary address it may be a withdrawal. */
		if ((rc = from_account(j, &a, &found)))
			return rc;
		if (found) {
			link_account(j, &a, NULL, 0);
			digest_wipe(a.hkey, sizeof(a.hkey));
			hold(j, "oversized", "a message over [inbound] max_size");
			return STORE_OK;
		}
		set_outcome(j, "ignored", "oversized", "%zu bytes, more than [inbound] "
			    "max_size allows", j->msg->full_size);
		return STORE_OK;
	}
	collect_candidates(j);
	if (j->m.error == INMAIL_OK)
		in = own_intent(j, why, sizeof(why));
	if ((auto_reason = automatic(j))) {
		if (!strcmp(auto_reason, "bounce"))
			return bounce(j);
		/* Never answered, never applied; but what reads as a withdrawal
		 * from a primary address waits for a person. */
		if (in == INTENT_WITHDRAW || j->withdraw_purpose[0]) {
			if ((rc = from_account(j, &a, &found)))
				return rc;
			if (found) {
				link_account(j, &a, NULL, 0);
				digest_wipe(a.hkey, sizeof(a.hkey));
				hold(j, "automatic", "a withdrawal marked as automatic mail");
				return STORE_OK;
			}
		}
		set_outcome(j, "ignored", "automatic", "automatic mail (%s)",
			    j->m.auto_submitted ? j->m.auto_submitted : j->m.subject ?
			    j->m.subject : "no subject");
		return STORE_OK;
	}
	if (j->m.error != INMAIL_OK) {
		undecodable = true;
		snprintf(why, sizeof(why), "%s", parse_err);
	} else if (!j->m.text && in == INTENT_UNCLEAR) {
		/* No text part at all (only an image, a broken structure) and
		 * nothing clear in the subject: nothing could be read. */
		undecodable = true;
		snprintf(why, sizeof(why), "no text part");
	}
	/* Mail to the withdraw address withdraws, unless it says yes. */
	if (j->withdraw_purpose[0] && in != INTENT_YES)
		in = INTENT_WITHDRAW;
	rc = request_of(j, &req, &cand);
	if (rc == STORE_OK)
		return with_request(j, &req, cand, in, why, undecodable && !j->withdraw_purpose[0]);
	if (rc != STORE_NOTFOUND)
		return rc;
	return tokenless(j, in, why, undecodable && !j->withdraw_purpose[0]);
}

int inbound_process(store *st, const config *cfg, const template_set *ts,
		    const inbound_msg *msg, inbound_result *out, char *err, size_t errlen)
{
	char parse_err[128] = "", content[SHA256_HEX];
	inbox_found dup;
	size_t canon_len = 0, start;
	char *canon = NULL;
	judge j;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&j, 0, sizeof(j));
	err[0] = '\0';
	j.st = st;
	j.cfg = cfg;
	j.ts = ts;
	j.msg = msg;
	j.out = out;
	j.err = err;
	j.errlen = errlen;
	canon = inbound_canon(msg->raw, msg->len, &canon_len);
	if (msg->truncated && msg->full_sha256)
		snprintf(j.sha, sizeof(j.sha), "%s", msg->full_sha256);
	else
		digest_sha256_hex(canon, canon_len, j.sha);
	start = content_start(canon, canon_len);
	digest_sha256_hex(canon + start, canon_len - start, content);
	inmail_parse(canon, canon_len, &j.m, parse_err, sizeof(parse_err));
	/* What the message says goes into the store, the ledger and logs only
	 * as valid UTF-8 without control characters. */
	clean(j.m.message_id);
	clean(j.m.from_addr);
	clean(j.m.subject);
	clean(j.m.authentication_results);
	clean(j.m.auto_submitted);
	snprintf(out->msg_id, sizeof(out->msg_id), "%s", j.m.message_id ? j.m.message_id : "");
	clean(out->msg_id);

	j.row.received = text_now();
	j.row.channel = msg->channel;
	j.row.raw_sha256 = j.sha;
	j.row.content_sha256 = content;
	j.row.size = (int64_t)(msg->truncated ? msg->full_size : canon_len);
	j.row.msg_id = j.m.message_id;
	j.row.env_sender = msg->env_sender;
	j.row.env_rcpt = msg->env_rcpt;
	j.row.from_addr = j.m.from_count == 1 ? j.m.from_addr : NULL;
	j.row.subject = j.m.subject;
	j.row.auth_results = j.m.authentication_results;

	if ((rc = store_begin(st)))
		goto cleanup;
	rc = store_inbox_find(st, j.m.message_id, content, &dup);
	if (rc == STORE_OK) {
		out->duplicate = true;
		out->review = !strcmp(dup.outcome, "review");
		set_outcome(&j, "ignored", "duplicate", "the same message was recorded as #%lld "
			    "(%s, %s)", (long long)dup.id, dup.outcome, dup.reason);
		j.row.dup_of = dup.id;
		j.row.acct = dup.acct;
	} else if (rc != STORE_NOTFOUND || (rc = decide(&j, parse_err))) {
		goto cleanup;
	}
	j.row.outcome = out->outcome;
	j.row.reason = out->reason;
	j.row.detail = out->detail;
	/* The raw message is kept as evidence of what concerns an account, and
	 * for the person who reviews it; mail that concerns nobody is not. */
	if (!out->duplicate && !msg->truncated && (j.row.acct || out->review)) {
		j.row.raw = canon;
		j.row.raw_len = canon_len;
	}
	if ((rc = store_inbox_insert(st, &j.row, &out->inbox_id)) || (rc = store_commit(st)))
		goto cleanup;
cleanup:
	if (rc) {
		store_rollback(st);
		if (!err[0])
			snprintf(err, errlen, "%s", store_errmsg(st));
		memset(out, 0, sizeof(*out));
	}
	inmail_clear(&j.m);
	free(j.own);
	free(canon);
	return rc;
}
