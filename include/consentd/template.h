/*
 * template.h - the mail templates staff edit, in mailtemplates/<lang>/.
 *
 * One file per template and language, NAME.txt, UTF-8:
 *
 *     Subject: Ihre Einwilligung: {{purpose_title}}
 *                                   <- one empty line
 *     Guten Tag {{account_name}},
 *     ...
 *
 * The header part holds exactly one "Subject:" line (other headers are set
 * by consentd and cannot be added by a template). Placeholders are
 * {{name}} with name from the template's allowed list; a template using an
 * unknown placeholder, or missing one its kind requires, is refused at load
 * with "FILE:LINE: ...". Both languages (de, en) of every template must
 * load, or template_load fails: a broken edit is caught before any mail is
 * rendered from it.
 */
#ifndef CONSENTD_TEMPLATE_H
#define CONSENTD_TEMPLATE_H

#include <stddef.h>

#define TEMPLATE_MAX (64 * 1024)   /* bytes per template file */

enum template_id {
	TPL_REQUEST,            /* consent-request.txt */
	TPL_RECEIPT_GRANTED,    /* receipt-granted.txt */
	TPL_RECEIPT_DECLINED,   /* receipt-declined.txt */
	TPL_RECEIPT_REVOKED,    /* receipt-revoked.txt */
	TPL_UNCLEAR,            /* unclear-answer.txt */
	TPL_POLICY_CHANGE,      /* policy-change.txt */
	TPL_COUNT
};

typedef struct template_set template_set;

typedef struct tpl_var {
	const char *name;       /* placeholder name, without braces */
	const char *value;      /* UTF-8; NULL renders as "" */
} tpl_var;

/* template_name - "consent-request" etc. */
const char *template_name(enum template_id id);

/* template_load - read dir/de/ and dir/en/ (every template of both).
 * 0 and a set in *out, or -1 with "FILE:LINE: what" in err. */
int template_load(template_set **out, const char *dir, char *err, size_t errlen);

/* template_render - substitute vars into the subject and body of template
 * id in lang ("de" or "en"). Every placeholder the template uses must be in
 * vars. Values must be valid UTF-8; a value holding a control character
 * (other than LF in the body) is refused, so nothing can break out of a
 * header. Body lines end in LF. *subject_out and *body_out are malloc'd.
 * Returns 0, or -1 with a message in err. */
int template_render(const template_set *ts, enum template_id id, const char *lang,
		    const tpl_var *vars, size_t nvars, char **subject_out,
		    char **body_out, char *err, size_t errlen);

/* template_set_free - NULL-safe. */
void template_set_free(template_set *ts);

#endif
