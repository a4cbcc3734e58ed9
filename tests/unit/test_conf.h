/* Shared by the two files of tests/unit/test_conf. */
#ifndef PROBED_TEST_CONF_H
#define PROBED_TEST_CONF_H

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

void test_conf_every_key_accepts_good_values(void **state);
void test_conf_every_key_refuses_bad_values_exactly(void **state);

#endif
