#!/bin/bash
# run.sh - build consentd twice and run every test with each build:
#   1. -Wall -Wextra -Werror
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (-Werror too)
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
exit $status
