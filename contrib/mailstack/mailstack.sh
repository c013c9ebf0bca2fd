#!/bin/bash
# mailstack.sh - a private, loopback-only mail stack for consentd's integration
# tests: Dovecot (IMAP + LMTP), Postfix (SMTP in, LMTP out to Dovecot) and
# Postfix's smtp-sink test server.  Needs root (Postfix insists), no systemd,
# no change to the system's /etc/postfix or /etc/dovecot.
#
# Usage
#   mailstack.sh up     [BASE]   start all three; if anything of BASE's stack
#                                already runs it is stopped first.  Returns 0
#                                once every port accepts connections.
#   mailstack.sh down   [BASE]   stop everything by pid and wait until every
#                                process is gone.  Data in BASE is kept.
#   mailstack.sh status [BASE]   say what runs; exit 0 all up, 3 nothing up,
#                                1 partly up.
#   mailstack.sh sink-restart [BASE] [-- SINK_ARGS...]
#                                restart only smtp-sink, with SINK_ARGS added to
#                                its usual options (no SINK_ARGS: back to a
#                                well-behaved sink).
#   mailstack.sh route [BASE] pipe|imap
#                                switch consent@example.test (and consent+X@)
#                                at run time: "pipe" to consent-deliver through
#                                the consentd pipe(8) transport, "imap" to
#                                Dovecot (consentd reads it over IMAP).  Runs
#                                "postfix reload" and returns (in ~0.2 s) once
#                                the old trivial-rewrite and qmgr processes are
#                                gone and a new qmgr runs, i.e. the next message
#                                (and the next retry of a deferred one) takes
#                                the new route.  Needs a running stack.
#   mailstack.sh flush [BASE]    postqueue -f: retry every deferred message now.
#                                Returns at once; the delivery follows within
#                                0.1 s (about 2 s when flushed right after a
#                                "route" or another reload).  Without flush,
#                                Postfix retries by itself about 10-20 s later.
#   mailstack.sh pipe-user [BASE]
#                                print the name of the user consent-deliver
#                                runs as (creating it if missing), e.g.
#                                chown "$(mailstack.sh pipe-user BASE)" DBDIR
# BASE defaults to /tmp/csd-stack.  Keep it short: Dovecot puts unix sockets
# below it and a socket path may not exceed 107 bytes (limit here: 64 chars).
#
# Ports (env, read by "up" and remembered in BASE/stack.env, which the other
# commands and a later "up" without these variables use; all on 127.0.0.1):
#   IMAP_PORT=10143  Dovecot IMAP (plain text, no TLS)
#   LMTP_PORT=10024  Dovecot LMTP (also on the unix socket BASE/dovecot/lmtp.sock,
#                    which is what Postfix uses)
#   SMTP_PORT=10025  Postfix smtpd
#   SINK_PORT=10026  smtp-sink
# Pick ports below /proc/sys/net/ipv4/ip_local_port_range (32768 and up by
# default): a port in that range can be taken by some client socket between
# the check in "up" and the bind ("Address already in use" in the logs).
# Other env: MAIL_USER=nobody MAIL_GROUP=nogroup (owner of all mail);
#   BARE_LF=reject|normalize|no (default reject): Postfix smtpd_forbid_bare_newline,
#   so a client that sends bare LF in DATA is refused with 550 instead of
#   having its mail silently repaired.
#
# Postfix pipe(8) delivery to consent-deliver (env, read by "up" and "route"):
#   CONSENT_DELIVER=/ABS/consent-deliver  CONSENT_CONF=/ABS/consentd.conf
#                    BOTH set at "up" (CONSENT_DELIVER alone, as ctest exports
#                    it to every integration test, changes nothing, so a test
#                    runs: CONSENT_CONF=$CONF mailstack.sh up BASE): a
#                    "consentd" pipe transport is added and
#                    consent@example.test (and consent+ANYTHING@, by the
#                    transport_maps fallback to the address without extension)
#                    goes to it instead of Dovecot:
#                      consentd unix - n n - - pipe flags=DRhu user=CONSENT_USER
#                        argv=CONSENT_DELIVER -c CONSENT_CONF -f ${sender} -r ${recipient}
#                    with consentd_destination_recipient_limit = 1 (one exit
#                    status per recipient) and consentd_time_limit = 60s.
#                    Exit 0 = delivered, 75 = deferred (retried after ~10 s, or
#                    at once with "flush"), anything else and the time limit =
#                    bounced.  flags=DRhu: stdin starts with Return-Path: then
#                    Delivered-To:; h and u fold ${recipient} to lower case.
#                    Not both set at "up" (even if a previous "up" had them): no pipe
#                    transport, consent@ goes to Dovecot as before.  "route"
#                    takes the pair from the environment too when CONSENT_CONF
#                    is set (else from stack.env), so a stack started without
#                    them can be switched later.
#                    Paths: absolute, letters, digits and . _ - + / only; the
#                    pipe user must be able to run the one and read the other.
#   CONSENT_USER=consentd-test  the unprivileged user consent-deliver runs as
#                    (never root, never Postfix's mail_owner "postfix").  The
#                    default user is created as a system user (no home, shell
#                    nologin) when missing and is left in place by "down".  It
#                    must be able to write the SQLite database AND its directory
#                    (WAL and journal files): a test chowns its database
#                    directory to "$(mailstack.sh pipe-user BASE)".
#   CONSENT_ROUTE=pipe|imap  the route at "up" (default: pipe when both
#                    CONSENT_DELIVER and CONSENT_CONF are set, else imap).
#
# Mail users (Dovecot passwd-file; every password is "secret"):
#   test@example.test  app@example.test  consent@example.test
# Postfix accepts mail for these at example.test (recipient_delimiter "+", so
# consent+TOKEN@example.test lands in the INBOX of consent@example.test) and
# hands it to Dovecot over LMTP (consent@ and consent+X@ go to consent-deliver
# instead while the route is "pipe", see above).  Everything else is either
# rejected (unknown user at example.test) or bounced by the error transport:
# nothing leaves the machine and no DNS lookup is made.
#
# Layout of BASE
#   stack.env                     ports, users, CONSENT_* and the current
#                                 route (sourced by the other commands)
#   dovecot/dovecot.conf, users   Dovecot config; run/ is its base_dir
#   dovecot/lmtp.sock             LMTP socket
#   mail/<user>/Maildir/          mailboxes (new/ holds unread deliveries)
#   postfix/etc/                  Postfix config dir (main.cf, master.cf, maps)
#   postfix/queue/, postfix/data/ Postfix queue and data directories
#   sink/                         one file per message received by smtp-sink
#                                 (name: YYYYmmddHHMMSS.<random hex>)
#   log/dovecot.log, log/postfix.log, log/sink.log, log/mailstack.log
#   run/sink.pid, run/sink.args
#
# Handy commands
#   doveadm -c BASE/dovecot/dovecot.conf mailbox status -u consent@example.test messages INBOX
#   doveadm -c BASE/dovecot/dovecot.conf search -u consent@example.test mailbox INBOX ALL
#   postqueue -c BASE/postfix/etc -p     (queue)    postqueue -c BASE/postfix/etc -f  (retry now)
#   grep -E 'status=(sent|deferred|bounced)' BASE/log/postfix.log   (pipe outcomes)
#   postfix -c BASE/postfix/etc reload   (after editing a texthash: map)
# Always pass absolute paths to -c: "postfix -c relative/dir stop" fails silently.
#
# smtp-sink dump files (checked in smtp-sink.c): the sink writes its own
# X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args, X-Rcpt-Args and a
# three-line Received: header in front of the message, drops EVERY CR (so
# CRLF and bare LF look the same there: test line endings elsewhere, e.g.
# Postfix below rejects bare LF), undoes dot-stuffing and ends with one extra
# empty line.  The file is closed before the reply to the final "." is sent,
# so it is complete once the client has its reply - and it is kept even when
# that reply is an error (-r . / -f .) or a hang-up (-q .): count files only
# against a well-behaved sink.  A transaction that never reaches the final
# "." leaves no file.
#
# smtp-sink fault options for sink-restart (from smtp-sink(1), Postfix 3.7;
# CMD lists are comma separated, case-insensitive: CONNECT HELO EHLO LHLO MAIL
# RCPT VRFY DATA . RSET NOOP QUIT, where "." is the end of the message data):
#   -r CMD,...   answer CMD with a soft error: "-r ." gives 450 4.3.0 after the
#                data, "-r RCPT" 450 to every RCPT.  Implies -p.
#   -f CMD,...   answer CMD with a hard error: "-f RCPT" gives 500 5.3.0 to every
#                RCPT, "-f ." 500 after the data.  Implies -p.
#   -b TEXT      soft error reply text, default "450 4.3.0 Error: command failed";
#                e.g. -r . -b "451 4.3.0 Try again later" for a 451.
#   -B TEXT      hard error reply text, default "500 5.3.0 Error: command failed";
#                e.g. -f RCPT -B "550 5.1.1 User unknown".
#   -q CMD,...   hang up without replying after CMD: "-q ." drops the
#                connection after the data, "-q DATA" before the data.
#   -Q CMD,...   reply 421 and hang up after CMD.
#   -A SECS      after answering DATA, wait SECS, answer 550 and stop reading
#                (aborts the client in mid-DATA).
#   -w SECS      wait SECS before answering DATA; -W CMD:SECS[:ODDS] wait before
#                answering CMD (e.g. -W .:30 to stall past a client timeout).
#   -H SECS      delay the first read after DATA.
#   -p -e -8 -E -N -a  do not announce PIPELINING / ESMTP / 8BITMIME /
#                ENHANCEDSTATUSCODES / DSN / AUTH.
#   -M COUNT / -n COUNT  exit after COUNT messages / sessions.
#   -t SECS      per-command timeout (default 100).
# Example: mailstack.sh sink-restart /tmp/csd-stack -- -r . -b "451 4.3.0 later"
set -euo pipefail

SELF=${0##*/}
USERS=(test@example.test app@example.test consent@example.test)
PASSWORD=secret
DOMAIN=example.test
# Dovecot programs look up the machine's own name unless told its domain
# (see import_environment in dovecot.conf for the daemons).
export DOVECOT_HOSTDOMAIN=imap.$DOMAIN

die() {
	printf '%s: error: %s\n' "$SELF" "$*" >&2
	exit 1
}
say() { printf '%s: %s\n' "$SELF" "$*"; }
warn() { printf '%s: warning: %s\n' "$SELF" "$*" >&2; }

usage() {
	cat >&2 <<EOF
usage: $SELF up|down|status|flush|pipe-user [BASE]
       $SELF sink-restart [BASE] [-- SINK_ARGS...]
       $SELF route [BASE] pipe|imap
env for up/route: CONSENT_DELIVER=/abs/consent-deliver CONSENT_CONF=/abs/consentd.conf
                  [CONSENT_USER=consentd-test] [CONSENT_ROUTE=pipe|imap]
BASE defaults to /tmp/csd-stack (see the comment at the top of $0)
EOF
	exit 2
}

# ----------------------------------------------------------------- arguments
[ $# -ge 1 ] || usage
CMD=$1
shift
case $CMD in up | down | status | sink-restart | route | flush | pipe-user) ;; *) usage ;; esac
BASE=/tmp/csd-stack
ROUTE=
if [ "$CMD" = route ]; then
	# route [BASE] pipe|imap: the last word is the route.
	case $# in
	1) ROUTE=$1 ;;
	2) BASE=$1 ROUTE=$2 ;;
	*) usage ;;
	esac
	case $ROUTE in pipe | imap) ;; *) usage ;; esac
	set --
elif [ $# -gt 0 ] && [ "$1" != -- ]; then
	BASE=$1
	shift
fi
SINK_EXTRA=()
if [ $# -gt 0 ]; then
	[ "$1" = -- ] || usage
	shift
	[ "$CMD" = sink-restart ] || usage
	SINK_EXTRA=("$@")
fi

case $BASE in /*) ;; *) BASE=$PWD/$BASE ;; esac
BASE=${BASE%/}
[[ $BASE =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "BASE '$BASE': use only letters, digits and . _ - + /"
[[ $BASE != *..* ]] || die "BASE '$BASE' must not contain '..'"
[ "$BASE" != / ] || die "BASE must not be /"
[ ${#BASE} -le 64 ] || die "BASE '$BASE' is ${#BASE} characters; at most 64 (Dovecot's unix sockets would exceed the 107-byte limit)"

PF=$BASE/postfix/etc
DC=$BASE/dovecot
LOGDIR=$BASE/log
RUNDIR=$BASE/run
SINKDIR=$BASE/sink
STACKLOG=$LOGDIR/mailstack.log

# Settings: for down/status/sink-restart/flush, BASE/stack.env (written by
# "up") wins; "up" takes the environment first, then stack.env (so a restart
# keeps the ports of the previous run), then the defaults - except
# CONSENT_DELIVER, CONSENT_CONF and CONSENT_ROUTE, which "up" takes from the
# environment only (not both set: no pipe).  "route" takes CONSENT_USER,
# and CONSENT_DELIVER with CONSENT_CONF when CONSENT_CONF is set, from the
# environment first, the rest from stack.env.
PIPE_USER_DEFAULT=consentd-test
load_ports() {
	local v
	local -A env_val=()
	for v in IMAP_PORT LMTP_PORT SMTP_PORT SINK_PORT MAIL_USER MAIL_GROUP BARE_LF \
		CONSENT_DELIVER CONSENT_CONF CONSENT_USER CONSENT_ROUTE; do
		[ -n "${!v:-}" ] && env_val[$v]=${!v}
	done
	if [ -f "$BASE/stack.env" ]; then
		# shellcheck disable=SC1091
		. "$BASE/stack.env"
		if [ "$CMD" = up ]; then
			CONSENT_DELIVER='' CONSENT_CONF='' CONSENT_ROUTE=''
			for v in "${!env_val[@]}"; do printf -v "$v" '%s' "${env_val[$v]}"; done
		elif [ "$CMD" = route ]; then
			# The pair from the environment only when CONSENT_CONF is in it.
			if [ -n "${env_val[CONSENT_CONF]:-}" ]; then
				CONSENT_DELIVER=${env_val[CONSENT_DELIVER]:-}
				CONSENT_CONF=${env_val[CONSENT_CONF]}
			fi
			[ -z "${env_val[CONSENT_USER]:-}" ] || CONSENT_USER=${env_val[CONSENT_USER]}
		fi
	fi
	CONSENT_DELIVER=${CONSENT_DELIVER:-}
	CONSENT_CONF=${CONSENT_CONF:-}
	CONSENT_USER=${CONSENT_USER:-$PIPE_USER_DEFAULT}
	# ctest hands CONSENT_DELIVER to every integration test: alone it means
	# nothing here.  CONSENT_CONF alone is a mistake.
	[ -n "$CONSENT_DELIVER" ] || [ -z "$CONSENT_CONF" ] ||
		die "CONSENT_CONF is set but CONSENT_DELIVER is not (the pipe needs both)"
	[ -n "$CONSENT_CONF" ] || CONSENT_DELIVER=''
	if [ -z "${CONSENT_ROUTE:-}" ]; then
		if [ -n "$CONSENT_DELIVER" ]; then CONSENT_ROUTE=pipe; else CONSENT_ROUTE=imap; fi
	fi
	[ "$CMD" != route ] || CONSENT_ROUTE=$ROUTE
	IMAP_PORT=${IMAP_PORT:-10143}
	LMTP_PORT=${LMTP_PORT:-10024}
	SMTP_PORT=${SMTP_PORT:-10025}
	SINK_PORT=${SINK_PORT:-10026}
	MAIL_USER=${MAIL_USER:-nobody}
	MAIL_GROUP=${MAIL_GROUP:-nogroup}
	BARE_LF=${BARE_LF:-reject}
	local p
	for p in IMAP_PORT LMTP_PORT SMTP_PORT SINK_PORT; do
		[[ ${!p} =~ ^[0-9]+$ ]] && [ "${!p}" -ge 1024 ] && [ "${!p}" -le 65535 ] ||
			die "$p='${!p}' is not a port number between 1024 and 65535"
	done
	[ "$(printf '%s\n' "$IMAP_PORT" "$LMTP_PORT" "$SMTP_PORT" "$SINK_PORT" | sort -u | wc -l)" = 4 ] ||
		die "IMAP_PORT, LMTP_PORT, SMTP_PORT and SINK_PORT must differ"
	case $BARE_LF in reject | normalize | no) ;; *) die "BARE_LF must be reject, normalize or no" ;; esac
	case $CONSENT_ROUTE in pipe | imap) ;; *) die "CONSENT_ROUTE must be pipe or imap" ;; esac
	[[ $CONSENT_USER =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "CONSENT_USER '$CONSENT_USER' is not a valid user name"
	case $CONSENT_USER in
	root | postfix) die "CONSENT_USER must not be $CONSENT_USER (pipe(8) refuses root and Postfix's mail_owner)" ;;
	esac
	if [ -n "$CONSENT_DELIVER" ]; then
		for v in CONSENT_DELIVER CONSENT_CONF; do
			# The value ends up in master.cf's argv=, which is split at
			# white space and expands $name: keep it plain.
			[[ ${!v} =~ ^/[A-Za-z0-9._/+-]+$ ]] && [[ ${!v} != *..* ]] ||
				die "$v '${!v}': give an absolute path of letters, digits and . _ - + / only"
		done
	fi
}

# The pipe(8) transport is configured when both CONSENT_* paths are known.
pipe_configured() { [ -n "$CONSENT_DELIVER" ] && [ -n "$CONSENT_CONF" ]; }

# ensure_pipe_user: create CONSENT_USER (only the default name) when missing.
# Parallel runs may race: useradd then fails, but the user exists afterwards.
ensure_pipe_user() {
	local i out=
	getent passwd "$CONSENT_USER" >/dev/null && return 0
	[ "$CONSENT_USER" = "$PIPE_USER_DEFAULT" ] ||
		die "user $CONSENT_USER (CONSENT_USER) does not exist; create it or leave CONSENT_USER unset"
	need_root
	for ((i = 0; i < 20; i++)); do
		out=$(/usr/sbin/useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "consentd mailstack pipe user" \
			"$CONSENT_USER" 2>&1) || true
		getent passwd "$CONSENT_USER" >/dev/null && return 0
		sleep 0.1 # /etc/passwd locked by a parallel useradd
	done
	die "could not create user $CONSENT_USER: $out"
}

# check_pipe_access: warn when the pipe user cannot run consent-deliver or
# read its config (a test may still be writing the config, so only a warning).
check_pipe_access() {
	runuser -u "$CONSENT_USER" -- test -x "$CONSENT_DELIVER" ||
		warn "user $CONSENT_USER cannot execute $CONSENT_DELIVER (check it and the modes of its parents)"
	runuser -u "$CONSENT_USER" -- test -r "$CONSENT_CONF" ||
		warn "user $CONSENT_USER cannot read $CONSENT_CONF (yet?)"
}

# ------------------------------------------------------------ process helpers
# alive PID: the process exists and is not a zombie (containers whose pid 1
# does not reap would otherwise keep dead daemons "alive").
alive() {
	local st
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 1
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# ours PID COMM: alive and its command name is COMM (guards against a pid
# file that outlived its process and a pid that was reused since).
ours() {
	local comm
	alive "$1" && { read -r comm <"/proc/$1/comm"; } 2>/dev/null && [ "$comm" = "$2" ]
}

readpid() { [ -f "$1" ] && tr -dc 0-9 <"$1" || true; }

dovecot_pid() {
	local p
	p=$(readpid "$DC/run/master.pid")
	ours "$p" dovecot && echo "$p" || true
}
postfix_pid() {
	local p
	p=$(readpid "$BASE/postfix/queue/pid/master.pid")
	ours "$p" master && echo "$p" || true
}
sink_pid() {
	local p
	p=$(readpid "$RUNDIR/sink.pid")
	ours "$p" smtp-sink && echo "$p" || true
}

# descendants PID...: every process below the given ones (from /proc).
descendants() {
	local -A kids=()
	local d st pid ppid
	for d in /proc/[0-9]*; do
		{ read -r st <"$d/stat"; } 2>/dev/null || continue
		pid=${d#/proc/}
		st=${st##*) }
		read -r _ ppid _ <<<"$st"
		kids[$ppid]+=" $pid"
	done
	local -a todo=("$@")
	while [ ${#todo[@]} -gt 0 ]; do
		local p=${todo[0]}
		todo=("${todo[@]:1}")
		for d in ${kids[$p]:-}; do
			echo "$d"
			todo+=("$d")
		done
	done
}

# stragglers: processes whose working directory is inside BASE (Postfix
# daemons sit in the queue directory, smtp-sink in BASE/sink) other than us.
stragglers() {
	local d pid
	while IFS= read -r d; do
		pid=${d#/proc/}
		pid=${pid%/cwd}
		[ "$pid" = $$ ] && continue
		alive "$pid" && echo "$pid"
	done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd \( -lname "$BASE" -o -lname "$BASE/*" \) 2>/dev/null)
	return 0
}

describe() { # describe PID -> "PID comm args"
	local args
	args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || args=
	printf '%s %s\n' "$1" "${args:-$(cat "/proc/$1/comm" 2>/dev/null)}"
}

# wait_gone SECONDS PID...: true when all are gone in time.
wait_gone() {
	local secs=$1 i p left
	shift
	for ((i = 0; i < secs * 20; i++)); do
		left=0
		for p in "$@"; do alive "$p" && { left=1 && break; }; done
		[ $left = 0 ] && return 0
		sleep 0.05
	done
	return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT WHAT PID_FUNCTION LOGFILE
wait_port() {
	local i
	for ((i = 0; i < 300; i++)); do
		port_open "$1" && return 0
		if [ -z "$($3)" ]; then
			tail_log "$4"
			die "$2 exited while starting (log: $4)"
		fi
		sleep 0.05
	done
	tail_log "$4"
	die "$2 did not accept connections on 127.0.0.1:$1 within 15 s (log: $4)"
}

tail_log() {
	[ -s "$1" ] || return 0
	echo "--- last lines of $1:" >&2
	tail -n 15 "$1" >&2
	echo "---" >&2
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (Postfix's master and smtp-sink's -u need it)"
}

need_programs() {
	local miss=()
	[ -x /usr/sbin/dovecot ] || miss+=("dovecot (package dovecot-imapd)")
	[ -x /usr/lib/dovecot/imap ] || miss+=("/usr/lib/dovecot/imap (package dovecot-imapd)")
	[ -x /usr/lib/dovecot/lmtp ] || miss+=("/usr/lib/dovecot/lmtp (package dovecot-lmtpd)")
	[ -x /usr/sbin/postfix ] || miss+=("postfix (package postfix)")
	[ -x /usr/sbin/smtp-sink ] || miss+=("smtp-sink (package postfix)")
	getent passwd postfix >/dev/null || miss+=("user postfix (package postfix)")
	getent group postdrop >/dev/null || miss+=("group postdrop (package postfix)")
	getent passwd dovecot >/dev/null || miss+=("user dovecot (package dovecot-core)")
	getent passwd dovenull >/dev/null || miss+=("user dovenull (package dovecot-core)")
	getent passwd "$MAIL_USER" >/dev/null || miss+=("user $MAIL_USER (MAIL_USER)")
	getent group "$MAIL_GROUP" >/dev/null || miss+=("group $MAIL_GROUP (MAIL_GROUP)")
	[ ${#miss[@]} -eq 0 ] || die "missing: ${miss[*]}; run contrib/debian-deps.sh"
}

# ------------------------------------------------------------------- configs
write_dovecot_conf() {
	local uid gid u
	uid=$(id -u "$MAIL_USER")
	gid=$(getent group "$MAIL_GROUP" | cut -d: -f3)
	[ "$uid" != 0 ] || die "MAIL_USER must not be root (Dovecot refuses uid 0)"
	: >"$DC/users.new"
	for u in "${USERS[@]}"; do
		# user:password:uid:gid:(gecos):home:(shell):(extra)
		printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$u" "$PASSWORD" "$uid" "$gid" "$BASE/mail/$u" >>"$DC/users.new"
	done
	mv -f "$DC/users.new" "$DC/users"
	chmod 0644 "$DC/users"

	cat >"$DC/dovecot.conf" <<EOF
# Generated by mailstack.sh - changes are lost on the next "up".
instance_name = csd-$(printf '%s' "$BASE" | cksum | cut -d' ' -f1)
base_dir = $DC/run
state_dir = $DC/state
protocols = imap lmtp
listen = 127.0.0.1
hostname = imap.$DOMAIN
# Without this every Dovecot process (doveadm too) calls gethostbyname() on
# the machine's own name, which is a DNS query where /etc/hosts lacks it.
import_environment = TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS NOTIFY_SOCKET DOVECOT_HOSTDOMAIN=imap.$DOMAIN
postmaster_address = postmaster@$DOMAIN
log_path = $LOGDIR/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DC/users
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
  unix_listener $DC/lmtp.sock {
    mode = 0666
  }
}
EOF
}

write_postfix_conf() {
	local uid gid u
	uid=$(id -u "$MAIL_USER")
	gid=$(getent group "$MAIL_GROUP" | cut -d: -f3)

	cat >"$PF/main.cf" <<EOF
# Generated by mailstack.sh - changes are lost on the next "up".
compatibility_level = 3.6
queue_directory = $BASE/postfix/queue
data_directory = $BASE/postfix/data
mail_owner = postfix
setgid_group = postdrop

# Names are fixed here so that Postfix never asks the resolver.
myhostname = mx.$DOMAIN
mydomain = $DOMAIN
myorigin = mailstack.invalid
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
append_dot_mydomain = no
biff = no

inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled

# A client that sends bare LF in DATA is refused (BARE_LF=$BARE_LF).
smtpd_forbid_bare_newline = $BARE_LF
smtpd_forbid_bare_newline_exclusions =

# Nothing may leave the machine.
default_transport = error:mailstack: outbound mail is disabled
relay_transport = error:mailstack: outbound mail is disabled

# Logging without syslog: the postlog service in master.cf writes here.
maillog_file_prefixes = $BASE
maillog_file = $LOGDIR/postfix.log

# The test domain: every listed address goes to Dovecot over LMTP.  With
# recipient_delimiter "+", consent+TOKEN@$DOMAIN matches consent@$DOMAIN.
recipient_delimiter = +
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_transport = lmtp:unix:$DC/lmtp.sock
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
transport_maps = texthash:$PF/transport

$(main_cf_pipe)

# Quick retries for tests of deferred delivery.
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
EOF

	: >"$PF/vmailbox"
	for u in "${USERS[@]}"; do
		printf '%-24s %s/Maildir/\n' "$u" "$u" >>"$PF/vmailbox"
	done

	write_transport

	cat >"$PF/master.cf" <<EOF
# Generated by mailstack.sh.  No chroot anywhere; only what the stack uses.
# service    type  private unpriv chroot wakeup maxproc command
127.0.0.1:$SMTP_PORT inet n   -      n      -      -       smtpd
pickup       unix  n       -      n      60     1       pickup
cleanup      unix  n       -      n      -      0       cleanup
qmgr         unix  n       -      n      300    1       qmgr
tlsmgr       unix  -       -      n      1000?  1       tlsmgr
rewrite      unix  -       -      n      -      -       trivial-rewrite
bounce       unix  -       -      n      -      0       bounce
defer        unix  -       -      n      -      0       bounce
trace        unix  -       -      n      -      0       bounce
verify       unix  -       -      n      -      1       verify
flush        unix  n       -      n      1000?  0       flush
proxymap     unix  -       -      n      -      -       proxymap
proxywrite   unix  -       -      n      -      1       proxymap
showq        unix  n       -      n      -      -       showq
error        unix  -       -      n      -      -       error
retry        unix  -       -      n      -      -       error
discard      unix  -       -      n      -      -       discard
lmtp         unix  -       -      n      -      -       lmtp
anvil        unix  -       -      n      -      1       anvil
scache       unix  -       -      n      -      1       scache
postlog      unix-dgram n  -      n      -      1       postlogd
$(master_cf_pipe)
EOF
}

# CONSENT-PIPE: the pieces of the Postfix config for pipe(8) delivery to
# consent-deliver; empty but for a comment while CONSENT_DELIVER is unset.
main_cf_pipe() {
	if ! pipe_configured; then
		echo "# No consentd pipe(8) transport (CONSENT_DELIVER/CONSENT_CONF unset at \"up\")."
		return 0
	fi
	cat <<EOF
# consentd pipe(8) transport to consent-deliver (see master.cf, transport).
# One recipient per invocation: every recipient gets its own exit status.
# A command that runs past the time limit is killed and the message BOUNCED;
# consent-deliver needs milliseconds, the limit is only a safety net.
consentd_destination_recipient_limit = 1
consentd_time_limit = 60s
EOF
}

master_cf_pipe_line() {
	printf '%s\n' "consentd     unix  -       n      n      -      -       pipe" \
		"  flags=DRhu user=$CONSENT_USER argv=$CONSENT_DELIVER -c $CONSENT_CONF -f \${sender} -r \${recipient}"
}

master_cf_pipe() {
	if ! pipe_configured; then
		echo "# No consentd pipe(8) transport (CONSENT_DELIVER/CONSENT_CONF unset at \"up\")."
		return 0
	fi
	echo "# consent-deliver, run as $CONSENT_USER (pipe(8) refuses root and the mail_owner)."
	echo "# D: Delivered-To:, R: Return-Path:, h/u: \${recipient} in lower case."
	master_cf_pipe_line
}

# write_transport: the route of consent@ (and consent+X@) per CONSENT_ROUTE.
# The address stays in vmailbox either way, or smtpd would reject it.
write_transport() {
	{
		echo "# Generated by mailstack.sh.  texthash: is read when a Postfix process starts:"
		echo "# run \"postfix -c $PF reload\" after editing (\"mailstack.sh route\" does)."
		echo "# consent@$DOMAIN also matches consent+ANYTHING@$DOMAIN (recipient_delimiter)."
		if [ "$CONSENT_ROUTE" = pipe ]; then
			echo "# route: pipe (consent-deliver)"
			printf '%-24s %s\n' "consent@$DOMAIN" "consentd:"
		else
			echo "# route: imap (Dovecot over LMTP, the virtual_transport)"
		fi
	} >"$PF/transport.new"
	# Postfix's dict code will not open a table modified within the last
	# second (it retries every 300 ms): date it back so the first message
	# after "route" does not stall for ~2 s.
	touch -d '2 seconds ago' "$PF/transport.new"
	mv -f "$PF/transport.new" "$PF/transport"
}

# ---------------------------------------------------------------- components
start_dovecot() {
	/usr/bin/doveconf -c "$DC/dovecot.conf" -n >/dev/null 2>"$RUNDIR/doveconf.err" || {
		cat "$RUNDIR/doveconf.err" >&2
		die "Dovecot rejects $DC/dovecot.conf"
	}
	# A master.pid left by a killed Dovecot may name a zombie or a reused pid,
	# which Dovecot would take for a running instance.
	[ -n "$(dovecot_pid)" ] || rm -f "$DC/run/master.pid"
	rm -f "$DC/lmtp.sock"
	if ! /usr/sbin/dovecot -c "$DC/dovecot.conf" >>"$STACKLOG" 2>&1; then
		tail_log "$STACKLOG"
		tail_log "$LOGDIR/dovecot.log"
		die "Dovecot did not start"
	fi
	wait_port "$IMAP_PORT" "Dovecot (IMAP)" dovecot_pid "$LOGDIR/dovecot.log"
	wait_port "$LMTP_PORT" "Dovecot (LMTP)" dovecot_pid "$LOGDIR/dovecot.log"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$DC/lmtp.sock" ] && return 0
		sleep 0.05
	done
	die "Dovecot did not create $DC/lmtp.sock"
}

start_postfix() {
	# "postfix start" runs the fatal checks and creates the queue directories
	# itself; a separate "postfix check" would cost about 2 s more.
	if ! /usr/sbin/postfix -c "$PF" start >>"$STACKLOG" 2>&1; then
		tail_log "$STACKLOG"
		tail_log "$LOGDIR/postfix.log"
		die "Postfix did not start"
	fi
	wait_port "$SMTP_PORT" "Postfix" postfix_pid "$LOGDIR/postfix.log"
}

start_sink() {
	local -a cmd=(/usr/sbin/smtp-sink -u "$MAIL_USER" -h "sink.$DOMAIN"
		-d "$SINKDIR/%Y%m%d%H%M%S." "$@" "127.0.0.1:$SINK_PORT" 256)
	local try i
	if [ $# -gt 0 ]; then printf '%q ' "$@"; else printf '(none)'; fi >"$RUNDIR/sink.args"
	# smtp-sink now and then exits at once without a word (seen about once
	# in 20 starts on a busy machine): it is tried three times.
	for try in 1 2 3; do
		printf '%s starting: %s\n' "$(date '+%F %T')" "${cmd[*]}" >>"$LOGDIR/sink.log"
		# SIGHUP ignored so a closed terminal does not take the sink along.
		(
			cd "$SINKDIR"
			trap '' HUP
			exec "${cmd[@]}"
		) </dev/null >>"$LOGDIR/sink.log" 2>&1 &
		echo $! >"$RUNDIR/sink.pid"
		for ((i = 0; i < 300; i++)); do
			port_open "$SINK_PORT" && return 0
			[ -n "$(sink_pid)" ] || break
			sleep 0.05
		done
		[ -n "$(sink_pid)" ] && break   # alive but silent: wait_port reports it
		echo "mailstack.sh: smtp-sink exited while starting (try $try of 3)" >&2
		sleep 0.5
	done
	wait_port "$SINK_PORT" "smtp-sink" sink_pid "$LOGDIR/sink.log"
}

stop_sink() {
	local p
	p=$(sink_pid)
	[ -n "$p" ] || { rm -f "$RUNDIR/sink.pid"; return 0; }
	kill -TERM "$p" 2>/dev/null || true
	wait_gone 10 "$p" || { warn "smtp-sink $p ignored SIGTERM; killing it"; kill -KILL "$p" 2>/dev/null || true; wait_gone 5 "$p" || true; }
	rm -f "$RUNDIR/sink.pid"
}

# ------------------------------------------------------------------ commands
cmd_down() {
	local pf dc sk p
	pf=$(postfix_pid)
	dc=$(dovecot_pid)
	sk=$(sink_pid)
	if [ -z "$pf$dc$sk" ] && [ -z "$(stragglers)" ]; then
		say "nothing runs for $BASE"
		rm -f "$RUNDIR/sink.pid"
		return 0
	fi
	local -a masters=() all=()
	for p in "$pf" "$dc" "$sk"; do [ -z "$p" ] || masters+=("$p"); done
	if [ ${#masters[@]} -gt 0 ]; then
		mapfile -t all < <(descendants "${masters[@]}")
		all+=("${masters[@]}")
	fi

	# All three are told at once; each may take a second or more to finish.
	if [ -n "$pf" ]; then
		/usr/sbin/postfix -c "$PF" stop >>"$STACKLOG" 2>&1 || kill -TERM "$pf" 2>/dev/null || true
	fi
	[ -n "$dc" ] && { kill -TERM "$dc" 2>/dev/null || true; }
	[ -n "$sk" ] && { kill -TERM "$sk" 2>/dev/null || true; }

	if ! wait_gone 20 "${all[@]}"; then
		for p in "${all[@]}"; do
			alive "$p" || continue
			warn "still running after 20 s, killing: $(describe "$p")"
			kill -KILL "$p" 2>/dev/null || true
		done
		wait_gone 5 "${all[@]}" || true
	fi
	# Anything that was forked after we looked and still sits in BASE.
	local s
	for s in $(stragglers); do
		warn "left-over process, killing: $(describe "$s")"
		kill -KILL "$s" 2>/dev/null || true
	done
	# shellcheck disable=SC2046
	wait_gone 5 $(stragglers) || true
	rm -f "$RUNDIR/sink.pid" "$DC/lmtp.sock"
	local left
	left=$(stragglers)
	[ -z "$left" ] || die "processes still alive in $BASE: $left"
	say "down ($BASE)"
}

up_failed() {
	[ "$1" = 0 ] && return 0
	warn "up failed, stopping what was started"
	cmd_down >/dev/null 2>&1 || true
}

cmd_up() {
	need_root
	need_programs
	if [ -n "$(postfix_pid)$(dovecot_pid)$(sink_pid)$(stragglers)" ]; then
		say "already running for $BASE: restarting"
		cmd_down >/dev/null
	fi
	local p
	for p in IMAP_PORT LMTP_PORT SMTP_PORT SINK_PORT; do
		port_open "${!p}" && die "$p ${!p}: 127.0.0.1:${!p} is already in use by another program (set $p to a free port)"
	done

	mkdir -p "$BASE" "$DC/state" "$BASE/mail" "$PF" "$BASE/postfix/queue" \
		"$BASE/postfix/data" "$LOGDIR" "$RUNDIR" "$SINKDIR"
	# mktemp -d gives 0700; Dovecot's and Postfix's unprivileged processes
	# and smtp-sink (as MAIL_USER) must be able to walk into BASE.
	chmod 0755 "$BASE" "$DC" "$BASE/postfix" "$PF" "$LOGDIR" "$RUNDIR"
	chown "$MAIL_USER:$MAIL_GROUP" "$BASE/mail" "$SINKDIR"
	chmod 0755 "$BASE/mail" "$SINKDIR"
	chown postfix:postfix "$BASE/postfix/data" # else master.lock: permission denied
	local dir
	for dir in "$BASE/mail" "$SINKDIR"; do
		runuser -u "$MAIL_USER" -- test -w "$dir" -a -x "$dir" ||
			die "$MAIL_USER cannot write $dir; is a parent directory of BASE closed to other users?"
	done
	: >>"$STACKLOG"
	printf '%s up\n' "$(date '+%F %T')" >>"$STACKLOG"

	if pipe_configured; then
		ensure_pipe_user
		check_pipe_access
	elif [ "$CONSENT_ROUTE" = pipe ]; then
		die "CONSENT_ROUTE=pipe needs CONSENT_DELIVER and CONSENT_CONF"
	fi
	write_stack_env
	write_dovecot_conf
	write_postfix_conf
	runuser -u dovecot -- test -r "$DC/users" || die "user dovecot cannot read $DC/users (check the modes of BASE's parents)"

	# From here on a failure tears down what was started.
	trap 'up_failed $?' EXIT
	start_dovecot
	start_postfix
	start_sink
	trap - EXIT
	say "up: IMAP 127.0.0.1:$IMAP_PORT, LMTP 127.0.0.1:$LMTP_PORT (and $DC/lmtp.sock), SMTP 127.0.0.1:$SMTP_PORT, sink 127.0.0.1:$SINK_PORT -> $SINKDIR/"
	! pipe_configured || say "$(describe_route)"
}

write_stack_env() {
	cat >"$BASE/stack.env.new" <<EOF
IMAP_PORT=$IMAP_PORT
LMTP_PORT=$LMTP_PORT
SMTP_PORT=$SMTP_PORT
SINK_PORT=$SINK_PORT
MAIL_USER=$MAIL_USER
MAIL_GROUP=$MAIL_GROUP
BARE_LF=$BARE_LF
CONSENT_DELIVER=$CONSENT_DELIVER
CONSENT_CONF=$CONSENT_CONF
CONSENT_USER=$CONSENT_USER
CONSENT_ROUTE=$CONSENT_ROUTE
EOF
	mv -f "$BASE/stack.env.new" "$BASE/stack.env"
}

describe_route() {
	if [ "$CONSENT_ROUTE" = pipe ]; then
		echo "consent@$DOMAIN -> pipe as $CONSENT_USER: $CONSENT_DELIVER -c $CONSENT_CONF -f \${sender} -r \${recipient}"
	elif pipe_configured; then
		echo "consent@$DOMAIN -> Dovecot (pipe to $CONSENT_DELIVER configured, user $CONSENT_USER)"
	else
		echo "consent@$DOMAIN -> Dovecot (no pipe transport)"
	fi
}

cmd_status() {
	local pf dc sk n=0
	pf=$(postfix_pid)
	dc=$(dovecot_pid)
	sk=$(sink_pid)
	state() { if port_open "$1"; then echo "accepting"; else echo "closed"; fi; }
	if [ -n "$dc" ]; then
		n=$((n + 1))
		say "dovecot   running, pid $dc: IMAP 127.0.0.1:$IMAP_PORT $(state "$IMAP_PORT"), LMTP 127.0.0.1:$LMTP_PORT $(state "$LMTP_PORT")"
	else
		say "dovecot   not running"
	fi
	if [ -n "$pf" ]; then
		n=$((n + 1))
		say "postfix   running, pid $pf: SMTP 127.0.0.1:$SMTP_PORT $(state "$SMTP_PORT"), config $PF"
		say "          $(describe_route)"
	else
		say "postfix   not running"
	fi
	if [ -n "$sk" ]; then
		n=$((n + 1))
		say "smtp-sink running, pid $sk: 127.0.0.1:$SINK_PORT $(state "$SINK_PORT"), extra options: $(cat "$RUNDIR/sink.args" 2>/dev/null || true)"
	else
		say "smtp-sink not running"
	fi
	local s
	for s in $(stragglers); do
		[ "$s" = "$sk" ] && continue
		say "  process in $BASE: $(describe "$s")"
	done
	[ $n = 3 ] && return 0
	[ $n = 0 ] && return 3
	return 1
}

cmd_sink_restart() {
	need_root
	[ -f "$BASE/stack.env" ] || die "no stack in $BASE (run '$SELF up $BASE' first)"
	stop_sink
	port_open "$SINK_PORT" && die "127.0.0.1:$SINK_PORT is still in use by another program"
	start_sink "${SINK_EXTRA[@]}"
	say "smtp-sink restarted on 127.0.0.1:$SINK_PORT with extra options: ${SINK_EXTRA[*]:-(none)}"
}

# reload_postfix: "postfix reload" and wait until it has taken effect.  The
# master re-reads main.cf and master.cf at once, but texthash: maps are read
# when a process starts, and running daemons only exit once idle: the
# transport lookup lives in trivial-rewrite, and qmgr keeps a resolve cache.
# When those processes of before the reload are gone, the next message and
# the next retry of a deferred one are routed with the new maps.
# qmgr runs on demand here (type unix): the master's wake-up at the reload
# can reach the old qmgr just before it exits, and then no qmgr runs until
# the next mail or the 300 s wake-up - while a message it had taken into the
# active queue waits.  So a new qmgr is kicked (it moves the active queue
# back to incoming and scans it) and waited for.
reload_postfix() {
	local pf p comm i
	local -a old=()
	pf=$(postfix_pid)
	[ -n "$pf" ] || die "Postfix is not running for $BASE (run '$SELF up $BASE' first)"
	children_named() { # children_named COMM: children of the master with that name
		for p in $(descendants "$pf"); do
			{ read -r comm <"/proc/$p/comm"; } 2>/dev/null || continue
			case $comm in "$1") echo "$p" ;; esac
		done
	}
	mapfile -t old < <(children_named trivial-rewrite; children_named qmgr)
	if ! /usr/sbin/postfix -c "$PF" reload >>"$STACKLOG" 2>&1; then
		tail_log "$STACKLOG"
		die "postfix reload failed"
	fi
	[ ${#old[@]} -eq 0 ] || wait_gone 15 "${old[@]}" ||
		die "postfix reload: old processes still running after 15 s: ${old[*]}"
	# postkick often dies of SIGPIPE (status 141): qmgr has read the request
	# and hung up before postkick is done.  What counts is the check below.
	/usr/sbin/postkick -c "$PF" public qmgr I >>"$STACKLOG" 2>&1 || true
	for ((i = 0; i < 200; i++)); do
		[ -n "$(children_named qmgr)" ] && return 0
		sleep 0.05
	done
	warn "no qmgr running 10 s after the reload (log: $LOGDIR/postfix.log)"
}

cmd_route() {
	need_root
	[ -f "$BASE/stack.env" ] || die "no stack in $BASE (run '$SELF up $BASE' first)"
	[ -n "$(postfix_pid)" ] || die "Postfix is not running for $BASE (run '$SELF up $BASE' first)"
	if [ "$CONSENT_ROUTE" = pipe ]; then
		pipe_configured || die "route pipe needs CONSENT_DELIVER and CONSENT_CONF (in the environment, or at \"up\")"
		ensure_pipe_user
		check_pipe_access
	fi
	# main.cf and master.cf change only when the pipe transport is new or
	# different (a test may have edited main.cf with postconf -e).
	if pipe_configured && ! grep -qxF -- "$(master_cf_pipe_line | tail -n 1)" "$PF/master.cf"; then
		write_postfix_conf
	else
		write_transport
	fi
	write_stack_env
	reload_postfix
	say "route: $(describe_route)"
}

cmd_flush() {
	need_root
	[ -n "$(postfix_pid)" ] || die "Postfix is not running for $BASE (run '$SELF up $BASE' first)"
	/usr/sbin/postqueue -c "$PF" -f || die "postqueue -c $PF -f failed"
}

cmd_pipe_user() {
	ensure_pipe_user
	printf '%s\n' "$CONSENT_USER"
}

load_ports
case $CMD in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
sink-restart) cmd_sink_restart ;;
route) cmd_route ;;
flush) cmd_flush ;;
pipe-user) cmd_pipe_user ;;
esac
