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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_runs_alloc_until_full_then_reuse_only_uploaded),
	    cmocka_unit_test(test_runs_read_copies_a_slot),
	    cmocka_unit_test(test_runs_shared_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
