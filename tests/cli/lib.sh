# lib.sh - helpers for CLI tests: a scratch directory with its own config
# and database, the real consentctl binary, and assertions that print
# "got ..., want ..." on failure. Source it; call `finish` at the end.
set -u

: "${CONSENTCTL:?set by ctest}" "${SCRATCH:?set by ctest}" "${SRC_DIR:?set by ctest}"
# As root (CI), consentd refuses to run unless [service] user names an
# account: the tests use consentd-test (the account mailstack's pipe runs
# consent-deliver as). The store must sit in a 0700 directory of that
# account, which must be able to reach it: the scratch directory moves
# below /tmp when the checkout is under a directory others cannot enter.
SERVICE_USER=
TEMPLATES=$SRC_DIR/mailtemplates
if [ "$(id -u)" = 0 ]; then
	SERVICE_USER=consentd-test
	id -u "$SERVICE_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$SERVICE_USER" 2>/dev/null ||
		id -u "$SERVICE_USER" >/dev/null || { echo "cannot create user $SERVICE_USER" >&2; exit 1; }
	if ! setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --clear-groups \
	     test -x "$(dirname "$SCRATCH")" 2>/dev/null; then
		mkdir -p -m 755 /tmp/consentd-tests
		SCRATCH=/tmp/consentd-tests/$(basename "$SCRATCH")
	fi
fi
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
chmod 700 "$SCRATCH"
if [ -n "$SERVICE_USER" ]; then
	chown "$SERVICE_USER:" "$SCRATCH"
	# The account re-reads the templates on a reload (and when started
	# as the account): a copy it can reach when the checkout is not.
	if ! setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --clear-groups \
	     test -r "$TEMPLATES/de/consent-request.txt" 2>/dev/null; then
		cp -r "$SRC_DIR/mailtemplates" "$SCRATCH/mailtemplates"
		chown -R "$SERVICE_USER:" "$SCRATCH/mailtemplates"
		TEMPLATES=$SCRATCH/mailtemplates
	fi
fi
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
	    -e "s#^dir = .*#dir = $TEMPLATES#" \
	    -e "/^\[service\]/,/^\[/s#^user = .*#user = $SERVICE_USER#" \
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
