/*
 * FD1 request debug options (seed 004 with NOTES.md) on the API listener.
 *
 * Any JSON endpoint takes `rd`, as a query parameter (?rd=time,
 * production_ready) or as a member of its JSON body:
 *   "rd": {"time": true, "production_ready": true}
 * (a comma-separated string or an array of names are taken too). The
 * member is removed from the body before the endpoint looks at it.
 *
 * The answer then carries "debug_rd": a member of the answer when that is
 * a JSON object, an X-Debug-RD header (compact ASCII JSON) when the answer
 * is not an object (GET /traces' array, /trace/remove's plain `deleted`).
 *   "time": {"total", "dispatch", "queryopen", "queryrowbuild"}
 *     seconds, rounded to the microsecond, monotonic clock; only the
 *     parts that apply. total: begin of the request until the answer is
 *     built. dispatch: begin of the request until its handler ran; the
 *     begin is civetweb's begin_request callback (fd1_begin_request),
 *     because civetweb 1.15 keeps no accept time in mg_request_info: time
 *     a connection waited in civetweb's queue for a thread, and the time
 *     its headers took to arrive, are not seen; the authorization check
 *     is. queryopen: time spent waiting on the db worker (dbclient_call,
 *     PostgreSQL included). queryrowbuild: building the answer from what
 *     the db returned.
 *   "production_ready": {"ready": "yes" | "partial" | "no", "failcount",
 *     "warncount", "findings": [{"field", "level", "message"}]}
 *     fail: a missing or invalid required field; warn: an unknown field,
 *     the deprecated alias "funtions", an unknown rd option, a request
 *     slower than FD1_SLOW seconds. ready: "no" with any fail, "partial"
 *     with warnings only, "yes" otherwise.
 *
 * POST /fd1 takes an envelope {"a": ACTION, "rd": {...}, ARGS...} and
 * answers {"r": ACTION, "data": ANSWER, "debug_rd": {...}}, or on an error
 * {"r": ACTION, "message": ..., "errors": [...], "debug_rd": {...}} with
 * the endpoint's status. ARGS are the endpoint's body fields. Actions:
 * fd1.debug.ping, heartbeat, trace.list, trace.put, trace.remove.
 */
#ifndef PROBED_API_FD1_H
#define PROBED_API_FD1_H

#include <civetweb.h>
#include <jansson.h>

#include "api/http.h"

#define FD1_RD_TIME  0x1u
#define FD1_RD_READY 0x2u

/* A request slower than this (seconds) is a production_ready warning. */
#define FD1_SLOW 0.1

/* One request's debug state. */
struct fd1_req {
	unsigned rd;      /* FD1_RD_* asked for */
	double t_begin;   /* monotonic seconds: begin_request */
	double t_handler; /* the handler ran */
	double queryopen; /* summed over db calls */
	double rowbuild;  /* summed */
	int queried;      /* queryopen applies */
	int built;        /* queryrowbuild applies */
	json_t *findings; /* made on the first finding */
};

/* What an endpoint answers: data (a JSON value, owned) or text (static,
 * sent as text/plain), with status. An error's data is the error body. */
struct fd1_result {
	int status;
	json_t *data;
	const char *text;
};

/* civetweb's begin_request callback: remembers when this thread began the
 * request. Returns 0 (civetweb goes on). */
int fd1_begin_request(struct mg_connection *c);

/* Monotonic seconds. */

/* Starts r in a handler (the begin is this thread's last begin_request). */
void fd1_req_init(struct fd1_req *r);
void fd1_req_clear(struct fd1_req *r);

/* Adds one finding; level "fail" or "warn". */
void fd1_finding(struct fd1_req *r, const char *field, const char *level,
                 const char *message);

/* Adds a copy of every finding of an array (template_report's). */
void fd1_findings_extend(struct fd1_req *r, const json_t *findings);

/* Reads rd options from a comma-separated list s[0..len), pure. */
void fd1_rd_parse_text(struct fd1_req *r, const char *s, size_t len);

/* Reads rd options from a JSON value (object, string or array), pure. */
void fd1_rd_parse_value(struct fd1_req *r, const json_t *v);

/* ?rd= of the request, if any. */
void fd1_rd_parse_query(struct fd1_req *r, const struct mg_connection *c);

/* If body is an object holding "rd": reads it and removes it. */
void fd1_rd_take(struct fd1_req *r, json_t *body);

/*
 * Splits a POST /fd1 envelope, pure: *action is borrowed from in, *args a
 * new object (in without "a" and "rd"), rd read into r. Returns 0, or -1
 * with *err set to a 400 body (owned by the caller).
 */
int fd1_envelope_parse(const json_t *in, struct fd1_req *r, const char **action,
                       json_t **args, json_t **err);

/* The debug_rd object as of now (new reference), NULL when no rd option
 * was asked for. Adds the slow-request finding. */
json_t *fd1_debug_rd(struct fd1_req *r, double now);

/* Sends res with r's debug_rd where it belongs (see above); takes res's
 * data. Returns the status sent, or -1. */
int fd1_send(struct mg_connection *c, struct fd1_req *r,
             struct fd1_result *res);

/* The JSON text of an answer, as fd1_send writes it. */
char *fd1_dumps(const json_t *v);

extern const struct http_route fd1_routes[];

#endif
