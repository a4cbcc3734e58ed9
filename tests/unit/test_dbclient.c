/*
 * Unit tests for api/dbclient.c: framing, timeouts, routing answers by
 * corr, late answers, a full request ring. The db worker is played by
 * this process: it reads the request ring and writes the response ring
 * itself, so each test decides exactly when (and whether) an answer comes.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api/dbclient.h"
#include "shm/msg.h"
#include "shm/segment.h"

struct fixture {
	struct shm_segment *seg;
	struct ev_loop *loop;
	ev_async stop;
	pthread_t thread;
	struct dbclient *c;
	struct ring *req;
	struct ring *resp;
};

static void
fx_stop_cb(struct ev_loop *loop, ev_async *as, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *
fx_run(void *arg)
{
	struct fixture *f = arg;

	ev_run(f->loop, 0);
	return NULL;
}

static struct fixture *
fx_new(size_t request_ring_bytes)
{
	struct shm_params p = {.n_trace = 1,
	                       .request_ring_bytes = request_ring_bytes};
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->seg = shm_segment_create(&p);
	assert_non_null(f->seg);
	assert_int_equal(shm_segment_attach(f->seg, SHM_PROC_API), 0);
	f->req = shm_segment_ring(f->seg, SHM_RING_REQUEST, 0);
	f->resp = shm_segment_ring(f->seg, SHM_RING_RESPONSE, 0);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	f->c = dbclient_new(f->loop, f->seg);
	assert_non_null(f->c);
	ev_async_init(&f->stop, fx_stop_cb);
	ev_async_start(f->loop, &f->stop);
	assert_int_equal(pthread_create(&f->thread, NULL, fx_run, f), 0);
	return f;
}

static void
fx_free(struct fixture *f)
{
	ev_async_send(f->loop, &f->stop);
	pthread_join(f->thread, NULL);
	dbclient_free(f->c);
	ev_loop_destroy(f->loop);
	shm_segment_destroy(f->seg);
	free(f);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Plays the db worker for one request: waits for it, answers it. */
static uint64_t
db_answer_one(struct fixture *f, const char *answer, char *seen, size_t len)
{
	struct ring_rec rec;
	struct msg m;
	uint64_t corr;

	assert_int_equal(ring_wait_data(f->req, 5000), 0);
	assert_int_equal(ring_peek(f->req, &rec), 0);
	assert_int_equal(msg_parse(&rec, &m), 0);
	assert_int_equal(m.type, DBMSG_QUERY);
	assert_int_equal(m.sender, SHM_PROC_API);
	if (seen != NULL) {
		snprintf(seen, len, "%.*s", (int)m.len,
		         (const char *)m.payload);
	}
	corr = m.corr;
	ring_release(f->req, &rec);
	if (answer != NULL) {
		assert_int_equal(msg_send(f->resp, DBMSG_RESULT, SHM_PROC_DB,
		                          corr, answer, strlen(answer)),
		                 0);
	}
	return corr;
}

struct responder {
	struct fixture *f;
	const char *answer;
	char seen[256];
};

static void *
responder_run(void *arg)
{
	struct responder *r = arg;

	db_answer_one(r->f, r->answer, r->seen, sizeof(r->seen));
	return NULL;
}

static void
test_dbclient_frame_is_compact_op_and_args(void **state)
{
	json_t *args =
	    json_pack("{s:s, s:i}", "traceType", "BPF", "traceNo", 3);
	char *s;

	s = dbclient_frame("ping", NULL, 0);
	assert_string_equal(s, "{\"op\":\"ping\",\"args\":{}}");
	free(s);
	s = dbclient_frame("template.get", args, 12345678);
	assert_string_equal(s, "{\"op\":\"template.get\",\"args\":"
	                       "{\"traceType\":\"BPF\",\"traceNo\":3},"
	                       "\"deadline\":12345678}");
	free(s);
	json_decref(args);
}

static void
test_dbclient_call_without_client_answers_503(void **state)
{
	json_t *result = NULL;

	assert_int_equal(dbclient_call(NULL, "ping", NULL, &result, 100, NULL),
	                 503);
	assert_string_equal(
	    json_string_value(json_object_get(result, "message")),
	    "database unavailable");
	json_decref(result);
}

static void
test_dbclient_call_returns_the_result_and_timing(void **state)
{
	struct fixture *f = fx_new(0);
	struct responder r = {
	    f, "{\"status\":200,\"result\":{\"traceNo\":7},\"db_us\":1500}",
	    ""};
	struct dbclient_timing t;
	json_t *args = json_pack("{s:s}", "traceType", "BPF");
	json_t *result = NULL;
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, responder_run, &r), 0);
	assert_int_equal(
	    dbclient_call(f->c, "template.put", args, &result, 2000, &t), 200);
	pthread_join(th, NULL);
	/* The deadline is when the caller stops waiting, on the monotonic
	 * clock every process shares. */
	{
		static const char pre[] =
		    "{\"op\":\"template.put\",\"args\":"
		    "{\"traceType\":\"BPF\"},\"deadline\":";
		double deadline;

		assert_int_equal(strncmp(r.seen, pre, sizeof(pre) - 1), 0);
		deadline = strtod(r.seen + sizeof(pre) - 1, NULL) / 1e6;
		assert_true(deadline > now_s() && deadline < now_s() + 2.0);
	}
	assert_int_equal(json_integer_value(json_object_get(result, "traceNo")),
	                 7);
	assert_true(t.db > 0.0014 && t.db < 0.0016);
	assert_true(t.queryopen > 0 && t.queryopen < 2.0);
	json_decref(result);
	json_decref(args);
	fx_free(f);
}

static void
test_dbclient_call_error_becomes_message(void **state)
{
	struct fixture *f = fx_new(0);
	struct responder r = {
	    f, "{\"status\":404,\"error\":\"not found\",\"db_us\":10}", ""};
	json_t *result = NULL;
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, responder_run, &r), 0);
	assert_int_equal(
	    dbclient_call(f->c, "run.get", NULL, &result, 2000, NULL), 404);
	pthread_join(th, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(result, "message")), "not found");
	json_decref(result);
	fx_free(f);
}

static void
test_dbclient_call_times_out_and_drops_the_late_answer(void **state)
{
	struct fixture *f = fx_new(0);
	struct responder r = {f, "{\"status\":200,\"result\":\"mine\"}", ""};
	struct dbclient_timing t;
	json_t *result = NULL;
	char late[128];
	uint64_t corr;
	pthread_t th;
	double t0;

	t0 = now_s();
	assert_int_equal(dbclient_call(f->c, "ping", NULL, &result, 50, &t),
	                 503);
	assert_true(now_s() - t0 >= 0.05 && now_s() - t0 < 0.9);
	assert_true(t.queryopen >= 0.05);
	json_decref(result);

	/* The answer comes after the caller gave up: nobody takes it. */
	corr = db_answer_one(f, NULL, NULL, 0);
	snprintf(late, sizeof(late), "{\"status\":200,\"result\":\"late\"}");
	assert_int_equal(msg_send(f->resp, DBMSG_RESULT, SHM_PROC_DB, corr,
	                          late, strlen(late)),
	                 0);
	/* Polls the condition, with a deadline. */
	t0 = now_s();
	while (dbclient_late(f->c) == 0) {
		struct timespec ms = {0, 1000000};

		assert_true(now_s() - t0 < 5.0);
		nanosleep(&ms, NULL);
	}

	/* The next call gets its own answer, not the late one. */
	assert_int_equal(pthread_create(&th, NULL, responder_run, &r), 0);
	assert_int_equal(dbclient_call(f->c, "ping", NULL, &result, 2000, NULL),
	                 200);
	pthread_join(th, NULL);
	assert_string_equal(json_string_value(result), "mine");
	json_decref(result);
	fx_free(f);
}

static void
test_dbclient_call_on_a_full_ring_answers_503_quickly(void **state)
{
	struct fixture *f = fx_new(RING_MIN_SIZE);
	char filler[512];
	json_t *result = NULL;
	double t0;

	memset(filler, 'x', sizeof(filler));
	while (msg_send(f->req, DBMSG_QUERY, SHM_PROC_API, 1, filler,
	                sizeof(filler)) == 0) {
	}
	/* Then the smallest messages, until not even one fits. */
	while (msg_send(f->req, DBMSG_QUERY, SHM_PROC_API, 1, NULL, 0) == 0) {
	}
	t0 = now_s();
	assert_int_equal(dbclient_call(f->c, "ping", NULL, &result, 1000, NULL),
	                 503);
	/* The bounded wait for space, not the whole call timeout. */
	assert_true(now_s() - t0 < 0.5);
	json_decref(result);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dbclient_frame_is_compact_op_and_args),
	    cmocka_unit_test(test_dbclient_call_without_client_answers_503),
	    cmocka_unit_test(test_dbclient_call_returns_the_result_and_timing),
	    cmocka_unit_test(test_dbclient_call_error_becomes_message),
	    cmocka_unit_test(
	        test_dbclient_call_times_out_and_drops_the_late_answer),
	    cmocka_unit_test(
	        test_dbclient_call_on_a_full_ring_answers_503_quickly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
