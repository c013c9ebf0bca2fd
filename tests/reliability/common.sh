# common.sh - sourced by the crash/fault scripts of tests/reliability/
# (crash_broadcast.sh, crash_imap.sh, pipe_faults.sh, dovecot_restart.sh).
#
# - Sets the variables tests/cli/lib.sh and the integration tests use
#   (CONSENTCTL, CONSENTD, CONSENT_DELIVER, MAILCHECK, FAKE_SMTP,
#   LEDGER_GRANT, TESTS_DIR, SRC_DIR) from BUILD_DIR (default build/ci)
#   unless run.sh or the caller already set them, so each script also runs
#   alone: `bash tests/reliability/crash_imap.sh` (BUILD_DIR=build/rel ...).
# - Gives each script its own scratch directory /tmp/csrel-NAME (short:
#   Dovecot's socket paths live below the mail stack's base), then sources
#   tests/cli/lib.sh (write_conf, ctl, run, expect_*).
# - result AREA MEASURE VALUE GOAL ok|FAIL prints the machine-readable line
#   run.sh collects:  RESULT|area|measure|value|goal|ok
#
# Ports: this directory uses 127.0.0.1:12880-12899 only (see each script).
# Nothing here contacts any other host.

RELI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${SRC_DIR:=$(cd "$RELI_DIR/../.." && pwd)}"
: "${TESTS_DIR:=$SRC_DIR/tests}"
if [ -z "${CONSENTCTL:-}" ]; then
	: "${BUILD_DIR:=$SRC_DIR/build/ci}"
	case $BUILD_DIR in /*) ;; *) BUILD_DIR=$SRC_DIR/$BUILD_DIR ;; esac
	CONSENTCTL=$BUILD_DIR/src/consentctl
	CONSENTD=$BUILD_DIR/src/consentd
	CONSENT_DELIVER=$BUILD_DIR/src/consent-deliver
	MAILCHECK=$BUILD_DIR/tests/mailcheck
	FAKE_SMTP=$BUILD_DIR/tests/fake_smtp
	LEDGER_GRANT=$BUILD_DIR/tests/ledger_grant
fi
export SRC_DIR TESTS_DIR CONSENTCTL CONSENTD CONSENT_DELIVER MAILCHECK FAKE_SMTP LEDGER_GRANT
for _b in "$CONSENTCTL" "$CONSENTD" "$CONSENT_DELIVER" "$MAILCHECK" "$FAKE_SMTP"; do
	[ -x "$_b" ] || { echo "missing $_b: build first (cmake -S . -B build/ci && cmake --build build/ci -j2) or set BUILD_DIR" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "$(basename "$0"): must run as root (Postfix, Dovecot, mounts)" >&2; exit 2; }

RELI_NAME=$(basename "$0" .sh)
# SIGTERM (run.sh's time limit) or ^C: leave through the EXIT trap of the
# script, which stops what it started (daemon, mail stack, mounts).
trap 'echo "$RELI_NAME: terminated"; exit 143' TERM INT
SCRATCH=${RELIABILITY_TMP:-/tmp}/csrel-$RELI_NAME
# shellcheck source=../cli/lib.sh
. "$TESTS_DIR/cli/lib.sh"
STACK=$SRC_DIR/contrib/mailstack/mailstack.sh
RESULT_FAILS=0

# result AREA MEASURE VALUE GOAL OK - OK is 1/ok for ok, anything else FAIL.
result() {
	local st=FAIL
	case $5 in 1 | ok) st=ok ;; esac
	[ "$st" = ok ] || RESULT_FAILS=$((RESULT_FAILS + 1))
	printf 'RESULT|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$st"
}
# result_eq AREA MEASURE VALUE WANT
result_eq() { result "$1" "$2" "$3" "$4" "$([ "$3" = "$4" ] && echo 1)"; }
# result_le AREA MEASURE VALUE MAX [GOALTEXT] - numeric, VALUE <= MAX.
result_le() { result "$1" "$2" "$3" "${5:-<= $4}" "$([ "$3" -le "$4" ] 2>/dev/null && echo 1)"; }
# result_ge AREA MEASURE VALUE MIN [GOALTEXT]
result_ge() { result "$1" "$2" "$3" "${5:->= $4}" "$([ "$3" -ge "$4" ] 2>/dev/null && echo 1)"; }

# sq SQL... - a read of the store (waits up to 10 s for a writer).
sq() { sqlite3 -cmd ".timeout 10000" "$DB" "$@"; }

# sleep_ms MIN MAX - sleep a random time between MIN and MAX milliseconds.
sleep_ms() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# port_free PORT - nobody listens on 127.0.0.1:PORT.
# one_life - consentd started in the foreground (config $CONF, log $LOG)
# and killed with SIGKILL after KMIN..KMAX ms: kills counts the kills, died
# the lives that had ended by themselves before.
one_life() {
	"$CONSENTD" -c "$CONF" -f 2>>"$LOG" &
	DAEMONPID=$!
	sleep_ms "$KMIN" "$KMAX"
	if kill -9 "$DAEMONPID" 2>/dev/null; then kills=$((kills + 1)); else died=$((died + 1)); fi
	wait "$DAEMONPID" 2>/dev/null
	DAEMONPID=
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# reli_finish - exit status: 1 when a RESULT line said FAIL or a setup
# check failed (lib.sh's fail), else 0; the scratch directory is kept for
# a look after a failure (RELIABILITY_KEEP=1 keeps it always).
reli_finish() {
	echo "$RELI_NAME: $((SECONDS - RELI_T0)) s, $RESULT_FAILS result(s) FAIL, $FAILS setup check(s) failed"
	if [ "$RESULT_FAILS" -eq 0 ] && [ "$FAILS" -eq 0 ]; then
		[ -n "${RELIABILITY_KEEP:-}" ] || rm -rf "$SCRATCH"
		exit 0
	fi
	echo "$RELI_NAME: scratch kept in $SCRATCH"
	exit 1
}
# setup_done AREA - after the set-up: a failed set-up check ends the script
# with one FAIL line instead of figures measured on a broken set-up.
setup_done() {
	[ "$FAILS" -eq 0 ] && return 0
	result "$1" "set-up (see the FAIL lines above)" "failed" "ok" FAIL
	reli_finish
}
RELI_T0=$SECONDS
