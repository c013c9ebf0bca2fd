# service_user.sh - sourced by the benchmarks that run consentd. consentd
# does not run as root: as root, the benchmarks name the account
# consentd-test in [service] user (created when missing; it is also the
# account mailstack's pipe runs consent-deliver as) and give it the
# directories that hold stores (0700). Not root: the account running.
#   SVC_USER        the [service] user value to write ('' when not root)
#   svc_sed         a sed expression setting [service] user in a config
#   svc_dir DIR...  make each DIR (0700) and give it to SVC_USER
SVC_USER=
if [ "$(id -u)" = 0 ]; then
	SVC_USER=consentd-test
	id -u "$SVC_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$SVC_USER" 2>/dev/null || id -u "$SVC_USER" >/dev/null
fi
svc_sed="/^\[service\]/,/^\[/s#^user = .*#user = $SVC_USER#"
svc_dir() {
	local d
	for d in "$@"; do
		mkdir -p "$d" && chmod 700 "$d" || return 1
		[ -z "$SVC_USER" ] || chown "$SVC_USER:" "$d" || return 1
	done
}
