/*
 * The real thing: the generated bpftrace script, run by trace_run against
 * tests/support/target, with exact call counts. Skipped unless root, with
 * bpftrace and tracefs (mount -t tracefs nodev /sys/kernel/tracing).
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

#include "trace_collect.h"

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
test_trace_bpftrace_counts_calls_of_target(void **state)
{
	const char *fns[] = {"target_add", "target_work"};

	if (bpftrace_missing()) {
		skip();
	}
	bt_run(fns, 2, 60, 0, 0);
}

static void
test_trace_bpftrace_wildcard_ends_by_itself(void **state)
{
	const char *fns[] = {"target_*"};

	if (bpftrace_missing()) {
		skip();
	}
	/* The interval probe ends it; the names come from "probe". */
	bt_run(fns, 1, 8, 1, 1);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_bpftrace_counts_calls_of_target),
	    cmocka_unit_test(test_trace_bpftrace_wildcard_ends_by_itself),
	};

	return cmocka_run_group_tests(tests, collect_setup, collect_teardown);
}
