/*
 * The db worker's parts, shared by its files:
 *   db.c          connections: connect, reconnect with backoff, send a
 *                 query, read its result (all on the libev loop)
 *   db_queue.c    the request ring in, the pending queue, answers out on
 *                 the response ring
 *   db_ops.c      each op of api/dbclient.h: arguments to query parameters,
 *                 rows to JSON
 *   db_migrate.c  sql/NNN_name.sql applied in order at the first connection
 */
#ifndef PROBED_WORKERS_DB_INT_H
#define PROBED_WORKERS_DB_INT_H

#include <limits.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "worker.h"

#define DB_MAX_PARAMS 8
/* Requests waiting for a free connection; more are answered 503. */
#define DB_QUEUE_MAX 1024

struct db;
struct db_op;

/* One request, from the moment it left the ring until it is answered. */
struct db_req {
	uint64_t corr;
	double t0;       /* monotonic seconds when taken from the ring */
	double deadline; /* when the caller stops waiting; 0: never */
	const struct db_op *op;
	const char *sql;
	int nparams;
	char *params[DB_MAX_PARAMS]; /* owned; NULL is SQL NULL */
	int ttype;                   /* enum template_type, where it applies */
	struct db_req *next;
};

enum db_conn_state {
	DB_CONN_IDLE = 0,   /* not started, or refused */
	DB_CONN_CONNECTING, /* PQconnectPoll in progress */
	DB_CONN_READY,      /* connected, idle or serving */
	DB_CONN_WAITING,    /* failed, waiting for the retry timer */
};

struct db_conn {
	struct db *db;
	int index;
	PGconn *pg;
	enum db_conn_state state;
	ev_io io;
	ev_timer timer; /* connect timeout, or the retry wait */
	double backoff;
	struct db_req *busy; /* the request in flight, NULL when idle */
	PGresult *res;       /* its first result, until the last arrives */
};

struct db {
	struct worker *w;
	/* libpq keywords and values, NULL-terminated. */
	const char *keys[16];
	const char *values[16];
	char host[PATH_MAX];
	char port[16];
	char where[PATH_MAX + 32]; /* for log lines */
	struct db_conn *conns;
	int nconns;
	int up; /* -1 not known yet, 0 unreachable, 1 connected */
	double down_logged;
	int migrated;      /* the schema was checked (and migrated) once */
	char refused[256]; /* set: the schema cannot be used; 503 with it */

	/* db_queue.c */
	struct ring *req_ring;
	struct ring *resp_ring;
	ev_io req_io;
	struct db_req *head, *tail; /* waiting for a connection */
	int queued;
	/* This process's stats page (NULL: none) and its metric ids. */
	struct stats_page *stats;
	int st_requests, st_unavailable, st_failed, st_expired, st_time;
	int st_ready, st_queued;
};

/* db.c */
/* A READY connection with nothing in flight, or NULL. */
struct db_conn *db_conn_idle(struct db *db);
int db_conns_ready(const struct db *db);
/* Sends req's query on dc (idle, READY); answers it on failure. */
void db_conn_send(struct db_conn *dc, struct db_req *req);

/* db_queue.c */
int db_queue_start(struct db *db);
/* The ready-connections gauge, after a connection came or went. */
void db_queue_count_ready(struct db *db);
void db_queue_stop(struct db *db);
/* Hands waiting requests to idle connections. */
void db_queue_dispatch(struct db *db);
/* No connection is left: answers every waiting request with 503. */
void db_queue_fail_all(struct db *db);
/* Answers req (result stolen, may be NULL; error used when status is not
 * 2xx) and frees it. */
void db_queue_answer(struct db *db, struct db_req *req, int status,
                     json_t *result, const char *error);
void db_req_free(struct db_req *req);

/* db_ops.c: 0 and req->op, sql and params set; or an HTTP status with a
 * message in err. */
int db_ops_prepare(const void *payload, uint32_t len, struct db_req *req,
                   char *err, size_t errlen);
/* The result of req's query -> status and *result or err. */
int db_ops_result(struct db_req *req, PGresult *res, json_t **result, char *err,
                  size_t errlen);

/* db_migrate.c: the directory of NNN_name.sql files this probed uses. */
const char *db_migrate_dir(void);
/* On a fresh blocking connection: 0 done; -1 the connection failed (try
 * again on the next); -2 refused, with the reason in why (logged). */
int db_migrate_run(PGconn *pg, char *why, size_t whylen);

#endif
