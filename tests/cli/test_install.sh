#!/bin/bash
# cmake --install into a DESTDIR: the programs, templates, configuration,
# man pages and contrib files where an admin looks for them; the man pages
# render without warnings; an installed configuration is never overwritten.
. "$(dirname "$0")/lib.sh"
: "${BUILD_DIR:?set by ctest}"
ROOT=$SCRATCH/root
DESTDIR=$ROOT cmake --install "$BUILD_DIR" --prefix /usr > "$SCRATCH/install.log" 2>&1
RC=$?; OUT=$(cat "$SCRATCH/install.log"); ERR=
expect_rc 0 "cmake --install into DESTDIR"
for f in usr/bin/consentctl usr/sbin/consentd usr/libexec/consentd/consent-deliver \
	 etc/consentd/consentd.conf \
	 usr/share/consentd/mailtemplates/de/consent-request.txt \
	 usr/share/consentd/mailtemplates/en/policy-change.txt \
	 usr/share/consentd/mailtemplates/README.md \
	 usr/share/man/man1/consentctl.1 usr/share/man/man5/consentd.conf.5 \
	 usr/share/man/man8/consentd.8 usr/share/man/man8/consent-deliver.8 \
	 usr/share/doc/consentd/consentd.conf.example \
	 usr/share/doc/consentd/systemd/consentd.service \
	 usr/share/doc/consentd/systemd/consentd.sysusers \
	 usr/share/doc/consentd/systemd/consentd.tmpfiles \
	 usr/share/doc/consentd/postfix/master.cf.snippet; do
	CHECKS=$((CHECKS + 1))
	[ -f "$ROOT/$f" ] || fail "installed: /$f missing"
done
expect_eq "$(ls "$ROOT/usr/share/consentd/mailtemplates/de" "$ROOT/usr/share/consentd/mailtemplates/en" | grep -c '\.txt$')" "12" "all twelve templates"
CHECKS=$((CHECKS + 1))
[ -x "$ROOT/usr/sbin/consentd" ] && [ -x "$ROOT/usr/libexec/consentd/consent-deliver" ] || fail "programs executable"
expect_match "$(grep argv= "$ROOT/usr/share/doc/consentd/postfix/master.cf.snippet")" "argv=/usr/libexec/consentd/consent-deliver" "the Postfix snippet names the installed pipe program"
# man pages render without a warning
for m in "$ROOT"/usr/share/man/man*/*; do
	warn=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	expect_eq "$warn" "" "man -l $(basename "$m") renders without warnings"
	expect_match "$(MANWIDTH=80 man -l "$m" 2>/dev/null | head -5)" "NAME" "man -l $(basename "$m") has a NAME section"
done
# every key of the shipped configuration is in consentd.conf(5)
keys=$(grep -oE '^[a-z_]+ =' "$SRC_DIR/conf/consentd.conf" | sed 's/ =//' | sort -u)
page=$(MANWIDTH=200 man -l "$ROOT/usr/share/man/man5/consentd.conf.5" 2>/dev/null)
for k in $keys; do
	CHECKS=$((CHECKS + 1))
	printf '%s\n' "$page" | grep -q "$k" || fail "consentd.conf(5) lacks key $k"
done
# every consentctl command is in consentctl(1)
page=$(MANWIDTH=200 man -l "$ROOT/usr/share/man/man1/consentctl.1" 2>/dev/null)
for c in "account add" "account import" "request" "status" "check" "granted" "revoke" "export" \
	 "erase" "expire" "outbox list" "inbox list" "stats" "policy publish" "policy list" \
	 "policy preview" "broadcast start" "broadcast status" "broadcast report" "ledger verify"; do
	CHECKS=$((CHECKS + 1))
	printf '%s\n' "$page" | grep -q "$c" || fail "consentctl(1) lacks '$c'"
done
# An installed configuration is the admin's: a second install keeps it.
echo "; edited by the admin" >> "$ROOT/etc/consentd/consentd.conf"
sum=$(sha256sum < "$ROOT/etc/consentd/consentd.conf")
DESTDIR=$ROOT cmake --install "$BUILD_DIR" --prefix /usr > "$SCRATCH/install2.log" 2>&1
expect_eq "$?" "0" "second install"
expect_eq "$(sha256sum < "$ROOT/etc/consentd/consentd.conf")" "$sum" "the admin's consentd.conf is not overwritten"
expect_match "$(cat "$SCRATCH/install2.log")" "Keeping: .*consentd.conf" "and the install says it kept it"
finish
