/*
 * Fuzzes the Authorization header: the split at "$argon2", the uuid
 * compare, the strict PHC parser and its bounds, and the cache in front.
 * An input is the header's bytes.
 *
 * Beyond "no crash": a result is one of the enum's values; a string the
 * parser accepts is one libargon2 also decodes (never AUTH_BAD_ENCODING
 * after a successful parse), its numbers are within the limits, and a
 * cached answer equals the uncached one. The limits are tightened to
 * m <= 64 KiB, t <= 2, p <= 2 so that an accepted input verifies quickly.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>

#include "api/auth.h"
#include "api/auth_cache.h"

#define FUZZ_AUTH_UUID "4633d686-f75d-4d1f-8415-02ce37d9e5f8"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_cache *fuzz_auth_cache;

static void
fuzz_auth_check_parse(const struct auth_conf *c, const char *hdr, size_t size,
                      enum auth_result r)
{
	const char *at = memmem(hdr, size, "$argon2", 7);
	struct auth_phc phc;
	size_t n;

	if (at == NULL) {
		return;
	}
	n = size - (size_t)(at - hdr);
	if (auth_phc_parse(at, n, &c->limits, &phc) != AUTH_OK) {
		return;
	}
	if (phc.m > c->limits.m_max || phc.t > c->limits.t_max ||
	    phc.p > c->limits.p_max || phc.salt_len > c->limits.salt_max ||
	    phc.hash_len > c->limits.hash_max || phc.t < 1 || phc.p < 1) {
		abort();
	}
	/* Parsed, right uuid, short enough: only argon2 may now say no. */
	if (r == AUTH_BAD_ENCODING) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct auth_conf c;
	const char *hdr = (const char *)data;
	enum auth_result r, cached;

	if (!registered) {
		rcu_register_thread();
		fuzz_auth_cache = auth_cache_new(4, 3600 * AUTH_CACHE_SEC);
		registered = 1;
	}
	auth_conf_init(&c, FUZZ_AUTH_UUID, "secret");
	c.limits.m_max = 64;
	c.limits.t_max = 2;
	c.limits.p_max = 2;
	r = auth_verify(&c, hdr, size);
	if ((unsigned)r >= AUTH_RESULT_COUNT) {
		abort();
	}
	fuzz_auth_check_parse(&c, hdr, size, r);
	/* Twice through the cache: a miss that inserts, then a lookup. */
	cached = auth_check(fuzz_auth_cache, &c, hdr, size, 1);
	if (cached != r || auth_check(fuzz_auth_cache, &c, hdr, size, 2) != r) {
		abort();
	}
	return 0;
}
