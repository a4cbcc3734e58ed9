/*
 * One run of a trace worker: the tool's process, its two pipes on the
 * worker's libev loop, the chunker, the records it publishes on the
 * worker's chunk ring (workers/trace_proto.h) and its slot in the run
 * table (shm/runs.h).
 *
 * Life: trace_job_start publishes the start record and spawns the tool;
 * stdout is cut into chunks; the tool ends by itself (the script's
 * interval), by the lasting timer or by trace_job_kill (TERM, KILL after a
 * grace period). Once it is reaped and both pipes are at EOF, the last
 * chunk and the finished record are published and the job calls its
 * done hook. When the chunk ring is full the job stops reading stdout,
 * so the tool blocks on its pipe: back-pressure, nothing dropped.
 */
#ifndef PROBED_TRACE_JOB_H
#define PROBED_TRACE_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "chunker.h"
#include "shm/ring.h"
#include "shm/runs.h"
#include "shm/stats.h"
#include "trace_run.h"

struct trace_job;

/*
 * The worker's figures in its stats page, registered once at worker start
 * (trace.c). A run is refused or started, never both; a started run ends
 * exactly once, so started == ended + active. An id below 0 (registration
 * failed) or a NULL page makes its updates no-ops (shm/stats.h).
 */
struct trace_stats {
	struct stats_page *page;
	int runs_started; /* the tool was spawned */
	int runs_refused; /* never spawned: bad spec, no tool, spawn failed */
	int runs_ended;   /* a started run is over, for whatever reason */
	int runs_active;  /* gauge */
	int output_bytes; /* stdout bytes in committed chunks */
	int chunks;       /* chunks committed to the chunk ring */
	int ring_full;    /* a chunk refused for want of ring space */
	int chunk_wait;   /* histogram, us: first refusal to commit */
};

struct trace_job_env {
	struct ev_loop *loop;
	struct ring *chunks;             /* this worker's chunk ring */
	int sender;                      /* enum shm_proc of this worker */
	const struct trace_stats *stats; /* never NULL */
	/* Called when the job needs ring space; it must call
	 * trace_job_resume once there is some. */
	void (*want_space)(struct trace_job *j, uint32_t len);
	/* Called once the finished record is out; the job may be freed. */
	void (*done)(struct trace_job *j);
	void *arg;
};

struct trace_job {
	const struct trace_job_env *env;
	struct trace_job *next;
	int slot;
	uint64_t run_id;
	struct runs_slot *rs;
	char path[RUNS_PATH_MAX];
	char script[1100];
	unsigned lasting;
	struct trace_run r;
	struct chunker ch;
	ev_io out_w, err_w;
	ev_child child_w;
	ev_timer lasting_w;
	unsigned char *pend; /* stdout read but not yet taken by the chunker */
	size_t pend_off, pend_len;
	size_t pend_cap;
	char *err;
	size_t err_len;
	int last_nl; /* the last byte of stdout was a newline */
	int reaped, out_eof, err_eof, started, blocked, finished;
	int spawned;       /* the tool ran: counted in runs_started */
	double wait_since; /* clock_mono() when the ring refused a chunk */
	int code;
	char why[512]; /* a start failure, reported as stderr */
};

/* A new job for a start command; NULL after logging (out of memory). */
struct trace_job *trace_job_new(const struct trace_job_env *env, int slot,
                                uint64_t run_id, struct runs_slot *rs,
                                const char *path, size_t chunk_size);
/*
 * Publishes the start record and spawns the tool. A tool that cannot
 * start still ends the run properly: why becomes the finished record's
 * stderr, with code -1. Returns 0; -1 only when the start record could
 * not be published yet (ring full: call again after want_space).
 */
int trace_job_start(struct trace_job *j, const struct trace_run_spec *spec,
                    const char *why);
/* TERM now, KILL after grace seconds. */
void trace_job_kill(struct trace_job *j, double grace);
/* The ring has space again: publish what waits, read stdout again. */
void trace_job_resume(struct trace_job *j);
void trace_job_free(struct trace_job *j);

/* A record on the chunk ring: 0, or -EAGAIN when the ring is full. */
int trace_job_publish(struct ring *ring, int sender, uint16_t type,
                      uint64_t run_id, int slot, const char *path, uint64_t no,
                      int code, const void *data, size_t len);

#endif
