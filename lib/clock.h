/*
 * The monotonic clock in seconds, for intervals and deadlines measured in
 * one process (FD1 timings, backoff, request deadlines). Never the wall
 * clock: an NTP step must not make a request look 10 minutes slow.
 */
#ifndef PROBED_CLOCK_H
#define PROBED_CLOCK_H

#include <time.h>

static inline double
clock_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
