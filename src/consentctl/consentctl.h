/*
 * consentctl.h - shared between consentctl's main and its command table.
 */
#ifndef CONSENTCTL_H
#define CONSENTCTL_H

#include <stdbool.h>
#include <stdint.h>

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

/* ---- shared by the command files ---- */

typedef struct opt {
	const char *name;          /* "--name" */
	const char **value;        /* takes a value when non-NULL */
	bool *flag;                /* or is a flag */
} opt;

/* parse - positionals into pos[0..max) (at least min), options by table
 * (opts may be NULL). EXIT_OK, or the exit code after printing why. */
int parse(ctl *c, int argc, char **argv, const char **pos, int min, int max, const opt *opts);
int need_purpose(ctl *c, const char *purpose);
/* templates - the mail templates, loaded once; NULL after printing why. */
const template_set *templates(ctl *c);
int store_error(ctl *c, int rc, const char *msg);
/* json_out - print doc and free it. */
void json_out(struct json_t *doc);
void time_str(int64_t t, char out[21]);

/* policy.c */
int cmd_policy_publish(ctl *c, int argc, char **argv);
int cmd_policy_list(ctl *c, int argc, char **argv);
int cmd_policy_preview(ctl *c, int argc, char **argv);
int cmd_broadcast_start(ctl *c, int argc, char **argv);
int cmd_broadcast_status(ctl *c, int argc, char **argv);
int cmd_broadcast_report(ctl *c, int argc, char **argv);
int cmd_request_all(ctl *c, const char *purpose);

#endif
