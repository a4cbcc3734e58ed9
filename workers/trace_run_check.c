/*
 * What trace_run_start() checks before it starts a tool (trace_run.h): the
 * process, the tool, the script and sudo are regular files, executable
 * where they must be, and the template's options and environment are in
 * api/template.c's allow-lists, checked again because they reach a root
 * process's argv. Nothing is logged: a refusal is a reason in why.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/template.h"
#include "why.h"
#include "trace_run.h"

/* An option, and what may follow it as the next element. */
enum trace_run_arg {
	TRACE_RUN_ARG_NONE = 0,
	TRACE_RUN_ARG_PID,
	TRACE_RUN_ARG_BUFFERING,
	TRACE_RUN_ARG_MIB,
};

struct trace_run_option {
	enum trace_tool tool;
	const char *name;
	enum trace_run_arg arg;
};

/* The list api/template.c accepts, checked again where it matters. */
static const struct trace_run_option trace_run_options[] = {
    {TRACE_TOOL_BPFTRACE, "-q", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_BPFTRACE, "-k", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_BPFTRACE, "-kk", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_BPFTRACE, "-v", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_BPFTRACE, "--no-warnings", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_BPFTRACE, "-B", TRACE_RUN_ARG_BUFFERING},
    {TRACE_TOOL_BPFTRACE, "-p", TRACE_RUN_ARG_PID},
    {TRACE_TOOL_STAP, "-v", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-vv", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-vvv", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-w", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-W", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-t", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-u", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "--skip-badvars", TRACE_RUN_ARG_NONE},
    {TRACE_TOOL_STAP, "-s", TRACE_RUN_ARG_MIB},
    {TRACE_TOOL_STAP, "-x", TRACE_RUN_ARG_PID},
};

/* 1..max in decimal without sign or leading zero, else 0. */
static long
trace_run_check_number(const char *s, long max)
{
	long v = 0;

	if (s[0] < '1' || s[0] > '9') {
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > max / 10) {
			return 0;
		}
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : 0;
}

static int
trace_run_check_arg(enum trace_run_arg arg, const char *value)
{
	switch (arg) {
	case TRACE_RUN_ARG_PID:
		return trace_run_check_number(value, 4194304) > 0;
	case TRACE_RUN_ARG_MIB:
		return trace_run_check_number(value, 64) > 0;
	case TRACE_RUN_ARG_BUFFERING:
		return strcmp(value, "none") == 0 ||
		       strcmp(value, "line") == 0 || strcmp(value, "full") == 0;
	default:
		return 0;
	}
}

static const struct trace_run_option *
trace_run_check_option_find(enum trace_tool tool, const char *name)
{
	size_t n = sizeof(trace_run_options) / sizeof(trace_run_options[0]);

	for (size_t i = 0; i < n; i++) {
		if (trace_run_options[i].tool == tool &&
		    strcmp(trace_run_options[i].name, name) == 0) {
			return &trace_run_options[i];
		}
	}
	return NULL;
}

int
trace_run_check_options(enum trace_tool tool, const char *const *options,
                        size_t noptions, char *why, size_t whylen)
{
	const struct trace_run_option *o;

	if (noptions > TRACE_RUN_MAX_OPTIONS) {
		return why_refuse(why, whylen, "options: more than %d",
		                  TRACE_RUN_MAX_OPTIONS);
	}
	for (size_t i = 0; i < noptions; i++) {
		o = trace_run_check_option_find(tool, options[i]);
		if (o == NULL) {
			return why_refuse(
			    why, whylen,
			    "options[%zu]: not an allowed %s option", i,
			    trace_script_tool_name(tool));
		}
		if (o->arg == TRACE_RUN_ARG_NONE) {
			continue;
		}
		if (i + 1 >= noptions ||
		    !trace_run_check_arg(o->arg, options[i + 1])) {
			return why_refuse(
			    why, whylen,
			    "options[%zu]: %s needs a valid value after it", i,
			    o->name);
		}
		i++;
	}
	return 0;
}

/* The grammar and allow-list of api/template.c, checked again here. */
int
trace_run_check_env(enum trace_tool tool, const char *const *names,
                    const char *const *values, size_t n, char *why,
                    size_t whylen)
{
	enum template_type t =
	    tool == TRACE_TOOL_STAP ? TEMPLATE_STAP : TEMPLATE_BPF;

	if (n > TRACE_RUN_MAX_ENV) {
		return why_refuse(why, whylen, "environment: more than %d",
		                  TRACE_RUN_MAX_ENV);
	}
	for (size_t i = 0; i < n; i++) {
		if (names[i] == NULL || values[i] == NULL) {
			return why_refuse(why, whylen,
			                  "environment[%zu]: no value", i);
		}
		if (!template_env_name_ok(t, names[i], strlen(names[i]))) {
			return why_refuse(
			    why, whylen,
			    "environment[%zu]: name not allowed for %s", i,
			    trace_script_tool_name(tool));
		}
		if (!template_env_value_ok(values[i], strlen(values[i]))) {
			return why_refuse(why, whylen,
			                  "environment[%zu]: value not allowed",
			                  i);
		}
	}
	return 0;
}

static int
trace_run_check_file(const char *what, const char *path, int exec, char *why,
                     size_t whylen)
{
	struct stat st;

	if (path == NULL || path[0] != '/') {
		return why_refuse(why, whylen, "%s: not an absolute path",
		                  what);
	}
	if (stat(path, &st) == -1) {
		return why_refuse(why, whylen, "%s %s: %s", what, path,
		                  strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		return why_refuse(why, whylen, "%s %s: not a regular file",
		                  what, path);
	}
	if (exec && access(path, X_OK) == -1) {
		return why_refuse(why, whylen, "%s %s: not executable: %s",
		                  what, path, strerror(errno));
	}
	return 0;
}

int
trace_run_check_spec(const struct trace_run_spec *spec, int sudo, char *why,
                     size_t whylen)
{
	const char *pw = spec->root_password;

	if (trace_run_check_file("process", spec->process, 1, why, whylen) ==
	    -1) {
		return -1;
	}
	/* Through sudo the tool runs as root: it only has to exist here. */
	if (trace_run_check_file(trace_script_tool_name(spec->tool),
	                         spec->tool_path, !sudo, why, whylen) == -1) {
		return -1;
	}
	if (trace_run_check_file("script", spec->script_path, 0, why, whylen) ==
	    -1) {
		return -1;
	}
	/* env would take a tool path with '=' for one more variable. */
	if (sudo && strchr(spec->tool_path, '=') != NULL) {
		return why_refuse(why, whylen,
		                  "tool path: '=' cannot pass through env");
	}
	if (sudo && (pw == NULL || strchr(pw, '\n') != NULL)) {
		/* Never name the password, not even its length. */
		return why_refuse(why, whylen,
		                  "sudo needs root-password (one line)");
	}
	if (sudo &&
	    trace_run_check_file("sudo",
	                         spec->sudo_path != NULL ? spec->sudo_path
	                                                 : TRACE_RUN_SUDO,
	                         1, why, whylen) == -1) {
		return -1;
	}
	if (trace_run_check_options(spec->tool, spec->options, spec->noptions,
	                            why, whylen) == -1) {
		return -1;
	}
	return trace_run_check_env(spec->tool, spec->env_names,
	                           spec->env_values, spec->nenv, why, whylen);
}
