/*
 * addr.h - e-mail address (addr-spec) validation and comparison.
 *
 * consentd only ever sends to, and believes mail from, an account's primary
 * address, so an address must be exact: a dot-atom local part (RFC 5322
 * 3.4.1, no quoted strings, no comments) and a DNS domain of at least two
 * labels (letters, digits, hyphens; no IP literals), within the lengths of
 * RFC 5321 4.5.3.1. Non-ASCII addresses (SMTPUTF8) are refused for now.
 */
#ifndef CONSENTD_ADDR_H
#define CONSENTD_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* addr_check - NULL when s[0..n) is a valid address, otherwise a short
 * static English reason ("missing @", "local part longer than 64 bytes"). */
const char *addr_check(const char *s, size_t n);

/* addr_equal - addresses compared as consentd compares them: ASCII
 * case-insensitively over the whole addr-spec (MTAs fold case). */
bool addr_equal(const char *a, const char *b);

#endif
