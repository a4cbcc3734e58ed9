#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "conf.h"
#include "test_conf.h"

static const char *const lambda_keys[] = {
    "root-password: " SEKRIT "\n",
    "bpf-path: /usr/bin/bpftrace\n",
    "stap-path: /usr/bin/stap\n",
    "submit-chunk-size: 51200\n",
    "platform-url: https://platform.example/api\n",
    "secret: " SEKRIT "\n",
    "endpoint-uuid: 4633d686-f75d-4d1f-8415-02ce37d9e5f8\n",
};

#define NLAMBDA (sizeof(lambda_keys) / sizeof(lambda_keys[0]))

/* lambda-settings.yml with first on line 1 and the seven keys after it,
 * leaving out any key whose line starts like skip. */
char *
lambda_text(const char *first, const char *skip)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "%s", first != NULL ? first : "");
	for (size_t i = 0; i < NLAMBDA; i++) {
		if (skip != NULL &&
		    strncmp(lambda_keys[i], skip, strlen(skip)) == 0) {
			continue;
		}
		strncat(buf, lambda_keys[i], sizeof(buf) - strlen(buf) - 1);
	}
	return buf;
}

int
is_lambda_key(const char *key)
{
	for (size_t i = 0; i < NLAMBDA; i++) {
		size_t n = strlen(key);

		if (strncmp(lambda_keys[i], key, n) == 0 &&
		    lambda_keys[i][n] == ':') {
			return 1;
		}
	}
	return 0;
}

struct conf *
load(const char *settings, const char *lambda, char **errors)
{
	*errors = NULL;
	return conf_load_text(settings, strlen(settings), lambda,
	                      strlen(lambda), errors);
}

/* The load must fail with exactly this error text. */
void
assert_errors(const char *settings, const char *lambda, const char *want)
{
	char *errors;
	struct conf *c = load(settings, lambda, &errors);

	if (c != NULL || errors == NULL || strcmp(errors, want) != 0) {
		print_error("settings.yml:\n%s\nwant: %s\ngot:  %s\n", settings,
		            want, errors != NULL ? errors : "(no error)");
	}
	assert_null(c);
	assert_non_null(errors);
	assert_string_equal(errors, want);
	assert_null(strstr(errors, SEKRIT));
	free(errors);
}

/* Runs fn with stderr (where log lines go) captured into out. */
void
capture_stderr(void (*fn)(void *), void *arg, char *out, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn(arg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void
test_conf_empty_settings_take_defaults(void **state)
{
	char *errors;
	struct conf *c = load("", lambda_text(NULL, NULL), &errors);

	assert_non_null(c);
	assert_null(errors);
	assert_null(c->dir);
	assert_string_equal(c->host, "0.0.0.0");
	assert_int_equal(c->port, 3000);
	assert_string_equal(c->admin_host, "127.0.0.1");
	assert_int_equal(c->admin_port, 3001);
	assert_string_equal(c->state_dir, "/var/lib/probed");
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->trace_workers, 2);
	assert_true(c->stop_timeout == 5.0);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->max_body, 1024 * 1024);
	assert_string_equal(c->cluster_name, "probed");
	assert_int_equal(c->db.mode, CONF_DB_EMBEDDED);
	assert_string_equal(c->db.host, "");
	assert_int_equal(c->db.port, 5432);
	assert_string_equal(c->db.user, "probed");
	assert_string_equal(c->db.password, "");
	assert_string_equal(c->db.name, "probed");
	assert_int_equal(c->db.poolsize, 4);
	assert_string_equal(c->db.os_user, "postgres");
	assert_string_equal(c->db.bin_dir, PROBED_PG_BINDIR);
	assert_int_equal(c->auth_argon2_max_m, 65536);
	assert_int_equal(c->auth_argon2_max_t, 16);
	assert_int_equal(c->auth_argon2_max_p, 8);
	assert_int_equal(c->trace_lasting_max, 86400);
	assert_int_equal(c->ring_chunk_size, 4 * 1024 * 1024);
	assert_string_equal(c->root_password, SEKRIT);
	assert_string_equal(c->bpf_path, "/usr/bin/bpftrace");
	assert_string_equal(c->stap_path, "/usr/bin/stap");
	assert_int_equal(c->submit_chunk_size, 51200);
	assert_string_equal(c->platform_url, "https://platform.example/api");
	assert_string_equal(c->secret, SEKRIT);
	assert_string_equal(c->endpoint_uuid,
	                    "4633d686-f75d-4d1f-8415-02ce37d9e5f8");
	conf_free(c);
}

static void
test_conf_all_errors_are_collected(void **state)
{
	assert_errors(
	    "port: 80a\nhost: \"\"\ndatabase:\n  poolsize: 0\n",
	    lambda_text("secret: [x]\n", "secret"),
	    "settings.yml:1: port: expected an integer 1..65535, got \"80a\"\n"
	    "settings.yml:2: host: expected a host name or IP address, got "
	    "\"\"\n"
	    "settings.yml:4: database.poolsize: expected an integer 1..64, got "
	    "\"0\"\n"
	    "lambda-settings.yml:1: secret: expected a non-empty string, got a "
	    "list");
}

static void
test_conf_missing_lambda_keys_are_named(void **state)
{
	assert_errors(
	    "", lambda_text(NULL, "platform-url"),
	    "lambda-settings.yml: platform-url: required key is missing");
	assert_errors(
	    "", "",
	    "lambda-settings.yml: root-password: required key is missing\n"
	    "lambda-settings.yml: bpf-path: required key is missing\n"
	    "lambda-settings.yml: stap-path: required key is missing\n"
	    "lambda-settings.yml: submit-chunk-size: required key is missing\n"
	    "lambda-settings.yml: platform-url: required key is missing\n"
	    "lambda-settings.yml: secret: required key is missing\n"
	    "lambda-settings.yml: endpoint-uuid: required key is missing");
}

static void
test_conf_env_values_follow_yesod(void **state)
{
	char *errors;
	struct conf *c;

	setenv("PROBED_T_PORT", "4000", 1);
	unsetenv("PROBED_T_UNSET");
	c = load("port: _env:PROBED_T_PORT:3500\n"
	         "admin-port: _env:PROBED_T_UNSET:3501\n"
	         "state-dir: _env:PROBED_T_UNSET:/a:b\n",
	         lambda_text(NULL, NULL), &errors);
	assert_non_null(c);
	assert_int_equal(c->port, 4000);
	assert_int_equal(c->admin_port, 3501);
	assert_string_equal(c->state_dir, "/a:b");
	conf_free(c);

	assert_errors(
	    "port: _env:PROBED_T_UNSET\n", lambda_text(NULL, NULL),
	    "settings.yml:1: port: environment variable PROBED_T_UNSET is not "
	    "set and has no default");
	setenv("PROBED_T_PORT", "80a", 1);
	assert_errors(
	    "port: _env:PROBED_T_PORT:3000\n", lambda_text(NULL, NULL),
	    "settings.yml:1: port: expected an integer 1..65535, got \"80a\" "
	    "(from $PROBED_T_PORT)");
	assert_errors("port: _env:1X:3000\n", lambda_text(NULL, NULL),
	              "settings.yml:1: port: expected _env:NAME or "
	              "_env:NAME:default, got "
	              "\"_env:1X:3000\"");
	setenv("PROBED_T_SECRET", "", 1);
	assert_errors(
	    "",
	    lambda_text("secret: _env:PROBED_T_SECRET:" SEKRIT "\n", "secret"),
	    "lambda-settings.yml:1: secret: expected a non-empty string, got "
	    "<hidden> (from $PROBED_T_SECRET)");
	unsetenv("PROBED_T_PORT");
	unsetenv("PROBED_T_SECRET");
}

static void
load_unknown(void *arg)
{
	char *errors;
	struct conf *c = load("prot: 3000\ndatabase:\n  pasword: " SEKRIT "\n"
	                      "secret: x\nzzzzzzzzzz: 1\n",
	                      lambda_text(NULL, NULL), &errors);

	*(int *)arg = c != NULL;
	conf_free(c);
	free(errors);
}

static void
test_conf_unknown_keys_warn_with_nearest_key(void **state)
{
	char out[4096];
	int ok = 0;

	capture_stderr(load_unknown, &ok, out, sizeof(out));
	assert_true(ok);
	assert_non_null(strstr(out,
	                       "warning: settings.yml:1: unknown key "
	                       "\"prot\" ignored (did you mean \"port\"?)"));
	assert_non_null(strstr(out,
	                       "settings.yml:3: unknown key "
	                       "\"database.pasword\" ignored (did you mean "
	                       "\"database.password\"?)"));
	assert_non_null(strstr(out, "settings.yml:4: unknown key \"secret\" "
	                            "ignored (it belongs in "
	                            "lambda-settings.yml)"));
	assert_non_null(strstr(out, "settings.yml:5: unknown key "
	                            "\"zzzzzzzzzz\" ignored\n"));
	assert_null(strstr(out, SEKRIT));
}

static void
load_secrets(void *arg)
{
	static const char *const settings[] = {
	    "database:\n  password: [" SEKRIT "]\n",
	    "database:\n  password: " SEKRIT "\n  password: " SEKRIT "\n",
	    "database:\n  password: _env:BAD-NAME:" SEKRIT "\n",
	    "database:\n  password: \"" SEKRIT "\\0\"\n",
	    "database: {password: " SEKRIT "\n",
	};
	static const char *const lambdas[] = {
	    "secret: _env:BAD-NAME:" SEKRIT "\n",
	    "secret: \"" SEKRIT "\\0x\"\n",
	    "root-password: " SEKRIT "\nroot-password: " SEKRIT "\n",
	    "secret: " SEKRIT "\n  bad: indent\n",
	    "secret " SEKRIT "\n",
	};
	char *errors, **all = arg;
	struct conf *c;

	for (size_t i = 0; i < 5; i++) {
		c = load(settings[i], lambda_text(NULL, NULL), &errors);
		assert_null(c);
		all[i] = errors;
		c = load("", lambda_text(lambdas[i], NULL), &errors);
		assert_null(c);
		all[5 + i] = errors;
	}
}

static void
test_conf_secrets_never_in_errors_or_logs(void **state)
{
	char out[8192], *errors[10];
	char *json, *v;
	struct conf *c;

	capture_stderr(load_secrets, errors, out, sizeof(out));
	assert_null(strstr(out, SEKRIT));
	for (int i = 0; i < 10; i++) {
		assert_non_null(errors[i]);
		assert_null(strstr(errors[i], SEKRIT));
		free(errors[i]);
	}
	c = load("database:\n  password: " SEKRIT "\n", lambda_text(NULL, NULL),
	         &json);
	assert_non_null(c);
	json = conf_dump_json(c);
	assert_non_null(json);
	assert_null(strstr(json, SEKRIT));
	assert_non_null(strstr(json, "\"secret\": \"***\""));
	free(json);
	v = conf_key_value(c, "root-password");
	assert_string_equal(v, "***");
	free(v);
	conf_free(c);
}

struct change {
	const char *settings, *lambda;
	unsigned mask;
};

static void
test_conf_diff_reports_affected_workers(void **state)
{
	static const struct change changes[] = {
	    {"", NULL, 0},
	    {"port: 3000\n", NULL, 0},
	    {"port: 3002\n", NULL, CONF_AFFECTS_API},
	    {"trace-workers: 3\n", NULL, CONF_AFFECTS_ALL},
	    {"database:\n  mode: external\n", NULL, CONF_AFFECTS_ALL},
	    {"log-level: debug\nstop-timeout: 1\n", NULL, 0},
	    {"database:\n  port: 5433\n", NULL,
	     CONF_AFFECTS_DB | CONF_AFFECTS_POSTGRES},
	    {"database:\n  poolsize: 8\n", NULL, CONF_AFFECTS_DB},
	    {"port: 1\ndatabase:\n  poolsize: 8\n", NULL,
	     CONF_AFFECTS_API | CONF_AFFECTS_DB},
	    {"", "platform-url: http://other\n", CONF_AFFECTS_UPLOADER},
	    {"", "secret: other\n", CONF_AFFECTS_API | CONF_AFFECTS_UPLOADER},
	    {"", "submit-chunk-size: 1k\n",
	     CONF_AFFECTS_TRACE | CONF_AFFECTS_UPLOADER},
	};
	char *errors;
	struct conf *base = load("", lambda_text(NULL, NULL), &errors);

	assert_non_null(base);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change *ch = &changes[i];
		const char *skip = NULL;
		char first[128] = "";
		struct conf *c;

		if (ch->lambda != NULL) {
			snprintf(first, sizeof(first), "%s", ch->lambda);
			first[strcspn(first, ":") + 1] = '\0';
			skip = first;
		}
		c = load(ch->settings,
		         lambda_text(ch->lambda, skip != NULL ? skip : NULL),
		         &errors);
		assert_non_null(c);
		assert_int_equal(conf_diff(base, c), ch->mask);
		assert_int_equal(conf_diff(c, base), ch->mask);
		conf_free(c);
	}
	assert_int_equal(conf_diff(base, NULL), ~0u);
	assert_int_equal(conf_diff(NULL, NULL), 0);
	conf_free(base);
}

static void
test_conf_yaml_syntax_errors_give_line_and_column(void **state)
{
	/* Earlier value errors of that file are dropped: they are artefacts
	 * of the syntax error ("3000 host"). */
	assert_errors(
	    "port: 3000\n  host: x\n", lambda_text(NULL, NULL),
	    "settings.yml:2:7: YAML syntax error: mapping values are not "
	    "allowed in this context");
	assert_errors(
	    "port: 80a\nhost: [x\n", lambda_text(NULL, NULL),
	    "settings.yml:3:1: YAML syntax error: did not find expected ',' or "
	    "']' (while parsing a flow sequence at line 2)");
	assert_errors(
	    "port: 3000\nhost: \xff\n", lambda_text(NULL, NULL),
	    "settings.yml:2:7: YAML syntax error: invalid leading UTF-8 octet");
	/* A broken lambda file does not also report its keys as missing. */
	assert_errors(
	    "", "secret: \"x\n",
	    "lambda-settings.yml:2:1: YAML syntax error: found unexpected end "
	    "of stream (while scanning a quoted scalar at line 1)");
}

static void
test_conf_wrong_yaml_shapes_name_the_key(void **state)
{
	const char *l = lambda_text(NULL, NULL);

	assert_errors(
	    "port: [3000]\n", l,
	    "settings.yml:1: port: expected an integer 1..65535, got a list");
	assert_errors("port: {a: 1}\n", l,
	              "settings.yml:1: port: expected an integer 1..65535, got "
	              "a mapping");
	assert_errors(
	    "port: &p 1\nadmin-port: *p\n", l,
	    "settings.yml:2: admin-port: expected an integer 1..65535, got an "
	    "alias (*name)");
	assert_errors(
	    "database: embedded\n", l,
	    "settings.yml:1: database: expected a mapping, got \"embedded\"");
	assert_errors(
	    "database:\n  - mode\n", l,
	    "settings.yml:1: database: expected a mapping, got a list");
	assert_errors("- port\n", l,
	              "settings.yml:1: expected a mapping of keys, got a list");
	assert_errors(
	    "port\n", l,
	    "settings.yml:1: expected a mapping of keys, got \"port\"");
	assert_errors("? [a]\n: b\n", l,
	              "settings.yml:1: expected a key, got a list");
	assert_errors(
	    "port: 1\n---\nport: 2\n", l,
	    "settings.yml:2: expected one YAML document, got another");
}

static void
test_conf_duplicate_keys_are_errors(void **state)
{
	const char *l = lambda_text(NULL, NULL);

	assert_errors(
	    "port: 1\nhost: x\nport: 2\n", l,
	    "settings.yml:3: port: duplicate key (first given at line 1)");
	assert_errors(
	    "database:\n  name: a\n  database: b\n", l,
	    "settings.yml:3: database.database: duplicate key (first given at "
	    "line 2)");
	assert_errors(
	    "database: {}\ncluster: {}\ndatabase: {}\n", l,
	    "settings.yml:3: database: duplicate key (first given at line 1)");
	/* The flat spelling names the same key. */
	assert_errors(
	    "database.port: 1\ndatabase:\n  port: 2\n", l,
	    "settings.yml:3: database.port: duplicate key (first given at line "
	    "1)");
}

static void
test_conf_cross_checks(void **state)
{
	assert_errors(
	    "admin-port: 3000\n", lambda_text(NULL, NULL),
	    "settings.yml:1: admin-port: expected a port other than port, got "
	    "3000");
	assert_errors("cluster:\n  heartbeat-interval: 30\n",
	              lambda_text(NULL, NULL),
	              "settings.yml: cluster.node-timeout: expected more than "
	              "cluster.heartbeat-interval (30), got 30");
	assert_errors(
	    "ring:\n  chunk-bytes: 64k\n",
	    lambda_text("submit-chunk-size: 33k\n", "submit-chunk-size"),
	    "lambda-settings.yml:1: submit-chunk-size: expected at most half "
	    "of ring.chunk-bytes (32768), got 33792");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_empty_settings_take_defaults),
	    cmocka_unit_test(test_conf_every_key_accepts_good_values),
	    cmocka_unit_test(test_conf_every_key_refuses_bad_values_exactly),
	    cmocka_unit_test(test_conf_all_errors_are_collected),
	    cmocka_unit_test(test_conf_missing_lambda_keys_are_named),
	    cmocka_unit_test(test_conf_env_values_follow_yesod),
	    cmocka_unit_test(test_conf_unknown_keys_warn_with_nearest_key),
	    cmocka_unit_test(test_conf_secrets_never_in_errors_or_logs),
	    cmocka_unit_test(test_conf_diff_reports_affected_workers),
	    cmocka_unit_test(test_conf_yaml_syntax_errors_give_line_and_column),
	    cmocka_unit_test(test_conf_wrong_yaml_shapes_name_the_key),
	    cmocka_unit_test(test_conf_duplicate_keys_are_errors),
	    cmocka_unit_test(test_conf_cross_checks),
	    cmocka_unit_test(test_conf_load_reads_a_directory),
	    cmocka_unit_test(test_conf_readable_lambda_file_warns),
	    cmocka_unit_test(test_conf_dump_json_and_key_info),
	    cmocka_unit_test(test_conf_contrib_examples_load),
	};

	log_init(NULL, LOG_LVL_INFO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
