/*
 * token.c - request tokens (see token.h). The only user of libuuid.
 *
 * uuid_generate_random() fills all but 6 bits from getrandom(2); the token
 * is those 16 bytes in hex. The caller keeps the plaintext only as long as it
 * needs to put it into the mail; the store sees the hash.
 */
#include <ctype.h>
#include <string.h>

#include <uuid/uuid.h>

#include "consentd/digest.h"
#include "consentd/text.h"
#include "consentd/token.h"

void token_new(char out[TOKEN_SIZE])
{
	uuid_t u;

	uuid_generate_random(u);
	text_hex(u, sizeof(u), out);
	digest_wipe(u, sizeof(u));
}

int token_hash(const char *s, size_t n, char out[65])
{
	char canon[TOKEN_SIZE];
	size_t i;

	if (n != TOKEN_LEN)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		canon[i] = (char)tolower((unsigned char)s[i]);
	}
	canon[n] = '\0';
	digest_sha256_hex(canon, n, out);
	digest_wipe(canon, sizeof(canon));
	return 0;
}

bool token_hash_equal(const char *a, const char *b)
{
	return strlen(a) == 64 && strlen(b) == 64 && digest_equal(a, b, 64);
}
