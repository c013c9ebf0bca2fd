#!/bin/bash
# pipe_faults.sh - faults of the store while a real Postfix delivers replies
# through its pipe(8) transport to consent-deliver (contrib/mailstack, route
# "pipe": consent-deliver runs as the pipe user, consentd-test).
#
# The store lives on a small tmpfs of its own (mounted here, 32 MB) so the
# disk can be filled. For each fault, M replies ("Ja" to an open request,
# from the account's address, each with its own Message-ID) are sent
# through Postfix's SMTP port while the fault lasts; once every one of them
# was tried by consent-deliver (or 40 s passed) the fault is cleared,
# `mailstack.sh flush` makes Postfix retry, and we wait for the store.
#   locked      a sqlite3 process (as the pipe user) holds BEGIN IMMEDIATE
#               until the replies were tried ([store] busy_timeout_ms 300);
#   disk full   the tmpfs filled up with a file (dd until ENOSPC), then
#               64 KB given back: opening the store works (its -shm file
#               fits), a transaction's WAL frames do not; removed
#               afterwards;
#   read-only   the store directory chmod 0500 and the database 0400 (the
#               owner, the pipe user, can read but not write);
#   not owned   store directory and files chown root (the pipe user cannot
#               even enter it), given back afterwards.
# consent-deliver is called through a small wrapper that appends its exit
# status and arguments to a log (Postfix logs only "deferred"), so the
# 75s are counted per run.
#
# Figures per fault, from independent evidence:
#   lost                 replies without an inbox row after the fault
#                        cleared, or whose account is not granted (goal 0);
#   recorded twice       a Message-ID with 2+ inbox rows not marked as a
#                        duplicate, or an account with 2+ grant events (0);
#   recorded during the fault (0: the fault was real);
#   exit 75 during the fault: replies of which every consent-deliver run
#                        during the fault exited 75 (goal M), and runs that
#                        exited with anything but 0 or 75 (goal 0: Postfix
#                        would bounce);
#   deferred by Postfix  replies in the deferred queue (postqueue -j) once
#                        tried (goal M);
#   bounced ones in Postfix's log plus those left in the queue after the
#                        flush (goal 0);
# and consentctl ledger verify at the end.
#
# Env: RELIABILITY_PIPE_M (20 replies per fault).
# Ports: IMAP 12885, LMTP 12886, SMTP 12887, smtp-sink 12888.
. "$(dirname "$0")/common.sh"
: "${CONSENT_DELIVER:?}"
M=${RELIABILITY_PIPE_M:-20}
AREA="Postfix pipe fault"
export IMAP_PORT=12885 LMTP_PORT=12886 SMTP_PORT=12887 SINK_PORT=12888
export DOVECOT_HOSTDOMAIN=imap.example.test
BASE=$(mktemp -d /tmp/csrp.XXXXXX)
P=$BASE/pipe
FS=$P/fs
HOLDER=
cleanup() {
	[ -z "$HOLDER" ] || { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; }
	bash "$STACK" down "$BASE" >/dev/null 2>&1
	mountpoint -q "$FS" && umount "$FS"
	if [ "$RESULT_FAILS" = 0 ] && [ "$FAILS" = 0 ] && [ -z "${RELIABILITY_KEEP:-}" ]; then rm -rf "$BASE"
	else echo "mail stack's files (logs, queue, wrapper log) kept in $BASE"; fi
}
trap cleanup EXIT

# ---- set-up: what the pipe user must reach, below a 0755 BASE ----
PIPE_USER=$(bash "$STACK" pipe-user "$BASE" 2>/dev/null)
[ -n "$PIPE_USER" ] || PIPE_USER=consentd-test
chmod 755 "$BASE"
mkdir -p "$P/log" "$FS"
cp "$CONSENT_DELIVER" "$P/consent-deliver"
cp -r "$SRC_DIR/mailtemplates" "$P/mailtemplates"
cat >"$P/deliver" <<EOF
#!/bin/sh
# consent-deliver, its exit status and arguments appended to a log.
$P/consent-deliver "\$@"
rc=\$?
echo "\$(date +%s.%N) \$rc \$*" >>$P/log/deliver.log
exit \$rc
EOF
chmod -R a+rX "$P"
chmod 755 "$P/deliver"
chown "$PIPE_USER:" "$P/log"
mount -t tmpfs -o "size=32m,mode=0755" tmpfs "$FS" || fail "cannot mount a tmpfs on $FS"
mkdir -m 700 "$FS/store"
chown "$PIPE_USER:" "$FS/store"
CONF=$P/consentd.conf
DB=$FS/store/consentd.db
write_conf -e "s#^reply_domain = .*#reply_domain = example.test#" -e "s#^port = 25#port = $SINK_PORT#" \
	-e "s#^dir = .*#dir = $P/mailtemplates#"
chmod 644 "$CONF"
DLOG=$P/log/deliver.log
: >"$DLOG"
chown "$PIPE_USER:" "$DLOG"
PFLOG=$BASE/log/postfix.log
if ! CONSENT_DELIVER=$P/deliver CONSENT_CONF=$CONF CONSENT_ROUTE=pipe bash "$STACK" up "$BASE" >"$SCRATCH/stack.log" 2>&1; then
	cat "$SCRATCH/stack.log"
	fail "mail stack did not start"
fi
setup_done "$AREA"

# 4 x M accounts with an open request each; their tokens.
FAULTS="locked full readonly notowned"
awk -v m="$M" -v faults="$FAULTS" 'BEGIN {
	print "id,email,name,lang"
	n = split(faults, f, " ")
	for (k = 1; k <= n; k++) for (i = 1; i <= m; i++) printf "%s-%d,%s.%d@example.org,,de\n", f[k], i, f[k], i
}' >"$SCRATCH/accounts.csv"
run ctl account import "$SCRATCH/accounts.csv"
expect_rc 0 "import"
run ctl request --all log-linking
expect_rc 0 "request --all"
sq -separator ' ' "SELECT a.id, a.email, o.token FROM outbox o JOIN account a ON a.key = o.acct
	WHERE o.kind = 'request' AND o.token IS NOT NULL" >"$SCRATCH/tokens"
expect_eq "$(wc -l <"$SCRATCH/tokens")" "$((4 * M))" "a token per account"
expect_eq "$(stat -c %U "$DB")" "$PIPE_USER" "the store belongs to the pipe user"
setup_done "$AREA"

queue_ids() { postqueue -c "$BASE/postfix/etc" -j 2>/dev/null | jq -r '.queue_name + " " + .queue_id'; }
deferred_count() { postqueue -c "$BASE/postfix/etc" -j 2>/dev/null | jq -s '[.[] | select(.queue_name == "deferred")] | length'; }
queue_count() { postqueue -c "$BASE/postfix/etc" -j 2>/dev/null | jq -s 'length'; }
rows_of() { sq "SELECT count(*) FROM inbox WHERE msg_id LIKE 'pipe.$1-%' AND dup_of IS NULL"; }
# snap_rows FAULT - rows_of read from a copy of the store (database and
# WAL) on another file system: a reader on the full one cannot make its
# -shm file. Nobody can write while a fault lasts, so the copy is the store.
snap_rows() {
	local d=$SCRATCH/snap
	rm -rf "$d"; mkdir -p "$d"
	cp "$DB" "$d/consentd.db" || { echo "cannot copy"; return; }
	[ ! -e "$DB-wal" ] || cp "$DB-wal" "$d/consentd.db-wal"
	sqlite3 "$d/consentd.db" "SELECT count(*) FROM inbox WHERE msg_id LIKE 'pipe.$1-%' AND dup_of IS NULL"
}

# send FAULT - M replies through Postfix, one swaks session each.
send() {
	local f=$1 id addr tok
	grep "^$f-" "$SCRATCH/tokens" | while read -r id addr tok; do
		printf 'From: <%s>\r\nTo: consent+%s@example.test\r\nSubject: Re: Einwilligung [%s]\r\nMessage-ID: <pipe.%s@example.org>\r\nIn-Reply-To: <consent.%s@example.test>\r\n\r\nJa\r\n' \
			"$addr" "$tok" "$tok" "$id" "$tok" >"$SCRATCH/msg"
		swaks --server "127.0.0.1:$SMTP_PORT" --from "$addr" --to "consent+$tok@example.test" \
			--data "$SCRATCH/msg" >"$SCRATCH/swaks.log" 2>&1 || fail "swaks $id: $(tail -n 3 "$SCRATCH/swaks.log")"
	done
}
# tried FAULT FROM_LINE - replies of FAULT with a consent-deliver run logged
# after line FROM_LINE of the wrapper's log; "runs tried all75 other":
# runs, replies tried, replies whose every run exited 75, runs exiting
# neither 0 nor 75.
tried() {
	tail -n "+$(($2 + 1))" "$DLOG" | awk -v f="$1" -v tokfile="$SCRATCH/tokens" '
		BEGIN { while ((getline l < tokfile) > 0) { split(l, a, " "); if (index(a[1], f "-") == 1) mine[tolower(a[3])] = 1 } }
		{
			tok = ""
			for (i = 3; i <= NF; i++) if ($i == "-r") { r = tolower($(i + 1)); sub(/^consent\+/, "", r); sub(/@.*/, "", r); tok = r }
			if (!(tok in mine)) next
			runs++; seen[tok] = 1
			if ($2 != 75) bad75[tok] = 1
			if ($2 != 0 && $2 != 75) other++
		}
		END { for (t in seen) { n++; if (!(t in bad75)) all++ } print runs + 0, n + 0, all + 0, other + 0 }'
}

# fault NAME START_CMD CLEAR_CMD - the run of one fault.
fault() {
	local f=$1 start=$2 clear=$3 from runs n all75 other during deferred bounced left lost twice i T0=$SECONDS
	from=$(wc -l <"$DLOG")
	local pf_from; pf_from=$(wc -l <"$PFLOG")
	$start || { fail "$f: the fault could not be set up"; }
	send "$f"
	# every reply tried by consent-deliver during the fault
	for i in $(seq 400); do
		read -r runs n all75 other < <(tried "$f" "$from")
		[ "$n" -ge "$M" ] && [ "$(deferred_count)" -ge "$M" ] && break
		sleep 0.1
	done
	during=$(snap_rows "$f")
	deferred=$(deferred_count)
	$clear || fail "$f: the fault could not be cleared"
	local cleared_line; cleared_line=$(wc -l <"$DLOG")
	bash "$STACK" flush "$BASE" >/dev/null || fail "$f: flush"
	for i in $(seq 600); do
		[ "$(rows_of "$f")" -ge "$M" ] && [ "$(queue_count)" = 0 ] && break
		sleep 0.1
		# Postfix may hold a retry back for a moment after a flush
		[ $((i % 50)) = 0 ] && bash "$STACK" flush "$BASE" >/dev/null
	done
	sleep 0.5
	left=$(queue_count)
	bounced=$(tail -n "+$((pf_from + 1))" "$PFLOG" | grep -c 'relay=consentd.*status=bounced')
	# lost: replies of this fault with no row of their own, or not granted
	lost=$(sq "SELECT count(*) FROM account a LEFT JOIN consent c ON c.acct = a.key AND c.purpose = 'log-linking'
		WHERE a.id LIKE '$f-%' AND (coalesce(c.state, '') <> 'granted'
		OR NOT EXISTS (SELECT 1 FROM inbox i WHERE i.msg_id = 'pipe.' || a.id || '@example.org' AND i.dup_of IS NULL))")
	twice=$(sq "SELECT (SELECT count(*) FROM (SELECT msg_id FROM inbox WHERE msg_id LIKE 'pipe.$f-%' AND dup_of IS NULL
		GROUP BY msg_id HAVING count(*) > 1)) + (SELECT count(*) FROM (SELECT e.acct FROM event e JOIN account a ON a.key = e.acct
		WHERE a.id LIKE '$f-%' AND e.kind = 'grant' GROUP BY e.acct HAVING count(*) > 1))")
	local after; read -r after _ _ _ < <(tried "$f" "$cleared_line")
	echo "$f: $runs consent-deliver runs during the fault ($n replies tried, $all75 only with 75, $other other)," \
		"$deferred deferred by Postfix; after the flush: $after runs, $(rows_of "$f") recorded, $left in the queue; $((SECONDS - T0)) s"
	# What consent-deliver said (pipe(8) puts its output in the reason).
	tail -n "+$((pf_from + 1))" "$PFLOG" | grep 'relay=consentd.*status=deferred' |
		sed -e 's/.*status=deferred (//' -e 's/)$//' -e 's/consent+[0-9a-f]*@/consent+TOKEN@/g' |
		sort | uniq -c | sort -rn | head -n 3 | sed "s/^/$f: Postfix deferred: /"
	local A="$AREA: $4 ($M replies)"
	result_eq "$A" "lost" "$lost" 0
	result_eq "$A" "recorded twice" "$twice" 0
	result_eq "$A" "recorded while the fault lasted" "$during" 0
	result_eq "$A" "replies whose every run exited 75 during the fault" "$all75" "$M"
	result_eq "$A" "consent-deliver exits other than 0 and 75" "$other" 0
	result_eq "$A" "deferred in Postfix's queue during the fault" "$deferred" "$M"
	result_eq "$A" "bounced, or left queued after the flush" "$((bounced + left))" 0
}

# ---- (a) locked: a writer holds the lock ----
lock_on() {
	mkfifo "$SCRATCH/lock.fifo"
	chown "$PIPE_USER:" "$SCRATCH/lock.fifo"
	runuser -u "$PIPE_USER" -- sqlite3 "$DB" <"$SCRATCH/lock.fifo" >"$SCRATCH/lock.out" 2>&1 &
	HOLDER=$!
	exec 7>"$SCRATCH/lock.fifo"
	echo "BEGIN IMMEDIATE; SELECT 'locked';" >&7
	for _ in $(seq 100); do grep -q locked "$SCRATCH/lock.out" && return 0; sleep 0.05; done
	return 1
}
lock_off() {
	echo "ROLLBACK;" >&7
	exec 7>&-
	wait "$HOLDER"
	HOLDER=
	rm -f "$SCRATCH/lock.fifo"
	! grep -qi error "$SCRATCH/lock.out"
}
fault locked lock_on lock_off "store locked"

# ---- (b) disk full ----
full_on() {
	dd if=/dev/zero of="$FS/filler" bs=1M 2>/dev/null   # until ENOSPC
	[ "$(df --output=avail "$FS" | tail -n 1 | tr -d ' ')" = 0 ] || return 1
	truncate -s -64K "$FS/filler"
	echo "disk full: $(df --output=avail -B1 "$FS" | tail -n 1 | tr -d ' ') bytes free on the store's file system"
}
full_off() { rm -f "$FS/filler"; }
fault full full_on full_off "disk full, 64 KB left"

# ---- (c) the store not writable for the pipe user ----
ro_on() { chmod 0400 "$DB" && chmod 0500 "$FS/store"; }
ro_off() { chmod 0700 "$FS/store" && chmod 0600 "$DB"; }
fault readonly ro_on ro_off "store read-only (0500/0400)"
owner_on() { chown -R root:root "$FS/store"; }
owner_off() { chown -R "$PIPE_USER:" "$FS/store"; }
fault notowned owner_on owner_off "store owned by root"

run ctl ledger verify
result_eq "$AREA: all four ($((4 * M)) replies)" "ledger verify exit" "$RC" 0
reli_finish
