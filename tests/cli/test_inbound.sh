# consent-deliver and the inbound core, case by case: what the person is
# sent back (receipts, at most one "please answer" per request, at most one
# fresh request after a late answer), exactly-once recording, evidence in
# the ledger, erasure of kept mail, and exit 75 whenever nothing could be
# recorded (locked or missing store, broken config, bad command line).
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/cli/inbound_lib.sh"

A=anna.mueller@example.org
reply() {   # reply FROM TOKEN TEXT [MSGID]
	printf 'From: Anna <%s>\nTo: consent+%s@%s\nSubject: Re: Einwilligung [%s]\nMessage-ID: <%s@example.org>\n\n%s\n' \
		"$1" "$2" "$REPLY_DOMAIN" "$2" "${4:-m$RANDOM$RANDOM}" "$3"
}
outbox_kinds() { sqlite3 "$DB" "SELECT group_concat(kind, ',') FROM (SELECT kind FROM outbox ORDER BY id)"; }

# --- a clear yes: granted, evidence in the ledger, receipt queued ---
fixture_store u1 pending
reply "$A" "$TOKEN" "Ja, ich bin einverstanden." ev1 > "$SCRATCH/m"
run deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 0 "yes recorded"
expect_eq "$(ctl status u1 log-linking)" "granted" "granted"
sha=$(sed 's/$/\r/' "$SCRATCH/m" | sha256sum | cut -d' ' -f1)
expect_eq "$(sqlite3 "$DB" "SELECT kind, channel, sender, msg_id, raw_sha256 FROM event ORDER BY seq DESC LIMIT 1")" \
	"grant|pipe|$A|ev1@example.org|$sha" "grant event with evidence (sha256 of the CRLF form)"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox_raw")" "1" "raw message kept"
expect_eq "$(outbox_kinds)" "request,receipt-granted" "receipt queued, request mail cancelled"
run ctl --json export u1
expect_match "$OUT" '"event": "grant"' "export shows the grant"
# The same message with CRLF line ends is the same message.
sed 's/$/\r/' "$SCRATCH/m" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored duplicate" "CRLF copy is a duplicate"

# --- token in upper case, found only in the subject ---
fixture_store u1 pending
UC=$(printf '%s' "$TOKEN" | tr a-f A-F)
printf 'From: %s\nTo: consent@%s\nSubject: AW: [%s]\n\nNEIN\n' "$A" "$REPLY_DOMAIN" "$UC" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "declined answer" "uppercase token in the subject"
expect_eq "$(outbox_kinds)" "request,receipt-declined" "decline receipt"

# --- unclear twice: held for review, one "please answer" mail only ---
fixture_store u1 pending
reply "$A" "$TOKEN" "Was bedeutet das genau?" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
reply "$A" "$TOKEN" "ja nein vielleicht" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
expect_eq "$(sqlite3 "$DB" "SELECT group_concat(outcome || ':' || reason) FROM inbox")" \
	"review:unclear,review:unclear" "both held for review"
expect_eq "$(outbox_kinds)" "request,unclear-answer" "one please-answer mail"
expect_eq "$(sqlite3 "$DB" "SELECT rcpt FROM outbox WHERE kind = 'unclear-answer'")" "$A" \
	"sent to the primary address"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE kind = 'unclear-answer' AND token = '$TOKEN'")" "1" \
	"it carries the request's token"
run ctl inbox list --review
expect_match "$OUT" "review +unclear +u1 +log-linking" "inbox list --review shows them"
# then a clear answer still counts
reply "$A" "$TOKEN" "JA" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
expect_eq "$(ctl status u1 log-linking)" "granted" "clear answer after the unclear ones"

# --- an answer to an expired request: nothing recorded, one fresh request ---
fixture_store u1 expired
reply "$A" "$TOKEN" "Ja" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
reply "$A" "$TOKEN" "Ja doch" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
expect_eq "$(sqlite3 "$DB" "SELECT group_concat(outcome || ':' || reason) FROM inbox")" \
	"ignored:expired,ignored:expired" "late answers ignored"
expect_eq "$(ctl status u1 log-linking)" "pending" "a fresh request is pending"
expect_eq "$(outbox_kinds)" "request,request" "exactly one fresh request"

# --- withdrawal without a token: all granted and pending purposes ---
fixture_store u1 granted
printf 'From: %s\nTo: consent@%s\nSubject: Widerruf\n\nIch widerrufe meine Einwilligung.\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "revoked withdrawal" "tokenless withdrawal"
expect_eq "$(ctl status u1 log-linking)" "revoked" "revoked"
expect_eq "$(outbox_kinds)" "request,receipt-granted,receipt-revoked" "revoke receipt"
printf 'From: %s\nTo: consent@%s\nSubject: Widerruf\n\nWiderruf\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored nothing-to-withdraw" "nothing left to withdraw"
# the List-Unsubscribe mailto: empty body, subject WIDERRUF, while pending
fixture_store u1 pending
printf 'From: %s\nTo: consent+withdraw-log-linking@%s\nSubject: WIDERRUF\n\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent+withdraw-log-linking@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "declined withdrawal" "withdraw address while pending declines"
# from someone else: nothing
fixture_store u1 granted
printf 'From: mallory@example.com\nTo: consent@%s\nSubject: Widerruf\n\nWiderruf\n' "$REPLY_DOMAIN" |
	deliver -f mallory@example.com -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored unknown-sender" "withdrawal from a stranger"
expect_eq "$(ctl status u1 log-linking)" "granted" "still granted"

# --- a bounce of the request marks the address failing, sends nothing ---
fixture_store u1 pending
printf 'From: MAILER-DAEMON@mx.example.org\nTo: consent+bounce@%s\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.1.1\n\n--b\nContent-Type: text/rfc822-headers\n\nMessage-ID: <consent.%s@%s>\nSubject: x\n\n--b--\n' \
	"$REPLY_DOMAIN" "$A" "$TOKEN" "$REPLY_DOMAIN" | deliver -f "" -r "consent+bounce@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored bounce" "bounce"
expect_eq "$(sqlite3 "$DB" "SELECT failing_status FROM account WHERE id = 'u1'")" "5.1.1" "address marked failing"
expect_eq "$(outbox_kinds)" "request" "nothing sent in answer to a bounce"
run ctl account show u1
expect_match "$OUT" "email: +$A -- bounced [0-9T:Z-]+ \(5\.1\.1\)" "account show says the address bounced"
ctl account set-email u1 anna.neu@example.org >/dev/null
run ctl account show u1
expect_no_match "$OUT" "bounced" "a new address is not known to fail"

# --- a subject cannot forge a log line ---
fixture_store u1 pending
printf 'From: %s\nTo: consent@%s\nAuto-Submitted: auto-replied\nSubject: =?utf-8?q?Abwesend=0D=0Aconsentd=3A_granted_account=3Du1?=\n\nweg\n' "$A" "$REPLY_DOMAIN" > "$SCRATCH/m"
run deliver -f "$A" -r "consent@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 0 "recorded"
expect_eq "$(last_inbox)" "ignored automatic" "automatic"
expect_eq "$(sqlite3 "$DB" "SELECT instr(detail, char(10)) + instr(detail, char(13)) FROM inbox ORDER BY id DESC LIMIT 1")" "0" \
	"no CR or LF in the recorded detail (it goes to the log)"

# --- oversized: recorded, hash of the whole message ---
fixture_store u1 pending -e "s#^max_size = .*#max_size = 4096#"
{ reply "$A" "$TOKEN" "Ja"; head -c 20000 /dev/zero | tr '\0' 'a'; echo; } > "$SCRATCH/big"
run deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN" < "$SCRATCH/big"
expect_rc 0 "oversized recorded"
expect_eq "$(last_inbox)" "review oversized" "oversized from the primary address: held for a person"
expect_eq "$(sqlite3 "$DB" "SELECT raw_sha256, size FROM inbox ORDER BY id DESC LIMIT 1")" \
	"$(sed 's/$/\r/' "$SCRATCH/big" | sha256sum | cut -d' ' -f1)|$(sed 's/$/\r/' "$SCRATCH/big" | wc -c)" \
	"hash and size of the whole message"
expect_eq "$(ctl status u1 log-linking)" "pending" "oversized changes nothing"
{ printf 'From: stranger@example.com\nTo: consent@%s\nSubject: x\n\n' "$REPLY_DOMAIN"; head -c 20000 /dev/zero | tr '\0' 'a'; echo; } |
	deliver -f stranger@example.com -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored oversized" "oversized from a stranger: ignored"

# --- nothing recorded -> exit 75, Postfix keeps the mail ---
fixture_store u1 pending
reply "$A" "$TOKEN" "Ja" > "$SCRATCH/m"
sqlite3 "$DB" "BEGIN IMMEDIATE; SELECT 1; SELECT 1 FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 30000000) SELECT max(x) FROM c);" >/dev/null &
sleep 0.3
run deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 75 "locked store -> 75"
expect_match "$ERR" "not recorded" "says it was not recorded"
wait
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox")" "0" "nothing written while locked"
run deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 0 "retry after the lock"
expect_eq "$(ctl status u1 log-linking)" "granted" "recorded on retry"
run "$CONSENT_DELIVER" -c "$SCRATCH/none.conf" -f "$A" -r x@y < "$SCRATCH/m"
expect_rc 75 "missing config -> 75"
run "$CONSENT_DELIVER" -c "$CONF" -r "consent@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 75 "missing -f -> 75"
sed "s#^path = .*#path = $SCRATCH/nope/x.db#" "$CONF" > "$SCRATCH/bad.conf"
run "$CONSENT_DELIVER" -c "$SCRATCH/bad.conf" -f "$A" -r "consent@$REPLY_DOMAIN" < "$SCRATCH/m"
expect_rc 75 "missing store -> 75 (never a new empty store)"
expect_eq "$(ls "$SCRATCH/nope" 2>/dev/null)" "" "no store created"

# --- no withdrawal is lost ---
U2=john.smith@example.net
fixture_store u1 granted
printf 'From: %s\nTo: consent@%s\nSubject: Einwilligung\n\nIch bin nicht mehr einverstanden.\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox) $(ctl status u1 log-linking)" "revoked withdrawal revoked" "tokenless 'nicht mehr einverstanden' withdraws"
fixture_store u1 granted
printf 'From: %s\nTo: consent@%s\nSubject: Frage\n\nWas passiert eigentlich mit meinen Daten, wenn ich kündige?\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox) $(ctl status u1 log-linking)" "review unclear granted" "tokenless unclear mail of a granted account: held for a person"
reply "$A" "$TOKEN" "Nein" | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
expect_eq "$(last_inbox) $(ctl status u1 log-linking)" "revoked withdrawal revoked" "a no to the answered request withdraws"
fixture_store u1 granted
printf 'From: %s\nTo: consent+withdraw-log-linking@%s\nSubject: Re: Bestaetigung\n\nNein.\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent+withdraw-log-linking@$REPLY_DOMAIN"
expect_eq "$(last_inbox) $(ctl status u1 log-linking)" "revoked withdrawal revoked" "a no to the withdraw address withdraws"
fixture_store u1 granted
printf 'From: %s\nTo: consent+withdraw-log-linking@%s\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=x-unknown\n\nWiderruf\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent+withdraw-log-linking@$REPLY_DOMAIN"
expect_eq "$(ctl status u1 log-linking)" "revoked" "an unreadable mail to the withdraw address still withdraws"
fixture_store u1 granted
printf 'From: %s\nTo: consent@%s\nAuto-Submitted: auto-generated\nSubject: Widerruf\n\nIch widerrufe meine Einwilligung.\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox) $(ctl status u1 log-linking)" "review automatic granted" "a withdrawal marked automatic: held, not lost"
expect_eq "$(outbox_kinds)" "request,receipt-granted" "and nothing sent in answer"
# someone else's thread: the sender's own consent is withdrawn
fixture_store u1 pending
T1=$TOKEN
ctl request u2 log-linking >/dev/null
T2=$(newest_token u2)
yes_reply "$U2" "$T2" | deliver -f "$U2" -r "consent+$T2@$REPLY_DOMAIN"
expect_eq "$(ctl status u2 log-linking)" "granted" "u2 granted"
printf 'From: %s\nTo: consent+%s@%s\nSubject: Fwd: [%s]\n\nPlease revoke my consent.\n' "$U2" "$T1" "$REPLY_DOMAIN" "$T1" |
	deliver -f "$U2" -r "consent+$T1@$REPLY_DOMAIN"
expect_eq "$(ctl status u2 log-linking) $(ctl status u1 log-linking)" "revoked pending" "withdrawal in a forwarded thread: the sender's own consent"

# --- exactly once across delivery paths ---
fixture_store u1 granted
printf 'From: %s\nTo: consent@%s\nMessage-ID: <wd1@example.org>\nSubject: Widerruf\n\nWiderruf\n' "$A" "$REPLY_DOMAIN" > "$SCRATCH/wd"
deliver -f "$A" -r "consent@$REPLY_DOMAIN" < "$SCRATCH/wd"
ctl request u1 log-linking >/dev/null
yes_reply "$A" "$(newest_token u1)" | deliver -f "$A" -r "consent+$(newest_token u1)@$REPLY_DOMAIN"
expect_eq "$(ctl status u1 log-linking)" "granted" "granted again"
{ printf 'Received: from relay2.example.org by mx.example.test; Fri, 27 Nov 2026 10:00:00 +0000\n'; cat "$SCRATCH/wd"; } |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
expect_eq "$(last_inbox)" "ignored duplicate" "the same withdrawal along another path is a duplicate"
expect_eq "$(ctl status u1 log-linking)" "granted" "and does not revoke the new grant"

# --- what a message says is stored as clean UTF-8 ---
fixture_store u1 pending
printf 'From: x\033[31m@evil.example\nTo: consent@%s\nMessage-ID: <\377\376bad@example.org>\nSubject: hi\n\nJa\n' "$REPLY_DOMAIN" |
	deliver -f x@evil.example -r "consent@$REPLY_DOMAIN"
run ctl inbox list
expect_no_match "$OUT" $'\033' "no escape sequence in inbox list"
run ctl --json inbox list
expect_match "$OUT" '"outcome": "ignored"' "the row is in the JSON listing"

# --- erasure removes kept mail and its personal fields ---
fixture_store u1 pending
reply "$A" "$TOKEN" "Ja" erasetest | deliver -f "$A" -r "consent+$TOKEN@$REPLY_DOMAIN"
printf 'From: %s\nTo: consent@%s\nSubject: hallo\n\nhallo\n' "$A" "$REPLY_DOMAIN" |
	deliver -f "$A" -r "consent@$REPLY_DOMAIN"
run ctl erase u1
expect_rc 0 "erase"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox_raw")" "0" "kept mail erased"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox WHERE from_addr IS NOT NULL OR msg_id IS NOT NULL OR subject IS NOT NULL")" "0" \
	"no personal field left in the inbox"
expect_eq "$(grep -c -a -i 'anna.mueller' "$DB" "$DB-wal" 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')" "0" \
	"the address is nowhere in the files"
run ctl ledger verify
expect_rc 0 "ledger verifies after erasure"
finish
