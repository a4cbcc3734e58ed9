/*
 * Trace template validation (template.h): walks the fields of a template,
 * checks each with the grammars of template_lex.c, builds the normalised
 * copy and records what was wrong as errors and findings.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/template.h"
#include "api/template_lex.h"
#include "log.h"

struct template_ctx {
	struct template_report *rep;
	enum template_type type;
	int type_known;
	int nomem;
};

static void
template_add_finding(struct template_ctx *c, const char *field,
                     const char *level, const char *fmt, va_list ap)
{
	char msg[256];
	json_t *f;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	f = json_pack("{s:s, s:s, s:s}", "field", field, "level", level,
	              "message", msg);
	if (f == NULL || json_array_append_new(c->rep->findings, f) < 0) {
		c->nomem = 1;
	}
}

/* Records field as bad: once in errors, and a "fail" finding saying why. */
__attribute__((format(printf, 3, 4))) static void
template_bad(struct template_ctx *c, const char *field, const char *fmt, ...)
{
	size_t i;
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	template_add_finding(c, field, "fail", fmt, ap);
	va_end(ap);
	json_array_foreach(c->rep->errors, i, v)
	{
		if (strcmp(json_string_value(v), field) == 0) {
			return;
		}
	}
	if (json_array_append_new(c->rep->errors, json_string(field)) < 0) {
		c->nomem = 1;
	}
}

__attribute__((format(printf, 3, 4))) static void
template_warn(struct template_ctx *c, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	template_add_finding(c, field, "warn", fmt, ap);
	va_end(ap);
}

/* An optional array field: absent (NULL with *ok set) means empty; jansson
 * treats a NULL array as one of size 0. */
static const json_t *
template_array(struct template_ctx *c, const json_t *in, const char *field,
               size_t max, int *ok)
{
	const json_t *v = json_object_get(in, field);

	*ok = 0;
	if (v == NULL) {
		*ok = 1;
		return NULL;
	}
	if (!json_is_array(v)) {
		template_bad(c, field, "expected an array of strings");
		return NULL;
	}
	if (json_array_size(v) > max) {
		template_bad(c, field, "more than %zu elements", max);
		return NULL;
	}
	*ok = 1;
	return v;
}

/* Copies a checked array into the output, which shares nothing with the
 * input. */
static int
template_set_copy(struct template_ctx *c, json_t *out, const char *field,
                  const json_t *arr)
{
	json_t *copy = arr != NULL ? json_deep_copy(arr) : json_array();

	if (json_object_set_new(out, field, copy) < 0) {
		c->nomem = 1;
		return -1;
	}
	return 0;
}

static json_t *
template_process(struct template_ctx *c, const json_t *in, unsigned flags)
{
	const json_t *v = json_object_get(in, "process");
	json_t *copy;
	const char *s;
	size_t len;

	if (v == NULL) {
		template_bad(c, "process", "missing");
		return NULL;
	}
	if (!json_is_string(v)) {
		template_bad(c, "process", "expected a string");
		return NULL;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len || !template_path_ok(s, len)) {
		template_bad(c, "process",
		             "expected an absolute path of [A-Za-z0-9._+@/-]");
		return NULL;
	}
	if ((flags & TEMPLATE_CHECK_PROCESS) && template_process_check(s) < 0) {
		template_bad(c, "process", "no executable file at that path");
		return NULL;
	}
	if ((copy = json_stringn(s, len)) == NULL) {
		c->nomem = 1;
	}
	return copy;
}

/* "functions", or the README's "funtions"; returns the field name used. */
static const char *
template_functions_field(struct template_ctx *c, const json_t *in)
{
	const json_t *good = json_object_get(in, "functions");
	const json_t *alias = json_object_get(in, "funtions");

	if (alias == NULL) {
		return "functions";
	}
	if (good == NULL) {
		template_warn(c, "funtions",
		              "deprecated misspelling of \"functions\"");
		return "funtions";
	}
	if (!json_equal(good, alias)) {
		template_bad(c, "funtions", "differs from \"functions\"");
		return NULL;
	}
	template_warn(c, "funtions", "deprecated duplicate of \"functions\"");
	return "functions";
}

static int
template_seen(const json_t *out, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(out, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0) {
			return 1;
		}
	}
	return 0;
}

static json_t *
template_functions(struct template_ctx *c, const json_t *in)
{
	const char *field = template_functions_field(c, in);
	const json_t *arr;
	json_t *out;
	size_t len;
	int ok;

	if (field == NULL) {
		return NULL;
	}
	if (json_object_get(in, field) == NULL) {
		template_bad(c, "functions", "missing");
		return NULL;
	}
	arr = template_array(c, in, field, TEMPLATE_FUNCS_MAX, &ok);
	if (!ok) {
		return NULL;
	}
	if (json_array_size(arr) == 0) {
		template_bad(c, field, "no function to trace");
		return NULL;
	}
	if ((out = json_array()) == NULL) {
		c->nomem = 1;
		return NULL;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = template_lex_item(arr, i, &len);

		if (s == NULL || !template_symbol_ok(s, len)) {
			template_bad(
			    c, field,
			    "element %zu is not a symbol name or pattern", i);
			goto fail;
		}
		if (strspn(s, "*") == len) {
			template_warn(
			    c, field,
			    "\"%s\" matches every function of the process", s);
		}
		if (template_seen(out, s)) {
			template_warn(c, field, "duplicate \"%s\" dropped", s);
			continue;
		}
		if (json_array_append_new(out, json_stringn(s, len)) < 0) {
			c->nomem = 1;
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* environment and value together: they are one list of pairs. */
static int
template_environment(struct template_ctx *c, const json_t *in, json_t *out)
{
	const json_t *names, *values;
	const char *s;
	size_t len, n;
	int ok_n, ok_v, ok = 1;

	names = template_array(c, in, "environment", TEMPLATE_ENV_MAX, &ok_n);
	values = template_array(c, in, "value", TEMPLATE_ENV_MAX, &ok_v);
	if (!ok_n || !ok_v) {
		return -1;
	}
	n = json_array_size(names);
	if (n != json_array_size(values)) {
		template_bad(c, "environment", "%zu names but %zu values", n,
		             json_array_size(values));
		template_bad(c, "value", "%zu values but %zu names",
		             json_array_size(values), n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		s = template_lex_item(names, i, &len);
		if (s == NULL || !c->type_known ||
		    !template_env_name_ok(c->type, s, len)) {
			template_bad(
			    c, "environment",
			    "element %zu is not a variable allowed for %s", i,
			    c->type_known ? template_type_name(c->type)
			                  : "this traceType");
			ok = 0;
		}
		s = template_lex_item(values, i, &len);
		if (s == NULL || !template_env_value_ok(s, len)) {
			template_bad(c, "value",
			             "element %zu is not a plain value of "
			             "[A-Za-z0-9_.:,+-]",
			             i);
			ok = 0;
		}
	}
	if (!ok) {
		return -1;
	}
	if (template_set_copy(c, out, "environment", names) < 0) {
		return -1;
	}
	return template_set_copy(c, out, "value", values);
}

static int
template_options(struct template_ctx *c, const json_t *in, json_t *out)
{
	const struct template_opt *o;
	const json_t *arr;
	const char *s;
	size_t len, n;
	int ok;

	arr = template_array(c, in, "options", TEMPLATE_OPTS_MAX, &ok);
	if (!ok) {
		return -1;
	}
	n = json_array_size(arr);
	if (n > 0 && !c->type_known) {
		template_bad(c, "options", "depend on a valid traceType");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		s = template_lex_item(arr, i, &len);
		if (s == NULL ||
		    (o = template_lex_opt_find(c->type, s)) == NULL) {
			template_bad(
			    c, "options",
			    "element %zu is not an option allowed for %s", i,
			    template_type_name(c->type));
			return -1;
		}
		if (o->arg_ok == NULL) {
			continue;
		}
		s = template_lex_item(arr, ++i, &len);
		if (s == NULL || !o->arg_ok(s, len)) {
			template_bad(c, "options", "%s needs a valid value",
			             o->flag);
			return -1;
		}
	}
	return template_set_copy(c, out, "options", arr);
}

static void
template_unknown(struct template_ctx *c, const json_t *in)
{
	static const char *const known[] = {
	    "traceType",   "process", "functions", "funtions",
	    "environment", "value",   "options",   NULL};
	const char *key;
	json_t *v;
	int n = 0;

	json_object_foreach((json_t *)in, key, v)
	{
		const char *const *k = known;

		while (*k != NULL && strcmp(*k, key) != 0) {
			k++;
		}
		if (*k != NULL) {
			continue;
		}
		if (n++ < TEMPLATE_UNKNOWN_REPORTED) {
			template_warn(c, "template",
			              "unknown field \"%.64s\" ignored", key);
		}
	}
	if (n > TEMPLATE_UNKNOWN_REPORTED) {
		template_warn(c, "template", "%d more unknown fields ignored",
		              n - TEMPLATE_UNKNOWN_REPORTED);
	}
}

static void
template_type_field(struct template_ctx *c, const json_t *in, json_t *out)
{
	const json_t *v = json_object_get(in, "traceType");

	if (v == NULL) {
		template_bad(c, "traceType", "missing");
		return;
	}
	if (template_type_parse(v, &c->type) < 0) {
		template_bad(c, "traceType", "expected \"BPF\" or \"STAP\"");
		return;
	}
	c->type_known = 1;
	if (json_object_set_new(out, "traceType",
	                        json_string(template_type_name(c->type))) < 0) {
		c->nomem = 1;
	}
}

/* Sets a field the checks produced; NULL means the field was bad. */
static void
template_set_new(struct template_ctx *c, json_t *out, const char *field,
                 json_t *v)
{
	if (v != NULL && json_object_set_new(out, field, v) < 0) {
		c->nomem = 1;
	}
}

json_t *
template_validate(const json_t *in, unsigned flags, struct template_report *rep)
{
	struct template_ctx c = {.rep = rep};
	json_t *out;

	rep->errors = json_array();
	rep->findings = json_array();
	out = json_object();
	if (rep->errors == NULL || rep->findings == NULL || out == NULL) {
		goto nomem;
	}
	if (!json_is_object(in)) {
		template_bad(&c, "template", "expected a JSON object");
		goto fail;
	}
	template_type_field(&c, in, out);
	template_set_new(&c, out, "process", template_process(&c, in, flags));
	template_set_new(&c, out, "functions", template_functions(&c, in));
	template_environment(&c, in, out);
	template_options(&c, in, out);
	template_unknown(&c, in);
	if (c.nomem) {
		goto nomem;
	}
	if (json_array_size(rep->errors) > 0) {
		goto fail;
	}
	return out;
nomem:
	log_err("template_validate: out of memory");
fail:
	json_decref(out);
	return NULL;
}

void
template_report_clear(struct template_report *rep)
{
	json_decref(rep->errors);
	json_decref(rep->findings);
	rep->errors = NULL;
	rep->findings = NULL;
}

void
template_report_count(const struct template_report *rep, int *fails, int *warns)
{
	size_t i;
	json_t *f;

	*fails = 0;
	*warns = 0;
	json_array_foreach(rep->findings, i, f)
	{
		const char *lvl =
		    json_string_value(json_object_get(f, "level"));

		if (lvl != NULL && strcmp(lvl, "fail") == 0) {
			(*fails)++;
		} else {
			(*warns)++;
		}
	}
}
