/*
 * tests/unit/test_conf, the file half: a config directory read from disk
 * (and its errors), the permission warning on lambda-settings.yml, the
 * JSON dump and key descriptions, and the example files in contrib/
 * loading without a warning. The text-level tests are in test_conf.c.
 */
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

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
}

void
test_conf_load_reads_a_directory(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", rel[600], want[600], cwd[512];
	char *errors;
	struct conf *c;

	assert_non_null(mkdtemp(dir));
	write_file(dir, "settings.yml", "database:\n  os-user: root\n");
	c = conf_load(dir, &errors);
	assert_null(c);
	snprintf(
	    want, sizeof(want),
	    "%s/lambda-settings.yml: cannot open: No such file or directory",
	    dir);
	assert_string_equal(errors, want);
	free(errors);

	write_file(dir, "lambda-settings.yml", lambda_text(NULL, NULL));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/tmp"), 0);
	snprintf(rel, sizeof(rel), "./%s", dir + 5);
	c = conf_load(rel, &errors);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(c);
	assert_null(errors);
	assert_string_equal(c->dir, dir);
	conf_free(c);

	write_file(dir, "settings.yml", "user: no-such-user-zq\n");
	c = conf_load(dir, &errors);
	assert_null(c);
	assert_string_equal(errors,
	                    "settings.yml:1: user: expected an existing "
	                    "user, got \"no-such-user-zq\"");
	free(errors);

	snprintf(want, sizeof(want), "%s/settings.yml", dir);
	unlink(want);
	snprintf(want, sizeof(want), "%s/lambda-settings.yml", dir);
	unlink(want);
	rmdir(dir);
	c = conf_load(dir, &errors);
	assert_null(c);
	snprintf(
	    want, sizeof(want),
	    "%s: cannot open the config directory: No such file or directory",
	    dir);
	assert_string_equal(errors, want);
	free(errors);
}

static void
load_dir(void *arg)
{
	char *errors;
	struct conf *c = conf_load(arg, &errors);

	assert_non_null(c);
	conf_free(c);
}

void
test_conf_readable_lambda_file_warns(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[600], out[1024], want[700];

	assert_non_null(mkdtemp(dir));
	write_file(dir, "settings.yml", "database:\n  os-user: root\n");
	write_file(dir, "lambda-settings.yml", lambda_text(NULL, NULL));
	capture_stderr(load_dir, dir, out, sizeof(out));
	assert_string_equal(out, "");
	snprintf(path, sizeof(path), "%s/lambda-settings.yml", dir);
	assert_int_equal(chmod(path, 0640), 0);
	capture_stderr(load_dir, dir, out, sizeof(out));
	snprintf(
	    want, sizeof(want),
	    "warning: %s: mode 0640 lets other users read its secrets; chmod "
	    "600 it\n",
	    path);
	assert_string_equal(out, want);
	unlink(path);
	snprintf(path, sizeof(path), "%s/settings.yml", dir);
	unlink(path);
	rmdir(dir);
}

void
test_conf_dump_json_and_key_info(void **state)
{
	struct conf_key_info info;
	char *errors, *text;
	json_t *j;
	size_t i;
	struct conf *c = load("port: 4000\n", lambda_text(NULL, NULL), &errors);

	assert_non_null(c);
	text = conf_dump_json(c);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 4000);
	assert_string_equal(
	    json_string_value(json_object_get(j, "database.mode")), "embedded");
	assert_true(json_is_null(json_object_get(j, "dir")));
	for (i = 0; conf_key_info(i, &info) == 0; i++) {
		assert_non_null(json_object_get(j, info.name));
		assert_non_null(info.help);
		if (info.secret) {
			assert_string_equal(
			    json_string_value(json_object_get(j, info.name)),
			    "***");
		}
	}
	assert_int_equal(json_object_size(j), i + 1);
	json_decref(j);
	free(text);
	assert_null(conf_key_value(c, "no-such-key"));
	conf_free(c);
}

static char *
read_contrib(const char *name)
{
	const char *src = getenv("PROBED_SRCDIR");
	static char buf[2][16384];
	static int which;
	char path[1024];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/contrib/%s", src != NULL ? src : "..",
	         name);
	fp = fopen(path, "r");
	if (fp == NULL) {
		return NULL;
	}
	which ^= 1;
	n = fread(buf[which], 1, sizeof(buf[which]) - 1, fp);
	buf[which][n] = '\0';
	fclose(fp);
	return buf[which];
}

static void
load_examples(void *arg)
{
	const char *s = read_contrib("settings.yml");
	const char *l = read_contrib("lambda-settings.yml");
	char *errors;
	struct conf *c, *d;

	assert_non_null(s);
	assert_non_null(l);
	c = load(s, l, &errors);
	if (c == NULL) {
		print_error("%s\n", errors);
	}
	assert_non_null(c);
	/* The example shows the defaults: it must equal an empty file. */
	d = load("", l, &errors);
	assert_non_null(d);
	assert_int_equal(conf_diff(c, d), 0);
	conf_free(c);
	conf_free(d);
}

/* contrib/settings.yml and lambda-settings.yml are installed as examples:
 * they must load, without a warning, and settings.yml must show the
 * defaults. */
void
test_conf_contrib_examples_load(void **state)
{
	char out[4096];

	if (read_contrib("settings.yml") == NULL) {
		skip();
	}
	setenv("PROBED_SECRET", SEKRIT, 1);
	capture_stderr(load_examples, NULL, out, sizeof(out));
	unsetenv("PROBED_SECRET");
	assert_string_equal(out, "");
}
