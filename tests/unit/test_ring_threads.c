/*
 * Rings under threads: one producer and one consumer that sleep on the
 * eventfds, and several MP producers. Also run under ThreadSanitizer.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/ring.h"

#define TIMEOUT_MS 20000

struct item {
	uint32_t producer;
	uint32_t pad;
	uint64_t seq;
	uint64_t sum;
};

struct shared {
	struct ring_ctl *ctl;
	size_t len;
	int data_fd;
	int space_fd;
	uint64_t per_producer;
	uint32_t producers;
	_Atomic int failed;
};

struct producer_arg {
	struct shared *sh;
	struct ring *ring; /* MP: one handle shared by the threads */
	uint32_t id;
};

static uint64_t
item_sum(uint32_t producer, uint64_t seq)
{
	return (seq * 0x9e3779b97f4a7c15ull) ^ producer;
}

static uint64_t
env_count(uint64_t def)
{
	const char *s = getenv("RING_TEST_SCALE");

	return s != NULL ? def * strtoull(s, NULL, 10) / 100 : def;
}

static void *
producer(void *p)
{
	struct producer_arg *a = p;
	struct shared *sh = a->sh;
	struct ring local, *r = a->ring;
	struct item *it;
	void *rec;
	int rc;

	if (r == NULL) {
		r = &local;
		if (ring_attach(r, sh->ctl, sh->data_fd, sh->space_fd) < 0) {
			sh->failed = 1;
			return NULL;
		}
	}
	for (uint64_t seq = 0; seq < sh->per_producer; seq++) {
		/* Vary the size so records straddle the end. */
		uint32_t len = sizeof(*it) + (uint32_t)(seq % 5) * 24;

		while ((rc = ring_reserve(r, len, &rec)) == -EAGAIN) {
			if (ring_wait_space(r, len, TIMEOUT_MS) < 0) {
				sh->failed = 1;
				return NULL;
			}
		}
		if (rc < 0) {
			sh->failed = 1;
			return NULL;
		}
		it = rec;
		it->producer = a->id;
		it->seq = seq;
		it->sum = item_sum(a->id, seq);
		ring_commit(r, rec);
	}
	return NULL;
}

static void
consume(struct shared *sh)
{
	uint64_t total = sh->per_producer * sh->producers, got = 0;
	uint64_t *next = calloc(sh->producers, sizeof(*next));
	struct ring_rec recs[32];
	const struct item *it;
	struct ring r;
	size_t n;

	assert_non_null(next);
	assert_int_equal(ring_attach(&r, sh->ctl, sh->data_fd, sh->space_fd),
	                 0);
	while (got < total) {
		n = ring_peek_batch(&r, recs, 32);
		if (n == 0) {
			assert_int_equal(ring_wait_data(&r, TIMEOUT_MS), 0);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			it = recs[i].data;
			assert_true(it->producer < sh->producers);
			assert_int_equal(it->seq, next[it->producer]);
			assert_int_equal(it->sum,
			                 item_sum(it->producer, it->seq));
			next[it->producer]++;
		}
		ring_release(&r, &recs[n - 1]);
		got += n;
	}
	assert_int_equal(atomic_load(&sh->ctl->records_out), total);
	assert_int_equal(atomic_load(&sh->ctl->records_in), total);
	free(next);
}

static void
run(uint32_t producers, uint32_t flags, uint64_t per_producer)
{
	struct shared sh = {.per_producer = per_producer,
	                    .producers = producers};
	struct producer_arg args[8];
	pthread_t th[8];
	struct ring mp;

	sh.len = ring_footprint(8192);
	sh.ctl = mmap(NULL, sh.len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh.ctl != MAP_FAILED);
	assert_int_equal(ring_init(sh.ctl, 8192, flags), 0);
	sh.data_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sh.space_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC |
	                             ((flags & RING_MP) ? EFD_SEMAPHORE : 0));
	assert_int_equal(ring_attach(&mp, sh.ctl, sh.data_fd, sh.space_fd), 0);
	for (uint32_t i = 0; i < producers; i++) {
		args[i] = (struct producer_arg){
		    .sh = &sh, .ring = (flags & RING_MP) ? &mp : NULL, .id = i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, producer, &args[i]), 0);
	}
	consume(&sh);
	for (uint32_t i = 0; i < producers; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(sh.failed, 0);
	assert_int_equal(ring_used(&mp), 0);
	close(sh.data_fd);
	close(sh.space_fd);
	munmap(sh.ctl, sh.len);
}

static void
test_ring_sp_thread_pair_with_sleeps(void **state)
{
	run(1, 0, env_count(300000));
}

static void
test_ring_mp_threads_keep_per_producer_order(void **state)
{
	run(4, RING_MP, env_count(100000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_sp_thread_pair_with_sleeps),
	    cmocka_unit_test(test_ring_mp_threads_keep_per_producer_order),
	};

	/* A hang fails the test instead of blocking make check. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
