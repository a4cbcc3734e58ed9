/*
 * The api worker's client of the db worker: protocol in dbclient.h.
 *
 * Threads. dbclient_call runs on civetweb's threads; each call lives on
 * its caller's stack (struct dbclient_wait) and is linked into the
 * outstanding list under c->mu for as long as its caller waits. The
 * response ring has one consumer, the api worker's libev loop: it parses
 * an answer outside the lock, then under the lock finds the waiter by corr,
 * hands the answer over and signals the waiter's condition variable. A
 * waiter that timed out has unlinked itself under the same lock, so an
 * answer arriving after that finds nobody and is dropped (counted).
 *
 * Correlation ids: the pid in the high 32 bits and a counter in the low
 * ones, so that an answer meant for a previous life of the api worker
 * (still on the response ring after a restart) never matches a call of
 * this one.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/dbclient.h"
#include "clock.h"
#include "log.h"
#include "shm/msg.h"
#include "shm/segment.h"
#include "shm/stats.h"

/* Ring full: how long a call waits for space before answering 503. */
#define DBCLIENT_SEND_WAIT_MS 100
/* Answers taken from the ring per wake-up before the loop runs again. */
#define DBCLIENT_BATCH 64

struct dbclient_wait {
	uint64_t corr;
	pthread_cond_t cv;
	int done;
	int status;
	json_t *answer; /* the whole answer object, owned */
	struct dbclient_wait *next;
};

struct dbclient {
	struct ev_loop *loop;
	struct ring *req;
	struct ring *resp;
	ev_io resp_io;
	pthread_mutex_t mu;
	struct dbclient_wait *waiting; /* outstanding calls */
	uint64_t next_corr;
	uint64_t late; /* answers dropped: nobody waited any more */
	/* The api's stats page (NULL: none) and metric ids. */
	struct stats_page *stats;
	int st_calls, st_unavailable, st_late, st_time;
};

static void
dbclient_count(struct dbclient *c, int id, uint64_t n)
{
	if (c->stats != NULL && id >= 0) {
		stats_add(c->stats, id, n);
	}
}

static void
dbclient_stats_init(struct dbclient *c, struct shm_segment *shm)
{
	struct stats_page *p = shm_segment_stats(shm, SHM_PROC_API);

	c->stats = p;
	if (p == NULL) {
		return;
	}
	c->st_calls = stats_register(p, "db_calls", STATS_COUNTER, "calls",
	                             "dbclient_call made by handlers");
	c->st_unavailable = stats_register(
	    p, "db_calls_unavailable", STATS_COUNTER, "calls",
	    "calls answered 503: db down, timeout or request ring full");
	c->st_late =
	    stats_register(p, "db_late_answers", STATS_COUNTER, "answers",
	                   "answers dropped: the call had timed out");
	c->st_time = stats_register(p, "db_call_time", STATS_HISTOGRAM, "us",
	                            "dbclient_call, sent to answered "
	                            "(queryopen)");
}

static void dbclient_drain(struct dbclient *c);

/* Unlinks w if it is still listed; under c->mu. */
static void
dbclient_unlink(struct dbclient *c, struct dbclient_wait *w)
{
	struct dbclient_wait **pp;

	for (pp = &c->waiting; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

/* One answer from the ring: find its waiter and wake it. */
static void
dbclient_deliver(struct dbclient *c, const struct msg *m)
{
	struct dbclient_wait *w;
	json_error_t jerr;
	json_t *answer;
	json_t *st;

	answer = json_loadb(m->payload, m->len, 0, &jerr);
	if (answer == NULL || !json_is_object(answer)) {
		log_err("dbclient: answer %llu is not a JSON object: %s",
		        (unsigned long long)m->corr,
		        answer == NULL ? jerr.text : "wrong type");
		json_decref(answer);
		answer = NULL;
	}
	pthread_mutex_lock(&c->mu);
	for (w = c->waiting; w != NULL && w->corr != m->corr; w = w->next) {
	}
	if (w == NULL) {
		c->late++;
		dbclient_count(c, c->st_late, 1);
		pthread_mutex_unlock(&c->mu);
		log_debug("dbclient: dropped a late answer to %llu",
		          (unsigned long long)m->corr);
		json_decref(answer);
		return;
	}
	dbclient_unlink(c, w);
	st = answer != NULL ? json_object_get(answer, "status") : NULL;
	w->status = json_is_integer(st) ? (int)json_integer_value(st) : 500;
	w->answer = answer;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Takes every answer on the response ring, then sleeps on its eventfd. */
static void
dbclient_drain(struct dbclient *c)
{
	struct ring_rec recs[DBCLIENT_BATCH];
	struct msg m;
	size_t n;

	for (;;) {
		while ((n = ring_peek_batch(c->resp, recs, DBCLIENT_BATCH)) >
		       0) {
			for (size_t i = 0; i < n; i++) {
				if (msg_parse(&recs[i], &m) == 0 &&
				    m.type == DBMSG_RESULT) {
					dbclient_deliver(c, &m);
				}
			}
			ring_release(c->resp, &recs[n - 1]);
		}
		if (ring_consumer_prepare_wait(c->resp) == 1) {
			return;
		}
	}
}

static void
dbclient_resp_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct dbclient *c = io->data;

	ring_consumer_woken(c->resp);
	dbclient_drain(c);
}

struct dbclient *
dbclient_new(struct ev_loop *loop, struct shm_segment *shm)
{
	struct dbclient *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_err("calloc(dbclient) failed: %s", strerror(errno));
		return NULL;
	}
	c->loop = loop;
	c->req = shm_segment_ring(shm, SHM_RING_REQUEST, 0);
	c->resp = shm_segment_ring(shm, SHM_RING_RESPONSE, 0);
	if (c->req == NULL || c->resp == NULL || ring_data_fd(c->resp) < 0) {
		log_err("dbclient_new: the segment has no request/response "
		        "rings");
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	dbclient_stats_init(c, shm);
	c->next_corr = (uint64_t)getpid() << 32;
	ev_io_init(&c->resp_io, dbclient_resp_cb, ring_data_fd(c->resp),
	           EV_READ);
	c->resp_io.data = c;
	ev_io_start(loop, &c->resp_io);
	/* Answers a previous life left on the ring are dropped here. */
	dbclient_drain(c);
	return c;
}

void
dbclient_free(struct dbclient *c)
{
	if (c == NULL) {
		return;
	}
	ev_io_stop(c->loop, &c->resp_io);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

uint64_t
dbclient_late(struct dbclient *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->mu);
	n = c->late;
	pthread_mutex_unlock(&c->mu);
	return n;
}

char *
dbclient_frame(const char *op, json_t *args, int64_t deadline_us)
{
	json_t *req;
	char *text;

	req = json_pack("{s:s, s:o}", "op", op, "args",
	                args != NULL ? json_incref(args) : json_object());
	if (req != NULL && deadline_us > 0 &&
	    json_object_set_new(req, "deadline",
	                        json_integer((json_int_t)deadline_us)) == -1) {
		json_decref(req);
		req = NULL;
	}
	if (req == NULL) {
		log_err("json_pack(db request %s) failed", op);
		return NULL;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (text == NULL) {
		log_err("json_dumps(db request %s) failed", op);
	}
	return text;
}

/* msg_send with a short wait for space when the ring is full. */
static int
dbclient_send(struct dbclient *c, uint64_t corr, const char *text, uint32_t len)
{
	double deadline = clock_mono() + DBCLIENT_SEND_WAIT_MS / 1e3;
	int rc;

	for (;;) {
		rc = msg_send(c->req, DBMSG_QUERY, SHM_PROC_API, corr, text,
		              len);
		if (rc != -EAGAIN) {
			return rc;
		}
		double left = deadline - clock_mono();
		if (left <= 0) {
			return -EAGAIN;
		}
		(void)ring_wait_space(c->req, len + MSG_HDR_SIZE,
		                      (int)(left * 1e3) + 1);
	}
}

static json_t *
dbclient_message(const char *text)
{
	return json_pack("{s:s}", "message", text);
}

/* The answer object -> status and *result as dbclient_call promises. */
static int
dbclient_unpack(struct dbclient_wait *w, json_t **result,
                struct dbclient_timing *t)
{
	json_t *v;

	if (w->answer == NULL) {
		*result = dbclient_message("bad answer from the db worker");
		return 500;
	}
	v = json_object_get(w->answer, "db_us");
	if (t != NULL && json_is_integer(v)) {
		t->db = (double)json_integer_value(v) / 1e6;
	}
	if (w->status >= 200 && w->status < 300) {
		v = json_object_get(w->answer, "result");
		*result = v != NULL ? json_incref(v) : json_null();
	} else {
		v = json_object_get(w->answer, "error");
		*result =
		    dbclient_message(json_is_string(v) ? json_string_value(v)
		                                       : "database error");
	}
	return w->status;
}

static void
dbclient_deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
dbclient_call(struct dbclient *c, const char *op, json_t *args, json_t **result,
              int timeout_ms, struct dbclient_timing *t)
{
	struct dbclient_wait w;
	pthread_condattr_t ca;
	struct timespec until;
	double t0 = clock_mono();
	char *text;
	size_t len;
	int rc, status;

	*result = NULL;
	if (t != NULL) {
		t->queryopen = 0;
		t->db = 0;
	}
	if (c == NULL) {
		*result = dbclient_message("database unavailable");
		return 503;
	}
	if (timeout_ms <= 0) {
		timeout_ms = DBCLIENT_TIMEOUT_MS;
	}
	text =
	    dbclient_frame(op, args, (int64_t)((t0 + timeout_ms / 1e3) * 1e6));
	if (text == NULL) {
		*result = dbclient_message("out of memory");
		return 500;
	}
	len = strlen(text);
	if (len > msg_max_payload(c->req)) {
		free(text);
		*result = dbclient_message("request too large");
		return 413;
	}
	memset(&w, 0, sizeof(w));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);

	/* Listed before sending: the answer may come before msg_send
	 * returns. */
	pthread_mutex_lock(&c->mu);
	w.corr = ++c->next_corr;
	w.next = c->waiting;
	c->waiting = &w;
	pthread_mutex_unlock(&c->mu);

	rc = dbclient_send(c, w.corr, text, (uint32_t)len);
	free(text);
	pthread_mutex_lock(&c->mu);
	if (rc < 0) {
		dbclient_unlink(c, &w);
		pthread_mutex_unlock(&c->mu);
		log_warn("dbclient: sending %s failed: %s", op,
		         rc == -EAGAIN ? "request ring full" : strerror(-rc));
		*result = dbclient_message("database unavailable");
		status = 503;
		goto out;
	}
	dbclient_deadline(&until, timeout_ms);
	while (!w.done) {
		if (pthread_cond_timedwait(&w.cv, &c->mu, &until) ==
		    ETIMEDOUT) {
			break;
		}
	}
	if (!w.done) {
		/* From here on an answer finds nobody and is dropped. */
		dbclient_unlink(c, &w);
	}
	pthread_mutex_unlock(&c->mu);
	if (!w.done) {
		log_warn("dbclient: no answer to %s within %d ms", op,
		         timeout_ms);
		*result = dbclient_message("database unavailable");
		status = 503;
		goto out;
	}
	status = dbclient_unpack(&w, result, t);
out:
	t0 = clock_mono() - t0;
	if (t != NULL) {
		t->queryopen = t0;
	}
	dbclient_count(c, c->st_calls, 1);
	dbclient_count(c, status == 503 ? c->st_unavailable : -1, 1);
	if (c->stats != NULL && c->st_time >= 0) {
		stats_observe(c->stats, c->st_time, (uint64_t)(t0 * 1e6));
	}
	json_decref(w.answer);
	pthread_cond_destroy(&w.cv);
	return status;
}
