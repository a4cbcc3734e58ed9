/*
 * The generated scripts, compared as text, and the refusals that keep a
 * template from writing its own probes. The scripts are run for real by
 * bpftrace in test_trace_run.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "workers/trace_script.h"

static char *
build(enum trace_tool tool, const char *process, const char *const *fns,
      size_t n, unsigned lasting, char *why, size_t whylen)
{
	struct trace_script_spec spec = {
	    .tool = tool,
	    .process = process,
	    .functions = fns,
	    .nfunctions = n,
	    .lasting = lasting,
	};
	char *out = (char *)0x1;
	int rc;

	rc = trace_script_build(&spec, &out, why, whylen);
	if (rc == -1) {
		assert_null(out);
	} else {
		assert_int_equal(rc, 0);
		assert_non_null(out);
	}
	return out;
}

static const char bt_one[] =
    "uprobe:\"/usr/bin/app\":\"xmalloc\"\n"
    "{\n"
    "\tprintf(\"{\\\"probe\\\":\\\"xmalloc\\\",\\\"uid\\\":%d,\\\"pid\\\":%d,"
    "\\\"tid\\\":%d,\\\"cpu\\\":%d,\\\"time\\\":%llu,\\\"process\\\":"
    "\\\"%s\\\"}\\n\",\n"
    "\t    uid, pid, tid, cpu, nsecs, comm);\n"
    "}\n"
    "\n"
    "uretprobe:\"/usr/bin/app\":\"xmalloc\"\n"
    "{\n"
    "\tprintf(\"{\\\"return\\\":\\\"xmalloc\\\",\\\"uid\\\":%d,\\\"pid\\\":%d,"
    "\\\"tid\\\":%d,\\\"cpu\\\":%d,\\\"retval\\\":\\\"%lld\\\",\\\"time\\\":"
    "%llu,\\\"process\\\":\\\"%s\\\"}\\n\",\n"
    "\t    uid, pid, tid, cpu, retval, nsecs, comm);\n"
    "}\n"
    "\n"
    "interval:s:60\n"
    "{\n"
    "\texit();\n"
    "}\n";

static void
test_trace_script_bpftrace_one_function_text(void **state)
{
	const char *fns[] = {"xmalloc"};
	char why[256];
	char *s = build(TRACE_TOOL_BPFTRACE, "/usr/bin/app", fns, 1, 60, why,
	                sizeof(why));

	assert_string_equal(s, bt_one);
	free(s);
}

static const char stap_one[] =
    "function probed_json:string(s:string)\n"
    "{\n"
    "\treturn str_replace(str_replace(s, \"\\\\\", \"\\\\\\\\\"), \"\\\"\", "
    "\"\\\\\\\"\")\n"
    "}\n"
    "\n"
    "probe process(\"/usr/bin/app\").function(\"xfree\").call\n"
    "{\n"
    "\tprintf(\"{\\\"probe\\\":\\\"xfree\\\",\\\"uid\\\":%d,\\\"pid\\\":%d,"
    "\\\"tid\\\":%d,\\\"cpu\\\":%d,\\\"args\\\":\\\"%s\\\",\\\"time\\\":%d,"
    "\\\"process\\\":\\\"%s\\\"}\\n\",\n"
    "\t    uid(), pid(), tid(), cpu(), probed_json($$parms), "
    "gettimeofday_ns(), probed_json(execname()))\n"
    "}\n"
    "\n"
    "probe process(\"/usr/bin/app\").function(\"xfree\").return\n"
    "{\n"
    "\tprintf(\"{\\\"return\\\":\\\"xfree\\\",\\\"uid\\\":%d,\\\"pid\\\":%d,"
    "\\\"tid\\\":%d,\\\"cpu\\\":%d,\\\"retval\\\":\\\"%d\\\",\\\"time\\\":%d,"
    "\\\"process\\\":\\\"%s\\\"}\\n\",\n"
    "\t    uid(), pid(), tid(), cpu(), returnval(), gettimeofday_ns(), "
    "probed_json(execname()))\n"
    "}\n"
    "\n"
    "probe timer.s(5)\n"
    "{\n"
    "\texit()\n"
    "}\n";

static void
test_trace_script_stap_one_function_text(void **state)
{
	const char *fns[] = {"xfree"};
	char why[256];
	char *s =
	    build(TRACE_TOOL_STAP, "/usr/bin/app", fns, 1, 5, why, sizeof(why));

	assert_string_equal(s, stap_one);
	free(s);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		n++;
	}
	return n;
}

static void
test_trace_script_bpftrace_wildcard_names_come_from_probe(void **state)
{
	const char *fns[] = {"x*", "free"};
	char why[256];
	char *s = build(TRACE_TOOL_BPFTRACE, "/bin/bash", fns, 2, 10, why,
	                sizeof(why));

	assert_non_null(strstr(s, "uprobe:\"/bin/bash\":\"x*\"\n"));
	assert_non_null(strstr(s, "uretprobe:\"/bin/bash\":\"x*\"\n"));
	/* The wildcard never reaches a format string; the name does. */
	assert_null(strstr(s, "\\\"x*\\\""));
	assert_int_equal(count(s, "\\\"probe\\\":\\\"%s\\\""), 1);
	assert_int_equal(count(s, "\\\"return\\\":\\\"%s\\\""), 1);
	assert_int_equal(count(s, "probe, uid"), 2);
	assert_int_equal(count(s, "\\\"probe\\\":\\\"free\\\""), 1);
	assert_int_equal(count(s, "\\\"return\\\":\\\"free\\\""), 1);
	free(s);
}

static void
test_trace_script_stap_wildcard_names_come_from_ppfunc(void **state)
{
	const char *fns[] = {"x?alloc"};
	char why[256];
	char *s =
	    build(TRACE_TOOL_STAP, "/bin/bash", fns, 1, 10, why, sizeof(why));

	assert_non_null(strstr(s, ".function(\"x?alloc\").call\n"));
	assert_non_null(strstr(s, ".function(\"x?alloc\").return\n"));
	assert_int_equal(count(s, "ppfunc(), uid()"), 2);
	assert_null(strstr(s, "\\\"x?alloc\\\""));
	free(s);
}

static void
test_trace_script_each_function_probed_once_in_order(void **state)
{
	const char *fns[] = {"a", "b", "a", "c", "b"};
	char why[256];
	char *s =
	    build(TRACE_TOOL_BPFTRACE, "/bin/x", fns, 5, 1, why, sizeof(why));
	const char *a = strstr(s, "uprobe:\"/bin/x\":\"a\"\n");
	const char *b = strstr(s, "uprobe:\"/bin/x\":\"b\"\n");
	const char *c = strstr(s, "uprobe:\"/bin/x\":\"c\"\n");

	assert_int_equal(count(s, "\nuprobe:") + (s[0] == 'u'), 3);
	assert_int_equal(count(s, "uretprobe:"), 3);
	assert_true(a != NULL && b != NULL && c != NULL);
	assert_true(a < b && b < c);
	assert_int_equal(count(s, "interval:s:1\n"), 1);
	free(s);
	s = build(TRACE_TOOL_STAP, "/bin/x", fns, 5, 1, why, sizeof(why));
	assert_int_equal(count(s, ".call\n"), 3);
	assert_int_equal(count(s, ".return\n"), 3);
	free(s);
}

static void
test_trace_script_refuses_process_that_breaks_out(void **state)
{
	static const char *const bad[] = {
	    "bin/app",   "",          "/bin/a\"b",
	    "/bin/a\\b", "/bin/a b",  "/bin/a:b",
	    "/bin/a,b",  "/bin/a*",   "/bin/a?",
	    "/bin/a{b}", "/bin/a\nb", "/bin/a%s",
	    "/bin/a;b",  "/bin/a\")", "/bin/\xc3\xa9t\xc3\xa9",
	};
	const char *fns[] = {"f"};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int t = 0; t < 2; t++) {
			why[0] = '\0';
			assert_null(build((enum trace_tool)t, bad[i], fns, 1, 1,
			                  why, sizeof(why)));
			assert_non_null(strstr(why, "process"));
		}
	}
	assert_int_equal(trace_script_check_process(NULL, why, sizeof(why)),
	                 -1);
	assert_int_equal(trace_script_check_process("/usr/lib/x86_64-linux-"
	                                            "gnu/g++-12.bin_x",
	                                            why, sizeof(why)),
	                 0);
}

static void
test_trace_script_refuses_function_that_breaks_out(void **state)
{
	static const char *const bad[] = {
	    "",       "a\"b",  "a\\b",  "a b",       "a:b",   "a,b", "a{",
	    "a}",     "a(",    "a)",    "a%d",       "a\n",   "a;",  "1abc",
	    ".Lx",    "a/b",   "a@plt", ":::a",      "a:::b", "::a", "a::",
	    "a::::b", "a: :b", "a-b",   "a\xc3\xa9", "a'b",   "a$b", "a[0]",
	};
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *fns[] = {"ok", bad[i]};

		for (int t = 0; t < 2; t++) {
			why[0] = '\0';
			assert_null(build((enum trace_tool)t, "/bin/x", fns, 2,
			                  1, why, sizeof(why)));
			assert_non_null(strstr(why, "functions[1]"));
		}
	}
}

static void
test_trace_script_accepts_symbol_names(void **state)
{
	static const char *const good[] = {
	    "main",    "_start", "_ZN3foo3barEv", "foo.isra.0", "*",
	    "x*alloc", "?",      "__libc_malloc", "A_b9",
	};
	char why[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(
		    trace_script_check_function(good[i], why, sizeof(why)), 0);
	}
}

static void
test_trace_script_refuses_bad_counts_and_lasting(void **state)
{
	const char *fns[TRACE_SCRIPT_MAX_FUNCTIONS + 1];
	char longname[TRACE_SCRIPT_MAX_NAME + 2];
	char why[256];

	for (size_t i = 0; i <= TRACE_SCRIPT_MAX_FUNCTIONS; i++) {
		fns[i] = "f";
	}
	assert_null(
	    build(TRACE_TOOL_BPFTRACE, "/bin/x", fns, 0, 1, why, sizeof(why)));
	assert_non_null(strstr(why, "functions: empty"));
	assert_null(build(TRACE_TOOL_BPFTRACE, "/bin/x", fns,
	                  TRACE_SCRIPT_MAX_FUNCTIONS + 1, 1, why, sizeof(why)));
	assert_null(
	    build(TRACE_TOOL_BPFTRACE, "/bin/x", fns, 1, 0, why, sizeof(why)));
	assert_non_null(strstr(why, "lasting"));
	assert_null(build(TRACE_TOOL_STAP, "/bin/x", fns, 1,
	                  TRACE_SCRIPT_MAX_LASTING + 1, why, sizeof(why)));
	assert_non_null(strstr(why, "lasting"));
	assert_null(
	    build((enum trace_tool)7, "/bin/x", fns, 1, 1, why, sizeof(why)));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	fns[0] = longname;
	assert_null(
	    build(TRACE_TOOL_STAP, "/bin/x", fns, 1, 1, why, sizeof(why)));
	/* A NULL why is allowed: the answer is still -1. */
	assert_null(build(TRACE_TOOL_STAP, "/bin/x", fns, 1, 1, NULL, 0));
}

static void
test_trace_script_save_writes_private_file(void **state)
{
	char dir[] = "/tmp/probed-test-XXXXXX", path[512], buf[64];
	struct stat st;
	FILE *f;
	size_t n;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(trace_script_save("BEGIN {}\n", dir,
	                                   TRACE_TOOL_BPFTRACE, path,
	                                   sizeof(path)),
	                 0);
	assert_int_equal(strncmp(path, dir, strlen(dir)), 0);
	assert_string_equal(path + strlen(path) - 3, ".bt");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, "BEGIN {}\n");
	unlink(path);
	assert_int_equal(
	    trace_script_save("x", dir, TRACE_TOOL_STAP, path, sizeof(path)),
	    0);
	assert_string_equal(path + strlen(path) - 4, ".stp");
	unlink(path);
	assert_int_equal(trace_script_save("x", dir, TRACE_TOOL_STAP, path, 10),
	                 -1);
	assert_int_equal(trace_script_save("x", "/nonexistent/dir",
	                                   TRACE_TOOL_STAP, path, sizeof(path)),
	                 -1);
	rmdir(dir);
}

/*
 * test_trace_script --emit bpftrace|stap PROCESS LASTING FUNCTION...
 * prints the generated script: the integration tests run the very text
 * probed generates without a trace worker around it.
 */
static int
emit(int argc, char **argv)
{
	struct trace_script_spec spec = {0};
	char why[256], *text;

	if (argc < 6) {
		fprintf(stderr,
		        "usage: %s --emit bpftrace|stap PROCESS "
		        "LASTING FUNCTION...\n",
		        argv[0]);
		return 2;
	}
	spec.tool = strcmp(argv[2], "stap") == 0 ? TRACE_TOOL_STAP
	                                         : TRACE_TOOL_BPFTRACE;
	spec.process = argv[3];
	spec.lasting = (unsigned)strtoul(argv[4], NULL, 10);
	spec.functions = (const char *const *)argv + 5;
	spec.nfunctions = (size_t)(argc - 5);
	if (trace_script_build(&spec, &text, why, sizeof(why)) == -1) {
		fprintf(stderr, "refused: %s\n", why);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--emit") == 0) {
		return emit(argc, argv);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_script_bpftrace_one_function_text),
	    cmocka_unit_test(test_trace_script_stap_one_function_text),
	    cmocka_unit_test(
	        test_trace_script_bpftrace_wildcard_names_come_from_probe),
	    cmocka_unit_test(
	        test_trace_script_stap_wildcard_names_come_from_ppfunc),
	    cmocka_unit_test(
	        test_trace_script_each_function_probed_once_in_order),
	    cmocka_unit_test(test_trace_script_refuses_process_that_breaks_out),
	    cmocka_unit_test(
	        test_trace_script_refuses_function_that_breaks_out),
	    cmocka_unit_test(test_trace_script_accepts_symbol_names),
	    cmocka_unit_test(test_trace_script_refuses_bad_counts_and_lasting),
	    cmocka_unit_test(test_trace_script_save_writes_private_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
