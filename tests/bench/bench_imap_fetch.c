/*
 * bench_imap_fetch - baseline for reading mail over IMAP: a bare libetpan
 * loop with no consentd code in it. Login, SELECT, UID SEARCH ALL, then
 * UID FETCH BODY.PEEK[] in batches of 500 UIDs; each message goes through
 * mailmime_parse, and its first text part is transfer-decoded
 * (mailmime_part_parse) and converted to UTF-8 (charconv). Nothing is moved
 * or flagged. Plain IMAP only (a benchmark runs against 127.0.0.1).
 *
 *   bench_imap_fetch HOST PORT USER PASSWORDFILE MAILBOX
 *
 * Prints "messages=N seconds=S rate=R/s", timed from connect to the last
 * message decoded (LOGOUT not counted). Exit 0, or 1 with a message on
 * stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

#define BATCH 500
#define PASSWORD_MAX 512        /* first line of PASSWORDFILE */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static bool is_text(const struct mailmime *m)
{
	const struct mailmime_content *ct = m->mm_content_type;

	return !ct || (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
		       ct->ct_type->tp_data.tp_discrete_type->dt_type == MAILMIME_DISCRETE_TYPE_TEXT);
}

/* first_text - the first single text part, depth first; NULL if none. */
static struct mailmime *first_text(struct mailmime *m)
{
	clistiter *it;
	struct mailmime *t;

	if (!m)
		return NULL;
	switch (m->mm_type) {
	case MAILMIME_SINGLE:
		return is_text(m) && m->mm_data.mm_single ? m : NULL;
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			if ((t = first_text(clist_content(it))))
				return t;
		return NULL;
	case MAILMIME_MESSAGE:
		return first_text(m->mm_data.mm_message.mm_msg_mime);
	default:
		return NULL;
	}
}

/* decode - parse one message and its first text part to UTF-8; the number
 * of UTF-8 bytes, or -1 when the message or part could not be decoded. */
static long decode(const char *raw, size_t len)
{
	struct mailmime *mime = NULL, *part;
	struct mailmime_data *d;
	const char *charset;
	char *dec = NULL, *utf8 = NULL;
	size_t idx = 0, declen = 0;
	long out = -1;

	if (mailmime_parse(raw, len, &idx, &mime) != MAILIMF_NO_ERROR)
		return -1;
	if ((part = first_text(mime)) && (d = part->mm_data.mm_single)->dt_type == MAILMIME_DATA_TEXT) {
		idx = 0;
		if (mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &idx,
					d->dt_encoding, &dec, &declen) == MAILIMF_NO_ERROR) {
			charset = part->mm_content_type
				  ? mailmime_content_charset_get(part->mm_content_type) : "us-ascii";
			if (charconv("utf-8", charset, dec, declen, &utf8) == MAIL_CHARCONV_NO_ERROR)
				out = (long)strlen(utf8);
			free(utf8);
			mmap_string_unref(dec);
		}
	} else if (!part)
		out = 0;   /* no text part: parsed, nothing to decode */
	mailmime_free(mime);
	return out;
}

int main(int argc, char **argv)
{
	mailimap *imap = NULL;
	struct mailimap_search_key *key;
	clist *uids = NULL, *res = NULL;
	clistiter *it, *jt;
	uint32_t *u = NULL;
	size_t n = 0, i, j;
	char password[PASSWORD_MAX];
	long messages = 0, undecodable = 0;
	double t0, secs;
	FILE *f;
	int r, rc = 1;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_imap_fetch HOST PORT USER PASSWORDFILE MAILBOX\n");
		return 2;
	}
	if (!(f = fopen(argv[4], "r")) || !fgets(password, sizeof(password), f)) {
		fprintf(stderr, "bench_imap_fetch: cannot read %s\n", argv[4]);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	password[strcspn(password, "\r\n")] = '\0';

	t0 = now_s();
	imap = mailimap_new(0, NULL);
	mailimap_set_timeout(imap, 30);
	r = mailimap_socket_connect(imap, argv[1], (uint16_t)atoi(argv[2]));
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		fprintf(stderr, "bench_imap_fetch: connect: libetpan error %d\n", r);
		goto cleanup;
	}
	if ((r = mailimap_login(imap, argv[3], password)) || (r = mailimap_select(imap, argv[5]))) {
		fprintf(stderr, "bench_imap_fetch: login/select: %d %s\n", r,
			imap->imap_response ? imap->imap_response : "");
		goto cleanup;
	}
	key = mailimap_search_key_new_all();
	r = mailimap_uid_search(imap, NULL, key, &uids);
	mailimap_search_key_free(key);
	if (r) {
		fprintf(stderr, "bench_imap_fetch: UID SEARCH: %d\n", r);
		goto cleanup;
	}
	u = calloc((size_t)clist_count(uids) + 1, sizeof(*u));
	for (it = clist_begin(uids); it; it = clist_next(it))
		u[n++] = *(uint32_t *)clist_content(it);
	qsort(u, n, sizeof(*u), cmp_uid);

	for (i = 0; i < n; i += BATCH) {
		struct mailimap_set *set = mailimap_set_new_empty();
		struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();

		for (j = i; j < n && j < i + BATCH; j++)
			mailimap_set_add_single(set, u[j]);
		mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
			mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
		r = mailimap_uid_fetch(imap, set, ft, &res);
		mailimap_fetch_type_free(ft);
		mailimap_set_free(set);
		if (r) {
			fprintf(stderr, "bench_imap_fetch: UID FETCH: %d\n", r);
			goto cleanup;
		}
		for (it = clist_begin(res); it; it = clist_next(it)) {
			struct mailimap_msg_att *ma = clist_content(it);

			for (jt = clist_begin(ma->att_list); jt; jt = clist_next(jt)) {
				struct mailimap_msg_att_item *item = clist_content(jt);
				struct mailimap_msg_att_body_section *b;

				if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC ||
				    item->att_data.att_static->att_type != MAILIMAP_MSG_ATT_BODY_SECTION ||
				    !(b = item->att_data.att_static->att_data.att_body_section) ||
				    !b->sec_body_part)
					continue;
				messages++;
				if (decode(b->sec_body_part, b->sec_length) < 0)
					undecodable++;
			}
		}
		mailimap_fetch_list_free(res);
		res = NULL;
	}
	secs = now_s() - t0;
	printf("messages=%ld seconds=%.3f rate=%.0f/s\n", messages, secs,
	       secs > 0 ? (double)messages / secs : 0.0);
	if (undecodable)
		fprintf(stderr, "bench_imap_fetch: %ld messages without a decodable text part\n",
			undecodable);
	mailimap_logout(imap);
	rc = 0;
cleanup:
	memset(password, 0, sizeof(password));
	if (res)
		mailimap_fetch_list_free(res);
	if (uids)
		mailimap_search_result_free(uids);
	free(u);
	mailimap_free(imap);
	return rc;
}
