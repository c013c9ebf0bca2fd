/*
 * smtp_out.c - SMTP submission with libESMTP (see smtp_out.h). The only
 * file that includes libesmtp.h and auth-client.h.
 *
 * Facts this code relies on (verified, ../shared/notes/mailstack.md):
 * smtp_start_session returns 1 even when nothing was delivered; timeouts are
 * milliseconds and need Timeout_OVERRIDE_RFC2822_MINIMUM to go below the
 * RFC minimums; one session carries all added messages; the message text
 * must use CRLF; STARTTLS required but not offered raises
 * SMTP_EV_EXTNA_STARTTLS and sends nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "consentd/digest.h"
#include "consentd/smtp_out.h"
#include "consentd/text.h"


typedef struct session_ctx {
	smtp_job_done_fn done;
	void *arg;
	int (*stop)(void);
	int port, fd;                      /* the SMTP socket, -1 until known */
	bool auth, tls_verify;
	char user[256];
	char password[CONFIG_PASSWORD_MAX];
	char problem[SMTP_RESPONSE_MAX];   /* connection-level */
} session_ctx;

void smtp_out_sanitise(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	if (!outlen)
		return;
	for (; in && *in && i + 1 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '\r' || c == '\n')
			c = ' ';
		out[i++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	while (i > 0 && out[i - 1] == ' ')
		i--;
	out[i] = '\0';
}

static void status_text(const smtp_status_t *st, char *out, size_t outlen)
{
	char text[SMTP_RESPONSE_MAX - 32];   /* room for the codes in front */

	smtp_out_sanitise(st->text, text, sizeof(text));
	if (st->enh_class)
		snprintf(out, outlen, "%d %d.%d.%d %s", st->code, st->enh_class,
			 st->enh_subject, st->enh_detail, text);
	else
		snprintf(out, outlen, "%d %s", st->code, text);
}

/* auth_refusal - an answer that means "who are you" rather than "no". */
static bool auth_refusal(const smtp_status_t *st)
{
	return st->code == 530 || st->code == 535 || st->code == 554 ||
	       (st->enh_class == 5 && st->enh_subject == 7);
}

/* classify - the job's fate from the statuses libESMTP recorded. */
static void classify(const session_ctx *ctx, smtp_message_t m, smtp_recipient_t r,
		     smtp_job *job)
{
	const smtp_status_t *mail = smtp_reverse_path_status(m);
	const smtp_status_t *rcpt = r ? smtp_recipient_status(r) : NULL;
	const smtp_status_t *data = smtp_message_transfer_status(m);
	const smtp_status_t *worst = NULL;

	if (mail && mail->code >= 400)
		worst = mail;
	else if (rcpt && rcpt->code >= 400)
		worst = rcpt;
	else if (data && data->code >= 400 && data->code != 503)
		worst = data;
	else if (data && data->code == 503 && rcpt && rcpt->code >= 400)
		worst = rcpt;
	if (worst) {
		job->status = worst->code >= 500 && !(ctx->auth && auth_refusal(worst))
			      ? SMTP_JOB_FAILED : SMTP_JOB_DEFERRED;
		status_text(worst, job->response, sizeof(job->response));
		return;
	}
	if (rcpt && rcpt->code >= 200 && rcpt->code < 300 &&
	    data && data->code >= 200 && data->code < 300) {
		job->status = SMTP_JOB_SENT;
		status_text(data, job->response, sizeof(job->response));
		return;
	}
	job->status = SMTP_JOB_UNTRIED;
	if (data && data->code)
		status_text(data, job->response, sizeof(job->response));
	else
		snprintf(job->response, sizeof(job->response), "not attempted");
}

static void first_recipient(smtp_recipient_t r, const char *mailbox, void *arg)
{
	(void)mailbox;
	if (!*(smtp_recipient_t *)arg)
		*(smtp_recipient_t *)arg = r;
}

static void report(session_ctx *ctx, smtp_message_t m)
{
	smtp_job *job = smtp_message_get_application_data(m);
	smtp_recipient_t r = NULL;

	if (!job || job->reported)
		return;
	smtp_enumerate_recipients(m, first_recipient, &r);
	classify(ctx, m, r, job);
	if (job->status == SMTP_JOB_UNTRIED)
		return;   /* decided after the session */
	job->reported = 1;
	ctx->done(job, ctx->arg);
	if (ctx->stop && ctx->stop() && ctx->fd >= 0)
		shutdown(ctx->fd, SHUT_RDWR);   /* the rest come back untried */
}

/* find_socket - libESMTP does not expose its socket; after SMTP_EV_CONNECT
 * it is the newest TCP stream of this process connected to the server's
 * port. Only open descriptors are looked at (/proc/self/fd); 0-2 never
 * (consentd keeps them open). -1 if not found. */
static int find_socket(int port)
{
	struct sockaddr_storage peer;
	struct dirent *de;
	socklen_t len;
	DIR *dir = opendir("/proc/self/fd");
	int fd, type, found = -1;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		fd = atoi(de->d_name);
		if (fd <= 2 || fd == dirfd(dir))
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
			continue;
		len = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
			continue;
		if (((peer.ss_family == AF_INET &&
		      ntohs(((struct sockaddr_in *)&peer)->sin_port) == port) ||
		     (peer.ss_family == AF_INET6 &&
		      ntohs(((struct sockaddr_in6 *)&peer)->sin6_port) == port)) && fd > found)
			found = fd;
	}
	closedir(dir);
	return found;
}

static void on_event(smtp_session_t s, int event, void *arg, ...)
{
	session_ctx *ctx = arg;
	va_list ap;
	int *ok, one = 1;

	va_start(ap, arg);
	switch (event) {
	case SMTP_EV_CONNECT:
		/* Nagle off: libESMTP writes a message in 2 KiB pieces and the last
		 * one would wait for the peer's delayed ACK, 40 ms per message. */
		ctx->fd = find_socket(ctx->port);
		if (ctx->fd >= 0)
			setsockopt(ctx->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
	case SMTP_EV_MESSAGESENT:
		report(ctx, va_arg(ap, smtp_message_t));
		break;
	case SMTP_EV_EXTNA_STARTTLS:
		snprintf(ctx->problem, sizeof(ctx->problem),
			 "STARTTLS required but the server does not offer it; nothing sent");
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
		(void)va_arg(ap, long);
		ok = va_arg(ap, int *);
		*ok = !ctx->tls_verify;   /* try: encrypted is better than clear */
		if (ctx->tls_verify)
			snprintf(ctx->problem, sizeof(ctx->problem),
				 "server certificate not trusted; nothing sent");
		break;
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		ok = va_arg(ap, int *);
		*ok = !ctx->tls_verify;
		if (ctx->tls_verify)
			snprintf(ctx->problem, sizeof(ctx->problem), "server certificate does "
				 "not match the host name; nothing sent");
		break;
	default:
		break;
	}
	va_end(ap);
	(void)s;
}

static int interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	session_ctx *ctx = arg;
	int i;

	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_PASS)
			result[i] = ctx->password;
		else if (req[i].flags & AUTH_USER)
			result[i] = ctx->user;
		else
			return 0;
	}
	return 1;
}

int smtp_out_send(const config *cfg, smtp_job *jobs, size_t n, int (*stop)(void),
		  smtp_job_done_fn done, void *arg, char *session_err, size_t errlen)
{
	session_ctx ctx;
	smtp_session_t s = NULL;
	smtp_message_t *msgs = NULL;
	auth_context_t auth = NULL;
	char server[200], buf[48];
	/* The reply to the end of data keeps RFC 5321's 10 minutes: a server
	 * still filtering would otherwise accept a mail we then send again. */
	static const int timeouts[] = { Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
					Timeout_TRANSFER };
	size_t i;
	int rc = -1, e;

	memset(&ctx, 0, sizeof(ctx));
	ctx.done = done;
	ctx.arg = arg;
	ctx.stop = stop;
	ctx.port = cfg->smtp_port;
	ctx.fd = -1;
	ctx.auth = *cfg->smtp_user != '\0';
	ctx.tls_verify = cfg->smtp_starttls == TLS_REQUIRE;
	session_err[0] = '\0';
	if (*cfg->smtp_user) {
		if (!*cfg->smtp_password_file) {
			snprintf(session_err, errlen, "[smtp] user is set but password_file is not");
			return -1;
		}
		if (config_password(cfg, CONFIG_SMTP, ctx.password, sizeof(ctx.password),
				    session_err, errlen))
			return -1;
		snprintf(ctx.user, sizeof(ctx.user), "%s", cfg->smtp_user);
	}
	msgs = xcalloc(n ? n : 1, sizeof(*msgs));
	if (!(s = smtp_create_session())) {
		snprintf(session_err, errlen, "libESMTP: cannot create a session");
		goto cleanup;
	}
	snprintf(server, sizeof(server), "%s:%d", cfg->smtp_host, cfg->smtp_port);
	smtp_set_server(s, server);
	smtp_set_eventcb(s, on_event, &ctx);
	smtp_starttls_enable(s, cfg->smtp_starttls == TLS_REQUIRE ? Starttls_REQUIRED
			     : cfg->smtp_starttls == TLS_TRY ? Starttls_ENABLED : Starttls_DISABLED);
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
		smtp_set_timeout(s, timeouts[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
				 (long)cfg->smtp_timeout * 1000);
	if (*ctx.user) {
		auth_client_init();
		auth = auth_create_context();
		auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(auth, interact, &ctx);
		smtp_auth_set_context(s, auth);
	}
	for (i = 0; i < n; i++) {
		jobs[i].status = SMTP_JOB_UNTRIED;
		jobs[i].response[0] = '\0';
		jobs[i].reported = 0;
		msgs[i] = smtp_add_message(s);
		if (!msgs[i] || !smtp_set_reverse_path(msgs[i], jobs[i].sender) ||
		    !smtp_set_message_str(msgs[i], (void *)jobs[i].data) ||
		    !smtp_add_recipient(msgs[i], jobs[i].rcpt)) {
			snprintf(session_err, errlen, "libESMTP: cannot add message %lld",
				 (long long)jobs[i].id);
			goto cleanup;
		}
		smtp_message_set_application_data_release(msgs[i], &jobs[i], NULL);
	}
	if (!smtp_start_session(s) && !ctx.problem[0]) {
		/* smtp_errno is only meaningful here: libESMTP never resets it. */
		e = smtp_errno();
		snprintf(ctx.problem, sizeof(ctx.problem), "%s: %s", server,
			 smtp_strerror(e, buf, sizeof(buf)));
	}
	/* Every job not reported during the session gets its final status now. */
	for (i = 0; i < n; i++) {
		smtp_recipient_t r = NULL;

		if (jobs[i].reported)
			continue;
		smtp_enumerate_recipients(msgs[i], first_recipient, &r);
		classify(&ctx, msgs[i], r, &jobs[i]);
		if (jobs[i].status == SMTP_JOB_UNTRIED)
			snprintf(jobs[i].response, sizeof(jobs[i].response), "%s",
				 ctx.problem[0] ? ctx.problem : "not attempted: the connection ended");
		jobs[i].reported = 1;
		done(&jobs[i], arg);
	}
	if (ctx.problem[0])
		snprintf(session_err, errlen, "%s", ctx.problem);
	rc = 0;
cleanup:
	if (s)
		smtp_destroy_session(s);
	if (auth)
		auth_destroy_context(auth);
	free(msgs);
	digest_wipe(ctx.password, sizeof(ctx.password));
	return rc;
}
