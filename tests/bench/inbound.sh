#!/usr/bin/env bash
# inbound.sh BUILD_DIR - the inbound benchmark, in one run against baselines
# on the loopback mail stack (contrib/mailstack/mailstack.sh, own BASE and
# ports, torn down at the end whatever happens). Needs root.
#
#  1. IMAP: N realistic replies (bench_replies: Gmail-style multipart
#     text+HTML, quoted-printable, the request quoted, ~3.5 KB; 8 in 10
#     agree, 1 refuses, 1 asks a question) written straight into the
#     Maildir of consent@example.test. Baseline: bench_imap_fetch (bare
#     libetpan: login, UID FETCH, mailmime_parse, decode) over the same
#     mailbox. Then `consentd -f --once` judges, records and moves them all
#     to consent/processed and consent/review. [smtp] points at a closed
#     port: the receipts are QUEUED, not sent; the rate measured is
#     judging + recording + moving. Goals: >= 2,000 replies/s and
#     consentd / bench_imap_fetch >= 0.5.
#  2. consent-deliver as a whole process (fork to waitpid, CLOCK_MONOTONIC):
#     median and p99 over D runs on D fresh replies, against /bin/true
#     started the same way. Goal: median <= 3 ms.
#  3. Postfix pipe(8): M replies over one SMTP session into Postfix on
#     127.0.0.1, route "pipe" (one consent-deliver per message), until the
#     store holds M inbox rows; baseline: the same messages with route
#     "imap" (Postfix -> LMTP -> Dovecot) until M are in the Maildir.
#     End-to-end messages/s, from the first SMTP connect to the last record.
#
#   sudo bash tests/bench/inbound.sh BUILD_DIR   (N=10000 M=2000 D=1000)
# Env: N M D, BASE (default /tmp/csd-inbench), IMAP_PORT (12710; LMTP, SMTP,
# sink and a closed port for consentd's SMTP are the next four).
set -euo pipefail
die() { echo "inbound.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: bash tests/bench/inbound.sh BUILD_DIR"
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
N=${N:-10000}
M=${M:-2000}
D=${D:-1000}
BASE=${BASE:-/tmp/csd-inbench}
export IMAP_PORT=${IMAP_PORT:-12710}
export LMTP_PORT=$((IMAP_PORT + 1)) SMTP_PORT=$((IMAP_PORT + 2)) SINK_PORT=$((IMAP_PORT + 3))
CLOSED_PORT=$((IMAP_PORT + 4))
MS=$SRC/contrib/mailstack/mailstack.sh
BR=$BUILD/tests/bench/bench_replies
[ "$(id -u)" = 0 ] || die "must run as root (the mail stack needs it)"
for p in /usr/bin/time /usr/bin/sqlite3 /usr/bin/doveadm "$BR" "$BUILD/tests/bench/bench_imap_fetch" \
	"$BUILD/src/consentd" "$BUILD/src/consent-deliver"; do
	[ -x "$p" ] || die "$p missing (build the benchmarks; apt-get install time sqlite3 dovecot-imapd)"
done
for v in N M D; do [ "${!v}" -ge 10 ] 2>/dev/null || die "$v must be a number >= 10 (every tenth reply is a refusal, every tenth a question)"; done
(exec 3<>"/dev/tcp/127.0.0.1/$CLOSED_PORT") 2>/dev/null && die "port $CLOSED_PORT must be closed (consentd's SMTP)"

W=$(mktemp -d /tmp/consentd-inbench.XXXXXX)
# consent-deliver runs as Postfix's pipe user: binary and templates where
# that user can reach them, whatever the checkout's permissions.
chmod 755 "$W"
cp "$BUILD/src/consent-deliver" "$W/consent-deliver"
cp -r "$SRC/mailtemplates" "$W/mailtemplates"
chmod -R a+rX "$W/consent-deliver" "$W/mailtemplates"
chmod 0755 "$W"   # the pipe user walks in to reach its config and store
. "$SRC/tests/bench/service_user.sh"
fresh_base=
[ -e "$BASE" ] || fresh_base=1
cleanup() {
	set +e
	bash "$MS" down "$BASE" >/dev/null 2>&1
	[ -n "$fresh_base" ] && rm -rf "$BASE"
	rm -rf "$W"
}
trap cleanup EXIT
DOVE=(doveadm -c "$BASE/dovecot/dovecot.conf")
MBOX=consent@example.test
MAILDIR=$BASE/mail/$MBOX/Maildir

# mkconf FILE STORE_DIR IMAP(yes|no) - the example config for this run.
mkconf() {
	local pw=
	[ "$3" = yes ] && pw=$W/imap.secret
	svc_dir "$2" || die "cannot give $2 to $SVC_USER"
	sed -e "s#^path = .*#path = $2/c.db#" -e "s#^password_file = /etc/consentd/imap.secret#password_file = $pw#" \
	    -e "s#^dir = .*#dir = $W/mailtemplates#" -e "s#^port = 25\$#port = $CLOSED_PORT#" \
	    -e "s#^port = 143\$#port = $IMAP_PORT#" -e "s#^user = consent@cloudwerk.example#user = $MBOX#" \
	    -e "s#^reply_domain = .*#reply_domain = example.test#" -e "s#^enabled = yes#enabled = $3#" -e "$svc_sed" \
	    "$SRC/conf/consentd.conf" > "$1"
	chmod 0644 "$1"
}
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
kv() { sed -n "s/^$1=//p" "$2"; }   # kv KEY FILE
outcomes() { sqlite3 -cmd ".timeout 5000" -separator ' ' "$1" "SELECT outcome, count(*) FROM inbox GROUP BY 1 ORDER BY 1" | tr '\n' ' '; }
# check_outcomes DB REPLIES_OUT - inbox counts as bench_replies expected them.
check_outcomes() {
	local g d r got
	g=$(kv expect_granted "$2") d=$(kv expect_declined "$2") r=$(kv expect_review "$2")
	got=$(outcomes "$1")
	[ "$got" = "declined $d granted $g review $r " ] ||
		die "inbox outcomes: $got (expected granted $g, declined $d, review $r)"
	echo "   inbox: $got"
}
mbox_count() { "${DOVE[@]}" mailbox status -u "$MBOX" messages "$1" | sed -n 's/.*messages=//p'; }

printf 'secret\n' > "$W/imap.secret"
chmod 0600 "$W/imap.secret"
mkconf "$W/imap.conf" "$W/imap" yes
mkconf "$W/deliver.conf" "$W/deliver" no
mkconf "$W/pipe.conf" "$W/pipe" no

echo "== mail stack in $BASE (IMAP $IMAP_PORT, SMTP $SMTP_PORT), pipe transport to consent-deliver"
bash "$MS" down "$BASE" >/dev/null 2>&1 || true
rm -rf "$BASE/mail/$MBOX" "$BASE/postfix/queue"
CONSENT_DELIVER=$W/consent-deliver CONSENT_CONF=$W/pipe.conf CONSENT_ROUTE=imap \
	bash "$MS" up "$BASE" > "$W/up.log" 2>&1 || { cat "$W/up.log" >&2; die "mailstack up failed"; }
# shellcheck disable=SC1091
MAIL_OWNER=$(. "$BASE/stack.env"; echo "$MAIL_USER:$MAIL_GROUP")
PIPE_USER=$(bash "$MS" pipe-user "$BASE")

echo "== 1. IMAP: $N replies into $MAILDIR/new"
mkdir -p "$MAILDIR/new" "$MAILDIR/cur" "$MAILDIR/tmp"
"$BR" "$W/imap.conf" "$N" "$MAILDIR/new" > "$W/imap.replies"
chown -R "$MAIL_OWNER" "$BASE/mail/$MBOX"
echo "   store filled in $(kv seconds "$W/imap.replies") s, $(kv avg_bytes "$W/imap.replies") bytes per reply"
n_inbox=$(mbox_count INBOX)
[ "$n_inbox" = "$N" ] || die "INBOX holds $n_inbox messages, not $N"
# Warm-up, not timed: the first SELECT makes Dovecot move new/ to cur/ and
# build its index; both timed readers below then find the same warm mailbox.
t0=$(date +%s.%N)
"$BUILD/tests/bench/bench_imap_fetch" 127.0.0.1 "$IMAP_PORT" "$MBOX" "$W/imap.secret" INBOX > /dev/null
echo "   warm-up read (first SELECT: Dovecot moves new/ to cur/, indexes): $(since "$t0") s, not counted"

echo "== baseline: bench_imap_fetch over the same mailbox"
"$BUILD/tests/bench/bench_imap_fetch" 127.0.0.1 "$IMAP_PORT" "$MBOX" "$W/imap.secret" INBOX > "$W/fetch.out"
cat "$W/fetch.out"
f_s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$W/fetch.out")
f_n=$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$W/fetch.out")
[ "$f_n" = "$N" ] || die "bench_imap_fetch read $f_n messages, not $N"

echo "== consentd -f --once: judge, record, move $N replies (receipts queued: SMTP port $CLOSED_PORT is closed)"
/usr/bin/time -f '%e %M %U %S' -o "$W/time.consentd" "$BUILD/src/consentd" -c "$W/imap.conf" -f --once \
	2> "$W/consentd.log" || { tail -n 5 "$W/consentd.log" >&2; die "consentd --once failed"; }
read -r c_s c_rss c_user c_sys < "$W/time.consentd"
echo "   $c_s s elapsed, CPU $c_user s user + $c_sys s sys"
check_outcomes "$W/imap/c.db" "$W/imap.replies"
left=$(mbox_count INBOX)
# consentd's "consent/processed": Dovecot's Maildir++ separator is "."
processed=$(mbox_count consent.processed)
review=$(mbox_count consent.review)
echo "   mailboxes: INBOX $left, processed $processed, review $review"
[ "$left" = 0 ] || die "INBOX still holds $left messages"
[ "$((processed + review))" = "$N" ] || die "processed + review = $((processed + review)), not $N"
[ "$review" = "$(kv expect_review "$W/imap.replies")" ] || die "review holds $review messages"
queued=$(sqlite3 "$W/imap/c.db" "SELECT count(*) FROM outbox WHERE kind <> 'request' AND state IN ('queued','deferred')")
echo "   receipts and please-answer mails waiting in the outbox: $queued"

echo "== 2. consent-deliver, whole process: $D runs on $D fresh replies"
mkdir -p "$W/deliver-mail"
"$BR" "$W/deliver.conf" "$D" "$W/deliver-mail" > "$W/deliver.replies"
"$BR" --deliver /bin/true "$W/deliver.conf" "$W/deliver-mail" > "$W/true.out"
"$BR" --deliver "$BUILD/src/consent-deliver" "$W/deliver.conf" "$W/deliver-mail" > "$W/deliver.out"
check_outcomes "$W/deliver/c.db" "$W/deliver.replies"
echo "   consent-deliver: median $(kv median_ms "$W/deliver.out") ms, p99 $(kv p99_ms "$W/deliver.out") ms;" \
	"/bin/true: median $(kv median_ms "$W/true.out") ms"

echo "== 3. Postfix: $M replies over one SMTP session, into Dovecot (LMTP) and through pipe(8)"
mkdir -p "$W/pipe-mail"
"$BR" "$W/pipe.conf" "$M" "$W/pipe-mail" > "$W/pipe.replies"
chown -R "$PIPE_USER" "$W/pipe"
# wait_for WHAT COUNT_COMMAND TARGET - poll until the count reaches TARGET
# (at most 600 s); prints nothing, fails on timeout.
wait_for() {
	local i
	for ((i = 0; i < 6000; i++)); do
		[ "$($2)" -ge "$3" ] && return 0
		sleep 0.1
	done
	die "$1: only $($2) of $3 after 600 s (log: $BASE/log/postfix.log)"
}
count_maildir() { find "$MAILDIR/new" "$MAILDIR/cur" -type f | wc -l; }
count_inbox() {
	local n
	n=$(sqlite3 -cmd ".timeout 5000" "$W/pipe/c.db" "SELECT count(*) FROM inbox" 2>/dev/null) || n=0
	echo "${n:-0}"
}
# route pipe|imap - switch, then let the rewritten transport table age: Postfix
# reads a texthash: table only once it is more than a second old (the new
# trivial-rewrite sleeps 300 ms per try until then), which would put a
# ~2 s stall in front of the first message.
route() { bash "$MS" route "$BASE" "$1" > /dev/null; sleep 2.2; }

route imap
before=$(count_maildir)
t0=$(date +%s.%N)
"$BR" --smtp 127.0.0.1 "$SMTP_PORT" "$W/pipe-mail" "$M" > "$W/smtp.lmtp"
wait_for "Dovecot" count_maildir $((before + M))
l_s=$(since "$t0")
echo "   into Dovecot: $l_s s (sender done after $(kv seconds "$W/smtp.lmtp") s)"

route pipe
t0=$(date +%s.%N)
"$BR" --smtp 127.0.0.1 "$SMTP_PORT" "$W/pipe-mail" "$M" > "$W/smtp.pipe"
wait_for "consent-deliver" count_inbox "$M"
p_s=$(since "$t0")
check_outcomes "$W/pipe/c.db" "$W/pipe.replies"
deferred=$(grep -c 'relay=consentd.*status=deferred' "$BASE/log/postfix.log" || true)
bounced=$(grep -c 'relay=consentd.*status=bounced' "$BASE/log/postfix.log" || true)
echo "   through pipe(8): $p_s s (sender done after $(kv seconds "$W/smtp.pipe") s; deferred $deferred, bounced $bounced)"

awk -v n="$N" -v cs="$c_s" -v fs="$f_s" -v rss="$c_rss" -v cu="$c_user" -v csy="$c_sys" \
    -v dm="$(kv median_ms "$W/deliver.out")" -v d90="$(kv p90_ms "$W/deliver.out")" \
    -v d99="$(kv p99_ms "$W/deliver.out")" -v dn="$D" -v tm="$(kv median_ms "$W/true.out")" \
    -v m="$M" -v ps="$p_s" -v ls="$l_s" -v def="$deferred" 'BEGIN {
	cr = n / cs; fr = n / fs;
	printf "\n| metric | consentd | baseline (same run) | goal |\n| --- | --- | --- | --- |\n";
	ok = cr >= 2000 ? "met" : "NOT met";
	printf "| %d replies over IMAP: judged, recorded, moved (receipts queued, not sent) | %.2f s = %.0f replies/s | bench_imap_fetch: %.2f s = %.0f msg/s | >= 2,000/s (%s) |\n", n, cs, cr, fs, fr, ok;
	ok = (cr / fr >= 0.5) ? "met" : "NOT met";
	printf "| ratio consentd / bench_imap_fetch | %.2f | | >= 0.5 (%s) |\n", cr / fr, ok;
	printf "| consentd --once CPU, peak RSS | %.2f s user + %.2f s sys, %.1f MB | | |\n", cu, csy, rss / 1024;
	ok = dm <= 3 ? "met" : "NOT met";
	printf "| consent-deliver, whole process, median of %d | %.2f ms (p90 %.2f, p99 %.2f) | /bin/true: %.2f ms | <= 3 ms (%s) |\n", dn, dm, d90, d99, tm, ok;
	printf "| %d replies through Postfix pipe(8), end to end | %.2f s = %.0f msg/s (%d deferred) | into Dovecot over LMTP: %.2f s = %.0f msg/s | |\n", m, ps, m / ps, def, ls, m / ls;
}'
