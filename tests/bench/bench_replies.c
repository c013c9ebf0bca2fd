/*
 * bench_replies - realistic replies to consent requests, for the inbound
 * benchmark (tests/bench/inbound.sh). Not a test; not installed.
 *
 *   bench_replies CONFIG N OUTDIR
 *       Creates N accounts b0000001.. (primary address b0000001@example.org..,
 *       language de for odd numbers, en for even ones), each with an open
 *       consent request for log-linking made by the real consent_tx_request
 *       (token, rendering, ledger) in transactions of BATCH, marks the
 *       request mails sent (that is where the plaintext token is taken from),
 *       and writes one reply per account into OUTDIR, named
 *       1700000000.bNNNNNNN.bench (a valid maildir name, so OUTDIR may be a
 *       Maildir's new/). The store must not exist yet.
 *
 *       Each reply is what Gmail sends: top-posted, multipart/alternative
 *       text + HTML, UTF-8 quoted-printable, RFC 2047 headers, CRLF line
 *       ends (as Dovecot's maildir holds it), the request quoted below an
 *       "Am ... schrieb" / "On ... wrote" attribution (in the HTML part as a
 *       gmail_quote blockquote), From the account's address, To
 *       consent+TOKEN@REPLY_DOMAIN, In-Reply-To and References
 *       <consent.TOKEN@REPLY_DOMAIN>, Subject "AW:"/"Re:" ... [TOKEN], a
 *       unique Message-ID, Received and DKIM-Signature headers; about 3 KB.
 *       Of every ten accounts (by number, 1-based, n % 10): 1..8 agree
 *       ("Ja, ich bin einverstanden." / "Yes, I agree."), 9 refuses
 *       ("Nein, ..." / "No, ..."), 0 asks a question (unclear: review).
 *       Prints key=value lines: replies, bytes, seconds (filling the store),
 *       write_seconds, expect_granted, expect_declined, expect_review.
 *
 *   bench_replies --deliver PROGRAM CONFIG DIR
 *       For each file of DIR (name order, dot files skipped): runs
 *       PROGRAM -c CONFIG -f FROM -r TO with the file on stdin, FROM and TO
 *       being the addresses in the file's From: and To: headers, and times
 *       it with CLOCK_MONOTONIC from fork to waitpid. Every run must exit 0.
 *       Prints runs, failed, median_ms, p90_ms, p99_ms, max_ms, seconds.
 *       (PROGRAM /bin/true gives the baseline of a bare process start.)
 *
 *   bench_replies --smtp HOST PORT DIR [M]
 *       Sends the first M files of DIR (all by default, name order) over ONE
 *       SMTP session (EHLO, then MAIL/RCPT/DATA pipelined per message,
 *       dot-stuffed), envelope from the From: and To: headers as above.
 *       Every message must be accepted with 250. Prints messages, bytes,
 *       seconds, rate.
 *
 * Exit 0, or 1 (a failure, described on stderr), 2 (usage).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "consentd/config.h"
#include "consentd/consent.h"
#include "consentd/store.h"
#include "consentd/template.h"
#include "consentd/text.h"

#define BATCH 500             /* requests per transaction */
#define CLAIM 500             /* outbox rows claimed at a time */
#define PURPOSE "log-linking"
#define NAME_BASE 1700000000L /* the "time" part of the maildir names */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_replies: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ------------------------------------------------------------ mail text */

static void add(strbuf *b, const char *s)
{
	strbuf_adds(b, s);
}

static void addf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void addf(strbuf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		die("addf: line too long");
	strbuf_add(b, tmp, (size_t)n);
}

/* qp - text (LF line ends) as quoted-printable with CRLF line ends and
 * soft breaks before column 76, as Gmail writes it. */
static void qp(strbuf *out, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)text;
	char enc[4];
	size_t col = 0, n;

	while (*p) {
		if (*p == '\n') {
			add(out, "\r\n");
			col = 0;
			p++;
			continue;
		}
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && p[1] != '\n' && p[1] != '\0')) {
			enc[0] = (char)*p;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			n = 3;
		}
		if (col + n > 75) {
			add(out, "=\r\n");
			col = 0;
		}
		strbuf_add(out, enc, n);
		col += n;
		p++;
	}
	if (col)
		add(out, "\r\n");
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 128)
			return false;
	return true;
}

/* header_words - an unstructured header value: plain and folded at spaces
 * when ASCII, else RFC 2047 Q encoded-words of at most 75 characters. */
static void header_words(strbuf *out, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)value;
	size_t col, wlen;
	char w[80];

	addf(out, "%s: ", name);
	col = strlen(name) + 2;
	if (ascii(value)) {
		while (*p) {
			const char *sp = strchr((const char *)p + 1, ' ');
			size_t len = sp ? (size_t)(sp - (const char *)p) : strlen((const char *)p);

			if (col + len > 78 && col > strlen(name) + 2 && *p == ' ') {
				add(out, "\r\n");
				col = 0;
			}
			strbuf_add(out, (const char *)p, len);
			col += len;
			p += len;
		}
		add(out, "\r\n");
		return;
	}
	while (*p) {
		wlen = (size_t)snprintf(w, sizeof(w), "=?UTF-8?Q?");
		/* a multi-byte character is never split between two words */
		while (*p) {
			size_t clen = 1, need, k;

			if (*p >= 0xf0)
				clen = 4;
			else if (*p >= 0xe0)
				clen = 3;
			else if (*p >= 0xc0)
				clen = 2;
			need = 0;
			for (k = 0; k < clen; k++)
				need += (p[k] >= 33 && p[k] < 127 && !strchr("=?_[]\"()<>@,;:.", p[k]))
					|| p[k] == ' ' ? 1 : 3;
			if (wlen + need + 2 > 75)
				break;
			for (k = 0; k < clen; k++) {
				if (p[k] == ' ') {
					w[wlen++] = '_';
				} else if (p[k] >= 33 && p[k] < 127 && !strchr("=?_[]\"()<>@,;:.", p[k])) {
					w[wlen++] = (char)p[k];
				} else {
					w[wlen++] = '=';
					w[wlen++] = hex[p[k] >> 4];
					w[wlen++] = hex[p[k] & 15];
				}
			}
			p += clen;
		}
		w[wlen++] = '?';
		w[wlen++] = '=';
		w[wlen] = '\0';
		if (col > strlen(name) + 2) {   /* every word after the first: fold */
			add(out, "\r\n ");
			col = 1;
		}
		add(out, w);
		col += wlen;
	}
	add(out, "\r\n");
}

/* html_escape - text into HTML, line breaks as <br>. */
static void html_escape(strbuf *out, const char *text)
{
	for (; *text; text++) {
		switch (*text) {
		case '<': add(out, "&lt;"); break;
		case '>': add(out, "&gt;"); break;
		case '&': add(out, "&amp;"); break;
		case '"': add(out, "&quot;"); break;
		case '\n': add(out, "<br>"); break;
		default: strbuf_add(out, text, 1);
		}
	}
}

enum answer { A_YES, A_NO, A_UNCLEAR };

typedef struct reply_spec {
	long n;                  /* account number, 1-based */
	bool de;
	enum answer answer;
	const char *name;        /* display name of the person */
	const char *token;
	const config *cfg;
	const char *title;       /* purpose title in the person's language */
	time_t sent, answered;   /* the request's and the reply's time */
} reply_spec;

static const char *const names_de[] = { "Jörg Müller", "Anna Schäfer", "Jürgen Weiß",
					"Sabine Krüger", "Max Mustermann", "Dörte Öztürk" };
static const char *const names_en[] = { "Ann Lee", "John Smith", "Mary O'Brien",
					"Zoë Adams", "Peter Brown", "Chloé Martin" };

static const char *const answer_de[] = {
	"Ja, ich bin einverstanden.",
	"Nein, damit bin ich nicht einverstanden.",
	"Was genau bedeutet das für mich? Welche Protokolldaten werden mit meinem Konto verknüpft?",
};
static const char *const answer_en[] = {
	"Yes, I agree.",
	"No, I do not agree.",
	"What exactly does this mean for me? Which log data would be linked to my account?",
};

/* quoted - the part of the request the reply quotes (what Gmail shows of
 * it, abridged so the whole reply stays near 3 KB). */
static void quoted(strbuf *out, const reply_spec *r)
{
	const config *c = r->cfg;

	if (r->de) {
		addf(out, "Guten Tag,\n\nmit dieser E-Mail bitten wir Sie um Ihre Einwilligung. Sie betrifft\n"
		     "nur den unten genannten Zweck und ist von allen anderen Erklärungen,\n"
		     "Verträgen und Nutzungsbedingungen getrennt. Die Anfrage gilt Ihrem\n"
		     "Konto mit der E-Mail-Adresse b%07ld@example.org.\n\n"
		     "Zweck: %s\n\n"
		     "So antworten Sie\n----------------\n"
		     "Antworten Sie auf diese E-Mail und schreiben Sie nur eines dieser\n"
		     "Wörter in Ihre Antwort:\n\nJA\nwenn Sie einwilligen,\n\nNEIN\n"
		     "wenn Sie nicht einwilligen.\n\n", r->n, r->title);
		addf(out, "Referenz: %s\n\nMit freundlichen Grüßen\n%s\n", r->token, c->service_name);
	} else {
		addf(out, "Hello,\n\nwith this email we ask for your consent. The request concerns only the\n"
		     "purpose named below and is separate from any other statement, contract\n"
		     "or terms of use. It is addressed to your account with the email\n"
		     "address b%07ld@example.org.\n\n"
		     "Purpose: %s\n\n"
		     "How to answer\n-------------\n"
		     "Reply to this email and write only one of these words in your reply:\n\n"
		     "YES\nif you consent,\n\nNO\nif you do not consent.\n\n", r->n, r->title);
		addf(out, "Reference: %s\n\nKind regards\n%s\n", r->token, c->service_name);
	}
}

/* attribution - Gmail's line above the quote, in the person's language;
 * plain is folded the way Gmail folds it (before the address). */
static void attribution(char *out, size_t len, const reply_spec *r, bool plain)
{
	static const char *const wd_de[] = { "So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa." };
	static const char *const mon_de[] = { "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni",
					      "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez." };
	static const char *const wd_en[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon_en[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					      "Aug", "Sep", "Oct", "Nov", "Dec" };
	const config *c = r->cfg;
	struct tm tm;

	gmtime_r(&r->sent, &tm);
	if (r->de)
		snprintf(out, len, "Am %s, %d. %s %d um %02d:%02d Uhr schrieb %s <%s%s>:",
			 wd_de[tm.tm_wday], tm.tm_mday, mon_de[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, c->service_name, plain ? "\n" : "", c->service_address);
	else
		snprintf(out, len, "On %s, %s %d, %d at %d:%02d %s %s <%s%s> wrote:",
			 wd_en[tm.tm_wday], mon_en[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900,
			 tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM",
			 c->service_name, plain ? "\n" : "", c->service_address);
}

/* reply - one whole reply message (CRLF) into out. */
static void reply(strbuf *out, const reply_spec *r, uint64_t rnd)
{
	const config *c = r->cfg;
	const char *answer = (r->de ? answer_de : answer_en)[r->answer];
	const char *greet = r->de ? "Viele Grüße" : "Best regards";
	char first[64], attr[512], date[64], subject[512], boundary[40], rcpt[160];
	strbuf q = { 0 }, text = { 0 }, html = { 0 };
	const char *line, *nl;
	struct tm tm;

	snprintf(first, sizeof(first), "%s", r->name);
	first[strcspn(first, " ")] = '\0';
	snprintf(rcpt, sizeof(rcpt), "%s%s%s@%s", c->reply_local, c->delimiter, r->token,
		 c->reply_domain);
	snprintf(boundary, sizeof(boundary), "0000000000%014" PRIx64, (uint64_t)(rnd & 0xffffffffffffffULL));
	localtime_r(&r->answered, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(subject, sizeof(subject), "%s %s %s [%s]", r->de ? "AW:" : "Re:",
		 r->de ? "Bitte um Ihre Einwilligung:" : "Request for your consent:", r->title,
		 r->token);

	/* The text part: the answer, a greeting, the attribution, the quote. */
	quoted(&q, r);
	addf(&text, "%s\n\n%s\n%s\n\n", answer, greet, first);
	attribution(attr, sizeof(attr), r, true);
	addf(&text, "%s\n\n", attr);
	for (line = q.s; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == line)
			add(&text, ">\n");
		else {
			add(&text, "> ");
			strbuf_add(&text, line, (size_t)(nl - line + 1));
		}
	}
	add(&text, "\n");

	/* The HTML part, as Gmail writes it. */
	add(&html, "<div dir=\"ltr\"><div>");
	html_escape(&html, answer);
	add(&html, "</div><div><br></div><div>");
	html_escape(&html, greet);
	add(&html, "</div><div>");
	html_escape(&html, first);
	add(&html, "</div></div><br><div class=\"gmail_quote gmail_quote_container\">"
	    "<div dir=\"ltr\" class=\"gmail_attr\">");
	attribution(attr, sizeof(attr), r, false);
	html_escape(&html, attr);
	add(&html, "<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px "
	    "0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">");
	html_escape(&html, q.s);
	add(&html, "</blockquote></div>\n");

	/* Headers: what the receiving server added, then Gmail's. */
	addf(out, "Received: from mail-wr1-f%d.google.com (mail-wr1-f%d.google.com [209.85.221.%d])\r\n"
	     "\tby mx.%s (Postfix) with ESMTPS id %08" PRIX64 "\r\n"
	     "\tfor <%s>; %s\r\n", (int)(r->n % 90) + 10, (int)(r->n % 90) + 10,
	     (int)(r->n % 200) + 20, c->reply_domain, rnd >> 32, rcpt, date);
	addf(out, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	     "        d=example.org; s=20230601; t=%ld; x=%ld; darn=%s;\r\n"
	     "        h=to:subject:message-id:date:from:in-reply-to:references\r\n"
	     "         :mime-version:from:to:cc:subject:date:message-id:reply-to;\r\n"
	     "        bh=%016" PRIx64 "%016" PRIx64 "+bench=;\r\n"
	     "        b=%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "\r\n"
	     "         %016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "==\r\n",
	     (long)r->answered, (long)r->answered + 604800, c->reply_domain, rnd, ~rnd,
	     rnd * 3, rnd * 5, rnd * 7, rnd * 11, rnd * 13, rnd * 17, rnd * 19, rnd * 23);
	add(out, "MIME-Version: 1.0\r\n");
	addf(out, "References: <consent.%s@%s>\r\n", r->token, c->reply_domain);
	addf(out, "In-Reply-To: <consent.%s@%s>\r\n", r->token, c->reply_domain);
	if (ascii(r->name)) {
		addf(out, "From: %s <b%07ld@example.org>\r\n", r->name, r->n);
	} else {
		strbuf f = { 0 };

		header_words(&f, "From", r->name);
		f.len -= 2;   /* the CRLF: the address follows */
		f.s[f.len] = '\0';
		addf(out, "%s <b%07ld@example.org>\r\n", f.s, r->n);
		free(f.s);
	}
	addf(out, "Date: %s\r\n", date);
	addf(out, "Message-ID: <CAB%07ld%016" PRIx64 "bench@mail.gmail.com>\r\n", r->n, rnd);
	header_words(out, "Subject", subject);
	addf(out, "To: %s <%s>\r\n", c->service_name, rcpt);
	addf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	addf(out, "--%s\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n"
	     "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
	qp(out, text.s);
	addf(out, "\r\n--%s\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n"
	     "Content-Transfer-Encoding: quoted-printable\r\n\r\n", boundary);
	qp(out, html.s);
	addf(out, "\r\n--%s--\r\n", boundary);
	free(q.s);
	free(text.s);
	free(html.s);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ------------------------------------------------------------ make mode */

static int make(const char *conf, long n, const char *outdir)
{
	config *cfg = NULL;
	store *st = NULL;
	template_set *ts = NULL;
	const config_purpose *pu;
	consent_request_info info;
	outbox_item *items;
	char err[1024], id[32], email[64], path[4096], **token_of;
	int64_t *key_of, max_key = 0;
	long i, done, bytes = 0, counts[3] = { 0, 0, 0 };
	uint64_t seed;
	struct stat sb;
	double t0, t1;
	account a;
	int k, got;
	FILE *fp;

	if (config_load(&cfg, conf, err, sizeof(err)) ||
	    template_load(&ts, cfg->templates_dir, err, sizeof(err)))
		die("%s", err);
	if (!(pu = config_purpose_find(cfg, PURPOSE)))
		die("%s has no [purpose %s]", conf, PURPOSE);
	if (stat(cfg->store_path, &sb) == 0)
		die("%s exists: bench_replies wants a fresh store", cfg->store_path);
	if (stat(outdir, &sb) || !S_ISDIR(sb.st_mode))
		die("%s is not a directory", outdir);
	if (store_open(&st, cfg->store_path, cfg->busy_timeout_ms, STORE_CREATE, err,
		       sizeof(err)))
		die("%s", err);
	/* Filling only: a power loss would cost the benchmark, nothing else. */
	if (store_sync_full(st, false))
		die("%s", store_errmsg(st));
	key_of = xcalloc((size_t)n, sizeof(*key_of));

	t0 = now_s();
	if (store_begin(st))
		die("%s", store_errmsg(st));
	for (i = 1; i <= n; i++) {
		bool de = i % 2;
		const char *const *names = de ? names_de : names_en;

		snprintf(id, sizeof(id), "b%07ld", i);
		snprintf(email, sizeof(email), "b%07ld@example.org", i);
		if (store_account_upsert(st, id, email, names[(i / 2) % 6], de ? "de" : "en", NULL))
			die("account %s: %s", id, store_errmsg(st));
	}
	if (store_commit(st))
		die("%s", store_errmsg(st));

	for (i = 1; i <= n; i++) {
		if ((i - 1) % BATCH == 0 && store_begin(st))
			die("%s", store_errmsg(st));
		snprintf(id, sizeof(id), "b%07ld", i);
		if (store_account_get(st, id, &a))
			die("account %s: %s", id, store_errmsg(st));
		if (consent_tx_expire_account(st, a.key) ||
		    consent_tx_request(st, cfg, ts, &a, pu, false, &info, err, sizeof(err)))
			die("request for %s: %s %s", id, err, store_errmsg(st));
		key_of[i - 1] = a.key;
		if (a.key > max_key)
			max_key = a.key;
		if ((i % BATCH == 0 || i == n) && store_commit(st))
			die("%s", store_errmsg(st));
	}

	/* The plaintext token exists only in the outbox row: take it from
	 * there, as consentd would when sending, and mark the mail sent. */
	token_of = xcalloc((size_t)max_key + 1, sizeof(*token_of));
	items = xcalloc(CLAIM, sizeof(*items));
	done = 0;
	do {
		if (store_outbox_claim(st, text_now() + 10, 60, items, CLAIM, NULL, &got))
			die("claim: %s", store_errmsg(st));
		for (k = 0; k < got; k++) {
			if (items[k].token && items[k].acct > 0 && items[k].acct <= max_key &&
			    !strcmp(items[k].kind, "request"))
				token_of[items[k].acct] = xstrdup(items[k].token);
			if (store_outbox_result(st, items[k].id, "sent", "250 2.0.0 Ok: bench_replies",
						0, text_now(), NULL, 0))
				die("outbox result: %s", store_errmsg(st));
			outbox_item_clear(&items[k]);
			done++;
		}
	} while (got > 0);
	free(items);
	store_close(st);
	t1 = now_s();

	seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 20;
	if (!seed)
		seed = 88172645463325252ULL;
	for (i = 1; i <= n; i++) {
		reply_spec r;
		strbuf msg = { 0 };
		long m = i % 10;

		memset(&r, 0, sizeof(r));
		r.n = i;
		r.de = i % 2;
		r.answer = m >= 1 && m <= 8 ? A_YES : m == 9 ? A_NO : A_UNCLEAR;
		r.name = (r.de ? names_de : names_en)[(i / 2) % 6];
		r.token = token_of[key_of[i - 1]];
		r.cfg = cfg;
		r.title = r.de ? pu->title_de : pu->title_en;
		r.answered = time(NULL) - (time_t)(n - i) % 86400;
		r.sent = r.answered - 3600 - (time_t)(i % 7200);
		if (!r.token)
			die("no token for account b%07ld (outbox rows taken: %ld)", i, done);
		counts[r.answer]++;
		reply(&msg, &r, xorshift(&seed));
		snprintf(path, sizeof(path), "%s/%ld.b%07ld.bench", outdir, NAME_BASE, i);
		if (!(fp = fopen(path, "wb")) || fwrite(msg.s, 1, msg.len, fp) != msg.len ||
		    fclose(fp))
			die("%s: %s", path, strerror(errno));
		bytes += (long)msg.len;
		free(msg.s);
	}
	printf("replies=%ld\nbytes=%ld\navg_bytes=%ld\nseconds=%.3f\nwrite_seconds=%.3f\n"
	       "expect_granted=%ld\nexpect_declined=%ld\nexpect_review=%ld\n", n, bytes,
	       bytes / n, t1 - t0, now_s() - t1, counts[A_YES], counts[A_NO], counts[A_UNCLEAR]);
	for (i = 0; i <= max_key; i++)
		free(token_of[i]);
	free(token_of);
	free(key_of);
	template_set_free(ts);
	config_free(cfg);
	return 0;
}

/* ---------------------------------------------------- files and envelope */

typedef struct mailfile {
	char *path;
	char from[256], to[256];
	char *data;              /* --smtp only */
	size_t len;
} mailfile;

static char *slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &sb))
		die("%s: %s", path, strerror(errno));
	buf = xmalloc((size_t)sb.st_size + 1);
	if (read(fd, buf, (size_t)sb.st_size) != sb.st_size)
		die("%s: short read", path);
	close(fd);
	buf[sb.st_size] = '\0';
	*len = (size_t)sb.st_size;
	return buf;
}

/* header_addr - the <addr-spec> of the first header called name (the
 * replies written above always have one). */
static void header_addr(const char *msg, const char *name, char *out, size_t len,
			const char *path)
{
	size_t nl = strlen(name);
	const char *p = msg, *lt, *gt, *end;

	end = strstr(msg, "\r\n\r\n");
	for (;;) {
		if (!strncasecmp(p, name, nl) && p[nl] == ':')
			break;
		if (!(p = strstr(p, "\r\n")) || (end && p >= end))
			die("%s: no %s: header", path, name);
		p += 2;
	}
	if (!(lt = strchr(p, '<')) || !(gt = strchr(lt, '>')) || (size_t)(gt - lt) >= len ||
	    (end && gt > end))
		die("%s: no <address> in %s:", path, name);
	snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* load_dir - the files of dir in name order with their envelopes. */
static mailfile *load_dir(const char *dir, long max, long *n_out, bool keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	mailfile *files;
	long n = 0, cap = 0, total, i;

	if (!d)
		die("%s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			names = xrealloc(names, (size_t)(cap = cap ? cap * 2 : 1024) * sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), cmp_str);
	total = n;
	if (max > 0 && n > max)
		n = max;
	files = xcalloc((size_t)n + 1, sizeof(*files));
	for (i = 0; i < n; i++) {
		size_t plen = strlen(dir) + strlen(names[i]) + 2;

		files[i].path = xmalloc(plen);
		snprintf(files[i].path, plen, "%s/%s", dir, names[i]);
		files[i].data = slurp(files[i].path, &files[i].len);
		header_addr(files[i].data, "From", files[i].from, sizeof(files[i].from), files[i].path);
		header_addr(files[i].data, "To", files[i].to, sizeof(files[i].to), files[i].path);
		if (!keep) {
			free(files[i].data);
			files[i].data = NULL;
		}
	}
	for (i = 0; i < total; i++)
		free(names[i]);
	free(names);
	*n_out = n;
	return files;
}

/* -------------------------------------------------------- deliver mode */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *sorted, long n, double p)
{
	long idx = (long)(p * (double)n + 0.999999) - 1;

	if (idx < 0)
		idx = 0;
	if (idx >= n)
		idx = n - 1;
	return sorted[idx];
}

static int deliver(const char *program, const char *conf, const char *dir)
{
	mailfile *files;
	double *ms, t0, t, start;
	long n, i, failed = 0;
	int devnull, fd, status;
	pid_t pid;

	files = load_dir(dir, 0, &n, false);
	if (n == 0)
		die("%s: no files", dir);
	ms = xcalloc((size_t)n, sizeof(*ms));
	if ((devnull = open("/dev/null", O_WRONLY)) < 0)
		die("/dev/null: %s", strerror(errno));
	start = now_s();
	for (i = 0; i < n; i++) {
		if ((fd = open(files[i].path, O_RDONLY)) < 0)
			die("%s: %s", files[i].path, strerror(errno));
		t0 = now_s();
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			dup2(fd, 0);
			dup2(devnull, 1);
			close(fd);
			close(devnull);
			execl(program, program, "-c", conf, "-f", files[i].from, "-r", files[i].to,
			      (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid: %s", strerror(errno));
		t = now_s();
		close(fd);
		ms[i] = (t - t0) * 1000.0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (failed++ < 5)
				fprintf(stderr, "bench_replies: %s < %s: exit %d\n", program,
					files[i].path, WIFEXITED(status) ? WEXITSTATUS(status)
									 : 128 + WTERMSIG(status));
		}
	}
	t = now_s() - start;
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("runs=%ld\nfailed=%ld\nmedian_ms=%.3f\np90_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\n"
	       "seconds=%.3f\n", n, failed, pct(ms, n, 0.5), pct(ms, n, 0.9), pct(ms, n, 0.99),
	       ms[n - 1], t);
	close(devnull);
	free(ms);
	for (i = 0; i < n; i++)
		free(files[i].path);
	free(files);
	return failed ? 1 : 0;
}

/* ----------------------------------------------------------- smtp mode */

typedef struct conn {
	int fd;
	char buf[8192];
	size_t have, off;
} conn;

static void send_all(conn *c, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("smtp write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* reply_code - read one (multi-line) reply; its code. line gets its last line. */
static int reply_code(conn *c, char *line, size_t len)
{
	size_t n;
	ssize_t r;
	char *nl;

	for (;;) {
		for (;;) {
			nl = c->off < c->have ? memchr(c->buf + c->off, '\n', c->have - c->off) : NULL;
			if (nl)
				break;
			if (c->off) {
				memmove(c->buf, c->buf + c->off, c->have - c->off);
				c->have -= c->off;
				c->off = 0;
			}
			if (c->have == sizeof(c->buf))
				die("smtp: reply line too long");
			r = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				die("smtp: connection closed by the server");
			c->have += (size_t)r;
		}
		n = (size_t)(nl - (c->buf + c->off));
		snprintf(line, len, "%.*s", (int)(n && nl[-1] == '\r' ? n - 1 : n), c->buf + c->off);
		c->off += n + 1;
		if (strlen(line) < 4 || line[3] != '-')
			return atoi(line);
	}
}

static void expect(conn *c, int code, const char *what, const char *path)
{
	char line[1024];
	int got = reply_code(c, line, sizeof(line));

	if (got != code)
		die("smtp %s%s%s: expected %d, got: %s", what, path ? " for " : "", path ? path : "",
		    code, line);
}

static int smtp(const char *host, const char *port, const char *dir, long max)
{
	struct sockaddr_in sa;
	mailfile *files;
	strbuf cmd = { 0 }, data = { 0 };
	long n, i, bytes = 0;
	double t0, secs;
	const char *p, *nl;
	conn c;
	int one = 1;

	files = load_dir(dir, max, &n, true);
	if (n == 0)
		die("%s: no files", dir);
	memset(&c, 0, sizeof(c));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("%s: not an IPv4 address", host);
	t0 = now_s();
	if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect %s:%s: %s", host, port, strerror(errno));
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	expect(&c, 220, "greeting", NULL);
	send_all(&c, "EHLO bench.example.org\r\n", 24);
	expect(&c, 250, "EHLO", NULL);
	for (i = 0; i < n; i++) {
		cmd.len = 0;
		addf(&cmd, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", files[i].from, files[i].to);
		send_all(&c, cmd.s, cmd.len);
		expect(&c, 250, "MAIL FROM", files[i].path);
		expect(&c, 250, "RCPT TO", files[i].path);
		expect(&c, 354, "DATA", files[i].path);
		data.len = 0;
		for (p = files[i].data; *p; p = nl + 1) {
			if (*p == '.')
				strbuf_add(&data, ".", 1);
			if (!(nl = strchr(p, '\n'))) {
				strbuf_adds(&data, p);
				strbuf_adds(&data, "\r\n");
				break;
			}
			strbuf_add(&data, p, (size_t)(nl - p + 1));
		}
		strbuf_adds(&data, ".\r\n");
		send_all(&c, data.s, data.len);
		expect(&c, 250, "end of data", files[i].path);
		bytes += (long)files[i].len;
	}
	send_all(&c, "QUIT\r\n", 6);
	expect(&c, 221, "QUIT", NULL);
	secs = now_s() - t0;
	close(c.fd);
	printf("messages=%ld\nbytes=%ld\nseconds=%.3f\nrate=%.0f\n", n, bytes, secs,
	       (double)n / secs);
	for (i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].data);
	}
	free(files);
	free(cmd.s);
	free(data.s);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_replies CONFIG N OUTDIR\n"
		"       bench_replies --deliver PROGRAM CONFIG DIR\n"
		"       bench_replies --smtp HOST PORT DIR [M]\n");
	return 2;
}

int main(int argc, char **argv)
{
	long n;

	if (argc == 5 && !strcmp(argv[1], "--deliver"))
		return deliver(argv[2], argv[3], argv[4]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "--smtp"))
		return smtp(argv[2], argv[3], argv[4], argc == 6 ? strtol(argv[5], NULL, 10) : 0);
	if (argc != 4 || argv[1][0] == '-' || (n = strtol(argv[2], NULL, 10)) <= 0 || n > 9999999)
		return usage();
	return make(argv[1], n, argv[3]);
}
