/*
 * smtp_out.h - submit a batch of messages over one SMTP session (libESMTP).
 *
 * The outcome of every message is read from libESMTP's per-recipient and
 * per-message status, never inferred from the session result, and handed to
 * the caller as soon as it is known (right after the server's reply to the
 * end of that message's data), so the caller can record it before the next
 * message is sent. Messages the session never reached (connection refused
 * or dropped, STARTTLS required but not offered) come back UNTRIED.
 */
#ifndef CONSENTD_SMTP_OUT_H
#define CONSENTD_SMTP_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SMTP_RESPONSE_MAX 256   /* server text kept per message, sanitised */

enum smtp_job_status {
	SMTP_JOB_UNTRIED = 0,   /* not attempted: try again soon */
	SMTP_JOB_SENT,          /* 2xx for the recipient and for the data */
	SMTP_JOB_DEFERRED,      /* a 4xx: try again later */
	SMTP_JOB_FAILED         /* a 5xx: permanent */
};

typedef struct smtp_job {
	int64_t id;                 /* the caller's (outbox row) */
	const char *sender;         /* envelope sender (MAIL FROM) */
	const char *rcpt;           /* the one recipient */
	const char *data;           /* the message, CRLF, NUL-terminated */
	/* results */
	enum smtp_job_status status;
	char response[SMTP_RESPONSE_MAX];  /* e.g. "250 2.0.0 Ok: queued as 4Fx" */
	int reported;               /* done() was called */
} smtp_job;

/* Called once per job as soon as its status is final for this session. */
typedef void (*smtp_job_done_fn)(smtp_job *job, void *arg);

/* smtp_out_send - one session to [smtp] host:port for jobs[0..n). Returns 0
 * when the session ran (whatever each message's fate), -1 when it could not
 * be set up (session_err says why: unreadable password file, ...). When the
 * session ran, every job is reported through done, exactly once, before
 * this returns. stop (may be NULL) is asked after each message: when it
 * says so, the connection is closed and the rest come back UNTRIED.
 * session_err receives a connection-level problem, if any.
 *
 * When [smtp] user is set, a 530/535 or 5.7.x answer (authentication
 * failed or required, relaying denied) defers instead of failing: a
 * rotated password must not fail a whole queue for good (Postfix's
 * smtp_sasl_auth_soft_bounce). starttls = try takes a certificate it
 * cannot verify (the connection is still encrypted); require does not. */
int smtp_out_send(const config *cfg, smtp_job *jobs, size_t n, int (*stop)(void),
		  smtp_job_done_fn done, void *arg, char *session_err, size_t errlen);

/* smtp_out_sanitise - printable ASCII only (others become '?'), at most
 * outlen-1 bytes: peer text is cleaned before it is logged or stored. */
void smtp_out_sanitise(const char *in, char *out, size_t outlen);

#endif
