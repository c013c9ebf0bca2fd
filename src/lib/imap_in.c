/*
 * imap_in.c - new mail from one IMAP mailbox, moved away only after the
 * caller has decided on it (see imap_in.h).
 *
 * Promises: a message is moved only after fn returned a destination for it,
 * and *last_uid_io advances only over messages that were moved. No UID below
 * or at the remembered one is handed over again while UIDVALIDITY holds.
 * Nothing larger than max_bytes + 1 bytes per message is accepted from the
 * server. The password is sent only after the certificate has verified when
 * TLS is configured.
 *
 * Facts this code relies on (libetpan 1.9.4 source and
 * ../shared/notes/mailstack.md section 4): an OK greeting gives
 * MAILIMAP_NO_ERROR_NON_AUTHENTICATED, PREAUTH gives _AUTHENTICATED; a UID
 * FETCH result also holds unsolicited FETCH responses (without our items);
 * the GnuTLS build checks no certificate, but mailstream_get_certificate_chain
 * returns the peer's chain in DER; mailimap_idle clears sel_has_exists and
 * drops untagged responses that come before the "+" (Dovecot sends "+ idling"
 * first); mailimap_create(NULL) crashes, so names are checked first.
 */
#include "consentd/imap_in.h"
#include "consentd/digest.h"
#include "consentd/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <libetpan/libetpan.h>


struct imap_in {
	mailimap *imap;
	char dest[2][IMAP_IN_MAILBOX_MAX + 1];   /* by enum imap_dest */
	bool has_move, has_uidplus, has_idle;
	bool broken;    /* the connection is in doubt: no LOGOUT */
	bool idling;    /* IDLE sent, DONE not yet */
	bool pending;   /* EXISTS came during the last pass */
};

/* One message of a batch. */
typedef struct slot {
	uint32_t uid, size;     /* size: RFC822.SIZE */
	bool seen;              /* answered the size FETCH */
	const char *body;       /* from the body FETCH, owned by its result */
	size_t len;
	int dest;               /* IMAP_DEST_*, -1 while undecided */
} slot;

enum { SET_ALL = 2, SET_SEEN, SET_DECIDED };   /* next to IMAP_DEST_* */

/* fail - err = "what: the server's text", or what went wrong locally; a
 * failure that is not a NO/BAD answer puts the connection in doubt. */
static int fail(imap_in *s, int r, char *err, size_t errlen, const char *what)
{
	char text[IMAP_IN_TEXT_MAX + 1];
	const char *p = s->imap->imap_response;
	size_t n = 0;
	bool answered = r >= MAILIMAP_ERROR_APPEND && r <= MAILIMAP_ERROR_EXTENSION &&
			r != MAILIMAP_ERROR_INVAL;

	for (; answered && p && *p && n < IMAP_IN_TEXT_MAX; p++)
		text[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	text[n] = '\0';
	if (!answered)
		s->broken = true;
	snprintf(err, errlen, "%s: %s", what, n ? text
		 : r == MAILIMAP_ERROR_STREAM ? "connection lost or timed out"
		 : r == MAILIMAP_ERROR_PARSE ? "unreadable answer from the server"
		 : r == MAILIMAP_ERROR_CONNECTION_REFUSED ? "cannot connect"
		 : r == MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION ? "the server refuses the session"
		 : r == MAILIMAP_ERROR_SSL ? "TLS handshake failed"
		 : answered ? "refused" : "libetpan error");
	return -1;
}

static bool is_ip(const char *host)
{
	unsigned char ip[16];

	return inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
}

/* tls_setup - libetpan's hook before the handshake: SNI for host names. */
static void tls_setup(struct mailstream_ssl_context *ctx, void *host)
{
	if (!is_ip(host))
		mailstream_ssl_set_server_name(ctx, host);
}

/* verify_peer - the chain the server presented must lead to a trusted root
 * and name host. libetpan (GnuTLS) checked nothing during the handshake;
 * digest_verify_chain (libcrypto's X509_verify_cert) does. */
static int verify_peer(imap_in *s, const char *host, char *err, size_t errlen)
{
	carray *chain = mailstream_get_certificate_chain(s->imap->imap_stream);
	const unsigned char *der[IMAP_IN_CHAIN_MAX];
	size_t len[IMAP_IN_CHAIN_MAX];
	unsigned i, n;
	int rc = -1;

	s->broken = true;   /* until verified: no LOGOUT to an unknown peer */
	if (!chain || carray_count(chain) == 0) {
		snprintf(err, errlen, "TLS: %s presented no certificate", host);
		goto cleanup;
	}
	n = carray_count(chain);
	if (n > IMAP_IN_CHAIN_MAX) {
		snprintf(err, errlen, "TLS: %s presented %u certificates (at most %d are read)",
			 host, n, IMAP_IN_CHAIN_MAX);
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		MMAPString *m = carray_get(chain, i);

		der[i] = (const unsigned char *)m->str;
		len[i] = m->len;
	}
	if (digest_verify_chain(der, len, n, host, is_ip(host), err, errlen))
		goto cleanup;
	s->broken = false;
	rc = 0;
cleanup:
	if (chain)
		mailstream_certificate_chain_free(chain);
	return rc;
}

/* mailbox_name - a configured name as sent: "/" becomes the server's
 * hierarchy separator delim (unless it has none), "&" becomes "&-". */
static int mailbox_name(const char *in, char delim, char *out, const char *key, char *err,
			size_t errlen)
{
	size_t o = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		size_t need = c == '&' ? 2 : 1;

		if (c < 0x20 || c >= 0x7f || c == '*' || c == '%' || c == '\\' || c == '"') {
			snprintf(err, errlen, "[imap] %s: byte 0x%02x: only printable ASCII "
				 "without * %% \\ \" is supported", key, c);
			return -1;
		}
		if (o + need > IMAP_IN_MAILBOX_MAX) {
			snprintf(err, errlen, "[imap] %s: longer than %d bytes", key, IMAP_IN_MAILBOX_MAX);
			return -1;
		}
		out[o++] = (c == '/' && delim) ? delim : (char)c;
		if (c == '&')
			out[o++] = '-';
	}
	out[o] = '\0';
	if (!o)
		snprintf(err, errlen, "[imap] %s is empty", key);
	return o ? 0 : -1;
}

static bool same_mailbox(const char *a, const char *b)
{
	return !strcmp(a, b) || (!strcasecmp(a, "INBOX") && !strcasecmp(b, "INBOX"));
}

/* ensure_mailbox - CREATE name; a refusal is fine when LIST finds it. */
static int ensure_mailbox(imap_in *s, const char *name, char *err, size_t errlen)
{
	char what[IMAP_IN_MAILBOX_MAX + 16];
	clist *list = NULL;
	int r = mailimap_create(s->imap, name);
	bool found;

	snprintf(what, sizeof(what), "CREATE %s", name);
	if (r != MAILIMAP_ERROR_CREATE)
		return r ? fail(s, r, err, errlen, what) : 0;
	fail(s, r, err, errlen, what);   /* kept in err in case LIST does not find it */
	found = mailimap_list(s->imap, "", name, &list) == MAILIMAP_NO_ERROR && list &&
		clist_count(list) > 0;
	if (list)
		mailimap_list_result_free(list);
	if (found)
		err[0] = '\0';
	return found ? 0 : -1;
}

static int refresh_capabilities(imap_in *s, char *err, size_t errlen)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(s->imap, &cap);

	if (cap)
		mailimap_capability_data_free(cap);
	return r ? fail(s, r, err, errlen, "CAPABILITY") : 0;
}

int imap_in_open(imap_in **out, const config *cfg, int timeout_s, char *err, size_t errlen)
{
	imap_in *s = xcalloc(1, sizeof(*s));
	char password[CONFIG_PASSWORD_MAX], mailbox[IMAP_IN_MAILBOX_MAX + 1], what[300];
	clist *list = NULL;
	char delim = 0;
	int r, rc = -1, tls = cfg->imap_tls;
	bool preauth;

	*out = NULL;
	err[0] = password[0] = '\0';
	if (tls != TLS_NO && tls != TLS_STARTTLS && tls != TLS_IMAPS) {
		snprintf(err, errlen, "[imap] tls: unknown mode %d", tls);
		goto cleanup;
	}
	if (!*cfg->imap_user || !*cfg->imap_password_file || timeout_s < 1) {
		snprintf(err, errlen, timeout_s < 1 ? "imap_in_open: timeout must be at least 1 s"
			 : "[imap] user and password_file must be set");
		goto cleanup;
	}
	if (config_password(cfg, CONFIG_IMAP, password, sizeof(password), err, errlen))
		goto cleanup;
	if (!(s->imap = mailimap_new(0, NULL))) {
		snprintf(err, errlen, "libetpan: cannot create a session");
		goto cleanup;
	}
	mailimap_set_timeout(s->imap, timeout_s);
	snprintf(what, sizeof(what), "%s %s:%d", tls == TLS_IMAPS ? "IMAPS" : "IMAP",
		 cfg->imap_host, cfg->imap_port);
	r = tls == TLS_IMAPS
	    ? mailimap_ssl_connect_with_callback(s->imap, cfg->imap_host, (uint16_t)cfg->imap_port,
						 tls_setup, cfg->imap_host)
	    : mailimap_socket_connect(s->imap, cfg->imap_host, (uint16_t)cfg->imap_port);
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
		fail(s, r, err, errlen, what);
		goto cleanup;
	}
	preauth = r == MAILIMAP_NO_ERROR_AUTHENTICATED;
	if (tls == TLS_STARTTLS) {
		if (preauth || refresh_capabilities(s, err, errlen) ||
		    !mailimap_has_extension(s->imap, "STARTTLS")) {
			if (!err[0])
				snprintf(err, errlen, "%s: STARTTLS is required but %s", what,
					 preauth ? "the server greets with PREAUTH" : "not offered");
			s->broken = true;
			goto cleanup;
		}
		if ((r = mailimap_socket_starttls_with_callback(s->imap, tls_setup, cfg->imap_host))) {
			fail(s, r, err, errlen, "STARTTLS");
			goto cleanup;
		}
	}
	if (tls != TLS_NO && verify_peer(s, cfg->imap_host, err, errlen))
		goto cleanup;
	if (!preauth) {
		/* after STARTTLS, what was said in clear counts for nothing */
		if (refresh_capabilities(s, err, errlen))
			goto cleanup;
		if (mailimap_has_extension(s->imap, "LOGINDISABLED")) {
			snprintf(err, errlen, "%s: the server refuses LOGIN (LOGINDISABLED)", what);
			goto cleanup;
		}
		snprintf(what, sizeof(what), "LOGIN as %s", cfg->imap_user);
		if ((r = mailimap_login(s->imap, cfg->imap_user, password))) {
			fail(s, r, err, errlen, what);
			goto cleanup;
		}
	}
	if (refresh_capabilities(s, err, errlen))
		goto cleanup;
	s->has_move = mailimap_has_extension(s->imap, "MOVE");
	s->has_uidplus = mailimap_has_extension(s->imap, "UIDPLUS");
	s->has_idle = mailimap_has_idle(s->imap);
	if ((r = mailimap_list(s->imap, "", "", &list))) {
		fail(s, r, err, errlen, "LIST \"\" \"\"");
		goto cleanup;
	}
	if (list && clist_begin(list))
		delim = ((struct mailimap_mailbox_list *)clist_content(clist_begin(list)))->mb_delimiter;
	if (mailbox_name(cfg->imap_mailbox, delim, mailbox, "mailbox", err, errlen) ||
	    mailbox_name(cfg->imap_processed_mailbox, delim, s->dest[IMAP_DEST_PROCESSED],
			 "processed_mailbox", err, errlen) ||
	    mailbox_name(cfg->imap_review_mailbox, delim, s->dest[IMAP_DEST_REVIEW],
			 "review_mailbox", err, errlen))
		goto cleanup;
	if (same_mailbox(mailbox, s->dest[0]) || same_mailbox(mailbox, s->dest[1])) {
		snprintf(err, errlen, "[imap] processed_mailbox and review_mailbox must differ "
			 "from mailbox (%s)", mailbox);
		goto cleanup;
	}
	if (ensure_mailbox(s, s->dest[0], err, errlen) ||
	    (!same_mailbox(s->dest[0], s->dest[1]) && ensure_mailbox(s, s->dest[1], err, errlen)))
		goto cleanup;
	snprintf(what, sizeof(what), "SELECT %s", mailbox);
	if ((r = mailimap_select(s->imap, mailbox))) {
		fail(s, r, err, errlen, what);
		goto cleanup;
	}
	if (!s->imap->imap_selection_info || !s->imap->imap_selection_info->sel_uidvalidity) {
		snprintf(err, errlen, "%s: the server sent no UIDVALIDITY", what);
		goto cleanup;
	}
	*out = s;
	s = NULL;
	rc = 0;
cleanup:
	if (list)
		mailimap_list_result_free(list);
	digest_wipe(password, sizeof(password));
	imap_in_free(s);
	return rc;
}

/* set_of - the UIDs of sl[0..n) that are wanted (SET_* or a destination),
 * with runs of consecutive UIDs as ranges; NULL when none is. */
static struct mailimap_set *set_of(const slot *sl, size_t n, int want)
{
	struct mailimap_set *set = NULL;
	uint32_t first = 0, prev = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		bool in = i < n && (want == SET_ALL || (want == SET_SEEN && sl[i].seen) ||
				    (want == SET_DECIDED && sl[i].dest >= 0) || sl[i].dest == want);

		if (in && first && sl[i].uid == prev + 1) {
			prev = sl[i].uid;
			continue;
		}
		if (first) {
			if (!set)
				set = mailimap_set_new_empty();
			mailimap_set_add_interval(set, first, prev);
			first = 0;
		}
		if (in)
			first = prev = sl[i].uid;
	}
	return set;
}

static slot *find(slot *sl, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sl[mid].uid == uid)
			return &sl[mid];
		if (sl[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* search_new - the UIDs above last, ascending. "UID last+1:*" also matches
 * the highest message when its UID is lower (RFC 3501 6.4.8): filtered. */
static int search_new(imap_in *s, uint32_t last, uint32_t **uids, size_t *n, char *err,
		      size_t errlen)
{
	struct mailimap_search_key *key;
	clist *res = NULL;
	clistiter *it;
	size_t i, k = 0;
	int r;

	*uids = NULL;
	*n = 0;
	if (last == UINT32_MAX)
		return 0;
	key = mailimap_search_key_new_uid(mailimap_set_new_interval(last + 1, 0));
	r = mailimap_uid_search(s->imap, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r)
		return fail(s, r, err, errlen, "UID SEARCH");
	*uids = xcalloc(res && clist_count(res) ? (size_t)clist_count(res) : 1, sizeof(**uids));
	for (it = res ? clist_begin(res) : NULL; it; it = clist_next(it))
		if (*(uint32_t *)clist_content(it) > last)
			(*uids)[k++] = *(uint32_t *)clist_content(it);
	if (res)
		mailimap_search_result_free(res);
	qsort(*uids, k, sizeof(**uids), cmp_uid);
	for (i = 0; i < k; i++)
		if (!*n || (*uids)[*n - 1] != (*uids)[i])
			(*uids)[(*n)++] = (*uids)[i];
	return 0;
}

/* fetch - UID FETCH sl[0..n) (want) with UID and sizes or bodies; the
 * result (owning the bodies) goes to *res. */
static int fetch(imap_in *s, slot *sl, size_t n, int want, uint32_t partial, clist **res,
		 char *err, size_t errlen)
{
	struct mailimap_set *set = set_of(sl, n, want);
	struct mailimap_fetch_type *ft;
	clistiter *it, *jt;
	int r;

	*res = NULL;
	if (!set)
		return 0;
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, partial
		? mailimap_fetch_att_new_body_peek_section_partial(mailimap_section_new(NULL), 0, partial)
		: mailimap_fetch_att_new_rfc822_size());
	r = mailimap_uid_fetch(s->imap, set, ft, res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r)
		return fail(s, r, err, errlen, "UID FETCH");
	for (it = *res ? clist_begin(*res) : NULL; it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		struct mailimap_msg_att_body_section *body = NULL;
		uint32_t uid = 0, size = 0;
		bool has_size = false;
		slot *x;

		for (jt = clist_begin(ma->att_list); jt; jt = clist_next(jt)) {
			struct mailimap_msg_att_item *item = clist_content(jt);

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
				uid = item->att_data.att_static->att_data.att_uid;
			else if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE) {
				size = item->att_data.att_static->att_data.att_rfc822_size;
				has_size = true;
			} else if (item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_BODY_SECTION)
				body = item->att_data.att_static->att_data.att_body_section;
		}
		if (!uid || !(x = find(sl, n, uid)))
			continue;   /* unsolicited, or not asked for */
		if (!partial && has_size) {
			x->size = size;
			x->seen = true;
		} else if (partial && body && x->seen) {
			if (!body->sec_body_part || body->sec_length > partial) {
				snprintf(err, errlen, "UID FETCH: UID %u: %s", uid, body->sec_body_part
					 ? "more bytes than asked for" : "no body");
				s->broken = true;
				return -1;
			}
			x->body = body->sec_body_part;
			x->len = body->sec_length;
		}
	}
	return 0;
}

static int store_deleted(imap_in *s, struct mailimap_set *set)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_store_att_flags *sf;
	int r;

	mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	sf = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(s->imap, set, sf);
	mailimap_store_att_flags_free(sf);
	return r;
}

/* foreign_deleted - a message above top carries \Deleted: not ours (every
 * UID up to top was decided on in this batch or earlier). */
static int foreign_deleted(imap_in *s, uint32_t top, bool *found)
{
	struct mailimap_search_key *key = mailimap_search_key_new(MAILIMAP_SEARCH_KEY_DELETED,
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL);
	clist *res = NULL;
	clistiter *it;
	int r = mailimap_uid_search(s->imap, NULL, key, &res);

	mailimap_search_key_free(key);
	*found = false;
	for (it = res ? clist_begin(res) : NULL; it; it = clist_next(it))
		*found = *found || *(uint32_t *)clist_content(it) > top;
	if (res)
		mailimap_search_result_free(res);
	return r;
}

/* move_decided - file the decided messages of a batch away. */
static int move_decided(imap_in *s, slot *sl, size_t n, uint32_t top, char *err, size_t errlen)
{
	struct mailimap_set *set;
	char what[IMAP_IN_MAILBOX_MAX + 32];
	bool foreign;
	int d, r = 0;

	for (d = IMAP_DEST_PROCESSED; d <= IMAP_DEST_REVIEW; d++) {
		if (!(set = set_of(sl, n, d)))
			continue;
		snprintf(what, sizeof(what), "UID %s to %s", s->has_move ? "MOVE" : "COPY", s->dest[d]);
		r = s->has_move ? mailimap_uid_move(s->imap, set, s->dest[d])
		    : mailimap_uid_copy(s->imap, set, s->dest[d]);
		if (!r && !s->has_move && (r = store_deleted(s, set)))
			snprintf(what, sizeof(what), "UID STORE +FLAGS.SILENT (\\Deleted)");
		mailimap_set_free(set);
		if (r)
			return fail(s, r, err, errlen, what);
	}
	if (s->has_move || !(set = set_of(sl, n, SET_DECIDED)))
		return 0;
	if (s->has_uidplus) {
		r = mailimap_uid_expunge(s->imap, set);
		snprintf(what, sizeof(what), "UID EXPUNGE");
	} else if (!(r = foreign_deleted(s, top, &foreign)) && !foreign) {
		r = mailimap_expunge(s->imap);
		snprintf(what, sizeof(what), "EXPUNGE");
	} else
		snprintf(what, sizeof(what), "UID SEARCH DELETED");
	mailimap_set_free(set);
	return r ? fail(s, r, err, errlen, what) : 0;
}

int imap_in_pass(imap_in *s, uint32_t *uidvalidity_io, uint32_t *last_uid_io, int batch,
		 size_t max_bytes, imap_msg_fn fn, int (*sync)(void *arg), void *arg,
		 int (*stop)(void), int *n_out, char *err, size_t errlen)
{
	struct mailimap_selection_info *sel = s->imap->imap_selection_info;
	uint32_t *uids = NULL, top;
	slot *sl = NULL;
	clist *res = NULL;
	size_t n, i, k, a, b, j;
	bool stopping = false;
	int rc = -1, d;

	*n_out = 0;
	err[0] = '\0';
	if (s->broken || s->idling || batch < 1 || batch > IMAP_IN_BATCH_MAX || max_bytes < 1 ||
	    max_bytes > IMAP_IN_MAX_BYTES_MAX) {
		snprintf(err, errlen, "imap_in_pass: %s", s->broken ? "the session is broken"
			 : s->idling ? "IDLE is running" : "batch or max_bytes out of range");
		return -1;
	}
	if (sel->sel_uidvalidity != *uidvalidity_io) {
		*uidvalidity_io = sel->sel_uidvalidity;
		*last_uid_io = 0;
	}
	sel->sel_has_exists = 0;
	if (search_new(s, *last_uid_io, &uids, &n, err, errlen))
		goto cleanup;
	sl = xcalloc((size_t)batch, sizeof(*sl));
	for (i = 0; i < n && !stopping; i += k) {
		k = n - i < (size_t)batch ? n - i : (size_t)batch;
		for (j = 0; j < k; j++)
			sl[j] = (slot){ .uid = uids[i + j], .dest = -1 };
		if (fetch(s, sl, k, SET_ALL, 0, &res, err, errlen))
			goto cleanup;
		mailimap_fetch_list_free(res);
		res = NULL;
		for (a = 0; a < k && !stopping; a = b) {
			size_t bytes = 0;

			/* a group of bodies within IMAP_IN_FETCH_BYTES, at least one */
			for (b = a; b < k; b++) {
				size_t cost = (sl[b].size < max_bytes ? sl[b].size : max_bytes) + 1;

				if (!sl[b].seen)
					continue;
				if (bytes && bytes + cost > IMAP_IN_FETCH_BYTES)
					break;
				bytes += cost;
			}
			if (fetch(s, sl + a, b - a, SET_SEEN, (uint32_t)max_bytes + 1, &res, err, errlen))
				goto cleanup;
			for (j = a; j < b && !stopping; j++) {
				bool truncated = sl[j].len > max_bytes;

				if (!sl[j].body)
					continue;   /* gone meanwhile */
				if (stop && stop()) {
					stopping = true;
					break;
				}
				d = fn(sl[j].body, truncated ? max_bytes : sl[j].len, sl[j].uid, truncated,
				       truncated ? (sl[j].size > max_bytes ? sl[j].size : (uint32_t)max_bytes + 1)
				       : (uint32_t)sl[j].len, arg);
				++*n_out;
				if (d == IMAP_DEST_PROCESSED || d == IMAP_DEST_REVIEW)
					sl[j].dest = d;
				else
					stopping = true;
			}
			for (j = a; j < b; j++)
				sl[j].body = NULL;
			mailimap_fetch_list_free(res);
			res = NULL;
		}
		for (top = 0, j = 0; j < k; j++)
			if (sl[j].dest >= 0)
				top = sl[j].uid;
		if (top && sync && sync(arg)) {
			snprintf(err, errlen, "the decisions could not be made durable: nothing moved");
			goto cleanup;
		}
		if (top && move_decided(s, sl, k, top, err, errlen))
			goto cleanup;
		if (top)
			*last_uid_io = top;
	}
	rc = 0;
cleanup:
	s->pending = rc == 0 && sel->sel_has_exists;
	if (res)
		mailimap_fetch_list_free(res);
	free(sl);
	free(uids);
	return rc;
}

bool imap_in_has_idle(const imap_in *s)
{
	return s->has_idle;
}

int imap_in_idle_start(imap_in *s, char *err, size_t errlen)
{
	int r;

	err[0] = '\0';
	if (s->broken || s->idling || !s->has_idle) {
		snprintf(err, errlen, "IDLE: %s", s->broken ? "the session is broken"
			 : s->idling ? "already running" : "not offered by the server");
		return -1;
	}
	if (s->pending)
		return 1;
	if ((r = mailimap_idle(s->imap)))
		return fail(s, r, err, errlen, "IDLE");
	s->idling = true;
	/* an answer already read into libetpan's buffer leaves the fd quiet */
	return s->imap->imap_stream->read_buffer_len > 0 ? 1 : 0;
}

int imap_in_idle_fd(const imap_in *s)
{
	return mailimap_idle_get_fd(s->imap);
}

int imap_in_idle_done(imap_in *s, bool *new_mail_out, char *err, size_t errlen)
{
	int r;

	err[0] = '\0';
	*new_mail_out = s->pending;
	s->pending = false;
	if (!s->idling && s->broken)
		snprintf(err, errlen, "IDLE: the session is broken");
	if (!s->idling)
		return s->broken ? -1 : 0;
	s->idling = false;
	if ((r = mailimap_idle_done(s->imap)))
		return fail(s, r, err, errlen, "IDLE DONE");
	*new_mail_out = s->imap->imap_selection_info->sel_has_exists;
	return 0;
}

void imap_in_free(imap_in *s)
{
	if (!s)
		return;
	if (s->imap) {
		if (s->imap->imap_stream && !s->broken && !s->idling)
			mailimap_logout(s->imap);
		mailimap_free(s->imap);
	}
	free(s);
}
