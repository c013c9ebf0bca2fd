/*
 * fuzz_csv.c - fuzz target for the CSV reader.
 *
 * Reads the input as a CSV stream and checks every result against a small
 * whole-buffer model of the rules in csv.h (same records, fields, line
 * numbers and reasons), the invariants a caller relies on (field and field
 * count limits, NUL-terminated fields with no NUL, CR or LF inside, line
 * numbers increasing), and that each row written back out fully quoted
 * reads back the same. Each input is also read a second time behind a
 * filler line that moves the reader's 64 KiB buffer boundary into it. Any
 * difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/csv.h"
#include "consentd/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_csv: check failed at line %d: %s\n", __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* The model's view of one record. */
struct model_rec {
	int rc;
	unsigned long line;
	size_t nfields;
	size_t len[CSV_FIELDS_MAX];
	char field[CSV_FIELDS_MAX][CSV_FIELD_MAX + 1];
	char error[80];
};

enum { M_START, M_PLAIN, M_QUOTED, M_QUOTE };

/* The reader's fread size (csv.c), to aim inputs at its boundary. */
#define READ_CHUNK 65536

/* model_line - parse the line content s[0..n) (line end removed). */
static void model_line(const uint8_t *s, size_t n, struct model_rec *out)
{
	int state = M_START;
	size_t i, nf = 1, flen = 0;
	const char *why = NULL;

	out->error[0] = '\0';
	for (i = 0; i < n && why == NULL && out->error[0] == '\0'; i++) {
		int c = s[i];
		int append = 0, comma = 0;

		if (c == '\r') {
			why = "bare CR (carriage return without line feed)";
			break;
		}
		if (c == 0) {
			why = "NUL byte in record";
			break;
		}
		switch (state) {
		case M_START:
			if (c == '"')
				state = M_QUOTED;
			else if (c == ',')
				comma = 1;
			else {
				state = M_PLAIN;
				append = 1;
			}
			break;
		case M_PLAIN:
			comma = c == ',';
			append = !comma;
			break;
		case M_QUOTED:
			if (c == '"')
				state = M_QUOTE;
			else
				append = 1;
			break;
		default:
			if (c == '"') {
				state = M_QUOTED;
				append = 1;
			} else if (c == ',') {
				comma = 1;
			} else {
				why = "text after closing quote";
			}
			break;
		}
		if (append) {
			if (flen == CSV_FIELD_MAX)
				snprintf(out->error, sizeof out->error,
					 "field %zu longer than %d bytes", nf, CSV_FIELD_MAX);
			else
				out->field[nf - 1][flen++] = (char)c;
		}
		if (comma) {
			out->field[nf - 1][flen] = '\0';
			out->len[nf - 1] = flen;
			if (nf == CSV_FIELDS_MAX) {
				snprintf(out->error, sizeof out->error, "more than %d fields",
					 CSV_FIELDS_MAX);
			} else {
				nf++;
				flen = 0;
				state = M_START;
			}
		}
	}
	if (why == NULL && out->error[0] == '\0' && state == M_QUOTED)
		why = "quoted field not closed before end of line";
	if (why != NULL)
		snprintf(out->error, sizeof out->error, "%s", why);
	if (out->error[0] != '\0') {
		out->rc = CSV_BAD;
		return;
	}
	out->field[nf - 1][flen] = '\0';
	out->len[nf - 1] = flen;
	out->nfields = nf;
	out->rc = CSV_ROW;
}

/* model_next - the next record of data[*pos..size) per csv.h. */
static void model_next(const uint8_t *data, size_t size, size_t *pos,
		       unsigned long *line, struct model_rec *out)
{
	for (;;) {
		const uint8_t *lf;
		size_t start = *pos, end, n;

		if (start == size) {
			out->rc = CSV_EOF;
			return;
		}
		lf = memchr(data + start, '\n', size - start);
		end = lf != NULL ? (size_t)(lf - data) : size;
		*pos = lf != NULL ? end + 1 : size;
		n = end - start;
		if (n > 0 && data[end - 1] == '\r')
			n--;            /* CRLF, or a CR that is the last byte */
		out->line = (*line)++;
		if (n == 0)
			continue;       /* blank line */
		model_line(data + start, n, out);
		return;
	}
}

/* encode - the row fully quoted, with a LF; returns its length. */
static size_t encode(const csv_row *row, char *out)
{
	size_t i, j, n = 0;

	for (i = 0; i < row->nfields; i++) {
		if (i > 0)
			out[n++] = ',';
		out[n++] = '"';
		for (j = 0; j < row->len[i]; j++) {
			if (row->field[i][j] == '"')
				out[n++] = '"';
			out[n++] = row->field[i][j];
		}
		out[n++] = '"';
	}
	out[n++] = '\n';
	return n;
}

static void check_round_trip(const csv_row *row)
{
	static char text[CSV_FIELDS_MAX * (2 * CSV_FIELD_MAX + 3) + 1];
	size_t n = encode(row, text), i;
	FILE *f = fmemopen(text, n, "r");
	csv_reader *r;
	csv_row again;

	CHECK(f != NULL);
	r = csv_reader_new(f);
	CHECK(r != NULL);
	CHECK(csv_next(r, &again) == CSV_ROW);
	CHECK(again.line == 1);
	CHECK(again.nfields == row->nfields);
	for (i = 0; i < row->nfields; i++) {
		CHECK(again.len[i] == row->len[i]);
		CHECK(memcmp(again.field[i], row->field[i], row->len[i]) == 0);
	}
	CHECK(csv_next(r, &again) == CSV_EOF);
	csv_reader_free(r);
	fclose(f);
}

/* run - read data[0..size) and compare with the model throughout. */
static void run(const uint8_t *data, size_t size)
{
	static struct model_rec want;
	FILE *f;
	csv_reader *r;
	csv_row got;
	unsigned long last_line = 0, model_line_no = 1;
	size_t model_pos = 0, i, records = 0, lfs = 0;
	int rc;

	/* The model's view of the byte order mark. */
	if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
		model_pos = 3;
	for (i = 0; i < size; i++)
		lfs += data[i] == '\n';

	f = fmemopen((void *)(uintptr_t)data, size, "r");
	CHECK(f != NULL);
	r = csv_reader_new(f);
	CHECK(r != NULL);
	for (;;) {
		rc = csv_next(r, &got);
		model_next(data, size, &model_pos, &model_line_no, &want);
		CHECK(rc == want.rc);
		CHECK(rc == CSV_ROW || rc == CSV_BAD || rc == CSV_EOF);
		if (rc == CSV_EOF)
			break;
		records++;
		CHECK(records <= lfs + 1);
		CHECK(got.line == want.line);
		CHECK(got.line > last_line);
		CHECK(got.line <= lfs + 1);
		last_line = got.line;
		if (rc == CSV_BAD) {
			CHECK(got.error != NULL);
			CHECK(strcmp(got.error, want.error) == 0);
			continue;
		}
		CHECK(got.error == NULL);
		CHECK(got.nfields >= 1 && got.nfields <= CSV_FIELDS_MAX);
		CHECK(got.nfields == want.nfields);
		for (i = 0; i < got.nfields; i++) {
			CHECK(got.field[i] != NULL);
			CHECK(got.len[i] <= CSV_FIELD_MAX);
			CHECK(strlen(got.field[i]) == got.len[i]);
			CHECK(memchr(got.field[i], '\n', got.len[i]) == NULL);
			CHECK(memchr(got.field[i], '\r', got.len[i]) == NULL);
			CHECK(got.len[i] == want.len[i]);
			CHECK(memcmp(got.field[i], want.field[i], got.len[i]) == 0);
		}
		check_round_trip(&got);
	}
	CHECK(csv_next(r, &got) == CSV_EOF);
	csv_reader_free(r);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t shift, pad;
	uint8_t *moved;

	run(data, size);

	/* Again behind one long refused line (a NUL, then filler) that puts the
	 * reader's 64 KiB read boundary at an input-dependent offset inside the
	 * data. A refused line is skipped cheaply, which keeps this fast. */
	if (size == 0 || size > READ_CHUNK)
		return 0;
	shift = (size * 7 + data[0]) % (size + 1);
	pad = READ_CHUNK - shift;
	moved = malloc(pad + size);
	CHECK(moved != NULL);
	if (pad > 0) {
		memset(moved, 'x', pad);
		moved[0] = '\0';
		moved[pad - 1] = '\n';
		if (pad >= 3 && (data[size - 1] & 1))
			moved[pad - 2] = '\r';         /* sometimes CRLF */
	}
	memcpy(moved + pad, data, size);
	run(moved, pad + size);
	free(moved);
	return 0;
}
