#!/bin/bash
# crash_imap.sh - kill -9 of consentd again and again while it reads a
# Dovecot mailbox full of replies over IMAP (loopback Postfix + Dovecot from
# contrib/mailstack).
#
# Each wave: W accounts get a consent request (consentctl request --all);
# for each, a reply from the account's address with its token (8 in 10
# "Ja", 1 in 10 "Nein", 1 in 10 unclear: held for review) is put into the
# consent mailbox's Maildir (tmp/ then new/, as an MTA delivers). Then
# consentd -f is started and killed with SIGKILL after a random life, again
# and again, until every reply is recorded and the INBOX is empty; another
# wave follows while fewer than MIN_KILLS kills hit the daemon during its
# ingest (it recorded replies in that life and replies were still waiting
# after the kill). Then one clean consentd --once.
#
# Evidence: the replies we put there (Message-ID, account, expected answer),
# the store's inbox table and ledger, and Dovecot's mailboxes:
#   lost          a reply with no inbox row of its own (not a duplicate),
#                 or its account not in the state the reply asks for;
#   double        a Message-ID with more than one inbox row not marked as
#                 duplicate, an account with more than one answer event
#                 (grant/decline) in the ledger or more than one receipt
#                 queued; a message read again after a kill must be
#                 recorded as "ignored duplicate" (their number is shown);
#   Dovecot       INBOX empty, consent/processed + consent/review hold
#                 every reply exactly once;
#   consentctl ledger verify.
#
# Env: RELIABILITY_IMAP_WAVE (4000 replies per wave, at most 5 waves),
# RELIABILITY_KILLS (20), RELIABILITY_IMAP_KILL_MS (80-400).
# Ports: IMAP 12881, LMTP 12882, SMTP 12883, smtp-sink 12884; consentd's own
# SMTP goes to 12899, where nothing listens (receipts stay queued).
. "$(dirname "$0")/common.sh"
: "${CONSENTD:?}"
WAVE=${RELIABILITY_IMAP_WAVE:-4000}
MIN_KILLS=${RELIABILITY_KILLS:-20}
KILL_MS=${RELIABILITY_IMAP_KILL_MS:-80-400}
KMIN=${KILL_MS%-*} KMAX=${KILL_MS#*-}
AREA="kill -9 during IMAP ingest"
export IMAP_PORT=12881 LMTP_PORT=12882 SMTP_PORT=12883 SINK_PORT=12884
export DOVECOT_HOSTDOMAIN=imap.example.test
BASE=$(mktemp -d /tmp/csri.XXXXXX)
DAEMONPID=
cleanup() {
	[ -z "$DAEMONPID" ] || { kill -9 "$DAEMONPID" 2>/dev/null; wait "$DAEMONPID" 2>/dev/null; }
	bash "$STACK" down "$BASE" >/dev/null 2>&1
	rm -rf "$BASE"
}
trap cleanup EXIT

port_free 12899 || fail "127.0.0.1:12899 is in use (consentd's SMTP must find it closed)"
printf 'secret\n' >"$SCRATCH/imap.secret"
chmod 600 "$SCRATCH/imap.secret"
chown --reference="$SCRATCH" "$SCRATCH/imap.secret"
write_conf -e "s#^reply_domain = .*#reply_domain = example.test#" -e "s#^port = 25#port = 12899#" \
	-e "s#^timeout = 60#timeout = 5#" \
	-e "/^\[imap\]/,/^\[/s#^enabled = .*#enabled = yes#" -e "/^\[imap\]/,/^\[/s#^port = .*#port = $IMAP_PORT#" \
	-e "/^\[imap\]/,/^\[/s#^user = .*#user = consent@example.test#" \
	-e "/^\[imap\]/,/^\[/s#^password_file =.*#password_file = $SCRATCH/imap.secret#"
if ! bash "$STACK" up "$BASE" >"$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"
	fail "mail stack did not start"
fi
setup_done "$AREA"
LOG=$SCRATCH/consentd.log
MD=$BASE/mail/consent@example.test/Maildir
DOVEADM=(doveadm -c "$BASE/dovecot/dovecot.conf")
count() { "${DOVEADM[@]}" mailbox status -u consent@example.test messages "$1" 2>/dev/null | sed 's/.*=//'; }
# The first login creates the Maildir; consentd creates its folders.
"${DOVEADM[@]}" mailbox status -u consent@example.test messages INBOX >/dev/null 2>&1
mkdir -p "$MD/tmp" "$MD/new" "$MD/cur"
chown -R --reference="$BASE/mail" "$MD"

# wave K - W new accounts w<K>-<i> with a request each, and their replies
# in the INBOX. Appends "msgid account expected-state" to $SCRATCH/expect.
wave() {
	local k=$1 q
	awk -v k="$k" -v n="$WAVE" 'BEGIN {
		print "id,email,name,lang"
		for (i = 1; i <= n; i++) printf "w%d-%d,w%d.%d@example.org,W %d %d,%s\n", k, i, k, i, k, i, i % 2 ? "de" : "en"
	}' >"$SCRATCH/wave$k.csv"
	run ctl account import "$SCRATCH/wave$k.csv"
	expect_rc 0 "wave $k: import $WAVE accounts"
	run ctl request --all log-linking
	expect_rc 0 "wave $k: request --all"
	# id, address, token of each new request (the outbox keeps the token
	# until the mail is sent; consentd's SMTP port is closed).
	q="SELECT a.id, a.email, o.token FROM outbox o JOIN account a ON a.key = o.acct
	   WHERE o.kind = 'request' AND o.token IS NOT NULL AND a.id LIKE 'w$k-%' ORDER BY a.key"
	sq -separator ' ' "$q" >"$SCRATCH/wave$k.tok"
	expect_eq "$(wc -l <"$SCRATCH/wave$k.tok")" "$WAVE" "wave $k: $WAVE tokens"
	awk -v md="$MD" -v k="$k" '
	{
		id = $1; addr = $2; tok = $3; n = split(id, p, "-"); i = p[n]
		if (i % 10 == 0) { body = "Nein, ich bin nicht einverstanden."; want = "declined" }
		else if (i % 10 == 5) { body = "Was genau bedeutet das? Ich verstehe die Frage nicht."; want = "pending" }
		else { body = "Ja"; want = "granted" }
		mid = "reply." id "@example.org"
		f = md "/tmp/1800000000.M" k "P" i ".reliability"
		printf "Return-Path: <%s>\r\nDelivered-To: consent+%s@example.test\r\n", addr, tok > f
		printf "From: <%s>\r\nTo: consent+%s@example.test\r\nSubject: Re: Einwilligung [%s]\r\n", addr, tok, tok > f
		printf "Message-ID: <%s>\r\nIn-Reply-To: <consent.%s@example.test>\r\n", mid, tok > f
		printf "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n" > f
		printf "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body > f
		close(f)
		print mid, id, want
	}' "$SCRATCH/wave$k.tok" >>"$SCRATCH/expect"
	chown -R --reference="$BASE/mail" "$MD/tmp"
	find "$MD/tmp" -name '*.reliability' -exec mv -t "$MD/new" {} +
	echo "wave $k: $WAVE replies in the INBOX ($(count INBOX) waiting)"
}

recorded() { sq "SELECT count(DISTINCT msg_id) FROM inbox WHERE msg_id LIKE 'reply.w%' AND dup_of IS NULL"; }
: >"$SCRATCH/expect"
T0=$SECONDS
kills=0 kills_mid=0 died=0 waves=0 lives=0
while [ "$waves" -lt 5 ]; do
	waves=$((waves + 1))
	wave "$waves"
	setup_done "$AREA"
	want=$(wc -l <"$SCRATCH/expect")
	while [ "$lives" -lt 400 ]; do
		lives=$((lives + 1))
		before=$(recorded)
		"$CONSENTD" -c "$CONF" -f 2>>"$LOG" &
		DAEMONPID=$!
		sleep_ms "$KMIN" "$KMAX"
		if kill -9 "$DAEMONPID" 2>/dev/null; then kills=$((kills + 1)); else died=$((died + 1)); fi
		wait "$DAEMONPID" 2>/dev/null
		DAEMONPID=
		now=$(recorded)
		inbox=$(count INBOX)
		[ "$now" -gt "$before" ] && { [ "$now" -lt "$want" ] || [ "$inbox" != 0 ]; } && kills_mid=$((kills_mid + 1))
		printf 'wave %d, kill %d: %d recorded in this life, %d of %d recorded, %s left in the INBOX\n' \
			"$waves" "$kills" $((now - before)) "$now" "$want" "$inbox"
		[ "$now" -ge "$want" ] && [ "$inbox" = 0 ] && break
	done
	[ "$kills_mid" -ge "$MIN_KILLS" ] && break
done
run timeout 300 "$CONSENTD" -c "$CONF" -f --once
cat "$SCRATCH/.stderr" >>"$LOG"
expect_rc 0 "a last clean consentd --once"
echo "kills: $kills ($kills_mid during ingest; the daemon exited on its own $died times) in $((SECONDS - T0)) s"

# ---- the evidence ----
N=$(wc -l <"$SCRATCH/expect")
sq -separator ' ' "SELECT i.msg_id, a.id, c.state FROM inbox i JOIN account a ON a.key = i.acct
	LEFT JOIN consent c ON c.acct = a.key AND c.purpose = 'log-linking'
	WHERE i.msg_id LIKE 'reply.w%' AND i.dup_of IS NULL" | sort >"$SCRATCH/got"
sort "$SCRATCH/expect" >"$SCRATCH/want"
# lost: expected (msgid account state) lines with no identical line in got
lost=$(comm -23 <(sort -u "$SCRATCH/want") <(sort -u "$SCRATCH/got") | wc -l)
unrecorded=$(comm -23 <(cut -d' ' -f1 "$SCRATCH/want" | sort -u) <(cut -d' ' -f1 "$SCRATCH/got" | sort -u) | wc -l)
multi=$(sq "SELECT count(*) FROM (SELECT msg_id FROM inbox WHERE msg_id LIKE 'reply.w%' AND dup_of IS NULL GROUP BY msg_id HAVING count(*) > 1)")
dupes=$(sq "SELECT count(*) FROM inbox WHERE msg_id LIKE 'reply.w%' AND dup_of IS NOT NULL")
dup_outcome=$(sq "SELECT count(*) FROM inbox WHERE dup_of IS NOT NULL AND NOT (outcome = 'ignored' AND reason = 'duplicate')")
answers2=$(sq "SELECT count(*) FROM (SELECT acct FROM event WHERE kind IN ('grant', 'decline') GROUP BY acct, purpose HAVING count(*) > 1)")
answers=$(sq "SELECT count(*) FROM event WHERE kind IN ('grant', 'decline')")
want_answers=$(awk '$3 != "pending"' "$SCRATCH/expect" | wc -l)
receipts2=$(sq "SELECT count(*) FROM (SELECT acct FROM outbox WHERE kind LIKE 'receipt%' GROUP BY acct HAVING count(*) > 1)")
nudges2=$(sq "SELECT count(*) FROM (SELECT acct FROM outbox WHERE kind NOT LIKE 'receipt%' AND kind <> 'request' GROUP BY acct, kind HAVING count(*) > 1)")
in_inbox=$(count INBOX)
filed=$(( $(count consent.processed) + $(count consent.review) ))
# Dovecot's copies by Message-ID: each reply filed exactly once.
filed_ids=$( { "${DOVEADM[@]}" fetch -u consent@example.test hdr.message-id mailbox consent.processed all
	"${DOVEADM[@]}" fetch -u consent@example.test hdr.message-id mailbox consent.review all; } 2>/dev/null |
	grep -io '<reply\.w[^>]*>' | sort | uniq -c | awk '$1 == 1' | wc -l)
kinds=$(sq "SELECT group_concat(kind || ':' || n, ' ') FROM (SELECT kind, count(*) n FROM outbox GROUP BY kind)")
echo "replies: $N in $waves wave(s); inbox rows not marked duplicate: $(wc -l <"$SCRATCH/got"); re-reads recorded as duplicate: $dupes; answer events $answers (want $want_answers); outbox: $kinds; Dovecot: INBOX $in_inbox, filed $filed"
run ctl ledger verify
verify_rc=$RC

A="$AREA ($kills_mid kills, $N replies)"
result_ge "$A" "kills while replies were being read" "$kills_mid" "$MIN_KILLS"
result_eq "$A" "daemon exits on its own (not killed)" "$died" 0
result_eq "$A" "lost (reply not recorded)" "$unrecorded" 0
result_eq "$A" "lost (account not in the state its reply asks)" "$lost" 0
result_eq "$A" "double-recorded (one message, 2+ rows; $dupes re-reads recorded as duplicate)" "$multi" 0
result_eq "$A" "re-reads recorded as anything but 'ignored duplicate'" "$dup_outcome" 0
result_eq "$A" "double-recorded (accounts with 2+ answer events)" "$answers2" 0
result_eq "$A" "answer events in the ledger" "$answers" "$want_answers"
result_eq "$A" "accounts with 2+ receipts or 2+ 'please answer' mails" "$((receipts2 + nudges2))" 0
result_eq "$A" "left in the Dovecot INBOX" "$in_inbox" 0
result_eq "$A" "replies filed once in processed/review (Dovecot)" "$filed_ids" "$N"
result_eq "$A" "ledger verify exit" "$verify_rc" 0
reli_finish
