#!/bin/bash
# consentctl stats: what an admin checks first — accounts, consents as
# recorded, the outbox backlog and its oldest waiting mail, the inbox and
# review queue, the last IMAP pass, broadcasts under way, the ledger head.
. "$(dirname "$0")/lib.sh"
write_conf
printf 'id,email,name,lang\na1,a1@example.org,,de\na2,a2@example.org,,en\na3,a3@example.org,,de\n' > "$SCRATCH/a.csv"
ctl account import "$SCRATCH/a.csv" >/dev/null
ctl request a1 log-linking >/dev/null
ctl request a2 log-linking >/dev/null
"$LEDGER_GRANT" "$CONF" a2 log-linking grant >/dev/null
ctl erase a3 >/dev/null
sqlite3 "$DB" "UPDATE account SET failing = 1, failing_status = '5.1.1' WHERE id = 'a1'"
run ctl stats
expect_rc 0 "stats"
expect_match "$OUT" "^accounts +2 \\(erased 1, address bouncing 1\\)" "accounts: active, erased, bouncing"
expect_match "$OUT" "consents +log-linking: granted 1 pending 1" "consents per purpose and state"
expect_match "$OUT" "outbox +queued 2, sending 0, sent 0, deferred 0, failed 0, cancelled 0; oldest waiting since 20[0-9-]+T" "outbox backlog and the oldest waiting mail"
expect_match "$OUT" "imap +off" "imap off in this config"
expect_match "$OUT" "^ledger head +[0-9]+:[0-9a-f]{64}$" "ledger head"
head=$(ctl ledger verify | grep -o '[0-9]*:[0-9a-f]\{64\}' | head -1)
expect_match "$OUT" "ledger head +$head" "the same head ledger verify prints"
run ctl --json stats
expect_rc 0 "stats --json"
expect_match "$OUT" '"active": 2' "json: active accounts"
expect_match "$OUT" '"queued": 2' "json: queued"
expect_match "$OUT" '"granted": 1' "json: granted"
# The IMAP duty notes each good pass; without one for five minutes it is stale.
write_conf -e "s#^enabled = no#enabled = yes#"
sed -i '/^\[imap\]/,/^\[/s#^enabled = no#enabled = yes#' "$CONF"
run ctl stats
expect_match "$OUT" "imap +never read \\(is consentd running\\?\\)" "imap enabled, never read"
sqlite3 "$DB" "INSERT INTO imap_state (mailbox, uidvalidity, last_uid, polled) VALUES ('INBOX', 1, 42, strftime('%s','now') - 900)"
run ctl stats
expect_match "$OUT" "imap +INBOX last read .* STALE" "a pass 15 minutes ago is stale"
finish
