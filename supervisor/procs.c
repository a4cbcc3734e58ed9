/*
 * Which processes exist (OpenBSD httpd's procs[]): one row per kind.
 * Adding a worker kind is one row here and one file in workers/.
 */
#include "config.h"

#include <signal.h>

#include "proc.h"
#include "shm/segment.h"

static int
procs_one(const struct conf *c)
{
	return 1;
}

static int
procs_trace(const struct conf *c)
{
	return c->trace_workers;
}

static int
procs_embedded(const struct conf *c)
{
	return c->db.mode == CONF_DB_EMBEDDED;
}

/* Order is start order; stop runs the other way round. SIGINT is
 * PostgreSQL's fast shutdown: sessions end, the data is flushed. */
const struct proc_kind procs_table[] = {
    {"postgres", postgres_main, procs_embedded, SIGINT, READY_PGFILE,
     PROC_EMBEDDED_ONLY | PROC_FIRST, CONF_AFFECTS_POSTGRES, -1},
    {"db", db_main, procs_one, SIGTERM, READY_PIPE, 0, CONF_AFFECTS_DB,
     SHM_PROC_DB},
    {"api", api_main, procs_one, SIGTERM, READY_PIPE, 0, CONF_AFFECTS_API,
     SHM_PROC_API},
    {"trace", trace_main, procs_trace, SIGTERM, READY_PIPE, 0,
     CONF_AFFECTS_TRACE, SHM_PROC_TRACE0},
    {"uploader", uploader_main, procs_one, SIGTERM, READY_PIPE, 0,
     CONF_AFFECTS_UPLOADER, SHM_PROC_UPLOADER},
};

const size_t procs_table_len = sizeof(procs_table) / sizeof(procs_table[0]);
