/*
 * csv.c - streaming RFC 4180 reader with bounded fields.
 *
 * Promises: memory is allocated once, in csv_reader_new - a fixed read
 * buffer and a fixed record buffer of CSV_FIELDS_MAX slots of CSV_FIELD_MAX
 * bytes - and never grows with the input. A record is exactly one physical
 * line: consentd's fields never hold line breaks, so a quote still open at
 * the end of a line refuses that line instead of swallowing the rest of the
 * file. A refused record is read to the end of its line without being
 * buffered, and the next call starts on the following line.
 *
 * Details the header leaves open:
 * - a CR not followed by LF refuses the record ("bare CR"), quoted or not,
 *   except a CR that is the very last byte of the input, which ends the
 *   line like CRLF would;
 * - a quote inside an unquoted field (a"b) is data, as RFC 4180 parsers
 *   commonly accept; so are spaces around fields;
 * - lines are counted at each LF, so after "a\rb\n" the next line is 2.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/csv.h"
#include "consentd/text.h"

#define CSV_READ_CHUNK  65536
#define CSV_SLOT        (CSV_FIELD_MAX + 1)

/* Where the line parser is inside the current field. */
enum field_state {
	FIELD_START,    /* nothing of the field read yet */
	FIELD_PLAIN,    /* inside an unquoted field */
	FIELD_QUOTED,   /* inside a quoted field */
	FIELD_QUOTE,    /* a quote seen inside a quoted field: "" or the end */
};

struct csv_reader {
	FILE *in;
	size_t pos, len;            /* unread bytes are buf[pos..len) */
	bool started;               /* BOM check done */
	bool eof;
	bool ioerr;
	unsigned long line;         /* line number of the next unread byte */
	char err[80];               /* formatted reason for CSV_BAD */
	unsigned char *buf;         /* CSV_READ_CHUNK bytes */
	char *rec;                  /* CSV_FIELDS_MAX slots of CSV_SLOT bytes */
};

/* Line parse in progress. */
struct line_parse {
	enum field_state state;
	size_t nfields;             /* fields started, the current one included */
	size_t flen;                /* bytes in the current field */
	bool bad;                   /* reason already set; skip to end of line */
	bool any;                   /* the line holds at least one byte */
};

csv_reader *csv_reader_new(FILE *in)
{
	csv_reader *r;

	if (in == NULL)
		return NULL;
	/* Two buffers rather than one block: each stays under the usual
	 * 128 KiB mmap threshold of malloc. They need no clearing: only bytes
	 * read into them are ever used. */
	r = xmalloc(sizeof *r);
	r->buf = xmalloc(CSV_READ_CHUNK);
	r->rec = xmalloc(CSV_FIELDS_MAX * CSV_SLOT);
	r->in = in;
	r->pos = r->len = 0;
	r->started = r->eof = r->ioerr = false;
	r->line = 1;
	r->err[0] = '\0';
	return r;
}

void csv_reader_free(csv_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r->rec);
	free(r);
}

/* fill - refill an empty buffer; false at end of input or on error. */
static bool fill(csv_reader *r)
{
	if (r->eof || r->ioerr)
		return false;
	r->pos = 0;
	r->len = fread(r->buf, 1, CSV_READ_CHUNK, r->in);
	if (r->len == 0) {
		if (ferror(r->in))
			r->ioerr = true;
		else
			r->eof = true;
		return false;
	}
	return true;
}

/* get - next byte, or -1 at end of input or on error. */
static int get(csv_reader *r)
{
	if (r->pos == r->len && !fill(r))
		return -1;
	return r->buf[r->pos++];
}

/* peek - next byte without consuming it, or -1. */
static int peek(csv_reader *r)
{
	if (r->pos == r->len && !fill(r))
		return -1;
	return r->buf[r->pos];
}

/* skip_line - discard the rest of a refused line, LF included; returns
 * '\n', or -1 when input ended first. */
static int skip_line(csv_reader *r)
{
	for (;;) {
		const unsigned char *lf;

		if (r->pos == r->len && !fill(r))
			return -1;
		lf = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (lf != NULL) {
			r->pos = (size_t)(lf - r->buf) + 1;
			r->line++;
			return '\n';
		}
		r->pos = r->len;
	}
}

/* skip_bom - drop a UTF-8 byte order mark at the very start of input.
 * fread returns a short count only at end of input or on error, so the
 * first fill holds the first three bytes whenever there are three. */
static void skip_bom(csv_reader *r)
{
	r->started = true;
	if (!fill(r))
		return;
	if (r->len >= 3 && r->buf[0] == 0xEF && r->buf[1] == 0xBB && r->buf[2] == 0xBF)
		r->pos = 3;
}

static void refuse(csv_reader *r, struct line_parse *lp, const char *why)
{
	snprintf(r->err, sizeof r->err, "%s", why);
	lp->bad = true;
}

static void refuse_long(csv_reader *r, struct line_parse *lp)
{
	snprintf(r->err, sizeof r->err, "field %zu longer than %d bytes",
		 lp->nfields, CSV_FIELD_MAX);
	lp->bad = true;
}

/* field_byte - append c to the current field, within its limit. */
static void field_byte(csv_reader *r, struct line_parse *lp, int c)
{
	if (lp->flen == CSV_FIELD_MAX) {
		refuse_long(r, lp);
		return;
	}
	r->rec[(lp->nfields - 1) * CSV_SLOT + lp->flen++] = (char)c;
}

/* field_end - close the current field in out. */
static void field_end(csv_reader *r, struct line_parse *lp, csv_row *out)
{
	size_t i = lp->nfields - 1;
	char *f = r->rec + i * CSV_SLOT;

	f[lp->flen] = '\0';
	out->field[i] = f;
	out->len[i] = lp->flen;
}

/* field_next - a comma: close this field and open the next one. */
static void field_next(csv_reader *r, struct line_parse *lp, csv_row *out)
{
	field_end(r, lp, out);
	if (lp->nfields == CSV_FIELDS_MAX) {
		snprintf(r->err, sizeof r->err, "more than %d fields", CSV_FIELDS_MAX);
		lp->bad = true;
		return;
	}
	lp->nfields++;
	lp->flen = 0;
	lp->state = FIELD_START;
}

/* parse_byte - feed one byte of line content (never CR or LF). */
static void parse_byte(csv_reader *r, struct line_parse *lp, csv_row *out, int c)
{
	if (c == '\0') {
		refuse(r, lp, "NUL byte in record");
		return;
	}
	switch (lp->state) {
	case FIELD_START:
		if (c == '"')
			lp->state = FIELD_QUOTED;
		else if (c == ',')
			field_next(r, lp, out);
		else {
			lp->state = FIELD_PLAIN;
			field_byte(r, lp, c);
		}
		break;
	case FIELD_PLAIN:
		if (c == ',')
			field_next(r, lp, out);
		else
			field_byte(r, lp, c);
		break;
	case FIELD_QUOTED:
		if (c == '"')
			lp->state = FIELD_QUOTE;
		else
			field_byte(r, lp, c);
		break;
	case FIELD_QUOTE:
		if (c == '"') {
			lp->state = FIELD_QUOTED;
			field_byte(r, lp, c);
		} else if (c == ',') {
			field_next(r, lp, out);
		} else {
			refuse(r, lp, "text after closing quote");
		}
		break;
	}
}

/* io_error - report a failed read; errno is the one fread left. */
static int io_error(const csv_reader *r, csv_row *out)
{
	memset(out, 0, sizeof *out);
	out->line = r->line;
	if (errno == 0)
		errno = EIO;
	return CSV_IOERR;
}

int csv_next(csv_reader *r, csv_row *out)
{
	struct line_parse lp;
	int c;

	memset(out, 0, sizeof *out);
	if (r == NULL) {
		errno = EINVAL;
		return CSV_IOERR;
	}
	if (!r->started)
		skip_bom(r);

	for (;;) {
		memset(&lp, 0, sizeof lp);
		lp.state = FIELD_START;
		lp.nfields = 1;
		out->line = r->line;

		/* Read one physical line: up to LF, CRLF or end of input. */
		for (;;) {
			if (lp.bad) {
				c = skip_line(r);
				break;
			}
			c = get(r);
			if (c == -1)
				break;
			if (c == '\n') {
				r->line++;
				break;
			}
			if (c == '\r') {
				int d = peek(r);

				if (d == '\n') {
					get(r);
					r->line++;
					break;
				}
				if (d == -1 && !r->ioerr)
					break;          /* CR as the last byte ends the line */
				lp.any = true;
				refuse(r, &lp, "bare CR (carriage return without line feed)");
				continue;
			}
			lp.any = true;
			parse_byte(r, &lp, out, c);
		}

		if (r->ioerr)
			return io_error(r, out);
		if (!lp.any) {
			if (c == -1)
				return CSV_EOF;
			continue;               /* blank line */
		}
		if (!lp.bad && lp.state == FIELD_QUOTED)
			refuse(r, &lp, "quoted field not closed before end of line");
		if (lp.bad) {
			unsigned long line = out->line;

			memset(out, 0, sizeof *out);
			out->line = line;
			out->error = r->err;
			return CSV_BAD;
		}
		field_end(r, &lp, out);
		out->nfields = lp.nfields;
		return CSV_ROW;
	}
}
