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
tamper "BROKEN: consent cache says 'granted'.*no event" "INSERT INTO account(id,email,email_lc,lang,hkey,created,updated) VALUES('t9','t9@example.org','t9@example.org','de',randomblob(32),0,0); INSERT INTO consent VALUES ((SELECT key FROM account WHERE id='t9'), 'log-linking', 'granted', 0)"
# An account row without its key must be an erased one, with an erase event.
tamper "BROKEN: account #[0-9]+ is erased without an erase event" "INSERT INTO account(id,email,email_lc,lang,created,updated) VALUES('t9','t9@example.org','t9@example.org','de',0,0); INSERT INTO consent VALUES ((SELECT key FROM account WHERE id='t9'), 'log-linking', 'granted', 0)"
# Recomputing one hash is not enough: the next event's prev gives it away.
tamper "BROKEN at event (4|5)" "UPDATE event SET kind = 'decline' WHERE seq = 4"

# A forged grant appears as "granted" to check: verify is what catches it.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
run ctl ledger verify
expect_rc 0 "pristine copy verifies"
expect_match "$OUT" "^ledger intact: 6 events, head 6:[0-9a-f]{64}$" "verify names the head"
run ctl --json ledger verify
expect_match "$OUT" '"intact": true' "verify --json"

# ---- from the security review ----
# pristine SQL - a fresh copy of the pristine database, then SQL applied with
# the triggers in place (what a plain sqlite3 user can do); SQL must succeed.
pristine() {
	cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
	run sqlite3 "$DB" "$1"
	expect_rc 0 "sqlite3 accepts: $1"
}

# a) The application ids of two accounts swapped in the account table (no
#    trigger is involved): t3 has granted, t2 declined; after the swap, check
#    answers with t3's consent for "t2". The ids are inside each event's
#    personal-data MAC, so verify sees it.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
"$LEDGER_GRANT" "$CONF" t3 log-linking
run ctl ledger verify
expect_rc 0 "t3 granted"
run sqlite3 "$DB" "UPDATE account SET id = 'swap' WHERE id = 't2'; UPDATE account SET id = 't2' WHERE id = 't3'; UPDATE account SET id = 't3' WHERE id = 'swap'"
expect_rc 0 "sqlite3 swaps two ids"
run ctl ledger verify
expect_rc 1 "verify after swapping the ids of two accounts"
expect_match "$OUT" "BROKEN at event 2: personal fields" "id swap named at the first event of the swapped accounts"

# b) The key of a live account removed, then its events' personal columns
#    cleared (the trigger allows clearing only for an account without a
#    key): the evidence is wiped, but the account is not erased.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
run sqlite3 "$DB" "UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL WHERE acct = (SELECT key FROM account WHERE id = 't1')"
[ "$RC" != 0 ] || fail "trigger refuses clearing the personal columns of an account with a key"
expect_match "$ERR" "append-only" "trigger message for clearing personal columns"
pristine "UPDATE account SET hkey = NULL WHERE id = 't1'; UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL WHERE acct = (SELECT key FROM account WHERE id = 't1')"
run sqlite3 "$DB" "SELECT count(*) FROM event WHERE acct = (SELECT key FROM account WHERE id = 't1') AND coalesce(address, sender, msg_id, reason) IS NOT NULL"
expect_eq "$OUT" "0" "t1's evidence is wiped"
run ctl ledger verify
expect_rc 1 "verify after removing a live account's key and wiping its evidence"
expect_match "$OUT" "BROKEN at event 1: the account's key is missing but the account is not erased" "wiped evidence named"
# ... and dressed up as an erasure, without an erase event.
t1=$(sqlite3 "$SCRATCH/pristine.db" "SELECT key FROM account WHERE id = 't1'")
pristine "UPDATE account SET hkey = NULL WHERE key = $t1; UPDATE event SET address = NULL, sender = NULL, msg_id = NULL, reason = NULL WHERE acct = $t1; UPDATE account SET id = NULL, email = NULL, email_lc = NULL, name = NULL, lang = NULL, erased = 1 WHERE key = $t1"
run ctl ledger verify
expect_rc 1 "verify after a fake erasure"
expect_match "$OUT" "BROKEN: account #$t1 is erased without an erase event" "fake erasure named"

# c) The last event (t4's withdrawal) deleted, the head record rewound and
#    the consent cache set back to granted: the chain that is left is
#    consistent in itself, so plain `ledger verify` cannot see this (a cut
#    at the end leaves nothing behind). A head printed earlier and kept
#    elsewhere (--anchor SEQ:HASH) does.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
ctl account add t4 t4@example.org >/dev/null
ctl request t4 log-linking >/dev/null
"$LEDGER_GRANT" "$CONF" t4 log-linking
run ctl ledger verify
expect_match "$OUT" "^ledger intact: 8 events, head 8:[0-9a-f]{64}$" "head before the withdrawal"
early_anchor=$(printf '%s' "$OUT" | sed -n 's/.*head \([0-9]*:[0-9a-f]*\)$/\1/p')
run ctl revoke t4 log-linking --reason "per letter"
expect_rc 0 "t4 withdraws"
run ctl ledger verify
expect_match "$OUT" "^ledger intact: 9 events, head 9:[0-9a-f]{64}$" "head after the withdrawal"
anchor=$(printf '%s' "$OUT" | sed -n 's/.*head \([0-9]*:[0-9a-f]*\)$/\1/p')
run ctl ledger verify --anchor "$anchor"
expect_rc 0 "verify --anchor with the current head"
expect_match "$OUT" "^ledger intact: 9 events" "verify --anchor output"
run ctl ledger verify --anchor "$early_anchor"
expect_rc 0 "an anchor kept from earlier still matches a chain that grew"
run ctl ledger verify --anchor "$(printf '%s' "$anchor" | tr a-f A-F)"
expect_rc 0 "the anchor's hash is case-insensitive"
run ctl --json ledger verify --anchor "$anchor"
expect_match "$OUT" '"intact": true' "verify --anchor --json"
for bad in "9" "9:" "0:${anchor#*:}" "x:${anchor#*:}" "9:abc" "9:${anchor#*:}0"; do
	run ctl ledger verify --anchor "$bad"
	expect_rc 2 "malformed anchor '$bad'"
	expect_match "$ERR" "SEQ:HASH" "malformed anchor message"
done
cp "$DB" "$SCRATCH/withdrawn.db"
sqlite3 "$DB" "DROP TRIGGER event_append_only_delete; DELETE FROM event WHERE seq = 9;
	UPDATE ledger_head SET seq = 8, hash = (SELECT hash FROM event WHERE seq = 8);
	UPDATE consent SET state = 'granted', seq = 8 WHERE acct = (SELECT key FROM account WHERE id = 't4')"
run ctl check t4 log-linking
expect_rc 0 "the tampered store answers granted (what the attack is for)"
# (Plain `ledger verify` exits 0 here; that is the limit the anchor covers.)
run ctl ledger verify --anchor "$anchor"
expect_rc 1 "verify --anchor after cutting the withdrawal"
expect_match "$OUT" "BROKEN at event 9: does not match the anchor" "anchor mismatch named"
run ctl --json ledger verify --anchor "$anchor"
expect_match "$OUT" '"intact": false' "anchor mismatch --json"
# The same cut, then a forged event 9 (a different hash) in its place.
cp "$SCRATCH/withdrawn.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
sqlite3 "$DB" "DROP TRIGGER event_append_only_update; UPDATE event SET at = at + 1 WHERE seq = 9"
run ctl ledger verify --anchor "$anchor"
expect_rc 1 "verify --anchor after rewriting the anchored event"

# d) A grant for a request whose lifetime is over is refused (the answer
#    came too late), and check stays 1.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
sqlite3 "$DB" "UPDATE request SET expires = strftime('%s', 'now') - 60 WHERE state = 'open' AND acct = (SELECT key FROM account WHERE id = 't3')"
run "$LEDGER_GRANT" "$CONF" t3 log-linking
expect_rc 1 "grant for an expired request"
expect_match "$ERR" "expired" "expired grant message"
run ctl check t3 log-linking
expect_rc 1 "check after the refused grant"
run ctl status t3 log-linking
expect_eq "$OUT" "expired" "state after the refused grant"
run sqlite3 "$DB" "SELECT count(*) FROM event WHERE kind = 'grant' AND acct = (SELECT key FROM account WHERE id = 't3')"
expect_eq "$OUT" "0" "no grant recorded"
# A grant without any open request (already answered) is refused too.
run "$LEDGER_GRANT" "$CONF" t2 log-linking
expect_rc 1 "grant after a decline, without a new request"
expect_match "$ERR" "no open request" "no open request message"

# e) A withdrawal while pending cancels the request mail that was not sent
#    yet: it no longer shows as queued, it shows as cancelled.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
run ctl outbox list --state queued
expect_match "$OUT" " request +log-linking +t3 " "t3's request mail queued before the withdrawal"
run ctl revoke t3 log-linking --reason "phoned"
expect_rc 0 "revoke while pending"
run ctl outbox list --state queued
expect_no_match "$OUT" " request +log-linking +t3 " "t3's request mail no longer queued"
expect_match "$OUT" " receipt-declined +log-linking +t3 " "the receipt is queued"
run ctl outbox list --state cancelled
expect_match "$OUT" "cancelled +request +log-linking +t3 " "t3's request mail cancelled"
run ctl --json outbox list --state cancelled
expect_match "$OUT" '"state": "cancelled"' "outbox list --json"
run sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE state = 'cancelled' AND token IS NOT NULL"
expect_eq "$OUT" "0" "a cancelled mail keeps no token"

# f) Policy versions are bound into the chain. g1's grant was asked for
#    before P2 (in force, changes log-linking) was published, so it no
#    longer counts. With the policy triggers dropped, taking the purpose out
#    of P2 would make it count again (a false "granted"): verify names it;
#    so it does a changed date or summary, a removed version, and a change
#    to a version published after the last event.
cp "$SCRATCH/pristine.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
printf 'Neue Regeln.\n' > "$SCRATCH/sum.txt"
ctl policy publish P1 --effective 2020-01-01 --summary de="$SCRATCH/sum.txt" >/dev/null
ctl account add g1 g1@example.org >/dev/null
ctl request g1 log-linking >/dev/null
"$LEDGER_GRANT" "$CONF" g1 log-linking
ctl policy publish P2 --material --affects log-linking --effective 2020-01-02 --summary de="$SCRATCH/sum.txt" >/dev/null
ctl account add g2 g2@example.org >/dev/null
ctl request g2 log-linking >/dev/null   # an event after P2
ctl policy publish P3 --effective 2030-01-01 --summary de="$SCRATCH/sum.txt" >/dev/null
run ctl check g1 log-linking
expect_rc 1 "g1's grant asked for before P2 does not count"
run ctl ledger verify
expect_rc 0 "verify with three policy versions"
expect_match "$OUT" "policy versions intact: 3, head P3:[0-9a-f]{64}" "verify reports the policy chain"
panchor=$(printf '%s' "$OUT" | sed -n 's/^policy versions intact: .*head \(P[0-9]*:[0-9a-f]*\)$/\1/p')
run ctl --json ledger verify
expect_match "$OUT" '"policy_versions": 3' "verify --json: policy versions"
cp "$DB" "$SCRATCH/policy.db"
POLICY_TRIGGERS="DROP TRIGGER policy_immutable_u; DROP TRIGGER policy_immutable_d; DROP TRIGGER policy_text_immutable_u; DROP TRIGGER policy_text_immutable_d; DROP TRIGGER policy_affects_immutable_u; DROP TRIGGER policy_affects_immutable_d;"
ptamper() {  # ptamper WANT SQL
	cp "$SCRATCH/policy.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
	sqlite3 "$DB" "$POLICY_TRIGGERS $2"
	run ctl ledger verify
	expect_rc 1 "verify after: $2"
	expect_match "$OUT" "$1" "report after: $2"
}
cp "$SCRATCH/policy.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
sqlite3 "$DB" "$POLICY_TRIGGERS DELETE FROM policy_affects WHERE version = 'P2'"
run ctl check g1 log-linking
expect_rc 0 "with P2's purpose removed the stale grant counts again (what the attack is for)"
ptamper "BROKEN: policy version P2 was changed after publication" "DELETE FROM policy_affects WHERE version = 'P2'"
ptamper "BROKEN: policy version P2 was changed after publication" "UPDATE policy SET effective = effective + 86400 WHERE version = 'P2'"
ptamper "BROKEN: policy version P1: the de summary does not match its SHA-256" "UPDATE policy_text SET summary = 'Anders.' WHERE version = 'P1'"
sha=$(printf 'Anders.' | sha256sum | cut -c1-64)
ptamper "BROKEN: policy version P1 was changed after publication" "UPDATE policy_text SET summary = 'Anders.', sha256 = '$sha' WHERE version = 'P1'"
ptamper "BROKEN: policy version P3 was changed after publication" "UPDATE policy SET effective = 0 WHERE version = 'P3'"
ptamper "BROKEN: policy version P2 is in place 1 but 0 versions come before it" "DELETE FROM policy_text WHERE version = 'P1'; DELETE FROM policy WHERE version = 'P1'"
# The kept chain value cleared too: a version published since schema 5
# must have one.
ptamper "BROKEN: policy version P2 has lost its chain value" "UPDATE policy SET chain = NULL WHERE version = 'P2'; DELETE FROM policy_affects WHERE version = 'P2'"
# A version removed: the head record names three.
ptamper "BROKEN: the head record names 3 policy versions .* but 2 are stored" "DELETE FROM policy_text WHERE version = 'P3'; DELETE FROM policy WHERE version = 'P3'"
# P2 and P3 gone and the head record fixed up: the event after P2 names
# the version that was in force.
ptamper "BROKEN at event [0-9]+: it records policy version 'P2' but 'P1' was in force" "DELETE FROM policy_text WHERE version IN ('P2', 'P3'); DELETE FROM policy_affects WHERE version = 'P2'; DELETE FROM policy WHERE version IN ('P2', 'P3'); UPDATE ledger_head SET policies = 1, policy_chain = (SELECT chain FROM policy WHERE version = 'P1')"
# P3 (nothing recorded after it) removed and the head record fixed up with
# the chain value P2 keeps: consistent in itself, like a ledger cut at its
# end; the anchor printed earlier (PN:HASH) sees it.
cp "$SCRATCH/policy.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
sqlite3 "$DB" "$POLICY_TRIGGERS DELETE FROM policy_text WHERE version = 'P3'; DELETE FROM policy WHERE version = 'P3'; UPDATE ledger_head SET policies = 2, policy_chain = (SELECT chain FROM policy WHERE version = 'P2')"
run ctl ledger verify --anchor "$panchor"
expect_rc 1 "verify --anchor PN:HASH after removing the last version"
expect_match "$OUT" "BROKEN: the policy versions do not match the anchor P3:" "policy anchor mismatch named"
cp "$SCRATCH/policy.db" "$DB"; rm -f "$DB-wal" "$DB-shm"
head_anchor=$(ctl ledger verify | sed -n 's/^ledger intact: .*head \([0-9]*:[0-9a-f]*\)$/\1/p')
run ctl ledger verify --anchor "$head_anchor,$panchor"
expect_rc 0 "both anchors together on the intact store"
run ctl ledger verify --anchor "P4:${panchor#*:}"
expect_rc 1 "an anchor naming more versions than there are"
finish
