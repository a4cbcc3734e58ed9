/*
 * Ring wake-up test (rule R3, ring_fence.c): two processes ping-pong one
 * record at a time, and every wait goes to sleep at once, without the
 * spinning ring_wait_* does first, so every round trip crosses the
 * flag/fence/recheck window on both sides. Once through the request and
 * response rings (CPU fences on both sides), once through two chunk rings
 * (RING_BULK: membarrier on the sleeper only). A lost wake-up is not
 * waited out: a sleep that reaches its one-second poll timeout fails the
 * test, naming the side and the round. Then two SP producers feed one
 * sleeping consumer over the chunk rings, the path the uploader sleeps on.
 *
 * RING_WAKEUP_ROUNDS overrides the 50000 round trips: with the sleeper's
 * fence taken out, runs lost a wake-up within 11000 to 90000 rounds.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"

#define LOST_MS 1000

/* Waits for a record on r by sleeping straight away; 0 when one is there,
 * -1 when the wake-up was lost (the poll ran into its timeout). */
static int
sleep_for_data(struct ring *r)
{
	struct pollfd pfd = {.fd = ring_data_fd(r), .events = POLLIN};
	int n;

	while (ring_consumer_prepare_wait(r)) {
		n = poll(&pfd, 1, LOST_MS);
		ring_consumer_woken(r);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "poll: %s\n", strerror(errno));
			return -1;
		}
		if (n == 0) {
			return -1;
		}
	}
	return 0;
}

static int
take(struct ring *r, uint64_t want, const char *who, uint64_t round)
{
	struct ring_rec rec;
	uint64_t got;

	while (ring_peek(r, &rec) == -EAGAIN) {
		if (sleep_for_data(r) < 0) {
			fprintf(stderr, "%s: wake-up lost in round %llu\n", who,
			        (unsigned long long)round);
			return -1;
		}
	}
	memcpy(&got, rec.data, sizeof(got));
	ring_release(r, &rec);
	if (got != want) {
		fprintf(stderr, "%s: got %llu, want %llu\n", who,
		        (unsigned long long)got, (unsigned long long)want);
		return -1;
	}
	return 0;
}

static int
put(struct ring *r, uint64_t v)
{
	return ring_write(r, &v, sizeof(v));
}

static int
pingpong(struct ring *ping, struct ring *pong, const char *what,
         uint64_t rounds)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		ring_consumer_resume(ping);
		for (uint64_t i = 0; i < rounds; i++) {
			if (take(ping, i, "responder", i) < 0 ||
			    put(pong, i) < 0) {
				_exit(1);
			}
		}
		_exit(0);
	}
	ring_consumer_resume(pong);
	for (uint64_t i = 0; i < rounds; i++) {
		if (put(ping, i) < 0 || take(pong, i, "requester", i) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "responder failed (status %#x)\n", status);
		return -1;
	}
	printf("ping-pong over %s: %llu round trips, every wait asleep, "
	       "none lost\n",
	       what, (unsigned long long)rounds);
	return 0;
}

/* Two producers take turns with one sleeping consumer: each record is
 * sent only after the consumer acknowledged the last one through a
 * counter, so the consumer sleeps before almost every record. */
static int
two_producers(struct shm_segment *seg, uint64_t rounds)
{
	_Atomic uint64_t *acked =
	    mmap(NULL, sizeof(*acked), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2];
	int failed = 0, status;

	if (acked == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	*acked = 0;
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		if (pids[k] < 0) {
			perror("fork");
			return -1;
		}
		if (pids[k] != 0) {
			continue;
		}
		struct ring *r = shm_segment_ring(seg, SHM_RING_CHUNK, k);

		/* Producer k sends the records i with i % 2 == k. */
		for (uint64_t i = (uint64_t)k; i < rounds; i += 2) {
			while (atomic_load(acked) < i) {
				sched_yield();
			}
			if (put(r, i) < 0) {
				_exit(1);
			}
		}
		_exit(0);
	}
	for (uint64_t i = 0; i < rounds && !failed; i++) {
		struct ring *r = shm_segment_ring(seg, SHM_RING_CHUNK, i % 2);

		if (i < 2) {
			ring_consumer_resume(r);
		}
		if (take(r, i, "consumer", i) < 0) {
			failed = 1;
			break;
		}
		atomic_store(acked, i + 1);
	}
	for (int k = 0; k < 2; k++) {
		if (failed) {
			kill(pids[k], SIGKILL);
		}
		waitpid(pids[k], &status, 0);
		if (!failed && (!WIFEXITED(status) || WEXITSTATUS(status))) {
			fprintf(stderr, "producer %d failed\n", k);
			failed = 1;
		}
	}
	munmap(acked, sizeof(*acked));
	if (!failed) {
		printf("two producers: %llu records, consumer asleep, none "
		       "lost\n",
		       (unsigned long long)rounds);
	}
	return failed ? -1 : 0;
}

int
main(void)
{
	const char *env = getenv("RING_WAKEUP_ROUNDS");
	uint64_t rounds = env != NULL ? strtoull(env, NULL, 10) : 50000;
	struct shm_params p = {.n_trace = 2};
	struct shm_segment *seg;
	int failed;

	log_init(NULL, LOG_LVL_INFO);
	alarm(600); /* a watchdog: a hang fails instead of blocking */
	seg = shm_segment_create(&p);
	if (seg == NULL) {
		return 1;
	}
	/* CPU fences on both sides. */
	failed = pingpong(shm_segment_ring(seg, SHM_RING_REQUEST, 0),
	                  shm_segment_ring(seg, SHM_RING_RESPONSE, 0),
	                  "request/response rings", rounds) < 0;
	/* RING_BULK: membarrier on the sleeper, none on the waker. */
	/* A failed part leaves records behind: the next would only fail on
	 * them. */
	failed = failed || pingpong(shm_segment_ring(seg, SHM_RING_CHUNK, 0),
	                            shm_segment_ring(seg, SHM_RING_CHUNK, 1),
	                            "bulk chunk rings", rounds) < 0;
	failed = failed || two_producers(seg, rounds) < 0;
	shm_segment_destroy(seg);
	return failed ? 1 : 0;
}
