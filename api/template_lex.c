/*
 * The lexical half of trace template validation (template.h): the grammar
 * of each item (path, symbol, environment name and value, option value),
 * the allow-lists of options and environment variables per trace type,
 * the trace type's spelling, and the reading of an array element as a
 * string without NUL. Pure functions of their input, apart from
 * template_process_check()'s stat(); they report nothing, and template.c
 * turns their answers into errors and findings.
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "api/template.h"
#include "api/template_lex.h"

static int template_arg_buffering(const char *s, size_t len);
static int template_arg_pid(const char *s, size_t len);
static int template_arg_stap_bufsize(const char *s, size_t len);

static const struct template_opt template_opts_bpf[] = {
    {"-q", NULL},
    {"-k", NULL},
    {"-kk", NULL},
    {"-v", NULL},
    {"--no-warnings", NULL},
    {"-B", template_arg_buffering},
    {"-p", template_arg_pid},
    {NULL, NULL}};

static const struct template_opt template_opts_stap[] = {
    {"-v", NULL},
    {"-vv", NULL},
    {"-vvv", NULL},
    {"-w", NULL},
    {"-W", NULL},
    {"-t", NULL},
    {"-u", NULL},
    {"--skip-badvars", NULL},
    {"-s", template_arg_stap_bufsize},
    {"-x", template_arg_pid},
    {NULL, NULL}};

static const char *const template_env_bpf[] = {
    "BPFTRACE_STRLEN",
    "BPFTRACE_MAX_STRLEN",
    "BPFTRACE_MAP_KEYS_MAX",
    "BPFTRACE_MAX_MAP_KEYS",
    "BPFTRACE_MAX_PROBES",
    "BPFTRACE_MAX_BPF_PROGS",
    "BPFTRACE_CACHE_USER_SYMBOLS",
    "BPFTRACE_NO_CPP_DEMANGLE",
    "BPFTRACE_NO_USER_SYMBOLS",
    "BPFTRACE_PERF_RB_PAGES",
    "BPFTRACE_LOG_SIZE",
    "BPFTRACE_STACK_MODE",
    "BPFTRACE_CAT_BYTES_MAX",
    "BPFTRACE_MAX_CAT_BYTES",
    "BPFTRACE_MAX_TYPE_RES_ITERATIONS",
    "BPFTRACE_ON_STACK_LIMIT",
    NULL};

static const char *const template_env_stap[] = {NULL};

static int
template_is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
template_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *
template_type_name(enum template_type t)
{
	return t == TEMPLATE_STAP ? "STAP" : "BPF";
}

int
template_type_parse(const json_t *v, enum template_type *out)
{
	const char *s;

	if (json_is_array(v) && json_array_size(v) == 1) {
		v = json_array_get(v, 0);
	}
	if (!json_is_string(v)) {
		return -1;
	}
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		return -1;
	}
	if (strcmp(s, "BPF") == 0) {
		*out = TEMPLATE_BPF;
	} else if (strcmp(s, "STAP") == 0) {
		*out = TEMPLATE_STAP;
	} else {
		return -1;
	}
	return 0;
}

int
template_path_ok(const char *s, size_t len)
{
	size_t seg = 0; /* start of the current component */

	if (len < 2 || len > TEMPLATE_PATH_MAX || s[0] != '/' ||
	    s[len - 1] == '/') {
		return 0;
	}
	for (size_t i = 1; i <= len; i++) {
		char c = i < len ? s[i] : '/';
		size_t n = i - seg - 1;

		if (c == '/') {
			/* "//", "/./" and "/../" name nothing a real path
			 * needs, and refusing them keeps one spelling. */
			if (n == 0 || (n == 1 && s[seg + 1] == '.') ||
			    (n == 2 && s[seg + 1] == '.' &&
			     s[seg + 2] == '.')) {
				return 0;
			}
			seg = i;
		} else if (!template_is_alpha(c) && !template_is_digit(c) &&
		           strchr(".+@-", c) == NULL) {
			return 0;
		}
	}
	return 1;
}

int
template_symbol_ok(const char *s, size_t len)
{
	/* 1 at a segment's first character; 2 there if it may be a digit. */
	int start = 1;

	if (len == 0 || len > TEMPLATE_SYMBOL_MAX) {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (template_is_alpha(c) || c == '*' ||
		    (template_is_digit(c) && start != 1)) {
			start = 0;
		} else if (c == '.' && !start) {
			start = 2;
		} else if (c == ':' && !start && i + 1 < len &&
		           s[i + 1] == ':') {
			i++;
			start = 1;
		} else {
			return 0;
		}
	}
	return !start;
}

int
template_env_name_ok(enum template_type t, const char *s, size_t len)
{
	const char *const *list =
	    t == TEMPLATE_STAP ? template_env_stap : template_env_bpf;

	if (len == 0 || len > TEMPLATE_ENV_NAME_MAX ||
	    !template_is_alpha(s[0])) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if (!template_is_alpha(s[i]) && !template_is_digit(s[i])) {
			return 0;
		}
	}
	for (; *list != NULL; list++) {
		if (strlen(*list) == len && memcmp(*list, s, len) == 0) {
			return 1;
		}
	}
	return 0;
}

int
template_env_value_ok(const char *s, size_t len)
{
	if (len > TEMPLATE_ENV_VALUE_MAX) {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (!template_is_alpha(s[i]) && !template_is_digit(s[i]) &&
		    strchr(".:,+-", s[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}

static int
template_arg_buffering(const char *s, size_t len)
{
	return strcmp(s, "line") == 0 || strcmp(s, "full") == 0 ||
	       strcmp(s, "none") == 0;
}

/* A decimal of 1..9 digits without leading zero: a pid, or a size. */
static long
template_small_number(const char *s, size_t len)
{
	long v = 0;

	if (len == 0 || len > 9 || s[0] == '0') {
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!template_is_digit(s[i])) {
			return -1;
		}
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
template_arg_pid(const char *s, size_t len)
{
	return template_small_number(s, len) > 0;
}

static int
template_arg_stap_bufsize(const char *s, size_t len)
{
	long v = template_small_number(s, len);

	return v >= 1 && v <= 64;
}

int
template_process_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		return -1;
	}
	return 0;
}

const struct template_opt *
template_lex_opt_find(enum template_type t, const char *s)
{
	const struct template_opt *o =
	    t == TEMPLATE_STAP ? template_opts_stap : template_opts_bpf;

	for (; o->flag != NULL; o++) {
		if (strcmp(o->flag, s) == 0) {
			return o;
		}
	}
	return NULL;
}

const char *
template_lex_item(const json_t *arr, size_t i, size_t *len)
{
	const json_t *v = json_array_get(arr, i);

	if (!json_is_string(v)) {
		return NULL;
	}
	*len = json_string_length(v);
	if (strlen(json_string_value(v)) != *len) {
		return NULL;
	}
	return json_string_value(v);
}
