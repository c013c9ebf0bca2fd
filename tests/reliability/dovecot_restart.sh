#!/bin/bash
# dovecot_restart.sh - Dovecot (the IMAP server) restarted again and again
# in the middle of the running daemon's IMAP batches.
#
# consentd -f runs throughout. Each round puts a wave of W replies into the
# consent mailbox (imap_lib.sh: new accounts with a request each, 8 in 10
# yes, 1 no, 1 unclear); IDLE wakes the daemon, and once it has recorded a
# random part of the wave (seen in the store) Dovecot is
# restarted: odd rounds SIGTERM to its master and every process below it
# (a clean stop, as systemd stops the service: the server says BYE), even
# rounds SIGKILL to all of them (a crash: the connection just breaks; see
# dovecot_stop for the order); then Dovecot is started again with
# the same configuration. consentd reconnects after its backoff (5 s) and
# must finish the wave before the next round. A restart counts as "in the
# middle of a batch" when, once Dovecot was down, part of the wave was
# recorded and part was not yet recorded or not yet moved out of the INBOX
# (its Maildir's new/ and cur/ still hold files). Rounds go on until
# RESTARTS restarts were in the middle of a batch (at most RESTARTS + 10).
#
# Evidence as in crash_imap.sh (imap_lib.sh): the replies put there against
# the store's inbox table, consent states and ledger, and Dovecot's folders;
# plus: the daemon still runs at the end (it never gives up on IMAP).
#
# Env: RELIABILITY_RESTARTS (20), RELIABILITY_RESTART_WAVE (600 replies).
# Ports: IMAP 12889, LMTP 12890, SMTP 12891, smtp-sink 12892; consentd's
# own SMTP goes to 12899, where nothing listens.
. "$(dirname "$0")/common.sh"
: "${CONSENTD:?}"
RESTARTS=${RELIABILITY_RESTARTS:-20}
W=${RELIABILITY_RESTART_WAVE:-600}
AREA="Dovecot restarted during IMAP batches"
export IMAP_PORT=12889 LMTP_PORT=12890 SMTP_PORT=12891 SINK_PORT=12892
. "$RELI_DIR/imap_lib.sh"
trap imap_cleanup EXIT
imap_setup
setup_done "$AREA"
DCONF=$BASE/dovecot/dovecot.conf
MASTERPID=$BASE/dovecot/run/master.pid

# live PID - the process exists and is no zombie (nobody here may reap a
# killed daemon: its parent is pid 1)
live() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
master() { local p; p=$(tr -dc 0-9 2>/dev/null <"$MASTERPID"); [ -n "$p" ] && live "$p" && echo "$p"; }
# below PID - the processes PID started (Dovecot's are all children of its
# master: imap-login, imap, auth, log, ...)
below() { ps -o pid= --ppid "$1"; }
# dovecot_stop term|kill - the master and every process below it get
# SIGTERM (as systemd stops a service: the whole control group; SIGTERM to
# the master alone leaves the imap process serving consentd running) or
# SIGKILL; wait until all are gone (a zombie counts as gone).
# SIGKILL goes to the master's children first and to the master once it
# has reaped them: pid 1 of this machine reaps nobody, and the zombie of an
# imap process killed together with its master would pass Dovecot's
# "is the holder of this mailbox lock alive?" test (kill(pid, 0)), so the
# new Dovecot would wait out the lock's 2-minute stale timeout - a test
# machine's artefact (systemd reaps), not what is measured here.
dovecot_stop() {
	local m pids kids p alive
	m=$(master) || { fail "no Dovecot master to stop"; return 1; }
	kids=$(echo $(below "$m"))
	if [ "$1" = term ]; then
		pids="$m $kids"
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null
	else
		# shellcheck disable=SC2086
		kill -KILL $kids 2>/dev/null
		for _ in $(seq 100); do
			alive=0
			for p in $kids; do [ -d "/proc/$p" ] && alive=1; done   # reaped by the master
			[ "$alive" = 0 ] && break
			sleep 0.01
		done
		pids="$m $kids $(echo $(below "$m"))"   # and any it started meanwhile
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
	fi
	for _ in $(seq 200); do
		alive=0
		for p in $pids; do live "$p" && alive=1; done
		[ "$alive" = 0 ] && return 0
		sleep 0.05
	done
	fail "Dovecot ($1) still running after 10 s: $(ps -o pid=,ppid=,stat=,args= -p "${pids// /,}" | tr '\n' ';')"
}
# dovecot_start - as mailstack.sh starts it (a pid file left by a killed
# master would be taken for a running instance).
dovecot_start() {
	[ -n "$(master)" ] || rm -f "$MASTERPID"
	rm -f "$BASE/dovecot/lmtp.sock"
	/usr/sbin/dovecot -c "$DCONF" || { fail "Dovecot did not start"; return 1; }
	for _ in $(seq 200); do ! port_free "$IMAP_PORT" && return 0; sleep 0.05; done
	fail "Dovecot not listening on $IMAP_PORT 10 s after its start"
}

T0=$SECONDS
mid=0 restarts=0 stuck=0
r=0
while [ "$mid" -lt "$RESTARTS" ] && [ "$r" -lt $((RESTARTS + 10)) ]; do
	r=$((r + 1))
	wave "$r" "$W"
	setup_done "$AREA"
	if [ "$r" = 1 ]; then   # the store exists now
		"$CONSENTD" -c "$CONF" -f 2>>"$LOG" &
		DAEMONPID=$!
	fi
	# consentd fetches 200 at a time; the store shows a batch's outcomes
	# at once. Aim at the first half, then wait 0-100 ms more: the stop
	# falls while a batch is filed away or the next one is read.
	at=$((1 + RANDOM % (W / 2)))
	got=0
	for _ in $(seq 2000); do   # up to ~20 s for IDLE to wake consentd and it to get there
		got=$(recorded "$r")
		[ "$got" -ge "$at" ] && break
		sleep 0.005
	done
	sleep_ms 0 100
	if [ $((r % 2)) = 1 ]; then how=term; else how=kill; fi
	dovecot_stop "$how"
	stopped_at=$(recorded "$r")
	unmoved=$(find "$MD/new" "$MD/cur" -type f | wc -l)   # still in the INBOX
	dovecot_start
	restarts=$((restarts + 1))
	[ "$stopped_at" -gt 0 ] && { [ "$stopped_at" -lt "$W" ] || [ "$unmoved" -gt 0 ]; } && mid=$((mid + 1))
	# consentd comes back after its backoff (5 s) and reads the rest.
	done_in=
	for i in $(seq 600); do
		if [ "$(recorded "$r")" -ge "$W" ] && [ "$(count INBOX)" = 0 ]; then done_in=$i; break; fi
		sleep 0.1
	done
	printf 'round %d: Dovecot %s with %d of %d recorded (aimed at %d), %d in the INBOX; wave %s\n' "$r" \
		"$([ $how = term ] && echo 'stopped (SIGTERM)' || echo 'killed (SIGKILL)')" "$stopped_at" "$W" "$at" "$unmoved" \
		"${done_in:+done $((done_in / 10)).$((done_in % 10)) s after the restart}"
	[ -n "$done_in" ] || { stuck=$((stuck + 1)); echo "round $r: wave not done within 60 s: $(recorded "$r") of $W recorded, INBOX $(count INBOX)"; }
	[ "$stuck" -lt 2 ] || break
done
alive=0
kill -0 "$DAEMONPID" 2>/dev/null && alive=1
kill -TERM "$DAEMONPID" 2>/dev/null
wait "$DAEMONPID" 2>/dev/null
DAEMONPID=
# Whatever the daemon left (nothing, if all went well), by a clean pass.
run timeout 300 "$CONSENTD" -c "$CONF" -f --once
cat "$SCRATCH/.stderr" >>"$LOG"
expect_rc 0 "a last clean consentd --once"
reconnects=$(grep -c 'trying again in' "$LOG")
echo "restarts: $restarts ($mid in the middle of a batch) in $((SECONDS - T0)) s; consentd logged $reconnects broken connections"

A="$AREA ($restarts restarts, $(wc -l <"$SCRATCH/expect") replies)"
result_ge "$A" "restarts in the middle of a batch" "$mid" "$RESTARTS"
result_eq "$A" "consentd still running after the restarts" "$alive" 1
result_eq "$A" "waves not read within 60 s of the restart" "$stuck" 0
imap_evidence
reli_finish
