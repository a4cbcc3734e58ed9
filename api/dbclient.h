/*
 * The api worker's client of the db worker: the only way HTTP handlers
 * reach PostgreSQL.
 *
 * Wire (one message per ring record, framing in shm/msg.h):
 *   request ring (api -> db, multi-producer: civetweb threads send)
 *     type DBMSG_QUERY, corr = a fresh id, payload = compact JSON
 *       {"op": OP, "args": {...}, "deadline": US}
 *     deadline: CLOCK_MONOTONIC (one clock for every process of the
 *     host) in microseconds, when the caller stops waiting. The db worker
 *     answers a request it takes after that 503 without running it: the
 *     caller was told 503 already, so a template.put must not happen.
 *   response ring (db -> api, one consumer: the api worker's libev loop)
 *     type DBMSG_RESULT, corr = the request's, payload = compact JSON
 *       {"status": HTTP-like code, "result": ..., "error": "text",
 *        "db_us": microseconds the db worker spent, PostgreSQL included}
 *
 * Ops (the db worker owns the SQL, always parameterised, sql/queries.h;
 * workers/db_ops.c). T is "BPF" or "STAP" (or a one-element array of
 * one); a template is what template_validate() returns.
 *   ping             {}                      -> {}  (is PostgreSQL up?)
 *   template.list    {}                      -> [{"traceNo", "info":
 *                                               template}...] by type, id
 *   template.put     template (traceType inside), or {"template": it}
 *                                            -> {"traceNo", "traceType"}
 *   template.get     {"traceType": T, "traceNo"}  -> template | 404
 *   template.remove  {"traceType": T, "traceNo"}  -> {} | 404
 *   run.insert       {"traceType": T, "traceNo", "path", "node"?,
 *                     "worker", "lasting", "info": template}
 *                                            -> {"id", "startedAt"};
 *                                               409 for a path in use
 *   run.update       {"path", "state"?, "exitCode"?, "bytes"?, "chunks"?}
 *                    state "running": started; "finished" | "killed" |
 *                    "failed": ended (exitCode, bytes, chunks); no state:
 *                    progress (bytes, chunks)  -> {} | 404 (no such run,
 *                                               or already in that state)
 *   run.get          {"path"}                -> run | 404
 *   run.list         {"node"?: N or null}    -> [run...] not yet ended
 * A run is {"id", "traceType", "traceNo", "path", "node", "worker",
 * "lasting", "info", "startedAt", "endedAt", "exitCode", "bytes",
 * "chunks", "state"} (times as PostgreSQL's timestamptz text).
 *
 * Statuses: 400 bad arguments (also a value PostgreSQL refuses), 404,
 * 409, 500; 503 "database unavailable" at once when the db worker has no
 * connection, or with the reason when it refused the database (a schema
 * newer than this probed); dbclient_call itself answers 503 when no
 * answer comes within the timeout (a db worker that is restarting) or the
 * request ring stays full for 100 ms.
 *
 * A late answer to a request that already timed out is dropped by corr.
 */
#ifndef PROBED_API_DBCLIENT_H
#define PROBED_API_DBCLIENT_H

#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#define DBMSG_QUERY  1
#define DBMSG_RESULT 2

#define DBCLIENT_TIMEOUT_MS 1000

struct dbclient;
struct shm_segment;

/* Timing for FD1: queryopen = sent until answered; db_us as reported. */
struct dbclient_timing {
	double queryopen; /* seconds */
	double db;        /* seconds inside the db worker */
};

/* Made on the api worker's loop; watches the response ring's eventfd. */
struct dbclient *dbclient_new(struct ev_loop *loop, struct shm_segment *shm);
void dbclient_free(struct dbclient *c);

/* From any civetweb thread: blocks until the answer or timeout_ms.
 * Returns the status (200, 404, 503...); *result (owned by the caller)
 * gets "result" on success or {"message": error} otherwise. */
int dbclient_call(struct dbclient *c, const char *op, json_t *args,
                  json_t **result, int timeout_ms, struct dbclient_timing *t);

/* The api worker's client (workers/api.c), for HTTP handlers: made before
 * the listeners start, freed after they stopped; NULL outside the api
 * worker, where dbclient_call answers 503. */
struct dbclient *api_dbclient(void);

/* The request payload {"op": op, "args": args or {}, "deadline":
 * deadline_us (left out when 0)}, compact; free() it. NULL when memory
 * runs out (logged). */
char *dbclient_frame(const char *op, json_t *args, int64_t deadline_us);

/* Answers dropped because their call had timed out already. */
uint64_t dbclient_late(struct dbclient *c);

#endif
