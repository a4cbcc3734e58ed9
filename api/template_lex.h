/*
 * Private to api/template*.c: what template.c needs from template_lex.c
 * beyond the item grammars already public in template.h
 * (template_path_ok() and the like, template_type_parse(),
 * template_process_check()).
 */
#ifndef PROBED_API_TEMPLATE_LEX_H
#define PROBED_API_TEMPLATE_LEX_H

#include <stddef.h>

#include "api/template.h"

/* One allowed option: the flag, and a check of its value if it takes one
 * (1 if s[0..len) is acceptable); NULL arg_ok means a bare flag. */
struct template_opt {
	const char *flag;
	int (*arg_ok)(const char *s, size_t len);
};

/* The option spelled s if trace type t allows it, else NULL (allow-list). */
const struct template_opt *template_lex_opt_find(enum template_type t,
                                                 const char *s);

/* arr[i] as *len bytes of C string; NULL if not a string or it holds a NUL. */
const char *template_lex_item(const json_t *arr, size_t i, size_t *len);

#endif
