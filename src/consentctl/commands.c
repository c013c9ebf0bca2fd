/*
 * commands.c - consentctl's command table and the commands themselves.
 *
 * Each command checks its arguments, calls one core operation and prints
 * either text or (with --json) exactly one JSON document. Values that came
 * from the store or the user are printed as they are only after they were
 * validated on the way in (no control characters can reach the terminal).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "consentd/account.h"
#include "consentd/addr.h"
#include "consentd/consent.h"
#include "consentd/digest.h"
#include "consentd/export.h"
#include "consentd/ledger.h"
#include "consentd/text.h"

#include "consentctl.h"

/* ---- argument parsing ---- */

/* parse - positionals into pos[0..max) (at least min), options by table. */
int parse(ctl *c, int argc, char **argv, const char **pos, int min, int max,
		 const opt *opts)
{
	int i, n = 0;
	const opt *o;

	for (i = 0; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			for (o = opts; o && o->name; o++)
				if (!strcmp(o->name, argv[i]))
					break;
			if (!o || !o->name)
				return ctl_error(c, EXIT_ERR, "unknown option '%s'", argv[i]);
			if (o->value) {
				if (i + 1 >= argc)
					return ctl_error(c, EXIT_ERR, "%s needs a value", o->name);
				*o->value = argv[++i];
			} else {
				*o->flag = true;
			}
			continue;
		}
		if (n == max)
			return ctl_error(c, EXIT_ERR, "unexpected argument '%s'", argv[i]);
		pos[n++] = argv[i];
	}
	if (n < min)
		return ctl_error(c, EXIT_ERR, "missing arguments (see consentctl --help)");
	for (; n < max; n++)
		pos[n] = NULL;
	return EXIT_OK;
}

int need_purpose(ctl *c, const char *purpose)
{
	if (config_purpose_find(c->cfg, purpose))
		return EXIT_OK;
	return ctl_error(c, EXIT_ERR, "unknown purpose '%s' (purposes are [purpose NAME] "
			 "sections of %s)", purpose, c->cfg->path);
}

/* templates - the mail templates, loaded once; NULL after printing why. */
const template_set *templates(ctl *c)
{
	char err[512];

	if (!c->ts && template_load(&c->ts, c->cfg->templates_dir, err, sizeof(err))) {
		ctl_error(c, EXIT_ERR, "%s", err);
		return NULL;
	}
	return c->ts;
}

int store_error(ctl *c, int rc, const char *msg)
{
	(void)rc;
	return ctl_error(c, EXIT_ERR, "%s", msg && *msg ? msg : store_errmsg(c->st));
}

void json_out(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(doc);
}

void time_str(int64_t t, char out[TEXT_TIME_LEN])
{
	text_time_fmt(t, out);
}

/* ---- account ---- */

static int cmd_account_add(ctl *c, int argc, char **argv)
{
	const char *pos[2], *name = NULL, *lang = NULL;
	opt opts[] = { { "--name", &name, NULL }, { "--lang", &lang, NULL }, { 0 } };
	char err[512];
	bool created;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 2, 2, opts)))
		return rc;
	rc = account_put(c->st, c->cfg, pos[0], pos[1], name, lang, true, &created,
			 err, sizeof(err));
	if (rc == STORE_EXISTS)
		return ctl_error(c, EXIT_NO, "%s", err);
	if (rc)
		return ctl_error(c, EXIT_ERR, "account %s: %s", pos[0], err);
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:b}", "account", pos[0], "email", pos[1],
				   "created", 1));
	else
		printf("account %s created (%s)\n", pos[0], pos[1]);
	return EXIT_OK;
}

typedef struct import_ctx {
	ctl *c;
	json_t *refused;
} import_ctx;

#define IMPORT_JSON_REFUSED_MAX 1000

static void import_bad(unsigned long line, const char *why, void *arg)
{
	import_ctx *ic = arg;

	fprintf(stderr, "consentctl: line %lu: %s\n", line, why);
	if (ic->refused && json_array_size(ic->refused) < IMPORT_JSON_REFUSED_MAX)
		json_array_append_new(ic->refused, json_pack("{s:I, s:s}", "line",
							     (json_int_t)line, "error", why));
}

static int cmd_account_import(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	import_ctx ic = { c, NULL };
	import_report rep;
	char err[1024];
	FILE *in;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, NULL)))
		return rc;
	if (!strcmp(pos[0], "-")) {
		in = stdin;
	} else if (!(in = fopen(pos[0], "r"))) {
		return ctl_error(c, EXIT_ERR, "%s: %s", pos[0], strerror(errno));
	}
	if (c->json)
		ic.refused = json_array();
	rc = account_import(c->st, c->cfg, in, &rep, import_bad, &ic, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (rc) {
		json_decref(ic.refused);
		return ctl_error(c, EXIT_ERR, "import %s: %s", pos[0], err);
	}
	if (c->json)
		json_out(json_pack("{s:I, s:I, s:I, s:I, s:o}", "rows", (json_int_t)rep.rows,
				   "created", (json_int_t)rep.created, "updated",
				   (json_int_t)rep.updated_or_same, "refused_count",
				   (json_int_t)rep.bad, "refused", ic.refused));
	else
		printf("imported %lu rows: %lu new, %lu updated or unchanged, %lu refused\n",
		       rep.rows, rep.created, rep.updated_or_same, rep.bad);
	return rep.bad ? EXIT_NO : EXIT_OK;
}

static int load_account(ctl *c, const char *id, account *out)
{
	int rc = store_account_get(c->st, id, out);

	if (rc == STORE_NOTFOUND)
		return ctl_error(c, EXIT_ERR, "no account '%s'", id);
	if (rc)
		return store_error(c, rc, NULL);
	digest_wipe(out->hkey, sizeof(out->hkey));
	return EXIT_OK;
}

static int cmd_account_show(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char created[TEXT_TIME_LEN], failing[TEXT_TIME_LEN + 32] = "", state[16];
	json_t *states = NULL;
	account a;
	int i, rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, NULL)) || (rc = load_account(c, pos[0], &a)))
		return rc;
	time_str(a.created, created);
	if (a.failing) {   /* a bounce said mail to the address fails */
		time_str(a.failing, failing);
		if (a.failing_status[0])
			snprintf(failing + strlen(failing), sizeof(failing) - strlen(failing),
				 " (%s)", a.failing_status);
	}
	if (c->json)
		states = json_object();
	else
		printf("id:      %s\nemail:   %s%s%s\nname:    %s\nlang:    %s\ncreated: %s\n",
		       a.id, a.email, failing[0] ? " -- bounced " : "", failing, a.name, a.lang,
		       created);
	for (i = 0; i < c->cfg->npurposes; i++) {
		const char *p = c->cfg->purpose[i].name;

		if ((rc = consent_state(c->st, a.key, p, text_now(), state))) {
			json_decref(states);
			return store_error(c, rc, NULL);
		}
		if (states)
			json_object_set_new(states, p, json_string(state));
		else
			printf("consent: %s %s\n", p, state);
	}
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s?, s:o}", "id", a.id, "email",
				   a.email, "name", a.name[0] ? a.name : NULL, "lang", a.lang,
				   "created", created, "address_failing", failing[0] ? failing : NULL,
				   "consents", states));
	return EXIT_OK;
}

/* account set-email: a request mail still waiting for the old address is
 * never sent there; the request is asked again at the new one. */
static int cmd_account_set_email(ctl *c, int argc, char **argv)
{
	const char *pos[2], *why;
	char old[ADDR_MAX + 1], err[512] = "";
	account a;
	int rc, asked = 0;

	if ((rc = parse(c, argc, argv, pos, 2, 2, NULL)))
		return rc;
	if ((why = addr_check(pos[1], strlen(pos[1]))))
		return ctl_error(c, EXIT_ERR, "%s", why);
	if (!templates(c))
		return EXIT_ERR;
	if ((rc = store_begin(c->st)))
		return store_error(c, rc, NULL);
	rc = store_account_get(c->st, pos[0], &a);
	digest_wipe(a.hkey, sizeof(a.hkey));
	if (rc == STORE_NOTFOUND) {
		store_rollback(c->st);
		return ctl_error(c, EXIT_ERR, "no account '%s'", pos[0]);
	}
	snprintf(old, sizeof(old), "%s", rc ? "" : a.email);
	if (!rc && !strcasecmp(old, pos[1])) {
		/* The same mailbox: nothing is asked again. */
		if (strcmp(old, pos[1]) && (rc = store_account_set_email(c->st, a.key, pos[1]))) {
			store_rollback(c->st);
			return store_error(c, rc, NULL);
		}
		if ((rc = store_commit(c->st)))
			return store_error(c, rc, NULL);
		asked = 0;
		goto done;
	}
	if (rc || (rc = store_account_set_email(c->st, a.key, pos[1])) ||
	    (rc = store_account_get(c->st, pos[0], &a)) ||
	    (rc = consent_tx_address_changed(c->st, c->cfg, c->ts, &a, &asked, err,
					      sizeof(err))) ||
	    (rc = store_commit(c->st))) {
		digest_wipe(a.hkey, sizeof(a.hkey));
		store_rollback(c->st);
		return store_error(c, rc, err[0] ? err : NULL);
	}
	digest_wipe(a.hkey, sizeof(a.hkey));
done:
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s, s:i}", "account", pos[0], "old_email", old,
				   "email", pos[1], "asked_again", asked));
	else if (asked)
		printf("account %s: email %s -> %s; %d request%s not yet sent to the old "
		       "address asked again at the new one\n", pos[0], old, pos[1], asked,
		       asked == 1 ? "" : "s");
	else
		printf("account %s: email %s -> %s\n", pos[0], old, pos[1]);
	return EXIT_OK;
}

/* ---- consent ---- */

static int cmd_request(ctl *c, int argc, char **argv)
{
	const char *pos[2];
	bool resend = false, all = false, dry = false;
	opt opts[] = { { "--resend", NULL, &resend }, { "--all", NULL, &all },
		       { "--dry-run", NULL, &dry }, { 0 } };
	consent_request_info info;
	char err[512], expires[TEXT_TIME_LEN];
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 2, opts)))
		return rc;
	if (all) {
		if (pos[1] || resend)
			return ctl_error(c, EXIT_ERR, "usage: consentctl request --all PURPOSE");
		if (dry)
			return ctl_error(c, EXIT_ERR, "--dry-run is for broadcast start");
		return cmd_request_all(c, pos[0]);
	}
	if (!pos[1] || dry)
		return ctl_error(c, EXIT_ERR, "usage: consentctl request ID PURPOSE [--resend]");
	if ((rc = need_purpose(c, pos[1])))
		return rc;
	if (!templates(c))
		return EXIT_ERR;
	rc = consent_request(c->st, c->cfg, c->ts, pos[0], pos[1], resend, &info, err,
			     sizeof(err));
	if (rc)
		return ctl_error(c, rc == CONSENT_REFUSED ? EXIT_NO : EXIT_ERR, "%s", err);
	time_str(info.expires, expires);
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "account", pos[0],
				   "purpose", pos[1], "state", STATE_PENDING, "request",
				   (json_int_t)info.request, "outbox", (json_int_t)info.outbox,
				   "expires", expires));
	else
		printf("request #%" PRId64 " for %s to %s queued (outbox #%" PRId64
		       "), expires %s\n", info.request, pos[1], pos[0], info.outbox, expires);
	return EXIT_OK;
}

static int cmd_status(ctl *c, int argc, char **argv)
{
	const char *pos[2];
	char state[16];
	json_t *states = NULL;
	account a;
	int i, rc;

	if ((rc = parse(c, argc, argv, pos, 1, 2, NULL)))
		return rc;
	if (pos[1] && (rc = need_purpose(c, pos[1])))
		return rc;
	if ((rc = load_account(c, pos[0], &a)))
		return rc;
	if (c->json)
		states = json_object();
	for (i = 0; i < c->cfg->npurposes; i++) {
		const char *p = c->cfg->purpose[i].name;

		if (pos[1] && strcmp(pos[1], p))
			continue;
		if ((rc = consent_state(c->st, a.key, p, text_now(), state))) {
			json_decref(states);
			return store_error(c, rc, NULL);
		}
		if (states)
			json_object_set_new(states, p, json_string(state));
		else if (pos[1])
			printf("%s\n", state);
		else
			printf("%s %s\n", p, state);
	}
	if (states)
		json_out(json_pack("{s:s, s:o}", "account", pos[0], "consents", states));
	return EXIT_OK;
}

static int cmd_check(ctl *c, int argc, char **argv)
{
	const char *pos[2];
	char state[16] = STATE_NONE;
	account a;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 2, 2, NULL)) || (rc = need_purpose(c, pos[1])))
		return rc;
	rc = store_account_get(c->st, pos[0], &a);
	digest_wipe(a.hkey, sizeof(a.hkey));
	if (rc == STORE_OK)
		rc = consent_state(c->st, a.key, pos[1], text_now(), state);
	else if (rc == STORE_NOTFOUND)
		rc = STORE_OK;   /* unknown or erased: not granted */
	if (rc)
		return store_error(c, rc, NULL);
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s, s:b}", "account", pos[0], "purpose", pos[1],
				   "state", state, "granted", !strcmp(state, STATE_GRANTED)));
	return strcmp(state, STATE_GRANTED) ? EXIT_NO : EXIT_OK;
}

typedef struct granted_ctx {
	bool json;
	unsigned long n;
} granted_ctx;

static int print_id(const char *id, void *arg)
{
	granted_ctx *g = arg;

	if (g->json) {
		json_t *s = json_string(id);

		fputs(g->n ? ",\n  " : "\n  ", stdout);
		json_dumpf(s, stdout, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		json_decref(s);
	} else {
		fputs(id, stdout);
		fputc('\n', stdout);
	}
	g->n++;
	return ferror(stdout) ? 1 : 0;
}

static int cmd_granted(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	granted_ctx g = { c->json, 0 };
	json_t *p;
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, NULL)) || (rc = need_purpose(c, pos[0])))
		return rc;
	if (c->json) {
		p = json_string(pos[0]);
		fputs("{\"purpose\": ", stdout);
		json_dumpf(p, stdout, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		json_decref(p);
		fputs(", \"accounts\": [", stdout);
	}
	rc = store_granted_each(c->st, pos[0], text_now(), print_id, &g);
	if (rc < 0)
		return store_error(c, rc, NULL);
	if (rc > 0)
		return ctl_error(c, EXIT_ERR, "cannot write output");
	if (c->json)
		printf("%s], \"count\": %lu}\n", g.n ? "\n" : "", g.n);
	return EXIT_OK;
}

static int cmd_revoke(ctl *c, int argc, char **argv)
{
	const char *pos[2], *reason = NULL;
	opt opts[] = { { "--reason", &reason, NULL }, { 0 } };
	char err[512], prev[16];
	int rc;

	if ((rc = parse(c, argc, argv, pos, 2, 2, opts)) || (rc = need_purpose(c, pos[1])))
		return rc;
	if (!reason || !*reason)
		return ctl_error(c, EXIT_ERR, "--reason TEXT is required: how the withdrawal "
				 "reached you (it goes into the ledger)");
	if (strlen(reason) > REASON_MAX || !text_utf8_valid(reason, strlen(reason)) ||
	    text_has_control(reason, strlen(reason)))
		return ctl_error(c, EXIT_ERR, "--reason must be one line of valid UTF-8, at "
				 "most %d bytes", REASON_MAX);
	if (!templates(c))
		return EXIT_ERR;
	rc = consent_revoke(c->st, c->cfg, c->ts, pos[0], pos[1], reason, prev, err,
			    sizeof(err));
	if (rc)
		return ctl_error(c, rc == CONSENT_REFUSED ? EXIT_NO : EXIT_ERR, "%s", err);
	if (c->json)
		json_out(json_pack("{s:s, s:s, s:s, s:s}", "account", pos[0], "purpose", pos[1],
				   "previous", prev, "state", ledger_next_state(prev, EV_REVOKE)));
	else
		printf("withdrawal recorded: %s %s %s -> %s\n", pos[0], pos[1], prev,
		       ledger_next_state(prev, EV_REVOKE));
	return EXIT_OK;
}

static int cmd_export(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char err[512];
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, NULL)))
		return rc;
	rc = export_account(c->st, c->cfg, pos[0], stdout, err, sizeof(err));
	return rc ? ctl_error(c, EXIT_ERR, "%s", err) : EXIT_OK;
}

static int cmd_erase(ctl *c, int argc, char **argv)
{
	const char *pos[1];
	char err[512];
	int rc;

	if ((rc = parse(c, argc, argv, pos, 1, 1, NULL)))
		return rc;
	rc = consent_erase(c->st, pos[0], err, sizeof(err));
	if (rc)
		return ctl_error(c, rc == CONSENT_REFUSED ? EXIT_NO : EXIT_ERR, "%s", err);
	if (c->json)
		json_out(json_pack("{s:s, s:b}", "account", pos[0], "erased", 1));
	else
		printf("account %s erased: personal data removed, consent events kept "
		       "without it\n", pos[0]);
	return EXIT_OK;
}

static int cmd_expire(ctl *c, int argc, char **argv)
{
	char err[512];
	int n, rc;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, NULL)))
		return rc;
	if (consent_expire_due(c->st, -1, text_now(), &n, err, sizeof(err)))
		return ctl_error(c, EXIT_ERR, "%s", err);
	if (c->json)
		json_out(json_pack("{s:i}", "expired", n));
	else
		printf("%d request%s expired\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

/* check_anchor - "SEQ:HASH", a head recorded earlier somewhere else: that
 * event must still exist with that hash (catches a rewritten chain). */
/* check_anchor - SEQ:HASH (an event) or PN:HASH (the first N policy
 * versions), as ledger verify printed them; several separated by commas. */
static int check_anchor(ctl *c, const char *anchors, ledger_report *rep)
{
	char want[SHA256_HEX], got[SHA256_HEX], one[128], *end;
	const char *anchor = anchors, *comma;
	long long seq;
	bool policy;
	int rc;

	for (; *anchor; anchor = comma ? comma + 1 : anchor + strlen(anchor)) {
		comma = strchr(anchor, ',');
		snprintf(one, sizeof(one), "%.*s", comma ? (int)(comma - anchor) : (int)strlen(anchor),
			 anchor);
		policy = one[0] == 'P';
		errno = 0;
		seq = strtoll(one + policy, &end, 10);
		if (errno || seq < 1 || !isdigit((unsigned char)one[policy]) || *end != ':' ||
		    strlen(end + 1) != 64)
			return ctl_error(c, EXIT_ERR, "--anchor wants SEQ:HASH or PN:HASH as printed "
					 "by ledger verify (several separated by commas)");
		snprintf(want, sizeof(want), "%s", end + 1);
		rc = policy ? ledger_policy_chain_at(c->st, seq, got)
			    : store_event_hash(c->st, seq, got);
		if (rc == STORE_NOTFOUND || (rc == STORE_OK && strcmp(got, text_lower_ascii(want)))) {
			rep->bad_seq = policy ? 0 : seq;
			snprintf(rep->problem, sizeof(rep->problem), "%s the anchor %s (%s "
				 "rewritten or cut)", policy ? "the policy versions do not match" :
				 "does not match", one, policy ? "versions" : "the chain was");
			return 1;
		}
		if (rc)
			return store_error(c, rc, NULL);
	}
	return 0;
}

static int cmd_ledger_verify(ctl *c, int argc, char **argv)
{
	const char *anchor = NULL;
	opt opts[] = { { "--anchor", &anchor, NULL }, { 0 } };
	ledger_report rep;
	int rc;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, opts)))
		return rc;
	rc = ledger_verify(c->st, &rep);
	if (rc < 0)
		return store_error(c, rc, NULL);
	if (rc == 0 && anchor && (rc = check_anchor(c, anchor, &rep)) > 1)
		return rc;
	if (c->json) {
		json_out(json_pack("{s:b, s:I, s:s, s:I, s:s?, s:I, s:s}", "intact", rc == 0,
				   "events", (json_int_t)rep.events, "head", rep.head,
				   "bad_event", (json_int_t)rep.bad_seq, "problem",
				   rc ? rep.problem : NULL, "policy_versions",
				   (json_int_t)rep.policies, "policy_chain", rep.policy_chain));
	} else if (rc == 0) {
		printf("ledger intact: %" PRId64 " events, head %" PRId64 ":%s\n", rep.events,
		       rep.events, rep.head[0] ? rep.head : "(empty)");
		if (rep.policies)
			printf("policy versions intact: %" PRId64 ", head P%" PRId64 ":%s\n",
			       rep.policies, rep.policies, rep.policy_chain);
	} else if (rep.bad_seq > 0) {
		printf("ledger BROKEN at event %" PRId64 ": %s\n", rep.bad_seq, rep.problem);
	} else {
		printf("ledger BROKEN: %s\n", rep.problem);
	}
	return rc == 0 ? EXIT_OK : EXIT_NO;
}

typedef struct outbox_ctx {
	json_t *rows;
} outbox_ctx;

static int print_outbox_row(const outbox_listing *r, void *arg)
{
	outbox_ctx *o = arg;
	char created[TEXT_TIME_LEN], when[TEXT_TIME_LEN];

	time_str(r->created, created);
	time_str(r->done ? r->done : r->next_attempt, when);
	if (o->rows) {
		json_array_append_new(o->rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:s,"
							 " s:s, s:s}", "id", (json_int_t)r->id,
							 "kind", r->kind, "state", r->state,
							 "purpose", r->purpose, "account", r->account,
							 "to", r->rcpt, "attempts", r->attempts,
							 "created", created, r->done ? "done" : "next_attempt",
							 when, "response", r->last_response));
		return 0;
	}
	printf("%-6" PRId64 " %-9s %-17s %-12s %-20s %-30s %d %s %s\n", r->id, r->state, r->kind,
	       r->purpose, r->account, r->rcpt, r->attempts, when,
	       r->last_response[0] ? r->last_response : "-");
	return ferror(stdout) ? 1 : 0;
}

static int cmd_outbox_list(ctl *c, int argc, char **argv)
{
	static const char *const states[] = { "queued", "sending", "sent", "deferred", "failed",
					      "cancelled", NULL };
	const char *state = NULL;
	opt opts[] = { { "--state", &state, NULL }, { 0 } };
	outbox_ctx o = { NULL };
	int i, rc;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, opts)))
		return rc;
	if (state) {
		for (i = 0; states[i] && strcmp(states[i], state); i++)
			;
		if (!states[i])
			return ctl_error(c, EXIT_ERR, "--state must be queued, sending, sent, "
					 "deferred, failed or cancelled");
	}
	if (c->json)
		o.rows = json_array();
	else
		printf("%-6s %-9s %-17s %-12s %-20s %-30s %s %s %s\n", "id", "state", "kind",
		       "purpose", "account", "to", "tries", "when", "last response");
	rc = store_outbox_list(c->st, state, print_outbox_row, &o);
	if (rc) {
		json_decref(o.rows);
		return rc < 0 ? store_error(c, rc, NULL) : ctl_error(c, EXIT_ERR, "cannot write output");
	}
	if (o.rows)
		json_out(json_pack("{s:o}", "outbox", o.rows));
	return EXIT_OK;
}

typedef struct inbox_ctx {
	json_t *rows;
} inbox_ctx;

static int print_inbox_row(const inbox_listing *r, void *arg)
{
	inbox_ctx *o = arg;
	char received[TEXT_TIME_LEN];

	time_str(r->received, received);
	if (o->rows) {
		json_array_append_new(o->rows, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s,"
							 " s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
							 "id", (json_int_t)r->id,
							 "received", received, "channel", r->channel,
							 "outcome", r->outcome, "reason", r->reason,
							 "account", r->account, "purpose", r->purpose,
							 "from", r->from_addr, "message_id", r->msg_id,
							 "subject", r->subject, "detail", r->detail,
							 "sha256", r->raw_sha256,
							 "event", (json_int_t)r->event,
							 "size", (json_int_t)r->size));
		return 0;
	}
	printf("%-6" PRId64 " %s %-5s %-8s %-19s %-16s %-12s %-30s %s\n", r->id, received,
	       r->channel, r->outcome, r->reason, r->account[0] ? r->account : "-",
	       r->purpose[0] ? r->purpose : "-", r->from_addr[0] ? r->from_addr : "-",
	       r->detail[0] ? r->detail : "-");
	return ferror(stdout) ? 1 : 0;
}

static int cmd_inbox_list(ctl *c, int argc, char **argv)
{
	bool review = false;
	opt opts[] = { { "--review", NULL, &review }, { 0 } };
	inbox_ctx o = { NULL };
	int rc;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, opts)))
		return rc;
	if (c->json)
		o.rows = json_array();
	else
		printf("%-6s %-20s %-5s %-8s %-19s %-16s %-12s %-30s %s\n", "id", "received",
		       "via", "outcome", "reason", "account", "purpose", "from", "detail");
	rc = store_inbox_list(c->st, review, print_inbox_row, &o);
	if (rc) {
		json_decref(o.rows);
		return rc < 0 ? store_error(c, rc, NULL) : ctl_error(c, EXIT_ERR, "cannot write output");
	}
	if (o.rows)
		json_out(json_pack("{s:o}", "inbox", o.rows));
	return EXIT_OK;
}

/* ---- stats: what an admin checks first ---- */

#define IMAP_STALE_SECONDS 300   /* consentd reads at least every few seconds */

typedef struct stats_ctx {
	json_t *consents;
	char last[PURPOSE_NAME_MAX + 1];
} stats_ctx;

static int print_consent_count(const char *purpose, const char *state, int64_t n, void *arg)
{
	stats_ctx *x = arg;

	if (x->consents) {
		json_t *p = json_object_get(x->consents, purpose);

		if (!p) {
			p = json_object();
			json_object_set_new(x->consents, purpose, p);
		}
		json_object_set_new(p, state, json_integer(n));
		return 0;
	}
	if (strcmp(x->last, purpose)) {
		printf("%s%-13s %s:", x->last[0] ? "\n" : "", x->last[0] ? "" : "consents", purpose);
		snprintf(x->last, sizeof(x->last), "%s", purpose);
	}
	printf(" %s %" PRId64, state, n);
	return 0;
}

static int cmd_stats(ctl *c, int argc, char **argv)
{
	static const char *const states[] = { "queued", "sending", "sent", "deferred", "failed",
					      "cancelled" };
	stats_ctx x = { NULL, "" };
	char when[TEXT_TIME_LEN], polled[TEXT_TIME_LEN];
	store_stats s;
	json_t *outbox;
	int64_t now = text_now();
	bool stale;
	int rc, i;

	if ((rc = parse(c, argc, argv, NULL, 0, 0, NULL)))
		return rc;
	if ((rc = store_stats_get(c->st, &s)))
		return store_error(c, rc, NULL);
	time_str(s.oldest_waiting, when);
	time_str(s.imap_polled, polled);
	stale = c->cfg->imap_enabled && (!s.imap_polled || now - s.imap_polled > IMAP_STALE_SECONDS);
	if (c->json) {
		x.consents = json_object();
		if ((rc = store_stats_consents(c->st, print_consent_count, &x))) {
			json_decref(x.consents);
			return store_error(c, rc, NULL);
		}
		outbox = json_object();
		for (i = 0; i < 6; i++)
			json_object_set_new(outbox, states[i], json_integer(s.outbox[i]));
		json_object_set_new(outbox, "oldest_waiting",
				    s.oldest_waiting ? json_string(when) : json_null());
		json_out(json_pack("{s:{s:I, s:I, s:I}, s:o, s:o, s:{s:I, s:I},"
				   " s:{s:b, s:s, s:o, s:I, s:b}, s:I, s:{s:I, s:s}}",
				   "accounts", "active", (json_int_t)(s.accounts - s.erased), "erased",
				   (json_int_t)s.erased, "bouncing", (json_int_t)s.failing,
				   "consents", x.consents, "outbox", outbox,
				   "inbox", "messages", (json_int_t)s.inbox, "review",
				   (json_int_t)s.review,
				   "imap", "enabled", c->cfg->imap_enabled, "mailbox",
				   s.imap_mailbox, "last_pass", s.imap_polled ? json_string(polled)
				   : json_null(), "last_uid", (json_int_t)s.imap_last_uid, "stale",
				   stale, "broadcasts_open", (json_int_t)s.broadcasts_open,
				   "ledger", "seq", (json_int_t)s.ledger_seq, "head", s.ledger_head));
		return EXIT_OK;
	}
	printf("%-13s %" PRId64 " (erased %" PRId64 ", address bouncing %" PRId64 ")\n",
	       "accounts", s.accounts - s.erased, s.erased, s.failing);
	if ((rc = store_stats_consents(c->st, print_consent_count, &x)))
		return store_error(c, rc, NULL);
	printf("%s", x.last[0] ? "  (as recorded)\n" : "consents      none yet\n");
	printf("%-13s", "outbox");
	for (i = 0; i < 6; i++)
		printf(" %s %" PRId64 "%s", states[i], s.outbox[i], i < 5 ? "," : "");
	if (s.oldest_waiting)
		printf("; oldest waiting since %s", when);
	printf("\n%-13s %" PRId64 " messages, %" PRId64 " held for review\n", "inbox", s.inbox,
	       s.review);
	if (!c->cfg->imap_enabled)
		printf("%-13s off ([imap] enabled = no)\n", "imap");
	else if (!s.imap_polled)
		printf("%-13s never read (is consentd running?)\n", "imap");
	else
		printf("%-13s %s last read %s (%" PRId64 " s ago)%s, last UID %" PRId64 "\n", "imap",
		       s.imap_mailbox, polled, now - s.imap_polled,
		       stale ? " — STALE: is consentd running, can it log in?" : "",
		       s.imap_last_uid);
	printf("%-13s %" PRId64 " under way\n", "broadcasts", s.broadcasts_open);
	printf("%-13s %" PRId64 ":%s\n", "ledger head", s.ledger_seq, s.ledger_head);
	return EXIT_OK;
}

const command commands[] = {
	{ "account add", "ID EMAIL [--name NAME] [--lang de|en]", cmd_account_add, CMD_WRITE },
	{ "account import", "FILE|-   (CSV header: id,email,name,lang)", cmd_account_import, CMD_WRITE },
	{ "account show", "ID", cmd_account_show, 0 },
	{ "account set-email", "ID EMAIL", cmd_account_set_email, 0 },
	{ "request", "ID PURPOSE [--resend] | --all PURPOSE   (--all: every account in "
	  "state none or expired, throttled like a broadcast, once each)", cmd_request, 0 },
	{ "status", "ID [PURPOSE]", cmd_status, 0 },
	{ "check", "ID PURPOSE   (exit 0 only when granted now)", cmd_check, 0 },
	{ "granted", "PURPOSE   (ids of all accounts granted now)", cmd_granted, 0 },
	{ "revoke", "ID PURPOSE --reason TEXT", cmd_revoke, 0 },
	{ "export", "ID   (JSON: account, states, every event)", cmd_export, 0 },
	{ "erase", "ID", cmd_erase, 0 },
	{ "expire", "  (record expiry of requests past their lifetime)", cmd_expire, 0 },
	{ "outbox list", "[--state queued|sending|sent|deferred|failed|cancelled]",
	  cmd_outbox_list, 0 },
	{ "inbox list", "[--review]   (what came in and what it became)", cmd_inbox_list, 0 },
	{ "policy publish", "VERSION --effective DATE [--material] [--affects PURPOSE]... "
	  "--summary LANG=FILE...", cmd_policy_publish, CMD_WRITE },
	{ "policy list", "", cmd_policy_list, 0 },
	{ "policy preview", "VERSION [--lang de|en] [--account ID] [--raw]", cmd_policy_preview, 0 },
	{ "broadcast start", "VERSION [--dry-run]   (announce a material version to every "
	  "account, once each)", cmd_broadcast_start, 0 },
	{ "broadcast status", "VERSION|--request PURPOSE [--follow]", cmd_broadcast_status, 0 },
	{ "broadcast report", "VERSION|--request PURPOSE [--all]   (CSV: undelivered mail, "
	  "--all: every mail with the server's answer)", cmd_broadcast_report, 0 },
	{ "stats", "   (accounts, consents, outbox backlog, inbox, last IMAP pass, broadcasts, "
	  "ledger head)", cmd_stats, 0 },
	{ "ledger verify", "[--anchor SEQ:HASH]   (a head printed earlier, kept elsewhere)",
	  cmd_ledger_verify, 0 },
	{ NULL, NULL, NULL, 0 }
};
