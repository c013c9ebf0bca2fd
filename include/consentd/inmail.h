/*
 * inmail.h - an inbound message taken apart, with named limits: the header
 * fields the judge needs, decoded, and the text the person wrote, as UTF-8.
 *
 * Parsing uses libetpan (MIME structure, RFC 2047 words, transfer
 * encodings, charset conversion); HTML bodies are turned into text with
 * libxml2, dropping <blockquote> and the quote containers mail clients use.
 * The MIME tree is walked and bounded (parts, nesting) before libetpan
 * builds it, so no message makes libetpan recurse past INMAIL_DEPTH_MAX.
 * Delivery reports (RFC 3464), MDNs and classic bounces are recognised,
 * with the failed recipients and the returned original's Message-IDs.
 * A message over a limit, with an unknown or broken charset in a part
 * that carries text, or that libetpan cannot parse, is reported with
 * an error code: the caller records it as ignored or held, never guesses.
 */
#ifndef CONSENTD_INMAIL_H
#define CONSENTD_INMAIL_H

#include <stdbool.h>
#include <stddef.h>

#define INMAIL_SIZE_MAX    (10 * 1024 * 1024)  /* whole message, bytes */
#define INMAIL_HEADER_MAX  (256 * 1024)        /* header section, bytes */
#define INMAIL_FIELD_MAX   (16 * 1024)         /* one unfolded field, bytes */
#define INMAIL_PARTS_MAX   200                 /* MIME parts in all */
#define INMAIL_DEPTH_MAX   20                  /* multipart and embedded message nesting */
#define INMAIL_HTML_MAX    (1024 * 1024)       /* HTML given to libxml2 for text, and again
						  for alt_text: bytes, transfer-decoded and
						  as UTF-8; more makes the message
						  INMAIL_UNDECODABLE (never read in part) */
#define INMAIL_IDS_MAX     100                 /* ids kept from In-Reply-To/References */
#define INMAIL_RCPTS_MAX   50                  /* addresses kept from Delivered-To/X-Original-To/To */
#define INMAIL_DSN_RCPTS_MAX 20                /* failed recipients kept from a bounce */
#define INMAIL_ORIG_IDS_MAX  4                 /* Message-IDs kept of the returned original */
#define INMAIL_REPORT_PART_MAX (256 * 1024)    /* bytes of one report part read, before
						  transfer decoding; the rest is not read */
#define INMAIL_DSN_VALUE_MAX 1000              /* one unfolded delivery-status field value;
						  a longer one is ignored */

enum inmail_error {
	INMAIL_OK = 0,
	INMAIL_TOO_BIG,          /* over INMAIL_SIZE_MAX */
	INMAIL_HEADER_TOO_BIG,   /* header section or a field over its limit */
	INMAIL_TOO_COMPLEX,      /* too many parts or too deep */
	INMAIL_UNPARSABLE,       /* libetpan refused it, or comments nest too deeply */
	INMAIL_UNDECODABLE       /* a text part's charset is unknown or broken, or
				    its HTML is over INMAIL_HTML_MAX */
};

typedef struct inmail {
	char *message_id;                 /* without <>, or NULL */
	char *in_reply_to[INMAIL_IDS_MAX];   /* ids without <> */
	size_t n_in_reply_to;
	char *references[INMAIL_IDS_MAX];
	size_t n_references;
	char *subject;                    /* decoded UTF-8, or NULL */
	size_t from_count;                /* mailboxes in From */
	char *from_addr;                  /* addr-spec when from_count == 1, else NULL */
	char *return_path;                /* addr-spec; "" for <> (null sender); NULL if absent */
	char *rcpts[INMAIL_RCPTS_MAX];    /* addr-specs of Delivered-To, X-Original-To, To, in that order */
	size_t n_rcpts;
	/* Raw values (unfolded, NULL if absent) of the fields automatic mail
	 * is recognised by, and the authentication result to keep as evidence. */
	char *auto_submitted, *precedence, *list_id, *list_unsubscribe;
	char *x_auto_response_suppress, *x_autoreply, *x_autorespond;
	char *authentication_results;
	bool multipart_report;            /* top-level Content-Type multipart/report */
	char *report_type;                /* its report-type parameter, or NULL */
	/* Delivery reports (RFC 3464) and bounces. is_bounce: a delivery
	 * failure report of any form, i.e.
	 *  - a multipart/report; report-type=delivery-status, unless the
	 *    Action fields of its message/delivery-status part (or
	 *    message/global-delivery-status) name no failure: a delay or
	 *    success notice (only "delayed", "delivered", "relayed",
	 *    "expanded") is automatic mail but not a bounce;
	 *  - a classic bounce: null sender (Return-Path <>) or From
	 *    MAILER-DAEMON@ / postmaster@, with a bounce subject ("Undelivered
	 *    Mail", "Undeliverable", "Unzustellbar", "Delivery Status
	 *    Notification (Failure)", "Mail delivery failed", "failure
	 *    notice", "Returned mail", ...); here too a delivery-status part
	 *    with Actions, if there is one, decides.
	 * An MDN is never a bounce. When the body is refused (too big, ...)
	 * is_bounce and is_mdn are still set from the header. */
	bool is_bounce;
	bool is_mdn;                      /* multipart/report; report-type=disposition-notification */
	/* addr-specs (without <>, at most ADDR_MAX (limits.h) bytes, with
	 * an '@') of the recipients that failed: from Final-Recipient (else
	 * Original-Recipient) of each delivery-status group with Action:
	 * failed; for a classic bounce without such groups, from text/plain
	 * lines "<addr>: ..." (Postfix, qmail) or Exim's indented address
	 * lines after "...failed:", before the copy of the message ("---").
	 * Distinct (case-insensitive), in report order; only for bounces. */
	char *dsn_rcpts[INMAIL_DSN_RCPTS_MAX];
	size_t n_dsn_rcpts;
	char *dsn_status;                 /* the Status of the first failed recipient
					     that has a well-formed one ("5.1.1",
					     RFC 3463); for a classic bounce the first
					     code in the lines of a recipient it names
					     (up to a blank line); else NULL */
	/* Message-IDs (without <>) of the returned original, for reports and
	 * bounces only: from the header of each message/rfc822,
	 * message/global, message/global-headers or text/rfc822-headers part;
	 * when none is found there, any "<consent.HEX32@DOMAIN>" or
	 * "<receipt.HEX@DOMAIN>" (1 to 64 hex digits) in its parts (text, the
	 * delivery-status, a quoted original in a plain-text bounce).
	 * Distinct (case-insensitive), in the order found. */
	char *orig_msgids[INMAIL_ORIG_IDS_MAX];
	size_t n_orig_msgids;
	/* The text the person wrote, as UTF-8 (CRLF as LF, format=flowed
	 * joined): every text/plain and text/html part that is not an
	 * attachment (Content-Disposition: attachment, or a file name), in
	 * document order, joined by a blank line; HTML as text, <blockquote>
	 * and quote containers dropped. Of a multipart/alternative one
	 * alternative is read: the first with text/plain, else the last with
	 * text/html. Embedded messages (message/rfc822) are not read. NULL
	 * when there is no such part. */
	char *text;
	/* The same text as a client that shows HTML shows it: in every
	 * multipart/alternative the last alternative with text/html (else
	 * the first with text/plain). Set only when text took text/plain
	 * from a multipart/alternative that also has text/html; else NULL.
	 * The two may disagree ("Ja" in text/plain, "Nein" in text/html):
	 * the judge compares both, a yes only when both say yes. */
	char *alt_text;
	enum inmail_error error;
} inmail;

/* inmail_parse - take raw[0..len) apart into *out (zeroed first). Returns
 * 0 when out->error is INMAIL_OK, -1 otherwise (err says why in a short
 * line); fields found before the error stay filled, so a caller can still
 * see, e.g., that an oversized message was a bounce. */
int inmail_parse(const char *raw, size_t len, inmail *out, char *err, size_t errlen);

/* inmail_clear - free everything in m; NULL-safe, m may be reused. */
void inmail_clear(inmail *m);

#endif
