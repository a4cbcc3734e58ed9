/*
 * The runtime every worker process shares.
 *
 * The supervisor forks (no exec) and calls worker_run() in the child with
 * the worker's row of the process table. worker_run() makes the child a
 * worker: PR_SET_PDEATHSIG(SIGKILL) and a check that the parent did not die
 * before that took effect, default signal dispositions, a fresh libev loop
 * (the parent's loop is never touched after fork), and SIGTERM/SIGINT
 * watchers that call the kind's stop hook. Then it calls the kind's main.
 *
 * Readiness: a worker calls worker_ready() once it serves; that writes
 * "ready\n" on the pipe whose write end is w->ready_fd. The supervisor
 * reads it and moves the worker from STARTING to RUNNING.
 *
 * Exit codes: 0 clean stop; WORKER_EXIT_PERMANENT (100) a failure that a
 * restart cannot fix (the supervisor does not restart it); anything else,
 * or a signal, is a crash and is restarted by policy.
 */
#ifndef PROBED_WORKER_H
#define PROBED_WORKER_H

#include <ev.h>

#include "conf.h"

#define WORKER_EXIT_PERMANENT 100

struct shm_segment;
struct runs;

struct worker {
	const char *name;        /* "api", "trace/1" */
	int index;               /* instance number within its kind */
	struct ev_loop *loop;    /* fresh, owned by this process */
	const struct conf *conf; /* read-only snapshot from before fork */
	struct shm_segment *shm; /* mapped before fork, checked at start */
	int shm_id;              /* enum shm_proc; -1: uses no ring */
	struct runs *runs;       /* trace runs (shm/runs.h), before fork */
	int ready_fd;
	int stopping; /* set once TERM or INT arrived */
	int faults;   /* FAULT_* from fault_check() */
	/* Called on the loop when TERM/INT arrives; NULL: ev_break the loop. */
	void (*on_stop)(struct worker *w);
	void *data; /* the kind's own state */
};

typedef int (*worker_main_fn)(struct worker *w);

/* Never returns: runs main and _exit()s with its result. */
void worker_run(struct worker *w, worker_main_fn main_fn, int ready_fd);

void worker_ready(struct worker *w);

/* Test-only fault injection (workers/fault.c). */
enum {
	FAULT_IGNORE_TERM = 1,
	FAULT_NOT_READY = 2,
};
int fault_check(struct worker *w);

/* Drop root for good to conf->user (setgroups, setgid, setuid, verified). */
int worker_drop_privileges(struct worker *w);

/* Entry points, one per kind (workers/<kind>.c). */
int api_main(struct worker *w);
int db_main(struct worker *w);
int trace_main(struct worker *w);
int uploader_main(struct worker *w);
int postgres_main(struct worker *w);

#endif
