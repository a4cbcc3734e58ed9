#include "config.h"

#include "api/admin.h"
#include "log.h"

static int
admin_version(struct mg_connection *c, void *arg)
{
	json_t *body;
	int rc;

	body = json_pack("{s:s, s:s}", "Version", PACKAGE_VERSION, "GitCommit",
	                 PROBED_GIT_COMMIT);
	if (body == NULL) {
		log_err("json_pack(/version) failed");
		return -1;
	}
	rc = http_send_json(c, 200, body);
	json_decref(body);
	return rc;
}

/* Pegasus "/": {"/path": "params. help"} for every call, sorted by path
 * (jansson keeps insertion order, and the table is kept sorted). */
static int
admin_index(struct mg_connection *c, void *arg)
{
	json_t *body = json_object();
	int rc;

	if (body == NULL) {
		log_err("json_object(/) failed");
		return -1;
	}
	for (const struct http_route *r = admin_routes; r->path != NULL; r++) {
		if (json_object_set_new(body, r->path, json_string(r->help)) ==
		    -1) {
			log_err("json_object_set_new(/) failed");
			json_decref(body);
			return -1;
		}
	}
	rc = http_send_json(c, 200, body);
	json_decref(body);
	return rc;
}

/* Sorted by path: "/" prints them in this order. */
const struct http_route admin_routes[] = {
    {"GET", "/", admin_index, "List all supported calls."},
    {"GET", "/version", admin_version,
     "Query the version and git commit of this build."},
    {NULL, NULL, NULL, NULL},
};
