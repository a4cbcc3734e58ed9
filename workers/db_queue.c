/*
 * The db worker's side of the request and response rings (framing in
 * api/dbclient.h).
 *
 * A request is copied into process memory (struct db_req) and released
 * from the ring at once, before it is answered. So the ring never fills
 * up behind a slow query, and a db worker that dies takes its queued and
 * in-flight requests with it: nobody answers them, and the api's calls
 * time out after DBCLIENT_TIMEOUT_MS with 503. Holding records until
 * answered would instead replay them to the next db worker, running a
 * template.put twice for a caller that was already told 503.
 *
 * A request whose caller stopped waiting (its deadline passed: a frozen
 * or restarted db worker, a long queue) is answered 503 without running.
 *
 * With no connection up a request is answered 503 at once ("database
 * unavailable", or why the schema was refused), so the api answers
 * within milliseconds rather than after its timeout.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/dbclient.h"
#include "db_int.h"
#include "clock.h"
#include "log.h"
#include "shm/msg.h"
#include "shm/segment.h"
#include "shm/stats.h"

#define DB_QUEUE_BATCH 64
/* Response ring full: how long the loop waits for the api to read. */
#define DB_QUEUE_SEND_WAIT_MS 100

static void
db_queue_count(struct db *db, int id, uint64_t n)
{
	if (db->stats != NULL && id >= 0) {
		stats_add(db->stats, id, n);
	}
}

static void
db_queue_gauge(struct db *db, int id, int64_t v)
{
	if (db->stats != NULL && id >= 0) {
		stats_gauge_set(db->stats, id, v);
	}
}

void
db_queue_count_ready(struct db *db)
{
	db_queue_gauge(db, db->st_ready, db_conns_ready(db));
}

static void
db_queue_stats_init(struct db *db)
{
	struct stats_page *p = shm_segment_stats(db->w->shm, SHM_PROC_DB);

	db->stats = p;
	if (p == NULL) {
		return;
	}
	db->st_requests = stats_register(p, "db_requests", STATS_COUNTER,
	                                 "requests", "requests answered");
	db->st_unavailable =
	    stats_register(p, "db_unavailable", STATS_COUNTER, "requests",
	                   "answered 503: no connection, refused schema, "
	                   "expired or queue full");
	db->st_failed = stats_register(p, "db_failed", STATS_COUNTER,
	                               "requests", "answered 500");
	db->st_expired =
	    stats_register(p, "db_expired", STATS_COUNTER, "requests",
	                   "not run: the caller had stopped waiting");
	db->st_time = stats_register(
	    p, "db_request_time", STATS_HISTOGRAM, "us",
	    "from taking a request off the ring to answering it");
	db->st_ready =
	    stats_register(p, "db_connections_ready", STATS_GAUGE,
	                   "connections", "connections up and migrated");
	db->st_queued = stats_register(p, "db_queued", STATS_GAUGE, "requests",
	                               "requests waiting for a connection");
}

void
db_req_free(struct db_req *req)
{
	if (req == NULL) {
		return;
	}
	for (int i = 0; i < req->nparams; i++) {
		free(req->params[i]);
	}
	free(req);
}

static int
db_queue_send(struct db *db, uint64_t corr, const char *text, size_t len)
{
	int rc;

	if (len > msg_max_payload(db->resp_ring)) {
		return -EMSGSIZE;
	}
	for (int tries = 0; tries < 2; tries++) {
		rc = msg_send(db->resp_ring, DBMSG_RESULT, SHM_PROC_DB, corr,
		              text, (uint32_t)len);
		if (rc != -EAGAIN) {
			return rc;
		}
		(void)ring_wait_space(db->resp_ring,
		                      (uint32_t)len + MSG_HDR_SIZE,
		                      DB_QUEUE_SEND_WAIT_MS);
	}
	return rc;
}

void
db_queue_answer(struct db *db, struct db_req *req, int status, json_t *result,
                const char *error)
{
	json_int_t us = (json_int_t)((clock_mono() - req->t0) * 1e6);
	json_t *a;
	char *text = NULL;
	int rc = -ENOMEM;

	db_queue_count(db, db->st_requests, 1);
	db_queue_count(db,
	               status == 503   ? db->st_unavailable
	               : status >= 500 ? db->st_failed
	                               : -1,
	               1);
	if (db->stats != NULL && db->st_time >= 0) {
		stats_observe(db->stats, db->st_time, (uint64_t)us);
	}

	if (status >= 200 && status < 300) {
		a = json_pack("{s:i, s:o, s:I}", "status", status, "result",
		              result != NULL ? result : json_object(), "db_us",
		              us);
	} else {
		json_decref(result);
		a = json_pack("{s:i, s:s, s:I}", "status", status, "error",
		              error != NULL && error[0] != '\0'
		                  ? error
		                  : "database error",
		              "db_us", us);
	}
	if (a != NULL) {
		text = json_dumps(a, JSON_COMPACT);
		json_decref(a);
	}
	if (text != NULL) {
		rc = db_queue_send(db, req->corr, text, strlen(text));
		free(text);
	}
	if (rc == -EMSGSIZE) {
		static const char big[] =
		    "{\"status\":500,\"error\":\"result too large\"}";

		rc = db_queue_send(db, req->corr, big, sizeof(big) - 1);
	}
	if (rc < 0) {
		/* The api's call times out and answers 503. */
		log_err("answering db request %llu failed: %s",
		        (unsigned long long)req->corr, strerror(-rc));
	}
	db_req_free(req);
}

static void
db_queue_push(struct db *db, struct db_req *req)
{
	req->next = NULL;
	if (db->tail != NULL) {
		db->tail->next = req;
	} else {
		db->head = req;
	}
	db->tail = req;
	db->queued++;
	db_queue_gauge(db, db->st_queued, db->queued);
}

static struct db_req *
db_queue_pop(struct db *db)
{
	struct db_req *req = db->head;

	if (req != NULL) {
		db->head = req->next;
		if (db->head == NULL) {
			db->tail = NULL;
		}
		db->queued--;
		req->next = NULL;
		db_queue_gauge(db, db->st_queued, db->queued);
	}
	return req;
}

static const char *
db_queue_unavailable(const struct db *db)
{
	return db->refused[0] != '\0' ? db->refused : "database unavailable";
}

void
db_queue_fail_all(struct db *db)
{
	struct db_req *req;

	while ((req = db_queue_pop(db)) != NULL) {
		db_queue_answer(db, req, 503, NULL, db_queue_unavailable(db));
	}
}

/* The caller stopped waiting: it answered 503, so the query must not
 * run (a template.put it was told failed would still happen). */
static int
db_queue_expired(struct db *db, struct db_req *req, double now)
{
	if (req->deadline == 0 || now < req->deadline) {
		return 0;
	}
	db_queue_count(db, db->st_expired, 1);
	db_queue_answer(db, req, 503, NULL, "request expired");
	return 1;
}

void
db_queue_dispatch(struct db *db)
{
	struct db_conn *dc;
	struct db_req *req;

	/* One at a time: a failed send may empty the queue under us. */
	while (db->head != NULL && (dc = db_conn_idle(db)) != NULL) {
		req = db_queue_pop(db);
		if (!db_queue_expired(db, req, clock_mono())) {
			db_conn_send(dc, req);
		}
	}
}

/* One message from the ring: queue it or answer it now. */
static void
db_queue_take(struct db *db, const struct msg *m, double now)
{
	struct db_req *req;
	char err[256] = "";
	int status;

	req = calloc(1, sizeof(*req));
	if (req == NULL) {
		log_err("calloc(db request) failed: %s", strerror(errno));
		return;
	}
	req->corr = m->corr;
	req->t0 = now;
	if (m->type != DBMSG_QUERY) {
		db_queue_answer(db, req, 400, NULL, "not a query");
		return;
	}
	status = db_ops_prepare(m->payload, m->len, req, err, sizeof(err));
	if (status != 0) {
		db_queue_answer(db, req, status, NULL, err);
	} else if (db_queue_expired(db, req, now)) {
		return;
	} else if (db_conns_ready(db) == 0) {
		db_queue_answer(db, req, 503, NULL, db_queue_unavailable(db));
	} else if (db->queued >= DB_QUEUE_MAX) {
		db_queue_answer(db, req, 503, NULL, "database busy");
	} else {
		db_queue_push(db, req);
	}
}

static void
db_queue_drain(struct db *db)
{
	struct ring_rec recs[DB_QUEUE_BATCH];
	struct msg m;
	size_t n;

	for (;;) {
		while ((n = ring_peek_batch(db->req_ring, recs,
		                            DB_QUEUE_BATCH)) > 0) {
			double now = clock_mono();

			for (size_t i = 0; i < n; i++) {
				if (msg_parse(&recs[i], &m) == 0) {
					db_queue_take(db, &m, now);
				}
			}
			/* Copied out (see the top of this file). */
			ring_release(db->req_ring, &recs[n - 1]);
			db_queue_dispatch(db);
		}
		if (ring_consumer_prepare_wait(db->req_ring) == 1) {
			return;
		}
	}
}

static void
db_queue_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct db *db = io->data;

	ring_consumer_woken(db->req_ring);
	db_queue_drain(db);
}

int
db_queue_start(struct db *db)
{
	struct shm_segment *shm = db->w->shm;

	if (shm == NULL) {
		log_err("db worker: no shared segment, so no request ring");
		return -1;
	}
	db->req_ring = shm_segment_ring(shm, SHM_RING_REQUEST, 0);
	db->resp_ring = shm_segment_ring(shm, SHM_RING_RESPONSE, 0);
	if (db->req_ring == NULL || db->resp_ring == NULL ||
	    ring_data_fd(db->req_ring) < 0) {
		log_err("db worker: the segment has no request/response rings");
		return -1;
	}
	db_queue_stats_init(db);
	ev_io_init(&db->req_io, db_queue_io_cb, ring_data_fd(db->req_ring),
	           EV_READ);
	db->req_io.data = db;
	ev_io_start(db->w->loop, &db->req_io);
	/* Requests sent while no db worker ran: answered now (503 until a
	 * connection is up; the api gave up on them after 1 s anyway). */
	db_queue_drain(db);
	return 0;
}

void
db_queue_stop(struct db *db)
{
	if (db->req_ring != NULL) {
		ev_io_stop(db->w->loop, &db->req_io);
	}
	db_queue_fail_all(db);
}
