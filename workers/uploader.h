/*
 * The uploader's parts: uploader.c consumes the chunk rings and releases
 * them in order; uploader_run.c keeps each run's records in send order
 * and retries; uploader_http.c is libcurl's multi interface on the
 * worker's libev loop, with the Authorization header; uploader_body.c
 * the request bodies; uploader_spool.c the disk spool (uploader_spool.h).
 */
#ifndef PROBED_UPLOADER_H
#define PROBED_UPLOADER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "shm/ring.h"
#include "shm/runs.h"
#include "shm/segment.h"
#include "trace_proto.h"
#include "uploader_spool.h"

struct conf;
struct upl_http;
struct worker;

/* Called once a request ended: status is the HTTP status, or 0 when
 * there was none (refused, reset, timed out); err says why. */
typedef void (*upl_http_done_fn)(void *arg, long status, const char *err);

/* NULL after logging. */
struct upl_http *upl_http_new(struct ev_loop *loop, const struct conf *conf);
void upl_http_free(struct upl_http *h);

/* PUT <platform-url>/submit with body (taken: free()d when done). 0, or
 * -1 after logging (then done is not called). */
int upl_http_put(struct upl_http *h, char *body, size_t len,
                 upl_http_done_fn done, void *arg);

/* The JSON body for a chunk-ring record of type (uploader_body.c):
 * malloc'ed text and its length, NULL when out of memory. */
char *upl_body_json(uint16_t type, const char *path, const struct trace_rec *tr,
                    const uint8_t *data, size_t *len);

/* Requests in flight. */
int upl_http_busy(const struct upl_http *h);

/*
 * The consumer's state, shared by uploader.c and uploader_run.c. Every
 * record is an item on two lists, its run's (send order) and its ring's
 * (release order): see uploader.c.
 */
struct upl_run;

struct upl_item {
	struct upl_item *run_next;
	struct upl_item *ring_next;
	struct upl_run *run;
	struct ring_rec rec;
	uint16_t type;
	uint64_t seq;
	struct trace_rec tr;
	const uint8_t *data; /* in the ring; NULL once spooled */
	int ring;
	int acked;
	int in_ring; /* still on its ring's list */
	int spooled;
	uint64_t spool_off;
};

struct upl_ring {
	struct ring *ring;
	ev_io data_w;
	struct upl_item *head, *tail; /* peeked, in ring order */
	struct uploader *u;
	struct upl_spool spool;
};

struct upl_run {
	struct upl_run *next;
	struct uploader *u;
	uint64_t run_id;
	unsigned slot;
	char path[RUNS_PATH_MAX];
	struct upl_item *head, *tail; /* to send, in order */
	int inflight;
	unsigned failures;
	ev_timer retry;
};

struct uploader {
	struct worker *w;
	struct upl_http *http;
	struct upl_ring rings[SHM_MAX_TRACE];
	int nrings;
	struct upl_run *runs;
	uint64_t sent, failed;
	int down; /* the last request failed */
	uint64_t spool_total, spooled, spool_full;
	int spool_full_logged;
	/* Counters on the uploader's stats page (-1: not registered). */
	struct stats_page *st;
	int st_ok, st_failed, st_spooled, st_full, st_spool_bytes;
};

static inline void
upl_count(struct uploader *u, int id, uint64_t n)
{
	if (u->st != NULL && id >= 0) {
		stats_add(u->st, id, n);
	}
}

/* uploader.c: the ring's side. */
void upl_ring_release(struct upl_ring *ur);
void upl_ring_spool(struct uploader *u, int i);

/* uploader_run.c: a run is made on its first record (NULL after logging);
 * a kick sends its head item unless a request or a retry is pending. */
struct upl_run *upl_run_get(struct uploader *u, uint64_t run_id, unsigned slot,
                            const char *path, size_t path_len);
void upl_run_free(struct uploader *u, struct upl_run *r);
void upl_run_kick(struct upl_run *r);

#endif
