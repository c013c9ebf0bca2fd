/*
 * limits.h - every bound on untrusted bytes, in one place.
 *
 * Each buffer that holds bytes from outside (a CSV file, a config file, a
 * command-line value, later a mail message) is sized by one of these names.
 * Input past a limit is refused with a message naming the limit; it is never
 * silently truncated.
 */
#ifndef CONSENTD_LIMITS_H
#define CONSENTD_LIMITS_H

/* Addresses (RFC 5321 4.5.3.1): local part, domain label, whole path. */
#define ADDR_LOCAL_MAX      64
#define ADDR_LABEL_MAX      63
#define ADDR_DOMAIN_MAX     253
#define ADDR_MAX            254

/* Account fields. */
#define ACCOUNT_ID_MAX      128     /* the application's own id, visible ASCII */
#define ACCOUNT_NAME_MAX    200     /* display name, UTF-8 bytes */

/* CSV import: one field, fields per record, one physical line. */
#define CSV_FIELD_MAX       4096
#define CSV_FIELDS_MAX      16

/* Configuration file: one line, one value. */
#define CONFIG_LINE_MAX     4096

/* Free text a staff member attaches to an event (revoke --reason). */
#define REASON_MAX          1000

/* Purpose names: [purpose NAME] sections. */
#define PURPOSE_NAME_MAX    64
#define PURPOSES_MAX        64

#endif
