/*
 * csv.h - streaming RFC 4180 reader with bounded fields.
 *
 * Reads one record at a time from a FILE with a fixed-size buffer, so the
 * memory used does not depend on the size of the input. Accepts LF and CRLF
 * line ends, quoted fields with "" escapes, and a UTF-8 byte order mark at
 * the start. Blank lines are skipped. A record is refused (CSV_BAD, with a
 * reason and its line number) when a field is longer than CSV_FIELD_MAX,
 * when it has more than CSV_FIELDS_MAX fields, when it holds a NUL byte,
 * when a quote is not closed before the end of its line (consentd's fields
 * never contain line breaks, so this also catches unbalanced quotes without
 * swallowing the rest of the file), or when text follows a closing quote.
 * After CSV_BAD the reader continues with the next line.
 */
#ifndef CONSENTD_CSV_H
#define CONSENTD_CSV_H

#include <stddef.h>
#include <stdio.h>
#include "limits.h"

typedef struct csv_reader csv_reader;

typedef struct csv_row {
	size_t nfields;
	const char *field[CSV_FIELDS_MAX];  /* NUL-terminated, owned by the reader */
	size_t len[CSV_FIELDS_MAX];
	unsigned long line;                 /* 1-based line the record starts on */
	const char *error;                  /* reason when csv_next returns CSV_BAD */
} csv_row;

enum {
	CSV_ROW = 1,     /* *out holds a record */
	CSV_EOF = 0,     /* no more input */
	CSV_BAD = -1,    /* *out->line and out->error describe a refused record */
	CSV_IOERR = -2   /* reading the stream failed (errno is set) */
};

/* csv_reader_new - reader over in (not closed by csv_reader_free). */
csv_reader *csv_reader_new(FILE *in);

/* csv_next - next record; fields stay valid until the next call. */
int csv_next(csv_reader *r, csv_row *out);

/* csv_reader_free - NULL-safe. */
void csv_reader_free(csv_reader *r);

#endif
