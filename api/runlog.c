/*
 * Why a thread: dbclient_call() blocks until the api worker's libev loop
 * hands it the answer, so it can never be called from that loop. The
 * thread wakes twice a second (or at stop), reads every slot of the run
 * table under its sequence lock, and sends run.update for each run that
 * started running or ended since it last looked.
 *
 * It remembers, per slot, the run id it last recorded, in its own memory.
 * A restarted api worker forgets that and records the ended runs still in
 * the table again; the db worker's update only touches a row whose end is
 * not yet set, so that repeat changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/dbclient.h"
#include "api/runlog.h"
#include "log.h"
#include "shm/runs.h"

#define RUNLOG_PERIOD_MS  500
#define RUNLOG_TIMEOUT_MS 1000

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
	int stop;
	struct runs *runs;
	uint64_t *running; /* per slot: run id recorded as running */
	uint64_t *ended;   /* per slot: run id recorded as ended */
} runlog = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int
runlog_call(const char *op, json_t *args, const char *path)
{
	json_t *res = NULL;
	int status;

	status = dbclient_call(api_dbclient(), op, args, &res,
	                       RUNLOG_TIMEOUT_MS, NULL);
	if (status != 200 && status != 404) {
		log_warn(
		    "%s of run %s failed: %d %s", op, path, status,
		    json_string_value(json_object_get(res, "message")) != NULL
		        ? json_string_value(json_object_get(res, "message"))
		        : "");
	}
	json_decref(res);
	json_decref(args);
	return status;
}

void
runlog_insert(const char *type, json_int_t trace_no, const char *path,
              int worker, json_int_t lasting, json_t *info)
{
	runlog_call("run.insert",
	            json_pack("{s:s, s:I, s:s, s:i, s:I, s:O}", "traceType",
	                      type, "traceNo", trace_no, "path", path, "worker",
	                      worker, "lasting", lasting, "info", info),
	            path);
}

void
runlog_abort(const char *path)
{
	runlog_call("run.update",
	            json_pack("{s:s, s:s}", "path", path, "state", "failed"),
	            path);
}

static const char *
runlog_end_state(const struct runs_view *v)
{
	if (v->state == RUNS_FAILED) {
		return "failed";
	}
	return v->code < 0 ? "killed" : "finished";
}

static void
runlog_scan(void)
{
	struct runs_view v;

	for (unsigned i = 0; i < runlog.runs->n; i++) {
		if (runs_read(runlog.runs, i, &v) != 0) {
			continue;
		}
		if (v.state == RUNS_RUNNING && runlog.running[i] != v.run_id) {
			if (runlog_call("run.update",
			                json_pack("{s:s, s:s}", "path", v.path,
			                          "state", "running"),
			                v.path) != 503) {
				runlog.running[i] = v.run_id;
			}
		}
		if ((v.state != RUNS_FINISHED && v.state != RUNS_FAILED) ||
		    runlog.ended[i] == v.run_id) {
			continue;
		}
		/* A 503 (database down) is tried again at the next scan. */
		if (runlog_call("run.update",
		                json_pack("{s:s, s:s, s:i, s:I, s:I}", "path",
		                          v.path, "state", runlog_end_state(&v),
		                          "exitCode", v.code, "bytes",
		                          (json_int_t)v.bytes, "chunks",
		                          (json_int_t)v.chunks_sent),
		                v.path) != 503) {
			runlog.ended[i] = v.run_id;
		}
	}
}

static void *
runlog_main(void *arg)
{
	struct timespec until;

	pthread_mutex_lock(&runlog.mu);
	while (!runlog.stop) {
		pthread_mutex_unlock(&runlog.mu);
		runlog_scan();
		pthread_mutex_lock(&runlog.mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += RUNLOG_PERIOD_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!runlog.stop &&
		       pthread_cond_timedwait(&runlog.cv, &runlog.mu, &until) ==
		           0) {
		}
	}
	pthread_mutex_unlock(&runlog.mu);
	return NULL;
}

int
runlog_start(struct worker *w)
{
	pthread_condattr_t ca;
	int rc;

	if (w->runs == NULL) {
		return 0;
	}
	runlog.runs = w->runs;
	runlog.running = calloc(w->runs->n, sizeof(*runlog.running));
	runlog.ended = calloc(w->runs->n, sizeof(*runlog.ended));
	if (runlog.running == NULL || runlog.ended == NULL) {
		log_err("calloc(run log, %u slots) failed", w->runs->n);
		goto fail;
	}
	/* Timed waits on the monotonic clock, like every interval here. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&runlog.cv);
	pthread_cond_init(&runlog.cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&runlog.thread, NULL, runlog_main, NULL);
	if (rc != 0) {
		log_err("pthread_create(run log) failed: %s", strerror(rc));
		goto fail;
	}
	runlog.started = 1;
	return 0;
fail:
	free(runlog.running);
	free(runlog.ended);
	runlog.running = runlog.ended = NULL;
	return -1;
}

void
runlog_stop(void)
{
	if (!runlog.started) {
		return;
	}
	pthread_mutex_lock(&runlog.mu);
	runlog.stop = 1;
	pthread_cond_signal(&runlog.cv);
	pthread_mutex_unlock(&runlog.mu);
	pthread_join(runlog.thread, NULL);
	runlog.started = 0;
	free(runlog.running);
	free(runlog.ended);
	runlog.running = runlog.ended = NULL;
}
