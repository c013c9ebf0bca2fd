/*
 * consentd.h - the public C API for applications that link personal data
 * with log data: ask before each linking run whether consent is granted.
 *
 *   consentd_handle *h;
 *   char err[256];
 *   if (consentd_open(&h, NULL, err, sizeof(err)) != 0) { fail(err); }
 *   switch (consentd_check(h, "acct-42", "log-linking")) {
 *   case 1:  link();   break;     granted now
 *   case 0:  skip();   break;     not granted (or no such account)
 *   default: fail(consentd_errmsg(h));
 *   }
 *   consentd_close(h);
 *
 * The same answers as `consentctl check` and `consentctl granted`.
 * A handle is for one thread at a time.
 */
#ifndef CONSENTD_CONSENTD_H
#define CONSENTD_CONSENTD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct consentd_handle consentd_handle;

/* consentd_open - read the configuration (NULL: the default file) and open
 * the store. 0 on success; -1 with a message in err. */
int consentd_open(consentd_handle **out, const char *config_path, char *err, size_t errlen);

/* consentd_check - 1 when account's consent for purpose is granted now,
 * 0 when not (any other state, unknown or erased account), -1 on error
 * (unknown purpose, store failure): see consentd_errmsg. */
int consentd_check(consentd_handle *h, const char *account, const char *purpose);

/* consentd_state - the state word ("none", "pending", "granted",
 * "declined", "revoked", "expired") or NULL on error. Static storage. */
const char *consentd_state(consentd_handle *h, const char *account, const char *purpose);

/* consentd_granted - call fn with the id of every account whose consent for
 * purpose is granted now, streamed (constant memory). fn returns 0 to go
 * on. Returns 0, fn's non-zero value, or -1 on error. */
int consentd_granted(consentd_handle *h, const char *purpose,
		     int (*fn)(const char *account, void *arg), void *arg);

const char *consentd_errmsg(const consentd_handle *h);

/* consentd_close - NULL-safe. */
void consentd_close(consentd_handle *h);

#ifdef __cplusplus
}
#endif

#endif
