/*
 * digest.c - everything consentd asks of OpenSSL libcrypto (the only
 * module that includes it): SHA-256, HMAC-SHA256, constant-time compare,
 * X.509 chain verification for IMAP over TLS; and random bytes from the
 * kernel's CSPRNG (see digest.h).
 * Algorithms are fetched once per digest object, so restarting a digest
 * costs no provider lookup; libcrypto's config file is never read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "consentd/digest.h"
#include "consentd/text.h"

struct digest {
	EVP_MD *md;
	EVP_MD_CTX *mdctx;
	EVP_MAC *mac;
	EVP_MAC_CTX *macctx;
	bool hmac;     /* which of the two is running */
};

static void crypto_fatal(const char *what)
{
	fprintf(stderr, "consentd: libcrypto failure in %s\n", what);
	abort();
}

/* crypto_init - libcrypto without /usr/lib/ssl/openssl.cnf: nothing here
 * depends on it, and parsing it costs every short-lived process ~0.5 ms. */
static void crypto_init(void)
{
	static bool done;

	if (!done && OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL) != 1)
		crypto_fatal("init");
	done = true;
}

digest *digest_new(void)
{
	digest *d = xcalloc(1, sizeof(*d));

	crypto_init();

	d->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	d->mdctx = EVP_MD_CTX_new();
	d->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	d->macctx = d->mac ? EVP_MAC_CTX_new(d->mac) : NULL;
	if (!d->md || !d->mdctx || !d->mac || !d->macctx)
		crypto_fatal("digest_new");
	/* The HMAC's hash is set once; each digest_start_hmac only rekeys. */
	{
		char mdname[] = "SHA256";
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, mdname, 0),
			OSSL_PARAM_construct_end()
		};

		if (EVP_MAC_CTX_set_params(d->macctx, params) != 1)
			crypto_fatal("hmac params");
	}
	return d;
}

void digest_free(digest *d)
{
	if (!d)
		return;
	EVP_MAC_CTX_free(d->macctx);
	EVP_MAC_free(d->mac);
	EVP_MD_CTX_free(d->mdctx);
	EVP_MD_free(d->md);
	free(d);
}

void digest_start_sha256(digest *d)
{
	d->hmac = false;
	if (EVP_DigestInit_ex2(d->mdctx, d->md, NULL) != 1)
		crypto_fatal("sha256 init");
}

void digest_start_hmac(digest *d, const unsigned char *key, size_t keylen)
{
	d->hmac = true;
	if (EVP_MAC_init(d->macctx, key, keylen, NULL) != 1)
		crypto_fatal("hmac init");
}

void digest_update(digest *d, const void *data, size_t n)
{
	int ok = d->hmac ? EVP_MAC_update(d->macctx, data, n)
			 : EVP_DigestUpdate(d->mdctx, data, n);

	if (ok != 1)
		crypto_fatal("digest update");
}

/* decimal - v in decimal, written backwards from end; returns the start.
 * (snprintf was a tenth of ledger verify's time.) */
static char *decimal(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void ns_bytes(digest *d, const char *s, size_t n)
{
	char buf[24], *p;

	buf[sizeof(buf) - 1] = ':';
	p = decimal(n, buf + sizeof(buf) - 1);
	digest_update(d, p, (size_t)(buf + sizeof(buf) - p));
	if (n)
		digest_update(d, s, n);
	digest_update(d, ",", 1);
}

void digest_ns(digest *d, const char *s)
{
	ns_bytes(d, s, s ? strlen(s) : 0);
}

void digest_ns_int(digest *d, int64_t v)
{
	char buf[24], *p = decimal(v < 0 ? -(uint64_t)v : (uint64_t)v, buf + sizeof(buf));

	if (v < 0)
		*--p = '-';
	ns_bytes(d, p, (size_t)(buf + sizeof(buf) - p));
}

void digest_final(digest *d, unsigned char out[DIGEST_LEN])
{
	unsigned int mdlen = 0;
	size_t maclen = 0;

	if (d->hmac) {
		if (EVP_MAC_final(d->macctx, out, &maclen, DIGEST_LEN) != 1 || maclen != DIGEST_LEN)
			crypto_fatal("hmac final");
	} else if (EVP_DigestFinal_ex(d->mdctx, out, &mdlen) != 1 || mdlen != DIGEST_LEN) {
		crypto_fatal("sha256 final");
	}
}

void digest_final_hex(digest *d, char out[DIGEST_HEX])
{
	unsigned char raw[DIGEST_LEN];

	digest_final(d, raw);
	text_hex(raw, DIGEST_LEN, out);
}

void digest_sha256_hex(const void *data, size_t n, char out[DIGEST_HEX])
{
	unsigned char raw[DIGEST_LEN];
	unsigned int len = 0;

	crypto_init();
	if (EVP_Digest(data, n, raw, &len, EVP_sha256(), NULL) != 1 || len != DIGEST_LEN)
		crypto_fatal("sha256");
	text_hex(raw, DIGEST_LEN, out);
}

void digest_base64(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* digest_random - the kernel's CSPRNG (getrandom(2), blocking until it is
 * seeded); what libcrypto's RAND_bytes seeds from, without its DRBG set-up
 * in every short-lived process. */
int digest_random(void *buf, size_t n)
{
	unsigned char *p = buf;
	ssize_t got;

	while (n > 0) {
		got = getrandom(p, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

bool digest_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void digest_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int digest_verify_chain(const unsigned char *const *der, const size_t *len, size_t n,
			const char *host, bool host_is_ip, char *err, size_t errlen)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	X509 *leaf = NULL, *x;
	size_t i;
	int rc = -1;

	crypto_init();
	for (i = 0; i < n; i++) {
		const unsigned char *p = der[i];

		if (!(x = d2i_X509(NULL, &p, (long)len[i]))) {
			snprintf(err, errlen, "TLS: certificate %zu from %s is unreadable", i, host);
			goto cleanup;
		}
		if (i == 0)
			leaf = x;
		else if (!untrusted || !sk_X509_push(untrusted, x))
			X509_free(x);
	}
	if (!leaf || !untrusted || !store || !ctx || X509_STORE_set_default_paths(store) != 1 ||
	    X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		snprintf(err, errlen, "TLS: cannot set up certificate verification");
		goto cleanup;
	}
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
	     : X509_VERIFY_PARAM_set1_host(vp, host, 0)) != 1) {
		snprintf(err, errlen, "TLS: cannot check certificates for the name %s", host);
		goto cleanup;
	}
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "TLS: certificate of %s not accepted: %s", host,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto cleanup;
	}
	rc = 0;
cleanup:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	ERR_clear_error();
	return rc;
}
