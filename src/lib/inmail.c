/*
 * inmail.c - an inbound message taken apart for the judge (inmail.h).
 *
 * Promises: nothing larger than the named limits is parsed (size, header
 * section, MIME parts, nesting, HTML), and the MIME tree is walked within
 * them before libetpan, which recurses, builds it; header fields come back
 * unfolded, ids without <>, the subject and the texts as valid UTF-8
 * without NUL; the text is every text part that is not an attachment, in
 * document order (one alternative of a multipart/alternative, text/plain
 * preferred; alt_text the same with text/html preferred), transfer
 * encoding and charset decoded, format=flowed joined, HTML as text. A
 * charset that is unknown, or bytes that are not what a part declares,
 * give INMAIL_UNDECODABLE instead of a guess, and so does HTML over
 * INMAIL_HTML_MAX: no part of the text is left unread. Header fields are
 * filled even when the body is refused.
 *
 * Reports and bounces: is_bounce and is_mdn come from the header (the
 * report type; the sender and subject of a classic bounce); for a
 * bounce, the message/delivery-status groups name the failed recipients
 * and may show it is only a delay notice. Of each report part the first
 * INMAIL_REPORT_PART_MAX bytes are decoded and read by line-by-line
 * readers with fixed buffers; a value over its limit is ignored, never
 * cut and used.
 */
#include "consentd/inmail.h"
#include "consentd/limits.h"
#include "consentd/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

static int fail(inmail *out, enum inmail_error e, char *err, size_t errlen,
		const char *msg)
{
	out->error = e;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return -1;
}

/* header_len - bytes of the header section: up to the first empty line
 * (or all of raw when there is none). */
static size_t header_len(const char *raw, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (raw[i] == '\n')
			return i;
		if (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n')
			return i;
		const char *nl = memchr(raw + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - raw) + 1;
	}
	return len;
}

/* unfold - copy v without CR/LF, NUL and surrounding blanks, cut to max
 * bytes (at a UTF-8 boundary when the value is UTF-8). */
static char *unfold(const char *v, size_t max)
{
	size_t n = strlen(v), i, o = 0;
	char *s = xmalloc(n + 1);

	for (i = 0; i < n; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		s[o++] = v[i];
	}
	s[o] = '\0';
	while (o > 0 && (s[o - 1] == ' ' || s[o - 1] == '\t'))
		s[--o] = '\0';
	i = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i > 0) {
		memmove(s, s + i, o - i + 1);
		o -= i;
	}
	if (o > max) {
		o = max;
		while (o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80)
			o--;
		s[o] = '\0';
	}
	return s;
}

/* bare_addr - the addr-spec in v: the text inside <...> if present, else
 * v trimmed; "" for <>. */
static char *bare_addr(const char *v)
{
	const char *lt = strchr(v, '<'), *gt;
	char *u, *s;

	if (lt != NULL && (gt = strchr(lt + 1, '>')) != NULL) {
		u = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		s = unfold(u, INMAIL_FIELD_MAX);
		free(u);
		return s;
	}
	return unfold(v, INMAIL_FIELD_MAX);
}

static void add_rcpt(inmail *out, char *a)
{
	if (a == NULL)
		return;
	if (a[0] == '\0' || out->n_rcpts >= INMAIL_RCPTS_MAX) {
		free(a);
		return;
	}
	out->rcpts[out->n_rcpts++] = a;
}

static void take_ids(clist *l, char **ids, size_t *n)
{
	clistiter *it;

	if (l == NULL)
		return;
	for (it = clist_begin(l); it != NULL; it = clist_next(it)) {
		const char *id = clist_content(it);
		if (id == NULL || *n >= INMAIL_IDS_MAX)
			continue;
		ids[(*n)++] = unfold(id, INMAIL_FIELD_MAX);
	}
}

/* clean_utf8 - s made single-line: controls become spaces. NULL when s is
 * not valid UTF-8. */
static char *clean_utf8(char *s)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (!text_utf8_valid(s, i)) {
		free(s);
		return NULL;
	}
	return s;
}

static char *decode_subject(const char *raw)
{
	/* Raw 8-bit bytes: UTF-8 when they are valid UTF-8, else the usual
	 * Western client default. Encoded words carry their own charset. */
	static const char *const defaults[] = { "utf-8", "windows-1252" };
	char *u = unfold(raw, (size_t)-1), *dec, *res = NULL;
	size_t k = text_utf8_valid(u, strlen(u)) ? 0 : 1;

	for (; k < sizeof(defaults) / sizeof(defaults[0]) && res == NULL; k++) {
		size_t idx = 0;
		dec = NULL;
		if (mailmime_encoded_phrase_parse(defaults[k], u, strlen(u), &idx,
						  "utf-8", &dec) != MAILIMF_NO_ERROR) {
			free(dec);
			continue;
		}
		res = clean_utf8(dec);
	}
	free(u);
	if (res != NULL && strlen(res) > INMAIL_FIELD_MAX) {
		char *c = unfold(res, INMAIL_FIELD_MAX);
		free(res);
		res = c;
	}
	return res;
}

static void set_once(char **slot, const char *v)
{
	if (*slot == NULL && v != NULL)
		*slot = unfold(v, INMAIL_FIELD_MAX);
}

static void top_content_type(inmail *out, const char *v)
{
	struct mailmime_content *ct = NULL;
	size_t idx = 0;
	char *rt;

	if (mailmime_content_parse(v, strlen(v), &idx, &ct) != MAILIMF_NO_ERROR)
		return;
	if (ct->ct_type != NULL && ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
	    ct->ct_type->tp_data.tp_composite_type != NULL &&
	    ct->ct_type->tp_data.tp_composite_type->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART &&
	    ct->ct_subtype != NULL && strcasecmp(ct->ct_subtype, "report") == 0) {
		out->multipart_report = true;
		rt = mailmime_content_param_get(ct, "report-type");
		if (rt != NULL)
			out->report_type = unfold(rt, INMAIL_FIELD_MAX);
	}
	mailmime_content_free(ct);
}

/* take_fields - fill out's header members from a parsed header. */
static void take_fields(inmail *out, struct mailimf_fields *f)
{
	clistiter *it, *j;
	char *rp_raw = NULL, *deliv = NULL, *orig = NULL;
	clist *tos[64];
	size_t n_to = 0, k;
	bool have_ct = false, have_rp = false;

	for (it = clist_begin(f->fld_list); it != NULL; it = clist_next(it)) {
		struct mailimf_field *fl = clist_content(it);
		switch (fl->fld_type) {
		case MAILIMF_FIELD_MESSAGE_ID:
			if (out->message_id == NULL && fl->fld_data.fld_message_id->mid_value)
				out->message_id = unfold(fl->fld_data.fld_message_id->mid_value,
							 INMAIL_FIELD_MAX);
			break;
		case MAILIMF_FIELD_IN_REPLY_TO:
			take_ids(fl->fld_data.fld_in_reply_to->mid_list,
				 out->in_reply_to, &out->n_in_reply_to);
			break;
		case MAILIMF_FIELD_REFERENCES:
			take_ids(fl->fld_data.fld_references->mid_list,
				 out->references, &out->n_references);
			break;
		case MAILIMF_FIELD_SUBJECT:
			if (out->subject == NULL && fl->fld_data.fld_subject->sbj_value)
				out->subject = decode_subject(fl->fld_data.fld_subject->sbj_value);
			break;
		case MAILIMF_FIELD_FROM: {
			struct mailimf_mailbox_list *ml = fl->fld_data.fld_from->frm_mb_list;
			if (ml == NULL)
				break;
			for (j = clist_begin(ml->mb_list); j != NULL; j = clist_next(j)) {
				struct mailimf_mailbox *mb = clist_content(j);
				out->from_count++;
				if (out->from_count == 1 && mb->mb_addr_spec != NULL)
					out->from_addr = unfold(mb->mb_addr_spec, INMAIL_FIELD_MAX);
			}
			break;
		}
		case MAILIMF_FIELD_RETURN_PATH:
			if (!have_rp) {
				struct mailimf_path *p = fl->fld_data.fld_return_path->ret_path;
				have_rp = true;
				out->return_path = unfold(p != NULL && p->pt_addr_spec != NULL ?
							  p->pt_addr_spec : "", INMAIL_FIELD_MAX);
			}
			break;
		case MAILIMF_FIELD_TO:
			if (n_to < sizeof(tos) / sizeof(tos[0]) && fl->fld_data.fld_to->to_addr_list)
				tos[n_to++] = fl->fld_data.fld_to->to_addr_list->ad_list;
			break;
		case MAILIMF_FIELD_OPTIONAL_FIELD: {
			const char *nm = fl->fld_data.fld_optional_field->fld_name;
			const char *v = fl->fld_data.fld_optional_field->fld_value;
			if (nm == NULL || v == NULL)
				break;
			if (strcasecmp(nm, "Return-Path") == 0 && !have_rp)
				rp_raw = (char *)v, have_rp = true;
			else if (strcasecmp(nm, "Delivered-To") == 0 && deliv == NULL)
				deliv = (char *)v;
			else if (strcasecmp(nm, "X-Original-To") == 0 && orig == NULL)
				orig = (char *)v;
			else if (strcasecmp(nm, "Auto-Submitted") == 0)
				set_once(&out->auto_submitted, v);
			else if (strcasecmp(nm, "Precedence") == 0)
				set_once(&out->precedence, v);
			else if (strcasecmp(nm, "List-Id") == 0)
				set_once(&out->list_id, v);
			else if (strcasecmp(nm, "List-Unsubscribe") == 0)
				set_once(&out->list_unsubscribe, v);
			else if (strcasecmp(nm, "X-Auto-Response-Suppress") == 0)
				set_once(&out->x_auto_response_suppress, v);
			else if (strcasecmp(nm, "X-Autoreply") == 0)
				set_once(&out->x_autoreply, v);
			else if (strcasecmp(nm, "X-Autorespond") == 0)
				set_once(&out->x_autorespond, v);
			else if (strcasecmp(nm, "Authentication-Results") == 0)
				set_once(&out->authentication_results, v);
			else if (strcasecmp(nm, "Content-Type") == 0 && !have_ct) {
				have_ct = true;
				top_content_type(out, v);
			}
			break;
		}
		default:
			break;
		}
	}
	if (out->from_count != 1) {
		free(out->from_addr);
		out->from_addr = NULL;
	}
	if (rp_raw != NULL)
		out->return_path = bare_addr(rp_raw);
	if (deliv != NULL)
		add_rcpt(out, bare_addr(deliv));
	if (orig != NULL)
		add_rcpt(out, bare_addr(orig));
	for (k = 0; k < n_to; k++) {
		for (it = clist_begin(tos[k]); it != NULL; it = clist_next(it)) {
			struct mailimf_address *a = clist_content(it);
			if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
				if (a->ad_data.ad_mailbox->mb_addr_spec)
					add_rcpt(out, unfold(a->ad_data.ad_mailbox->mb_addr_spec,
							     INMAIL_FIELD_MAX));
			} else if (a->ad_type == MAILIMF_ADDRESS_GROUP &&
				   a->ad_data.ad_group->grp_mb_list != NULL) {
				for (j = clist_begin(a->ad_data.ad_group->grp_mb_list->mb_list);
				     j != NULL; j = clist_next(j)) {
					struct mailimf_mailbox *mb = clist_content(j);
					if (mb->mb_addr_spec)
						add_rcpt(out, unfold(mb->mb_addr_spec, INMAIL_FIELD_MAX));
				}
			}
		}
	}
}

#define COMMENT_DEPTH_MAX 256  /* libetpan parses nested comments recursively */
#define CT_NAMES_MAX (2 * INMAIL_PARTS_MAX + 2)  /* "Content-Type" names in a message */

/* ct_name_at - raw[i..len) starts with "Content-Type" (any case) as a
 * whole field name: followed by a byte that ends one in libetpan (a
 * control, a blank or ':'), after which it accepts blanks, comments and
 * folding before the colon. Found anywhere, not only at a line start: a
 * part's header may begin right after a boundary on the same line. */
static bool ct_name_at(const char *raw, size_t len, size_t i)
{
	static const char key[] = "content-type";
	const size_t k = sizeof(key) - 1;

	return len - i > k && strncasecmp(raw + i, key, k) == 0 &&
	       ((unsigned char)raw[i + k] <= ' ' || raw[i + k] == ':');
}

/* prescan - cheap bounds checked before libetpan parses anything: the
 * nesting of "(" within one (folded) line bounds libetpan's comment
 * recursion, which otherwise overflows the stack; and more Content-Type
 * names than the part limit can use, however spelled, refuse the message
 * outright (a backstop: shape_message below is what bounds the tree). */
static enum inmail_error prescan(const char *raw, size_t len)
{
	size_t i, n = 0, depth = 0;
	bool bol = true, esc = false;

	for (i = 0; i < len; i++) {
		char c = raw[i];
		if ((c == 'c' || c == 'C') && ct_name_at(raw, len, i) && ++n > CT_NAMES_MAX)
			return INMAIL_TOO_COMPLEX;
		if (esc) {
			esc = false;  /* quoted-pair: the byte after '\' */
			continue;
		}
		if (bol) {
			bol = false;
			if (c != ' ' && c != '\t')
				depth = 0;
		}
		if (c == '\n')
			bol = true;
		else if (c == '\\')
			esc = true;
		else if (c == '(' && ++depth > COMMENT_DEPTH_MAX)
			return INMAIL_UNPARSABLE;
		else if (c == ')' && depth > 0)
			depth--;
	}
	return INMAIL_OK;
}

/* comments_ok - the "(" nesting in s stays within COMMENT_DEPTH_MAX. */
static bool comments_ok(const char *s)
{
	size_t depth = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '(' && ++depth > COMMENT_DEPTH_MAX)
			return false;
		else if (*s == ')' && depth > 0)
			depth--;
	}
	return true;
}

/* --- the MIME tree, walked before libetpan builds it ----------------- */

/* libetpan builds the MIME tree recursively, a level per multipart or
 * embedded message, each level scanning its data again: deep nesting
 * overflows the stack or costs seconds before count_tree can see it. So
 * shape_message walks the same tree first, the way libetpan 1.9 does:
 * header fields by libetpan's own (non-recursive) parsers, and the
 * boundary scanning of mailmime_content.c below, state for state (mp_*;
 * all of them, like libetpan's, a bounded cursor over msg[0..len)). It
 * counts parts and levels as count_tree does and stops at the first limit
 * passed, so libetpan only parses a message whose tree is within them.
 * Where libetpan would give up on a multipart and drop its parts, the
 * walk still counts them: libetpan parsed them before dropping them. */

struct shape {
	size_t parts;
	enum inmail_error error;  /* INMAIL_OK while within the limits */
};

enum deftype { DEF_TEXT, DEF_MESSAGE };  /* a part without Content-Type */

/* mp_boundary - msg[*idx..) starts with boundary b (a prefix: libetpan
 * does not look at what follows it); moves *idx past it. */
static bool mp_boundary(const char *msg, size_t len, size_t *idx, const char *b)
{
	size_t bl = strlen(b);

	if (*idx + bl >= len || memcmp(msg + *idx, b, bl) != 0)
		return false;
	*idx += bl;
	return true;
}

/* mp_lwsp - past blanks at *idx; false when there are none. */
static bool mp_lwsp(const char *msg, size_t len, size_t *idx)
{
	size_t i = *idx;

	while (i < len && (msg[i] == ' ' || msg[i] == '\t'))
		i++;
	if (i == *idx)
		return false;
	*idx = i;
	return true;
}

/* mp_preamble - mailmime_preamble_parse: past the next "--" at a line
 * start (or at *idx when bol, or after a line break and one more byte). */
static bool mp_preamble(const char *msg, size_t len, size_t *idx, bool bol)
{
	enum { A0, A, A1, B, C, D, E } st = bol ? A0 : A;
	size_t i;

	for (i = *idx; st != E; i++) {
		char c;
		if (i >= len)
			return false;
		c = msg[i];
		switch (st) {
		case A0: st = c == '-' ? A1 : c == '\r' ? B : c == '\n' ? C : A; break;
		case A:  st = c == '\r' ? B : c == '\n' ? C : A; break;
		case A1: st = c == '-' ? E : c == '\r' ? B : c == '\n' ? C : A; break;
		case B:  st = c == '\r' ? B : c == '\n' ? C : c == '-' ? D : A0; break;
		case C:  st = c == '-' ? D : c == '\r' ? B : c == '\n' ? C : A0; break;
		case D:  st = c == '-' ? E : A; break;
		default: break;
		}
	}
	*idx = i;
	return true;
}

/* mp_dash2 - mailmime_body_part_dash2_parse: the data from *idx up to
 * the next line break, "--" and b (or up to the last line starting with
 * '-' when there is none, or the end), without the line break, at
 * *beg, *n bytes; *idx moves past b (or to the end). False when empty. */
static bool mp_dash2(const char *msg, size_t len, size_t *idx, const char *b, size_t *beg, size_t *n)
{
	enum { S0, S1, S2, S3, S4, S5 } st = S0;
	size_t i = *idx, end = len;

	while (st != S5 && i < len) {
		char c = msg[i];
		const char *nl;
		switch (st) {
		case S0:  /* only a '\n' leads on from S0 and S1: skip to it */
		case S1:
			if ((nl = memchr(msg + i, '\n', len - i)) == NULL) {
				i = len;
				continue;
			}
			i = (size_t)(nl - msg);
			st = S2;
			break;
		case S2:
			if (c == '-')
				end = i;
			st = c == '-' ? S3 : c == '\r' ? S1 : c == '\n' ? S2 : S0;
			break;
		case S3: st = c == '\r' ? S1 : c == '\n' ? S2 : c == '-' ? S4 : S0; break;
		case S4:
			st = mp_boundary(msg, len, &i, b) ? S5 : S0;
			continue;  /* the byte is looked at again in S0 */
		default: break;
		}
		i++;
	}
	if (end > *idx && msg[end - 1] == '\r')
		end--;
	else if (end > *idx && msg[end - 1] == '\n' && --end > *idx && msg[end - 1] == '\r')
		end--;
	if (end == *idx)
		return false;
	*beg = *idx;
	*n = end - *idx;
	*idx = i;
	return true;
}

/* mp_next - mailmime_multipart_next_parse: past blanks and a line break
 * at *idx, if they are there. */
static void mp_next(const char *msg, size_t len, size_t *idx)
{
	size_t i = *idx;

	while (i < len && (msg[i] == ' ' || msg[i] == '\t'))
		i++;
	if (i + 1 < len && msg[i] == '\r' && msg[i + 1] == '\n')
		*idx = i + 2;
	else if (i < len && msg[i] == '\n')
		*idx = i + 1;
}

/* mp_part - mailmime_body_part_dash2_transport_crlf_parse: a part ended
 * by a delimiter line (b, blanks, line break); *idx moves past it. */
static bool mp_part(const char *msg, size_t len, size_t *idx, const char *b, size_t *beg, size_t *n)
{
	size_t i = *idx, db, dn;

	for (;;) {
		if (!mp_dash2(msg, len, &i, b, &db, &dn))
			return false;
		while (mp_lwsp(msg, len, &i))
			;
		if (mailimf_crlf_parse(msg, len, &i) == MAILIMF_NO_ERROR)
			break;
	}
	*beg = *idx;
	*n = db + dn - *idx;
	*idx = i;
	return true;
}

/* mp_last_part - mailmime_body_part_dash2_close_parse: the last part,
 * ended by the close delimiter (b, "--") or the end of the data. */
static bool mp_last_part(const char *msg, size_t len, size_t *idx, const char *b, size_t *beg, size_t *n)
{
	size_t i = *idx, db, dn;

	for (;;) {
		if (!mp_dash2(msg, len, &i, b, &db, &dn))
			return false;
		if (i >= len || (i + 1 < len && msg[i] == '-' && msg[i + 1] == '-'))
			break;
	}
	*beg = *idx;
	*n = db + dn - *idx;
	*idx = i;
	return true;
}

/* shape_fields - the header at *idx of msg[0..len) as libetpan reads it
 * for an embedded message (envelope) or a part, and the line break after
 * it; its MIME fields in *mf (NULL when none). False (s->error set) when
 * a Content-Type value, once libetpan has decoded its RFC 2047 words,
 * nests comments deeper than the raw prescan can see. */
static bool shape_fields(struct shape *s, const char *msg, size_t len, size_t *idx, bool message,
			 struct mailmime_fields **mf)
{
	struct mailimf_fields *f = NULL;
	clistiter *it;
	char *dec;
	size_t di;
	int r;

	*mf = NULL;
	r = message ? mailimf_envelope_and_optional_fields_parse(msg, len, idx, &f)
		    : mailimf_optional_fields_parse(msg, len, idx, &f);
	if (r != MAILIMF_NO_ERROR || f == NULL)
		return true;  /* as libetpan: no fields */
	mailimf_crlf_parse(msg, len, idx);
	for (it = clist_begin(f->fld_list); it != NULL && s->error == INMAIL_OK; it = clist_next(it)) {
		struct mailimf_field *fl = clist_content(it);
		struct mailimf_optional_field *o;
		if (fl->fld_type != MAILIMF_FIELD_OPTIONAL_FIELD ||
		    (o = fl->fld_data.fld_optional_field) == NULL || o->fld_name == NULL ||
		    o->fld_value == NULL || strcasecmp(o->fld_name, "Content-Type") != 0)
			continue;
		dec = NULL;
		di = 0;
		if (!comments_ok(o->fld_value) ||
		    (mailmime_encoded_phrase_parse("us-ascii", o->fld_value, strlen(o->fld_value), &di,
						   "utf-8", &dec) == MAILIMF_NO_ERROR &&
		     dec != NULL && !comments_ok(dec)))
			s->error = INMAIL_UNPARSABLE;
		free(dec);
	}
	if (s->error == INMAIL_OK)
		mailmime_fields_parse(f, mf);  /* none: *mf stays NULL */
	mailimf_fields_free(f);
	return s->error == INMAIL_OK;
}

static void shape_entity(struct shape *s, const char *msg, size_t len, size_t idx,
			 enum deftype def, struct mailmime_fields *mf, size_t depth);

/* shape_multipart - the parts of the multipart body at idx of msg[0..len)
 * with boundary b, as mailmime_multipart_body_parse splits them. */
static void shape_multipart(struct shape *s, const char *msg, size_t len, size_t idx,
			    const char *b, enum deftype def, size_t depth)
{
	size_t cur = idx, start, pb, pn, hi;
	struct mailmime_fields *mf;
	bool last = false;

	if (mp_preamble(msg, len, &cur, true))
		while (!mp_boundary(msg, len, &cur, b) && mp_preamble(msg, len, &cur, false))
			;
	for (start = cur;; start = cur) {  /* blank lines before the first part */
		mp_lwsp(msg, len, &cur);
		if (mailimf_crlf_parse(msg, len, &cur) != MAILIMF_NO_ERROR)
			break;
	}
	cur = start;
	while (!last && s->error == INMAIL_OK) {
		if (!mp_part(msg, len, &cur, b, &pb, &pn)) {
			if (!mp_last_part(msg, len, &cur, b, &pb, &pn))
				return;
			last = true;
		}
		hi = 0;
		if (!shape_fields(s, msg + pb, pn, &hi, false, &mf))
			return;
		shape_entity(s, msg + pb, pn, hi, def, mf, depth);
		mp_next(msg, len, &cur);
	}
}

/* shape_entity - the entity with MIME fields mf (freed here) and body at
 * idx of msg[0..len), at count_tree's depth: as mailmime_parse_with_default
 * decides, a multipart (with a boundary), an embedded message/rfc822 (not
 * transfer-encoded), or a leaf. */
static void shape_entity(struct shape *s, const char *msg, size_t len, size_t idx,
			 enum deftype def, struct mailmime_fields *mf, size_t depth)
{
	struct mailmime_content *ct = NULL;
	struct mailmime_fields *sub;
	clistiter *it;
	char *b = NULL;
	bool message = false;
	int enc;

	if (s->error != INMAIL_OK)
		goto cleanup;
	if (depth > INMAIL_DEPTH_MAX || ++s->parts > INMAIL_PARTS_MAX) {
		s->error = INMAIL_TOO_COMPLEX;
		goto cleanup;
	}
	for (it = mf != NULL ? clist_begin(mf->fld_list) : NULL; it != NULL && ct == NULL; it = clist_next(it)) {
		struct mailmime_field *f = clist_content(it);
		if (f->fld_type == MAILMIME_FIELD_TYPE)
			ct = f->fld_data.fld_content;
	}
	if (ct == NULL) {
		message = def == DEF_MESSAGE;
	} else if (ct->ct_type != NULL && ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
		   ct->ct_type->tp_data.tp_composite_type != NULL) {
		switch (ct->ct_type->tp_data.tp_composite_type->ct_type) {
		case MAILMIME_COMPOSITE_TYPE_MULTIPART:
			b = mailmime_extract_boundary(ct);
			break;
		case MAILMIME_COMPOSITE_TYPE_MESSAGE:
			message = ct->ct_subtype != NULL && strcasecmp(ct->ct_subtype, "rfc822") == 0;
			break;
		default:
			break;
		}
	}
	enc = mf != NULL ? mailmime_transfer_encoding_get(mf) : MAILMIME_MECHANISM_8BIT;
	if (message && enc != MAILMIME_MECHANISM_QUOTED_PRINTABLE && enc != MAILMIME_MECHANISM_BASE64) {
		if (shape_fields(s, msg, len, &idx, true, &sub))
			shape_entity(s, msg, len, idx, DEF_TEXT, sub, depth + 1);
	} else if (b != NULL) {
		shape_multipart(s, msg, len, idx, b,
				ct->ct_subtype != NULL && strcasecmp(ct->ct_subtype, "digest") == 0 ?
				DEF_MESSAGE : DEF_TEXT, depth + 1);
	}
cleanup:
	free(b);
	if (mf != NULL)
		mailmime_fields_free(mf);
}

/* shape_message - INMAIL_OK when libetpan's tree of raw[0..len) stays
 * within INMAIL_PARTS_MAX and INMAIL_DEPTH_MAX (and its Content-Type
 * values within the comment nesting); else the error to report. The
 * walk's own recursion ends at INMAIL_DEPTH_MAX + 1 levels. */
static enum inmail_error shape_message(const char *raw, size_t len)
{
	struct shape s = { 0, INMAIL_OK };
	struct mailmime_fields *mf;
	size_t idx = 0;

	if (shape_fields(&s, raw, len, &idx, true, &mf))
		shape_entity(&s, raw, len, idx, DEF_TEXT, mf, 0);
	return s.error;
}

/* count_tree - every MIME entity below the top message counts as a part;
 * each multipart or embedded message adds a level. */
static bool count_tree(struct mailmime *m, size_t depth, size_t *parts)
{
	clistiter *it;

	if (m == NULL)
		return true;
	if (depth > INMAIL_DEPTH_MAX)
		return false;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		return ++*parts <= INMAIL_PARTS_MAX;
	case MAILMIME_MULTIPLE:
		if (++*parts > INMAIL_PARTS_MAX)
			return false;
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			if (!count_tree(clist_content(it), depth + 1, parts))
				return false;
		return true;
	case MAILMIME_MESSAGE:
		if (m->mm_parent != NULL && ++*parts > INMAIL_PARTS_MAX)
			return false;
		return count_tree(m->mm_data.mm_message.mm_msg_mime,
				  m->mm_parent != NULL ? depth + 1 : depth, parts);
	default:
		return true;
	}
}

/* --- which parts hold the text ---------------------------------------- */

enum kind { K_NONE, K_PLAIN, K_HTML };

/* param_is - parameter name nm is base or one of its RFC 2231 forms
 * (base*, base*0, base*0*, ...), ASCII case-insensitive. */
static bool param_is(const char *nm, const char *base)
{
	size_t k = strlen(base);

	return nm != NULL && strncasecmp(nm, base, k) == 0 && (nm[k] == '\0' || nm[k] == '*');
}

/* is_attachment - Content-Disposition: attachment, or a file name (a
 * filename parameter of the disposition, a name parameter of the
 * Content-Type). */
static bool is_attachment(struct mailmime *m)
{
	clistiter *it, *j;

	if (m->mm_content_type != NULL)
		for (it = clist_begin(m->mm_content_type->ct_parameters); it; it = clist_next(it)) {
			struct mailmime_parameter *p = clist_content(it);
			if (p != NULL && param_is(p->pa_name, "name"))
				return true;
		}
	if (m->mm_mime_fields == NULL)
		return false;
	for (it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
		struct mailmime_field *f = clist_content(it);
		struct mailmime_disposition *d;
		if (f->fld_type != MAILMIME_FIELD_DISPOSITION || (d = f->fld_data.fld_disposition) == NULL)
			continue;
		if (d->dsp_type != NULL && d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
			return true;
		for (j = clist_begin(d->dsp_parms); j; j = clist_next(j)) {
			struct mailmime_disposition_parm *p = clist_content(j);
			if (p->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME ||
			    (p->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER && p->pa_data.pa_parameter != NULL &&
			     param_is(p->pa_data.pa_parameter->pa_name, "filename")))
				return true;
		}
	}
	return false;
}

static enum kind single_kind(struct mailmime *m)
{
	struct mailmime_content *ct = m->mm_content_type;

	if (ct == NULL)
		return K_PLAIN;  /* default text/plain; us-ascii */
	if (ct->ct_type == NULL || ct->ct_type->tp_type != MAILMIME_TYPE_DISCRETE_TYPE ||
	    ct->ct_type->tp_data.tp_discrete_type == NULL ||
	    ct->ct_type->tp_data.tp_discrete_type->dt_type != MAILMIME_DISCRETE_TYPE_TEXT ||
	    ct->ct_subtype == NULL)
		return K_NONE;
	if (strcasecmp(ct->ct_subtype, "plain") == 0)
		return K_PLAIN;
	if (strcasecmp(ct->ct_subtype, "html") == 0)
		return K_HTML;
	return K_NONE;
}

/* offers - m's subtree has a part of kind k that gather could read. */
static bool offers(struct mailmime *m, enum kind k)
{
	clistiter *it;

	if (m == NULL || is_attachment(m))
		return false;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		return single_kind(m) == k;
	case MAILMIME_MESSAGE:
		return m->mm_parent == NULL && offers(m->mm_data.mm_message.mm_msg_mime, k);
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			if (offers(clist_content(it), k))
				return true;
		return false;
	default:
		return false;
	}
}

/* The parts the text is read from, in document order. */
struct textpart {
	struct mailmime *m;
	enum kind kind;
};

struct textparts {
	struct textpart p[INMAIL_PARTS_MAX];
	size_t n;
};

/* gather - the parts of m's subtree that hold the person's text: every
 * text/plain and text/html part that is not an attachment, embedded
 * messages left out. Of a multipart/alternative one alternative: the
 * first offering text/plain (else the last offering text/html) or, with
 * html_first, the last offering text/html (else the first offering
 * text/plain). *choice is set when an alternative's choice depends on
 * html_first. Recursion is bounded by the tree's depth (count_tree). */
static void gather(struct mailmime *m, bool html_first, struct textparts *l, bool *choice)
{
	struct mailmime *plain = NULL, *html = NULL, *c;
	clistiter *it;
	enum kind k;

	if (m == NULL || is_attachment(m))
		return;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		k = single_kind(m);
		if (k != K_NONE && l->n < INMAIL_PARTS_MAX)
			l->p[l->n++] = (struct textpart){ m, k };
		return;
	case MAILMIME_MESSAGE:
		if (m->mm_parent == NULL)
			gather(m->mm_data.mm_message.mm_msg_mime, html_first, l, choice);
		return;
	case MAILMIME_MULTIPLE:
		if (m->mm_content_type == NULL || m->mm_content_type->ct_subtype == NULL ||
		    strcasecmp(m->mm_content_type->ct_subtype, "alternative") != 0) {
			for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
				gather(clist_content(it), html_first, l, choice);
			return;
		}
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it)) {
			c = clist_content(it);
			if (plain == NULL && offers(c, K_PLAIN))
				plain = c;
			if (offers(c, K_HTML))
				html = c;
		}
		if (plain != NULL && html != NULL && plain != html)
			*choice = true;
		if (html_first)
			gather(html != NULL ? html : plain, html_first, l, choice);
		else
			gather(plain != NULL ? plain : html, html_first, l, choice);
		return;
	default:
		return;
	}
}

/* to_utf8 - dec[0..n) in charset cs as UTF-8 in *out (strbuf, no NUL
 * inside). -1 when the charset is unknown or the bytes are not valid. */
static int to_utf8(const char *dec, size_t n, const char *cs, strbuf *out)
{
	char *conv = NULL;
	size_t clen = 0, i;
	bool ascii = true;

	for (i = 0; i < n; i++)
		if ((unsigned char)dec[i] >= 0x80)
			ascii = false;
	if (cs == NULL || strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
	    strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 || ascii) {
		if (!ascii && !text_utf8_valid(dec, n))
			return -1;
		if (memchr(dec, '\0', n) != NULL)
			return -1;
		strbuf_add(out, dec, n);
		return 0;
	}
	if (charconv_buffer("utf-8", cs, dec, n, &conv, &clen) != MAIL_CHARCONV_NO_ERROR || conv == NULL)
		return -1;
	if (!text_utf8_valid(conv, clen)) {
		charconv_buffer_free(conv);
		return -1;
	}
	strbuf_add(out, conv, clen);
	charconv_buffer_free(conv);
	return 0;
}

/* normalize - CRLF and bare CR to LF, in place. */
static void normalize(strbuf *b)
{
	size_t i, o = 0;

	for (i = 0; i < b->len; i++) {
		if (b->s[i] == '\r') {
			if (i + 1 < b->len && b->s[i + 1] == '\n')
				continue;
			b->s[o++] = '\n';
			continue;
		}
		b->s[o++] = b->s[i];
	}
	b->len = o;
	if (b->s != NULL)
		b->s[o] = '\0';
}

/* unflow - RFC 3676: join soft-broken lines of the same quote depth. */
static char *unflow(const char *s, size_t n, bool delsp)
{
	strbuf b = { 0 };
	size_t i = 0, prev_depth = 0;
	bool joining = false;

	strbuf_add(&b, "", 0);
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n, p = i, depth = 0, ll;
		bool flowed;

		while (p < end && s[p] == '>') {
			depth++;
			p++;
		}
		if (p < end && s[p] == ' ')
			p++;  /* space-stuffing, or the space after the quote marks */
		ll = end - p;
		flowed = ll > 0 && s[p + ll - 1] == ' ' && !(ll == 3 && memcmp(s + p, "-- ", 3) == 0);
		if (joining && depth != prev_depth)
			strbuf_add(&b, "\n", 1);
		if (!joining || depth != prev_depth) {
			size_t q;
			for (q = 0; q < depth; q++)
				strbuf_add(&b, ">", 1);
			if (depth > 0)
				strbuf_add(&b, " ", 1);
		}
		if (flowed && delsp)
			ll--;
		strbuf_add(&b, s + p, ll);
		if (!flowed)
			strbuf_add(&b, "\n", 1);
		joining = flowed;
		prev_depth = depth;
		i = end + 1;
	}
	if (b.len > 0 && b.s[b.len - 1] == '\n' && (n == 0 || s[n - 1] != '\n'))
		b.s[--b.len] = '\0';
	return b.s;
}

/* --- HTML to text ---------------------------------------------------- */

struct html_walk {
	strbuf b;
	bool stop;
	bool space;  /* last emitted was whitespace */
	size_t pre;  /* <pre> elements open: their line breaks are kept */
};

static bool has_word(const char *v, const char *w)
{
	return v != NULL && strstr(v, w) != NULL;
}

static void emit_nl(struct html_walk *w)
{
	if (w->b.len > 0 && w->b.s[w->b.len - 1] != '\n') {
		while (w->b.len > 0 && w->b.s[w->b.len - 1] == ' ')
			w->b.s[--w->b.len] = '\0';
		strbuf_add(&w->b, "\n", 1);
	}
	w->space = true;
}

static bool is_block(const char *n)
{
	static const char *const blocks[] = { "p", "div", "li", "tr", "h1", "h2", "h3", "h4",
		"h5", "h6", "table", "ul", "ol", "pre", "hr", "dt", "dd", "section", "article",
		"header", "footer", "address", "body", "center", "form", NULL };
	size_t i;

	for (i = 0; blocks[i] != NULL; i++)
		if (strcasecmp(n, blocks[i]) == 0)
			return true;
	return false;
}

static void emit_text(struct html_walk *w, const char *t)
{
	for (; *t != '\0'; t++) {
		unsigned char c = (unsigned char)*t;
		if (c == 0xC2 && (unsigned char)t[1] == 0xA0) {  /* nbsp */
			t++;
			c = ' ';
		}
		if (c == '\n' && w->pre > 0) {
			strbuf_add(&w->b, "\n", 1);
			w->space = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
			if (!w->space)
				strbuf_add(&w->b, " ", 1);
			w->space = true;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			continue;
		strbuf_add(&w->b, (const char *)&c, 1);
		w->space = false;
	}
}

static void walk_html(struct html_walk *w, xmlNode *n, int depth)
{
	for (; n != NULL && !w->stop; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			if (n->content != NULL)
				emit_text(w, (const char *)n->content);
			continue;
		}
		if (n->type != XML_ELEMENT_NODE || n->name == NULL)
			continue;
		const char *nm = (const char *)n->name;
		xmlChar *cls = xmlGetProp(n, (const xmlChar *)"class");
		xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
		bool skip = strcasecmp(nm, "blockquote") == 0 || strcasecmp(nm, "script") == 0 ||
			    strcasecmp(nm, "style") == 0 || strcasecmp(nm, "head") == 0 ||
			    strcasecmp(nm, "title") == 0 ||
			    has_word((const char *)cls, "gmail_quote") ||
			    has_word((const char *)cls, "moz-cite-prefix") ||
			    has_word((const char *)cls, "yahoo_quoted") ||
			    (id != NULL && strcasecmp((const char *)id, "appendonsend") == 0);
		bool stop = (id != NULL && strcasecmp((const char *)id, "divRplyFwdMsg") == 0) ||
			    (id != NULL && strcasecmp(nm, "hr") == 0 &&
			     strcasecmp((const char *)id, "stopSpelling") == 0);
		xmlFree(cls);
		xmlFree(id);
		if (stop) {
			w->stop = true;
			break;
		}
		if (skip)
			continue;
		if (strcasecmp(nm, "br") == 0) {
			strbuf_add(&w->b, "\n", 1);
			w->space = true;
			continue;
		}
		bool block = is_block(nm), pre = strcasecmp(nm, "pre") == 0;
		if (block)
			emit_nl(w);
		w->pre += pre;
		if (depth < 200)
			walk_html(w, n->children, depth + 1);
		w->pre -= pre;
		if (block)
			emit_nl(w);
	}
}

static char *html_to_text(const char *s, size_t n)
{
	struct html_walk w = { { 0 }, false, true, 0 };
	htmlDocPtr doc;

	if (n > (size_t)0x7fffffff)
		return NULL;
	doc = htmlReadMemory(s, (int)n, NULL, "UTF-8",
			     HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
			     HTML_PARSE_RECOVER);
	strbuf_add(&w.b, "", 0);
	if (doc != NULL) {
		walk_html(&w, xmlDocGetRootElement(doc), 0);
		xmlFreeDoc(doc);
	}
	/* trim trailing blanks and newlines */
	while (w.b.len > 0 && (w.b.s[w.b.len - 1] == '\n' || w.b.s[w.b.len - 1] == ' '))
		w.b.s[--w.b.len] = '\0';
	return w.b.s;
}

/* decode_data - the transfer-decoded bytes of the first max encoded
 * bytes of d (all of them when max is 0) in *dec (free with
 * mmap_string_unref) and *declen. -1 when d holds no bytes in memory or
 * libetpan refuses them. */
static int decode_data(const struct mailmime_data *d, size_t max, char **dec, size_t *declen)
{
	char *copy;
	size_t n, idx = 0;
	int enc, r;

	*dec = NULL;
	*declen = 0;
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT)
		return -1;
	enc = d->dt_encoded ? d->dt_encoding : MAILMIME_MECHANISM_8BIT;
	n = d->dt_data.dt_text.dt_length;
	if (max > 0 && n > max)
		n = max;
	/* libetpan's quoted-printable decoder reads two bytes past an escape
	 * cut off at the end of the data: decode a padded copy with any such
	 * incomplete escape removed. */
	copy = xcalloc(1, n + 4);
	if (n > 0)
		memcpy(copy, d->dt_data.dt_text.dt_data, n);
	if (enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE) {
		if (n >= 1 && copy[n - 1] == '=')
			n -= 1;
		else if (n >= 2 && copy[n - 2] == '=')
			n -= 2;
		copy[n] = '\0';
	}
	r = mailmime_part_parse(copy, n, &idx, enc, dec, declen);
	free(copy);  /* the result is libetpan's own copy */
	if (r != MAILIMF_NO_ERROR || *dec == NULL) {
		*dec = NULL;
		*declen = 0;
		return -1;
	}
	return 0;
}

/* part_text - the text of part as UTF-8 in *res: transfer encoding and
 * charset decoded, CRLF as LF, format=flowed joined, HTML as text. The
 * HTML handed to libxml2 is counted in *html: a part that would take it
 * past INMAIL_HTML_MAX, transfer-decoded or as UTF-8, is not parsed (nor
 * decoded, when its size shows it). 0, TEXT_UNDECODABLE or TEXT_HTML_OVER. */
enum { TEXT_UNDECODABLE = -1, TEXT_HTML_OVER = -2 };

static int part_text(struct mailmime *part, enum kind kind, size_t *html, char **res)
{
	struct mailmime_data *d = part->mm_data.mm_single;
	char *dec = NULL, *cs = NULL, *fmt, *delsp;
	size_t declen = 0;
	strbuf u = { 0 };
	int ret = TEXT_UNDECODABLE;

	*res = NULL;
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT) {
		*res = xstrdup("");
		return 0;
	}
	if (kind == K_HTML && d->dt_data.dt_text.dt_length > INMAIL_HTML_MAX - *html &&
	    (!d->dt_encoded || d->dt_encoding == MAILMIME_MECHANISM_7BIT ||
	     d->dt_encoding == MAILMIME_MECHANISM_8BIT || d->dt_encoding == MAILMIME_MECHANISM_BINARY))
		return TEXT_HTML_OVER;  /* decoding keeps every byte */
	if (decode_data(d, 0, &dec, &declen) < 0)
		goto cleanup;
	if (kind == K_HTML && declen > INMAIL_HTML_MAX - *html) {
		ret = TEXT_HTML_OVER;
		goto cleanup;
	}
	if (part->mm_content_type != NULL)
		cs = mailmime_content_param_get(part->mm_content_type, "charset");
	strbuf_add(&u, "", 0);
	if (to_utf8(dec, declen, cs, &u) < 0)
		goto cleanup;
	normalize(&u);
	if (kind == K_HTML) {
		if (u.len > INMAIL_HTML_MAX - *html) {
			ret = TEXT_HTML_OVER;
			goto cleanup;
		}
		*html += u.len;
		*res = html_to_text(u.s, u.len);
	} else {
		fmt = part->mm_content_type ? mailmime_content_param_get(part->mm_content_type, "format") : NULL;
		delsp = part->mm_content_type ? mailmime_content_param_get(part->mm_content_type, "delsp") : NULL;
		if (fmt != NULL && strcasecmp(fmt, "flowed") == 0) {
			*res = unflow(u.s, u.len, delsp != NULL && strcasecmp(delsp, "yes") == 0);
		} else {
			*res = u.s;
			u.s = NULL;
		}
	}
	if (*res == NULL || !text_utf8_valid(*res, strlen(*res))) {
		free(*res);
		*res = NULL;
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (dec != NULL)
		mmap_string_unref(dec);
	free(u.s);
	return ret;
}

/* render - the texts of the parts in l, empty ones left out, joined by a
 * blank line, in *res (NULL when l is empty). The HTML of all of them
 * counts against INMAIL_HTML_MAX together. 0 or part_text's error. */
static int render(const struct textparts *l, char **res)
{
	strbuf b = { 0 };
	size_t i, html = 0;
	char *t;
	int r;

	*res = NULL;
	if (l->n == 0)
		return 0;
	strbuf_add(&b, "", 0);
	for (i = 0; i < l->n; i++) {
		if ((r = part_text(l->p[i].m, l->p[i].kind, &html, &t)) < 0) {
			free(b.s);
			return r;
		}
		if (t[0] != '\0' && b.len > 0)
			strbuf_add(&b, b.s[b.len - 1] == '\n' ? "\n" : "\n\n", b.s[b.len - 1] == '\n' ? 1 : 2);
		strbuf_add(&b, t, strlen(t));
		free(t);
	}
	*res = b.s;
	return 0;
}

/* take_text - out->text from root's parts, and out->alt_text when a
 * multipart/alternative gave a choice between text/plain and text/html.
 * On an error neither is set and *why says what went wrong. */
static int take_text(inmail *out, struct mailmime *root, const char **why)
{
	struct textparts *l = xcalloc(1, sizeof(*l));
	bool choice = false;
	int r;

	gather(root, false, l, &choice);
	r = render(l, &out->text);
	if (r == 0 && choice) {
		l->n = 0;
		gather(root, true, l, &choice);
		r = render(l, &out->alt_text);
	}
	free(l);
	if (r == 0)
		return 0;
	free(out->text);
	out->text = NULL;
	*why = r == TEXT_HTML_OVER ? "HTML text over INMAIL_HTML_MAX, not read" :
				     "text part charset unknown or broken";
	return -1;
}

/* --- delivery reports and bounces ------------------------------------ */

#define MSGID_MAX 998  /* a returned Message-ID longer than a header line is not kept */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* next_line - the line at *pos of s[0..n), without its LF or CRLF, in
 * *line and *ll; moves *pos past it. false when *pos is at the end, so a
 * loop over it makes at most n + 1 calls. */
static bool next_line(const char *s, size_t n, size_t *pos, const char **line, size_t *ll)
{
	const char *nl;
	size_t end;

	if (*pos >= n)
		return false;
	nl = memchr(s + *pos, '\n', n - *pos);
	end = nl != NULL ? (size_t)(nl - s) : n;
	*line = s + *pos;
	*ll = end - *pos;
	if (*ll > 0 && (*line)[*ll - 1] == '\r')
		(*ll)--;
	*pos = nl != NULL ? end + 1 : n;
	return true;
}

/* blank - line[0..ll) is empty or holds only blanks. */
static bool blank(const char *line, size_t ll)
{
	size_t i;

	for (i = 0; i < ll; i++)
		if (!is_wsp(line[i]))
			return false;
	return true;
}

/* field_at - when line[0..ll) starts the header field name (ASCII
 * case-insensitive, blanks allowed before the colon), the offset of its
 * value; else 0. */
static size_t field_at(const char *line, size_t ll, const char *name)
{
	size_t k = strlen(name), i;

	if (ll <= k || strncasecmp(line, name, k) != 0)
		return 0;
	for (i = k; i < ll && is_wsp(line[i]); i++)
		;
	return i < ll && line[i] == ':' ? i + 1 : 0;
}

/* token_ok - s[0..n) is 1..max bytes of valid UTF-8 without blanks,
 * controls, NUL or any byte of bad. */
static bool token_ok(const char *s, size_t n, size_t max, const char *bad)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || strchr(bad, c) != NULL)
			return false;
	}
	return text_utf8_valid(s, n);
}

/* addr_ok - s[0..n) can be an addr-spec: a token of at most ADDR_MAX
 * bytes with an '@' that is neither first nor last. */
static bool addr_ok(const char *s, size_t n)
{
	const char *at;

	if (!token_ok(s, n, ADDR_MAX, "<>(),;\""))
		return false;
	at = memrchr(s, '@', n);
	return at != NULL && at != s && at != s + n - 1;
}

/* add_unique - append a copy of s[0..n) to list (*count of max) unless
 * it is full or holds an equal entry (ASCII case-insensitive). */
static void add_unique(char **list, size_t *count, size_t max, const char *s, size_t n)
{
	size_t i;

	if (*count >= max)
		return;
	for (i = 0; i < *count; i++)
		if (strlen(list[i]) == n && strncasecmp(list[i], s, n) == 0)
			return;
	list[(*count)++] = xstrndup(s, n);
}

static void add_orig_id(inmail *out, const char *s, size_t n)
{
	if (token_ok(s, n, MSGID_MAX, "<>"))
		add_unique(out->orig_msgids, &out->n_orig_msgids, INMAIL_ORIG_IDS_MAX, s, n);
}

static void add_dsn_rcpt(inmail *out, const char *s, size_t n)
{
	if (addr_ok(s, n))
		add_unique(out->dsn_rcpts, &out->n_dsn_rcpts, INMAIL_DSN_RCPTS_MAX, s, n);
}

/* status_len - the length of the enhanced status code (RFC 3463: class 2,
 * 4 or 5, then two numbers of 1 to 3 digits, dot-separated) that s[0..n)
 * starts with, when no digit, letter or dot follows it; else 0. */
static size_t status_len(const char *s, size_t n)
{
	size_t i = 2, part, digits;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < n && digits < 4 && isdigit((unsigned char)s[i]); digits++)
			i++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.'))
		return 0;
	return i;
}

static void set_status(inmail *out, const char *s, size_t n)
{
	if (out->dsn_status == NULL)
		out->dsn_status = xstrndup(s, n);
}

/* line_status - the first status code standing on its own in line[0..ll)
 * (not part of a longer number such as an IP address) as dsn_status. */
static bool line_status(const char *line, size_t ll, inmail *out)
{
	size_t i, k;

	for (i = 0; i < ll; i++) {
		if (i > 0 && (isalnum((unsigned char)line[i - 1]) || line[i - 1] == '.'))
			continue;
		if ((k = status_len(line + i, ll - i)) > 0) {
			set_status(out, line + i, k);
			return true;
		}
	}
	return false;
}

/* The message/delivery-status body (RFC 3464 2.1): groups of header-like
 * fields separated by blank lines, the per-message group first, then one
 * per recipient. Only Final-Recipient, Original-Recipient, Action and
 * Status are read, and the per-message group carries none of them, so
 * every group is read the same way: a group with an Action is a
 * recipient's. The first field of each kind in a group counts. */
enum dsn_field { DF_NONE, DF_FINAL, DF_ORIG, DF_ACTION, DF_STATUS };

struct dsn_group {
	char final[ADDR_MAX + 1], orig[ADDR_MAX + 1];  /* "" when absent or unusable */
	char status[16];                               /* "" when absent or malformed */
	bool has_final, has_orig, has_action, failed;
};

struct dsn_reader {
	struct dsn_group g;
	enum dsn_field f;                 /* the field being read */
	char v[INMAIL_DSN_VALUE_MAX + 1]; /* its value so far, folded lines joined */
	size_t vlen;
	bool over;                        /* the value outgrew v: it is ignored */
	bool any_action, any_failed;      /* over all groups read */
};

static void dsn_value_add(struct dsn_reader *p, const char *s, size_t n)
{
	if (p->over || n > INMAIL_DSN_VALUE_MAX - p->vlen) {
		p->over = true;
		return;
	}
	memcpy(p->v + p->vlen, s, n);
	p->vlen += n;
	p->v[p->vlen] = '\0';
}

/* dsn_addr - the address of a recipient field "type; addr": after the
 * first ';' (all of the value without one), blanks skipped, the text
 * inside <> or else the first word; into dst when it is usable. */
static void dsn_addr(const char *v, size_t n, char dst[ADDR_MAX + 1])
{
	const char *semi = memchr(v, ';', n), *end = v + n, *p = semi != NULL ? semi + 1 : v, *q;

	while (p < end && is_wsp(*p))
		p++;
	if (p < end && *p == '<') {
		p++;
		q = memchr(p, '>', (size_t)(end - p));
		if (q == NULL)
			return;
	} else {
		for (q = p; q < end && !is_wsp(*q); q++)
			;
	}
	if (addr_ok(p, (size_t)(q - p))) {
		memcpy(dst, p, (size_t)(q - p));
		dst[q - p] = '\0';
	}
}

/* dsn_field_end - the field read so far goes into the group. */
static void dsn_field_end(struct dsn_reader *p)
{
	struct dsn_group *g = &p->g;
	size_t i = 0, k;

	while (i < p->vlen && is_wsp(p->v[i]))
		i++;
	if (!p->over) {
		switch (p->f) {
		case DF_FINAL:
			if (!g->has_final)
				dsn_addr(p->v, p->vlen, g->final);
			g->has_final = true;
			break;
		case DF_ORIG:
			if (!g->has_orig)
				dsn_addr(p->v, p->vlen, g->orig);
			g->has_orig = true;
			break;
		case DF_ACTION:
			if (!g->has_action)
				g->failed = p->vlen - i >= 6 && strncasecmp(p->v + i, "failed", 6) == 0 &&
					    (p->vlen - i == 6 || !isalnum((unsigned char)p->v[i + 6]));
			g->has_action = true;
			break;
		case DF_STATUS:
			if (g->status[0] == '\0' && (k = status_len(p->v + i, p->vlen - i)) > 0) {
				memcpy(g->status, p->v + i, k);
				g->status[k] = '\0';
			}
			break;
		default:
			break;
		}
	}
	p->f = DF_NONE;
	p->vlen = 0;
	p->over = false;
	p->v[0] = '\0';
}

/* dsn_group_end - a group with Action: failed adds its recipient (Final-,
 * else Original-Recipient) and, first, its Status. */
static void dsn_group_end(struct dsn_reader *p, inmail *out)
{
	struct dsn_group *g = &p->g;

	dsn_field_end(p);
	if (g->has_action) {
		p->any_action = true;
		if (g->failed) {
			const char *a = g->final[0] != '\0' ? g->final : g->orig;
			p->any_failed = true;
			add_dsn_rcpt(out, a, strlen(a));
			if (g->status[0] != '\0')
				set_status(out, g->status, strlen(g->status));
		}
	}
	memset(g, 0, sizeof(*g));
}

/* dsn_read - the groups of the delivery-status body s[0..n). A line
 * without a colon ends the field before it and is skipped; a value over
 * INMAIL_DSN_VALUE_MAX is ignored; whitespace-only lines separate groups. */
static void dsn_read(const char *s, size_t n, struct dsn_reader *p, inmail *out)
{
	static const struct { const char *name; enum dsn_field f; } names[] = {
		{ "Final-Recipient", DF_FINAL }, { "Original-Recipient", DF_ORIG },
		{ "Action", DF_ACTION }, { "Status", DF_STATUS },
	};
	const char *line;
	size_t pos = 0, ll, off, k;

	while (next_line(s, n, &pos, &line, &ll)) {
		if (blank(line, ll)) {
			dsn_group_end(p, out);
			continue;
		}
		if (is_wsp(line[0])) {
			if (p->f != DF_NONE)
				dsn_value_add(p, line, ll);
			continue;
		}
		dsn_field_end(p);
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if ((off = field_at(line, ll, names[k].name)) > 0) {
				p->f = names[k].f;
				dsn_value_add(p, line + off, ll - off);
				break;
			}
		}
	}
	dsn_group_end(p, out);
}

/* header_msgid - the <id> of the first Message-ID field (folded lines
 * joined) in the header section at the start of s[0..n), blank lines
 * before it skipped; added to orig_msgids. */
static void header_msgid(const char *s, size_t n, inmail *out)
{
	strbuf b = { .max = INMAIL_FIELD_MAX };
	const char *line, *lt, *gt;
	size_t pos = 0, ll, off;
	bool started = false, in_id = false;

	while (next_line(s, n, &pos, &line, &ll)) {
		if (blank(line, ll)) {
			if (started)
				break;
			continue;
		}
		started = true;
		if (is_wsp(line[0])) {
			if (in_id)
				strbuf_add(&b, line, ll);
			continue;
		}
		if (in_id)
			break;
		if ((off = field_at(line, ll, "Message-ID")) > 0) {
			in_id = true;
			strbuf_add(&b, "", 0);
			strbuf_add(&b, line + off, ll - off);
		}
	}
	if (in_id && !b.over && b.s != NULL && (lt = memchr(b.s, '<', b.len)) != NULL &&
	    (gt = memchr(lt + 1, '>', b.len - (size_t)(lt + 1 - b.s))) != NULL)
		add_orig_id(out, lt + 1, (size_t)(gt - lt - 1));
	free(b.s);
}

/* scan_ids - every "<consent.HEX@DOMAIN>" (32 hex digits) and
 * "<receipt.HEX@DOMAIN>" (1 to 64) in s[0..n), DOMAIN being letters,
 * digits, '.' and '-' up to ADDR_DOMAIN_MAX: added to orig_msgids. A
 * candidate stops at the first byte that does not fit, which a '<' never
 * does, so no byte is looked at for more than one candidate. */
static void scan_ids(const char *s, size_t n, inmail *out)
{
	const char *p = s, *end = s + n, *lt, *id, *h, *d;
	size_t hexn, dn, need;

	while (out->n_orig_msgids < INMAIL_ORIG_IDS_MAX && p < end &&
	       (lt = memchr(p, '<', (size_t)(end - p))) != NULL) {
		id = lt + 1;
		p = id;
		if (end - id < 8)
			break;
		if (strncasecmp(id, "consent.", 8) == 0)
			need = 32;
		else if (strncasecmp(id, "receipt.", 8) == 0)
			need = 0;
		else
			continue;
		h = id + 8;
		for (hexn = 0; h + hexn < end && hexn <= 64 && isxdigit((unsigned char)h[hexn]); hexn++)
			;
		if (hexn == 0 || hexn > 64 || (need != 0 && hexn != need) ||
		    h + hexn >= end || h[hexn] != '@')
			continue;
		d = h + hexn + 1;
		for (dn = 0; d + dn < end && dn <= ADDR_DOMAIN_MAX &&
		     (isalnum((unsigned char)d[dn]) || d[dn] == '.' || d[dn] == '-'); dn++)
			;
		if (dn == 0 || dn > ADDR_DOMAIN_MAX || d + dn >= end || d[dn] != '>')
			continue;
		add_orig_id(out, id, (size_t)(d + dn - id));
		p = d + dn + 1;
	}
}

/* text_rcpts - failed recipients of a plain-text bounce s[0..n): lines
 * "<addr>:" alone or followed by a blank and the reason (Postfix's and
 * qmail's form), and lines of two blanks and an address alone after a
 * line ending "failed:" (Exim's "The following address(es) failed:"),
 * read up to the first line starting "---" (where qmail, Exim and others
 * begin the copy of the message). The first status code on such a line or
 * the lines after it, up to a blank line, becomes dsn_status. */
static void text_rcpts(const char *s, size_t n, inmail *out)
{
	static const char exim_intro[] = "failed:";
	const char *line, *gt;
	size_t pos = 0, ll, al;
	bool want_status = false, exim = false, found;

	while (next_line(s, n, &pos, &line, &ll)) {
		if (ll >= 3 && memcmp(line, "---", 3) == 0)
			break;
		if (blank(line, ll)) {
			want_status = false;
			continue;
		}
		found = false;
		if (line[0] == '<' && (gt = memchr(line + 1, '>', ll - 1)) != NULL) {
			al = (size_t)(gt - line - 1);
			found = al + 3 <= ll && gt[1] == ':' && (al + 3 == ll || is_wsp(gt[2])) &&
				addr_ok(line + 1, al);
			if (found)
				add_dsn_rcpt(out, line + 1, al);
		} else if (exim && ll > 2 && line[0] == ' ' && line[1] == ' ' && addr_ok(line + 2, ll - 2)) {
			found = true;
			add_dsn_rcpt(out, line + 2, ll - 2);
		}
		if (found)
			want_status = out->dsn_status == NULL;
		else if (ll >= sizeof(exim_intro) - 1 &&
			 memcmp(line + ll - (sizeof(exim_intro) - 1), exim_intro, sizeof(exim_intro) - 1) == 0)
			exim = true;
		if (want_status && line_status(line, ll, out))
			want_status = false;
	}
}

/* What MTAs put in the Subject of a classic bounce (Postfix, Exchange in
 * English, German and French, Gmail, Exim, qmail, Sendmail, Lotus);
 * matched anywhere in the subject, case-insensitively. */
static const char *const bounce_subjects[] = {
	"Undelivered Mail", "Undeliverable", "Unzustellbar", "Nicht zustellbar",
	"Delivery Status Notification (Failure)", "Delivery Failure", "Delivery has failed",
	"Mail delivery failed", "failure notice", "Returned mail", "Non remis",
};

/* bounce_sender - the null sender, or From MAILER-DAEMON@ or postmaster@. */
static bool bounce_sender(const inmail *m)
{
	const char *at;
	size_t k;

	if (m->return_path != NULL && m->return_path[0] == '\0')
		return true;
	if (m->from_addr == NULL || (at = strrchr(m->from_addr, '@')) == NULL)
		return false;
	k = (size_t)(at - m->from_addr);
	return (k == 13 && strncasecmp(m->from_addr, "mailer-daemon", k) == 0) ||
	       (k == 10 && strncasecmp(m->from_addr, "postmaster", k) == 0);
}

static bool bounce_subject(const inmail *m)
{
	size_t i;

	if (m->subject == NULL)
		return false;
	for (i = 0; i < sizeof(bounce_subjects) / sizeof(bounce_subjects[0]); i++)
		if (strcasestr(m->subject, bounce_subjects[i]) != NULL)
			return true;
	return false;
}

/* header_verdict - is_mdn, and is_bounce as far as the header tells: a
 * delivery-status report or a classic bounce, never an MDN. */
static void header_verdict(inmail *out)
{
	bool report = out->multipart_report && out->report_type != NULL;

	out->is_mdn = report && strcasecmp(out->report_type, "disposition-notification") == 0;
	out->is_bounce = !out->is_mdn &&
			 ((report && strcasecmp(out->report_type, "delivery-status") == 0) ||
			  (bounce_sender(out) && bounce_subject(out)));
}

/* The parts a report or bounce is read from, in order. */
enum rkind { R_DSN, R_HEADERS, R_TEXT };

struct rpart {
	const struct mailmime_data *d;
	enum rkind kind;
	bool plain;  /* text/plain: may hold "<addr>:" lines */
};

struct report {
	struct rpart p[INMAIL_PARTS_MAX];
	size_t n;
};

/* report_kind - what single part m of a report holds, in *rp; false for
 * parts of no interest (images, applications, ...). */
static bool report_kind(struct mailmime *m, struct rpart *rp)
{
	const struct mailmime_content *ct = m->mm_content_type;
	const char *sub;

	rp->d = m->mm_data.mm_single;
	rp->kind = R_TEXT;
	rp->plain = false;
	if (ct == NULL || ct->ct_type == NULL) {
		rp->plain = true;  /* default text/plain */
		return true;
	}
	sub = ct->ct_subtype != NULL ? ct->ct_subtype : "";
	if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
	    ct->ct_type->tp_data.tp_discrete_type != NULL &&
	    ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT) {
		if (strcasecmp(sub, "rfc822-headers") == 0)
			rp->kind = R_HEADERS;
		rp->plain = strcasecmp(sub, "plain") == 0;
		return true;
	}
	if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
	    ct->ct_type->tp_data.tp_composite_type != NULL &&
	    ct->ct_type->tp_data.tp_composite_type->ct_type == MAILMIME_COMPOSITE_TYPE_MESSAGE) {
		if (strcasecmp(sub, "delivery-status") == 0 ||
		    strcasecmp(sub, "global-delivery-status") == 0)
			rp->kind = R_DSN;
		else if (strcasecmp(sub, "rfc822") == 0 || strcasecmp(sub, "global") == 0 ||
			 strcasecmp(sub, "global-headers") == 0)
			rp->kind = R_HEADERS;  /* rfc822 here: transfer-encoded */
		return true;
	}
	return false;
}

/* collect - the parts of m's subtree a report is read from, at most
 * INMAIL_PARTS_MAX, nesting at most INMAIL_DEPTH_MAX as in count_tree. An
 * embedded message counts as one part, read for its header: its own parts
 * are the original's, not the report's. */
static void collect(struct mailmime *m, size_t depth, struct report *r)
{
	clistiter *it;

	if (m == NULL || depth > INMAIL_DEPTH_MAX || r->n >= INMAIL_PARTS_MAX)
		return;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		if (report_kind(m, &r->p[r->n]))
			r->n++;
		return;
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list);
		     it != NULL && r->n < INMAIL_PARTS_MAX; it = clist_next(it))
			collect(clist_content(it), depth + 1, r);
		return;
	case MAILMIME_MESSAGE:
		if (m->mm_parent == NULL) {
			collect(m->mm_data.mm_message.mm_msg_mime, depth, r);
			return;
		}
		r->p[r->n++] = (struct rpart){ m->mm_body, R_HEADERS, false };
		return;
	default:
		return;
	}
}

enum pass { P_DSN, P_HEADERS, P_IDS, P_RCPTS };

/* read_pass - one pass over the collected parts, each decoded (its first
 * INMAIL_REPORT_PART_MAX bytes) and handed to the reader of that pass. */
static void read_pass(const struct report *r, enum pass pass, struct dsn_reader *dr, inmail *out)
{
	char *dec;
	size_t i, declen;

	for (i = 0; i < r->n; i++) {
		const struct rpart *rp = &r->p[i];
		if ((pass == P_DSN && rp->kind != R_DSN) ||
		    (pass == P_HEADERS && rp->kind != R_HEADERS) ||
		    (pass == P_RCPTS && (rp->kind != R_TEXT || !rp->plain)))
			continue;
		if (decode_data(rp->d, INMAIL_REPORT_PART_MAX, &dec, &declen) < 0)
			continue;
		switch (pass) {
		case P_DSN:
			dsn_read(dec, declen, dr, out);
			break;
		case P_HEADERS:
			header_msgid(dec, declen, out);
			break;
		case P_IDS:
			scan_ids(dec, declen, out);
			break;
		case P_RCPTS:
			text_rcpts(dec, declen, out);
			break;
		}
		mmap_string_unref(dec);
	}
}

/* read_report - from the parts of a report or bounce: for what the
 * header calls a bounce, the failed recipients of its delivery-status
 * groups, whose Actions (if any) then decide is_bounce (they can only
 * tell a delay or success notice, never make a bounce of other mail); the
 * returned original's Message-IDs, else our ids found anywhere in it; for
 * a bounce without Actions, the recipients named in its plain text. */
static void read_report(inmail *out, struct mailmime *root)
{
	struct report *r = xcalloc(1, sizeof(*r));
	struct dsn_reader *dr = xcalloc(1, sizeof(*dr));

	collect(root, 0, r);
	if (out->is_bounce) {
		read_pass(r, P_DSN, dr, out);
		if (dr->any_action)
			out->is_bounce = dr->any_failed;
	}
	read_pass(r, P_HEADERS, dr, out);
	if (out->n_orig_msgids == 0)
		read_pass(r, P_IDS, dr, out);
	if (out->is_bounce && !dr->any_action)
		read_pass(r, P_RCPTS, dr, out);
	free(dr);
	free(r);
}

int inmail_parse(const char *raw, size_t len, inmail *out, char *err, size_t errlen)
{
	struct mailimf_fields *fields = NULL;
	struct mailmime *mime = NULL;
	size_t hlen, idx = 0, parts = 0;
	enum inmail_error e;
	const char *why;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (raw == NULL && len > 0)
		return fail(out, INMAIL_UNPARSABLE, err, errlen, "no message");
	if (raw == NULL)
		raw = "";
	/* The size decides first; the header is still read when it is within
	 * its own limit, so an oversized bounce is still seen as one. */
	hlen = header_len(raw, len);
	if (hlen > INMAIL_HEADER_MAX) {
		if (len > INMAIL_SIZE_MAX)
			ret = fail(out, INMAIL_TOO_BIG, err, errlen, "message over size limit");
		else
			ret = fail(out, INMAIL_HEADER_TOO_BIG, err, errlen, "header section over limit");
		goto cleanup;
	}
	if (prescan(raw, hlen) == INMAIL_UNPARSABLE) {
		if (len > INMAIL_SIZE_MAX)
			ret = fail(out, INMAIL_TOO_BIG, err, errlen, "message over size limit");
		else
			ret = fail(out, INMAIL_UNPARSABLE, err, errlen, "comments nested too deeply");
		goto cleanup;
	}
	if (hlen > 0 && mailimf_envelope_and_optional_fields_parse(raw, hlen, &idx, &fields) == MAILIMF_NO_ERROR)
		take_fields(out, fields);
	header_verdict(out);
	if (len > INMAIL_SIZE_MAX) {
		ret = fail(out, INMAIL_TOO_BIG, err, errlen, "message over size limit");
		goto cleanup;
	}
	/* Nothing recursive in libetpan runs on the body before these two
	 * have bounded it. */
	e = prescan(raw, len);
	if (e == INMAIL_OK)
		e = shape_message(raw, len);
	switch (e) {
	case INMAIL_OK:
		break;
	case INMAIL_TOO_COMPLEX:
		ret = fail(out, INMAIL_TOO_COMPLEX, err, errlen, "too many MIME parts or too deep");
		goto cleanup;
	default:
		ret = fail(out, INMAIL_UNPARSABLE, err, errlen, "comments nested too deeply");
		goto cleanup;
	}
	idx = 0;
	if (mailmime_parse(raw, len, &idx, &mime) != MAILIMF_NO_ERROR || mime == NULL) {
		mime = NULL;
		ret = fail(out, INMAIL_UNPARSABLE, err, errlen, "MIME structure not parsable");
		goto cleanup;
	}
	if (!count_tree(mime, 0, &parts)) {
		ret = fail(out, INMAIL_TOO_COMPLEX, err, errlen, "too many MIME parts or too deep");
		goto cleanup;
	}
	if (out->multipart_report || out->is_bounce)
		read_report(out, mime);
	if (take_text(out, mime, &why) < 0) {
		ret = fail(out, INMAIL_UNDECODABLE, err, errlen, why);
		goto cleanup;
	}
	out->error = INMAIL_OK;
	ret = 0;
cleanup:
	if (mime != NULL)
		mailmime_free(mime);
	if (fields != NULL)
		mailimf_fields_free(fields);
	return ret;
}

void inmail_clear(inmail *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->message_id);
	for (i = 0; i < m->n_in_reply_to && i < INMAIL_IDS_MAX; i++)
		free(m->in_reply_to[i]);
	for (i = 0; i < m->n_references && i < INMAIL_IDS_MAX; i++)
		free(m->references[i]);
	free(m->subject);
	free(m->from_addr);
	free(m->return_path);
	for (i = 0; i < m->n_rcpts && i < INMAIL_RCPTS_MAX; i++)
		free(m->rcpts[i]);
	free(m->auto_submitted);
	free(m->precedence);
	free(m->list_id);
	free(m->list_unsubscribe);
	free(m->x_auto_response_suppress);
	free(m->x_autoreply);
	free(m->x_autorespond);
	free(m->authentication_results);
	free(m->report_type);
	for (i = 0; i < m->n_dsn_rcpts && i < INMAIL_DSN_RCPTS_MAX; i++)
		free(m->dsn_rcpts[i]);
	free(m->dsn_status);
	for (i = 0; i < m->n_orig_msgids && i < INMAIL_ORIG_IDS_MAX; i++)
		free(m->orig_msgids[i]);
	free(m->text);
	free(m->alt_text);
	memset(m, 0, sizeof(*m));
}
