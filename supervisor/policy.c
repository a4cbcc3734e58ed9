/*
 * Restart policy as data (after s6-supervise): a table of states x events
 * gives the next state and an action; policy_event() looks it up, runs the
 * action and logs the transition by name.
 *
 * A crash is answered at once the first time; after that the delay doubles
 * from 10 ms to a 5 s cap, and goes back to zero once the worker has run
 * for the healthy period (10 s). Five crashes within 30 s make the worker
 * DEGRADED: still retried, at the cap, and shown as such until it has been
 * healthy for the healthy period. Exit 100 means a restart cannot help: the
 * worker is FAILED until an operator restarts it.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "super.h"

enum policy_action {
	ACT_NONE,
	ACT_SPAWN,       /* fork it now */
	ACT_RESPAWN,     /* cancel a pending wait and fork it now */
	ACT_CRASHED,     /* count the crash, restart at once or wait */
	ACT_HEALTHY_ARM, /* ready: arm the healthy-period timer */
	ACT_HEALTHY,     /* the healthy period passed: forget crashes */
	ACT_EXITED,      /* stopped on request: restart if that was asked */
};

/* -1: the action decides the next state. */
#define DECIDE ((enum proc_state) - 1)

struct policy_rule {
	enum proc_state next;
	enum policy_action act;
};

static const struct policy_rule policy_rules[PROC_NSTATES][POLICY_NEVENTS] = {
    [PROC_STOPPED] =
        {
            [POLICY_START] = {PROC_STARTING, ACT_SPAWN},
        },
    [PROC_STARTING] =
        {
            [POLICY_READY] = {PROC_RUNNING, ACT_HEALTHY_ARM},
            [POLICY_CRASH] = {DECIDE, ACT_CRASHED},
            [POLICY_PERMANENT] = {PROC_FAILED, ACT_NONE},
            [POLICY_EXITED] = {DECIDE, ACT_EXITED},
        },
    [PROC_RUNNING] =
        {
            [POLICY_TIMER] = {PROC_RUNNING, ACT_HEALTHY},
            [POLICY_CRASH] = {DECIDE, ACT_CRASHED},
            [POLICY_PERMANENT] = {PROC_FAILED, ACT_NONE},
            [POLICY_EXITED] = {DECIDE, ACT_EXITED},
        },
    [PROC_BACKOFF] =
        {
            [POLICY_TIMER] = {PROC_STARTING, ACT_SPAWN},
            [POLICY_START] = {PROC_STARTING, ACT_RESPAWN},
        },
    /* A DEGRADED worker may be waiting (pid 0) or running again. */
    [PROC_DEGRADED] =
        {
            [POLICY_TIMER] = {DECIDE, ACT_HEALTHY},
            [POLICY_START] = {PROC_DEGRADED, ACT_RESPAWN},
            [POLICY_READY] = {PROC_DEGRADED, ACT_HEALTHY_ARM},
            [POLICY_CRASH] = {DECIDE, ACT_CRASHED},
            [POLICY_PERMANENT] = {PROC_FAILED, ACT_NONE},
            [POLICY_EXITED] = {DECIDE, ACT_EXITED},
        },
    [PROC_FAILED] =
        {
            [POLICY_START] = {PROC_STARTING, ACT_SPAWN},
        },
};

static const char *const policy_event_names[POLICY_NEVENTS] = {
    [POLICY_START] = "start",    [POLICY_READY] = "ready",
    [POLICY_CRASH] = "crash",    [POLICY_PERMANENT] = "permanent failure",
    [POLICY_EXITED] = "stopped", [POLICY_TIMER] = "timer",
};

static const char *const proc_state_names[PROC_NSTATES] = {
    [PROC_STOPPED] = "STOPPED",   [PROC_STARTING] = "STARTING",
    [PROC_RUNNING] = "RUNNING",   [PROC_BACKOFF] = "BACKOFF",
    [PROC_DEGRADED] = "DEGRADED", [PROC_FAILED] = "FAILED",
};

static double policy_healthy_period = POLICY_HEALTHY_PERIOD;

/* The environment may shorten the healthy period, so that the restart
 * benchmark can kill a worker fifty times without tripping the policy it
 * is not measuring. Documented in probed(8), ENVIRONMENT. */
void
policy_init(void)
{
	const char *v = getenv("PROBED_HEALTHY_PERIOD");
	char *end;
	double d;

	if (v == NULL)
		return;
	d = strtod(v, &end);
	if (*end != '\0' || !(d > 0) || d > 3600) {
		log_warn("PROBED_HEALTHY_PERIOD=%s ignored: expected seconds "
		         "in (0, 3600]",
		         v);
		return;
	}
	policy_healthy_period = d;
	log_info("healthy period %.3f s (PROBED_HEALTHY_PERIOD)", d);
}

const char *
proc_state_name(enum proc_state s)
{
	if ((unsigned)s >= PROC_NSTATES)
		return "?";
	return proc_state_names[s];
}

static void
policy_arm(struct super *s, struct proc *p, double after)
{
	ev_timer_stop(s->loop, &p->timer_w);
	ev_timer_set(&p->timer_w, after, 0.);
	ev_timer_start(s->loop, &p->timer_w);
}

/* Forks now; a fork failure counts as a crash of the new worker. */
static enum proc_state
policy_spawn(struct super *s, struct proc *p, enum proc_state next)
{
	ev_timer_stop(s->loop, &p->timer_w);
	if (s->stopping)
		return PROC_STOPPED;
	if (spawn_start(s, p) == 0)
		return next;
	snprintf(p->last_exit, sizeof(p->last_exit), "fork failed");
	policy_arm(s, p, POLICY_BACKOFF_CAP);
	return PROC_BACKOFF;
}

static enum proc_state
policy_crashed(struct super *s, struct proc *p)
{
	double now = ev_now(s->loop), delay = p->backoff;
	double oldest;
	bool degraded;

	p->crashes[p->ncrashes % POLICY_DEGRADED_CRASHES] = now;
	p->ncrashes++;
	oldest = p->crashes[p->ncrashes % POLICY_DEGRADED_CRASHES];
	degraded = p->state == PROC_DEGRADED ||
	           (p->ncrashes >= POLICY_DEGRADED_CRASHES &&
	            now - oldest <= POLICY_DEGRADED_WINDOW);
	p->backoff = p->backoff == 0.
	                 ? POLICY_BACKOFF_FIRST
	                 : fmin(p->backoff * 2, POLICY_BACKOFF_CAP);
	if (s->stopping)
		return PROC_STOPPED;
	if (degraded) {
		if (p->state != PROC_DEGRADED)
			log_warn("%s crashed %d times within %.0f s: degraded, "
			         "retrying every %.0f s",
			         p->name, POLICY_DEGRADED_CRASHES,
			         POLICY_DEGRADED_WINDOW, POLICY_BACKOFF_CAP);
		policy_arm(s, p, POLICY_BACKOFF_CAP);
		return PROC_DEGRADED;
	}
	if (delay == 0.)
		return policy_spawn(s, p, PROC_STARTING);
	log_info("%s: restarting in %.0f ms", p->name, delay * 1000);
	policy_arm(s, p, delay);
	return PROC_BACKOFF;
}

static enum proc_state
policy_run(struct super *s, struct proc *p, const struct policy_rule *r)
{
	switch (r->act) {
	case ACT_NONE:
		return r->next;
	case ACT_SPAWN:
		return policy_spawn(s, p, r->next);
	case ACT_RESPAWN:
		return policy_spawn(
		    s, p, p->state == PROC_DEGRADED ? PROC_DEGRADED : r->next);
	case ACT_CRASHED:
		return policy_crashed(s, p);
	case ACT_HEALTHY_ARM:
		p->ready_at = ev_now(s->loop);
		policy_arm(s, p, policy_healthy_period);
		return r->next;
	case ACT_HEALTHY:
		/* In DEGRADED the timer is either the retry or the healthy
		 * period: a running worker (pid set) has proven itself. */
		if (p->pid == 0)
			return policy_spawn(s, p, PROC_DEGRADED);
		p->backoff = 0.;
		p->ncrashes = 0;
		return PROC_RUNNING;
	case ACT_EXITED:
		if (p->restart_requested && !s->stopping) {
			p->restart_requested = false;
			return policy_spawn(s, p, PROC_STARTING);
		}
		return PROC_STOPPED;
	}
	return r->next;
}

void
policy_event(struct super *s, struct proc *p, enum policy_event ev)
{
	const struct policy_rule *r = &policy_rules[p->state][ev];
	enum proc_state old = p->state, next;

	if (r->act == ACT_NONE && r->next == PROC_STOPPED &&
	    p->state != PROC_STOPPED) {
		/* No rule: an event that cannot happen in this state. */
		log_debug("%s: %s ignored in state %s", p->name,
		          policy_event_names[ev], proc_state_name(p->state));
		return;
	}
	next = policy_run(s, p, r);
	p->state = next;
	if (next != old)
		log_info("%s: %s -> %s (%s)", p->name, proc_state_name(old),
		         proc_state_name(next), policy_event_names[ev]);
	super_proc_changed(s, p);
}
