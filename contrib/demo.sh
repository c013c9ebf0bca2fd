#!/bin/bash
# demo.sh - build consentd and walk accounts through the consent life cycle
# on an embedded SQLite database, printing each step. Run as root on a fresh
# Debian 12 machine (it installs missing packages).
#
# It starts a private loopback mail stack (Postfix + Dovecot on 127.0.0.1,
# contrib/mailstack/mailstack.sh), and consentd sends the consent request
# through Postfix into a real Dovecot mailbox, shown decoded. Reading the
# person's reply (IMAP, consent-deliver) arrives with the inbound issue.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/debian-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build build/demo -j "$(nproc)" --target consentctl consentd mailcheck >/dev/null

work=$(mktemp -d /tmp/csd-demo.XXXXXX)
export IMAP_PORT=11143 LMTP_PORT=11024 SMTP_PORT=11025 SINK_PORT=11026
export DOVECOT_HOSTDOMAIN=imap.example.test
trap 'bash contrib/mailstack/mailstack.sh down "$work/stack" >/dev/null 2>&1; rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/stack"
echo "starting a loopback Postfix + Dovecot (contrib/mailstack/mailstack.sh) ..."
bash contrib/mailstack/mailstack.sh up "$work/stack" >/dev/null
sed -e "s#^path = .*#path = $work/consentd.db#" \
    -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
    -e "s#^dir = .*#dir = $PWD/mailtemplates#" \
    -e "s#^port = 25#port = $SMTP_PORT#" \
    conf/consentd.conf > "$work/consentd.conf"
ctl() { build/demo/src/consentctl -c "$work/consentd.conf" "$@"; }
step() { printf '\n\033[1m$ consentctl %s\033[0m\n' "$*"; ctl "$@" || printf '(exit %d)\n' $?; }

printf 'id,email,name,lang\nk-1001,test@example.test,Anna Schmidt,de\nk-1002,app@example.test,"Lee, Ben",en\nk-1003,broken-address,Carl,de\n' > "$work/accounts.csv"
step account import "$work/accounts.csv"
step account add k-1004 dana@example.org --name "Dana Dorn" --lang de
step account show k-1001
step request k-1001 log-linking
step status k-1001 log-linking
step outbox list
printf '\n\033[1m$ consentd -f --once\033[0m\n'
build/demo/src/consentd -c "$work/consentd.conf" -f --once
for _ in $(seq 100); do
	ls "$work/stack/mail/test@example.test/Maildir/new/"* >/dev/null 2>&1 && break
	sleep 0.1
done
printf '\n(the request as it arrived in the Dovecot mailbox of test@example.test, decoded)\n'
build/demo/tests/mailcheck "$(ls "$work/stack/mail/test@example.test/Maildir/new/"* | head -1)" |
	grep -vE '^HEADER: (Return-Path|Delivered-To|Received|Date|MIME-Version|Content-|X-Auto)' | head -80
step request k-1001 log-linking
step check k-1001 log-linking
step revoke k-1001 log-linking --reason "Anruf am Telefon, Ticket 4711"
step status k-1001
step request k-1002 log-linking
printf '\n(31 days later, with faketime)\n'
printf '\033[1m$ consentctl status k-1002 log-linking\033[0m\n'
faketime -f '+31d' build/demo/src/consentctl -c "$work/consentd.conf" status k-1002 log-linking
faketime -f '+31d' build/demo/src/consentctl -c "$work/consentd.conf" expire
step granted log-linking
step export k-1001
step ledger verify
step erase k-1001
step check k-1001 log-linking
step ledger verify
printf '\n(an attacker edits the ledger with sqlite3)\n'
sqlite3 "$work/consentd.db" "DROP TRIGGER event_append_only_update; UPDATE event SET kind = 'grant' WHERE seq = 2;"
step ledger verify
