/*
 * Unit tests for shm/stats.c, shm/stats_read.c and shm/seqlock.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "shm/stats.h"

static struct stats_page *
page_new(void)
{
	struct stats_page *p = aligned_alloc(64, STATS_PAGE_DEFAULT);

	assert_non_null(p);
	assert_int_equal(stats_page_init(p, STATS_PAGE_DEFAULT, "api"), 0);
	assert_int_equal(stats_page_check(p, STATS_PAGE_DEFAULT), 0);
	return p;
}

static void
test_stats_buckets_cover_values_within_an_eighth(void **state)
{
	unsigned last = 0;

	for (uint64_t v = 0; v < 100000; v++) {
		unsigned b = stats_bucket(v);

		assert_true(b >= last);
		assert_true(stats_bucket_high(b) >= v);
		assert_true(stats_bucket_high(b) - v <= v / 8);
		last = b;
	}
	assert_int_equal(stats_bucket(UINT64_MAX), STATS_HIST_BUCKETS - 1);
	assert_true(stats_bucket_high(STATS_HIST_BUCKETS - 1) == UINT64_MAX);
	for (unsigned i = 0; i + 1 < STATS_HIST_BUCKETS; i++) {
		assert_int_equal(stats_bucket(stats_bucket_high(i)), i);
		assert_int_equal(stats_bucket(stats_bucket_high(i) + 1), i + 1);
	}
}

static void
test_stats_register_is_idempotent_and_checked(void **state)
{
	struct stats_page *p = page_new();
	char name[32];
	int a, b, n;

	a = stats_register(p, "requests", STATS_COUNTER, "1", "HTTP requests");
	assert_true(a >= 0);
	b = stats_register(p, "latency", STATS_HISTOGRAM, "ns", "latency");
	assert_true(b >= 0 && b != a);
	/* A restarted owner gets its metric back. */
	assert_int_equal(stats_register(p, "requests", STATS_COUNTER, "1", ""),
	                 a);
	assert_int_equal(stats_register(p, "requests", STATS_GAUGE, "1", ""),
	                 -EEXIST);
	assert_int_equal(stats_register(p, "", STATS_COUNTER, "", ""), -EINVAL);
	memset(name, 'x', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(stats_register(p, "bad", (enum stats_type)9, "", ""),
	                 -EINVAL);
	/* Histograms fill the page long before the descriptors run out. */
	for (n = 0; n < STATS_MAX_METRICS; n++) {
		snprintf(name, sizeof(name), "h%d", n);
		if (stats_register(p, name, STATS_HISTOGRAM, "ns", "") < 0) {
			break;
		}
	}
	assert_true(n > 8 && n < STATS_MAX_METRICS);
	assert_int_equal(stats_register(p, "more", STATS_HISTOGRAM, "", ""),
	                 -ENOSPC);
	/* Updates through a failed id are no-ops, not crashes. */
	stats_add(p, -ENOSPC, 1);
	stats_observe(p, a, 5);
	free(p);
}

static void
test_stats_quantiles_of_uniform_values(void **state)
{
	struct stats_page *p = page_new();
	struct stats_snapshot *s;
	const struct stats_hist_snap *h;
	int id = stats_register(p, "lat", STATS_HISTOGRAM, "us", "");

	for (uint64_t v = 1; v <= 10000; v++) {
		stats_observe(p, id, v);
	}
	assert_int_equal(stats_snapshot(p, &s), 0);
	h = &s->values[id].hist;
	assert_int_equal(h->count, 10000);
	assert_int_equal(h->sum, 10000ull * 10001 / 2);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 10000);
	assert_in_range(stats_quantile(h, 0.50), 5000, 5000 + 5000 / 8);
	assert_in_range(stats_quantile(h, 0.90), 9000, 9000 + 9000 / 8);
	assert_in_range(stats_quantile(h, 0.99), 9900, 10000);
	assert_in_range(stats_quantile(h, 0.999), 9990, 10000);
	assert_int_equal(stats_quantile(h, 1.0), 10000);
	assert_int_equal(stats_quantile(h, 0.0), 1);
	stats_snapshot_free(s);
	free(p);
}

static void
test_stats_json_shows_every_metric(void **state)
{
	struct stats_page *p = page_new();
	int c = stats_register(p, "chunks", STATS_COUNTER, "1", "chunks sent");
	int g = stats_register(p, "inflight", STATS_GAUGE, "1", "in flight");
	int h = stats_register(p, "rtt", STATS_HISTOGRAM, "ns", "round trip");
	json_t *j, *m;

	stats_add(p, c, 3);
	stats_add(p, c, 4);
	stats_gauge_set(p, g, 10);
	stats_gauge_add(p, g, -12);
	stats_observe(p, h, 1000);
	j = stats_json(p);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "process")),
	                    "api");
	m = json_object_get(j, "metrics");
	assert_int_equal(json_array_size(m), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(m, 0), "value")),
	    7);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(m, 1), "value")),
	    -2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(m, 2), "description")),
	                    "round trip");
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(m, 2), "p99")),
	    1000);
	assert_true(
	    json_is_true(json_object_get(json_array_get(m, 2), "consistent")));
	json_decref(j);
	free(p);
}

static void
test_stats_dead_writer_is_reported_then_repaired(void **state)
{
	struct stats_page *p = page_new();
	int id = stats_register(p, "lat", STATS_HISTOGRAM, "ns", "");
	struct stats_hist *h =
	    (struct stats_hist *)((char *)p + p->descs[id].offset);
	struct stats_snapshot *s;

	stats_observe(p, id, 5);
	/* The owner was killed inside a write. */
	seqlock_write_begin(&h->lock);
	assert_int_equal(stats_snapshot(p, &s), 0);
	assert_int_equal(s->values[id].consistent, 0);
	stats_snapshot_free(s);
	stats_page_repair(p);
	assert_int_equal(stats_snapshot(p, &s), 0);
	assert_int_equal(s->values[id].consistent, 1);
	assert_int_equal(s->values[id].hist.count, 1);
	stats_snapshot_free(s);
	free(p);
}

struct writer {
	struct stats_page *p;
	int id;
	_Atomic int *stop;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t v = 1;

	while (!atomic_load(w->stop)) {
		stats_observe(w->p, w->id, v);
		v = v * 7 % 100003;
	}
	return NULL;
}

static void
test_stats_snapshots_are_consistent_under_concurrent_writers(void **state)
{
	struct stats_page *p = page_new();
	int id = stats_register(p, "lat", STATS_HISTOGRAM, "ns", "");
	_Atomic int stop = 0;
	struct writer w = {.p = p, .id = id, .stop = &stop};
	pthread_t th[2];
	int ok = 0;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w),
		                 0);
	}
	for (int round = 0; round < 2000; round++) {
		struct stats_snapshot *s;
		uint64_t sum = 0;

		assert_int_equal(stats_snapshot(p, &s), 0);
		if (s->values[id].consistent) {
			for (int b = 0; b < STATS_HIST_BUCKETS; b++) {
				sum += s->values[id].hist.buckets[b];
			}
			assert_int_equal(sum, s->values[id].hist.count);
			ok++;
		}
		stats_snapshot_free(s);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	assert_true(ok > 0);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stats_buckets_cover_values_within_an_eighth),
	    cmocka_unit_test(test_stats_register_is_idempotent_and_checked),
	    cmocka_unit_test(test_stats_quantiles_of_uniform_values),
	    cmocka_unit_test(test_stats_json_shows_every_metric),
	    cmocka_unit_test(test_stats_dead_writer_is_reported_then_repaired),
	    cmocka_unit_test(
	        test_stats_snapshots_are_consistent_under_concurrent_writers),
	};

	/* A hang fails the test instead of blocking make check. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
