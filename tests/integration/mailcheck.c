/*
 * mailcheck - show one RFC 5322 message the way a test wants to check it.
 *
 *   mailcheck [--strict-crlf] [--header NAME | --body] [FILE|-]
 *
 * Reads one message (FILE, or stdin when FILE is absent or "-"; at most
 * 10 MB) and prints
 *
 *   HEADER: <name>: <value>     one line per header field, in message order;
 *                               <name> exactly as written, <value> unfolded,
 *                               leading/trailing white space removed, RFC 2047
 *                               encoded words decoded to UTF-8
 *   BODY:                       a line of its own, then the first text/plain
 *                               part that is not an attachment, transfer
 *                               decoded (quoted-printable, base64) and
 *                               converted from its charset to UTF-8, with
 *                               CRLF turned into LF
 *
 * --header NAME  print only the decoded value of every field called NAME
 *                (case-insensitive), one per line
 * --body         print only the decoded text/plain body (no "BODY:" line)
 * --strict-crlf  fail when the raw input has any bare LF or bare CR.
 *                Note: Maildir files written by Dovecot and smtp-sink dumps
 *                use LF line ends, so use this only on bytes captured before
 *                an MTA stored them.
 *
 * So that one value is always one output line, control characters inside
 * decoded header values (CR, LF, NUL, ... but not TAB) and bytes that are not
 * valid UTF-8 in raw header text are printed as \xNN.  A literal backslash is
 * printed as is.
 *
 * Exit status: 0 ok; 1 the message cannot be read or parsed, is larger than
 * 10 MB, violates --strict-crlf, or its text/plain part cannot be decoded or
 * converted; 2 usage error; 3 --header NAME given but no such field.
 * Diagnostics go to stderr, prefixed "mailcheck: ".
 *
 * Build: cc -std=c11 -o mailcheck mailcheck.c $(pkg-config --cflags libetpan) -letpan
 * (do not use `pkg-config --libs libetpan` verbatim: it carries a no-PIE
 * specs file, see ../shared/notes/mailstack.md section 4).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

#define MAILCHECK_MAX_INPUT ((size_t)10 * 1024 * 1024)

/* ------------------------------------------------------------------ util */

static void errmsg(const char *fmt, ...)
{
	va_list ap;
	fputs("mailcheck: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		errmsg("out of memory");
		exit(1);
	}
	return p;
}

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			errmsg("out of memory");
			exit(1);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Append s to out so that it stays one line of valid UTF-8: control
 * characters except TAB and invalid UTF-8 bytes become \xNN.
 */
static void add_visible(struct buf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t k = utf8_seq(u + i, n - i);
		if (k == 0 || (k == 1 && ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f))) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\x%02X", u[i]);
			buf_add(out, esc, 4);
			i++;
		} else {
			buf_add(out, s + i, k);
			i += k;
		}
	}
}

/* ---------------------------------------------------------- RFC 2047 */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode the encoded-text of a "Q" word; false if malformed. */
static bool q_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			buf_addc(out, ' ');
		} else if (s[i] == '=') {
			if (i + 2 >= n)
				return false;
			int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return false;
			buf_addc(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_addc(out, s[i]);
		}
	}
	return true;
}

/* Decode the encoded-text of a "B" word; false if malformed. */
static bool b_decode(const char *s, size_t n, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t pad = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad)
			return false; /* data after padding */
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			return false;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (char)((acc >> bits) & 0xff));
		}
	}
	return pad <= 2;
}

/*
 * Try to read an encoded word "=?charset?X?text?=" at s[0..n).  On success
 * return its length, store the charset (without an RFC 2231 language part)
 * and append the decoded bytes to raw.
 */
static size_t encoded_word(const char *s, size_t n, char *charset, size_t cslen, struct buf *raw)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	size_t i = 2, cs_start = 2;
	while (i < n && s[i] != '?' && s[i] > ' ' && s[i] < 0x7f)
		i++;
	if (i >= n || s[i] != '?' || i == cs_start)
		return 0;
	size_t cs_end = i;
	if (i + 3 >= n || s[i + 2] != '?')
		return 0;
	char enc = s[i + 1];
	if (enc != 'Q' && enc != 'q' && enc != 'B' && enc != 'b')
		return 0;
	size_t t_start = i + 3, t = t_start;
	while (t + 1 < n && !(s[t] == '?' && s[t + 1] == '=')) {
		if (s[t] == ' ' || s[t] == '\t' || s[t] == '?')
			return 0;
		t++;
	}
	if (t + 1 >= n)
		return 0;
	size_t cl = cs_end - cs_start;
	const char *star = memchr(s + cs_start, '*', cl);
	if (star)
		cl = (size_t)(star - (s + cs_start));
	if (cl == 0 || cl >= cslen)
		return 0;
	struct buf tmp = {0};
	bool ok = (enc == 'Q' || enc == 'q') ? q_decode(s + t_start, t - t_start, &tmp)
					     : b_decode(s + t_start, t - t_start, &tmp);
	if (ok) {
		memcpy(charset, s + cs_start, cl);
		charset[cl] = '\0';
		buf_add(raw, tmp.p ? tmp.p : "", tmp.len);
	}
	free(tmp.p);
	return ok ? t + 2 : 0;
}

/* Convert pending encoded-word bytes in charset to UTF-8 and append them. */
static void flush_words(struct buf *out, const char *charset, struct buf *raw)
{
	if (raw->len == 0)
		return;
	char *conv = NULL;
	int r = charconv("utf-8", charset, raw->p, raw->len, &conv);
	if (r == MAIL_CHARCONV_NO_ERROR && conv) {
		add_visible(out, conv, strlen(conv));
	} else {
		errmsg("warning: cannot convert header text from charset \"%s\"; shown escaped", charset);
		add_visible(out, raw->p, raw->len);
	}
	free(conv);
	raw->len = 0;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Decode an unfolded header value: RFC 2047 encoded words become UTF-8,
 * white space between two adjacent encoded words disappears, everything else
 * is kept byte for byte (made visible by add_visible).  Encoded words are
 * recognised at the start of the value or after white space, '(' or '"'
 * and must end the value or be followed by white space, ')', '"' or ','.
 */
static char *decode_value(const char *v, size_t n)
{
	struct buf out = {0}, raw = {0};
	char charset[64] = "", cur[64] = "";
	size_t i = 0;
	bool last_was_word = false;
	size_t pending_ws_start = 0, pending_ws_len = 0;

	buf_add(&out, "", 0);
	while (i < n) {
		bool boundary_before = i == 0 || is_wsp(v[i - 1]) || v[i - 1] == '(' || v[i - 1] == '"';
		size_t w = 0;
		struct buf word = {0};
		if (boundary_before && v[i] == '=')
			w = encoded_word(v + i, n - i, charset, sizeof charset, &word);
		if (w) {
			char after = i + w < n ? v[i + w] : ' ';
			if (!(is_wsp(after) || after == ')' || after == '"' || after == ','))
				w = 0;
		}
		if (w) {
			if (!last_was_word || strcasecmp(cur, charset) != 0) {
				flush_words(&out, cur, &raw);
				snprintf(cur, sizeof cur, "%s", charset);
			}
			/* white space between two encoded words is dropped */
			buf_add(&raw, word.p ? word.p : "", word.len);
			free(word.p);
			i += w;
			last_was_word = true;
			pending_ws_len = 0;
			continue;
		}
		free(word.p);
		if (last_was_word && is_wsp(v[i])) {
			/* hold the white space until we know what follows it */
			if (pending_ws_len == 0)
				pending_ws_start = i;
			pending_ws_len++;
			i++;
			continue;
		}
		if (last_was_word) {
			flush_words(&out, cur, &raw);
			add_visible(&out, v + pending_ws_start, pending_ws_len);
			pending_ws_len = 0;
			last_was_word = false;
		}
		/* plain text up to the next white space (kept whole) */
		size_t j = i + 1;
		while (j < n && !is_wsp(v[j]) && v[j] != '=')
			j++;
		add_visible(&out, v + i, j - i);
		i = j;
	}
	if (last_was_word) {
		flush_words(&out, cur, &raw);
		add_visible(&out, v + pending_ws_start, pending_ws_len);
	}
	free(raw.p);
	return out.p;
}

/* ------------------------------------------------------------ headers */

struct field {
	char *name;
	char *value; /* decoded, visible */
};

struct fields {
	struct field *v;
	size_t n, cap;
};

/* Length of the line terminator at p (CRLF or LF), 0 if none. */
static size_t eol_len(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/*
 * Split the header section of msg into fields.  Returns the offset of the
 * body (after the empty line), or (size_t)-1 after printing an error.
 */
static size_t parse_header(const char *msg, size_t len, struct fields *fs)
{
	const char *p = msg, *end = msg + len;
	size_t lineno = 1;

	while (p < end) {
		size_t el = eol_len(p, end);
		if (el) /* empty line: end of the header section */
			return (size_t)(p + el - msg);
		if (is_wsp(*p)) {
			errmsg("line %zu: continuation line without a header field", lineno);
			return (size_t)-1;
		}
		const char *name = p;
		while (p < end && *p != ':' && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
			p++;
		const char *name_end = p;
		while (p < end && is_wsp(*p)) /* obsolete "Name :" syntax */
			p++;
		if (p >= end || *p != ':' || name_end == name) {
			errmsg("line %zu: not a header field (no \"name:\")", lineno);
			return (size_t)-1;
		}
		p++;
		/* collect value with its continuation lines, dropping the line breaks */
		struct buf val = {0};
		buf_add(&val, "", 0);
		for (;;) {
			const char *ls = p;
			while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n'))
				p++;
			buf_add(&val, ls, (size_t)(p - ls));
			el = eol_len(p, end);
			p += el;
			lineno++;
			if (el == 0 || p >= end || !is_wsp(*p))
				break;
		}
		size_t a = 0, b = val.len;
		while (a < b && is_wsp(val.p[a]))
			a++;
		while (b > a && is_wsp(val.p[b - 1]))
			b--;
		if (fs->n == fs->cap) {
			fs->cap = fs->cap ? fs->cap * 2 : 32;
			struct field *nv = realloc(fs->v, fs->cap * sizeof *nv);
			if (!nv) {
				errmsg("out of memory");
				exit(1);
			}
			fs->v = nv;
		}
		size_t nl = (size_t)(name_end - name);
		fs->v[fs->n].name = xmalloc(nl + 1);
		memcpy(fs->v[fs->n].name, name, nl);
		fs->v[fs->n].name[nl] = '\0';
		fs->v[fs->n].value = decode_value(val.p + a, b - a);
		fs->n++;
		free(val.p);
	}
	return len; /* header only, no body */
}

/* --------------------------------------------------------------- body */

static bool is_attachment(struct mailmime *m)
{
	if (!m->mm_mime_fields)
		return false;
	for (clistiter *it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
		struct mailmime_field *f = clist_content(it);
		if (f->fld_type == MAILMIME_FIELD_DISPOSITION && f->fld_data.fld_disposition &&
		    f->fld_data.fld_disposition->dsp_type &&
		    f->fld_data.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
			return true;
	}
	return false;
}

static bool is_text_plain(struct mailmime_content *ct)
{
	if (!ct) /* no Content-Type: text/plain by default (RFC 2045) */
		return true;
	return ct->ct_type && ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
	       ct->ct_type->tp_data.tp_discrete_type &&
	       ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT &&
	       ct->ct_subtype && strcasecmp(ct->ct_subtype, "plain") == 0;
}

/* First non-attachment text/plain single part, depth first; NULL if none. */
static struct mailmime *find_text_plain(struct mailmime *m, int depth)
{
	if (!m || depth > 50)
		return NULL;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		if (is_text_plain(m->mm_content_type) && !is_attachment(m))
			return m;
		return NULL;
	case MAILMIME_MULTIPLE:
		for (clistiter *it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it)) {
			struct mailmime *r = find_text_plain(clist_content(it), depth + 1);
			if (r)
				return r;
		}
		return NULL;
	case MAILMIME_MESSAGE:
		/* the top level message; do not descend into attached message/rfc822 */
		if (depth == 0)
			return find_text_plain(m->mm_data.mm_message.mm_msg_mime, depth + 1);
		return NULL;
	default:
		return NULL;
	}
}

/* Decode the part to UTF-8 with LF line ends; NULL after printing an error. */
static char *decode_body(struct mailmime *part, size_t *outlen)
{
	struct mailmime_data *d = part->mm_data.mm_single;
	if (!d) {
		*outlen = 0;
		return strdup("");
	}
	if (d->dt_type != MAILMIME_DATA_TEXT) {
		errmsg("text/plain part is not held in memory");
		return NULL;
	}
	const char *data = d->dt_data.dt_text.dt_data;
	size_t dlen = d->dt_data.dt_text.dt_length;
	char *dec = NULL;
	size_t declen = 0, idx = 0;
	bool unref = false;
	if (d->dt_encoded) {
		int r = mailmime_part_parse(data, dlen, &idx, d->dt_encoding, &dec, &declen);
		if (r != MAILIMF_NO_ERROR) {
			errmsg("cannot decode the text/plain part (content transfer encoding, error %d)", r);
			return NULL;
		}
		unref = true;
	} else {
		dec = (char *)data;
		declen = dlen;
	}

	const char *charset = part->mm_content_type ? mailmime_content_charset_get(part->mm_content_type) : NULL;
	if (!charset)
		charset = "us-ascii";
	char *utf8 = NULL;
	size_t utf8len = 0;
	int r = charconv_buffer("utf-8", charset, dec, declen, &utf8, &utf8len);
	if (unref)
		mmap_string_unref(dec);
	if (r != MAIL_CHARCONV_NO_ERROR || !utf8) {
		errmsg("cannot convert the text/plain part from charset \"%s\" to UTF-8 (error %d)", charset, r);
		return NULL;
	}
	char *out = xmalloc(utf8len + 1);
	size_t o = 0;
	for (size_t i = 0; i < utf8len; i++) {
		if (utf8[i] == '\r' && i + 1 < utf8len && utf8[i + 1] == '\n')
			continue;
		out[o++] = utf8[i];
	}
	out[o] = '\0';
	charconv_buffer_free(utf8);
	*outlen = o;
	return out;
}

/* --------------------------------------------------------------- main */

static int usage(void)
{
	fputs("usage: mailcheck [--strict-crlf] [--header NAME | --body] [FILE|-]\n", stderr);
	return 2;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = stdin;
	if (path && strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (!f) {
			errmsg("%s: %s", path, strerror(errno));
			return NULL;
		}
	}
	size_t cap = 65536, n = 0;
	char *p = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > MAILCHECK_MAX_INPUT) {
				errmsg("%s: input larger than %zu bytes, refused", path ? path : "stdin", MAILCHECK_MAX_INPUT);
				free(p);
				if (f != stdin)
					fclose(f);
				return NULL;
			}
			cap *= 2;
			char *np = realloc(p, cap + 1);
			if (!np) {
				errmsg("out of memory");
				exit(1);
			}
			p = np;
		}
		size_t r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	bool err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err) {
		errmsg("%s: read error", path ? path : "stdin");
		free(p);
		return NULL;
	}
	if (n > MAILCHECK_MAX_INPUT) {
		errmsg("%s: input larger than %zu bytes, refused", path ? path : "stdin", MAILCHECK_MAX_INPUT);
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = n;
	return p;
}

/* Report the first bare LF or bare CR; true if the input is clean. */
static bool check_crlf(const char *p, size_t n)
{
	size_t line = 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (i == 0 || p[i - 1] != '\r') {
				errmsg("bare LF at byte %zu (line %zu)", i, line);
				return false;
			}
			line++;
		} else if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) {
			errmsg("bare CR at byte %zu (line %zu)", i, line);
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	bool strict = false, body_only = false;
	const char *want = NULL, *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--strict-crlf") == 0) {
			strict = true;
		} else if (strcmp(argv[i], "--body") == 0) {
			body_only = true;
		} else if (strcmp(argv[i], "--header") == 0) {
			if (i + 1 >= argc || want)
				return usage();
			want = argv[++i];
		} else if (strcmp(argv[i], "--") == 0) {
			if (i + 1 < argc)
				path = argv[++i];
			if (i + 1 < argc)
				return usage();
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return usage();
		} else if (!path) {
			path = argv[i];
		} else {
			return usage();
		}
	}
	if (want && body_only)
		return usage();

	size_t len = 0;
	char *msg = read_all(path, &len);
	if (!msg)
		return 1;
	if (strict && !check_crlf(msg, len)) {
		free(msg);
		return 1;
	}

	int status = 0;
	struct fields fs = {0};
	struct mailmime *mime = NULL;
	char *body = NULL;
	size_t bodylen = 0;
	bool have_body = false;

	size_t body_off = parse_header(msg, len, &fs);
	if (body_off == (size_t)-1) {
		status = 1;
		goto out;
	}
	if (fs.n == 0) {
		errmsg("no header fields");
		status = 1;
		goto out;
	}

	size_t idx = 0;
	int r = mailmime_parse(msg, len, &idx, &mime);
	if (r != MAILIMF_NO_ERROR || !mime || mime->mm_type != MAILMIME_MESSAGE) {
		errmsg("libetpan cannot parse the message as MIME (error %d)", r);
		status = 1;
		goto out;
	}
	struct mailmime *part = find_text_plain(mime, 0);
	if (part) {
		body = decode_body(part, &bodylen);
		if (!body) {
			status = 1;
			goto out;
		}
		have_body = true;
	}

	if (want) {
		bool found = false;
		for (size_t i = 0; i < fs.n; i++)
			if (strcasecmp(fs.v[i].name, want) == 0) {
				printf("%s\n", fs.v[i].value);
				found = true;
			}
		if (!found) {
			errmsg("no header field \"%s\"", want);
			status = 3;
		}
		goto out;
	}
	if (!have_body)
		errmsg("warning: no text/plain part");
	if (body_only) {
		if (have_body)
			fwrite(body, 1, bodylen, stdout);
		goto out;
	}
	for (size_t i = 0; i < fs.n; i++)
		printf("HEADER: %s: %s\n", fs.v[i].name, fs.v[i].value);
	fputs("BODY:\n", stdout);
	if (have_body)
		fwrite(body, 1, bodylen, stdout);

out:
	if (fflush(stdout) != 0 && status == 0) {
		errmsg("write error: %s", strerror(errno));
		status = 1;
	}
	for (size_t i = 0; i < fs.n; i++) {
		free(fs.v[i].name);
		free(fs.v[i].value);
	}
	free(fs.v);
	free(body);
	if (mime)
		mailmime_free(mime);
	free(msg);
	return status;
}
