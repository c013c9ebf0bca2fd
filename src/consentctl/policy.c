/*
 * policy.c - consentctl's policy and broadcast commands: publish, list and
 * preview policy versions; start, follow and report a broadcast; request
 * --all. The work is in the core (broadcast.c); this file parses, prints
 * text or one JSON document, and draws the progress of --follow.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "consentd/broadcast.h"
#include "consentd/digest.h"
#include "consentd/text.h"

#include "consentctl.h"

#define FOLLOW_POLL_MS 1000       /* --follow reads the counts this often */
#define FOLLOW_PLAIN_EVERY 10     /* not a terminal: a line every N polls */
#define RATE_WINDOW 60            /* seconds the current rate is taken over */
#define DRY_RUN_BOUNCES_MAX 20    /* failing addresses printed by --dry-run */

/* ---- policy publish / list / preview ---- */

int cmd_policy_publish(ctl *c, int argc, char **argv)
{
	policy_new p;
	char err[1024];
	int i, rc;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--material")) {
			p.material = true;
		} else if (!strcmp(a, "--effective") || !strcmp(a, "--affects") ||
			   !strcmp(a, "--summary")) {
			if (i + 1 >= argc)
				return ctl_error(c, EXIT_ERR, "%s needs a value", a);
			if (!strcmp(a, "--effective")) {
				p.effective = argv[++i];
			} else if (!strcmp(a, "--affects")) {
				if (p.naffects == POLICY_AFFECTS_MAX)
					return ctl_error(c, EXIT_ERR, "too many --affects");
				if ((rc = need_purpose(c, argv[i + 1])))
					return rc;
				p.affects[p.naffects++] = argv[++i];
			} else {
				if (p.nsummary == POLICY_LANGS_MAX)
					return ctl_error(c, EXIT_ERR, "too many --summary");
				p.summary[p.nsummary++] = argv[++i];
			}
		} else if (a[0] == '-' && a[1] == '-') {
			return ctl_error(c, EXIT_ERR, "unknown option '%s'", a);
		} else if (p.version) {
			return ctl_error(c, EXIT_ERR, "unexpected argument '%s'", a);
		} else {
			p.version = a;
		}
	}
	if (!p.version)
		return ctl_error(c, EXIT_ERR, "missing VERSION (see consentctl --help)");
	if (!p.effective)
		return ctl_error(c, EXIT_ERR, "--effective DATE is required");
	rc = policy_publish(c->st, c->cfg, &p, err, sizeof(err));
	if (rc)
		return ctl_error(c, rc == BROADCAST_REFUSED ? EXIT_NO : EXIT_ERR, "%s", err);
	if (c->json) {
		json_t *aff = json_array();

		for (i = 0; i < p.naffects; i++)
			json_array_append_new(aff, json_string(p.affects[i]));
		json_out(json_pack("{s:s, s:s, s:b, s:o}", "version", p.version, "effective",
				   p.effective, "material", p.material, "affects", aff));
	} else {
		printf("policy %s published: in force from %s, %s", p.version, p.effective,
		       p.material ? "material" : "not material (no broadcast)");
		for (i = 0; i < p.naffects; i++)
			printf("%s%s", i ? ", " : "; consent to be given anew for ", p.affects[i]);
		printf("\n");
	}
	return EXIT_OK;
}

typedef struct list_ctx {
	ctl *c;
	json_t *rows;
} list_ctx;

static int print_policy(const policy_row *p, const char *langs, const char *affects,
			void *arg)
{
	list_ctx *l = arg;
	char eff[TEXT_TIME_LEN], pub[TEXT_TIME_LEN], state[64];
	campaign_row b;
	int rc;

	time_str(p->effective, eff);
	time_str(p->published, pub);
	rc = store_campaign_find(l->c->st, BROADCAST_POLICY, p->version, &b);
	if (rc == STORE_OK)
		snprintf(state, sizeof(state), "%s %" PRId64, b.finished ? "queued" : "queueing",
			 b.queued);
	else if (rc == STORE_NOTFOUND)
		snprintf(state, sizeof(state), "%s", p->material ? "not started" : "-");
	else
		return -1;
	if (l->rows) {
		json_array_append_new(l->rows, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}",
							 "version", p->version, "effective", eff,
							 "published", pub, "material", p->material,
							 "languages", langs, "affects", affects,
							 "broadcast", state));
		return 0;
	}
	printf("%-12s %-20s %-20s %-8s %-8s %-20s %s\n", p->version, eff, pub,
	       p->material ? "yes" : "no", langs, affects[0] ? affects : "-", state);
	return ferror(stdout) ? 1 : 0;
}

int cmd_policy_list(ctl *c, int argc, char **argv)
{
	list_ctx l = { c, NULL };
	int rc;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, NULL)))
		return rc;
	if (c->json)
		l.rows = json_array();
	else
		printf("%-12s %-20s %-20s %-8s %-8s %-20s %s\n", "version", "in force from",
		       "published", "material", "langs", "affects", "broadcast");
	rc = store_policy_list(c->st, print_policy, &l);
	if (rc) {
		json_decref(l.rows);
		return rc < 0 ? store_error(c, rc, NULL) : ctl_error(c, EXIT_ERR, "%s",
			       rc == 1 ? "cannot write output" : store_errmsg(c->st));
	}
	if (l.rows)
		json_out(json_pack("{s:o}", "policies", l.rows));
	return EXIT_OK;
}

/* sample_account - who a preview without --account is addressed to. */
static void sample_account(ctl *c, const char *lang, account *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "sample");
	snprintf(out->email, sizeof(out->email), "account-holder@%s", c->cfg->reply_domain);
	snprintf(out->lang, sizeof(out->lang), "%s", lang ? lang : c->cfg->default_lang);
}

/* print_mail - the mail as the person reads it (raw: the exact bytes). */
static void print_mail(const outmail *m, bool raw)
{
	const char *p;

	if (raw) {
		for (p = m->message; *p; p++)
			if (!(p[0] == '\r' && p[1] == '\n'))
				putchar(*p);
		return;
	}
	printf("To: %s\nSubject: %s\n\n%s\n", m->rcpt, m->subject, m->body);
}

/* render_for - the announcement of version for --account ID or a sample. */
static int render_for(ctl *c, const char *version, const char *id, const char *lang,
		      outmail *out)
{
	char err[512];
	account a;
	int rc;

	if (lang && strcmp(lang, "de") && strcmp(lang, "en"))
		return ctl_error(c, EXIT_ERR, "--lang must be de or en");
	if (id) {
		rc = store_account_get(c->st, id, &a);
		digest_wipe(a.hkey, sizeof(a.hkey));
		if (rc == STORE_NOTFOUND)
			return ctl_error(c, EXIT_ERR, "no account '%s'", id);
		if (rc)
			return store_error(c, rc, NULL);
		if (lang)
			snprintf(a.lang, sizeof(a.lang), "%s", lang);
	} else {
		sample_account(c, lang, &a);
	}
	if (!templates(c))
		return EXIT_ERR;
	if (policy_render(c->st, c->cfg, c->ts, version, &a, NULL, out, err, sizeof(err)))
		return ctl_error(c, EXIT_ERR, "%s", err);
	return EXIT_OK;
}

int cmd_policy_preview(ctl *c, int argc, char **argv)
{
	const char *pos[1], *lang = NULL, *id = NULL;
	bool raw = false;
	opt opts[] = { { "--lang", &lang, NULL }, { "--account", &id, NULL },
		       { "--raw", NULL, &raw }, { 0 } };
	outmail m = { 0 };
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, opts)) ||
	    (rc = render_for(c, pos[0], id, lang, &m)))
		return rc;
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "version", pos[0], "to", m.rcpt,
				   "subject", m.subject, "body", m.body, "sha256", m.sha256,
				   "message", m.message));
	else
		print_mail(&m, raw);
	outmail_clear(&m);
	return EXIT_OK;
}

/* ---- broadcast start ---- */

static int print_lang(const char *lang, int64_t n, void *arg)
{
	json_t *o = arg;

	if (o)
		json_object_set_new(o, lang, json_integer(n));
	else
		printf("  %s: %" PRId64 "\n", lang, n);
	return 0;
}

typedef struct bounce_ctx {
	json_t *rows;
	int64_t n;
} bounce_ctx;

static int print_bounce(const account *a, void *arg)
{
	bounce_ctx *b = arg;
	char when[TEXT_TIME_LEN];

	b->n++;
	time_str(a->failing, when);
	if (b->rows)
		json_array_append_new(b->rows, json_pack("{s:s, s:s, s:s, s:s}", "account", a->id,
							 "email", a->email, "bounced", when,
							 "status", a->failing_status));
	else if (b->n <= DRY_RUN_BOUNCES_MAX)
		printf("  %-20s %-30s bounced %s %s\n", a->id, a->email, when, a->failing_status);
	return 0;
}

static int dry_run(ctl *c, const char *version)
{
	json_t *langs = c->json ? json_object() : NULL;
	bounce_ctx b = { c->json ? json_array() : NULL, 0 };
	outmail m = { 0 };
	int64_t key = 0, total = 0;
	account a;
	int n = 0, rc;

	if (!c->json)
		printf("dry run of the broadcast of policy %s: nothing is queued\n"
		       "announcements per language:\n", version);
	if ((rc = store_accounts_count(c->st, &total)) ||
	    (rc = store_accounts_by_lang(c->st, c->cfg->default_lang, print_lang, langs)))
		goto store_fail;
	if (!c->json)
		printf("  in all: %" PRId64 "\naddresses known to bounce (mailed all the same):\n",
		       total);
	if ((rc = store_accounts_failing_each(c->st, print_bounce, &b)))
		goto store_fail;
	if (!c->json) {
		if (b.n > DRY_RUN_BOUNCES_MAX)
			printf("  ... %" PRId64 " more\n", b.n - DRY_RUN_BOUNCES_MAX);
		printf("  in all: %" PRId64 "\n", b.n);
	}
	if ((rc = store_accounts_after(c->st, 0, INT64_MAX, &key, 1, &n)))
		goto store_fail;
	if (n) {
		if ((rc = store_account_get_key(c->st, key, &a)))
			goto store_fail;
		digest_wipe(a.hkey, sizeof(a.hkey));
		if ((rc = render_for(c, version, a.id, NULL, &m)))
			goto cleanup;
	} else if ((rc = render_for(c, version, NULL, NULL, &m))) {
		goto cleanup;
	}
	if (c->json) {
		json_out(json_pack("{s:s, s:b, s:I, s:O, s:O, s:{s:s, s:s, s:s}}", "version", version,
				   "dry_run", 1, "accounts", (json_int_t)total, "languages", langs,
				   "bouncing", b.rows, "sample", "to", m.rcpt, "subject", m.subject,
				   "body", m.body));
	} else {
		printf("sample (the first account's announcement):\n\n");
		print_mail(&m, false);
	}
	rc = EXIT_OK;
	goto cleanup;
store_fail:
	rc = store_error(c, rc, NULL);
cleanup:
	outmail_clear(&m);
	json_decref(langs);
	json_decref(b.rows);
	return rc;
}

/* progress - while queueing, on a terminal. */
static void progress(const campaign_row *b, int64_t total, void *arg)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rqueueing: %" PRId64 " of %" PRId64 " accounts, %" PRId64
			" mails%s", b->accounts, total, b->queued, b->finished ? "\n" : "");
}

/* run_broadcast - begin (or resume) and queue everything. */
static int run_broadcast(ctl *c, const char *kind, const char *name)
{
	campaign_row b;
	bool resumed;
	char err[1024], started[TEXT_TIME_LEN];
	int rc;

	if (!templates(c))
		return EXIT_ERR;
	rc = broadcast_begin(c->st, c->cfg, kind, name, &b, &resumed, err, sizeof(err));
	if (rc)
		return ctl_error(c, rc == BROADCAST_REFUSED ? EXIT_NO : EXIT_ERR, "%s", err);
	time_str(b.started, started);
	if (resumed && b.finished)
		return ctl_error(c, EXIT_NO, "the broadcast of %s %s was started at %s and has "
				 "queued its %" PRId64 " mails; it is never queued twice (see "
				 "consentctl broadcast status%s %s)", strcmp(kind, BROADCAST_POLICY)
				 ? "purpose" : "policy", name, started, b.queued,
				 strcmp(kind, BROADCAST_POLICY) ? " --request" : "", name);
	if (resumed && !c->json)
		printf("resuming the broadcast #%" PRId64 " started at %s where it stopped "
		       "(%" PRId64 " accounts done)\n", b.id, started, b.accounts);
	rc = broadcast_queue(c->st, c->cfg, c->ts, &b, 0, progress, NULL, err, sizeof(err));
	if (rc)
		return ctl_error(c, EXIT_ERR, "%s (run the same command again to resume; "
				 "consentd also resumes it within a minute)", err);
	if (c->json) {
		json_out(json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:b}", "broadcast",
				   (json_int_t)b.id, "kind", b.kind, "name", b.name,
				   "accounts", (json_int_t)b.accounts, "queued", (json_int_t)b.queued,
				   "requests", (json_int_t)b.requests, "resumed", resumed));
		return EXIT_OK;
	}
	printf("broadcast #%" PRId64 " of %s %s: %" PRId64 " account%s, %" PRId64
	       " mail%s queued (%" PRId64 " of them consent requests)\n", b.id,
	       strcmp(kind, BROADCAST_POLICY) ? "a request for" : "policy", name, b.accounts,
	       b.accounts == 1 ? "" : "s", b.queued, b.queued == 1 ? "" : "s", b.requests);
	if (c->cfg->broadcast_rate > 0)
		printf("consentd sends them at %d/s in all, %d/s per domain%s\n",
		       c->cfg->broadcast_rate, c->cfg->broadcast_domain_rate,
		       c->cfg->broadcast_domain_rate ? "" : " (no domain limit)");
	printf("follow: consentctl broadcast status%s %s --follow\n",
	       strcmp(kind, BROADCAST_POLICY) ? " --request" : "", name);
	return EXIT_OK;
}

int cmd_broadcast_start(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	bool dry = false;
	opt opts[] = { { "--dry-run", NULL, &dry }, { 0 } };
	char err[1024];
	campaign_row b;
	policy_row p;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, opts)))
		return rc;
	if (dry) {
		rc = store_policy_get(c->st, pos[0], &p);
		if (rc == STORE_NOTFOUND)
			return ctl_error(c, EXIT_ERR, "unknown policy version '%s' (see consentctl "
					 "policy list)", pos[0]);
		if (rc)
			return store_error(c, rc, NULL);
		if (!p.material) {
			/* The same refusal a real start gives, without writing. */
			bool resumed;

			rc = broadcast_begin(c->st, c->cfg, BROADCAST_POLICY, pos[0], &b, &resumed,
					     err, sizeof(err));
			return ctl_error(c, EXIT_NO, "%s", err);
		}
		return dry_run(c, pos[0]);
	}
	return run_broadcast(c, BROADCAST_POLICY, pos[0]);
}

int cmd_request_all(ctl *c, const char *purpose)
{
	int rc;

	if ((rc = need_purpose(c, purpose)))
		return rc;
	return run_broadcast(c, BROADCAST_REQUEST, purpose);
}

/* ---- broadcast status / report ---- */

typedef struct status {
	campaign_row b;
	campaign_counts n;
	int64_t total, left, now;
	double rate;                 /* sent per second over the last RATE_WINDOW */
	int64_t eta;                 /* seconds, -1 unknown */
	bool done;
} status;

static int find_broadcast(ctl *c, const char *name, bool request, campaign_row *out)
{
	int rc = store_campaign_find(c->st, request ? BROADCAST_REQUEST : BROADCAST_POLICY, name,
				     out);

	if (rc == STORE_NOTFOUND)
		return ctl_error(c, EXIT_ERR, request ? "no request --all for purpose '%s'"
				 : "no broadcast of policy version '%s' (consentctl broadcast "
				 "start %s)", name, name);
	return rc ? store_error(c, rc, NULL) : EXIT_OK;
}

static int read_status(ctl *c, int64_t id, status *s)
{
	int64_t window;
	int rc;

	memset(s, 0, sizeof(*s));
	s->now = text_now();
	if ((rc = store_campaign_get(c->st, id, &s->b)) ||
	    (rc = store_campaign_counts(c->st, id, s->now - RATE_WINDOW, &s->n)))
		return rc;
	s->total = s->n.queued + s->n.sending + s->n.sent + s->n.deferred + s->n.failed +
		   s->n.cancelled;
	s->left = s->n.queued + s->n.sending + s->n.deferred;
	window = s->n.first_done ? s->now - s->n.first_done : 0;
	if (window > RATE_WINDOW)
		window = RATE_WINDOW;
	s->rate = window > 0 ? (double)s->n.sent_since / (double)window : 0;
	if (s->left == 0 && s->n.sent > 0)   /* over: the average of the whole run */
		s->rate = (double)s->n.sent / (double)(s->n.last_done - s->n.first_done + 1);
	s->eta = s->left == 0 ? 0 : s->rate > 0 ? (int64_t)((double)s->left / s->rate + 0.5) : -1;
	s->done = s->b.finished && s->left == 0;
	return STORE_OK;
}

static void dur(int64_t s, char *out, size_t outlen)
{
	if (s < 0)
		snprintf(out, outlen, "?");
	else if (s >= 3600)
		snprintf(out, outlen, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(out, outlen, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(out, outlen, "%" PRId64 "s", s);
}

static json_t *status_json(const status *s)
{
	char started[TEXT_TIME_LEN];

	time_str(s->b.started, started);
	return json_pack("{s:I, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:f, s:I, s:b}", "broadcast", (json_int_t)s->b.id, "kind", s->b.kind,
			 "name", s->b.name, "started", started, "queueing_finished",
			 s->b.finished != 0, "accounts", (json_int_t)s->b.accounts, "mails",
			 (json_int_t)s->total, "queued", (json_int_t)s->n.queued, "sending",
			 (json_int_t)s->n.sending, "sent", (json_int_t)s->n.sent, "deferred",
			 (json_int_t)s->n.deferred, "failed", (json_int_t)s->n.failed,
			 "cancelled", (json_int_t)s->n.cancelled, "left", (json_int_t)s->left,
			 "rate_per_second", s->rate, "eta_seconds", (json_int_t)s->eta,
			 "done", s->done);
}

static void status_text(const status *s)
{
	char started[TEXT_TIME_LEN], eta[32];

	time_str(s->b.started, started);
	dur(s->eta, eta, sizeof(eta));
	printf("broadcast #%" PRId64 " (%s %s), started %s, queueing %s: %" PRId64
	       " accounts, %" PRId64 " mails\n", s->b.id, s->b.kind, s->b.name, started,
	       s->b.finished ? "finished" : "under way", s->b.accounts, s->total);
	printf("queued %" PRId64 "  sending %" PRId64 "  sent %" PRId64 "  deferred %" PRId64
	       "  failed %" PRId64 "  cancelled %" PRId64 "\n", s->n.queued, s->n.sending,
	       s->n.sent, s->n.deferred, s->n.failed, s->n.cancelled);
	if (s->left == 0)
		printf("rate %.1f/s (on average)%s\n", s->rate, s->done ? "  done" : "");
	else
		printf("rate %.1f/s (last %d s)  ETA %s\n", s->rate, RATE_WINDOW, eta);
}

/* status_bar - one line, redrawn in place on a terminal. */
static void status_bar(const status *s, bool tty)
{
	const int width = 30;
	double frac = s->total ? (double)(s->n.sent + s->n.failed + s->n.cancelled) /
		      (double)s->total : 0;
	int fill = (int)(frac * width), i;
	char eta[32];

	dur(s->eta, eta, sizeof(eta));
	if (tty) {
		fputs("\r[", stdout);
		for (i = 0; i < width; i++)
			putchar(i < fill ? '#' : '.');
		printf("] %3d%% ", (int)(frac * 100));
	}
	printf("%" PRId64 "/%" PRId64 " sent, %" PRId64 " deferred, %" PRId64 " failed, "
	       "%.1f/s, ETA %s%s%s", s->n.sent, s->total, s->n.deferred, s->n.failed, s->rate,
	       eta, s->b.finished ? "" : " (still queueing)", tty ? "\033[K" : "\n");
	fflush(stdout);
}

int cmd_broadcast_status(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	bool follow = false, request = false, tty = isatty(STDOUT_FILENO);
	opt opts[] = { { "--follow", NULL, &follow }, { "--request", NULL, &request }, { 0 } };
	struct timespec pause = { FOLLOW_POLL_MS / 1000, (FOLLOW_POLL_MS % 1000) * 1000000 };
	campaign_row b;
	status s;
	int rc, polls = 0;

	if ((rc = parse(c, argc, argv, pos, 1, 1, opts)) ||
	    (rc = find_broadcast(c, pos[0], request, &b)))
		return rc;
	if (follow && c->json)
		return ctl_error(c, EXIT_ERR, "--follow draws progress; --json prints one "
				 "document (leave one out)");
	if ((rc = read_status(c, b.id, &s)))
		return store_error(c, rc, NULL);
	if (c->json) {
		json_out(status_json(&s));
		return EXIT_OK;
	}
	if (!follow) {
		status_text(&s);
		return EXIT_OK;
	}
	for (;;) {
		if (tty || polls % FOLLOW_PLAIN_EVERY == 0 || s.done)
			status_bar(&s, tty);
		if (s.done)
			break;
		nanosleep(&pause, NULL);
		polls++;
		if ((rc = read_status(c, b.id, &s)))
			return store_error(c, rc, NULL);
	}
	if (tty)
		putchar('\n');
	status_text(&s);
	return EXIT_OK;
}

/* csv_field - RFC 4180: quoted when it holds a comma, quote or line end. */
static void csv_field(const char *v, bool last)
{
	const char *p;

	if (strpbrk(v, ",\"\r\n")) {
		putchar('"');
		for (p = v; *p; p++) {
			if (*p == '"')
				putchar('"');
			putchar(*p);
		}
		putchar('"');
	} else {
		fputs(v, stdout);
	}
	putchar(last ? '\n' : ',');
}

static int report_row(const campaign_mail *m, void *arg)
{
	char when[TEXT_TIME_LEN], tries[16];

	(void)arg;
	time_str(m->done ? m->done : m->next_attempt, when);
	snprintf(tries, sizeof(tries), "%d", m->attempts);
	csv_field(m->account, false);
	csv_field(m->rcpt, false);
	csv_field(m->kind, false);
	csv_field(m->state, false);
	csv_field(tries, false);
	csv_field(when, false);
	csv_field(m->response, false);
	csv_field(m->sha256, true);
	return ferror(stdout) ? 1 : 0;
}

int cmd_broadcast_report(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	bool all = false, request = false;
	opt opts[] = { { "--all", NULL, &all }, { "--request", NULL, &request }, { 0 } };
	campaign_row b;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, opts)) ||
	    (rc = find_broadcast(c, pos[0], request, &b)))
		return rc;
	if (c->json)
		return ctl_error(c, EXIT_ERR, "broadcast report prints CSV");
	printf("account,address,kind,state,attempts,time,last_response,sha256\n");
	rc = store_campaign_mail_each(c->st, b.id, !all, report_row, NULL);
	if (rc)
		return rc < 0 ? store_error(c, rc, NULL) : ctl_error(c, EXIT_ERR,
								    "cannot write output");
	return EXIT_OK;
}
