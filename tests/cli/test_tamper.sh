#!/bin/bash
# ledger verify against an attacker with sqlite3: the append-only triggers
# refuse casual edits; with the triggers dropped, every kind of edit is
# still found and the first bad event is named.
. "$(dirname "$0")/lib.sh"
write_conf

for i in 1 2 3; do
	ctl account add t$i t$i@example.org >/dev/null
	ctl request t$i log-linking >/dev/null
done
"$LEDGER_GRANT" "$CONF" t1 log-linking
"$LEDGER_GRANT" "$CONF" t2 log-linking decline
ctl revoke t1 log-linking --reason "letter" >/dev/null
# events: 1-3 requests, 4 grant t1, 5 decline t2, 6 revoke t1
run ctl ledger verify
expect_rc 0 "intact ledger"
expect_match "$OUT" "6 events" "six events"
cp "$DB" "$SCRATCH/pristine.db"

run sqlite3 "$DB" "UPDATE event SET kind = 'grant' WHERE seq = 5"
[ "$RC" != 0 ] || fail "trigger refuses rewriting an event"
expect_match "$ERR" "append-only" "trigger message"
run sqlite3 "$DB" "DELETE FROM event WHERE seq = 2"
[ "$RC" != 0 ] || fail "trigger refuses deleting an event"

# tamper SQL... - fresh copy, triggers dropped, apply SQL, expect a failure.
tamper() {
	local want=$1; shift
	cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
	sqlite3 "$DB" "DROP TRIGGER event_append_only_update; DROP TRIGGER event_append_only_delete; $1"
	run ctl ledger verify
	expect_rc 1 "verify after: $1"
	expect_match "$OUT" "$want" "report after: $1"
}
tamper "BROKEN at event 5: content does not match" "UPDATE event SET kind = 'grant' WHERE seq = 5"
tamper "BROKEN at event 4: content does not match" "UPDATE event SET at = at - 86400 WHERE seq = 4"
tamper "BROKEN at event 4: personal fields" "UPDATE event SET sender = 'mallory@example.org' WHERE seq = 4"
tamper "BROKEN at event 1: personal fields" "UPDATE event SET address = NULL WHERE seq = 1"
tamper "BROKEN at event 2: event missing" "DELETE FROM event WHERE seq = 2"
tamper "BROKEN at event 6: .*head record" "DELETE FROM event WHERE seq = 6"
tamper "BROKEN at event 4: prev does not match" "UPDATE event SET prev = hash WHERE seq = 4"
tamper "BROKEN: consent cache says 'granted'" "UPDATE consent SET state = 'granted' WHERE acct = 3"
tamper "BROKEN: consent cache says 'granted'.*no event" "INSERT INTO account(id,email,email_lc,lang,created,updated) VALUES('t9','t9@example.org','t9@example.org','de',0,0); INSERT INTO consent VALUES ((SELECT key FROM account WHERE id='t9'), 'log-linking', 'granted', 0)"
# Recomputing one hash is not enough: the next event's prev gives it away.
tamper "BROKEN at event (4|5)" "UPDATE event SET kind = 'decline' WHERE seq = 4"

# A forged grant appears as "granted" to check: verify is what catches it.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
run ctl ledger verify
expect_rc 0 "pristine copy verifies"
run ctl --json ledger verify
expect_match "$OUT" '"intact": true' "verify --json"
finish
