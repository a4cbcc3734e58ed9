/*
 * The bpftrace and SystemTap scripts a trace runs, generated from a
 * template: the traced executable, its functions, how many seconds.
 *
 * One uprobe and one uretprobe per function and a timer that ends the
 * trace. Every hit prints ONE compact JSON object on one line, so that
 * lines from different CPUs never interleave inside an object:
 *
 *   {"probe":"F","uid":0,"pid":1,"tid":1,"cpu":0,"time":NS,"process":"comm"}
 *   {"return":"F","uid":0,"pid":1,"tid":1,"cpu":0,"retval":"3",
 *    "time":NS,"process":"comm"}
 *
 * SystemTap adds "args" (its $$parms) to the call object. "time" is in
 * nanoseconds: bpftrace's nsecs (monotonic since boot), SystemTap's
 * gettimeofday_ns() (since the epoch). "retval" is the return register as
 * a decimal string. When F holds a wildcard the name must come from the
 * tool: SystemTap's ppfunc() gives the function; bpftrace has no reliable
 * equivalent (its func builtin resolves addresses after the process may
 * have exited, and gives the caller on a uretprobe), so the value is its
 * probe builtin, the full "uprobe:PROC:F" with F expanded.
 *
 * Consumers skip blank lines: bpftrace prints two when it exits.
 *
 * The fields were validated when the template was stored; they are checked
 * again here, against the characters the script text can carry, because a
 * mistake there would let a template write its own probes.
 */
#ifndef PROBED_TRACE_SCRIPT_H
#define PROBED_TRACE_SCRIPT_H

#include <stddef.h>

#define TRACE_SCRIPT_MAX_FUNCTIONS 256
#define TRACE_SCRIPT_MAX_NAME      256
#define TRACE_SCRIPT_MAX_PATH      1024
/* 31 days: a longer trace is a mistake, not a plan. */
#define TRACE_SCRIPT_MAX_LASTING (31u * 24 * 3600)

enum trace_tool {
	TRACE_TOOL_BPFTRACE = 0,
	TRACE_TOOL_STAP,
};

struct trace_script_spec {
	enum trace_tool tool;
	const char *process;          /* absolute path of the executable */
	const char *const *functions; /* symbol names; '*' '?' allowed */
	size_t nfunctions;
	unsigned lasting; /* seconds */
};

/* "bpftrace" or "stap". */
const char *trace_script_tool_name(enum trace_tool tool);

/* The file name suffix the tool expects: ".bt" or ".stp". */
const char *trace_script_suffix(enum trace_tool tool);

/*
 * 0 if the text can stand in a script, else -1 with the reason in why.
 * A process: '/' then letters, digits and "/._+-@". A function:
 * starts with a letter, '_' or a wildcard, then letters, digits, "_.*?",
 * and "::" between two names (C++).
 */
int trace_script_check_process(const char *process, char *why, size_t whylen);
int trace_script_check_function(const char *function, char *why, size_t whylen);

/*
 * Builds the script for spec->tool into *out (free() it). Returns 0, or -1
 * with the reason in why and nothing logged: a refused template is the
 * caller's to report.
 */
int trace_script_build(const struct trace_script_spec *spec, char **out,
                       char *why, size_t whylen);

/*
 * Writes text to a new file "DIR/probed-XXXXXX.bt" (or ".stp"), mode 0600,
 * and puts its path in path. Returns 0, or -1 after logging.
 */
int trace_script_save(const char *text, const char *dir, enum trace_tool tool,
                      char *path, size_t pathlen);

#endif
