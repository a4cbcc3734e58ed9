/*
 * Where the host put our two CPUs, as the ring sees it: the round trip of
 * one cache line between a process on each CPU. On the 2-vCPU VMs this
 * benchmark runs on it is about 80 ns when the vCPUs share a cache and
 * about 400 ns when they do not, and the host moves them between the two
 * within seconds; every cross-core figure follows it (see tests/bench/ring.c
 * and the README). So the benchmark measures it around every size.
 */
#include "config.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/ring_place.h"

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
