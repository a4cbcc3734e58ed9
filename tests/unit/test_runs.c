/*
 * Unit tests for shm/runs.c: the shared table of trace runs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/runs.h"

static void
test_runs_alloc_until_full_then_reuse_only_uploaded(void **state)
{
	struct runs *t = runs_create(3);
	uint64_t ids[3], id;
	int slots[3];

	assert_non_null(t);
	assert_ptr_equal(runs_shared(), t);
	for (int i = 0; i < 3; i++) {
		slots[i] = runs_alloc(t, i,
		                      i == 0   ? "/a"
		                      : i == 1 ? "/b"
		                               : "/c",
		                      "{}", 10, &ids[i]);
		assert_true(slots[i] >= 0);
	}
	assert_true(ids[0] != ids[1] && ids[1] != ids[2]);
	assert_int_equal(runs_alloc(t, 0, "/d", "{}", 10, &id), -1);
	/* Finished but not delivered: the slot is not free yet. */
	atomic_store(&t->slots[slots[1]].state, RUNS_FINISHED);
	assert_int_equal(runs_alloc(t, 0, "/d", "{}", 10, &id), -1);
	atomic_store(&t->slots[slots[1]].uploaded, 1);
	assert_int_equal(runs_alloc(t, 0, "/d", "{}", 10, &id), slots[1]);
	assert_true(id > ids[2]);
	/* The old run id no longer names the slot. */
	assert_null(runs_slot_of(t, (unsigned)slots[1], ids[1]));
	assert_non_null(runs_slot_of(t, (unsigned)slots[1], id));
	assert_int_equal(runs_find(t, "/d"), slots[1]);
	assert_int_equal(runs_find(t, "/b"), -1);
	runs_destroy(t);
}

static void
test_runs_read_copies_a_slot(void **state)
{
	struct runs *t = runs_create(4);
	struct runs_view v;
	uint64_t id;
	int s;

	s = runs_alloc(t, 2, "/x.trace", "{\"process\":\"/bin/true\"}", 30,
	               &id);
	atomic_store(&t->slots[s].events, 7);
	atomic_store(&t->slots[s].chunks_acked, 3);
	assert_int_equal(runs_read(t, (unsigned)s, &v), 0);
	assert_string_equal(v.path, "/x.trace");
	assert_string_equal(v.info, "{\"process\":\"/bin/true\"}");
	assert_int_equal(v.worker, 2);
	assert_int_equal(v.lasting, 30);
	assert_int_equal(v.events, 7);
	assert_int_equal(v.chunks_acked, 3);
	assert_string_equal(runs_state_name(v.state), "starting");
	/* A free slot reads as nothing. */
	assert_int_equal(runs_read(t, (unsigned)(s + 1) % 4, &v), -1);
	runs_destroy(t);
}

/* The mapping is shared: a child's stores are seen by the parent. */
static void
test_runs_shared_across_fork(void **state)
{
	struct runs *t = runs_create(2);
	uint64_t id;
	int s = runs_alloc(t, 0, "/f", "{}", 1, &id), st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		atomic_store(&t->slots[s].chunks_sent, 42);
		atomic_store(&t->slots[s].state, RUNS_RUNNING);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(atomic_load(&t->slots[s].chunks_sent), 42);
	assert_int_equal(atomic_load(&t->slots[s].state), RUNS_RUNNING);
	runs_destroy(t);
}

static json_t *
find_run(json_t *arr, uint64_t id)
{
	json_t *r;
	size_t i;

	json_array_foreach(arr, i, r)
	{
		if ((uint64_t)json_integer_value(
		        json_object_get(r, "run_id")) == id) {
			return r;
		}
	}
	return NULL;
}

static void
test_runs_json_lists_the_slots_in_use(void **state)
{
	struct runs *t = runs_create(4);
	json_t *arr, *r;
	uint64_t a, b;
	int sa, sb;

	arr = runs_json(t);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);

	sa = runs_alloc(t, 1, "/a.trace", "{}", 30, &a);
	sb = runs_alloc(t, 0, "/b.trace", "{}", 5, &b);
	atomic_store(&t->slots[sa].pid, 4321);
	atomic_store(&t->slots[sa].bytes, 999);
	atomic_store(&t->slots[sa].state, RUNS_RUNNING);
	atomic_store(&t->slots[sb].chunks_sent, 3);
	atomic_store(&t->slots[sb].chunks_acked, 2);
	atomic_store(&t->slots[sb].code, -9);
	atomic_store(&t->slots[sb].state, RUNS_FAILED);
	arr = runs_json(t);
	assert_int_equal(json_array_size(arr), 2);

	r = find_run(arr, a);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "path")),
	                    "/a.trace");
	assert_string_equal(json_string_value(json_object_get(r, "worker")),
	                    "trace/1");
	assert_string_equal(json_string_value(json_object_get(r, "state")),
	                    "running");
	assert_int_equal(json_integer_value(json_object_get(r, "pid")), 4321);
	assert_true(json_is_null(json_object_get(r, "code")));
	assert_int_equal(json_integer_value(json_object_get(r, "bytes")), 999);
	assert_int_equal(json_integer_value(json_object_get(r, "slot")), sa);
	assert_true(json_integer_value(json_object_get(r, "started")) > 0);

	r = find_run(arr, b);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "state")),
	                    "failed");
	assert_true(json_is_null(json_object_get(r, "pid")));
	assert_int_equal(json_integer_value(json_object_get(r, "code")), -9);
	assert_int_equal(json_integer_value(json_object_get(r, "chunks_sent")),
	                 3);
	assert_int_equal(json_integer_value(json_object_get(r, "chunks_acked")),
	                 2);
	assert_true(json_is_false(json_object_get(r, "uploaded")));
	json_decref(arr);
	runs_destroy(t);
}

/* A slot whose writer is inside the sequence lock (as a claim is until
 * its strings are written) is left out, not shown half written. */
static void
test_runs_json_skips_a_slot_being_written(void **state)
{
	struct runs *t = runs_create(2);
	json_t *arr;
	uint64_t a, b;
	int sb;

	(void)runs_alloc(t, 0, "/a.trace", "{}", 1, &a);
	sb = runs_alloc(t, 0, "/b.trace", "{}", 1, &b);
	seqlock_write_begin(&t->slots[sb].lock);
	arr = runs_json(t);
	assert_int_equal(json_array_size(arr), 1);
	assert_non_null(find_run(arr, a));
	assert_null(find_run(arr, b));
	json_decref(arr);
	seqlock_write_end(&t->slots[sb].lock);
	arr = runs_json(t);
	assert_int_equal(json_array_size(arr), 2);
	json_decref(arr);
	runs_destroy(t);
}

/* The api died inside a claim: repair frees that slot (it was never a
 * run anyone knew), leaves the others alone, and the slot is claimable
 * again; a second repair finds nothing. */
static void
test_runs_repair_frees_a_slot_its_writer_died_in(void **state)
{
	struct runs *t = runs_create(2);
	struct runs_view v;
	uint64_t a, b, c;
	int sa, sb;

	sa = runs_alloc(t, 0, "/a.trace", "{}", 1, &a);
	sb = runs_alloc(t, 1, "/b.trace", "{}", 1, &b);
	seqlock_write_begin(&t->slots[sb].lock);
	assert_int_equal(runs_read(t, (unsigned)sb, &v), -1);
	assert_int_equal(runs_alloc(t, 0, "/c.trace", "{}", 1, &c), -1);
	assert_int_equal(runs_repair(t), 1);
	assert_int_equal(runs_read(t, (unsigned)sa, &v), 0);
	assert_true(v.run_id == a && strcmp(v.path, "/a.trace") == 0);
	assert_int_equal(runs_read(t, (unsigned)sb, &v), -1); /* free */
	assert_int_equal(runs_alloc(t, 0, "/c.trace", "{}", 1, &c), sb);
	assert_int_equal(runs_read(t, (unsigned)sb, &v), 0);
	assert_true(v.run_id == c && strcmp(v.path, "/c.trace") == 0);
	assert_int_equal(runs_repair(t), 0);
	runs_destroy(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_runs_alloc_until_full_then_reuse_only_uploaded),
	    cmocka_unit_test(test_runs_read_copies_a_slot),
	    cmocka_unit_test(test_runs_shared_across_fork),
	    cmocka_unit_test(test_runs_json_lists_the_slots_in_use),
	    cmocka_unit_test(test_runs_json_skips_a_slot_being_written),
	    cmocka_unit_test(test_runs_repair_frees_a_slot_its_writer_died_in),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
