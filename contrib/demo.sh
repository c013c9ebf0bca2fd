#!/bin/bash
# demo.sh - build consentd and walk people through the whole consent loop on
# a private loopback mail stack and an embedded SQLite database, printing
# each step. Run as root on a fresh Debian 12 machine (it installs missing
# packages). Nothing leaves 127.0.0.1.
#
#   request out (consentd -> Postfix -> Dovecot mailbox of the person)
#   the person's reply in (Postfix -> consentd's IMAP mailbox -> consentd)
#   granted, receipt out; a withdrawal in through Postfix pipe(8) ->
#   consent-deliver; revoked, receipt out; an unclear answer held for
#   review with one "please answer JA or NEIN"; a policy version published
#   and announced to every account once (broadcast); expiry, export, erasure,
#   and a forged ledger row caught by `ledger verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/debian-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build build/demo -j "$(nproc)" --target consentctl consentd consent-deliver mailcheck >/dev/null

work=$(mktemp -d /tmp/csd-demo.XXXXXX)
export IMAP_PORT=11143 LMTP_PORT=11024 SMTP_PORT=11025 SINK_PORT=11026
export DOVECOT_HOSTDOMAIN=imap.example.test
STACK=contrib/mailstack/mailstack.sh
trap 'bash $STACK down "$work/stack" >/dev/null 2>&1; rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/stack" "$work/db"
printf 'secret\n' > "$work/imap.secret"
chmod 600 "$work/imap.secret"
# consent-deliver runs as Postfix's pipe user: its binary and templates go
# where that user can reach them, whatever the checkout's permissions.
cp build/demo/src/consent-deliver "$work/consent-deliver"
cp -r mailtemplates "$work/mailtemplates"
chmod -R a+rX "$work/consent-deliver" "$work/mailtemplates"
sed -e "s#^path = .*#path = $work/db/consentd.db#" \
    -e "s#^dir = .*#dir = $work/mailtemplates#" \
    -e "s#^reply_domain = .*#reply_domain = example.test#" \
    -e "s#^port = 25#port = $SMTP_PORT#" \
    -e "/^\[imap\]/,/^\[/s#^port = .*#port = $IMAP_PORT#" \
    -e "/^\[imap\]/,/^\[/s#^user = .*#user = consent@example.test#" \
    -e "/^\[imap\]/,/^\[/s#^password_file = .*#password_file = $work/imap.secret#" \
    conf/consentd.conf > "$work/consentd.conf"
chmod 644 "$work/consentd.conf"
echo "starting a loopback Postfix + Dovecot (contrib/mailstack/mailstack.sh) ..."
CONSENT_DELIVER=$work/consent-deliver CONSENT_CONF=$work/consentd.conf CONSENT_ROUTE=imap \
	bash $STACK up "$work/stack" >/dev/null
PIPE_USER=$(bash $STACK pipe-user "$work/stack")
# consentd runs as the account Postfix runs consent-deliver as (it refuses
# root); the store lives in that account's 0700 directory.
sed -i "/^\[service\]/,/^\[/s#^user = .*#user = $PIPE_USER#" "$work/consentd.conf"
chown "$PIPE_USER" "$work/db"
chmod 700 "$work/db"

B=build/demo/src
ctl() { $B/consentctl -c "$work/consentd.conf" "$@"; }
step() { printf '\n\033[1m$ consentctl %s\033[0m\n' "$*"; ctl "$@" || printf '(exit %d)\n' $?; }
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
consentd_once() { say '$ consentd -f --once'; $B/consentd -c "$work/consentd.conf" -f --once 2>&1 | sed 's/^[^ ]* //'; }
mailbox() { ls -t "$work/stack/mail/$1/Maildir/new/"* "$work/stack/mail/$1/Maildir/cur/"* 2>/dev/null; }
wait_mail() {  # wait_mail USER COUNT
	for _ in $(seq 100); do [ "$(mailbox "$1" | wc -l)" -ge "$2" ] && return 0; sleep 0.1; done
	echo "(no mail for $1)"; return 1
}
show() {  # show FILE [LINES] - a delivered mail, decoded
	build/demo/tests/mailcheck "$1" |
		grep -vE '^HEADER: (Return-Path|Delivered-To|Received|Date|MIME-Version|Content-|X-Auto|Auto-Sub|Message-ID)' |
		head -"${2:-60}"
}
send() {  # send FROM TO FILE - a person's mail client hands it to Postfix
	swaks --server 127.0.0.1:$SMTP_PORT --from "$1" --to "$2" --data "$3" >/dev/null 2>&1
}

printf 'id,email,name,lang\nk-1001,test@example.test,Anna Schmidt,de\nk-1002,app@example.test,"Lee, Ben",en\nk-1003,broken-address,Carl,de\n' > "$work/accounts.csv"
step account import "$work/accounts.csv"
step request k-1001 log-linking
consentd_once
wait_mail test@example.test 1
say '(the request as it arrived in the Dovecot mailbox of test@example.test, decoded)'
show "$(mailbox test@example.test | head -1)" 70
token=$(build/demo/tests/mailcheck --header Reply-To "$(mailbox test@example.test | head -1)" | grep -o '[0-9a-f]\{32\}')

say "(Anna answers from her mail client: \"Ja, ich bin einverstanden.\" above the quoted request; Postfix delivers it to consentd's IMAP mailbox)"
{
	printf 'From: Anna Schmidt <test@example.test>\nTo: consent+%s@example.test\n' "$token"
	printf 'Subject: AW: Bitte um Ihre Einwilligung [%s]\nIn-Reply-To: <consent.%s@example.test>\n' "$token" "$token"
	printf 'Message-ID: <anna-1@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
	printf 'Ja, ich bin einverstanden.\n\nViele Grüße\nAnna\n\nAm 28.11.2026 um 10:00 schrieb CloudWerk Datenschutz <datenschutz@cloudwerk.example>:\n'
	build/demo/tests/mailcheck --body "$(mailbox test@example.test | head -1)" | sed 's/^/> /'
} > "$work/reply1.eml"
send test@example.test "consent+$token@example.test" "$work/reply1.eml"
sleep 1
consentd_once
step status k-1001 log-linking
step check k-1001 log-linking
wait_mail test@example.test 2
say '(the receipt in Anna'"'"'s mailbox)'
show "$(mailbox test@example.test | head -1)" 16

say '(Postfix now hands consent@example.test to consent-deliver through pipe(8), as contrib/postfix/ explains)'
bash $STACK route "$work/stack" pipe >/dev/null
say '(Anna replies to the receipt: "Ich widerrufe meine Einwilligung.")'
printf 'From: test@example.test\nTo: consent+withdraw-log-linking@example.test\nSubject: AW: Bestätigung\nMessage-ID: <anna-2@example.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nIch widerrufe meine Einwilligung.\n' > "$work/reply2.eml"
send test@example.test consent+withdraw-log-linking@example.test "$work/reply2.eml"
for _ in $(seq 50); do [ "$(ctl status k-1001 log-linking)" = revoked ] && break; sleep 0.1; done
step status k-1001 log-linking
step inbox list
consentd_once
wait_mail test@example.test 3
say '(the revocation receipt in Anna'"'"'s mailbox)'
show "$(mailbox test@example.test | head -1)" 12

say '(Ben answers his request with a question: held for review, one "please answer YES or NO")'
step request k-1002 log-linking
consentd_once
wait_mail app@example.test 1
token=$(build/demo/tests/mailcheck --header Reply-To "$(mailbox app@example.test | head -1)" | grep -o '[0-9a-f]\{32\}')
printf 'From: Ben Lee <app@example.test>\nTo: consent+%s@example.test\nSubject: Re: [%s]\n\nWhat exactly do you link, and for how long?\n' "$token" "$token" > "$work/reply3.eml"
send app@example.test "consent+$token@example.test" "$work/reply3.eml"
for _ in $(seq 50); do [ "$(ctl inbox list --review | wc -l)" -ge 2 ] && break; sleep 0.1; done
step inbox list --review
consentd_once
step status k-1002 log-linking

say '(staff publish a material change of the privacy policy and announce it to every account, once each)'
printf 'Wir verknüpfen Zugriffsprotokolle künftig 30 statt 7 Tage lang.\n' > "$work/changes-de.txt"
printf 'We will keep access logs linked for 30 days instead of 7.\n' > "$work/changes-en.txt"
step policy publish 2.0 --effective 2027-01-01 --material --summary de="$work/changes-de.txt" --summary en="$work/changes-en.txt"
step policy list
say '$ consentctl broadcast start 2.0 --dry-run   (first lines)'
ctl broadcast start 2.0 --dry-run | head -12
step broadcast start 2.0
consentd_once
step broadcast status 2.0
step broadcast report 2.0 --all
wait_mail app@example.test 3
say '(the announcement in Ben'"'"'s mailbox, in English)'
show "$(mailbox app@example.test | head -1)" 14
step broadcast start 2.0

say '(31 days later, with faketime, the request has expired)'
faketime -f '+31d' $B/consentctl -c "$work/consentd.conf" expire
faketime -f '+31d' $B/consentctl -c "$work/consentd.conf" status k-1002 log-linking
step granted log-linking
say '$ consentctl export k-1001   (long values cut to 150 columns here)'
ctl export k-1001 | cut -c1-150
step ledger verify
step erase k-1001
step check k-1001 log-linking
step ledger verify
say '(an attacker edits the ledger with sqlite3)'
sqlite3 "$work/db/consentd.db" "DROP TRIGGER event_append_only_update; UPDATE event SET kind = 'grant' WHERE kind = 'expire';"
step ledger verify
