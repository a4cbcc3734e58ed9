/*
 * The db worker: the only process that talks to PostgreSQL.
 *
 * libpq, asynchronous on the worker's libev loop: PQconnectStartParams,
 * then PQconnectPoll driven by an ev_io on PQsocket (the socket may change
 * between polls, so the watcher is re-armed each time). A connection that
 * fails or drops (PQconsumeInput fails, or PQstatus turns bad) is closed
 * and retried after a backoff: 100 ms, doubling to 5 s, back to 100 ms
 * once a connection succeeds. The worker never exits because the database
 * is away, and it reports ready without waiting for it.
 *
 * Log lines, so an outage does not flood: "connected to PostgreSQL at X"
 * when it comes up, "PostgreSQL unreachable (reason), retrying in N ms"
 * when it goes away, and while it stays away once every 30 s.
 *
 * Embedded mode: what the postgres worker (workers/postgres.c) and the
 * supervisor (supervisor/statedir.c) provide, and this file relies on:
 *   host      database.host if set, else <state-dir>/pg/run: the unix
 *             socket directory (postgres -k; listen_addresses is ''),
 *             mode 0755 so that conf->user reaches it
 *   port      database.port, default 5432: the socket is
 *             <state-dir>/pg/run/.s.PGSQL.<port>
 *   user      "probed" (database.user if set), owner of the database
 *   dbname    "probed" (database.name if set)
 *   password  database.password: the supervisor reads <state-dir>/pg/
 *             password into it before forking; pg_hba uses scram-sha-256.
 *             Without a password none is sent (a "trust" pg_hba line).
 * External mode uses host, port, user, password and name as given.
 *
 * The pool: database.poolsize connections, each with its own state and
 * backoff. A request (db_queue.c) goes to an idle DB_CONN_READY connection
 * with PQsendQueryParams; its results are read in db_conn_read() as they
 * arrive, and the request is answered when the last one came. A
 * connection that fails with a request in flight answers it 503: the
 * query may or may not have run, and only the caller can judge a retry.
 *
 * Migrations (db_migrate.c) run on the first connection that comes up,
 * before it is READY, blocking the loop: once per life of the worker, and
 * requests meanwhile wait on the ring. A database probed must not use (a
 * newer schema, a migration that fails) leaves the worker running with
 * every connection closed, answering 503 with the reason: the supervisor
 * would gain nothing by restarting it, and the api stays up.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "log.h"
#include "shm/segment.h"
#include "worker.h"

#define DB_BACKOFF_MIN       0.1 /* seconds */
#define DB_BACKOFF_MAX       5.0
#define DB_CONNECT_TIMEOUT   10.0
#define DB_LOG_EVERY         30.0 /* while down, repeat the line this often */
#define DB_DEFAULT_PORT      5432
#define DB_DEFAULT_NAME      "probed"
#define DB_DEFAULT_POOL      4
#define DB_STATEMENT_TIMEOUT "10s"

static void db_conn_connect(struct db_conn *dc);

static const char *
db_default(const char *value, const char *def)
{
	return value != NULL && value[0] != '\0' ? value : def;
}

static void
db_params(struct db *db)
{
	const struct conf *c = db->w->conf;
	const struct conf_db *cd = &c->db;
	int n = 0;

	if (cd->mode == CONF_DB_EMBEDDED &&
	    (cd->host == NULL || cd->host[0] == '\0')) {
		snprintf(db->host, sizeof(db->host), "%s/pg/run",
		         db_default(c->state_dir, LOCALSTATEDIR "/lib/probed"));
	} else {
		snprintf(db->host, sizeof(db->host), "%s",
		         db_default(cd->host, "localhost"));
	}
	snprintf(db->port, sizeof(db->port), "%d",
	         cd->port > 0 ? cd->port : DB_DEFAULT_PORT);
	if (db->host[0] == '/') {
		snprintf(db->where, sizeof(db->where), "%s/.s.PGSQL.%s",
		         db->host, db->port);
	} else {
		snprintf(db->where, sizeof(db->where), "%s:%s", db->host,
		         db->port);
	}
	db->keys[n] = "host";
	db->values[n++] = db->host;
	db->keys[n] = "port";
	db->values[n++] = db->port;
	db->keys[n] = "user";
	db->values[n++] = db_default(cd->user, DB_DEFAULT_NAME);
	db->keys[n] = "dbname";
	db->values[n++] = db_default(cd->name, DB_DEFAULT_NAME);
	if (cd->password != NULL && cd->password[0] != '\0') {
		db->keys[n] = "password";
		db->values[n++] = cd->password;
	}
	db->keys[n] = "application_name";
	db->values[n++] = "probed";
	db->keys[n] = "client_encoding";
	db->values[n++] = "UTF8";
	/* A peer that vanished without a FIN (a dead host) is noticed by
	 * TCP keepalives; they do not apply to a unix socket. */
	/* No caller waits longer than a second: a query still running
	 * after this is stuck and would hold its connection for good. */
	db->keys[n] = "options";
	db->values[n++] = "-c statement_timeout=" DB_STATEMENT_TIMEOUT;
	db->keys[n] = "keepalives_idle";
	db->values[n++] = "10";
	db->keys[n] = "keepalives_interval";
	db->values[n++] = "5";
	db->keys[n] = "keepalives_count";
	db->values[n++] = "3";
	db->keys[n] = NULL;
	db->values[n] = NULL;
}

/* libpq's message, first line only: the rest is a hint for humans at a
 * terminal ("Is the server running locally...?"). */
static void
db_reason(PGconn *pg, char *buf, size_t len)
{
	const char *msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
	size_t n = strcspn(msg, "\n");

	if (n == 0) {
		msg = "connection lost";
		n = strlen(msg);
	}
	snprintf(buf, len, "%.*s", (int)n, msg);
}

/* libpq prints notices on stderr; a FATAL that ends an idle session
 * ("terminating connection due to administrator command") arrives so. */
static void
db_notice(void *arg, const char *message)
{
	size_t n = strcspn(message, "\n");

	log_info("PostgreSQL: %.*s", (int)n, message);
}

static void
db_note_up(struct db *db)
{
	if (db->up != 1) {
		log_info("connected to PostgreSQL at %s", db->where);
	}
	db->up = 1;
}

static void
db_note_down(struct db *db, const char *reason, double delay)
{
	double now = ev_now(db->w->loop);

	if (db->up != 0 || now - db->down_logged >= DB_LOG_EVERY) {
		log_warn("PostgreSQL unreachable (%s), retrying in %d ms",
		         reason, (int)(delay * 1000 + 0.5));
		db->down_logged = now;
	}
	db->up = 0;
}

int
db_conns_ready(const struct db *db)
{
	int n = 0;

	for (int i = 0; i < db->nconns; i++) {
		n += db->conns[i].state == DB_CONN_READY;
	}
	return n;
}

struct db_conn *
db_conn_idle(struct db *db)
{
	for (int i = 0; i < db->nconns; i++) {
		struct db_conn *dc = &db->conns[i];

		if (dc->state == DB_CONN_READY && dc->busy == NULL) {
			return dc;
		}
	}
	return NULL;
}

static void
db_conn_close(struct db_conn *dc)
{
	struct ev_loop *loop = dc->db->w->loop;

	ev_io_stop(loop, &dc->io);
	ev_timer_stop(loop, &dc->timer);
	if (dc->res != NULL) {
		PQclear(dc->res);
		dc->res = NULL;
	}
	if (dc->busy != NULL) {
		db_queue_answer(dc->db, dc->busy, 503, NULL,
		                "database unavailable");
		dc->busy = NULL;
	}
	if (dc->pg != NULL) {
		PQfinish(dc->pg);
		dc->pg = NULL;
	}
	dc->state = DB_CONN_IDLE;
}

/* The connection failed or dropped: close it, wait, try again. why NULL:
 * libpq's message says why. */
static void
db_conn_fail(struct db_conn *dc, const char *why)
{
	struct ev_loop *loop = dc->db->w->loop;
	char reason[256];
	double delay = dc->backoff;

	if (why != NULL) {
		snprintf(reason, sizeof(reason), "%s", why);
	} else {
		db_reason(dc->pg, reason, sizeof(reason));
	}
	db_conn_close(dc);
	dc->backoff =
	    dc->backoff * 2 < DB_BACKOFF_MAX ? dc->backoff * 2 : DB_BACKOFF_MAX;
	dc->state = DB_CONN_WAITING;
	ev_timer_set(&dc->timer, delay, 0.);
	ev_timer_start(loop, &dc->timer);
	db_queue_count_ready(dc->db);
	if (db_conns_ready(dc->db) == 0) {
		db_note_down(dc->db, reason, delay);
		/* Nobody can serve what waits: answer it now, not after 1 s. */
		db_queue_fail_all(dc->db);
	}
}

/* Watch the connection's socket (it may be a new one) for events. */
static void
db_conn_watch(struct db_conn *dc, int events)
{
	struct ev_loop *loop = dc->db->w->loop;
	int fd = PQsocket(dc->pg);

	ev_io_stop(loop, &dc->io);
	if (fd < 0) {
		return;
	}
	ev_io_set(&dc->io, fd, events);
	ev_io_start(loop, &dc->io);
}

/* The schema cannot be used: close every connection, retry none. */
static void
db_refuse(struct db *db, const char *why)
{
	snprintf(db->refused, sizeof(db->refused), "%s", why);
	log_err("refusing the database at %s: %s; answering 503 until "
	        "probed is restarted with a version that knows it",
	        db->where, why);
	for (int i = 0; i < db->nconns; i++) {
		db_conn_close(&db->conns[i]);
	}
	db_queue_count_ready(db);
	db_queue_fail_all(db);
}

static void
db_conn_ready(struct db_conn *dc)
{
	struct db *db = dc->db;
	char why[256];
	int rc;

	ev_timer_stop(db->w->loop, &dc->timer);
	if (!db->migrated) {
		rc = db_migrate_run(dc->pg, why, sizeof(why));
		if (rc == -2) {
			db_refuse(db, why);
			return;
		}
		if (rc == -1) {
			db_conn_fail(dc, NULL);
			return;
		}
		db->migrated = 1;
	}
	if (PQsetnonblocking(dc->pg, 1) == -1) {
		log_err("PQsetnonblocking failed: %s", PQerrorMessage(dc->pg));
		db_conn_fail(dc, NULL);
		return;
	}
	dc->state = DB_CONN_READY;
	dc->backoff = DB_BACKOFF_MIN;
	db_conn_watch(dc, EV_READ);
	db_note_up(db);
	db_queue_count_ready(db);
	db_queue_dispatch(db);
}

static void
db_conn_poll(struct db_conn *dc)
{
	switch (PQconnectPoll(dc->pg)) {
	case PGRES_POLLING_READING:
		db_conn_watch(dc, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		db_conn_watch(dc, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		db_conn_ready(dc);
		break;
	case PGRES_POLLING_FAILED:
	default:
		db_conn_fail(dc, NULL);
		break;
	}
}

/* Writes what libpq still holds; watches for writability until done. */
static int
db_conn_flush(struct db_conn *dc)
{
	int rc = PQflush(dc->pg);

	if (rc == -1) {
		return -1;
	}
	db_conn_watch(dc, rc == 1 ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

void
db_conn_send(struct db_conn *dc, struct db_req *req)
{
	if (PQsendQueryParams(dc->pg, req->sql, req->nparams, NULL,
	                      (const char *const *)req->params, NULL, NULL,
	                      0) == 0) {
		log_warn("PQsendQueryParams failed: %s",
		         PQerrorMessage(dc->pg));
		dc->busy = req;
		db_conn_fail(dc, NULL);
		return;
	}
	dc->busy = req;
	if (db_conn_flush(dc) == -1) {
		db_conn_fail(dc, NULL);
	}
}

/* The last result of the request in flight arrived: answer it. */
static void
db_conn_done(struct db_conn *dc)
{
	struct db_req *req = dc->busy;
	json_t *result = NULL;
	char err[256] = "";
	int status;

	dc->busy = NULL;
	if (dc->res == NULL) {
		db_queue_answer(dc->db, req, 500, NULL, "no result");
	} else {
		status = db_ops_result(req, dc->res, &result, err, sizeof(err));
		db_queue_answer(dc->db, req, status, result, err);
	}
	if (dc->res != NULL) {
		PQclear(dc->res);
		dc->res = NULL;
	}
}

/*
 * Input on a connected socket: the results of the request in flight, or,
 * when idle, a notice or the server closing the session (an admin
 * shutdown sends a FATAL, then EOF).
 */
static void
db_conn_read(struct db_conn *dc)
{
	PGnotify *n;
	PGresult *res;

	if (PQconsumeInput(dc->pg) == 0 || PQstatus(dc->pg) == CONNECTION_BAD) {
		db_conn_fail(dc, NULL);
		return;
	}
	while ((n = PQnotifies(dc->pg)) != NULL) {
		PQfreemem(n);
	}
	while (!PQisBusy(dc->pg)) {
		res = PQgetResult(dc->pg);
		if (res == NULL) {
			if (dc->busy != NULL) {
				db_conn_done(dc);
				db_queue_dispatch(dc->db);
			}
			return;
		}
		/* One statement per query: the first result is the one. */
		if (dc->busy != NULL && dc->res == NULL) {
			dc->res = res;
		} else {
			PQclear(res);
		}
	}
}

static void
db_conn_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct db_conn *dc = io->data;

	switch (dc->state) {
	case DB_CONN_CONNECTING:
		db_conn_poll(dc);
		break;
	case DB_CONN_READY:
		if ((revents & EV_WRITE) && db_conn_flush(dc) == -1) {
			db_conn_fail(dc, NULL);
			return;
		}
		if (revents & EV_READ) {
			db_conn_read(dc);
		}
		break;
	default:
		ev_io_stop(loop, io);
		break;
	}
}

static void
db_conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct db_conn *dc = t->data;

	if (dc->state == DB_CONN_CONNECTING) {
		/* PQconnectPoll has no timeout of its own. */
		db_conn_fail(dc, "connection timed out");
		return;
	}
	db_conn_connect(dc);
}

static void
db_conn_connect(struct db_conn *dc)
{
	struct db *db = dc->db;
	struct ev_loop *loop = db->w->loop;

	db_conn_close(dc);
	if (db->refused[0] != '\0') {
		return;
	}
	/* Name resolution of an external host happens in here, blocking;
	 * an IP address in database.host avoids it. */
	dc->pg = PQconnectStartParams(db->keys, db->values, 0);
	if (dc->pg == NULL || PQstatus(dc->pg) == CONNECTION_BAD) {
		db_conn_fail(dc, NULL);
		return;
	}
	PQsetNoticeProcessor(dc->pg, db_notice, dc);
	dc->state = DB_CONN_CONNECTING;
	ev_timer_set(&dc->timer, DB_CONNECT_TIMEOUT, 0.);
	ev_timer_start(loop, &dc->timer);
	/* libpq: behave as if the last poll said WRITING. */
	db_conn_watch(dc, EV_WRITE);
}

static void
db_stop(struct db *db)
{
	for (int i = 0; i < db->nconns; i++) {
		db_conn_close(&db->conns[i]);
	}
	db_queue_stop(db);
}

static void
db_on_stop(struct worker *w)
{
	db_stop(w->data);
	ev_break(w->loop, EVBREAK_ALL);
}

int
db_main(struct worker *w)
{
	static struct db db;
	int n =
	    w->conf->db.poolsize > 0 ? w->conf->db.poolsize : DB_DEFAULT_POOL;

	memset(&db, 0, sizeof(db));
	db.w = w;
	db.up = -1;
	w->data = &db;
	w->on_stop = db_on_stop;
	/* Nothing here needs root; the socket directory must admit
	 * conf->user, so connect as that user from the start. */
	if (worker_drop_privileges(w) == -1) {
		return WORKER_EXIT_PERMANENT;
	}
	db_params(&db);
	db.conns = calloc((size_t)n, sizeof(*db.conns));
	if (db.conns == NULL) {
		log_err("calloc(%d connections) failed", n);
		return 1;
	}
	db.nconns = n;
	if (db_queue_start(&db) == -1) {
		free(db.conns);
		return WORKER_EXIT_PERMANENT;
	}
	for (int i = 0; i < n; i++) {
		struct db_conn *dc = &db.conns[i];

		dc->db = &db;
		dc->index = i;
		dc->backoff = DB_BACKOFF_MIN;
		ev_init(&dc->io, db_conn_io_cb);
		ev_init(&dc->timer, db_conn_timer_cb);
		dc->io.data = dc;
		dc->timer.data = dc;
		db_conn_connect(dc);
	}
	worker_ready(w);
	ev_run(w->loop, 0);
	db_stop(&db);
	free(db.conns);
	return 0;
}
