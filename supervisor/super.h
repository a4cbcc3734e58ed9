/*
 * The supervisor process: one struct super, owned by the main loop.
 */
#ifndef PROBED_SUPER_H
#define PROBED_SUPER_H

#include <stdbool.h>

#include <ev.h>
#include <jansson.h>

#include "conf.h"
#include "proc.h"

struct shm_segment;

struct super {
	struct ev_loop *loop;
	struct conf *conf;
	char *conf_dir;
	struct proc *procs;
	size_t nprocs;
	struct shm_segment *shm;

	double started;          /* wall clock, for /recentStartTime */
	bool stopping;           /* stop in progress: nothing restarts */
	bool stop_unclean;       /* a worker needed KILL or exited non-zero */
	bool notified_ready;     /* READY=1 sent since start or last reload */
	struct proc *reload_cur; /* the one being restarted by a reload */

	int lock_fd;
	int ctl_fd;
	char ctl_path[256];
	ev_io ctl_w;
	ev_signal sig_w[4];
	ev_timer watchdog_w;

	/* superstats.c: ids in the supervisor's stats page, -1 if none */
	struct stats_page *stats;
	int st_crashes, st_restarts, st_recovery;
	int st_running, st_degraded, st_failed;
};

enum policy_event {
	POLICY_START,     /* start it (start-up, control restart) */
	POLICY_READY,     /* it reported ready */
	POLICY_CRASH,     /* it exited without being asked to */
	POLICY_PERMANENT, /* it exited 100 */
	POLICY_EXITED,    /* it exited after we asked it to stop */
	POLICY_TIMER,     /* backoff over, or healthy period reached */
	POLICY_NEVENTS
};

void policy_event(struct super *s, struct proc *p, enum policy_event ev);

void spawn_init(struct super *s, struct proc *p);
int spawn_start(struct super *s, struct proc *p);
void spawn_signal(struct super *s, struct proc *p, int sig);
void spawn_close_fds(struct super *s, struct proc *p);

int super_build(struct super *s);
void super_start(struct super *s);
void super_reload_next(struct super *s);
void super_proc_changed(struct super *s, struct proc *p);
int super_stop(struct super *s);
void super_free(struct super *s);
int super_restart(struct super *s, const char *name, char *err, size_t len);
int super_reload(struct super *s, char **why);
json_t *super_status_json(struct super *s);
struct proc *super_find(struct super *s, const char *name);

int super_shm_create(struct super *s);
void superstats_init(struct super *s);
void superstats_crash(struct super *s, struct proc *p);
void superstats_restart(struct super *s);
void superstats_changed(struct super *s, struct proc *p);
json_t *superstats_json(struct super *s, const char *name);
json_t *control_rings(struct super *s);
json_t *control_traces(struct super *s);

int control_open(struct super *s);
void control_close(struct super *s);

void notify_send(const char *msg);
void notify_watchdog_start(struct super *s);

int statedir_prepare(struct conf *c);
int statedir_lock(struct super *s);
int statedir_embedded_db(struct conf *c);

#endif
