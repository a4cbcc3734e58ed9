/*
 * The supervisor's side of the shared-memory segment: created from the
 * config before the first fork, so every worker maps it at the same
 * address; served to probectl as "rings", and the run table beside it
 * as "traces". Its layout depends on the trace
 * worker count and the ring sizes, which is why those keys need a restart
 * of probed rather than a reload.
 */
#include "config.h"

#include "log.h"
#include "shm/runs.h"
#include "shm/segment.h"
#include "super.h"

int
super_shm_create(struct super *s)
{
	struct shm_params params = {
	    .n_trace = s->conf->trace_workers,
	    .chunk_ring_bytes = s->conf->ring_chunk_size,
	    .request_ring_bytes = s->conf->ring_request_size,
	    .response_ring_bytes = s->conf->ring_request_size,
	};

	s->shm = shm_segment_create(&params);
	if (s->shm == NULL)
		return -1;
	if (shm_segment_attach(s->shm, SHM_PROC_SUPERVISOR) != 0)
		return -1;
	/* The run table: its own mapping, inherited by every worker. */
	if (runs_create((unsigned)s->conf->trace_max_running) == NULL)
		return -1;
	superstats_init(s);
	log_info("shared segment: %zu bytes, %u rings", s->shm->size,
	         s->shm->n_rings);
	return 0;
}

json_t *
control_rings(struct super *s)
{
	return json_pack("{s:b, s:o}", "ok", 1, "rings",
	                 shm_segment_rings_json(s->shm));
}

json_t *
control_traces(struct super *s)
{
	json_t *runs = runs_json(runs_shared());

	if (runs == NULL)
		return json_pack("{s:b, s:s}", "ok", 0, "error",
		                 "cannot list the run table");
	return json_pack("{s:b, s:o}", "ok", 1, "traces", runs);
}
