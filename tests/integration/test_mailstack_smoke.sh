#!/bin/bash
# test_mailstack_smoke.sh - smoke test of contrib/mailstack/mailstack.sh and
# tests/integration/mailcheck: brings the loopback stack up in a fresh BASE,
# sends mail with swaks through Postfix into Dovecot and into smtp-sink,
# checks what arrived with mailcheck (and IMAP), exercises the sink's fault
# modes, brings the stack down and makes sure no process is left behind.
# Prints "N passed, M failed"; exits 1 when anything failed.
#
# Needs root and the packages postfix, dovecot-imapd, dovecot-lmtpd, swaks
# (and a C compiler + libetpan-dev unless MAILCHECK is given).
# Only 127.0.0.1 is ever contacted; no name is resolved.
#
# Env:
#   MAILSTACK   the stack script (default: contrib/mailstack/mailstack.sh)
#   MAILCHECK   a built mailcheck binary (default: compiled from
#               tests/integration/mailcheck.c into BASE/bin)
#   IMAP_PORT LMTP_PORT SMTP_PORT SINK_PORT   (default: four free ports
#               picked at random in 20000-32699, so parallel runs do not
#               collide)
#   KEEP_BASE=1 keep BASE afterwards (it is always kept after a failure)
set -u

SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
MAILSTACK=${MAILSTACK:-$SRC_DIR/contrib/mailstack/mailstack.sh}
PASS=0
FAIL=0

ok() {
	PASS=$((PASS + 1))
	echo "ok   - $*"
}
bad() {
	FAIL=$((FAIL + 1))
	echo "FAIL - $*"
}
# check DESCRIPTION CMD...: pass when CMD exits 0
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else bad "$3: got '$1', want '$2'"; fi
}
# expect_grep TEXT REGEX DESCRIPTION (grep -E)
expect_grep() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok "$3"; else bad "$3: no match for /$2/ in: ${1:0:600}"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

[ "$(id -u)" = 0 ] || {
	echo "test_mailstack_smoke: must run as root" >&2
	exit 1
}
[ -r /usr/bin/swaks ] || {
	echo "test_mailstack_smoke: swaks is not installed (contrib/debian-deps.sh)" >&2
	exit 1
}

# ---------------------------------------------------------------- set-up
BASE=$(mktemp -d /tmp/csd-XXXXXX) || exit 1
STACK_UP=0
finish() {
	if [ "$STACK_UP" = 1 ]; then
		"$MAILSTACK" down "$BASE" >/dev/null 2>&1 || echo "warning: mailstack down failed for $BASE" >&2
	fi
	if [ "$FAIL" -gt 0 ] || [ "${KEEP_BASE:-0}" = 1 ]; then
		echo "BASE kept for inspection: $BASE (logs in $BASE/log)"
	else
		rm -rf "$BASE"
	fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${IMAP_PORT:-}${LMTP_PORT:-}${SMTP_PORT:-}${SINK_PORT:-}" ]; then
	for _ in $(seq 1 50); do
		# below Linux's ephemeral range (32768-60999), where a client
		# socket could take the port between our check and the bind
		p=$((20000 + (RANDOM % 1270) * 10))
		if port_free $p && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)); then
			export IMAP_PORT=$p LMTP_PORT=$((p + 1)) SMTP_PORT=$((p + 2)) SINK_PORT=$((p + 3))
			break
		fi
	done
fi
export IMAP_PORT=${IMAP_PORT:-10143} LMTP_PORT=${LMTP_PORT:-10024} SMTP_PORT=${SMTP_PORT:-10025} SINK_PORT=${SINK_PORT:-10026}
echo "# BASE=$BASE IMAP=$IMAP_PORT LMTP=$LMTP_PORT SMTP=$SMTP_PORT SINK=$SINK_PORT"

if [ -z "${MAILCHECK:-}" ]; then
	mkdir -p "$BASE/bin"
	MAILCHECK=$BASE/bin/mailcheck
	# Not `pkg-config --libs libetpan`: it would make the binary non-PIE.
	# shellcheck disable=SC2046
	if ! cc -std=c11 -Wall -Wextra -O2 -o "$MAILCHECK" "$SRC_DIR/tests/integration/mailcheck.c" \
		$(pkg-config --cflags libetpan) -letpan; then
		echo "test_mailstack_smoke: cannot build mailcheck" >&2
		exit 1
	fi
fi

MAILDIR=$BASE/mail
DOVEADM=(doveadm -c "$BASE/dovecot/dovecot.conf")
# swaks always calls gethostbyname() on this machine's name (its default
# HELO, sender and Message-ID).  That is a DNS query wherever /etc/hosts does
# not list the name, so it runs with gethostbyname overridden to fail, and
# with an explicit HELO.  Dovecot tools get their domain from the env.
SWAKS=(perl -e 'BEGIN { *CORE::GLOBAL::gethostbyname = sub { return; }; }
	do "/usr/bin/swaks"; die $@ if $@; exit 0' --
	--server 127.0.0.1 --helo client.example.test --timeout 20 --hide-all)
export DOVECOT_HOSTDOMAIN=imap.example.test

# wait_files DIR COUNT: wait up to 15 s until DIR holds at least COUNT files.
wait_files() {
	local i n
	for ((i = 0; i < 300; i++)); do
		n=$(find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l)
		[ "$n" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
newest_file() { find "$1" -maxdepth 1 -type f -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-; }

# listening_ok PORT: a socket listens on PORT, and only on 127.0.0.1 (IPv4)
listening_ok() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { n++; if ($2 != "0100007F" p) bad++ }
		END { exit !(n > 0 && bad == 0) }' /proc/net/tcp || return 1
	! awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' /proc/net/tcp6 2>/dev/null
}

# imap_session USER PASS: LOGIN, SELECT INBOX; prints the server's lines.
imap_session() {
	local line
	exec 5<>"/dev/tcp/127.0.0.1/$IMAP_PORT" || return 1
	printf 'a1 LOGIN %s %s\r\na2 SELECT INBOX\r\na3 LOGOUT\r\n' "$1" "$2" >&5
	while IFS= read -r -t 10 line <&5; do
		printf '%s\n' "${line%$'\r'}"
		case $line in a3\ *) break ;; esac
	done
	exec 5<&-
}

# Processes of this stack: working directory inside BASE, not zombies.
live_in_base() {
	local d pid st
	while IFS= read -r d; do
		pid=${d#/proc/}
		pid=${pid%/cwd}
		{ read -r st <"/proc/$pid/stat"; } 2>/dev/null || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || echo "$pid"
	done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$BASE" -o -lname "$BASE/*" \) 2>/dev/null)
}

# ------------------------------------------------------------------- up
t=$(now)
out=$("$MAILSTACK" up "$BASE" 2>&1)
rc=$?
echo "# up took $(elapsed "$t") s"
STACK_UP=1
expect_eq "$rc" 0 "mailstack up exits 0 ($out)"
if [ "$rc" != 0 ]; then
	echo "# stack did not come up; giving up"
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
"$MAILSTACK" status "$BASE" >/dev/null
expect_eq "$?" 0 "status reports everything running"
for p in "$IMAP_PORT" "$LMTP_PORT" "$SMTP_PORT" "$SINK_PORT"; do
	check "port $p listens on 127.0.0.1 only" listening_ok "$p"
done

t=$(now)
out=$("$MAILSTACK" up "$BASE" 2>&1)
rc=$?
echo "# second up (restart) took $(elapsed "$t") s"
expect_eq "$rc" 0 "second up while running restarts cleanly"
expect_grep "$out" "restarting" "second up says it restarts"
"$MAILSTACK" status "$BASE" >/dev/null
expect_eq "$?" 0 "status after restart"

# --------------------------------------------- Postfix -> LMTP -> Dovecot
MSG=$BASE/msg1.eml
printf '%s\r\n' \
	'From: =?UTF-8?Q?App_M=C3=BCller?= <app@example.test>' \
	'To: consent+abc@example.test' \
	'Subject: =?UTF-8?Q?Einwilligung_f=C3=BCr_M=C3=BCnchen?= [ref abc]' \
	'Message-ID: <smoke.abc@example.test>' \
	'MIME-Version: 1.0' \
	'Content-Type: text/plain; charset=UTF-8' \
	'Content-Transfer-Encoding: quoted-printable' \
	'Auto-Submitted: auto-generated' \
	'' \
	'Gr=C3=BC=C3=9Fe aus M=C3=BCnchen.' \
	'Bitte antworten Sie mit JA oder NEIN.' >"$MSG"
"$MAILCHECK" --strict-crlf "$MSG" >/dev/null
expect_eq "$?" 0 "mailcheck --strict-crlf accepts a CRLF message"

t=$(now)
"${SWAKS[@]}" --port "$SMTP_PORT" --from app@example.test --to consent+abc@example.test --data "@$MSG"
expect_eq "$?" 0 "swaks to consent+abc@example.test via Postfix"
CNEW=$MAILDIR/consent@example.test/Maildir/new
if wait_files "$CNEW" 1; then
	ok "message reached Maildir of consent@example.test ($(elapsed "$t") s)"
else
	bad "no message in $CNEW after 15 s"
fi
expect_eq "$(count_files "$CNEW")" 1 "exactly one message in consent's new/"
# messages USER: number of messages in USER's INBOX, according to Dovecot
messages() { "${DOVEADM[@]}" -f tab mailbox status -u "$1" messages INBOX 2>&1 | awk -F"\t" "NR == 2 { print \$NF }"; }
expect_eq "$(messages consent@example.test)" 1 "doveadm sees 1 message in consent's INBOX"
DELIVERED=$(newest_file "$CNEW")
if [ -n "$DELIVERED" ]; then
	out=$("$MAILCHECK" "$DELIVERED" 2>&1)
	expect_eq "$?" 0 "mailcheck parses the delivered message"
	expect_grep "$out" '^HEADER: Return-Path: <app@example.test>$' "Return-Path set by delivery"
	expect_grep "$out" '^HEADER: Delivered-To: consent\+abc@example.test$' "Delivered-To keeps the +abc detail"
	expect_grep "$out" '^HEADER: Received: from client.example.test \(unknown \[127.0.0.1\]\)' "Received shows 127.0.0.1 and no reverse lookup"
	expect_grep "$out" '^HEADER: From: App Müller <app@example.test>$' "From display name decoded"
	expect_grep "$out" '^BODY:$' "BODY line present"
	expect_grep "$out" '^Grüße aus München\.$' "QP UTF-8 body decoded"
	expect_eq "$("$MAILCHECK" --header subject "$DELIVERED")" "Einwilligung für München [ref abc]" "--header Subject decoded"
	expect_eq "$("$MAILCHECK" --header Auto-Submitted "$DELIVERED")" "auto-generated" "--header Auto-Submitted"
	"$MAILCHECK" --header X-Not-There "$DELIVERED" >/dev/null 2>&1
	expect_eq "$?" 3 "--header of a missing field exits 3"
	"$MAILCHECK" --strict-crlf "$DELIVERED" >/dev/null 2>&1
	expect_eq "$?" 1 "--strict-crlf rejects the stored (LF) Maildir copy"
fi
out=$(imap_session consent@example.test secret)
expect_grep "$out" '^a1 OK' "IMAP LOGIN consent@example.test"
expect_grep "$out" '^\* 1 EXISTS' "IMAP SELECT INBOX shows 1 message"
out=$(imap_session consent@example.test wrong)
expect_grep "$out" '^a1 NO' "IMAP LOGIN with a wrong password fails"

"${SWAKS[@]}" --port "$SMTP_PORT" --from app@example.test --to test@example.test --header 'Subject: plain'
expect_eq "$?" 0 "swaks to test@example.test"
check "message reached Maildir of test@example.test" wait_files "$MAILDIR/test@example.test/Maildir/new" 1
expect_eq "$(messages consent@example.test)" 1 "consent's mailbox got nothing more"

out=$("${SWAKS[@]}" --port "$SMTP_PORT" --from app@example.test --to nobody-here@example.test 2>&1)
expect_eq "$?" 24 "unknown user at example.test is refused at RCPT (swaks exit 24)"

out=$("${SWAKS[@]/--hide-all/--hide-informational}" --port "$SMTP_PORT" --from app@example.test \
	--to someone@elsewhere.example --header 'Subject: outbound' 2>&1)
rc=$?
expect_eq "$rc" 24 "mail to another domain is refused at RCPT (swaks exit 24)"
expect_grep "$out" '550 5\.1\.1 .*outbound mail is disabled' "refusal names the error transport"

# Bare LF in DATA is refused by our Postfix (smtpd_forbid_bare_newline).
bare_lf_reply() {
	local line out=""
	exec 5<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || return 1
	printf 'EHLO client.example.test\r\nMAIL FROM:<app@example.test>\r\nRCPT TO:<test@example.test>\r\nDATA\r\n' >&5
	while IFS= read -r -t 10 line <&5; do
		case $line in 354*) break ;; esac
	done
	printf 'Subject: bare\r\n\r\nline one\nline two\r\n.\r\nQUIT\r\n' >&5
	while IFS= read -r -t 10 line <&5; do out+="${line%$'\r'} | "; done
	exec 5<&-
	printf '%s\n' "$out"
}
expect_grep "$(bare_lf_reply)" '550 5\.5\.2 .*bare <LF>' "Postfix rejects bare LF in DATA"

# --------------------------------------------------------------- smtp-sink
SINK=$BASE/sink
"${SWAKS[@]}" --port "$SINK_PORT" --from app@example.test --to someone@elsewhere.example --data "@$MSG"
expect_eq "$?" 0 "swaks to smtp-sink"
expect_eq "$(count_files "$SINK")" 1 "sink wrote exactly one file"
DUMP=$(newest_file "$SINK")
if [ -n "$DUMP" ]; then
	out=$("$MAILCHECK" "$DUMP" 2>&1)
	expect_eq "$?" 0 "mailcheck parses the sink dump"
	expect_grep "$out" '^HEADER: X-Rcpt-Args: <someone@elsewhere.example>$' "dump records RCPT"
	expect_grep "$out" '^HEADER: X-Mail-Args: <app@example.test>$' "dump records MAIL FROM"
	expect_grep "$out" '^HEADER: Subject: Einwilligung für München \[ref abc\]$' "dump Subject decoded"
	expect_grep "$out" '^Bitte antworten Sie mit JA oder NEIN\.$' "dump body decoded"
fi
"${SWAKS[@]}" --port "$SINK_PORT" --from app@example.test --to a@example.test
"${SWAKS[@]}" --port "$SINK_PORT" --from app@example.test --to b@example.test
expect_eq "$(count_files "$SINK")" 3 "one file per message"

# Fault modes. swaks exit codes (swaks(1)): 6 connection closed unexpectedly,
# 23 error in MAIL, 24 no RCPT accepted, 26 message not accepted after data.
sink_mode() { "$MAILSTACK" sink-restart "$BASE" -- "$@" >/dev/null; }
send_sink() {
	"${SWAKS[@]}" --port "$SINK_PORT" --from app@example.test --to x@example.test --hide-all >/dev/null 2>&1
	echo $?
}
check "sink-restart -- -r . -b '451 4.3.0 Try again later'" sink_mode -r . -b "451 4.3.0 Try again later"
out=$("${SWAKS[@]/--hide-all/--hide-informational}" --port "$SINK_PORT" --from app@example.test --to x@example.test 2>&1)
expect_grep "$out" '<\*\* 451 4\.3\.0 Try again later' "sink answers 451 after the data"
check "sink-restart -- -f RCPT" sink_mode -f RCPT
expect_eq "$(send_sink)" 24 "sink refuses RCPT with 5xx"
check "sink-restart -- -q ." sink_mode -q .
expect_eq "$(send_sink)" 6 "sink hangs up after the data"
check "sink-restart -- -Q MAIL" sink_mode -Q MAIL
expect_eq "$(send_sink)" 23 "sink answers 421 to MAIL"
"$MAILSTACK" sink-restart "$BASE" -- -x-not-an-option >/dev/null 2>&1
rc=$?
check "sink-restart with a bad option fails ($rc)" test "$rc" != 0
check "sink-restart (no options) back to normal" sink_mode
expect_eq "$(send_sink)" 0 "normal sink accepts again"
"$MAILSTACK" status "$BASE" >/dev/null
expect_eq "$?" 0 "status: everything running after sink restarts"

# ----------------------------------------------------------------- down
pids=$(live_in_base | tr '\n' ' ')
t=$(now)
out=$("$MAILSTACK" down "$BASE" 2>&1)
rc=$?
echo "# down took $(elapsed "$t") s"
expect_eq "$rc" 0 "mailstack down exits 0 ($out)"
STACK_UP=0
left=$(live_in_base | tr '\n' ' ')
expect_eq "$left" "" "no process left with its cwd in BASE"
still=""
for p in $pids; do
	[ -r "/proc/$p/stat" ] || continue
	read -r st <"/proc/$p/stat" || continue
	st=${st##*) }
	[ "${st%% *}" = Z ] || still+="$p "
done
expect_eq "$still" "" "every process seen before down is gone"
for p in "$IMAP_PORT" "$LMTP_PORT" "$SMTP_PORT" "$SINK_PORT"; do
	check "port $p closed after down" port_free "$p"
done
"$MAILSTACK" status "$BASE" >/dev/null
expect_eq "$?" 3 "status after down reports nothing running"
"$MAILSTACK" down "$BASE" >/dev/null
expect_eq "$?" 0 "down when already down is fine"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
