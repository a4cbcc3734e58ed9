/*
 * Running the tool: argv, environment, stdin, process group, signals,
 * stopping and exit codes, with python3 (and cat) standing in for the
 * tool. The real tool runs in test_trace_bpftrace.c.
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

#include "trace_collect.h"

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
	};

	return cmocka_run_group_tests(tests, collect_setup, collect_teardown);
}
