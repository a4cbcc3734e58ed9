/*
 * The supervisor's side of the shared-memory segment: created before the
 * first fork, served to probectl as "rings".
 */
#include "config.h"

#include "log.h"
#include "super.h"

int
super_shm_create(struct super *s)
{
	s->shm = NULL;
	return 0;
}

json_t *
control_rings(struct super *s)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error",
	    "the shared-memory segment is not wired in this build");
}
