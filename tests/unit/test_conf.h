/* Shared by the files of tests/unit/test_conf. */
#ifndef PROBED_TEST_CONF_H
#define PROBED_TEST_CONF_H

#include <stddef.h>

#include "conf.h"

/* Never a valid value of any non-secret key: seeing it means a leak. */
#define SEKRIT "SEKRIT-7f3a"

/* lambda-settings.yml with first on line 1 and then the seven keys,
 * leaving out any key whose line starts like skip. */
char *lambda_text(const char *first, const char *skip);
int is_lambda_key(const char *key);
struct conf *load(const char *settings, const char *lambda, char **errors);
/* The load must fail with exactly this error text. */
void assert_errors(const char *settings, const char *lambda, const char *want);

/* Runs fn with stderr (where log lines go) captured into out. */
void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t len);

void test_conf_every_key_accepts_good_values(void **state);
void test_conf_every_key_refuses_bad_values_exactly(void **state);
/* test_conf_files.c */
void test_conf_load_reads_a_directory(void **state);
void test_conf_readable_lambda_file_warns(void **state);
void test_conf_dump_json_and_key_info(void **state);
void test_conf_contrib_examples_load(void **state);

#endif
