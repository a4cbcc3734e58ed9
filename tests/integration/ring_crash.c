/*
 * Ring crash test: records flow from a producer process to a consumer
 * process while the test SIGKILLs the producer (RING_CRASH_KILLS times,
 * default 200) and the consumer (as often) at random points, repairs the
 * ring the way the supervisor does, and restarts the victim. Run once on an
 * SP ring (chunk/0) and once on an MP ring (request) whose producer
 * process has two producing threads.
 *
 * Proven at the end: every record whose commit the producer noted was
 * delivered; no record is corrupt; per producer stream, records arrive in
 * order (a consumer restart may deliver held records again, never skip
 * one); the records lost are exactly those in flight at a kill, and the
 * ring's discard count matches what repair reported; nothing stalls. Every
 * wait polls shared progress counters against a deadline.
 *
 * RING_CRASH_KILLS, RING_CRASH_SEED and RING_CRASH_MODE (0 sp, 1 mp) help
 * reproduce a failure; the seed is printed first.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"

#define STREAMS     2
#define MAX_SEQ     (1u << 24)
#define DEADLINE_MS 20000

struct stream {
	_Atomic uint64_t next;      /* producer: next seq to use */
	_Atomic uint64_t committed; /* producer: highest committed + 1 */
	_Atomic uint64_t last;      /* consumer: highest delivered + 1 */
};

struct state {
	struct stream s[STREAMS];
	_Atomic uint64_t produced;
	_Atomic uint64_t consumed;
	_Atomic uint64_t dups;
	_Atomic int stop_producing;
	_Atomic int stop_consuming;
	_Atomic uint8_t seen[STREAMS][MAX_SEQ];
	_Atomic uint8_t done[STREAMS][MAX_SEQ]; /* producer saw commit */
};

struct rec {
	uint32_t stream;
	uint32_t extra;
	uint64_t seq;
	uint64_t sum;
	uint8_t payload[];
};

struct mode {
	const char *name;
	enum shm_ring_kind kind;
	int producer;
	int consumer;
	int streams;
};

static struct state *st;
static struct ring *ring;

static uint64_t
rec_sum(const struct rec *r)
{
	uint64_t h =
	    0xcbf29ce484222325ull ^ r->seq ^ ((uint64_t)r->stream << 60);

	for (uint32_t i = 0; i < r->extra; i++) {
		h = (h ^ r->payload[i]) * 0x100000001b3ull;
	}
	return h;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
producer_stream(void *arg)
{
	uint32_t t = (uint32_t)(uintptr_t)arg;
	struct stream *s = &st->s[t];
	struct rec *r;
	void *p;

	while (!atomic_load(&st->stop_producing)) {
		uint64_t seq = atomic_load(&s->next);
		uint32_t extra = (uint32_t)(seq * 13 % 200);

		if (seq >= MAX_SEQ) {
			fprintf(stderr, "producer: out of sequence numbers\n");
			_exit(1);
		}
		/* Noted before the reservation: a kill from here on loses
		 * this seq, and the check at the end knows it might. */
		atomic_store(&s->next, seq + 1);
		while (ring_reserve(ring, sizeof(*r) + extra, &p) == -EAGAIN) {
			if (ring_wait_space(ring, sizeof(*r) + extra,
			                    DEADLINE_MS) < 0) {
				fprintf(stderr, "producer: stalled\n");
				_exit(1);
			}
		}
		r = p;
		r->stream = t;
		r->extra = extra;
		r->seq = seq;
		for (uint32_t i = 0; i < extra; i++) {
			r->payload[i] = (uint8_t)(seq >> (i % 8));
		}
		r->sum = rec_sum(r);
		ring_commit(ring, p);
		atomic_store(&st->done[t][seq], 1);
		atomic_store(&s->committed, seq + 1);
		atomic_fetch_add(&st->produced, 1);
	}
	return NULL;
}

static int
producer_main(int streams)
{
	pthread_t th[STREAMS];

	for (int t = 1; t < streams; t++) {
		if (pthread_create(&th[t], NULL, producer_stream,
		                   (void *)(uintptr_t)t) != 0) {
			return 1;
		}
	}
	producer_stream((void *)0);
	for (int t = 1; t < streams; t++) {
		pthread_join(th[t], NULL);
	}
	return 0;
}

static int
consume_one(const struct ring_rec *rr)
{
	const struct rec *r = rr->data;
	struct stream *s;

	if (rr->len < sizeof(*r) || r->stream >= STREAMS ||
	    rr->len != sizeof(*r) + r->extra || r->seq >= MAX_SEQ ||
	    rec_sum(r) != r->sum) {
		fprintf(stderr, "consumer: corrupt record of %u bytes\n",
		        rr->len);
		return -1;
	}
	s = &st->s[r->stream];
	if (atomic_load(&st->seen[r->stream][r->seq])) {
		atomic_fetch_add(&st->dups, 1);
		return 0;
	}
	if (r->seq < atomic_load(&s->last)) {
		fprintf(stderr, "consumer: stream %u: %llu after %llu\n",
		        r->stream, (unsigned long long)r->seq,
		        (unsigned long long)atomic_load(&s->last) - 1);
		return -1;
	}
	/* Marked before the release: a redelivery is recognised. */
	atomic_store(&st->seen[r->stream][r->seq], 1);
	atomic_store(&s->last, r->seq + 1);
	atomic_fetch_add(&st->consumed, 1);
	return 0;
}

static int
consumer_main(void)
{
	struct ring_rec recs[16];
	size_t n;
	int rc;

	ring_consumer_resume(ring);
	while (!atomic_load(&st->stop_consuming)) {
		n = ring_peek_batch(ring, recs, 16);
		for (size_t i = 0; i < n; i++) {
			if (consume_one(&recs[i]) < 0) {
				return 1;
			}
		}
		if (n > 0) {
			ring_release(ring, &recs[n - 1]);
			continue;
		}
		rc = ring_wait_data(ring, 100);
		if (rc < 0 && rc != -ETIMEDOUT) {
			return 1;
		}
	}
	return 0;
}

static pid_t
spawn(int producer, int streams)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		_exit(producer ? producer_main(streams) : consumer_main());
	}
	return pid;
}

/* Polls until *c reaches target; 0, or -1 after the deadline. */
static int
wait_counter(_Atomic uint64_t *c, uint64_t target)
{
	int64_t deadline = now_ms() + DEADLINE_MS;

	while (atomic_load(c) < target) {
		if (now_ms() > deadline) {
			return -1;
		}
		sched_yield();
	}
	return 0;
}

static int
reap(pid_t pid, const char *who)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ms() > deadline) {
			fprintf(stderr, "%s did not exit\n", who);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sched_yield();
	}
	if (r < 0) {
		perror("waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s exited with %d\n", who,
		        WEXITSTATUS(status));
		return -1;
	}
	return 0;
}

static int
verify(const struct mode *m, uint64_t discards, int producer_kills)
{
	uint64_t missing = 0;

	for (int t = 0; t < m->streams; t++) {
		uint64_t next = atomic_load(&st->s[t].next);
		for (uint64_t q = 0; q < next; q++) {
			if (atomic_load(&st->seen[t][q])) {
				continue;
			}
			if (atomic_load(&st->done[t][q])) {
				fprintf(stderr,
				        "%s: stream %d: committed "
				        "record %llu never delivered\n",
				        m->name, t, (unsigned long long)q);
				return -1;
			}
			missing++;
		}
	}
	if (atomic_load(&ring->ctl->discards) != discards ||
	    missing < discards ||
	    missing > discards + (uint64_t)producer_kills * m->streams) {
		fprintf(stderr,
		        "%s: %llu missing, %llu discards reported, "
		        "ring counts %llu\n",
		        m->name, (unsigned long long)missing,
		        (unsigned long long)discards,
		        (unsigned long long)atomic_load(&ring->ctl->discards));
		return -1;
	}
	if (ring_used(ring) != 0) {
		fprintf(stderr, "%s: ring not drained\n", m->name);
		return -1;
	}
	printf("%s: %llu records delivered, %llu lost in flight (%llu "
	       "discarded by repair), %llu delivered twice after consumer "
	       "kills: ok\n",
	       m->name, (unsigned long long)atomic_load(&st->consumed),
	       (unsigned long long)missing, (unsigned long long)discards,
	       (unsigned long long)atomic_load(&st->dups));
	return 0;
}

static int
run(const struct mode *m, int kills, unsigned seed)
{
	struct shm_params p = {.n_trace = 1,
	                       .chunk_ring_bytes = 64 * 1024,
	                       .request_ring_bytes = 64 * 1024};
	struct shm_segment *seg = shm_segment_create(&p);
	int kp = 0, kc = 0, rc = -1;
	uint64_t discards = 0;
	pid_t prod, cons;

	if (seg == NULL) {
		return -1;
	}
	memset(st, 0, sizeof(*st));
	ring = shm_segment_ring(seg, m->kind, 0);
	srand(seed);
	prod = spawn(1, m->streams);
	cons = spawn(0, 0);
	while (kp < kills || kc < kills) {
		int victim_is_producer =
		    kc >= kills || (kp < kills && rand() % 2);
		_Atomic uint64_t *c =
		    victim_is_producer ? &st->produced : &st->consumed;
		uint64_t k = 1 + (uint64_t)(rand() % 2000);

		if (wait_counter(c, atomic_load(c) + k) < 0) {
			fprintf(stderr, "%s: %s stalled after %d/%d kills\n",
			        m->name,
			        victim_is_producer ? "producer" : "consumer",
			        kp, kc);
			goto out;
		}
		for (int spin = rand() % 5000; spin > 0; spin--) {
			__asm__ __volatile__("" ::: "memory");
		}
		if (victim_is_producer) {
			kill(prod, SIGKILL);
			waitpid(prod, NULL, 0);
			discards +=
			    shm_segment_repair_producer(seg, m->producer);
			prod = spawn(1, m->streams);
			kp++;
		} else {
			kill(cons, SIGKILL);
			waitpid(cons, NULL, 0);
			shm_segment_repair_consumer(seg, m->consumer);
			cons = spawn(0, 0);
			kc++;
		}
	}
	atomic_store(&st->stop_producing, 1);
	if (reap(prod, "producer") < 0) {
		goto out;
	}
	/* Drained: the consumer caught up with everything committed. */
	for (int t = 0; t < m->streams; t++) {
		if (wait_counter(&st->s[t].last,
		                 atomic_load(&st->s[t].committed)) < 0) {
			fprintf(stderr, "%s: consumer stalled draining\n",
			        m->name);
			goto out;
		}
	}
	atomic_store(&st->stop_consuming, 1);
	if (reap(cons, "consumer") < 0) {
		goto out;
	}
	cons = -1;
	/* A last consumer walks past trailing discards. */
	if (ring_peek(ring, &(struct ring_rec){0}) != -EAGAIN) {
		fprintf(stderr, "%s: records left over\n", m->name);
		goto out;
	}
	rc = verify(m, discards, kp);
out:
	if (rc < 0) {
		kill(prod, SIGKILL);
		waitpid(prod, NULL, 0);
		if (cons > 0) {
			kill(cons, SIGKILL);
			waitpid(cons, NULL, 0);
		}
	}
	shm_segment_destroy(seg);
	return rc;
}

int
main(void)
{
	static const struct mode modes[] = {
	    {"sp ring", SHM_RING_CHUNK, SHM_PROC_TRACE0, SHM_PROC_UPLOADER, 1},
	    {"mp ring, 2 producer threads", SHM_RING_REQUEST, SHM_PROC_API,
	     SHM_PROC_DB, 2},
	};
	const char *env = getenv("RING_CRASH_KILLS");
	int kills = env != NULL ? atoi(env) : 200;
	unsigned seed = (unsigned)time(NULL);
	int failed = 0;

	if (getenv("RING_CRASH_SEED") != NULL) {
		seed = (unsigned)strtoul(getenv("RING_CRASH_SEED"), NULL, 10);
	}
	log_init(NULL, LOG_LVL_ERROR);
	/* A watchdog so a hang fails make check; never a synchronisation. */
	alarm(600);
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("seed %u (RING_CRASH_SEED), %d kills of each side\n", seed,
	       kills);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (getenv("RING_CRASH_MODE") != NULL &&
		    atoi(getenv("RING_CRASH_MODE")) != (int)i) {
			continue;
		}
		if (run(&modes[i], kills, seed + (unsigned)i) < 0) {
			failed = 1;
		}
	}
	return failed;
}
