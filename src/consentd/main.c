/*
 * consentd - the daemon. One pass of its duties: record the expiry of
 * requests past their lifetime, send everything due from the outbox, and
 * judge the new mail in the IMAP mailbox (each message recorded, then moved
 * to processed_mailbox or review_mailbox). Then it sleeps until the next
 * mail is due (at most POLL_SECONDS, so mail queued by consentctl goes out
 * promptly), new mail is announced (IMAP IDLE), or a signal arrives. A
 * broken IMAP connection is reopened with backoff (IMAP_BACKOFF_MIN doubling
 * to IMAP_BACKOFF_MAX seconds); nothing is lost meanwhile: the mail waits in
 * the mailbox, and a message recorded but not yet moved is recognised as a
 * duplicate when it is read again.
 *
 *   consentd [-c FILE] [-f] [--once]
 *
 * -f stays in the foreground and logs to stderr; without it consentd
 * detaches (fork, setsid) and logs to syslog, facility mail. --once does
 * one full pass and exits (never detached: its exit status is the pass's).
 * One instance per store: a lock file next to the database. SIGTERM/SIGINT: stop after the SMTP
 * session in flight (at most OUTBOX_BATCH messages; each is recorded as
 * soon as the server answers). SIGHUP: reload configuration and templates;
 * a broken new configuration is reported and the old one kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "consentd/broadcast.h"
#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/imap_in.h"
#include "consentd/inbound.h"
#include "consentd/ledger.h"
#include "consentd/outbox.h"
#include "consentd/smtp_out.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

#define POLL_SECONDS 5
#define IMAP_BATCH 200          /* messages fetched per UID FETCH */
#define IMAP_BACKOFF_MIN 5      /* seconds before reconnecting, doubling */
#define IMAP_BACKOFF_MAX 300

#define BROADCAST_STALL 30     /* a broadcast not queued further for this long
				 * (its consentctl died) is finished by consentd */
#define BROADCAST_PASS (10 * BROADCAST_CHUNK)   /* accounts queued per pass */

/* The pace of bulk mail, kept across passes. */
static outbox_pacer pacer;
static int64_t wake_ms;         /* bulk mail may go on in this many ms */

/* The IMAP session survives between passes (and IDLEs between them). */
static imap_in *imap;
static int64_t imap_retry_at;
static int imap_backoff;

static volatile sig_atomic_t stop, reload;
static int foreground;
static int to_stderr = 1;   /* until detached: start-up errors reach the admin */
static int journal;         /* stderr is journald's (systemd sets JOURNAL_STREAM):
			     * "<prio>" in front, no time stamp (sd-daemon(3)) */

static void logmsg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logmsg(int prio, const char *fmt, ...)
{
	char line[1024], stamp[TEXT_TIME_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_stderr && journal) {
		fprintf(stderr, "<%d>%s\n", prio, line);
	} else if (to_stderr) {
		text_time_fmt(text_now(), stamp);
		fprintf(stderr, "%s consentd[%ld]: %s\n", stamp, (long)getpid(), line);
	}
	if (!foreground)
		syslog(prio, "%s", line);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

/* stop_requested - for outbox_run, between sessions: signals are blocked
 * while duties run, so a pending SIGTERM is seen here. */
static int stop_requested(void)
{
	sigset_t pending;

	if (stop)
		return 1;
	sigpending(&pending);
	return sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT);
}

static void log_mail(const outbox_item *it, const char *state, const char *response,
		     void *arg)
{
	(void)arg;
	logmsg(strcmp(state, "sent") ? LOG_WARNING : LOG_INFO,
	       "outbox=%" PRId64 " kind=%s to=<%s> status=%s tries=%d response=%s",
	       it->id, it->kind, it->rcpt, state, it->attempts, response);
}

/* become_service_user - consentd never works as root. Started with uid 0
 * as its real, effective or saved user id, it becomes [service] user (that
 * account's uid and primary group as real, effective and saved ids, and its
 * supplementary groups) once the configuration, the password files and the
 * templates are read, and before it opens the store, so that every file it
 * creates (store, WAL, lock) belongs to that account, which consent-deliver
 * runs as too. Refused: root without [service] user, a user that does not
 * exist or is root, and a user set while not started as root unless every
 * uid is that account's and no gid is root's. */
static int become_service_user(const config *cfg, char *err, size_t errlen)
{
	const struct passwd *pw;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	bool root;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0) {
		snprintf(err, errlen, "cannot read the process's ids: %s", strerror(errno));
		return -1;
	}
	root = ru == 0 || eu == 0 || su == 0;
	if (!*cfg->service_user) {
		if (!root)
			return 0;
		snprintf(err, errlen, "%s: consentd does not run as root: set [service] user = "
			 "the account to run as (e.g. consentd), or start it as that account",
			 cfg->path);
		return -1;
	}
	errno = 0;
	if (!(pw = getpwnam(cfg->service_user))) {
		snprintf(err, errlen, "%s: [service] user: no such account '%.64s'%s%s", cfg->path,
			 cfg->service_user, errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "%s: [service] user: '%.64s' is root; name an unprivileged "
			 "account", cfg->path, cfg->service_user);
		return -1;
	}
	if (!root) {
		if (ru == pw->pw_uid && eu == pw->pw_uid && su == pw->pw_uid &&
		    rg != 0 && eg != 0 && sg != 0)
			return 0;
		snprintf(err, errlen, "%s: [service] user is '%.64s' but consentd was started as "
			 "uid %ld (gid %ld): only root can switch accounts", cfg->path,
			 cfg->service_user, (long)eu, (long)eg);
		return -1;
	}
	/* Root as the real or saved uid only: take it back for the switch. */
	if ((eu != 0 && seteuid(0) != 0) || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot become '%.64s': %s", cfg->service_user, strerror(errno));
		return -1;
	}
	/* Gone for good: every id is the account's, and root cannot come back. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid ||
	    rg != pw->pw_gid || eg != pw->pw_gid || sg != pw->pw_gid || setuid(0) == 0) {
		snprintf(err, errlen, "cannot drop root: still privileged after switching to '%.64s'",
			 cfg->service_user);
		return -1;
	}
	return 0;
}

/* lock_store - one consentd per store: an flock'd file beside the database,
 * named from its real path so two spellings of one file share the lock. */
static int lock_store(const char *db, char *err, size_t errlen)
{
	char path[PATH_MAX + 32], real[PATH_MAX], pid[32];
	int fd, n;

	if (!realpath(db, real))
		snprintf(real, sizeof(real), "%s", db);   /* created by store_open later */
	snprintf(path, sizeof(path), "%s.consentd.lock", real);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%.900s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "another consentd (pid %s) already runs on %s",
			 pid[0] ? pid : "?", db);
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)n) != n) {
		snprintf(err, errlen, "%.900s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;   /* held until exit */
}

/* std_fds - 0, 1 and 2 open (on /dev/null if closed), so no socket or
 * database can become "stderr". */
static void std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* load - configuration and templates, both or neither. */
/* load - configuration, password files and templates; previous: the
 * configuration a reload replaces (NULL at the start). */
static int load(const char *path, const config *previous, config **cfg_out,
		template_set **ts_out)
{
	char err[1024];
	config *cfg = NULL;
	template_set *ts = NULL;
	int kept;

	if (config_load(&cfg, path, err, sizeof(err))) {
		logmsg(LOG_ERR, "%s", err);
		return -1;
	}
	/* The password files are read now: root may be the only one who can.
	 * On a reload, one that only root can read keeps the copy from the
	 * start. */
	if ((kept = config_keep_passwords(cfg, previous, err, sizeof(err))) > 0)
		logmsg(LOG_WARNING, "reload: %s", err);
	if (kept < 0 || template_load(&ts, cfg->templates_dir, err, sizeof(err))) {
		logmsg(LOG_ERR, "%s", err);
		config_free(cfg);
		return -1;
	}
	*cfg_out = cfg;
	*ts_out = ts;
	return 0;
}

typedef struct imap_ctx {
	store *st;
	const config *cfg;
	const template_set *ts;
	bool failed;               /* a message could not be recorded */
} imap_ctx;

/* imap_sync - before a batch is moved: its outcomes, committed at
 * synchronous=NORMAL, are made durable with one sync. */
static int imap_sync(void *arg)
{
	imap_ctx *c = arg;

	if (store_durable(c->st)) {
		logmsg(LOG_ERR, "imap: %s", store_errmsg(c->st));
		c->failed = true;
		return -1;
	}
	return 0;
}

/* on_imap_message - judge one message; where it goes once recorded. */
static int on_imap_message(const char *raw, size_t len, uint32_t uid, bool truncated,
			   uint32_t full_size, void *arg)
{
	imap_ctx *c = arg;
	inbound_msg msg;
	inbound_result res;
	char err[512];

	memset(&msg, 0, sizeof(msg));
	msg.channel = CHANNEL_IMAP;
	msg.raw = raw;
	msg.len = len;
	msg.truncated = truncated;
	msg.full_size = full_size;
	if (inbound_process(c->st, c->cfg, c->ts, &msg, &res, err, sizeof(err))) {
		logmsg(LOG_ERR, "imap uid=%" PRIu32 ": not recorded, left in the mailbox for the "
		       "next pass: %s", uid, err);
		c->failed = true;
		return -1;
	}
	logmsg(LOG_INFO, "imap uid=%" PRIu32 " inbox=%" PRId64 " msgid=<%s> %s %s%s%s%s%s: %s",
	       uid, res.inbox_id, res.msg_id, res.outcome, res.reason,
	       res.account[0] ? " account=" : "", res.account,
	       res.purpose[0] ? " purpose=" : "", res.purpose, res.detail);
	return res.review ? IMAP_DEST_REVIEW : IMAP_DEST_PROCESSED;
}

static void imap_close(void)
{
	imap_in_free(imap);
	imap = NULL;
}

static void imap_trouble(const config *cfg, const char *what, const char *err)
{
	imap_close();
	imap_backoff = imap_backoff ? imap_backoff * 2 : IMAP_BACKOFF_MIN;
	if (imap_backoff > IMAP_BACKOFF_MAX)
		imap_backoff = IMAP_BACKOFF_MAX;
	imap_retry_at = text_now() + imap_backoff;
	logmsg(LOG_WARNING, "imap %s:%d: %s: %s; trying again in %d s", cfg->imap_host,
	       cfg->imap_port, what, err, imap_backoff);
}

/* imap_duty - judge every new message in the mailbox; -1 after a store
 * failure (logged). A connection problem is not a failure of the pass: the
 * mail waits on the server. */
static int imap_duty(store *st, const config *cfg, const template_set *ts, bool once)
{
	imap_ctx ctx = { st, cfg, ts, false };
	uint32_t uidvalidity, last_uid, before;
	char err[512];
	int n = 0, rc;

	if (!cfg->imap_enabled)
		return 0;
	if (!imap) {
		if (!once && text_now() < imap_retry_at)
			return 0;
		if (imap_in_open(&imap, cfg, cfg->imap_timeout, err, sizeof(err))) {
			imap_trouble(cfg, "cannot open the mailbox", err);
			return once ? -1 : 0;   /* --once reports it in its exit status */
		}
	}
	if (store_imap_state(st, cfg->imap_mailbox, &uidvalidity, &last_uid, false)) {
		logmsg(LOG_ERR, "imap: %s", store_errmsg(st));
		return -1;
	}
	before = last_uid;
	/* Each message is its own transaction, committed without a disk sync;
	 * imap_sync makes a batch durable before it leaves the INBOX. A crash
	 * of the machine before that loses outcomes of messages still there. */
	if (store_sync_full(st, false)) {
		logmsg(LOG_ERR, "imap: %s", store_errmsg(st));
		return -1;
	}
	rc = imap_in_pass(imap, &uidvalidity, &last_uid, IMAP_BATCH,
			  (size_t)cfg->inbound_max_size, on_imap_message, imap_sync, &ctx,
			  stop_requested, &n, err, sizeof(err));
	if (store_sync_full(st, true)) {
		logmsg(LOG_ERR, "imap: %s", store_errmsg(st));
		return -1;
	}
	/* What was moved is remembered even when the pass broke off; a good
	 * pass is noted (consentctl stats shows when the mailbox was read). */
	if ((last_uid != before || n || rc == 0) &&
	    store_imap_state(st, cfg->imap_mailbox, &uidvalidity, &last_uid, true))
		logmsg(LOG_ERR, "imap: cannot remember the position: %s", store_errmsg(st));
	if (rc) {
		imap_trouble(cfg, "pass broken off", err);
		return once ? -1 : 0;
	}
	imap_backoff = 0;
	return ctx.failed ? -1 : 0;
}

/* broadcast_duty - go on queueing a broadcast whose consentctl stopped
 * (killed, machine restarted) part-way: a pass's worth at a time. */
static int broadcast_duty(store *st, const config *cfg, const template_set *ts, bool once)
{
	campaign_row c;
	int64_t after = 0;
	char err[512];
	int rc, failed = 0;

	/* Each in turn: one that cannot go on does not hold up the others. */
	while ((rc = store_campaign_unfinished(st, after, &c)) == STORE_OK) {
		after = c.id;
		if (!once && text_now() - c.updated < BROADCAST_STALL)
			continue;   /* consentctl is at it */
		if (broadcast_queue(st, cfg, ts, &c, once ? 0 : BROADCAST_PASS, NULL, NULL, err,
				    sizeof(err))) {
			logmsg(LOG_ERR, "broadcast #%" PRId64 " (%s %s): %s", c.id, c.kind, c.name,
			       err);
			failed = -1;
			continue;
		}
		logmsg(LOG_INFO, "broadcast #%" PRId64 " (%s %s): queueing %s: %" PRId64
		       " accounts, %" PRId64 " mails", c.id, c.kind, c.name,
		       c.finished ? "finished" : "goes on", c.accounts, c.queued);
	}
	if (rc != STORE_NOTFOUND) {
		logmsg(LOG_ERR, "broadcast: %s", store_errmsg(st));
		return -1;
	}
	return failed;
}

/* duties - one full pass; 0, or -1 after a store failure (logged). */
static int duties(store *st, const config *cfg, const template_set *ts, bool once)
{
	outbox_stats stats;
	char err[512];
	bool purged;
	int n, rc = 0;

	if (consent_purge_wal(st, &purged, err, sizeof(err)) == CONSENT_ERR)
		logmsg(LOG_ERR, "WAL purge after erasure: %s", err);
	else if (purged)
		logmsg(LOG_INFO, "WAL truncated: no page of erased accounts is left in it");

	if (consent_expire_due(st, -1, text_now(), &n, err, sizeof(err))) {
		logmsg(LOG_ERR, "expiry: %s", err);
		return -1;
	}
	if (n)
		logmsg(LOG_INFO, "%d request%s expired", n, n == 1 ? "" : "s");
	/* Inbound first: receipts it queues go out in this same pass. */
	if (imap_duty(st, cfg, ts, once))
		rc = -1;
	if (broadcast_duty(st, cfg, ts, once))
		rc = -1;
	/* A long broadcast is sent a slice at a time, so replies are still
	 * judged while it runs; --once sends everything due. */
	pacer.slice_seconds = once ? 0 : POLL_SECONDS;
	if (outbox_run(st, cfg, ts, &pacer, stop_requested, log_mail, NULL, &stats, err,
		       sizeof(err))) {
		logmsg(LOG_ERR, "outbox: %s", err);
		return -1;
	}
	wake_ms = stats.wake_ms;
	if (err[0])
		logmsg(LOG_WARNING, "smtp %s:%d: %s", cfg->smtp_host, cfg->smtp_port, err);
	return rc;
}

/* nap - sleep until the next mail is due (at most POLL_SECONDS), new mail
 * is announced over IMAP IDLE, or a signal arrives. */
static void nap(store *st, const config *cfg, const sigset_t *waitmask)
{
	struct timespec ts = { POLL_SECONDS, 0 };
	int64_t due = 0, now = text_now();
	struct pollfd pfd;
	bool new_mail;
	char err[512];
	int r;

	if (store_outbox_next_due(st, now, &due) == STORE_OK && due > now && due - now < POLL_SECONDS)
		ts.tv_sec = due - now;
	if (wake_ms > 0 && wake_ms < (int64_t)ts.tv_sec * 1000) {
		/* Bulk mail held back by the rates goes on in wake_ms. */
		ts.tv_sec = wake_ms / 1000;
		ts.tv_nsec = (wake_ms % 1000) * 1000000;
	}
	wake_ms = 0;
	if (stop || reload)
		return;
	if (!imap || !imap_in_has_idle(imap)) {
		ppoll(NULL, 0, &ts, waitmask);
		return;
	}
	if ((r = imap_in_idle_start(imap, err, sizeof(err))) < 0) {
		imap_trouble(cfg, "IDLE", err);
		return;
	}
	if (r == 0) {
		pfd.fd = imap_in_idle_fd(imap);
		pfd.events = POLLIN;
		ppoll(&pfd, 1, &ts, waitmask);
	}
	if (imap_in_idle_done(imap, &new_mail, err, sizeof(err)))
		imap_trouble(cfg, "IDLE", err);
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: consentd [-c FILE] [-f] [--once]\n"
		"  -c FILE  configuration (default %s)\n"
		"  -f       foreground, log to stderr\n"
		"  --once   one pass of every duty, then exit 0\n", config_default_path());
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	config *cfg = NULL, *newcfg;
	template_set *ts = NULL, *newts;
	store *st = NULL;
	const struct passwd *pw;
	struct sigaction sa;
	sigset_t block, waitmask;
	char err[1024];
	int once = 0, lockfd = -1, rc = 1, i, n;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "-f"))
			foreground = 1;
		else if (!strcmp(argv[i], "--once"))
			once = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	std_fds();
	journal = foreground && getenv("JOURNAL_STREAM") != NULL;
	if (!foreground)
		openlog("consentd", LOG_PID | LOG_NDELAY, LOG_MAIL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Signals are delivered only while napping (ppoll), or checked between
	 * sessions, so a duty is never cut in the middle of a transaction. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);   /* even if the parent left them blocked */
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);

	if (load(path, NULL, &cfg, &ts))
		goto cleanup;
	if (become_service_user(cfg, err, sizeof(err))) {
		logmsg(LOG_ERR, "%s", err);
		goto cleanup;
	}
	/* Detach only once the configuration is known to be good; --once never
	 * detaches, so that its caller sees the exit status. */
	if (!foreground && !once && daemon(0, 0) < 0) {
		logmsg(LOG_ERR, "cannot detach: %s", strerror(errno));
		goto cleanup;
	}
	if (!foreground)
		to_stderr = 0;   /* syslog only from here on */
	if ((lockfd = lock_store(cfg->store_path, err, sizeof(err))) < 0) {
		logmsg(LOG_ERR, "%s", err);
		goto cleanup;
	}
	if (store_open(&st, cfg->store_path, cfg->busy_timeout_ms, STORE_CREATE, err,
		       sizeof(err))) {
		logmsg(LOG_ERR, "%s", err);
		goto cleanup;
	}
	if (outbox_reclaim(st, &n)) {
		logmsg(LOG_ERR, "%s", store_errmsg(st));
		goto cleanup;
	}
	if (n)
		logmsg(LOG_WARNING, "%d message%s in flight at the last stop: sending again "
		       "(the server may already have them)", n, n == 1 ? " was" : "s were");
	if (cfg->imap_enabled)
		snprintf(err, sizeof(err), "%s:%d %s", cfg->imap_host, cfg->imap_port,
			 cfg->imap_mailbox);
	else
		snprintf(err, sizeof(err), "off");
	pw = getpwuid(geteuid());
	logmsg(LOG_INFO, "started: store %s, smtp %s:%d, imap %s, as %s%s", cfg->store_path,
	       cfg->smtp_host, cfg->smtp_port, err, pw ? pw->pw_name : "?",
	       once ? ", one pass" : "");
	if (cfg->imap_enabled && cfg->imap_tls == TLS_NO && strcmp(cfg->imap_host, "127.0.0.1") &&
	    strcmp(cfg->imap_host, "::1") && strcmp(cfg->imap_host, "localhost"))
		logmsg(LOG_WARNING, "[imap] tls = no with a remote host: the password crosses "
		       "the network in clear");
	if (*cfg->smtp_user && cfg->smtp_starttls != TLS_REQUIRE)
		logmsg(LOG_WARNING, "[smtp] user is set but starttls is not 'require': the "
		       "password may cross the network in clear");
	for (;;) {
		sigprocmask(SIG_SETMASK, &waitmask, NULL);   /* let pending signals in */
		sigprocmask(SIG_BLOCK, &block, NULL);
		if (stop)
			break;
		if (reload) {
			reload = 0;
			if (load(path, cfg, &newcfg, &newts) == 0) {
				if (strcmp(newcfg->store_path, cfg->store_path) ||
				    strcmp(newcfg->service_user, cfg->service_user)) {
					logmsg(LOG_ERR, "reload: [store] path or [service] user "
					       "changed; that needs a restart. Keeping the old "
					       "configuration.");
					config_free(newcfg);
					template_set_free(newts);
				} else {
					config_free(cfg);
					template_set_free(ts);
					imap_close();   /* reopened with the new settings */
					imap_retry_at = 0;
					cfg = newcfg;
					ts = newts;
					logmsg(LOG_INFO, "reloaded configuration and templates");
				}
			} else {
				logmsg(LOG_ERR, "reload failed; keeping the old configuration");
			}
		}
		if (duties(st, cfg, ts, once) && once)
			goto cleanup;
		if (once)
			break;
		nap(st, cfg, &waitmask);
	}
	logmsg(LOG_INFO, "stopped");
	rc = 0;
cleanup:
	imap_close();
	outbox_pacer_free(&pacer);
	store_close(st);
	template_set_free(ts);
	config_free(cfg);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
