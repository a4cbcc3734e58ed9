#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/apiauth.h"
#include "api/dbclient.h"
#include "api/lambda.h"
#include "api/template.h"
#include "clock.h"
#include "log.h"

/* The seed's clients wait about a second; leave room for the rest of the
 * request inside that second when the db worker does not answer. */
#define LAMBDA_DB_TIMEOUT_MS 900

void
lambda_iso8601(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%06dZ",
	         (int)(ts->tv_nsec / 1000) % 1000000);
}

static void
lambda_fail(struct fd1_result *out, int status, const char *message,
            const char *error)
{
	out->status = status;
	out->data = http_error_body(message, error);
}

/* Every member of args is unknown to an action that takes none. */
static void
lambda_no_args(json_t *args, struct fd1_req *r)
{
	const char *key;
	json_t *v;

	json_object_foreach(args, key, v)
	{
		fd1_finding(r, key, "warn", "unknown field");
	}
}

/* One db call, timed for FD1. On an error *out holds the answer. */
static int
lambda_db(struct apiauth *a, const char *op, json_t *args, json_t **result,
          struct fd1_req *r, struct fd1_result *out)
{
	struct dbclient_timing t = {0, 0};
	const char *msg;
	int status;

	/* NULL outside the api worker: dbclient_call answers 503. */
	status = dbclient_call(api_dbclient(), op, args, result,
	                       LAMBDA_DB_TIMEOUT_MS, &t);
	r->queryopen += t.queryopen;
	r->queried = 1;
	if (status >= 200 && status < 300) {
		return status;
	}
	msg = json_string_value(json_object_get(*result, "message"));
	if (status == 503 || msg == NULL) {
		msg = status == 503 ? "database unavailable"
		                    : http_reason(status);
	}
	lambda_fail(out, status, msg, NULL);
	json_decref(*result);
	*result = NULL;
	return status;
}

static void
lambda_heartbeat(struct apiauth *a, json_t *args, struct fd1_req *r,
                 struct fd1_result *out)
{
	struct timespec ts;
	char when[40];
	double t0 = clock_mono();

	lambda_no_args(args, r);
	clock_gettime(CLOCK_REALTIME, &ts);
	lambda_iso8601(when, sizeof(when), &ts);
	out->status = 200;
	out->data = json_pack("{s:s, s:s}", "status", "alive", "time", when);
	r->rowbuild += clock_mono() - t0;
	r->built = 1;
}

/* A db row as the seed's item {"traceNo": N, "info": {...}}: the row's
 * traceNo (or id) moves out of it, the rest is the info. */
static json_t *
lambda_list_item(json_t *row)
{
	json_t *no, *info;

	if (json_object_get(row, "info") != NULL) {
		return json_incref(row);
	}
	no = json_object_get(row, "traceNo");
	if (no == NULL) {
		no = json_object_get(row, "id");
	}
	info = json_copy(row);
	if (info == NULL) {
		return NULL;
	}
	json_object_del(info, "traceNo");
	json_object_del(info, "id");
	return json_pack("{s:O?, s:o}", "traceNo", no, "info", info);
}

static void
lambda_trace_list(struct apiauth *a, json_t *args, struct fd1_req *r,
                  struct fd1_result *out)
{
	json_t *rows, *list, *row;
	double t0;
	size_t i;

	lambda_no_args(args, r);
	if (lambda_db(a, "template.list", args, &rows, r, out) >= 300) {
		return;
	}
	t0 = clock_mono();
	list = json_array();
	json_array_foreach(rows, i, row)
	{
		if (list != NULL &&
		    json_array_append_new(list, lambda_list_item(row)) == -1) {
			json_decref(list);
			list = NULL;
		}
	}
	json_decref(rows);
	r->rowbuild += clock_mono() - t0;
	r->built = 1;
	if (list == NULL) {
		log_err("json_array_append(/traces) failed: out of memory");
		lambda_fail(out, 500, http_reason(500), NULL);
		return;
	}
	out->status = 200;
	out->data = list;
}

static void
lambda_trace_put(struct apiauth *a, json_t *args, struct fd1_req *r,
                 struct fd1_result *out)
{
	struct template_report rep;
	json_t *tmpl, *res;
	double t0;

	tmpl = template_validate(args, TEMPLATE_CHECK_PROCESS, &rep);
	fd1_findings_extend(r, rep.findings);
	if (tmpl == NULL) {
		if (rep.errors != NULL && json_array_size(rep.errors) > 0) {
			out->status = 400;
			out->data = json_pack("{s:s, s:O}", "message",
			                      "Invalid Arguments", "errors",
			                      rep.errors);
		} else {
			lambda_fail(out, 500, http_reason(500), NULL);
		}
		template_report_clear(&rep);
		return;
	}
	template_report_clear(&rep);
	if (lambda_db(a, "template.put", tmpl, &res, r, out) >= 300) {
		json_decref(tmpl);
		return;
	}
	t0 = clock_mono();
	out->status = 200;
	out->data =
	    json_pack("{s:O?, s:O}", "traceNo", json_object_get(res, "traceNo"),
	              "traceType", json_object_get(tmpl, "traceType"));
	r->rowbuild += clock_mono() - t0;
	r->built = 1;
	json_decref(res);
	json_decref(tmpl);
}

/* {"removeType", "removeId"}: the template's (type, id). */
static json_t *
lambda_remove_args(json_t *args, struct fd1_req *r, json_t **errors)
{
	enum template_type type = TEMPLATE_BPF;
	json_t *t = json_object_get(args, "removeType");
	json_t *id = json_object_get(args, "removeId");
	const char *key;
	json_t *v;
	int bad = 0;

	json_object_foreach(args, key, v)
	{
		if (strcmp(key, "removeType") != 0 &&
		    strcmp(key, "removeId") != 0) {
			fd1_finding(r, key, "warn", "unknown field");
		}
	}
	*errors = json_array();
	if (t == NULL || template_type_parse(t, &type) == -1) {
		fd1_finding(r, "removeType", "fail",
		            t == NULL ? "required" : "must be BPF or STAP");
		json_array_append_new(*errors, json_string("removeType"));
		bad = 1;
	}
	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) > INT32_MAX) {
		fd1_finding(r, "removeId", "fail",
		            id == NULL ? "required"
		                       : "must be a positive integer");
		json_array_append_new(*errors, json_string("removeId"));
		bad = 1;
	}
	if (bad) {
		return NULL;
	}
	return json_pack("{s:s, s:I}", "traceType", template_type_name(type),
	                 "traceNo", json_integer_value(id));
}

static void
lambda_trace_remove(struct apiauth *a, json_t *args, struct fd1_req *r,
                    struct fd1_result *out)
{
	json_t *q, *res, *errors = NULL;
	int status;

	q = lambda_remove_args(args, r, &errors);
	if (q == NULL) {
		out->status = 400;
		out->data = json_pack("{s:s, s:o}", "message",
		                      "Invalid Arguments", "errors", errors);
		return;
	}
	json_decref(errors);
	status = lambda_db(a, "template.remove", q, &res, r, out);
	json_decref(q);
	if (status == 404) {
		json_decref(out->data);
		lambda_fail(out, 404, "no such template", "removeId");
		return;
	}
	if (status >= 300) {
		return;
	}
	json_decref(res);
	out->status = 200;
	out->text = "deleted";
}

static const struct lambda_action lambda_actions[] = {
    {"heartbeat", lambda_heartbeat},
    {"trace.list", lambda_trace_list},
    {"trace.put", lambda_trace_put},
    {"trace.remove", lambda_trace_remove},
    {NULL, NULL},
};

const struct lambda_action *
lambda_action_find(const char *name)
{
	for (const struct lambda_action *a = lambda_actions; a->name != NULL;
	     a++) {
		if (strcmp(a->name, name) == 0) {
			return a;
		}
	}
	return NULL;
}

/* The HTTP side of an action: rd from the query and the body, the body
 * (when the call takes one) as args, the answer with its debug_rd. */
static int
lambda_serve(struct mg_connection *c, void *arg, lambda_action_fn fn,
             int takes_body)
{
	struct fd1_result out = {0, NULL, NULL};
	json_t *body = NULL;
	struct fd1_req r;
	int rc;

	fd1_req_init(&r);
	if (takes_body) {
		if (http_read_json(c, http_body_limit(c), &body) == -1) {
			/* Answered already (415, 413 or 400). */
			fd1_req_clear(&r);
			return 400;
		}
		fd1_rd_take(&r, body);
	} else {
		body = json_object();
	}
	fd1_rd_parse_query(&r, c);
	if (body == NULL) {
		log_err("json_object(args) failed: out of memory");
		lambda_fail(&out, 500, http_reason(500), NULL);
	} else {
		fn(arg, body, &r, &out);
	}
	rc = fd1_send(c, &r, &out);
	json_decref(body);
	fd1_req_clear(&r);
	return rc > 0 ? rc : 500;
}

static int
lambda_get_heartbeat(struct mg_connection *c, void *arg)
{
	return lambda_serve(c, arg, lambda_heartbeat, 0);
}

static int
lambda_get_traces(struct mg_connection *c, void *arg)
{
	return lambda_serve(c, arg, lambda_trace_list, 0);
}

static int
lambda_put_trace(struct mg_connection *c, void *arg)
{
	return lambda_serve(c, arg, lambda_trace_put, 1);
}

static int
lambda_post_remove(struct mg_connection *c, void *arg)
{
	return lambda_serve(c, arg, lambda_trace_remove, 1);
}

const struct http_route lambda_routes[] = {
    {"GET", "/heartbeat", lambda_get_heartbeat, "Is the endpoint alive."},
    {"GET", "/traces", lambda_get_traces, "Every stored trace template."},
    {"PUT", "/trace", lambda_put_trace, "TraceInfo. Store a template."},
    {"POST", "/trace/remove", lambda_post_remove,
     "removeType, removeId. Remove a template."},
    {NULL, NULL, NULL, NULL},
};
