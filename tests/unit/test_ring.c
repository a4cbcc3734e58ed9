/*
 * Unit tests for shm/ring.c and shm/msg.c, in one process (threads stand in
 * for processes; the multi-process tests are tests/integration/ring_*).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/msg.h"
#include "shm/ring.h"

struct fixture {
	struct ring_ctl *ctl;
	size_t len;
	struct ring prod;
	struct ring cons;
	int data_fd;
	int space_fd;
};

static struct fixture *
fixture_new(uint64_t size, uint32_t flags)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->len = ring_footprint(size);
	f->ctl = mmap(NULL, f->len, PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(f->ctl != MAP_FAILED);
	assert_int_equal(ring_init(f->ctl, size, flags), 0);
	f->data_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->space_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC |
	                             ((flags & RING_MP) ? EFD_SEMAPHORE : 0));
	assert_true(f->data_fd >= 0 && f->space_fd >= 0);
	assert_int_equal(ring_attach(&f->prod, f->ctl, f->data_fd, f->space_fd),
	                 0);
	assert_int_equal(ring_attach(&f->cons, f->ctl, f->data_fd, f->space_fd),
	                 0);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	munmap(f->ctl, f->len);
	close(f->data_fd);
	close(f->space_fd);
	free(f);
}

static void
fill(void *p, uint32_t len, uint32_t seed)
{
	uint8_t *b = p;

	for (uint32_t i = 0; i < len; i++) {
		b[i] = (uint8_t)(seed * 31 + i);
	}
}

static int
check(const void *p, uint32_t len, uint32_t seed)
{
	const uint8_t *b = p;

	for (uint32_t i = 0; i < len; i++) {
		if (b[i] != (uint8_t)(seed * 31 + i)) {
			return 0;
		}
	}
	return 1;
}

static void
put(struct ring *r, uint32_t len, uint32_t seed)
{
	void *p;

	assert_int_equal(ring_reserve(r, len, &p), 0);
	fill(p, len, seed);
	ring_commit(r, p);
}

static void
get(struct ring *r, uint32_t len, uint32_t seed)
{
	struct ring_rec rec;

	assert_int_equal(ring_peek(r, &rec), 0);
	assert_int_equal(rec.len, len);
	assert_true(check(rec.data, len, seed));
	ring_release(r, &rec);
}

static void
test_ring_empty_peek_returns_eagain(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;

	assert_int_equal(ring_peek(&f->cons, &rec), -EAGAIN);
	assert_int_equal(ring_used(&f->cons), 0);
	put(&f->prod, 10, 1);
	get(&f->cons, 10, 1);
	assert_int_equal(ring_peek(&f->cons, &rec), -EAGAIN);
	assert_int_equal(ring_used(&f->cons), 0);
	fixture_free(f);
}

static void
test_ring_zero_length_record_is_delivered(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;
	void *p;

	assert_int_equal(ring_reserve(&f->prod, 0, &p), 0);
	ring_commit(&f->prod, p);
	assert_int_equal(ring_used(&f->prod), 8);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(rec.len, 0);
	ring_release(&f->cons, &rec);
	assert_int_equal(ring_used(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_records_are_8_byte_aligned(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	uint64_t used = 0;
	void *p;

	for (uint32_t len = 0; len < 40; len++) {
		assert_int_equal(ring_reserve(&f->prod, len, &p), 0);
		assert_int_equal((uintptr_t)p % 8, 0);
		fill(p, len, len);
		ring_commit(&f->prod, p);
		used += 8 + ((len + 7) / 8) * 8;
		assert_int_equal(ring_used(&f->prod), used);
	}
	for (uint32_t len = 0; len < 40; len++) {
		get(&f->cons, len, len);
	}
	fixture_free(f);
}

static void
test_ring_exactly_full_then_one_more_fits_after_release(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;
	void *p;

	/* 64 records of 56 + 8 bytes are exactly 4096. */
	for (uint32_t i = 0; i < 64; i++) {
		put(&f->prod, 56, i);
	}
	assert_int_equal(ring_used(&f->prod), 4096);
	assert_int_equal(ring_reserve(&f->prod, 0, &p), -EAGAIN);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(ring_reserve(&f->prod, 0, &p), -EAGAIN);
	ring_release(&f->cons, &rec);
	put(&f->prod, 56, 64);
	for (uint32_t i = 1; i <= 64; i++) {
		get(&f->cons, 56, i);
	}
	assert_int_equal(ring_used(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_largest_record_fits_at_every_offset(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	uint32_t max = ring_max_record(&f->prod);
	void *p;

	assert_int_equal(max, 4096 / 2 - 8);
	assert_int_equal(ring_reserve(&f->prod, max + 1, &p), -EMSGSIZE);
	assert_int_equal(ring_reserve(&f->prod, UINT32_MAX, &p), -EMSGSIZE);
	for (uint32_t off = 0; off < 4096; off += 8) {
		/* Drained ring with the head at off. */
		put(&f->prod, max, off);
		get(&f->cons, max, off);
		if (off > 0) {
			put(&f->prod, 0, 0);
			get(&f->cons, 0, 0);
		}
	}
	fixture_free(f);
}

static void
test_ring_record_straddling_end_gets_padding(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;

	/* Head at 4096 - 16: a 64-byte record would straddle the end. */
	put(&f->prod, 2040, 0);
	put(&f->prod, 2024, 1);
	get(&f->cons, 2040, 0);
	get(&f->cons, 2024, 1);
	assert_int_equal(f->ctl->head, 4096 - 16);
	put(&f->prod, 64, 2);
	/* 16 bytes of padding plus the record at offset 0. */
	assert_int_equal(f->ctl->head, 4096 + 72);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(rec.len, 64);
	assert_ptr_equal(rec.data, (uint8_t *)(f->ctl + 1) + 8);
	assert_true(check(rec.data, 64, 2));
	ring_release(&f->cons, &rec);
	assert_int_equal(ring_used(&f->prod), 0);
	assert_int_equal(f->ctl->records_out, 3);
	fixture_free(f);
}

static void
test_ring_wraparound_keeps_order_and_content(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	uint32_t next_put = 0, next_get = 0, lens = 0;
	struct ring_rec rec;
	void *p;

	while (next_get < 20000) {
		uint32_t len = (next_put * 37) % 700;

		int full = ring_reserve(&f->prod, len, &p) < 0;

		if (!full) {
			fill(p, len, next_put);
			ring_commit(&f->prod, p);
			next_put++;
		}
		/* Consume in bursts so the ring is often nearly full. */
		if (full || next_put % 7 == 0) {
			while (ring_peek(&f->cons, &rec) == 0) {
				lens = (next_get * 37) % 700;
				assert_int_equal(rec.len, lens);
				assert_true(check(rec.data, lens, next_get));
				ring_release(&f->cons, &rec);
				next_get++;
			}
		}
	}
	assert_true(f->ctl->head > 10 * 4096);
	assert_int_equal(f->ctl->records_in, next_put);
	assert_int_equal(f->ctl->records_out, next_get);
	fixture_free(f);
}

static void
test_ring_discarded_record_is_skipped_and_counted(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	void *p;

	put(&f->prod, 5, 1);
	assert_int_equal(ring_reserve(&f->prod, 100, &p), 0);
	ring_discard(&f->prod, p);
	put(&f->prod, 7, 3);
	get(&f->cons, 5, 1);
	get(&f->cons, 7, 3);
	assert_int_equal(f->ctl->discards, 1);
	assert_int_equal(ring_used(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_busy_record_blocks_consumer_until_commit(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;
	void *p;

	assert_int_equal(ring_reserve(&f->prod, 16, &p), 0);
	put(&f->prod, 8, 2);
	assert_int_equal(ring_peek(&f->cons, &rec), -EAGAIN);
	fill(p, 16, 1);
	ring_commit(&f->prod, p);
	get(&f->cons, 16, 1);
	get(&f->cons, 8, 2);
	fixture_free(f);
}

static void
test_ring_held_records_are_redelivered_to_a_new_consumer(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec recs[4];
	struct ring again;

	for (uint32_t i = 0; i < 4; i++) {
		put(&f->prod, 20, i);
	}
	assert_int_equal(ring_peek_batch(&f->cons, recs, 4), 4);
	ring_release(&f->cons, &recs[1]);
	assert_int_equal(f->ctl->records_out, 2);
	/* The consumer "dies" holding records 2 and 3. */
	assert_int_equal(ring_attach(&again, f->ctl, -1, -1), 0);
	ring_consumer_resume(&again);
	get(&again, 20, 2);
	get(&again, 20, 3);
	assert_int_equal(f->ctl->records_out, 4);
	assert_int_equal(ring_used(&again), 0);
	fixture_free(f);
}

static void
test_ring_release_all_frees_trailing_discards(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;
	void *p;

	put(&f->prod, 8, 1);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(ring_reserve(&f->prod, 1000, &p), 0);
	ring_discard(&f->prod, p);
	assert_int_equal(ring_peek(&f->cons, &rec), -EAGAIN);
	ring_release_all(&f->cons);
	assert_int_equal(ring_used(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_release_ignores_a_reused_ordinal(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec recs[3];

	for (uint32_t i = 0; i < 3; i++) {
		put(&f->prod, 20, i);
	}
	assert_int_equal(ring_peek_batch(&f->cons, recs, 3), 3);
	/* Callers may keep their own data in ordinal (the uploader does). */
	for (int i = 0; i < 3; i++) {
		recs[i].ordinal = 7ull << 48;
	}
	ring_release(&f->cons, &recs[0]);
	assert_int_equal(f->ctl->records_out, 1);
	ring_release(&f->cons, &recs[2]);
	assert_int_equal(f->ctl->records_out, 3);
	/* Releasing an older record again changes nothing. */
	ring_release(&f->cons, &recs[1]);
	assert_int_equal(f->ctl->records_out, 3);
	assert_int_equal(ring_used(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_repair_discards_dead_producer_records(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	void *p;

	put(&f->prod, 8, 1);
	assert_int_equal(ring_reserve(&f->prod, 30, &p), 0);
	fill(p, 15, 2); /* dies half-way through its payload */
	put(&f->prod, 8, 3);
	assert_int_equal(ring_reserve(&f->prod, 30, &p), 0);
	assert_int_equal(ring_repair(&f->prod), 2);
	assert_int_equal(f->ctl->discards, 2);
	get(&f->cons, 8, 1);
	get(&f->cons, 8, 3);
	/* The trailing discard is freed when the consumer walks past it. */
	assert_int_equal(ring_peek(&f->cons, &(struct ring_rec){0}), -EAGAIN);
	assert_int_equal(ring_used(&f->prod), 0);
	/* A second repair finds nothing. */
	assert_int_equal(ring_repair(&f->prod), 0);
	fixture_free(f);
}

static void
test_ring_repair_fills_unwritten_mp_claims(void **state)
{
	struct fixture *f = fixture_new(4096, RING_MP);
	void *p;

	put(&f->prod, 8, 1);
	/* A thread claimed 48 bytes and died before writing its header. */
	atomic_fetch_add(&f->ctl->head, 48);
	put(&f->prod, 8, 2);
	/* Two adjacent unwritten claims, then a BUSY one. */
	atomic_fetch_add(&f->ctl->head, 16);
	atomic_fetch_add(&f->ctl->head, 24);
	assert_int_equal(ring_reserve(&f->prod, 8, &p), 0);
	assert_int_equal(ring_repair(&f->prod), 3);
	get(&f->cons, 8, 1);
	get(&f->cons, 8, 2);
	assert_int_equal(ring_peek(&f->cons, &(struct ring_rec){0}), -EAGAIN);
	assert_int_equal(ring_used(&f->prod), 0);
	/* Released space is zero again: the MP invariant holds. */
	for (size_t i = 0; i < 4096; i++) {
		assert_int_equal(((uint8_t *)(f->ctl + 1))[i], 0);
	}
	fixture_free(f);
}

static void
test_ring_resume_finishes_half_done_mp_release(void **state)
{
	struct fixture *f = fixture_new(4096, RING_MP);
	struct ring again;

	put(&f->prod, 8, 1);
	put(&f->prod, 8, 2);
	put(&f->prod, 8, 3);
	/* A consumer announced a release of two records and died zeroing
	 * the first header. */
	atomic_store(&f->ctl->clear_to, 32);
	memset(f->ctl + 1, 0, 8);
	assert_int_equal(ring_repair(&f->prod), 0);
	assert_int_equal(ring_attach(&again, f->ctl, -1, -1), 0);
	ring_consumer_resume(&again);
	assert_int_equal(f->ctl->tail, 32);
	get(&again, 8, 3);
	fixture_free(f);
}

static void
test_ring_wakeup_only_when_flagged(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct pollfd pfd = {.fd = f->data_fd, .events = POLLIN};
	struct ring_rec rec;

	put(&f->prod, 8, 1);
	assert_int_equal(f->ctl->consumer_wakeups, 0);
	assert_int_equal(ring_consumer_prepare_wait(&f->cons), 0);
	get(&f->cons, 8, 1);
	assert_int_equal(ring_consumer_prepare_wait(&f->cons), 1);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	put(&f->prod, 8, 2);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(f->ctl->consumer_wakeups, 1);
	ring_consumer_woken(&f->cons);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	put(&f->prod, 8, 3);
	assert_int_equal(f->ctl->consumer_wakeups, 1);
	assert_int_equal(ring_wait_data(&f->cons, 0), 0);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	fixture_free(f);
}

static void
test_ring_mp_wakes_every_sleeping_producer(void **state)
{
	struct fixture *f = fixture_new(4096, RING_MP);
	struct ring_rec rec;
	eventfd_t v;

	for (uint32_t i = 0; i < 64; i++) {
		put(&f->prod, 56, i);
	}
	/* Three producer threads go to sleep on the full ring. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ring_producer_prepare_wait(&f->prod, 8), 1);
	}
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	ring_release(&f->cons, &rec);
	/* One token each: none of them is left to the 100 ms poll cap. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(eventfd_read(f->space_fd, &v), 0);
		assert_int_equal(v, 1);
	}
	assert_int_equal(eventfd_read(f->space_fd, &v), -1);
	assert_int_equal(f->ctl->producer_waiting, 0);
	fixture_free(f);
}

static void
test_ring_wait_times_out(void **state)
{
	struct fixture *f = fixture_new(4096, 0);

	assert_int_equal(ring_wait_data(&f->cons, 20), -ETIMEDOUT);
	for (uint32_t i = 0; i < 64; i++) {
		put(&f->prod, 56, i);
	}
	assert_int_equal(ring_wait_space(&f->prod, 8, 20), -ETIMEDOUT);
	assert_int_equal(f->ctl->producer_waits, 1);
	fixture_free(f);
}

static void
test_msg_roundtrip(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	struct ring_rec rec;
	struct msg m;

	assert_int_equal(msg_send(&f->prod, 7, 3, 0x1234567890ull, "hello", 5),
	                 0);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(msg_parse(&rec, &m), 0);
	assert_int_equal(m.type, 7);
	assert_int_equal(m.sender, 3);
	assert_int_equal(m.corr, 0x1234567890ull);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.payload, "hello", 5);
	ring_release(&f->cons, &rec);
	fixture_free(f);
}

static void
test_msg_rejects_oversize_and_malformed(void **state)
{
	struct fixture *f = fixture_new(4096, 0);
	uint32_t max = msg_max_payload(&f->prod);
	struct ring_rec rec;
	struct msg m;
	void *p;

	assert_int_equal(msg_reserve(&f->prod, 1, 0, 0, max + 1, &p),
	                 -EMSGSIZE);
	assert_int_equal(msg_reserve(&f->prod, 1, 0, 0, max, &p), 0);
	msg_discard(&f->prod, p);
	put(&f->prod, 4, 1);
	assert_int_equal(ring_peek(&f->cons, &rec), 0);
	assert_int_equal(msg_parse(&rec, &m), -EBADMSG);
	fixture_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_empty_peek_returns_eagain),
	    cmocka_unit_test(test_ring_zero_length_record_is_delivered),
	    cmocka_unit_test(test_ring_records_are_8_byte_aligned),
	    cmocka_unit_test(
	        test_ring_exactly_full_then_one_more_fits_after_release),
	    cmocka_unit_test(test_ring_largest_record_fits_at_every_offset),
	    cmocka_unit_test(test_ring_record_straddling_end_gets_padding),
	    cmocka_unit_test(test_ring_wraparound_keeps_order_and_content),
	    cmocka_unit_test(test_ring_discarded_record_is_skipped_and_counted),
	    cmocka_unit_test(
	        test_ring_busy_record_blocks_consumer_until_commit),
	    cmocka_unit_test(
	        test_ring_held_records_are_redelivered_to_a_new_consumer),
	    cmocka_unit_test(test_ring_release_all_frees_trailing_discards),
	    cmocka_unit_test(test_ring_release_ignores_a_reused_ordinal),
	    cmocka_unit_test(test_ring_repair_discards_dead_producer_records),
	    cmocka_unit_test(test_ring_repair_fills_unwritten_mp_claims),
	    cmocka_unit_test(test_ring_resume_finishes_half_done_mp_release),
	    cmocka_unit_test(test_ring_wakeup_only_when_flagged),
	    cmocka_unit_test(test_ring_mp_wakes_every_sleeping_producer),
	    cmocka_unit_test(test_ring_wait_times_out),
	    cmocka_unit_test(test_msg_roundtrip),
	    cmocka_unit_test(test_msg_rejects_oversize_and_malformed),
	};

	/* A hang fails the test instead of blocking make check. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
