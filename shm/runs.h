/*
 * The table of trace runs on this node: fixed slots in a shared mapping of
 * its own, made by the supervisor before the first fork (runs_create) so
 * that every process sees it at the same address.
 *
 * Who writes what. The api claims a slot (CAS of state from FREE, or from
 * a finished run the platform has all of) and writes its strings and
 * settings under the slot's sequence lock; from then on each field has
 * one writer process, which stores it with an atomic: the trace worker
 * (state, pid, events, bytes, chunks_sent, code, published), the uploader
 * (chunks_acked, acked, uploaded). Readers (the api) copy a slot with
 * runs_read, which retries while the sequence lock is held.
 *
 * A run id is a node-wide counter, never reused, so that a record in a
 * ring names its run even after the slot went to another run: the uploader
 * compares ids before it trusts a slot.
 */
#ifndef PROBED_SHM_RUNS_H
#define PROBED_SHM_RUNS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shm/seqlock.h"

#define RUNS_MAGIC    0x534e5552u /* "RUNS" */
#define RUNS_PATH_MAX 256
#define RUNS_INFO_MAX 2048
#define RUNS_MAX      4096

enum runs_state {
	RUNS_FREE = 0,
	RUNS_STARTING, /* claimed by the api, start sent to a worker */
	RUNS_RUNNING,  /* the worker took it */
	RUNS_FINISHED, /* the tool ended, finished record published */
	RUNS_FAILED,   /* could not start, or its worker died */
};

struct runs_slot {
	struct seqlock lock;
	_Atomic uint32_t state;
	_Atomic uint32_t uploaded;  /* finished record acknowledged */
	_Atomic uint32_t published; /* start record committed */
	_Atomic int32_t worker;
	_Atomic int32_t pid;  /* the tool's process group; 0: none */
	_Atomic int32_t code; /* once finished */
	_Atomic uint64_t run_id;
	_Atomic uint64_t started; /* unix seconds */
	_Atomic uint64_t lasting; /* seconds */
	_Atomic uint64_t events;  /* lines of output */
	_Atomic uint64_t bytes;
	_Atomic uint64_t chunks_sent;  /* published on the chunk ring */
	_Atomic uint64_t chunks_acked; /* acknowledged by the platform */
	_Atomic uint64_t acked;   /* records acknowledged (trace_rec_seq) */
	char path[RUNS_PATH_MAX]; /* under the sequence lock */
	char info[RUNS_INFO_MAX]; /* template JSON, under the lock */
};

struct runs_hdr {
	uint32_t magic;
	uint32_t n;
	_Atomic uint64_t next_id;
};

struct runs {
	struct runs_hdr *hdr;
	struct runs_slot *slots;
	unsigned n;
	size_t size;
};

/* A consistent copy of a slot, for the api. */
struct runs_view {
	unsigned state;
	int uploaded;
	int worker;
	int pid;
	int code;
	uint64_t run_id;
	uint64_t started, lasting, events, bytes, chunks_sent, chunks_acked;
	char path[RUNS_PATH_MAX];
	char info[RUNS_INFO_MAX];
};

/* Supervisor, before fork: n slots. NULL on error (logged). The table is
 * also kept as the process's runs_shared(), which children inherit. */
struct runs *runs_create(unsigned n);
struct runs *runs_shared(void);
void runs_destroy(struct runs *t);

/* The api: claims a slot for a new run, returns its index and *run_id, or
 * -1 when every slot is busy. */
int runs_alloc(struct runs *t, int worker, const char *path, const char *info,
               unsigned lasting, uint64_t *run_id);
/* Gives back a slot runs_alloc returned and nothing else saw. */
void runs_free(struct runs *t, int slot);

/* 0 and a copy, or -1 (free slot, or a writer stuck in the lock). */
int runs_read(const struct runs *t, unsigned slot, struct runs_view *v);
/* The slot of a path, -1 if none. */
int runs_find(const struct runs *t, const char *path);
/* The slot when it still holds run_id, else NULL. */
struct runs_slot *runs_slot_of(struct runs *t, unsigned slot, uint64_t run_id);

const char *runs_state_name(unsigned state);

/* The slots in use as a JSON array (supervisor/control.c's "traces"):
 * {"run_id", "slot", "path", "worker": "trace/N", "state", "pid" (null:
 * no tool), "code" (null until over), "started" (unix s), "lasting",
 * "events", "bytes", "chunks_sent", "chunks_acked", "uploaded"}. NULL on
 * error (logged). */
json_t *runs_json(const struct runs *t);

/*
 * Supervisor, after reaping the api worker, the only process that writes
 * under the slots' locks (runs_alloc): a slot it left inside its write
 * section is half made and known to nobody (the trace worker learns of a
 * run after runs_alloc returns), so it goes back to FREE and its lock is
 * closed; otherwise readers would skip it and nobody could claim it again.
 * Returns how many slots it freed.
 */
unsigned runs_repair(struct runs *t);

#endif
