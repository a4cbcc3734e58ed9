/*
 * Internals shared by ring.c, ring_wait.c and ring_repair.c. Not for users
 * of rings: they include ring.h.
 */
#ifndef PROBED_SHM_RING_IMPL_H
#define PROBED_SHM_RING_IMPL_H

#include "shm/ring.h"

/* GCC's ThreadSanitizer does not model atomic_thread_fence and says so;
 * the fences here order flags against eventfds (R3) and MP zeroing (R5),
 * checked by the spin models and tests rather than by TSan. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#define RING_SPIN     2000
#define RING_POLL_CAP 100 /* ms; bounds a wake-up lost to a dead peer */

static inline void
ring_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* A write prefetch: the line comes exclusive, its RFO started early. */
static inline void
ring_prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	/* PREFETCHW (0F 0D /1) is a NOP on CPUs without it. GCC emits it
	 * for __builtin_prefetch(p, 1) only with -mprfchw. */
	__asm__ __volatile__("prefetchw %0" ::"m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

static inline _Atomic uint64_t *
ring_hdr(const struct ring *r, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(r->data + (pos & r->mask));
}

static inline uint64_t
ring_total(uint64_t len)
{
	return RING_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
}

/* Single writer per counter except on MP producer counters. */
static inline void
ring_count(int shared, _Atomic uint64_t *c, uint64_t n)
{
	if (shared) {
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
	} else {
		atomic_store_explicit(
		    c, atomic_load_explicit(c, memory_order_relaxed) + n,
		    memory_order_relaxed);
	}
}

/* R3's fences (ring_fence.c). On a RING_BULK ring the waker's is a
 * compiler barrier in a process registered for the sleeper's membarrier. */
extern _Atomic int ring_fence_registered;
void ring_fence_register(void);
void ring_fence_sleeper(int bulk);

static inline void
ring_fence_waker(int bulk)
{
	if (bulk && atomic_load_explicit(&ring_fence_registered,
	                                 memory_order_relaxed)) {
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_thread_fence(memory_order_seq_cst);
	}
}

/* R3 wakers (ring.c). */
void ring_wake_consumer(struct ring *r);
void ring_wake_producer(struct ring *r);
/* The header at pos if the record there is ready, else 0 (ring.c). */
uint64_t ring_ready_hdr(struct ring *r, uint64_t pos);
/* Whether a record of len would fit now (ring.c). */
int ring_has_space(struct ring *r, uint32_t len);
/* Zeroes [from, to) of the data area (ring.c). */
void ring_zero(struct ring *r, uint64_t from, uint64_t to);
int ring_finish_release(struct ring *r);

#endif
