/*
 * The shared segment: crash repair and the JSON views the supervisor and
 * the api serve.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "shm/segment.h"

/*
 * Why repair and not re-create the segment: the other processes keep
 * running and keep their pointers into it, and committed records (trace
 * chunks not yet uploaded) must survive. What a dead process can have left
 * half done is confined: records it reserved but never committed, a
 * histogram write, an MP release. Those are made whole here, and the loss
 * is counted where `probectl rings` shows it.
 */
uint64_t
shm_segment_repair_producer(struct shm_segment *seg, int proc)
{
	struct stats_page *page = shm_segment_stats(seg, proc);
	uint64_t total = 0, n;

	for (unsigned i = 0; i < seg->n_rings; i++) {
		const struct shm_ring_desc *d = &seg->hdr->rings[i];

		if (d->producer != (uint32_t)proc) {
			continue;
		}
		n = ring_repair(&seg->rings[i]);
		if (n > 0) {
			log_warn("ring %s: discarded %llu records %s left "
			         "unfinished",
			         d->name, (unsigned long long)n,
			         shm_proc_name(seg, proc));
		}
		total += n;
	}
	if (page != NULL) {
		stats_page_repair(page);
	}
	return total;
}

void
shm_segment_repair_consumer(struct shm_segment *seg, int proc)
{
	for (unsigned i = 0; i < seg->n_rings; i++) {
		if (seg->hdr->rings[i].consumer == (uint32_t)proc) {
			ring_repair_consumer(&seg->rings[i]);
		}
	}
}

static json_t *
shm_ring_json(const struct shm_segment *seg, unsigned i)
{
	const struct shm_ring_desc *d = &seg->hdr->rings[i];
	struct ring_ctl *c = seg->rings[i].ctl;

#define SHM_LOAD(f)                                                            \
	((json_int_t)atomic_load_explicit(&c->f, memory_order_relaxed))
	return json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:b}",
	    "name", d->name, "producer", shm_proc_name(seg, (int)d->producer),
	    "consumer", shm_proc_name(seg, (int)d->consumer), "size",
	    (json_int_t)d->size, "used", (json_int_t)ring_used(&seg->rings[i]),
	    "records_in", SHM_LOAD(records_in), "records_out",
	    SHM_LOAD(records_out), "discards", SHM_LOAD(discards),
	    "producer_waits", SHM_LOAD(producer_waits), "consumer_wakeups",
	    SHM_LOAD(consumer_wakeups), "consumer_waits",
	    SHM_LOAD(consumer_waits), "producer_wakeups",
	    SHM_LOAD(producer_wakeups), "multi_producer",
	    (d->flags & RING_MP) != 0);
#undef SHM_LOAD
}

json_t *
shm_segment_rings_json(const struct shm_segment *seg)
{
	json_t *arr = json_array(), *o;

	if (arr == NULL) {
		log_err("json_array(rings) failed");
		return NULL;
	}
	for (unsigned i = 0; i < seg->n_rings; i++) {
		o = shm_ring_json(seg, i);
		if (o == NULL || json_array_append_new(arr, o) < 0) {
			log_err("json: ring %s failed",
			        seg->hdr->rings[i].name);
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

json_t *
shm_stats_json(const struct shm_segment *seg, int proc)
{
	const struct stats_page *page =
	    shm_segment_stats((struct shm_segment *)seg, proc);

	if (page == NULL) {
		log_err("shm_stats_json: no process %d", proc);
		return NULL;
	}
	return stats_json(page);
}
