/*
 * Running bpftrace or stap for one trace: never through a shell.
 *
 * argv is [tool, forced options, template options, script]: the options
 * come before the script because both tools read anything after the file as
 * arguments for the script. bpftrace always gets -q, or it prints
 * "Attaching N probes..." into the stdout that becomes the trace.
 *
 * The environment is exactly the template's NAME=value pairs. When probed
 * has no privileges the tool runs as
 *   sudo -S -p '' -- /usr/bin/env -i NAME=value... tool options... script
 * with root-password written to sudo's stdin, which is then closed: the
 * password is never in an argv, a file or a log line. env -i because sudo
 * replaces the environment it was given with its own.
 *
 * The child leads its own process group, so that stopping a run reaches
 * whatever the tool started (and sudo's child). Its stdout and stderr are
 * pipes whose read ends are non-blocking, for libev readers; the write ends
 * stay blocking, since the tool does not expect EAGAIN on its output.
 *
 * Reaping is the caller's: libev child watchers only work in the default
 * loop, and a worker runs a loop of its own. On SIGCHLD the caller calls
 * trace_run_reap() for each run.
 */
#ifndef PROBED_TRACE_RUN_H
#define PROBED_TRACE_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include <ev.h>

#include "trace_script.h"

#define TRACE_RUN_MAX_OPTIONS 32
#define TRACE_RUN_MAX_ENV     64
#define TRACE_RUN_SUDO        "/usr/bin/sudo" /* when spec->sudo_path is NULL */

enum trace_run_sudo {
	TRACE_RUN_SUDO_AUTO = 0, /* sudo when geteuid() != 0 */
	TRACE_RUN_SUDO_NEVER,
	TRACE_RUN_SUDO_ALWAYS,
};

struct trace_run_spec {
	enum trace_tool tool;
	const char *tool_path;   /* conf->bpf_path or conf->stap_path */
	const char *script_path; /* from trace_script_save() */
	const char *process;     /* must be a regular executable file */
	const char *const *options;
	size_t noptions;
	const char *const *env_names;
	const char *const *env_values;
	size_t nenv;
	const char *root_password; /* conf->root_password, for sudo only */
	enum trace_run_sudo sudo;
	const char *sudo_path; /* NULL: /usr/bin/sudo */
};

struct trace_run {
	pid_t pid;  /* also the process group id; 0 once reaped */
	int out_fd; /* the tool's stdout, non-blocking; -1 when closed */
	int err_fd; /* the tool's stderr, non-blocking; -1 when closed */
	int code;   /* once reaped: exit status, or minus the signal */
	int stopping;
	struct ev_loop *loop; /* where the kill timer runs, once stopping */
	ev_timer kill_timer;
};

/*
 * Options the template may pass: the list api/template.c accepts (bpftrace
 * -q -k -kk -v --no-warnings, -B none|line|full, -p PID; stap -v -vv -vvv
 * -w -W -t -u --skip-badvars, -s 1..64, -x PID), checked again because
 * they reach a root process's argv. 0, or -1 with the reason in why.
 */
int trace_run_check_options(enum trace_tool tool, const char *const *options,
                            size_t noptions, char *why, size_t whylen);

/*
 * The environment pairs, against api/template.c's grammar and its
 * per-tool allow-list of names (none for stap). 0, or -1 with the reason.
 */
int trace_run_check_env(enum trace_tool tool, const char *const *names,
                        const char *const *values, size_t n, char *why,
                        size_t whylen);

/*
 * What trace_run_start() checks first (trace_run_check.c): the process,
 * the tool, the script, sudo and its password when sudo is used, the
 * options and the environment. 0, or -1 with the reason in why.
 */
int trace_run_check_spec(const struct trace_run_spec *spec, int sudo, char *why,
                         size_t whylen);

/*
 * Checks the process, the tool, the options and the environment, then
 * starts the tool. Returns 0 with r filled in, or -1 with the reason in
 * why. Nothing is logged: the caller reports the reason to whoever asked
 * for the trace, and logs it once.
 */
int trace_run_start(struct trace_run *r, const struct trace_run_spec *spec,
                    char *why, size_t whylen);

/*
 * TERM to the process group now, KILL after grace seconds unless it was
 * reaped by then. Calling it again does not restart the grace period.
 */
void trace_run_stop(struct trace_run *r, struct ev_loop *loop, double grace);

/*
 * waitpid(WNOHANG): 1 when the tool was reaped now (r->code set, the kill
 * timer stopped), 0 while it runs, -1 when there is nothing to reap.
 */
int trace_run_reap(struct trace_run *r);

/* The exit code probed reports for a wait status: the status, or -signo. */
int trace_run_code(int wstatus);

/* Closes the pipes and stops the timer; never signals the tool. */
void trace_run_close(struct trace_run *r);

#endif
