/*
 * bench_fill - fill a fresh store with accounts and a realistic ledger,
 * fast, for the benchmarks (tests/bench/run.sh). Not a test; not installed.
 *
 *   bench_fill CONFIG EVENTS [ACCOUNTS]
 *
 * Creates ACCOUNTS accounts (default EVENTS) named u0000001, u0000002, ...
 * and exactly EVENTS ledger events for the purpose log-linking, through the
 * real store_account_upsert / store_request_insert / ledger_append, in
 * transactions of BATCH operations. Every other account (stride
 * ACCOUNTS / active) is "active": it is asked once; replies and withdrawals
 * come later, as they would in service:
 *
 *   wave 1  request for every active account, in account order
 *   wave 2  the replies, in a shuffled (fixed-seed) order: of every ten
 *           active accounts 8 grant, 1 declines, 1 never answers (pending)
 *   wave 3  one of the eight that granted withdraws (revoke)
 *
 * Ten active accounts make 10 + 9 + 1 = 20 events, so EVENTS events need
 * EVENTS / 2 active accounts, and with the default ACCOUNTS = EVENTS half of
 * all accounts have events. Of those, 70 % end granted, 10 % revoked,
 * 10 % declined, 10 % pending. Account u0000001 (key 1) always ends granted
 * when EVENTS >= 2.
 *
 * The store must not exist yet (keys are then 1..ACCOUNTS). Prints
 * key=value lines (accounts, events, granted, seconds, ...) on stdout.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consentd/config.h"
#include "consentd/digest.h"
#include "consentd/ledger.h"
#include "consentd/store.h"
#include "consentd/text.h"

#define BATCH 50000
#define PURPOSE "log-linking"
#define POLICY "1.1"

/* What happens to active account j (pattern j % 10). */
enum { P_REVOKE = 7, P_DECLINE = 8, P_PENDING = 9 };

typedef struct active {
	int64_t key, request;
	unsigned char hkey[ACCOUNT_KEY_LEN];
} active;

typedef struct filler {
	store *st;
	const config *cfg;
	unsigned long in_tx;
	uint64_t events, target, msgno;
	int64_t at;
	char shown[SHA256_HEX];
} filler;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, store *st)
{
	fprintf(stderr, "bench_fill: %s%s%s\n", what, st ? ": " : "",
		st ? store_errmsg(st) : "");
	exit(2);
}

/* tick - one operation done; commit and begin again every BATCH. */
static void tick(filler *f)
{
	if (++f->in_tx < BATCH)
		return;
	if (store_commit(f->st) || store_begin(f->st))
		die("commit", f->st);
	f->in_tx = 0;
}

static void account_id(uint64_t i, char out[32])
{
	snprintf(out, 32, "u%07" PRIu64, i + 1);
}

static void account_email(uint64_t i, char out[64])
{
	snprintf(out, 64, "user%" PRIu64 "@example%" PRIu64 ".com", i + 1, (i + 1) % 100);
}

/* append - one event of kind for active account a, as the service would
 * write it (channel, evidence fields). */
static void append(filler *f, const active *a, uint64_t i, const char *kind)
{
	char email[64], msg_id[96], raw[64];
	account acc;
	event_row ev;
	int rc;

	memset(&acc, 0, sizeof(acc));
	acc.key = a->key;
	account_id(i, acc.id);   /* ledger_append reads the row; key and id name it */
	account_email(i, email);
	memset(&ev, 0, sizeof(ev));
	ev.at = f->at++;
	ev.acct = a->key;
	ev.request = a->request;
	snprintf(ev.purpose, sizeof(ev.purpose), PURPOSE);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.policy, sizeof(ev.policy), POLICY);
	ev.address = email;
	if (!strcmp(kind, EV_REQUEST)) {
		snprintf(ev.channel, sizeof(ev.channel), CHANNEL_STAFF);
		memcpy(ev.shown_sha256, f->shown, SHA256_HEX);
	} else {
		/* A reply read from IMAP: sender, Message-ID, hash of the raw mail. */
		snprintf(ev.channel, sizeof(ev.channel), CHANNEL_IMAP);
		snprintf(msg_id, sizeof(msg_id), "<reply-%" PRIu64 "@mail.example%" PRIu64 ".com>",
			 ++f->msgno, (i + 1) % 100);
		snprintf(raw, sizeof(raw), "raw message %" PRIu64, f->msgno);
		digest_sha256_hex(raw, strlen(raw), ev.raw_sha256);
		ev.sender = email;
		ev.msg_id = msg_id;
	}
	if ((rc = ledger_append(f->st, &ev, &acc)))
		die(rc == STORE_EXISTS ? "event not allowed in this state" : "ledger_append", f->st);
	f->events++;
	tick(f);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	config *cfg = NULL;
	store *st = NULL;
	char err[512], id[32], email[64], name[64], tok[64], first_granted[32] = "";
	filler f;
	active *act;
	uint32_t *order;
	uint64_t nevents, naccounts, nactive, stride, i, j, seed = 0x9e3779b97f4a7c15ULL;
	uint64_t granted = 0, declined = 0, revoked = 0;
	double t0, t_acc, t_req, t_rep, t_end;
	account a;
	request_row req;
	bool created;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_fill CONFIG EVENTS [ACCOUNTS]\n");
		return 2;
	}
	nevents = strtoull(argv[2], NULL, 10);
	naccounts = argc > 3 ? strtoull(argv[3], NULL, 10) : nevents;
	nactive = (nevents + 1) / 2;
	if (nevents < 1 || naccounts < nactive) {
		fprintf(stderr, "bench_fill: EVENTS >= 1 and ACCOUNTS >= EVENTS/2 needed\n");
		return 2;
	}
	stride = naccounts / nactive;
	if (config_load(&cfg, argv[1], err, sizeof(err))) {
		fprintf(stderr, "bench_fill: %s\n", err);
		return 2;
	}
	if (access(cfg->store_path, F_OK) == 0) {
		fprintf(stderr, "bench_fill: %s exists; give a config with a fresh store\n",
			cfg->store_path);
		config_free(cfg);
		return 2;
	}
	if (store_open(&st, cfg->store_path, cfg->busy_timeout_ms, STORE_CREATE, err, sizeof(err))) {
		fprintf(stderr, "bench_fill: %s\n", err);
		config_free(cfg);
		return 2;
	}
	act = xcalloc(nactive, sizeof(*act));
	order = xcalloc(nactive, sizeof(*order));
	memset(&f, 0, sizeof(f));
	f.st = st;
	f.cfg = cfg;
	f.target = nevents;
	f.at = text_now() - 7 * 86400;   /* a week ago: pending requests stay pending */
	digest_sha256_hex("request mail as rendered (de, v1)", 33, f.shown);

	t0 = now_s();
	/* Accounts. */
	if (store_begin(st))
		die("begin", st);
	for (i = 0; i < naccounts; i++) {
		account_id(i, id);
		account_email(i, email);
		snprintf(name, sizeof(name), "Nutzer %" PRIu64 " M\xc3\xbcller", i + 1);
		if (store_account_upsert(st, id, email, name, i % 3 ? "de" : "en", &created))
			die("account upsert", st);
		if (!created)
			die("account existed already (store not fresh?)", NULL);
		if (i % stride == 0 && i / stride < nactive) {
			active *ac = &act[i / stride];

			if (store_account_get(st, id, &a))
				die("account get", st);
			ac->key = a.key;
			memcpy(ac->hkey, a.hkey, ACCOUNT_KEY_LEN);
		}
		tick(&f);
	}
	t_acc = now_s();

	/* Wave 1: requests, in account order. */
	for (j = 0; j < nactive && f.events < nevents; j++) {
		memset(&req, 0, sizeof(req));
		req.acct = act[j].key;
		snprintf(req.purpose, sizeof(req.purpose), PURPOSE);
		snprintf(tok, sizeof(tok), "token %" PRIu64, j);
		digest_sha256_hex(tok, strlen(tok), req.token_hash);
		req.created = f.at;
		req.expires = f.at + (int64_t)cfg->lifetime_days * 86400;
		snprintf(req.state, sizeof(req.state), "open");
		if (store_request_insert(st, &req))
			die("request insert", st);
		act[j].request = req.id;
		append(&f, &act[j], j * stride, EV_REQUEST);
	}
	t_req = now_s();

	/* Wave 2: replies in shuffled order. */
	for (j = 0; j < nactive; j++)
		order[j] = (uint32_t)j;
	for (j = nactive; j > 1; j--) {
		uint64_t k = xorshift(&seed) % j;
		uint32_t tmp = order[j - 1];

		order[j - 1] = order[k];
		order[k] = tmp;
	}
	for (i = 0; i < nactive && f.events < nevents; i++) {
		j = order[i];
		if (j % 10 == P_PENDING || !act[j].request)
			continue;
		/* The answer names the open request, which it then closes. */
		if (j % 10 == P_DECLINE) {
			append(&f, &act[j], j * stride, EV_DECLINE);
			declined++;
		} else {
			append(&f, &act[j], j * stride, EV_GRANT);
			granted++;
		}
		if (store_request_set_state(st, act[j].request, "answered"))
			die("request state", st);
	}
	t_rep = now_s();

	/* Wave 3: withdrawals. */
	for (j = P_REVOKE; j < nactive && f.events < nevents; j += 10) {
		char state[16];
		int64_t seq;

		if (store_consent_get(st, act[j].key, PURPOSE, state, &seq) ||
		    strcmp(state, STATE_GRANTED))
			continue;
		append(&f, &act[j], j * stride, EV_REVOKE);
		revoked++;
		granted--;
	}
	if (store_commit(st))
		die("commit", st);
	t_end = now_s();

	{
		char state[16];
		int64_t seq;

		if (store_consent_get(st, 1, PURPOSE, state, &seq) == STORE_OK &&
		    !strcmp(state, STATE_GRANTED))
			account_id(0, first_granted);
	}
	if (f.events != nevents)
		fprintf(stderr, "bench_fill: warning: made %" PRIu64 " events, not %" PRIu64 "\n",
			f.events, nevents);
	store_close(st);   /* last connection: checkpoints and removes the WAL */
	printf("accounts=%" PRIu64 "\n", naccounts);
	printf("events=%" PRIu64 "\n", f.events);
	printf("granted=%" PRIu64 "\ndeclined=%" PRIu64 "\nrevoked=%" PRIu64 "\n",
	       granted, declined, revoked);
	printf("granted_example=%s\n", first_granted);
	printf("accounts_seconds=%.2f\n", t_acc - t0);
	printf("requests_seconds=%.2f\n", t_req - t_acc);
	printf("replies_seconds=%.2f\n", t_rep - t_req);
	printf("seconds=%.2f\n", t_end - t0);
	printf("close_seconds=%.2f\n", now_s() - t_end);
	digest_wipe(act, nactive * sizeof(*act));
	free(act);
	free(order);
	config_free(cfg);
	return 0;
}
