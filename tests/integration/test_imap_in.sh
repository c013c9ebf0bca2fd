#!/bin/bash
# test_imap_in.sh - the IMAP reader (src/lib/imap_in.c) against a real
# Dovecot on 127.0.0.1 (contrib/mailstack), driven by imap_in_probe:
# every new message is handed over once, in UID order, byte for byte;
# processed/review folders are created and filled as the callback says; -1
# and stop() leave the rest for the next pass; a changed UIDVALIDITY starts
# over from UID 1; an oversized message comes truncated with its full size;
# batches; the COPY/STORE/EXPUNGE fallbacks without MOVE (and without
# UIDPLUS, where a foreign \Deleted message blocks the plain EXPUNGE); IDLE
# wakes up on new mail; IMAPS and STARTTLS verify the certificate (trust and
# name) before LOGIN; wrong password, STARTTLS not offered, a destination
# equal to the source are refused.
#
# Messages are put in with "doveadm save" (exact bytes, CRLF). Which IMAP
# commands ran is read from Dovecot's own log (log_debug of the event
# imap_command_finished). Needs root, dovecot-imapd, dovecot-lmtpd, postfix,
# openssl. Only 127.0.0.1 is used, on free ports in 20000-32699.
. "$(dirname "$0")/../cli/lib.sh"
: "${IMAP_IN_PROBE:?set by ctest}"
STACK=$SRC_DIR/contrib/mailstack/mailstack.sh
unset CONSENT_DELIVER CONSENT_CONF CONSENT_ROUTE   # consent@ goes to Dovecot
export DOVECOT_HOSTDOMAIN=imap.example.test
BASE=$(mktemp -d /tmp/csdim.XXXXXX)
cleanup() { bash "$STACK" down "$BASE" >/dev/null 2>&1; rm -rf "$BASE"; }
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 50); do
	p=$((20000 + (RANDOM % 1270) * 10))
	if port_free $p && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)) &&
		port_free $((p + 4)); then
		break
	fi
done
export IMAP_PORT=$p LMTP_PORT=$((p + 1)) SMTP_PORT=$((p + 2)) SINK_PORT=$((p + 3))
IMAPS_PORT=$((p + 4))
if ! bash "$STACK" up "$BASE" >"$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"
	fail "mail stack did not start"
	finish
fi

USER_=consent@example.test
DC=$BASE/dovecot/dovecot.conf
DLOG=$BASE/log/dovecot.log
DOVEADM=(doveadm -c "$DC")
cp "$DC" "$BASE/dovecot.conf.orig"
# dovecot_conf [LINES...] - the stack's Dovecot config plus LINES, reloaded.
dovecot_conf() {
	{ cat "$BASE/dovecot.conf.orig"; echo "log_debug = event=imap_command_finished"; printf '%s\n' "$@"; } >"$DC"
	"${DOVEADM[@]}" reload || fail "doveadm reload"
	sleep 1   # the master re-creates its listeners
}
dovecot_conf
count() { "${DOVEADM[@]}" mailbox status -u $USER_ messages "$1" 2>/dev/null | sed 's/.*=//'; }
ids() { "${DOVEADM[@]}" -f flow fetch -u $USER_ hdr.message-id mailbox "$1" 2>/dev/null | sed 's/.*=//' | tr '\n' ' '; }
cmds() { grep -c "Command finished: $1" "$DLOG"; }

# msg NAME [BODY_BYTES] - a CRLF message in $SCRATCH/NAME.eml; its bytes as
# IMAP returns them are exactly the file (doveadm save keeps them).
msg() {
	{
		printf 'From: Person <person@example.test>\r\nTo: consent+tok@example.test\r\n'
		printf 'Subject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nJA %s\r\n' "$1" "$1" "$1"
		if [ "${2:-0}" -gt 0 ]; then
			{ head -c "$2" /dev/zero | tr '\0' 'x' | fold -w 76; echo; } | sed 's/$/\r/'
		fi
	} >"$SCRATCH/$1.eml"
}
# msg_exact NAME BYTES - a message of exactly BYTES bytes
msg_exact() {
	local pad
	msg "$1"
	pad=$(($2 - $(size "$1") - 2))
	{ head -c "$pad" /dev/zero | tr '\0' 'y'; printf '\r\n'; } >>"$SCRATCH/$1.eml"
}
put() { # put MAILBOX NAME... - save messages in this order (ascending UIDs)
	local box=$1 n
	shift
	for n in "$@"; do
		[ -f "$SCRATCH/$n.eml" ] || msg "$n"
		"${DOVEADM[@]}" save -u $USER_ -m "$box" <"$SCRATCH/$n.eml" || fail "doveadm save $n"
	done
}
sha() { sha256sum "$SCRATCH/$1.eml" | cut -d' ' -f1; }
size() { stat -c %s "$SCRATCH/$1.eml"; }
line() { echo "uid=$1 len=$(size "$2") size=$(size "$2") truncated=0 sha256=$(sha "$2")"; }

printf 'secret\n' >"$SCRATCH/imap.secret"
printf 'wrong\n' >"$SCRATCH/wrong.secret"
chmod 600 "$SCRATCH/imap.secret" "$SCRATCH/wrong.secret"
# conf FILE [sed expressions for the [imap] section]
conf() {
	local out=$1
	shift
	write_conf -e "/^\[imap\]/,/^\[/{s#^port = .*#port = $IMAP_PORT#;s#^user = .*#user = $USER_#;s#^password_file =.*#password_file = $SCRATCH/imap.secret#;s#^tls = .*#tls = no#}" \
		${1+-e "/^\[imap\]/,/^\[/{$*}"}
	mv "$CONF" "$SCRATCH/$out"
}
conf plain.conf
C=$SCRATCH/plain.conf
S=$SCRATCH/state
probe() { run "$IMAP_IN_PROBE" -c "$@"; }
uids() { printf '%s\n' "$OUT" | sed -n 's/^uid=\([0-9]*\) .*/\1/p' | tr '\n' ' '; }

# ---------------------------------------------------- all new, in UID order
put INBOX m1 m2 m3 m4 m5 m6
probe "$C" --state "$S" --route odd
expect_rc 0 "first pass"
want=""
for i in 1 2 3 4 5 6; do want+="$(line $i m$i)"$'\n'; done
expect_eq "$(printf '%s\n' "$OUT" | grep '^uid=')"$'\n' "$want" "six messages, UID order, exact bytes and sizes"
expect_match "$OUT" "pass n=6 uidvalidity=[0-9]+ last_uid=6$" "pass line"
UV=$(sed -n 's/.*uidvalidity=\([0-9]*\).*/\1/p' <<<"$OUT")
expect_eq "$(cat "$S")" "$UV 6" "state remembered"
expect_eq "$(count INBOX)" 0 "INBOX emptied"
expect_eq "$(ids consent.processed)" "<m2@example.test> <m4@example.test> <m6@example.test> " "even UIDs in consent/processed (created as consent.processed)"
expect_eq "$(ids consent.review)" "<m1@example.test> <m3@example.test> <m5@example.test> " "odd UIDs in consent/review"
expect_eq "$(cmds "UID MOVE")" 2 "one UID MOVE per destination"
expect_eq "$(cmds "UID FETCH")" 2 "one size FETCH and one body FETCH for the batch"
expect_match "$(grep 'Command finished: UID FETCH' "$DLOG" | tail -1)" 'BODY.PEEK\[\]<0\.10485761>' "bodies asked for with PEEK and a limit"
"${DOVEADM[@]}" fetch -u $USER_ flags mailbox consent.processed >"$SCRATCH/flags"
expect_no_match "$(cat "$SCRATCH/flags")" 'Seen' "\\Seen left alone"

probe "$C" --state "$S"
expect_rc 0 "second pass"
expect_eq "$OUT" "pass n=0 uidvalidity=$UV last_uid=6" "nothing is handed over twice"

# --------------------------------------------------- -1 and stop() leave the rest
put INBOX m7 m8 m9 m10
probe "$C" --state "$S" --fail-at 2
expect_rc 0 "pass with -1 at the 2nd message"
expect_eq "$(uids)" "7 8 " "7 handed, 8 handed and refused, nothing after"
expect_match "$OUT" "pass n=2 uidvalidity=$UV last_uid=7$" "last_uid stops before the refused one"
expect_eq "$(count INBOX)" 3 "8, 9, 10 stay in INBOX"
probe "$C" --state "$S"
expect_eq "$(uids)" "8 9 10 " "next pass picks up 8, 9, 10"
expect_match "$OUT" "last_uid=10$" "then last_uid=10"
expect_eq "$(count INBOX)" 0 "INBOX empty again"

put INBOX m11 m12 m13
probe "$C" --state "$S" --stop-after 1
expect_eq "$(uids)" "11 " "stop() after one message"
expect_match "$OUT" "pass n=1 uidvalidity=$UV last_uid=11$" "stop: what was decided is moved"
expect_eq "$(count INBOX)" 2 "12, 13 stay"
probe "$C" --state "$S" --batch 1
expect_eq "$(uids)" "12 13 " "batch 1: the rest, in order"
expect_match "$OUT" "last_uid=13$" "last_uid=13"

# ------------------------------------------------------------------ batches
moves=$(cmds "UID MOVE")
put INBOX m14 m15 m16 m17 m18
probe "$C" --state "$S" --batch 2
expect_eq "$(uids)" "14 15 16 17 18 " "batch 2: five messages"
expect_eq "$(($(cmds "UID MOVE") - moves))" 3 "batch 2: three batches, three moves"

# ------------------------------------------------------------------ oversized
msg big 6000
msg_exact edge 2000
put INBOX small big edge
probe "$C" --state "$S" --max-bytes 2000
expect_rc 0 "pass with max-bytes 2000"
expect_eq "$(sed -n 1p <<<"$OUT")" "$(line 19 small)" "small message whole"
expect_eq "$(sed -n 2p <<<"$OUT")" "uid=20 len=2000 size=$(size big) truncated=1 sha256=$(head -c 2000 "$SCRATCH/big.eml" | sha256sum | cut -d' ' -f1)" "oversized message: first 2000 bytes, full size"
expect_eq "$(sed -n 3p <<<"$OUT")" "$(line 21 edge)" "exactly max-bytes is not truncated"
expect_eq "$(count INBOX)" 0 "oversized message moved too"

# ------------------------------------------------------------- UIDVALIDITY
put INBOX m22 m23
echo "12345 999" >"$S"
probe "$C" --state "$S"
expect_eq "$(uids)" "22 23 " "wrong remembered UIDVALIDITY: from UID 1 (all that is there)"
expect_match "$OUT" "pass n=2 uidvalidity=$UV last_uid=23$" "UIDVALIDITY taken over"

"${DOVEADM[@]}" mailbox create -u $USER_ incoming
conf incoming.conf 's#^mailbox = .*#mailbox = incoming#'
S2=$SCRATCH/state2
put incoming i1 i2
probe "$SCRATCH/incoming.conf" --state "$S2"
expect_eq "$(uids)" "1 2 " "mailbox incoming: 1 2"
UV1=$(cut -d' ' -f1 "$S2")
"${DOVEADM[@]}" mailbox delete -u $USER_ incoming
sleep 1.1   # a new UIDVALIDITY is the creation time in seconds
"${DOVEADM[@]}" mailbox create -u $USER_ incoming
put incoming i3
probe "$SCRATCH/incoming.conf" --state "$S2"
expect_eq "$(uids)" "1 " "recreated mailbox: UID 1 is handed over although 2 was remembered"
expect_eq "$(sed -n 's/^uid=1 .*sha256=//p' <<<"$OUT")" "$(sha i3)" "and it is the new message"
expect_no_match "$(cat "$S2")" "^$UV1 " "new UIDVALIDITY remembered"
expect_match "$(cat "$S2")" " 1$" "last_uid=1"

# --------------------------------------------------------------------- IDLE
probe "$C" --state "$S" --idle 1
expect_match "$OUT" "idle new_mail=0 waited=(0\.9|1\.)" "IDLE without mail waits the full second"
"$IMAP_IN_PROBE" -c "$C" --state "$S" --idle 10 >"$SCRATCH/idle.out" 2>&1 &
idle_pid=$!
for _ in $(seq 200); do grep -q "idle waiting" "$SCRATCH/idle.out" && break; sleep 0.05; done
sleep 0.5
t0=$(date +%s.%N)
put INBOX m24
for _ in $(seq 300); do grep -q "idle new_mail" "$SCRATCH/idle.out" && break; sleep 0.02; done
t1=$(date +%s.%N)
wait $idle_pid
RC=$? OUT=$(cat "$SCRATCH/idle.out") ERR=
expect_rc 0 "IDLE probe"
expect_match "$OUT" "idle new_mail=1" "IDLE reports new mail"
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "# IDLE woke $took s after doveadm save started"
CHECKS=$((CHECKS + 1))
awk -v t="$took" 'BEGIN { exit !(t < 2.0) }' || fail "IDLE woke after $took s, want < 2 s"
expect_match "$OUT" "uid=24 .*sha256=$(sha m24)" "the pass after IDLE hands it over"

# -------------------------------------------------- no MOVE: COPY + UID EXPUNGE
dovecot_conf "imap_capability = IMAP4rev1 LITERAL+ IDLE UIDPLUS"
moves=$(cmds "UID MOVE")
put INBOX m25 m26 m27
probe "$C" --state "$S" --route odd
expect_eq "$(uids)" "25 26 27 " "without MOVE: handed over"
expect_eq "$(count INBOX)" 0 "without MOVE: INBOX emptied"
expect_eq "$(cmds "UID MOVE")" "$moves" "no UID MOVE sent"
expect_eq "$(cmds "UID COPY")" 2 "UID COPY per destination"
expect_eq "$(cmds "UID EXPUNGE")" 1 "one UID EXPUNGE"
expect_match "$(ids consent.review)" "<m25@example.test> <m27@example.test> $" "copies in review"

# ------------------------------------- neither MOVE nor UIDPLUS: guarded EXPUNGE
dovecot_conf "imap_capability = IMAP4rev1 LITERAL+ IDLE"
put INBOX m28 m29 foreign
"${DOVEADM[@]}" flags add -u $USER_ '\Deleted' mailbox INBOX uid 30
probe "$C" --state "$S" --stop-after 2
expect_eq "$(uids)" "28 29 " "without UIDPLUS: two handed over, then stop"
expect_eq "$(cmds "EXPUNGE")" 0 "no plain EXPUNGE while an undecided message carries \\Deleted"
expect_eq "$(count INBOX)" 3 "so the copied ones stay (marked \\Deleted) next to it"
expect_match "$OUT" "last_uid=29$" "copied ones count as done"
probe "$C" --state "$S"
expect_eq "$(uids)" "30 " "next pass: only the other one"
expect_eq "$(cmds "EXPUNGE")" 1 "then the plain EXPUNGE runs"
expect_eq "$(count INBOX)" 0 "INBOX empty"
expect_match "$(ids consent.processed)" "<m28@example.test> <m29@example.test> <foreign@example.test> $" "each copied exactly once"
dovecot_conf

# ---------------------------------------------------------------- refusals
conf wrongpw.conf "s#^password_file =.*#password_file = $SCRATCH/wrong.secret#"
probe "$SCRATCH/wrongpw.conf"
expect_rc 1 "wrong password"
expect_match "$ERR" "open: LOGIN as consent@example.test: .*Authentication failed" "LOGIN refusal with the server's text"
conf same.conf 's#^review_mailbox = .*#review_mailbox = INBOX#'
probe "$SCRATCH/same.conf"
expect_match "$ERR" "must differ from mailbox" "review_mailbox = mailbox refused"
conf starttls.conf 's#^tls = .*#tls = starttls#'
probe "$SCRATCH/starttls.conf"
expect_rc 1 "STARTTLS required, server without TLS"
expect_match "$ERR" "STARTTLS is required but not offered" "STARTTLS not offered"

# --------------------------------------------------------------------- TLS
T=$SCRATCH/tls
mkdir -p "$T"
command -v openssl >/dev/null || fail "openssl is missing (package openssl, pulled in by postfix and dovecot-core)"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $1"; }
ossl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=consentd test CA"
cert() { # cert NAME SAN
	ossl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=imap.example.test"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$T/$1.ext"
	ossl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
		-out "$T/$1.pem" -extfile "$T/$1.ext"
}
cert ip IP:127.0.0.1
cert dns DNS:imap.example.test
chmod 644 "$T"/*.key
tls_conf() { # tls_conf CERT
	sed -e "s#^ssl = no#ssl = yes\nssl_cert = <$T/$1.pem\nssl_key = <$T/$1.key#" \
		-e "/inet_listener imaps {/,/}/s#port = 0#address = 127.0.0.1\n    port = $IMAPS_PORT#" \
		"$BASE/dovecot.conf.orig" >"$DC"
	"${DOVEADM[@]}" reload || fail "doveadm reload"
	sleep 1
}
tls_conf ip
conf imaps.conf "s#^tls = .*#tls = imaps#;s#^port = .*#port = $IMAPS_PORT#"
logins() { grep -c "Login: user=<$USER_>" "$DLOG"; }
put INBOX m31
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T run "$IMAP_IN_PROBE" -c "$SCRATCH/imaps.conf" --state "$S"
expect_rc 0 "IMAPS with a certificate for IP 127.0.0.1 from a trusted CA"
expect_eq "$(uids)" "31 " "IMAPS pass"
put INBOX m32
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T run "$IMAP_IN_PROBE" -c "$SCRATCH/starttls.conf" --state "$S"
expect_rc 0 "STARTTLS with a trusted certificate"
expect_eq "$(uids)" "32 " "STARTTLS pass"
n=$(logins)
SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent run "$IMAP_IN_PROBE" -c "$SCRATCH/imaps.conf"
expect_rc 1 "IMAPS, CA not trusted"
expect_match "$ERR" "TLS: certificate of 127.0.0.1 not accepted: unable to get local issuer certificate" "untrusted certificate refused"
SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent run "$IMAP_IN_PROBE" -c "$SCRATCH/starttls.conf"
expect_match "$ERR" "TLS: certificate of 127.0.0.1 not accepted" "STARTTLS: untrusted certificate refused"
tls_conf dns
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T run "$IMAP_IN_PROBE" -c "$SCRATCH/imaps.conf"
expect_rc 1 "IMAPS, certificate for another name"
expect_match "$ERR" "not accepted: IP address mismatch" "name mismatch refused"
sleep 0.3
expect_eq "$(logins)" "$n" "no LOGIN was sent to a server that did not verify"
conf plainport-imaps.conf "s#^tls = .*#tls = imaps#;s#^port = .*#port = $IMAP_PORT#"
run "$IMAP_IN_PROBE" -c "$SCRATCH/plainport-imaps.conf" --timeout 3
expect_match "$ERR" "IMAPS 127.0.0.1:$IMAP_PORT: TLS handshake failed" "IMAPS to a plain port fails cleanly"

# ------------------------------------------- "N:*" matches the highest message
# RFC 3501 6.4.8: "UID 41:*" matches the highest UID even when it is below 41.
put INBOX late
echo "$UV 40" >"$S"
probe "$C" --state "$S"
expect_eq "$OUT" "pass n=0 uidvalidity=$UV last_uid=40" "a UID below the remembered one is not handed over"
expect_eq "$(count INBOX)" 1 "and not moved"

finish
