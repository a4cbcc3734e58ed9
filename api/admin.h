/*
 * The admin listener's routes (admin-host:admin-port, loopback by
 * default), Pegasus style: "/" lists every call, /version names the
 * build. Later: /config, /configs, /updateConfig, /metrics, the /pprof
 * and /archive families, /recentStartTime.
 */
#ifndef PROBED_ADMIN_H
#define PROBED_ADMIN_H

#include "api/http.h"

/* Ends with a row whose path is NULL. */
extern const struct http_route admin_routes[];

#endif
