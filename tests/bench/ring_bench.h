/*
 * Ring benchmark: what ring.c (transfers, report) and ring_base.c
 * (baselines) share.
 */
#ifndef PROBED_BENCH_RING_BENCH_H
#define PROBED_BENCH_RING_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What a consumer process reports back, in shared memory. */
struct result {
	_Atomic uint64_t records;
	_Atomic uint64_t bytes;
	_Atomic uint64_t ns;
	_Atomic int bad;
};

extern struct result *res;
extern int bench_ms; /* per transfer */
extern int touch;    /* consumers touch every cache line */

uint64_t now_ns(void);
/* Marks a record with seq in its first and last word. */
void fill(uint8_t *buf, size_t size, uint64_t seq);
/* Touches every line (unless !touch); 1 if the marks say seq. */
int consume(const uint8_t *p, size_t size, uint64_t seq);
/* Pins a benchmark process: side 0 producers, 1 consumers (if asked). */
void bench_pin(int side);

/* Bytes/s of memcpy of size-byte records into an area of area bytes. */
double memcpy_bps(size_t size, size_t area);
/* Bytes/s through a bare spin-only two-process handoff; -1 on error. */
double handoff_bps(size_t size, size_t area);
/* Round trip of a cache line between the first two CPUs we may use, in
 * ns; -1 with fewer than two. Restores this process's affinity. */
double place_line_rtt_ns(void);

#endif
