#!/usr/bin/env bash
# broadcast.sh BUILD_DIR - the policy broadcast benchmark: N accounts get the
# announcement of a material policy version. Measures, in one run:
#
#   queueing   consentctl broadcast start for N accounts: seconds, peak RSS
#   sending    consentd --once (rates off: [broadcast] rate = 0, domain_rate
#              = 0) into smtp-sink on 127.0.0.1, against smtp-source sending
#              N messages of the announcement's size into the same sink over
#              one reused session (-s 1 -d: consentd uses one session at a
#              time), once before and once after consentd; ratio consentd /
#              mean smtp-source, goal >= 0.6
#   at scale   consentctl broadcast start for QN accounts in a second store:
#              peak RSS at QN against N, goal: flat (same order)
#
#   bash tests/bench/broadcast.sh BUILD_DIR     (N=100000 QN=1000000 PORT=12695)
#
# BUILD_DIR: a built tree, best -DCMAKE_BUILD_TYPE=Release. Everything goes
# to a temporary directory /tmp/consentd-bcbench.XXXXXX, removed at the end
# (KEEP=1 keeps it). Needs GNU time, sqlite3, awk and Postfix's smtp-sink and
# smtp-source. Exit 0 when the run completed (goals met or not), 2 on failure.
set -euo pipefail
die() { echo "broadcast.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: bash tests/bench/broadcast.sh BUILD_DIR"
BUILD=$(cd "$1" 2>/dev/null && pwd) || die "no build directory '$1'"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-100000}
QN=${QN:-1000000}
PORT=${PORT:-12695}
case "$N$QN$PORT" in *[!0-9]*) die "N, QN and PORT must be numbers" ;; esac
[ "$N" -ge 2 ] && [ "$QN" -ge 2 ] || die "N and QN must be at least 2"
CTL=$BUILD/src/consentctl
CONSENTD=$BUILD/src/consentd
[ -x "$CTL" ] && [ -x "$CONSENTD" ] || die "$CTL or $CONSENTD not built (cmake --build $BUILD)"
for p in /usr/sbin/smtp-sink /usr/sbin/smtp-source; do
	[ -x "$p" ] || die "$p missing (apt-get install postfix)"
done
[ -x /usr/bin/time ] && /usr/bin/time -f '%e' true >/dev/null 2>&1 ||
	die "GNU time (/usr/bin/time) is missing: apt-get install time"
command -v sqlite3 >/dev/null || die "sqlite3 CLI is missing: apt-get install sqlite3"
command -v awk >/dev/null || die "awk is missing"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	die "127.0.0.1:$PORT is in use already (choose another PORT=)"
fi

BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
echo "consentd broadcast benchmark: build $BUILD (CMAKE_BUILD_TYPE='$BUILD_TYPE'), $(nproc) cores, N=$N QN=$QN, load $(cut -d' ' -f1-3 /proc/loadavg)"
case "$BUILD_TYPE" in
Release|RelWithDebInfo|MinSizeRel) ;;
*) echo "note: not an optimised build; configure with -DCMAKE_BUILD_TYPE=Release for numbers that count" ;;
esac

W=$(mktemp -d /tmp/consentd-bcbench.XXXXXX)
. "$SRC/tests/bench/service_user.sh"
svc_dir "$W" || die "cannot give $W to ${SVC_USER:-me}"
SINKPID=
cleanup() {
	if [ -n "$SINKPID" ]; then kill "$SINKPID" 2>/dev/null || true; wait "$SINKPID" 2>/dev/null || true; fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# conf NAME - $W/NAME.conf: store $W/NAME.db, no IMAP, SMTP to the sink,
# bulk mail not throttled.
conf() {
	sed -e "s#^path = .*#path = $W/$1.db#" \
	    -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
	    -e "s#^dir = .*#dir = $SRC/mailtemplates#" -e "s#^port = 25\$#port = $PORT#" \
	    -e "s#^enabled = yes\$#enabled = no#" \
	    -e "s#^rate = 50\$#rate = 0#" -e "s#^domain_rate = 10\$#domain_rate = 0#" -e "$svc_sed" \
	    "$SRC/conf/consentd.conf" > "$W/$1.conf"
	grep -q "^port = $PORT\$" "$W/$1.conf" && grep -q '^enabled = no$' "$W/$1.conf" &&
		grep -q '^rate = 0$' "$W/$1.conf" && grep -q '^domain_rate = 0$' "$W/$1.conf" ||
		die "conf/consentd.conf has changed: cannot set port, [imap] enabled, rate, domain_rate"
}

# timed NAME CMD... - run CMD, stdout to $W/NAME.out, stderr to $W/NAME.err;
# sets SECS (wall) and KB (peak RSS); a failure stops the benchmark.
timed() {
	local name=$1; shift
	if ! /usr/bin/time -f '%e %M' -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.err"; then
		tail -n 20 "$W/$name.out" "$W/$name.err" >&2
		die "$name failed: $*"
	fi
	read -r SECS KB < <(tail -n 1 "$W/$name.time")
}

# ctl NAME ARGS... - consentctl on $W/NAME.conf, not timed, output kept.
ctl() {
	local name=$1; shift
	"$CTL" -c "$W/$name.conf" "$@" > "$W/ctl.out" 2>&1 || { cat "$W/ctl.out" >&2; die "consentctl $*: failed"; }
}

# accounts NAME COUNT - COUNT accounts u0000001.. (odd de, even en,
# userI@dI%20.example.test) imported into a fresh store NAME; not measured.
accounts() {
	awk -v n="$2" 'BEGIN {
		print "id,email,name,lang"
		for (i = 1; i <= n; i++)
			printf "u%07d,user%d@d%d.example.test,Nutzer %d,%s\n", i, i, i % 20, i, (i % 2 ? "de" : "en")
	}' > "$W/$1.csv"
	conf "$1"
	timed "import_$1" "$CTL" -c "$W/$1.conf" account import "$W/$1.csv"
	echo "   $2 accounts imported in $SECS s (not measured): $(tail -n 1 "$W/import_$1.out")"
	rm -f "$W/$1.csv"
}

# publish NAME - the material policy version 2.0, with de and en summaries.
publish() {
	ctl "$1" policy publish 2.0 --effective 2027-01-01 --material \
		--summary "de=$W/summary_de.txt" --summary "en=$W/summary_en.txt"
}
cat > "$W/summary_de.txt" <<'EOF'
Was sich ändert:
- Protokolldaten speichern wir künftig 14 statt 30 Tage.
- Neuer Auftragsverarbeiter für den Versand: Mailwerk GmbH, Köln.
- Ihr Widerspruchsrecht können Sie jetzt auch per Antwort auf diese E-Mail ausüben.
EOF
cat > "$W/summary_en.txt" <<'EOF'
What changes:
- We keep log data for 14 days instead of 30.
- New processor for sending mail: Mailwerk GmbH, Cologne.
- You can now also object by replying to this email.
EOF

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---- 1-3. N accounts, publish, queue ----
echo
echo "== $N accounts (consentctl account import), policy 2.0 published (material)"
accounts bc "$N"
publish bc
echo "== queueing: consentctl broadcast start 2.0 for $N accounts"
timed queue_n "$CTL" -c "$W/bc.conf" broadcast start 2.0
Q_SECS=$SECS Q_KB=$KB
queued=$(sqlite3 "$W/bc.db" "SELECT count(*) FROM outbox WHERE state = 'queued'")
[ "$queued" = "$N" ] || die "broadcast start queued $queued mails, not $N: $(cat "$W/queue_n.out")"
echo "   ${Q_SECS} s, peak RSS $(mb "$Q_KB") MB: $(head -n 1 "$W/queue_n.out")"

# ---- 5a. the size of the announcement, for the baseline ----
# preview --raw prints the exact bytes with LF line ends; on the wire each
# line ends in CRLF, so the size sent is bytes + lines. The average of one de
# and one en account (half the accounts each).
size_of() {
	"$CTL" -c "$W/bc.conf" policy preview 2.0 --account "$1" --raw > "$W/preview.txt" ||
		die "policy preview 2.0 --account $1 failed"
	echo $(( $(wc -c < "$W/preview.txt") + $(wc -l < "$W/preview.txt") ))
}
size_de=$(size_of u0000001)
size_en=$(size_of u0000002)
SIZE=$(( (size_de + size_en) / 2 ))
echo "   announcement size (CRLF, headers included): de $size_de, en $size_en, average $SIZE bytes"

# ---- 4. send ----
/usr/sbin/smtp-sink -u nobody -c "127.0.0.1:$PORT" 1024 > "$W/sink.log" 2>&1 &
SINKPID=$!
for _ in $(seq 250); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.02; done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "smtp-sink did not come up on 127.0.0.1:$PORT: $(cat "$W/sink.log")"

# The baseline runs before and after consentd (the machine's noise shows in
# the spread); the ratio is taken against their mean.
baseline() {
	echo "== baseline ($1): smtp-source, $N messages of $SIZE bytes, one session reused (-s 1 -d)"
	timed "source_$1" /usr/sbin/smtp-source -s 1 -d -m "$N" -l "$SIZE" \
		-f a@example.test -t b@example.test "127.0.0.1:$PORT"
	echo "   ${SECS} s, peak RSS $(mb "$KB") MB"
}
baseline before
B1_SECS=$SECS B_KB=$KB

echo "== sending: consentd -f --once, $N announcements into smtp-sink (rates off)"
timed send "$CONSENTD" -c "$W/bc.conf" -f --once
S_SECS=$SECS S_KB=$KB
sent=$(sqlite3 "$W/bc.db" "SELECT count(*) FROM outbox WHERE state = 'sent'")
[ "$sent" = "$N" ] || die "only $sent of $N sent: $(sqlite3 "$W/bc.db" "SELECT state, count(*), max(last_response) FROM outbox GROUP BY state")"
ctl bc --json broadcast status 2.0
grep -Eq '"done": *true' "$W/ctl.out" || die "broadcast status 2.0 is not done: $(cat "$W/ctl.out")"
echo "   ${S_SECS} s, peak RSS $(mb "$S_KB") MB; $sent of $N sent, broadcast status: done"

baseline after
B2_SECS=$SECS
kill "$SINKPID" 2>/dev/null || true; wait "$SINKPID" 2>/dev/null || true; SINKPID=
rm -f "$W"/bc.db*   # keep the disk use down

# ---- 6. queueing at scale ----
echo
echo "== $QN accounts in a second store (consentctl account import), policy 2.0 published"
accounts big "$QN"
publish big
echo "== queueing: consentctl broadcast start 2.0 for $QN accounts"
timed queue_qn "$CTL" -c "$W/big.conf" broadcast start 2.0
QQ_SECS=$SECS QQ_KB=$KB
queued=$(sqlite3 "$W/big.db" "SELECT count(*) FROM outbox WHERE state = 'queued'")
[ "$queued" = "$QN" ] || die "broadcast start queued $queued mails, not $QN: $(cat "$W/queue_qn.out")"
echo "   ${QQ_SECS} s, peak RSS $(mb "$QQ_KB") MB: $(head -n 1 "$W/queue_qn.out")"

# ---- the table ----
awk -v n="$N" -v qn="$QN" -v size="$SIZE" -v qs="$Q_SECS" -v qkb="$Q_KB" -v ss="$S_SECS" \
    -v skb="$S_KB" -v b1="$B1_SECS" -v b2="$B2_SECS" -v bkb="$B_KB" -v qqs="$QQ_SECS" -v qqkb="$QQ_KB" 'BEGIN {
	bs = (b1 + b2) / 2;
	cr = n / (ss > 0 ? ss : 0.01); br = n / (bs > 0 ? bs : 0.01); ratio = cr / br;
	flat = qqkb <= qkb * 1.10 + 1024;   # the same rule as run.sh for import
	printf "\n| metric | consentd | baseline (same run) | goal | met? |\n";
	printf "| --- | --- | --- | --- | --- |\n";
	printf "| queue %d accounts (broadcast start) | %.2f s = %.0f accounts/s | - | - | - |\n", n, qs, n / (qs > 0 ? qs : 0.01);
	printf "| queue %d accounts, peak RSS | %.1f MB | - | (reference) | - |\n", n, qkb / 1024;
	printf "| send %d announcements of %d bytes into smtp-sink | %.2f s = %.0f msg/s | smtp-source -s 1: %.2f s = %.0f msg/s (mean of %.2f s before, %.2f s after) | - | - |\n", n, size, ss, cr, bs, br, b1, b2;
	printf "| ratio consentd / smtp-source | %.2f | | >= 0.6 | %s |\n", ratio, (ratio >= 0.6 ? "yes" : "NO");
	printf "| consentd --once peak RSS | %.1f MB | smtp-source: %.1f MB | - | - |\n", skb / 1024, bkb / 1024;
	printf "| queue %d accounts (broadcast start) | %.2f s = %.0f accounts/s | - | - | - |\n", qn, qqs, qn / (qqs > 0 ? qqs : 0.01);
	printf "| queue %d accounts, peak RSS | %.1f MB | %.1f MB at %d accounts | flat | %s |\n", qn, qqkb / 1024, qkb / 1024, n, (flat ? "yes" : "NO");
	printf "flat = peak RSS at %d accounts <= 1.10 x that at %d accounts + 1 MB\n", qn, n;
}'
