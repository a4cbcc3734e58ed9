#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/apiauth.h"
#include "api/fd1.h"
#include "api/lambda.h"
#include "clock.h"
#include "log.h"

/* Reals are rounded to the microsecond first; 15 significant digits then
 * print them without binary noise (0.001234, not 0.0012340000000000001). */
#define FD1_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Set by begin_request on the thread that then runs the handler: civetweb
 * serves one request from start to end on one worker thread. */
static __thread double fd1_thread_begin;

static const struct {
	const char *name;
	unsigned bit;
} fd1_rd_names[] = {
    {"time", FD1_RD_TIME},
    {"production_ready", FD1_RD_READY},
};

int
fd1_begin_request(struct mg_connection *c)
{
	fd1_thread_begin = clock_mono();
	return 0;
}

void
fd1_req_init(struct fd1_req *r)
{
	memset(r, 0, sizeof(*r));
	r->t_handler = clock_mono();
	/* Without the callback (a test server) dispatch reads as zero. */
	r->t_begin = fd1_thread_begin > 0 && fd1_thread_begin <= r->t_handler
	                 ? fd1_thread_begin
	                 : r->t_handler;
}

void
fd1_req_clear(struct fd1_req *r)
{
	json_decref(r->findings);
	r->findings = NULL;
}

static void
fd1_finding_add(struct fd1_req *r, json_t *f)
{
	if (f == NULL) {
		return;
	}
	if (r->findings == NULL) {
		r->findings = json_array();
	}
	if (r->findings == NULL || json_array_append_new(r->findings, f)) {
		/* Out of memory: the findings are advice, the request goes
		 * on without this one. */
		log_err("json_array_append(fd1 finding) failed");
	}
}

void
fd1_finding(struct fd1_req *r, const char *field, const char *level,
            const char *message)
{
	json_t *f;

	f = json_pack("{s:s, s:s, s:s}", "field", field, "level", level,
	              "message", message);
	if (f == NULL) {
		/* A field name that is not UTF-8 (from the client). */
		f = json_pack("{s:s, s:s, s:s}", "field", "(not valid UTF-8)",
		              "level", level, "message", message);
	}
	fd1_finding_add(r, f);
}

void
fd1_findings_extend(struct fd1_req *r, const json_t *findings)
{
	size_t i;
	json_t *f;

	json_array_foreach(findings, i, f)
	{
		fd1_finding_add(r, json_deep_copy(f));
	}
}

static void
fd1_rd_option(struct fd1_req *r, const char *s, size_t len, int on)
{
	char name[64];
	char msg[96];

	for (size_t i = 0; i < sizeof(fd1_rd_names) / sizeof(fd1_rd_names[0]);
	     i++) {
		if (strlen(fd1_rd_names[i].name) == len &&
		    memcmp(fd1_rd_names[i].name, s, len) == 0) {
			if (on) {
				r->rd |= fd1_rd_names[i].bit;
			}
			return;
		}
	}
	/* The name is the client's: cut, and only as a finding's text. */
	snprintf(name, sizeof(name), "%.*s", len > 40 ? 40 : (int)len, s);
	snprintf(msg, sizeof(msg), "unknown rd option \"%s\"", name);
	fd1_finding(r, "rd", "warn", msg);
}

void
fd1_rd_parse_text(struct fd1_req *r, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;

		while (j < len && s[j] != ',') {
			j++;
		}
		/* Surrounding blanks are allowed: "time, production_ready". */
		size_t a = i, b = j;
		while (a < b && (s[a] == ' ' || s[a] == '\t')) {
			a++;
		}
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) {
			b--;
		}
		if (b > a) {
			fd1_rd_option(r, s + a, b - a, 1);
		}
		i = j + 1;
	}
}

void
fd1_rd_parse_value(struct fd1_req *r, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		fd1_rd_parse_text(r, json_string_value(v),
		                  json_string_length(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item)) {
				fd1_finding(r, "rd", "warn",
				            "rd array items must be strings");
				continue;
			}
			fd1_rd_option(r, json_string_value(item),
			              json_string_length(item), 1);
		}
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, item)
		{
			if (!json_is_boolean(item)) {
				fd1_finding(r, "rd", "warn",
				            "rd options take true or false");
				continue;
			}
			fd1_rd_option(r, key, strlen(key), json_is_true(item));
		}
	} else if (!json_is_null(v)) {
		fd1_finding(r, "rd", "warn",
		            "rd must be an object, a string or an array");
	}
}

void
fd1_rd_parse_query(struct fd1_req *r, const struct mg_connection *c)
{
	char buf[256];
	int n;

	n = http_query(c, "rd", buf, sizeof(buf));
	if (n == -2) {
		fd1_finding(r, "rd", "warn", "rd query parameter too long");
	} else if (n > 0) {
		fd1_rd_parse_text(r, buf, (size_t)n);
	}
}

void
fd1_rd_take(struct fd1_req *r, json_t *body)
{
	json_t *rd = json_object_get(body, "rd");

	if (rd == NULL) {
		return;
	}
	fd1_rd_parse_value(r, rd);
	json_object_del(body, "rd");
}

int
fd1_envelope_parse(const json_t *in, struct fd1_req *r, const char **action,
                   json_t **args, json_t **err)
{
	json_t *a;

	*action = NULL;
	*args = NULL;
	*err = NULL;
	if (!json_is_object(in)) {
		*err = http_error_body("Invalid Arguments", "a");
		return -1;
	}
	a = json_object_get(in, "a");
	if (!json_is_string(a) || json_string_length(a) == 0) {
		fd1_finding(r, "a", "fail", "\"a\" (the action) is required");
		*err = http_error_body("Invalid Arguments", "a");
		return -1;
	}
	*args = json_copy((json_t *)in);
	if (*args == NULL) {
		log_err("json_copy(fd1 envelope) failed");
		return -1;
	}
	json_object_del(*args, "a");
	fd1_rd_take(r, *args);
	*action = json_string_value(a);
	return 0;
}

static double
fd1_us(double s)
{
	return round(s * 1e6) / 1e6;
}

static json_t *
fd1_ready(struct fd1_req *r)
{
	const char *level, *ready;
	int fails = 0, warns = 0;
	json_t *f;
	size_t i;

	json_array_foreach(r->findings, i, f)
	{
		level = json_string_value(json_object_get(f, "level"));
		if (level != NULL && strcmp(level, "fail") == 0) {
			fails++;
		} else {
			warns++;
		}
	}
	ready = fails > 0 ? "no" : warns > 0 ? "partial" : "yes";
	return json_pack("{s:s, s:i, s:i, s:o}", "ready", ready, "failcount",
	                 fails, "warncount", warns, "findings",
	                 r->findings != NULL ? json_incref(r->findings)
	                                     : json_array());
}

json_t *
fd1_debug_rd(struct fd1_req *r, double now)
{
	double total = now - r->t_begin;
	json_t *d, *t;
	char msg[80];

	if (r->rd == 0) {
		return NULL;
	}
	if (total > FD1_SLOW) {
		snprintf(msg, sizeof(msg),
		         "the request took %.3f s, more than %.3f s", total,
		         FD1_SLOW);
		fd1_finding(r, "time", "warn", msg);
	}
	d = json_object();
	if (d == NULL) {
		goto fail;
	}
	if (r->rd & FD1_RD_TIME) {
		t = json_pack("{s:f, s:f}", "total", fd1_us(total), "dispatch",
		              fd1_us(r->t_handler - r->t_begin));
		if (t == NULL ||
		    (r->queried &&
		     json_object_set_new(t, "queryopen",
		                         json_real(fd1_us(r->queryopen)))) ||
		    (r->built &&
		     json_object_set_new(t, "queryrowbuild",
		                         json_real(fd1_us(r->rowbuild)))) ||
		    json_object_set_new(d, "time", t)) {
			goto fail;
		}
	}
	if ((r->rd & FD1_RD_READY) &&
	    json_object_set_new(d, "production_ready", fd1_ready(r))) {
		goto fail;
	}
	return d;
fail:
	log_err("json_pack(debug_rd) failed: out of memory");
	json_decref(d);
	return NULL;
}

char *
fd1_dumps(const json_t *v)
{
	return json_dumps(v, FD1_DUMP_FLAGS | JSON_ENCODE_ANY);
}

int
fd1_send(struct mg_connection *c, struct fd1_req *r, struct fd1_result *res)
{
	json_t *debug = fd1_debug_rd(r, clock_mono());
	char *header = NULL, *body = NULL;
	int rc = -1;

	if (debug != NULL && res->data != NULL && json_is_object(res->data)) {
		json_object_set(res->data, "debug_rd", debug);
	} else if (debug != NULL) {
		/* Header values are ASCII, one line. */
		header = json_dumps(debug, FD1_DUMP_FLAGS | JSON_ENSURE_ASCII);
	}
	if (res->text != NULL) {
		rc =
		    http_send_raw(c, res->status, "text/plain; charset=utf-8",
		                  res->text, strlen(res->text),
		                  header != NULL ? "X-Debug-RD" : NULL, header);
		goto out;
	}
	body = res->data != NULL ? fd1_dumps(res->data) : NULL;
	if (body == NULL) {
		log_err("json_dumps(answer) failed: out of memory");
		rc = http_send_error(c, 500, http_reason(500), NULL);
		goto out;
	}
	rc = http_send_raw(c, res->status, "application/json", body,
	                   strlen(body), header != NULL ? "X-Debug-RD" : NULL,
	                   header);
out:
	free(body);
	free(header);
	json_decref(debug);
	json_decref(res->data);
	res->data = NULL;
	return rc;
}

static void
fd1_ping(struct apiauth *a, json_t *args, struct fd1_req *r,
         struct fd1_result *out)
{
	const char *key;
	json_t *v;

	json_object_foreach(args, key, v)
	{
		fd1_finding(r, key, "warn", "unknown field");
	}
	out->status = 200;
	out->data = json_pack("{s:b}", "pong", 1);
}

/* The envelope's answer: {"r": action} plus data or the error's fields. */
static void
fd1_wrap(const char *action, struct fd1_result *res)
{
	json_t *w;

	if (res->status >= 200 && res->status < 300) {
		w = json_pack("{s:s, s:o}", "r", action, "data",
		              res->text != NULL ? json_string(res->text)
		                                : res->data);
		res->data = NULL;
	} else {
		w = res->data;
		res->data = NULL;
		if (w != NULL && json_is_object(w)) {
			json_object_set_new(w, "r", json_string(action));
		}
	}
	res->text = NULL;
	res->data = w;
	if (w == NULL) {
		log_err("json_pack(fd1 answer) failed: out of memory");
		res->status = 500;
		res->data = http_error_body(http_reason(500), NULL);
	}
}

static int
fd1_handle(struct mg_connection *c, void *arg)
{
	struct apiauth *a = arg;
	struct fd1_result res = {0, NULL, NULL};
	const struct lambda_action *act;
	const char *action;
	struct fd1_req r;
	json_t *in = NULL, *args = NULL, *err = NULL;
	int rc;

	fd1_req_init(&r);
	if (http_read_json(c, http_body_limit(c), &in) == -1) {
		/* Answered already (415, 413 or 400). */
		fd1_req_clear(&r);
		return 400;
	}
	fd1_rd_parse_query(&r, c);
	if (fd1_envelope_parse(in, &r, &action, &args, &err) == -1) {
		res.status = err != NULL ? 400 : 500;
		res.data =
		    err != NULL ? err : http_error_body(http_reason(500), NULL);
		goto send;
	}
	if (strcmp(action, "fd1.debug.ping") == 0) {
		fd1_ping(a, args, &r, &res);
	} else if ((act = lambda_action_find(action)) != NULL) {
		act->fn(a, args, &r, &res);
	} else {
		fd1_finding(&r, "a", "fail", "unknown action");
		res.status = 400;
		res.data = http_error_body("Invalid Arguments", "a");
	}
	fd1_wrap(action, &res);
send:
	rc = fd1_send(c, &r, &res);
	json_decref(args);
	json_decref(in);
	fd1_req_clear(&r);
	return rc > 0 ? rc : 500;
}

const struct http_route fd1_routes[] = {
    {"POST", "/fd1", fd1_handle, "FD1 envelope: {a, rd, ...}."},
    {NULL, NULL, NULL, NULL},
};
