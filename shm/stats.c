/*
 * Stats pages: registration and the owner's writes. The layout and the
 * ordering rules are in stats.h; readers are in stats_read.c.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "shm/stats.h"

/* Registration is rare; it only has to be safe among the owner's threads. */
static pthread_mutex_t stats_register_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t
stats_values_start(void)
{
	return (sizeof(struct stats_page) + 63) & ~(size_t)63;
}

int
stats_page_init(struct stats_page *p, size_t size, const char *owner)
{
	if (size < STATS_PAGE_MIN || size > UINT32_MAX) {
		log_err("stats_page_init: page size %zu out of range", size);
		return -EINVAL;
	}
	memset(p, 0, size);
	p->magic = STATS_MAGIC;
	p->version = STATS_VERSION;
	p->size = (uint32_t)size;
	p->used = (uint32_t)stats_values_start();
	snprintf(p->owner, sizeof(p->owner), "%s", owner);
	return 0;
}

int
stats_page_check(const struct stats_page *p, size_t size)
{
	if (p->magic != STATS_MAGIC || p->version != STATS_VERSION ||
	    p->size != size) {
		log_err("stats page: magic %#x version %u size %u, expected "
		        "%#x %u %zu",
		        p->magic, p->version, p->size, STATS_MAGIC,
		        STATS_VERSION, size);
		return -EINVAL;
	}
	return 0;
}

static size_t
stats_value_size(enum stats_type type)
{
	return type == STATS_HISTOGRAM ? sizeof(struct stats_hist)
	                               : sizeof(uint64_t);
}

static int
stats_find(const struct stats_page *p, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(p->descs[i].name, name) == 0) {
			return (int)i;
		}
	}
	return -1;
}

static int
stats_register_locked(struct stats_page *p, const char *name,
                      enum stats_type type, const char *unit, const char *help)
{
	uint32_t n = atomic_load_explicit(&p->n_metrics, memory_order_relaxed);
	size_t need = stats_value_size(type);
	struct stats_desc *d;
	int id;

	id = stats_find(p, n, name);
	if (id >= 0) {
		if (p->descs[id].type != (uint32_t)type) {
			log_err("stats_register: %s already registered with "
			        "another type",
			        name);
			return -EEXIST;
		}
		return id;
	}
	if (n == STATS_MAX_METRICS || p->used + need > p->size) {
		log_err("stats_register: no room for %s in %s's page (%u "
		        "metrics, %u of %u bytes)",
		        name, p->owner, n, p->used, p->size);
		return -ENOSPC;
	}
	d = &p->descs[n];
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->unit, sizeof(d->unit), "%s", unit != NULL ? unit : "");
	snprintf(d->help, sizeof(d->help), "%s", help != NULL ? help : "");
	d->type = (uint32_t)type;
	d->offset = p->used;
	p->used += (uint32_t)((need + 63) & ~(size_t)63);
	if (type == STATS_HISTOGRAM) {
		struct stats_hist *h =
		    (struct stats_hist *)((char *)p + d->offset);
		atomic_store_explicit(&h->min, UINT64_MAX,
		                      memory_order_relaxed);
	}
	/* Publish: the descriptor and value before the count (stats.h). */
	atomic_store_explicit(&p->n_metrics, n + 1, memory_order_release);
	return (int)n;
}

int
stats_register(struct stats_page *p, const char *name, enum stats_type type,
               const char *unit, const char *help)
{
	int id;

	if (name == NULL || name[0] == '\0' || strlen(name) >= STATS_NAME_MAX) {
		log_err("stats_register: bad metric name");
		return -EINVAL;
	}
	if (type < STATS_COUNTER || type > STATS_HISTOGRAM) {
		log_err("stats_register: %s: bad type %d", name, (int)type);
		return -EINVAL;
	}
	pthread_mutex_lock(&stats_register_lock);
	id = stats_register_locked(p, name, type, unit, help);
	pthread_mutex_unlock(&stats_register_lock);
	return id;
}

static void *
stats_value(struct stats_page *p, int id, enum stats_type type)
{
	uint32_t n;

	/* A failed registration (-errno), or no page at all, makes updates
	 * no-ops: callers need not check either. */
	if (p == NULL) {
		return NULL;
	}
	n = atomic_load_explicit(&p->n_metrics, memory_order_relaxed);
	if (id < 0 || (uint32_t)id >= n || p->descs[id].type != type) {
		return NULL;
	}
	return (char *)p + p->descs[id].offset;
}

void
stats_add(struct stats_page *p, int id, uint64_t n)
{
	_Atomic uint64_t *v = stats_value(p, id, STATS_COUNTER);

	if (v != NULL) {
		atomic_fetch_add_explicit(v, n, memory_order_relaxed);
	}
}

void
stats_gauge_set(struct stats_page *p, int id, int64_t val)
{
	_Atomic uint64_t *v = stats_value(p, id, STATS_GAUGE);

	if (v != NULL) {
		atomic_store_explicit(v, (uint64_t)val, memory_order_relaxed);
	}
}

void
stats_gauge_add(struct stats_page *p, int id, int64_t delta)
{
	_Atomic uint64_t *v = stats_value(p, id, STATS_GAUGE);

	if (v != NULL) {
		atomic_fetch_add_explicit(v, (uint64_t)delta,
		                          memory_order_relaxed);
	}
}

static void
stats_update_min(_Atomic uint64_t *m, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);

	while (v < cur &&
	       !atomic_compare_exchange_weak_explicit(
	           m, &cur, v, memory_order_relaxed, memory_order_relaxed)) {
	}
}

static void
stats_update_max(_Atomic uint64_t *m, uint64_t v)
{
	uint64_t cur = atomic_load_explicit(m, memory_order_relaxed);

	while (v > cur &&
	       !atomic_compare_exchange_weak_explicit(
	           m, &cur, v, memory_order_relaxed, memory_order_relaxed)) {
	}
}

void
stats_observe(struct stats_page *p, int id, uint64_t v)
{
	struct stats_hist *h = stats_value(p, id, STATS_HISTOGRAM);

	if (h == NULL) {
		return;
	}
	seqlock_write_begin(&h->lock);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->buckets[stats_bucket(v)], 1,
	                          memory_order_relaxed);
	stats_update_min(&h->min, v);
	stats_update_max(&h->max, v);
	seqlock_write_end(&h->lock);
}

void
stats_page_repair(struct stats_page *p)
{
	uint32_t n = atomic_load_explicit(&p->n_metrics, memory_order_acquire);

	for (uint32_t i = 0; i < n; i++) {
		if (p->descs[i].type == STATS_HISTOGRAM) {
			seqlock_repair(
			    &((struct stats_hist *)((char *)p +
			                            p->descs[i].offset))
			         ->lock);
		}
	}
}
