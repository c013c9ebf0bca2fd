#!/bin/bash
# consentd as a daemon: one instance per store, mail queued while it runs
# goes out within its poll interval, SIGHUP with a broken configuration
# keeps the old one, SIGTERM stops it cleanly.
. "$(dirname "$0")/../cli/lib.sh"
: "${CONSENTD:?}"
PORT=12650
write_conf -e "s#^port = 25#port = $PORT#"
/usr/sbin/smtp-sink -u nobody 127.0.0.1:$PORT 64 > "$SCRATCH/sink.log" 2>&1 &
SINKPID=$!
DPID=
cleanup() { [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null; kill "$SINKPID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.02; done
ctl account add d1 d1@example.test >/dev/null
LOG=$SCRATCH/consentd.log
"$CONSENTD" -c "$CONF" -f 2>"$LOG" &
DPID=$!
sleep 0.5

run "$CONSENTD" -c "$CONF" -f --once
expect_rc 1 "a second consentd on the same store is refused"
expect_match "$ERR" "another consentd \(pid $DPID\) already runs" "it names the running one"
# --once never detaches: without -f its caller (cron) still gets the status.
run "$CONSENTD" -c "$CONF" --once
expect_rc 1 "--once without -f: the refusal is its exit status"

wait_state() {  # wait_state STATE COUNT SECONDS
	for _ in $(seq $(($3 * 10))); do
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE state = '$1'")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
ctl request d1 log-linking >/dev/null
wait_state sent 1 8 || fail "mail queued while consentd runs was not sent within 8 s"

cp "$CONF" "$SCRATCH/good.conf"
echo "this is not a key" >> "$CONF"
kill -HUP $DPID
sleep 0.5
kill -0 $DPID 2>/dev/null || fail "consentd died on SIGHUP with a broken configuration"
expect_match "$(cat "$LOG")" "syntax error" "the broken line is reported"
expect_match "$(cat "$LOG")" "reload failed; keeping the old configuration" "old configuration kept"
cp "$SCRATCH/good.conf" "$CONF"
ctl account add d2 d2@example.test >/dev/null
ctl request d2 log-linking >/dev/null
wait_state sent 2 8 || fail "consentd stopped sending after a failed reload"
kill -HUP $DPID
sleep 0.5
expect_match "$(cat "$LOG")" "reloaded configuration and templates" "a good reload is taken"

kill -TERM $DPID
for _ in $(seq 50); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
wait $DPID
RC=$?
DPID=
expect_rc 0 "SIGTERM: clean exit"
expect_match "$(cat "$LOG")" "stopped" "stop logged"

# SIGTERM in the middle of a slow session: the message in flight is
# finished and recorded, the rest go back to the queue untouched.
kill "$SINKPID" 2>/dev/null; wait "$SINKPID" 2>/dev/null
/usr/sbin/smtp-sink -u nobody -W .:1 127.0.0.1:$PORT 64 > "$SCRATCH/sink2.log" 2>&1 &
SINKPID=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.02; done
printf 'id,email\n' > "$SCRATCH/t.csv"
for i in $(seq 20); do printf 't%d,t%d@example.test\n' "$i" "$i"; done >> "$SCRATCH/t.csv"
ctl account import "$SCRATCH/t.csv" >/dev/null
for i in $(seq 20); do ctl request t$i log-linking >/dev/null; done
"$CONSENTD" -c "$CONF" -f 2>"$SCRATCH/term.log" &
DPID=$!
sleep 2.5
kill -TERM $DPID
t0=$SECONDS
wait $DPID
RC=$?
DPID=
expect_rc 0 "SIGTERM mid-session: clean exit"
[ $((SECONDS - t0)) -le 3 ] || fail "SIGTERM took $((SECONDS - t0)) s: more than the message in flight"
sent=$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE rcpt LIKE 't%@example.test' AND state = 'sent'")
queued=$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE rcpt LIKE 't%@example.test' AND state = 'queued' AND attempts = 0")
expect_eq "$((sent + queued))" "20" "every message is sent or back in the queue, attempt not counted ($sent sent)"
[ "$queued" -gt 0 ] || fail "SIGTERM did not interrupt the batch"
finish
