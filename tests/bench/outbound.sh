#!/usr/bin/env bash
# outbound.sh BUILD_DIR - the outbound benchmark: N queued consent requests
# sent by `consentd --once` into smtp-sink on 127.0.0.1, against
# smtp-source sending the same number of messages of the same size into the
# same sink over one reused session, in one run. Prints both rates, the
# ratio (goal >= 0.6) and consentd's peak RSS.
#
#   bash tests/bench/outbound.sh BUILD_DIR        (N=20000 by default)
set -euo pipefail
die() { echo "outbound.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: bash tests/bench/outbound.sh BUILD_DIR"
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-20000}
PORT=${PORT:-12690}
for p in /usr/sbin/smtp-sink /usr/sbin/smtp-source /usr/bin/time; do
	[ -x "$p" ] || die "$p missing (apt-get install postfix time)"
done
W=$(mktemp -d /tmp/consentd-outbench.XXXXXX)
. "$SRC/tests/bench/service_user.sh"
svc_dir "$W" || { echo "cannot give $W to $SVC_USER" >&2; exit 1; }
SINKPID=
cleanup() { [ -n "$SINKPID" ] && kill "$SINKPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
sed -e "s#^path = .*#path = $W/c.db#" -e "s#^password_file = /etc/consentd/imap.secret#password_file =#" \
    -e "s#^dir = .*#dir = $SRC/mailtemplates#" -e "s#^port = 25#port = $PORT#" -e "s#^enabled = yes#enabled = no#" \
    -e "$svc_sed" "$SRC/conf/consentd.conf" > "$W/c.conf"
/usr/sbin/smtp-sink -u nobody -c 127.0.0.1:$PORT 1024 > "$W/sink.log" 2>&1 &
SINKPID=$!
for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.02; done

echo "== queueing $N requests (bench_queue: real consent_request, rendering, ledger)"
"$BUILD/tests/bench/bench_queue" "$W/c.conf" "$N"
size=$(sqlite3 "$W/c.db" "SELECT CAST(avg(length(message)) AS INTEGER) FROM outbox_mail")
echo "   average message size: $size bytes"

echo "== consentd --once: $N messages, batches of 50 per session"
/usr/bin/time -f '%e %M' -o "$W/time.consentd" "$BUILD/src/consentd" -c "$W/c.conf" -f --once 2>/dev/null
read -r c_s c_rss < "$W/time.consentd"
sent=$(sqlite3 "$W/c.db" "SELECT count(*) FROM outbox WHERE state = 'sent'")
[ "$sent" = "$N" ] || die "only $sent of $N sent"

echo "== smtp-source: $N messages of $size bytes, one session reused (-d)"
/usr/bin/time -f '%e %M' -o "$W/time.source" /usr/sbin/smtp-source -s 1 -d -m "$N" -l "$size" \
	-f a@example.test -t b@example.test 127.0.0.1:$PORT
read -r s_s s_rss < "$W/time.source"

awk -v n="$N" -v cs="$c_s" -v ss="$s_s" -v rss="$c_rss" 'BEGIN {
	cr = n / cs; sr = n / ss;
	printf "\n| metric | consentd | baseline (same run) | goal |\n| --- | --- | --- | --- |\n";
	printf "| %d requests into smtp-sink | %.2f s = %.0f msg/s | smtp-source: %.2f s = %.0f msg/s | |\n", n, cs, cr, ss, sr;
	ok = (cr / sr >= 0.6) ? "met" : "NOT met"; printf "| ratio consentd / smtp-source | %.2f | | >= 0.6 (%s) |\n", cr / sr, ok;
	printf "| consentd peak RSS | %.1f MB | | |\n", rss / 1024;
}'
