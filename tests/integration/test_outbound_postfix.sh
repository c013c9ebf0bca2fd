#!/bin/bash
# consentd -> real Postfix (127.0.0.1, own config) -> Dovecot LMTP -> a real
# mailbox: the request arrives intact, the receipt follows a withdrawal, an
# unknown recipient fails with Postfix's 550 and is reported.
. "$(dirname "$0")/../cli/lib.sh"
: "${CONSENTD:?}" "${MAILCHECK:?}"
STACK=$SRC_DIR/contrib/mailstack/mailstack.sh
BASE=$(mktemp -d /tmp/csdo.XXXXXX)
export IMAP_PORT=12631 LMTP_PORT=12632 SMTP_PORT=12633 SINK_PORT=12634
export DOVECOT_HOSTDOMAIN=imap.example.test
cleanup() { bash "$STACK" down "$BASE" >/dev/null 2>&1; rm -rf "$BASE"; }
trap cleanup EXIT
if ! bash "$STACK" up "$BASE" > "$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"
	fail "mail stack did not start"
	finish
fi
write_conf -e "s#^port = 25#port = $SMTP_PORT#"
DOVEADM=(doveadm -c "$BASE/dovecot/dovecot.conf")
inbox() { "${DOVEADM[@]}" mailbox status -u "$1" messages INBOX 2>/dev/null | sed 's/.*=//'; }
wait_inbox() {  # wait_inbox USER COUNT
	for _ in $(seq 200); do [ "$(inbox "$1")" = "$2" ] && return 0; sleep 0.05; done
	return 1
}
newest() { ls -t "$BASE/mail/$1/Maildir/new/"* "$BASE/mail/$1/Maildir/cur/"* 2>/dev/null | head -1; }

ctl account add t1 test@example.test --name "Tëst Persön" --lang de >/dev/null
ctl request t1 log-linking >/dev/null
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "consentd --once against Postfix"
expect_match "$ERR" "to=<test@example.test> status=sent tries=1 response=250 2.0.0 Ok: [0-9]+ bytes queued as [0-9A-F]+" "log line with Postfix's queue id"
wait_inbox test@example.test 1 || fail "request did not reach the Dovecot mailbox"
msg=$(newest test@example.test)
run "$MAILCHECK" "$msg"
expect_rc 0 "delivered message parses"
expect_match "$OUT" "HEADER: Delivered-To: test@example.test" "delivered by Dovecot LMTP"
expect_match "$OUT" "HEADER: Return-Path: <consent\+bounce@cloudwerk.example>" "bounces come back to the consent mailbox"
expect_match "$OUT" "HEADER: To: Tëst Persön <test@example.test>" "To decoded"
expect_match "$OUT" "HEADER: Reply-To: <consent\+[0-9a-f]{32}@cloudwerk.example>" "Reply-To with token"
expect_match "$OUT" "HEADER: Subject: Bitte um Ihre Einwilligung: .* \[[0-9a-f]{32}\]" "Subject with reference"
expect_match "$OUT" "freiwillig" "body decodes: voluntary"
expect_match "$OUT" "Musterstraße" "body decodes: controller address in UTF-8"

ctl revoke t1 log-linking --reason "Brief vom 27.11." >/dev/null
run "$CONSENTD" -c "$CONF" -f --once
wait_inbox test@example.test 2 || fail "receipt did not arrive"
msg=$(newest test@example.test)
run "$MAILCHECK" "$msg"
expect_match "$OUT" "HEADER: Message-ID: <receipt\.[0-9a-f]+@cloudwerk.example>" "receipt Message-ID"
expect_match "$OUT" "HEADER: List-Unsubscribe: <mailto:consent\+withdraw-log-linking@" "receipt says how to withdraw"
expect_match "$OUT" "HEADER: Reply-To: <consent\+withdraw-log-linking@cloudwerk.example>" "answering the receipt reaches the consent mailbox"

ctl account add t2 nobody-here@example.test >/dev/null
ctl request t2 log-linking >/dev/null
run "$CONSENTD" -c "$CONF" -f --once
run ctl outbox list --state failed
expect_match "$OUT" "nobody-here@example.test .* 550 5\.1\.1" "Postfix's 550 5.1.1 recorded"
run ctl ledger verify
expect_rc 0 "ledger intact"
finish
