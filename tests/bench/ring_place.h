#ifndef PROBED_BENCH_RING_PLACE_H
#define PROBED_BENCH_RING_PLACE_H

/* Round trip of a cache line between the first two CPUs we may use, in
 * ns; -1 with fewer than two. Restores this process's affinity. */
double place_line_rtt_ns(void);

#endif
