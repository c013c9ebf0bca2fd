/*
 * text.c - byte and string helpers that know nothing about mail or consent.
 *
 * Promises: UTF-8 is judged by the strict table of RFC 3629 section 4 (no
 * overlong forms, no surrogates, nothing above U+10FFFF, no NUL); time
 * stamps are always UTC and always exactly 20 characters; the x*alloc
 * functions never return NULL - on exhaustion they say so on stderr and
 * abort().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consentd/text.h"

/* The years text_time_fmt and text_time_parse handle: four digits. */
#define TIME_MIN  INT64_C(-62167219200)   /* 0000-01-01T00:00:00Z */
#define TIME_MAX  INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */

bool text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		unsigned char lo = 0x80, hi = 0xBF;
		size_t need, k;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;      /* overlong */
			else if (c == 0xED)
				hi = 0x9F;      /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;      /* overlong */
			else if (c == 0xF4)
				hi = 0x8F;      /* above U+10FFFF */
		} else {
			return false;   /* 80..C1, F5..FF */
		}
		if (n - i - 1 < need)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (k = 2; k <= need; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xBF)
				return false;
		i += need + 1;
	}
	return true;
}

bool text_has_control(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F)
			return true;
		/* U+0080..U+009F is C2 80..C2 9F; C2 never continues a sequence. */
		if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
			return true;
	}
	return false;
}

void text_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0F];
	}
	out[2 * n] = '\0';
}

char *text_lower_ascii(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

int64_t text_now(void)
{
	return (int64_t)time(NULL);
}

/* put_digits - write value as exactly width decimal digits. */
static void put_digits(char *out, int value, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + value % 10);
		value /= 10;
	}
}

/*
 * text_time_fmt: times outside years 0000..9999 are clamped to the nearest
 * end of that range, so the result is always 20 characters.
 */
void text_time_fmt(int64_t t, char out[TEXT_TIME_LEN])
{
	struct tm tm;
	time_t tt;

	if (t < TIME_MIN)
		t = TIME_MIN;
	if (t > TIME_MAX)
		t = TIME_MAX;
	tt = (time_t)t;
	memset(&tm, 0, sizeof tm);
	if (gmtime_r(&tt, &tm) == NULL) {
		/* Cannot happen for the clamped range with a 64-bit time_t. */
		memcpy(out, "0000-01-01T00:00:00Z", TEXT_TIME_LEN);
		return;
	}
	put_digits(out, tm.tm_year + 1900, 4);
	out[4] = '-';
	put_digits(out + 5, tm.tm_mon + 1, 2);
	out[7] = '-';
	put_digits(out + 8, tm.tm_mday, 2);
	out[10] = 'T';
	put_digits(out + 11, tm.tm_hour, 2);
	out[13] = ':';
	put_digits(out + 14, tm.tm_min, 2);
	out[16] = ':';
	put_digits(out + 17, tm.tm_sec, 2);
	out[19] = 'Z';
	out[20] = '\0';
}

/* get_digits - read exactly width decimal digits; -1 if any is not one. */
static int get_digits(const char *s, int width)
{
	int i, v = 0;

	for (i = 0; i < width; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month == 2 && leap)
		return 29;
	return days[month - 1];
}

int text_time_parse(const char *s, int64_t *out)
{
	struct tm tm;
	size_t n;
	int year, mon, day, hour = 0, min = 0, sec = 0;
	time_t t;

	if (s == NULL || out == NULL)
		return -1;
	n = strlen(s);
	if (n != 10 && n != 20)
		return -1;
	if (s[4] != '-' || s[7] != '-')
		return -1;
	year = get_digits(s, 4);
	mon = get_digits(s + 5, 2);
	day = get_digits(s + 8, 2);
	if (n == 20) {
		if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
			return -1;
		hour = get_digits(s + 11, 2);
		min = get_digits(s + 14, 2);
		sec = get_digits(s + 17, 2);
	}
	if (year < 0 || mon < 1 || mon > 12 || day < 1)
		return -1;
	if (day > days_in_month(year, mon))
		return -1;
	/* No leap seconds: 23:59:60 would silently become the next minute. */
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
		return -1;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* Every field was checked, so the time is representable; -1 is then
	 * the real 1969-12-31T23:59:59Z, which tm_year tells apart. */
	if (t == (time_t)-1 && tm.tm_year != 69)
		return -1;
	*out = (int64_t)t;
	return 0;
}

static void out_of_memory(void)
{
	fputs("consentd: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p;

	if (n == 0 || m == 0)
		n = m = 1;
	p = calloc(n, m);
	if (p == NULL)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n != 0 ? n : 1);

	if (q == NULL)
		out_of_memory();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void strbuf_add(strbuf *b, const char *s, size_t n)
{
	if (b->over || (b->max && n > b->max - b->len)) {
		b->over = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void strbuf_adds(strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}
