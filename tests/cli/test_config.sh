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
bad "unknown section" "\[smpt\]: unknown section" -e 's/^\[smtp\]/[smpt]/'
bad "port out of range" "\[smtp\] port: '0' is not a whole number from 1 to 65535" -e '0,/^port = 25/s//port = 0/'
bad "bad enum" "\[smtp\] starttls: 'maybe'" -e 's/^starttls = no/starttls = maybe/'
bad "bad bool" "\[imap\] enabled: 'perhaps' is not yes or no" -e 's/^enabled = yes/enabled = perhaps/'
bad "key twice" "\[tokens\] lifetime_days: given twice" -e 's/^lifetime_days = 30/lifetime_days = 30\nlifetime_days = 7/'
bad "syntax error" "consentd.conf:[0-9]+: syntax error" -e 's/^\[tokens\]/[tokens]\nthis line has no equals sign/'
bad "bad service address" "\[service\] address: 'nobody'" -e 's/^address = .*/address = nobody/'
bad "purpose without title" "\[purpose log-linking\]: title_de and title_en are required" -e '/^title_en = /d'
bad "bad purpose name" "purpose names are" -e 's/^\[purpose log-linking\]/[purpose Log Linking]/'
bad "lifetime out of range" "lifetime_days: '0'" -e 's/^lifetime_days = 30/lifetime_days = 0/'
bad "long line" "line longer than 4096 bytes" -e "s/^name = .*/name = $(head -c 5000 /dev/zero | tr '\0' x)/"

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
