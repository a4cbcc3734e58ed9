/*
 * The uploader: the only process that talks to the platform. For now its
 * loop runs until it is told to stop; the trace issue adds libcurl.
 */
#include "config.h"

#include "log.h"
#include "worker.h"

int
uploader_main(struct worker *w)
{
	if (worker_drop_privileges(w) == -1)
		return WORKER_EXIT_PERMANENT;
	worker_ready(w);
	ev_run(w->loop, 0);
	log_info("stopped");
	return 0;
}
