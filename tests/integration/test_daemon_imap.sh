#!/bin/bash
# consentd as a daemon reading IMAP: a reply is judged within seconds of
# its arrival (IDLE wakes it, no 5 s poll wait needed); Dovecot restarted
# under it: consentd reconnects with backoff and judges the next reply;
# SIGTERM while it idles stops it at once.
. "$(dirname "$0")/../cli/lib.sh"
: "${CONSENTD:?}"
STACK=$SRC_DIR/contrib/mailstack/mailstack.sh
BASE=$(mktemp -d /tmp/csdy.XXXXXX)
export IMAP_PORT=12791 LMTP_PORT=12792 SMTP_PORT=12793 SINK_PORT=12794
export DOVECOT_HOSTDOMAIN=imap.example.test
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; bash "$STACK" down "$BASE" >/dev/null 2>&1; rm -rf "$BASE"; }
trap cleanup EXIT
printf 'secret\n' > "$SCRATCH/imap.secret"
chmod 600 "$SCRATCH/imap.secret"
write_conf -e "s#^reply_domain = .*#reply_domain = example.test#" -e "s#^port = 25#port = $SMTP_PORT#" \
	-e "/^\[imap\]/,/^\[/s#^enabled = .*#enabled = yes#" -e "/^\[imap\]/,/^\[/s#^port = .*#port = $IMAP_PORT#" \
	-e "/^\[imap\]/,/^\[/s#^user = .*#user = consent@example.test#" \
	-e "/^\[imap\]/,/^\[/s#^password_file =.*#password_file = $SCRATCH/imap.secret#"
if ! bash "$STACK" up "$BASE" > "$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"; fail "mail stack did not start"; finish
fi
# token ACCOUNT - the plaintext token of its queued request (read before the
# daemon sends the mail and drops it).
token() {
	sqlite3 "$DB" "SELECT o.token FROM outbox o JOIN account a ON a.key = o.acct
		WHERE a.id = '$1' AND o.token IS NOT NULL ORDER BY o.id DESC LIMIT 1"
}
reply() {  # reply TOKEN ADDRESS TEXT - answer a request through Postfix
	local tok=$1
	printf 'From: %s\nTo: consent+%s@example.test\nSubject: Re: [%s]\n\n%s\n' "$2" "$tok" "$tok" "$3" > "$SCRATCH/r"
	swaks --server "127.0.0.1:$SMTP_PORT" --from "$2" --to "consent+$tok@example.test" \
		--data "$SCRATCH/r" >/dev/null 2>&1 || fail "swaks"
}
wait_state() {  # wait_state ACCOUNT STATE TENTHS
	for _ in $(seq "$3"); do [ "$(ctl status "$1" log-linking)" = "$2" ] && return 0; sleep 0.1; done
	return 1
}
ctl account add u1 test@example.test >/dev/null
ctl request u1 log-linking >/dev/null
tok1=$(token u1)
"$CONSENTD" -c "$CONF" -f 2>"$SCRATCH/d.log" &
pid=$!
for _ in $(seq 50); do grep -q started "$SCRATCH/d.log" && break; sleep 0.1; done
sleep 1   # the first pass is done and consentd idles
reply "$tok1" test@example.test "Ja"
# Postfix + LMTP + Dovecot's 0.5 s notification batching + the pass: well
# under the 5 s poll interval when IDLE works.
wait_state u1 granted 40 || fail "reply not judged within 4 s"
expect_eq "$(ctl status u1 log-linking)" "granted" "granted by the running daemon"

bash "$STACK" down "$BASE" >/dev/null 2>&1
bash "$STACK" up "$BASE" > "$SCRATCH/stack2.log" 2>&1 || fail "stack restart"
ctl account add u2 app@example.test >/dev/null
ctl request u2 log-linking >/dev/null
# The running daemon sends it at once: take the token from the delivered mail.
tok2=
for _ in $(seq 100); do
	tok2=$(cat "$BASE/mail/app@example.test/Maildir/new/"* 2>/dev/null |
		grep -o -m1 'consent+[0-9a-f]\{32\}@' | grep -o '[0-9a-f]\{32\}')
	[ -n "$tok2" ] && break
	sleep 0.1
done
expect_match "$tok2" "^[0-9a-f]{32}$" "the request reached app@example.test"
reply "$tok2" app@example.test "Yes"
wait_state u2 granted 400 || fail "reply after the Dovecot restart not judged within 40 s"
expect_eq "$(ctl status u2 log-linking)" "granted" "judged after reconnecting"
expect_match "$(cat "$SCRATCH/d.log")" "imap 127.0.0.1:$IMAP_PORT: .*trying again in [0-9]+ s" "the broken connection is logged with the backoff"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox")" "2" "each reply recorded once"
run ctl stats
expect_match "$OUT" "imap +INBOX last read [0-9T:Z-]+ \([0-9]+ s ago\), last UID [0-9]+" "stats: when consentd last read the mailbox"
expect_no_match "$OUT" "STALE" "stats: the mailbox is read, not stale"
expect_match "$OUT" "inbox +2 messages, 0 held for review" "stats: the inbox"

start=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"
RC=$?
pid=
expect_rc 0 "SIGTERM while idling: clean exit"
expect_eq "$(( ($(date +%s%N) - start) / 1000000000 ))" "0" "stopped within a second"
expect_match "$(cat "$SCRATCH/d.log")" "stopped" "says so"
finish
