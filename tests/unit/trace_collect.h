/*
 * Shared by the trace_run tests: runs a tool with trace_run on a libev
 * loop of its own, collecting stdout and stderr until the tool was reaped
 * and both pipes ended. Static functions: each test program is one file.
 */
#ifndef PROBED_TEST_TRACE_COLLECT_H
#define PROBED_TEST_TRACE_COLLECT_H

extern char **environ;

struct buf {
	char *data;
	size_t len;
};

struct run {
	struct trace_run r;
	struct ev_loop *loop;
	ev_io out_w, err_w;
	ev_timer tick_w;
	struct buf out, err;
	int out_eof, err_eof, reaped;
	double deadline;
	/* Called every tick while the tool runs; returns -1 to give up. */
	int (*tick)(struct run *run);
	void *arg;
	double stop_grace; /* < 0: never stop; else stop once "ready" shows */
	int stopped;
	double stop_at, end_at;
};

static char tmpdir[] = "/tmp/probed-run-XXXXXX";

static void
buf_add(struct buf *b, const char *p, size_t n)
{
	b->data = realloc(b->data, b->len + n + 1);
	assert_non_null(b->data);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
run_read(struct run *run, ev_io *w, struct buf *b, int *eof)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		n = read(w->fd, chunk, sizeof(chunk));
		if (n > 0) {
			buf_add(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n == 0) {
			*eof = 1;
			ev_io_stop(run->loop, w);
		}
		/* EAGAIN: the read end is non-blocking, as promised. */
		assert_true(n == 0 || errno == EAGAIN);
		return;
	}
}

static void
run_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct run *run = w->data;

	run_read(run, w, &run->out, &run->out_eof);
}

static void
run_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct run *run = w->data;

	run_read(run, w, &run->err, &run->err_eof);
}

static void
run_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct run *run = w->data;

	if (!run->reaped && trace_run_reap(&run->r) == 1) {
		run->reaped = 1;
		run->end_at = ev_now(loop);
	}
	if (!run->reaped && run->stop_grace >= 0 && !run->stopped &&
	    run->out.data != NULL && strstr(run->out.data, "ready\n")) {
		run->stopped = 1;
		run->stop_at = ev_now(loop);
		trace_run_stop(&run->r, loop, run->stop_grace);
	}
	if (!run->reaped && run->tick != NULL && run->tick(run) == -1) {
		trace_run_stop(&run->r, loop, 1.0);
	}
	if ((run->reaped && run->out_eof && run->err_eof) ||
	    ev_now(loop) > run->deadline) {
		ev_break(loop, EVBREAK_ALL);
	}
}

/* Runs the tool to its end (or the deadline) and collects its output. */
static int
run_tool(struct run *run, const struct trace_run_spec *spec, double timeout,
         char *why, size_t whylen)
{
	run->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(run->loop);
	if (trace_run_start(&run->r, spec, why, whylen) == -1) {
		ev_loop_destroy(run->loop);
		run->loop = NULL;
		return -1;
	}
	assert_true(fcntl(run->r.out_fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(run->r.err_fd, F_GETFL) & O_NONBLOCK);
	ev_io_init(&run->out_w, run_out_cb, run->r.out_fd, EV_READ);
	ev_io_init(&run->err_w, run_err_cb, run->r.err_fd, EV_READ);
	ev_timer_init(&run->tick_w, run_tick_cb, 0.02, 0.02);
	run->out_w.data = run->err_w.data = run->tick_w.data = run;
	ev_io_start(run->loop, &run->out_w);
	ev_io_start(run->loop, &run->err_w);
	ev_timer_start(run->loop, &run->tick_w);
	run->deadline = ev_now(run->loop) + timeout;
	ev_run(run->loop, 0);
	if (!run->reaped) {
		/* Deadline: do not leave the tool behind. */
		kill(-run->r.pid, SIGKILL);
		while (trace_run_reap(&run->r) == 0) {
			usleep(10000);
		}
		fail_msg("tool still running after %.0f s; stdout: %s stderr: "
		         "%s",
		         timeout, run->out.data ? run->out.data : "",
		         run->err.data ? run->err.data : "");
	}
	trace_run_close(&run->r);
	ev_loop_destroy(run->loop);
	run->loop = NULL;
	return 0;
}

static void
run_free(struct run *run)
{
	free(run->out.data);
	free(run->err.data);
	memset(run, 0, sizeof(*run));
}

static int
collect_setup(void **state)
{
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
collect_teardown(void **state)
{
	rmdir(tmpdir);
	return 0;
}

#endif
