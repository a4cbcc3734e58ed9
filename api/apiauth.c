#include "config.h"

#include <string.h>

#include "api/apiauth.h"
#include "api/http.h"
#include "conf.h"
#include "log.h"

int
apiauth_init(struct apiauth *a, const struct conf *conf)
{
	memset(a, 0, sizeof(*a));
	a->conf = conf;
	auth_conf_init(&a->auth, conf->endpoint_uuid, conf->secret);
	/* Zero keeps auth.c's default for that bound. */
	if (conf->auth_argon2_max_m > 0) {
		a->auth.limits.m_max = (uint32_t)conf->auth_argon2_max_m;
	}
	if (conf->auth_argon2_max_t > 0) {
		a->auth.limits.t_max = (uint32_t)conf->auth_argon2_max_t;
	}
	if (conf->auth_argon2_max_p > 0) {
		a->auth.limits.p_max = (uint32_t)conf->auth_argon2_max_p;
	}
	if (conf->auth_cache_size <= 0) {
		return 0;
	}
	a->cache = auth_cache_new(
	    (size_t)conf->auth_cache_size,
	    (uint64_t)(conf->auth_cache_ttl * (double)AUTH_CACHE_SEC));
	if (a->cache == NULL) {
		/* auth_cache_new logged why. */
		return -1;
	}
	return 0;
}

void
apiauth_free(struct apiauth *a)
{
	if (a->cache != NULL) {
		auth_cache_free(a->cache);
		a->cache = NULL;
	}
}

int
apiauth_check(struct mg_connection *c, void *cbdata)
{
	struct apiauth *a = cbdata;
	const char *hdr = mg_get_header(c, "Authorization");
	enum auth_result r;

	r = auth_check(a->cache, &a->auth, hdr, hdr != NULL ? strlen(hdr) : 0,
	               auth_cache_now());
	if (r == AUTH_OK) {
		return 1;
	}
	/* The client's mistake, not ours: debug only, and never the
	 * header itself. */
	log_debug("api: Authorization refused: %s", auth_result_name(r));
	http_send_error(c, 401, "Not logged in", NULL);
	return 0;
}

void *
apiauth_thread_init(const struct mg_context *ctx, int thread_type)
{
	auth_cache_thread_init();
	return NULL;
}

void
apiauth_thread_exit(const struct mg_context *ctx, int thread_type,
                    void *thread_pointer)
{
	auth_cache_thread_exit();
}
