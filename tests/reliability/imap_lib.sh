# imap_lib.sh - replies in a Dovecot mailbox read by consentd over IMAP, and
# the evidence of what became of them; sourced (after common.sh) by
# crash_imap.sh and dovecot_restart.sh. Set IMAP_PORT LMTP_PORT SMTP_PORT
# SINK_PORT and AREA first.
#
# imap_setup           a loopback mail stack in $BASE, a config for consentd
#                      reading consent@example.test (its own SMTP goes to
#                      127.0.0.1:12899, where nothing listens: requests and
#                      receipts stay queued, tokens stay readable)
# wave K W             W new accounts w<K>-<i>, a request each (consentctl
#                      request --all), and one reply per account put into the
#                      INBOX's Maildir (tmp/ then new/, as an MTA delivers):
#                      8 in 10 "Ja" (granted), 1 in 10 "Nein" (declined), 1 in
#                      10 an unclear question (held for review, stays
#                      pending). Appends "msgid account expected-state" to
#                      $SCRATCH/expect.
# recorded [K]         replies (of wave K) with an inbox row of their own
# count MAILBOX        messages in consent@example.test's MAILBOX (doveadm)
# imap_evidence        the RESULT lines on lost and double-recorded replies
#                      (area "$A"), from the replies put there, the store's
#                      inbox table and ledger, and Dovecot's folders.
export DOVECOT_HOSTDOMAIN=imap.example.test
BASE=$(mktemp -d /tmp/csrl.XXXXXX)
LOG=$SCRATCH/consentd.log
MD=$BASE/mail/consent@example.test/Maildir
DOVEADM=(doveadm -c "$BASE/dovecot/dovecot.conf")
: >"$SCRATCH/expect"

# imap_cleanup - on exit: the daemon killed, the mail stack down, its
# files removed unless something failed (or RELIABILITY_KEEP is set).
DAEMONPID=
imap_cleanup() {
	[ -z "$DAEMONPID" ] || { kill -9 "$DAEMONPID" 2>/dev/null; wait "$DAEMONPID" 2>/dev/null; }
	bash "$STACK" down "$BASE" >/dev/null 2>&1
	if [ "$RESULT_FAILS" = 0 ] && [ "$FAILS" = 0 ] && [ -z "${RELIABILITY_KEEP:-}" ]; then rm -rf "$BASE"
	else echo "mail stack's files (logs, Maildirs) kept in $BASE"; fi
}

imap_setup() {
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
		return 1
	fi
	# The first login creates the Maildir; consentd creates its folders.
	"${DOVEADM[@]}" mailbox status -u consent@example.test messages INBOX >/dev/null 2>&1
	mkdir -p "$MD/tmp" "$MD/new" "$MD/cur"
	chown -R --reference="$BASE/mail" "$MD"
}

count() { "${DOVEADM[@]}" mailbox status -u consent@example.test messages "$1" 2>/dev/null | sed 's/.*=//'; }

recorded() {
	sq "SELECT count(DISTINCT msg_id) FROM inbox WHERE msg_id LIKE 'reply.w${1:+$1-}%' AND dup_of IS NULL"
}

wave() {
	local k=$1 w=$2 q
	awk -v k="$k" -v n="$w" 'BEGIN {
		print "id,email,name,lang"
		for (i = 1; i <= n; i++) printf "w%d-%d,w%d.%d@example.org,W %d %d,%s\n", k, i, k, i, k, i, i % 2 ? "de" : "en"
	}' >"$SCRATCH/wave$k.csv"
	run ctl account import "$SCRATCH/wave$k.csv"
	expect_rc 0 "wave $k: import $w accounts"
	run ctl request --all log-linking
	expect_rc 0 "wave $k: request --all"
	# id, address, token of each new request (the outbox keeps the token
	# until the mail is sent; consentd's SMTP port is closed).
	q="SELECT a.id, a.email, o.token FROM outbox o JOIN account a ON a.key = o.acct
	   WHERE o.kind = 'request' AND o.token IS NOT NULL AND a.id LIKE 'w$k-%' ORDER BY a.key"
	sq -separator ' ' "$q" >"$SCRATCH/wave$k.tok"
	expect_eq "$(wc -l <"$SCRATCH/wave$k.tok")" "$w" "wave $k: $w tokens"
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
}

imap_evidence() {
	local N lost unrecorded multi dupes dup_outcome answers2 answers want_answers receipts2 nudges2
	local in_inbox filed missing copies2 kinds verify_rc
	N=$(wc -l <"$SCRATCH/expect")
	sq -separator ' ' "SELECT i.msg_id, a.id, c.state FROM inbox i JOIN account a ON a.key = i.acct
		LEFT JOIN consent c ON c.acct = a.key AND c.purpose = 'log-linking'
		WHERE i.msg_id LIKE 'reply.w%' AND i.dup_of IS NULL" | sort >"$SCRATCH/got"
	# lost: an expected "msgid account state" with no such line in the store
	lost=$(comm -23 <(sort -u "$SCRATCH/expect") <(sort -u "$SCRATCH/got") | wc -l)
	unrecorded=$(comm -23 <(cut -d' ' -f1 "$SCRATCH/expect" | sort -u) <(cut -d' ' -f1 "$SCRATCH/got" | sort -u) | wc -l)
	multi=$(sq "SELECT count(*) FROM (SELECT msg_id FROM inbox WHERE msg_id LIKE 'reply.w%' AND dup_of IS NULL GROUP BY msg_id HAVING count(*) > 1)")
	dupes=$(sq "SELECT count(*) FROM inbox WHERE msg_id LIKE 'reply.w%' AND dup_of IS NOT NULL")
	dup_outcome=$(sq "SELECT count(*) FROM inbox WHERE dup_of IS NOT NULL AND NOT (outcome = 'ignored' AND reason = 'duplicate')")
	answers2=$(sq "SELECT count(*) FROM (SELECT acct FROM event WHERE kind IN ('grant', 'decline') GROUP BY acct, purpose HAVING count(*) > 1)")
	answers=$(sq "SELECT count(*) FROM event WHERE kind IN ('grant', 'decline')")
	want_answers=$(awk '$3 != "pending"' "$SCRATCH/expect" | wc -l)
	receipts2=$(sq "SELECT count(*) FROM (SELECT acct FROM outbox WHERE kind LIKE 'receipt%' GROUP BY acct HAVING count(*) > 1)")
	nudges2=$(sq "SELECT count(*) FROM (SELECT acct FROM outbox WHERE kind NOT LIKE 'receipt%' AND kind <> 'request' GROUP BY acct, kind HAVING count(*) > 1)")
	in_inbox=$(count INBOX)
	filed=$(($(count consent.processed) + $(count consent.review)))
	# Dovecot's copies by Message-ID in processed/review: every reply there
	# at least once; a second copy comes from a MOVE the server had carried
	# out in part when it died (copied, not yet expunged from the INBOX):
	# consentd reads such a message again, records it as a duplicate and
	# moves it again. Shown, not a goal: the store's figures are.
	{
		"${DOVEADM[@]}" fetch -u consent@example.test hdr.message-id mailbox consent.processed all
		"${DOVEADM[@]}" fetch -u consent@example.test hdr.message-id mailbox consent.review all
	} 2>/dev/null | grep -io '<reply\.w[^>]*>' | tr -d '<>' | sort | uniq -c >"$SCRATCH/filed"
	missing=$(comm -23 <(cut -d' ' -f1 "$SCRATCH/expect" | sort -u) <(awk '{ print $2 }' "$SCRATCH/filed" | sort -u) | wc -l)
	copies2=$(awk '$1 > 1' "$SCRATCH/filed" | wc -l)
	kinds=$(sq "SELECT group_concat(kind || ':' || n, ' ') FROM (SELECT kind, count(*) n FROM outbox GROUP BY kind)")
	echo "replies: $N; inbox rows not marked duplicate: $(wc -l <"$SCRATCH/got"); re-reads recorded as duplicate: $dupes;" \
		"answer events $answers (want $want_answers); outbox: $kinds; Dovecot: INBOX $in_inbox, filed $filed"
	run ctl ledger verify
	verify_rc=$RC
	result_eq "$A" "lost (reply not recorded)" "$unrecorded" 0
	result_eq "$A" "lost (account not in the state its reply asks)" "$lost" 0
	result_eq "$A" "double-recorded messages ($dupes re-reads kept as duplicate)" "$multi" 0
	result_eq "$A" "re-reads recorded as other than 'ignored duplicate'" "$dup_outcome" 0
	result_eq "$A" "double-recorded (accounts with 2+ answer events)" "$answers2" 0
	result_eq "$A" "answer events in the ledger" "$answers" "$want_answers"
	result_eq "$A" "accounts with 2+ receipts or 'please answer' mails" "$((receipts2 + nudges2))" 0
	result_eq "$A" "left in the Dovecot INBOX" "$in_inbox" 0
	result_eq "$A" "replies missing from Dovecot's processed/review" "$missing" 0
	result "$A" "replies with 2+ copies there (server's MOVE cut off)" "$copies2" "- (shown)" ok
	result_eq "$A" "ledger verify exit" "$verify_rc" 0
}
