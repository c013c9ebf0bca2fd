#!/bin/bash
# The database under trouble: locked by another process, read-only or
# missing directory, corrupt file, foreign SQLite file, newer schema.
# Each gets a clear message, exit 2, and loses nothing already stored.
. "$(dirname "$0")/lib.sh"
# own FILE... - files made here by root with sqlite3 belong to the store's
# account, as consentctl run by root requires (the directory's owner).
own() { [ -z "$SERVICE_USER" ] || chown "$SERVICE_USER:" "$@"; }
write_conf

run ctl status x
expect_rc 2 "reading a database that does not exist"
expect_match "$ERR" "no such database" "missing database message"
[ ! -e "$DB" ] || fail "a read command created the database"

ctl account add k1 k1@example.org >/dev/null

# Locked: another process holds the write lock longer than busy_timeout_ms.
sqlite3 "$DB" "BEGIN IMMEDIATE; INSERT INTO outbox(kind,acct,purpose,state,created) VALUES('x',1,'','held',0); SELECT 'locked';" \
	".system sleep 3" "ROLLBACK;" >/dev/null 2>&1 &
holder=$!
sleep 0.5
run ctl account add k2 k2@example.org
expect_rc 2 "write while another process holds the lock"
expect_match "$ERR" "locked by another process" "lock message"
run ctl check k1 log-linking
expect_rc 1 "reads still work while a writer holds the lock (WAL)"
wait $holder
run ctl account add k2 k2@example.org
expect_rc 0 "write after the lock is released"

# Read-only directory: writes refused clearly, nothing lost. As root the
# refusal comes from running as nobody in a directory nobody cannot write
# (the scratch path itself may sit below a 0700 directory, hence /tmp).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	ro=$(mktemp -d /tmp/consentd-ro.XXXXXX)
	chmod 755 "$ro"
	mkdir -m 700 "$ro/store"
	cp "$DB" "$ro/store/consentd.db"
	sed "s#^path = .*#path = $ro/store/consentd.db#" "$CONF" > "$ro/consentd.conf"
	chmod 600 "$ro/store/consentd.db"
	chmod 644 "$ro/consentd.conf"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CONSENTCTL" -c "$ro/consentd.conf" account add k3 k3@example.org
	expect_rc 2 "write as a user who cannot write the directory"
	expect_match "$ERR" "not writable|read-only|Permission denied" "read-only message"
	run "$CONSENTCTL" -c "$ro/consentd.conf" account show k2
	expect_rc 0 "the copy is intact after the refused write"
	rm -rf "$ro"
else
	chmod 500 "$SCRATCH"
	run ctl account add k3 k3@example.org
	expect_rc 2 "write into a read-only directory"
	expect_match "$ERR" "not writable|read-only" "read-only message"
	chmod 700 "$SCRATCH"
fi
run ctl account show k2
expect_rc 0 "data intact after the refused write"

# The store holds personal data: created 0600 in a 0700 directory (one
# missing level made), anything wider refused with the chmod that fixes it.
write_conf -e "s#^path = .*#path = $SCRATCH/nodir/c.db#"
run ctl account add m1 m1@example.org
expect_rc 0 "a missing directory is made"
expect_eq "$(stat -c %a "$SCRATCH/nodir")" "700" "directory made 0700"
expect_eq "$(stat -c %a "$SCRATCH/nodir/c.db")" "600" "database made 0600"
if [ -n "$SERVICE_USER" ]; then
	# root creating the store in the service account's directory gives it
	# to that account (and SQLite its WAL), so consentd can open it
	chown "$SERVICE_USER:" "$SCRATCH/nodir"
	rm -f "$SCRATCH/nodir/"c.db*
	run ctl account add m1 m1@example.org
	expect_rc 0 "root creates the store in the service account's directory"
	expect_eq "$(stat -c %U "$SCRATCH/nodir/c.db")" "$SERVICE_USER" "the store belongs to the service account"
	run setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --clear-groups "$CONSENTCTL" -c "$CONF" account add m2 m2@example.org
	expect_rc 0 "the service account writes the store root created"
fi
chmod 640 "$SCRATCH/nodir/c.db"
run ctl account show m1
expect_rc 2 "a 0640 store is refused"
expect_match "$ERR" "mode 0640.*chmod 600 $SCRATCH/nodir/c.db" "file mode message"
chmod 604 "$SCRATCH/nodir/c.db"
run ctl account show m1
expect_rc 2 "a 0604 store is refused"
chmod 600 "$SCRATCH/nodir/c.db"
chmod 750 "$SCRATCH/nodir"
run ctl account show m1
expect_rc 2 "a 0750 directory is refused"
expect_match "$ERR" "directory $SCRATCH/nodir is mode 0750.*chmod 700 $SCRATCH/nodir" "directory mode message"
chmod 700 "$SCRATCH/nodir"
run ctl account show m1
expect_rc 0 "0700/0600 opens again"
if [ -n "$SERVICE_USER" ]; then
	# The account owns the store's directory: it could plant a symbolic
	# link to a file only root may write, or leave a file of root's there.
	rootonly=$(mktemp -d /tmp/consentd-rootonly.XXXXXX)
	: > "$rootonly/target"; chmod 600 "$rootonly/target"
	setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --clear-groups ln -s "$rootonly/target" "$SCRATCH/nodir/link.db"
	write_conf -e "s#^path = .*#path = $SCRATCH/nodir/link.db#"
	run ctl account add s1 s1@example.org
	expect_rc 2 "root refuses a store path that is a symbolic link"
	expect_match "$ERR" "link.db: a symbolic link" "symbolic link named"
	expect_eq "$(stat -c %s "$rootonly/target")" "0" "the link's target untouched"
	rm -rf "$rootonly"
	cp "$SCRATCH/nodir/c.db" "$SCRATCH/nodir/root.db"
	chown root: "$SCRATCH/nodir/root.db"
	write_conf -e "s#^path = .*#path = $SCRATCH/nodir/root.db#"
	run ctl account show m1
	expect_rc 2 "root refuses a store that is not its directory owner's"
	expect_match "$ERR" "belongs to uid 0 but its directory to uid $(id -u "$SERVICE_USER") \(chown" "owner mismatch named"
fi
write_conf -e "s#^path = .*#path = $SCRATCH/nodir2/deeper/c.db#"
run ctl account add m1 m1@example.org
expect_rc 2 "two missing levels"
expect_match "$ERR" "directory .*nodir2/deeper does not exist and cannot be created" "missing directory message"

# Corrupt file.
head -c 8192 /dev/urandom > "$SCRATCH/corrupt.db"
chmod 600 "$SCRATCH/corrupt.db"; own "$SCRATCH/corrupt.db"
sum_before=$(sha256sum < "$SCRATCH/corrupt.db")
write_conf -e "s#^path = .*#path = $SCRATCH/corrupt.db#"
run ctl account add c1 c1@example.org
expect_rc 2 "corrupt file"
expect_match "$ERR" "not a consentd database, or corrupt" "corrupt message"
expect_eq "$(sha256sum < "$SCRATCH/corrupt.db")" "$sum_before" "corrupt file untouched"

# A SQLite database of another application.
sqlite3 "$SCRATCH/foreign.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
chmod 600 "$SCRATCH/foreign.db"; own "$SCRATCH/foreign.db"
sum_before=$(sha256sum < "$SCRATCH/foreign.db")
write_conf -e "s#^path = .*#path = $SCRATCH/foreign.db#"
run ctl account add f1 f1@example.org
expect_rc 2 "foreign database"
expect_match "$ERR" "another application" "foreign message"
expect_eq "$(sha256sum < "$SCRATCH/foreign.db")" "$sum_before" "foreign file untouched"

# A database from a newer consentd.
write_conf
cp "$DB" "$SCRATCH/newer.db"
sqlite3 "$SCRATCH/newer.db" "PRAGMA journal_mode=DELETE; PRAGMA user_version = 99;" >/dev/null
own "$SCRATCH/newer.db"
sum_before=$(sha256sum < "$SCRATCH/newer.db")
write_conf -e "s#^path = .*#path = $SCRATCH/newer.db#"
run ctl account show k1
expect_rc 2 "newer schema"
expect_match "$ERR" "schema version 99 is newer" "newer schema message"
expect_eq "$(sha256sum < "$SCRATCH/newer.db")" "$sum_before" "newer database untouched"

# A database of the previous schema (1, before mails were rendered into the
# outbox) is upgraded on open; its queued request mail cannot be sent and is
# marked failed, saying why. The schema-1 SQL is the unit tests' copy.
schema1=$(sed -n '/^#define TU_SCHEMA1_SQL/,/^$/p' "$TESTS_DIR/unit/testutil.h" | grep -o '"[^"]*"' | tr -d '"\n')
expect_match "$schema1" "^CREATE TABLE account .*CREATE INDEX outbox_state ON outbox\(state, id\);$" "schema 1 SQL extracted"
sqlite3 "$SCRATCH/v1.db" "PRAGMA journal_mode = WAL; $schema1 PRAGMA user_version = 1; PRAGMA application_id = 1131303748;
	INSERT INTO account (key, id, email, email_lc, lang, hkey, created, updated) VALUES (1, 'v1', 'v1@example.org', 'v1@example.org', 'de', randomblob(32), 1700000000, 1700000000);
	INSERT INTO request VALUES (1, 1, 'log-linking', printf('%064d', 1), 1700000000, 4000000000, 'open');
	INSERT INTO outbox (id, kind, acct, purpose, request, token, state, created) VALUES (1, 'request', 1, 'log-linking', 1, 'aaaabbbbccccddddaaaabbbbccccdddd', 'queued', 1700000000);" >/dev/null
chmod 600 "$SCRATCH/v1.db"; own "$SCRATCH/v1.db"
write_conf -e "s#^path = .*#path = $SCRATCH/v1.db#"
run ctl outbox list --state failed
expect_rc 0 "a schema-1 database opens"
expect_match "$OUT" "failed +request +log-linking +v1 .*schema 1.*request again" "the old queued mail is failed with an explanation"
run ctl outbox list --state queued
expect_no_match "$OUT" " v1 " "nothing of schema 1 left queued"
expect_eq "$(sqlite3 "$SCRATCH/v1.db" "PRAGMA user_version")" "5" "upgraded to the current schema (5)"
expect_eq "$(sqlite3 "$SCRATCH/v1.db" "SELECT count(*) FROM outbox WHERE token IS NOT NULL")" "0" "the old plaintext token is dropped"
run ctl account show v1
expect_match "$OUT" "v1@example.org" "accounts survive the upgrade"
finish
