/*
 * inbound.h - one inbound message in, one recorded outcome out: the shared
 * core of both channels (consentd reading IMAP, consent-deliver fed by
 * Postfix pipe(8)). PRODUCT.md "How a reply is judged" is the rule book.
 *
 * The message is taken apart (inmail), recognised as automatic mail or a
 * bounce, tied to a request by its token (envelope plus-address, the
 * request's Message-ID in In-Reply-To/References, the token in the subject
 * or text), its sender checked against the account's primary address, the
 * person's own new text cut out of the reply (reply) and read (intent).
 * Then, in ONE write transaction: the ledger event with its evidence (if
 * any), the receipt or "please answer" mail, and the inbox row that says
 * what the message became, with the raw message kept as evidence.
 *
 * Exactly once: a message whose Message-ID and SHA-256 (of its CRLF form)
 * were recorded before is recorded as a duplicate of that row and changes
 * nothing. inbound_process returns 0 only after the commit; on any other
 * return nothing was written and the caller must retry later (pipe: exit
 * 75; IMAP: leave the message in the mailbox).
 */
#ifndef CONSENTD_INBOUND_H
#define CONSENTD_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"
#include "template.h"

#define INBOUND_TOKENS_MAX 8      /* candidate tokens looked up per message */
#define INBOUND_ACCOUNTS_MAX 16   /* accounts one address may withdraw for */
#define INBOUND_DETAIL_MAX 255    /* the human line kept with the outcome */

typedef struct inbound_msg {
	const char *channel;      /* CHANNEL_IMAP or CHANNEL_PIPE */
	const char *raw;          /* the message as received, LF or CRLF */
	size_t len;
	bool truncated;           /* raw is only the first len bytes of it */
	size_t full_size;         /* size of the whole message (CRLF form) */
	const char *full_sha256;  /* when truncated: SHA-256 of the whole (CRLF form) */
	const char *env_sender;   /* envelope sender (pipe -f), or NULL */
	const char *env_rcpt;     /* envelope recipient (pipe -r), or NULL */
} inbound_msg;

typedef struct inbound_result {
	char outcome[16];         /* granted declined revoked review ignored */
	char reason[32];          /* see README "Inbound outcomes" */
	char detail[INBOUND_DETAIL_MAX + 1];
	char account[ACCOUNT_ID_MAX + 1];   /* "" when none */
	char purpose[PURPOSE_NAME_MAX + 1];
	char msg_id[128];         /* for the log, shortened */
	int64_t inbox_id;
	bool duplicate;
	bool review;              /* the message belongs in the review mailbox */
} inbound_result;

/* inbound_process - judge and record msg (see above). 0 when the outcome
 * is committed (out says what it was); a store code (STORE_BUSY when the
 * database stayed locked) or -1 otherwise, with err. */
int inbound_process(store *st, const config *cfg, const template_set *ts,
		    const inbound_msg *msg, inbound_result *out, char *err, size_t errlen);

/* inbound_canon - raw[0..len) with every bare LF made CRLF (the form IMAP
 * serves and the hash is taken over), malloc'd, length in *out_len. */
char *inbound_canon(const char *raw, size_t len, size_t *out_len);

#endif
