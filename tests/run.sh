#!/bin/bash
# run.sh - build consentd twice and run every test with each build:
#   1. -Wall -Wextra -Werror
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (-Werror too)
# then runs the libFuzzer targets over the inbound core for a bounded time
# (FUZZ_SECONDS each, default 60: fuzz_inbound, fuzz_inmail, fuzz_policy) on their seed corpora (clang, ASan+UBSan).
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
echo "=== fuzz (libFuzzer, ${FUZZ_SECONDS:-60} s per target) ==="
CC=clang cmake -S . -B build/fuzz -DCONSENTD_FUZZ=ON -DCONSENTD_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
for t in fuzz_inbound fuzz_inmail fuzz_policy; do
	cmake --build build/fuzz --target "$t" -j "$jobs" >/dev/null
	corpus=$(mktemp -d)   # new inputs go here, not into the repository
	cp tests/fuzz/corpus/$t/* "$corpus"/
	if ! build/fuzz/tests/$t -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 \
	     -max_len=65536 -print_final_stats=1 "$corpus" 2>"build/fuzz/$t.log"; then
		tail -40 "build/fuzz/$t.log"
		echo "$t: FAILED (see build/fuzz/$t.log)"
		status=1
	else
		grep -E 'stat::number_of_executed_units|Done' "build/fuzz/$t.log" | sed "s/^/$t: /"
	fi
	rm -rf "$corpus"
done
exit $status
