#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "api/http.h"
#include "conf.h"
#include "log.h"

static const struct {
	int status;
	const char *message;
} http_messages[] = {
    {200, "ok"},
    {201, "created"},
    {204, "no content"},
    {307, "temporary redirect"},
    {400, "bad request"},
    {401, "unauthorized"},
    {403, "forbidden"},
    {404, "not found"},
    {405, "method not allowed"},
    {408, "request timeout"},
    {409, "conflict"},
    {411, "length required"},
    {413, "request body too large"},
    {414, "request URI too long"},
    {415, "unsupported media type"},
    {429, "too many requests"},
    {431, "request header fields too large"},
    {500, "internal server error"},
    {501, "not implemented"},
    {503, "service unavailable"},
    {505, "HTTP version not supported"},
};

const char *
http_reason(int status)
{
	size_t n = sizeof(http_messages) / sizeof(http_messages[0]);

	for (size_t i = 0; i < n; i++) {
		if (http_messages[i].status == status) {
			return http_messages[i].message;
		}
	}
	return "unknown";
}

static int
http_route_path_matches(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*') {
		return strncmp(pattern, path, n - 1) == 0;
	}
	return strcmp(pattern, path) == 0;
}

static void
http_allow_add(char *allow, size_t allow_len, const char *method)
{
	size_t used = strlen(allow);

	if (strstr(allow, method) != NULL) {
		return;
	}
	snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "",
	         method);
}

const struct http_route *
http_route_find(const struct http_route *const *tables, const char *method,
                const char *path, int *status, char *allow, size_t allow_len)
{
	int path_seen = 0;

	if (allow_len > 0) {
		allow[0] = '\0';
	}
	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct http_route *r = tables[t]; r->path != NULL;
		     r++) {
			if (!http_route_path_matches(r->path, path)) {
				continue;
			}
			if (r->method == NULL ||
			    strcmp(r->method, method) == 0) {
				return r;
			}
			/* HEAD is GET without the body (http_send_text
			 * leaves it out). */
			if (strcmp(method, "HEAD") == 0 &&
			    strcmp(r->method, "GET") == 0) {
				return r;
			}
			path_seen = 1;
			if (allow_len > 0) {
				http_allow_add(allow, allow_len, r->method);
			}
		}
	}
	*status = path_seen ? 405 : 404;
	return NULL;
}

static int
http_keep_alive(const struct mg_connection *c, const struct mg_request_info *ri)
{
	const char *hdr = mg_get_header(c, "Connection");

	if (hdr != NULL) {
		return strcasestr(hdr, "keep-alive") != NULL;
	}
	return ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
}

/* The Date header, formatted once a second per thread. */
static const char *
http_date(void)
{
	static __thread time_t last;
	static __thread char text[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return text;
}

/*
 * The whole answer in one buffer and one mg_write(): civetweb's
 * mg_response_header_*() send every header line with its own send(),
 * each a TCP segment with TCP_NODELAY, which cost the listeners half
 * their throughput (tests/bench/http_load.py). hname NULL: no extra header.
 * HEAD gets the headers only.
 */
int
http_send_raw(struct mg_connection *c, int status, const char *type,
              const char *text, size_t len, const char *hname,
              const char *hvalue)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	int head = ri != NULL && ri->request_method != NULL &&
	           strcmp(ri->request_method, "HEAD") == 0;
	size_t cap =
	    512 + (hname != NULL ? strlen(hname) + strlen(hvalue) : 0) + len;
	char *buf;
	int n, rc = status;

	buf = malloc(cap);
	if (buf == NULL) {
		log_err("malloc(%zu) for an answer failed: out of memory", cap);
		return -1;
	}
	n = snprintf(buf, cap,
	             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	             "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	             "Date: %s\r\nConnection: %s\r\n%s%s%s%s\r\n",
	             status, mg_get_response_code_text(c, status), type, len,
	             http_date(),
	             ri != NULL && http_keep_alive(c, ri) ? "keep-alive"
	                                                  : "close",
	             hname != NULL ? hname : "", hname != NULL ? ": " : "",
	             hname != NULL ? hvalue : "", hname != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n + len >= cap) {
		log_err("snprintf(answer headers) failed");
		free(buf);
		return -1;
	}
	if (!head) {
		memcpy(buf + n, text, len);
		n += (int)len;
	}
	if (mg_write(c, buf, (size_t)n) != n) {
		/* The client went away: nothing more can be sent. */
		rc = -1;
	}
	free(buf);
	return rc;
}

static int
http_send_text(struct mg_connection *c, int status, const char *text,
               size_t len, const char *hname, const char *hvalue)
{
	return http_send_raw(c, status, "application/json", text, len, hname,
	                     hvalue);
}

static int
http_send_json_hdr(struct mg_connection *c, int status, const json_t *body,
                   const char *hname, const char *hvalue)
{
	static const char oom[] =
	    "{\"message\":\"internal server error\",\"errors\":[]}";
	char *text;
	int rc;

	text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL) {
		log_err("json_dumps failed: out of memory");
		return http_send_text(c, 500, oom, sizeof(oom) - 1, NULL, NULL);
	}
	rc = http_send_text(c, status, text, strlen(text), hname, hvalue);
	free(text);
	return rc;
}

int
http_send_json(struct mg_connection *c, int status, const json_t *body)
{
	return http_send_json_hdr(c, status, body, NULL, NULL);
}

json_t *
http_error_body(const char *message, const char *error)
{
	json_t *errors = json_array();

	if (errors == NULL) {
		return NULL;
	}
	/* json_string() refuses text that is not UTF-8. */
	if (error != NULL &&
	    json_array_append_new(errors, json_string(error)) == -1) {
		json_decref(errors);
		return NULL;
	}
	return json_pack("{s:s, s:o}", "message", message, "errors", errors);
}

int
http_send_error(struct mg_connection *c, int status, const char *message,
                const char *error)
{
	json_t *body;
	int rc;

	body = http_error_body(message, error);
	if (body == NULL) {
		/* Invalid UTF-8 in error (a path from the client): say so
		 * rather than echoing it. */
		body = http_error_body(message, "(not valid UTF-8)");
	}
	if (body == NULL) {
		return -1;
	}
	rc = http_send_json(c, status, body);
	json_decref(body);
	return rc;
}

/* Not logged: these are the client's mistakes, and the text is the
 * client's (a log line must not carry its newlines). */
int
http_error_cb(struct mg_connection *c, int status, const char *errmsg)
{
	/* 1xx, 204 and 304 carry no body: let civetweb send them. */
	if (status < 200 || status == 204 || status == 304) {
		return 1;
	}
	http_send_error(c, status, http_reason(status),
	                errmsg != NULL && errmsg[0] != '\0' ? errmsg : NULL);
	return 0;
}

int
http_dispatch(struct mg_connection *c, void *cbdata)
{
	const struct http_listener *l = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(c);
	const struct http_route *r;
	const char *path = ri->local_uri != NULL ? ri->local_uri : "";
	char allow[128];
	int status;
	int rc;

	r = http_route_find(l->tables, ri->request_method, path, &status, allow,
	                    sizeof(allow));
	if (r == NULL && status == 405) {
		/* RFC 9110 requires the Allow header with a 405. */
		json_t *body =
		    http_error_body(http_reason(405), ri->request_method);
		http_send_json_hdr(c, 405, body, "Allow", allow);
		json_decref(body);
		return 405;
	}
	if (r == NULL) {
		http_send_error(c, 404, http_reason(404), path);
		return 404;
	}
	rc = r->handler(c, l->arg);
	if (rc <= 0) {
		/* A handler that declined or failed before answering. */
		http_send_error(c, 500, http_reason(500), NULL);
		return 500;
	}
	return rc;
}

int
http_is_json_type(const char *value)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (value == NULL) {
		return 0;
	}
	while (*value == ' ' || *value == '\t') {
		value++;
	}
	if (strncasecmp(value, json, n) != 0) {
		return 0;
	}
	value += n;
	while (*value == ' ' || *value == '\t') {
		value++;
	}
	return *value == '\0' || *value == ';';
}

json_t *
http_parse_json(const char *text, size_t len, json_t **err)
{
	json_error_t e;
	json_t *v;
	char where[JSON_ERROR_TEXT_LENGTH + 96];

	*err = NULL;
	v = json_loadb(text, len, 0, &e);
	if (v != NULL) {
		return v;
	}
	snprintf(where, sizeof(where), "%s at line %d, column %d, position %d",
	         e.text, e.line, e.column, e.position);
	*err = http_error_body("invalid JSON", where);
	if (*err == NULL) {
		/* jansson's text quotes the input, which may not be UTF-8. */
		snprintf(where, sizeof(where),
		         "line %d, column %d, position %d", e.line, e.column,
		         e.position);
		*err = http_error_body("invalid JSON", where);
	}
	return NULL;
}

int
http_body_append(struct http_body *b, const void *data, size_t len)
{
	size_t cap;
	char *p;

	if (len > b->limit || b->len > b->limit - len) {
		return -1;
	}
	/* One byte more than the data, for the NUL http_read_body adds. */
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len + 1) {
			cap *= 2;
		}
		p = realloc(b->data, cap);
		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void
http_body_free(struct http_body *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
http_send_too_large(struct mg_connection *c, size_t limit)
{
	char why[64];

	/* The rest of the body stays unread: the connection cannot carry
	 * another request. */
	mg_disable_connection_keep_alive(c);
	snprintf(why, sizeof(why), "the limit is %zu bytes", limit);
	http_send_error(c, 413, http_reason(413), why);
}

int
http_read_body(struct mg_connection *c, size_t limit, struct http_body *b)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	char buf[8192];
	int n;

	memset(b, 0, sizeof(*b));
	b->limit = limit;
	if (ri->content_length > 0 &&
	    (unsigned long long)ri->content_length > limit) {
		http_send_too_large(c, limit);
		return -1;
	}
	for (;;) {
		n = mg_read(c, buf, sizeof(buf));
		if (n == 0) {
			break;
		}
		if (n < 0) {
			log_debug("mg_read(request body) failed");
			mg_disable_connection_keep_alive(c);
			http_send_error(c, 400, http_reason(400),
			                "the request body could not be read");
			goto fail;
		}
		if (http_body_append(b, buf, (size_t)n) == -1) {
			if (errno == ENOMEM) {
				log_err("realloc(request body) failed: %s",
				        strerror(errno));
				mg_disable_connection_keep_alive(c);
				http_send_error(c, 500, http_reason(500), NULL);
				goto fail;
			}
			http_send_too_large(c, limit);
			goto fail;
		}
	}
	if (b->data == NULL && http_body_append(b, "", 0) == -1) {
		log_err("malloc(request body) failed: %s", strerror(errno));
		http_send_error(c, 500, http_reason(500), NULL);
		goto fail;
	}
	return 0;
fail:
	http_body_free(b);
	return -1;
}

size_t
http_body_limit(const struct mg_connection *c)
{
	const struct http_listener *l;

	l = mg_get_user_data(mg_get_context(c));
	if (l == NULL || l->conf == NULL || l->conf->max_body == 0) {
		return HTTP_DEFAULT_BODY_LIMIT;
	}
	return l->conf->max_body;
}

int
http_read_json(struct mg_connection *c, size_t limit, json_t **out)
{
	const char *type = mg_get_header(c, "Content-Type");
	struct http_body b;
	json_t *err;

	*out = NULL;
	if (!http_is_json_type(type)) {
		/* The body stays unread. */
		mg_disable_connection_keep_alive(c);
		http_send_error(c, 415, http_reason(415),
		                "Content-Type must be application/json");
		return -1;
	}
	if (http_read_body(c, limit, &b) == -1) {
		return -1;
	}
	*out = http_parse_json(b.data, b.len, &err);
	http_body_free(&b);
	if (*out == NULL) {
		if (err != NULL) {
			http_send_json(c, 400, err);
			json_decref(err);
		} else {
			http_send_error(c, 400, "invalid JSON", NULL);
		}
		return -1;
	}
	return 0;
}

int
http_query(const struct mg_connection *c, const char *name, char *buf,
           size_t len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *qs = ri->query_string;

	if (len > 0) {
		buf[0] = '\0';
	}
	if (qs == NULL) {
		return -1;
	}
	return mg_get_var(qs, strlen(qs), name, buf, len);
}
