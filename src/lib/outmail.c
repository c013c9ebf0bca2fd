/*
 * outmail.c - compose requests and receipts (see outmail.h): choose the
 * template and language, fill the placeholders from the account, purpose
 * and configuration, and hand the result to mime_compose. Values come from
 * validated sources only (config, account import), and mime_compose and
 * template_render refuse control characters again on the way out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/digest.h"
#include "consentd/mime.h"
#include "consentd/outmail.h"
#include "consentd/text.h"
#include "consentd/token.h"

static const char *lang_of(const config *cfg, const account *a)
{
	return a->lang[0] ? a->lang : cfg->default_lang;
}

/* when - a time for people: "28.12.2026, 14:05 UTC" or "2026-12-28 14:05 UTC". */
static void when(int64_t t, const char *lang, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outlen, strcmp(lang, "de") ? "%Y-%m-%d %H:%M UTC" : "%d.%m.%Y, %H:%M UTC",
		 &tm);
}

void outmail_envelope_sender(const config *cfg, char out[ADDR_MAX + 1])
{
	snprintf(out, ADDR_MAX + 1, "%s%sbounce@%s", cfg->reply_local, cfg->delimiter,
		 cfg->reply_domain);
}

void outmail_withdraw_address(const config *cfg, const char *purpose, char out[ADDR_MAX + 1])
{
	snprintf(out, ADDR_MAX + 1, "%s%swithdraw-%s@%s", cfg->reply_local, cfg->delimiter,
		 purpose, cfg->reply_domain);
}

/* random_msgid - PREFIX.RANDOM@DOMAIN (96 random bits) for mails that carry
 * no token in their Message-ID. */
static int random_msgid(const config *cfg, const char *prefix, char *out, size_t outlen,
			char *err, size_t errlen)
{
	unsigned char rnd[12];
	char hex[sizeof(rnd) * 2 + 1];

	if (digest_random(rnd, sizeof(rnd))) {
		snprintf(err, errlen, "no random bytes for a Message-ID");
		return -1;
	}
	text_hex(rnd, sizeof(rnd), hex);
	snprintf(out, outlen, "%s.%s@%s", prefix, hex, cfg->reply_domain);
	return 0;
}

typedef struct compose_args {
	enum template_id id;
	const char *lang;
	const tpl_var *vars;
	size_t nvars;
	const char *message_id, *reply_to, *subject_ref, *unsubscribe;
	int64_t date;
} compose_args;

/* render - one mail from the template and c, into out and outlen. */
static int render(const config *cfg, const template_set *ts, const account *a,
		  const compose_args *c, outmail *o, char *err, size_t errlen)
{
	char **out = &o->message;
	size_t *outlen = &o->len;
	char *subject = NULL, *body = NULL;
	mail_spec m;
	int rc = -1;

	if (template_render(ts, c->id, c->lang, c->vars, c->nvars, &subject, &body, err, errlen))
		goto cleanup;
	memset(&m, 0, sizeof(m));
	m.from_name = cfg->service_name;
	m.from_addr = cfg->service_address;
	m.to_name = a->name;
	m.to_addr = a->email;
	m.reply_to = c->reply_to;
	m.message_id = c->message_id;
	m.subject = subject;
	m.subject_ref = c->subject_ref;
	m.list_unsubscribe = c->unsubscribe;
	m.date = c->date;
	m.lang = c->lang;
	m.body = body;
	rc = mime_compose(&m, out, outlen, err, errlen);
cleanup:
	if (rc == 0) {
		o->subject = subject;
		o->body = body;
	} else {
		free(subject);
		free(body);
	}
	return rc;
}

static int compose(const config *cfg, const template_set *ts, const account *a,
		   const compose_args *c, outmail *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (render(cfg, ts, a, c, out, err, errlen))
		return -1;
	digest_sha256_hex(out->message, out->len, out->sha256);
	outmail_envelope_sender(cfg, out->sender);
	snprintf(out->rcpt, sizeof(out->rcpt), "%s", a->email);
	return 0;
}

/* vars_token_swap - point the "token" variable at another value. */
static void vars_token_swap(tpl_var *vars, size_t n, const char *value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(vars[i].name, "token"))
			vars[i].value = value;
}

static void unsubscribe_uri(const config *cfg, const char *purpose, const char *lang,
			    char *out, size_t outlen)
{
	char addr[ADDR_MAX + 1];

	outmail_withdraw_address(cfg, purpose, addr);
	snprintf(out, outlen, "mailto:%s?subject=%s", addr, strcmp(lang, "de") ? "REVOKE"
		 : "WIDERRUF");
}

/* tokened - a mail that carries the request's token (the request itself,
 * or the "please answer JA or NEIN" mail), stored with the token masked. */
static int tokened(const config *cfg, const template_set *ts, enum template_id id,
		   const account *a, const config_purpose *p, const char *token,
		   int64_t expires, outmail *out, char *err, size_t errlen)
{
	const char *lang = lang_of(cfg, a);
	char reply[ADDR_MAX + 1], withdraw[ADDR_MAX + 1], msgid[ADDR_MAX + 16];
	char exp[64], version[16], days[16], unsub[ADDR_MAX + 40];
	tpl_var vars[] = {
		{ "service_name", cfg->service_name },
		{ "service_address", cfg->service_address },
		{ "controller", cfg->controller },
		{ "account_name", a->name[0] ? a->name : a->email },
		{ "account_email", a->email },
		{ "purpose", p->name },
		{ "purpose_title", strcmp(lang, "de") ? p->title_en : p->title_de },
		{ "purpose_description", strcmp(lang, "de") ? p->description_en : p->description_de },
		{ "purpose_version", version },
		{ "token", token },
		{ "reply_address", reply },
		{ "withdraw_address", withdraw },
		{ "expires", exp },
		{ "lifetime_days", days },
	};
	compose_args c = { id, lang, vars, sizeof(vars) / sizeof(vars[0]),
			   msgid, reply, token, unsub, text_now() };
	const char *description = strcmp(lang, "de") ? p->description_en : p->description_de;
	char masked[TOKEN_SIZE], *stored = NULL, *back = NULL;
	size_t stored_len = 0;
	outmail masked_mail = { 0 };


	if (id == TPL_REQUEST && (!cfg->controller[0] || !description || !*description)) {
		snprintf(err, errlen, "cannot ask for consent without saying who asks and which "
			 "data: set [service] controller and description_%s of [purpose %s] in %s",
			 lang, p->name, cfg->path);
		return -1;
	}
	snprintf(reply, sizeof(reply), "%s%s%s@%s", cfg->reply_local, cfg->delimiter, token,
		 cfg->reply_domain);
	/* A request's Message-ID carries the token (replies lead back through
	 * In-Reply-To); other mails get a random one. */
	if (id != TPL_REQUEST) {
		if (random_msgid(cfg, template_name(id), msgid, sizeof(msgid), err, errlen))
			return -1;
	} else {
		snprintf(msgid, sizeof(msgid), "consent.%s@%s", token, cfg->reply_domain);
	}
	outmail_withdraw_address(cfg, p->name, withdraw);
	unsubscribe_uri(cfg, p->name, lang, unsub, sizeof(unsub));
	when(expires, lang, exp, sizeof(exp));
	snprintf(version, sizeof(version), "%d", p->version);
	snprintf(days, sizeof(days), "%d", cfg->lifetime_days);
	if (compose(cfg, ts, a, &c, out, err, errlen))
		return -1;
	/* What is stored: the same mail (same date, same layout: 'x' is as
	 * plain in quoted-printable as a hex digit) with 'x' x 32 for the
	 * token. It must give back exactly the mail as sent, or nothing is
	 * queued (a value holding 32 x's in a row would break that). */
	memset(masked, 'x', TOKEN_LEN);
	masked[TOKEN_LEN] = '\0';
	vars_token_swap(vars, sizeof(vars) / sizeof(vars[0]), masked);
	snprintf(reply, sizeof(reply), "%s%s%s@%s", cfg->reply_local, cfg->delimiter, masked,
		 cfg->reply_domain);
	if (id == TPL_REQUEST)
		snprintf(msgid, sizeof(msgid), "consent.%s@%s", masked, cfg->reply_domain);
	c.subject_ref = masked;
	if (render(cfg, ts, a, &c, &masked_mail, err, errlen))
		goto fail;
	stored = masked_mail.message;
	stored_len = masked_mail.len;
	masked_mail.message = NULL;
	outmail_clear(&masked_mail);
	back = outmail_unmask(stored, stored_len, token);
	if (stored_len != out->len || memcmp(back, out->message, out->len)) {
		snprintf(err, errlen, "the request cannot be stored without its token: a "
			 "template or value holds 32 x in a row");
		goto fail;
	}
	digest_wipe(out->message, out->len);
	free(out->message);
	out->message = stored;
	free(back);
	return 0;
fail:
	free(stored);
	free(back);
	outmail_clear(out);
	return -1;
}

int outmail_request(const config *cfg, const template_set *ts, const account *a,
		    const config_purpose *p, const char *token, int64_t expires,
		    outmail *out, char *err, size_t errlen)
{
	return tokened(cfg, ts, TPL_REQUEST, a, p, token, expires, out, err, errlen);
}

int outmail_unclear(const config *cfg, const template_set *ts, const account *a,
		    const config_purpose *p, const char *token, int64_t expires,
		    outmail *out, char *err, size_t errlen)
{
	return tokened(cfg, ts, TPL_UNCLEAR, a, p, token, expires, out, err, errlen);
}

int outmail_receipt(const config *cfg, const template_set *ts, enum template_id id,
		    const account *a, const config_purpose *p, int64_t decision_time,
		    outmail *out, char *err, size_t errlen)
{
	const char *lang = lang_of(cfg, a);
	char withdraw[ADDR_MAX + 1], msgid[ADDR_MAX + 16], t[64], unsub[ADDR_MAX + 40];
	const tpl_var vars[] = {
		{ "service_name", cfg->service_name },
		{ "service_address", cfg->service_address },
		{ "controller", cfg->controller },
		{ "account_name", a->name[0] ? a->name : a->email },
		{ "account_email", a->email },
		{ "purpose", p->name },
		{ "purpose_title", strcmp(lang, "de") ? p->title_en : p->title_de },
		{ "decision_time", t },
		{ "withdraw_address", withdraw },
	};
	compose_args c = { id, lang, vars, sizeof(vars) / sizeof(vars[0]),
			   msgid, withdraw, NULL, unsub, text_now() };

	if (random_msgid(cfg, "receipt", msgid, sizeof(msgid), err, errlen))
		return -1;
	outmail_withdraw_address(cfg, p->name, withdraw);
	unsubscribe_uri(cfg, p->name, lang, unsub, sizeof(unsub));
	when(decision_time, lang, t, sizeof(t));
	return compose(cfg, ts, a, &c, out, err, errlen);
}

int outmail_policy(const config *cfg, const template_set *ts, const account *a,
		   const char *version, int64_t effective, const char *summary,
		   outmail *out, char *err, size_t errlen)
{
	const char *lang = lang_of(cfg, a);
	char msgid[ADDR_MAX + 16], reply[ADDR_MAX + 1], eff[64];
	const tpl_var vars[] = {
		{ "service_name", cfg->service_name },
		{ "service_address", cfg->service_address },
		{ "controller", cfg->controller },
		{ "account_name", a->name[0] ? a->name : a->email },
		{ "account_email", a->email },
		{ "policy_version", version },
		{ "effective_date", eff },
		{ "policy_summary", summary },
	};
	/* A legal notice: no List-Unsubscribe (there is nothing to leave);
	 * replies reach the consent mailbox, where a withdrawal is honoured. */
	compose_args c = { TPL_POLICY_CHANGE, lang, vars, sizeof(vars) / sizeof(vars[0]),
			   msgid, reply, NULL, NULL, text_now() };
	time_t tt = (time_t)effective;
	struct tm tm;

	if (random_msgid(cfg, "policy", msgid, sizeof(msgid), err, errlen))
		return -1;
	snprintf(reply, sizeof(reply), "%s@%s", cfg->reply_local, cfg->reply_domain);
	gmtime_r(&tt, &tm);
	strftime(eff, sizeof(eff), strcmp(lang, "de") ? "%Y-%m-%d" : "%d.%m.%Y", &tm);
	return compose(cfg, ts, a, &c, out, err, errlen);
}

char *outmail_unmask(const char *message, size_t len, const char *token)
{
	char *copy = xmalloc(len + 1), *p = copy, *end = copy + len;
	char mask[TOKEN_LEN];

	memcpy(copy, message, len);
	copy[len] = '\0';
	if (!token || strlen(token) != TOKEN_LEN)
		return copy;
	memset(mask, 'x', TOKEN_LEN);
	while ((p = memmem(p, (size_t)(end - p), mask, TOKEN_LEN))) {
		memcpy(p, token, TOKEN_LEN);
		p += TOKEN_LEN;
	}
	return copy;
}

void outmail_clear(outmail *m)
{
	if (!m)
		return;
	free(m->message);
	m->message = NULL;
	free(m->subject);
	m->subject = NULL;
	if (m->body)   /* a request's holds its token */
		digest_wipe(m->body, strlen(m->body));
	free(m->body);
	m->body = NULL;
}
