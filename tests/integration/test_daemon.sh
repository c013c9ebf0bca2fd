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
finish
