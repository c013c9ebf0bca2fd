#!/bin/bash
# crash_imap.sh - kill -9 of consentd again and again while it reads a
# Dovecot mailbox full of replies over IMAP (loopback Postfix + Dovecot from
# contrib/mailstack).
#
# Each wave: W accounts get a consent request (consentctl request --all);
# for each, a reply from the account's address with its token (8 in 10
# "Ja", 1 in 10 "Nein", 1 in 10 unclear: held for review) is put into the
# consent mailbox's Maildir (tmp/ then new/, as an MTA delivers). Then
# consentd -f is started and killed with SIGKILL after a random life, again
# and again, until every reply is recorded and the INBOX is empty; another
# wave follows while fewer than MIN_KILLS kills hit the daemon during its
# ingest (it recorded replies in that life and replies were still waiting
# after the kill). Then one clean consentd --once.
#
# Evidence: the replies we put there (Message-ID, account, expected answer),
# the store's inbox table and ledger, and Dovecot's mailboxes:
#   lost          a reply with no inbox row of its own (not a duplicate),
#                 or its account not in the state the reply asks for;
#   double        a Message-ID with more than one inbox row not marked as
#                 duplicate, an account with more than one answer event
#                 (grant/decline) in the ledger or more than one receipt
#                 queued; a message read again after a kill must be
#                 recorded as "ignored duplicate" (their number is shown);
#   Dovecot       INBOX empty, consent/processed + consent/review hold
#                 every reply (second copies, left by a MOVE the server
#                 did in part before it died, are counted and shown);
#   consentctl ledger verify.
#
# Env: RELIABILITY_IMAP_WAVE (4000 replies per wave, at most 5 waves),
# RELIABILITY_KILLS (20), RELIABILITY_IMAP_KILL_MS (80-400).
# Ports: IMAP 12881, LMTP 12882, SMTP 12883, smtp-sink 12884; consentd's own
# SMTP goes to 12899, where nothing listens (receipts stay queued).
# Replies, evidence: imap_lib.sh.
. "$(dirname "$0")/common.sh"
: "${CONSENTD:?}"
WAVE=${RELIABILITY_IMAP_WAVE:-4000}
MIN_KILLS=${RELIABILITY_KILLS:-20}
KILL_MS=${RELIABILITY_IMAP_KILL_MS:-80-400}
KMIN=${KILL_MS%-*} KMAX=${KILL_MS#*-}
AREA="kill -9 during IMAP ingest"
export IMAP_PORT=12881 LMTP_PORT=12882 SMTP_PORT=12883 SINK_PORT=12884
. "$RELI_DIR/imap_lib.sh"
trap imap_cleanup EXIT
imap_setup
setup_done "$AREA"

T0=$SECONDS
kills=0 kills_mid=0 died=0 waves=0 lives=0
while [ "$waves" -lt 5 ]; do
	waves=$((waves + 1))
	wave "$waves" "$WAVE"
	setup_done "$AREA"
	want=$(wc -l <"$SCRATCH/expect")
	echo "wave $waves: $WAVE replies put into the INBOX ($(count INBOX) waiting)"
	while [ "$lives" -lt 400 ]; do
		lives=$((lives + 1))
		before=$(recorded)
		one_life
		now=$(recorded)
		inbox=$(count INBOX)
		[ "$now" -gt "$before" ] && { [ "$now" -lt "$want" ] || [ "$inbox" != 0 ]; } && kills_mid=$((kills_mid + 1))
		printf 'wave %d, kill %d: %d recorded in this life, %d of %d recorded, %s left in the INBOX\n' \
			"$waves" "$kills" $((now - before)) "$now" "$want" "$inbox"
		[ "$now" -ge "$want" ] && [ "$inbox" = 0 ] && break
	done
	[ "$kills_mid" -ge "$MIN_KILLS" ] && break
done
run timeout 300 "$CONSENTD" -c "$CONF" -f --once
cat "$SCRATCH/.stderr" >>"$LOG"
expect_rc 0 "a last clean consentd --once"
echo "kills: $kills ($kills_mid during ingest; the daemon exited on its own $died times) in $((SECONDS - T0)) s"

A="$AREA ($kills_mid kills, $(wc -l <"$SCRATCH/expect") replies)"
result_ge "$A" "kills while replies were being read" "$kills_mid" "$MIN_KILLS"
result_eq "$A" "daemon exits on its own (not killed)" "$died" 0
imap_evidence
reli_finish
