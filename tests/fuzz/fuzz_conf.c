/*
 * Fuzzes the config loader. An input is settings.yml, a form feed (0x0c),
 * then lambda-settings.yml; without a form feed it is all settings.yml.
 * A form feed keeps the seeds readable in an editor and is not valid YAML
 * outside quotes anyway.
 *
 * Beyond "no crash", every input must give either a config or an error
 * text, never both; every error line must name its file; a config must
 * equal itself, load the same way twice and dump as JSON.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CONF_SEP 0x0c

static void
fuzz_conf_check_errors(const char *errors)
{
	const char *line = errors;

	if (errors == NULL || errors[0] == '\0') {
		abort();
	}
	while (line != NULL) {
		if (strncmp(line, "settings.yml:", 13) != 0 &&
		    strncmp(line, "lambda-settings.yml:", 20) != 0 &&
		    strncmp(line, "... and ", 8) != 0 &&
		    strncmp(line, "out of memory", 13) != 0) {
			abort();
		}
		line = strchr(line, '\n');
		if (line != NULL) {
			line++;
		}
	}
}

static void
fuzz_conf_check_conf(const struct conf *c, const char *s, size_t slen,
                     const char *l, size_t llen)
{
	struct conf *again;
	char *errors = NULL, *json;
	json_t *j;

	if (conf_diff(c, c) != 0) {
		abort();
	}
	again = conf_load_text(s, slen, l, llen, &errors);
	if (again == NULL || errors != NULL || conf_diff(c, again) != 0) {
		abort();
	}
	conf_free(again);
	json = conf_dump_json(c);
	j = json != NULL ? json_loads(json, 0, NULL) : NULL;
	if (j == NULL) {
		abort();
	}
	json_decref(j);
	free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sep;
	const char *lambda = NULL;
	size_t slen = size, llen = 0;
	char *errors = NULL;
	struct conf *c;

	/* Unknown-key warnings would flood the fuzzer's output. */
	log_set_level(LOG_LVL_ERROR);
	sep = memchr(text, FUZZ_CONF_SEP, size);
	if (sep != NULL) {
		slen = (size_t)(sep - text);
		lambda = sep + 1;
		llen = size - slen - 1;
	}
	c = conf_load_text(text, slen, lambda != NULL ? lambda : "", llen,
	                   &errors);
	if (c != NULL) {
		if (errors != NULL) {
			abort();
		}
		fuzz_conf_check_conf(c, text, slen, lambda, llen);
		conf_free(c);
	} else {
		fuzz_conf_check_errors(errors);
		free(errors);
	}
	return 0;
}
