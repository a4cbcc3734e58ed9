/*
 * Validation and normalisation of a trace template, the body of PUT /trace
 * (seed 001's TraceInfo, with NOTES.md's corrections):
 *
 *   {"traceType": "BPF" | "STAP" | ["BPF"] | ["STAP"],
 *    "process": "/abs/path/to/executable",
 *    "functions": ["xmalloc", "xfree"],       (or the README's "funtions")
 *    "environment": ["NAME", ...], "value": ["v", ...],
 *    "options": ["-q", ...]}
 *
 * Every field ends up in a root-run bpftrace or stap command: its script,
 * its argv or its environment. So each is checked against a grammar, not
 * a deny-list (DESIGN.md, security model):
 *
 * traceType  "BPF" or "STAP", or a one-element array of one; emitted as the
 *            string. Required.
 * process    absolute, at most TEMPLATE_PATH_MAX bytes, characters
 *            [A-Za-z0-9._+@/-] only (nothing that can close a quote or a
 *            bpftrace probe spec: no ':', '"', space), no empty, "." or
 *            ".." component, no trailing '/'. Required. Whether it exists
 *            is template_process_check(), run by template_validate() only
 *            with TEMPLATE_CHECK_PROCESS.
 * functions  1..TEMPLATE_FUNCS_MAX symbols of at most TEMPLATE_SYMBOL_MAX
 *            bytes: segments [A-Za-z_*][A-Za-z0-9_*]* joined by "::" (C++)
 *            or "." (a segment after "." may start with a digit: foo.cold,
 *            foo.isra.0); '*' is the bpftrace/stap wildcard. Mangled names
 *            (_ZN3foo3barEv) fit the first form. Required (under either
 *            name); duplicates are dropped with a warning.
 * environment, value
 *            arrays of equal length, at most TEMPLATE_ENV_MAX. A name is
 *            [A-Za-z_][A-Za-z0-9_]* and must be on the trace type's list
 *            below: the tool runs as root, so LD_PRELOAD, PATH, GCONV_PATH,
 *            GLIBC_TUNABLES or SYSTEMTAP_STAPIO would each run code as
 *            root. A value is at most TEMPLATE_ENV_VALUE_MAX bytes of
 *            [A-Za-z0-9_.:,+-]. Optional, default [].
 *            BPF: BPFTRACE_STRLEN BPFTRACE_MAX_STRLEN BPFTRACE_MAP_KEYS_MAX
 *              BPFTRACE_MAX_MAP_KEYS BPFTRACE_MAX_PROBES
 *              BPFTRACE_MAX_BPF_PROGS BPFTRACE_CACHE_USER_SYMBOLS
 *              BPFTRACE_NO_CPP_DEMANGLE BPFTRACE_NO_USER_SYMBOLS
 *              BPFTRACE_PERF_RB_PAGES BPFTRACE_LOG_SIZE BPFTRACE_STACK_MODE
 *              BPFTRACE_CAT_BYTES_MAX BPFTRACE_MAX_CAT_BYTES
 *              BPFTRACE_MAX_TYPE_RES_ITERATIONS BPFTRACE_ON_STACK_LIMIT
 *            STAP: none (every SYSTEMTAP_* variable names a program, a
 *              directory of scripts or a cache of modules to load).
 * options    at most TEMPLATE_OPTS_MAX strings, each an allowed flag, a flag
 *            that takes a value being followed by it as the next element.
 *            Only flags that can neither run a command, write a file, load
 *            code or a script from a path, nor change the output format
 *            the trace workers parse. Optional, default [].
 *            BPF:  -q -k -kk -v --no-warnings
 *                  -B line|full|none    -p PID
 *            STAP: -v -vv -vvv -w -W -t -u --skip-badvars
 *                  -s 1..64 (MiB)       -x PID
 *            Refused, for instance: bpftrace --unsafe (system()), -c CMD,
 *            -o FILE, -e, -I DIR, -f json, --include; stap -g (embedded
 *            C), -c CMD, -o FILE, -e, -I DIR, -D, -r, -p, -k, -R.
 *
 * Any other field is reported as unknown and dropped.
 */
#ifndef PROBED_API_TEMPLATE_H
#define PROBED_API_TEMPLATE_H

#include <jansson.h>

#define TEMPLATE_PATH_MAX      1024
#define TEMPLATE_FUNCS_MAX     64
#define TEMPLATE_SYMBOL_MAX    256
#define TEMPLATE_ENV_MAX       32
#define TEMPLATE_ENV_NAME_MAX  64
#define TEMPLATE_ENV_VALUE_MAX 64
#define TEMPLATE_OPTS_MAX      16
/* Unknown fields reported one by one before a single summary finding. */
#define TEMPLATE_UNKNOWN_REPORTED 16

enum template_type {
	TEMPLATE_BPF = 0,
	TEMPLATE_STAP,
};

/* Flags of template_validate(). */
#define TEMPLATE_CHECK_PROCESS 0x1u /* also run template_process_check() */

/*
 * What was wrong, in two forms. errors: the names of bad fields, as sent
 * (a deprecated "funtions" is reported as "funtions"), each once, for
 * {"message": "Invalid Arguments", "errors": [...]}. findings: objects
 * {"field": F, "level": "fail" | "warn", "message": M} for FD1's
 * production_ready: one "fail" per error, one "warn" per unknown field,
 * deprecated alias, dropped duplicate or catch-all wildcard.
 */
struct template_report {
	json_t *errors;
	json_t *findings;
};

/* "BPF" or "STAP". */
const char *template_type_name(enum template_type t);

/* A trace type as the API sends it: "BPF", "STAP", or a one-element array
 * of one (also for /trace/start's traceT and /trace/remove's removeType).
 * Returns 0 or -1. */
int template_type_parse(const json_t *v, enum template_type *out);

/* Returns the normalised template (traceType as a string, "functions",
 * every field present) or NULL when errors is not empty. rep is always
 * filled; release it with template_report_clear(). NULL and a logged
 * error "template" only when memory runs out. */
json_t *template_validate(const json_t *in, unsigned flags,
                          struct template_report *rep);

void template_report_clear(struct template_report *rep);

/* Counts rep's findings by level, for FD1's failcount and warncount. */
void template_report_count(const struct template_report *rep, int *fails,
                           int *warns);

/* 0 if path names a regular file with an execute bit, else -1. Follows
 * symbolic links; does not check that the api worker itself may run it,
 * since the trace workers run with other privileges. */
int template_process_check(const char *path);

/* The grammars above, one item each; 1 if s[0..len) is acceptable. */
int template_path_ok(const char *s, size_t len);
int template_symbol_ok(const char *s, size_t len);
int template_env_name_ok(enum template_type t, const char *s, size_t len);
int template_env_value_ok(const char *s, size_t len);

#endif
