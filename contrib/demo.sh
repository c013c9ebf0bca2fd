#!/bin/bash
# demo.sh - build consentd and walk accounts through the consent life cycle
# on an embedded SQLite database, printing each step. Run as root on a fresh
# Debian 12 machine (it installs missing packages).
#
# What is real today: accounts, CSV import, consent requests with their
# tokens and queued mails, staff withdrawal, expiry, export, erasure and the
# hash-chained ledger. Sending the mails (consentd) and reading replies
# (IMAP, consent-deliver) arrive with the outbound and inbound issues.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/debian-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build/demo -j "$(nproc)" >/dev/null

work=$(mktemp -d /tmp/consentd-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed -e "s#^path = .*#path = $work/consentd.db#" \
    -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
    conf/consentd.conf > "$work/consentd.conf"
ctl() { build/demo/src/consentctl -c "$work/consentd.conf" "$@"; }
step() { printf '\n\033[1m$ consentctl %s\033[0m\n' "$*"; ctl "$@" || printf '(exit %d)\n' $?; }

printf 'id,email,name,lang\nk-1001,anna.schmidt@example.org,Anna Schmidt,de\nk-1002,ben.lee@example.org,"Lee, Ben",en\nk-1003,broken-address,Carl,de\n' > "$work/accounts.csv"
step account import "$work/accounts.csv"
step account add k-1004 dana@example.org --name "Dana Dorn" --lang de
step account show k-1001
step request k-1001 log-linking
step status k-1001 log-linking
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
