/*
 * Tests of api/template.c: each field's good and bad values, injection
 * attempts, the "funtions" alias, normalisation and the report.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/template.h"

/* A good BPF template with one field replaced by the JSON text repl (or
 * removed when repl is NULL). */
static json_t *
with_field(const char *field, const char *repl)
{
	json_t *t = json_pack(
	    "{s:s, s:s, s:[s, s], s:[s], s:[s], s:[s]}", "traceType", "BPF",
	    "process", "/bin/sh", "functions", "xmalloc", "xfree",
	    "environment", "BPFTRACE_STRLEN", "value", "64", "options", "-q");
	json_error_t err;
	json_t *v;

	assert_non_null(t);
	if (repl == NULL) {
		json_object_del(t, field);
		return t;
	}
	v = json_loads(repl, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v == NULL) {
		fail_msg("bad test JSON %s: %s", repl, err.text);
	}
	json_object_set_new(t, field, v);
	return t;
}

/* Validates t (and frees it); returns 1 if valid, else checks that field
 * is among the errors and returns 0. */
static int
validate(json_t *t, unsigned flags, const char *field)
{
	struct template_report rep;
	json_t *out = template_validate(t, flags, &rep);
	int ok = out != NULL;
	size_t i;
	json_t *v;
	int found = 0;

	json_array_foreach(rep.errors, i, v)
	{
		found |= strcmp(json_string_value(v), field) == 0;
	}
	if (ok != (json_array_size(rep.errors) == 0) || (!ok && !found)) {
		char *e = json_dumps(rep.findings, 0);

		fail_msg("field %s: valid=%d, findings %s", field, ok, e);
	}
	json_decref(out);
	template_report_clear(&rep);
	json_decref(t);
	return ok;
}

static void
expect_good(const char *field, const char *repl)
{
	if (!validate(with_field(field, repl), 0, field)) {
		fail_msg("%s: %s refused", field, repl);
	}
}

static void
expect_bad(const char *field, const char *repl)
{
	if (validate(with_field(field, repl), 0, field)) {
		fail_msg("%s: %s accepted", field, repl);
	}
}

static void
validate_stap_options(const char *opts, int want)
{
	json_t *t = with_field("traceType", "\"STAP\"");

	json_object_set_new(t, "environment", json_array());
	json_object_set_new(t, "value", json_array());
	json_object_set_new(t, "options", json_loads(opts, 0, NULL));
	if (validate(t, 0, "options") != want) {
		fail_msg("stap options %s: expected %s", opts,
		         want ? "valid" : "invalid");
	}
}

static void
test_template_normalises_a_readme_style_template(void **state)
{
	const char *in = "{\"process\": \"/bin/bash\","
	                 " \"funtions\": [\"xmalloc\", \"xfree\"],"
	                 " \"traceType\": [\"STAP\"]}";
	struct template_report rep;
	json_t *t = json_loads(in, 0, NULL);
	json_t *out = template_validate(t, 0, &rep);
	char *s;
	int fails, warns;

	assert_non_null(out);
	s = json_dumps(out, JSON_COMPACT);
	assert_string_equal(
	    s, "{\"traceType\":\"STAP\",\"process\":\"/bin/bash\","
	       "\"functions\":[\"xmalloc\",\"xfree\"],\"environment\":[],"
	       "\"value\":[],\"options\":[]}");
	free(s);
	template_report_count(&rep, &fails, &warns);
	assert_int_equal(fails, 0);
	assert_int_equal(warns, 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(rep.findings, 0), "field")),
	                    "funtions");
	json_decref(out);
	json_decref(t);
	template_report_clear(&rep);
}

static void
test_template_trace_type_is_bpf_or_stap(void **state)
{
	expect_good("traceType", "\"BPF\"");
	validate_stap_options("[]", 1);
	expect_good("traceType", "[\"BPF\"]");
	expect_bad("traceType", NULL);
	expect_bad("traceType", "\"bpf\"");
	expect_bad("traceType", "\"\"");
	expect_bad("traceType", "[]");
	expect_bad("traceType", "[\"BPF\", \"STAP\"]");
	expect_bad("traceType", "1");
	expect_bad("traceType", "\"BPF\\u0000\"");
}

static void
test_template_process_is_a_plain_absolute_path(void **state)
{
	static const char *const bad[] = {"\"bin/sh\"",
	                                  "\"sh\"",
	                                  "\"\"",
	                                  "\"/\"",
	                                  "\"/bin/../bin/sh\"",
	                                  "\"/bin/./sh\"",
	                                  "\"/bin//sh\"",
	                                  "\"/bin/sh/\"",
	                                  "\"/bin/s h\"",
	                                  "\"/bin/sh\\\"\"",
	                                  "\"/bin/sh:malloc\"",
	                                  "\"/bin/sh;id\"",
	                                  "\"/bin/sh\\n\"",
	                                  "\"/bin/$(id)\"",
	                                  "\"/bin/sh\\u0000x\"",
	                                  "5",
	                                  "[\"/bin/sh\"]",
	                                  "null"};
	char longpath[TEMPLATE_PATH_MAX + 8];

	expect_good("process", "\"/bin/sh\"");
	expect_good("process", "\"/usr/lib/x86_64-linux-gnu/libc.so.6\"");
	expect_good("process", "\"/opt/app-1.2/bin/g++\"");
	expect_bad("process", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_bad("process", bad[i]);
	}
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '"';
	longpath[1] = '/';
	longpath[TEMPLATE_PATH_MAX + 2] = '"';
	longpath[TEMPLATE_PATH_MAX + 3] = '\0';
	expect_bad("process", longpath);
	longpath[TEMPLATE_PATH_MAX + 1] = '"';
	longpath[TEMPLATE_PATH_MAX + 2] = '\0';
	expect_good("process", longpath);
}

static void
test_template_process_must_exist_only_when_asked(void **state)
{
	assert_int_equal(template_process_check("/bin/sh"), 0);
	assert_int_equal(template_process_check("/nonexistent/probed"), -1);
	assert_int_equal(template_process_check("/etc/passwd"), -1);
	assert_int_equal(template_process_check("/usr/bin"), -1);
	assert_true(validate(with_field("process", "\"/bin/sh\""),
	                     TEMPLATE_CHECK_PROCESS, "process"));
	assert_false(validate(with_field("process", "\"/nonexistent/x\""),
	                      TEMPLATE_CHECK_PROCESS, "process"));
	assert_false(validate(with_field("process", "\"/etc/passwd\""),
	                      TEMPLATE_CHECK_PROCESS, "process"));
	assert_true(validate(with_field("process", "\"/nonexistent/x\""), 0,
	                     "process"));
}

static void
test_template_functions_are_symbol_names(void **state)
{
	static const char *const good[] = {"xmalloc",
	                                   "_start",
	                                   "_ZN3foo3barEv",
	                                   "ns::cls::method",
	                                   "foo.cold",
	                                   "foo.isra.0",
	                                   "x*",
	                                   "*alloc*",
	                                   "std::vector*",
	                                   "a1_b2"};
	static const char *const bad[] = {"f; system(\\\"id\\\")",
	                                  "f()",
	                                  "a b",
	                                  "a\\\"b",
	                                  "a'b",
	                                  "{",
	                                  "}",
	                                  "a\\nb",
	                                  "",
	                                  "1abc",
	                                  "::a",
	                                  "a::",
	                                  "a:::b",
	                                  "a:b",
	                                  "a..b",
	                                  ".a",
	                                  "a.",
	                                  "a-b",
	                                  "a/b",
	                                  "a$",
	                                  "a\\u0000b",
	                                  "a,b",
	                                  "uprobe:/bin/sh:f"};
	char buf[TEMPLATE_SYMBOL_MAX + 32];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "[\"%s\"]", good[i]);
		expect_good("functions", buf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "[\"ok\", \"%s\"]", bad[i]);
		expect_bad("functions", buf);
	}
	expect_bad("functions", NULL);
	expect_bad("functions", "[]");
	expect_bad("functions", "\"xmalloc\"");
	expect_bad("functions", "[1]");
	expect_bad("functions", "[[\"xmalloc\"]]");
	buf[0] = '[';
	buf[1] = '"';
	memset(buf + 2, 'a', TEMPLATE_SYMBOL_MAX + 1);
	strcpy(buf + 3 + TEMPLATE_SYMBOL_MAX, "\"]");
	expect_bad("functions", buf);
	strcpy(buf + 2 + TEMPLATE_SYMBOL_MAX, "\"]");
	expect_good("functions", buf);
}

static void
test_template_functions_are_bounded_and_deduplicated(void **state)
{
	json_t *t = with_field("functions", NULL);
	json_t *arr = json_array();
	struct template_report rep;
	json_t *out;
	char name[32];
	int fails, warns;

	for (int i = 0; i <= TEMPLATE_FUNCS_MAX; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		json_array_append_new(arr, json_string(name));
	}
	json_object_set_new(t, "functions", arr);
	assert_false(validate(t, 0, "functions"));

	t = with_field("functions", "[\"f\", \"g\", \"f\", \"*\"]");
	out = template_validate(t, 0, &rep);
	assert_non_null(out);
	assert_int_equal(json_array_size(json_object_get(out, "functions")), 3);
	template_report_count(&rep, &fails, &warns);
	assert_int_equal(fails, 0);
	assert_int_equal(warns, 2); /* the duplicate, the catch-all "*" */
	json_decref(out);
	json_decref(t);
	template_report_clear(&rep);
}

static void
test_template_funtions_alias_is_accepted_and_reported(void **state)
{
	json_t *t;

	t = with_field("functions", NULL);
	json_object_set_new(t, "funtions", json_pack("[s]", "xmalloc"));
	assert_true(validate(t, 0, "funtions"));

	t = with_field("functions", NULL);
	json_object_set_new(t, "funtions", json_pack("[s]", "f; id"));
	assert_false(validate(t, 0, "funtions"));

	t = with_field("funtions", "[\"xmalloc\", \"xfree\"]");
	assert_true(validate(t, 0, "funtions"));

	t = with_field("funtions", "[\"other\"]");
	assert_false(validate(t, 0, "funtions"));
}

static void
test_template_environment_is_an_allow_list_of_pairs(void **state)
{
	json_t *t;

	t = with_field("environment", "[]");
	json_object_set_new(t, "value", json_array());
	assert_true(validate(t, 0, "environment"));
	assert_true(validate(with_field("environment", NULL), 0, "value") == 0);
	expect_bad("environment", "[\"LD_PRELOAD\"]");
	expect_bad("environment", "[\"PATH\"]");
	expect_bad("environment", "[\"GLIBC_TUNABLES\"]");
	expect_bad("environment", "[\"FOO\"]");
	expect_bad("environment", "[\"A=B\"]");
	expect_bad("environment", "[\"BPFTRACE_STRLEN=1\"]");
	expect_bad("environment", "[\"BPFTRACE STRLEN\"]");
	expect_bad("environment", "[\"1A\"]");
	expect_bad("environment", "[\"\"]");
	expect_bad("environment", "[5]");
	expect_bad("environment", "\"BPFTRACE_STRLEN\"");
	/* One name, two values (and the reverse): both fields are bad. */
	expect_bad("value", "[\"64\", \"65\"]");
	expect_bad("environment",
	           "[\"BPFTRACE_STRLEN\", \"BPFTRACE_LOG_SIZE\"]");

	expect_good("value", "[\"200\"]");
	expect_good("value", "[\"PER_PID\"]");
	expect_bad("value", "[\"1\\n2\"]");
	expect_bad("value", "[\"1\\u00002\"]");
	expect_bad("value", "[\"a b\"]");
	expect_bad("value", "[\"$(id)\"]");
	expect_bad("value", "[\"`id`\"]");
	expect_bad("value", "[\"x;id\"]");
	expect_bad("value", "[64]");
	expect_bad("value", "[\"1111111111111111111111111111111111111111"
	                    "11111111111111111111111111111\"]");

	/* Nothing is allowed for stap: each SYSTEMTAP_* can load code. */
	t = with_field("traceType", "\"STAP\"");
	json_object_set_new(t, "options", json_array());
	assert_false(validate(t, 0, "environment"));
	t = with_field("traceType", "\"STAP\"");
	json_object_set_new(t, "environment",
	                    json_pack("[s]", "SYSTEMTAP_STAPIO"));
	json_object_set_new(t, "value", json_pack("[s]", "x"));
	json_object_set_new(t, "options", json_array());
	assert_false(validate(t, 0, "environment"));
	t = with_field("traceType", NULL);
	assert_false(validate(t, 0, "environment"));
}

static void
test_template_options_are_an_allow_list_per_tool(void **state)
{
	static const char *const bpf_good[] = {
	    "[]", "[\"-q\"]", "[\"-k\", \"-kk\", \"-v\", \"--no-warnings\"]",
	    "[\"-B\", \"line\"]", "[\"-B\", \"none\", \"-p\", \"4242\"]"};
	static const char *const bpf_bad[] = {
	    "[\"--unsafe\"]",
	    "[\"-c\", \"/bin/id\"]",
	    "[\"-o\", \"/etc/passwd\"]",
	    "[\"-e\", \"BEGIN{system(\\\"id\\\")}\"]",
	    "[\"-I\", \"/tmp\"]",
	    "[\"-f\", \"json\"]",
	    "[\"-B\"]",
	    "[\"-B\", \"always\"]",
	    "[\"-p\"]",
	    "[\"-p\", \"0\"]",
	    "[\"-p\", \"12a\"]",
	    "[\"-p\", \"-1\"]",
	    "[\"-qv\"]",
	    "[\"-q \"]",
	    "[\"-q;id\"]",
	    "[1]",
	    "\"-q\"",
	    "[\"-g\"]",
	    "[\"--include\", \"x.h\"]"};
	json_t *t;

	for (size_t i = 0; i < sizeof(bpf_good) / sizeof(bpf_good[0]); i++) {
		expect_good("options", bpf_good[i]);
	}
	for (size_t i = 0; i < sizeof(bpf_bad) / sizeof(bpf_bad[0]); i++) {
		expect_bad("options", bpf_bad[i]);
	}
	t = with_field("options", "[\"-q\", \"-q\", \"-q\", \"-q\", \"-q\","
	                          " \"-q\", \"-q\", \"-q\", \"-q\", \"-q\","
	                          " \"-q\", \"-q\", \"-q\", \"-q\", \"-q\","
	                          " \"-q\", \"-q\"]");
	assert_false(validate(t, 0, "options"));
}

static void
test_template_stap_options_refuse_guru_mode(void **state)
{
	validate_stap_options("[\"-v\", \"-w\", \"-t\", \"--skip-badvars\"]",
	                      1);
	validate_stap_options("[\"-vvv\", \"-W\", \"-u\"]", 1);
	validate_stap_options("[\"-s\", \"16\", \"-x\", \"42\"]", 1);
	validate_stap_options("[\"-g\"]", 0);
	validate_stap_options("[\"-c\", \"id\"]", 0);
	validate_stap_options("[\"-e\", \"probe begin {}\"]", 0);
	validate_stap_options("[\"-DMAXACTION=1\"]", 0);
	validate_stap_options("[\"-s\", \"65\"]", 0);
	validate_stap_options("[\"-s\", \"0\"]", 0);
	validate_stap_options("[\"-q\"]", 0);
	validate_stap_options("[\"--unsafe\"]", 0);
	validate_stap_options("[\"-k\"]", 0);
}

static void
test_template_unknown_fields_are_dropped_and_reported(void **state)
{
	json_t *t = with_field("traceNo", "7");
	struct template_report rep;
	json_t *out;
	char key[16];
	int fails, warns;

	out = template_validate(t, 0, &rep);
	assert_non_null(out);
	assert_null(json_object_get(out, "traceNo"));
	template_report_count(&rep, &fails, &warns);
	assert_int_equal(warns, 1);
	json_decref(out);
	template_report_clear(&rep);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "x%d", i);
		json_object_set_new(t, key, json_true());
	}
	out = template_validate(t, 0, &rep);
	assert_non_null(out);
	assert_int_equal(json_array_size(rep.findings),
	                 TEMPLATE_UNKNOWN_REPORTED + 1);
	json_decref(out);
	template_report_clear(&rep);
	json_decref(t);
}

static void
test_template_reports_every_bad_field_once(void **state)
{
	json_t *t = json_pack("{s:s, s:[s, s], s:[s], s:[s]}", "process",
	                      "relative", "functions", "a b", "c d", "options",
	                      "--unsafe", "value", "x");
	struct template_report rep;
	int fails, warns;
	char *e;

	assert_null(template_validate(t, 0, &rep));
	e = json_dumps(rep.errors, JSON_COMPACT);
	assert_string_equal(
	    e, "[\"traceType\",\"process\",\"functions\",\"environment\","
	       "\"value\",\"options\"]");
	free(e);
	template_report_count(&rep, &fails, &warns);
	assert_int_equal(fails, 6);
	template_report_clear(&rep);
	json_decref(t);

	t = json_string("not an object");
	assert_null(template_validate(t, 0, &rep));
	assert_string_equal(json_string_value(json_array_get(rep.errors, 0)),
	                    "template");
	template_report_clear(&rep);
	json_decref(t);
}

static void
test_template_type_parse_serves_other_handlers(void **state)
{
	enum template_type ty;
	json_t *v = json_pack("[s]", "STAP");

	assert_int_equal(template_type_parse(v, &ty), 0);
	assert_int_equal(ty, TEMPLATE_STAP);
	assert_string_equal(template_type_name(ty), "STAP");
	json_decref(v);
	assert_int_equal(template_type_parse(NULL, &ty), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_template_normalises_a_readme_style_template),
	    cmocka_unit_test(test_template_trace_type_is_bpf_or_stap),
	    cmocka_unit_test(test_template_process_is_a_plain_absolute_path),
	    cmocka_unit_test(test_template_process_must_exist_only_when_asked),
	    cmocka_unit_test(test_template_functions_are_symbol_names),
	    cmocka_unit_test(
	        test_template_functions_are_bounded_and_deduplicated),
	    cmocka_unit_test(
	        test_template_funtions_alias_is_accepted_and_reported),
	    cmocka_unit_test(
	        test_template_environment_is_an_allow_list_of_pairs),
	    cmocka_unit_test(test_template_options_are_an_allow_list_per_tool),
	    cmocka_unit_test(test_template_stap_options_refuse_guru_mode),
	    cmocka_unit_test(
	        test_template_unknown_fields_are_dropped_and_reported),
	    cmocka_unit_test(test_template_reports_every_bad_field_once),
	    cmocka_unit_test(test_template_type_parse_serves_other_handlers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
