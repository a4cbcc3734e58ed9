/*
 * Stats pages: every process owns one page of counters, gauges and latency
 * histograms in the shared segment. The owner (any of its threads) writes
 * without locks; other processes read.
 *
 * Page layout (one struct stats_page, then the values area):
 *   header: magic, version, size, owner name, n_metrics;
 *   descs[STATS_MAX_METRICS]: name, unit, help, type, offset of the value;
 *   values: counter/gauge one 64-bit word; histogram a struct stats_hist.
 *
 * Ordering. Descriptors are append-only: the owner fills descs[n] and its
 * value, then publishes n + 1 with a release store of n_metrics; a reader
 * loads n_metrics with acquire and reads only descs below it, which never
 * change again. Counters and gauges are single atomic words. A histogram
 * (count, sum, min, max and buckets) is written under its own sequence
 * lock (seqlock.h), so a reader's copy is consistent: count equals the sum
 * of the buckets.
 *
 * Histograms are log-linear: values 0..7 have a bucket each, then every
 * power of two is cut into 8 buckets, so a bucket is at most 12.5% wide and
 * any 64-bit value fits. Quantiles report the bucket's upper bound (capped
 * at the largest value seen).
 *
 * A page survives its owner's restart: a new owner registering a name that
 * exists (same type) gets the same metric back, so counters keep counting.
 */
#ifndef PROBED_SHM_STATS_H
#define PROBED_SHM_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shm/seqlock.h"

#define STATS_MAGIC        0x54415453u /* "STAT" */
#define STATS_VERSION      1u
#define STATS_NAME_MAX     48
#define STATS_UNIT_MAX     16
#define STATS_HELP_MAX     96
#define STATS_OWNER_MAX    32
#define STATS_MAX_METRICS  64
#define STATS_HIST_BUCKETS 496
#define STATS_PAGE_MIN     (32 * 1024)
#define STATS_PAGE_DEFAULT (64 * 1024)

enum stats_type {
	STATS_COUNTER = 1,
	STATS_GAUGE,
	STATS_HISTOGRAM,
};

struct stats_desc {
	char name[STATS_NAME_MAX];
	char unit[STATS_UNIT_MAX];
	char help[STATS_HELP_MAX];
	uint32_t type;
	uint32_t offset; /* of the value, from the page start */
};

struct stats_hist {
	struct seqlock lock;
	_Atomic uint64_t count;
	_Atomic uint64_t sum;
	_Atomic uint64_t min;
	_Atomic uint64_t max;
	_Atomic uint64_t buckets[STATS_HIST_BUCKETS];
};

struct stats_page {
	uint32_t magic;
	uint32_t version;
	uint32_t size;
	_Atomic uint32_t n_metrics;
	uint32_t used; /* end of the values area in use; owner only */
	uint32_t pad;
	char owner[STATS_OWNER_MAX];
	struct stats_desc descs[STATS_MAX_METRICS];
};

/* A reader's copy of one histogram. */
struct stats_hist_snap {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t buckets[STATS_HIST_BUCKETS];
};

struct stats_value {
	struct stats_desc desc;
	int consistent; /* 0: the owner died mid-write, or never let go */
	union {
		uint64_t counter;
		int64_t gauge;
	} v;
	struct stats_hist_snap hist; /* STATS_HISTOGRAM only */
};

struct stats_snapshot {
	char owner[STATS_OWNER_MAX];
	uint32_t n;
	struct stats_value values[];
};

/* Supervisor, at segment creation. size >= STATS_PAGE_MIN. */
int stats_page_init(struct stats_page *p, size_t size, const char *owner);
/* Every process before use: magic, version, size. */
int stats_page_check(const struct stats_page *p, size_t size);

/* Owner. Returns the metric id, or -errno (logged). */
int stats_register(struct stats_page *p, const char *name, enum stats_type type,
                   const char *unit, const char *help);
/* Updates: no-ops for a NULL page or an id stats_register refused, so
 * callers need not check. */
void stats_add(struct stats_page *p, int id, uint64_t n);
void stats_gauge_set(struct stats_page *p, int id, int64_t v);
void stats_gauge_add(struct stats_page *p, int id, int64_t delta);
void stats_observe(struct stats_page *p, int id, uint64_t v);

/* Readers. */
int stats_snapshot(const struct stats_page *p, struct stats_snapshot **out);
void stats_snapshot_free(struct stats_snapshot *s);
uint64_t stats_quantile(const struct stats_hist_snap *h, double q);
json_t *stats_json(const struct stats_page *p);

/* Supervisor, after reaping the owner: unstick histograms it was writing. */
void stats_page_repair(struct stats_page *p);

/* Bucket arithmetic (stats_hist.c). */
unsigned stats_bucket(uint64_t v);
uint64_t stats_bucket_high(unsigned i);

#endif
