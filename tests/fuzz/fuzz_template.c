/*
 * Fuzzes trace template validation. An input is the JSON body of
 * PUT /trace (NULs inside strings allowed, as a client could send them).
 *
 * Beyond "no crash": a template comes back exactly when there are no
 * errors; every error has a "fail" finding naming it; and normalising is
 * a fixed point: the normalised template validates again, without errors,
 * to an equal template (warnings such as a catch-all "*" may remain).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_template_check_report(const struct template_report *rep)
{
	size_t i, j;
	json_t *e, *f;

	json_array_foreach(rep->errors, i, e)
	{
		int found = 0;

		json_array_foreach(rep->findings, j, f)
		{
			found |= json_equal(json_object_get(f, "field"), e) &&
			         strcmp(json_string_value(
			                    json_object_get(f, "level")),
			                "fail") == 0;
		}
		if (!found) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_report rep, again_rep;
	json_t *in, *out, *again;

	in = json_loadb((const char *)data, size,
	                JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (in == NULL) {
		return 0;
	}
	out = template_validate(in, 0, &rep);
	if ((out != NULL) != (json_array_size(rep.errors) == 0)) {
		abort();
	}
	fuzz_template_check_report(&rep);
	if (out != NULL) {
		again = template_validate(out, 0, &again_rep);
		if (again == NULL || !json_equal(again, out) ||
		    json_array_size(again_rep.errors) != 0) {
			abort();
		}
		json_decref(again);
		template_report_clear(&again_rep);
	}
	json_decref(out);
	json_decref(in);
	template_report_clear(&rep);
	return 0;
}
