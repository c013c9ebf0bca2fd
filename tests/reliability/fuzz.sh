#!/bin/bash
# fuzz.sh - the longer local fuzz run of the reliability report: every
# libFuzzer target of tests/fuzz/ under ASan+UBSan (clang), each on a copy
# of its seed corpus (tests/fuzz/corpus/<target>; nothing new lands in the
# repository), with libFuzzer's final statistics parsed into
#   RESULT|fuzz <target> (<what>), <N> s|executions|<count>|-|ok
#   RESULT|fuzz <target>|exec/s|<rate>|-|ok
#   RESULT|fuzz <target>|crashes|<0|1>|0|ok or FAIL
#   RESULT|fuzz, all targets|executions|<sum>|>= 10,000,000|ok or FAIL
#   RESULT|fuzz, all targets|crashes|<sum>|0|ok or FAIL
# A crash, leak, timeout or out-of-memory stops that target (libFuzzer's
# way), keeps the reproducer under build/fuzz/crashes/<stamp>/<target>/
# (inside build/, which git ignores), prints the stack and fails the run;
# the other targets still run.
#
# Time budget per target (seconds; measured on the 2-core reference
# machine, ASan+UBSan, seed corpora, one process per target):
#   fuzz_inbound   ~180 exec/s  600   whole inbound core against a real store
#   fuzz_template  ~200 exec/s  600   loads a template set from disk per input
#   fuzz_csv       ~400 exec/s  600
#   fuzz_inmail   ~1200 exec/s  600
#   fuzz_policy   ~1200 exec/s  600
#   fuzz_intent   ~1200 exec/s  600
#   fuzz_reply    ~8500 exec/s  600
#   fuzz_config  ~24000 exec/s  300
#   fuzz_addr    ~78000 exec/s  300
# 80 minutes in all: the slow targets, which cover the most code, get the
# time; the fast ones bring the total past 10 million even when the machine
# is shared (measured, with valgrind.sh and other suites running beside it:
# 21.1 million executions; rates then drop to a half or less of the above,
# and fall further as the corpora grow longer inputs).
#
# Environment:
#   FUZZ_SECONDS=N          the same budget N for every target (instead of
#                           the table above), e.g. FUZZ_SECONDS=10 to smoke-test
#   FUZZ_SECONDS_<target>=N the budget of one target (fuzz_addr etc.)
#   FUZZ_TARGETS="a b"      only these targets (default: all nine)
#   FUZZ_MIN_TOTAL=N        the goal for the total (default 10000000)
#   FUZZ_KEEP_CORPUS=1      keep the grown corpora in build/fuzz/corpus/<target>
#                           and start from them next time (default: a temp copy
#                           of the seeds, removed afterwards)
#   FUZZ_BUILD_DIR=DIR      build tree (default build/fuzz)
#   FUZZ_ARGS="-flag=v ..." more libFuzzer flags (after ours, so they win)
# Exit status: 0 when no target crashed and the total reaches the goal.
# One process per target: -jobs/-fork would only split the same two cores
# (which the other reliability runs share) and hide the per-target rates.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-build/fuzz}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
MIN_TOTAL=${FUZZ_MIN_TOTAL:-10000000}
jobs=$(nproc 2>/dev/null || echo 2)

ALL_TARGETS="fuzz_inbound fuzz_inmail fuzz_policy fuzz_template fuzz_config fuzz_csv fuzz_addr fuzz_intent fuzz_reply"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

what() {
	case $1 in
	fuzz_inbound) echo "MIME/judge path" ;;
	fuzz_inmail) echo "inbound MIME parser" ;;
	fuzz_policy) echo "policy publish and announcement" ;;
	fuzz_template) echo "template loader and renderer" ;;
	fuzz_config) echo "config parser" ;;
	fuzz_csv) echo "CSV import reader" ;;
	fuzz_addr) echo "address check" ;;
	fuzz_intent) echo "reply intent classifier" ;;
	fuzz_reply) echo "quoted-text stripping" ;;
	*) echo "fuzz target" ;;
	esac
}
default_seconds() {
	case $1 in
	fuzz_config | fuzz_addr) echo 300 ;;
	*) echo 600 ;;
	esac
}
seconds_for() {
	local var="FUZZ_SECONDS_$1"
	if [ -n "${!var:-}" ]; then echo "${!var}"
	elif [ -n "${FUZZ_SECONDS:-}" ]; then echo "$FUZZ_SECONDS"
	else default_seconds "$1"
	fi
}

fails=0
result() {  # result AREA MEASURE VALUE GOAL ok|FAIL
	[ "$5" = ok ] || fails=$((fails + 1))
	printf 'RESULT|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$5"
}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 2; }

echo "=== fuzz: build ($BUILD, clang, ASan+UBSan, libFuzzer) ==="
if ! CC=clang cmake -S . -B "$BUILD" -DCONSENTD_FUZZ=ON -DCONSENTD_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=Debug >"$BUILD.configure.log" 2>&1; then
	tail -20 "$BUILD.configure.log"; echo "fuzz.sh: configure failed" >&2; exit 2
fi
# shellcheck disable=SC2086
if ! cmake --build "$BUILD" -j "$jobs" --target $TARGETS >"$BUILD.build.log" 2>&1; then
	tail -30 "$BUILD.build.log"; echo "fuzz.sh: build failed" >&2; exit 2
fi

STAMP=$(date +%Y%m%d-%H%M%S)
CRASHES=$BUILD/crashes/$STAMP
LOGS=$BUILD/logs/$STAMP
mkdir -p "$LOGS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

total=0 total_crashes=0 total_secs=0
table=()
for t in $TARGETS; do
	bin=$BUILD/tests/$t
	secs=$(seconds_for "$t")
	[ -x "$bin" ] || { echo "fuzz.sh: $bin missing" >&2; exit 2; }
	if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
		corpus=$BUILD/corpus/$t
		mkdir -p "$corpus"
	else
		corpus=$(mktemp -d /tmp/consentd-fuzz-$t.XXXXXX)
	fi
	cp -n "$ROOT/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
	mkdir -p "$CRASHES/$t"
	log=$LOGS/$t.log
	echo "=== $t ($(what "$t")): $secs s, corpus $(ls "$corpus" | wc -l) inputs, log $log ==="
	start=$(date +%s)
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -timeout=60 \
		-print_final_stats=1 -artifact_prefix="$CRASHES/$t/" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	[ -n "${FUZZ_KEEP_CORPUS:-}" ] || rm -rf "$corpus"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ -z "$execs" ]; then  # no final stats: the last status line "#N ..."
		execs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)
	fi
	execs=${execs:-0}
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	[ -n "$rate" ] || rate=$((execs / (took > 0 ? took : 1)))
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
	artifacts=$(find "$CRASHES/$t" -type f | sort)
	crashes=0
	if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
		crashes=1
		echo "--- $t FAILED (exit $rc) after $took s, $execs executions; reproducer(s):"
		if [ -n "$artifacts" ]; then
			for a in $artifacts; do echo "    $a"; echo "    replay: $bin $a   (or $BUILD/tests/${t}_replay $a)"; done
		else
			echo "    (none written; see $log)"
		fi
		echo "--- end of $log:"
		grep -n -E 'ERROR: |SUMMARY: |==[0-9]+==|#[0-9]+ 0x|runtime error|Assertion|abort|timeout|out-of-memory' "$log" | head -60
		tail -15 "$log"
	else
		rmdir "$CRASHES/$t" 2>/dev/null
		echo "$t: $execs executions, $rate exec/s, peak RSS ${rss:-?} MB, 0 crashes"
	fi
	total=$((total + execs))
	total_crashes=$((total_crashes + crashes))
	total_secs=$((total_secs + took))
	table+=("$(printf '%-14s %6s s %12s %9s %7s' "$t" "$took" "$execs" "$rate" "$crashes")")
	result "fuzz $t ($(what "$t")), $secs s" executions "$execs" - ok
	result "fuzz $t" "exec/s" "$rate" - ok
	result "fuzz $t" crashes "$crashes" 0 "$([ "$crashes" = 0 ] && echo ok || echo FAIL)"
done
rmdir "$CRASHES" "$BUILD/crashes" 2>/dev/null

echo "=== fuzz summary ($total_secs s) ==="
printf '%-14s %8s %12s %9s %7s\n' target time executions exec/s crashes
printf '%s\n' "${table[@]}"
printf '%-14s %6s s %12s %9s %7s\n' total "$total_secs" "$total" "$((total / (total_secs > 0 ? total_secs : 1)))" "$total_crashes"
goal=$(printf '%d' "$MIN_TOTAL" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
result "fuzz, all targets" executions "$total" ">= $goal" "$([ "$total" -ge "$MIN_TOTAL" ] && echo ok || echo FAIL)"
result "fuzz, all targets" crashes "$total_crashes" 0 "$([ "$total_crashes" = 0 ] && echo ok || echo FAIL)"
echo "logs: $LOGS"
[ "$fails" = 0 ]
