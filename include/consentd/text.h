/*
 * text.h - small byte and string helpers that know nothing about mail or
 * consent: UTF-8 validation, control characters, hex, UTC time stamps.
 */
#ifndef CONSENTD_TEXT_H
#define CONSENTD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* text_utf8_valid - true when s[0..n) is well-formed UTF-8 (no overlongs,
 * no surrogates, nothing above U+10FFFF). NUL bytes count as invalid. */
bool text_utf8_valid(const char *s, size_t n);

/* text_has_control - true when s[0..n) holds a C0 control (including TAB,
 * CR, LF), DEL, or a C1 control encoded as UTF-8 (U+0080..U+009F).
 * Such bytes can break a header line or a log line; callers refuse them. */
bool text_has_control(const char *s, size_t n);

/* text_hex - write 2n lowercase hex digits and a NUL to out. */
void text_hex(const unsigned char *in, size_t n, char *out);

/* text_lower_ascii - ASCII-lowercase s in place; returns s. */
char *text_lower_ascii(char *s);

/* Seconds since the epoch, UTC. */
int64_t text_now(void);

/* text_time_fmt - "YYYY-MM-DDTHH:MM:SSZ" (20 chars and a NUL) for t. */
#define TEXT_TIME_LEN 21
void text_time_fmt(int64_t t, char out[TEXT_TIME_LEN]);

/* text_time_parse - parse "YYYY-MM-DD" (midnight UTC) or the text_time_fmt
 * form. Returns 0 and sets *out, or -1 on any other input. */
int text_time_parse(const char *s, int64_t *out);

/* strbuf - a growing, always NUL-terminated string with an optional
 * bound: strbuf_add past max (0: none) appends nothing and sets over, so
 * a caller checks once at the end. Free b->s when done. */
typedef struct strbuf {
	char *s;
	size_t len, cap, max;
	bool over;
} strbuf;

void strbuf_add(strbuf *b, const char *s, size_t n);
void strbuf_adds(strbuf *b, const char *s);

/* xmalloc family: memory exhaustion ends the program (abort) instead of
 * returning NULL; a signal makes Postfix retry a pipe delivery. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
