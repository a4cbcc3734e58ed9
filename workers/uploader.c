/*
 * The uploader: the only process that talks to the platform. It consumes
 * every chunk ring (chunk/i, records in workers/trace_proto.h) and sends
 * each run's records as PUT /submit, in order, one request in flight per
 * run, runs in parallel (uploader_run.c, uploader_http.c).
 *
 * Records of different runs interleave in a ring, and a ring frees space
 * only in order. So the uploader peeks ahead: every record becomes an
 * item on two lists, its run's queue (send order) and its ring's queue
 * (release order). Items point into the ring: nothing is copied, since a
 * record stays in place until it is released. After a 2xx the item is
 * marked acknowledged, and the ring is released up to the first item not
 * acknowledged. A slow run therefore holds ring space of faster runs
 * behind it, which back-pressures the trace workers: nothing is dropped.
 *
 * Restart. A new uploader resumes at each ring's tail: the records not
 * released yet, some of them acknowledged already. The run table says how
 * many records of each run the platform acknowledged (slot->acked, stored
 * after every 2xx), so those are skipped; a run whose slot went to
 * another run was delivered whole. Only a record acknowledged in the
 * moment before a crash is sent again: at-least-once, and the chunk
 * numbers are stable, so the platform can drop a duplicate.
 *
 * Failures retry per run (uploader_run.c). While the platform is down, a
 * ring past half full moves its oldest records to the disk spool
 * (uploader_spool.h), so the trace goes on.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shm/msg.h"
#include "shm/runs.h"
#include "shm/segment.h"
#include "trace_proto.h"
#include "uploader.h"
#include "uploader_spool.h"
#include "worker.h"

/* Frees the ring up to the first item not acknowledged. */
void
upl_ring_release(struct upl_ring *ur)
{
	struct upl_item *it, *last = NULL;

	struct ring_rec upto;

	/* A spooled item leaves the ring but lives on in its run's queue
	 * until the platform takes it. */
	while ((it = ur->head) != NULL && (it->acked || it->spooled)) {
		ur->head = it->ring_next;
		it->in_ring = 0;
		upto = it->rec;
		if (it->acked) {
			free(it);
		}
		last = it;
	}
	if (ur->head == NULL) {
		ur->tail = NULL;
	}
	if (last != NULL) {
		ring_release(ur->ring, &upto);
	}
}

/*
 * While the platform is down and the ring is past half full, the oldest
 * records move to the spool file, which frees the ring for the trace.
 */
void
upl_ring_spool(struct uploader *u, int i)
{
	struct upl_ring *ur = &u->rings[i];
	uint64_t max = u->w->conf->uploader_spool_max, n = 0;
	struct upl_item *it;

	if (!u->down || ur->spool.fd < 0 ||
	    ring_used(ur->ring) <= ur->ring->size / 2) {
		return;
	}
	for (it = ur->head; it != NULL; it = it->ring_next) {
		if (it->acked || it->spooled) {
			continue;
		}
		if (upl_spool_write(&ur->spool, it->rec.data, it->rec.len,
		                    &it->spool_off, &u->spool_total,
		                    max) != 0) {
			u->spool_full++;
			upl_count(u, u->st_full, 1);
			if (!u->spool_full_logged && !ur->spool.failing) {
				log_warn("spool full (%llu bytes, "
				         "uploader.spool-max-bytes): trace "
				         "output waits for the platform",
				         (unsigned long long)u->spool_total);
				u->spool_full_logged = 1;
			}
			break;
		}
		it->spooled = 1;
		it->data = NULL;
		u->spooled++;
		upl_count(u, u->st_spooled, 1);
		n++;
	}
	if (u->st != NULL && u->st_spool_bytes >= 0) {
		stats_gauge_set(u->st, u->st_spool_bytes,
		                (int64_t)u->spool_total);
	}
	if (n > 0) {
		log_info("platform down: %llu records of chunk/%d spooled "
		         "(%llu bytes on disk)",
		         (unsigned long long)n, i,
		         (unsigned long long)u->spool_total);
	}
	upl_ring_release(ur);
}

/* 1 when the platform acknowledged this record before (a restart). */
static int
upl_known(struct uploader *u, const struct upl_item *it, uint64_t run_id)
{
	struct runs_slot *s = runs_slot_of(u->w->runs, it->tr.slot, run_id);

	if (s == NULL) {
		return 1;
	}
	return it->seq < atomic_load(&s->acked);
}

static int
upl_take(struct uploader *u, int i, const struct ring_rec *rec, int spooled,
         uint64_t off)
{
	struct upl_ring *ur = &u->rings[i];
	const uint8_t *p;
	struct upl_item *it;
	struct msg m;

	it = calloc(1, sizeof(*it));
	if (it == NULL) {
		log_err("calloc(upl_item) failed: %s", strerror(errno));
		return -1;
	}
	it->rec = *rec;
	it->ring = i;
	it->in_ring = !spooled;
	it->spooled = spooled;
	it->spool_off = off;
	if (msg_parse(rec, &m) != 0 || m.len < sizeof(struct trace_rec)) {
		it->acked = 1;
		goto queue;
	}
	p = m.payload;
	memcpy(&it->tr, p, sizeof(it->tr));
	if (sizeof(it->tr) + it->tr.path_len + it->tr.data_len != m.len ||
	    m.type < TRACE_REC_START || m.type > TRACE_REC_FINISHED) {
		log_err("chunk/%d: malformed record dropped", i);
		it->acked = 1;
		goto queue;
	}
	it->type = m.type;
	it->seq = trace_rec_seq(m.type, &it->tr);
	it->data = spooled ? NULL : p + sizeof(it->tr) + it->tr.path_len;
	if (upl_known(u, it, m.corr)) {
		it->acked = 1;
		goto queue;
	}
	it->run =
	    upl_run_get(u, m.corr, it->tr.slot,
	                (const char *)p + sizeof(it->tr), it->tr.path_len);
	if (it->run == NULL) {
		free(it);
		return -1;
	}
	if (it->run->tail != NULL) {
		it->run->tail->run_next = it;
	} else {
		it->run->head = it;
	}
	it->run->tail = it;
queue:
	if (spooled) {
		if (it->acked) {
			upl_spool_put(&ur->spool, &u->spool_total);
			free(it);
			return 0;
		}
		upl_run_kick(it->run);
		return 0;
	}
	if (ur->tail != NULL) {
		ur->tail->ring_next = it;
	} else {
		ur->head = it;
	}
	ur->tail = it;
	if (it->run != NULL) {
		upl_run_kick(it->run);
	}
	return 0;
}

static void
upl_consume(struct uploader *u, int i)
{
	struct upl_ring *ur = &u->rings[i];
	struct ring_rec rec;

	for (;;) {
		if (ring_peek(ur->ring, &rec) != 0) {
			if (ring_consumer_prepare_wait(ur->ring) == 1) {
				break;
			}
			continue;
		}
		if (upl_take(u, i, &rec, 0, 0) != 0) {
			break;
		}
	}
	upl_ring_release(ur);
	upl_ring_spool(u, i);
}

static void
upl_data_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upl_ring *ur = w->data;

	ring_consumer_woken(ur->ring);
	upl_consume(ur->u, (int)(ur - ur->u->rings));
}

struct upl_replay {
	struct uploader *u;
	int ring;
};

static int
upl_replay_cb(void *arg, uint64_t off, const void *data, uint32_t len)
{
	struct upl_replay *rp = arg;
	struct ring_rec rec = {.data = data, .len = len};

	return upl_take(rp->u, rp->ring, &rec, 1, off);
}

/* Before dropping root: the spool directory and files (uploader_spool.h). */
static int
upl_spool_setup(struct uploader *u)
{
	struct worker *w = u->w;
	struct passwd *pw = getpwnam(w->conf->user);
	unsigned uid = pw != NULL ? pw->pw_uid : 0;
	unsigned gid = pw != NULL ? pw->pw_gid : 0;

	for (int i = 0; i < w->conf->trace_workers && i < SHM_MAX_TRACE; i++) {
		if (upl_spool_open(&u->rings[i].spool, w->conf->state_dir, i,
		                   uid, gid) != 0) {
			return -1;
		}
	}
	return 0;
}

int
uploader_main(struct worker *w)
{
	static struct uploader u;

	memset(&u, 0, sizeof(u));
	u.w = w;
	if (w->runs == NULL) {
		log_err("uploader: no run table");
		return WORKER_EXIT_PERMANENT;
	}
	for (int i = 0; i < SHM_MAX_TRACE; i++) {
		u.rings[i].spool.fd = -1;
	}
	u.http = upl_http_new(w->loop, w->conf);
	if (u.http == NULL || upl_spool_setup(&u) != 0) {
		upl_http_free(u.http);
		return 1;
	}
	if (worker_drop_privileges(w) == -1) {
		upl_http_free(u.http);
		return WORKER_EXIT_PERMANENT;
	}
	srandom((unsigned)getpid());
	u.st = shm_segment_stats(w->shm, SHM_PROC_UPLOADER);
	if (u.st != NULL) {
		u.st_ok = stats_register(u.st, "upload_ok", STATS_COUNTER, "",
		                         "PUT /submit answered 2xx");
		u.st_failed =
		    stats_register(u.st, "upload_failed", STATS_COUNTER, "",
		                   "PUT /submit failed or not 2xx (retried)");
		u.st_spooled =
		    stats_register(u.st, "spool_records", STATS_COUNTER, "",
		                   "records moved to the disk spool");
		u.st_full =
		    stats_register(u.st, "spool_full", STATS_COUNTER, "",
		                   "times the spool was at its bound");
		u.st_spool_bytes =
		    stats_register(u.st, "spool_bytes", STATS_GAUGE, "bytes",
		                   "bytes in the spool files");
	}
	for (int i = 0; i < w->conf->trace_workers && i < SHM_MAX_TRACE; i++) {
		struct upl_ring *ur = &u.rings[i];

		ur->ring = shm_segment_ring(w->shm, SHM_RING_CHUNK, i);
		if (ur->ring == NULL) {
			break;
		}
		ur->u = &u;
		ev_io_init(&ur->data_w, upl_data_cb, ring_data_fd(ur->ring),
		           EV_READ);
		ur->data_w.data = ur;
		ev_io_start(w->loop, &ur->data_w);
		u.nrings = i + 1;
	}
	worker_ready(w);
	/* The spool first: its records are older than the ring's. */
	for (int i = 0; i < u.nrings; i++) {
		struct upl_replay rp = {&u, i};

		(void)upl_spool_replay(&u.rings[i].spool, &u.spool_total,
		                       upl_replay_cb, &rp);
	}
	if (u.spool_total > 0) {
		log_info("spool: %llu bytes to replay",
		         (unsigned long long)u.spool_total);
	}
	for (int i = 0; i < u.nrings; i++) {
		upl_consume(&u, i);
	}
	ev_run(w->loop, 0);
	log_info("stopped: %llu records delivered, %llu attempts failed, "
	         "%llu spooled, %llu times the spool was full",
	         (unsigned long long)u.sent, (unsigned long long)u.failed,
	         (unsigned long long)u.spooled,
	         (unsigned long long)u.spool_full);
	while (u.runs != NULL) {
		upl_run_free(&u, u.runs);
	}
	for (int i = 0; i < u.nrings; i++) {
		struct upl_item *it, *next;

		for (it = u.rings[i].head; it != NULL; it = next) {
			next = it->ring_next;
			free(it);
		}
		upl_spool_close(&u.rings[i].spool);
	}
	upl_http_free(u.http);
	return 0;
}
