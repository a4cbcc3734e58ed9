/*
 * The supervisor's own figures, in its stats page: crashes, restarts, how
 * long a crashed worker took to be ready again, and how many workers are in
 * each state now. Readers: probectl stats, and the api worker's metrics.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "shm/segment.h"
#include "super.h"

void
superstats_init(struct super *s)
{
	struct stats_page *p = shm_segment_stats(s->shm, SHM_PROC_SUPERVISOR);

	s->stats = p;
	if (p == NULL)
		return;
	s->st_crashes =
	    stats_register(p, "worker_crashes", STATS_COUNTER, "crashes",
	                   "workers that exited without being asked to");
	s->st_restarts =
	    stats_register(p, "worker_restarts", STATS_COUNTER, "restarts",
	                   "workers forked again after their first start");
	s->st_recovery =
	    stats_register(p, "worker_recovery_time", STATS_HISTOGRAM, "us",
	                   "from a crash being reaped to the new "
	                   "worker reporting ready");
	s->st_running = stats_register(p, "workers_running", STATS_GAUGE,
	                               "workers", "workers in state RUNNING");
	s->st_degraded = stats_register(p, "workers_degraded", STATS_GAUGE,
	                                "workers", "workers in state DEGRADED");
	s->st_failed = stats_register(p, "workers_failed", STATS_GAUGE,
	                              "workers", "workers in state FAILED");
}

void
superstats_crash(struct super *s, struct proc *p)
{
	p->died_at = ev_time();
	if (s->stats != NULL && s->st_crashes >= 0)
		stats_add(s->stats, s->st_crashes, 1);
}

void
superstats_restart(struct super *s)
{
	if (s->stats != NULL && s->st_restarts >= 0)
		stats_add(s->stats, s->st_restarts, 1);
}

void
superstats_changed(struct super *s, struct proc *p)
{
	int64_t running = 0, degraded = 0, failed = 0;

	if (s->stats == NULL)
		return;
	if (p->died_at != 0. && p->pid != 0 && p->ready_at >= p->died_at) {
		if (s->st_recovery >= 0)
			stats_observe(
			    s->stats, s->st_recovery,
			    (uint64_t)((ev_time() - p->died_at) * 1e6));
		p->died_at = 0.;
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		running += s->procs[i].state == PROC_RUNNING;
		degraded += s->procs[i].state == PROC_DEGRADED;
		failed += s->procs[i].state == PROC_FAILED;
	}
	if (s->st_running >= 0)
		stats_gauge_set(s->stats, s->st_running, running);
	if (s->st_degraded >= 0)
		stats_gauge_set(s->stats, s->st_degraded, degraded);
	if (s->st_failed >= 0)
		stats_gauge_set(s->stats, s->st_failed, failed);
}

/* {"cmd": "stats", "arg": NAME}: a snapshot of NAME's page. */
json_t *
superstats_json(struct super *s, const char *name)
{
	char err[128];
	json_t *st;

	for (int i = 0; i < shm_proc_count(s->shm); i++) {
		if (strcmp(shm_proc_name(s->shm, i), name) != 0)
			continue;
		st = shm_stats_json(s->shm, i);
		if (st == NULL)
			break;
		return json_pack("{s:b, s:o}", "ok", 1, "stats", st);
	}
	snprintf(err, sizeof(err), "no stats page named \"%.64s\"", name);
	return json_pack("{s:b, s:s}", "ok", 0, "error", err);
}
