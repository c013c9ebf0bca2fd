# inbound_lib.sh - helpers for tests of inbound mail (source after lib.sh):
# a fresh store with the fixture accounts in a given consent state, and the
# fixtures of tests/fixtures/inbound with their placeholders filled in.
: "${CONSENT_DELIVER:?set by ctest}"
FIXTURES=$TESTS_DIR/fixtures/inbound
REPLY_DOMAIN=${REPLY_DOMAIN:-cloudwerk.example}

deliver() { "$CONSENT_DELIVER" -c "$CONF" "$@"; }

# newest_token ACCOUNT - the plaintext token of the account's newest queued
# request mail (the outbox holds it until the mail is sent).
newest_token() {
	sqlite3 -cmd ".timeout 5000" "$DB" "SELECT o.token FROM outbox o JOIN account a ON a.key = o.acct
		WHERE a.id = '$1' AND o.token IS NOT NULL ORDER BY o.id DESC LIMIT 1"
}

# yes_reply ADDRESS TOKEN - a plain "Ja" reply to the request with TOKEN.
yes_reply() {
	printf 'From: <%s>\nTo: consent+%s@%s\nSubject: Re: [%s]\nMessage-ID: <setup.%s@example.org>\nIn-Reply-To: <consent.%s@%s>\n\nJa\n' \
		"$1" "$2" "$REPLY_DOMAIN" "$2" "$2" "$2" "$REPLY_DOMAIN"
}

# fixture_store ACCOUNT SETUP [CONF-SED...] - a new store with u1 and u2;
# ACCOUNT's log-linking consent in state SETUP (none, pending, granted,
# expired). Sets TOKEN (random for none).
fixture_store() {
	local acct=$1 setup=$2 email
	shift 2
	rm -f "$DB" "$DB-wal" "$DB-shm"
	write_conf -e "s#^reply_domain = .*#reply_domain = $REPLY_DOMAIN#" "$@"
	ctl account add u1 anna.mueller@example.org --name "Anna Müller" --lang de >/dev/null
	ctl account add u2 john.smith@example.net --name "John Smith" --lang en >/dev/null
	email=$( [ "$acct" = u1 ] && echo anna.mueller@example.org || echo john.smith@example.net )
	if [ "$setup" = none ]; then
		TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
		return
	fi
	ctl request "$acct" log-linking >/dev/null
	TOKEN=$(newest_token "$acct")
	case $setup in
	granted)
		yes_reply "$email" "$TOKEN" | deliver -f "$email" -r "consent+$TOKEN@$REPLY_DOMAIN" ;;
	expired)
		sqlite3 "$DB" "UPDATE request SET expires = strftime('%s','now') - 1 WHERE state = 'open'"
		ctl expire >/dev/null ;;
	esac
	[ "$(ctl status "$acct" log-linking)" = "$setup" ] || echo "fixture_store: $acct is not $setup" >&2
}

# fixture_fill FILE - the fixture with its placeholders filled in.
fixture_fill() {
	local uc; uc=$(printf '%s' "$TOKEN" | tr a-f A-F)
	sed -e "s/{{TOKEN}}/$TOKEN/g" -e "s/{{TOKEN_UC}}/$uc/g" \
	    -e "s/{{REPLY_DOMAIN}}/$REPLY_DOMAIN/g" "$1"
}

# fill_field TEXT - placeholders in a manifest field.
fill_field() {
	local uc; uc=$(printf '%s' "$TOKEN" | tr a-f A-F)
	printf '%s' "$1" | sed -e "s/{{TOKEN}}/$TOKEN/g" -e "s/{{TOKEN_UC}}/$uc/g" \
		-e "s/{{REPLY_DOMAIN}}/$REPLY_DOMAIN/g"
}

# last_inbox - "outcome reason" of the newest inbox row.
last_inbox() {
	sqlite3 -cmd ".timeout 5000" -separator ' ' "$DB" "SELECT outcome, reason FROM inbox ORDER BY id DESC LIMIT 1"
}
