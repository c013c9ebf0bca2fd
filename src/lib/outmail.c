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

void outmail_withdraw_address(const config *cfg, const char *purpose, char out[ADDR_MAX + 1])
{
	snprintf(out, ADDR_MAX + 1, "%s%swithdraw-%s@%s", cfg->reply_local, cfg->delimiter,
		 purpose, cfg->reply_domain);
}

typedef struct compose_args {
	enum template_id id;
	const char *lang;
	const tpl_var *vars;
	size_t nvars;
	const char *message_id, *reply_to, *subject_ref, *unsubscribe;
} compose_args;

static int compose(const config *cfg, const template_set *ts, const account *a,
		   const compose_args *c, outmail *out, char *err, size_t errlen)
{
	char *subject = NULL, *body = NULL;
	mail_spec m;
	int rc = -1;

	memset(out, 0, sizeof(*out));
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
	m.date = text_now();
	m.lang = c->lang;
	m.body = body;
	if (mime_compose(&m, &out->message, &out->len, err, errlen))
		goto cleanup;
	digest_sha256_hex(out->message, out->len, out->sha256);
	snprintf(out->sender, sizeof(out->sender), "%s%sbounce@%s", cfg->reply_local,
		 cfg->delimiter, cfg->reply_domain);
	snprintf(out->rcpt, sizeof(out->rcpt), "%s", a->email);
	rc = 0;
cleanup:
	free(subject);
	free(body);
	return rc;
}

static void unsubscribe_uri(const config *cfg, const char *purpose, const char *lang,
			    char *out, size_t outlen)
{
	char addr[ADDR_MAX + 1];

	outmail_withdraw_address(cfg, purpose, addr);
	snprintf(out, outlen, "mailto:%s?subject=%s", addr, strcmp(lang, "de") ? "REVOKE"
		 : "WIDERRUF");
}

int outmail_request(const config *cfg, const template_set *ts, const account *a,
		    const config_purpose *p, const char *token, int64_t expires,
		    outmail *out, char *err, size_t errlen)
{
	const char *lang = lang_of(cfg, a);
	char reply[ADDR_MAX + 1], withdraw[ADDR_MAX + 1], msgid[ADDR_MAX + 16];
	char exp[64], version[16], days[16], unsub[ADDR_MAX + 40];
	const tpl_var vars[] = {
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
	compose_args c = { TPL_REQUEST, lang, vars, sizeof(vars) / sizeof(vars[0]),
			   msgid, reply, token, unsub };

	snprintf(reply, sizeof(reply), "%s%s%s@%s", cfg->reply_local, cfg->delimiter, token,
		 cfg->reply_domain);
	snprintf(msgid, sizeof(msgid), "consent.%s@%s", token, cfg->reply_domain);
	outmail_withdraw_address(cfg, p->name, withdraw);
	unsubscribe_uri(cfg, p->name, lang, unsub, sizeof(unsub));
	when(expires, lang, exp, sizeof(exp));
	snprintf(version, sizeof(version), "%d", p->version);
	snprintf(days, sizeof(days), "%d", cfg->lifetime_days);
	return compose(cfg, ts, a, &c, out, err, errlen);
}

int outmail_receipt(const config *cfg, const template_set *ts, enum template_id id,
		    const account *a, const config_purpose *p, int64_t decision_time,
		    outmail *out, char *err, size_t errlen)
{
	const char *lang = lang_of(cfg, a);
	char withdraw[ADDR_MAX + 1], msgid[ADDR_MAX + 16], t[64], unsub[ADDR_MAX + 40];
	unsigned char rnd[12];
	char rndhex[sizeof(rnd) * 2 + 1];
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
			   msgid, NULL, NULL, unsub };

	if (digest_random(rnd, sizeof(rnd))) {
		snprintf(err, errlen, "no random bytes for a Message-ID");
		return -1;
	}
	text_hex(rnd, sizeof(rnd), rndhex);
	snprintf(msgid, sizeof(msgid), "receipt.%s@%s", rndhex, cfg->reply_domain);
	outmail_withdraw_address(cfg, p->name, withdraw);
	unsubscribe_uri(cfg, p->name, lang, unsub, sizeof(unsub));
	when(decision_time, lang, t, sizeof(t));
	return compose(cfg, ts, a, &c, out, err, errlen);
}

char *outmail_mask_token(const char *message, size_t len, const char *token)
{
	char *copy = xmalloc(len + 1), *p = copy, *end = copy + len;
	size_t tl = strlen(token);

	memcpy(copy, message, len);
	copy[len] = '\0';
	if (!tl)
		return copy;
	while ((p = memmem(p, (size_t)(end - p), token, tl))) {
		memset(p, 'x', tl);
		p += tl;
	}
	return copy;
}

void outmail_clear(outmail *m)
{
	if (!m)
		return;
	free(m->message);
	m->message = NULL;
}
