/*
 * consentd.h - the public C API for applications that link personal data
 * with log data: ask before each linking run whether consent is granted.
 *
 *   consentd_handle *h;
 *   bool granted;
 *   char err[256];
 *   if (consentd_open(&h, NULL, err, sizeof(err)) != 0) { fail(err); }
 *   if (consentd_check(h, "acct-42", "log-linking", &granted) != 0)
 *       fail(consentd_errmsg(h));          granted is false here
 *   else if (granted)
 *       link();
 *   consentd_close(h);
 *
 * The answer and the error are kept apart so that no error can be read as
 * "granted".
 *
 * The same answers as `consentctl check` and `consentctl granted`.
 * A handle is for one thread at a time.
 */
#ifndef CONSENTD_CONSENTD_H
#define CONSENTD_CONSENTD_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct consentd_handle consentd_handle;

/* consentd_open - read the configuration (NULL: the default file) and open
 * the store. 0 on success; -1 with a message in err. */
int consentd_open(consentd_handle **out, const char *config_path, char *err, size_t errlen);

/* consentd_check - *granted_out is true only when account's consent for
 * purpose is granted now (false for any other state and for unknown or
 * erased accounts). Returns 0, or -1 on error (unknown purpose, store
 * failure; see consentd_errmsg) with *granted_out false. */
int consentd_check(consentd_handle *h, const char *account, const char *purpose,
		   bool *granted_out) __attribute__((warn_unused_result));

/* consentd_state - the state word ("none", "pending", "granted",
 * "declined", "revoked", "expired") or NULL on error. Static storage. */
const char *consentd_state(consentd_handle *h, const char *account, const char *purpose);

/* consentd_granted - call fn with the id of every account whose consent for
 * purpose is granted now, streamed (constant memory). fn returns 0 to go
 * on, or a positive value to stop. Returns 0, fn's value, or -1 on error. */
int consentd_granted(consentd_handle *h, const char *purpose,
		     int (*fn)(const char *account, void *arg), void *arg);

const char *consentd_errmsg(const consentd_handle *h);

/* consentd_close - NULL-safe. */
void consentd_close(consentd_handle *h);

#ifdef __cplusplus
}
#endif

#endif
