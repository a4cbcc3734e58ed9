/*
 * The uploader's runs: each run's records in send order, sent as
 * PUT /submit, one request in flight per run, runs in parallel
 * (uploader_http.c). After a 2xx the run table counts the record as
 * acknowledged (slot->acked, what a restarted uploader skips) and its ring
 * is released up to the first record not acknowledged (uploader.c).
 *
 * Failures (no answer, timeout, non-2xx) retry with capped exponential
 * backoff and jitter, per run, until a 2xx. Meanwhile the platform counts
 * as down, and rings past half full spill to the spool.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shm/msg.h"
#include "shm/runs.h"
#include "trace_proto.h"
#include "uploader.h"
#include "uploader_spool.h"
#include "worker.h"

#define UPL_BACKOFF_MIN 0.05 /* seconds, the first retry */

/* The request body of an item. */
static char *
upl_run_body(const struct upl_item *it, size_t *len)
{
	if (it->data == NULL) {
		return NULL;
	}
	return upl_body_json(it->type, it->run->path, &it->tr, it->data, len);
}

struct upl_run *
upl_run_get(struct uploader *u, uint64_t run_id, unsigned slot,
            const char *path, size_t path_len)
{
	struct upl_run *r;

	for (r = u->runs; r != NULL; r = r->next) {
		if (r->run_id == run_id) {
			return r;
		}
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		log_err("calloc(upl_run) failed: %s", strerror(errno));
		return NULL;
	}
	r->u = u;
	r->run_id = run_id;
	r->slot = slot;
	if (path_len >= sizeof(r->path)) {
		path_len = sizeof(r->path) - 1;
	}
	memcpy(r->path, path, path_len);
	ev_init(&r->retry, NULL);
	r->next = u->runs;
	u->runs = r;
	return r;
}

void
upl_run_free(struct uploader *u, struct upl_run *r)
{
	struct upl_run **pp;

	for (pp = &u->runs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	ev_timer_stop(u->w->loop, &r->retry);
	/* Items still on a ring's list are that list's to free. */
	for (struct upl_item *it = r->head, *next; it != NULL; it = next) {
		next = it->run_next;
		if (!it->in_ring) {
			free(it);
		}
	}
	free(r);
}

/* The platform took the run's head item. */
static void
upl_run_acked(struct upl_run *r)
{
	struct uploader *u = r->u;
	struct upl_item *it = r->head;
	struct runs_slot *s;
	int finished;

	r->head = it->run_next;
	if (r->head == NULL) {
		r->tail = NULL;
	}
	it->acked = 1;
	u->sent++;
	s = runs_slot_of(u->w->runs, r->slot, r->run_id);
	if (s != NULL) {
		atomic_store(&s->acked, it->seq + 1);
		if (it->type == TRACE_REC_CHUNK) {
			atomic_store(&s->chunks_acked, it->tr.no + 1);
		} else if (it->type == TRACE_REC_FINISHED) {
			atomic_store(&s->uploaded, 1);
		}
	}
	/* Releasing may free it: nothing of it is read after. */
	finished = it->type == TRACE_REC_FINISHED;
	if (it->spooled) {
		upl_spool_put(&u->rings[it->ring].spool, &u->spool_total);
	}
	if (!it->in_ring) {
		free(it);
	} else {
		upl_ring_release(&u->rings[it->ring]);
	}
	if (finished && r->head == NULL) {
		upl_run_free(u, r);
		return;
	}
	upl_run_kick(r);
}

static void
upl_run_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	upl_run_kick(w->data);
}

static void
upl_run_done(void *arg, long status, const char *err)
{
	struct upl_run *r = arg;
	struct uploader *u = r->u;
	double delay, cap = u->w->conf->uploader_backoff_max;

	r->inflight = 0;
	if (status >= 200 && status < 300) {
		r->failures = 0;
		u->down = 0;
		upl_count(u, u->st_ok, 1);
		u->spool_full_logged = 0;
		upl_run_acked(r);
		return;
	}
	u->failed++;
	u->down = 1;
	upl_count(u, u->st_failed, 1);
	for (int i = 0; i < u->nrings; i++) {
		upl_ring_spool(u, i);
	}
	delay = UPL_BACKOFF_MIN *
	        (double)(1u << (r->failures < 16 ? r->failures : 16));
	if (delay > cap) {
		delay = cap;
	}
	/* Jitter: runs that failed together do not retry together. */
	delay *= 0.5 + 0.5 * ((double)random() / (double)RAND_MAX);
	if (r->failures == 0 || (r->failures & 15) == 0) {
		if (status != 0) {
			log_warn("PUT /submit for %s: HTTP %ld, retrying",
			         r->path, status);
		} else {
			log_warn("PUT /submit for %s failed: %s, retrying",
			         r->path, err);
		}
	}
	r->failures++;
	ev_timer_init(&r->retry, upl_run_retry_cb, delay, 0.);
	r->retry.data = r;
	ev_timer_start(u->w->loop, &r->retry);
}

/* The body of a spooled item: its record read back from the file. */
static char *
upl_run_spooled_body(struct uploader *u, struct upl_item *it, size_t *len)
{
	uint8_t *buf = malloc(it->rec.len);
	char *body = NULL;

	if (buf != NULL &&
	    upl_spool_read(&u->rings[it->ring].spool, it->spool_off, buf,
	                   it->rec.len) == 0) {
		it->data = buf + MSG_HDR_SIZE + sizeof(struct trace_rec) +
		           it->tr.path_len;
		body = upl_run_body(it, len);
		it->data = NULL;
	}
	free(buf);
	return body;
}

void
upl_run_kick(struct upl_run *r)
{
	struct upl_item *it = r->head;
	char *body;
	size_t len = 0;

	if (it == NULL || r->inflight || ev_is_active(&r->retry)) {
		return;
	}
	if (it->spooled) {
		body = upl_run_spooled_body(r->u, it, &len);
	} else {
		body = upl_run_body(it, &len);
	}
	if (body == NULL) {
		log_err("building the body for %s failed: out of memory",
		        r->path);
		upl_run_done(r, 0, "out of memory");
		return;
	}
	if (upl_http_put(r->u->http, body, len, upl_run_done, r) != 0) {
		upl_run_done(r, 0, "could not queue the request");
		return;
	}
	r->inflight = 1;
}
