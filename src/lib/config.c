/*
 * config.c - load and check the configuration file.
 *
 * One table (config_keys) declares every key: section, name, type, default,
 * bounds. The parser (libinih, fed line by line so every message can name its
 * line) refuses unknown sections and keys, keys given twice, values out of
 * bounds, and password files that group or others may read. After the file
 * is read, cross-key rules are checked (addresses valid, purposes complete).
 * A config that loads is complete: every string is non-NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "consentd/addr.h"
#include "consentd/config.h"
#include "consentd/text.h"

#ifndef CONSENTD_DEFAULT_CONFIG
#define CONSENTD_DEFAULT_CONFIG "/etc/consentd/consentd.conf"
#endif

enum key_type { K_STR, K_INT, K_BOOL, K_ENUM, K_SECRET_FILE };

typedef struct config_key {
	const char *section, *name;
	enum key_type type;
	size_t offset;
	const char *def;          /* default, as it would be written in the file */
	long min, max;            /* K_INT bounds */
	const char *const *enums; /* K_ENUM names; value is the index */
} config_key;

static const char *const tls_smtp[] = { "no", "try", "require", NULL };
static const char *const tls_imap[] = { "no", "", "", "starttls", "imaps", NULL };

#define OFF(f) offsetof(config, f)
static const config_key config_keys[] = {
	{ "service", "name", K_STR, OFF(service_name), "consentd", 0, 0, NULL },
	{ "service", "address", K_STR, OFF(service_address), "", 0, 0, NULL },
	{ "service", "reply_local", K_STR, OFF(reply_local), "consent", 0, 0, NULL },
	{ "service", "reply_domain", K_STR, OFF(reply_domain), "", 0, 0, NULL },
	{ "service", "delimiter", K_STR, OFF(delimiter), "+", 0, 0, NULL },
	{ "service", "default_lang", K_STR, OFF(default_lang), "de", 0, 0, NULL },
	{ "service", "controller", K_STR, OFF(controller), "", 0, 0, NULL },
	{ "service", "user", K_STR, OFF(service_user), "", 0, 0, NULL },
	{ "store", "path", K_STR, OFF(store_path), "/var/lib/consentd/consentd.db", 0, 0, NULL },
	{ "store", "busy_timeout_ms", K_INT, OFF(busy_timeout_ms), "5000", 0, 600000, NULL },
	{ "smtp", "host", K_STR, OFF(smtp_host), "127.0.0.1", 0, 0, NULL },
	{ "smtp", "port", K_INT, OFF(smtp_port), "25", 1, 65535, NULL },
	{ "smtp", "starttls", K_ENUM, OFF(smtp_starttls), "no", 0, 0, tls_smtp },
	{ "smtp", "user", K_STR, OFF(smtp_user), "", 0, 0, NULL },
	{ "smtp", "password_file", K_SECRET_FILE, OFF(smtp_password_file), "", 0, 0, NULL },
	{ "smtp", "timeout", K_INT, OFF(smtp_timeout), "60", 1, 3600, NULL },
	{ "imap", "enabled", K_BOOL, OFF(imap_enabled), "no", 0, 0, NULL },
	{ "imap", "host", K_STR, OFF(imap_host), "127.0.0.1", 0, 0, NULL },
	{ "imap", "port", K_INT, OFF(imap_port), "143", 1, 65535, NULL },
	{ "imap", "tls", K_ENUM, OFF(imap_tls), "no", 0, 0, tls_imap },
	{ "imap", "user", K_STR, OFF(imap_user), "", 0, 0, NULL },
	{ "imap", "password_file", K_SECRET_FILE, OFF(imap_password_file), "", 0, 0, NULL },
	{ "imap", "mailbox", K_STR, OFF(imap_mailbox), "INBOX", 0, 0, NULL },
	{ "imap", "processed_mailbox", K_STR, OFF(imap_processed_mailbox), "consent/processed", 0, 0, NULL },
	{ "imap", "review_mailbox", K_STR, OFF(imap_review_mailbox), "consent/review", 0, 0, NULL },
	{ "imap", "timeout", K_INT, OFF(imap_timeout), "60", 1, 3600, NULL },
	{ "inbound", "max_size", K_INT, OFF(inbound_max_size), "10485760", 4096, 10485760, NULL },
	{ "tokens", "lifetime_days", K_INT, OFF(lifetime_days), "30", 1, 3650, NULL },
	{ "templates", "dir", K_STR, OFF(templates_dir), "/usr/share/consentd/mailtemplates", 0, 0, NULL },
	{ "broadcast", "rate", K_INT, OFF(broadcast_rate), "50", 0, 100000, NULL },
	{ "broadcast", "domain_rate", K_INT, OFF(broadcast_domain_rate), "10", 0, 100000, NULL },
};
#undef OFF
#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

typedef struct parse_ctx {
	config *cfg;
	FILE *fp;
	unsigned line;            /* line most recently handed to inih */
	size_t line_len;          /* bytes of it read so far, without the line end */
	bool at_line_start;
	char section[96];         /* the last [section] as written (inih cuts at 49) */
	unsigned key_line[NKEYS]; /* where each key was given, 0 when not */
	bool version_seen[PURPOSES_MAX];
	bool seen[NKEYS];
	char *err;
	size_t errlen;
	config_purpose *cur;      /* purpose section being read, if any */
} parse_ctx;

static void fail(parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(parse_ctx *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err[0])
		return;   /* keep the first error */
	if (p->line)
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->cfg->path, p->line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->cfg->path);

	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int section_begin(parse_ctx *p);

/* line_reader - fgets for inih that counts lines, refuses long ones and
 * keeps the name of each [section] as written. */
static char *line_reader(char *str, int num, void *stream)
{
	parse_ctx *p = stream;
	size_t len, content;
	const char *c, *end;

	if (!fgets(str, num, p->fp))
		return NULL;
	if (p->at_line_start) {
		p->line++;
		p->line_len = 0;
	}
	len = strlen(str);
	content = len;
	if (content && str[content - 1] == '\n')
		content--;
	if (content && str[content - 1] == '\r')
		content--;
	p->line_len += content;
	p->at_line_start = len > 0 && str[len - 1] == '\n';
	if (p->line_len > CONFIG_LINE_MAX) {
		fail(p, "line longer than %d bytes", CONFIG_LINE_MAX);
		return NULL;   /* inih stops as at end of file; err is set */
	}
	for (c = str; *c == ' ' || *c == '\t'; c++)
		;
	if (*c == '[' && (end = strchr(c, ']'))) {
		if ((size_t)(end - c - 1) >= sizeof(p->section)) {
			fail(p, "section name longer than %zu bytes", sizeof(p->section) - 1);
			return NULL;
		}
		memcpy(p->section, c + 1, (size_t)(end - c - 1));
		p->section[end - c - 1] = '\0';
		if (section_begin(p))
			return NULL;
	}
	return str;
}

static char **str_field(config *cfg, size_t off)
{
	return (char **)(void *)((char *)cfg + off);
}

static int *int_field(config *cfg, size_t off)
{
	return (int *)(void *)((char *)cfg + off);
}

static int set_value(parse_ctx *p, const config_key *k, const char *value)
{
	config *cfg = p->cfg;
	char *end;
	long v;
	int i;

	if (text_has_control(value, strlen(value)) || !text_utf8_valid(value, strlen(value))) {
		fail(p, "[%s] %s: value holds control characters or invalid UTF-8",
		     k->section, k->name);
		return -1;
	}
	switch (k->type) {
	case K_STR:
	case K_SECRET_FILE:
		free(*str_field(cfg, k->offset));
		*str_field(cfg, k->offset) = xstrdup(value);
		return 0;
	case K_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < k->min || v > k->max) {
			fail(p, "[%s] %s: '%s' is not a whole number from %ld to %ld",
			     k->section, k->name, value, k->min, k->max);
			return -1;
		}
		*int_field(cfg, k->offset) = (int)v;
		return 0;
	case K_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)(void *)((char *)cfg + k->offset) = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)(void *)((char *)cfg + k->offset) = false;
		else {
			fail(p, "[%s] %s: '%s' is not yes or no", k->section, k->name, value);
			return -1;
		}
		return 0;
	case K_ENUM:
		for (i = 0; k->enums[i]; i++)
			if (*k->enums[i] && !strcmp(k->enums[i], value)) {
				*int_field(cfg, k->offset) = i;
				return 0;
			}
		fail(p, "[%s] %s: '%s' is not one of the allowed values", k->section,
		     k->name, value);
		return -1;
	}
	return -1;
}

static int purpose_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PURPOSE_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

/* purpose_begin - a [purpose NAME] header: check the name, open the entry. */
static int purpose_begin(parse_ctx *p, const char *section)
{
	const char *pname = section + strlen("purpose ");
	config_purpose *pu;
	int i;

	if (!purpose_name_ok(pname)) {
		fail(p, "[%s]: purpose names are 1 to %d of a-z, 0-9 and '-'",
		     section, PURPOSE_NAME_MAX);
		return -1;
	}
	for (i = 0; i < p->cfg->npurposes; i++)
		if (!strcmp(p->cfg->purpose[i].name, pname)) {
			fail(p, "[%s]: purpose defined twice (first on line %u)",
			     section, p->cfg->purpose[i].line);
			return -1;
		}
	if (p->cfg->npurposes == PURPOSES_MAX) {
		fail(p, "[%s]: more than %d purposes", section, PURPOSES_MAX);
		return -1;
	}
	pu = p->cur = &p->cfg->purpose[p->cfg->npurposes++];
	memset(pu, 0, sizeof(*pu));
	strcpy(pu->name, pname);
	pu->version = 1;
	pu->line = p->line;
	return 0;
}

/* section_begin - every [section] line, keys or not: known, or a purpose. */
static int section_begin(parse_ctx *p)
{
	size_t i;

	p->cur = NULL;
	if (!strncmp(p->section, "purpose ", 8))
		return purpose_begin(p, p->section);
	for (i = 0; i < NKEYS; i++)
		if (!strcmp(config_keys[i].section, p->section))
			return 0;
	fail(p, "[%s]: unknown section", p->section);
	return -1;
}

static int purpose_value(parse_ctx *p, const char *section, const char *name,
			 const char *value)
{
	config_purpose *pu = p->cur;
	char **slot = NULL;

	if (!pu)
		return -1;   /* section_begin failed and said why */
	if (!strcmp(name, "version")) {
		char *end;
		long v = strtol(value, &end, 10);

		if (p->version_seen[pu - p->cfg->purpose]) {
			fail(p, "[%s] version: given twice", section);
			return -1;
		}
		p->version_seen[pu - p->cfg->purpose] = true;
		if (end == value || *end || v < 1 || v > 1000000) {
			fail(p, "[%s] version: '%s' is not a whole number from 1", section, value);
			return -1;
		}
		pu->version = (int)v;
		return 0;
	}
	if (!strcmp(name, "title_de")) slot = &pu->title_de;
	else if (!strcmp(name, "title_en")) slot = &pu->title_en;
	else if (!strcmp(name, "description_de")) slot = &pu->description_de;
	else if (!strcmp(name, "description_en")) slot = &pu->description_en;
	if (!slot) {
		fail(p, "[%s] %s: unknown key (known: title_de, title_en, "
		     "description_de, description_en, version)", section, name);
		return -1;
	}
	if (*slot) {
		fail(p, "[%s] %s: given twice", section, name);
		return -1;
	}
	if (text_has_control(value, strlen(value)) || !text_utf8_valid(value, strlen(value))) {
		fail(p, "[%s] %s: value holds control characters or invalid UTF-8", section, name);
		return -1;
	}
	*slot = xstrdup(value);
	return 0;
}

/* handler - inih callback; returns 0 to stop parsing with p->err set. */
static int handler(void *user, const char *cut_section, const char *name, const char *value)
{
	parse_ctx *p = user;
	const char *section = p->section;   /* inih's copy may be cut short */
	bool known_section = false;
	size_t i;

	(void)cut_section;
	if (!strncmp(section, "purpose ", 8))
		return purpose_value(p, section, name, value) == 0;
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(config_keys[i].section, section))
			continue;
		known_section = true;
		if (strcmp(config_keys[i].name, name))
			continue;
		if (p->seen[i]) {
			fail(p, "[%s] %s: given twice", section, name);
			return 0;
		}
		p->seen[i] = true;
		p->key_line[i] = p->line;
		return set_value(p, &config_keys[i], value) == 0;
	}
	if (!known_section)
		fail(p, "[%s]: unknown section", section);
	else
		fail(p, "[%s] %s: unknown key", section, name);
	return 0;
}

static int check_secret_file(parse_ctx *p, const config_key *k, const char *path)
{
	struct stat st;

	if (!*path)
		return 0;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;   /* reported by the program that needs it */
		fail(p, "[%s] %s: %s: %s", k->section, k->name, path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		fail(p, "[%s] %s: %s may be read by group or others (mode %04o); "
		     "chmod 600 it", k->section, k->name, path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static size_t key_index(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (!strcmp(config_keys[i].section, section) && !strcmp(config_keys[i].name, name))
			return i;
	abort();   /* a name missing from config_keys is a bug here */
}

/* at_key - point messages at the line where section/name was given (0, the
 * whole file, when it was not given and the default is at fault). */
static void at_key(parse_ctx *p, const char *section, const char *name)
{
	p->line = p->key_line[key_index(section, name)];
}

/* check_whole - rules that span keys or need the whole file. */
static int check_whole(parse_ctx *p)
{
	config *cfg = p->cfg;
	char reply[ADDR_MAX + 2];
	const char *why;
	size_t i;
	int j;

	for (i = 0; i < NKEYS; i++) {
		if (config_keys[i].type != K_SECRET_FILE)
			continue;
		p->line = p->key_line[i];
		if (check_secret_file(p, &config_keys[i], *str_field(cfg, config_keys[i].offset)))
			return -1;
	}
	at_key(p, "service", "address");
	if (!*cfg->service_address) {
		fail(p, "[service] address: required (the From of every mail)");
		return -1;
	}
	if ((why = addr_check(cfg->service_address, strlen(cfg->service_address)))) {
		fail(p, "[service] address: '%s': %s", cfg->service_address, why);
		return -1;
	}
	at_key(p, "service", "reply_domain");
	if (!*cfg->reply_domain) {
		fail(p, "[service] reply_domain: required");
		return -1;
	}
	at_key(p, "service", "delimiter");
	if (strlen(cfg->delimiter) != 1 || !strchr("+-_=.", cfg->delimiter[0])) {
		fail(p, "[service] delimiter: must be one of + - _ = .");
		return -1;
	}
	/* The reply address with a 32-character token must itself be valid. */
	at_key(p, "service", "reply_local");
	if (!p->line)
		at_key(p, "service", "reply_domain");
	if (snprintf(reply, sizeof(reply), "%s%s%032d@%s", cfg->reply_local,
		     cfg->delimiter, 0, cfg->reply_domain) >= (int)sizeof(reply) ||
	    (why = addr_check(reply, strlen(reply)))) {
		fail(p, "[service] reply_local/reply_domain: '%s' is not a valid address: %s",
		     reply, why ? why : "too long");
		return -1;
	}
	at_key(p, "service", "default_lang");
	if (strcmp(cfg->default_lang, "de") && strcmp(cfg->default_lang, "en")) {
		fail(p, "[service] default_lang: must be de or en");
		return -1;
	}
	at_key(p, "smtp", "host");
	if (!*cfg->smtp_host || strchr(cfg->smtp_host, ':')) {
		fail(p, "[smtp] host: a host name or IPv4 address (libESMTP cannot take an "
		     "IPv6 literal; use a name that resolves to it)");
		return -1;
	}
	at_key(p, "store", "path");
	if (!*cfg->store_path) {
		fail(p, "[store] path: required");
		return -1;
	}
	for (j = 0; j < cfg->npurposes; j++) {
		config_purpose *pu = &cfg->purpose[j];

		p->line = pu->line;
		if (!pu->title_de || !pu->title_en) {
			fail(p, "[purpose %s]: title_de and title_en are required", pu->name);
			return -1;
		}
	}
	return 0;
}

const char *config_default_path(void)
{
	return CONSENTD_DEFAULT_CONFIG;
}

static int load(config **out, FILE *fp, const char *name, char *err, size_t errlen)
{
	parse_ctx p = { 0 };
	config *cfg = xcalloc(1, sizeof(*cfg));
	size_t i;
	int rc = -1, r;

	*out = NULL;
	cfg->path = xstrdup(name);
	p.cfg = cfg;
	p.fp = fp;
	p.at_line_start = true;
	p.err = err;
	p.errlen = errlen;
	err[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		if (config_keys[i].type == K_STR || config_keys[i].type == K_SECRET_FILE)
			*str_field(cfg, config_keys[i].offset) = NULL;
		if (set_value(&p, &config_keys[i], config_keys[i].def))
			goto cleanup;   /* a bad default is a bug; report it anyway */
	}
	/* Heap buffer big enough for any accepted line; line_reader refuses
	 * longer ones, so inih never splits a line. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = CONFIG_LINE_MAX + 16;
	ini_max_line = CONFIG_LINE_MAX + 16;
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	r = ini_parse_stream(line_reader, &p, handler, &p);
	if (r != 0 || err[0]) {
		if (!err[0]) {
			if (r > 0) {
				p.line = (unsigned)r;
				fail(&p, "syntax error (expected [section] or key = value)");
			} else {
				fail(&p, "cannot parse (out of memory)");
			}
		}
		goto cleanup;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", cfg->path);
		goto cleanup;
	}
	if (check_whole(&p))
		goto cleanup;
	*out = cfg;
	cfg = NULL;
	rc = 0;
cleanup:
	config_free(cfg);
	return rc;
}

int config_load_stream(config **out, FILE *fp, const char *name, char *err, size_t errlen)
{
	return load(out, fp, name, err, errlen);
}

int config_load(config **out, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	int rc;

	*out = NULL;
	if (!path)
		path = CONSENTD_DEFAULT_CONFIG;
	if (!(fp = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: cannot read configuration: %s", path, strerror(errno));
		return -1;
	}
	rc = load(out, fp, path, err, errlen);
	fclose(fp);
	return rc;
}

const config_purpose *config_purpose_find(const config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->npurposes; i++)
		if (!strcmp(cfg->purpose[i].name, name))
			return &cfg->purpose[i];
	return NULL;
}

void config_free(config *cfg)
{
	size_t i;
	int j;

	if (!cfg)
		return;
	for (i = 0; i < NKEYS; i++)
		if (config_keys[i].type == K_STR || config_keys[i].type == K_SECRET_FILE)
			free(*str_field(cfg, config_keys[i].offset));
	for (j = 0; j < cfg->npurposes; j++) {
		free(cfg->purpose[j].title_de);
		free(cfg->purpose[j].title_en);
		free(cfg->purpose[j].description_de);
		free(cfg->purpose[j].description_en);
	}
	for (j = 0; j < 2; j++) {
		if (cfg->password[j])
			explicit_bzero(cfg->password[j], strlen(cfg->password[j]));
		free(cfg->password[j]);
	}
	free(cfg->path);
	free(cfg);
}

static int read_secret(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)outlen, fp)) {
		fclose(fp);
		snprintf(err, errlen, "%s: empty", path);
		return -1;
	}
	fclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static const char *secret_path(const config *cfg, enum config_secret which)
{
	return which == CONFIG_SMTP ? cfg->smtp_password_file : cfg->imap_password_file;
}

int config_password(const config *cfg, enum config_secret which, char *out, size_t outlen,
		    char *err, size_t errlen)
{
	if (cfg->password[which]) {
		snprintf(out, outlen, "%s", cfg->password[which]);
		return 0;
	}
	return read_secret(secret_path(cfg, which), out, outlen, err, errlen);
}

int config_keep_passwords(config *cfg, const config *previous, char *err, size_t errlen)
{
	char buf[CONFIG_PASSWORD_MAX];
	const char *path;
	int which, rc = 0, kept = 0;

	for (which = CONFIG_SMTP; which <= CONFIG_IMAP && rc == 0; which++) {
		path = secret_path(cfg, (enum config_secret)which);
		if (!*path || cfg->password[which])
			continue;
		if ((rc = read_secret(path, buf, sizeof(buf), err, errlen)) == 0) {
			cfg->password[which] = xstrdup(buf);
		} else if (previous && previous->password[which] &&
			   !strcmp(path, secret_path(previous, (enum config_secret)which))) {
			/* e.g. root's alone, and consentd runs as its account now */
			cfg->password[which] = xstrdup(previous->password[which]);
			snprintf(buf, sizeof(buf), "%s", err);
			snprintf(err, errlen, "%.400s; the password read at the start is kept", buf);
			rc = 0;
			kept = 1;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return rc ? rc : kept;
}
