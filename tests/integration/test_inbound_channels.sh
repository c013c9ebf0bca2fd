#!/bin/bash
# Replies through real servers on 127.0.0.1, both channels:
#  1. the whole loop: a request goes out through Postfix into a Dovecot
#     mailbox; the person's reply (quoting it) comes back through Postfix
#     into consentd's IMAP mailbox and is granted; the receipt arrives; a
#     withdrawal to the receipt's Reply-To goes through Postfix's pipe(8)
#     transport to consent-deliver and revokes; that receipt arrives too;
#  2. the store locked while Postfix delivers: consent-deliver exits 75,
#     Postfix defers and retries, the reply is recorded once;
#  3. every fixture of tests/fixtures/inbound sent through Postfix, once into
#     the IMAP mailbox (read by consentd --once) and once through the pipe:
#     both channels give the manifest's outcome;
#  4. Dovecot stopped in the middle of a large pass: consentd reports it,
#     the next pass reads the rest; every message is recorded exactly once
#     and nothing is left in the INBOX.
. "$(dirname "$0")/../cli/lib.sh"
: "${CONSENTD:?}" "${MAILCHECK:?}" "${CONSENT_DELIVER:?}"
STACK=$SRC_DIR/contrib/mailstack/mailstack.sh
BASE=$(mktemp -d /tmp/csdi.XXXXXX)
export IMAP_PORT=12751 LMTP_PORT=12752 SMTP_PORT=12753 SINK_PORT=12754
export DOVECOT_HOSTDOMAIN=imap.example.test
export REPLY_DOMAIN=example.test
cleanup() { bash "$STACK" down "$BASE" >/dev/null 2>&1; rm -rf "$BASE"; }
trap cleanup EXIT

# What consent-deliver needs, where the pipe user can reach it whatever
# the checkout's permissions (a clone under /root is 0700): its binary, the
# config, the templates, and a store directory it can write (WAL beside it).
chmod 755 "$BASE"
P=$BASE/pipe
mkdir -p "$P/store"
cp "$CONSENT_DELIVER" "$P/consent-deliver"
cp -r "$SRC_DIR/mailtemplates" "$P/mailtemplates"
chmod -R a+rX "$P"
chmod 700 "$P/store"   # the store holds personal data: consentd refuses wider
CONSENT_DELIVER=$P/consent-deliver
CONF=$P/consentd.conf
DB=$P/store/consentd.db
printf 'secret\n' > "$P/imap.secret"
chmod 600 "$P/imap.secret"
IMAPCONF=(-e "/^\[imap\]/,/^\[/s#^enabled = .*#enabled = yes#" -e "/^\[imap\]/,/^\[/s#^port = .*#port = $IMAP_PORT#"
	  -e "/^\[imap\]/,/^\[/s#^user = .*#user = consent@example.test#"
	  -e "/^\[imap\]/,/^\[/s#^password_file =.*#password_file = $P/imap.secret#"
	  -e "/^\[imap\]/,/^\[/s#^timeout = .*#timeout = 5#"
	  -e "s#^dir = .*#dir = $P/mailtemplates#")
. "$TESTS_DIR/cli/inbound_lib.sh"
write_conf -e "s#^reply_domain = .*#reply_domain = $REPLY_DOMAIN#" -e "s#^port = 25#port = $SMTP_PORT#" "${IMAPCONF[@]}"
chmod 644 "$CONF"
sed -n '/^\[imap\]/,/^\[/p' "$CONF" | grep -q "password_file = $P/imap.secret" || { fail "imap config"; finish; }

if ! CONSENT_DELIVER=$CONSENT_DELIVER CONSENT_CONF=$CONF CONSENT_ROUTE=imap bash "$STACK" up "$BASE" > "$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"
	fail "mail stack did not start"
	finish
fi
PIPE_USER=$(bash "$STACK" pipe-user "$BASE")
own_store() { chown -R "$PIPE_USER" "$P/store"; }
DOVEADM=(doveadm -c "$BASE/dovecot/dovecot.conf")
count() { "${DOVEADM[@]}" mailbox status -u "$1" messages "${2:-INBOX}" 2>/dev/null | sed 's/.*=//'; }
wait_count() {  # wait_count USER COUNT [MAILBOX]
	for _ in $(seq 300); do [ "$(count "$1" "${3:-INBOX}")" = "$2" ] && return 0; sleep 0.05; done
	return 1
}
wait_rows() {  # wait_rows N - the store has N inbox rows
	for _ in $(seq 400); do
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM inbox" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
newest() { ls -t "$BASE/mail/$1/Maildir/new/"* "$BASE/mail/$1/Maildir/cur/"* 2>/dev/null | head -1; }
smtp() {  # smtp FROM TO FILE - through Postfix
	swaks --server "127.0.0.1:$SMTP_PORT" --from "$1" --to "$2" --data "$3" >"$SCRATCH/swaks.log" 2>&1 ||
		fail "swaks $1 -> $2: $(tail -3 "$SCRATCH/swaks.log")"
}
route() { bash "$STACK" route "$BASE" "$1" >/dev/null || fail "route $1"; }
# clear_inbox - after a failure, so one bad fixture does not spoil the next
clear_inbox() { "${DOVEADM[@]}" expunge -u consent@example.test mailbox INBOX all 2>/dev/null; }

# ---- 1. the whole loop ----
ctl account add t1 test@example.test --name "Test Person" --lang de >/dev/null
ctl request t1 log-linking >/dev/null
TOKEN=$(newest_token t1)
own_store
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "consentd sends the request"
wait_count test@example.test 1 || fail "request not delivered"
req=$(newest test@example.test)
{
	printf 'From: Test Person <test@example.test>\nTo: consent+%s@%s\nSubject: AW: Ihre Einwilligung [%s]\n' "$TOKEN" "$REPLY_DOMAIN" "$TOKEN"
	printf 'In-Reply-To: <consent.%s@%s>\nReferences: <consent.%s@%s>\nMessage-ID: <loop1@example.test>\n' "$TOKEN" "$REPLY_DOMAIN" "$TOKEN" "$REPLY_DOMAIN"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
	printf 'Ja, ich bin einverstanden.\n\nViele Grüße\nTest\n\nAm 28.11.2026 um 10:00 schrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n'
	"$MAILCHECK" --body "$req" | sed 's/^/> /'
} > "$SCRATCH/reply1"
expect_match "$(cat "$SCRATCH/reply1")" "> .*NEIN" "the reply quotes the request (JA and NEIN in the quote)"
smtp test@example.test "consent+$TOKEN@$REPLY_DOMAIN" "$SCRATCH/reply1"
wait_count consent@example.test 1 || fail "reply not in the IMAP mailbox"
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "consentd reads the reply over IMAP"
expect_match "$ERR" "imap uid=[0-9]+ inbox=1 msgid=<loop1@example.test> granted answer account=t1 purpose=log-linking" "log line"
expect_eq "$(ctl status t1 log-linking)" "granted" "granted over IMAP"
expect_eq "$(count consent@example.test)" "0" "INBOX empty after the pass"
expect_eq "$(count consent@example.test consent.processed)" "1" "moved to consent/processed (consent.processed: Dovecot's separator)"
expect_eq "$(sqlite3 "$DB" "SELECT channel, msg_id, sender FROM event WHERE kind = 'grant'")" \
	"imap|loop1@example.test|test@example.test" "grant evidence"
wait_count test@example.test 2 || fail "receipt not delivered"
rcpt=$("$MAILCHECK" "$(newest test@example.test)")
expect_match "$rcpt" "HEADER: Reply-To: <consent\+withdraw-log-linking@example.test>" "receipt: replying withdraws"
# withdrawal through the pipe
route pipe
own_store
printf 'From: test@example.test\nTo: consent+withdraw-log-linking@%s\nSubject: WIDERRUF\nMessage-ID: <loop2@example.test>\n\nIch widerrufe meine Einwilligung.\n' "$REPLY_DOMAIN" > "$SCRATCH/reply2"
smtp test@example.test "consent+withdraw-log-linking@$REPLY_DOMAIN" "$SCRATCH/reply2"
wait_rows 2 || fail "withdrawal not recorded through the pipe"
expect_eq "$(ctl status t1 log-linking)" "revoked" "revoked through Postfix pipe(8)"
expect_eq "$(sqlite3 "$DB" "SELECT channel, outcome FROM inbox WHERE id = 2")" "pipe|revoked" "inbox row"
run "$CONSENTD" -c "$CONF" -f --once
wait_count test@example.test 3 || fail "revocation receipt not delivered"
expect_match "$("$MAILCHECK" "$(newest test@example.test)")" "Bestätigung Ihres Widerrufs" "revocation receipt"
run ctl ledger verify
expect_rc 0 "ledger verifies"

# ---- 2. store locked while Postfix delivers: 75, retried, recorded once ----
ctl account add t2 app@example.test --lang en >/dev/null
ctl request t2 log-linking >/dev/null
TOKEN=$(newest_token t2)
own_store
printf 'From: app@example.test\nTo: consent+%s@%s\nSubject: Re: [%s]\nMessage-ID: <locked@example.test>\n\nYes\n' "$TOKEN" "$REPLY_DOMAIN" "$TOKEN" > "$SCRATCH/reply3"
rows=$(sqlite3 "$DB" "SELECT count(*) FROM inbox")
# The write lock held by a sqlite3 session until told to let go (not for a
# CPU-dependent time): what is checked while locked is checked while locked.
mkfifo "$SCRATCH/lock.fifo"
sqlite3 "$DB" < "$SCRATCH/lock.fifo" >/dev/null &
holder=$!
exec 7>"$SCRATCH/lock.fifo"
echo "BEGIN IMMEDIATE; CREATE TABLE hold(x);" >&7
for _ in $(seq 100); do
	sqlite3 "$DB" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1 || break
	sleep 0.02
done
smtp app@example.test "consent+$TOKEN@$REPLY_DOMAIN" "$SCRATCH/reply3"
deferred=0
for _ in $(seq 200); do
	grep -q 'status=deferred.*consentd' "$BASE/postfix/log/"* 2>/dev/null && { deferred=1; break; }
	grep -rq 'status=deferred' "$BASE"/postfix/*.log "$BASE"/log/* 2>/dev/null && { deferred=1; break; }
	sleep 0.05
done
# Readers are not blocked by the writer (WAL): look while it still holds.
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox")" "$rows" "nothing recorded while locked"
expect_eq "$(sqlite3 "$DB" "SELECT c.state FROM consent c JOIN account a ON a.key = c.acct WHERE a.id = 't2' AND c.purpose = 'log-linking'")" "pending" "still pending while locked"
expect_eq "$deferred" "1" "Postfix deferred the message (exit 75)"
echo "ROLLBACK;" >&7
exec 7>&-
wait "$holder"
bash "$STACK" flush "$BASE" >/dev/null
wait_rows $((rows + 1)) || fail "not recorded after the lock was released"
expect_eq "$(ctl status t2 log-linking)" "granted" "granted on Postfix's retry"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox WHERE msg_id = 'locked@example.test'")" "1" "recorded once"

# ---- 3. the fixtures on both channels ----
# Receipts go to smtp-sink here, never back through Postfix.
FIXCONF=(-e "s#^port = 25#port = $SINK_PORT#" "${IMAPCONF[@]}")
declare -A got_imap got_pipe
if [ ! -f "$FIXTURES/MANIFEST.tsv" ]; then
	fail "no fixture manifest"
else
	lost=0   # fixtures in a row that were not recorded: past 3, the channel is broken
	for channel in imap pipe; do
		route "$channel"
		while IFS=$'\t' read -r file acct setup rcpt sender expect reason state_after what; do
			[ "$file" = file ] || [ -z "$file" ] && continue
			if [ "$lost" -ge 3 ]; then
				fail "$channel: giving up after 3 fixtures in a row were not recorded"
				break
			fi
			fixture_store "$acct" "$setup" "${FIXCONF[@]}"
			own_store
			rcpt=$(fill_field "$rcpt")
			[ "$sender" = "<>" ] && sender="<>"
			# As the person's client sends it: without the trace fields
			# the delivering MTA added (Postfix would see its own
			# Delivered-To as a mail loop).
			fixture_fill "$FIXTURES/$file" |
				sed '1,/^$/{/^Return-Path:/d;/^Delivered-To:/d;/^X-Original-To:/d}' > "$SCRATCH/fx"
			rows=$(sqlite3 "$DB" "SELECT count(*) FROM inbox")
			smtp "$sender" "$rcpt" "$SCRATCH/fx"
			if [ "$channel" = imap ]; then
				wait_count consent@example.test 1 ||
					{ fail "$file: not delivered to IMAP"; clear_inbox; lost=$((lost + 1)); continue; }
				"$CONSENTD" -c "$CONF" -f --once 2>>"$SCRATCH/consentd.log" || fail "$file: consentd --once failed"
			fi
			wait_rows $((rows + 1)) ||
				{ fail "$file: not recorded over $channel"; clear_inbox; lost=$((lost + 1)); continue; }
			lost=0
			res="$(last_inbox) $(ctl status "$acct" log-linking)"
			[ "$channel" = imap ] && got_imap[$file]=$res || got_pipe[$file]=$res
			want="$expect $reason $state_after"
			[ "$reason" = "-" ] && res="${res%% *} ${res##* }" && want="$expect $state_after"
			expect_eq "$res" "$want" "$channel: $file ($what)"
		done < "$FIXTURES/MANIFEST.tsv"
	done
	expect_eq "$(count consent@example.test)" "0" "IMAP INBOX empty after the fixtures"
fi

# ---- 4. Dovecot stopped in the middle of a pass ----
route imap
fixture_store u1 none "${FIXCONF[@]}"
before=$(count consent@example.test consent.processed)
N=8000
md=$BASE/mail/consent@example.test/Maildir/new
for i in $(seq $N); do
	printf 'From: stranger%d@example.com\nTo: consent@example.test\nSubject: hello %d\nMessage-ID: <mid%d@example.com>\n\nJa\n' \
		"$i" "$i" "$i" | sed 's/$/\r/' > "$md/1700000000.mid$i.test"
done
chown -R "$(stat -c %u "$BASE/mail/consent@example.test")" "$md"
"$CONSENTD" -c "$CONF" -f --once 2>"$SCRATCH/mid.log" &
cpid=$!
for _ in $(seq 200); do
	[ "$(sqlite3 -cmd ".timeout 2000" "$DB" "SELECT count(*) FROM inbox" 2>/dev/null)" -ge 20 ] 2>/dev/null && break
	sleep 0.002
done
# Dovecot's processes are titled "dovecot-INSTANCE/imap": kill the master
# and the imap process serving consentd, as a crash would.
inst=$(sed -n 's/^instance_name = //p' "$BASE/dovecot/dovecot.conf")
kill -9 "$(cat "$BASE/dovecot/run/master.pid")" 2>/dev/null
pkill -9 -f "^dovecot-$inst/" 2>/dev/null
wait "$cpid"
first=$(sqlite3 "$DB" "SELECT count(*) FROM inbox")
echo "Dovecot killed after $first of $N messages were recorded"
expect_match "$(cat "$SCRATCH/mid.log")" "imap 127.0.0.1:$IMAP_PORT: (pass broken off|cannot open)" "consentd reports the broken connection"
bash "$STACK" up "$BASE" > "$SCRATCH/stack2.log" 2>&1 || fail "stack restart: $(tail -3 "$SCRATCH/stack2.log")"
route imap
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "next pass after the restart"
# (Only these messages: a retry Postfix deferred during the fixtures may
# still arrive meanwhile.)
MID="msg_id GLOB 'mid*@example.com'"
expect_eq "$(sqlite3 "$DB" "SELECT count(DISTINCT msg_id) FROM inbox WHERE $MID AND dup_of IS NULL")" "$N" "every message recorded"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM inbox WHERE $MID AND dup_of IS NULL")" "$N" "none recorded twice (duplicates only as such)"
expect_eq "$(count consent@example.test)" "0" "INBOX empty"
moved=$(( $(count consent@example.test consent.processed) - before ))
expect_eq "$(( moved >= N ))" "1" "all $N in consent/processed (moved: $moved)"
expect_match "$first" "^[0-9]+$" "recorded before the kill: $first (of $N)"
finish
