/*
 * Ring benchmark, the baselines the ring is measured against: memcpy, a
 * bare two-process handoff, and where the host put our two CPUs (the round
 * trip of one cache line between them). The ring, pipe and socket
 * transfers and the report are in ring.c.
 *
 * Placement. On the 2-vCPU VMs this benchmark runs on, the round trip is
 * about 80-130 ns when the vCPUs share a cache and about 400 ns when they
 * do not, and the host moves them between the two within seconds; every
 * cross-core figure follows it. So ring.c measures it around every ring
 * transfer and prints it.
 */
#include "config.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/ring_bench.h"

uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
fill(uint8_t *buf, size_t size, uint64_t seq)
{
	memcpy(buf, &seq, 8);
	memcpy(buf + size - 8, &seq, 8);
}

/* Touches every cache line (unless RING_BENCH_TOUCH=0); checks the words
 * fill() wrote. */
int
consume(const uint8_t *p, size_t size, uint64_t seq)
{
	uint64_t a, b, acc = 0;

	for (size_t i = 0; touch && i < size; i += 64) {
		acc += p[i];
	}
	__asm__ __volatile__("" ::"r"(acc));
	memcpy(&a, p, 8);
	memcpy(&b, p + size - 8, 8);
	return a == seq && b == seq;
}

/*
 * memcpy of size-byte records, one process. area == size: the same buffer
 * again and again (hot in cache); area == the ring's size: into successive
 * slots of an area as large as the ring, the working set the ring has.
 */
double
memcpy_bps(size_t size, size_t area)
{
	uint8_t *src = aligned_alloc(64, size), *dst = aligned_alloc(64, area);
	uint64_t t0, end, n = 0, ns;
	size_t slots = area / size;

	memset(src, 1, size);
	memset(dst, 2, area);
	t0 = now_ns();
	end = t0 + (uint64_t)bench_ms * 1000000ull / 2;
	do {
		for (int i = 0; i < 256; i++) {
			memcpy(dst + (n % slots) * size, src, size);
			__asm__ __volatile__("" ::"r"(dst) : "memory");
			n++;
		}
	} while (now_ns() < end);
	ns = now_ns() - t0;
	free(src);
	free(dst);
	return (double)n * (double)size * 1e9 / (double)ns;
}

/*
 * The floor under any ring between two processes: records of size bytes
 * handed through a ring-sized shared area with nothing else, no headers,
 * no wake-ups, both sides spinning on two position counters. The producer
 * copies in and the consumer reads in place exactly as in the ring case,
 * so the difference between the two is the ring's own cost; the
 * difference between this and memcpy is the price of moving every cache
 * line from one core to another.
 */
struct handoff {
	alignas(128) _Atomic uint64_t put;
	alignas(128) _Atomic uint64_t got;
};

static uint64_t
handoff_wait(_Atomic uint64_t *pos, uint64_t want)
{
	uint64_t v;

	for (unsigned i = 1;
	     (v = atomic_load_explicit(pos, memory_order_acquire)) < want;
	     i++) {
		/* Spinning against a peer that shares our CPU gets nowhere. */
		if (i % 4096 == 0) {
			sched_yield();
		}
		__asm__ __volatile__("" ::: "memory");
	}
	return v;
}

static void
handoff_producer(struct handoff *h, uint8_t *area, size_t n, uint8_t *buf,
                 size_t size)
{
	uint64_t end = now_ns() + (uint64_t)bench_ms * 500000ull, seq = 0;

	for (;;) {
		int last = (seq & 255) == 0 && now_ns() > end;

		handoff_wait(&h->got, seq + 1 > n ? seq + 1 - n : 0);
		fill(buf, size, last ? UINT64_MAX : seq);
		memcpy(area + (seq % n) * size, buf, size);
		atomic_store_explicit(&h->put, seq + 1, memory_order_release);
		if (last) {
			return;
		}
		seq++;
	}
}

static void
handoff_consumer(struct handoff *h, const uint8_t *area, size_t n, size_t size)
{
	uint64_t seq = 0, t0 = 0, put = 0, first;

	for (;; seq++) {
		if (seq >= put) {
			put = handoff_wait(&h->put, seq + 1);
		}
		if (t0 == 0) {
			t0 = now_ns();
		}
		const uint8_t *p = area + (seq % n) * size;

		memcpy(&first, p, 8);
		if (first == UINT64_MAX) {
			break;
		}
		if (!consume(p, size, seq)) {
			res->bad = 1;
		}
		atomic_store_explicit(&h->got, seq + 1, memory_order_release);
	}
	res->ns = now_ns() - t0;
	res->bytes = seq * size;
}

/* Bytes per second through a spin-only handoff (see above). */
double
handoff_bps(size_t size, size_t area)
{
	size_t len = sizeof(struct handoff) + area;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *buf = aligned_alloc(64, size < 64 ? 64 : size);
	struct handoff *h = (struct handoff *)(void *)m;
	pid_t pid[2];

	if (m == MAP_FAILED || buf == NULL) {
		perror("mmap(handoff)");
		return -1;
	}
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			perror("fork");
			return -1;
		}
		if (pid[i] == 0) {
			bench_pin(i);
			if (i == 0) {
				handoff_producer(h, m + sizeof(*h), area / size,
				                 buf, size);
			} else {
				handoff_consumer(h, m + sizeof(*h), area / size,
				                 size);
			}
			_exit(0);
		}
	}
	waitpid(pid[0], NULL, 0);
	waitpid(pid[1], NULL, 0);
	munmap(m, len);
	free(buf);
	if (res->bad || res->ns == 0) {
		fprintf(stderr, "handoff of %zu B records: bad data\n", size);
		return -1;
	}
	return (double)res->bytes * 1e9 / (double)res->ns;
}

#define ROUNDS 200000

static int
place_pin(const cpu_set_t *all, int nth)
{
	cpu_set_t one;
	int seen = 0;

	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, all) && seen++ == nth) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			return sched_setaffinity(0, sizeof(one), &one);
		}
	}
	return -1;
}

double
place_line_rtt_ns(void)
{
	_Atomic uint64_t *line;
	struct timespec a, b;
	cpu_set_t all;
	double ns = -1;
	pid_t pid;

	if (sched_getaffinity(0, sizeof(all), &all) < 0 ||
	    CPU_COUNT(&all) < 2) {
		return -1;
	}
	line = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (line == MAP_FAILED) {
		perror("mmap(line)");
		return -1;
	}
	*line = 0;
	pid = fork();
	if (pid < 0) {
		perror("fork");
		goto out;
	}
	if (pid == 0) {
		place_pin(&all, 1);
		for (uint64_t i = 1; i <= ROUNDS; i++) {
			while (atomic_load_explicit(
			           line, memory_order_acquire) != 2 * i - 1) {
			}
			atomic_store_explicit(line, 2 * i,
			                      memory_order_release);
		}
		_exit(0);
	}
	place_pin(&all, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (uint64_t i = 1; i <= ROUNDS; i++) {
		atomic_store_explicit(line, 2 * i - 1, memory_order_release);
		while (atomic_load_explicit(line, memory_order_acquire) !=
		       2 * i) {
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	waitpid(pid, NULL, 0);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	      (double)(b.tv_nsec - a.tv_nsec)) /
	     ROUNDS;
out:
	sched_setaffinity(0, sizeof(all), &all);
	munmap((void *)line, 4096);
	return ns;
}
