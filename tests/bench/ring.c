/*
 * Ring benchmark: one run prints, for 64 B, 4 KiB and 64 KiB records, the
 * rate between two processes through a ring, a pipe and a unix socketpair,
 * memcpy bandwidth at that size, and the ratios ring/pipe and ring/memcpy;
 * then the wake-up round trip (the other side asleep) for a ring and a
 * pipe. Every transfer runs for RING_BENCH_MS (default 700 ms) per case.
 *
 * Fair play: the ring producer copies the payload in (as a write() copies
 * it to the kernel); the ring consumer reads it in place, touching every
 * cache line and checking the first and last word, because handing the
 * bytes on without another copy is what the ring is for. Pipe and socket
 * consumers read() into a buffer and check the same words.
 * RING_BENCH_TOUCH=0 skips the touching (for the ring's own overhead).
 *
 * A transfer needs both of its processes on a CPU at once; on a small,
 * shared machine other work takes turns with them and every transport's
 * figure drops, the ring's most (it has no kernel buffer to fill while a
 * side is off its CPU). So the run also prints, per size, the share of the
 * ring transfer its processes spent on a CPU and how often they were
 * preempted: a low share means the figures measure the machine's load.
 * RING_BENCH_REPS=n runs every case n times and prints the medians.
 * RING_BENCH_PIN=1 puts producers on the first allowed CPU and consumers on
 * the second (all transports alike); the default lets the scheduler place
 * them, as it does probed's workers.
 *
 * On a VM the host decides how near the two vCPUs are, and moves them: a
 * cache line's round trip between them is about 80 ns (sharing a cache)
 * or about 400 ns (apart), seconds apart in the same run. The run prints
 * that round trip before and after every ring transfer; compare figures of
 * one placement only. Apart, every cross-core figure drops: the handoff
 * line shows the floor (64 KiB handoff/mcpy 0.31 apart, 0.63-0.75 near),
 * and the ring cannot beat it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"
#include "tests/bench/ring_bench.h"

#define PINGS 20000

/* How much of a transfer its two processes spent on a CPU. */
struct sched_share {
	double on_cpu;    /* CPU time of both / (2 * wall) */
	long preemptions; /* involuntary context switches, both */
};

struct result *res;
int bench_ms = 700;
int touch = 1;
static int pin;
static int cpus[2] = {-1, -1};

static void
ring_producer(struct ring *r, uint8_t *buf, size_t size)
{
	uint64_t end = now_ns() + (uint64_t)bench_ms * 1000000ull, seq = 0;
	void *p;

	for (;;) {
		int last = (seq & 255) == 0 && now_ns() > end;

		while (ring_reserve(r, (uint32_t)size, &p) < 0) {
			ring_wait_space(r, (uint32_t)size, 5000);
		}
		/* The last record is marked by seq UINT64_MAX. */
		fill(buf, size, last ? UINT64_MAX : seq);
		memcpy(p, buf, size);
		ring_commit(r, p);
		if (last) {
			return;
		}
		seq++;
	}
}

static void
ring_consumer(struct ring *r, size_t size)
{
	struct ring_rec recs[64];
	uint64_t seq = 0, t0 = 0;
	size_t n;

	ring_consumer_resume(r);
	for (;;) {
		n = ring_peek_batch(r, recs, 64);
		if (n == 0) {
			ring_wait_data(r, 5000);
			continue;
		}
		if (t0 == 0) {
			t0 = now_ns();
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t first;

			memcpy(&first, recs[i].data, 8);
			if (first == UINT64_MAX) {
				ring_release_all(r);
				res->ns = now_ns() - t0;
				res->records = seq;
				res->bytes = seq * size;
				return;
			}
			if (!consume(recs[i].data, size, seq)) {
				res->bad = 1;
			}
			seq++;
		}
		ring_release(r, &recs[n - 1]);
	}
}

static int
write_all(int fd, const uint8_t *buf, size_t size)
{
	while (size > 0) {
		ssize_t w = write(fd, buf, size);

		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		buf += w;
		size -= (size_t)w;
	}
	return 0;
}

static void
fd_producer(int fd, uint8_t *buf, size_t size)
{
	uint64_t end = now_ns() + (uint64_t)bench_ms * 1000000ull, seq = 0;

	while ((seq & 255) != 0 || now_ns() <= end) {
		fill(buf, size, seq++);
		if (write_all(fd, buf, size) < 0) {
			break;
		}
	}
	close(fd);
}

static void
fd_consumer(int fd, uint8_t *buf, size_t size)
{
	uint64_t seq = 0, t0 = 0;
	size_t have = 0;
	ssize_t n;

	while ((n = read(fd, buf + have, size - have)) > 0) {
		if (t0 == 0) {
			t0 = now_ns();
		}
		have += (size_t)n;
		if (have == size) {
			if (!consume(buf, size, seq)) {
				res->bad = 1;
			}
			seq++;
			have = 0;
		}
	}
	res->ns = now_ns() - t0;
	res->records = seq;
	res->bytes = seq * size;
}

enum transport { T_RING, T_PIPE, T_SOCKET };

/* The first two CPUs this process may use, for RING_BENCH_PIN. */
static int
bench_cpus(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_getaffinity");
		return -1;
	}
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++) {
		if (CPU_ISSET(c, &set)) {
			cpus[n++] = c;
		}
	}
	if (n < 2) {
		fprintf(stderr, "RING_BENCH_PIN needs two CPUs\n");
		return -1;
	}
	return 0;
}

/* side 0 produces, 1 consumes. */
void
bench_pin(int side)
{
	cpu_set_t set;

	if (!pin) {
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpus[side], &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_setaffinity");
	}
}

/* Records per second and bytes per second, consumer side. */
static int
transfer(enum transport t, struct shm_segment *seg, size_t size, double *rps,
         double *bps, struct sched_share *share)
{
	uint8_t *buf = aligned_alloc(64, size < 64 ? 64 : size);
	struct ring *r = shm_segment_ring(seg, SHM_RING_CHUNK, 0);
	int fds[2] = {-1, -1};
	struct rusage ru[2];
	uint64_t t0 = now_ns(), wall;
	pid_t pid[2];

	memset(res, 0, sizeof(*res));
	if (t == T_PIPE && pipe(fds) < 0) {
		perror("pipe");
		return -1;
	}
	if (t == T_SOCKET && socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
		perror("socketpair");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			perror("fork");
			return -1;
		}
		if (pid[i] == 0) {
			bench_pin(i);
			if (t == T_RING) {
				i == 0 ? ring_producer(r, buf, size)
				       : ring_consumer(r, size);
			} else if (i == 0) {
				close(fds[0]);
				fd_producer(fds[1], buf, size);
			} else {
				close(fds[1]);
				fd_consumer(fds[0], buf, size);
			}
			_exit(0);
		}
	}
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
	wait4(pid[0], NULL, 0, &ru[0]);
	wait4(pid[1], NULL, 0, &ru[1]);
	wall = now_ns() - t0;
	free(buf);
	share->on_cpu = 0;
	share->preemptions = 0;
	for (int i = 0; i < 2; i++) {
		share->on_cpu +=
		    (double)(ru[i].ru_utime.tv_sec + ru[i].ru_stime.tv_sec) *
		        1e9 +
		    (double)(ru[i].ru_utime.tv_usec + ru[i].ru_stime.tv_usec) *
		        1e3;
		share->preemptions += ru[i].ru_nivcsw;
	}
	share->on_cpu /= 2.0 * (double)wall;
	if (res->bad || res->ns == 0) {
		fprintf(stderr, "transfer of %zu B records: bad data\n", size);
		return -1;
	}
	*rps = (double)res->records * 1e9 / (double)res->ns;
	*bps = (double)res->bytes * 1e9 / (double)res->ns;
	return 0;
}

/* Sleeps (no spinning) until a record arrives: a wake-up every time. */
static void
sleep_peek(struct ring *r, struct ring_rec *rec)
{
	struct pollfd pfd = {.fd = ring_data_fd(r), .events = POLLIN};

	while (ring_peek(r, rec) < 0) {
		if (ring_consumer_prepare_wait(r)) {
			poll(&pfd, 1, 5000);
			ring_consumer_woken(r);
		}
	}
}

static void
pingpong_ring_side(struct ring *in, struct ring *out, int first)
{
	struct ring_rec rec;
	uint64_t v = 0;

	ring_consumer_resume(in);
	for (int i = 0; i < PINGS; i++) {
		if (first) {
			ring_write(out, &v, sizeof(v));
		}
		sleep_peek(in, &rec);
		memcpy(&v, rec.data, sizeof(v));
		ring_release(in, &rec);
		v++;
		if (!first) {
			ring_write(out, &v, sizeof(v));
		}
	}
}

static void
pingpong_fd_side(int in, int out, int first)
{
	uint64_t v = 0;

	for (int i = 0; i < PINGS; i++) {
		if (first && write(out, &v, sizeof(v)) != sizeof(v)) {
			_exit(1);
		}
		if (read(in, &v, sizeof(v)) != sizeof(v)) {
			_exit(1);
		}
		v++;
		if (!first && write(out, &v, sizeof(v)) != sizeof(v)) {
			_exit(1);
		}
	}
}

/* Mean round trip in microseconds. */
static double
pingpong(struct shm_segment *seg, int use_ring)
{
	/* 2: the bulk chunk rings; 1: request and response rings. */
	struct ring *a = use_ring == 2
	                     ? shm_segment_ring(seg, SHM_RING_CHUNK, 0)
	                     : shm_segment_ring(seg, SHM_RING_REQUEST, 0);
	struct ring *b = use_ring == 2
	                     ? shm_segment_ring(seg, SHM_RING_CHUNK, 1)
	                     : shm_segment_ring(seg, SHM_RING_RESPONSE, 0);
	int p1[2], p2[2];
	uint64_t t0, ns;
	pid_t pid;

	if (pipe(p1) < 0 || pipe(p2) < 0) {
		perror("pipe");
		return -1;
	}
	t0 = now_ns();
	pid = fork();
	if (pid == 0) {
		if (use_ring) {
			pingpong_ring_side(a, b, 0);
		} else {
			pingpong_fd_side(p1[0], p2[1], 0);
		}
		_exit(0);
	}
	if (use_ring) {
		pingpong_ring_side(b, a, 1);
	} else {
		pingpong_fd_side(p2[0], p1[1], 1);
	}
	ns = now_ns() - t0;
	waitpid(pid, NULL, 0);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	return (double)ns / PINGS / 1000.0;
}

/* Figures of one record size; each the median over the repetitions. */
enum {
	F_RR,
	F_RB,
	F_PR,
	F_PB,
	F_SR,
	F_SB,
	F_MH,
	F_MB,
	F_HO,
	F_CPU,
	F_PRE,
	F_LB, /* cache-line round trip before the ring transfer, ns */
	F_LA, /* and after it */
	F_N
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
bench_size(struct shm_segment *seg, size_t size, size_t area, int reps,
           double *f)
{
	double v[F_N][reps];
	struct sched_share sh, ignore;

	for (int k = 0; k < reps; k++) {
		v[F_LB][k] = place_line_rtt_ns();
		if (transfer(T_RING, seg, size, &v[F_RR][k], &v[F_RB][k], &sh) <
		    0) {
			return -1;
		}
		v[F_LA][k] = place_line_rtt_ns();
		if (transfer(T_PIPE, seg, size, &v[F_PR][k], &v[F_PB][k],
		             &ignore) < 0 ||
		    transfer(T_SOCKET, seg, size, &v[F_SR][k], &v[F_SB][k],
		             &ignore) < 0) {
			return -1;
		}
		v[F_CPU][k] = sh.on_cpu;
		v[F_PRE][k] = (double)sh.preemptions;
		v[F_MH][k] = memcpy_bps(size, size);
		v[F_MB][k] = memcpy_bps(size, area);
		v[F_HO][k] = handoff_bps(size, area);
		if (v[F_HO][k] < 0) {
			return -1;
		}
	}
	for (int j = 0; j < F_N; j++) {
		qsort(v[j], (size_t)reps, sizeof(double), cmp_double);
		f[j] = reps % 2 ? v[j][reps / 2]
		                : (v[j][reps / 2 - 1] + v[j][reps / 2]) / 2;
	}
	return 0;
}

int
main(void)
{
	static const size_t sizes[] = {64, 4096, 65536};
	double f[3][F_N];
	struct shm_params p = {.n_trace = 2};
	int reps = 1;

	p.chunk_ring_bytes = SHM_CHUNK_RING_DEFAULT;
	if (getenv("RING_BENCH_RING") != NULL) {
		p.chunk_ring_bytes =
		    strtoull(getenv("RING_BENCH_RING"), NULL, 10);
	}
	struct shm_segment *seg;
	int failed = 0;

	if (getenv("RING_BENCH_TOUCH") != NULL) {
		touch = atoi(getenv("RING_BENCH_TOUCH"));
	}
	if (getenv("RING_BENCH_MS") != NULL) {
		bench_ms = atoi(getenv("RING_BENCH_MS"));
	}
	if (getenv("RING_BENCH_REPS") != NULL &&
	    atoi(getenv("RING_BENCH_REPS")) > 0) {
		reps = atoi(getenv("RING_BENCH_REPS"));
	}
	if (getenv("RING_BENCH_PIN") != NULL) {
		pin = atoi(getenv("RING_BENCH_PIN"));
		if (pin && bench_cpus() < 0) {
			return 1;
		}
	}
	log_init(NULL, LOG_LVL_WARN);
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
	           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	seg = shm_segment_create(&p);
	if (res == MAP_FAILED || seg == NULL) {
		return 1;
	}
	/* The baseline runs in this process: on the producers' CPU. */
	bench_pin(0);
	printf("%-6s %12s %9s %12s %9s %12s %9s %9s %9s %9s %9s\n", "record",
	       "ring rec/s", "ring GB/s", "pipe rec/s", "pipe GB/s",
	       "sock rec/s", "sock GB/s", "mcpy hot", "mcpy ring", "ring/pipe",
	       "ring/mcpy");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double *x = f[i];

		if (bench_size(seg, sizes[i], p.chunk_ring_bytes, reps, x) <
		    0) {
			failed = 1;
			x[F_CPU] = -1;
			continue;
		}
		printf("%-6zu %12.0f %9.2f %12.0f %9.2f %12.0f %9.2f %9.2f "
		       "%9.2f %9.2f %9.2f\n",
		       sizes[i], x[F_RR], x[F_RB] / 1e9, x[F_PR], x[F_PB] / 1e9,
		       x[F_SR], x[F_SB] / 1e9, x[F_MH] / 1e9, x[F_MB] / 1e9,
		       x[F_RB] / x[F_PB], x[F_RB] / x[F_MB]);
	}
	printf("ring processes on a CPU:");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (f[i][F_CPU] >= 0) {
			printf(" %zu B %.0f%% (%.0f preemptions)%s", sizes[i],
			       f[i][F_CPU] * 100, f[i][F_PRE],
			       i + 1 < sizeof(sizes) / sizeof(sizes[0]) ? ","
			                                                : "");
		}
	}
	printf("\nspin-only handoff through a ring-sized area (the floor, see "
	       "handoff_bps):");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (f[i][F_CPU] >= 0) {
			printf(" %zu B %.2f GB/s (ring/handoff %.2f, "
			       "handoff/mcpy %.2f)%s",
			       sizes[i], f[i][F_HO] / 1e9,
			       f[i][F_RB] / f[i][F_HO], f[i][F_HO] / f[i][F_MB],
			       i + 1 < sizeof(sizes) / sizeof(sizes[0]) ? ","
			                                                : "");
		}
	}
	printf("\ncache-line round trip between the CPUs before/after the "
	       "ring transfer (vCPU placement, see ring_base.c):");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (f[i][F_CPU] >= 0) {
			printf(" %zu B %.0f/%.0f ns%s", sizes[i], f[i][F_LB],
			       f[i][F_LA],
			       i + 1 < sizeof(sizes) / sizeof(sizes[0]) ? ","
			                                                : "");
		}
	}
	printf("\n%s, %d run%s per figure (median)\n",
	       pin ? "pinned: producers and baseline on one CPU, consumers "
	             "on another"
	           : "not pinned",
	       reps, reps > 1 ? "s" : "");
	printf("wake-up round trip (other side asleep): request/response rings "
	       "%.1f us, bulk chunk rings (membarrier) %.1f us, pipe %.1f us\n",
	       pingpong(seg, 1), pingpong(seg, 2), pingpong(seg, 0));
	printf("GB/s are 1e9 bytes/s; ring/mcpy is against memcpy into a "
	       "ring-sized area (%zu KiB)\n",
	       p.chunk_ring_bytes / 1024);
	printf("targets: >= 20 M rec/s at 64 B, ring/pipe >= 5 at 4 KiB, "
	       "ring/memcpy >= 0.5 at 64 KiB\n");
	shm_segment_destroy(seg);
	return failed;
}
