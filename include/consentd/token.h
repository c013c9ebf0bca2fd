/*
 * token.h - the secret that ties a reply to its request.
 *
 * A token is 32 lowercase hex digits: the 16 bytes of a random (version 4)
 * UUID from libuuid, i.e. 122 bits from the kernel's CSPRNG. Only its
 * SHA-256 is stored. Tokens are matched case-insensitively (MTAs fold the
 * case of local parts); the lookup compares hashes in constant time.
 */
#ifndef CONSENTD_TOKEN_H
#define CONSENTD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_LEN 32
#define TOKEN_SIZE (TOKEN_LEN + 1)

/* token_new - a fresh token (NUL-terminated) in out. */
void token_new(char out[TOKEN_SIZE]);

/* token_hash - SHA-256 hex of the canonical (lowercase) form of s[0..n).
 * Returns -1 when s is not TOKEN_LEN hex digits. */
int token_hash(const char *s, size_t n, char out[65]);

/* token_hash_equal - constant-time comparison of two token hashes. */
bool token_hash_equal(const char *a, const char *b);

#endif
