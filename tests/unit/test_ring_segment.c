/*
 * Unit tests for shm/segment.c and shm/segment_ops.c.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/segment.h"

static struct shm_segment *
segment_new(int n_trace)
{
	struct shm_params p = {.n_trace = n_trace};
	struct shm_segment *seg = shm_segment_create(&p);

	assert_non_null(seg);
	return seg;
}

static void
test_ring_segment_layout_and_lookups(void **state)
{
	struct shm_segment *seg = segment_new(2);
	const struct shm_ring_desc *d;

	assert_int_equal(shm_segment_attach(seg, SHM_PROC_UPLOADER), 0);
	assert_int_equal(seg->n_rings, 6);
	assert_int_equal(shm_proc_count(seg), 6);
	assert_string_equal(shm_proc_name(seg, SHM_PROC_TRACE0 + 1), "trace/1");
	assert_null(shm_proc_name(seg, 6));
	d = shm_segment_ring_desc(seg, SHM_RING_CHUNK, 1);
	assert_string_equal(d->name, "chunk/1");
	assert_int_equal(d->size, SHM_CHUNK_RING_DEFAULT);
	assert_int_equal(d->producer, SHM_PROC_TRACE0 + 1);
	assert_int_equal(d->consumer, SHM_PROC_UPLOADER);
	assert_null(shm_segment_ring(seg, SHM_RING_CHUNK, 2));
	assert_null(shm_segment_ring(seg, SHM_RING_REQUEST, 1));
	d = shm_segment_ring_desc(seg, SHM_RING_REQUEST, 0);
	assert_string_equal(d->name, "request");
	assert_true(d->flags & RING_MP);
	assert_int_equal(d->size, SHM_RING_DEFAULT);
	d = shm_segment_ring_desc(seg, SHM_RING_COMMAND, 0);
	assert_string_equal(d->name, "command/0");
	assert_int_equal(d->consumer, SHM_PROC_TRACE0);
	assert_true(shm_segment_ring(seg, SHM_RING_RESPONSE, 0)->data_fd >= 0);
	assert_non_null(shm_segment_stats(seg, SHM_PROC_DB));
	shm_segment_destroy(seg);
}

static void
test_ring_segment_refuses_mismatched_header(void **state)
{
	struct shm_segment *seg = segment_new(1);

	seg->hdr->version++;
	assert_int_equal(shm_segment_attach(seg, SHM_PROC_API), -EINVAL);
	seg->hdr->version--;
	seg->hdr->magic ^= 1;
	assert_int_equal(shm_segment_check(seg->base, seg->size), -EINVAL);
	seg->hdr->magic ^= 1;
	assert_int_equal(shm_segment_check(seg->base, seg->size - 4096),
	                 -EINVAL);
	seg->hdr->rings[1].offset += 4096;
	assert_int_equal(shm_segment_check(seg->base, seg->size), -EINVAL);
	seg->hdr->rings[1].offset -= 4096;
	assert_int_equal(shm_segment_check(seg->base, seg->size), 0);
	assert_int_equal(shm_segment_attach(seg, 99), -EINVAL);
	shm_segment_destroy(seg);
}

static void
test_ring_segment_rejects_bad_params(void **state)
{
	struct shm_params p = {.n_trace = 1, .chunk_ring_bytes = 3000000};

	assert_null(shm_segment_create(&p));
	p.chunk_ring_bytes = 0;
	p.n_trace = SHM_MAX_TRACE + 1;
	assert_null(shm_segment_create(&p));
	p.n_trace = 0;
	p.stats_page_bytes = 1000;
	assert_null(shm_segment_create(&p));
}

static void
test_ring_segment_repair_after_producer_death(void **state)
{
	struct shm_segment *seg = segment_new(1);
	struct ring *r = shm_segment_ring(seg, SHM_RING_CHUNK, 0);
	struct ring_rec rec;
	json_t *j, *o;
	pid_t pid;
	int st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		void *p;

		/* trace/0: one record committed, one left half written. */
		if (ring_write(r, "chunk", 5) < 0 ||
		    ring_reserve(r, 100, &p) < 0) {
			_exit(1);
		}
		memset(p, 'x', 50);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(st, 0);
	assert_int_equal(shm_segment_repair_producer(seg, SHM_PROC_TRACE0), 1);
	assert_int_equal(shm_segment_attach(seg, SHM_PROC_UPLOADER), 0);
	assert_int_equal(ring_peek(r, &rec), 0);
	assert_memory_equal(rec.data, "chunk", 5);
	ring_release(r, &rec);
	assert_int_equal(ring_peek(r, &rec), -EAGAIN);
	shm_segment_repair_consumer(seg, SHM_PROC_UPLOADER);

	j = shm_segment_rings_json(seg);
	assert_int_equal(json_array_size(j), 4);
	o = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(o, "name")),
	                    "chunk/0");
	assert_string_equal(json_string_value(json_object_get(o, "producer")),
	                    "trace/0");
	assert_string_equal(json_string_value(json_object_get(o, "consumer")),
	                    "uploader");
	assert_int_equal(json_integer_value(json_object_get(o, "records_in")),
	                 1);
	assert_int_equal(json_integer_value(json_object_get(o, "records_out")),
	                 1);
	assert_int_equal(json_integer_value(json_object_get(o, "discards")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "used")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "size")),
	                 SHM_CHUNK_RING_DEFAULT);
	assert_non_null(json_object_get(o, "producer_waits"));
	assert_non_null(json_object_get(o, "consumer_wakeups"));
	json_decref(j);
	shm_segment_destroy(seg);
}

static void
test_ring_segment_stats_page_per_process(void **state)
{
	struct shm_segment *seg = segment_new(1);
	struct stats_page *p = shm_segment_stats(seg, SHM_PROC_TRACE0);
	int id = stats_register(p, "chunks", STATS_COUNTER, "1", "chunks");
	json_t *j;

	stats_add(p, id, 42);
	j = shm_stats_json(seg, SHM_PROC_TRACE0);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "process")),
	                    "trace/0");
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(j, "metrics"), 0), "value")),
	    42);
	json_decref(j);
	assert_null(shm_stats_json(seg, 5));
	shm_segment_destroy(seg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_segment_layout_and_lookups),
	    cmocka_unit_test(test_ring_segment_refuses_mismatched_header),
	    cmocka_unit_test(test_ring_segment_rejects_bad_params),
	    cmocka_unit_test(test_ring_segment_repair_after_producer_death),
	    cmocka_unit_test(test_ring_segment_stats_page_per_process),
	};

	/* A hang fails the test instead of blocking make check. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
