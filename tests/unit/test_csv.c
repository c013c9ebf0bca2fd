/*
 * test_csv.c - unit tests for csv.h: line ends, quoting, blank lines and
 * their line numbers, the byte order mark, every way a record is refused
 * and that reading resumes on the next line, fields at and past the size
 * limits, records that straddle the reader's internal buffer, and read
 * errors. Inputs are fed through fmemopen().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consentd/csv.h"
#include "consentd/limits.h"

#define WANT_MAX 8

struct want_rec {
	int rc;                                 /* CSV_EOF ends the list */
	unsigned long line;
	size_t nfields;
	const char *field[CSV_FIELDS_MAX];
	const char *error;                      /* for CSV_BAD */
};

struct csv_case {
	const char *name;
	const char *in;
	size_t len;                             /* 0: strlen(in) */
	struct want_rec want[WANT_MAX];
};

/* A row: line, then its fields. */
#define ROW(l, n, ...) { CSV_ROW, (l), (n), { __VA_ARGS__ }, NULL }
#define BAD(l, why)    { CSV_BAD, (l), 0, { NULL }, (why) }

static const struct csv_case cases[] = {
	{ "LF line ends", "a,b,c\nd,e,f\n", 0, {
		ROW(1, 3, "a", "b", "c"),
		ROW(2, 3, "d", "e", "f") } },
	{ "CRLF line ends", "a,b\r\nc,d\r\n", 0, {
		ROW(1, 2, "a", "b"),
		ROW(2, 2, "c", "d") } },
	{ "mixed line ends", "a\r\nb\nc\r\n", 0, {
		ROW(1, 1, "a"), ROW(2, 1, "b"), ROW(3, 1, "c") } },
	{ "quoted fields and escapes",
	  "\"a,b\",\"say \"\"hi\"\"\",plain,\"\"\"\"\n", 0, {
		ROW(1, 4, "a,b", "say \"hi\"", "plain", "\"") } },
	{ "empty fields", ",,\n\"\",x,\n", 0, {
		ROW(1, 3, "", "", ""),
		ROW(2, 3, "", "x", "") } },
	{ "only an empty quoted field", "\"\"\nx\n", 0, {
		ROW(1, 1, ""), ROW(2, 1, "x") } },
	{ "no trailing newline", "a,b\nc,d", 0, {
		ROW(1, 2, "a", "b"), ROW(2, 2, "c", "d") } },
	{ "no trailing newline after quote", "a\r\nc,\"d\"", 0, {
		ROW(1, 1, "a"), ROW(2, 2, "c", "d") } },
	{ "trailing comma without newline", "a,", 0, {
		ROW(1, 2, "a", "") } },
	{ "CR as last byte ends the line", "a,b\r", 0, {
		ROW(1, 2, "a", "b") } },
	{ "byte order mark", "\xEF\xBB\xBFid,email\r\n1,a@b.example\r\n", 0, {
		ROW(1, 2, "id", "email"),
		ROW(2, 2, "1", "a@b.example") } },
	{ "byte order mark then quote", "\xEF\xBB\xBF\"id\"\n", 0, {
		ROW(1, 1, "id") } },
	{ "byte order mark only", "\xEF\xBB\xBF", 0, { { 0 } } },
	{ "byte order mark and blank line", "\xEF\xBB\xBF\r\nx\n", 0, {
		ROW(2, 1, "x") } },
	{ "byte order mark only at the start", "a\n\xEF\xBB\xBF" "b\n", 0, {
		ROW(1, 1, "a"), ROW(2, 1, "\xEF\xBB\xBF" "b") } },
	{ "second byte order mark is data", "\xEF\xBB\xBF\xEF\xBB\xBFx\n", 0, {
		ROW(1, 1, "\xEF\xBB\xBFx") } },
	{ "partial byte order mark is data", "\xEF\xBB", 0, {
		ROW(1, 1, "\xEF\xBB") } },
	{ "empty input", "", 0, { { 0 } } },
	{ "only blank lines", "\n\r\n\n", 0, { { 0 } } },
	{ "blank lines skipped, lines counted", "\n\r\na\n\n\nb\r\n\r\n", 0, {
		ROW(3, 1, "a"), ROW(6, 1, "b") } },
	{ "spaces are data", " a , b \n \n", 0, {
		ROW(1, 2, " a ", " b "), ROW(2, 1, " ") } },
	{ "quote inside unquoted field is data", "a\"b,c\"\n", 0, {
		ROW(1, 2, "a\"b", "c\"") } },
	{ "invalid UTF-8 passes through", "\xff\xfe,\xc0\x80,\xed\xa0\x80\n", 0, {
		ROW(1, 3, "\xff\xfe", "\xc0\x80", "\xed\xa0\x80") } },
	{ "unclosed quote", "a,\"bc\nd,e\n", 0, {
		BAD(1, "quoted field not closed before end of line"),
		ROW(2, 2, "d", "e") } },
	{ "unclosed quote before CRLF", "\"abc\r\nx\r\n", 0, {
		BAD(1, "quoted field not closed before end of line"),
		ROW(2, 1, "x") } },
	{ "unclosed quote at end of input", "a\n\"b", 0, {
		ROW(1, 1, "a"),
		BAD(2, "quoted field not closed before end of line") } },
	{ "line break inside quotes is not joined", "\"a\r\nb\"\nc\n", 0, {
		BAD(1, "quoted field not closed before end of line"),
		ROW(2, 1, "b\""), ROW(3, 1, "c") } },
	{ "unclosed quote then blank lines", "\"x\n\n\ny\n", 0, {
		BAD(1, "quoted field not closed before end of line"),
		ROW(4, 1, "y") } },
	{ "text after closing quote", "\"abc\"x,y\nz\n", 0, {
		BAD(1, "text after closing quote"), ROW(2, 1, "z") } },
	{ "space after closing quote", "\"abc\" ,y\nz\n", 0, {
		BAD(1, "text after closing quote"), ROW(2, 1, "z") } },
	{ "first of several faults is reported", "\"a\"b,\"c\n", 0, {
		BAD(1, "text after closing quote") } },
	{ "NUL byte", "a,b\0c\nd\n", 8, {
		BAD(1, "NUL byte in record"), ROW(2, 1, "d") } },
	{ "NUL byte in quoted field", "\"\0\"\nd\n", 6, {
		BAD(1, "NUL byte in record"), ROW(2, 1, "d") } },
	{ "NUL byte alone on a line", "x\n\0\ny", 5, {
		ROW(1, 1, "x"), BAD(2, "NUL byte in record"), ROW(3, 1, "y") } },
	{ "bare CR", "a\rb,c\nd\n", 0, {
		BAD(1, "bare CR (carriage return without line feed)"),
		ROW(2, 1, "d") } },
	{ "bare CR in quoted field", "\"a\rb\"\nd\n", 0, {
		BAD(1, "bare CR (carriage return without line feed)"),
		ROW(2, 1, "d") } },
	{ "CR CR LF", "a\r\r\nd\n", 0, {
		BAD(1, "bare CR (carriage return without line feed)"),
		ROW(2, 1, "d") } },
	{ "old Mac line ends are one bad line", "a\rb\rc\r", 0, {
		BAD(1, "bare CR (carriage return without line feed)") } },
	{ "sixteen fields", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n", 0, {
		ROW(1, 16, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
		    "11", "12", "13", "14", "15", "16") } },
	{ "sixteen empty fields", ",,,,,,,,,,,,,,,\n", 0, {
		ROW(1, 16, "", "", "", "", "", "", "", "", "", "", "", "", "",
		    "", "", "") } },
	{ "seventeen fields", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\nok\n", 0, {
		BAD(1, "more than 16 fields"), ROW(2, 1, "ok") } },
	{ "sixteen fields and a trailing comma", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,\nok", 0, {
		BAD(1, "more than 16 fields"), ROW(2, 1, "ok") } },
	{ "seventeen empty fields", ",,,,,,,,,,,,,,,,\n", 0, {
		BAD(1, "more than 16 fields") } },
};

static FILE *open_mem(const char *data, size_t len)
{
	FILE *f = fmemopen((void *)data, len, "r");

	assert_non_null(f);
	return f;
}

static void check_rec(const char *name, size_t k, int got_rc, const csv_row *got,
		      const struct want_rec *want)
{
	size_t i;

	if (got_rc != want->rc)
		fail_msg("%s, record %zu: got rc %d (%s), want %d", name, k, got_rc,
			 got->error != NULL ? got->error : "-", want->rc);
	if (got->line != want->line)
		fail_msg("%s, record %zu: got line %lu, want %lu", name, k,
			 got->line, want->line);
	if (want->rc == CSV_BAD) {
		assert_non_null(got->error);
		if (strcmp(got->error, want->error) != 0)
			fail_msg("%s, record %zu: got error \"%s\", want \"%s\"", name, k,
				 got->error, want->error);
		return;
	}
	assert_null(got->error);
	if (got->nfields != want->nfields)
		fail_msg("%s, record %zu: got %zu fields, want %zu", name, k,
			 got->nfields, want->nfields);
	for (i = 0; i < want->nfields; i++) {
		size_t want_len = strlen(want->field[i]);

		if (got->len[i] != want_len || memcmp(got->field[i], want->field[i], want_len) != 0)
			fail_msg("%s, record %zu, field %zu: got \"%.*s\", want \"%s\"", name, k,
				 i + 1, (int)got->len[i], got->field[i], want->field[i]);
		assert_int_equal(got->field[i][got->len[i]], '\0');
	}
}

static void test_table(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct csv_case *tc = &cases[c];
		size_t len = tc->len != 0 ? tc->len : strlen(tc->in);
		FILE *f = open_mem(tc->in, len);
		csv_reader *r = csv_reader_new(f);
		csv_row got;
		size_t k;
		int rc;

		assert_non_null(r);
		for (k = 0; k < WANT_MAX && tc->want[k].rc != CSV_EOF; k++) {
			rc = csv_next(r, &got);
			check_rec(tc->name, k + 1, rc, &got, &tc->want[k]);
		}
		rc = csv_next(r, &got);
		if (rc != CSV_EOF)
			fail_msg("%s: got rc %d after the last record, want EOF (line %lu)",
				 tc->name, rc, got.line);
		assert_int_equal(csv_next(r, &got), CSV_EOF);  /* EOF stays EOF */
		csv_reader_free(r);
		fclose(f);
	}
}

/* A reader over an in-memory input. */
struct reading {
	FILE *f;
	csv_reader *r;
};

static void reading_open(struct reading *rd, const char *data, size_t len)
{
	rd->f = open_mem(data, len);
	rd->r = csv_reader_new(rd->f);
	assert_non_null(rd->r);
}

static void reading_close(struct reading *rd)
{
	csv_row got;

	assert_int_equal(csv_next(rd->r, &got), CSV_EOF);
	csv_reader_free(rd->r);
	fclose(rd->f);
}

/* build - s gets prefix, then n copies of c, then suffix; returns length. */
static size_t build(char *s, const char *prefix, int c, size_t n, const char *suffix)
{
	size_t p = strlen(prefix), q = strlen(suffix);

	memcpy(s, prefix, p);
	memset(s + p, c, n);
	memcpy(s + p + n, suffix, q);
	return p + n + q;
}

static void test_field_at_limit(void **state)
{
	static const struct {
		const char *prefix;
		size_t n;
		const char *suffix;
		int want_rc;
		const char *want_error;
		size_t want_len;        /* of the longest field */
	} lcases[] = {
		{ "", CSV_FIELD_MAX, "\n", CSV_ROW, NULL, CSV_FIELD_MAX },
		{ "", CSV_FIELD_MAX + 1, "\n", CSV_BAD, "field 1 longer than 4096 bytes", 0 },
		{ "x,", CSV_FIELD_MAX, ",y\n", CSV_ROW, NULL, CSV_FIELD_MAX },
		{ "x,", CSV_FIELD_MAX + 1, ",y\n", CSV_BAD, "field 2 longer than 4096 bytes", 0 },
		{ "x,\"", CSV_FIELD_MAX, "\"\n", CSV_ROW, NULL, CSV_FIELD_MAX },
		{ "x,\"", CSV_FIELD_MAX + 1, "\"\n", CSV_BAD, "field 2 longer than 4096 bytes", 0 },
		{ "1,2,3,", CSV_FIELD_MAX + 1, ",5\n", CSV_BAD, "field 4 longer than 4096 bytes", 0 },
	};
	static char buf[2 * CSV_FIELD_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof lcases / sizeof lcases[0]; i++) {
		struct reading rd;
		size_t n = build(buf, lcases[i].prefix, 'a', lcases[i].n, lcases[i].suffix);
		csv_row got;
		size_t f, longest = 0;
		int rc;

		n += build(buf + n, "next,row", 'z', 0, "\n");
		reading_open(&rd, buf, n);
		rc = csv_next(rd.r, &got);
		if (rc != lcases[i].want_rc)
			fail_msg("case %zu: got rc %d, want %d", i, rc, lcases[i].want_rc);
		assert_int_equal(got.line, 1);
		if (rc == CSV_BAD) {
			assert_string_equal(got.error, lcases[i].want_error);
		} else {
			for (f = 0; f < got.nfields; f++)
				if (got.len[f] > longest)
					longest = got.len[f];
			assert_int_equal(longest, lcases[i].want_len);
		}
		rc = csv_next(rd.r, &got);
		assert_int_equal(rc, CSV_ROW);
		assert_int_equal(got.line, 2);
		assert_int_equal(got.nfields, 2);
		assert_string_equal(got.field[0], "next");
		assert_string_equal(got.field[1], "row");
		reading_close(&rd);
	}
}

/* A 1 MB field is refused without being held, in each quoting style, and
 * the next row is still read. */
static void test_huge_field(void **state)
{
	static const struct {
		const char *prefix;
		int fill;
		const char *suffix;
		const char *want_error;
	} hcases[] = {
		{ "id,", 'a', "\r\n", "field 2 longer than 4096 bytes" },
		{ "id,\"", 'b', "\"\r\n", "field 2 longer than 4096 bytes" },
		{ "id,\"", ',', "\"\r\n", "field 2 longer than 4096 bytes" },    /* commas quoted */
		{ "\"", 'c', "\n", "field 1 longer than 4096 bytes" },           /* never closed */
		{ "", '"', "\n", "field 1 longer than 4096 bytes" },           /* "" escapes */
	};
	const size_t huge = 1024 * 1024;
	char *buf = malloc(huge + 64);
	size_t i;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < sizeof hcases / sizeof hcases[0]; i++) {
		struct reading rd;
		csv_row got;
		size_t n = build(buf, hcases[i].prefix, hcases[i].fill, huge, hcases[i].suffix);

		n += build(buf + n, "2,after", 'x', 0, "\r\n");
		reading_open(&rd, buf, n);
		assert_int_equal(csv_next(rd.r, &got), CSV_BAD);
		assert_int_equal(got.line, 1);
		assert_string_equal(got.error, hcases[i].want_error);
		assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
		assert_int_equal(got.line, 2);
		assert_int_equal(got.nfields, 2);
		assert_string_equal(got.field[0], "2");
		assert_string_equal(got.field[1], "after");
		reading_close(&rd);
	}
	free(buf);
}

/* The largest record: 16 fields of 4096 bytes, far past one read buffer. */
static void test_largest_record(void **state)
{
	size_t total = CSV_FIELDS_MAX * (CSV_FIELD_MAX + 3) + 16;
	char *buf = malloc(2 * total);
	struct reading rd;
	csv_row got;
	size_t i, n = 0, k;

	(void)state;
	assert_non_null(buf);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < CSV_FIELDS_MAX; i++) {
			n += build(buf + n, i == 0 ? "\"" : ",\"", (int)('A' + i), CSV_FIELD_MAX, "\"");
		}
		buf[n++] = '\n';
	}
	reading_open(&rd, buf, n);
	for (k = 0; k < 2; k++) {
		assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
		assert_int_equal(got.line, k + 1);
		assert_int_equal(got.nfields, CSV_FIELDS_MAX);
		for (i = 0; i < CSV_FIELDS_MAX; i++) {
			size_t j;

			assert_int_equal(got.len[i], CSV_FIELD_MAX);
			for (j = 0; j < CSV_FIELD_MAX; j++)
				if (got.field[i][j] != (char)('A' + i))
					fail_msg("record %zu field %zu byte %zu wrong", k, i, j);
			assert_int_equal(got.field[i][CSV_FIELD_MAX], '\0');
		}
	}
	reading_close(&rd);
	free(buf);
}

/* make_row - the text of row i; rows vary in length so that record ends
 * fall at many different offsets of the reader's buffer. */
static size_t make_row(char *out, size_t size, unsigned i)
{
	char pad[64];
	unsigned w = (i * 7919u) % 50u;

	memset(pad, 'a' + (char)(i % 26), w);
	pad[w] = '\0';
	return (size_t)snprintf(out, size, "%u,user%u@example.com,\"Name, \"\"%s\"\"\",%s\r\n",
				i, i, pad, i % 3 == 0 ? "" : "x");
}

static void test_straddles_buffer(void **state)
{
	const unsigned rows = 4500;
	size_t cap = 512 * 1024, n = 0;
	char *buf = malloc(cap);
	struct reading rd;
	csv_row got;
	unsigned i;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < rows; i++) {
		n += make_row(buf + n, cap - n, i);
		assert_true(n < cap);
	}
	assert_true(n > 200 * 1000);

	reading_open(&rd, buf, n);
	for (i = 0; i < rows; i++) {
		char want[64], want_name[128];
		char pad[64];
		unsigned w = (i * 7919u) % 50u;

		if (csv_next(rd.r, &got) != CSV_ROW)
			fail_msg("row %u: not read (%s)", i, got.error != NULL ? got.error : "-");
		assert_int_equal(got.line, i + 1);
		assert_int_equal(got.nfields, 4);
		snprintf(want, sizeof want, "%u", i);
		assert_string_equal(got.field[0], want);
		snprintf(want, sizeof want, "user%u@example.com", i);
		assert_string_equal(got.field[1], want);
		memset(pad, 'a' + (char)(i % 26), w);
		pad[w] = '\0';
		snprintf(want_name, sizeof want_name, "Name, \"%s\"", pad);
		assert_string_equal(got.field[2], want_name);
		assert_string_equal(got.field[3], i % 3 == 0 ? "" : "x");
	}
	reading_close(&rd);
	free(buf);
}

/* A CRLF, and a bare CR, split exactly across the 64 KiB read boundary. */
static void test_cr_at_buffer_boundary(void **state)
{
	const size_t boundary = 65536;
	size_t cap = boundary + 64, n, lines, k;
	char *buf = malloc(cap);
	int second;

	(void)state;
	assert_non_null(buf);
	for (second = 0; second < 2; second++) {
		struct reading rd;
		csv_row got;

		/* "xxx\r\n" then "yyyyyyyyyy\r\n" rows put a CR at offset 65535. */
		n = build(buf, "", 'x', 3, "\r\n");
		lines = 1;
		while (n + 12 <= boundary) {
			n += build(buf + n, "", 'y', 10, "\r\n");
			lines++;
		}
		n += build(buf + n, "", 'y', 10, "");
		assert_int_equal(n, boundary - 1);
		buf[n++] = '\r';
		buf[n++] = second ? 'z' : '\n';
		n += build(buf + n, "", 'w', 1, "\n");
		if (second)
			n += build(buf + n, "last", 'w', 0, "\n");

		reading_open(&rd, buf, n);
		assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
		assert_string_equal(got.field[0], "xxx");
		for (k = 2; k <= lines; k++) {
			assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
			assert_int_equal(got.line, k);
			assert_string_equal(got.field[0], "yyyyyyyyyy");
		}
		if (!second) {
			assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
			assert_int_equal(got.line, lines + 1);
			assert_string_equal(got.field[0], "yyyyyyyyyy");
			assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
			assert_int_equal(got.line, lines + 2);
			assert_string_equal(got.field[0], "w");
		} else {
			assert_int_equal(csv_next(rd.r, &got), CSV_BAD);
			assert_int_equal(got.line, lines + 1);
			assert_string_equal(got.error, "bare CR (carriage return without line feed)");
			assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
			assert_int_equal(got.line, lines + 2);
			assert_string_equal(got.field[0], "last");
		}
		reading_close(&rd);
	}
	free(buf);
}

static void test_many_blank_lines(void **state)
{
	const size_t blanks = 100000;
	char *buf = malloc(2 * blanks + 8);
	struct reading rd;
	csv_row got;
	size_t i, n = 0;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < blanks; i++) {
		if (i % 2 == 0)
			buf[n++] = '\r';
		buf[n++] = '\n';
	}
	memcpy(buf + n, "end", 3);
	n += 3;
	reading_open(&rd, buf, n);
	assert_int_equal(csv_next(rd.r, &got), CSV_ROW);
	assert_int_equal(got.line, blanks + 1);
	assert_string_equal(got.field[0], "end");
	reading_close(&rd);
	free(buf);
}

static void test_read_error(void **state)
{
	FILE *f = fopen("/dev/null", "w");      /* reading it fails: EBADF */
	csv_reader *r;
	csv_row got;

	(void)state;
	assert_non_null(f);
	r = csv_reader_new(f);
	assert_non_null(r);
	errno = 0;
	assert_int_equal(csv_next(r, &got), CSV_IOERR);
	assert_int_not_equal(errno, 0);
	assert_int_equal(csv_next(r, &got), CSV_IOERR);  /* stays failed */
	csv_reader_free(r);
	fclose(f);
}

static void test_new_and_free(void **state)
{
	(void)state;
	assert_null(csv_reader_new(NULL));
	csv_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_field_at_limit),
		cmocka_unit_test(test_huge_field),
		cmocka_unit_test(test_largest_record),
		cmocka_unit_test(test_straddles_buffer),
		cmocka_unit_test(test_cr_at_buffer_boundary),
		cmocka_unit_test(test_many_blank_lines),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_new_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
