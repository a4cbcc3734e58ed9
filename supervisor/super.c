/*
 * What the supervisor does to its workers as a whole: start them in order,
 * stop them (TERM, KILL after stop-timeout, PostgreSQL last), restart one
 * on request, reload the config, report status.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"
#include "super.h"

static void
super_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	policy_event(ev_userdata(loop), w->data, POLICY_TIMER);
}

int
super_build(struct super *s)
{
	size_t n = 0, i, k;
	int count;

	for (k = 0; k < procs_table_len; k++)
		n += (size_t)procs_table[k].count(s->conf);
	s->procs = calloc(n, sizeof(*s->procs));
	if (s->procs == NULL) {
		log_err("calloc(%zu procs) failed: %s", n, strerror(errno));
		return -1;
	}
	for (k = 0, i = 0; k < procs_table_len; k++) {
		count = procs_table[k].count(s->conf);
		for (int j = 0; j < count; j++, i++) {
			struct proc *p = &s->procs[i];

			p->kind = &procs_table[k];
			p->index = j;
			p->shm_id =
			    p->kind->shm_id < 0 ? -1 : p->kind->shm_id + j;
			if (p->kind->count == procs_table[k].count &&
			    strcmp(p->kind->name, "trace") == 0)
				snprintf(p->name, sizeof(p->name), "%s/%d",
				         p->kind->name, j);
			else
				snprintf(p->name, sizeof(p->name), "%s",
				         p->kind->name);
			spawn_init(s, p);
			ev_init(&p->timer_w, super_timer_cb);
			p->timer_w.data = p;
		}
	}
	s->nprocs = n;
	return 0;
}

static bool
super_first_ready(struct super *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if ((p->kind->flags & PROC_FIRST) && p->state != PROC_RUNNING)
			return false;
	}
	return true;
}

/* Starts whatever may start now: PROC_FIRST kinds at once, the others
 * once every PROC_FIRST process is ready. */
void
super_start(struct super *s)
{
	bool first_ready = super_first_ready(s);

	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if (p->state != PROC_STOPPED || p->pid != 0)
			continue;
		if ((p->kind->flags & PROC_FIRST) || first_ready)
			policy_event(s, p, POLICY_START);
	}
}

static bool
super_all_exited(struct super *s, bool first_too)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if (!first_too && (p->kind->flags & PROC_FIRST))
			continue;
		if (p->pid != 0)
			return false;
	}
	return true;
}

static void
super_stop_step(struct super *s)
{
	if (!super_all_exited(s, false))
		return;
	/* The workers are gone: now PostgreSQL may go. */
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if (p->pid != 0 && !p->stop_requested)
			spawn_signal(s, p, p->kind->stop_signal);
	}
	if (super_all_exited(s, true)) {
		log_info("every worker stopped%s",
		         s->stop_unclean ? " (not all cleanly)" : "");
		ev_break(s->loop, EVBREAK_ALL);
	}
}

void
super_reload_next(struct super *s)
{
	struct proc *p;

	for (size_t i = 0; i < s->nprocs; i++) {
		p = &s->procs[i];
		if (!p->restart_requested || p->stop_requested)
			continue;
		s->reload_cur = p;
		if (p->pid == 0) {
			p->restart_requested = false;
			policy_event(s, p, POLICY_START);
		} else {
			log_info("reload: restarting %s", p->name);
			spawn_signal(s, p, p->kind->stop_signal);
		}
		return;
	}
	s->reload_cur = NULL;
	log_info("reload complete");
	notify_send("READY=1");
}

void
super_proc_changed(struct super *s, struct proc *p)
{
	bool all = true;

	superstats_changed(s, p);
	if (s->stopping) {
		super_stop_step(s);
		return;
	}
	if ((p->kind->flags & PROC_FIRST) && p->state == PROC_RUNNING)
		super_start(s);
	/* A reload restarts one worker at a time: the next goes once this
	 * one is past STARTING, ready or not. */
	if (s->reload_cur == p && p->state != PROC_STARTING &&
	    !p->restart_requested)
		super_reload_next(s);
	if (s->notified_ready)
		return;
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i].state != PROC_RUNNING)
			all = false;
	}
	if (all) {
		s->notified_ready = true;
		log_info("every worker is ready");
		notify_send("READY=1");
	}
}

int
super_stop(struct super *s)
{
	if (s->stopping)
		return 0;
	s->stopping = true;
	s->reload_cur = NULL;
	log_info("stopping: TERM to every worker, KILL after %.1f s",
	         s->conf->stop_timeout);
	notify_send("STOPPING=1");
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		p->restart_requested = false;
		ev_timer_stop(s->loop, &p->timer_w);
		if (p->pid == 0) {
			p->state = PROC_STOPPED;
			continue;
		}
		if (!(p->kind->flags & PROC_FIRST))
			spawn_signal(s, p, p->kind->stop_signal);
	}
	super_stop_step(s);
	return 0;
}

struct proc *
super_find(struct super *s, const char *name)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (strcmp(s->procs[i].name, name) == 0)
			return &s->procs[i];
	}
	return NULL;
}

static void
super_restart_one(struct super *s, struct proc *p)
{
	log_info("%s: restart requested", p->name);
	if (p->pid != 0) {
		p->restart_requested = true;
		spawn_signal(s, p, p->kind->stop_signal);
		return;
	}
	/* Waiting or failed: a manual restart starts afresh. */
	p->backoff = 0.;
	p->ncrashes = 0;
	if (p->state == PROC_DEGRADED)
		p->state = PROC_BACKOFF;
	policy_event(s, p, POLICY_START);
}

/* NAME is a worker ("trace/1") or a kind ("trace": every instance). */
int
super_restart(struct super *s, const char *name, char *err, size_t len)
{
	int found = 0;

	if (s->stopping) {
		snprintf(err, len, "probed is stopping");
		return -1;
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if (strcmp(p->name, name) == 0 ||
		    strcmp(p->kind->name, name) == 0) {
			super_restart_one(s, p);
			found++;
		}
	}
	if (found == 0) {
		snprintf(err, len, "no worker named \"%s\"", name);
		return -1;
	}
	return 0;
}

json_t *
super_status_json(struct super *s)
{
	double now = ev_now(s->loop);
	json_t *arr = json_array();

	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:i, s:s, s:f, "
		              "s:i, s:s}",
		              "name", p->name, "pid", (int)p->pid, "state",
		              proc_state_name(p->state), "uptime",
		              p->pid != 0 ? now - p->started : 0., "restarts",
		              (int)p->restarts, "last_exit", p->last_exit));
	}
	return arr;
}

/* Everything the supervisor holds, so that a sanitizer build proves that
 * nothing else is left at exit. */
void
super_free(struct super *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->procs);
	conf_free(s->conf);
	free(s->conf_dir);
	if (s->shm != NULL)
		shm_segment_destroy(s->shm);
	s->shm = NULL;
	ev_loop_destroy(s->loop);
	s->procs = NULL;
	s->conf = NULL;
	s->conf_dir = NULL;
}
