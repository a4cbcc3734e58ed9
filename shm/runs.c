/*
 * The shared table of trace runs: layout and ordering in runs.h.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"
#include "shm/runs.h"

#define RELAXED memory_order_relaxed

static struct runs *runs_global;

struct runs *
runs_create(unsigned n)
{
	struct runs *t;
	void *base;
	size_t size;

	if (n == 0 || n > RUNS_MAX) {
		log_err("runs_create: %u slots, expected 1..%u", n, RUNS_MAX);
		return NULL;
	}
	size =
	    sizeof(struct runs_hdr) + 64 + (size_t)n * sizeof(struct runs_slot);
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		log_err("calloc(runs) failed: %s", strerror(errno));
		return NULL;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		log_err("mmap(MAP_SHARED, %zu) failed: %s", size,
		        strerror(errno));
		free(t);
		return NULL;
	}
	t->hdr = base;
	t->slots = (struct runs_slot *)((char *)base + 64);
	t->n = n;
	t->size = size;
	t->hdr->magic = RUNS_MAGIC;
	t->hdr->n = n;
	atomic_store(&t->hdr->next_id, 1);
	runs_global = t;
	return t;
}

struct runs *
runs_shared(void)
{
	return runs_global;
}

void
runs_destroy(struct runs *t)
{
	if (t == NULL) {
		return;
	}
	munmap(t->hdr, t->size);
	if (runs_global == t) {
		runs_global = NULL;
	}
	free(t);
}

/* A slot is free, or holds a run the platform has all of. */
static int
runs_claim(struct runs_slot *s)
{
	uint32_t st = atomic_load(&s->state);

	if (st != RUNS_FREE && !((st == RUNS_FINISHED || st == RUNS_FAILED) &&
	                         atomic_load(&s->uploaded))) {
		return -1;
	}
	/* The write section opens before the state changes: a reader that
	 * sees STARTING then retries until the strings and settings are the
	 * new run's, instead of showing them with the previous run's (or an
	 * unused slot's empty) ones. On success the caller closes it. */
	seqlock_write_begin(&s->lock);
	if (atomic_compare_exchange_strong(&s->state, &st, RUNS_STARTING)) {
		return 0;
	}
	seqlock_write_end(&s->lock);
	return -1;
}

int
runs_alloc(struct runs *t, int worker, const char *path, const char *info,
           unsigned lasting, uint64_t *run_id)
{
	struct runs_slot *s;
	uint64_t id;

	for (unsigned i = 0; i < t->n; i++) {
		s = &t->slots[i];
		/* Free slots first, so finished runs stay visible longer. */
		if (atomic_load(&s->state) != RUNS_FREE || runs_claim(s) != 0) {
			continue;
		}
		goto found;
	}
	for (unsigned i = 0; i < t->n; i++) {
		s = &t->slots[i];
		if (runs_claim(s) == 0) {
			goto found;
		}
	}
	return -1;
found:
	id = atomic_fetch_add(&t->hdr->next_id, 1);
	atomic_store_explicit(&s->run_id, id, RELAXED);
	atomic_store_explicit(&s->worker, worker, RELAXED);
	atomic_store_explicit(&s->uploaded, 0, RELAXED);
	atomic_store_explicit(&s->published, 0, RELAXED);
	atomic_store_explicit(&s->pid, 0, RELAXED);
	atomic_store_explicit(&s->code, 0, RELAXED);
	atomic_store_explicit(&s->started, (uint64_t)time(NULL), RELAXED);
	atomic_store_explicit(&s->lasting, lasting, RELAXED);
	atomic_store_explicit(&s->events, 0, RELAXED);
	atomic_store_explicit(&s->bytes, 0, RELAXED);
	atomic_store_explicit(&s->chunks_sent, 0, RELAXED);
	atomic_store_explicit(&s->chunks_acked, 0, RELAXED);
	atomic_store_explicit(&s->acked, 0, RELAXED);
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->info, sizeof(s->info), "%s", info);
	seqlock_write_end(&s->lock);
	*run_id = id;
	return (int)(s - t->slots);
}

unsigned
runs_repair(struct runs *t)
{
	unsigned n = 0;

	for (unsigned i = 0; t != NULL && i < t->n; i++) {
		struct runs_slot *s = &t->slots[i];

		if (atomic_load(&s->lock.begin) == atomic_load(&s->lock.end)) {
			continue;
		}
		/* FREE before the lock closes: no reader sees the half-made
		 * strings as a run. */
		atomic_store(&s->state, RUNS_FREE);
		seqlock_repair(&s->lock);
		n++;
	}
	if (n > 0) {
		log_warn("run table: freed %u slot%s the api worker died "
		         "writing",
		         n, n == 1 ? "" : "s");
	}
	return n;
}

void
runs_free(struct runs *t, int slot)
{
	atomic_store(&t->slots[slot].state, RUNS_FREE);
}

int
runs_read(const struct runs *t, unsigned slot, struct runs_view *v)
{
	struct runs_slot *s = &t->slots[slot];
	uint64_t ticket;

	for (int i = 0; i < SEQLOCK_READ_TRIES; i++) {
		if (seqlock_read_begin(&s->lock, &ticket) != 0) {
			continue;
		}
		/* Acquire: the trace worker stores pid, code and its counters
		 * before the state that makes them final. */
		v->state =
		    atomic_load_explicit(&s->state, memory_order_acquire);
		if (v->state == RUNS_FREE) {
			return -1;
		}
		v->uploaded = (int)atomic_load_explicit(&s->uploaded, RELAXED);
		v->worker = atomic_load_explicit(&s->worker, RELAXED);
		v->pid = atomic_load_explicit(&s->pid, RELAXED);
		v->code = atomic_load_explicit(&s->code, RELAXED);
		v->run_id = atomic_load_explicit(&s->run_id, RELAXED);
		v->started = atomic_load_explicit(&s->started, RELAXED);
		v->lasting = atomic_load_explicit(&s->lasting, RELAXED);
		v->events = atomic_load_explicit(&s->events, RELAXED);
		v->bytes = atomic_load_explicit(&s->bytes, RELAXED);
		v->chunks_sent = atomic_load_explicit(&s->chunks_sent, RELAXED);
		v->chunks_acked =
		    atomic_load_explicit(&s->chunks_acked, RELAXED);
		memcpy(v->path, s->path, sizeof(v->path));
		memcpy(v->info, s->info, sizeof(v->info));
		if (!seqlock_read_retry(&s->lock, ticket)) {
			v->path[sizeof(v->path) - 1] = '\0';
			v->info[sizeof(v->info) - 1] = '\0';
			return 0;
		}
	}
	return -1;
}

int
runs_find(const struct runs *t, const char *path)
{
	struct runs_view v;

	for (unsigned i = 0; i < t->n; i++) {
		if (atomic_load(&t->slots[i].state) == RUNS_FREE) {
			continue;
		}
		if (runs_read(t, i, &v) == 0 && strcmp(v.path, path) == 0) {
			return (int)i;
		}
	}
	return -1;
}

struct runs_slot *
runs_slot_of(struct runs *t, unsigned slot, uint64_t run_id)
{
	struct runs_slot *s;

	if (t == NULL || slot >= t->n) {
		return NULL;
	}
	s = &t->slots[slot];
	return atomic_load(&s->run_id) == run_id ? s : NULL;
}

const char *
runs_state_name(unsigned state)
{
	static const char *const names[] = {"free", "starting", "running",
	                                    "finished", "failed"};

	return state < sizeof(names) / sizeof(names[0]) ? names[state]
	                                                : "unknown";
}

static json_t *
runs_json_view(unsigned slot, const struct runs_view *v)
{
	char worker[32];
	bool over = v->state == RUNS_FINISHED || v->state == RUNS_FAILED;

	snprintf(worker, sizeof(worker), "trace/%d", v->worker);
	/* pid 0 is "no tool"; code means something only once the run is
	 * over: both are null rather than a made-up 0. */
	return json_pack(
	    "{s:I, s:i, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:b}",
	    "run_id", (json_int_t)v->run_id, "slot", (int)slot, "path", v->path,
	    "worker", worker, "state", runs_state_name(v->state), "pid",
	    v->pid > 0 ? json_integer(v->pid) : json_null(), "code",
	    over ? json_integer(v->code) : json_null(), "started",
	    (json_int_t)v->started, "lasting", (json_int_t)v->lasting, "events",
	    (json_int_t)v->events, "bytes", (json_int_t)v->bytes, "chunks_sent",
	    (json_int_t)v->chunks_sent, "chunks_acked",
	    (json_int_t)v->chunks_acked, "uploaded", v->uploaded);
}

/* Every slot in use, as the control socket's "traces" serves it. A slot
 * runs_read cannot copy whole (free, or its writer stuck in the lock) is
 * left out, never shown half written. */
json_t *
runs_json(const struct runs *t)
{
	json_t *arr = json_array(), *o;
	struct runs_view v;

	if (arr == NULL) {
		log_err("json_array(runs) failed");
		return NULL;
	}
	for (unsigned i = 0; t != NULL && i < t->n; i++) {
		if (runs_read(t, i, &v) != 0) {
			continue;
		}
		o = runs_json_view(i, &v);
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			log_err("json: run %" PRIu64 " failed", v.run_id);
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}
