/*
 * test_text.c - unit tests for text.h: UTF-8 strictness, control bytes,
 * hex, ASCII lowercasing, UTC time stamps and the x*alloc family
 * (including that exhaustion prints the promised message and aborts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "consentd/text.h"

/* The out-of-memory test needs malloc to fail instead of ASan to stop. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

struct bytes_case {
	const char *in;
	size_t len;     /* 0: strlen(in) */
	bool want;
};

static size_t case_len(const struct bytes_case *tc)
{
	return tc->len != 0 ? tc->len : strlen(tc->in);
}

static void test_utf8_valid(void **state)
{
	static const struct bytes_case cases[] = {
		{ "", 0, true },
		{ "plain ascii", 0, true },
		{ "caf\xc3\xa9", 0, true },                     /* U+00E9 */
		{ "\xc2\x80", 0, true },                        /* U+0080 */
		{ "\xdf\xbf", 0, true },                        /* U+07FF */
		{ "\xe0\xa0\x80", 0, true },                    /* U+0800 */
		{ "\xe2\x82\xac", 0, true },                    /* euro sign */
		{ "\xed\x9f\xbf", 0, true },                    /* U+D7FF */
		{ "\xee\x80\x80", 0, true },                    /* U+E000 */
		{ "\xef\xbf\xbf", 0, true },                    /* U+FFFF */
		{ "\xf0\x90\x80\x80", 0, true },                /* U+10000 */
		{ "\xf0\x9f\x98\x80", 0, true },                /* emoji */
		{ "\xf4\x8f\xbf\xbf", 0, true },                /* U+10FFFF */
		{ "a\0b", 3, false },                           /* NUL */
		{ "\x80", 0, false },                           /* lone continuation */
		{ "\xbf", 0, false },
		{ "\xc0\x80", 0, false },                       /* overlong NUL */
		{ "\xc1\xbf", 0, false },                       /* overlong */
		{ "\xc3", 0, false },                           /* truncated */
		{ "\xc3(", 0, false },                          /* bad continuation */
		{ "\xe0\x80\x80", 0, false },                   /* overlong */
		{ "\xe0\x9f\xbf", 0, false },                   /* overlong */
		{ "\xe2\x82", 0, false },                       /* truncated */
		{ "\xed\xa0\x80", 0, false },                   /* surrogate D800 */
		{ "\xed\xbf\xbf", 0, false },                   /* surrogate DFFF */
		{ "\xf0\x80\x80\x80", 0, false },               /* overlong */
		{ "\xf0\x8f\xbf\xbf", 0, false },               /* overlong */
		{ "\xf4\x90\x80\x80", 0, false },               /* U+110000 */
		{ "\xf5\x80\x80\x80", 0, false },
		{ "\xf8\x88\x80\x80\x80", 0, false },           /* 5-byte form */
		{ "\xfe", 0, false },
		{ "\xff", 0, false },
		{ "\xf0\x9f\x98", 0, false },                   /* truncated */
		{ "ok\xe2\x82\xac\xe2\x82", 0, false },         /* good then truncated */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = text_utf8_valid(cases[i].in, case_len(&cases[i]));

		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
	}
}

static void test_utf8_length_respected(void **state)
{
	/* Only n bytes are judged: a bad byte past n does not matter. */
	(void)state;
	assert_true(text_utf8_valid("ab\xff", 2));
	assert_false(text_utf8_valid("\xe2\x82\xac", 2));
}

static void test_has_control(void **state)
{
	static const struct bytes_case cases[] = {
		{ "", 0, false },
		{ "Hello, world", 0, false },
		{ "caf\xc3\xa9 \xe2\x82\xac", 0, false },
		{ "\xc2\xa0", 0, false },                       /* NBSP is not C1 */
		{ "\xc3\x80", 0, false },                       /* U+00C0 */
		{ "~", 0, false },
		{ "a\tb", 0, true },
		{ "a\rb", 0, true },
		{ "a\nb", 0, true },
		{ "\x01", 0, true },
		{ "\x1f", 0, true },
		{ "a\0b", 3, true },
		{ "\x7f", 0, true },                            /* DEL */
		{ "\xc2\x80", 0, true },                        /* U+0080 */
		{ "x\xc2\x85y", 0, true },                      /* NEL */
		{ "\xc2\x9f", 0, true },                        /* U+009F */
		{ "\xc2", 0, false },                           /* not a C1 on its own */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool got = text_has_control(cases[i].in, case_len(&cases[i]));

		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
	}
}

static void test_hex(void **state)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char got[2 * sizeof in + 1];
	char empty[1] = { 'x' };

	(void)state;
	text_hex(in, sizeof in, got);
	assert_string_equal(got, "00017f80abff");
	text_hex(in, 0, empty);
	assert_string_equal(empty, "");
}

static void test_lower_ascii(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "ABC xyz", "abc xyz" },
		{ "Jane.DOE@Example.COM", "jane.doe@example.com" },
		{ "@[`{", "@[`{" },                                 /* neighbours of A-Z, a-z */
		{ "\xc3\x89T\xc3\x89", "\xc3\x89t\xc3\x89" },       /* non-ASCII untouched */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[64];
		char *got;

		snprintf(buf, sizeof buf, "%s", cases[i].in);
		got = text_lower_ascii(buf);
		assert_ptr_equal(got, buf);
		assert_string_equal(got, cases[i].want);
	}
}

static void test_now(void **state)
{
	int64_t got = text_now();

	(void)state;
	assert_true(got > INT64_C(1700000000));             /* after Nov 2023 */
	assert_true(got < INT64_C(253402300799));
}

static void test_time_fmt(void **state)
{
	static const struct {
		int64_t t;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ -1, "1969-12-31T23:59:59Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 1700000000, "2023-11-14T22:13:20Z" },
		{ INT64_C(4102444799), "2099-12-31T23:59:59Z" },
		{ INT64_C(253402300799), "9999-12-31T23:59:59Z" },
		{ INT64_C(253402300800), "9999-12-31T23:59:59Z" },  /* clamped */
		{ INT64_MAX, "9999-12-31T23:59:59Z" },
		{ INT64_C(-62167219200), "0000-01-01T00:00:00Z" },
		{ INT64_MIN, "0000-01-01T00:00:00Z" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[TEXT_TIME_LEN];

		memset(got, 'x', sizeof got);
		text_time_fmt(cases[i].t, got);
		assert_int_equal(strlen(got), TEXT_TIME_LEN - 1);
		assert_string_equal(got, cases[i].want);
	}
}

static void test_time_parse_valid(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		{ "1970-01-01", 0 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "2000-02-29", 951782400 },
		{ "2023-11-14T22:13:20Z", 1700000000 },
		{ "2024-02-29T12:00:00Z", 1709208000 },
		{ "9999-12-31T23:59:59Z", INT64_C(253402300799) },
		{ "0000-01-01T00:00:00Z", INT64_C(-62167219200) },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t got = 12345;

		if (text_time_parse(cases[i].in, &got) != 0)
			fail_msg("case %zu (%s): refused", i, cases[i].in);
		if (got != cases[i].want)
			fail_msg("case %zu (%s): got %lld, want %lld", i, cases[i].in,
				 (long long)got, (long long)cases[i].want);
	}
}

static void test_time_parse_invalid(void **state)
{
	static const char *const cases[] = {
		"",
		"2024",
		"2024-1-01",
		"2024-01-1",
		"24-01-01",
		"2024/01/01",
		"2024-00-10",
		"2024-13-01",
		"2024-01-00",
		"2024-01-32",
		"2023-02-29",                   /* not a leap year */
		"1900-02-29",                   /* not a leap year */
		"2024-04-31",
		"2024-01-01T",
		"2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00",
		"2024-01-01T00:00:00z",
		"2024-01-01T24:00:00Z",
		"2024-01-01T23:60:00Z",
		"2024-01-01T23:59:60Z",         /* no leap seconds */
		"2024-01-01T00:00:00+00:00",
		"2024-01-01T00:00:00.5Z",
		" 2024-01-01",
		"2024-01-01 ",
		"+024-01-01",
		"-024-01-01",
		"2024-0a-01",
		"2024-01-01T0a:00:00Z",
		"2024-01-01X00:00:00Z",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t got = 777;

		if (text_time_parse(cases[i], &got) != -1)
			fail_msg("case %zu (%s): accepted", i, cases[i]);
		assert_int_equal(got, 777);     /* out untouched on failure */
	}
}

static void test_time_round_trip(void **state)
{
	int64_t t;

	(void)state;
	for (t = INT64_C(-62167219200); t < INT64_C(253402300799); t += INT64_C(86399) * 97 + 13) {
		char buf[TEXT_TIME_LEN];
		int64_t got;

		text_time_fmt(t, buf);
		assert_int_equal(text_time_parse(buf, &got), 0);
		assert_int_equal(got, t);
	}
}

static void test_xalloc(void **state)
{
	char *p;
	char *q;
	int *z;
	size_t i;

	(void)state;
	p = xmalloc(0);
	assert_non_null(p);
	free(p);

	z = xcalloc(16, sizeof *z);
	for (i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	z = xrealloc(z, 1024 * sizeof *z);
	z[1023] = 5;
	free(z);
	free(xcalloc(0, 5));

	p = xstrdup("consent");
	assert_string_equal(p, "consent");
	q = xstrndup("consentd", 4);
	assert_string_equal(q, "cons");
	free(q);
	q = xstrndup("ab", 100);                /* n past the end is fine */
	assert_string_equal(q, "ab");
	free(q);
	q = xstrndup(p, 0);
	assert_string_equal(q, "");
	free(q);
	free(p);

	p = xrealloc(NULL, 10);                 /* realloc(NULL) is malloc */
	assert_non_null(p);
	free(p);
}

/* run_oom - run an allocation that must fail in a child; check that it
 * printed the promised message and died of SIGABRT. */
static void run_oom(int which)
{
	static const char want[] = "consentd: out of memory\n";
	FILE *err = tmpfile();
	char got[512];
	size_t n;
	pid_t pid;
	int status = 0;

	assert_non_null(err);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		volatile size_t huge = SIZE_MAX / 2;
		void *p = NULL;

		signal(SIGABRT, SIG_DFL);       /* not the test runner's handler */
		dup2(fileno(err), 2);
		switch (which) {
		case 0: p = xmalloc(huge); break;
		case 1: p = xcalloc(huge, 4); break;
		case 2: p = xrealloc(NULL, huge); break;
		default: break;
		}
		free(p);
		_exit(0);               /* reached only if nothing failed */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("case %d: child status 0x%x, want SIGABRT", which, status);
	rewind(err);
	n = fread(got, 1, sizeof got - 1, err);
	got[n] = '\0';
	fclose(err);
#ifdef TEST_ASAN
	/* ASan warns about the failed allocation first; ours is the last line. */
	if (n < strlen(want) || strcmp(got + n - strlen(want), want) != 0)
		fail_msg("case %d: got \"%s\", want it to end in \"%s\"", which, got, want);
#else
	assert_string_equal(got, want);
#endif
}

static void test_out_of_memory_aborts(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		run_oom(i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_length_respected),
		cmocka_unit_test(test_has_control),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_lower_ascii),
		cmocka_unit_test(test_now),
		cmocka_unit_test(test_time_fmt),
		cmocka_unit_test(test_time_parse_valid),
		cmocka_unit_test(test_time_parse_invalid),
		cmocka_unit_test(test_time_round_trip),
		cmocka_unit_test(test_xalloc),
		cmocka_unit_test(test_out_of_memory_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
