/*
 * imap_in.h - read new mail from one IMAP mailbox and file each message
 * away once the caller has decided on it (libetpan; only imap_in.c, mime.c
 * and inmail.c include libetpan headers).
 *
 * The caller keeps two numbers across sessions and restarts: the mailbox's
 * UIDVALIDITY and the highest UID it has finished (0/0 at first). Every
 * message with a higher UID is handed to the callback once per pass, in
 * UID order. The callback records the outcome durably and says where the
 * message goes (processed or review). Only then is it moved there, and only
 * after the move has succeeded does the remembered UID advance. So nothing
 * is ever moved or deleted that the callback did not decide on. A message
 * can be handed over twice: when the connection breaks after the decision
 * and before the move, the next session hands it over again. The caller's
 * recording must therefore be idempotent (consentd keys it on the SHA-256
 * of the raw message).
 *
 * Mailbox names: "/" in the configured names is the hierarchy separator.
 * It is replaced by the server's own separator (from LIST "" ""; Dovecot
 * with Maildir uses ".", and it refuses "/" in a name). A name must be
 * printable ASCII without *, %, \ or a double quote; "&" is sent as "&-"
 * (modified UTF-7). processed_mailbox and review_mailbox are created when
 * missing and must differ from mailbox.
 *
 * TLS (cfg->imap_tls): TLS_IMAPS (TLS from the first byte) or TLS_STARTTLS
 * (required: a server that does not offer it is refused; so is PREAUTH,
 * which leaves no point to start TLS). The certificate is always verified,
 * and the session fails before LOGIN if it does not verify. libetpan 1.9.4
 * as Debian builds it (GnuTLS) does not verify anything itself: its
 * handshake accepts any certificate, and mailstream_ssl_set_server_certicate
 * returns -1 ("not implemented" for GnuTLS). After the handshake, though,
 * it hands out the chain the server presented. imap_in verifies that chain
 * (digest_verify_chain, OpenSSL's X509_verify_cert): the system trust store (OpenSSL's default
 * paths, /etc/ssl/certs on Debian; the SSL_CERT_FILE and SSL_CERT_DIR
 * environment variables override them) and the purpose "TLS server". The
 * name must match cfg->imap_host: DNS names against subjectAltName DNS
 * entries (no partial wildcards), IP addresses against subjectAltName IP
 * entries. The handshake has already proved that the server holds the key
 * of the leaf certificate. Not checked: revocation (no CRL, no OCSP). SNI is
 * sent for host names. With TLS_NO, the password goes over the wire in clear
 * text: keep that to 127.0.0.1 or a link that is protected some other way.
 *
 * Errors are reported through err (the server's text is cut to
 * IMAP_IN_TEXT_MAX printable ASCII bytes). Nothing is logged here. After an
 * error from imap_in_pass or from an IDLE call, the session is unusable:
 * free it and open a new one (with backoff).
 */
#ifndef CONSENTD_IMAP_IN_H
#define CONSENTD_IMAP_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Named limits on what comes from the server. libetpan reads every
 * response whole into memory and has no limit of its own, so these bound
 * what is asked for, and an answer larger than what was asked for is an
 * error. */
#define IMAP_IN_BATCH_MAX     1000          /* UIDs per batch: a UID set of 1000 singles is
					       about 11 KB, under Dovecot's 64 KB command line */
#define IMAP_IN_FETCH_BYTES   (32u << 20)   /* sizes of the bodies in one UID FETCH, added
					       up (a larger single message goes alone) */
#define IMAP_IN_MAX_BYTES_MAX (256u << 20)  /* largest max_bytes accepted by imap_in_pass */
#define IMAP_IN_MAILBOX_MAX   200           /* a mailbox name as sent, in bytes */
#define IMAP_IN_TEXT_MAX      200           /* server text quoted in err */
#define IMAP_IN_CHAIN_MAX     16            /* certificates read from the server's chain */

typedef struct imap_in imap_in;

/* Where a decided message goes. */
enum imap_dest { IMAP_DEST_PROCESSED = 0, IMAP_DEST_REVIEW = 1 };

/* imap_msg_fn - called once per new message, in UID order. raw[0..len) are
 * the message's bytes exactly as BODY.PEEK[] returns them (CRLF line ends;
 * not NUL-terminated; valid only during the call). full_size is the size of
 * the whole message. When truncated is true, the message is larger than the
 * pass's max_bytes, and raw holds only its first max_bytes bytes.
 * Return IMAP_DEST_PROCESSED or IMAP_DEST_REVIEW only after the outcome is
 * durably recorded. Return -1 to end the pass without touching this message
 * or any later one (e.g. the database is locked: try later). Any other value
 * counts as -1. */
typedef int (*imap_msg_fn)(const char *raw, size_t len, uint32_t uid, bool truncated,
			   uint32_t full_size, void *arg);

/* imap_in_open - connect to cfg->imap_host:imap_port (plain, STARTTLS or
 * IMAPS per cfg->imap_tls, see above), LOGIN as cfg->imap_user with the
 * first line of cfg->imap_password_file, create the processed and review
 * mailboxes when missing, and SELECT cfg->imap_mailbox. timeout_s (>= 1)
 * bounds each network operation (connect, TLS handshake, each read and
 * write). Returns 0 and the session in *out, or -1 with err. */
int imap_in_open(imap_in **out, const config *cfg, int timeout_s, char *err, size_t errlen);

/* imap_in_pass - hand every message with a UID above *last_uid_io to fn,
 * then move it as fn said.
 *
 * *uidvalidity_io and *last_uid_io are the caller's state (0 and 0 at
 * first). When the mailbox's UIDVALIDITY differs from *uidvalidity_io, the
 * UIDs were renumbered: *uidvalidity_io is updated, *last_uid_io is set to
 * 0, and every message is handed over again.
 *
 * Messages go in batches of at most `batch` (1..IMAP_IN_BATCH_MAX). For each
 * batch: one UID FETCH asks for the sizes (RFC822.SIZE). Then the bodies
 * come, at most max_bytes + 1 bytes of each (BODY.PEEK[]<0.max_bytes+1>, so
 * \Seen stays untouched), in one UID FETCH per group of messages whose
 * sizes (capped at max_bytes + 1) add up to at most IMAP_IN_FETCH_BYTES.
 * After each group's FETCH, fn is called for each message of the group.
 * Then sync(arg) (when not NULL) is called: the caller makes every
 * decision of the batch durable (one disk sync for the batch instead of one
 * per message); if it returns non-zero nothing is moved and the pass ends
 * with -1. Then the messages fn decided on are moved: UID MOVE when the server has
 * MOVE; otherwise UID COPY, UID STORE +FLAGS.SILENT (\Deleted) and UID
 * EXPUNGE (UIDPLUS); otherwise UID COPY, UID STORE and a plain EXPUNGE. The
 * plain EXPUNGE is sent only when no message above the highest decided UID
 * carries \Deleted, because a plain EXPUNGE would delete that message too
 * (every UID up to there was decided on). When it is skipped, the decided
 * messages stay in the mailbox, marked \Deleted (their copies are in
 * place), until a later EXPUNGE. After the move succeeds, *last_uid_io
 * becomes the highest UID that was moved.
 *
 * max_bytes (1..IMAP_IN_MAX_BYTES_MAX): messages larger than this are never
 * downloaded whole. fn gets their first max_bytes bytes, truncated = true
 * and the full size. "Larger" is judged from the bytes received, not from
 * RFC822.SIZE alone, so a server that reports a wrong size cannot make a
 * truncated message look whole.
 *
 * stop (may be NULL) is asked before each message. When it returns non-zero,
 * or fn returns -1, the pass moves what was already decided and ends with 0.
 * A message that vanishes from the mailbox during the pass is skipped.
 * *n_out = the number of calls to fn. Returns 0, or -1 with err on
 * connection or protocol trouble. After -1 the state holds what was moved
 * before the trouble. */
int imap_in_pass(imap_in *s, uint32_t *uidvalidity_io, uint32_t *last_uid_io, int batch,
		 size_t max_bytes, imap_msg_fn fn, int (*sync)(void *arg), void *arg,
		 int (*stop)(void), int *n_out, char *err, size_t errlen);

/* IDLE (RFC 2177), for waiting until new mail arrives:
 *
 *   if (imap_in_has_idle(s)) for (;;) {
 *       r = imap_in_idle_start(s, err, errlen);       // -1: reconnect
 *       if (r == 0) poll imap_in_idle_fd(s) for POLLIN (plus the caller's own
 *                   fds) for at most 29 minutes;
 *       imap_in_idle_done(s, &new_mail, err, errlen);  // -1: reconnect
 *       if (new_mail) imap_in_pass(...);
 *   }
 *
 * imap_in_idle_start returns 1 instead of 0 when there is no need to wait:
 * new mail was announced (EXISTS) during the last pass, or the
 * server's answer is already buffered (so the fd would not become readable).
 * Then it may not have sent IDLE at all; call imap_in_idle_done right away,
 * and it reports new_mail = true in the first case. The fd also wakes up on
 * the server's keep-alive lines (Dovecot: every 2 minutes) and when the
 * server closes the connection. So a wake-up with new_mail false is
 * normal: start IDLE again. Without IDLE the caller polls by calling
 * imap_in_pass from time to time. imap_in_free may be called while IDLE
 * runs (no LOGOUT then). */
bool imap_in_has_idle(const imap_in *s);
int imap_in_idle_start(imap_in *s, char *err, size_t errlen);
int imap_in_idle_fd(const imap_in *s);
int imap_in_idle_done(imap_in *s, bool *new_mail_out, char *err, size_t errlen);

/* imap_in_free - LOGOUT when the connection is still usable, close, free.
 * NULL-safe. */
void imap_in_free(imap_in *s);

#endif
