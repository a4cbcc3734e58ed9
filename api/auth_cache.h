/*
 * A cache of Authorization headers already checked, shared by the api
 * worker's civetweb threads.
 *
 * One argon2 verification costs milliseconds of CPU (and m KiB of memory);
 * a cache hit costs one keyed hash and one lookup in a liburcu RCU hash
 * table (urcu/rculfhash.h, memb flavour, the default of <urcu.h> in
 * liburcu 0.13), so readers never take a lock.
 *
 * - Keys are the exact header bytes: an entry stores a copy and a lookup
 *   compares length and bytes, so two headers never share an entry. The
 *   bucket hash is SipHash-2-4 with a random key drawn when the cache is
 *   made, so a client cannot aim many headers at one bucket.
 * - Verified headers go to the positive table: at most max entries, each
 *   valid ttl nanoseconds after it was inserted.
 * - Headers that were well formed but did not verify (AUTH_MISMATCH, the
 *   only failure that costs an argon2 run) go to a separate, smaller
 *   negative table with its own bound, so a client replaying one bad
 *   header costs one verification per ttl while a flood of distinct bad
 *   headers can never grow memory. Cheap failures are not cached.
 * - A full table first drops every expired entry; if none expired it drops
 *   the entry that expires first (the oldest insert). That scan is O(max)
 *   but runs only after an argon2 run that cost far more.
 *
 * Threads: every thread that calls lookup, insert, auth_check or
 * auth_cache_free must be a registered RCU reader. In the api worker,
 * civetweb's init_thread callback calls auth_cache_thread_init() and its
 * exit_thread callback auth_cache_thread_exit(), for every thread type
 * that serves requests; the main thread registers itself too.
 *
 * The cache is tied to one (endpoint-uuid, secret): when either changes,
 * call auth_cache_flush() (or make a new cache), or old headers stay valid
 * until they expire.
 */
#ifndef PROBED_API_AUTH_CACHE_H
#define PROBED_API_AUTH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "api/auth.h"

#define AUTH_CACHE_SEC UINT64_C(1000000000)

/* Negative table defaults used by auth_cache_new(): max/8 entries (at
 * least 16, at most 256), valid for min(ttl, 10 s). */
#define AUTH_CACHE_NEG_MIN 16
#define AUTH_CACHE_NEG_MAX 256
#define AUTH_CACHE_NEG_TTL (10 * AUTH_CACHE_SEC)

struct auth_cache;

enum auth_cache_state {
	AUTH_CACHE_MISS = 0,
	AUTH_CACHE_HIT, /* verified within ttl */
	AUTH_CACHE_BAD, /* failed to verify within the negative ttl */
};

struct auth_cache_stats {
	uint64_t hits;
	uint64_t bad_hits;
	uint64_t misses;
	uint64_t inserts;
	uint64_t evictions; /* dropped to make room, not yet expired */
	uint64_t expired;   /* dropped after their ttl */
	uint64_t entries;
	uint64_t bad_entries;
};

/* max verified headers valid for ttl ns each; NULL on failure (logged). */
struct auth_cache *auth_cache_new(size_t max, uint64_t ttl);

/* Same, with the negative table's bound and ttl given (neg_max 0: none). */
struct auth_cache *auth_cache_new_full(size_t max, uint64_t ttl, size_t neg_max,
                                       uint64_t neg_ttl);

/* No other thread may use c any more. Waits for pending frees. */
void auth_cache_free(struct auth_cache *c);

/* Drops every entry, e.g. after the secret changed. */
void auth_cache_flush(struct auth_cache *c);

/* now is CLOCK_MONOTONIC in ns (auth_cache_now()); tests pass their own. */
enum auth_cache_state auth_cache_lookup(struct auth_cache *c, const char *hdr,
                                        size_t len, uint64_t now);

/* Caches the outcome r of verifying hdr: AUTH_OK in the positive table,
 * AUTH_MISMATCH in the negative one, anything else not at all. Returns 0
 * when cached, -1 when not (not cacheable, or no room could be made). */
int auth_cache_insert(struct auth_cache *c, const char *hdr, size_t len,
                      enum auth_result r, uint64_t now);

/* Looks hdr up in c (which may be NULL: no cache); on a miss verifies it
 * with auth_verify() and caches the outcome. */
enum auth_result auth_check(struct auth_cache *c, const struct auth_conf *conf,
                            const char *hdr, size_t len, uint64_t now);

void auth_cache_get_stats(struct auth_cache *c, struct auth_cache_stats *s);

uint64_t auth_cache_now(void);

/* rcu_register_thread() / rcu_unregister_thread() for callers that do not
 * include <urcu.h> (civetweb's init_thread and exit_thread). */
void auth_cache_thread_init(void);
void auth_cache_thread_exit(void);

/* SipHash-2-4 of p[0..len) under the 16-byte key k; exported for its
 * test vector. */
uint64_t auth_cache_siphash(const uint8_t k[16], const void *p, size_t len);

#endif
