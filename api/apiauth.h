/*
 * Authentication of the API listener, and the state its surfaces share.
 *
 * Every request on the API listener passes apiauth_check() first: it is
 * civetweb's authorization handler for "/" on that context, so no route,
 * an unknown path included, answers before the Authorization header
 * checked out (seed 001, NOTES.md "Authorization"). A header that fails
 * gets 401 {"message": "Not logged in", "errors": []}.
 *
 * The check goes through the auth cache (api/auth_cache.h): a header that
 * verified within auth-cache-ttl costs one lookup, not an argon2 run.
 * Bounds on m, t and p come from auth-argon2-max-*, so an oversized header
 * is refused before libargon2 allocates anything.
 *
 * struct apiauth is the `arg` of every API-listener handler (lambda, fd1):
 * the config and the auth state. The db client is api_dbclient().
 */
#ifndef PROBED_API_APIAUTH_H
#define PROBED_API_APIAUTH_H

#include <civetweb.h>

#include "api/auth.h"
#include "api/auth_cache.h"

struct conf;

struct apiauth {
	const struct conf *conf;
	struct auth_conf auth;
	struct auth_cache *cache; /* NULL when auth-cache-size is 0 */
};

/* Fills a from conf (borrowed; it must outlive a). The calling thread must
 * be a registered RCU reader (auth_cache_thread_init). Returns 0 or -1. */
int apiauth_init(struct apiauth *a, const struct conf *conf);

/* Frees the cache; no civetweb thread may use a any more. */
void apiauth_free(struct apiauth *a);

/* civetweb authorization handler; cbdata is the struct apiauth. Returns 1
 * to let the request through, 0 after it answered 401. */
int apiauth_check(struct mg_connection *c, void *cbdata);

/* civetweb's init_thread and exit_thread callbacks: every civetweb thread
 * becomes an RCU reader of the auth cache. */
void *apiauth_thread_init(const struct mg_context *ctx, int thread_type);
void apiauth_thread_exit(const struct mg_context *ctx, int thread_type,
                         void *thread_pointer);

#endif
