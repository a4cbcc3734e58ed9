/*
 * Forking workers and watching them: the child watcher, the stderr pipe
 * (every line goes into the supervisor's log behind the worker's name) and
 * the readiness pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "shm/runs.h"
#include "shm/segment.h"
#include "super.h"

static void
spawn_err_flush(struct proc *p)
{
	if (p->errlen > 0)
		log_line_from(p->name, p->errbuf, p->errlen);
	p->errlen = 0;
}

static void
spawn_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc *p = w->data;
	char *nl, *start;
	ssize_t n;

	n = read(w->fd, p->errbuf + p->errlen, sizeof(p->errbuf) - p->errlen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		spawn_err_flush(p);
		ev_io_stop(loop, w);
		close(w->fd);
		w->fd = -1;
		return;
	}
	p->errlen += (size_t)n;
	start = p->errbuf;
	while ((nl = memchr(start, '\n',
	                    p->errlen - (size_t)(start - p->errbuf))) != NULL) {
		log_line_from(p->name, start, (size_t)(nl - start));
		start = nl + 1;
	}
	p->errlen -= (size_t)(start - p->errbuf);
	memmove(p->errbuf, start, p->errlen);
	/* A line longer than the buffer is cut, not lost. */
	if (p->errlen == sizeof(p->errbuf))
		spawn_err_flush(p);
}

static void
spawn_ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc *p = w->data;
	struct super *s = ev_userdata(loop);
	char buf[16];
	ssize_t n;

	n = read(w->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	ev_io_stop(loop, w);
	close(w->fd);
	w->fd = -1;
	if (n > 0 && p->pid != 0)
		policy_event(s, p, POLICY_READY);
}

/* postmaster.pid line 8 is the postmaster's status: "ready" once it
 * accepts connections (PostgreSQL 10 and later). */
static void
spawn_pgfile_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proc *p = w->data;
	struct super *s = ev_userdata(loop);
	char path[512], buf[1024];
	FILE *f;
	int line = 0;

	snprintf(path, sizeof(path), "%s/pg/data/postmaster.pid",
	         s->conf->state_dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (++line == 8 && strncmp(buf, "ready", 5) == 0) {
			fclose(f);
			ev_timer_stop(loop, w);
			policy_event(s, p, POLICY_READY);
			return;
		}
	}
	fclose(f);
}

static void
spawn_describe_exit(struct proc *p, int status)
{
	if (WIFEXITED(status))
		snprintf(p->last_exit, sizeof(p->last_exit), "exit %d",
		         WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(p->last_exit, sizeof(p->last_exit), "signal %d (%s)",
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(p->last_exit, sizeof(p->last_exit), "status %#x",
		         status);
}

static void
spawn_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct proc *p = w->data;
	struct super *s = ev_userdata(loop);
	int st = w->rstatus;
	bool requested = p->stop_requested;
	bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &p->kill_w);
	ev_timer_stop(loop, &p->poll_w);
	spawn_describe_exit(p, st);
	/* Read what it said before it died, so its last words come first. */
	if (p->err_w.fd >= 0)
		spawn_err_cb(loop, &p->err_w, EV_READ);
	spawn_close_fds(s, p);
	p->pid = 0;
	p->stop_requested = false;
	/*
	 * Whatever way it ended, the rings it produced into may hold records
	 * it reserved and never committed, and a release it began may be
	 * half done. The supervisor repairs both before anyone restarts it:
	 * its consumers then skip its dead records (counted as discards)
	 * instead of waiting on them for ever. The api worker also writes
	 * the run table's slots under their locks; nothing else shared is
	 * trusted to a dead process.
	 */
	if (s->shm != NULL && p->shm_id >= 0) {
		shm_segment_repair_producer(s->shm, p->shm_id);
		shm_segment_repair_consumer(s->shm, p->shm_id);
	}
	/* The api alone writes run slots under their locks (shm/runs.h). */
	if (p->shm_id == SHM_PROC_API)
		runs_repair(runs_shared());
	if (requested) {
		if (!clean &&
		    !(WIFSIGNALED(st) && WTERMSIG(st) == p->kind->stop_signal))
			s->stop_unclean = true;
		log_info("%s stopped (%s)", p->name, p->last_exit);
		policy_event(s, p, POLICY_EXITED);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == WORKER_EXIT_PERMANENT) {
		log_err("%s failed permanently (exit %d): not restarting",
		        p->name, WORKER_EXIT_PERMANENT);
		policy_event(s, p, POLICY_PERMANENT);
		return;
	}
	log_warn("%s (pid %d) died: %s", p->name, (int)w->rpid, p->last_exit);
	superstats_crash(s, p);
	policy_event(s, p, POLICY_CRASH);
}

void
spawn_close_fds(struct super *s, struct proc *p)
{
	if (p->err_w.fd >= 0) {
		ev_io_stop(s->loop, &p->err_w);
		close(p->err_w.fd);
		p->err_w.fd = -1;
	}
	if (p->ready_w.fd >= 0) {
		ev_io_stop(s->loop, &p->ready_w);
		close(p->ready_w.fd);
		p->ready_w.fd = -1;
	}
}

/*
 * In a new child: libev keeps which loop owns a signal in global state, so
 * the supervisor's signal watchers are stopped and its default loop is
 * destroyed (that also stops the SIGCHLD watcher); worker_run() then makes
 * a fresh default loop, which keeps ev_child usable in trace workers. The
 * epoll descriptor is shared with the parent after fork: the child only
 * closes its copy, never changes the set.
 */
static void
spawn_forget_loop(struct super *s)
{
	for (size_t i = 0; i < sizeof(s->sig_w) / sizeof(s->sig_w[0]); i++) {
		if (ev_is_active(&s->sig_w[i]))
			ev_signal_stop(s->loop, &s->sig_w[i]);
	}
	ev_loop_destroy(s->loop);
	s->loop = NULL;
}

int
spawn_start(struct super *s, struct proc *p)
{
	int errp[2] = {-1, -1}, readyp[2] = {-1, -1};
	struct worker w;
	pid_t pid;

	if (pipe2(errp, O_CLOEXEC) == -1 || pipe2(readyp, O_CLOEXEC) == -1) {
		log_err("pipe2 for %s failed: %s", p->name, strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == -1) {
		log_err("fork for %s failed: %s", p->name, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* The child: nothing of the supervisor's loop is used again. */
		if (dup2(errp[1], STDERR_FILENO) == -1)
			_exit(1);
		close(errp[0]);
		close(readyp[0]);
		if (s->ctl_fd >= 0)
			close(s->ctl_fd);
		if (s->lock_fd >= 0)
			close(s->lock_fd);
		spawn_forget_loop(s);
		memset(&w, 0, sizeof(w));
		w.name = p->name;
		w.index = p->index;
		w.conf = s->conf;
		w.shm = s->shm;
		w.shm_id = p->shm_id;
		w.runs = runs_shared();
		worker_run(&w, p->kind->main, readyp[1]);
	}
	close(errp[1]);
	close(readyp[1]);
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	fcntl(readyp[0], F_SETFL, O_NONBLOCK);
	if (p->started != 0.) {
		p->restarts++;
		superstats_restart(s);
	}
	p->pid = pid;
	p->started = ev_now(s->loop);
	p->kill_sent = false;
	p->errlen = 0;
	ev_io_set(&p->err_w, errp[0], EV_READ);
	ev_io_start(s->loop, &p->err_w);
	ev_child_set(&p->child_w, pid, 0);
	ev_child_start(s->loop, &p->child_w);
	if (p->kind->ready == READY_PIPE) {
		ev_io_set(&p->ready_w, readyp[0], EV_READ);
		ev_io_start(s->loop, &p->ready_w);
	} else {
		close(readyp[0]);
		ev_timer_set(&p->poll_w, 0.01, 0.01);
		ev_timer_start(s->loop, &p->poll_w);
	}
	log_info("%s started, pid %d", p->name, (int)pid);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (errp[i] >= 0)
			close(errp[i]);
		if (readyp[i] >= 0)
			close(readyp[i]);
	}
	return -1;
}

static void
spawn_kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proc *p = w->data;
	struct super *s = ev_userdata(loop);

	if (p->pid == 0)
		return;
	log_warn("%s (pid %d) did not stop within %.1f s: sending KILL",
	         p->name, (int)p->pid, s->conf->stop_timeout);
	p->kill_sent = true;
	s->stop_unclean = true;
	kill(p->pid, SIGKILL);
}

/* Asks a worker to stop; KILL follows after stop-timeout. */
void
spawn_signal(struct super *s, struct proc *p, int sig)
{
	if (p->pid == 0)
		return;
	p->stop_requested = true;
	if (kill(p->pid, sig) == -1 && errno != ESRCH)
		log_err("kill(%d, %d) for %s failed: %s", (int)p->pid, sig,
		        p->name, strerror(errno));
	if (!ev_is_active(&p->kill_w)) {
		ev_timer_set(&p->kill_w, s->conf->stop_timeout, 0.);
		ev_timer_start(s->loop, &p->kill_w);
	}
}

void
spawn_init(struct super *s, struct proc *p)
{
	ev_child_init(&p->child_w, spawn_child_cb, 0, 0);
	ev_io_init(&p->err_w, spawn_err_cb, -1, EV_READ);
	ev_io_init(&p->ready_w, spawn_ready_cb, -1, EV_READ);
	ev_init(&p->kill_w, spawn_kill_cb);
	ev_init(&p->poll_w, spawn_pgfile_cb);
	p->child_w.data = p->err_w.data = p->ready_w.data = p;
	p->kill_w.data = p->poll_w.data = p;
}
