/* Unit tests for the pure parts of api/http.c. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/http.h"

static int
test_handler(struct mg_connection *c, void *arg)
{
	return 200;
}

static const struct http_route routes_a[] = {
    {"GET", "/", test_handler, "index"},
    {"GET", "/version", test_handler, "version"},
    {"POST", "/version", test_handler, "version"},
    {"GET", "/pprof/*", test_handler, "profiles"},
    {NULL, NULL, NULL, NULL},
};

static const struct http_route routes_b[] = {
    {"PUT", "/trace", test_handler, "new template"},
    {NULL, "/any", test_handler, "any method"},
    {NULL, NULL, NULL, NULL},
};

static const struct http_route *const tables[] = {routes_a, routes_b, NULL};

static void
test_http_route_find_exact_match(void **state)
{
	const struct http_route *r;
	char allow[64];
	int status = 0;

	r = http_route_find(tables, "GET", "/version", &status, allow,
	                    sizeof(allow));
	assert_ptr_equal(r, &routes_a[1]);
	r = http_route_find(tables, "PUT", "/trace", &status, allow,
	                    sizeof(allow));
	assert_ptr_equal(r, &routes_b[0]);
}

static void
test_http_route_find_unknown_path_is_404(void **state)
{
	char allow[64];
	int status = 0;

	assert_null(http_route_find(tables, "GET", "/nope", &status, allow,
	                            sizeof(allow)));
	assert_int_equal(status, 404);
	/* "/" is exact: it is not a prefix of every path. */
	assert_null(http_route_find(tables, "GET", "/versions", &status, allow,
	                            sizeof(allow)));
	assert_int_equal(status, 404);
}

static void
test_http_route_find_wrong_method_is_405_with_allow(void **state)
{
	char allow[64];
	int status = 0;

	assert_null(http_route_find(tables, "DELETE", "/version", &status,
	                            allow, sizeof(allow)));
	assert_int_equal(status, 405);
	assert_string_equal(allow, "GET, POST");
}

static void
test_http_route_find_head_answers_get_routes(void **state)
{
	char allow[64];
	int status = 0;

	assert_ptr_equal(http_route_find(tables, "HEAD", "/version", &status,
	                                 allow, sizeof(allow)),
	                 &routes_a[1]);
	assert_null(http_route_find(tables, "HEAD", "/trace", &status, allow,
	                            sizeof(allow)));
	assert_int_equal(status, 405);
}

static void
test_http_route_find_prefix_and_any_method(void **state)
{
	char allow[64];
	int status = 0;

	assert_ptr_equal(http_route_find(tables, "GET", "/pprof/heap", &status,
	                                 allow, sizeof(allow)),
	                 &routes_a[3]);
	assert_ptr_equal(http_route_find(tables, "PATCH", "/any", &status,
	                                 allow, sizeof(allow)),
	                 &routes_b[1]);
}

static void
test_http_is_json_type_accepts_parameters_and_case(void **state)
{
	assert_true(http_is_json_type("application/json"));
	assert_true(http_is_json_type("Application/JSON; charset=utf-8"));
	assert_true(http_is_json_type(" application/json ;charset=UTF-8"));
	assert_false(http_is_json_type(NULL));
	assert_false(http_is_json_type(""));
	assert_false(http_is_json_type("text/plain"));
	assert_false(http_is_json_type("application/jsonx"));
	assert_false(http_is_json_type("application/json-patch+json"));
}

static void
test_http_parse_json_valid(void **state)
{
	const char text[] = "{\"a\": [1, 2]}";
	json_t *err = NULL;
	json_t *v;

	v = http_parse_json(text, strlen(text), &err);
	assert_non_null(v);
	assert_null(err);
	assert_int_equal(json_array_size(json_object_get(v, "a")), 2);
	json_decref(v);
}

static void
test_http_parse_json_error_names_line_column_position(void **state)
{
	const char text[] = "{\n  \"a\": 1,\n  \"b\" 2\n}";
	json_t *err = NULL;
	const char *msg;

	assert_null(http_parse_json(text, strlen(text), &err));
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "message")),
	                    "invalid JSON");
	msg = json_string_value(
	    json_array_get(json_object_get(err, "errors"), 0));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "line 3, column 7"));
	assert_non_null(strstr(msg, "position"));
	json_decref(err);
}

static void
test_http_parse_json_empty_body_is_an_error(void **state)
{
	json_t *err = NULL;

	assert_null(http_parse_json("", 0, &err));
	assert_non_null(err);
	json_decref(err);
}

static void
test_http_parse_json_invalid_utf8_still_answers(void **state)
{
	const char text[] = "{\"a\": \"\xff\xfe\"}";
	json_t *err = NULL;

	assert_null(http_parse_json(text, strlen(text), &err));
	assert_non_null(err);
	json_decref(err);
}

static void
test_http_body_append_stops_at_limit(void **state)
{
	struct http_body b = {.limit = 10};

	assert_int_equal(http_body_append(&b, "12345", 5), 0);
	assert_int_equal(http_body_append(&b, "67890", 5), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	assert_int_equal(http_body_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 10);
	http_body_free(&b);
	assert_null(b.data);
}

static void
test_http_body_append_huge_length_does_not_overflow(void **state)
{
	struct http_body b = {.limit = 100};

	assert_int_equal(http_body_append(&b, "12345", 5), 0);
	assert_int_equal(http_body_append(&b, "x", SIZE_MAX - 2), -1);
	http_body_free(&b);
}

static void
test_http_body_append_grows_past_first_block(void **state)
{
	struct http_body b = {.limit = 1 << 20};
	char chunk[3000];

	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 10; i++) {
		assert_int_equal(http_body_append(&b, chunk, sizeof(chunk)), 0);
	}
	assert_int_equal(b.len, 30000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	http_body_free(&b);
}

static void
test_http_error_body_shape(void **state)
{
	json_t *e = http_error_body("not found", "/x");
	json_t *none = http_error_body("bad request", NULL);

	assert_string_equal(json_string_value(json_object_get(e, "message")),
	                    "not found");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(e, "errors"), 0)),
	    "/x");
	assert_int_equal(json_array_size(json_object_get(none, "errors")), 0);
	assert_true(json_is_array(json_object_get(none, "errors")));
	json_decref(e);
	json_decref(none);
}

static void
test_http_error_body_rejects_invalid_utf8(void **state)
{
	/* A path from the client is not trusted to be UTF-8. */
	assert_null(http_error_body("not found", "/\xff"));
}

static void
test_http_reason_known_and_unknown(void **state)
{
	assert_string_equal(http_reason(404), "not found");
	assert_string_equal(http_reason(413), "request body too large");
	assert_string_equal(http_reason(415), "unsupported media type");
	assert_string_equal(http_reason(599), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_route_find_exact_match),
	    cmocka_unit_test(test_http_route_find_unknown_path_is_404),
	    cmocka_unit_test(
	        test_http_route_find_wrong_method_is_405_with_allow),
	    cmocka_unit_test(test_http_route_find_head_answers_get_routes),
	    cmocka_unit_test(test_http_route_find_prefix_and_any_method),
	    cmocka_unit_test(
	        test_http_is_json_type_accepts_parameters_and_case),
	    cmocka_unit_test(test_http_parse_json_valid),
	    cmocka_unit_test(
	        test_http_parse_json_error_names_line_column_position),
	    cmocka_unit_test(test_http_parse_json_empty_body_is_an_error),
	    cmocka_unit_test(test_http_parse_json_invalid_utf8_still_answers),
	    cmocka_unit_test(test_http_body_append_stops_at_limit),
	    cmocka_unit_test(
	        test_http_body_append_huge_length_does_not_overflow),
	    cmocka_unit_test(test_http_body_append_grows_past_first_block),
	    cmocka_unit_test(test_http_error_body_shape),
	    cmocka_unit_test(test_http_error_body_rejects_invalid_utf8),
	    cmocka_unit_test(test_http_reason_known_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
