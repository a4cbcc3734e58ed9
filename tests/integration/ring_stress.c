/*
 * Ring stress test: producer processes and one consumer process move ten
 * million records (RING_STRESS_RECORDS overrides) carrying a sequence
 * number and a checksum. The consumer checks none is lost, none corrupt,
 * and the order per producer. Two layouts, as probed uses them:
 *   - one SP ring per producer, one consumer polling all (chunk rings);
 *   - one MP ring shared by the producers (the request ring).
 * Waits are on the rings' eventfds with deadlines: a stall fails the test.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"

#define PRODUCERS 2
#define STALL_MS  20000
#define MAX_EXTRA 48

struct rec {
	uint32_t producer;
	uint32_t extra; /* payload bytes after the struct */
	uint64_t seq;
	uint64_t sum;
	uint8_t payload[];
};

static uint64_t
rec_sum(const struct rec *r)
{
	uint64_t h =
	    0xcbf29ce484222325ull ^ r->seq ^ ((uint64_t)r->producer << 56);

	for (uint32_t i = 0; i < r->extra; i++) {
		h = (h ^ r->payload[i]) * 0x100000001b3ull;
	}
	return h;
}

static int
produce(struct ring *r, uint32_t id, uint64_t count)
{
	struct rec *rec;
	void *p;
	int rc;

	for (uint64_t seq = 0; seq < count; seq++) {
		uint32_t extra = (uint32_t)((seq * 7 + id) % (MAX_EXTRA + 1));

		while ((rc = ring_reserve(r, sizeof(*rec) + extra, &p)) ==
		       -EAGAIN) {
			rc = ring_wait_space(r, sizeof(*rec) + extra, STALL_MS);
			if (rc < 0) {
				fprintf(stderr,
				        "producer %u: stalled at %llu "
				        "(%s)\n",
				        id, (unsigned long long)seq,
				        strerror(-rc));
				return 1;
			}
		}
		if (rc < 0) {
			return 1;
		}
		rec = p;
		rec->producer = id;
		rec->extra = extra;
		rec->seq = seq;
		for (uint32_t i = 0; i < extra; i++) {
			rec->payload[i] = (uint8_t)(seq + i);
		}
		rec->sum = rec_sum(rec);
		ring_commit(r, p);
	}
	return 0;
}

static int
check_rec(const struct ring_rec *rr, uint64_t *next)
{
	const struct rec *r = rr->data;

	if (rr->len < sizeof(*r) || r->producer >= PRODUCERS ||
	    rr->len != sizeof(*r) + r->extra || rec_sum(r) != r->sum) {
		fprintf(stderr, "consumer: corrupt record (len %u)\n", rr->len);
		return -1;
	}
	if (r->seq != next[r->producer]) {
		fprintf(stderr,
		        "consumer: producer %u: got %llu, expected "
		        "%llu\n",
		        r->producer, (unsigned long long)r->seq,
		        (unsigned long long)next[r->producer]);
		return -1;
	}
	next[r->producer]++;
	return 0;
}

/* Sleeps on every ring's eventfd until one has data, or STALL_MS. */
static int
wait_any(struct ring **rings, int n)
{
	struct pollfd pfd[PRODUCERS];

	for (int i = 0; i < n; i++) {
		if (!ring_consumer_prepare_wait(rings[i])) {
			for (int j = 0; j < i; j++) {
				ring_consumer_woken(rings[j]);
			}
			return 0;
		}
		pfd[i] = (struct pollfd){.fd = ring_data_fd(rings[i]),
		                         .events = POLLIN};
	}
	if (poll(pfd, (nfds_t)n, STALL_MS) == 0) {
		fprintf(stderr, "consumer: stalled, no data for %d ms\n",
		        STALL_MS);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		ring_consumer_woken(rings[i]);
	}
	return 0;
}

static int
consume(struct ring **rings, int n, uint64_t total)
{
	uint64_t next[PRODUCERS] = {0}, got = 0;
	struct ring_rec recs[64];
	size_t k;

	while (got < total) {
		int idle = 1;

		for (int i = 0; i < n; i++) {
			k = ring_peek_batch(rings[i], recs, 64);
			for (size_t j = 0; j < k; j++) {
				if (check_rec(&recs[j], next) < 0) {
					return 1;
				}
			}
			if (k > 0) {
				ring_release(rings[i], &recs[k - 1]);
				got += k;
				idle = 0;
			}
		}
		if (idle && wait_any(rings, n) < 0) {
			return 1;
		}
	}
	for (int i = 0; i < PRODUCERS; i++) {
		if (next[i] != total / PRODUCERS) {
			fprintf(stderr, "consumer: producer %d: %llu records\n",
			        i, (unsigned long long)next[i]);
			return 1;
		}
	}
	return 0;
}

static int
run(const char *name, struct shm_segment *seg, int mp, uint64_t per_producer)
{
	struct ring *rings[PRODUCERS];
	pid_t pids[PRODUCERS + 1];
	struct timespec t0, t1;
	int failed = 0, n = mp ? 1 : PRODUCERS, st;
	uint64_t in = 0, out = 0;
	double secs;

	for (int i = 0; i < n; i++) {
		rings[i] = mp ? shm_segment_ring(seg, SHM_RING_REQUEST, 0)
		              : shm_segment_ring(seg, SHM_RING_CHUNK, i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i <= PRODUCERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0) {
			if (i == PRODUCERS) {
				shm_segment_attach(seg, mp ? SHM_PROC_DB
				                           : SHM_PROC_UPLOADER);
				_exit(consume(rings, n,
				              per_producer * PRODUCERS));
			}
			_exit(produce(rings[mp ? 0 : i], (uint32_t)i,
			              per_producer));
		}
	}
	for (int i = 0; i <= PRODUCERS; i++) {
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "%s: %s %d failed (status %#x)\n", name,
			        i == PRODUCERS ? "consumer" : "producer", i,
			        st);
			failed = 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	for (int i = 0; i < n; i++) {
		in += atomic_load(&rings[i]->ctl->records_in);
		out += atomic_load(&rings[i]->ctl->records_out);
		if (ring_used(rings[i]) != 0) {
			fprintf(stderr, "%s: ring %d not empty\n", name, i);
			failed = 1;
		}
	}
	if (in != per_producer * PRODUCERS || out != in) {
		fprintf(stderr, "%s: records in %llu out %llu\n", name,
		        (unsigned long long)in, (unsigned long long)out);
		failed = 1;
	}
	printf("%s: %llu records from %d producer processes in %.2f s "
	       "(%.1f M/s): %s\n",
	       name, (unsigned long long)out, PRODUCERS, secs,
	       (double)out / secs / 1e6, failed ? "FAILED" : "ok");
	return failed;
}

int
main(void)
{
	const char *env = getenv("RING_STRESS_RECORDS");
	uint64_t total = env != NULL ? strtoull(env, NULL, 10) : 10000000;
	struct shm_params p = {.n_trace = PRODUCERS,
	                       .chunk_ring_bytes = 256 * 1024,
	                       .request_ring_bytes = 256 * 1024};
	struct shm_segment *seg;
	int failed;

	log_init(NULL, LOG_LVL_INFO);
	/* A watchdog, not a synchronisation: a hang fails instead of
	 * blocking make check. */
	alarm(600);
	seg = shm_segment_create(&p);
	if (seg == NULL) {
		return 1;
	}
	failed = run("sp rings", seg, 0, total / PRODUCERS);
	failed |= run("mp ring", seg, 1, total / PRODUCERS);
	shm_segment_destroy(seg);
	return failed ? 1 : 0;
}
