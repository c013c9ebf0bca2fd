/*
 * fake_smtp - a small ESMTP server on 127.0.0.1 that plays faults for
 * integration tests and records exactly what it accepted and refused.
 *
 *   fake_smtp -p PORT -l LOGFILE [-d DUMPDIR] [-r DOMAIN=CODE[:TEXT]]...
 *             [-s MAX_SESSIONS]
 *
 * Listens on 127.0.0.1:PORT (SO_REUSEADDR), prints "ready" on stdout (flushed)
 * once listening, and serves up to MAX_SESSIONS (default 16, at most 1024)
 * clients at once from one poll(2) loop; further clients wait in the listen
 * backlog until a session ends.  Runs until SIGTERM or SIGINT, then exits 0.
 *
 * Protocol: enough ESMTP for libESMTP and Postfix's smtp-source.  Greeting
 * 220; EHLO advertises PIPELINING, SIZE 20480000, 8BITMIME,
 * ENHANCEDSTATUSCODES; HELO, MAIL FROM (SIZE= above 20480000 -> 552), RCPT TO,
 * DATA (354, read up to CRLF.CRLF, dot-stuffing undone), RSET, NOOP, QUIT
 * (221, then close); anything else 502.  Pipelined commands are answered one
 * line at a time, in order.  Lines end in CRLF; a bare LF is accepted too
 * (also in ".<LF>" ending DATA).  A command line longer than SMTP_LINE_MAX
 * (1000 octets with its CRLF) gets 500 and the session goes on.  A message
 * over SMTP_MESSAGE_MAX (20 MiB) gets 552 after its DATA; at most
 * SMTP_RCPT_MAX (100) recipients per message (the next get 452).  DATA with
 * no accepted recipient gets "554 5.5.1 Error: no valid recipients".
 *
 * -r DOMAIN=CODE[:TEXT]  every RCPT TO whose domain (after the last '@')
 *     equals DOMAIN, case-insensitively, is answered "CODE TEXT" (CODE 400 to
 *     599; TEXT sent as given, so include an enhanced status code; default
 *     "4.7.0 throttled for DOMAIN" for 4xx, "5.7.0 refused for DOMAIN" for
 *     5xx).  421 closes the connection right after the reply, dropping the
 *     open transaction (as Postfix does); other codes refuse just that
 *     recipient.  The first matching -r wins.
 *
 * LOGFILE (opened O_APPEND; each line is one write(2), made at once):
 *   ACCEPT <epoch.mmm> <rcpt> <size>   per accepted recipient of a message
 *                                      taken with 250; <size> = DATA bytes
 *                                      with CRLF kept, dot-stuffing undone
 *   REFUSE <epoch.mmm> <rcpt> <code>   per RCPT TO refused by -r or by the
 *                                      recipient limit
 * <rcpt> is the address as sent, without <>; addresses with spaces or
 * control characters are refused with 501 and never reach the log.
 *
 * -d DUMPDIR  every accepted message is also stored as DUMPDIR/<n>.eml
 *     (n = 1, 2, ... per run, the number in "250 2.0.0 Ok: queued as <n>"),
 *     the DATA bytes as above; written to a hidden temporary name and renamed,
 *     so a reader never sees half a file.  Use an empty directory: an existing
 *     <n>.eml is replaced.
 *
 * Order: for an accepted message the dump file is in place, then the ACCEPT
 * lines are written, then 250 is sent; a REFUSE line is written before its
 * reply.  So once a client has its reply, the log already shows it.
 *
 * A client may disconnect at any point (its open message is dropped, never
 * logged); SIGPIPE is ignored; all session memory is allocated at start.
 * No idle timeout: a silent client keeps its session slot.  After 221 or
 * 421 the slot is free once the client closes (at most 2 s later).
 *
 * Exit status: 0 after SIGTERM/SIGINT; 1 cannot listen or open LOGFILE;
 * 2 usage error.  Diagnostics go to stderr, prefixed "fake_smtp: ".
 *
 * Build: cc -std=c11 -o fake_smtp fake_smtp.c
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define SMTP_LINE_MAX 1000                      /* command line with CRLF */
#define SMTP_SIZE_ADVERTISED 20480000ULL        /* EHLO SIZE, MAIL SIZE= */
#define SMTP_MESSAGE_MAX ((size_t)20 * 1024 * 1024)
#define SMTP_RCPT_MAX 100
#define SMTP_ADDR_MAX 254
#define SMTP_REPLY_MAX 512                      /* one reply, all its lines */
#define SMTP_HOSTNAME "localhost"
#define RULES_MAX 64
#define RULE_TEXT_MAX 400
#define SESSIONS_DEFAULT 16
#define SESSIONS_LIMIT 1024
#define IN_CAP 16384
#define OUT_CAP 8192
#define LINGER_MS 2000          /* after the last reply, wait for the peer's FIN */

/* ------------------------------------------------------------------ util */

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;
	fputs("fake_smtp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* ----------------------------------------------------------------- state */

struct rule {
	char domain[SMTP_ADDR_MAX + 1];
	int code;
	char text[RULE_TEXT_MAX + 1];
};

enum phase { PH_CMD, PH_DATA, PH_LINGER };

struct session {
	int fd;                 /* -1: slot free */
	unsigned long serial;
	enum phase phase;
	bool closing;           /* no more commands; close once out is sent */
	bool peer_eof;
	bool discard;           /* dropping an overlong command line */
	long long linger_until; /* PH_LINGER: mono_ms() deadline */
	/* transaction */
	bool have_mail;
	size_t nrcpt;
	char rcpt[SMTP_RCPT_MAX][SMTP_ADDR_MAX + 1];
	/* DATA */
	bool at_bol;
	bool dump_failed;
	size_t msg_size;
	FILE *dump;
	char dump_tmp[PATH_MAX];
	/* I/O */
	size_t in_pos, in_len;
	char in[IN_CAP];
	size_t out_pos, out_len;
	char out[OUT_CAP];
};

static struct rule rules[RULES_MAX];
static size_t nrules;
static int log_fd = -1;
static const char *dump_dir;
static unsigned long msg_counter;
static unsigned long session_serial;
static struct session *sessions;
static size_t max_sessions = SESSIONS_DEFAULT;
static size_t nactive;

static volatile sig_atomic_t stop_requested;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	(void)sig;
	stop_requested = 1;
	if (write(sig_pipe[1], "x", 1) < 0) {
		/* pipe full: a wake-up is pending anyway */
	}
	errno = saved;
}

/* ------------------------------------------------------------------- log */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char buf[SMTP_ADDR_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		errmsg("log line too long, not written");
		return;
	}
	ssize_t w;
	do
		w = write(log_fd, buf, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w != n)
		errmsg("log write failed: %s", w < 0 ? strerror(errno) : "short write");
}

/* "<seconds>.<milliseconds>" of the wall clock. */
static void epoch_ms(char *buf, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, size, "%lld.%03ld", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
}

/* ------------------------------------------------------------ session io */

static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct session *s, const char *fmt, ...)
{
	size_t room = OUT_CAP - s->out_len;
	if (room < 3)
		return; /* cannot happen: pump() keeps SMTP_REPLY_MAX free */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->out + s->out_len, room - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > room - 3)
		n = (int)(room - 3);
	s->out_len += (size_t)n;
	s->out[s->out_len++] = '\r';
	s->out[s->out_len++] = '\n';
}

/* 0: all sent or the socket is full; -1: the peer is gone. */
static int flush_out(struct session *s)
{
	while (s->out_pos < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_pos, s->out_len - s->out_pos, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		s->out_pos += (size_t)n;
	}
	s->out_pos = s->out_len = 0;
	return 0;
}

static void dump_discard(struct session *s)
{
	if (s->dump) {
		fclose(s->dump);
		s->dump = NULL;
		unlink(s->dump_tmp);
	}
}

static void reset_tx(struct session *s)
{
	dump_discard(s);
	s->have_mail = false;
	s->nrcpt = 0;
}

static void session_drop(struct session *s)
{
	reset_tx(s);
	close(s->fd);
	s->fd = -1;
	nactive--;
}

static void session_start(int fd)
{
	struct session *s = NULL;
	for (size_t i = 0; i < max_sessions; i++) {
		if (sessions[i].fd < 0) {
			s = &sessions[i];
			break;
		}
	}
	if (!s) { /* cannot happen: accept only with a free slot */
		close(fd);
		return;
	}
	s->fd = fd;
	s->serial = ++session_serial;
	s->phase = PH_CMD;
	s->closing = s->peer_eof = s->discard = false;
	s->have_mail = false;
	s->nrcpt = 0;
	s->dump = NULL;
	s->in_pos = s->in_len = s->out_pos = s->out_len = 0;
	nactive++;
	reply(s, "220 %s ESMTP fake_smtp", SMTP_HOSTNAME);
	if (flush_out(s) < 0)
		session_drop(s);
}

/* ------------------------------------------------------------- addresses */

/*
 * Reads "<addr>" (or a bare addr) after optional spaces at p into out.
 * Returns the position after it (end of string or a space), NULL on bad
 * syntax: no closing '>', longer than SMTP_ADDR_MAX, space or control
 * characters inside.
 */
static const char *parse_path(const char *p, char *out)
{
	const char *start, *end;
	while (*p == ' ')
		p++;
	if (*p == '<') {
		start = p + 1;
		end = strchr(start, '>');
		if (!end)
			return NULL;
		p = end + 1;
	} else {
		start = p;
		end = p + strcspn(p, " ");
		if (end == start)
			return NULL;
		p = end;
	}
	if (*p != '\0' && *p != ' ')
		return NULL;
	size_t n = (size_t)(end - start);
	if (n > SMTP_ADDR_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];
		if (c <= 0x20 || c == 0x7f)
			return NULL;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	return p;
}

static const struct rule *rule_for(const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at)
		return NULL;
	for (size_t i = 0; i < nrules; i++)
		if (strcasecmp(rules[i].domain, at + 1) == 0)
			return &rules[i];
	return NULL;
}

/* -------------------------------------------------------------- commands */

static void cmd_mail(struct session *s, const char *line)
{
	char addr[SMTP_ADDR_MAX + 1];
	if (strncasecmp(line, "MAIL FROM:", 10) != 0) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (s->have_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	const char *p = parse_path(line + 10, addr);
	if (!p) {
		reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	/* ESMTP parameters: SIZE= is checked, the others are taken as they are. */
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 5 && strncasecmp(p, "SIZE=", 5) == 0) {
			unsigned long long size = 0;
			bool big = false;
			for (size_t i = 5; i < n; i++) {
				if (p[i] < '0' || p[i] > '9') {
					reply(s, "501 5.5.4 Bad SIZE parameter");
					return;
				}
				if (size > SMTP_SIZE_ADVERTISED)
					big = true;
				else
					size = size * 10 + (unsigned)(p[i] - '0');
			}
			if (big || size > SMTP_SIZE_ADVERTISED) {
				reply(s, "552 5.3.4 Message size exceeds fixed limit");
				return;
			}
		}
		p += n;
	}
	s->have_mail = true;
	s->nrcpt = 0;
	reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(struct session *s, const char *line)
{
	char addr[SMTP_ADDR_MAX + 1], ts[32];
	if (strncasecmp(line, "RCPT TO:", 8) != 0) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (!s->have_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (!parse_path(line + 8, addr) || addr[0] == '\0') {
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	const struct rule *r = rule_for(addr);
	if (r) {
		epoch_ms(ts, sizeof ts);
		log_line("REFUSE %s %s %d\n", ts, addr, r->code);
		reply(s, "%d %s", r->code, r->text);
		if (r->code == 421)
			s->closing = true;
		return;
	}
	if (s->nrcpt == SMTP_RCPT_MAX) {
		epoch_ms(ts, sizeof ts);
		log_line("REFUSE %s %s %d\n", ts, addr, 452);
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	memcpy(s->rcpt[s->nrcpt++], addr, strlen(addr) + 1);
	reply(s, "250 2.1.5 Ok");
}

static void cmd_data(struct session *s, const char *arg)
{
	if (*arg) {
		reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!s->have_mail) {
		reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->nrcpt == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->dump_failed = false;
	if (dump_dir) {
		int n = snprintf(s->dump_tmp, sizeof s->dump_tmp, "%s/.fake_smtp-%ld-%lu.tmp",
				 dump_dir, (long)getpid(), s->serial);
		int fd = -1;
		if (n > 0 && (size_t)n < sizeof s->dump_tmp)
			fd = open(s->dump_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0 && !(s->dump = fdopen(fd, "w"))) {
			close(fd);
			unlink(s->dump_tmp);
		}
		if (!s->dump) {
			errmsg("cannot create %s: %s", s->dump_tmp, strerror(errno));
			reply(s, "451 4.3.0 Error: cannot store message");
			return;
		}
	}
	s->phase = PH_DATA;
	s->at_bol = true;
	s->msg_size = 0;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void do_command(struct session *s, const char *line)
{
	size_t vlen = strcspn(line, " ");
	const char *arg = line + vlen;
	while (*arg == ' ')
		arg++;
	char verb[8] = "";
	if (vlen < sizeof verb) {
		memcpy(verb, line, vlen);
		verb[vlen] = '\0';
	}

	if (vlen == 0) {
		reply(s, "500 5.5.2 Error: bad syntax");
	} else if (strcasecmp(verb, "EHLO") == 0 || strcasecmp(verb, "HELO") == 0) {
		if (!*arg) {
			reply(s, "501 5.5.4 Syntax: %s hostname", verb);
			return;
		}
		reset_tx(s);
		if (strcasecmp(verb, "HELO") == 0) {
			reply(s, "250 %s", SMTP_HOSTNAME);
			return;
		}
		reply(s, "250-%s", SMTP_HOSTNAME);
		reply(s, "250-PIPELINING");
		reply(s, "250-SIZE %llu", SMTP_SIZE_ADVERTISED);
		reply(s, "250-8BITMIME");
		reply(s, "250 ENHANCEDSTATUSCODES");
	} else if (strcasecmp(verb, "MAIL") == 0) {
		cmd_mail(s, line);
	} else if (strcasecmp(verb, "RCPT") == 0) {
		cmd_rcpt(s, line);
	} else if (strcasecmp(verb, "DATA") == 0) {
		cmd_data(s, arg);
	} else if (strcasecmp(verb, "RSET") == 0) {
		reset_tx(s);
		reply(s, "250 2.0.0 Ok");
	} else if (strcasecmp(verb, "NOOP") == 0) {
		reply(s, "250 2.0.0 Ok");
	} else if (strcasecmp(verb, "QUIT") == 0) {
		reply(s, "221 2.0.0 Bye");
		s->closing = true;
	} else {
		reply(s, "502 5.5.2 Error: command not recognized");
	}
}

/* One command line from s->in; false when no complete line is buffered. */
static bool cmd_step(struct session *s)
{
	const char *p = s->in + s->in_pos;
	size_t n = s->in_len - s->in_pos;
	const char *nl = memchr(p, '\n', n);
	if (!nl) {
		if (s->discard || n >= SMTP_LINE_MAX) {
			s->discard = true;
			s->in_pos = s->in_len;
		}
		return false;
	}
	size_t len = (size_t)(nl - p);
	s->in_pos += len + 1;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (s->discard || len > SMTP_LINE_MAX - 2) {
		s->discard = false;
		reply(s, "500 5.5.0 Error: line too long");
		return true;
	}
	if (memchr(p, '\0', len)) {
		reply(s, "500 5.5.2 Error: bad syntax");
		return true;
	}
	char line[SMTP_LINE_MAX];
	memcpy(line, p, len);
	line[len] = '\0';
	do_command(s, line);
	return true;
}

/* ------------------------------------------------------------------ DATA */

static void data_append(struct session *s, const char *p, size_t n)
{
	s->msg_size += n;
	if (s->msg_size > SMTP_MESSAGE_MAX) {
		dump_discard(s);
		return;
	}
	if (s->dump && !s->dump_failed && fwrite(p, 1, n, s->dump) != n)
		s->dump_failed = true;
}

static void data_end(struct session *s)
{
	char ts[32], path[PATH_MAX];
	s->phase = PH_CMD;
	if (s->msg_size > SMTP_MESSAGE_MAX) {
		reset_tx(s);
		reply(s, "552 5.3.4 Error: message file too big");
		return;
	}
	unsigned long id = msg_counter + 1;
	if (s->dump) {
		int n = snprintf(path, sizeof path, "%s/%lu.eml", dump_dir, id);
		bool bad = s->dump_failed;
		if (fclose(s->dump) != 0)
			bad = true;
		s->dump = NULL;
		if (bad || n < 0 || (size_t)n >= sizeof path || rename(s->dump_tmp, path) != 0) {
			errmsg("cannot store %s: %s", path, strerror(errno));
			unlink(s->dump_tmp);
			reset_tx(s);
			reply(s, "451 4.3.0 Error: cannot store message");
			return;
		}
	}
	msg_counter = id;
	epoch_ms(ts, sizeof ts);
	for (size_t i = 0; i < s->nrcpt; i++)
		log_line("ACCEPT %s %s %zu\n", ts, s->rcpt[i], s->msg_size);
	reset_tx(s);
	reply(s, "250 2.0.0 Ok: queued as %lu", id);
}

/*
 * Some DATA bytes from s->in: the end marker, or up to the end of one line
 * (a leading '.' of a stuffed line dropped).  false when more input is needed.
 */
static bool data_step(struct session *s)
{
	const char *p = s->in + s->in_pos;
	size_t n = s->in_len - s->in_pos;
	if (n == 0)
		return false;
	if (s->at_bol && p[0] == '.') {
		if (n < 2 || (p[1] == '\r' && n < 3))
			return false;
		if (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')) {
			s->in_pos += p[1] == '\n' ? 2 : 3;
			data_end(s);
			return true;
		}
		s->in_pos++;
		p++;
		n--;
	}
	const char *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) + 1 : n;
	data_append(s, p, take);
	s->in_pos += take;
	s->at_bol = nl != NULL;
	return true;
}

/* --------------------------------------------------------------- session */

/* Starts the lingering close: our side done, wait for the peer's FIN so
 * that unread pipelined input does not turn into a reset that could
 * destroy the last reply on its way. */
static void session_finish(struct session *s)
{
	if (s->peer_eof) {
		session_drop(s);
		return;
	}
	reset_tx(s);
	shutdown(s->fd, SHUT_WR);
	s->phase = PH_LINGER;
	s->linger_until = mono_ms() + LINGER_MS;
}

/* Answers what is buffered, as far as the output buffer allows, and sends. */
static void session_pump(struct session *s)
{
	bool out_full;
	do {
		out_full = false;
		while (!s->closing) {
			if (OUT_CAP - s->out_len < SMTP_REPLY_MAX && s->out_pos > 0) {
				memmove(s->out, s->out + s->out_pos, s->out_len - s->out_pos);
				s->out_len -= s->out_pos;
				s->out_pos = 0;
			}
			if (OUT_CAP - s->out_len < SMTP_REPLY_MAX) {
				out_full = true;
				break;
			}
			if (!(s->phase == PH_DATA ? data_step(s) : cmd_step(s)))
				break;
		}
		if (s->in_pos == s->in_len)
			s->in_pos = s->in_len = 0;
		if (flush_out(s) < 0) {
			session_drop(s);
			return;
		}
		/* all sent: go on with what is still buffered */
	} while (out_full && s->out_len == 0);
	if (s->peer_eof && !out_full)
		s->closing = true;
	if (s->closing && s->out_len == 0)
		session_finish(s);
}

static void session_io(struct session *s, short revents)
{
	if (s->phase == PH_LINGER) {
		char junk[4096];
		ssize_t n = read(s->fd, junk, sizeof junk);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			session_drop(s);
		return;
	}
	if ((revents & POLLOUT) && flush_out(s) < 0) {
		session_drop(s);
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (s->in_pos > 0) {
			memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
			s->in_len -= s->in_pos;
			s->in_pos = 0;
		}
		if (s->in_len < IN_CAP && !s->peer_eof) {
			ssize_t n = read(s->fd, s->in + s->in_len, IN_CAP - s->in_len);
			if (n > 0) {
				s->in_len += (size_t)n;
			} else if (n == 0) {
				s->peer_eof = true; /* an open message is dropped at close */
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				session_drop(s);
				return;
			}
		} else if (revents & (POLLHUP | POLLERR)) {
			session_drop(s);
			return;
		}
	}
	session_pump(s);
}

/* ---------------------------------------------------------------- setup */

static void usage(void)
{
	fputs("usage: fake_smtp -p PORT -l LOGFILE [-d DUMPDIR] [-r DOMAIN=CODE[:TEXT]]..."
	      " [-s MAX_SESSIONS]\n", stderr);
	exit(2);
}

static bool parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_rule(const char *arg)
{
	if (nrules == RULES_MAX) {
		errmsg("more than %d -r rules", RULES_MAX);
		return false;
	}
	struct rule *r = &rules[nrules];
	const char *eq = strchr(arg, '=');
	size_t dlen = eq ? (size_t)(eq - arg) : 0;
	if (dlen == 0 || dlen > SMTP_ADDR_MAX || strcspn(arg, " @") < dlen) {
		errmsg("bad -r %s: want DOMAIN=CODE[:TEXT]", arg);
		return false;
	}
	const char *c = eq + 1;
	if (!(c[0] >= '4' && c[0] <= '5' && c[1] >= '0' && c[1] <= '9' &&
	      c[2] >= '0' && c[2] <= '9' && (c[3] == '\0' || c[3] == ':'))) {
		errmsg("bad -r %s: CODE must be 400 to 599", arg);
		return false;
	}
	memcpy(r->domain, arg, dlen);
	r->domain[dlen] = '\0';
	r->code = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
	const char *text = c[3] == ':' ? c + 4 : "";
	if (*text) {
		if (strlen(text) > RULE_TEXT_MAX) {
			errmsg("bad -r %s: TEXT longer than %d", arg, RULE_TEXT_MAX);
			return false;
		}
		for (const char *t = text; *t; t++) {
			if ((unsigned char)*t < 0x20 || *t == 0x7f) {
				errmsg("bad -r %s: control character in TEXT", arg);
				return false;
			}
		}
		strcpy(r->text, text);
	} else {
		snprintf(r->text, sizeof r->text, "%d.7.0 %s for %.*s", r->code / 100,
			 r->code / 100 == 4 ? "throttled" : "refused", (int)dlen, arg);
	}
	nrules++;
	return true;
}

static int listen_on(long port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		errmsg("socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0 ||
	    set_nonblock_cloexec(fd) < 0) {
		errmsg("cannot listen on 127.0.0.1:%ld: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	long port = 0, nsess = SESSIONS_DEFAULT;
	const char *log_path = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "p:l:d:r:s:")) != -1) {
		switch (opt) {
		case 'p':
			if (!parse_num(optarg, 1, 65535, &port))
				usage();
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'd':
			dump_dir = optarg;
			break;
		case 'r':
			if (!parse_rule(optarg))
				usage();
			break;
		case 's':
			if (!parse_num(optarg, 1, SESSIONS_LIMIT, &nsess))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port == 0 || !log_path)
		usage();
	if (dump_dir) {
		struct stat st;
		if (stat(dump_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dump_dir, W_OK) != 0) {
			errmsg("-d %s: not a writable directory", dump_dir);
			usage();
		}
	}
	max_sessions = (size_t)nsess;

	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		errmsg("cannot open %s: %s", log_path, strerror(errno));
		return 1;
	}
	sessions = calloc(max_sessions, sizeof *sessions);
	if (!sessions) {
		errmsg("out of memory");
		return 1;
	}
	for (size_t i = 0; i < max_sessions; i++)
		sessions[i].fd = -1;
	struct pollfd *pfd = calloc(max_sessions + 2, sizeof *pfd);
	struct session **pses = calloc(max_sessions + 2, sizeof *pses);
	int lfd = -1;
	if (!pfd || !pses) {
		errmsg("out of memory");
		goto fail;
	}

	if (pipe(sig_pipe) < 0 || set_nonblock_cloexec(sig_pipe[0]) < 0 ||
	    set_nonblock_cloexec(sig_pipe[1]) < 0) {
		errmsg("pipe: %s", strerror(errno));
		goto fail;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	lfd = listen_on(port);
	if (lfd < 0)
		goto fail;
	printf("ready\n");
	fflush(stdout);

	bool accept_paused = false; /* out of descriptors: wait for a session to end */
	while (!stop_requested) {
		size_t np = 0;
		int timeout = -1;
		long long now = mono_ms();
		pfd[np].fd = sig_pipe[0];
		pfd[np].events = POLLIN;
		pses[np++] = NULL;
		pfd[np].fd = lfd;
		pfd[np].events = nactive < max_sessions && !accept_paused ? POLLIN : 0;
		pses[np++] = NULL;
		for (size_t i = 0; i < max_sessions; i++) {
			struct session *s = &sessions[i];
			if (s->fd < 0)
				continue;
			short ev = 0;
			if (s->phase == PH_LINGER) {
				ev = POLLIN;
				long long left = s->linger_until - now;
				if (left < 0)
					left = 0;
				if (timeout < 0 || left < timeout)
					timeout = (int)left;
			} else {
				if (!s->closing && !s->peer_eof && (s->in_len < IN_CAP || s->in_pos > 0))
					ev |= POLLIN;
				if (s->out_pos < s->out_len)
					ev |= POLLOUT;
			}
			pfd[np].fd = s->fd;
			pfd[np].events = ev;
			pses[np++] = s;
		}

		if (poll(pfd, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			errmsg("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents) {
			char junk[64];
			while (read(sig_pipe[0], junk, sizeof junk) > 0)
				;
		}
		size_t before = nactive;
		for (size_t i = 2; i < np; i++)
			if (pses[i]->fd >= 0 && pfd[i].revents)
				session_io(pses[i], pfd[i].revents);
		now = mono_ms();
		for (size_t i = 0; i < max_sessions; i++)
			if (sessions[i].fd >= 0 && sessions[i].phase == PH_LINGER &&
			    sessions[i].linger_until <= now)
				session_drop(&sessions[i]);
		if (nactive < before)
			accept_paused = false;

		if (pfd[1].revents & POLLIN) {
			while (nactive < max_sessions) {
				int fd = accept(lfd, NULL, NULL);
				if (fd < 0) {
					if (errno == EINTR || errno == ECONNABORTED)
						continue;
					if (errno != EAGAIN && errno != EWOULDBLOCK) {
						errmsg("accept: %s", strerror(errno));
						accept_paused = nactive > 0;
					}
					break;
				}
				if (set_nonblock_cloexec(fd) < 0) {
					close(fd);
					continue;
				}
				session_start(fd);
			}
		}
	}

	for (size_t i = 0; i < max_sessions; i++)
		if (sessions[i].fd >= 0)
			session_drop(&sessions[i]);
	close(lfd);
	close(log_fd);
	free(pfd);
	free(pses);
	free(sessions);
	return 0;
fail:   /* nothing started yet: the port in use, out of memory */
	free(pfd);
	free(pses);
	free(sessions);
	close(log_fd);
	return 1;
}
