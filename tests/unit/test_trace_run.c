/*
 * Running the tool: argv, environment, stdin, process group, stopping and
 * exit codes, with python3 standing in for the tool; then the real thing:
 * the generated bpftrace script against tests/support/target, skipped
 * unless root with bpftrace and tracefs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "workers/trace_run.h"
#include "workers/trace_script.h"

#define PYTHON "/usr/bin/python3"
#define TRUE   "/bin/true"

extern char **environ;

struct buf {
	char *data;
	size_t len;
};

struct run {
	struct trace_run r;
	struct ev_loop *loop;
	ev_io out_w, err_w;
	ev_timer tick_w;
	struct buf out, err;
	int out_eof, err_eof, reaped;
	double deadline;
	/* Called every tick while the tool runs; returns -1 to give up. */
	int (*tick)(struct run *run);
	void *arg;
	double stop_grace; /* < 0: never stop; else stop once "ready" shows */
	int stopped;
	double stop_at, end_at;
};

static char tmpdir[] = "/tmp/probed-run-XXXXXX";

static void
buf_add(struct buf *b, const char *p, size_t n)
{
	b->data = realloc(b->data, b->len + n + 1);
	assert_non_null(b->data);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
run_read(struct run *run, ev_io *w, struct buf *b, int *eof)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(w->fd, chunk, sizeof(chunk));
		if (n > 0) {
			buf_add(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n == 0) {
			*eof = 1;
			ev_io_stop(run->loop, w);
		}
		/* EAGAIN: the read end is non-blocking, as promised. */
		assert_true(n == 0 || errno == EAGAIN);
		return;
	}
}

static void
run_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct run *run = w->data;

	run_read(run, w, &run->out, &run->out_eof);
}

static void
run_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct run *run = w->data;

	run_read(run, w, &run->err, &run->err_eof);
}

static void
run_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *run = w->data;

	if (!run->reaped && trace_run_reap(&run->r) == 1) {
		run->reaped = 1;
		run->end_at = ev_now(loop);
	}
	if (!run->reaped && run->stop_grace >= 0 && !run->stopped &&
	    run->out.data != NULL && strstr(run->out.data, "ready\n")) {
		run->stopped = 1;
		run->stop_at = ev_now(loop);
		trace_run_stop(&run->r, loop, run->stop_grace);
	}
	if (!run->reaped && run->tick != NULL && run->tick(run) == -1) {
		trace_run_stop(&run->r, loop, 1.0);
	}
	if ((run->reaped && run->out_eof && run->err_eof) ||
	    ev_now(loop) > run->deadline) {
		ev_break(loop, EVBREAK_ALL);
	}
}

/* Runs the tool to its end (or the deadline) and collects its output. */
static int
run_tool(struct run *run, const struct trace_run_spec *spec, double timeout,
         char *why, size_t whylen)
{
	run->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(run->loop);
	if (trace_run_start(&run->r, spec, why, whylen) == -1) {
		ev_loop_destroy(run->loop);
		run->loop = NULL;
		return -1;
	}
	assert_true(fcntl(run->r.out_fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(run->r.err_fd, F_GETFL) & O_NONBLOCK);
	ev_io_init(&run->out_w, run_out_cb, run->r.out_fd, EV_READ);
	ev_io_init(&run->err_w, run_err_cb, run->r.err_fd, EV_READ);
	ev_timer_init(&run->tick_w, run_tick_cb, 0.02, 0.02);
	run->out_w.data = run->err_w.data = run->tick_w.data = run;
	ev_io_start(run->loop, &run->out_w);
	ev_io_start(run->loop, &run->err_w);
	ev_timer_start(run->loop, &run->tick_w);
	run->deadline = ev_now(run->loop) + timeout;
	ev_run(run->loop, 0);
	if (!run->reaped) {
		/* Deadline: do not leave the tool behind. */
		kill(-run->r.pid, SIGKILL);
		while (trace_run_reap(&run->r) == 0) {
			usleep(10000);
		}
		fail_msg("tool still running after %.0f s; stdout: %s stderr: "
		         "%s",
		         timeout, run->out.data ? run->out.data : "",
		         run->err.data ? run->err.data : "");
	}
	trace_run_close(&run->r);
	ev_loop_destroy(run->loop);
	run->loop = NULL;
	return 0;
}

static void
run_free(struct run *run)
{
	free(run->out.data);
	free(run->err.data);
	memset(run, 0, sizeof(*run));
}

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* What every python "tool" reports first: one JSON line. */
static const char py_report[] =
    "import json, os, signal, sys\n"
    "env = dict(kv.split('=', 1) for kv in\n"
    "    open('/proc/self/environ').read().split('\\0') if kv)\n"
    "ppid_cmd = open('/proc/%d/cmdline' % os.getppid()).read()\n"
    "ppid_cmd = ppid_cmd.replace('\\0', ' ')\n"
    "print(json.dumps({'argv': sys.argv, 'env': env, 'stdin': "
    "sys.stdin.read(),\n"
    "    'pid': os.getpid(), 'pgrp': os.getpgrp(), 'quiet': "
    "sys.flags.quiet,\n"
    "    'verbose': sys.flags.verbose, 'ppid_cmd': ppid_cmd,\n"
    "    'fds': sorted(int(f) for f in os.listdir('/proc/self/fd'))}))\n"
    "sys.stdout.flush()\n"
    "sys.stderr.write('to stderr\\n')\n";

static int
python_missing(void)
{
	if (access(PYTHON, X_OK) == -1 || access(TRUE, X_OK) == -1) {
		print_message("skipped: needs %s and %s\n", PYTHON, TRUE);
		return 1;
	}
	return 0;
}

static json_t *
first_json(const struct run *run)
{
	json_error_t e;
	json_t *j;

	assert_non_null(run->out.data);
	j = json_loadb(run->out.data, strcspn(run->out.data, "\n"), 0, &e);
	if (j == NULL) {
		fail_msg("not JSON: %s (%s)", run->out.data, e.text);
	}
	return j;
}

static void
test_trace_run_argv_env_stdin_and_group(void **state)
{
	const char *names[] = {"BPFTRACE_STRLEN", "BPFTRACE_PERF_RB_PAGES"};
	const char *values[] = {"200", "8"};
	const char *opts[] = {"-v"};
	struct trace_run_spec spec = {0};
	struct run run = {.stop_grace = -1};
	char why[256], *script;
	int leak;
	json_t *j, *env, *argv, *fds;

	if (python_missing()) {
		skip();
	}
	script = write_file("report.py", py_report, 0644);
	/* A descriptor without O_CLOEXEC must still not reach the tool. */
	leak = open("/dev/null", O_RDONLY);
	assert_true(leak > 2);
	assert_int_equal(dup2(leak, 100), 100);
	close(leak);
	leak = 100;
	spec.tool = TRACE_TOOL_BPFTRACE;
	spec.tool_path = PYTHON;
	spec.script_path = script;
	spec.process = TRUE;
	spec.options = opts;
	spec.noptions = 1;
	spec.env_names = names;
	spec.env_values = values;
	spec.nenv = 2;
	spec.sudo = TRACE_RUN_SUDO_NEVER;
	assert_int_equal(run_tool(&run, &spec, 20, why, sizeof(why)), 0);
	close(leak);
	j = first_json(&run);
	/* python3 -q -v SCRIPT: forced -q, the template's -v, the script. */
	assert_int_equal(json_integer_value(json_object_get(j, "quiet")), 1);
	assert_true(json_integer_value(json_object_get(j, "verbose")) >= 1);
	argv = json_object_get(j, "argv");
	assert_int_equal(json_array_size(argv), 1);
	assert_string_equal(json_string_value(json_array_get(argv, 0)), script);
	env = json_object_get(j, "env");
	assert_int_equal(json_object_size(env), 2);
	assert_string_equal(
	    json_string_value(json_object_get(env, "BPFTRACE_STRLEN")), "200");
	assert_string_equal(
	    json_string_value(json_object_get(env, "BPFTRACE_PERF_RB_PAGES")),
	    "8");
	assert_string_equal(json_string_value(json_object_get(j, "stdin")), "");
	assert_int_equal(json_integer_value(json_object_get(j, "pgrp")),
	                 json_integer_value(json_object_get(j, "pid")));
	fds = json_object_get(j, "fds");
	for (size_t i = 0; i < json_array_size(fds); i++) {
		assert_int_not_equal(json_integer_value(json_array_get(fds, i)),
		                     leak);
	}
	assert_non_null(strstr(run.err.data, "to stderr\n"));
	assert_null(strstr(run.out.data, "to stderr"));
	assert_int_equal(run.r.code, 0);
	json_decref(j);
	run_free(&run);
	unlink(script);
	free(script);
}

static void
test_trace_run_sudo_gets_password_on_stdin_only(void **state)
{
	const char *names[] = {"BPFTRACE_STRLEN"};
	const char *values[] = {"64"};
	const char *pw = "pw-Secret-4711";
	struct trace_run_spec spec = {0};
	struct run run = {.stop_grace = -1};
	char why[256], *script;
	json_t *j, *env, *argv;

	if (python_missing()) {
		skip();
	}
	/* As root sudo asks nothing: the line stays for the tool to read. */
	if (geteuid() != 0 || access("/usr/bin/sudo", X_OK) == -1) {
		print_message("skipped: needs root and /usr/bin/sudo\n");
		skip();
	}
	script = write_file("sudo.py", py_report, 0644);
	spec.tool = TRACE_TOOL_BPFTRACE;
	spec.tool_path = PYTHON;
	spec.script_path = script;
	spec.process = TRUE;
	spec.env_names = names;
	spec.env_values = values;
	spec.nenv = 1;
	spec.root_password = pw;
	spec.sudo = TRACE_RUN_SUDO_ALWAYS;
	assert_int_equal(run_tool(&run, &spec, 20, why, sizeof(why)), 0);
	j = first_json(&run);
	assert_string_equal(json_string_value(json_object_get(j, "stdin")),
	                    "pw-Secret-4711\n");
	env = json_object_get(j, "env");
	/* env -i: sudo's own variables are gone, the template's are there. */
	assert_int_equal(json_object_size(env), 1);
	assert_string_equal(
	    json_string_value(json_object_get(env, "BPFTRACE_STRLEN")), "64");
	argv = json_object_get(j, "argv");
	assert_string_equal(json_string_value(json_array_get(argv, 0)), script);
	assert_non_null(
	    strstr(json_string_value(json_object_get(j, "ppid_cmd")), "sudo"));
	assert_null(
	    strstr(json_string_value(json_object_get(j, "ppid_cmd")), pw));
	assert_null(strstr(run.err.data, pw));
	assert_int_equal(run.r.code, 0);
	json_decref(j);
	run_free(&run);
	unlink(script);
	free(script);
}

static void
run_python(const char *body, struct run *run, double timeout)
{
	struct trace_run_spec spec = {0};
	char why[256], *script;

	script = write_file("body.py", body, 0644);
	spec.tool = TRACE_TOOL_STAP;
	spec.tool_path = PYTHON;
	spec.script_path = script;
	spec.process = TRUE;
	spec.sudo = TRACE_RUN_SUDO_NEVER;
	assert_int_equal(run_tool(run, &spec, timeout, why, sizeof(why)), 0);
	unlink(script);
	free(script);
}

/* /proc/self/status, read by cat: the tool's own signal state. */
static void
test_trace_run_tool_starts_with_default_signals(void **state)
{
	struct trace_run_spec spec = {0};
	struct run run = {.stop_grace = -1};
	sigset_t block, old;
	char why[256], *sigblk, *sigign;

	if (access("/bin/cat", X_OK) == -1 || access(TRUE, X_OK) == -1) {
		skip();
	}
	/* A worker ignores SIGPIPE; a blocked signal is inherited too. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	spec.tool = TRACE_TOOL_STAP;
	spec.tool_path = "/bin/cat";
	spec.script_path = "/proc/self/status";
	spec.process = TRUE;
	spec.sudo = TRACE_RUN_SUDO_NEVER;
	assert_int_equal(run_tool(&run, &spec, 20, why, sizeof(why)), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	assert_non_null(run.out.data);
	sigblk = strstr(run.out.data, "\nSigBlk:\t");
	sigign = strstr(run.out.data, "\nSigIgn:\t");
	assert_non_null(sigblk);
	assert_non_null(sigign);
	/* Signals 1..31; glibc's posix_spawn leaves its own 32 and 33. */
	assert_int_equal(strtoull(sigblk + 9, NULL, 16) & 0x7fffffffu, 0);
	assert_int_equal(strtoull(sigign + 9, NULL, 16) & 0x7fffffffu, 0);
	assert_int_equal(run.r.code, 0);
	run_free(&run);
}

static void
test_trace_run_exit_code_is_reported(void **state)
{
	struct run run = {.stop_grace = -1};

	if (python_missing()) {
		skip();
	}
	run_python("import sys\nsys.exit(3)\n", &run, 20);
	assert_int_equal(run.r.code, 3);
	assert_int_equal(run.r.pid, 0);
	/* Nothing left to reap. */
	assert_int_equal(trace_run_reap(&run.r), -1);
	run_free(&run);
}

static void
test_trace_run_stop_terms_the_group(void **state)
{
	struct run run = {.stop_grace = 5};

	if (python_missing()) {
		skip();
	}
	/* A child in the same group must die too, or stdout never ends. */
	run_python("import subprocess, sys, time\n"
	           "subprocess.Popen(['/bin/sleep', '60'])\n"
	           "print('ready', flush=True)\n"
	           "time.sleep(60)\n",
	           &run, 20);
	assert_true(run.stopped);
	assert_int_equal(run.r.code, -SIGTERM);
	assert_true(run.end_at - run.stop_at < 4);
	run_free(&run);
}

static void
test_trace_run_stop_kills_after_grace(void **state)
{
	struct run run = {.stop_grace = 0.3};

	if (python_missing()) {
		skip();
	}
	run_python("import signal, time\n"
	           "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
	           "print('ready', flush=True)\n"
	           "time.sleep(60)\n",
	           &run, 20);
	assert_true(run.stopped);
	assert_int_equal(run.r.code, -SIGKILL);
	assert_true(run.end_at - run.stop_at >= 0.29);
	run_free(&run);
}

static void
expect_refused(struct trace_run_spec *spec, const char *needle)
{
	struct trace_run r;
	char why[512] = "";

	assert_int_equal(trace_run_start(&r, spec, why, sizeof(why)), -1);
	if (strstr(why, needle) == NULL) {
		fail_msg("reason \"%s\" lacks \"%s\"", why, needle);
	}
	assert_int_equal(r.out_fd, -1);
	assert_int_equal(r.err_fd, -1);
	assert_int_equal(r.pid, 0);
}

static void
test_trace_run_start_refuses_with_clear_reasons(void **state)
{
	struct trace_run_spec spec = {0};
	char *script = write_file("s.bt", "BEGIN {}\n", 0644);
	char *noexec = write_file("noexec", "", 0644);
	const char *bad_opt[] = {"-c", "/bin/sh"};
	const char *bad_env[] = {"LD_PRELOAD"};
	const char *val[] = {"/tmp/x.so"};

	spec.tool = TRACE_TOOL_BPFTRACE;
	spec.tool_path = TRUE;
	spec.script_path = script;
	spec.process = "/nonexistent/app";
	spec.sudo = TRACE_RUN_SUDO_NEVER;
	expect_refused(&spec, "process /nonexistent/app: No such file");
	spec.process = "relative/app";
	expect_refused(&spec, "process: not an absolute path");
	spec.process = tmpdir;
	expect_refused(&spec, "not a regular file");
	/* Even root passes access(X_OK) only if some x bit is set. */
	spec.process = noexec;
	expect_refused(&spec, "not executable");
	spec.process = TRUE;
	spec.tool_path = "/nonexistent/bpftrace";
	expect_refused(&spec, "bpftrace /nonexistent/bpftrace: No such file");
	spec.tool_path = TRUE;
	spec.script_path = "/nonexistent/s.bt";
	expect_refused(&spec, "script /nonexistent/s.bt");
	spec.script_path = script;
	spec.options = bad_opt;
	spec.noptions = 2;
	expect_refused(&spec, "options[0]: not an allowed bpftrace option");
	spec.noptions = 0;
	spec.env_names = bad_env;
	spec.env_values = val;
	spec.nenv = 1;
	expect_refused(&spec, "environment[0]: name not allowed");
	spec.nenv = 0;
	spec.sudo = TRACE_RUN_SUDO_ALWAYS;
	spec.root_password = NULL;
	expect_refused(&spec, "sudo needs root-password");
	spec.root_password = "a\nb";
	expect_refused(&spec, "sudo needs root-password");
	spec.root_password = "pw";
	spec.sudo_path = "/nonexistent/sudo";
	expect_refused(&spec, "sudo /nonexistent/sudo");
	unlink(script);
	unlink(noexec);
	free(script);
	free(noexec);
}

static void
test_trace_run_options_allow_list(void **state)
{
	static const char *const ok_bt[][3] = {
	    {"-q"},
	    {"-k"},
	    {"-kk"},
	    {"-v"},
	    {"--no-warnings"},
	    {"-B", "none"},
	    {"-B", "line"},
	    {"-B", "full"},
	    {"-p", "1234"},
	};
	static const char *const bad_bt[][3] = {
	    {"-c", "ls"},
	    {"-o", "/tmp/x"},
	    {"--unsafe"},
	    {"-e", "BEGIN{}"},
	    {"-f", "json"},
	    {"-I", "/tmp"},
	    {"--include", "x.h"},
	    {"-B"},
	    {"-B", "all"},
	    {"-p"},
	    {"-p", "12a"},
	    {"-p", "0"},
	    {"-p", "-1"},
	    {"-d"},
	    {"-l"},
	    {"-x"},
	    {"--emit-elf", "/tmp/x"},
	    {"-qk"},
	};
	static const char *const ok_stap[][3] = {
	    {"-v"}, {"-vv"}, {"-vvv"},           {"-w"},       {"-W"},
	    {"-t"}, {"-u"},  {"--skip-badvars"}, {"-s", "64"}, {"-x", "99"},
	};
	static const char *const bad_stap[][3] = {
	    {"-g"},          {"-c", "ls"},      {"-o", "/tmp/x"},
	    {"-e", "probe"}, {"-I", "/tmp"},    {"-D", "MAXSTRINGLEN=9"},
	    {"-r", "6.1"},   {"-p", "4"},       {"-k"},
	    {"-R", "/tmp"},  {"-s", "65"},      {"-s", "0"},
	    {"-x"},          {"--all-modules"}, {"-q"},
	};
	char why[256];

#define N(a)   (sizeof(a) / sizeof(a[0]))
#define LEN(o) ((o)[1] != NULL ? 2u : 1u)
	for (size_t i = 0; i < N(ok_bt); i++) {
		assert_int_equal(
		    trace_run_check_options(TRACE_TOOL_BPFTRACE, ok_bt[i],
		                            LEN(ok_bt[i]), why, sizeof(why)),
		    0);
	}
	for (size_t i = 0; i < N(bad_bt); i++) {
		assert_int_equal(
		    trace_run_check_options(TRACE_TOOL_BPFTRACE, bad_bt[i],
		                            LEN(bad_bt[i]), why, sizeof(why)),
		    -1);
	}
	for (size_t i = 0; i < N(ok_stap); i++) {
		assert_int_equal(
		    trace_run_check_options(TRACE_TOOL_STAP, ok_stap[i],
		                            LEN(ok_stap[i]), why, sizeof(why)),
		    0);
	}
	for (size_t i = 0; i < N(bad_stap); i++) {
		assert_int_equal(
		    trace_run_check_options(TRACE_TOOL_STAP, bad_stap[i],
		                            LEN(bad_stap[i]), why, sizeof(why)),
		    -1);
	}
#undef LEN
#undef N
}

static void
test_trace_run_env_allow_list(void **state)
{
	const char *names[] = {"BPFTRACE_STRLEN"};
	const char *ok[] = {"128"};
	const char *bad_val[] = {"1 2"};
	const char *bad_names[] = {"LD_PRELOAD",
	                           "PATH",
	                           "SYSTEMTAP_STAPIO",
	                           "GCONV_PATH",
	                           "GLIBC_TUNABLES",
	                           "1X",
	                           "A-B",
	                           ""};
	char why[256];

	assert_int_equal(trace_run_check_env(TRACE_TOOL_BPFTRACE, names, ok, 1,
	                                     why, sizeof(why)),
	                 0);
	assert_int_equal(trace_run_check_env(TRACE_TOOL_BPFTRACE, names,
	                                     bad_val, 1, why, sizeof(why)),
	                 -1);
	/* SystemTap takes no variable at all. */
	assert_int_equal(trace_run_check_env(TRACE_TOOL_STAP, names, ok, 1, why,
	                                     sizeof(why)),
	                 -1);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(trace_run_check_env(TRACE_TOOL_BPFTRACE,
		                                     &bad_names[i], ok, 1, why,
		                                     sizeof(why)),
		                 -1);
	}
}

static void
test_trace_run_code_maps_signals_negative(void **state)
{
	assert_int_equal(trace_run_code(0), 0);
	assert_int_equal(trace_run_code(7 << 8), 7);
	assert_int_equal(trace_run_code(SIGKILL), -SIGKILL);
	assert_int_equal(trace_run_code(SIGTERM), -SIGTERM);
}

/* The real thing: bpftrace, the generated script, the target. */

struct bt {
	const char *target;
	pid_t main_pid;
	int main_in; /* the main target waits for a line here */
	pid_t canary;
	int released;
	double next_canary;
	int want_lines; /* stop once the main pid printed this many */
	int natural;    /* 1: let the interval probe end the trace */
};

static const char *
bpftrace_path(void)
{
	static const char *const paths[] = {"/usr/bin/bpftrace",
	                                    "/usr/local/bin/bpftrace",
	                                    "/usr/sbin/bpftrace"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (access(paths[i], X_OK) == 0) {
			return paths[i];
		}
	}
	return NULL;
}

static int
bpftrace_missing(void)
{
	if (geteuid() != 0 || bpftrace_path() == NULL) {
		print_message("skipped: needs root and bpftrace\n");
		return 1;
	}
	if (access("/sys/kernel/tracing/uprobe_events", F_OK) == -1 &&
	    access("/sys/kernel/debug/tracing/uprobe_events", F_OK) == -1) {
		print_message("skipped: no tracefs (mount -t tracefs nodev "
		              "/sys/kernel/tracing)\n");
		return 1;
	}
	return 0;
}

static char *
target_path(void)
{
	const char *b = getenv("PROBED_BUILDDIR");
	char self[PATH_MAX], *path, *slash;
	ssize_t n;

	if (b != NULL) {
		assert_true(asprintf(&path, "%s/tests/support/target", b) > 0);
		return path;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	assert_non_null(slash);
	*slash = '\0';
	assert_true(asprintf(&path, "%s/../support/target", self) > 0);
	assert_non_null(realpath(path, self));
	free(path);
	return strdup(self);
}

/* Starts the target; with in != NULL it waits for a line on that pipe. */
static pid_t
target_spawn(const char *target, const char *adds, const char *works, int *in)
{
	char *argv_wait[] = {(char *)target, "-w", (char *)adds, (char *)works,
	                     NULL};
	char *argv_now[] = {(char *)target, (char *)adds, (char *)works, NULL};
	posix_spawn_file_actions_t fa;
	int p[2] = {-1, -1};
	pid_t pid;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	if (in != NULL) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	}
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, target, &fa, NULL,
	                             in != NULL ? argv_wait : argv_now,
	                             environ),
	                 0);
	posix_spawn_file_actions_destroy(&fa);
	if (in != NULL) {
		close(p[0]);
		*in = p[1];
	}
	return pid;
}

static size_t
count_pid_lines(const char *out, pid_t pid)
{
	char needle[64];
	size_t n = 0;

	snprintf(needle, sizeof(needle), "\"pid\":%ld,", (long)pid);
	for (const char *p = out; p != NULL && (p = strstr(p, needle)); p++) {
		n++;
	}
	return n;
}

/*
 * bpftrace -q says nothing when its probes are attached, so a canary
 * target runs every 300 ms until one of its calls shows up; then the
 * main target, attached to by then too, is released.
 */
static int
bt_tick(struct run *run)
{
	struct bt *bt = run->arg;
	double now = ev_now(run->loop);
	int status;

	if (bt->canary > 0 && waitpid(bt->canary, &status, WNOHANG) > 0) {
		bt->canary = 0;
	}
	if (!bt->released && bt->canary == 0 && now >= bt->next_canary) {
		bt->canary = target_spawn(bt->target, "1", "0", NULL);
		bt->next_canary = now + 0.3;
	}
	/* The main target has not called anything yet: any hit is a canary. */
	if (!bt->released && run->out.data != NULL &&
	    strstr(run->out.data, "\"pid\":") != NULL) {
		assert_int_equal(write(bt->main_in, "\n", 1), 1);
		close(bt->main_in);
		bt->released = 1;
	}
	if (!bt->natural && bt->released && !run->stopped &&
	    count_pid_lines(run->out.data, bt->main_pid) >=
	        (size_t)bt->want_lines) {
		run->stopped = 1;
		run->stop_at = now;
		trace_run_stop(&run->r, run->loop, 5);
	}
	return 0;
}

struct tally {
	int probe_add, ret_add, probe_work, ret_work, other;
	int retval_sum;
};

/* "F", or with a wildcard bpftrace's probe name "uprobe:PATH:F". */
static int
name_is(const char *name, const char *path, int ret, const char *fn)
{
	char want[PATH_MAX + 64];

	if (path == NULL) {
		return strcmp(name, fn) == 0;
	}
	snprintf(want, sizeof(want), "%s:%s:%s", ret ? "uretprobe" : "uprobe",
	         path, fn);
	return strcmp(name, want) == 0;
}

/* Every line must be one JSON object (blank lines are allowed). */
static void
check_lines(const char *out, pid_t pid, const char *path, struct tally *t)
{
	const char *line = out, *nl;
	json_error_t e;

	memset(t, 0, sizeof(*t));
	for (; *line != '\0'; line = nl + 1) {
		json_t *j, *probe, *ret;
		const char *name;

		nl = strchr(line, '\n');
		assert_non_null(nl);
		if (nl == line) {
			continue;
		}
		j = json_loadb(line, (size_t)(nl - line), 0, &e);
		if (j == NULL) {
			fail_msg("not JSON (%s): %.*s", e.text,
			         (int)(nl - line), line);
		}
		assert_true(json_is_integer(json_object_get(j, "uid")));
		assert_true(json_is_integer(json_object_get(j, "tid")));
		assert_true(json_is_integer(json_object_get(j, "cpu")));
		assert_true(json_integer_value(json_object_get(j, "time")) > 0);
		assert_string_equal(
		    json_string_value(json_object_get(j, "process")), "target");
		if (json_integer_value(json_object_get(j, "pid")) != pid) {
			json_decref(j);
			continue;
		}
		assert_int_equal(json_integer_value(json_object_get(j, "tid")),
		                 pid);
		probe = json_object_get(j, "probe");
		ret = json_object_get(j, "return");
		name = json_string_value(probe != NULL ? probe : ret);
		assert_non_null(name);
		if (ret != NULL) {
			const char *rv =
			    json_string_value(json_object_get(j, "retval"));

			assert_non_null(rv);
			if (name_is(name, path, 1, "target_add")) {
				t->retval_sum += atoi(rv);
			}
		} else {
			assert_null(json_object_get(j, "retval"));
		}
		if (name_is(name, path, ret != NULL, "target_add")) {
			probe != NULL ? t->probe_add++ : t->ret_add++;
		} else if (name_is(name, path, ret != NULL, "target_work")) {
			probe != NULL ? t->probe_work++ : t->ret_work++;
		} else {
			t->other++;
		}
		json_decref(j);
	}
}

static void
bt_run(const char *const *fns, size_t nfns, unsigned lasting, int natural,
       int wild)
{
	struct trace_script_spec ss = {0};
	struct trace_run_spec spec = {0};
	struct run run = {.stop_grace = -1};
	struct bt bt = {0};
	char why[256], path[512], *text;
	struct tally t;
	int status;

	bt.target = target_path();
	ss.tool = TRACE_TOOL_BPFTRACE;
	ss.process = bt.target;
	ss.functions = fns;
	ss.nfunctions = nfns;
	ss.lasting = lasting;
	assert_int_equal(trace_script_build(&ss, &text, why, sizeof(why)), 0);
	assert_int_equal(trace_script_save(text, tmpdir, TRACE_TOOL_BPFTRACE,
	                                   path, sizeof(path)),
	                 0);
	free(text);
	bt.main_pid = target_spawn(bt.target, "7", "4", &bt.main_in);
	/* 7 calls of target_add and 4 of target_work, each in and out. */
	bt.want_lines = 2 * (7 + 4);
	bt.natural = natural;
	spec.tool = TRACE_TOOL_BPFTRACE;
	spec.tool_path = bpftrace_path();
	spec.script_path = path;
	spec.process = bt.target;
	run.tick = bt_tick;
	run.arg = &bt;
	assert_int_equal(run_tool(&run, &spec, 60, why, sizeof(why)), 0);
	if (bt.canary > 0) {
		waitpid(bt.canary, &status, 0);
	}
	assert_int_equal(waitpid(bt.main_pid, &status, 0), bt.main_pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!bt.released) {
		fail_msg("bpftrace never attached; stderr: %s",
		         run.err.data ? run.err.data : "");
	}
	check_lines(run.out.data, bt.main_pid, wild ? bt.target : NULL, &t);
	print_message("bpftrace: add %d/%d work %d/%d, code %d\n", t.probe_add,
	              t.ret_add, t.probe_work, t.ret_work, run.r.code);
	assert_int_equal(t.probe_add, 7);
	assert_int_equal(t.ret_add, 7);
	assert_int_equal(t.probe_work, 4);
	assert_int_equal(t.ret_work, 4);
	assert_int_equal(t.other, 0);
	/* target_add(i, 1) for i = 0..6 returns 1..7. */
	assert_int_equal(t.retval_sum, 28);
	assert_int_equal(run.r.code, 0);
	run_free(&run);
	unlink(path);
	free((char *)bt.target);
}

static void
test_trace_run_bpftrace_counts_calls_of_target(void **state)
{
	const char *fns[] = {"target_add", "target_work"};

	if (bpftrace_missing()) {
		skip();
	}
	bt_run(fns, 2, 60, 0, 0);
}

static void
test_trace_run_bpftrace_wildcard_ends_by_itself(void **state)
{
	const char *fns[] = {"target_*"};

	if (bpftrace_missing()) {
		skip();
	}
	/* The interval probe ends it; the names come from "probe". */
	bt_run(fns, 1, 8, 1, 1);
}

static int
setup(void **state)
{
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_run_argv_env_stdin_and_group),
	    cmocka_unit_test(test_trace_run_sudo_gets_password_on_stdin_only),
	    cmocka_unit_test(test_trace_run_tool_starts_with_default_signals),
	    cmocka_unit_test(test_trace_run_exit_code_is_reported),
	    cmocka_unit_test(test_trace_run_stop_terms_the_group),
	    cmocka_unit_test(test_trace_run_stop_kills_after_grace),
	    cmocka_unit_test(test_trace_run_start_refuses_with_clear_reasons),
	    cmocka_unit_test(test_trace_run_options_allow_list),
	    cmocka_unit_test(test_trace_run_env_allow_list),
	    cmocka_unit_test(test_trace_run_code_maps_signals_negative),
	    cmocka_unit_test(test_trace_run_bpftrace_counts_calls_of_target),
	    cmocka_unit_test(test_trace_run_bpftrace_wildcard_ends_by_itself),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
