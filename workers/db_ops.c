/*
 * The ops of api/dbclient.h: a request's arguments become the parameters
 * of one query of sql/queries.h, and its rows become JSON.
 *
 * Every value travels as a text parameter; nothing from a request is ever
 * pasted into SQL. The only choice made from a request is which of two
 * fixed strings to run (the BPF or the STAP table).
 *
 * Status codes: 400 bad arguments (also a value PostgreSQL rejects: a
 * CHECK, a bad number), 404 no such row, 409 a duplicate (a run's path),
 * 500 anything else PostgreSQL says.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/template.h"
#include "db_int.h"
#include "log.h"
#include "sql/queries.h"

enum db_col_kind {
	DB_INT,
	DB_TEXT,
	DB_JSON,
};

/* Column i of a row is named name in the JSON object, NULL skips it. */
struct db_col {
	const char *name;
	enum db_col_kind kind;
};

struct db_op {
	const char *name;
	/* Fills req's sql and params; 0 or 400 with err. */
	int (*prepare)(json_t *args, struct db_req *req, char *err,
	               size_t errlen);
	/* Rows -> result; an HTTP status. */
	int (*result)(struct db_req *req, PGresult *res, json_t **out);
};

static const struct db_col db_template_cols[] = {
    {"process", DB_TEXT}, {"functions", DB_JSON}, {"environment", DB_JSON},
    {"value", DB_JSON},   {"options", DB_JSON},   {NULL, DB_TEXT},
};

static const struct db_col db_run_cols[] = {
    {"id", DB_INT},       {"traceType", DB_TEXT}, {"traceNo", DB_INT},
    {"path", DB_TEXT},    {"node", DB_INT},       {"worker", DB_INT},
    {"lasting", DB_INT},  {"info", DB_JSON},      {"startedAt", DB_TEXT},
    {"endedAt", DB_TEXT}, {"exitCode", DB_INT},   {"bytes", DB_INT},
    {"chunks", DB_INT},   {"state", DB_TEXT},     {NULL, DB_TEXT},
};

static json_t *
db_ops_value(PGresult *res, int row, int col, enum db_col_kind kind)
{
	const char *v;

	if (PQgetisnull(res, row, col)) {
		return json_null();
	}
	v = PQgetvalue(res, row, col);
	switch (kind) {
	case DB_INT:
		return json_integer((json_int_t)strtoll(v, NULL, 10));
	case DB_JSON:
		return json_loads(v, JSON_DECODE_ANY, NULL);
	case DB_TEXT:
	default:
		return json_string(v);
	}
}

/* Row row from column first on, named by cols, into obj. */
static json_t *
db_ops_row(json_t *obj, PGresult *res, int row, int first,
           const struct db_col *cols)
{
	if (obj == NULL) {
		return NULL;
	}
	for (int i = 0; cols[i].name != NULL; i++) {
		json_object_set_new(
		    obj, cols[i].name,
		    db_ops_value(res, row, first + i, cols[i].kind));
	}
	return obj;
}

static int
db_ops_param_str(struct db_req *req, const char *s)
{
	char *copy = s != NULL ? strdup(s) : NULL;

	if (s != NULL && copy == NULL) {
		return -1;
	}
	req->params[req->nparams++] = copy;
	return 0;
}

static int
db_ops_param_int(struct db_req *req, json_int_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, v);
	return db_ops_param_str(req, buf);
}

/* A JSON value as a parameter: compact text; absent: def. */
static int
db_ops_param_json(struct db_req *req, json_t *v, const char *def)
{
	char *text;

	if (v == NULL) {
		return db_ops_param_str(req, def);
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		return -1;
	}
	req->params[req->nparams++] = text;
	return 0;
}

static int
db_ops_bad(char *err, size_t errlen, const char *field)
{
	snprintf(err, errlen, "bad or missing argument: %s", field);
	return 400;
}

static int
db_ops_type(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	enum template_type t;

	if (template_type_parse(json_object_get(args, "traceType"), &t) == -1) {
		return db_ops_bad(err, errlen, "traceType");
	}
	req->ttype = (int)t;
	return 0;
}

static int
db_ops_type_no(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *no = json_object_get(args, "traceNo");

	if (db_ops_type(args, req, err, errlen) != 0) {
		return 400;
	}
	if (!json_is_integer(no)) {
		return db_ops_bad(err, errlen, "traceNo");
	}
	return db_ops_param_int(req, json_integer_value(no)) == 0 ? 0 : 500;
}

static int
db_ping_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	req->sql = "SELECT 1";
	return 0;
}

static int
db_empty_result(struct db_req *req, PGresult *res, json_t **out)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
		return 404;
	}
	*out = json_object();
	return 200;
}

static int
db_tput_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *tmpl = json_object_get(args, "template");
	json_t *proc, *funcs;

	if (!json_is_object(tmpl)) {
		tmpl = args; /* the template itself, traceType inside */
	}
	if (db_ops_type(tmpl, req, err, errlen) != 0) {
		return 400;
	}
	proc = json_object_get(tmpl, "process");
	funcs = json_object_get(tmpl, "functions");
	if (!json_is_string(proc)) {
		return db_ops_bad(err, errlen, "process");
	}
	if (!json_is_array(funcs)) {
		return db_ops_bad(err, errlen, "functions");
	}
	req->sql = SQL_BY_TYPE(req->ttype, SQL_TEMPLATE_INSERT);
	if (db_ops_param_str(req, json_string_value(proc)) != 0 ||
	    db_ops_param_json(req, funcs, "[]") != 0 ||
	    db_ops_param_json(req, json_object_get(tmpl, "environment"),
	                      "[]") != 0 ||
	    db_ops_param_json(req, json_object_get(tmpl, "value"), "[]") != 0 ||
	    db_ops_param_json(req, json_object_get(tmpl, "options"), "[]") !=
	        0) {
		return 500;
	}
	return 0;
}

static int
db_tput_result(struct db_req *req, PGresult *res, json_t **out)
{
	*out = json_pack("{s:o, s:s}", "traceNo",
	                 db_ops_value(res, 0, 0, DB_INT), "traceType",
	                 template_type_name((enum template_type)req->ttype));
	return 200;
}

static int
db_tget_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	int rc = db_ops_type_no(args, req, err, errlen);

	req->sql = SQL_BY_TYPE(req->ttype, SQL_TEMPLATE_GET);
	return rc;
}

static int
db_tget_result(struct db_req *req, PGresult *res, json_t **out)
{
	if (PQntuples(res) == 0) {
		return 404;
	}
	*out = db_ops_row(json_object(), res, 0, 0, db_template_cols);
	json_object_set_new(
	    *out, "traceType",
	    json_string(template_type_name((enum template_type)req->ttype)));
	return 200;
}

static int
db_tremove_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	int rc = db_ops_type_no(args, req, err, errlen);

	req->sql = SQL_BY_TYPE(req->ttype, SQL_TEMPLATE_DELETE);
	return rc;
}

static int
db_tlist_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	req->sql = SQL_TEMPLATE_LIST;
	return 0;
}

/* Seed 001's /traces items: {"traceNo", "info": TraceInfo}. */
static int
db_tlist_result(struct db_req *req, PGresult *res, json_t **out)
{
	json_t *list = json_array();

	for (int r = 0; r < PQntuples(res); r++) {
		json_t *info =
		    db_ops_row(json_object(), res, r, 2, db_template_cols);

		json_object_set_new(info, "traceType",
		                    db_ops_value(res, r, 0, DB_TEXT));
		json_array_append_new(list,
		                      json_pack("{s:o, s:o}", "traceNo",
		                                db_ops_value(res, r, 1, DB_INT),
		                                "info", info));
	}
	*out = list;
	return 200;
}

static int
db_rinsert_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *no = json_object_get(args, "traceNo");
	json_t *path = json_object_get(args, "path");
	json_t *node = json_object_get(args, "node");
	json_t *worker = json_object_get(args, "worker");
	json_t *lasting = json_object_get(args, "lasting");
	json_t *info = json_object_get(args, "info");

	if (db_ops_type(args, req, err, errlen) != 0) {
		return 400;
	}
	if (!json_is_integer(no)) {
		return db_ops_bad(err, errlen, "traceNo");
	}
	if (!json_is_string(path)) {
		return db_ops_bad(err, errlen, "path");
	}
	if (node != NULL && !json_is_null(node) && !json_is_integer(node)) {
		return db_ops_bad(err, errlen, "node");
	}
	if (!json_is_integer(worker)) {
		return db_ops_bad(err, errlen, "worker");
	}
	if (!json_is_integer(lasting)) {
		return db_ops_bad(err, errlen, "lasting");
	}
	if (!json_is_object(info)) {
		return db_ops_bad(err, errlen, "info");
	}
	req->sql = SQL_RUN_INSERT;
	if (db_ops_param_str(
	        req, template_type_name((enum template_type)req->ttype)) != 0 ||
	    db_ops_param_int(req, json_integer_value(no)) != 0 ||
	    db_ops_param_str(req, json_string_value(path)) != 0 ||
	    (json_is_integer(node)
	         ? db_ops_param_int(req, json_integer_value(node))
	         : db_ops_param_str(req, NULL)) != 0 ||
	    db_ops_param_int(req, json_integer_value(worker)) != 0 ||
	    db_ops_param_int(req, json_integer_value(lasting)) != 0 ||
	    db_ops_param_json(req, info, "{}") != 0) {
		return 500;
	}
	return 0;
}

static int
db_rinsert_result(struct db_req *req, PGresult *res, json_t **out)
{
	*out = json_pack("{s:o, s:o}", "id", db_ops_value(res, 0, 0, DB_INT),
	                 "startedAt", db_ops_value(res, 0, 1, DB_TEXT));
	return 200;
}

/* An optional integer argument: absent counts as def. */
static int
db_ops_opt_int(struct db_req *req, json_t *args, const char *name,
               json_int_t def)
{
	json_t *v = json_object_get(args, name);

	if (v != NULL && !json_is_integer(v)) {
		return 400;
	}
	return db_ops_param_int(req, v != NULL ? json_integer_value(v) : def) ==
	               0
	           ? 0
	           : 500;
}

/*
 * run.update {"path", "state"?, "exitCode"?, "bytes"?, "chunks"?}:
 * state "running": the tool started; "finished" | "killed" | "failed":
 * the run ended; no state: progress (bytes, chunks).
 */
static int
db_rupdate_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *path = json_object_get(args, "path");
	json_t *state = json_object_get(args, "state");
	json_t *code = json_object_get(args, "exitCode");
	const char *st = json_string_value(state);

	if (!json_is_string(path)) {
		return db_ops_bad(err, errlen, "path");
	}
	if (state != NULL && !json_is_string(state)) {
		return db_ops_bad(err, errlen, "state");
	}
	if (db_ops_param_str(req, json_string_value(path)) != 0) {
		return 500;
	}
	if (st != NULL && strcmp(st, "running") == 0) {
		req->sql = SQL_RUN_SET_RUNNING;
		return 0;
	}
	if (st == NULL) {
		req->sql = SQL_RUN_PROGRESS;
	} else if (strcmp(st, "finished") == 0 || strcmp(st, "killed") == 0 ||
	           strcmp(st, "failed") == 0) {
		if (code != NULL && !json_is_null(code) &&
		    !json_is_integer(code)) {
			return db_ops_bad(err, errlen, "exitCode");
		}
		req->sql = SQL_RUN_FINISH;
		if (db_ops_param_str(req, st) != 0 ||
		    (json_is_integer(code)
		         ? db_ops_param_int(req, json_integer_value(code))
		         : db_ops_param_str(req, NULL)) != 0) {
			return 500;
		}
	} else {
		return db_ops_bad(err, errlen, "state");
	}
	if (db_ops_opt_int(req, args, "bytes", 0) != 0 ||
	    db_ops_opt_int(req, args, "chunks", 0) != 0) {
		return db_ops_bad(err, errlen, "bytes or chunks");
	}
	return 0;
}

static int
db_rget_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *path = json_object_get(args, "path");

	if (!json_is_string(path)) {
		return db_ops_bad(err, errlen, "path");
	}
	req->sql = SQL_RUN_GET;
	return db_ops_param_str(req, json_string_value(path)) == 0 ? 0 : 500;
}

static int
db_rget_result(struct db_req *req, PGresult *res, json_t **out)
{
	if (PQntuples(res) == 0) {
		return 404;
	}
	*out = db_ops_row(json_object(), res, 0, 0, db_run_cols);
	return 200;
}

static int
db_rlist_prepare(json_t *args, struct db_req *req, char *err, size_t errlen)
{
	json_t *node = json_object_get(args, "node");

	if (node != NULL && !json_is_null(node) && !json_is_integer(node)) {
		return db_ops_bad(err, errlen, "node");
	}
	req->sql = SQL_RUN_LIST_UNFINISHED;
	return (json_is_integer(node)
	            ? db_ops_param_int(req, json_integer_value(node))
	            : db_ops_param_str(req, NULL)) == 0
	           ? 0
	           : 500;
}

static int
db_rlist_result(struct db_req *req, PGresult *res, json_t **out)
{
	*out = json_array();
	for (int r = 0; r < PQntuples(res); r++) {
		json_array_append_new(
		    *out, db_ops_row(json_object(), res, r, 0, db_run_cols));
	}
	return 200;
}

static const struct db_op db_ops[] = {
    {"ping", db_ping_prepare, db_empty_result},
    {"template.list", db_tlist_prepare, db_tlist_result},
    {"template.put", db_tput_prepare, db_tput_result},
    {"template.get", db_tget_prepare, db_tget_result},
    {"template.remove", db_tremove_prepare, db_empty_result},
    {"run.insert", db_rinsert_prepare, db_rinsert_result},
    {"run.update", db_rupdate_prepare, db_empty_result},
    {"run.get", db_rget_prepare, db_rget_result},
    {"run.list", db_rlist_prepare, db_rlist_result},
    {NULL, NULL, NULL},
};

int
db_ops_prepare(const void *payload, uint32_t len, struct db_req *req, char *err,
               size_t errlen)
{
	json_error_t jerr;
	json_t *msg, *args;
	const char *name;
	int rc = 400;

	msg = json_loadb(payload, len, 0, &jerr);
	name = json_string_value(json_object_get(msg, "op"));
	args = json_object_get(msg, "args");
	if (name == NULL || (args != NULL && !json_is_object(args))) {
		snprintf(err, errlen, "a request is {\"op\", \"args\"}");
		goto out;
	}
	if (json_is_integer(json_object_get(msg, "deadline"))) {
		req->deadline = (double)json_integer_value(
		                    json_object_get(msg, "deadline")) /
		                1e6;
	}
	for (const struct db_op *op = db_ops; op->name != NULL; op++) {
		if (strcmp(op->name, name) == 0) {
			req->op = op;
			break;
		}
	}
	if (req->op == NULL) {
		snprintf(err, errlen, "unknown op %.64s", name);
		goto out;
	}
	rc = req->op->prepare(args != NULL ? args : msg, req, err, errlen);
	if (rc == 500) {
		snprintf(err, errlen, "out of memory");
	}
out:
	json_decref(msg);
	return rc;
}

/* PostgreSQL's error -> status: the client's fault or ours. */
static int
db_ops_error(PGresult *res, char *err, size_t errlen)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	int status = 500;

	if (state != NULL && strcmp(state, "23505") == 0) {
		status = 409; /* unique_violation */
	} else if (state != NULL && (strncmp(state, "22", 2) == 0 ||
	                             strcmp(state, "23514") == 0 ||
	                             strcmp(state, "23502") == 0)) {
		status = 400; /* data exception, check or not-null violation */
	}
	snprintf(err, errlen, "%s", msg != NULL ? msg : "database error");
	if (status == 500) {
		log_warn("query failed: %s (SQLSTATE %s)", err,
		         state != NULL ? state : "?");
	}
	return status;
}

int
db_ops_result(struct db_req *req, PGresult *res, json_t **result, char *err,
              size_t errlen)
{
	ExecStatusType st = PQresultStatus(res);
	int status;

	*result = NULL;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		return db_ops_error(res, err, errlen);
	}
	status = req->op->result(req, res, result);
	if (status == 404) {
		snprintf(err, errlen, "not found");
	} else if (status == 200 && *result == NULL) {
		snprintf(err, errlen, "out of memory");
		status = 500;
	}
	return status;
}
