/*
 * consentctl.h - shared between consentctl's main and its command table.
 */
#ifndef CONSENTCTL_H
#define CONSENTCTL_H

#include <stdbool.h>

#include "consentd/config.h"
#include "consentd/store.h"
#include "consentd/template.h"

/* Exit codes, documented in `consentctl --help`. */
enum {
	EXIT_OK = 0,     /* done; check: granted */
	EXIT_NO = 1,     /* a negative answer: not granted, chain broken,
			    rows refused, not allowed in this state */
	EXIT_ERR = 2     /* usage, configuration, unknown account or purpose,
			    database error or lock */
};

typedef struct ctl {
	const char *config_path;
	bool json;
	config *cfg;
	store *st;
	template_set *ts;          /* loaded by the commands that render mail */
} ctl;

enum cmd_flags {
	CMD_WRITE = 1,    /* opens the store for writing, creating it if missing */
};

typedef struct command {
	const char *name;          /* one or two words */
	const char *usage;         /* arguments, for --help */
	int (*run)(ctl *c, int argc, char **argv);
	int flags;
} command;

extern const command commands[];

/* ctl_error - print "consentctl: message" (or a JSON error document). */
int ctl_error(ctl *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
