#!/bin/bash
# Erasure: the account's personal data is gone from every table and from
# the database files themselves (main file and WAL), the ledger still
# verifies, and check answers 1.
. "$(dirname "$0")/lib.sh"
write_conf

MARK=zqxerasemarker
ctl account add keep1 keep1@example.org --name "Keep One" >/dev/null
ctl account add $MARK-id "$MARK@example.org" --name "Name $MARK" >/dev/null
ctl request $MARK-id log-linking >/dev/null
"$LEDGER_GRANT" "$CONF" $MARK-id log-linking
ctl revoke $MARK-id log-linking --reason "reason $MARK" >/dev/null
ctl request keep1 log-linking >/dev/null
run grep -c -a "$MARK" "$DB" "$DB-wal"
expect_match "$OUT" ":[1-9]" "the marker is in the files before erasure"
# The outbox holds the rendered mails (request, receipt) with the name and
# address in them.
KEY=$(sqlite3 "$DB" "SELECT key FROM account WHERE id = '$MARK-id'")
run sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE acct = $KEY"
expect_match "$OUT" "^[1-9]" "the account has mail in the outbox before erasure"
run sqlite3 "$DB" "SELECT count(*) FROM outbox JOIN outbox_mail USING (id) WHERE acct = $KEY AND instr(CAST(message AS TEXT), '$MARK') > 0"
expect_match "$OUT" "^[1-9]" "the outbox mails carry the marker"

run ctl erase $MARK-id
expect_rc 0 "erase"
for f in "$DB" "$DB-wal" "$DB-shm"; do
	[ -e "$f" ] || continue
	run grep -c -a "$MARK" "$f"
	expect_eq "$OUT" "0" "no trace of the erased account in $(basename "$f")"
done
run sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE acct = $KEY"
expect_eq "$OUT" "0" "no outbox row of the erased account"
run ctl outbox list
expect_no_match "$OUT" "$MARK" "outbox list shows nothing of the erased account"
expect_match "$OUT" "request +log-linking +keep1 " "the other account's mail stays"
run ctl check $MARK-id log-linking
expect_rc 1 "check after erase"
run ctl ledger verify
expect_rc 0 "ledger verifies after erase"
run ctl status keep1 log-linking
expect_eq "$OUT" "pending" "other accounts untouched"
run ctl erase $MARK-id
expect_rc 2 "erasing again: no such account"
run sqlite3 "$DB" "SELECT count(*) FROM event WHERE kind = 'erase'"
expect_eq "$OUT" "1" "one erase event per purpose"
finish
