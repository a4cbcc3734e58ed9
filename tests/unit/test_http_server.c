/*
 * api/http.c through a real civetweb context on a loopback port: every
 * error a client can cause comes back as JSON with the right status.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/http.h"
#include "conf.h"

#define TEST_LIMIT 64

static struct mg_context *test_ctx;
static int test_port;

static int
test_echo(struct mg_connection *c, void *arg)
{
	json_t *v;
	int rc;

	if (http_read_json(c, http_body_limit(c), &v) == -1) {
		return 400;
	}
	rc = http_send_json(c, 200, v);
	json_decref(v);
	return rc;
}

static int
test_query(struct mg_connection *c, void *arg)
{
	char name[16];
	json_t *v;
	int n, rc;

	n = http_query(c, "name", name, sizeof(name));
	if (n < 0) {
		return http_send_error(c, 400, "Invalid Arguments", "name");
	}
	v = json_pack("{s:s}", "name", name);
	rc = http_send_json(c, 200, v);
	json_decref(v);
	return rc;
}

static const struct http_route test_routes[] = {
    {"POST", "/echo", test_echo, "echo"},
    {"GET", "/q", test_query, "query"},
    {NULL, NULL, NULL, NULL},
};
static const struct http_route *const test_tables[] = {test_routes, NULL};
/* The limit comes from the listener's config, as in the api worker. */
static struct conf test_conf = {.max_body = TEST_LIMIT};
static struct http_listener test_listener = {"test", test_tables, &test_conf,
                                             NULL};

static int
test_setup(void **state)
{
	struct mg_callbacks cb;
	struct mg_server_port ports[1];
	const char *options[] = {
	    "listening_ports",   "127.0.0.1:0", "num_threads", "2",
	    "enable_keep_alive", "yes",         NULL};

	mg_init_library(0);
	memset(&cb, 0, sizeof(cb));
	cb.http_error = http_error_cb;
	test_ctx = mg_start(&cb, &test_listener, options);
	if (test_ctx == NULL) {
		return -1;
	}
	mg_set_request_handler(test_ctx, "/", http_dispatch, &test_listener);
	if (mg_get_server_ports(test_ctx, 1, ports) != 1) {
		return -1;
	}
	test_port = ports[0].port;
	return test_port > 0 ? 0 : -1;
}

static int
test_teardown(void **state)
{
	mg_stop(test_ctx);
	mg_exit_library();
	return 0;
}

/* Sends req, reads the answer until the server closes; returns the
 * status and leaves the whole answer in resp. */
static int
test_roundtrip(const char *req, char *resp, size_t len)
{
	struct sockaddr_in sin;
	size_t got = 0;
	ssize_t n;
	int fd, status = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)test_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < len - 1 && (n = read(fd, resp + got, len - 1 - got)) > 0) {
		got += (size_t)n;
	}
	resp[got] = '\0';
	close(fd);
	sscanf(resp, "HTTP/%*s %d", &status);
	return status;
}

static const char *
test_body(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p != NULL ? p + 4 : "";
}

static void
test_http_server_echo_valid_json(void **state)
{
	char resp[4096];

	assert_int_equal(
	    test_roundtrip(
	        "POST /echo HTTP/1.1\r\n"
	        "Content-Type: application/json\r\nContent-Length: 7\r\n"
	        "Connection: close\r\n\r\n{\"a\":1}",
	        resp, sizeof(resp)),
	    200);
	assert_string_equal(test_body(resp), "{\"a\":1}");
	assert_non_null(strstr(resp, "Content-Type: application/json"));
}

static void
test_http_server_content_length_over_limit_is_413(void **state)
{
	char resp[4096];

	/* No body is sent: the answer must not wait for it. */
	assert_int_equal(
	    test_roundtrip(
	        "POST /echo HTTP/1.1\r\n"
	        "Content-Type: application/json\r\nContent-Length: 100000\r\n"
	        "\r\n",
	        resp, sizeof(resp)),
	    413);
	assert_non_null(strstr(test_body(resp), "\"message\":\"request body "
	                                        "too large\""));
}

static void
test_http_server_chunked_body_over_limit_is_413(void **state)
{
	char req[1024], resp[4096];
	char chunk[41];

	memset(chunk, ' ', 40);
	chunk[40] = '\0';
	snprintf(
	    req, sizeof(req),
	    "POST /echo HTTP/1.1\r\n"
	    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	    "Connection: close\r\n\r\n28\r\n%s\r\n28\r\n%s\r\n0\r\n\r\n",
	    chunk, chunk);
	assert_int_equal(test_roundtrip(req, resp, sizeof(resp)), 413);
}

static void
test_http_server_chunked_body_within_limit_is_read(void **state)
{
	char resp[4096];

	assert_int_equal(
	    test_roundtrip(
	        "POST /echo HTTP/1.1\r\n"
	        "Content-Type: application/json\r\nTransfer-Encoding: "
	        "chunked\r\n"
	        "Connection: close\r\n\r\n4\r\n{\"b\"\r\n3\r\n:2}\r\n0\r\n\r\n",
	        resp, sizeof(resp)),
	    200);
	assert_string_equal(test_body(resp), "{\"b\":2}");
}

static void
test_http_server_wrong_content_type_is_415(void **state)
{
	char resp[4096];

	assert_int_equal(
	    test_roundtrip("POST /echo HTTP/1.1\r\n"
	                   "Content-Type: text/plain\r\nContent-Length: 2\r\n"
	                   "Connection: close\r\n\r\n{}",
	                   resp, sizeof(resp)),
	    415);
	assert_int_equal(
	    test_roundtrip("POST /echo HTTP/1.1\r\n"
	                   "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
	                   resp, sizeof(resp)),
	    415);
}

static void
test_http_server_malformed_json_is_400_with_position(void **state)
{
	char resp[4096];

	assert_int_equal(
	    test_roundtrip(
	        "POST /echo HTTP/1.1\r\n"
	        "Content-Type: application/json; charset=utf-8\r\n"
	        "Content-Length: 6\r\nConnection: close\r\n\r\n{\"a\":}",
	        resp, sizeof(resp)),
	    400);
	assert_non_null(
	    strstr(test_body(resp), "\"message\":\"invalid JSON\""));
	assert_non_null(strstr(test_body(resp), "line 1, column 6"));
}

static void
test_http_server_wrong_method_is_405_with_allow(void **state)
{
	char resp[4096];

	assert_int_equal(test_roundtrip("GET /echo HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 405);
	assert_non_null(strstr(resp, "Allow: POST\r\n"));
	assert_string_equal(
	    test_body(resp),
	    "{\"message\":\"method not allowed\",\"errors\":[\"GET\"]}");
}

static void
test_http_server_unknown_path_is_404_json(void **state)
{
	char resp[4096];

	assert_int_equal(test_roundtrip("GET /nope HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 404);
	assert_string_equal(
	    test_body(resp),
	    "{\"message\":\"not found\",\"errors\":[\"/nope\"]}");
	assert_int_equal(test_roundtrip("GET /%ff HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 404);
	assert_non_null(strstr(test_body(resp), "not valid UTF-8"));
}

static void
test_http_server_malformed_request_is_json_not_html(void **state)
{
	char resp[4096];

	assert_int_equal(test_roundtrip("GARBAGE\r\n\r\n", resp, sizeof(resp)),
	                 400);
	assert_non_null(strstr(resp, "Content-Type: application/json"));
	assert_null(strstr(resp, "<html"));
	assert_int_equal(test_body(resp)[0], '{');
}

static void
test_http_server_query_parameter(void **state)
{
	char resp[4096];

	assert_int_equal(test_roundtrip("GET /q?x=1&name=a%20b HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 200);
	assert_string_equal(test_body(resp), "{\"name\":\"a b\"}");
	assert_int_equal(test_roundtrip("GET /q HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 400);
	assert_string_equal(
	    test_body(resp),
	    "{\"message\":\"Invalid Arguments\",\"errors\":[\"name\"]}");
}

static void
test_http_server_head_is_get_without_body(void **state)
{
	char resp[4096];

	assert_int_equal(test_roundtrip("HEAD /q?name=x HTTP/1.1\r\n"
	                                "Connection: close\r\n\r\n",
	                                resp, sizeof(resp)),
	                 200);
	assert_non_null(strstr(resp, "Content-Length: 12\r\n"));
	assert_string_equal(test_body(resp), "");
}

static void
test_http_server_keep_alive_survives_unread_body(void **state)
{
	char resp[8192];

	/* A 405 leaves the body unread; the next request on the same
	 * connection must still be parsed from the right place. */
	assert_int_equal(
	    test_roundtrip(
	        "POST /q HTTP/1.1\r\n"
	        "Content-Length: 5\r\n\r\nhello"
	        "GET /q?name=z HTTP/1.1\r\nConnection: close\r\n\r\n",
	        resp, sizeof(resp)),
	    405);
	assert_non_null(strstr(resp, "{\"name\":\"z\"}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_server_echo_valid_json),
	    cmocka_unit_test(test_http_server_content_length_over_limit_is_413),
	    cmocka_unit_test(test_http_server_chunked_body_over_limit_is_413),
	    cmocka_unit_test(
	        test_http_server_chunked_body_within_limit_is_read),
	    cmocka_unit_test(test_http_server_wrong_content_type_is_415),
	    cmocka_unit_test(
	        test_http_server_malformed_json_is_400_with_position),
	    cmocka_unit_test(test_http_server_wrong_method_is_405_with_allow),
	    cmocka_unit_test(test_http_server_unknown_path_is_404_json),
	    cmocka_unit_test(
	        test_http_server_malformed_request_is_json_not_html),
	    cmocka_unit_test(test_http_server_query_parameter),
	    cmocka_unit_test(test_http_server_head_is_get_without_body),
	    cmocka_unit_test(test_http_server_keep_alive_survives_unread_body),
	};

	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
