/*
 * The shared segment: one memfd mapping created by the supervisor before
 * the first fork, so every process sees it at the same address.
 *
 * Layout (offsets from the start, every region 4 KiB aligned):
 *
 *   0                 struct shm_header: magic, layout version, sizes,
 *                     and a descriptor (offset, size, ends) per ring and
 *                     per process stats page
 *   rings             one ring (struct ring_ctl + data) per descriptor, in
 *                     this order: chunk/0..N-1, request, response,
 *                     command/0..N-1
 *   stats pages       one per process: supervisor, api, db, uploader,
 *                     trace/0..N-1
 *
 * Rings and who is on each end:
 *
 *   chunk/i     trace/i -> uploader   trace output, one producer thread
 *   request     api -> db             MP: the api's thread pool produces
 *   response    db -> api
 *   command/i   api -> trace/i        MP
 *
 * Every process checks the header (shm_segment_attach) before use and
 * refuses a mismatch: a segment made by another build is never trusted.
 *
 * The eventfds (two per ring) are made with the segment, before fork, and
 * live in the process-local struct shm_segment, never in shared memory.
 */
#ifndef PROBED_SHM_SEGMENT_H
#define PROBED_SHM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shm/ring.h"
#include "shm/stats.h"

#define SHM_MAGIC          0x4d48534445424f52ull /* "ROBEDSHM" */
#define SHM_LAYOUT_VERSION 1u
#define SHM_MAX_TRACE      64
#define SHM_MAX_PROCS      (SHM_PROC_TRACE0 + SHM_MAX_TRACE)
#define SHM_MAX_RINGS      (2 + 2 * SHM_MAX_TRACE)
#define SHM_NAME_MAX       24

#define SHM_CHUNK_RING_DEFAULT ((size_t)4 << 20)
#define SHM_RING_DEFAULT       ((size_t)1 << 20)

/* Process ids: trace worker i is SHM_PROC_TRACE0 + i. */
enum shm_proc {
	SHM_PROC_SUPERVISOR = 0,
	SHM_PROC_API,
	SHM_PROC_DB,
	SHM_PROC_UPLOADER,
	SHM_PROC_TRACE0,
};

enum shm_ring_kind {
	SHM_RING_CHUNK = 0, /* trace/i -> uploader */
	SHM_RING_REQUEST,   /* api -> db */
	SHM_RING_RESPONSE,  /* db -> api */
	SHM_RING_COMMAND,   /* api -> trace/i */
};

/* Zero fields take the defaults. Ring sizes: powers of two. */
struct shm_params {
	int n_trace;
	size_t chunk_ring_bytes;
	size_t request_ring_bytes;
	size_t response_ring_bytes;
	size_t command_ring_bytes;
	size_t stats_page_bytes;
};

struct shm_ring_desc {
	uint32_t kind;
	uint32_t index;
	uint32_t producer; /* enum shm_proc */
	uint32_t consumer;
	uint64_t offset;
	uint64_t size;  /* data bytes */
	uint32_t flags; /* RING_MP, RING_BULK */
	char name[SHM_NAME_MAX];
};

struct shm_proc_desc {
	uint64_t stats_offset;
	char name[SHM_NAME_MAX];
};

/* Shared, at offset 0. */
struct shm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;
	uint64_t total_size;
	uint32_t n_trace;
	uint32_t n_rings;
	uint32_t n_procs;
	uint32_t stats_page_bytes;
	struct shm_ring_desc rings[SHM_MAX_RINGS];
	struct shm_proc_desc procs[SHM_MAX_PROCS];
};

/* Process-local. */
struct shm_segment {
	void *base;
	size_t size;
	int fd; /* the memfd */
	struct shm_header *hdr;
	unsigned n_rings;
	unsigned n_procs;
	struct ring rings[SHM_MAX_RINGS];
};

/* Supervisor, before the first fork. NULL on error (logged). */
struct shm_segment *shm_segment_create(const struct shm_params *params);
void shm_segment_destroy(struct shm_segment *seg);

/* Every process at start: checks the header; a consumer resumes its rings
 * at the first record not released. 0 or -EINVAL (logged). */
int shm_segment_attach(struct shm_segment *seg, int proc);
/* The header check alone, for a mapping of size bytes at base. */
int shm_segment_check(const void *base, size_t size);

/* NULL if there is no such ring. */
struct ring *shm_segment_ring(struct shm_segment *seg, enum shm_ring_kind kind,
                              int index);
const struct shm_ring_desc *shm_segment_ring_desc(const struct shm_segment *seg,
                                                  enum shm_ring_kind kind,
                                                  int index);
struct stats_page *shm_segment_stats(struct shm_segment *seg, int proc);

/* "trace/3"; NULL for an id out of range. */
const char *shm_proc_name(const struct shm_segment *seg, int proc);
int shm_proc_count(const struct shm_segment *seg);

/* Supervisor, after reaping proc: repairs every ring it produces into and
 * its stats page; returns the records discarded (and logs them). */
uint64_t shm_segment_repair_producer(struct shm_segment *seg, int proc);
/* Supervisor, after reaping proc: finishes its half-done releases. */
void shm_segment_repair_consumer(struct shm_segment *seg, int proc);

/* For `probectl rings`: per ring name, producer, consumer, size, used,
 * records in/out, discards, producer waits, consumer wake-ups. */
json_t *shm_segment_rings_json(const struct shm_segment *seg);
/* A snapshot of proc's stats page. */
json_t *shm_stats_json(const struct shm_segment *seg, int proc);

#endif
