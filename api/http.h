/*
 * HTTP helpers every surface of the api worker uses.
 *
 * A listener (admin or API) is one civetweb context whose only request
 * handler is http_dispatch(): it looks the request up in the listener's
 * route tables and answers 404 or 405 itself, so that every answer, errors
 * included, is JSON of the one shape
 *   {"message": "not found", "errors": ["/path"]}
 * civetweb's own errors (a malformed request line, headers too large) go
 * through http_error_cb, set as the context's http_error callback, and get
 * the same shape instead of civetweb's HTML page.
 *
 * Handlers read a JSON body with http_read_json(): Content-Type must be
 * application/json (415), the body at most conf->max_body bytes (413,
 * checked against Content-Length first and again while reading, for a
 * chunked body), and it must parse (400, naming jansson's line, column and
 * position). On failure it has already answered; the handler returns.
 */
#ifndef PROBED_HTTP_H
#define PROBED_HTTP_H

#include <stddef.h>

#include <civetweb.h>
#include <jansson.h>

struct conf;

/* Returns the HTTP status it sent (civetweb logs it), or 0 to decline. */
typedef int (*http_handler_fn)(struct mg_connection *c, void *arg);

struct http_route {
	const char *method; /* "GET" (answers HEAD too); NULL: any */
	const char *path;   /* exact, or a prefix when it ends in '*' */
	http_handler_fn handler;
	const char *help; /* Pegasus "/": "params. what it does" */
};

/* A route table ends with a row whose path is NULL. */
struct http_listener {
	const char *name; /* "admin", "api": for log lines */
	const struct http_route *const *tables; /* NULL-terminated */
	const struct conf *conf;
	void *arg; /* passed to every handler */
};

/* The context's only request handler; cbdata is the http_listener. */
int http_dispatch(struct mg_connection *c, void *cbdata);

/* civetweb's http_error callback: the error as JSON. */
int http_error_cb(struct mg_connection *c, int status, const char *errmsg);

/*
 * Route lookup, pure: the route for method and path, or NULL with
 * *status 404 (no path matches) or 405 (the path exists for another
 * method; *allow then lists the methods, comma separated, in allow_len).
 */
const struct http_route *http_route_find(const struct http_route *const *tables,
                                         const char *method, const char *path,
                                         int *status, char *allow,
                                         size_t allow_len);

/* The reason phrase of a status, "Unknown" for one it does not know. */
const char *http_reason(int status);

/* Sends body (not stolen) with status and Content-Type application/json.
 * Returns status, or -1 when the connection failed. */
/* One write: status line, Content-Type type, Content-Length, Date,
 * Connection, an optional extra header (hname NULL: none), the body. */
int http_send_raw(struct mg_connection *c, int status, const char *type,
                  const char *text, size_t len, const char *hname,
                  const char *hvalue);
int http_send_json(struct mg_connection *c, int status, const json_t *body);

/* {"message": message, "errors": [error]}; error NULL: "errors": []. */
int http_send_error(struct mg_connection *c, int status, const char *message,
                    const char *error);

/* The same shape, pure, for tests and for answers built elsewhere. */
json_t *http_error_body(const char *message, const char *error);

/*
 * Content-Type check, pure: 1 if value is application/json, with any
 * parameters (charset) and in any case; 0 otherwise or when NULL.
 */
int http_is_json_type(const char *value);

/*
 * Parses text of len bytes, pure. On success returns the value; on error
 * NULL and *err is the 400 answer body naming line, column and position.
 */
json_t *http_parse_json(const char *text, size_t len, json_t **err);

/*
 * A body being read: grows to at most limit bytes. http_body_append()
 * returns 0, or -1 when the data would pass the limit (413) or memory ran
 * out (errno ENOMEM).
 */
struct http_body {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
};

int http_body_append(struct http_body *b, const void *data, size_t len);
void http_body_free(struct http_body *b);

/*
 * Reads the whole body into *b (NUL-terminated, len excludes the NUL).
 * On failure it has sent 413 (too large) or 400 (read error) and returns
 * -1.
 */
int http_read_body(struct mg_connection *c, size_t limit, struct http_body *b);

/* Content-Type check, body read and parse, with the answers above. */
int http_read_json(struct mg_connection *c, size_t limit, json_t **out);

/* The listener's max-body (a context's user data is its http_listener);
 * HTTP_DEFAULT_BODY_LIMIT without a config. */
#define HTTP_DEFAULT_BODY_LIMIT (1024 * 1024)
size_t http_body_limit(const struct mg_connection *c);

/*
 * Query-string parameter name into buf (URL-decoded). Returns its length,
 * -1 when absent, -2 when it does not fit in len bytes.
 */
int http_query(const struct mg_connection *c, const char *name, char *buf,
               size_t len);

#endif
