/*
 * Unit tests for workers/db_ops.c without a database: which fixed query a
 * request selects, and that every value from the request travels as a
 * parameter (never in the SQL text). What PostgreSQL does with them is
 * tests/integration/db_roundtrip.py's part.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/template.h"
#include "db_int.h"
#include "sql/queries.h"

static struct db_req *
prepare(const char *payload, int expect_status, char *err, size_t errlen)
{
	struct db_req *req = calloc(1, sizeof(*req));

	assert_non_null(req);
	assert_int_equal(db_ops_prepare(payload, (uint32_t)strlen(payload), req,
	                                err, errlen),
	                 expect_status);
	return req;
}

static void
test_dbclient_ops_template_put_picks_the_type_table(void **state)
{
	char err[128] = "";
	struct db_req *req;

	req = prepare("{\"op\":\"template.put\",\"args\":{\"traceType\":"
	              "\"STAP\",\"process\":\"/bin/bash\",\"functions\":"
	              "[\"a\",\"b\"]},\"deadline\":2500000}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_TEMPLATE_INSERT_STAP);
	assert_int_equal(req->ttype, TEMPLATE_STAP);
	assert_int_equal(req->nparams, 5);
	assert_string_equal(req->params[0], "/bin/bash");
	assert_string_equal(req->params[1], "[\"a\",\"b\"]");
	/* Absent arrays default to empty ones. */
	assert_string_equal(req->params[2], "[]");
	assert_string_equal(req->params[4], "[]");
	assert_true(req->deadline > 2.49 && req->deadline < 2.51);
	db_req_free(req);

	req = prepare("{\"op\":\"template.put\",\"args\":{\"template\":"
	              "{\"traceType\":[\"BPF\"],\"process\":\"/x\","
	              "\"functions\":[\"f\"]}}}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_TEMPLATE_INSERT_BPF);
	db_req_free(req);
}

static void
test_dbclient_ops_values_are_parameters_never_sql(void **state)
{
	char err[128] = "";
	struct db_req *req;

	req = prepare("{\"op\":\"run.get\",\"args\":{\"path\":"
	              "\"x'; DROP TABLE trace_runs; --\"}}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_RUN_GET);
	assert_null(strstr(req->sql, "DROP"));
	assert_string_equal(req->params[0], "x'; DROP TABLE trace_runs; --");
	db_req_free(req);

	/* A number that is a string is refused, not pasted. */
	req = prepare("{\"op\":\"template.get\",\"args\":{\"traceType\":"
	              "\"BPF\",\"traceNo\":\"1 OR 1=1\"}}",
	              400, err, sizeof(err));
	assert_non_null(strstr(err, "traceNo"));
	db_req_free(req);
}

static void
test_dbclient_ops_bad_requests_are_400(void **state)
{
	char err[128] = "";

	db_req_free(prepare("not json", 400, err, sizeof(err)));
	db_req_free(prepare("{\"args\":{}}", 400, err, sizeof(err)));
	db_req_free(
	    prepare("{\"op\":\"drop.everything\"}", 400, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown op"));
	db_req_free(prepare("{\"op\":\"template.get\",\"args\":{\"traceType\":"
	                    "\"XDP\",\"traceNo\":1}}",
	                    400, err, sizeof(err)));
	assert_non_null(strstr(err, "traceType"));
	db_req_free(prepare("{\"op\":\"run.update\",\"args\":{\"path\":\"/p\","
	                    "\"state\":\"lost\"}}",
	                    400, err, sizeof(err)));
	db_req_free(
	    prepare("{\"op\":\"run.insert\",\"args\":{\"traceType\":"
	            "\"BPF\",\"traceNo\":1,\"path\":\"/p\",\"worker\":0,"
	            "\"lasting\":5}}",
	            400, err, sizeof(err)));
	assert_non_null(strstr(err, "info"));
}

static void
test_dbclient_ops_run_update_picks_the_transition(void **state)
{
	char err[128] = "";
	struct db_req *req;

	req = prepare("{\"op\":\"run.update\",\"args\":{\"path\":\"/p\","
	              "\"state\":\"running\"}}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_RUN_SET_RUNNING);
	assert_int_equal(req->nparams, 1);
	db_req_free(req);

	req = prepare("{\"op\":\"run.update\",\"args\":{\"path\":\"/p\","
	              "\"bytes\":10,\"chunks\":1}}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_RUN_PROGRESS);
	assert_string_equal(req->params[1], "10");
	assert_string_equal(req->params[2], "1");
	db_req_free(req);

	req = prepare("{\"op\":\"run.update\",\"args\":{\"path\":\"/p\","
	              "\"state\":\"killed\",\"exitCode\":-9}}",
	              0, err, sizeof(err));
	assert_string_equal(req->sql, SQL_RUN_FINISH);
	assert_int_equal(req->nparams, 5);
	assert_string_equal(req->params[1], "killed");
	assert_string_equal(req->params[2], "-9");
	assert_string_equal(req->params[3], "0");
	db_req_free(req);

	/* No exit code (it never ran): SQL NULL. */
	req = prepare("{\"op\":\"run.update\",\"args\":{\"path\":\"/p\","
	              "\"state\":\"failed\"}}",
	              0, err, sizeof(err));
	assert_null(req->params[2]);
	db_req_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_dbclient_ops_template_put_picks_the_type_table),
	    cmocka_unit_test(test_dbclient_ops_values_are_parameters_never_sql),
	    cmocka_unit_test(test_dbclient_ops_bad_requests_are_400),
	    cmocka_unit_test(test_dbclient_ops_run_update_picks_the_transition),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
