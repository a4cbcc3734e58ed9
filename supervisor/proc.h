/*
 * The supervisor's view of its processes.
 *
 * procs_table (procs.c) lists every kind of worker once: its name, entry
 * function, how many instances, how it stops and how it reports readiness.
 * At start-up the supervisor expands it into one struct proc per instance
 * ("trace/0", "trace/1", ...). Each proc moves through the states below by
 * the transition table in policy.c; every transition is logged by name.
 */
#ifndef PROBED_PROC_H
#define PROBED_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include <ev.h>

#include "conf.h"
#include "worker.h"

enum proc_state {
	PROC_STOPPED = 0, /* not running and not to be started */
	PROC_STARTING,    /* forked, not yet reported ready */
	PROC_RUNNING,     /* reported ready */
	PROC_BACKOFF,     /* crashed, waiting to be restarted */
	PROC_DEGRADED,    /* crash loop: retried at the backoff cap */
	PROC_FAILED,      /* exit 100 or start-up failure: not restarted */
	PROC_NSTATES
};

enum proc_ready {
	READY_PIPE,   /* the worker writes "ready\n" (worker_ready) */
	READY_PGFILE, /* postmaster.pid says "ready" (embedded postgres) */
};

enum {
	PROC_EMBEDDED_ONLY = 1u << 0, /* only with database.mode: embedded */
	PROC_FIRST = 1u << 1,         /* others start once this is ready and
	                               * stop before it is stopped */
};

struct proc_kind {
	const char *name;
	worker_main_fn main;
	int (*count)(const struct conf *c);
	int stop_signal;
	enum proc_ready ready;
	unsigned flags;
	unsigned affects; /* CONF_AFFECTS_* bit that restarts this kind */
	int shm_id;       /* enum shm_proc of instance 0; -1: none */
};

struct proc {
	const struct proc_kind *kind;
	char name[32];
	int index;
	int shm_id; /* enum shm_proc, -1 for postgres */
	enum proc_state state;
	pid_t pid;
	double started;  /* ev_now of the last fork */
	double ready_at; /* ev_now of the last ready report */
	double died_at;  /* ev_time of the last crash, until ready again */
	unsigned restarts;
	double backoff;    /* delay before the next restart */
	double crashes[5]; /* times of the last crashes, a ring */
	unsigned ncrashes;
	char last_exit[64];  /* "exit 1", "signal 9 (Killed)", "" */
	bool stop_requested; /* TERM sent by us: the exit is not a crash */
	bool restart_requested;
	bool kill_sent;

	ev_child child_w;
	ev_timer timer_w;  /* backoff wait, or the healthy period */
	ev_timer kill_w;   /* KILL after stop-timeout */
	ev_timer poll_w;   /* READY_PGFILE polling */
	ev_io err_w;       /* the worker's stderr */
	ev_io ready_w;     /* the readiness pipe */
	char errbuf[2048]; /* a partial stderr line */
	size_t errlen;
};

extern const struct proc_kind procs_table[];
extern const size_t procs_table_len;

/* Restart policy numbers (the foundation issue). */
#define POLICY_BACKOFF_FIRST    0.010 /* after the second crash in a row */
#define POLICY_BACKOFF_CAP      5.0
#define POLICY_HEALTHY_PERIOD   10.0 /* PROBED_HEALTHY_PERIOD overrides */
#define POLICY_DEGRADED_CRASHES 5
#define POLICY_DEGRADED_WINDOW  30.0

const char *proc_state_name(enum proc_state s);
void policy_init(void);

#endif
