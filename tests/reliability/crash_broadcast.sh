#!/bin/bash
# crash_broadcast.sh - kill -9 of consentd again and again while it sends a
# policy-change broadcast to N accounts (default 10,000) into fake_smtp.
#
# Evidence is fake_smtp's log (one ACCEPT line per recipient it took with
# 250), not consentd's own bookkeeping:
#   lost        accounts whose primary address never got an ACCEPT after the
#               run (goal 0);
#   duplicates  ACCEPTs beyond the first per address (goal: at most one per
#               kill - consentd has one SMTP session at a time and writes each
#               outcome as soon as the server answered, so only the message
#               whose 250 came back just before the kill can go out twice);
#               each duplicate is put down to the kill that ended the life in
#               which the server had first taken that mail (fake_smtp's log
#               is cut into lives at each kill, 0.1 s after it), and the most
#               from one kill is reported, as are mails taken twice within one
#               life (no kill to blame: goal 0);
#   the store's view against the server's: rows 'sent' = addresses accepted;
#   consentctl ledger verify after the run.
# Should one broadcast end before MIN_KILLS such kills (a fast machine), the
# next version is published and broadcast to the same accounts, and so on
# (at most 3); each is checked against its own fake_smtp log.
# A kill counts as "during the broadcast" when the server took mail in that
# life of the daemon (it was sending, not starting up) and announcements
# were still unsent after the kill; the daemon never exits on its own.
#
# Env: RELIABILITY_BROADCAST_N (10000), RELIABILITY_KILLS (20, the minimum
# of kills during the broadcast), RELIABILITY_BROADCAST_RATE ([broadcast]
# rate, default 0 = no limit: the most mail in flight at a kill; a limit
# mostly kills the daemon while it waits for its bucket),
# RELIABILITY_KILL_MS (25-120: a random life in ms; at ~5,000 messages/s
# 10,000 announcements last about 40 lives).
# Port: fake_smtp on the first free one of 127.0.0.1:12880-12881.
. "$(dirname "$0")/common.sh"
: "${CONSENTD:?}" "${FAKE_SMTP:?}"
N=${RELIABILITY_BROADCAST_N:-10000}
MIN_KILLS=${RELIABILITY_KILLS:-20}
RATE=${RELIABILITY_BROADCAST_RATE:-0}
KILL_MS=${RELIABILITY_KILL_MS:-25-120}
KMIN=${KILL_MS%-*} KMAX=${KILL_MS#*-}
VER=2027
FAKEPID= DAEMONPID=
cleanup() {
	[ -z "$DAEMONPID" ] || { kill -9 "$DAEMONPID" 2>/dev/null; wait "$DAEMONPID" 2>/dev/null; }
	[ -z "$FAKEPID" ] || { kill "$FAKEPID" 2>/dev/null; wait "$FAKEPID" 2>/dev/null; }
}
trap cleanup EXIT

PORT=
for p in 12880 12881; do port_free "$p" && { PORT=$p; break; }; done
[ -n "$PORT" ] || { fail "127.0.0.1:12880-12881 both taken"; result setup "fake_smtp port" none free FAIL; reli_finish; }

write_conf -e "s#^port = 25#port = $PORT#" -e "s#^timeout = 60#timeout = 10#" \
	-e "s#^rate = 50#rate = $RATE#" -e "s#^domain_rate = 10#domain_rate = 0#"
LOG=$SCRATCH/consentd.log
AREA="kill -9 during broadcast"

# ---- N accounts, a material version, its broadcast queued ----
awk -v n="$N" 'BEGIN {
	print "id,email,name,lang"
	for (i = 1; i <= n; i++)
		printf "b%d,b%d@dom%d.test,Broadcast %d,%s\n", i, i, i % 16, i, i % 2 ? "de" : "en"
}' >"$SCRATCH/accounts.csv"
awk -F, 'NR > 1 { print $2 }' "$SCRATCH/accounts.csv" | sort >"$SCRATCH/rcpts"
run ctl account import "$SCRATCH/accounts.csv"
expect_rc 0 "import $N accounts"
printf 'Wir speichern Protokolldaten künftig 30 statt 90 Tage.\n' >"$SCRATCH/summary.de"
printf 'We now keep log data for 30 instead of 90 days.\n' >"$SCRATCH/summary.en"
setup_done "$AREA"

unsent() { sq "SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'failed', 'cancelled')"; }

# round R - publish version $VER.R, start its broadcast, a new fake_smtp
# log, then start consentd and kill -9 it after a random life until every
# announcement went out, and a last clean pass. Adds to the totals below.
kills=0 kills_mid=0 died=0 inflight_max=0 lost=0 extra=0 total=0 dups=0 dup_max=0 same_life=0
sent_rows=0 took_rcpts=0 nrounds=0
round() {
	local r=$1 ver=$VER.$1 fakelog=$SCRATCH/fake.$1.log lives=0 took_before took left inflight d
	local -a marks=()   # line count of fake_smtp's log at the end of each life
	run ctl policy publish "$ver" --effective "$(date -u -d '+30 days' +%F)" --material \
		--summary "de=$SCRATCH/summary.de" --summary "en=$SCRATCH/summary.en"
	expect_rc 0 "policy publish $ver"
	run ctl broadcast start "$ver"
	expect_rc 0 "broadcast start $ver"
	expect_match "$OUT" "$N accounts, $N mails queued" "broadcast start queues $N"
	"$FAKE_SMTP" -p "$PORT" -l "$fakelog" >"$SCRATCH/fake.out" 2>"$SCRATCH/fake.err" &
	FAKEPID=$!
	for _ in $(seq 250); do grep -q '^ready' "$SCRATCH/fake.out" 2>/dev/null && break; sleep 0.02; done
	grep -q '^ready' "$SCRATCH/fake.out" || fail "fake_smtp did not start: $(cat "$SCRATCH/fake.err")"
	setup_done "$AREA"
	: >>"$fakelog"
	while [ "$lives" -lt 200 ]; do
		lives=$((lives + 1))
		took_before=$(grep -c '^ACCEPT ' "$fakelog")
		one_life
		sleep 0.1   # a message whose final dot was sent just before the kill is logged by now
		marks+=("$(wc -l <"$fakelog")")
		left=$(unsent)
		took=$(($(grep -c '^ACCEPT ' "$fakelog") - took_before))
		[ "$left" -gt 0 ] && [ "$took" -gt 0 ] && kills_mid=$((kills_mid + 1))
		inflight=$(sq "SELECT count(*) FROM outbox WHERE state = 'sending'")
		[ "$inflight" -gt "$inflight_max" ] && inflight_max=$inflight
		printf 'broadcast %s, kill %d: server took %d in this life, %d unsent, %d left sending\n' \
			"$ver" "$kills" "$took" "$left" "$inflight"
		[ "$left" -gt 0 ] || break
	done
	# What is left (a kill's rows in 'sending') by a clean pass.
	run timeout 300 "$CONSENTD" -c "$CONF" -f --once
	expect_rc 0 "a last clean consentd --once ($ver)"
	cat "$SCRATCH/.stderr" >>"$LOG"
	marks+=("$(wc -l <"$fakelog")")
	kill "$FAKEPID" 2>/dev/null; wait "$FAKEPID" 2>/dev/null; FAKEPID=
	# Per duplicate: blame the kill that ended the life of the previous
	# acceptance of the same address. "most_from_one_kill same_life".
	local dm sl
	read -r dm sl < <(awk -v marks="${marks[*]}" '
		BEGIN { nm = split(marks, m, " "); life = 1 }
		{ while (life < nm && NR > m[life]) life++ }
		$1 == "ACCEPT" {
			if ($3 in last) { if (last[$3] == life) same++; else blame[last[$3]]++ }
			last[$3] = life
		}
		END { for (k in blame) if (blame[k] > max) max = blame[k]; print max + 0, same + 0 }' "$fakelog")
	[ "$dm" -gt "$dup_max" ] && dup_max=$dm
	same_life=$((same_life + sl))
	awk '$1 == "ACCEPT" { print $3 }' "$fakelog" | sort -u >"$SCRATCH/got"
	lost=$((lost + $(comm -23 "$SCRATCH/rcpts" "$SCRATCH/got" | wc -l)))
	extra=$((extra + $(comm -13 "$SCRATCH/rcpts" "$SCRATCH/got" | wc -l)))
	d=$(grep -c '^ACCEPT ' "$fakelog")
	total=$((total + d))
	dups=$((dups + d - $(wc -l <"$SCRATCH/got")))
	took_rcpts=$((took_rcpts + $(wc -l <"$SCRATCH/got")))
	sent_rows=$(sq "SELECT count(*) FROM outbox WHERE state = 'sent'")
	nrounds=$r
	echo "broadcast $ver done: $d messages taken for $(wc -l <"$SCRATCH/got") addresses"
}

# One broadcast of N; another while fewer than MIN_KILLS kills hit one
# that was being sent (at most 3).
T0=$SECONDS
for r in 1 2 3; do
	round "$r"
	[ "$kills_mid" -ge "$MIN_KILLS" ] && break
done
states=$(sq "SELECT group_concat(state || ':' || n, ' ') FROM (SELECT state, count(*) n FROM outbox GROUP BY state)")
echo "kills: $kills ($kills_mid while sending with announcements left; the daemon had exited on its own $died times)" \
	"in $((SECONDS - T0)) s; server took $total messages; outbox: $states; most 'sending' at a kill: $inflight_max"
run ctl ledger verify
verify_rc=$RC

if [ "$nrounds" = 1 ]; then A="$AREA ($kills_mid kills, $N accounts)"
else A="$AREA ($kills_mid kills, $nrounds broadcasts to $N accounts)"; fi
result_ge "$A" "kills while sending (unsent left)" "$kills_mid" "$MIN_KILLS"
result_eq "$A" "daemon exits on its own (not killed)" "$died" 0
result_eq "$A" "lost (accounts the server never took)" "$lost" 0
result_le "$A" "duplicates (taken twice by the server)" "$dups" "$kills" "<= $kills (1 per kill)"
result_le "$A" "most duplicates from one kill" "$dup_max" 1
result_eq "$A" "duplicates within one life (no kill)" "$same_life" 0
result_eq "$A" "mail to addresses outside the accounts" "$extra" 0
result_eq "$A" "store rows 'sent' = addresses accepted" "$sent_rows" "$took_rcpts"
result_eq "$A" "ledger verify exit" "$verify_rc" 0
reli_finish
