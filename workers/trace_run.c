/*
 * Starting a trace tool with posix_spawn, stopping its process group and
 * reaping it (trace_run.h). What is checked before a start is in
 * trace_run_check.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "why.h"
#include "trace_run.h"

#define TRACE_RUN_ENV "/usr/bin/env"
/* A bigger stdout pipe lets a burst of hits wait while the worker is busy. */
#define TRACE_RUN_PIPE_SIZE (1024 * 1024)

static int
trace_run_use_sudo(const struct trace_run_spec *spec)
{
	if (spec->sudo == TRACE_RUN_SUDO_AUTO) {
		return geteuid() != 0;
	}
	return spec->sudo == TRACE_RUN_SUDO_ALWAYS;
}

/* The "NAME=value" strings, NULL-terminated; free with trace_run_free_env. */
static char **
trace_run_build_env(const struct trace_run_spec *spec)
{
	char **env = calloc(spec->nenv + 1, sizeof(*env));

	if (env == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < spec->nenv; i++) {
		if (asprintf(&env[i], "%s=%s", spec->env_names[i],
		             spec->env_values[i]) == -1) {
			env[i] = NULL;
			for (size_t j = 0; j < i; j++) {
				free(env[j]);
			}
			free(env);
			return NULL;
		}
	}
	return env;
}

static void
trace_run_free_env(char **env)
{
	if (env == NULL) {
		return;
	}
	for (size_t i = 0; env[i] != NULL; i++) {
		free(env[i]);
	}
	free(env);
}

/* argv points into spec and env; only the array itself is allocated. */
static const char **
trace_run_build_argv(const struct trace_run_spec *spec, char **env, int sudo)
{
	size_t n = 0, max = 16 + spec->nenv + spec->noptions;
	const char **argv = calloc(max, sizeof(*argv));

	if (argv == NULL) {
		return NULL;
	}
	if (sudo) {
		argv[n++] =
		    spec->sudo_path != NULL ? spec->sudo_path : TRACE_RUN_SUDO;
		argv[n++] = "-S";
		argv[n++] = "-p";
		argv[n++] = "";
		argv[n++] = "--";
		argv[n++] = TRACE_RUN_ENV;
		argv[n++] = "-i";
		for (size_t i = 0; i < spec->nenv; i++) {
			argv[n++] = env[i];
		}
	}
	argv[n++] = spec->tool_path;
	if (spec->tool == TRACE_TOOL_BPFTRACE) {
		argv[n++] = "-q";
	}
	for (size_t i = 0; i < spec->noptions; i++) {
		argv[n++] = spec->options[i];
	}
	argv[n++] = spec->script_path;
	argv[n] = NULL;
	return argv;
}

/*
 * The child starts with default signal handlers and an empty mask: the
 * worker ignores SIGPIPE, and an ignored signal stays ignored across exec.
 */
static int
trace_run_attr(posix_spawnattr_t *attr)
{
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawnattr_init(attr);
	if (rc != 0) {
		return rc;
	}
	if ((rc = posix_spawnattr_setflags(
	         attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                   POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(attr, 0)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(attr, &all)) != 0) {
		posix_spawnattr_destroy(attr);
	}
	return rc;
}

static int
trace_run_actions(posix_spawn_file_actions_t *fa, int in, int out, int err)
{
	int rc = posix_spawn_file_actions_init(fa);

	if (rc != 0) {
		return rc;
	}
	if (in == -1) {
		rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null",
		                                      O_RDONLY, 0);
	} else {
		rc = posix_spawn_file_actions_adddup2(fa, in, 0);
	}
	if (rc == 0) {
		rc = posix_spawn_file_actions_adddup2(fa, out, 1);
	}
	if (rc == 0) {
		rc = posix_spawn_file_actions_adddup2(fa, err, 2);
	}
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
	/* Not every descriptor of a worker is close-on-exec (shm, eventfds). */
	if (rc == 0) {
		rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
	}
#endif
	if (rc != 0) {
		posix_spawn_file_actions_destroy(fa);
	}
	return rc;
}

static void
trace_run_close_fd(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * The password goes over a socket, not a pipe, so that send(MSG_NOSIGNAL)
 * can fail with EPIPE instead of raising SIGPIPE if sudo is already gone.
 * If sudo does not ask (NOPASSWD, cached), the line stays unread in the
 * tool's stdin; neither tool reads stdin.
 */
static int
trace_run_send_password(int fd, const char *pw, char *why, size_t whylen)
{
	size_t len = strlen(pw), off = 0;
	char *line = malloc(len + 1);
	ssize_t n;
	int rc = 0;

	if (line == NULL) {
		return why_refuse(why, whylen, "malloc failed");
	}
	memcpy(line, pw, len);
	line[len] = '\n';
	while (off < len + 1) {
		n = send(fd, line + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			rc = why_refuse(
			    why, whylen,
			    "writing the password to sudo failed: %s",
			    strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	explicit_bzero(line, len + 1);
	free(line);
	return rc;
}

static int
trace_run_pipes(int out[2], int err[2], int in[2], int sudo, char *why,
                size_t whylen)
{
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1) {
		return why_refuse(why, whylen, "pipe2 failed: %s",
		                  strerror(errno));
	}
	if (sudo &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) == -1) {
		return why_refuse(why, whylen, "socketpair failed: %s",
		                  strerror(errno));
	}
	(void)fcntl(out[0], F_SETPIPE_SZ, TRACE_RUN_PIPE_SIZE);
	if (fcntl(out[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) == -1) {
		return why_refuse(why, whylen, "fcntl(O_NONBLOCK): %s",
		                  strerror(errno));
	}
	return 0;
}

int
trace_run_start(struct trace_run *r, const struct trace_run_spec *spec,
                char *why, size_t whylen)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
	int sudo = trace_run_use_sudo(spec), rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	const char **argv = NULL;
	char **env = NULL;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->out_fd = r->err_fd = -1;
	if (trace_run_check_spec(spec, sudo, why, whylen) == -1) {
		return -1;
	}
	env = trace_run_build_env(spec);
	argv = env == NULL ? NULL : trace_run_build_argv(spec, env, sudo);
	if (argv == NULL) {
		why_refuse(why, whylen, "out of memory");
		goto fail;
	}
	if (trace_run_pipes(out, err, in, sudo, why, whylen) == -1) {
		goto fail;
	}
	if ((rc = trace_run_attr(&attr)) != 0) {
		why_refuse(why, whylen, "posix_spawnattr: %s", strerror(rc));
		goto fail;
	}
	if ((rc = trace_run_actions(&fa, in[1], out[1], err[1])) != 0) {
		posix_spawnattr_destroy(&attr);
		why_refuse(why, whylen, "posix_spawn_file_actions: %s",
		           strerror(rc));
		goto fail;
	}
	/* Through sudo, sudo gets the same environment: it keeps none of it. */
	rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		why_refuse(why, whylen, "posix_spawn(%s) failed: %s", argv[0],
		           strerror(rc));
		goto fail;
	}
	r->pid = pid;
	r->out_fd = out[0];
	r->err_fd = err[0];
	out[0] = err[0] = -1;
	trace_run_close_fd(&out[1]);
	trace_run_close_fd(&err[1]);
	trace_run_close_fd(&in[1]);
	if (sudo && trace_run_send_password(in[0], spec->root_password, why,
	                                    whylen) == -1) {
		/* sudo is running and will fail on its own: stop it anyway. */
		kill(-pid, SIGKILL);
		trace_run_close_fd(&in[0]);
		goto fail_started;
	}
	trace_run_close_fd(&in[0]);
	trace_run_free_env(env);
	free(argv);
	return 0;
fail_started:
	/* The caller still reaps it: pid stays set, the pipes give EOF. */
	trace_run_free_env(env);
	free(argv);
	return -1;
fail:
	for (int i = 0; i < 2; i++) {
		trace_run_close_fd(&out[i]);
		trace_run_close_fd(&err[i]);
		trace_run_close_fd(&in[i]);
	}
	trace_run_free_env(env);
	free(argv);
	return -1;
}

static void
trace_run_kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct trace_run *r = t->data;

	/* pid is 0 once reaped: never signal a group id that may be reused. */
	if (r->pid > 0) {
		kill(-r->pid, SIGKILL);
	}
}

void
trace_run_stop(struct trace_run *r, struct ev_loop *loop, double grace)
{
	if (r->pid <= 0 || r->stopping) {
		return;
	}
	r->stopping = 1;
	kill(-r->pid, SIGTERM);
	r->loop = loop;
	ev_timer_init(&r->kill_timer, trace_run_kill_cb, grace, 0.);
	r->kill_timer.data = r;
	ev_timer_start(loop, &r->kill_timer);
}

int
trace_run_code(int wstatus)
{
	if (WIFEXITED(wstatus)) {
		return WEXITSTATUS(wstatus);
	}
	if (WIFSIGNALED(wstatus)) {
		return -WTERMSIG(wstatus);
	}
	return -1;
}

int
trace_run_reap(struct trace_run *r)
{
	int status;
	pid_t p;

	if (r->pid <= 0) {
		return -1;
	}
	do {
		p = waitpid(r->pid, &status, WNOHANG);
	} while (p == -1 && errno == EINTR);
	if (p == 0) {
		return 0;
	}
	if (p == -1) {
		/* ECHILD: someone else reaped it; the code is unknown. */
		status = 0xff00;
	}
	r->code = trace_run_code(status);
	r->pid = 0;
	if (r->loop != NULL) {
		ev_timer_stop(r->loop, &r->kill_timer);
	}
	return 1;
}

void
trace_run_close(struct trace_run *r)
{
	trace_run_close_fd(&r->out_fd);
	trace_run_close_fd(&r->err_fd);
	if (r->loop != NULL) {
		ev_timer_stop(r->loop, &r->kill_timer);
		r->loop = NULL;
	}
}
