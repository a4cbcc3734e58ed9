/*
 * A trace worker. For now: its loop runs until it is told to stop. The
 * trace issue adds the command ring, the tool runs and the chunk ring.
 */
#include "config.h"

#include "log.h"
#include "worker.h"

int
trace_main(struct worker *w)
{
	worker_ready(w);
	ev_run(w->loop, 0);
	log_info("stopped");
	return 0;
}
