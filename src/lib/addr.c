/*
 * addr.c - e-mail address (addr-spec) validation and comparison.
 *
 * Promises: addr_check accepts only local@domain where local is a dot-atom
 * of RFC 5322 atext and domain is a DNS name of two or more labels, within
 * the limits of limits.h; everything else (quoted local parts, comments,
 * IP literals, non-ASCII, controls, spaces) is refused with a short static
 * reason. It reads exactly n bytes and never writes.
 */
#include <string.h>

#include "consentd/addr.h"
#include "consentd/limits.h"

/* Reasons that name a limit spell its value; keep them in step. */
#define STR_(x) #x
#define STR(x)  STR_(x)

/* RFC 5322 3.2.3 atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~". */
static bool is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

static const char *check_local(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return "empty local part";
	if (n > ADDR_LOCAL_MAX)
		return "local part longer than " STR(ADDR_LOCAL_MAX) " bytes";
	if (s[0] == '.')
		return "local part starts with a dot";
	if (s[n - 1] == '.')
		return "local part ends with a dot";
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return "two dots in a row in local part";
		} else if (s[i] == '"') {
			return "quoted local part not supported";
		} else if (!is_atext(s[i])) {
			return "invalid character in local part";
		}
	}
	return NULL;
}

static const char *check_domain(const unsigned char *s, size_t n)
{
	size_t i, start = 0, labels = 0;
	bool all_digits = true;

	if (n == 0)
		return "empty domain";
	if (s[0] == '[')
		return "IP address literal not supported";
	if (n > ADDR_DOMAIN_MAX)
		return "domain longer than " STR(ADDR_DOMAIN_MAX) " bytes";
	if (s[0] == '.')
		return "domain starts with a dot";
	if (s[n - 1] == '.')
		return "domain ends with a dot";
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_ldh(s[i]))
				return "invalid character in domain";
			if (s[i] < '0' || s[i] > '9')
				all_digits = false;
			continue;
		}
		/* A label ends at s[i]: it is s[start..i). */
		if (i == start)
			return "two dots in a row in domain";
		if (i - start > ADDR_LABEL_MAX)
			return "domain label longer than " STR(ADDR_LABEL_MAX) " bytes";
		if (s[start] == '-' || s[i - 1] == '-')
			return "domain label starts or ends with a hyphen";
		labels++;
		if (i < n) {
			start = i + 1;
			all_digits = true;
		}
	}
	if (labels < 2)
		return "domain needs at least two labels";
	if (all_digits)
		return "top-level domain is all digits";
	return NULL;
}

const char *addr_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *at = NULL;
	const char *why;
	size_t i;

	if (s == NULL || n == 0)
		return "empty address";
	for (i = 0; i < n; i++) {
		if (p[i] >= 0x80)
			return "non-ASCII address (SMTPUTF8) not supported";
		if (p[i] <= 0x20 || p[i] == 0x7F)
			return "control character or space in address";
		if (p[i] == '@') {
			if (at != NULL)
				return "more than one @";
			at = p + i;
		}
	}
	if (at == NULL)
		return "missing @";
	why = check_local(p, (size_t)(at - p));
	if (why != NULL)
		return why;
	why = check_domain(at + 1, n - (size_t)(at - p) - 1);
	if (why != NULL)
		return why;
	if (n > ADDR_MAX)
		return "address longer than " STR(ADDR_MAX) " bytes";
	return NULL;
}

static int fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

bool addr_equal(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;

	if (a == NULL || b == NULL)
		return false;
	for (;; p++, q++) {
		if (fold(*p) != fold(*q))
			return false;
		if (*p == '\0')
			return true;
	}
}
