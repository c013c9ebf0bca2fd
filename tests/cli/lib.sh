# lib.sh - helpers for CLI tests: a scratch directory with its own config
# and database, the real consentctl binary, and assertions that print
# "got ..., want ..." on failure. Source it; call `finish` at the end.
set -u

: "${CONSENTCTL:?set by ctest}" "${SCRATCH:?set by ctest}" "${SRC_DIR:?set by ctest}"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
CONF=$SCRATCH/consentd.conf
DB=$SCRATCH/consentd.db
FAILS=0
CHECKS=0

# write_conf [extra sed expressions...] - the shipped example config with the
# store in the scratch dir and no IMAP secret file.
write_conf() {
	sed -e "s#^path = .*#path = $DB#" \
	    -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
	    -e "s#^enabled = yes#enabled = no#" \
	    -e "s#^busy_timeout_ms = .*#busy_timeout_ms = 300#" \
	    -e "s#^dir = .*#dir = $SRC_DIR/mailtemplates#" \
	    "$@" "$SRC_DIR/conf/consentd.conf" > "$CONF"
}

ctl() { "$CONSENTCTL" -c "$CONF" "$@"; }

# run CMD... - run, keeping stdout in $OUT, stderr in $ERR, status in $RC.
run() {
	OUT=$("$@" 2>"$SCRATCH/.stderr"); RC=$?
	ERR=$(cat "$SCRATCH/.stderr")
}

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# expect_rc WANT DESCRIPTION - compare $RC.
expect_rc() {
	CHECKS=$((CHECKS + 1))
	[ "$RC" = "$1" ] || fail "$2: got exit $RC, want $1 (stdout: ${OUT:0:300}) (stderr: ${ERR:0:300})"
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	CHECKS=$((CHECKS + 1))
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

# expect_match TEXT REGEX DESCRIPTION (grep -E)
expect_match() {
	CHECKS=$((CHECKS + 1))
	printf '%s' "$1" | grep -Eq -- "$2" || fail "$3: got '${1:0:400}', want a match for /$2/"
}

expect_no_match() {
	CHECKS=$((CHECKS + 1))
	if printf '%s' "$1" | grep -Eq -- "$2"; then fail "$3: '${1:0:400}' matches /$2/"; fi
}

finish() {
	local name; name=$(basename "$0" .sh)
	if [ "$FAILS" -eq 0 ]; then
		echo "$name: $CHECKS passed, 0 failed"
		rm -rf "$SCRATCH"
		exit 0
	fi
	echo "$name: $((CHECKS - FAILS)) passed, $FAILS failed"
	exit 1
}
