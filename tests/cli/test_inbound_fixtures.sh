# Every fixture of tests/fixtures/inbound (real-client replies, automatic
# mail, bounces, forgeries, broken MIME) through consent-deliver into a
# fresh store in the state the manifest names: the outcome, its reason and
# the consent state afterwards must be what MANIFEST.tsv says; the ledger
# must verify; a second delivery of the same bytes changes nothing.
. "$TESTS_DIR/cli/lib.sh"
. "$TESTS_DIR/cli/inbound_lib.sh"

n=0
while IFS=$'\t' read -r file acct setup rcpt sender expect reason state_after what; do
	[ "$file" = file ] && continue
	[ -n "$file" ] || continue
	n=$((n + 1))
	fixture_store "$acct" "$setup"
	rcpt=$(fill_field "$rcpt")
	[ "$sender" = "<>" ] && sender=""
	fixture_fill "$FIXTURES/$file" > "$SCRATCH/msg"
	run deliver -f "$sender" -r "$rcpt" < "$SCRATCH/msg"
	expect_rc 0 "$file: recorded"
	want="$expect $reason"
	[ "$reason" = "-" ] && want="$expect"
	got=$(last_inbox)
	[ "$reason" = "-" ] && got=${got%% *}
	expect_eq "$got" "$want" "$file ($what)"
	expect_eq "$(ctl status "$acct" log-linking)" "$state_after" "$file: state after"
	events=$(sqlite3 "$DB" "SELECT count(*) FROM event")
	run deliver -f "$sender" -r "$rcpt" < "$SCRATCH/msg"
	expect_rc 0 "$file: second delivery recorded"
	expect_eq "$(last_inbox)" "ignored duplicate" "$file: second delivery is a duplicate"
	expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM event")" "$events" "$file: no second event"
	run ctl ledger verify
	expect_rc 0 "$file: ledger verifies"
done < "$FIXTURES/MANIFEST.tsv"
expect_match "$n" '^[1-9][0-9]+$' "fixtures read"
finish
