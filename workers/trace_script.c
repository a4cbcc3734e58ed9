#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "why.h"
#include "trace_script.h"

/*
 * An escaped double quote inside a tool's string literal: the generated
 * printf format then prints a plain '"' into the JSON object.
 */
#define Q "\\\""

/* The JSON members every object shares, in the tools' printf syntax. */
#define IDS Q "uid" Q ":%d," Q "pid" Q ":%d," Q "tid" Q ":%d," Q "cpu" Q ":%d,"

const char *
trace_script_tool_name(enum trace_tool tool)
{
	return tool == TRACE_TOOL_STAP ? "stap" : "bpftrace";
}

const char *
trace_script_suffix(enum trace_tool tool)
{
	return tool == TRACE_TOOL_STAP ? ".stp" : ".bt";
}

static int
trace_script_is_alnum(int c)
{
	/* Not isalnum(): the locale must not widen what a script accepts. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int
trace_script_is_wild(const char *function)
{
	return strpbrk(function, "*?") != NULL;
}

/*
 * Quotes, backslashes, '%', ':', ',', braces, spaces and newlines would all
 * end the probe name or the string they stand in. Only what a path needs
 * is allowed; wildcards are not (bpftrace would expand them).
 */
int
trace_script_check_process(const char *process, char *why, size_t whylen)
{
	size_t len;

	if (process == NULL || process[0] != '/') {
		return why_refuse(why, whylen, "process: not an absolute path");
	}
	len = strlen(process);
	if (len > TRACE_SCRIPT_MAX_PATH) {
		return why_refuse(why, whylen,
		                  "process: longer than %d characters",
		                  TRACE_SCRIPT_MAX_PATH);
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)process[i];

		if (!trace_script_is_alnum(c) && strchr("/._+-@", c) == NULL) {
			return why_refuse(
			    why, whylen,
			    "process: character 0x%02x at offset %zu is not "
			    "allowed in a traced path",
			    c, i);
		}
	}
	return 0;
}

/*
 * A leading digit would make bpftrace read an address; a leading '.' is an
 * assembler-local label, never a probe target. ':' only as C++'s "::"
 * between two names; the function is quoted in bpftrace's probe.
 */
int
trace_script_check_function(const char *function, char *why, size_t whylen)
{
	size_t len;
	unsigned char c;

	if (function == NULL || function[0] == '\0') {
		return why_refuse(why, whylen, "function: empty");
	}
	len = strlen(function);
	if (len > TRACE_SCRIPT_MAX_NAME) {
		return why_refuse(why, whylen,
		                  "function: longer than %d characters",
		                  TRACE_SCRIPT_MAX_NAME);
	}
	c = (unsigned char)function[0];
	if ((!trace_script_is_alnum(c) && strchr("_*?", c) == NULL) ||
	    (c >= '0' && c <= '9')) {
		return why_refuse(
		    why, whylen,
		    "function: must start with a letter, '_' or a wildcard");
	}
	for (size_t i = 1; i < len; i++) {
		c = (unsigned char)function[i];
		if (c == ':' && function[i + 1] == ':' && i + 2 < len &&
		    function[i + 2] != ':' && function[i - 1] != ':') {
			i++;
			continue;
		}
		if (!trace_script_is_alnum(c) && strchr("_.*?", c) == NULL) {
			return why_refuse(
			    why, whylen,
			    "function: character 0x%02x at offset %zu is not "
			    "allowed in a symbol name",
			    c, i);
		}
	}
	return 0;
}

static int
trace_script_check(const struct trace_script_spec *spec, char *why,
                   size_t whylen)
{
	char inner[160];

	if (spec->tool != TRACE_TOOL_BPFTRACE &&
	    spec->tool != TRACE_TOOL_STAP) {
		return why_refuse(why, whylen, "unknown trace type");
	}
	if (trace_script_check_process(spec->process, why, whylen) == -1) {
		return -1;
	}
	if (spec->nfunctions == 0) {
		return why_refuse(why, whylen, "functions: empty");
	}
	if (spec->nfunctions > TRACE_SCRIPT_MAX_FUNCTIONS) {
		return why_refuse(why, whylen, "functions: more than %d",
		                  TRACE_SCRIPT_MAX_FUNCTIONS);
	}
	for (size_t i = 0; i < spec->nfunctions; i++) {
		if (trace_script_check_function(spec->functions[i], inner,
		                                sizeof(inner)) == -1) {
			return why_refuse(why, whylen, "functions[%zu]: %s", i,
			                  inner);
		}
	}
	if (spec->lasting == 0 || spec->lasting > TRACE_SCRIPT_MAX_LASTING) {
		return why_refuse(why, whylen,
		                  "lasting: expected 1..%u seconds, got %u",
		                  TRACE_SCRIPT_MAX_LASTING, spec->lasting);
	}
	return 0;
}

/*
 * Path and function are quoted: bpftrace's lexer otherwise stops a path at
 * some characters the check allows ('+' after '.' in a directory name) and
 * splits "ns::f" at its colons. Wildcards still expand inside the quotes.
 */
static void
trace_script_bt_probe(FILE *f, const char *process, const char *function,
                      int ret)
{
	int wild = trace_script_is_wild(function);

	fprintf(f, "%s:\"%s\":\"%s\"\n{\n", ret ? "uretprobe" : "uprobe",
	        process, function);
	fprintf(f, "\tprintf(\"{" Q "%s" Q ":" Q "%s" Q ",",
	        ret ? "return" : "probe", wild ? "%s" : function);
	fputs(IDS, f);
	if (ret) {
		fputs(Q "retval" Q ":" Q "%lld" Q ",", f);
	}
	fputs(Q "time" Q ":%llu," Q "process" Q ":" Q "%s" Q "}\\n\",\n", f);
	fprintf(f, "\t    %suid, pid, tid, cpu, %snsecs, comm);\n}\n\n",
	        wild ? "probe, " : "", ret ? "retval, " : "");
}

/*
 * A function listed twice would print every hit twice; it is probed once.
 * (A name that a wildcard also matches cannot be seen here, and bpftrace
 * 0.17 refuses to load such a pair: the trace then fails with its stderr.)
 */
static int
trace_script_seen(const struct trace_script_spec *spec, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(spec->functions[j], spec->functions[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

static void
trace_script_bpftrace(FILE *f, const struct trace_script_spec *spec)
{
	for (size_t i = 0; i < spec->nfunctions; i++) {
		if (trace_script_seen(spec, i)) {
			continue;
		}
		trace_script_bt_probe(f, spec->process, spec->functions[i], 0);
		trace_script_bt_probe(f, spec->process, spec->functions[i], 1);
	}
	fprintf(f, "interval:s:%u\n{\n\texit();\n}\n", spec->lasting);
}

/*
 * $$parms and execname() come from the traced program and may hold '"' or
 * '\'; SystemTap can rewrite strings, so they are escaped for JSON here.
 * ($$parms without a trailing '$' prints no strings, so no control bytes.)
 */
static const char trace_script_stap_prologue[] =
    "function probed_json:string(s:string)\n"
    "{\n"
    "\treturn str_replace(str_replace(s, \"\\\\\", \"\\\\\\\\\"), "
    "\"\\\"\", \"\\\\\\\"\")\n"
    "}\n\n";

static void
trace_script_stap_probe(FILE *f, const char *process, const char *function,
                        int ret)
{
	int wild = trace_script_is_wild(function);

	fprintf(f, "probe process(\"%s\").function(\"%s\").%s\n{\n", process,
	        function, ret ? "return" : "call");
	fprintf(f, "\tprintf(\"{" Q "%s" Q ":" Q "%s" Q ",",
	        ret ? "return" : "probe", wild ? "%s" : function);
	fputs(IDS, f);
	fputs(ret ? Q "retval" Q ":" Q "%d" Q "," : Q "args" Q ":" Q "%s" Q ",",
	      f);
	fputs(Q "time" Q ":%d," Q "process" Q ":" Q "%s" Q "}\\n\",\n", f);
	fprintf(f,
	        "\t    %suid(), pid(), tid(), cpu(), %s, gettimeofday_ns(), "
	        "probed_json(execname()))\n}\n\n",
	        wild ? "ppfunc(), " : "",
	        ret ? "returnval()" : "probed_json($$parms)");
}

static void
trace_script_stap(FILE *f, const struct trace_script_spec *spec)
{
	fputs(trace_script_stap_prologue, f);
	for (size_t i = 0; i < spec->nfunctions; i++) {
		if (trace_script_seen(spec, i)) {
			continue;
		}
		trace_script_stap_probe(f, spec->process, spec->functions[i],
		                        0);
		trace_script_stap_probe(f, spec->process, spec->functions[i],
		                        1);
	}
	fprintf(f, "probe timer.s(%u)\n{\n\texit()\n}\n", spec->lasting);
}

int
trace_script_build(const struct trace_script_spec *spec, char **out, char *why,
                   size_t whylen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	*out = NULL;
	if (trace_script_check(spec, why, whylen) == -1) {
		return -1;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		return why_refuse(why, whylen, "open_memstream failed: %s",
		                  strerror(errno));
	}
	if (spec->tool == TRACE_TOOL_STAP) {
		trace_script_stap(f, spec);
	} else {
		trace_script_bpftrace(f, spec);
	}
	/* A memstream reports a failed allocation at fclose. */
	if (ferror(f) | fclose(f)) {
		free(buf);
		return why_refuse(why, whylen,
		                  "building the script failed: out of memory");
	}
	*out = buf;
	return 0;
}

int
trace_script_save(const char *text, const char *dir, enum trace_tool tool,
                  char *path, size_t pathlen)
{
	const char *suffix = trace_script_suffix(tool);
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd, w;

	w = snprintf(path, pathlen, "%s/probed-XXXXXX%s", dir, suffix);
	if (w < 0 || (size_t)w >= pathlen) {
		log_err("script path in %s: too long", dir);
		return -1;
	}
	/* mkstemps creates the file 0600 and never follows a planted link. */
	fd = mkstemps(path, (int)strlen(suffix));
	if (fd == -1) {
		log_err("mkstemps(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			log_err("write(%s) failed: %s", path, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_err("close(%s) failed: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd != -1) {
		close(fd);
	}
	unlink(path);
	return -1;
}
