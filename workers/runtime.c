#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"
#include "worker.h"

static void
worker_signal_cb(struct ev_loop *loop, ev_signal *sw, int revents)
{
	struct worker *w = sw->data;

	if (w->faults & FAULT_IGNORE_TERM)
		return;
	if (w->stopping) {
		/* A second TERM: the operator means it. */
		log_info("second signal %d, exiting now", sw->signum);
		_exit(0);
	}
	w->stopping = 1;
	log_info("signal %d, stopping", sw->signum);
	if (w->on_stop != NULL)
		w->on_stop(w);
	else
		ev_break(loop, EVBREAK_ALL);
}

/*
 * Between fork and here the child still has the parent's signal mask and
 * handlers (libev's), and the parent may already be gone: PDEATHSIG only
 * covers a parent death after prctl(), so getppid() is checked after it.
 */
static void
worker_detach(pid_t parent)
{
	struct sigaction sa;
	sigset_t all;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		log_err("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		_exit(1);
	}
	if (getppid() != parent)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

void
worker_run(struct worker *w, worker_main_fn main_fn, int ready_fd)
{
	static ev_signal sig_term, sig_int;
	pid_t parent = getppid();
	int rc;

	worker_detach(parent);
	log_init(NULL, w->conf->log_level);
	w->ready_fd = ready_fd;
	/* A fresh default loop: the supervisor destroyed its own in this
	 * process (spawn.c); its watchers stay behind as unused memory. */
	w->loop = ev_default_loop(EVFLAG_AUTO);
	if (w->loop == NULL) {
		log_err("ev_default_loop failed");
		_exit(1);
	}
	ev_signal_init(&sig_term, worker_signal_cb, SIGTERM);
	ev_signal_init(&sig_int, worker_signal_cb, SIGINT);
	sig_term.data = w;
	sig_int.data = w;
	ev_signal_start(w->loop, &sig_term);
	ev_signal_start(w->loop, &sig_int);
	ev_unref(w->loop);
	ev_unref(w->loop);

	if (w->shm != NULL && w->shm_id >= 0 &&
	    shm_segment_attach(w->shm, w->shm_id) != 0)
		_exit(WORKER_EXIT_PERMANENT);
	w->faults = fault_check(w);
	rc = main_fn(w);
	_exit(rc);
}

void
worker_ready(struct worker *w)
{
	static const char msg[] = "ready\n";
	ssize_t n;

	if (w->ready_fd < 0 || (w->faults & FAULT_NOT_READY))
		return;
	do {
		n = write(w->ready_fd, msg, sizeof(msg) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		log_err("write(ready pipe) failed: %s", strerror(errno));
	close(w->ready_fd);
	w->ready_fd = -1;
}

int
worker_drop_privileges(struct worker *w)
{
	const char *user = w->conf->user;
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		log_err("getpwnam(%s) failed: no such user", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_err("dropping privileges to %s failed: %s", user,
		        strerror(errno));
		return -1;
	}
	/* Verify that root cannot be regained. */
	if (setuid(0) != -1 || geteuid() == 0) {
		log_err("privileges to %s not dropped: uid 0 regained", user);
		return -1;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		/* setuid clears PDEATHSIG; set it again. */
		log_err("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}
