#!/bin/bash
# A broadcast's queueing killed with SIGKILL again and again: each rerun of
# `broadcast start` resumes where the last one stopped, and in the end every
# account has exactly one announcement queued (the store's unique index and
# the cursor moved in the same transaction as the mail). The same for a
# consentd that finds a broadcast whose consentctl died.
. "$(dirname "$0")/lib.sh"
N=${CRASH_ACCOUNTS:-100000}
write_conf
printf 'Wir ändern die Speicherdauer.\n' > "$SCRATCH/de.txt"
awk -v n="$N" 'BEGIN { print "id,email,name,lang"; for (i = 1; i <= n; i++)
	printf "u%d,user%d@d%d.example.test,,%s\n", i, i, i % 7, (i % 2 ? "de" : "en") }' > "$SCRATCH/a.csv"
run ctl account import "$SCRATCH/a.csv"
expect_rc 0 "$N accounts imported"
run ctl policy publish 2.0 --effective 2027-01-01 --material --summary de="$SCRATCH/de.txt"
expect_rc 0 "version published"

queued() { sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE kind = 'policy-change'"; }
kills=0 partial=0
for i in $(seq 1 30); do
	"$CONSENTCTL" -c "$CONF" broadcast start 2.0 > "$SCRATCH/start.out" 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 9 + 1))"
	if kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
		n=$(queued)
		[ "$n" -gt 0 ] && [ "$n" -lt "$N" ] && partial=$((partial + 1))
	fi
	wait "$pid" 2>/dev/null
	[ "$(sqlite3 "$DB" "SELECT finished IS NOT NULL FROM campaign")" = 1 ] && break
done
echo "queueing killed $kills times ($partial of them part-way)"
[ "$kills" -ge 3 ] || fail "queueing was killed only $kills times (machine too fast for $N accounts?)"
[ "$partial" -ge 1 ] || fail "no kill landed part-way through the queueing"
was_finished=$(sqlite3 "$DB" "SELECT finished IS NOT NULL FROM campaign")
run ctl broadcast start 2.0
if [ "$was_finished" = 1 ]; then
	expect_rc 1 "a finished broadcast is not queued again"
else
	expect_rc 0 "the last start finishes the queueing"
fi
expect_eq "$(queued)" "$N" "one announcement per account after $kills kills"
expect_eq "$(sqlite3 "$DB" "SELECT count(DISTINCT acct) FROM outbox WHERE kind = 'policy-change'")" "$N" "no account twice"
expect_eq "$(sqlite3 "$DB" "SELECT accounts FROM campaign")" "$N" "the broadcast counted every account once"
run ctl --json broadcast status 2.0
expect_match "$OUT" "\"queued\": $N," "status counts them"

# consentd finishes a broadcast whose consentctl died (consentd --once does
# it at once; the daemon after 30 s without progress).
write_conf -e "s#^port = 25#port = 1#"
run ctl policy publish 3.0 --effective 2027-01-01 --material --summary de="$SCRATCH/de.txt"
"$CONSENTCTL" -c "$CONF" broadcast start 3.0 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM campaign WHERE name = '3.0'")" = 1 ] && break
	sleep 0.01
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
before=$(sqlite3 "$DB" "SELECT count(*) FROM outbox o JOIN campaign c ON c.id = o.campaign WHERE c.name = '3.0'")
[ "$before" -lt "$N" ] || echo "note: consentctl finished before the kill"
# SMTP on port 1 is refused at once: consentd only queues and defers.
"$CONSENTD" -c "$CONF" -f --once > /dev/null 2>"$SCRATCH/consentd.log"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox o JOIN campaign c ON c.id = o.campaign WHERE c.name = '3.0'")" "$N" "consentd finished the queueing ($before were queued when consentctl died)"
expect_eq "$(sqlite3 "$DB" "SELECT finished IS NOT NULL FROM campaign WHERE name = '3.0'")" "1" "and marked it finished"
run ctl ledger verify
expect_rc 0 "ledger verifies"
finish
