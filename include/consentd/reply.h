/*
 * reply.h - the person's own new text in a reply, without what they quoted.
 *
 * Input: the decoded text/plain body (UTF-8, LF or CRLF line ends), or text
 * made from HTML (blockquotes already dropped). Output: the lines before
 * the first of these, with '>' lines removed wherever they stand (inline
 * answers between quotes are kept):
 *   - a quote attribution: "Am <...> schrieb <...>:" (also folded over two
 *     lines, as Gmail, Thunderbird and Apple Mail write it), "On <...>
 *     wrote:", "Le <...> a écrit :";
 *   - an Outlook header block: a line "Von:" / "From:" followed within the
 *     next lines by "Gesendet:" / "Sent:" (or "An:" / "To:", "Betreff:" /
 *     "Subject:"), also with "*Von:*" bold markers;
 *   - "-----Original Message-----", "----- Ursprüngliche Nachricht -----",
 *     "-------- Original Message --------", "Begin forwarded message:";
 *   - a signature separator "-- " (or "--") on a line of its own;
 *   - mobile footers: "Von meinem iPhone gesendet", "Sent from my ...",
 *     "Gesendet von ...", "Get Outlook for ...";
 *   - a disclaimer start: a line beginning "Diese E-Mail enthält
 *     vertrauliche", "This e-mail (and any attachment) ...", "This email
 *     and any attachments are confidential", "CONFIDENTIALITY NOTICE".
 * When nothing of the person's stands above a '>'-quoting attribution, the
 * answer was written below the quote (bottom-posting): the unquoted lines
 * after the attribution, up to the next cut point, are the text then.
 * Leading and trailing blank lines are trimmed. The result is never longer
 * than the input.
 */
#ifndef CONSENTD_REPLY_H
#define CONSENTD_REPLY_H

#include <stddef.h>

#define REPLY_LINES_MAX 2000   /* lines looked at; later ones are dropped */

/* reply_own_text - the person's own text of body[0..len), malloc'd and
 * NUL-terminated, length in *out_len (may be NULL). Never NULL. */
char *reply_own_text(const char *body, size_t len, size_t *out_len);

#endif
