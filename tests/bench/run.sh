#!/usr/bin/env bash
# run.sh BUILD_DIR - the consentd benchmark: import, ledger verify and check
# latency, each against a baseline measured in the same run, ending in one
# table "metric | consentd | baseline | goal | met?".
#
#   bash tests/bench/run.sh BUILD_DIR
#
# BUILD_DIR is a configured and built tree (cmake -S . -B BUILD_DIR &&
# make -C BUILD_DIR); an optimised build (-DCMAKE_BUILD_TYPE=Release) is
# what the goals are about. Sizes can be changed for a quick try:
#   ROWS=1000000 SMALL_ROWS=100000 EVENTS=1000000 CHECKS=1000
# Everything happens in a temporary directory under /tmp, removed at the end
# (KEEP=1 keeps it). Needs GNU time (/usr/bin/time), sqlite3, awk, sha256sum.
#
# Goals (issue #2): import of 1,000,000 CSV rows <= 10 s with flat memory,
# ledger verify over 1,000,000 events <= 5 s, check <= 2 ms median (whole
# process), on the 2-core reference machine. Exit status 0 when the run
# completed (goals met or not), 2 when something failed.
set -euo pipefail

die() { echo "run.sh: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: bash tests/bench/run.sh BUILD_DIR"
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "no build directory '$1'"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=${ROWS:-1000000}
SMALL_ROWS=${SMALL_ROWS:-100000}
EVENTS=${EVENTS:-1000000}
CHECKS=${CHECKS:-1000}

CTL=$BUILD/src/consentctl
BENCH_BIN=${BENCH_BIN:-$BUILD/tests/bench}
FILL=$BENCH_BIN/bench_fill
CHECK=$BENCH_BIN/bench_check
[ -x "$CTL" ] || die "$CTL not built (make -C $BUILD)"
[ -x "$FILL" ] && [ -x "$CHECK" ] ||
	die "$BENCH_BIN/bench_fill or bench_check not built (tests must be on: BUILD_TESTING, make -C $BUILD bench_fill bench_check)"
[ -x /usr/bin/time ] && /usr/bin/time -f '%e' true 2>/dev/null >/dev/null ||
	die "GNU time (/usr/bin/time) is missing: apt-get install time"
command -v sqlite3 >/dev/null || die "sqlite3 CLI is missing: apt-get install sqlite3"
command -v sha256sum >/dev/null || die "sha256sum is missing: apt-get install coreutils"
command -v awk >/dev/null || die "awk is missing"

BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
echo "consentd benchmark: build $BUILD (CMAKE_BUILD_TYPE='${BUILD_TYPE}'), $(nproc) cores, $(uname -r)"
case "$BUILD_TYPE" in
Release|RelWithDebInfo|MinSizeRel) ;;
*) echo "note: not an optimised build; configure with -DCMAKE_BUILD_TYPE=Release for numbers that count" ;;
esac

T=$(mktemp -d /tmp/consentd-bench.XXXXXX)
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT

# conf NAME - a config with its store at $T/NAME.db, no IMAP secret file.
conf() {
	sed -e "s#^path = .*#path = $T/$1.db#" \
	    -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
	    "$SRC/conf/consentd.conf" > "$T/$1.conf"
}

# timed NAME CMD... - run CMD with stdout to $T/NAME.out, stderr to
# $T/NAME.err; sets SECS (wall, 10 ms resolution) and KB (peak RSS). A non-zero
# exit stops the benchmark.
timed() {
	local name=$1; shift
	if ! /usr/bin/time -f '%e %M' -o "$T/$name.time" "$@" >"$T/$name.out" 2>"$T/$name.err"; then
		cat "$T/$name.out" "$T/$name.err" >&2
		die "$name failed: $*"
	fi
	read -r SECS KB < <(tail -n 1 "$T/$name.time")
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
yes_no() { if "$@"; then echo yes; else echo NO; fi; }

# ---- 1. CSV import ----
echo
echo "== import: generating $ROWS CSV rows (awk)"
CSV=$T/accounts.csv
awk -v n="$ROWS" 'BEGIN {
	print "id,email,name,lang"
	for (i = 1; i <= n; i++)
		printf "u%07d,user%d@example%d.com,Nutzer %d M\303\274ller,%s\n", i, i, i % 100, i,
		       (i % 3 == 0 ? "en" : (i % 3 == 1 ? "de" : ""))
}' > "$CSV"
SMALL_CSV=$T/accounts_small.csv
head -n $((SMALL_ROWS + 1)) "$CSV" > "$SMALL_CSV"
echo "   $(du -h "$CSV" | cut -f1) CSV; importing $SMALL_ROWS rows, then $ROWS rows, each into a fresh store"

conf small
timed import_small "$CTL" -c "$T/small.conf" account import "$SMALL_CSV"
IMP_S_SECS=$SECS IMP_S_KB=$KB
echo "   $SMALL_ROWS rows: ${SECS} s, peak RSS $(mb "$KB") MB: $(tail -n 1 "$T/import_small.out")"

conf import
timed import "$CTL" -c "$T/import.conf" account import "$CSV"
IMP_SECS=$SECS IMP_KB=$KB
echo "   $ROWS rows: ${SECS} s, peak RSS $(mb "$KB") MB: $(tail -n 1 "$T/import.out")"
rm -f "$T"/small.db*   # keep the disk use down

timed base_import sqlite3 -init /dev/null "$T/base.db" ".import --csv $CSV t"
BASE_IMP_SECS=$SECS BASE_IMP_KB=$KB
echo "   baseline sqlite3 .import --csv into a plain table (no indexes, no checks): ${SECS} s, peak RSS $(mb "$KB") MB"
rm -f "$T"/base.db* "$T"/import.db* "$SMALL_CSV" "$CSV"

# ---- 2. ledger verify ----
echo
echo "== ledger: filling a fresh store with $EVENTS events (bench_fill)"
conf fill
timed fill "$FILL" "$T/fill.conf" "$EVENTS"
FILL_SECS=$(sed -n 's/^seconds=//p' "$T/fill.out")
GRANTED_ID=$(sed -n 's/^granted_example=//p' "$T/fill.out")
echo "   $(tr '\n' ' ' < "$T/fill.out")"
[ -n "$GRANTED_ID" ] || die "bench_fill found no granted account to check"
DB=$T/fill.db
DB_MB=$(mb $(( $(stat -c %s "$DB") / 1024 )))

timed verify "$CTL" -c "$T/fill.conf" ledger verify
VER_SECS=$SECS VER_KB=$KB
grep -q "^ledger intact: $EVENTS events" "$T/verify.out" ||
	die "ledger verify did not report $EVENTS intact events: $(cat "$T/verify.out")"
echo "   consentctl ledger verify: ${SECS} s, peak RSS $(mb "$KB") MB: $(cut -c1-40 "$T/verify.out")..."

timed base_verify sha256sum "$DB"
BASE_VER_SECS=$SECS BASE_VER_KB=$KB
echo "   baseline sha256sum of the database file ($DB_MB MB): ${SECS} s, peak RSS $(mb "$KB") MB"

# Second baseline: what reading the same rows through SQLite costs, with no
# hashing - the same join verify walks, then the (acct, purpose, seq) pass.
timed base_scan sqlite3 -init /dev/null "$DB" \
	"SELECT count(*), sum(length(e.purpose) + length(e.kind) + length(e.channel) + length(e.policy)
	   + length(e.raw_sha256) + length(e.shown_sha256) + length(e.pd_mac) + length(e.prev)
	   + length(e.hash) + ifnull(length(e.address), 0) + ifnull(length(e.sender), 0)
	   + ifnull(length(e.msg_id), 0) + length(a.hkey))
	 FROM event e LEFT JOIN account a ON a.key = e.acct;
	 SELECT count(*), sum(length(kind)) FROM (SELECT acct, purpose, kind FROM event ORDER BY acct, purpose, seq);"
SCAN_SECS=$SECS
echo "   baseline sqlite3 reading the same rows and columns, both passes, no hashing: ${SECS} s"

# ---- 3. check latency ----
echo
echo "== check: $CHECKS runs each of consentctl check $GRANTED_ID log-linking and baselines, on the $EVENTS-event store"
"$CHECK" "$CHECKS" "$CTL" "$T/fill.conf" "$GRANTED_ID" log-linking "$DB" > "$T/check.out" ||
	die "bench_check failed"
grep -v = "$T/check.out" | sed 's/^/   /'
val() { sed -n "s/^$1=//p" "$T/check.out"; }
CHK_MED=$(val consentctl_median_ms) CHK_P90=$(val consentctl_p90_ms) CHK_P99=$(val consentctl_p99_ms)
SQL_MED=$(val sqlite3_median_ms) SQL_P90=$(val sqlite3_p90_ms) SQL_P99=$(val sqlite3_p99_ms)
TRUE_MED=$(val true_median_ms) VERSION_MED=$(val version_median_ms)

# ---- the table ----
FLAT_LIMIT=$(awk -v k="$IMP_S_KB" 'BEGIN { printf "%d", k * 1.10 + 1024 }')
row() { printf '| %-36s | %-12s | %-34s | %-14s | %-4s |\n' "$@"; }
echo
row "metric" "consentd" "baseline (same run)" "goal" "met?"
row "------------------------------------" "------------" "----------------------------------" "--------------" "----"
row "import $ROWS rows (s)" "$IMP_SECS" "$BASE_IMP_SECS (sqlite3 .import)" "<= 10 s" "$(yes_no le "$IMP_SECS" 10)"
row "import $ROWS rows peak RSS (MB)" "$(mb "$IMP_KB")" "$(mb "$BASE_IMP_KB") (sqlite3 .import)" "flat" \
	"$(yes_no le "$IMP_KB" "$FLAT_LIMIT")"
row "import $SMALL_ROWS rows peak RSS (MB)" "$(mb "$IMP_S_KB")" "-" "(reference)" "-"
row "import $SMALL_ROWS rows (s)" "$IMP_S_SECS" "-" "-" "-"
row "ledger verify $EVENTS events (s)" "$VER_SECS" "$BASE_VER_SECS (sha256sum $DB_MB MB)" "<= 5 s" "$(yes_no le "$VER_SECS" 5)"
row "ledger verify peak RSS (MB)" "$(mb "$VER_KB")" "$(mb "$BASE_VER_KB") (sha256sum)" "-" "-"
row "ledger rows read by sqlite3 only (s)" "-" "$SCAN_SECS (sqlite3 scan, no hash)" "-" "-"
row "check median, whole process (ms)" "$CHK_MED" "$SQL_MED (sqlite3 CLI lookup)" "<= 2 ms" "$(yes_no le "$CHK_MED" 2)"
row "check p90 (ms)" "$CHK_P90" "$SQL_P90 (sqlite3 CLI lookup)" "-" "-"
row "check p99 (ms)" "$CHK_P99" "$SQL_P99 (sqlite3 CLI lookup)" "-" "-"
row "consentctl --version median (ms)" "$VERSION_MED" "$TRUE_MED (/bin/true)" "-" "-"
row "bench_fill $EVENTS events (s)" "$FILL_SECS" "-" "-" "-"
echo "flat = peak RSS of $ROWS rows <= 1.10 x that of $SMALL_ROWS rows + 1 MB"
