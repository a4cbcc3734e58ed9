/*
 * The lambda trace endpoint's template calls (seed 001, NOTES.md), on the
 * API listener behind apiauth:
 *
 *   GET  /heartbeat     {"status": "alive", "time": "...123456Z"}
 *   GET  /traces        [{"traceNo": N, "info": {TraceInfo}}...]
 *   PUT  /trace         TraceInfo -> {"traceNo": N, "traceType": "BPF"}
 *   POST /trace/remove  {"removeType", "removeId"} -> text "deleted"
 *
 * Each is one action (a function over a JSON args object) that both its
 * HTTP route and POST /fd1 (api/fd1.h) call, so the two can never answer
 * differently. Errors: 400 {"message": "Invalid Arguments", "errors":
 * [fields]}, 404 for a template that does not exist, 503 {"message":
 * "database unavailable"} when the db worker cannot answer.
 */
#ifndef PROBED_API_LAMBDA_H
#define PROBED_API_LAMBDA_H

#include <time.h>

#include <jansson.h>

#include "api/fd1.h"
#include "api/http.h"

struct apiauth;

/* args: an object (the body without "rd"), never NULL. */
typedef void (*lambda_action_fn)(struct apiauth *a, json_t *args,
                                 struct fd1_req *r, struct fd1_result *out);

struct lambda_action {
	const char *name; /* FD1's "a" */
	lambda_action_fn fn;
};

/* The action called name, or NULL. */
const struct lambda_action *lambda_action_find(const char *name);

/* "2019-11-20T18:49:01.123456Z" for ts into buf (at least 28 bytes). */
void lambda_iso8601(char *buf, size_t len, const struct timespec *ts);

extern const struct http_route lambda_routes[];

#endif
