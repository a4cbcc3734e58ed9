/*
 * The record of trace runs in PostgreSQL (table trace_runs), kept by the
 * api worker through the db worker: a row when /trace/start accepts a run,
 * and its end (state, exit code, bytes, chunks) once the shared run table
 * says it ended.
 */
#ifndef PROBED_API_RUNLOG_H
#define PROBED_API_RUNLOG_H

#include <jansson.h>

#include "worker.h"

/* The thread that records ends; runlog_stop joins it. */
int runlog_start(struct worker *w);
void runlog_stop(void);

/* From a civetweb thread, after the start command went out. A failure is
 * logged, never the client's: the trace runs whether or not it is
 * recorded. */
void runlog_insert(const char *type, json_int_t trace_no, const char *path,
                   int worker, json_int_t lasting, json_t *info);

/* The start command could not be sent: the row ends as failed. */
void runlog_abort(const char *path);

#endif
