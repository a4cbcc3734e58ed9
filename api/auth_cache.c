#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "api/auth_cache.h"
#include "log.h"

/* Tries at reserving a slot before giving up on caching one header. */
#define AUTH_CACHE_RESERVE_TRIES 16

struct auth_cache_entry {
	struct cds_lfht_node node;
	struct rcu_head rcu;
	uint64_t expires;
	size_t len;
	char hdr[];
};

/*
 * count holds reserved slots, not nodes: an inserter takes a slot (CAS,
 * never past max) before adding, and whoever deletes a node gives its slot
 * back. So the table never holds more than max entries, even while many
 * threads insert at once.
 */
struct auth_cache_table {
	struct cds_lfht *ht;
	size_t max;
	uint64_t ttl;
	unsigned long count;
};

struct auth_cache {
	struct auth_cache_table pos;
	struct auth_cache_table neg;
	uint8_t key[16];
	unsigned long hits;
	unsigned long bad_hits;
	unsigned long misses;
	unsigned long inserts;
	unsigned long evictions;
	unsigned long expired;
};

struct auth_cache_key {
	const char *hdr;
	size_t len;
};

static inline uint64_t
auth_cache_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void
auth_cache_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = auth_cache_rotl(v[1], 13) ^ v[0];
	v[0] = auth_cache_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = auth_cache_rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = auth_cache_rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = auth_cache_rotl(v[1], 17) ^ v[2];
	v[2] = auth_cache_rotl(v[2], 32);
}

static uint64_t
auth_cache_le64(const uint8_t *p, size_t n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++) {
		x |= (uint64_t)p[i] << (8 * i);
	}
	return x;
}

uint64_t
auth_cache_siphash(const uint8_t k[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = auth_cache_le64(k, 8), k1 = auth_cache_le64(k + 8, 8);
	uint64_t v[4] = {
	    k0 ^ UINT64_C(0x736f6d6570736575),
	    k1 ^ UINT64_C(0x646f72616e646f6d),
	    k0 ^ UINT64_C(0x6c7967656e657261),
	    k1 ^ UINT64_C(0x7465646279746573),
	};
	size_t off = 0;
	uint64_t m;

	for (; off + 8 <= len; off += 8) {
		m = auth_cache_le64(p + off, 8);
		v[3] ^= m;
		auth_cache_sipround(v);
		auth_cache_sipround(v);
		v[0] ^= m;
	}
	/* The last word carries the leftover bytes and the length's low byte.
	 */
	m = auth_cache_le64(p + off, len - off) |
	    ((uint64_t)(len & 0xff) << 56);
	v[3] ^= m;
	auth_cache_sipround(v);
	auth_cache_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++) {
		auth_cache_sipround(v);
	}
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t
auth_cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * AUTH_CACHE_SEC + (uint64_t)ts.tv_nsec;
}

void
auth_cache_thread_init(void)
{
	rcu_register_thread();
}

void
auth_cache_thread_exit(void)
{
	rcu_unregister_thread();
}

/*
 * Iterates over a table's entries. Not cds_lfht_for_each_entry: at the end
 * it applies container_of to a NULL node, which UBSan rightly reports.
 */
#define auth_cache_foreach(t, iter, n, e)                                      \
	for (cds_lfht_first((t)->ht, (iter));                                  \
	     ((n) = cds_lfht_iter_get_node(iter)) != NULL &&                   \
	     ((e) = caa_container_of((n), struct auth_cache_entry, node), 1);  \
	     cds_lfht_next((t)->ht, (iter)))

static int
auth_cache_match(struct cds_lfht_node *node, const void *key)
{
	const struct auth_cache_entry *e =
	    caa_container_of(node, struct auth_cache_entry, node);
	const struct auth_cache_key *k = key;

	return e->len == k->len && memcmp(e->hdr, k->hdr, k->len) == 0;
}

static void
auth_cache_entry_free(struct rcu_head *head)
{
	free(caa_container_of(head, struct auth_cache_entry, rcu));
}

/* Deletes e if no other thread did first; the winner frees and gives the
 * slot back. Called inside a read-side critical section. */
static int
auth_cache_drop(struct auth_cache_table *t, struct auth_cache_entry *e)
{
	if (cds_lfht_del(t->ht, &e->node) != 0) {
		return -1;
	}
	uatomic_dec(&t->count);
	call_rcu(&e->rcu, auth_cache_entry_free);
	return 0;
}

static int
auth_cache_table_init(struct auth_cache_table *t, size_t max, uint64_t ttl)
{
	unsigned long init = 1;

	t->max = max;
	t->ttl = ttl;
	t->count = 0;
	while (init < max && init < 1024) {
		init <<= 1;
	}
	t->ht = cds_lfht_new(init, 1, 0, CDS_LFHT_AUTO_RESIZE, NULL);
	if (t->ht == NULL) {
		log_err("cds_lfht_new(%lu) failed", init);
		return -1;
	}
	return 0;
}

static void
auth_cache_table_clear(struct auth_cache_table *t)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct auth_cache_entry *e;

	rcu_read_lock();
	auth_cache_foreach(t, &iter, node, e)
	{
		auth_cache_drop(t, e);
	}
	rcu_read_unlock();
}

struct auth_cache *
auth_cache_new_full(size_t max, uint64_t ttl, size_t neg_max, uint64_t neg_ttl)
{
	struct auth_cache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("calloc(auth_cache) failed: %s", strerror(errno));
		return NULL;
	}
	if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key)) {
		log_err("getrandom(16) failed: %s", strerror(errno));
		goto fail;
	}
	if (auth_cache_table_init(&c->pos, max, ttl) < 0) {
		goto fail;
	}
	if (auth_cache_table_init(&c->neg, neg_max, neg_ttl) < 0) {
		goto fail;
	}
	return c;
fail:
	if (c->pos.ht != NULL) {
		cds_lfht_destroy(c->pos.ht, NULL);
	}
	free(c);
	return NULL;
}

struct auth_cache *
auth_cache_new(size_t max, uint64_t ttl)
{
	size_t neg_max = max / 8;

	if (neg_max < AUTH_CACHE_NEG_MIN) {
		neg_max = AUTH_CACHE_NEG_MIN;
	}
	if (neg_max > AUTH_CACHE_NEG_MAX) {
		neg_max = AUTH_CACHE_NEG_MAX;
	}
	return auth_cache_new_full(
	    max, ttl, neg_max,
	    ttl < AUTH_CACHE_NEG_TTL ? ttl : AUTH_CACHE_NEG_TTL);
}

void
auth_cache_flush(struct auth_cache *c)
{
	auth_cache_table_clear(&c->pos);
	auth_cache_table_clear(&c->neg);
}

void
auth_cache_free(struct auth_cache *c)
{
	if (c == NULL) {
		return;
	}
	auth_cache_flush(c);
	/* The entries are freed by call_rcu callbacks: wait for them. */
	rcu_barrier();
	cds_lfht_destroy(c->pos.ht, NULL);
	cds_lfht_destroy(c->neg.ht, NULL);
	free(c);
}

/* Finds a live entry; drops it on the way if it has expired. */
static int
auth_cache_table_find(struct auth_cache *c, struct auth_cache_table *t,
                      const struct auth_cache_key *k, unsigned long hash,
                      uint64_t now)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct auth_cache_entry *e;

	if (t->max == 0) {
		return 0;
	}
	cds_lfht_lookup(t->ht, hash, auth_cache_match, k, &iter);
	if ((node = cds_lfht_iter_get_node(&iter)) == NULL) {
		return 0;
	}
	e = caa_container_of(node, struct auth_cache_entry, node);
	if (now < e->expires) {
		return 1;
	}
	if (auth_cache_drop(t, e) == 0) {
		uatomic_inc(&c->expired);
	}
	return 0;
}

enum auth_cache_state
auth_cache_lookup(struct auth_cache *c, const char *hdr, size_t len,
                  uint64_t now)
{
	struct auth_cache_key k = {hdr, len};
	unsigned long hash = auth_cache_siphash(c->key, hdr, len);
	enum auth_cache_state st = AUTH_CACHE_MISS;

	rcu_read_lock();
	if (auth_cache_table_find(c, &c->pos, &k, hash, now)) {
		st = AUTH_CACHE_HIT;
	} else if (auth_cache_table_find(c, &c->neg, &k, hash, now)) {
		st = AUTH_CACHE_BAD;
	}
	rcu_read_unlock();
	if (st == AUTH_CACHE_HIT) {
		uatomic_inc(&c->hits);
	} else if (st == AUTH_CACHE_BAD) {
		uatomic_inc(&c->bad_hits);
	} else {
		uatomic_inc(&c->misses);
	}
	return st;
}

/*
 * Makes room in a full table: drops every expired entry, or if none had
 * expired, the one that expires first. Inside a read-side critical section.
 */
static void
auth_cache_evict(struct auth_cache *c, struct auth_cache_table *t, uint64_t now)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct auth_cache_entry *e, *oldest = NULL;
	int dropped = 0;

	auth_cache_foreach(t, &iter, node, e)
	{
		if (now >= e->expires) {
			if (auth_cache_drop(t, e) == 0) {
				uatomic_inc(&c->expired);
				dropped++;
			}
		} else if (oldest == NULL || e->expires < oldest->expires) {
			oldest = e;
		}
	}
	if (dropped == 0 && oldest != NULL && auth_cache_drop(t, oldest) == 0) {
		uatomic_inc(&c->evictions);
	}
}

static int
auth_cache_reserve(struct auth_cache *c, struct auth_cache_table *t,
                   uint64_t now)
{
	for (int i = 0; i < AUTH_CACHE_RESERVE_TRIES; i++) {
		unsigned long n = uatomic_read(&t->count);

		if (n >= t->max) {
			auth_cache_evict(c, t, now);
			continue;
		}
		if (uatomic_cmpxchg(&t->count, n, n + 1) == n) {
			return 0;
		}
	}
	return -1;
}

int
auth_cache_insert(struct auth_cache *c, const char *hdr, size_t len,
                  enum auth_result r, uint64_t now)
{
	struct auth_cache_table *t;
	struct auth_cache_entry *e;
	struct auth_cache_key k = {hdr, len};
	struct cds_lfht_node *old;
	unsigned long hash;

	if (r == AUTH_OK) {
		t = &c->pos;
	} else if (r == AUTH_MISMATCH) {
		t = &c->neg;
	} else {
		return -1;
	}
	if (t->max == 0 || hdr == NULL || len == 0 || len > AUTH_HEADER_CAP) {
		return -1;
	}
	if ((e = malloc(sizeof(*e) + len)) == NULL) {
		log_err("malloc(%zu) failed: %s", sizeof(*e) + len,
		        strerror(errno));
		return -1;
	}
	cds_lfht_node_init(&e->node);
	e->expires = now + t->ttl;
	e->len = len;
	memcpy(e->hdr, hdr, len);
	hash = auth_cache_siphash(c->key, hdr, len);

	rcu_read_lock();
	if (auth_cache_reserve(c, t, now) < 0) {
		rcu_read_unlock();
		free(e);
		return -1;
	}
	/* Replacing refreshes an entry another thread (or an expired
	 * lookup) left; the old one gives back the slot we took. */
	old = cds_lfht_add_replace(t->ht, hash, auth_cache_match, &k, &e->node);
	if (old != NULL) {
		uatomic_dec(&t->count);
		call_rcu(
		    &caa_container_of(old, struct auth_cache_entry, node)->rcu,
		    auth_cache_entry_free);
	}
	rcu_read_unlock();
	uatomic_inc(&c->inserts);
	return 0;
}

enum auth_result
auth_check(struct auth_cache *c, const struct auth_conf *conf, const char *hdr,
           size_t len, uint64_t now)
{
	enum auth_result r;

	if (hdr == NULL || len == 0) {
		return AUTH_MISSING;
	}
	if (c != NULL) {
		switch (auth_cache_lookup(c, hdr, len, now)) {
		case AUTH_CACHE_HIT:
			return AUTH_OK;
		case AUTH_CACHE_BAD:
			return AUTH_MISMATCH;
		case AUTH_CACHE_MISS:
			break;
		}
	}
	r = auth_verify(conf, hdr, len);
	if (c != NULL) {
		auth_cache_insert(c, hdr, len, r, now);
	}
	return r;
}

void
auth_cache_get_stats(struct auth_cache *c, struct auth_cache_stats *s)
{
	s->hits = uatomic_read(&c->hits);
	s->bad_hits = uatomic_read(&c->bad_hits);
	s->misses = uatomic_read(&c->misses);
	s->inserts = uatomic_read(&c->inserts);
	s->evictions = uatomic_read(&c->evictions);
	s->expired = uatomic_read(&c->expired);
	s->entries = uatomic_read(&c->pos.count);
	s->bad_entries = uatomic_read(&c->neg.count);
}
