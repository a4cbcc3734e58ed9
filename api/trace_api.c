/*
 * The trace run endpoints: see trace_api.h.
 *
 * /trace/start fetches the template from the db worker (template.get),
 * claims a slot in the run table (shm/runs.h), picks the trace worker
 * with the fewest live runs and sends it the start command on its command
 * ring (workers/trace_proto.h). The command ring takes producers from
 * every civetweb thread (RING_MP).
 *
 * Test-only: a body with a "template" object (the TraceInfo itself) skips
 * the database, so that the trace data path can be tested without
 * PostgreSQL. The template's fields are checked again by the trace
 * worker before anything runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/dbclient.h"
#include "api/runlog.h"
#include "api/trace_api.h"
#include "conf.h"
#include "log.h"
#include "shm/msg.h"
#include "shm/runs.h"
#include "shm/segment.h"
#include "trace_proto.h"
#include "worker.h"

#define TRACE_API_DB_TIMEOUT_MS 900

static struct worker *trace_api_w;

void
trace_api_init(struct worker *w)
{
	trace_api_w = w;
}

static const struct conf *
trace_api_conf(void)
{
	return trace_api_w->conf;
}

static void
trace_api_uuid(char *out, size_t len)
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		memset(b, 0, sizeof(b));
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, len,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	         "%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	         b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The worker with the fewest live runs. */
static int
trace_api_pick(const struct runs *t, int nworkers)
{
	int load[SHM_MAX_TRACE] = {0}, best = 0;

	for (unsigned i = 0; i < t->n; i++) {
		unsigned st = atomic_load(&t->slots[i].state);
		int w = atomic_load(&t->slots[i].worker);

		if ((st == RUNS_STARTING || st == RUNS_RUNNING) && w >= 0 &&
		    w < nworkers) {
			load[w]++;
		}
	}
	for (int i = 1; i < nworkers; i++) {
		if (load[i] < load[best]) {
			best = i;
		}
	}
	return best;
}

/* The template: inline (test-only) or from the db worker. */
static int
trace_api_template(struct mg_connection *c, json_t *req, json_t **tpl)
{
	const char *type = json_string_value(json_object_get(req, "traceT"));
	struct dbclient_timing timing = {0, 0};
	json_t *args, *res = NULL, *inl;
	int status;

	inl = json_object_get(req, "template");
	if (json_is_object(inl)) {
		*tpl = json_incref(inl);
		return 0;
	}
	if (json_is_array(json_object_get(req, "traceT"))) {
		type = json_string_value(
		    json_array_get(json_object_get(req, "traceT"), 0));
	}
	if (type == NULL ||
	    (strcmp(type, "BPF") != 0 && strcmp(type, "STAP") != 0)) {
		http_send_error(c, 400, "Invalid Arguments", "traceT");
		return -1;
	}
	if (!json_is_integer(json_object_get(req, "traceId"))) {
		http_send_error(c, 400, "Invalid Arguments", "traceId");
		return -1;
	}
	args = json_pack("{s:s, s:O}", "traceType", type, "traceNo",
	                 json_object_get(req, "traceId"));
	status = dbclient_call(api_dbclient(), "template.get", args, &res,
	                       TRACE_API_DB_TIMEOUT_MS, &timing);
	json_decref(args);
	if (status != 200) {
		http_send_error(c, status == 404 ? 404 : 503,
		                status == 404 ? "no such template"
		                              : "database unavailable",
		                "traceId");
		json_decref(res);
		return -1;
	}
	if (json_object_get(res, "info") != NULL) {
		*tpl = json_incref(json_object_get(res, "info"));
		json_decref(res);
	} else {
		*tpl = res;
	}
	json_object_set_new(*tpl, "traceType", json_string(type));
	return 0;
}

static int
trace_api_send(int worker, uint16_t type, uint64_t run_id, json_t *cmd)
{
	struct ring *r;
	char *text;
	int rc;

	r = shm_segment_ring(trace_api_w->shm, SHM_RING_COMMAND, worker);
	text = json_dumps(cmd, JSON_COMPACT);
	if (r == NULL || text == NULL) {
		free(text);
		return -1;
	}
	rc = msg_send(r, type, SHM_PROC_API, run_id, text,
	              (uint32_t)strlen(text));
	free(text);
	return rc;
}

static int
trace_api_start(struct mg_connection *c, void *arg)
{
	const struct conf *conf = trace_api_conf();
	struct runs *t = trace_api_w->runs;
	json_t *req = NULL, *tpl = NULL, *cmd = NULL, *lasting, *v;
	char uuid[40], path[RUNS_PATH_MAX], *info = NULL;
	const char *tool;
	uint64_t run_id;
	int worker, slot = -1, status, recorded;

	if (http_read_json(c, http_body_limit(c), &req) != 0) {
		return 400;
	}
	lasting = json_object_get(req, "lasting");
	if (!json_is_integer(lasting) || json_integer_value(lasting) <= 0) {
		status =
		    http_send_error(c, 400, "Invalid Arguments", "lasting");
		goto out;
	}
	if (json_integer_value(lasting) > conf->trace_lasting_max) {
		status = http_send_error(c, 400,
		                         "lasting exceeds "
		                         "trace.lasting-max",
		                         "lasting");
		goto out;
	}
	if (trace_api_template(c, req, &tpl) != 0) {
		status = 400;
		goto out;
	}
	trace_api_uuid(uuid, sizeof(uuid));
	snprintf(path, sizeof(path), "%s/traces/lambda-%s.trace",
	         conf->state_dir, uuid);
	info = json_dumps(tpl, JSON_COMPACT);
	worker = trace_api_pick(t, conf->trace_workers);
	slot = runs_alloc(t, worker, path, info != NULL ? info : "{}",
	                  (unsigned)json_integer_value(lasting), &run_id);
	if (slot < 0) {
		status = http_send_error(c, 503,
		                         "too many traces running "
		                         "(trace.max-running)",
		                         NULL);
		goto out;
	}
	v = json_object_get(tpl, "traceType");
	tool = json_is_array(v) ? json_string_value(json_array_get(v, 0))
	                        : json_string_value(v);
	cmd = json_deep_copy(tpl);
	json_object_set_new(cmd, "slot", json_integer(slot));
	json_object_set_new(cmd, "path", json_string(path));
	json_object_set_new(cmd, "tool",
	                    json_string(tool != NULL ? tool : "BPF"));
	json_object_set(cmd, "lasting", lasting);
	json_object_set_new(cmd, "chunk_size",
	                    json_integer((json_int_t)conf->submit_chunk_size));
	/* Recorded before the worker can see it, so that the run's own
	 * updates (running, ended) always find their row. An inline test
	 * template has no traceId and is not recorded. */
	recorded = json_is_integer(json_object_get(req, "traceId"));
	if (recorded) {
		runlog_insert(
		    tool != NULL ? tool : "BPF",
		    json_integer_value(json_object_get(req, "traceId")), path,
		    worker, json_integer_value(lasting), tpl);
	}
	if (trace_api_send(worker, TRACE_CMD_START, run_id, cmd) != 0) {
		log_err("trace %s: command ring of trace/%d is full", path,
		        worker);
		if (recorded) {
			runlog_abort(path);
		}
		runs_free(t, slot);
		status = http_send_error(c, 503, "trace worker busy", NULL);
		goto out;
	}
	json_decref(cmd);
	cmd = json_pack("{s:I, s:s}", "thread", (json_int_t)run_id, "filePath",
	                path);
	status = http_send_json(c, 200, cmd);
out:
	free(info);
	json_decref(cmd);
	json_decref(tpl);
	json_decref(req);
	return status;
}

static json_t *
trace_api_item(const struct runs_view *v)
{
	json_t *info = json_loads(v->info, 0, NULL);

	return json_pack("{s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i, "
	                 "s:i, s:b}",
	                 "info", info != NULL ? info : json_object(), "path",
	                 v->path, "state", runs_state_name(v->state), "started",
	                 (json_int_t)v->started, "lasting",
	                 (json_int_t)v->lasting, "events",
	                 (json_int_t)v->events, "bytes", (json_int_t)v->bytes,
	                 "chunks_sent", (json_int_t)v->chunks_sent,
	                 "chunks_acked", (json_int_t)v->chunks_acked, "code",
	                 v->code, "worker", v->worker, "uploaded", v->uploaded);
}

static int
trace_api_running(struct mg_connection *c, void *arg)
{
	struct runs *t = trace_api_w->runs;
	char path[RUNS_PATH_MAX];
	struct runs_view v;
	json_t *item;
	int slot, status;

	if (http_query(c, "path", path, sizeof(path)) < 0) {
		return http_send_error(c, 400, "Invalid Arguments", "path");
	}
	slot = runs_find(t, path);
	if (slot < 0 || runs_read(t, (unsigned)slot, &v) != 0) {
		return http_send_error(c, 404, "no such trace", path);
	}
	item = trace_api_item(&v);
	status = http_send_json(c, 200, item);
	json_decref(item);
	return status;
}

static int
trace_api_all(struct mg_connection *c, void *arg)
{
	struct runs *t = trace_api_w->runs;
	struct runs_view v;
	json_t *list = json_array();
	int status;

	for (unsigned i = 0; i < t->n; i++) {
		if (runs_read(t, i, &v) == 0) {
			json_array_append_new(list, trace_api_item(&v));
		}
	}
	status = http_send_json(c, 200, list);
	json_decref(list);
	return status;
}

static int
trace_api_kill(struct mg_connection *c, void *arg)
{
	struct runs *t = trace_api_w->runs;
	const char *path;
	struct runs_view v;
	json_t *req = NULL, *cmd;
	int slot;

	if (http_read_json(c, http_body_limit(c), &req) != 0) {
		return 400;
	}
	path = json_string_value(json_object_get(req, "killPath"));
	if (path == NULL) {
		json_decref(req);
		return http_send_error(c, 400, "Invalid Arguments", "killPath");
	}
	/* An unknown path is ignored, as the seed says. */
	slot = runs_find(t, path);
	if (slot >= 0 && runs_read(t, (unsigned)slot, &v) == 0 &&
	    (v.state == RUNS_STARTING || v.state == RUNS_RUNNING)) {
		cmd = json_pack("{s:i}", "slot", slot);
		if (trace_api_send(v.worker, TRACE_CMD_KILL, v.run_id, cmd) !=
		    0) {
			log_err("trace %s: kill not sent, command ring full",
			        path);
		}
		json_decref(cmd);
	}
	json_decref(req);
	return http_send_raw(c, 200, "text/plain", "Killed", 6, NULL, NULL);
}

const struct http_route trace_api_routes[] = {
    {"POST", "/trace/start", trace_api_start,
     "traceT, traceId, lasting. Start a trace."},
    {"GET", "/trace/running", trace_api_running,
     "path. One trace run and its progress."},
    {"GET", "/traces/running/all", trace_api_all,
     "Every trace run on this node."},
    {"POST", "/trace/kill", trace_api_kill, "killPath. Stop a trace."},
    {NULL, NULL, NULL, NULL},
};
