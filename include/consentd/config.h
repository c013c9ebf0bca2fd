/*
 * config.h - the one configuration file all three programs read.
 *
 * INI format (libinih). Every key is declared in one table in config.c with
 * its type, default and bounds; conf/consentd.conf documents the same keys.
 * An unknown section or key, a value out of bounds, a key given twice, or a
 * password_file that group or others may read is an error naming the file,
 * the line and the key. Purposes are [purpose NAME] sections.
 */
#ifndef CONSENTD_CONFIG_H
#define CONSENTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "limits.h"

enum config_tls { TLS_NO = 0, TLS_TRY, TLS_REQUIRE, TLS_STARTTLS, TLS_IMAPS };

typedef struct config_purpose {
	char name[PURPOSE_NAME_MAX + 1];
	char *title_de, *title_en;         /* what the person agrees to, one line */
	char *description_de, *description_en; /* which data, why; may be NULL */
	int version;                       /* bumped when the purpose text changes */
	unsigned line;                     /* where it was defined */
} config_purpose;

typedef struct config {
	char *path;                        /* the file read */

	/* [service] */
	char *service_name, *service_address;
	char *reply_local, *reply_domain, *delimiter, *default_lang;
	char *controller;                  /* controller's name and postal address */
	char *service_user;                /* consentd started as root becomes this
					    * account before it opens the store */

	/* [store] */
	char *store_path;
	int busy_timeout_ms;

	/* [smtp] */
	char *smtp_host; int smtp_port; int smtp_starttls;
	char *smtp_user, *smtp_password_file;
	int smtp_timeout;

	/* [imap] */
	bool imap_enabled;
	char *imap_host; int imap_port; int imap_tls;
	char *imap_user, *imap_password_file;
	char *imap_mailbox, *imap_processed_mailbox, *imap_review_mailbox;
	int imap_timeout;

	/* [inbound] */
	int inbound_max_size;              /* bytes; larger messages are ignored */

	/* [tokens] */
	int lifetime_days;

	/* [templates] */
	char *templates_dir;

	/* [broadcast] */
	int broadcast_rate, broadcast_domain_rate;

	config_purpose purpose[PURPOSES_MAX];
	int npurposes;

	char *password[2];                 /* kept by config_keep_passwords, or NULL */
} config;

/* config_load - read path (the compiled-in default when NULL). Returns 0 and
 * a config in *out, or -1 with a one-line message in err ("FILE:LINE: key:
 * what is wrong"). */
int config_load(config **out, const char *path, char *err, size_t errlen);

/* config_load_stream - the same, from an open stream; name is used in
 * messages. Password-file permissions are checked as for a file. */
int config_load_stream(config **out, FILE *fp, const char *name, char *err, size_t errlen);

/* config_purpose_find - the purpose called name, or NULL. */
const config_purpose *config_purpose_find(const config *cfg, const char *name);

/* config_default_path - the file read when -c is not given. */
const char *config_default_path(void);

enum config_secret { CONFIG_SMTP, CONFIG_IMAP };
#define CONFIG_PASSWORD_MAX 512   /* first line of a password_file */

/* config_password - the password of [smtp] or [imap]: the copy kept by
 * config_keep_passwords, else the first line of its password_file (its mode
 * was checked at load) without the line end, into out. 0, or -1 with err. */
int config_password(const config *cfg, enum config_secret which, char *out, size_t outlen,
		    char *err, size_t errlen);

/* config_keep_passwords - read the password files now and keep their first
 * lines in memory (wiped by config_free): consentd does this before it
 * gives up root, which may be the only account that can read them. With
 * previous (a reload), a file that cannot be read any more at the same path
 * keeps previous's copy: returns 1 and says so in err. 0, or -1 with err. */
int config_keep_passwords(config *cfg, const config *previous, char *err, size_t errlen);

/* config_free - NULL-safe. */
void config_free(config *cfg);

#endif
