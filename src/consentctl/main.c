/*
 * consentctl - the staff tool: accounts, requests, states, ledger, erasure.
 *
 * main() only parses the global options, finds the command in the table
 * (commands.c), loads the configuration, opens the store and maps the
 * outcome to an exit code. Every command's work is in the core library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "consentctl.h"

static void usage(FILE *fp)
{
	int i;

	fprintf(fp,
		"usage: consentctl [-c FILE] [--json] COMMAND [ARGS]\n"
		"\n"
		"  -c FILE   configuration (default %s)\n"
		"  --json    print one JSON document instead of text\n"
		"\n"
		"commands:\n", config_default_path());
	for (i = 0; commands[i].name; i++)
		fprintf(fp, "  %s %s\n", commands[i].name, commands[i].usage);
	fprintf(fp,
		"\n"
		"exit status:\n"
		"  0  done (check: consent is granted now)\n"
		"  1  a negative answer: check: not granted; ledger verify: chain broken;\n"
		"     account import: some rows refused (the good ones are stored);\n"
		"     request/revoke: not allowed in the current state\n"
		"  2  error: usage, configuration, unknown account or purpose,\n"
		"     database missing, locked, corrupt or unwritable\n");
}

int ctl_error(ctl *c, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c && c->json) {
		json_t *o = json_pack("{s:s, s:i}", "error", msg, "exit", code);

		json_dumpf(o, stdout, JSON_ENSURE_ASCII);
		fputc('\n', stdout);
		json_decref(o);
	}
	fprintf(stderr, "consentctl: %s\n", msg);
	return code;
}

/* find_command - match one- or two-word names; *used_out words consumed. */
static const command *find_command(int argc, char **argv, int *used_out)
{
	char two[128];
	int i;

	if (argc >= 2) {
		snprintf(two, sizeof(two), "%s %s", argv[0], argv[1]);
		for (i = 0; commands[i].name; i++)
			if (!strcmp(commands[i].name, two)) {
				*used_out = 2;
				return &commands[i];
			}
	}
	for (i = 0; commands[i].name; i++)
		if (argc >= 1 && !strcmp(commands[i].name, argv[0])) {
			*used_out = 1;
			return &commands[i];
		}
	return NULL;
}

int main(int argc, char **argv)
{
	ctl c = { 0 };
	const command *cmd;
	char err[1024];
	int i, used, rc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c.config_path = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			c.json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("consentctl %s\n", CONSENTD_VERSION);
			return EXIT_OK;
		} else {
			usage(stderr);
			return ctl_error(&c, EXIT_ERR, "unknown option '%s'", argv[i]);
		}
	}
	cmd = find_command(argc - i, argv + i, &used);
	if (!cmd) {
		usage(stderr);
		return ctl_error(&c, EXIT_ERR, i < argc ? "unknown command '%s'"
				 : "no command given%s", i < argc ? argv[i] : "");
	}
	i += used;
	/* --json may also follow the command words. */
	for (int j = i; j < argc; j++)
		if (!strcmp(argv[j], "--json")) {
			c.json = true;
			memmove(&argv[j], &argv[j + 1], (size_t)(argc - j - 1) * sizeof(*argv));
			argc--;
			j--;
		}
	if (config_load(&c.cfg, c.config_path, err, sizeof(err)))
		return ctl_error(&c, EXIT_ERR, "%s", err);
	if (store_open(&c.st, c.cfg->store_path, c.cfg->busy_timeout_ms,
		       (cmd->flags & CMD_WRITE) ? STORE_CREATE : 0, err, sizeof(err))) {
		rc = ctl_error(&c, EXIT_ERR, "%s", err);
		goto cleanup;
	}
	rc = cmd->run(&c, argc - i, argv + i);
	if (fflush(stdout) == EOF || ferror(stdout))
		rc = ctl_error(&c, EXIT_ERR, "cannot write output");
cleanup:
	template_set_free(c.ts);
	store_close(c.st);
	config_free(c.cfg);
	return rc;
}
