/*
 * mime.h - composing outgoing mail: RFC 5322 headers with RFC 2047 encoded
 * words, a quoted-printable UTF-8 text body, CRLF line ends.
 *
 * Every header value is checked: a CR, LF or other control character in
 * any value makes mime_compose fail; nothing is passed through that could
 * start a new header line. Non-ASCII text in Subject and display names is
 * written as UTF-8 "B" encoded words of at most 75 characters, folded so no
 * header line exceeds 78 characters. Addresses must be plain ASCII
 * addr-specs. The body is encoded with libetpan's quoted-printable writer.
 */
#ifndef CONSENTD_MIME_H
#define CONSENTD_MIME_H

#include <stddef.h>
#include <stdint.h>

typedef struct mail_spec {
	const char *from_name, *from_addr;     /* From: "name" <addr> */
	const char *to_name, *to_addr;         /* To: (to_name may be NULL/"") */
	const char *reply_to;                  /* Reply-To: <addr>, or NULL */
	const char *message_id;                /* without <>, required */
	const char *in_reply_to;               /* without <>, or NULL */
	const char *subject;                   /* UTF-8 */
	const char *subject_ref;               /* ASCII, appended as " [REF]", or NULL */
	const char *list_unsubscribe;          /* full mailto: URI, or NULL */
	int64_t date;                          /* seconds since the epoch */
	const char *lang;                      /* Content-Language, or NULL */
	const char *body;                      /* UTF-8 text, LF line ends */
} mail_spec;

/* mime_compose - the whole message in *out (malloc'd, NUL-terminated, length
 * in *outlen), with Date, From, To, Reply-To, Subject, Message-ID,
 * In-Reply-To, Auto-Submitted: auto-generated, X-Auto-Response-Suppress:
 * OOF, AutoReply, List-Unsubscribe, MIME-Version, Content-Type text/plain;
 * charset=UTF-8, Content-Transfer-Encoding: quoted-printable. 0, or -1 with
 * err saying which field is unacceptable. */
int mime_compose(const mail_spec *m, char **out, size_t *outlen, char *err, size_t errlen);

/* mime_header_words - append the header value text (UTF-8) to a header
 * line that already holds used characters, as it would be written after
 * "Name: " (encoded words and folding as above). Exposed for tests.
 * Returns a malloc'd string or NULL with err set. */
char *mime_header_words(const char *text, size_t used, char *err, size_t errlen);

#endif
