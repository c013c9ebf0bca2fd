#!/bin/bash
# run.sh - the reliability report in one command:
#
#   bash tests/reliability/run.sh [BUILD_DIR]          (as root)
#
# Runs, one after the other, every part it knows that is present in
# tests/reliability/ and not skipped:
#   crash_broadcast  kill -9 of consentd during a 10,000-account broadcast
#   crash_imap       kill -9 of consentd during IMAP ingest
#   pipe_faults      store locked / disk full / read-only / not owned while
#                    Postfix's pipe(8) delivers to consent-deliver
#   dovecot_restart  Dovecot restarted 20 times during the daemon's batches
#   fuzz             libFuzzer on every target (fuzz.sh; about 80 minutes)
#   valgrind         the whole ctest suite under memcheck (valgrind.sh)
# collects the lines RESULT|area|measure|value|goal|ok-or-FAIL they print,
# and prints one aligned table of them, the time each part took, and the
# same as Markdown (for the README). Exit status 1 when any result is FAIL
# or a part failed without saying why in a RESULT line; 2 on a usage or
# build error.
#
# Environment:
#   BUILD_DIR=DIR          the build the crash/fault parts test (default
#                          build/ci; the argument wins). Configured and built
#                          when missing (cmake -S . -B DIR && cmake --build
#                          DIR -j2); an existing one is brought up to date
#                          with cmake --build unless RELIABILITY_NO_BUILD=1.
#                          fuzz.sh and valgrind.sh use builds of their own.
#   RELIABILITY_SKIP="fuzz valgrind"   parts not to run (names above; "crash"
#                          stands for the four crash/fault parts)
#   RELIABILITY_ONLY="crash_imap ..."  run only these parts
#   RELIABILITY_MD=FILE    write the Markdown table to FILE instead of
#                          printing it at the end
#   RELIABILITY_LOGS=DIR   where each part's whole output is kept (default
#                          BUILD_DIR/reliability/<date-time>)
#   RELIABILITY_PART_TIMEOUT=S  a crash/fault part still running after S
#                          seconds (default 900) is stopped (SIGTERM: it
#                          cleans up) and fails with exit status 124
# Each part's own knobs (RELIABILITY_KILLS, RELIABILITY_BROADCAST_N, FUZZ_*,
# VALGRIND_*, ...) are described at the top of its script.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT" || exit 2
PARTS="crash_broadcast crash_imap pipe_faults dovecot_restart fuzz valgrind"
CRASH_PARTS="crash_broadcast crash_imap pipe_faults dovecot_restart"

BUILD_DIR=${1:-${BUILD_DIR:-build/ci}}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (Postfix, Dovecot, tmpfs mounts)" >&2; exit 2; }

skip=" ${RELIABILITY_SKIP:-} "
skip=${skip// crash / $CRASH_PARTS }
only=" ${RELIABILITY_ONLY:-} "
only=${only// crash / $CRASH_PARTS }
wanted() {
	case $skip in *" $1 "*) return 1 ;; esac
	[ -z "${RELIABILITY_ONLY:-}" ] && return 0
	case $only in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- the build the crash/fault parts use ----
need_build=0
for p in $CRASH_PARTS; do wanted "$p" && [ -f "$HERE/$p.sh" ] && need_build=1; done
if [ "$need_build" = 1 ]; then
	if [ ! -x "$BUILD_DIR/src/consentd" ] || [ ! -x "$BUILD_DIR/tests/fake_smtp" ]; then
		echo "== building $BUILD_DIR"
		{ cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null && cmake --build "$BUILD_DIR" -j2 >/dev/null; } ||
			{ echo "run.sh: the build in $BUILD_DIR failed" >&2; exit 2; }
	elif [ -z "${RELIABILITY_NO_BUILD:-}" ]; then
		echo "== bringing $BUILD_DIR up to date"
		cmake --build "$BUILD_DIR" -j2 >/dev/null || { echo "run.sh: the build in $BUILD_DIR failed" >&2; exit 2; }
	fi
fi
export BUILD_DIR SRC_DIR=$ROOT TESTS_DIR=$ROOT/tests
export CONSENTCTL=$BUILD_DIR/src/consentctl CONSENTD=$BUILD_DIR/src/consentd
export CONSENT_DELIVER=$BUILD_DIR/src/consent-deliver MAILCHECK=$BUILD_DIR/tests/mailcheck
export FAKE_SMTP=$BUILD_DIR/tests/fake_smtp LEDGER_GRANT=$BUILD_DIR/tests/ledger_grant

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
LOGS=${RELIABILITY_LOGS:-$BUILD_DIR/reliability/$STAMP}
mkdir -p "$LOGS" || exit 2
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain -- src include 2>/dev/null)" ] || COMMIT="$COMMIT + uncommitted changes in src/include"
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
echo "== reliability report: commit $COMMIT, build $BUILD_DIR (${BTYPE:-default}), $(nproc) cores, logs in $LOGS"

RESULTS=$LOGS/results.txt
: >"$RESULTS"
declare -a TIMES=()
T_ALL=$SECONDS
for p in $PARTS; do
	script=$HERE/$p.sh
	if ! wanted "$p"; then TIMES+=("$p|skipped|-|-"); continue; fi
	if [ ! -f "$script" ]; then TIMES+=("$p|not present|-|-"); continue; fi
	echo
	echo "== $p ($(date -u +%H:%M:%S))"
	t0=$SECONDS
	case " $CRASH_PARTS " in
	*" $p "*) timeout -k 30 "${RELIABILITY_PART_TIMEOUT:-900}" bash "$script" 2>&1 | tee "$LOGS/$p.log" ;;
	*) bash "$script" 2>&1 | tee "$LOGS/$p.log" ;;
	esac
	rc=${PIPESTATUS[0]}
	secs=$((SECONDS - t0))
	grep -a '^RESULT|' "$LOGS/$p.log" >"$LOGS/$p.results"
	n=$(wc -l <"$LOGS/$p.results")
	nfail=$(grep -c '|FAIL$' "$LOGS/$p.results")
	# A part that failed without a FAIL line of its own, or said nothing.
	if [ "$n" = 0 ]; then
		echo "RESULT|$p|results printed|none (exit $rc)|some|FAIL" >>"$LOGS/$p.results"
	elif [ "$rc" != 0 ] && [ "$nfail" = 0 ]; then
		echo "RESULT|$p|exit status|$rc|0|FAIL" >>"$LOGS/$p.results"
	fi
	cat "$LOGS/$p.results" >>"$RESULTS"
	n=$(wc -l <"$LOGS/$p.results")
	nfail=$(grep -c '|FAIL$' "$LOGS/$p.results")
	TIMES+=("$p|$secs s|$rc|$((n - nfail)) ok, $nfail FAIL")
done
T_ALL=$((SECONDS - T_ALL))

# ---- the table ----
# table text|md FILE - RESULT lines as an aligned text table or Markdown.
# The area is written once per group of rows.
table() {
	local mode=$1 file=$2 line area measure value goal ok prev= i w
	local -a rows=() wd=(4 7 5 4 2)
	local -a hdr=(area measure value goal ok)
	while IFS= read -r line; do
		IFS='|' read -r _ area measure value goal ok <<<"$line"
		[ "$area" = "$prev" ] && a= || a=$area
		prev=$area
		rows+=("$a|$measure|$value|$goal|$ok")
		i=0
		for f in "$a" "$measure" "$value" "$goal" "$ok"; do
			[ "${#f}" -le "${wd[$i]}" ] || wd[$i]=${#f}
			i=$((i + 1))
		done
	done <"$file"
	pad() { printf '%s%*s' "$1" $(($2 - ${#1})) ''; }
	if [ "$mode" = md ]; then
		echo "| area | measure | value | goal | ok |"
		echo "| --- | --- | ---: | --- | --- |"
		for line in "${rows[@]}"; do
			IFS='|' read -r area measure value goal ok <<<"$line"
			[ "$ok" = FAIL ] && ok="**FAIL**"
			printf '| %s | %s | %s | %s | %s |\n' "$area" "$measure" "$value" "$goal" "$ok"
		done
		return
	fi
	local sep=
	for i in 0 1 2 3 4; do sep+=$(printf '%*s' "${wd[$i]}" '' | tr ' ' -)"-+-"; done
	sep=${sep%-+-}
	for i in 0 1 2 3 4; do pad "${hdr[$i]}" "${wd[$i]}"; [ $i = 4 ] || printf ' | '; done
	echo
	echo "$sep"
	for line in "${rows[@]}"; do
		IFS='|' read -r area measure value goal ok <<<"$line"
		[ -z "$area" ] || [ "$line" = "${rows[0]}" ] || echo "$sep"
		pad "$area" "${wd[0]}"; printf ' | '; pad "$measure" "${wd[1]}"; printf ' | '
		printf '%*s' $((wd[2] - ${#value})) ''; printf '%s | ' "$value"
		pad "$goal" "${wd[3]}"; printf ' | %s\n' "$ok"
	done
}
times_table() {
	local mode=$1 t p s rc r
	if [ "$mode" = md ]; then
		echo "| part | time | exit | results |"
		echo "| --- | ---: | --- | --- |"
		for t in "${TIMES[@]}"; do IFS='|' read -r p s rc r <<<"$t"; echo "| $p | $s | $rc | $r |"; done
		echo "| all | $T_ALL s | | |"
	else
		printf '%-16s %12s %5s  %s\n' part time exit results
		for t in "${TIMES[@]}"; do IFS='|' read -r p s rc r <<<"$t"; printf '%-16s %12s %5s  %s\n' "$p" "$s" "$rc" "$r"; done
		printf '%-16s %12s\n' all "$T_ALL s"
	fi
}

fails=$(grep -c '|FAIL$' "$RESULTS")
echo
echo "== reliability report ($(date -u +%F), commit $COMMIT, $(nproc) cores)"
echo
table text "$RESULTS" | tee "$LOGS/table.txt"
echo
times_table text | tee -a "$LOGS/table.txt"
{
	echo "Reliability report, $(date -u +%F), commit $COMMIT, build ${BTYPE:-default}, $(nproc) cores (\`tests/reliability/run.sh\`):"
	echo
	table md "$RESULTS"
	echo
	times_table md
} >"$LOGS/table.md"
if [ -n "${RELIABILITY_MD:-}" ]; then
	cp "$LOGS/table.md" "$RELIABILITY_MD" && echo && echo "Markdown written to $RELIABILITY_MD"
else
	echo
	echo "== Markdown"
	echo
	cat "$LOGS/table.md"
fi
echo
if [ "$fails" -gt 0 ]; then
	echo "== $fails result(s) FAIL (logs: $LOGS)"
	exit 1
fi
echo "== all results ok (logs: $LOGS)"
exit 0
