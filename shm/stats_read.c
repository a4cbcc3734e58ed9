/*
 * Stats pages: the reader side (snapshots, quantiles, JSON) and the bucket
 * arithmetic. Layout and ordering rules are in stats.h.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shm/stats.h"

unsigned
stats_bucket(uint64_t v)
{
	unsigned msb;

	if (v < 8) {
		return (unsigned)v;
	}
	msb = 63u - (unsigned)__builtin_clzll(v);
	return 8u + (msb - 3u) * 8u + (unsigned)((v >> (msb - 3u)) & 7u);
}

uint64_t
stats_bucket_high(unsigned i)
{
	unsigned shift;

	if (i < 8) {
		return i;
	}
	shift = (i - 8u) / 8u;
	return ((uint64_t)(8u + (i - 8u) % 8u) << shift) +
	       (((uint64_t)1 << shift) - 1);
}

/* 1: consistent copy; 0: the owner stayed inside a write (dead?). */
static int
stats_read_hist(const struct stats_hist *h, struct stats_hist_snap *s)
{
	struct stats_hist *m = (struct stats_hist *)h;
	uint64_t ticket;

	for (int tries = 0; tries < SEQLOCK_READ_TRIES; tries++) {
		int busy = seqlock_read_begin(&h->lock, &ticket) < 0;

		s->count =
		    atomic_load_explicit(&m->count, memory_order_relaxed);
		s->sum = atomic_load_explicit(&m->sum, memory_order_relaxed);
		s->min = atomic_load_explicit(&m->min, memory_order_relaxed);
		s->max = atomic_load_explicit(&m->max, memory_order_relaxed);
		for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++) {
			s->buckets[i] = atomic_load_explicit(
			    &m->buckets[i], memory_order_relaxed);
		}
		if (!busy && !seqlock_read_retry(&h->lock, ticket)) {
			return 1;
		}
		if (tries % 64 == 63) {
			sched_yield();
		}
	}
	return 0;
}

int
stats_snapshot(const struct stats_page *p, struct stats_snapshot **out)
{
	struct stats_page *m = (struct stats_page *)p;
	uint32_t n = atomic_load_explicit(&m->n_metrics, memory_order_acquire);
	struct stats_snapshot *s;

	if (n > STATS_MAX_METRICS) {
		log_err("stats_snapshot: %s's page claims %u metrics", p->owner,
		        n);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s) + n * sizeof(s->values[0]));
	if (s == NULL) {
		log_err("calloc(stats snapshot of %u) failed", n);
		return -ENOMEM;
	}
	memcpy(s->owner, p->owner, sizeof(s->owner));
	s->owner[sizeof(s->owner) - 1] = '\0';
	s->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct stats_value *v = &s->values[i];
		const char *val = (const char *)p + p->descs[i].offset;

		v->desc = p->descs[i];
		v->consistent = 1;
		switch (v->desc.type) {
		case STATS_COUNTER:
		case STATS_GAUGE:
			v->v.counter = atomic_load_explicit(
			    (_Atomic uint64_t *)val, memory_order_relaxed);
			break;
		case STATS_HISTOGRAM:
			v->consistent = stats_read_hist(
			    (const struct stats_hist *)val, &v->hist);
			break;
		}
	}
	*out = s;
	return 0;
}

void
stats_snapshot_free(struct stats_snapshot *s)
{
	free(s);
}

uint64_t
stats_quantile(const struct stats_hist_snap *h, double q)
{
	uint64_t rank, seen = 0, total = 0, v;

	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++) {
		total += h->buckets[i];
	}
	if (total == 0) {
		return 0;
	}
	rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1) {
		rank = 1;
	}
	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			v = stats_bucket_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

static const char *
stats_type_name(uint32_t type)
{
	switch (type) {
	case STATS_COUNTER:
		return "counter";
	case STATS_GAUGE:
		return "gauge";
	case STATS_HISTOGRAM:
		return "histogram";
	}
	return "unknown";
}

static json_t *
stats_value_json(const struct stats_value *v)
{
	static const struct {
		const char *key;
		double q;
	} qs[] = {{"p50", 0.50},
	          {"p90", 0.90},
	          {"p95", 0.95},
	          {"p99", 0.99},
	          {"p999", 0.999}};
	const struct stats_hist_snap *h = &v->hist;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s}", "name", v->desc.name, "type",
	              stats_type_name(v->desc.type), "unit", v->desc.unit,
	              "description", v->desc.help);
	if (o == NULL) {
		return NULL;
	}
	switch (v->desc.type) {
	case STATS_COUNTER:
		json_object_set_new(o, "value",
		                    json_integer((json_int_t)v->v.counter));
		break;
	case STATS_GAUGE:
		json_object_set_new(o, "value", json_integer(v->v.gauge));
		break;
	case STATS_HISTOGRAM:
		json_object_set_new(o, "count",
		                    json_integer((json_int_t)h->count));
		json_object_set_new(o, "sum", json_integer((json_int_t)h->sum));
		json_object_set_new(
		    o, "min", json_integer(h->count ? (json_int_t)h->min : 0));
		json_object_set_new(o, "max", json_integer((json_int_t)h->max));
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
			json_object_set_new(
			    o, qs[i].key,
			    json_integer(
			        (json_int_t)stats_quantile(h, qs[i].q)));
		}
		json_object_set_new(o, "consistent",
		                    json_boolean(v->consistent));
		break;
	}
	return o;
}

json_t *
stats_json(const struct stats_page *p)
{
	struct stats_snapshot *s;
	json_t *o, *arr;

	if (stats_snapshot(p, &s) < 0) {
		return NULL;
	}
	arr = json_array();
	o = json_pack("{s:s, s:o}", "process", s->owner, "metrics", arr);
	if (o == NULL) {
		log_err("json_pack(stats of %s) failed", s->owner);
		goto fail;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		json_t *v = stats_value_json(&s->values[i]);

		if (v == NULL || json_array_append_new(arr, v) < 0) {
			log_err("json: stats value %s failed",
			        s->values[i].desc.name);
			goto fail;
		}
	}
	stats_snapshot_free(s);
	return o;
fail:
	json_decref(o);
	stats_snapshot_free(s);
	return NULL;
}
