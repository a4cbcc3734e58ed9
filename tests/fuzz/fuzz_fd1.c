/*
 * Fuzzes the FD1 envelope and rd parsers (api/fd1.c). An input is the
 * body of POST /fd1; the same bytes are also read as a ?rd= list.
 *
 * Beyond "no crash": a parsed envelope never keeps "a" or "rd" in its
 * args; an error comes with a 400 body; debug_rd always serialises, its
 * counts match its findings, and ready follows them (no with a fail,
 * partial with warnings only, yes otherwise).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/fd1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_fd1_check_debug(struct fd1_req *r)
{
	json_t *d, *pr;
	const char *ready;
	char *text;
	long fails, warns;

	r->rd = FD1_RD_TIME | FD1_RD_READY;
	/* 1 s after the begin: the slow finding is added too. */
	d = fd1_debug_rd(r, r->t_begin + 1.0);
	if (d == NULL) {
		abort();
	}
	text = fd1_dumps(d);
	if (text == NULL) {
		abort();
	}
	free(text);
	pr = json_object_get(d, "production_ready");
	fails = (long)json_integer_value(json_object_get(pr, "failcount"));
	warns = (long)json_integer_value(json_object_get(pr, "warncount"));
	ready = json_string_value(json_object_get(pr, "ready"));
	if (ready == NULL || warns < 1 ||
	    (size_t)(fails + warns) !=
	        json_array_size(json_object_get(pr, "findings"))) {
		abort();
	}
	if (strcmp(ready, fails > 0 ? "no" : "partial") != 0) {
		abort();
	}
	json_decref(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *action;
	json_t *in, *args, *err;
	struct fd1_req r;

	fd1_req_init(&r);
	fd1_rd_parse_text(&r, (const char *)data, size);
	in = json_loadb((const char *)data, size,
	                JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (in != NULL) {
		if (fd1_envelope_parse(in, &r, &action, &args, &err) == 0) {
			if (action == NULL || err != NULL ||
			    json_object_get(args, "a") != NULL ||
			    json_object_get(args, "rd") != NULL) {
				abort();
			}
			json_decref(args);
		} else if (err == NULL || args != NULL) {
			abort();
		}
		json_decref(err);
		json_decref(in);
	}
	fuzz_fd1_check_debug(&r);
	fd1_req_clear(&r);
	return 0;
}
