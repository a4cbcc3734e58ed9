/*
 * The trace run endpoints of seed 001 on the API listener (behind
 * apiauth, like every route there):
 *
 *   POST /trace/start   {traceT, traceId, lasting} -> {"thread", "filePath"}
 *   GET  /trace/running?path=P                      -> one run, 404 unknown
 *   GET  /traces/running/all                        -> every run
 *   POST /trace/kill    {killPath}                  -> plain "Killed"
 *
 * A run item: {"info": template, "path", "state", "started", "lasting",
 * "events", "bytes", "chunks_sent", "chunks_acked", "code", "worker"}.
 */
#ifndef PROBED_API_TRACE_API_H
#define PROBED_API_TRACE_API_H

#include "api/http.h"

struct worker;

extern const struct http_route trace_api_routes[];

/* The api worker, before civetweb starts: the segment for the command
 * rings (the run table comes from w->runs). */
void trace_api_init(struct worker *w);

#endif
