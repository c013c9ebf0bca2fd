#!/bin/bash
# The consentctl life cycle on a fresh database: add/import, request,
# pending, grant (through the ledger, as the inbound channel will), check,
# granted, revoke, re-request, expiry, export, erase, ledger verify.
. "$(dirname "$0")/lib.sh"
write_conf

run ctl account add u1 Alice@Example.org --name "Alice Müller" --lang de
expect_rc 0 "account add"
run ctl account add u1 other@example.org
expect_rc 1 "account add of an existing id"
expect_match "$ERR" "already exists" "account add duplicate message"
run ctl account add u2 "not an address"
expect_rc 2 "account add with a bad address"
run ctl account add u3 bob@example.org --lang fr
expect_rc 2 "account add with an unknown language"
run ctl account show u1
expect_match "$OUT" "email: +Alice@Example.org" "account show email"
expect_match "$OUT" "consent: log-linking none" "account show state"

run ctl status u1 log-linking
expect_eq "$OUT" "none" "status before any request"
run ctl check u1 log-linking
expect_rc 1 "check before any request"
expect_eq "$OUT" "" "check prints nothing"
run ctl check nobody log-linking
expect_rc 1 "check of an unknown account"
run ctl check u1 no-such-purpose
expect_rc 2 "check of an unknown purpose"
run ctl status nobody
expect_rc 2 "status of an unknown account"
expect_match "$ERR" "no account 'nobody'" "unknown account message"

run ctl request u1 log-linking
expect_rc 0 "request"
run ctl status u1 log-linking
expect_eq "$OUT" "pending" "state after request"
run ctl request u1 log-linking
expect_rc 1 "second request while pending"
expect_match "$ERR" "--resend" "second request hints --resend"
run ctl request u1 log-linking --resend
expect_rc 0 "request --resend"
run sqlite3 "$DB" "SELECT state FROM request ORDER BY id"
expect_eq "$(echo $OUT)" "superseded open" "resend supersedes the old token"
run sqlite3 "$DB" "SELECT state || ':' || (token IS NULL) FROM outbox WHERE kind='request' ORDER BY id"
expect_eq "$(echo $OUT)" "cancelled:1 queued:0" "the superseded mail is cancelled and loses its token"
# Only the hash of the token is stored with the request.
run sqlite3 "$DB" "SELECT length(token_hash), (SELECT count(*) FROM request r2 WHERE r2.token_hash IN (SELECT token FROM outbox)) FROM request LIMIT 1"
expect_eq "$OUT" "64|0" "request stores a 64-hex hash, never the token"
# The request mail is rendered when it is queued: to the primary address,
# from the service's bounce address, and the request event carries the
# SHA-256 of exactly these bytes (the text the person is shown).
run sqlite3 "$DB" "SELECT rcpt || '|' || sender || '|' || sha256 || '|' || token FROM outbox WHERE state = 'queued' AND kind = 'request'"
IFS='|' read -r rcpt sender sha token <<<"$OUT"
expect_eq "$rcpt" "Alice@Example.org" "request mail goes to the primary address"
expect_eq "$sender" "consent+bounce@cloudwerk.example" "envelope sender"
sqlite3 "$DB" "SELECT writefile('$SCRATCH/request.eml', message) FROM outbox JOIN outbox_mail USING (id) WHERE state = 'queued' AND kind = 'request'" >/dev/null
expect_no_match "$(cat "$SCRATCH/request.eml")" "$token" "the stored mail holds no plaintext token"
expect_eq "$(sed "s/x\{32\}/$token/g" "$SCRATCH/request.eml" | sha256sum | cut -d' ' -f1)" "$sha" \
	"stored sha256 is of the mail as sent (stored copy with the token put back)"
run sqlite3 "$DB" "SELECT shown_sha256 FROM event WHERE kind = 'request' ORDER BY seq DESC LIMIT 1"
expect_eq "$OUT" "$sha" "the request event carries the SHA-256 of the mail"
expect_match "$(cat "$SCRATCH/request.eml")" "consent\+x{32}@cloudwerk.example" "the token's place in the Reply-To"
expect_eq "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" \
	"$(sqlite3 "$DB" "SELECT token_hash FROM request WHERE state = 'open'")" "the request stores the token's SHA-256"
run ctl outbox list
expect_rc 0 "outbox list"
expect_match "$OUT" "^id +state +kind" "outbox list header"
expect_match "$OUT" "cancelled +request +log-linking +u1 +Alice@Example.org" "outbox list shows the cancelled mail"
expect_match "$OUT" "queued +request +log-linking +u1 +Alice@Example.org" "outbox list shows the queued mail"
run ctl outbox list --state queued
expect_no_match "$OUT" "cancelled" "outbox list --state queued"
run ctl --json outbox list --state queued
expect_match "$OUT" '"kind": "request"' "outbox list --json"
expect_match "$OUT" '"to": "Alice@Example.org"' "outbox list --json recipient"
run ctl outbox list --state bogus
expect_rc 2 "outbox list with an unknown state"
expect_match "$ERR" "--state must be" "unknown state message"

# The person answers (simulated inbound channel): granted.
run "$LEDGER_GRANT" "$CONF" u1 log-linking
expect_rc 0 "grant through the ledger"
run ctl check u1 log-linking
expect_rc 0 "check after grant"
run ctl --json check u1 log-linking
expect_match "$OUT" '"granted": true' "check --json"
run ctl request u1 log-linking
expect_rc 1 "request while granted"

ctl account add u4 dora@example.org >/dev/null
ctl request u4 log-linking >/dev/null
"$LEDGER_GRANT" "$CONF" u4 log-linking
ctl account add u5 emil@example.org >/dev/null
run ctl granted log-linking
expect_eq "$(echo $OUT)" "u1 u4" "granted lists exactly the granted ids"
run ctl --json granted log-linking
expect_match "$OUT" '"count": 2' "granted --json count"

run ctl revoke u1 log-linking
expect_rc 2 "revoke without --reason"
run ctl revoke u1 log-linking --reason "Telefonat mit Frau Müller am 27.11."
expect_rc 0 "revoke"
run ctl status u1 log-linking
expect_eq "$OUT" "revoked" "state after revoke"
run sqlite3 "$DB" "SELECT kind || '|' || state || '|' || rcpt || '|' || sha256 || '|' || (token IS NULL) FROM outbox ORDER BY id DESC LIMIT 1"
expect_eq "${OUT%%|*}" "receipt-revoked" "a withdrawal after a grant queues a receipt"
IFS='|' read -r _ state rcpt sha notoken <<<"$OUT"
expect_eq "$state|$rcpt|$notoken" "queued|Alice@Example.org|1" "the receipt to the primary address, no token"
sqlite3 "$DB" "SELECT writefile('$SCRATCH/receipt.eml', message) FROM outbox_mail ORDER BY id DESC LIMIT 1" >/dev/null
expect_eq "$(sha256sum < "$SCRATCH/receipt.eml" | cut -d' ' -f1)" "$sha" "the receipt is rendered, its sha256 stored"
run ctl check u1 log-linking
expect_rc 1 "check after revoke"
run ctl revoke u1 log-linking --reason again
expect_rc 1 "revoke when already revoked"
expect_match "$ERR" "nothing to withdraw" "second revoke message"
run ctl request u1 log-linking
expect_rc 0 "new request after revoke"
run ctl revoke u1 log-linking --reason "Brief"
run ctl status u1 log-linking
expect_eq "$OUT" "declined" "withdrawal while pending makes it declined"
run sqlite3 "$DB" "SELECT kind || '|' || state FROM outbox WHERE acct = (SELECT key FROM account WHERE id = 'u1') ORDER BY id DESC LIMIT 2"
expect_eq "$(echo $OUT)" "receipt-declined|queued request|cancelled" "withdrawal while pending: receipt queued, request mail cancelled"
run ctl granted log-linking
expect_eq "$(echo $OUT)" "u4" "granted after revoke"

# Expiry: a request past its lifetime reads expired at once and is recorded
# as an expire event by the expiry duty.
ctl request u5 log-linking >/dev/null
run sqlite3 "$DB" "UPDATE request SET expires = strftime('%s','now') - 1 WHERE state = 'open' AND acct = (SELECT key FROM account WHERE id = 'u5')"
run ctl status u5 log-linking
expect_eq "$OUT" "expired" "pending past its lifetime reads expired"
run ctl expire
expect_match "$OUT" "^1 request expired" "expire records one"
run sqlite3 "$DB" "SELECT kind FROM event ORDER BY seq DESC LIMIT 1"
expect_eq "$OUT" "expire" "expire event in the ledger"
run ctl request u5 log-linking
expect_rc 0 "request again after expiry"
run ctl status u5 log-linking
expect_eq "$OUT" "pending" "expired -> pending"
if command -v faketime >/dev/null; then
	ctl account add u6 fritz@example.org >/dev/null
	ctl request u6 log-linking >/dev/null
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 run faketime -f '+31d' "$CONSENTCTL" -c "$CONF" status u6 log-linking
	expect_eq "$OUT" "expired" "31 days later (faketime) the request is expired"
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 run faketime -f '+29d' "$CONSENTCTL" -c "$CONF" status u6 log-linking
	expect_eq "$OUT" "pending" "29 days later it is still pending"
else
	fail "faketime not installed (apt-get install faketime)"
fi

run ctl status u1
expect_eq "$OUT" "log-linking declined" "status without purpose"
run ctl --json status u1
expect_match "$OUT" '"log-linking": "declined"' "status --json"

run ctl export u1
expect_rc 0 "export"
expect_match "$OUT" '"format": "consentd-export-1"' "export format"
expect_match "$OUT" '"email": "Alice@Example.org"' "export email"
expect_match "$OUT" '"reason": "Telefonat mit Frau M' "export carries the staff reason"
expect_eq "$(printf '%s' "$OUT" | grep -c '"event": ')" "6" "export lists all six events of u1"

run ctl account set-email u4 dora.neu@example.org
expect_rc 0 "set-email"
run ctl account show u4
expect_match "$OUT" "dora.neu@example.org" "new email shown"
run ctl account set-email u4 "bad@@example.org"
expect_rc 2 "set-email with a bad address"

# A request mail still waiting for the old address is never sent there: the
# request is asked again at the new address (fresh token, the old one dead);
# one already sent to the old address is left to staff.
ctl account add u7 old7@example.org >/dev/null
ctl request u7 log-linking >/dev/null
old_token=$(sqlite3 "$DB" "SELECT o.token FROM outbox o JOIN account a ON a.key = o.acct WHERE a.id = 'u7' AND o.kind = 'request'")
run ctl account set-email u7 new7@example.org
expect_rc 0 "set-email with a request waiting"
expect_match "$OUT" "1 request not yet sent to the old address asked again at the new one" "set-email says it asked again"
expect_eq "$(sqlite3 "$DB" "SELECT group_concat(o.state || ' ' || o.rcpt, ', ') FROM (SELECT * FROM outbox ORDER BY id) o JOIN account a ON a.key = o.acct WHERE a.id = 'u7' AND o.kind = 'request'")" \
	"cancelled old7@example.org, queued new7@example.org" "the old mail cancelled, a new one queued for the new address"
expect_match "$(ctl outbox list --state cancelled)" "old7@example.org .*primary address changed; asked again at the new address" "the cancelled mail says why"
expect_eq "$(sqlite3 "$DB" "SELECT group_concat(state, ' ') FROM (SELECT r.state FROM request r JOIN account a ON a.key = r.acct WHERE a.id = 'u7' ORDER BY r.id)")" "superseded open" "the old request superseded"
new_token=$(sqlite3 "$DB" "SELECT o.token FROM outbox o JOIN account a ON a.key = o.acct WHERE a.id = 'u7' AND o.kind = 'request' AND o.state = 'queued'")
[ -n "$new_token" ] && [ "$new_token" != "$old_token" ] || fail "a fresh token for the new address"
run ctl status u7 log-linking
expect_eq "$OUT" "pending" "still pending"
run ctl --json account set-email u7 NEW7@Example.org
expect_match "$OUT" '"asked_again": 0' "the same mailbox in other case: nothing asked again"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM request r JOIN account a ON a.key = r.acct WHERE a.id = 'u7'")" "2" "no third request"
run ctl --json account set-email u7 NEW7@Example.org
expect_match "$OUT" '"asked_again": 0' "the same address again: nothing asked again"
# Refused by the old address (a 550): asked again at the new one.
sqlite3 "$DB" "UPDATE outbox SET state = 'failed', token = NULL, last_response = '550 5.1.1 no such user' WHERE rcpt = 'new7@example.org'"
run ctl --json account set-email u7 fixed7@example.org
expect_match "$OUT" '"asked_again": 1' "a request refused by the old address is asked again"
sqlite3 "$DB" "UPDATE outbox SET state = 'sent', token = NULL WHERE rcpt = 'fixed7@example.org'"
run ctl --json account set-email u7 third7@example.org
expect_match "$OUT" '"asked_again": 0' "a request delivered to the old address is not asked again"

run ctl ledger verify
expect_rc 0 "ledger verify"
expect_match "$OUT" "^ledger intact: [0-9]+ events, head [0-9]+:[0-9a-f]{64}$" "verify output"
events=$(sqlite3 "$DB" "SELECT count(*) FROM event")
head=$(sqlite3 "$DB" "SELECT seq || ':' || hash FROM ledger_head")
expect_eq "$OUT" "ledger intact: $events events, head $head" "verify names the last event and its hash"
run ctl ledger verify --anchor "$head"
expect_rc 0 "verify --anchor with the head just printed"

run ctl erase u1
expect_rc 0 "erase"
run ctl check u1 log-linking
expect_rc 1 "check after erase"
run ctl export u1
expect_rc 2 "export after erase"
run ctl ledger verify --anchor "$head"
expect_rc 0 "ledger verify after erase (the earlier head still anchors it)"
run sqlite3 "$DB" "SELECT count(*) FROM event WHERE address IS NOT NULL AND acct = (SELECT key FROM account WHERE erased IS NOT NULL)"
expect_eq "$OUT" "0" "no personal data left in the erased account's events"
run ctl account add u1 alice.again@example.org
expect_rc 0 "the id can be used again after erasure"

run ctl --help
expect_match "$OUT" "exit status:" "help documents exit codes"
run ctl frobnicate
expect_rc 2 "unknown command"
finish
