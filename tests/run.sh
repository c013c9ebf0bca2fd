#!/bin/bash
# run.sh - build consentd twice and run every test with each build:
#   1. -Wall -Wextra -Werror
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (-Werror too)
# then the reliability report bounded for CI (tests/reliability/run.sh: the
# crash/fault parts, and every libFuzzer target for FUZZ_SECONDS each,
# default 30, on its seed corpus under ASan+UBSan).
# Installs missing Debian packages first (as root). Exit 0 only when both
# builds pass all tests. Build trees: build/ci and build/asan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/debian-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
status=0
for variant in ci asan; do
	dir=build/$variant
	flags=(-DCONSENTD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug)
	[ "$variant" = asan ] && flags+=(-DCONSENTD_SANITIZE=ON)
	echo "=== $variant build ==="
	cmake -S . -B "$dir" "${flags[@]}" >/dev/null
	cmake --build "$dir" -j "$jobs" >/dev/null
	echo "=== $variant tests ==="
	if ! (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	      ctest --output-on-failure -j "$jobs"); then
		status=1
	fi
done
# The reliability report, bounded for CI: the crash/fault parts as in the
# long run (kill -9 during a broadcast and during IMAP ingest, faults under
# Postfix's pipe, Dovecot restarted mid-batch) and every libFuzzer target
# for FUZZ_SECONDS (default 30) each, under ASan+UBSan; one table. The
# longer local run (fuzz about 80 min, the suite under valgrind) is
# `bash tests/reliability/run.sh`.
echo "=== reliability (crash/fault parts; fuzz ${FUZZ_SECONDS:-30} s per target) ==="
if ! FUZZ_SECONDS=${FUZZ_SECONDS:-30} FUZZ_MIN_TOTAL=${FUZZ_MIN_TOTAL:-1000000} \
     RELIABILITY_SKIP=valgrind RELIABILITY_NO_BUILD=1 bash tests/reliability/run.sh build/ci; then
	status=1
fi
exit $status
