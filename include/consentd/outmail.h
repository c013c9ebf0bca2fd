/*
 * outmail.h - the mails consentd sends, composed from the templates and
 * the configuration: consent requests and receipts.
 *
 * Address conventions (PRODUCT.md "Mail conventions"):
 *   Reply-To          LOCAL<delim>TOKEN@DOMAIN         (requests)
 *   Message-ID        <consent.TOKEN@DOMAIN>            (requests)
 *                     <receipt.RANDOM@DOMAIN>           (receipts)
 *   Subject           ... [TOKEN]                       (requests)
 *   Reply-To          LOCAL<delim>withdraw-PURPOSE@DOMAIN      (receipts:
 *                     answering a receipt withdraws, as easily as given)
 *   List-Unsubscribe  <mailto:LOCAL<delim>withdraw-PURPOSE@DOMAIN?subject=WIDERRUF|REVOKE>
 *                     a mail there from the primary address withdraws
 *                     (or, while pending, declines) that consent
 *   envelope sender   LOCAL<delim>bounce@DOMAIN        (bounces come back
 *                     to the consent mailbox)
 * The mail goes to the account's primary address and nowhere else.
 */
#ifndef CONSENTD_OUTMAIL_H
#define CONSENTD_OUTMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "template.h"

typedef struct outmail {
	char *message;                  /* CRLF bytes, malloc'd; a request's with
					 * its token as 'x' x 32: what is stored */
	size_t len;
	char sha256[SHA256_HEX];        /* of the mail as sent (token in) */
	char sender[ADDR_MAX + 1];      /* envelope */
	char rcpt[ADDR_MAX + 1];
	char *subject, *body;           /* the rendered text (UTF-8, LF), malloc'd */
} outmail;

/* outmail_request - the consent request of account a for purpose p, with
 * its token and expiry. Refused when [service] controller or the purpose's
 * description in the account's language is empty: a request must say who
 * asks and which data it concerns (GDPR Art. 13). */
int outmail_request(const config *cfg, const template_set *ts, const account *a,
		    const config_purpose *p, const char *token, int64_t expires,
		    outmail *out, char *err, size_t errlen);

/* outmail_unclear - the short "please answer JA or NEIN" mail for a request
 * whose answer was unclear: Reply-To and subject carry its token again, so
 * the next answer finds the request; stored with the token masked as a
 * request is. */
int outmail_unclear(const config *cfg, const template_set *ts, const account *a,
		    const config_purpose *p, const char *token, int64_t expires,
		    outmail *out, char *err, size_t errlen);

/* outmail_receipt - a receipt (TPL_RECEIPT_*) telling the person what was
 * recorded at decision_time and how to withdraw. */
int outmail_receipt(const config *cfg, const template_set *ts, enum template_id id,
		    const account *a, const config_purpose *p, int64_t decision_time,
		    outmail *out, char *err, size_t errlen);

/* outmail_policy - the announcement of policy version (in force from
 * effective) with the summary of changes in the account's language: a
 * legal notice (Auto-Submitted, no List-Unsubscribe), Reply-To the consent
 * mailbox LOCAL@DOMAIN, Message-ID <policy.RANDOM@DOMAIN>. */
int outmail_policy(const config *cfg, const template_set *ts, const account *a,
		   const char *version, int64_t effective, const char *summary,
		   outmail *out, char *err, size_t errlen);

/* outmail_envelope_sender - LOCAL<delim>bounce@DOMAIN. */
void outmail_envelope_sender(const config *cfg, char out[ADDR_MAX + 1]);

/* outmail_withdraw_address - LOCAL<delim>withdraw-PURPOSE@DOMAIN. */
void outmail_withdraw_address(const config *cfg, const char *purpose, char out[ADDR_MAX + 1]);

/* outmail_unmask - the mail as sent: every 'x' x 32 of a stored request
 * replaced by its token. malloc'd. The caller checks the result against the
 * stored SHA-256. */
char *outmail_unmask(const char *message, size_t len, const char *token);

/* outmail_clear - free the message; NULL-safe. */
void outmail_clear(outmail *m);

#endif
