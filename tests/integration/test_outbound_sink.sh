#!/bin/bash
# consentd sends through libESMTP into a real smtp-sink on 127.0.0.1: the
# mail as it arrives, and every fault smtp-sink can play (451 after the
# data, 550 for the recipient, connection refused, hang-up mid-transfer, a
# server that stalls past the timeout), and kill -9 while sending. Nothing
# queued is lost; at most the messages in flight are sent twice.
. "$(dirname "$0")/../cli/lib.sh"
: "${CONSENTD:?}" "${MAILCHECK:?}"
SINK=/usr/sbin/smtp-sink
[ -x "$SINK" ] || { echo "smtp-sink missing (apt-get install postfix)"; exit 1; }
PORT=${OUTBOUND_SINK_PORT:-12610}
# smtp-sink runs as nobody: its dump directory must be reachable for nobody
# even when the build tree sits below a 0700 directory.
DUMP=$(mktemp -d /tmp/csd-dump.XXXXXX)
chmod 777 "$DUMP"
write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 2#"
SINKPID=

start_sink() {  # start_sink [smtp-sink fault options]
	stop_sink
	"$SINK" -u nobody -d "$DUMP/%H%M%S." "$@" 127.0.0.1:$PORT 256 >> "$SCRATCH/sink.log" 2>&1 &
	SINKPID=$!
	for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0; sleep 0.02; done
	fail "smtp-sink did not start"
}
stop_sink() {
	[ -n "$SINKPID" ] || return 0
	kill "$SINKPID" 2>/dev/null; wait "$SINKPID" 2>/dev/null; SINKPID=
}
trap 'stop_sink; rm -rf "$DUMP"' EXIT
daemon_once() { "$CONSENTD" -c "$CONF" -f --once 2>>"$SCRATCH/consentd.log"; }
outbox_states() { sqlite3 "$DB" "SELECT state || ':' || count(*) FROM outbox GROUP BY state ORDER BY state" | tr '\n' ' ' | sed 's/ $//'; }
make_due() { sqlite3 "$DB" "UPDATE outbox SET next_attempt = 0 WHERE state = 'deferred'"; }

# ---- the mail as it arrives ----
start_sink
ctl account add de1 "joerg@example.test" --name "Jörg Müller" --lang de >/dev/null
ctl account add en1 "ann@example.test" --name 'Ann "The Tester" Lee' --lang en >/dev/null
ctl request de1 log-linking >/dev/null
ctl request en1 log-linking >/dev/null
run daemon_once
expect_rc 0 "consentd --once"
expect_eq "$(outbox_states)" "sent:2" "both requests sent"
expect_eq "$(ls "$DUMP" | wc -l)" "2" "two messages at the sink"
for f in "$DUMP"/*; do
	to=$("$MAILCHECK" --header To "$f")
	case "$to" in *joerg@*) de=$f ;; *ann@*) en=$f ;; esac
done
token=$("$MAILCHECK" --header Reply-To "$de" | sed -n 's/.*consent+\([0-9a-f]*\)@.*/\1/p')
expect_match "$token" '^[0-9a-f]{32}$' "the request carries a 32-hex token"
run "$MAILCHECK" "$de"
expect_rc 0 "mailcheck parses the German request"
expect_match "$OUT" "HEADER: To: Jörg Müller <joerg@example.test>" "To with the decoded name"
expect_match "$OUT" "HEADER: From: CloudWerk Datenschutz <datenschutz@cloudwerk.example>" "From"
expect_match "$OUT" "HEADER: Reply-To: <consent\+$token@cloudwerk.example>" "Reply-To carries the token"
expect_match "$OUT" "HEADER: Message-ID: <consent.$token@cloudwerk.example>" "Message-ID carries the token"
expect_match "$OUT" "HEADER: Subject: .*Verknüpfung.* \[$token\]" "Subject decodes, token as reference"
expect_match "$OUT" "HEADER: Auto-Submitted: auto-generated" "Auto-Submitted"
expect_match "$OUT" "HEADER: X-Auto-Response-Suppress: OOF, AutoReply" "X-Auto-Response-Suppress"
expect_match "$OUT" "HEADER: List-Unsubscribe: <mailto:consent\+withdraw-log-linking@cloudwerk.example\?subject=WIDERRUF>" "List-Unsubscribe withdraws by mail"
expect_match "$OUT" "HEADER: Content-Type: text/plain; charset=UTF-8" "UTF-8 text"
expect_match "$OUT" "HEADER: Content-Transfer-Encoding: quoted-printable" "quoted-printable"
for sentence in "CloudWerk GmbH, Musterstraße 1, 10115 Berlin" "freiwillig" "kein Nachteil" \
		"^JA$" "^NEIN$" "WIDERRUFEN" "jederzeit" "Referenz: $token" \
		"Kontodaten \(Name, E-Mail-Adresse"; do
	expect_match "$OUT" "$sentence" "German request says: $sentence"
done
# smtp-sink writes its own dump lines with LF; the bytes consentd sent are
# in the outbox row.
sqlite3 "$DB" "SELECT writefile('$SCRATCH/de1.eml', message) FROM outbox o JOIN outbox_mail USING (id) JOIN account a ON a.key = o.acct WHERE a.id = 'de1'" >/dev/null
run "$MAILCHECK" --strict-crlf "$SCRATCH/de1.eml"
expect_rc 0 "CRLF line ends only in the mail as sent"
run "$MAILCHECK" "$en"
expect_match "$OUT" 'HEADER: To: "Ann \\"The Tester\\" Lee" <ann@example.test>|HEADER: To: Ann "The Tester" Lee <ann@example.test>' "English To, quotes kept"
expect_match "$OUT" "HEADER: List-Unsubscribe: .*subject=REVOKE" "English unsubscribe"
for sentence in "voluntary" "^YES$" "^NO$" "REVOKE" "Reference: "; do
	expect_match "$OUT" "$sentence" "English request says: $sentence"
done
# Evidence: the ledger holds the SHA-256 of the exact bytes sent; the stored
# copy has its token masked (sha256 of the unmasked copy = shown_sha256).
run sqlite3 "$DB" "SELECT count(*) FROM outbox o JOIN event e ON e.request = o.request AND e.kind = 'request' WHERE o.sha256 = e.shown_sha256 AND o.kind = 'request'"
expect_eq "$OUT" "2" "ledger shown_sha256 = hash of the mail"
run sqlite3 "$DB" "SELECT count(*) FROM outbox JOIN outbox_mail USING (id) WHERE token IS NULL AND instr(message, 'consent+xxxxxxxx') > 0"
expect_eq "$OUT" "2" "sent requests keep no usable token"
stored=$(sed "s/x\{32\}/$token/g" "$SCRATCH/de1.eml" | sha256sum | cut -d' ' -f1)
want=$(sqlite3 "$DB" "SELECT sha256 FROM outbox o JOIN account a ON a.key = o.acct WHERE a.id = 'de1'")
expect_eq "$stored" "$want" "masked copy + token reproduces the hash"

# ---- header injection: no value can add a header line ----
run ctl account add inj1 inj1@example.test --name "$(printf 'Eve\r\nBcc: victim@example.test')"
expect_rc 2 "a name with CR LF is refused"
run ctl account add inj2 "$(printf 'inj2@example.test\r\nBcc: victim@example.test')"
expect_rc 2 "an address with CR LF is refused"
printf 'id,email,name\ninj3,inj3@example.test,"Eve\nBcc: victim@example.test"\n' > "$SCRATCH/inj.csv"
run ctl account import "$SCRATCH/inj.csv"
expect_rc 1 "an imported name with a line break is refused"
cp "$CONF" "$SCRATCH/inj.conf"
printf '[purpose inj]\ntitle_de = Titel\x0bBcc: x\ntitle_en = Title\ndescription_de = d\ndescription_en = d\n' >> "$SCRATCH/inj.conf"
run "$CONSENTCTL" -c "$SCRATCH/inj.conf" status de1
expect_rc 2 "a purpose title with a control character is refused"
mkdir -p "$SCRATCH/tpl"
cp -r "$SRC_DIR/mailtemplates/de" "$SRC_DIR/mailtemplates/en" "$SCRATCH/tpl/"
printf 'Subject: Hallo\r\nBcc: victim@example.test\n\nText {{purpose_title}} {{token}} {{controller}} {{purpose_description}} {{expires}} {{withdraw_address}}\n' > "$SCRATCH/tpl/de/consent-request.txt"
sed "s#^dir = .*#dir = $SCRATCH/tpl#" "$CONF" > "$SCRATCH/tpl.conf"
run "$CONSENTCTL" -c "$SCRATCH/tpl.conf" request de1 log-linking --resend
expect_rc 2 "a template with an injected header line is refused at load"
expect_match "$ERR" "consent-request.txt:[12]" "named with file and line"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM account WHERE id LIKE 'inj%'")" "0" "no injected account stored"

# ---- 451 after the data: deferred, then sent ----
rm -f "$DUMP"/*
start_sink -r . -b "451 4.3.0 Try again later"
ctl account add f1 f1@example.test >/dev/null
ctl request f1 log-linking >/dev/null
run daemon_once
expect_eq "$(outbox_states)" "deferred:1 sent:2" "451 defers"
run ctl outbox list --state deferred
expect_match "$OUT" "f1@example.test +1 .* 451 4.3.0 Try again later" "deferred row shows the 451"
start_sink
make_due
run daemon_once
expect_eq "$(outbox_states)" "sent:3" "sent on the next attempt"

# ---- 550 for the recipient: failed, reported ----
start_sink -f RCPT
ctl account add f2 f2@example.test >/dev/null
ctl request f2 log-linking >/dev/null
run daemon_once
expect_eq "$(outbox_states)" "failed:1 sent:3" "5xx fails"
run ctl outbox list --state failed
expect_match "$OUT" "f2@example.test .* 5[0-9][0-9]" "failed row shows the 5xx response"
expect_match "$(cat "$SCRATCH/consentd.log")" "to=<f2@example.test> status=failed" "failure logged"

# ---- connection refused: deferred, nothing lost ----
stop_sink
ctl account add f3 f3@example.test >/dev/null
ctl request f3 log-linking >/dev/null
run daemon_once
expect_eq "$(outbox_states)" "deferred:1 failed:1 sent:3" "refused connection defers"
expect_match "$(sqlite3 "$DB" "SELECT last_response FROM outbox WHERE state='deferred'")" "refused|Connection" "reason recorded"

# ---- hang-up after the data: retried, sent once the server behaves ----
start_sink -q .
make_due
run daemon_once
expect_match "$(outbox_states)" "deferred:1" "hang-up mid-transfer defers"
start_sink
make_due
run daemon_once
expect_eq "$(outbox_states)" "failed:1 sent:4" "sent after the hang-up"

# ---- a server that stalls past the timeout ([smtp] timeout = 2) ----
start_sink -w 5
ctl account add f4 f4@example.test >/dev/null
ctl request f4 log-linking >/dev/null
run timeout 30 "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "consentd returns after the timeout"
expect_eq "$(outbox_states)" "deferred:1 failed:1 sent:4" "stalled server defers"
start_sink
make_due
daemon_once
expect_eq "$(outbox_states)" "failed:1 sent:5" "sent afterwards"

# ---- STARTTLS required, server without it: nothing sent in clear ----
start_sink -v
write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 2#" -e "s#^starttls = no#starttls = require#"
ctl account add f5 f5@example.test >/dev/null
ctl request f5 log-linking >/dev/null
run daemon_once
expect_eq "$(outbox_states)" "deferred:1 failed:1 sent:5" "no STARTTLS offered: deferred"
expect_match "$(sqlite3 "$DB" "SELECT last_response FROM outbox WHERE state='deferred'")" "STARTTLS required" "reason recorded"
expect_no_match "$(cat "$SCRATCH/sink.log")" "MAIL FROM" "not a single command sent in clear"

# ---- mail of a closed request or a changed address is never sent ----
write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 2#"
start_sink -r RCPT
ctl account add c1 c1@example.test >/dev/null
ctl account add c2 c2@example.test >/dev/null
ctl request c1 log-linking >/dev/null
ctl request c2 log-linking >/dev/null
make_due
run daemon_once
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE state = 'deferred' AND rcpt LIKE 'c_@example.test'")" "2" "both deferred by a 4xx"
rm -f "$DUMP"/*
ctl request c1 log-linking --resend >/dev/null
ctl account set-email c2 c2.new@example.test >/dev/null
rm -f "$DUMP"/*
start_sink
make_due
run daemon_once
expect_eq "$(grep -l 'c1@example.test' "$DUMP"/* 2>/dev/null | wc -l)" "1" "only the new request reaches c1, not the superseded one"
expect_eq "$(grep -l 'c2@example.test' "$DUMP"/* 2>/dev/null | wc -l)" "0" "nothing goes to c2's old address"
expect_eq "$(grep -l 'c2.new@example.test' "$DUMP"/* 2>/dev/null | wc -l)" "1" "c2 is asked again at the new address"
expect_match "$(ctl outbox list --state cancelled)" "c2@example.test .*primary address changed" "the old-address mail is cancelled, with the reason"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox JOIN outbox_mail USING (id) WHERE state IN ('cancelled', 'failed', 'sent') AND kind = 'request' AND (token IS NOT NULL OR instr(message, 'consent+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@') = 0)")" "0" "cancelled and failed requests keep no usable token"

# ---- AUTH from a 0600 password file ----
printf 's3cret\n' > "$SCRATCH/smtp.secret"
chmod 600 "$SCRATCH/smtp.secret"
write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 2#" \
	-e "s#^user =\$#user = consentd#" -e "0,/^password_file =\$/s##password_file = $SCRATCH/smtp.secret#"
start_sink -v
ctl account add f7 f7@example.test >/dev/null
ctl request f7 log-linking >/dev/null
run daemon_once
expect_eq "$(sqlite3 "$DB" "SELECT state FROM outbox WHERE rcpt = 'f7@example.test'")" "sent" "sent with AUTH"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'failed', 'cancelled')")" "0" "nothing left waiting"
expect_match "$(cat "$SCRATCH/sink.log")" "AUTH PLAIN $(printf '\0consentd\0s3cret' | base64)" "AUTH PLAIN with user and password from the file"
# A refused login must not fail mail for good (a rotated password).
start_sink -f AUTH,RCPT -B "554 5.7.1 <f6@example.test>: Relay access denied"
ctl account add f6 f6@example.test >/dev/null
ctl request f6 log-linking >/dev/null
run daemon_once
expect_eq "$(sqlite3 "$DB" "SELECT state FROM outbox WHERE rcpt = 'f6@example.test'")" "deferred" "AUTH refused: deferred, not failed"
sqlite3 "$DB" "UPDATE outbox SET state = 'cancelled' WHERE rcpt = 'f6@example.test'"
write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 2#"

# ---- kill -9 while sending: restart finishes, duplicates <= in flight ----
rm -f "$DUMP"/*
start_sink -W .:1:2   # answer the end of data after 1 s, every second time
n=120
printf 'id,email\n' > "$SCRATCH/k.csv"
for i in $(seq $n); do printf 'k%d,k%d@example.test\n' "$i" "$i"; done >> "$SCRATCH/k.csv"
ctl account import "$SCRATCH/k.csv" >/dev/null
for i in $(seq $n); do ctl request k$i log-linking >/dev/null; done
kills=0
for round in 1 2 3; do
	"$CONSENTD" -c "$CONF" -f 2>>"$SCRATCH/consentd.log" &
	pid=$!
	sleep 2.5
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
done
start_sink
run timeout 120 "$CONSENTD" -c "$CONF" -f --once
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE kind='request' AND acct IN (SELECT key FROM account WHERE id LIKE 'k%') AND state = 'sent'")" "$n" "all $n requests sent after $kills kills"
got=$(grep -h '^Message-ID:' "$DUMP"/* | sort | uniq | wc -l)
total=$(grep -h '^Message-ID:' "$DUMP"/* | wc -l)
expect_eq "$got" "$n" "every request arrived (distinct Message-IDs)"
dups=$((total - got))
echo "kill -9 test: $kills kills, $total deliveries of $n messages, $dups duplicates"
[ "$dups" -le "$((kills * 50))" ] || fail "more duplicates ($dups) than messages in flight at $kills kills"
run ctl ledger verify
expect_rc 0 "ledger intact after all of it"
finish
