/*
 * Sequence lock for data in shared memory that one process writes (from
 * one or several of its threads) and other processes read.
 *
 * Two counters instead of one, so that writers on several threads need no
 * lock among themselves: a writer increments begin, writes, increments
 * end. A reader that saw end == begin before reading and the same begin
 * after read data no writer touched. The data itself must be read and
 * written with relaxed atomics (no torn words, no data race).
 *
 * Ordering: writer: begin++ ; release fence ; data stores ; end++ (release).
 * Reader: end (acquire) ; begin ; data loads ; acquire fence ; begin again.
 * If a data load saw a store of a writer not finished at the first check,
 * the fences make the second load of begin see that writer's increment.
 *
 * A writer killed between begin and end leaves the lock "held" forever:
 * readers give up after a bounded number of tries, and the supervisor calls
 * seqlock_repair when it reaps the owner.
 */
#ifndef PROBED_SHM_SEQLOCK_H
#define PROBED_SHM_SEQLOCK_H

#include <stdatomic.h>
#include <stdint.h>

struct seqlock {
	_Atomic uint64_t begin;
	_Atomic uint64_t end;
};

#define SEQLOCK_READ_TRIES 10000

/* GCC's ThreadSanitizer does not model fences and warns; the data under a
 * seqlock is atomic anyway, so TSan sees no race either way. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif

static inline void
seqlock_write_begin(struct seqlock *s)
{
	atomic_fetch_add_explicit(&s->begin, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static inline void
seqlock_write_end(struct seqlock *s)
{
	atomic_fetch_add_explicit(&s->end, 1, memory_order_release);
}

/* Returns 0 and the ticket to pass to seqlock_read_retry, or -1 while a
 * writer is inside. */
static inline int
seqlock_read_begin(const struct seqlock *s, uint64_t *ticket)
{
	struct seqlock *m = (struct seqlock *)s;
	uint64_t e = atomic_load_explicit(&m->end, memory_order_acquire);
	uint64_t b = atomic_load_explicit(&m->begin, memory_order_relaxed);

	*ticket = b;
	return b == e ? 0 : -1;
}

/* Nonzero: a writer ran meanwhile, read again. */
static inline int
seqlock_read_retry(const struct seqlock *s, uint64_t ticket)
{
	struct seqlock *m = (struct seqlock *)s;

	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&m->begin, memory_order_relaxed) != ticket;
}

/* The owner is dead: whatever it was writing is as done as it will get. */
static inline void
seqlock_repair(struct seqlock *s)
{
	atomic_store_explicit(
	    &s->end, atomic_load_explicit(&s->begin, memory_order_relaxed),
	    memory_order_release);
}

#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
