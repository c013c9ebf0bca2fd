#!/bin/bash
# debian-deps.sh - install the Debian 12 packages consentd needs to build,
# test and run its demo. Installs only what is missing; needs root.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config
	libsqlite3-dev uuid-dev libinih-dev libjansson-dev libssl-dev
	libesmtp-dev libetpan-dev libxml2-dev libcmocka-dev
	sqlite3 faketime time clang man-db jq valgrind
	postfix dovecot-imapd dovecot-lmtpd swaks
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "debian-deps: missing packages: ${missing[*]} (run as root or apt-get install them)" >&2
	exit 1
fi
echo "debian-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
	# No system mail server: the tests run their own Postfix
	# (contrib/mailstack/mailstack.sh) and nothing should listen on port 25.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
