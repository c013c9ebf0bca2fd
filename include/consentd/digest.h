/*
 * digest.h - SHA-256, HMAC-SHA256, random bytes and constant-time compare.
 *
 * The only module that includes OpenSSL headers. A digest is reusable:
 * digest_start_* restarts it, so hot loops (ledger verify) allocate once.
 * Netstring helpers feed length-prefixed fields ("5:hello,") so that no two
 * different field lists can serialise to the same bytes.
 * Failures of the crypto library itself are treated like memory exhaustion:
 * the program aborts rather than produce an unverifiable hash.
 */
#ifndef CONSENTD_DIGEST_H
#define CONSENTD_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 32
#define DIGEST_HEX 65

typedef struct digest digest;

digest *digest_new(void);
void digest_free(digest *d);   /* NULL-safe */

void digest_start_sha256(digest *d);
void digest_start_hmac(digest *d, const unsigned char *key, size_t keylen);
void digest_update(digest *d, const void *data, size_t n);
void digest_ns(digest *d, const char *s);       /* netstring; NULL as "" */
void digest_ns_int(digest *d, int64_t v);       /* netstring of decimal v */
void digest_final(digest *d, unsigned char out[DIGEST_LEN]);
void digest_final_hex(digest *d, char out[DIGEST_HEX]);

/* digest_sha256_hex - one-shot SHA-256 of data, as lowercase hex. */
void digest_sha256_hex(const void *data, size_t n, char out[DIGEST_HEX]);

/* digest_base64 - standard base64 of in[0..n), NUL-terminated, no line
 * breaks; out must hold 4 * ((n + 2) / 3) + 1 bytes. */
void digest_base64(const void *in, size_t n, char *out);

/* digest_random - n bytes from the CSPRNG; 0 on success, -1 on failure. */
int digest_random(void *buf, size_t n);

/* digest_equal - constant-time comparison of n bytes. */
bool digest_equal(const void *a, const void *b, size_t n);

/* digest_wipe - clear secrets so the compiler cannot skip it. */
void digest_wipe(void *p, size_t n);

/* digest_verify_chain - a server's certificate chain (DER; der[0] the
 * leaf, then the intermediates it sent) leads to a root in the system trust
 * store (OpenSSL's default paths; SSL_CERT_FILE / SSL_CERT_DIR override),
 * is valid for a TLS server, and names host (a DNS name against the
 * subjectAltName DNS entries, no partial wildcards; an IP address against
 * its IP entries). No revocation check. 0, or -1 with err. */
int digest_verify_chain(const unsigned char *const *der, const size_t *len, size_t n,
			const char *host, bool host_is_ip, char *err, size_t errlen);

#endif
