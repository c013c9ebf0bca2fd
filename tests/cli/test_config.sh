#!/bin/bash
# Configuration errors name file, line and key; secrets files must be 0600.
. "$(dirname "$0")/lib.sh"
write_conf

run "$CONSENTCTL" -c "$SCRATCH/none.conf" status x
expect_rc 2 "missing config file"
expect_match "$ERR" "none.conf: cannot read configuration" "missing config message"

bad() {  # bad DESCRIPTION REGEX SED-EXPR...
	local desc=$1 want=$2; shift 2
	write_conf "$@"
	run ctl status x
	expect_rc 2 "$desc"
	expect_match "$ERR" "$want" "$desc message"
}
bad "unknown key" "consentd.conf:[0-9]+: \[smtp\] hots: unknown key" -e 's/^host = 127.0.0.1/hots = 127.0.0.1/'
# Errors about a section are reported on the [section] line itself.
line_of() { grep -n "^$1" "$SRC_DIR/conf/consentd.conf" | head -1 | cut -d: -f1; }
SMTP=$(line_of '\[smtp\]')
PURPOSE=$(line_of '\[purpose log-linking\]')
bad "unknown section" "consentd.conf:$SMTP: \[smpt\]: unknown section" -e 's/^\[smtp\]/[smpt]/'
bad "unknown section without keys" "consentd.conf:$SMTP: \[bogus\]: unknown section" -e 's/^\[smtp\]/[bogus]\n[smtp]/'
bad "unknown section without keys at the end" "consentd.conf:$(( $(wc -l < "$SRC_DIR/conf/consentd.conf") + 1 )): \[bogus\]: unknown section" -e '$a[bogus]'
bad "empty purpose section" "consentd.conf:$(( $(wc -l < "$SRC_DIR/conf/consentd.conf") + 1 )): \[purpose extra\]: title_de and title_en are required" -e '$a[purpose extra]'
bad "port out of range" "\[smtp\] port: '0' is not a whole number from 1 to 65535" -e '0,/^port = 25/s//port = 0/'
bad "bad enum" "\[smtp\] starttls: 'maybe'" -e 's/^starttls = no/starttls = maybe/'
bad "bad bool" "\[imap\] enabled: 'perhaps' is not yes or no" -e 's/^enabled = no/enabled = perhaps/'
bad "key twice" "\[tokens\] lifetime_days: given twice" -e 's/^lifetime_days = 30/lifetime_days = 30\nlifetime_days = 7/'
bad "syntax error" "consentd.conf:[0-9]+: syntax error" -e 's/^\[tokens\]/[tokens]\nthis line has no equals sign/'
bad "bad service address" "\[service\] address: 'nobody'" -e 's/^address = .*/address = nobody/'
bad "purpose without title" "consentd.conf:$PURPOSE: \[purpose log-linking\]: title_de and title_en are required" -e '/^title_en = /d'
bad "bad purpose name" "consentd.conf:$PURPOSE: \[purpose Log Linking\]: purpose names are" -e 's/^\[purpose log-linking\]/[purpose Log Linking]/'
bad "purpose defined twice" "consentd.conf:$(( $(wc -l < "$SRC_DIR/conf/consentd.conf") + 1 )): \[purpose log-linking\]: purpose defined twice \(first on line $PURPOSE\)" -e '$a[purpose log-linking]'
bad "lifetime out of range" "lifetime_days: '0'" -e 's/^lifetime_days = 30/lifetime_days = 0/'
bad "long line" "line longer than 4096 bytes" -e "s/^name = .*/name = $(head -c 5000 /dev/zero | tr '\0' x)/"

# A known section without keys is fine.
write_conf -e 's/^\[smtp\]/[templates]\n[smtp]/'
run ctl status x
expect_no_match "$ERR" "unknown section|consentd.conf:[0-9]" "a known section without keys is accepted"

secret=$SCRATCH/imap.secret
echo hunter2 > "$secret"
chmod 644 "$secret"
write_conf -e "s#^password_file =\$#password_file = $secret#"
run ctl status x
expect_rc 2 "password file readable by others"
expect_match "$ERR" "imap.secret may be read by group or others \(mode 0644\); chmod 600 it" "permission message"
chmod 600 "$secret"
run ctl status x
expect_no_match "$ERR" "chmod" "0600 password file accepted"
finish
