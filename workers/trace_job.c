/*
 * One run of a trace worker: see trace_job.h.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "shm/msg.h"
#include "trace_job.h"
#include "trace_proto.h"

#define RELAXED         memory_order_relaxed
#define TRACE_JOB_READ  65536
#define TRACE_JOB_SLACK 2.0 /* the script ends itself; then we do */
#define TRACE_JOB_GRACE 3.0
/* Exit code of a run whose tool could not be started at all. */
#define TRACE_JOB_NOT_RUN 127

int
trace_job_publish(struct ring *ring, int sender, uint16_t type, uint64_t run_id,
                  int slot, const char *path, uint64_t no, int code,
                  const void *data, size_t len)
{
	struct trace_rec rec = {
	    .no = no,
	    .code = code,
	    .slot = (uint32_t)slot,
	    .path_len = (uint32_t)strlen(path),
	    .data_len = (uint32_t)len,
	};
	uint32_t total = (uint32_t)(sizeof(rec) + rec.path_len + len);
	uint8_t *p;
	void *out;
	int rc;

	rc = msg_reserve(ring, type, (uint16_t)sender, run_id, total, &out);
	if (rc < 0) {
		return rc;
	}
	p = out;
	memcpy(p, &rec, sizeof(rec));
	memcpy(p + sizeof(rec), path, rec.path_len);
	if (len > 0) {
		memcpy(p + sizeof(rec) + rec.path_len, data, len);
	}
	msg_commit(ring, out);
	return 0;
}

static uint32_t
trace_job_reclen(const struct trace_job *j, size_t data_len)
{
	return (uint32_t)(MSG_HDR_SIZE + sizeof(struct trace_rec) +
	                  strlen(j->path) + data_len);
}

static int
trace_job_emit(void *arg, uint64_t no, const void *data, size_t len)
{
	struct trace_job *j = arg;
	const struct trace_job_env *e = j->env;
	const struct trace_stats *st = e->stats;

	if (trace_job_publish(e->chunks, e->sender, TRACE_REC_CHUNK, j->run_id,
	                      j->slot, j->path, no, 0, data, len) != 0) {
		/* The chunker offers this same chunk again before any other
		 * (chunker.h): it waits from its first refusal on. */
		if (j->wait_since == 0.) {
			j->wait_since = clock_mono();
		}
		stats_add(st->page, st->ring_full, 1);
		return -1;
	}
	atomic_fetch_add_explicit(&j->rs->chunks_sent, 1, RELAXED);
	stats_add(st->page, st->chunks, 1);
	stats_add(st->page, st->output_bytes, len);
	if (j->wait_since != 0.) {
		stats_observe(st->page, st->chunk_wait,
		              (uint64_t)((clock_mono() - j->wait_since) * 1e6));
	}
	j->wait_since = 0.;
	return 0;
}

struct trace_job *
trace_job_new(const struct trace_job_env *env, int slot, uint64_t run_id,
              struct runs_slot *rs, const char *path, size_t chunk_size)
{
	struct trace_job *j;

	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		log_err("calloc(trace job) failed: %s", strerror(errno));
		return NULL;
	}
	j->pend = malloc(TRACE_JOB_READ);
	if (j->pend == NULL) {
		log_err("malloc(%d) failed: %s", TRACE_JOB_READ,
		        strerror(errno));
		free(j);
		return NULL;
	}
	j->pend_cap = TRACE_JOB_READ;
	if (chunker_init(&j->ch, chunk_size, trace_job_emit, j) != 0) {
		free(j->pend);
		free(j);
		return NULL;
	}
	j->env = env;
	j->slot = slot;
	j->run_id = run_id;
	j->rs = rs;
	j->last_nl = 1;
	j->r.pid = 0;
	j->r.out_fd = j->r.err_fd = -1;
	snprintf(j->path, sizeof(j->path), "%s", path);
	return j;
}

static void
trace_job_want(struct trace_job *j, size_t data_len)
{
	j->blocked = 1;
	j->env->want_space(j, trace_job_reclen(j, data_len));
}

/* The end: the last chunk, then the finished record, then done. */
static void
trace_job_maybe_finish(struct trace_job *j)
{
	const struct trace_job_env *e = j->env;
	const char *err = j->err != NULL ? j->err : "";
	size_t err_len = j->err_len;

	if (j->finished || !j->reaped || !j->out_eof || !j->err_eof ||
	    j->pend_len > 0) {
		return;
	}
	if (chunker_flush(&j->ch) != 0) {
		trace_job_want(j, j->ch.size);
		return;
	}
	if (j->why[0] != '\0') {
		err = j->why;
		err_len = strlen(j->why);
	}
	if (trace_job_publish(e->chunks, e->sender, TRACE_REC_FINISHED,
	                      j->run_id, j->slot, j->path, j->ch.next_no,
	                      j->code, err, err_len) != 0) {
		trace_job_want(j, err_len);
		return;
	}
	j->finished = 1;
	/* Counted before the state changes: whoever sees the run over (the
	 * api's run table) sees it counted too. */
	if (j->spawned) {
		stats_add(e->stats->page, e->stats->runs_ended, 1);
		stats_gauge_add(e->stats->page, e->stats->runs_active, -1);
	}
	atomic_store_explicit(&j->rs->code, j->code, RELAXED);
	atomic_store_explicit(&j->rs->pid, 0, RELAXED);
	atomic_store(&j->rs->state,
	             j->why[0] != '\0' ? RUNS_FAILED : RUNS_FINISHED);
	log_info("trace %s finished: code %d, %llu bytes in %llu chunks",
	         j->path, j->code, (unsigned long long)j->ch.bytes,
	         (unsigned long long)j->ch.next_no);
	e->done(j);
}

static void
trace_job_count(struct trace_job *j, const unsigned char *p, size_t n)
{
	uint64_t lines = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			lines += !j->last_nl;
			j->last_nl = 1;
		} else {
			j->last_nl = 0;
		}
	}
	atomic_fetch_add_explicit(&j->rs->events, lines, RELAXED);
	atomic_fetch_add_explicit(&j->rs->bytes, n, RELAXED);
}

/* Offers the pending bytes to the chunker: 0 all taken, -1 ring full. */
static int
trace_job_feed(struct trace_job *j)
{
	size_t used = 0;
	int rc;

	rc = chunker_feed(&j->ch, j->pend + j->pend_off, j->pend_len, &used);
	if (rc == 0) {
		used = j->pend_len;
	}
	j->pend_off += used;
	j->pend_len -= used;
	if (rc != 0) {
		ev_io_stop(j->env->loop, &j->out_w);
		trace_job_want(j, j->ch.size);
		return -1;
	}
	j->pend_off = 0;
	return 0;
}

static void
trace_job_out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct trace_job *j = w->data;
	ssize_t n;

	n = read(j->r.out_fd, j->pend, j->pend_cap);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		if (n < 0) {
			log_err("read(trace %s stdout) failed: %s", j->path,
			        strerror(errno));
		}
		ev_io_stop(loop, w);
		j->out_eof = 1;
		trace_job_maybe_finish(j);
		return;
	}
	trace_job_count(j, j->pend, (size_t)n);
	j->pend_off = 0;
	j->pend_len = (size_t)n;
	(void)trace_job_feed(j);
}

static void
trace_job_err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct trace_job *j = w->data;
	char buf[4096];
	size_t room;
	ssize_t n;

	n = read(j->r.err_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		ev_io_stop(loop, w);
		j->err_eof = 1;
		trace_job_maybe_finish(j);
		return;
	}
	/* The first TRACE_STDERR_MAX bytes are kept; the rest is read and
	 * dropped, so that the tool never blocks on its stderr. */
	if (j->err == NULL) {
		j->err = malloc(TRACE_STDERR_MAX);
		if (j->err == NULL) {
			log_err("malloc(%d) failed: %s", TRACE_STDERR_MAX,
			        strerror(errno));
			return;
		}
	}
	room = TRACE_STDERR_MAX - j->err_len;
	if ((size_t)n < room) {
		room = (size_t)n;
	}
	memcpy(j->err + j->err_len, buf, room);
	j->err_len += room;
}

static void
trace_job_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct trace_job *j = w->data;

	ev_child_stop(loop, w);
	j->code = trace_run_code(w->rstatus);
	/* Reaped by libev: never signal this process group again. */
	j->r.pid = 0;
	if (j->r.loop != NULL) {
		ev_timer_stop(j->r.loop, &j->r.kill_timer);
	}
	ev_timer_stop(loop, &j->lasting_w);
	j->reaped = 1;
	trace_job_maybe_finish(j);
}

static void
trace_job_lasting_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct trace_job *j = w->data;

	log_info("trace %s outlived its lasting of %u s: stopping it", j->path,
	         j->lasting);
	trace_job_kill(j, TRACE_JOB_GRACE);
}

int
trace_job_start(struct trace_job *j, const struct trace_run_spec *spec,
                const char *why)
{
	const struct trace_job_env *e = j->env;
	struct ev_loop *loop = e->loop;

	if (trace_job_publish(e->chunks, e->sender, TRACE_REC_START, j->run_id,
	                      j->slot, j->path, 0, 0, NULL, 0) != 0) {
		return -1;
	}
	atomic_store(&j->rs->published, 1);
	j->started = 1;
	if (why == NULL &&
	    trace_run_start(&j->r, spec, j->why, sizeof(j->why)) == 0) {
		j->spawned = 1;
		stats_add(e->stats->page, e->stats->runs_started, 1);
		stats_gauge_add(e->stats->page, e->stats->runs_active, 1);
		atomic_store_explicit(&j->rs->pid, j->r.pid, RELAXED);
		atomic_store(&j->rs->state, RUNS_RUNNING);
		ev_child_init(&j->child_w, trace_job_child_cb, j->r.pid, 0);
		ev_io_init(&j->out_w, trace_job_out_cb, j->r.out_fd, EV_READ);
		ev_io_init(&j->err_w, trace_job_err_cb, j->r.err_fd, EV_READ);
		ev_timer_init(&j->lasting_w, trace_job_lasting_cb,
		              (double)j->lasting + TRACE_JOB_SLACK, 0.);
		j->child_w.data = j->out_w.data = j->err_w.data = j;
		j->lasting_w.data = j;
		ev_child_start(loop, &j->child_w);
		ev_io_start(loop, &j->out_w);
		ev_io_start(loop, &j->err_w);
		ev_timer_start(loop, &j->lasting_w);
		log_info("trace %s started: pid %d", j->path, (int)j->r.pid);
		return 0;
	}
	if (why != NULL) {
		snprintf(j->why, sizeof(j->why), "%s", why);
	}
	stats_add(e->stats->page, e->stats->runs_refused, 1);
	log_warn("trace %s not started: %s", j->path, j->why);
	j->code = TRACE_JOB_NOT_RUN;
	j->reaped = j->out_eof = j->err_eof = 1;
	trace_job_maybe_finish(j);
	return 0;
}

void
trace_job_kill(struct trace_job *j, double grace)
{
	if (j->r.pid > 0) {
		trace_run_stop(&j->r, j->env->loop, grace);
	}
}

void
trace_job_resume(struct trace_job *j)
{
	j->blocked = 0;
	if (j->pend_len > 0 && trace_job_feed(j) != 0) {
		return;
	}
	if (!j->out_eof && j->r.out_fd >= 0) {
		ev_io_start(j->env->loop, &j->out_w);
	}
	trace_job_maybe_finish(j);
}

void
trace_job_free(struct trace_job *j)
{
	struct ev_loop *loop = j->env->loop;

	if (j->started && j->r.out_fd >= 0) {
		ev_io_stop(loop, &j->out_w);
	}
	if (j->started && j->r.err_fd >= 0) {
		ev_io_stop(loop, &j->err_w);
	}
	if (ev_is_active(&j->child_w)) {
		ev_child_stop(loop, &j->child_w);
	}
	if (ev_is_active(&j->lasting_w)) {
		ev_timer_stop(loop, &j->lasting_w);
	}
	trace_run_close(&j->r);
	if (j->script[0] != '\0') {
		unlink(j->script);
	}
	chunker_free(&j->ch);
	free(j->pend);
	free(j->err);
	free(j);
}
