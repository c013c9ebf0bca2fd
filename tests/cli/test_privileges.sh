#!/bin/bash
# consentd never works as root: started as root it refuses unless
# [service] user names an unprivileged account, and then becomes that
# account (uid, primary and supplementary groups, no capabilities, no way
# back) before it opens the store, so the store, its WAL and the lock file
# belong to the account consent-deliver runs as too. Password files only
# root can read are read before the switch. Started as another account,
# [service] user must be empty or name that account.
. "$(dirname "$0")/lib.sh"
: "${CONSENTD:?}"

if [ -z "$SERVICE_USER" ]; then
	# Not root: only the "another account" rule can be checked here.
	write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user = root#"
	run "$CONSENTD" -c "$CONF" -f --once
	expect_rc 1 "user = root while not root"
	expect_match "$ERR" "is root; name an unprivileged account" "root named"
	finish
fi

uid=$(id -u "$SERVICE_USER")
gid=$(id -g "$SERVICE_USER")

# ---- refusals: nothing is created ----
write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user =#"
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 1 "root without [service] user"
expect_match "$ERR" "consentd does not run as root: set \[service\] user" "refusal names the key"
expect_eq "$(ls "$SCRATCH" | grep -c consentd.db)" "0" "no store created by the refused start"

write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user = no-such-account-here#"
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 1 "an account that does not exist"
expect_match "$ERR" "\[service\] user: no such account 'no-such-account-here'" "missing account named"

write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user = root#"
run "$CONSENTD" -c "$CONF" -f --once
expect_rc 1 "user = root"
expect_match "$ERR" "'root' is root; name an unprivileged account" "root refused as the target"
expect_eq "$(ls "$SCRATCH" | grep -c consentd.db)" "0" "still no store"

# Without -f the refusal still reaches the terminal (checked before detaching).
write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user =#"
run "$CONSENTD" -c "$CONF" --once
expect_rc 1 "refused before detaching"
expect_match "$ERR" "does not run as root" "message on stderr before detaching"

# ---- the switch ----
# A password file only root can read, and a store directory of the account.
printf 'sesame\n' > "$SCRATCH/smtp.secret"
chmod 600 "$SCRATCH/smtp.secret"
write_conf -e "/^\[smtp\]/,/^\[/s#^password_file =.*#password_file = $SCRATCH/smtp.secret#" \
	   -e "/^\[smtp\]/,/^\[/s#^user =.*#user = relay#" -e "s#^port = 25#port = 1#"
expect_eq "$(stat -c %U:%a "$SCRATCH/smtp.secret")" "root:600" "the password file is root's alone"
expect_eq "$(setpriv --reuid="$uid" --regid="$gid" --clear-groups cat "$SCRATCH/smtp.secret" 2>/dev/null)" "" "the service account cannot read it"
"$CONSENTD" -c "$CONF" -f 2>"$SCRATCH/consentd.log" &
dpid=$!
for _ in $(seq 100); do grep -q started "$SCRATCH/consentd.log" && break; sleep 0.05; done
expect_match "$(cat "$SCRATCH/consentd.log")" "started: store $DB, .*, as $SERVICE_USER$" "started as root with [service] user, and says as whom"
status=$(cat "/proc/$dpid/status" 2>/dev/null)
expect_match "$status" "^Uid:	$uid	$uid	$uid	$uid" "real, effective, saved and fs uid are the account's"
expect_match "$status" "^Gid:	$gid	$gid	$gid	$gid" "all gids are the account's group"
want_groups=$(id -G "$SERVICE_USER" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
got_groups=$(sed -n 's/^Groups:\t//p' "/proc/$dpid/status" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ' | sed 's/ $//')
expect_eq "$got_groups" "$want_groups" "supplementary groups are the account's (root's are gone)"
expect_match "$status" "CapEff:	0000000000000000" "no effective capabilities"
expect_match "$status" "CapPrm:	0000000000000000" "no permitted capabilities (no way back)"
expect_eq "$(stat -c %U:%a "$DB")" "$SERVICE_USER:600" "the store it created belongs to the account, 0600"
expect_eq "$(stat -c %U:%a "$DB.consentd.lock")" "$SERVICE_USER:600" "so does the lock file"

# A queued mail makes it use the password read before the switch: with the
# file unreadable now, an AUTH attempt would fail with a file error, not a
# connection error (port 1 refuses at once).
ctl account add p1 p1@example.org >/dev/null
ctl request p1 log-linking >/dev/null
kill -HUP "$dpid"
for _ in $(seq 200); do
	[ "$(sqlite3 "$DB" "SELECT state FROM outbox WHERE acct = (SELECT key FROM account WHERE id = 'p1')")" = deferred ] && break
	sleep 0.05
done
expect_eq "$(sqlite3 "$DB" "SELECT state FROM outbox WHERE acct = (SELECT key FROM account WHERE id = 'p1')")" "deferred" "the request was tried"
expect_no_match "$(sqlite3 "$DB" "SELECT ifnull(last_response, '') FROM outbox")" "smtp.secret|Permission denied" "the password kept from before the switch was used, not re-read"
expect_match "$(cat "$SCRATCH/consentd.log")" "reload: .*smtp.secret: Permission denied; the password read at the start is kept" "a reload reads as the account: a root-only password file keeps the copy read at the start"
expect_match "$(cat "$SCRATCH/consentd.log")" "reloaded configuration and templates" "and the rest is reloaded"
kill "$dpid"; wait "$dpid"
expect_eq "$?" "0" "SIGTERM: clean stop"

# consent-deliver, run by Postfix as the account, writes the store root made.
ctl account add p2 p2@example.org >/dev/null
run setpriv --reuid="$uid" --regid="$gid" --clear-groups "$CONSENTCTL" -c "$CONF" account show p2
expect_rc 0 "the account opens the store root wrote to"

# Started directly as the account (systemd User=): fine with the same name,
# refused with another.
chmod 644 "$CONF"
run setpriv --reuid="$uid" --regid="$gid" --clear-groups "$CONSENTD" -c "$CONF" -f --once
expect_match "$ERR" "smtp.secret: Permission denied" "as the account, a password file it cannot read stops the start"
write_conf -e "s#^port = 25#port = 1#"
chmod 644 "$CONF"
run setpriv --reuid="$uid" --regid="$gid" --clear-groups "$CONSENTD" -c "$CONF" -f --once
expect_rc 0 "started as the account it names"
write_conf -e "/^\[service\]/,/^\[/s#^user = .*#user = nobody#"
chmod 644 "$CONF"
run setpriv --reuid="$uid" --regid="$gid" --clear-groups "$CONSENTD" -c "$CONF" -f --once
expect_rc 1 "another account named"
expect_match "$ERR" "\[service\] user is 'nobody' but consentd was started as uid $uid \(gid $gid\): only root can switch" "mismatch explained"

# Root as the real uid only (effective uid the account's): the full switch
# still happens; no id stays root's.
write_conf -e "s#^port = 25#port = 1#"
setpriv --euid="$uid" --egid="$gid" --keep-groups "$CONSENTD" -c "$CONF" -f 2>"$SCRATCH/consentd3.log" &
dpid=$!
for _ in $(seq 100); do grep -q started "$SCRATCH/consentd3.log" && break; sleep 0.05; done
status=$(cat "/proc/$dpid/status" 2>/dev/null)
expect_match "$status" "^Uid:	$uid	$uid	$uid	$uid" "real uid root at the start: all uids the account's after"
expect_match "$status" "^Gid:	$gid	$gid	$gid	$gid" "and all gids"
expect_match "$status" "CapPrm:	0000000000000000" "no permitted capabilities"
kill "$dpid"; wait "$dpid"

# A reload that changes the account is refused: that needs a restart.
write_conf -e "s#^port = 25#port = 1#"
"$CONSENTD" -c "$CONF" -f 2>"$SCRATCH/consentd2.log" &
dpid=$!
for _ in $(seq 100); do grep -q started "$SCRATCH/consentd2.log" && break; sleep 0.05; done
write_conf -e "s#^port = 25#port = 1#" -e "/^\[service\]/,/^\[/s#^user = .*#user = nobody#"
kill -HUP "$dpid"
for _ in $(seq 100); do grep -q "reload" "$SCRATCH/consentd2.log" && break; sleep 0.05; done
expect_match "$(cat "$SCRATCH/consentd2.log")" "\[service\] user changed; that needs a restart" "user change on reload refused"
expect_match "$(sed -n 's/^Uid:\t//p' "/proc/$dpid/status")" "^$uid	" "still the same account"
kill "$dpid"; wait "$dpid"
finish
