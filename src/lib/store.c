/*
 * store.c - the SQLite store (see store.h for the promises).
 *
 * The only file that includes sqlite3.h. Statements are prepared once per
 * connection from the table below and always bound, never formatted.
 * Schema changes are forward migrations, applied in one transaction on open;
 * the ledger table refuses deletes and rewrites through triggers (only the
 * personal columns may be cleared, for erasure).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "consentd/digest.h"
#include "consentd/store.h"
#include "consentd/text.h"

#define APPLICATION_ID 0x436E5344   /* "CnSD" in the file header */

/* Migration N brings the schema from version N-1 to N. Append only: once a
 * version has been released, its migration never changes (schema 1 and 2
 * were first released together). */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE account ("
	"  key INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT UNIQUE,"                /* NULL once erased */
	"  email TEXT, email_lc TEXT, name TEXT, lang TEXT,"
	"  hkey BLOB,"                     /* NULL once erased */
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL, erased INTEGER);"
	"CREATE INDEX account_email ON account(email_lc);"
	"CREATE TABLE event ("
	"  seq INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  acct INTEGER NOT NULL REFERENCES account(key),"
	"  purpose TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL,"
	"  request INTEGER, policy TEXT NOT NULL,"
	"  raw_sha256 TEXT NOT NULL, shown_sha256 TEXT NOT NULL,"
	"  address TEXT, sender TEXT, msg_id TEXT, reason TEXT,"
	"  pd_mac TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);"
	"CREATE INDEX event_pair ON event(acct, purpose, seq, kind);"
	"CREATE TRIGGER event_append_only_delete BEFORE DELETE ON event"
	" BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
	"CREATE TRIGGER event_append_only_update BEFORE UPDATE ON event"
	" WHEN NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at OR NEW.acct IS NOT OLD.acct"
	"  OR NEW.purpose IS NOT OLD.purpose OR NEW.kind IS NOT OLD.kind"
	"  OR NEW.channel IS NOT OLD.channel OR NEW.request IS NOT OLD.request"
	"  OR NEW.policy IS NOT OLD.policy OR NEW.raw_sha256 IS NOT OLD.raw_sha256"
	"  OR NEW.shown_sha256 IS NOT OLD.shown_sha256 OR NEW.pd_mac IS NOT OLD.pd_mac"
	"  OR NEW.prev IS NOT OLD.prev OR NEW.hash IS NOT OLD.hash"
	"  OR NEW.address IS NOT NULL OR NEW.sender IS NOT NULL"
	"  OR NEW.msg_id IS NOT NULL OR NEW.reason IS NOT NULL"
	"  OR (SELECT hkey FROM account WHERE key = OLD.acct) IS NOT NULL"
	" BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
	"CREATE TABLE ledger_head ("
	"  one INTEGER PRIMARY KEY CHECK (one = 1),"
	"  seq INTEGER NOT NULL, hash TEXT NOT NULL);"
	"CREATE TABLE consent ("
	"  acct INTEGER NOT NULL REFERENCES account(key),"
	"  purpose TEXT NOT NULL, state TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  PRIMARY KEY (acct, purpose)) WITHOUT ROWID;"
	"CREATE INDEX consent_state ON consent(purpose, state);"
	"CREATE TABLE request ("
	"  id INTEGER PRIMARY KEY,"
	"  acct INTEGER NOT NULL REFERENCES account(key),"
	"  purpose TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL, state TEXT NOT NULL);"
	"CREATE INDEX request_open ON request(acct, purpose) WHERE state = 'open';"
	"CREATE INDEX request_due ON request(expires) WHERE state = 'open';"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  acct INTEGER NOT NULL REFERENCES account(key),"
	"  purpose TEXT NOT NULL, request INTEGER REFERENCES request(id),"
	"  token TEXT,"                    /* plaintext only until the mail is rendered */
	"  state TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX outbox_state ON outbox(state, id);",
	/* 2: the outbox carries the rendered mail and its delivery state */
	"ALTER TABLE outbox ADD COLUMN sender TEXT;"        /* envelope sender */
	"ALTER TABLE outbox ADD COLUMN rcpt TEXT;"          /* envelope recipient */
	"ALTER TABLE outbox ADD COLUMN sha256 TEXT;"        /* of the mail as sent, token in */
	"ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN next_attempt INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN lease_until INTEGER;"
	"ALTER TABLE outbox ADD COLUMN last_response TEXT;"
	"ALTER TABLE outbox ADD COLUMN done INTEGER;"       /* time sent or failed */
	/* Rows queued by schema 1 have no rendered mail and cannot be sent. */
	"UPDATE outbox SET state = 'failed', last_response = 'queued before mail "
	"rendering existed (schema 1); request again', token = NULL"
	" WHERE state = 'queued';"
	"DROP INDEX outbox_state;"
	"CREATE INDEX outbox_due ON outbox(id) WHERE state IN ('queued', 'deferred');"
	"CREATE INDEX outbox_lease ON outbox(lease_until) WHERE state = 'sending';"
	"CREATE INDEX outbox_state ON outbox(state);"
	/* The mail itself, apart: it never changes, while the outbox row is
	 * updated at every attempt (a small row rewrites cheaply). CRLF bytes;
	 * a request's with its token as 'x' x 32. */
	"CREATE TABLE outbox_mail ("
	"  id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,"
	"  message BLOB NOT NULL);"
	/* work owed after a failure, e.g. truncating the WAL after an erasure */
	"CREATE TABLE pending (task TEXT PRIMARY KEY, since INTEGER NOT NULL);",
	/* 3: inbound mail, judged once each */
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY,"
	"  received INTEGER NOT NULL,"
	"  channel TEXT NOT NULL,"           /* imap | pipe */
	"  raw_sha256 TEXT NOT NULL,"        /* of the message in CRLF form */
	"  content_sha256 TEXT NOT NULL,"    /* the same without the trace fields on top */
	"  size INTEGER NOT NULL,"
	/* personal data, cleared on erasure of the account it concerns: */
	"  msg_id TEXT, env_sender TEXT, env_rcpt TEXT, from_addr TEXT, from_lc TEXT,"
	"  subject TEXT, auth_results TEXT, detail TEXT,"
	"  acct INTEGER REFERENCES account(key),"
	"  purpose TEXT, request INTEGER REFERENCES request(id),"
	"  outcome TEXT NOT NULL,"           /* granted declined revoked review ignored */
	"  reason TEXT NOT NULL,"            /* why, one word (README) */
	"  event INTEGER,"                   /* the ledger event it caused */
	"  dup_of INTEGER);"                 /* a second delivery of that row */
	"CREATE INDEX inbox_sha ON inbox(content_sha256);"
	"CREATE INDEX inbox_acct ON inbox(acct);"
	"CREATE INDEX inbox_from ON inbox(from_lc);"
	"CREATE INDEX inbox_review ON inbox(id) WHERE outcome = 'review';"
	/* The raw message as evidence, kept until the account is erased. */
	"CREATE TABLE inbox_raw ("
	"  id INTEGER PRIMARY KEY REFERENCES inbox(id) ON DELETE CASCADE,"
	"  message BLOB NOT NULL);"
	"ALTER TABLE request ADD COLUMN nudged INTEGER;"   /* "please answer" mail queued */
	"ALTER TABLE request ADD COLUMN renewed INTEGER;"  /* fresh request after a late reply */
	"ALTER TABLE account ADD COLUMN failing INTEGER;"  /* a bounce said the address fails */
	"ALTER TABLE account ADD COLUMN failing_status TEXT;"
	/* Answering a request cancels its queued mail: found by request, not
	 * by scanning the queue (which grows with every receipt). */
	"CREATE INDEX outbox_request ON outbox(request) WHERE state IN ('queued', 'deferred');"
	"CREATE TABLE imap_state ("
	"  mailbox TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL);",
	/* 4: policy versions, broadcasts and their throttled sending */
	"CREATE TABLE policy ("
	"  version TEXT PRIMARY KEY,"
	"  effective INTEGER NOT NULL,"      /* in force from (UTC seconds) */
	"  published INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"            /* the ledger's last event when published */
	"  material INTEGER NOT NULL);"
	"CREATE INDEX policy_effective ON policy(effective, published);"
	/* A version's texts and purposes are written before its policy row
	 * (the references are checked at commit) and never after it. */
	"CREATE TABLE policy_text ("          /* the summary of changes per language */
	"  version TEXT NOT NULL REFERENCES policy(version) DEFERRABLE INITIALLY DEFERRED,"
	"  lang TEXT NOT NULL, summary TEXT NOT NULL, sha256 TEXT NOT NULL,"
	"  PRIMARY KEY (version, lang));"
	"CREATE TABLE policy_affects ("       /* consents to purpose must be given anew */
	"  version TEXT NOT NULL REFERENCES policy(version) DEFERRABLE INITIALLY DEFERRED,"
	"  purpose TEXT NOT NULL, PRIMARY KEY (purpose, version));"
	"CREATE TRIGGER policy_immutable_u BEFORE UPDATE ON policy"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_immutable_d BEFORE DELETE ON policy"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_text_immutable_u BEFORE UPDATE ON policy_text"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_text_immutable_d BEFORE DELETE ON policy_text"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_affects_immutable_u BEFORE UPDATE ON policy_affects"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_affects_immutable_d BEFORE DELETE ON policy_affects"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_text_sealed BEFORE INSERT ON policy_text"
	"  WHEN EXISTS (SELECT 1 FROM policy WHERE version = NEW.version)"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE TRIGGER policy_affects_sealed BEFORE INSERT ON policy_affects"
	"  WHEN EXISTS (SELECT 1 FROM policy WHERE version = NEW.version)"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	/* A broadcast (a policy announcement, or request --all): accounts are
	 * queued in key order; cursor is the last key handled, moved in the
	 * same transaction as the mail it queued. */
	"CREATE TABLE campaign ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"              /* policy | request */
	"  name TEXT NOT NULL,"              /* the policy version, or the purpose */
	"  started INTEGER NOT NULL,"
	"  cursor INTEGER NOT NULL DEFAULT 0,"
	"  upto INTEGER NOT NULL,"           /* the newest account when it began */
	"  accounts INTEGER NOT NULL DEFAULT 0,"   /* accounts handled */
	"  queued INTEGER NOT NULL DEFAULT 0,"     /* mails queued */
	"  requests INTEGER NOT NULL DEFAULT 0,"   /* consent requests among them */
	"  updated INTEGER NOT NULL,"        /* last progress */
	"  finished INTEGER);"               /* queueing done */
	"CREATE UNIQUE INDEX campaign_policy ON campaign(name) WHERE kind = 'policy';"
	"ALTER TABLE outbox ADD COLUMN campaign INTEGER REFERENCES campaign(id);"
	"ALTER TABLE outbox ADD COLUMN domain TEXT;"   /* of rcpt, lower case */
	"UPDATE outbox SET domain = lower(substr(rcpt, instr(rcpt, '@') + 1));"
	/* exactly once per (broadcast, account, kind of mail, purpose), by the
	 * store (a version may ask anew for several purposes) */
	"CREATE UNIQUE INDEX outbox_once ON outbox(campaign, acct, kind, purpose)"
	"  WHERE campaign IS NOT NULL;"
	"CREATE INDEX outbox_campaign ON outbox(campaign, state, done) WHERE campaign IS NOT NULL;"
	/* single mail (receipts, requests) before bulk mail; bulk by domain.
	 * The index on state alone goes: every claim and result rewrote it,
	 * and the partial indexes serve every query that needs one. */
	"DROP INDEX outbox_state;"
	"DROP INDEX outbox_due;"
	"CREATE INDEX outbox_due ON outbox(id)"
	"  WHERE state IN ('queued', 'deferred') AND campaign IS NULL;"
	"CREATE INDEX outbox_bulk ON outbox(domain, next_attempt, id)"
	"  WHERE state IN ('queued', 'deferred') AND campaign IS NOT NULL;"
	/* a domain that answered 4xx to bulk mail waits until 'until' */
	"CREATE TABLE domain_hold ("
	"  domain TEXT PRIMARY KEY, until INTEGER NOT NULL, backoff INTEGER NOT NULL,"
	"  response TEXT);"
	"ALTER TABLE imap_state ADD COLUMN polled INTEGER;",   /* last good pass */
	/* 5: policy versions bound into the ledger. Each version gets its place
	 * n in publication order (rowid: the order they were inserted) and the
	 * chain value over every version up to it (ledger.c; NULL for versions
	 * published before, filled in once by the first append or publication;
	 * the trigger allows only that); events after chained_from (the head
	 * now) hash the chain of the versions published before them. The head
	 * record also names how many versions there are and their chain. */
	"DROP TRIGGER policy_immutable_u;"
	"ALTER TABLE policy ADD COLUMN n INTEGER;"
	"ALTER TABLE policy ADD COLUMN chain TEXT;"
	"UPDATE policy SET n = (SELECT count(*) FROM policy q WHERE (q.seq, q.published,"
	"  q.rowid) < (policy.seq, policy.published, policy.rowid));"
	"CREATE TRIGGER policy_immutable_u BEFORE UPDATE ON policy"
	"  WHEN NOT (OLD.chain IS NULL AND NEW.chain IS NOT NULL AND NEW.version IS OLD.version"
	"   AND NEW.effective IS OLD.effective AND NEW.published IS OLD.published"
	"   AND NEW.seq IS OLD.seq AND NEW.material IS OLD.material AND NEW.n IS OLD.n)"
	"  BEGIN SELECT RAISE(ABORT, 'policy versions are immutable'); END;"
	"CREATE UNIQUE INDEX policy_n ON policy(n);"
	"INSERT OR IGNORE INTO ledger_head (one, seq, hash) VALUES (1, 0, '');"
	"ALTER TABLE ledger_head ADD COLUMN chained_from INTEGER;"
	"ALTER TABLE ledger_head ADD COLUMN policy_legacy INTEGER;"   /* versions without */
	"ALTER TABLE ledger_head ADD COLUMN policies INTEGER;"        /* versions published */
	"ALTER TABLE ledger_head ADD COLUMN policy_chain TEXT;"       /* chain of the last */
	"UPDATE ledger_head SET chained_from = seq, policy_legacy = (SELECT count(*) FROM policy),"
	"  policies = (SELECT count(*) FROM policy);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration per schema version");

enum stmt_id {
	S_ACCOUNT_GET, S_ACCOUNT_GET_KEY, S_ACCOUNT_UPSERT,
	S_ACCOUNT_SET_EMAIL, S_ACCOUNT_ERASE,
	S_EVENT_INSERT, S_HEAD_GET, S_HEAD_SET, S_EVENTS_ALL, S_EVENTS_ACCT,
	S_EVENT_CLEAR, S_ERASURE_MISMATCH, S_EVENT_HASH, S_PENDING_SET, S_PENDING_GET,
	S_PENDING_DEL,
	S_CONSENT_GET, S_CONSENT_SET, S_CONSENT_DEL_ACCT, S_CONSENTS_ALL,
	S_CONSENTS_ACCT, S_GRANTED,
	S_REQUEST_INSERT, S_REQUEST_OPEN, S_REQUEST_BY_HASH, S_REQUEST_STATE,
	S_REQUESTS_DUE_ALL, S_REQUESTS_DUE_ACCT, S_REQUESTS_CLOSE_ACCT, S_OUTBOX_CANCEL_REQ,
	S_OUTBOX_INSERT, S_OUTBOX_DEL_ACCT, S_OUTBOX_DUE, S_OUTBOX_LEASED, S_OUTBOX_CLAIM,
	S_OUTBOX_RESULT, S_OUTBOX_MAIL_SET, S_OUTBOX_MAIL_GET,
	S_OUTBOX_LIST_ALL, S_OUTBOX_LIST_STATE, S_OUTBOX_NEXT_DUE,
	S_OUTBOX_RECLAIM,
	S_INBOX_DUP, S_INBOX_INSERT, S_INBOX_RAW, S_INBOX_LIST_ALL, S_INBOX_LIST_REVIEW,
	S_INBOX_ERASE, S_INBOX_RAW_ERASE, S_INBOX_ACCT, S_REQUEST_NUDGED, S_REQUEST_RENEWED,
	S_ACCOUNT_FAILING, S_ACCOUNTS_BY_EMAIL, S_IMAP_GET, S_IMAP_SET,
	S_OUTBOX_NOTICE, S_OUTBOX_RENDERED, S_BULK_NEXT_DOMAIN, S_BULK_DUE, S_BULK_DOMAIN_MIN,
	S_DOMAIN_HELD, S_DOMAIN_HOLD, S_DOMAIN_RELEASE,
	S_POLICY_INSERT, S_POLICY_TEXT_INSERT, S_POLICY_AFFECTS_INSERT, S_POLICY_GET,
	S_POLICY_TEXT, S_POLICY_LIST, S_POLICY_AFFECTS_EACH, S_POLICY_IN_FORCE,
	S_POLICY_AFFECTING, S_GRANT_ASKED, S_REQUEST_SEQ, S_POLICY_ALL, S_POLICY_LAST,
	S_POLICY_TEXTS, S_CHAINED_FROM, S_REQUEST_UNSENT, S_POLICY_HEAD_GET, S_POLICY_HEAD_SET,
	S_POLICY_CHAIN_FILL,
	S_CAMPAIGN_INSERT, S_CAMPAIGN_FIND, S_CAMPAIGN_GET, S_CAMPAIGN_PROGRESS,
	S_CAMPAIGN_UNFINISHED, S_ACCOUNTS_AFTER, S_ACCOUNTS_COUNT, S_ACCOUNTS_BY_LANG,
	S_ACCOUNTS_FAILING, S_CAMPAIGN_COUNTS, S_CAMPAIGN_MAIL_ALL, S_CAMPAIGN_MAIL_OPEN,
	S_STATS_ACCOUNTS, S_STATS_OUTBOX, S_STATS_INBOX, S_STATS_CONSENTS, S_STATS_IMAP,
	S_STATS_CAMPAIGNS,
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_COUNT
};

#define ACCOUNT_COLS "key, id, email, name, lang, created, updated, hkey, ifnull(failing, 0), " \
	"ifnull(failing_status, '')"
#define EVENT_COLS "e.seq, e.at, e.acct, e.request, e.purpose, e.kind, e.channel, " \
	"e.policy, e.raw_sha256, e.shown_sha256, e.pd_mac, e.prev, e.hash, " \
	"e.address, e.sender, e.msg_id, e.reason, a.hkey, a.id, a.erased IS NOT NULL"
#define INBOX_COLS "i.id, i.received, i.channel, i.outcome, i.reason, ifnull(a.id, ''), " \
	"ifnull(i.purpose, ''), ifnull(i.from_addr, ''), ifnull(i.msg_id, ''), " \
	"ifnull(i.subject, ''), ifnull(i.detail, ''), i.raw_sha256, ifnull(i.event, 0), i.size"
#define REQUEST_COLS "id, acct, created, expires, purpose, token_hash, state"
#define POLICY_COLS "version, effective, published, material, seq, ifnull(n, -1), ifnull(chain, '')"
#define CAMPAIGN_COLS "id, kind, name, started, cursor, accounts, queued, requests, " \
	"ifnull(finished, 0), updated, upto"
#define DOMAIN_OF(x) "lower(substr(" x ", instr(" x ", '@') + 1))"
#define BULK_DUE "state IN ('queued', 'deferred') AND campaign IS NOT NULL"
#define CAMPAIGN_MAIL_COLS "o.id, ifnull(a.id, ''), o.kind, o.state, ifnull(o.rcpt, ''), " \
	"ifnull(o.last_response, ''), ifnull(o.sha256, ''), o.attempts, ifnull(o.done, 0), " \
	"o.next_attempt FROM outbox o LEFT JOIN account a ON a.key = o.acct WHERE o.campaign = ?1"

static const char *const stmt_sql[S_COUNT] = {
	[S_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM account WHERE id = ?1",
	[S_ACCOUNT_GET_KEY] = "SELECT " ACCOUNT_COLS " FROM account WHERE key = ?1",
	/* name/lang: NULL keeps the stored value (new rows: none), "" clears it. */
	[S_ACCOUNT_UPSERT] = "INSERT INTO account (id, email, email_lc, name, lang, hkey,"
		" created, updated) VALUES (?1, ?2, lower(?2), nullif(?3, ''), nullif(?4, ''),"
		" ?5, ?6, ?6)"
		" ON CONFLICT (id) DO UPDATE SET email = excluded.email,"
		" email_lc = excluded.email_lc,"
		" failing = CASE WHEN email IS excluded.email THEN failing END,"
		" failing_status = CASE WHEN email IS excluded.email THEN failing_status END,"
		" name = CASE WHEN ?3 IS NULL THEN name ELSE nullif(?3, '') END,"
		" lang = CASE WHEN ?4 IS NULL THEN lang ELSE nullif(?4, '') END,"
		" updated = excluded.updated"
		" WHERE email IS NOT excluded.email"
		" OR (?3 IS NOT NULL AND name IS NOT nullif(?3, ''))"
		" OR (?4 IS NOT NULL AND lang IS NOT nullif(?4, ''))"
		" RETURNING hkey = ?5",
	[S_ACCOUNT_SET_EMAIL] = "UPDATE account SET email = ?2, email_lc = lower(?2),"
		" updated = ?3, failing = NULL, failing_status = NULL WHERE key = ?1",
	[S_ACCOUNT_ERASE] = "UPDATE account SET id = NULL, email = NULL, email_lc = NULL,"
		" name = NULL, lang = NULL, hkey = NULL, failing = NULL, failing_status = NULL,"
		" updated = ?2, erased = ?2"
		" WHERE key = ?1",
	[S_EVENT_INSERT] = "INSERT INTO event (seq, at, acct, request, purpose, kind,"
		" channel, policy, raw_sha256, shown_sha256, address, sender, msg_id,"
		" reason, pd_mac, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
		" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	[S_HEAD_GET] = "SELECT seq, hash FROM ledger_head WHERE one = 1",
	[S_HEAD_SET] = "INSERT INTO ledger_head (one, seq, hash) VALUES (1, ?1, ?2)"
		" ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
	[S_EVENTS_ALL] = "SELECT " EVENT_COLS " FROM event e"
		" LEFT JOIN account a ON a.key = e.acct ORDER BY e.seq",
	[S_EVENTS_ACCT] = "SELECT " EVENT_COLS " FROM event e"
		" LEFT JOIN account a ON a.key = e.acct WHERE e.acct = ?1 ORDER BY e.seq",
	[S_EVENT_CLEAR] = "UPDATE event SET address = NULL, sender = NULL, msg_id = NULL,"
		" reason = NULL WHERE acct = ?1",
	[S_ERASURE_MISMATCH] = "SELECT a.key FROM account a WHERE"
		" (a.erased IS NOT NULL OR a.id IS NULL OR a.hkey IS NULL)"
		" != EXISTS (SELECT 1 FROM event e WHERE e.acct = a.key AND e.kind = 'erase')"
		" OR (a.erased IS NULL) != (a.id IS NOT NULL)"
		" OR (a.erased IS NULL) != (a.hkey IS NOT NULL) LIMIT 1",
	[S_PENDING_SET] = "INSERT OR IGNORE INTO pending (task, since) VALUES (?1, ?2)",
	[S_PENDING_GET] = "SELECT since FROM pending WHERE task = ?1",
	[S_PENDING_DEL] = "DELETE FROM pending WHERE task = ?1",
	[S_EVENT_HASH] = "SELECT hash FROM event WHERE seq = ?1",
	[S_CONSENT_GET] = "SELECT state, seq FROM consent WHERE acct = ?1 AND purpose = ?2",
	[S_CONSENT_SET] = "INSERT INTO consent (acct, purpose, state, seq) VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (acct, purpose) DO UPDATE SET state = excluded.state, seq = excluded.seq",
	[S_CONSENT_DEL_ACCT] = "DELETE FROM consent WHERE acct = ?1",
	[S_CONSENTS_ALL] = "SELECT acct, purpose, state, seq FROM consent ORDER BY acct, purpose",
	[S_CONSENTS_ACCT] = "SELECT acct, purpose, state, seq FROM consent WHERE acct = ?1"
		" ORDER BY purpose",
	[S_GRANTED] = "SELECT a.id, c.acct FROM consent c JOIN account a ON a.key = c.acct"
		" WHERE c.purpose = ?1 AND c.state = 'granted' AND a.id IS NOT NULL",
	[S_REQUEST_INSERT] = "INSERT INTO request (acct, purpose, token_hash, created,"
		" expires, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_REQUEST_OPEN] = "SELECT " REQUEST_COLS " FROM request WHERE acct = ?1"
		" AND purpose = ?2 AND state = 'open' ORDER BY id DESC LIMIT 1",
	[S_REQUEST_BY_HASH] = "SELECT " REQUEST_COLS " FROM request WHERE token_hash = ?1",
	[S_REQUEST_STATE] = "UPDATE request SET state = ?2 WHERE id = ?1",
	[S_REQUESTS_DUE_ALL] = "SELECT " REQUEST_COLS " FROM request WHERE state = 'open'"
		" AND expires <= ?1 ORDER BY expires, id LIMIT ?2",
	[S_REQUESTS_DUE_ACCT] = "SELECT " REQUEST_COLS " FROM request WHERE state = 'open'"
		" AND expires <= ?1 AND acct = ?3 ORDER BY expires, id LIMIT ?2",
	[S_REQUESTS_CLOSE_ACCT] = "UPDATE request SET state = ?2 WHERE acct = ?1 AND state = 'open'",
	[S_OUTBOX_CANCEL_REQ] = "UPDATE outbox SET state = 'cancelled', token = NULL,"
		" last_response = ?2 WHERE request = ?1 AND state IN ('queued', 'deferred')",
	[S_REQUEST_UNSENT] = "SELECT count(*) = 0 FROM outbox WHERE request = ?1 AND kind = 'request'"
		" AND state = 'sent'",
	[S_OUTBOX_INSERT] = "INSERT INTO outbox (kind, acct, purpose, request, token, state,"
		" created, sender, rcpt, sha256, next_attempt, campaign, domain)"
		" VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?6, nullif(?10, 0), "
		DOMAIN_OF("?8") ")",
	[S_OUTBOX_NOTICE] = "INSERT INTO outbox (kind, acct, purpose, state, created, sender,"
		" rcpt, next_attempt, campaign, domain) VALUES (?3, ?2, '', 'queued', ?6, ?4, ?5,"
		" ?6, ?1, " DOMAIN_OF("?5") ") ON CONFLICT DO NOTHING",
	[S_OUTBOX_RENDERED] = "UPDATE outbox SET rcpt = ?2, sha256 = ?3, domain = "
		DOMAIN_OF("?2") " WHERE id = ?1",
	[S_BULK_NEXT_DOMAIN] = "SELECT domain FROM outbox INDEXED BY outbox_bulk WHERE " BULK_DUE
		" AND domain > ?1"
		" ORDER BY domain LIMIT 1",
	[S_BULK_DUE] = "SELECT o.id, lower(o.rcpt) IS NOT a.email_lc FROM outbox o INDEXED BY outbox_bulk"
		" LEFT JOIN account a ON a.key = o.acct"
		" WHERE o.domain = ?3 AND o.state IN ('queued', 'deferred')"
		" AND o.campaign IS NOT NULL AND o.next_attempt <= ?1"
		" ORDER BY o.domain, o.next_attempt, o.id LIMIT ?2",
	[S_BULK_DOMAIN_MIN] = "SELECT min(next_attempt) FROM outbox INDEXED BY outbox_bulk"
		" WHERE domain = ?1 AND "
		BULK_DUE,
	[S_DOMAIN_HELD] = "SELECT until FROM domain_hold WHERE domain = ?1 AND until > ?2",
	/* A refusal while on hold changes nothing (the rest of a batch); one
	 * soon after a hold ended doubles it; a late one starts again at 60 s. */
	[S_DOMAIN_HOLD] = "INSERT INTO domain_hold (domain, until, backoff, response)"
		" VALUES (?1, ?2 + 60, 60, ?3) ON CONFLICT (domain) DO UPDATE SET"
		" backoff = CASE WHEN until > ?2 THEN backoff"
		"  WHEN until >= ?2 - 2 * backoff THEN min(backoff * 2, 3600) ELSE 60 END,"
		" until = CASE WHEN until > ?2 THEN until"
		"  WHEN until >= ?2 - 2 * backoff THEN ?2 + min(backoff * 2, 3600) ELSE ?2 + 60 END,"
		" response = ?3 RETURNING until",
	[S_DOMAIN_RELEASE] = "DELETE FROM domain_hold WHERE domain = ?1",
	[S_POLICY_INSERT] = "INSERT INTO policy (version, effective, published, material, seq,"
		" n, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_POLICY_ALL] = "SELECT " POLICY_COLS " FROM policy ORDER BY n",
	[S_POLICY_LAST] = "SELECT " POLICY_COLS " FROM policy ORDER BY n DESC LIMIT 1",
	[S_POLICY_TEXTS] = "SELECT lang, summary, sha256 FROM policy_text WHERE version = ?1"
		" ORDER BY lang",
	[S_CHAINED_FROM] = "SELECT ifnull(chained_from, 0) FROM ledger_head WHERE one = 1",
	[S_POLICY_HEAD_GET] = "SELECT ifnull(policies, -1), ifnull(policy_chain, ''),"
		" ifnull(policy_legacy, 0) FROM ledger_head WHERE one = 1",
	[S_POLICY_HEAD_SET] = "INSERT INTO ledger_head (one, seq, hash, policies, policy_chain)"
		" VALUES (1, 0, '', ?1, ?2) ON CONFLICT (one) DO UPDATE SET"
		" policies = excluded.policies, policy_chain = excluded.policy_chain",
	[S_POLICY_CHAIN_FILL] = "UPDATE policy SET chain = ?2 WHERE version = ?1 AND chain IS NULL",
	[S_POLICY_TEXT_INSERT] = "INSERT INTO policy_text (version, lang, summary, sha256)"
		" VALUES (?1, ?2, ?3, ?4)",
	[S_POLICY_AFFECTS_INSERT] = "INSERT OR IGNORE INTO policy_affects (version, purpose)"
		" VALUES (?1, ?2)",
	[S_POLICY_GET] = "SELECT " POLICY_COLS " FROM policy WHERE version = ?1",
	[S_POLICY_TEXT] = "SELECT summary, sha256 FROM policy_text WHERE version = ?1"
		" AND lang = ?2",
	[S_POLICY_LIST] = "SELECT p.version, p.effective, p.published, p.material, p.seq,"
		" ifnull((SELECT group_concat(lang, ',') FROM (SELECT lang FROM policy_text t"
		"  WHERE t.version = p.version ORDER BY lang)), ''),"
		" ifnull((SELECT group_concat(purpose, ',') FROM (SELECT purpose FROM"
		"  policy_affects f WHERE f.version = p.version ORDER BY purpose)), '')"
		" FROM policy p ORDER BY p.effective, p.published",
	[S_POLICY_AFFECTS_EACH] = "SELECT purpose FROM policy_affects WHERE version = ?1"
		" ORDER BY purpose",
	[S_POLICY_IN_FORCE] = "SELECT version FROM policy WHERE effective <= ?1"
		" ORDER BY effective DESC, published DESC, n DESC LIMIT 1",
	[S_POLICY_AFFECTING] = "SELECT p.version, p.seq FROM policy_affects f"
		" JOIN policy p ON p.version = f.version WHERE f.purpose = ?1"
		" AND p.effective <= ?2 ORDER BY p.seq DESC LIMIT 1",
	/* When the request the current grant answered was made, in ledger
	 * order: the seq of that request's event (hashed into the chain). */
	[S_GRANT_ASKED] = "SELECT ifnull((SELECT max(r.seq) FROM event r WHERE r.acct = e.acct"
		" AND r.purpose = e.purpose AND r.kind = 'request' AND r.request = e.request), e.seq)"
		" FROM event e WHERE e.acct = ?1 AND e.purpose = ?2 AND e.kind = 'grant'"
		" ORDER BY e.seq DESC LIMIT 1",
	[S_REQUEST_SEQ] = "SELECT max(seq) FROM event WHERE acct = ?1 AND purpose = ?2"
		" AND kind = 'request' AND request = ?3",
	[S_CAMPAIGN_INSERT] = "INSERT INTO campaign (kind, name, started, updated, upto)"
		" VALUES (?1, ?2, ?3, ?3, (SELECT ifnull(max(key), 0) FROM account))",
	/* The newest that is still queueing or queued any mail (a run of
	 * request --all that found nobody left to ask hides no earlier one). */
	[S_CAMPAIGN_FIND] = "SELECT " CAMPAIGN_COLS " FROM campaign WHERE kind = ?1"
		" AND name = ?2 ORDER BY (queued > 0 OR finished IS NULL) DESC, id DESC LIMIT 1",
	[S_CAMPAIGN_GET] = "SELECT " CAMPAIGN_COLS " FROM campaign WHERE id = ?1",
	[S_CAMPAIGN_PROGRESS] = "UPDATE campaign SET cursor = max(cursor, ?2),"
		" accounts = accounts + ?3, queued = queued + ?4, requests = requests + ?5,"
		" finished = nullif(?6, 0), updated = ?7 WHERE id = ?1",
	[S_CAMPAIGN_UNFINISHED] = "SELECT " CAMPAIGN_COLS " FROM campaign"
		" WHERE finished IS NULL AND id > ?1 ORDER BY id LIMIT 1",
	[S_ACCOUNTS_AFTER] = "SELECT key FROM account WHERE key > ?1 AND key <= ?3"
		" AND erased IS NULL ORDER BY key LIMIT ?2",
	[S_ACCOUNTS_COUNT] = "SELECT count(*) FROM account WHERE erased IS NULL",
	[S_ACCOUNTS_BY_LANG] = "SELECT ifnull(lang, ?1) AS l, count(*) FROM account"
		" WHERE erased IS NULL GROUP BY l ORDER BY l",
	[S_ACCOUNTS_FAILING] = "SELECT " ACCOUNT_COLS " FROM account WHERE failing IS NOT NULL"
		" AND erased IS NULL ORDER BY key",
	[S_CAMPAIGN_COUNTS] = "SELECT state, count(*), ifnull(sum(done >= ?2), 0),"
		" ifnull(min(done), 0), ifnull(max(done), 0) FROM outbox WHERE campaign = ?1"
		" GROUP BY state",
	[S_CAMPAIGN_MAIL_ALL] = "SELECT " CAMPAIGN_MAIL_COLS " ORDER BY o.id",
	[S_CAMPAIGN_MAIL_OPEN] = "SELECT " CAMPAIGN_MAIL_COLS
		" AND o.state NOT IN ('sent', 'cancelled') ORDER BY o.id",
	[S_OUTBOX_MAIL_SET] = "INSERT INTO outbox_mail (id, message) VALUES (?1, ?2)"
		" ON CONFLICT (id) DO UPDATE SET message = excluded.message",
	[S_OUTBOX_MAIL_GET] = "SELECT message FROM outbox_mail WHERE id = ?1",
	/* Due mail in queue order, through the partial index (no sort, however
	 * long the queue); with it, whether the account's primary address is
	 * still the one the mail was rendered for. */
	[S_OUTBOX_DUE] = "SELECT o.id, lower(o.rcpt) IS NOT a.email_lc FROM outbox o INDEXED BY outbox_due"
		" LEFT JOIN account a ON a.key = o.acct"
		" WHERE o.state IN ('queued', 'deferred') AND o.campaign IS NULL"
		" AND o.next_attempt <= ?1 ORDER BY o.id LIMIT ?2",
	[S_OUTBOX_LEASED] = "SELECT o.id, lower(o.rcpt) IS NOT a.email_lc FROM outbox o"
		" INDEXED BY outbox_lease LEFT JOIN account a ON a.key = o.acct"
		" WHERE o.state = 'sending' AND o.lease_until <= ?1 ORDER BY o.id LIMIT ?2",
	[S_OUTBOX_CLAIM] = "UPDATE outbox SET state = 'sending', lease_until = ?2,"
		" attempts = attempts + 1 WHERE id = ?1"
		" RETURNING id, kind, acct, purpose, ifnull(request, 0), sender, rcpt, NULL,"
		" token, attempts, created, sha256, ifnull(campaign, 0), ifnull(domain, '')",
	[S_OUTBOX_RESULT] = "UPDATE outbox SET state = ?2, last_response = ?3,"
		" next_attempt = ?4, done = ?5, lease_until = NULL,"
		" attempts = attempts - ?6,"
		" token = CASE WHEN ?2 IN ('sent', 'failed', 'cancelled') THEN NULL ELSE token END"
		" WHERE id = ?1 AND state = 'sending'",
	[S_OUTBOX_LIST_ALL] = "SELECT o.id, o.kind, o.state, o.purpose, ifnull(a.id, ''),"
		" ifnull(o.rcpt, ''), o.attempts, o.created, o.next_attempt, ifnull(o.done, 0),"
		" ifnull(o.last_response, '') FROM outbox o LEFT JOIN account a ON a.key = o.acct"
		" ORDER BY o.id",
	[S_OUTBOX_LIST_STATE] = "SELECT o.id, o.kind, o.state, o.purpose, ifnull(a.id, ''),"
		" ifnull(o.rcpt, ''), o.attempts, o.created, o.next_attempt, ifnull(o.done, 0),"
		" ifnull(o.last_response, '') FROM outbox o LEFT JOIN account a ON a.key = o.acct"
		" WHERE o.state = ?1 ORDER BY o.id",
	[S_OUTBOX_RECLAIM] = "UPDATE outbox SET state = 'queued', lease_until = NULL,"
		" next_attempt = 0 WHERE state = 'sending'",
	[S_OUTBOX_NEXT_DUE] = "SELECT min(t) FROM (SELECT min(next_attempt) AS t FROM outbox"
		" INDEXED BY outbox_due WHERE state IN ('queued', 'deferred') AND campaign IS NULL"
		" UNION ALL SELECT min(lease_until) FROM outbox WHERE state = 'sending')",
	[S_OUTBOX_DEL_ACCT] = "DELETE FROM outbox WHERE acct = ?1",
	[S_INBOX_DUP] = "SELECT id, outcome, reason, ifnull(acct, 0) FROM inbox"
		" WHERE content_sha256 = ?1 AND msg_id IS ?2 AND dup_of IS NULL"
		" ORDER BY id LIMIT 1",
	[S_INBOX_INSERT] = "INSERT INTO inbox (received, channel, raw_sha256, size, msg_id,"
		" env_sender, env_rcpt, from_addr, from_lc, subject, auth_results, detail, acct,"
		" purpose, request, outcome, reason, event, dup_of, content_sha256) VALUES (?1,"
		" ?2, ?3, ?4, ?5, ?6, ?7, ?8, lower(?8), ?9, ?10, ?11, nullif(?12, 0), ?13,"
		" nullif(?14, 0), ?15, ?16, nullif(?17, 0), nullif(?18, 0), ?19)",
	[S_INBOX_RAW] = "INSERT INTO inbox_raw (id, message) VALUES (?1, ?2)",
	[S_INBOX_LIST_ALL] = "SELECT " INBOX_COLS " FROM inbox i"
		" LEFT JOIN account a ON a.key = i.acct ORDER BY i.id",
	[S_INBOX_LIST_REVIEW] = "SELECT " INBOX_COLS " FROM inbox i"
		" LEFT JOIN account a ON a.key = i.acct WHERE i.outcome = 'review' ORDER BY i.id",
	[S_INBOX_ACCT] = "SELECT " INBOX_COLS ", ifnull(i.auth_results, ''), r.message"
		" FROM inbox i LEFT JOIN account a ON a.key = i.acct"
		" LEFT JOIN inbox_raw r ON r.id = i.id"
		" WHERE i.acct = ?1 OR (?2 IS NOT NULL AND i.from_lc = lower(?2)) ORDER BY i.id",
	/* Erasure: what came in from or about the account keeps only its hash
	 * and outcome. */
	[S_INBOX_RAW_ERASE] = "DELETE FROM inbox_raw WHERE id IN (SELECT id FROM inbox"
		" WHERE acct = ?1 OR (?2 IS NOT NULL AND from_lc = lower(?2)))",
	[S_INBOX_ERASE] = "UPDATE inbox SET msg_id = NULL, env_sender = NULL, env_rcpt = NULL,"
		" from_addr = NULL, from_lc = NULL, subject = NULL, auth_results = NULL,"
		" detail = NULL WHERE acct = ?1 OR (?2 IS NOT NULL AND from_lc = lower(?2))",
	[S_REQUEST_NUDGED] = "UPDATE request SET nudged = ?2 WHERE id = ?1 AND nudged IS NULL",
	[S_REQUEST_RENEWED] = "UPDATE request SET renewed = ?2 WHERE id = ?1 AND renewed IS NULL",
	[S_ACCOUNT_FAILING] = "UPDATE account SET failing = ?2, failing_status = ?3"
		" WHERE key = ?1 AND erased IS NULL",
	[S_ACCOUNTS_BY_EMAIL] = "SELECT key FROM account WHERE email_lc = lower(?1)"
		" AND erased IS NULL ORDER BY key LIMIT ?2",
	[S_IMAP_GET] = "SELECT uidvalidity, last_uid FROM imap_state WHERE mailbox = ?1",
	[S_IMAP_SET] = "INSERT INTO imap_state (mailbox, uidvalidity, last_uid, polled)"
		" VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
		" last_uid = excluded.last_uid, polled = excluded.polled",
	[S_STATS_ACCOUNTS] = "SELECT count(*), count(erased), count(failing) FROM account",
	[S_STATS_OUTBOX] = "SELECT state, count(*), min(CASE WHEN state IN ('queued', 'deferred')"
		" THEN created END) FROM outbox GROUP BY state",
	[S_STATS_INBOX] = "SELECT count(*), (SELECT count(*) FROM inbox INDEXED BY inbox_review"
		" WHERE outcome = 'review') FROM inbox",
	[S_STATS_CONSENTS] = "SELECT purpose, state, count(*) FROM consent GROUP BY purpose, state"
		" ORDER BY purpose, state",
	[S_STATS_IMAP] = "SELECT mailbox, last_uid, ifnull(polled, 0) FROM imap_state"
		" ORDER BY polled DESC LIMIT 1",
	[S_STATS_CAMPAIGNS] = "SELECT count(*) FROM campaign c WHERE c.finished IS NULL OR EXISTS"
		" (SELECT 1 FROM outbox o WHERE o.campaign = c.id AND o.state IN"
		" ('queued', 'deferred', 'sending'))",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

struct store {
	sqlite3 *db;
	char *path;
	int busy_ms;
	sqlite3_stmt *stmt[S_COUNT];
	char err[512];
};

static int set_err(store *st, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int set_err(store *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return rc;
}

int store_fail(store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return STORE_ERR;
}

/* db_fail - translate the connection's last error into a store code. */
static int db_fail(store *st, const char *what)
{
	int code = sqlite3_extended_errcode(st->db) & 0xff;

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return set_err(st, STORE_BUSY, "%s: database is locked by another process "
			       "(waited %d ms); try again", st->path, st->busy_ms);
	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
		return set_err(st, STORE_ERR, "%s: not a consentd database, or corrupt (%s)",
			       st->path, sqlite3_errmsg(st->db));
	if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM)
		return set_err(st, STORE_ERR, "%s: cannot write the database (%s)",
			       st->path, sqlite3_errmsg(st->db));
	if (code == SQLITE_FULL)
		return set_err(st, STORE_ERR, "%s: disk full", st->path);
	return set_err(st, STORE_ERR, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static sqlite3_stmt *stmt(store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];

	if (!s) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->stmt[id], NULL) != SQLITE_OK) {
			db_fail(st, "prepare");
			return NULL;
		}
		s = st->stmt[id];
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* run - step a bound statement that returns no rows. */
static int run(store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, what);
	return STORE_OK;
}

/* step_row - step s once: STORE_OK with a row for the caller to read (it
 * resets s afterwards), or STORE_NOTFOUND / a store error with s reset. */
static int step_row(store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return STORE_OK;
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_NOTFOUND : db_fail(st, what);
}

/* run_id - a statement whose one parameter is a row id. */
static int run_id(store *st, enum stmt_id id, int64_t v, const char *what)
{
	sqlite3_stmt *s = stmt(st, id);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, v);
	return run(st, s, what);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	snprintf(out, outlen, "%s", v ? (const char *)v : "");
}

static int exec_simple(store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, sql);
	return STORE_OK;
}

static int pragma_int(store *st, const char *sql, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, sql);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = STORE_OK;
	} else {
		rc = db_fail(st, sql);
	}
	sqlite3_finalize(s);
	return rc;
}

/* check_identity - refuse foreign, corrupt and newer files; says whether the
 * file is still empty (to be created). Reads only. */
static int check_identity(store *st, int *version_out)
{
	int app_id = 0, version = 0, objects = 0, rc;

	if ((rc = pragma_int(st, "PRAGMA application_id", &app_id)) ||
	    (rc = pragma_int(st, "PRAGMA user_version", &version)) ||
	    (rc = pragma_int(st, "SELECT count(*) FROM sqlite_master", &objects)))
		return rc;
	if (app_id == 0 && (version != 0 || objects > 0))
		return set_err(st, STORE_ERR, "%s: a SQLite database of another application; "
			       "refusing to touch it", st->path);
	if (app_id != 0 && app_id != APPLICATION_ID)
		return set_err(st, STORE_ERR, "%s: a SQLite database of another application "
			       "(application_id %#x); refusing to touch it", st->path,
			       (unsigned)app_id);
	if (version > STORE_SCHEMA_VERSION)
		return set_err(st, STORE_ERR, "%s: schema version %d is newer than this consentd "
			       "understands (%d); upgrade consentd. The file was not modified.",
			       st->path, version, STORE_SCHEMA_VERSION);
	*version_out = version;
	return STORE_OK;
}

static int migrate(store *st)
{
	char sql[64];
	int version, v, rc;

	if (exec_simple(st, "BEGIN IMMEDIATE"))
		return STORE_ERR;
	/* Read again under the write lock: another process may have migrated. */
	if ((rc = check_identity(st, &version)))
		goto fail;
	for (v = version; v < NMIGRATIONS; v++)
		if ((rc = exec_simple(st, migrations[v])))
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", NMIGRATIONS);
	if ((rc = exec_simple(st, sql)))
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", APPLICATION_ID);
	if ((rc = exec_simple(st, sql)))
		goto fail;
	if ((rc = exec_simple(st, "COMMIT")))
		goto fail;
	return STORE_OK;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc ? rc : STORE_ERR;
}

static int no_database(store *st)
{
	return set_err(st, STORE_ERR, "%s: no such database (create it with 'consentctl "
		       "account add' or import)", st->path);
}

/* prepare_path - the store's directory and file, before SQLite sees them.
 * Missing, with STORE_CREATE: the directory (one level) is made 0700 and the
 * file 0600; when root makes the file in a directory that belongs to another
 * account, the file is given to that account (the one consentd and
 * consent-deliver run as; SQLite gives its WAL and shared-memory files the
 * database's owner and mode in turn). The file is looked at and made
 * through the directory as opened, so the owner and the place cannot come
 * from two different directories. Refused: a symbolic link as the file (an
 * account that owns the directory could point root at any file), a file
 * root finds owned by someone other than its directory's owner, anything
 * granted to group or others (wider than 0700 / 0600), anything not
 * writable (WAL needs both). */
static int prepare_path(store *st, int flags)
{
	char *copy = xstrdup(st->path), *copy2 = xstrdup(st->path);
	const char *dir = dirname(copy), *base = basename(copy2);
	struct stat ds, fs;
	int dfd = -1, fd, rc = STORE_OK;

	if ((flags & STORE_CREATE) && access(dir, F_OK) != 0 && errno == ENOENT &&
	    mkdir(dir, 0700) != 0 && errno != EEXIST && errno != ENOENT) {
		rc = set_err(st, STORE_ERR, "%s: directory %s cannot be created: %s", st->path,
			     dir, strerror(errno));
		goto cleanup;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !(flags & STORE_CREATE))
			rc = no_database(st);
		else if (errno == ENOENT)
			rc = set_err(st, STORE_ERR, "%s: directory %s does not exist and cannot be "
				     "created (one level is made, not more)", st->path, dir);
		else
			rc = set_err(st, STORE_ERR, "%s: directory %s: %s", st->path, dir,
				     strerror(errno));
		goto cleanup;
	}
	if (fstat(dfd, &ds) != 0) {
		rc = set_err(st, STORE_ERR, "%s: directory %s: %s", st->path, dir, strerror(errno));
		goto cleanup;
	}
	if (ds.st_mode & 077) {
		rc = set_err(st, STORE_ERR, "%s: directory %s is mode %04o; it holds personal data "
			     "and must be 0700 (chmod 700 %s)", st->path, dir,
			     (unsigned)(ds.st_mode & 07777), dir);
		goto cleanup;
	}
	if (faccessat(dfd, ".", W_OK, AT_EACCESS) != 0) {
		rc = set_err(st, STORE_ERR, "%s: directory %s is not writable (WAL needs it)",
			     st->path, dir);
		goto cleanup;
	}
	if (fstatat(dfd, base, &fs, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
		if (!(flags & STORE_CREATE)) {
			rc = no_database(st);
			goto cleanup;
		}
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = set_err(st, STORE_ERR, "%s: cannot create: %s", st->path, strerror(errno));
			goto cleanup;
		}
		if (fd >= 0 && geteuid() == 0 && ds.st_uid != 0 &&
		    fchown(fd, ds.st_uid, ds.st_gid) != 0) {
			rc = set_err(st, STORE_ERR, "%s: cannot give it to uid %ld: %s", st->path,
				     (long)ds.st_uid, strerror(errno));
			close(fd);
			unlinkat(dfd, base, 0);
			goto cleanup;
		}
		if (fd >= 0)
			close(fd);
	}
	if (fstatat(dfd, base, &fs, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = set_err(st, STORE_ERR, "%s: %s", st->path, strerror(errno));
		goto cleanup;
	}
	if (S_ISLNK(fs.st_mode)) {
		rc = set_err(st, STORE_ERR, "%s: a symbolic link; name the database itself in "
			     "[store] path", st->path);
		goto cleanup;
	}
	if (!S_ISREG(fs.st_mode)) {
		rc = set_err(st, STORE_ERR, "%s: not a regular file", st->path);
		goto cleanup;
	}
	if (fs.st_mode & 077) {
		rc = set_err(st, STORE_ERR, "%s: mode %04o; the store holds personal data and must "
			     "be 0600 (chmod 600 %s)", st->path, (unsigned)(fs.st_mode & 07777),
			     st->path);
		goto cleanup;
	}
	if (geteuid() == 0 && fs.st_uid != ds.st_uid) {
		rc = set_err(st, STORE_ERR, "%s: belongs to uid %ld but its directory to uid %ld "
			     "(chown %ld %s)", st->path, (long)fs.st_uid, (long)ds.st_uid,
			     (long)ds.st_uid, st->path);
		goto cleanup;
	}
	if (faccessat(dfd, base, W_OK, AT_EACCESS) != 0)
		rc = set_err(st, STORE_ERR, "%s: database or its directory is read-only "
			     "(WAL needs both writable)", st->path);
cleanup:
	if (dfd >= 0)
		close(dfd);
	free(copy);
	free(copy2);
	return rc;
}

int store_open(store **out, const char *path, int busy_timeout_ms, int flags,
	       char *err, size_t errlen)
{
	store *st = xcalloc(1, sizeof(*st));
	int version, mode, rc = STORE_ERR;

	*out = NULL;
	st->path = xstrdup(path);
	st->busy_ms = busy_timeout_ms;
	if ((rc = prepare_path(st, flags)))
		goto cleanup;
	mode = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
	       ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &st->db, mode, NULL) != SQLITE_OK) {
		rc = db_fail(st, "open");
		goto cleanup;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, busy_timeout_ms);
	if ((rc = check_identity(st, &version)))
		goto cleanup;
	if ((rc = exec_simple(st, "PRAGMA journal_mode = WAL")) ||
	    (rc = exec_simple(st, "PRAGMA synchronous = FULL")) ||
	    (rc = exec_simple(st, "PRAGMA foreign_keys = ON")) ||
	    (rc = exec_simple(st, "PRAGMA secure_delete = ON")))
		goto cleanup;
	if (version < STORE_SCHEMA_VERSION && (rc = migrate(st)))
		goto cleanup;
	*out = st;
	st = NULL;
	rc = STORE_OK;
cleanup:
	if (st) {
		snprintf(err, errlen, "%s", st->err[0] ? st->err : "cannot open store");
		store_close(st);
	}
	return rc;
}

void store_close(store *st)
{
	int i;

	if (!st)
		return;
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

const char *store_errmsg(const store *st)
{
	return st->err;
}

static int simple_stmt(store *st, enum stmt_id id, const char *what)
{
	sqlite3_stmt *s = stmt(st, id);

	return s ? run(st, s, what) : STORE_ERR;
}

int store_begin(store *st)
{
	return simple_stmt(st, S_BEGIN, "begin");
}

int store_commit(store *st)
{
	int rc = simple_stmt(st, S_COMMIT, "commit");

	if (rc)
		store_rollback(st);
	return rc;
}

void store_rollback(store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		simple_stmt(st, S_ROLLBACK, "rollback");
}

int store_pending(store *st, const char *task, int op)
{
	sqlite3_stmt *s = stmt(st, op > 0 ? S_PENDING_SET : op < 0 ? S_PENDING_DEL : S_PENDING_GET);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, task);
	if (op > 0)
		sqlite3_bind_int64(s, 2, text_now());
	if (op)
		return run(st, s, "pending task");
	if ((rc = step_row(st, s, "pending task")) == STORE_OK)
		sqlite3_reset(s);
	return rc;
}

int store_sync_full(store *st, bool full)
{
	return exec_simple(st, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

int store_durable(store *st)
{
	int rc;

	/* A commit at synchronous=FULL syncs the WAL, and with it every frame
	 * the NORMAL commits before it left there. It needs a page to write. */
	if ((rc = store_sync_full(st, true)) || (rc = store_begin(st)) ||
	    (rc = store_pending(st, "sync-point", 1)) || (rc = store_pending(st, "sync-point", -1)) ||
	    (rc = store_commit(st))) {
		store_rollback(st);
		store_sync_full(st, false);
		return rc;
	}
	return store_sync_full(st, false);
}

int store_checkpoint_truncate(store *st)
{
	int log = 0, done = 0;

	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
				      &log, &done) != SQLITE_OK)
		return db_fail(st, "checkpoint");
	return STORE_OK;
}

/* ---- accounts ---- */

/* account_from - the account at the statement's current row. */
static void account_from(sqlite3_stmt *s, account *out)
{
	const void *key;

	memset(out, 0, sizeof(*out));
	out->key = sqlite3_column_int64(s, 0);
	col_copy(s, 1, out->id, sizeof(out->id));
	col_copy(s, 2, out->email, sizeof(out->email));
	col_copy(s, 3, out->name, sizeof(out->name));
	col_copy(s, 4, out->lang, sizeof(out->lang));
	out->created = sqlite3_column_int64(s, 5);
	out->updated = sqlite3_column_int64(s, 6);
	out->failing = sqlite3_column_int64(s, 8);
	col_copy(s, 9, out->failing_status, sizeof(out->failing_status));
	key = sqlite3_column_blob(s, 7);
	if (key && sqlite3_column_bytes(s, 7) == ACCOUNT_KEY_LEN) {
		memcpy(out->hkey, key, ACCOUNT_KEY_LEN);
		out->has_hkey = true;
	}
}

static int account_row(store *st, sqlite3_stmt *s, account *out)
{
	int rc = step_row(st, s, "account");

	if (rc)
		return rc;
	account_from(s, out);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_account_get(store *st, const char *id, account *out)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_GET);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, id);
	return account_row(st, s, out);
}

int store_account_get_key(store *st, int64_t key, account *out)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_GET_KEY);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, key);
	return account_row(st, s, out);
}

int store_account_upsert(store *st, const char *id, const char *email,
			 const char *name, const char *lang, bool *created_out)
{
	unsigned char hkey[ACCOUNT_KEY_LEN];
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_UPSERT);
	int rc;

	if (created_out)
		*created_out = false;
	if (!s)
		return STORE_ERR;
	if (digest_random(hkey, sizeof(hkey)))
		return set_err(st, STORE_ERR, "no random bytes for the account key");
	bind_text(s, 1, id);
	bind_text(s, 2, email);
	bind_text(s, 3, name);
	bind_text(s, 4, lang);
	sqlite3_bind_blob(s, 5, hkey, sizeof(hkey), SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 6, text_now());
	digest_wipe(hkey, sizeof(hkey));
	/* One row back when inserted or changed; "inserted" is 1 only when
	 * the row carries the key just bound (an update never sets hkey). */
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && created_out)
		*created_out = sqlite3_column_int(s, 0) == 1;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, "store account");
	return STORE_OK;
}

int store_account_set_email(store *st, int64_t key, const char *email)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_SET_EMAIL);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, key);
	bind_text(s, 2, email);
	sqlite3_bind_int64(s, 3, text_now());
	return run(st, s, "set email");
}

int store_account_erase(store *st, int64_t key)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_ERASE);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, key);
	sqlite3_bind_int64(s, 2, text_now());
	return run(st, s, "erase account");
}

/* ---- ledger rows ---- */

int store_event_insert(store *st, const event_row *ev)
{
	sqlite3_stmt *s = stmt(st, S_EVENT_INSERT);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, ev->seq);
	sqlite3_bind_int64(s, 2, ev->at);
	sqlite3_bind_int64(s, 3, ev->acct);
	if (ev->request > 0)
		sqlite3_bind_int64(s, 4, ev->request);
	bind_text(s, 5, ev->purpose);
	bind_text(s, 6, ev->kind);
	bind_text(s, 7, ev->channel);
	bind_text(s, 8, ev->policy);
	bind_text(s, 9, ev->raw_sha256);
	bind_text(s, 10, ev->shown_sha256);
	bind_text(s, 11, ev->address);
	bind_text(s, 12, ev->sender);
	bind_text(s, 13, ev->msg_id);
	bind_text(s, 14, ev->reason);
	bind_text(s, 15, ev->pd_mac);
	bind_text(s, 16, ev->prev);
	bind_text(s, 17, ev->hash);
	if ((rc = run(st, s, "insert event")))
		return rc;
	s = stmt(st, S_HEAD_SET);
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, ev->seq);
	bind_text(s, 2, ev->hash);
	return run(st, s, "ledger head");
}

int store_head(store *st, int64_t *seq_out, char hash_out[SHA256_HEX])
{
	sqlite3_stmt *s = stmt(st, S_HEAD_GET);
	int rc;

	*seq_out = 0;
	hash_out[0] = '\0';
	if (!s)
		return STORE_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq_out = sqlite3_column_int64(s, 0);
		col_copy(s, 1, hash_out, SHA256_HEX);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "ledger head");
	return STORE_OK;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int store_events_each(store *st, int64_t acct, store_event_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(st, acct < 0 ? S_EVENTS_ALL : S_EVENTS_ACCT);
	event_row ev;
	const void *key;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	if (acct >= 0)
		sqlite3_bind_int64(s, 1, acct);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&ev, 0, sizeof(ev));
		ev.seq = sqlite3_column_int64(s, 0);
		ev.at = sqlite3_column_int64(s, 1);
		ev.acct = sqlite3_column_int64(s, 2);
		ev.request = sqlite3_column_int64(s, 3);
		col_copy(s, 4, ev.purpose, sizeof(ev.purpose));
		col_copy(s, 5, ev.kind, sizeof(ev.kind));
		col_copy(s, 6, ev.channel, sizeof(ev.channel));
		col_copy(s, 7, ev.policy, sizeof(ev.policy));
		col_copy(s, 8, ev.raw_sha256, sizeof(ev.raw_sha256));
		col_copy(s, 9, ev.shown_sha256, sizeof(ev.shown_sha256));
		col_copy(s, 10, ev.pd_mac, sizeof(ev.pd_mac));
		col_copy(s, 11, ev.prev, sizeof(ev.prev));
		col_copy(s, 12, ev.hash, sizeof(ev.hash));
		ev.address = col_str(s, 13);
		ev.sender = col_str(s, 14);
		ev.msg_id = col_str(s, 15);
		ev.reason = col_str(s, 16);
		key = sqlite3_column_blob(s, 17);
		if (key && sqlite3_column_bytes(s, 17) == ACCOUNT_KEY_LEN) {
			memcpy(ev.hkey, key, ACCOUNT_KEY_LEN);
			ev.has_hkey = true;
		}
		ev.account_id = col_str(s, 18);
		ev.acct_erased = sqlite3_column_int(s, 19) != 0;
		if ((stop = fn(&ev, arg)) != 0)
			break;
	}
	digest_wipe(ev.hkey, sizeof(ev.hkey));
	sqlite3_reset(s);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return db_fail(st, "read ledger");
	return STORE_OK;
}

int store_event_hash(store *st, int64_t seq, char out[SHA256_HEX])
{
	sqlite3_stmt *s = stmt(st, S_EVENT_HASH);
	int rc;

	out[0] = '\0';
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, seq);
	if ((rc = step_row(st, s, "event hash")))
		return rc;
	col_copy(s, 0, out, SHA256_HEX);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_erasure_mismatch(store *st, int64_t *acct_out)
{
	sqlite3_stmt *s = stmt(st, S_ERASURE_MISMATCH);
	int rc;

	*acct_out = 0;
	if (!s)
		return STORE_ERR;
	if ((rc = step_row(st, s, "erasure check")))
		return rc == STORE_NOTFOUND ? 0 : rc;
	*acct_out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 1;
}

int store_event_personal_clear(store *st, int64_t acct)
{
	return run_id(st, S_EVENT_CLEAR, acct, "clear event personal data");
}

/* ---- consent state ---- */

int store_consent_get(store *st, int64_t acct, const char *purpose,
		      char state_out[16], int64_t *seq_out)
{
	sqlite3_stmt *s = stmt(st, S_CONSENT_GET);
	int rc;

	snprintf(state_out, 16, "none");
	*seq_out = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, purpose);
	if ((rc = step_row(st, s, "consent")))
		return rc;
	col_copy(s, 0, state_out, 16);
	*seq_out = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_consent_set(store *st, int64_t acct, const char *purpose,
		      const char *state, int64_t seq)
{
	sqlite3_stmt *s = stmt(st, S_CONSENT_SET);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, purpose);
	bind_text(s, 3, state);
	sqlite3_bind_int64(s, 4, seq);
	return run(st, s, "set consent");
}

int store_consent_delete_account(store *st, int64_t acct)
{
	return run_id(st, S_CONSENT_DEL_ACCT, acct, "delete consent");
}

int store_consents_each(store *st, int64_t acct, store_consent_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(st, acct < 0 ? S_CONSENTS_ALL : S_CONSENTS_ACCT);
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	if (acct >= 0)
		sqlite3_bind_int64(s, 1, acct);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((stop = fn(sqlite3_column_int64(s, 0), col_str(s, 1), col_str(s, 2),
			       sqlite3_column_int64(s, 3), arg)) != 0)
			break;
	sqlite3_reset(s);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return db_fail(st, "read consent");
	return STORE_OK;
}

/* affecting - the newest version in force at now that changes purpose:
 * its name (may be NULL) and ledger seq; STORE_NOTFOUND when none. */
static int affecting(store *st, const char *purpose, int64_t now,
		     char version_out[POLICY_VERSION_MAX + 1], int64_t *seq_out)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_AFFECTING);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, purpose);
	sqlite3_bind_int64(s, 2, now);
	if ((rc = step_row(st, s, "policy purposes")))
		return rc;
	if (version_out)
		col_copy(s, 0, version_out, POLICY_VERSION_MAX + 1);
	*seq_out = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_granted_each(store *st, const char *purpose, int64_t now, store_id_fn fn,
		       void *arg)
{
	sqlite3_stmt *s;
	int64_t pseq = -1, asked;
	int rc, stop = 0;

	/* A policy version in force that changes the purpose: grants asked
	 * for before it was published do not count. */
	if ((rc = affecting(st, purpose, now, NULL, &pseq)) && rc != STORE_NOTFOUND)
		return rc;
	if (!(s = stmt(st, S_GRANTED)))
		return STORE_ERR;
	bind_text(s, 1, purpose);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (pseq >= 0) {
			if ((stop = store_grant_asked(st, sqlite3_column_int64(s, 1), purpose,
						      &asked)))
				break;
			if (asked <= pseq)
				continue;
		}
		if ((stop = fn(col_str(s, 0), arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return db_fail(st, "read granted");
	return STORE_OK;
}

/* ---- cursors ---- */

struct store_iter {
	store *st;
	sqlite3_stmt *s;
};

static int iter_open(store *st, const char *sql, store_iter **out)
{
	store_iter *it = xcalloc(1, sizeof(*it));

	*out = NULL;
	it->st = st;
	if (sqlite3_prepare_v2(st->db, sql, -1, &it->s, NULL) != SQLITE_OK) {
		free(it);
		return db_fail(st, "prepare cursor");
	}
	*out = it;
	return STORE_OK;
}

int store_iter_event_kinds(store *st, store_iter **out)
{
	return iter_open(st, "SELECT acct, purpose, kind FROM event"
			 " ORDER BY acct, purpose, seq", out);
}

int store_iter_consents(store *st, store_iter **out)
{
	return iter_open(st, "SELECT acct, purpose, state FROM consent"
			 " ORDER BY acct, purpose", out);
}

int store_iter_next(store_iter *it, int64_t *acct_out, const char **purpose_out,
		    const char **text_out)
{
	int rc = sqlite3_step(it->s);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return db_fail(it->st, "read cursor");
	*acct_out = sqlite3_column_int64(it->s, 0);
	*purpose_out = col_str(it->s, 1);
	*text_out = col_str(it->s, 2);
	if (!*purpose_out || !*text_out)
		return set_err(it->st, STORE_ERR, "%s: NULL where text is required", it->st->path);
	return 1;
}

void store_iter_free(store_iter *it)
{
	if (!it)
		return;
	sqlite3_finalize(it->s);
	free(it);
}

/* ---- requests ---- */

static void request_from(sqlite3_stmt *s, request_row *out)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	out->acct = sqlite3_column_int64(s, 1);
	out->created = sqlite3_column_int64(s, 2);
	out->expires = sqlite3_column_int64(s, 3);
	col_copy(s, 4, out->purpose, sizeof(out->purpose));
	col_copy(s, 5, out->token_hash, sizeof(out->token_hash));
	col_copy(s, 6, out->state, sizeof(out->state));
}

static int request_one(store *st, sqlite3_stmt *s, request_row *out)
{
	int rc = step_row(st, s, "request");

	if (rc)
		return rc;
	request_from(s, out);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_request_insert(store *st, request_row *req)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_INSERT);
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, req->acct);
	bind_text(s, 2, req->purpose);
	bind_text(s, 3, req->token_hash);
	sqlite3_bind_int64(s, 4, req->created);
	sqlite3_bind_int64(s, 5, req->expires);
	bind_text(s, 6, req->state);
	if ((rc = run(st, s, "insert request")))
		return rc;
	req->id = sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

int store_request_open(store *st, int64_t acct, const char *purpose, request_row *out)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_OPEN);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, purpose);
	return request_one(st, s, out);
}

int store_request_by_token_hash(store *st, const char *token_hash, request_row *out)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_BY_HASH);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, token_hash);
	return request_one(st, s, out);
}

int store_request_set_state(store *st, int64_t id, const char *state)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_STATE);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	return run(st, s, "request state");
}

int store_requests_due(store *st, int64_t acct, int64_t now, request_row *out,
		       int max, int *n_out)
{
	sqlite3_stmt *s = stmt(st, acct < 0 ? S_REQUESTS_DUE_ALL : S_REQUESTS_DUE_ACCT);
	int rc, n = 0;

	*n_out = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, max);
	if (acct >= 0)
		sqlite3_bind_int64(s, 3, acct);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		request_from(s, &out[n++]);
	sqlite3_reset(s);
	if (n < max && rc != SQLITE_DONE)
		return db_fail(st, "due requests");
	*n_out = n;
	return STORE_OK;
}

int store_requests_close_account(store *st, int64_t acct, const char *state)
{
	sqlite3_stmt *s = stmt(st, S_REQUESTS_CLOSE_ACCT);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, state);
	return run(st, s, "close requests");
}

/* ---- outbox ---- */

/* mail_set - the bytes of outbox row id's mail (insert or replace). */
static int mail_set(store *st, int64_t id, const char *message, size_t len)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_MAIL_SET);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, message, (int)len, SQLITE_TRANSIENT);
	return run(st, s, "store mail");
}

void outbox_item_clear(outbox_item *it)
{
	if (!it)
		return;
	free(it->sender);
	free(it->rcpt);
	if (it->message)
		digest_wipe(it->message, it->message_len);
	free(it->message);
	if (it->token)
		digest_wipe(it->token, strlen(it->token));
	free(it->token);
	memset(it, 0, sizeof(*it));
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v ? xstrdup((const char *)v) : NULL;
}

/* due_ids - append up to max-*n ids (and address-changed flags) from a due
 * query to ids/changed. */
static int due_ids(store *st, enum stmt_id id, int64_t now, int max, int64_t *ids,
		   bool *changed, int *n)
{
	sqlite3_stmt *s = stmt(st, id);
	int rc = SQLITE_DONE;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, max - *n);
	while (*n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		ids[*n] = sqlite3_column_int64(s, 0);
		changed[*n] = sqlite3_column_int(s, 1) != 0;
		(*n)++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "due mail");
	return STORE_OK;
}

/* domain_held - STORE_OK with *until_out when domain is on hold at now. */
static int domain_held(store *st, const char *domain, int64_t now, int64_t *until_out)
{
	sqlite3_stmt *s = stmt(st, S_DOMAIN_HELD);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, domain);
	sqlite3_bind_int64(s, 2, now);
	if ((rc = step_row(st, s, "domain hold")) == STORE_OK) {
		*until_out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc;
}

/* next_domain - the first domain with due-or-waiting bulk mail after
 * 'after' (STORE_NOTFOUND: none), into out. */
static int next_domain(store *st, const char *after, char out[ADDR_DOMAIN_MAX + 1])
{
	sqlite3_stmt *s = stmt(st, S_BULK_NEXT_DOMAIN);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, after);
	if ((rc = step_row(st, s, "bulk domains")) == STORE_OK) {
		col_copy(s, 0, out, ADDR_DOMAIN_MAX + 1);
		sqlite3_reset(s);
	}
	return rc;
}

/* bulk_ids - append due bulk mail, domain by domain from q->after on
 * (wrapping around once), within what q lets go; at most
 * BULK_DOMAINS_PER_CLAIM domains are looked at (the next claim goes on
 * from there), none once q says nothing more may go. */
#define BULK_DOMAINS_PER_CLAIM 256
static int bulk_ids(store *st, int64_t now, int max, int64_t *ids, bool *changed, int *n,
		    store_quota *q)
{
	char dom[ADDR_DOMAIN_MAX + 1], start[ADDR_DOMAIN_MAX + 1];
	bool wrapped = false;
	int64_t until;
	sqlite3_stmt *s;
	int rc, first, got, allowed, step, visited = 0;

	snprintf(start, sizeof(start), "%s", q ? q->after : "");
	snprintf(dom, sizeof(dom), "%s", start);
	if (q)
		q->exhausted = false;
	while (*n < max && !(q && q->exhausted) && visited++ < BULK_DOMAINS_PER_CLAIM) {
		rc = next_domain(st, dom, dom);
		if (rc == STORE_NOTFOUND) {
			if (wrapped || !start[0])
				break;
			wrapped = true;
			dom[0] = '\0';
			continue;
		}
		if (rc)
			return rc;
		if (wrapped && strcmp(dom, start) > 0)
			break;   /* every domain had its turn */
		if ((rc = domain_held(st, dom, now, &until)) == STORE_OK)
			continue;
		if (rc != STORE_NOTFOUND)
			return rc;
		if (!(s = stmt(st, S_BULK_DUE)))
			return STORE_ERR;
		first = *n;
		sqlite3_bind_int64(s, 1, now);
		sqlite3_bind_int(s, 2, max - *n);
		bind_text(s, 3, dom);
		while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
			ids[*n] = sqlite3_column_int64(s, 0);
			changed[*n] = sqlite3_column_int(s, 1) != 0;
			(*n)++;
		}
		if (*n < max && step != SQLITE_DONE) {
			sqlite3_reset(s);
			return db_fail(st, "due bulk mail");
		}
		sqlite3_reset(s);
		got = *n - first;
		if (got && q && q->take) {
			allowed = q->take(dom, got, q->arg);
			if (allowed < got) {
				q->limited = true;
				*n = first + (allowed > 0 ? allowed : 0);
			}
		}
		if (q && (*n > first || !q->exhausted))
			snprintf(q->after, sizeof(q->after), "%s", dom);
	}
	if (q && q->exhausted)
		q->limited = true;   /* the rest waits for the limit, if any is due */
	return STORE_OK;
}

int store_outbox_claim(store *st, int64_t now, int lease, outbox_item *out, int max,
		       store_quota *q, int *n_out)
{
	sqlite3_stmt *s;
	int64_t *ids = NULL;
	bool *changed = NULL;
	int n = 0, i, rc;

	*n_out = 0;
	if ((rc = store_begin(st)))
		return rc;
	ids = xcalloc((size_t)(max > 0 ? max : 1), sizeof(*ids));
	changed = xcalloc((size_t)(max > 0 ? max : 1), sizeof(*changed));
	/* Claims a crash left behind first, then the queue in order. */
	if (q)
		q->limited = false;
	if ((rc = due_ids(st, S_OUTBOX_LEASED, now, max, ids, changed, &n)) ||
	    (rc = due_ids(st, S_OUTBOX_DUE, now, max, ids, changed, &n)) ||
	    (rc = bulk_ids(st, now, max, ids, changed, &n, q)))
		goto cleanup;
	for (i = 0; i < n; i++) {
		outbox_item *it = &out[i];
		const void *msg;

		if (!(s = stmt(st, S_OUTBOX_CLAIM))) {
			rc = STORE_ERR;
			goto cleanup;
		}
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now + lease);
		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			sqlite3_reset(s);
			rc = db_fail(st, "claim mail");
			goto cleanup;
		}
		memset(it, 0, sizeof(*it));
		it->id = sqlite3_column_int64(s, 0);
		col_copy(s, 1, it->kind, sizeof(it->kind));
		it->acct = sqlite3_column_int64(s, 2);
		col_copy(s, 3, it->purpose, sizeof(it->purpose));
		it->request = sqlite3_column_int64(s, 4);
		it->sender = col_dup(s, 5);
		it->rcpt = col_dup(s, 6);
		it->token = col_dup(s, 8);
		it->attempts = sqlite3_column_int(s, 9);
		it->created = sqlite3_column_int64(s, 10);
		col_copy(s, 11, it->sha256, sizeof(it->sha256));
		it->campaign = sqlite3_column_int64(s, 12);
		col_copy(s, 13, it->domain, sizeof(it->domain));
		it->address_changed = changed[i];
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			rc = db_fail(st, "claim mail");
			goto cleanup;
		}
		if (!(s = stmt(st, S_OUTBOX_MAIL_GET))) {
			rc = STORE_ERR;
			goto cleanup;
		}
		sqlite3_bind_int64(s, 1, it->id);
		rc = sqlite3_step(s);
		msg = rc == SQLITE_ROW ? sqlite3_column_blob(s, 0) : NULL;
		it->lazy = rc == SQLITE_DONE;
		it->message_len = msg ? (size_t)sqlite3_column_bytes(s, 0) : 0;
		it->message = xmalloc(it->message_len + 1);
		if (msg)
			memcpy(it->message, msg, it->message_len);
		it->message[it->message_len] = '\0';
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			rc = db_fail(st, "claim mail");
			goto cleanup;
		}
	}
	if ((rc = store_commit(st)))
		goto cleanup;
	*n_out = n;
	rc = STORE_OK;
cleanup:
	if (rc) {
		store_rollback(st);
		for (i = 0; i < n; i++)
			outbox_item_clear(&out[i]);
	}
	free(ids);
	free(changed);
	return rc;
}

int store_outbox_result(store *st, int64_t id, const char *state, const char *response,
			int64_t next_attempt, int64_t done, const char *message,
			size_t message_len)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = store_begin(st)))
		return rc;
	if (!(s = stmt(st, S_OUTBOX_RESULT))) {
		store_rollback(st);
		return STORE_ERR;
	}
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	bind_text(s, 3, response);
	sqlite3_bind_int64(s, 4, next_attempt);
	if (done)
		sqlite3_bind_int64(s, 5, done);
	sqlite3_bind_int(s, 6, !strcmp(state, "queued") ? 1 : 0);
	if ((rc = run(st, s, "mail result")))
		goto fail;
	if (message && sqlite3_changes(st->db) > 0) {
		if ((rc = mail_set(st, id, message, message_len)))
			goto fail;
	}
	if ((rc = store_commit(st)))
		goto fail;
	return STORE_OK;
fail:
	store_rollback(st);
	return rc;
}

int store_outbox_reclaim_sending(store *st, int *n_out)
{
	int rc = simple_stmt(st, S_OUTBOX_RECLAIM, "reclaim mail");

	*n_out = rc ? 0 : sqlite3_changes(st->db);
	return rc;
}

#define NEXT_DUE_DOMAINS_MAX 1000   /* bulk domains looked at; more: "soon" */

int store_outbox_next_due(store *st, int64_t now, int64_t *out)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_NEXT_DUE);
	char dom[ADDR_DOMAIN_MAX + 1] = "";
	int64_t t, until;
	int rc, n = 0;

	*out = 0;
	if (!s)
		return STORE_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "next due");
	/* Bulk mail, domain by domain: a domain on hold is due when it ends. */
	while ((rc = next_domain(st, dom, dom)) == STORE_OK) {
		if (++n > NEXT_DUE_DOMAINS_MAX) {
			t = now + 1;
		} else if ((rc = domain_held(st, dom, now, &until)) == STORE_OK) {
			t = until;
		} else if (rc != STORE_NOTFOUND) {
			return rc;
		} else {
			if (!(s = stmt(st, S_BULK_DOMAIN_MIN)))
				return STORE_ERR;
			bind_text(s, 1, dom);
			if ((rc = step_row(st, s, "next due")))
				return rc == STORE_NOTFOUND ? STORE_OK : rc;
			t = sqlite3_column_int64(s, 0);
			sqlite3_reset(s);
		}
		if (!*out || t < *out)
			*out = t;
		if (n > NEXT_DUE_DOMAINS_MAX)
			break;
	}
	return rc == STORE_NOTFOUND || rc == STORE_OK ? STORE_OK : rc;
}

int store_domain_hold(store *st, const char *domain, int64_t now, const char *response,
		      int64_t *until_out)
{
	sqlite3_stmt *s = stmt(st, S_DOMAIN_HOLD);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, domain);
	sqlite3_bind_int64(s, 2, now);
	bind_text(s, 3, response);
	if ((rc = step_row(st, s, "hold domain")))
		return rc == STORE_NOTFOUND ? db_fail(st, "hold domain") : rc;
	if (until_out)
		*until_out = sqlite3_column_int64(s, 0);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "hold domain");
}

int store_domain_release(store *st, const char *domain)
{
	sqlite3_stmt *s = stmt(st, S_DOMAIN_RELEASE);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, domain);
	return run(st, s, "release domain");
}

int store_outbox_rendered(store *st, int64_t id, const char *rcpt, const char *sha256)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_RENDERED);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, rcpt);
	bind_text(s, 3, sha256);
	return run(st, s, "rendered mail");
}

int store_outbox_list(store *st, const char *state, store_outbox_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(st, state ? S_OUTBOX_LIST_STATE : S_OUTBOX_LIST_ALL);
	outbox_listing row;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	if (state)
		bind_text(s, 1, state);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(s, 0);
		row.kind = col_str(s, 1);
		row.state = col_str(s, 2);
		row.purpose = col_str(s, 3);
		row.account = col_str(s, 4);
		row.rcpt = col_str(s, 5);
		row.attempts = sqlite3_column_int(s, 6);
		row.created = sqlite3_column_int64(s, 7);
		row.next_attempt = sqlite3_column_int64(s, 8);
		row.done = sqlite3_column_int64(s, 9);
		row.last_response = col_str(s, 10);
		if ((stop = fn(&row, arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return db_fail(st, "list outbox");
	return STORE_OK;
}

int store_outbox_cancel_request(store *st, int64_t request, const char *why)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_CANCEL_REQ);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, request);
	bind_text(s, 2, why);
	return run(st, s, "cancel queued mail");
}

int store_request_unsent(store *st, int64_t request, bool *out)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_UNSENT);
	int rc;

	*out = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, request);
	if ((rc = step_row(st, s, "request mail")) == STORE_OK) {
		*out = sqlite3_column_int64(s, 0) != 0;
		sqlite3_reset(s);
	}
	return rc;
}

int store_outbox_insert(store *st, const outbox_new *row, int64_t *id_out)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_INSERT);
	int64_t id;
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, row->kind);
	sqlite3_bind_int64(s, 2, row->acct);
	bind_text(s, 3, row->purpose ? row->purpose : "");
	if (row->request > 0)
		sqlite3_bind_int64(s, 4, row->request);
	bind_text(s, 5, row->token);
	sqlite3_bind_int64(s, 6, text_now());
	bind_text(s, 7, row->sender);
	bind_text(s, 8, row->rcpt);
	bind_text(s, 9, row->sha256);
	sqlite3_bind_int64(s, 10, row->campaign);
	if ((rc = run(st, s, "queue mail")))
		return rc;
	id = sqlite3_last_insert_rowid(st->db);
	if ((rc = mail_set(st, id, row->message ? row->message : "", row->message_len)))
		return rc;
	if (id_out)
		*id_out = id;
	return STORE_OK;
}

int store_outbox_delete_account(store *st, int64_t acct)
{
	return run_id(st, S_OUTBOX_DEL_ACCT, acct, "delete outbox");
}

/* ---- inbox ---- */

int store_inbox_find(store *st, const char *msg_id, const char *raw_sha256,
		     inbox_found *out)
{
	sqlite3_stmt *s = stmt(st, S_INBOX_DUP);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, raw_sha256);
	bind_text(s, 2, msg_id);
	if ((rc = step_row(st, s, "find inbox row")))
		return rc;
	out->id = sqlite3_column_int64(s, 0);
	col_copy(s, 1, out->outcome, sizeof(out->outcome));
	col_copy(s, 2, out->reason, sizeof(out->reason));
	out->acct = sqlite3_column_int64(s, 3);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_inbox_insert(store *st, const inbox_row *row, int64_t *id_out)
{
	sqlite3_stmt *s = stmt(st, S_INBOX_INSERT);
	int64_t id;
	int rc;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, row->received);
	bind_text(s, 2, row->channel);
	bind_text(s, 3, row->raw_sha256);
	sqlite3_bind_int64(s, 4, row->size);
	bind_text(s, 5, row->msg_id);
	bind_text(s, 6, row->env_sender);
	bind_text(s, 7, row->env_rcpt);
	bind_text(s, 8, row->from_addr);
	bind_text(s, 9, row->subject);
	bind_text(s, 10, row->auth_results);
	bind_text(s, 11, row->detail);
	sqlite3_bind_int64(s, 12, row->acct);
	bind_text(s, 13, row->purpose && *row->purpose ? row->purpose : NULL);
	sqlite3_bind_int64(s, 14, row->request);
	bind_text(s, 15, row->outcome);
	bind_text(s, 16, row->reason);
	sqlite3_bind_int64(s, 17, row->event);
	sqlite3_bind_int64(s, 18, row->dup_of);
	bind_text(s, 19, row->content_sha256);
	if ((rc = run(st, s, "record inbound mail")))
		return rc;
	id = sqlite3_last_insert_rowid(st->db);
	if (row->raw) {
		if (!(s = stmt(st, S_INBOX_RAW)))
			return STORE_ERR;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_blob64(s, 2, row->raw, row->raw_len, SQLITE_TRANSIENT);
		if ((rc = run(st, s, "keep inbound mail")))
			return rc;
	}
	if (id_out)
		*id_out = id;
	return STORE_OK;
}

static int inbox_rows(store *st, sqlite3_stmt *s, bool with_raw, store_inbox_fn fn,
		      void *arg)
{
	inbox_listing row;
	int rc, stop = 0;

	memset(&row, 0, sizeof(row));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row.id = sqlite3_column_int64(s, 0);
		row.received = sqlite3_column_int64(s, 1);
		row.channel = col_str(s, 2);
		row.outcome = col_str(s, 3);
		row.reason = col_str(s, 4);
		row.account = col_str(s, 5);
		row.purpose = col_str(s, 6);
		row.from_addr = col_str(s, 7);
		row.msg_id = col_str(s, 8);
		row.subject = col_str(s, 9);
		row.detail = col_str(s, 10);
		row.raw_sha256 = col_str(s, 11);
		row.event = sqlite3_column_int64(s, 12);
		row.size = sqlite3_column_int64(s, 13);
		if (with_raw) {
			row.auth_results = col_str(s, 14);
			row.raw = sqlite3_column_blob(s, 15);
			row.raw_len = (size_t)sqlite3_column_bytes(s, 15);
		}
		if ((stop = fn(&row, arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return db_fail(st, "list inbox");
	return STORE_OK;
}

int store_inbox_list(store *st, bool review_only, store_inbox_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(st, review_only ? S_INBOX_LIST_REVIEW : S_INBOX_LIST_ALL);

	return s ? inbox_rows(st, s, false, fn, arg) : STORE_ERR;
}

int store_inbox_of_account(store *st, int64_t acct, const char *email, store_inbox_fn fn,
			   void *arg)
{
	sqlite3_stmt *s = stmt(st, S_INBOX_ACCT);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, email && *email ? email : NULL);
	return inbox_rows(st, s, true, fn, arg);
}

int store_inbox_erase(store *st, int64_t acct, const char *email)
{
	enum stmt_id ids[2] = { S_INBOX_RAW_ERASE, S_INBOX_ERASE };
	sqlite3_stmt *s;
	int i, rc;

	for (i = 0; i < 2; i++) {
		if (!(s = stmt(st, ids[i])))
			return STORE_ERR;
		sqlite3_bind_int64(s, 1, acct);
		bind_text(s, 2, email && *email ? email : NULL);
		if ((rc = run(st, s, "erase inbound mail")))
			return rc;
	}
	return STORE_OK;
}

int store_request_mark(store *st, int64_t id, bool renewed, bool *first_out)
{
	sqlite3_stmt *s = stmt(st, renewed ? S_REQUEST_RENEWED : S_REQUEST_NUDGED);
	int rc;

	*first_out = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, text_now());
	if ((rc = run(st, s, "mark request")))
		return rc;
	*first_out = sqlite3_changes(st->db) == 1;
	return STORE_OK;
}

int store_account_failing(store *st, int64_t key, const char *status)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNT_FAILING);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, key);
	sqlite3_bind_int64(s, 2, text_now());
	bind_text(s, 3, status);
	return run(st, s, "mark address failing");
}

int store_accounts_by_email(store *st, const char *email, int64_t *out, int max, int *n_out)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNTS_BY_EMAIL);
	int rc, n = 0;

	*n_out = 0;
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, email);
	sqlite3_bind_int(s, 2, max);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		out[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (n < max && rc != SQLITE_DONE)
		return db_fail(st, "accounts by address");
	*n_out = n;
	return STORE_OK;
}

int store_imap_state(store *st, const char *mailbox, uint32_t *uidvalidity_io,
		     uint32_t *last_uid_io, bool set)
{
	sqlite3_stmt *s = stmt(st, set ? S_IMAP_SET : S_IMAP_GET);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, mailbox);
	if (set) {
		sqlite3_bind_int64(s, 2, *uidvalidity_io);
		sqlite3_bind_int64(s, 3, *last_uid_io);
		sqlite3_bind_int64(s, 4, text_now());
		return run(st, s, "remember IMAP position");
	}
	*uidvalidity_io = *last_uid_io = 0;
	if ((rc = step_row(st, s, "IMAP position")))
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*uidvalidity_io = (uint32_t)sqlite3_column_int64(s, 0);
	*last_uid_io = (uint32_t)sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return STORE_OK;
}

/* ---- bulk notices ---- */

int store_outbox_notice(store *st, int64_t campaign, int64_t acct, const char *kind,
			const char *sender, const char *rcpt, bool *queued_out)
{
	sqlite3_stmt *s = stmt(st, S_OUTBOX_NOTICE);
	int rc;

	*queued_out = false;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, campaign);
	sqlite3_bind_int64(s, 2, acct);
	bind_text(s, 3, kind);
	bind_text(s, 4, sender);
	bind_text(s, 5, rcpt);
	sqlite3_bind_int64(s, 6, text_now());
	if ((rc = run(st, s, "queue notice")))
		return rc;
	*queued_out = sqlite3_changes(st->db) > 0;
	return STORE_OK;
}

/* ---- policy versions ---- */

/* insert_unique - run s; a uniqueness conflict is STORE_EXISTS. */
static int insert_unique(store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_OK;
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY ||
	     sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE))
		return set_err(st, STORE_EXISTS, "%s exists already", what);
	return db_fail(st, what);
}

int store_policy_insert(store *st, const policy_row *p)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_INSERT);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, p->version);
	sqlite3_bind_int64(s, 2, p->effective);
	sqlite3_bind_int64(s, 3, p->published);
	sqlite3_bind_int(s, 4, p->material);
	sqlite3_bind_int64(s, 5, p->seq);
	sqlite3_bind_int64(s, 6, p->n);
	bind_text(s, 7, p->chain);
	return insert_unique(st, s, "policy version");
}

int store_policy_text_insert(store *st, const char *version, const char *lang,
			     const char *summary, const char *sha256)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_TEXT_INSERT);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	bind_text(s, 2, lang);
	bind_text(s, 3, summary);
	bind_text(s, 4, sha256);
	return insert_unique(st, s, "policy summary");
}

int store_policy_affects_insert(store *st, const char *version, const char *purpose)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_AFFECTS_INSERT);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	bind_text(s, 2, purpose);
	return run(st, s, "policy purposes");
}

/* policy_from - a row of POLICY_COLS (with_place) or of S_POLICY_LIST. */
static void policy_from(sqlite3_stmt *s, policy_row *out, bool with_place)
{
	memset(out, 0, sizeof(*out));
	col_copy(s, 0, out->version, sizeof(out->version));
	out->effective = sqlite3_column_int64(s, 1);
	out->published = sqlite3_column_int64(s, 2);
	out->material = sqlite3_column_int(s, 3) != 0;
	out->seq = sqlite3_column_int64(s, 4);
	if (with_place) {
		out->n = sqlite3_column_int64(s, 5);
		col_copy(s, 6, out->chain, sizeof(out->chain));
	}
}

int store_policies_each(store *st, int (*fn)(const policy_row *p, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_ALL);
	policy_row p;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		policy_from(s, &p, true);
		if ((stop = fn(&p, arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "policy versions");
}

int store_policy_last(store *st, policy_row *out)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_LAST);
	int rc;

	if (!s)
		return STORE_ERR;
	if ((rc = step_row(st, s, "policy")) == STORE_OK) {
		policy_from(s, out, true);
		sqlite3_reset(s);
	}
	return rc;
}

int store_policy_texts_each(store *st, const char *version,
			    int (*fn)(const char *lang, const char *summary, const char *sha256,
				      void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_TEXTS);
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((stop = fn(col_str(s, 0), col_str(s, 1), col_str(s, 2), arg)) != 0)
			break;
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "policy summaries");
}

int store_policy_head(store *st, int64_t *count_out, char chain_out[SHA256_HEX],
		      int64_t *legacy_out)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_HEAD_GET);
	int rc;

	*count_out = -1;
	chain_out[0] = '\0';
	*legacy_out = 0;
	if (!s)
		return STORE_ERR;
	if ((rc = step_row(st, s, "ledger head")) == STORE_OK) {
		*count_out = sqlite3_column_int64(s, 0);
		col_copy(s, 1, chain_out, SHA256_HEX);
		*legacy_out = sqlite3_column_int64(s, 2);
		sqlite3_reset(s);
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int store_policy_head_set(store *st, int64_t count, const char *chain)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_HEAD_SET);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, count);
	bind_text(s, 2, chain);
	return run(st, s, "policy head");
}

int store_policy_chain_fill(store *st, const char *version, const char *chain)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_CHAIN_FILL);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	bind_text(s, 2, chain);
	return run(st, s, "policy chain");
}

int store_chained_from(store *st, int64_t *out)
{
	sqlite3_stmt *s = stmt(st, S_CHAINED_FROM);
	int rc;

	*out = 0;
	if (!s)
		return STORE_ERR;
	if ((rc = step_row(st, s, "ledger head")) == STORE_OK) {
		*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int store_policy_get(store *st, const char *version, policy_row *out)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_GET);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	if ((rc = step_row(st, s, "policy")) == STORE_OK) {
		policy_from(s, out, true);
		sqlite3_reset(s);
	}
	return rc;
}

int store_policy_text(store *st, const char *version, const char *lang, char **summary_out,
		      char sha_out[SHA256_HEX])
{
	sqlite3_stmt *s = stmt(st, S_POLICY_TEXT);
	int rc;

	*summary_out = NULL;
	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	bind_text(s, 2, lang);
	if ((rc = step_row(st, s, "policy summary")) == STORE_OK) {
		*summary_out = col_dup(s, 0);
		col_copy(s, 1, sha_out, SHA256_HEX);
		sqlite3_reset(s);
	}
	return rc;
}

int store_policy_list(store *st, store_policy_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_LIST);
	policy_row p;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		policy_from(s, &p, false);
		if ((stop = fn(&p, col_str(s, 5), col_str(s, 6), arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "list policies");
}

int store_policy_affects_each(store *st, const char *version,
			      int (*fn)(const char *purpose, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_POLICY_AFFECTS_EACH);
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, version);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((stop = fn(col_str(s, 0), arg)) != 0)
			break;
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "policy purposes");
}

int store_policy_in_force(store *st, int64_t at, char out[POLICY_VERSION_MAX + 1])
{
	sqlite3_stmt *s = stmt(st, S_POLICY_IN_FORCE);
	int rc;

	out[0] = '\0';
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, at);
	if ((rc = step_row(st, s, "policy in force")) == STORE_OK) {
		col_copy(s, 0, out, POLICY_VERSION_MAX + 1);
		sqlite3_reset(s);
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int store_grant_asked(store *st, int64_t acct, const char *purpose, int64_t *out)
{
	sqlite3_stmt *s = stmt(st, S_GRANT_ASKED);
	int rc;

	*out = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, purpose);
	if ((rc = step_row(st, s, "grant")) == STORE_OK) {
		*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* stale_since - whether what was asked for by request (0: the request the
 * current grant answered) of (acct, purpose) predates the publication of
 * the newest version in force at now that affects purpose: version_out is
 * that version then, else "". */
static int stale_since(store *st, int64_t acct, const char *purpose, int64_t request,
		       int64_t now, char version_out[POLICY_VERSION_MAX + 1])
{
	char version[POLICY_VERSION_MAX + 1];
	int64_t pseq, asked;
	int rc;

	version_out[0] = '\0';
	if ((rc = affecting(st, purpose, now, version, &pseq)))
		return rc == STORE_NOTFOUND ? STORE_OK : rc;   /* the common case */
	rc = request ? store_request_seq(st, acct, purpose, request, &asked)
		     : store_grant_asked(st, acct, purpose, &asked);
	if (rc)
		return rc;
	if (asked && asked <= pseq)
		snprintf(version_out, POLICY_VERSION_MAX + 1, "%s", version);
	return STORE_OK;
}

int store_grant_stale(store *st, int64_t acct, const char *purpose, int64_t now,
		      char version_out[POLICY_VERSION_MAX + 1])
{
	return stale_since(st, acct, purpose, 0, now, version_out);
}

int store_request_stale(store *st, int64_t acct, const char *purpose, int64_t request,
			int64_t now, char version_out[POLICY_VERSION_MAX + 1])
{
	return stale_since(st, acct, purpose, request, now, version_out);
}

/* ---- broadcasts ---- */

static int campaign_one(store *st, sqlite3_stmt *s, campaign_row *out)
{
	int rc = step_row(st, s, "broadcast");

	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(s, 0);
	col_copy(s, 1, out->kind, sizeof(out->kind));
	col_copy(s, 2, out->name, sizeof(out->name));
	out->started = sqlite3_column_int64(s, 3);
	out->cursor = sqlite3_column_int64(s, 4);
	out->accounts = sqlite3_column_int64(s, 5);
	out->queued = sqlite3_column_int64(s, 6);
	out->requests = sqlite3_column_int64(s, 7);
	out->finished = sqlite3_column_int64(s, 8);
	out->updated = sqlite3_column_int64(s, 9);
	out->upto = sqlite3_column_int64(s, 10);
	sqlite3_reset(s);
	return STORE_OK;
}

int store_campaign_insert(store *st, campaign_row *c)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_INSERT);
	int rc;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, c->kind);
	bind_text(s, 2, c->name);
	sqlite3_bind_int64(s, 3, c->started);
	if ((rc = insert_unique(st, s, "broadcast")))
		return rc;
	c->id = sqlite3_last_insert_rowid(st->db);
	return STORE_OK;
}

int store_campaign_find(store *st, const char *kind, const char *name, campaign_row *out)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_FIND);

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, kind);
	bind_text(s, 2, name);
	return campaign_one(st, s, out);
}

int store_campaign_get(store *st, int64_t id, campaign_row *out)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_GET);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	return campaign_one(st, s, out);
}

int store_campaign_unfinished(store *st, int64_t after, campaign_row *out)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_UNFINISHED);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, after);
	return campaign_one(st, s, out);
}

int store_campaign_progress(store *st, int64_t id, int64_t cursor, int64_t accounts,
			    int64_t queued, int64_t requests, int64_t finished)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_PROGRESS);

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, cursor);
	sqlite3_bind_int64(s, 3, accounts);
	sqlite3_bind_int64(s, 4, queued);
	sqlite3_bind_int64(s, 5, requests);
	sqlite3_bind_int64(s, 6, finished);
	sqlite3_bind_int64(s, 7, text_now());
	return run(st, s, "broadcast progress");
}

int store_accounts_after(store *st, int64_t after, int64_t upto, int64_t *keys_out, int max,
			 int *n_out)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNTS_AFTER);
	int rc, n = 0;

	*n_out = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, max);
	sqlite3_bind_int64(s, 3, upto);
	while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
		keys_out[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (n < max && rc != SQLITE_DONE)
		return db_fail(st, "accounts");
	*n_out = n;
	return STORE_OK;
}

static int count_one(store *st, enum stmt_id id, int64_t *out)
{
	sqlite3_stmt *s = stmt(st, id);
	int rc;

	*out = 0;
	if (!s)
		return STORE_ERR;
	if ((rc = step_row(st, s, "count")) == STORE_OK) {
		*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc;
}

int store_accounts_count(store *st, int64_t *out)
{
	return count_one(st, S_ACCOUNTS_COUNT, out);
}

int store_accounts_by_lang(store *st, const char *dflt,
			   int (*fn)(const char *lang, int64_t n, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNTS_BY_LANG);
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	bind_text(s, 1, dflt);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((stop = fn(col_str(s, 0), sqlite3_column_int64(s, 1), arg)) != 0)
			break;
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "accounts by language");
}

int store_accounts_failing_each(store *st, int (*fn)(const account *a, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_ACCOUNTS_FAILING);
	account a;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		account_from(s, &a);
		stop = fn(&a, arg);
		digest_wipe(a.hkey, sizeof(a.hkey));
		if (stop)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "failing addresses");
}

int store_campaign_counts(store *st, int64_t id, int64_t since, campaign_counts *out)
{
	sqlite3_stmt *s = stmt(st, S_CAMPAIGN_COUNTS);
	const char *state;
	int64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		state = col_str(s, 0);
		n = sqlite3_column_int64(s, 1);
		if (!strcmp(state, "queued"))
			out->queued = n;
		else if (!strcmp(state, "sending"))
			out->sending = n;
		else if (!strcmp(state, "deferred"))
			out->deferred = n;
		else if (!strcmp(state, "failed"))
			out->failed = n;
		else if (!strcmp(state, "cancelled"))
			out->cancelled = n;
		else if (!strcmp(state, "sent")) {
			out->sent = n;
			out->sent_since = sqlite3_column_int64(s, 2);
			out->first_done = sqlite3_column_int64(s, 3);
			out->last_done = sqlite3_column_int64(s, 4);
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "broadcast counts");
}

int store_campaign_mail_each(store *st, int64_t id, bool undelivered_only,
			     int (*fn)(const campaign_mail *m, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, undelivered_only ? S_CAMPAIGN_MAIL_OPEN : S_CAMPAIGN_MAIL_ALL);
	campaign_mail m;
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		m.id = sqlite3_column_int64(s, 0);
		m.account = col_str(s, 1);
		m.kind = col_str(s, 2);
		m.state = col_str(s, 3);
		m.rcpt = col_str(s, 4);
		m.response = col_str(s, 5);
		m.sha256 = col_str(s, 6);
		m.attempts = sqlite3_column_int(s, 7);
		m.done = sqlite3_column_int64(s, 8);
		m.next_attempt = sqlite3_column_int64(s, 9);
		if ((stop = fn(&m, arg)) != 0)
			break;
	}
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "broadcast mail");
}

int store_request_seq(store *st, int64_t acct, const char *purpose, int64_t request,
		      int64_t *out)
{
	sqlite3_stmt *s = stmt(st, S_REQUEST_SEQ);
	int rc;

	*out = 0;
	if (!s)
		return STORE_ERR;
	sqlite3_bind_int64(s, 1, acct);
	bind_text(s, 2, purpose);
	sqlite3_bind_int64(s, 3, request);
	if ((rc = step_row(st, s, "request event")) == STORE_OK) {
		*out = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* ---- what an admin checks first ---- */

int store_stats_get(store *st, store_stats *out)
{
	sqlite3_stmt *s;
	const char *state;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!(s = stmt(st, S_STATS_ACCOUNTS)))
		return STORE_ERR;
	if ((rc = step_row(st, s, "stats")))
		return rc;
	out->accounts = sqlite3_column_int64(s, 0);
	out->erased = sqlite3_column_int64(s, 1);
	out->failing = sqlite3_column_int64(s, 2);
	sqlite3_reset(s);
	if (!(s = stmt(st, S_STATS_OUTBOX)))
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		static const char *const names[] = { "queued", "sending", "sent", "deferred",
						     "failed", "cancelled" };
		size_t i;

		state = col_str(s, 0);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(state, names[i]))
				out->outbox[i] = sqlite3_column_int64(s, 1);
		if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
		    (!out->oldest_waiting || sqlite3_column_int64(s, 2) < out->oldest_waiting))
			out->oldest_waiting = sqlite3_column_int64(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, "stats");
	if (!(s = stmt(st, S_STATS_INBOX)))
		return STORE_ERR;
	if ((rc = step_row(st, s, "stats")))
		return rc;
	out->inbox = sqlite3_column_int64(s, 0);
	out->review = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (!(s = stmt(st, S_STATS_IMAP)))
		return STORE_ERR;
	if ((rc = step_row(st, s, "stats")) == STORE_OK) {
		col_copy(s, 0, out->imap_mailbox, sizeof(out->imap_mailbox));
		out->imap_last_uid = sqlite3_column_int64(s, 1);
		out->imap_polled = sqlite3_column_int64(s, 2);
		sqlite3_reset(s);
	} else if (rc != STORE_NOTFOUND) {
		return rc;
	}
	if ((rc = count_one(st, S_STATS_CAMPAIGNS, &out->broadcasts_open)))
		return rc;
	return store_head(st, &out->ledger_seq, out->ledger_head);
}

int store_stats_consents(store *st, int (*fn)(const char *purpose, const char *state,
					       int64_t n, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, S_STATS_CONSENTS);
	int rc, stop = 0;

	if (!s)
		return STORE_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((stop = fn(col_str(s, 0), col_str(s, 1), sqlite3_column_int64(s, 2), arg)) != 0)
			break;
	sqlite3_reset(s);
	if (stop)
		return stop;
	return rc == SQLITE_DONE ? STORE_OK : db_fail(st, "stats");
}
