/*
 * Tests of api/auth.c (header parsing, bounds, verification) and
 * api/auth_cache.c (the RCU cache, its bounds and expiry, threads), and a
 * measurement of one argon2 verification against one cache hit.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>
#include <argon2.h>
#include <urcu.h>

#include "api/auth.h"
#include "api/auth_cache.h"

#define UUID   "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
#define SECRET "correct horse battery staple"

/* The example from NOTES.md: well formed, of some secret we do not know. */
#define NOTES_PHC                                                              \
	"$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"                 \
	"FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM"

static const uint8_t test_salt[16] = "0123456789abcdef";

/* Builds UUID + PHC of pwd with the given costs into buf. */
static void
make_header(char *buf, size_t cap, argon2_type type, uint32_t m, uint32_t t,
            uint32_t p, const char *pwd)
{
	char enc[256];
	size_t n = strlen(UUID);
	int rc;

	rc =
	    argon2_hash(t, m, p, pwd, strlen(pwd), test_salt, sizeof(test_salt),
	                NULL, 32, enc, sizeof(enc), type, ARGON2_VERSION_13);
	assert_int_equal(rc, ARGON2_OK);
	assert_true(n + strlen(enc) < cap);
	memcpy(buf, UUID, n);
	strcpy(buf + n, enc);
}

static enum auth_result
verify_str(const struct auth_conf *c, const char *hdr)
{
	return auth_verify(c, hdr, strlen(hdr));
}

static enum auth_result
parse_str(const char *phc)
{
	struct auth_limits l;
	struct auth_phc out;

	auth_limits_default(&l);
	return auth_phc_parse(phc, strlen(phc), &l, &out);
}

static void
test_auth_accepts_each_variant_of_the_secret(void **state)
{
	static const argon2_type types[] = {Argon2_i, Argon2_d, Argon2_id};
	struct auth_conf c;
	char hdr[512];

	auth_conf_init(&c, UUID, SECRET);
	for (size_t i = 0; i < 3; i++) {
		make_header(hdr, sizeof(hdr), types[i], 64, 1, 1, SECRET);
		assert_int_equal(verify_str(&c, hdr), AUTH_OK);
	}
}

static void
test_auth_accepts_the_real_clients_parameters(void **state)
{
	struct auth_conf c;
	char hdr[512];

	auth_conf_init(&c, UUID, SECRET);
	make_header(hdr, sizeof(hdr), Argon2_i, 4096, 3, 1, SECRET);
	assert_non_null(strstr(hdr, "$argon2i$v=19$m=4096,t=3,p=1$"));
	assert_int_equal(verify_str(&c, hdr), AUTH_OK);
}

static void
test_auth_absent_version_means_0x10(void **state)
{
	struct auth_conf c;
	char enc[256], hdr[512];
	char *v;
	int rc;

	rc = argon2_hash(1, 64, 1, SECRET, strlen(SECRET), test_salt,
	                 sizeof(test_salt), NULL, 32, enc, sizeof(enc),
	                 Argon2_i, ARGON2_VERSION_10);
	assert_int_equal(rc, ARGON2_OK);
	/* Cut "$v=16" out: the same hash without the version field. */
	assert_non_null(v = strstr(enc, "$v=16"));
	memmove(v, v + 5, strlen(v + 5) + 1);
	snprintf(hdr, sizeof(hdr), "%s%s", UUID, enc);
	auth_conf_init(&c, UUID, SECRET);
	assert_int_equal(verify_str(&c, hdr), AUTH_OK);
}

static void
test_auth_refuses_another_secret_as_mismatch(void **state)
{
	struct auth_conf c;
	char hdr[512];

	auth_conf_init(&c, UUID, SECRET);
	make_header(hdr, sizeof(hdr), Argon2_id, 64, 1, 1, "not the secret");
	assert_int_equal(verify_str(&c, hdr), AUTH_MISMATCH);
	assert_int_equal(verify_str(&c, UUID NOTES_PHC), AUTH_MISMATCH);
}

static void
test_auth_refuses_missing_and_untagged_headers(void **state)
{
	struct auth_conf c;

	auth_conf_init(&c, UUID, SECRET);
	assert_int_equal(auth_verify(&c, NULL, 0), AUTH_MISSING);
	assert_int_equal(auth_verify(&c, "", 0), AUTH_MISSING);
	assert_int_equal(verify_str(&c, UUID), AUTH_NO_ARGON2);
	assert_int_equal(verify_str(&c, "Bearer abc"), AUTH_NO_ARGON2);
	assert_int_equal(verify_str(&c, UUID "$argon"), AUTH_NO_ARGON2);
}

static void
test_auth_refuses_a_prefix_other_than_the_uuid(void **state)
{
	struct auth_conf c;

	auth_conf_init(&c, UUID, SECRET);
	assert_int_equal(verify_str(&c, NOTES_PHC), AUTH_WRONG_UUID);
	assert_int_equal(verify_str(&c, "4633d686" NOTES_PHC), AUTH_WRONG_UUID);
	assert_int_equal(verify_str(&c, UUID "0" NOTES_PHC), AUTH_WRONG_UUID);
	assert_int_equal(
	    verify_str(&c, "5633d686-f75d-4d1f-8415-02ce37d9e5f8" NOTES_PHC),
	    AUTH_WRONG_UUID);
	assert_int_equal(verify_str(&c, " " UUID NOTES_PHC), AUTH_WRONG_UUID);
}

static void
test_auth_splits_at_the_first_argon2_tag(void **state)
{
	struct auth_conf c;

	auth_conf_init(&c, UUID, SECRET);
	/* The uuid itself cannot hide a second tag: the prefix ends early. */
	assert_int_equal(verify_str(&c, UUID "$argon2i" NOTES_PHC),
	                 AUTH_BAD_ENCODING);
}

static void
test_auth_parses_the_notes_example(void **state)
{
	struct auth_limits l;
	struct auth_phc out;

	auth_limits_default(&l);
	assert_int_equal(auth_phc_parse(NOTES_PHC, strlen(NOTES_PHC), &l, &out),
	                 AUTH_OK);
	assert_int_equal(out.variant, AUTH_ARGON2I);
	assert_int_equal(out.version, 0x13);
	assert_int_equal(out.m, 4096);
	assert_int_equal(out.t, 3);
	assert_int_equal(out.p, 1);
	assert_int_equal(out.salt_len, 16);
	assert_int_equal(out.hash_len, 32);
	assert_int_equal(out.salt[0], 0x97); /* "lxQK" */
}

static void
test_auth_refuses_malformed_phc_strings(void **state)
{
	static const char *const bad[] = {
	    "$argon2",
	    "$argon2x$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2ii$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=20$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=019$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$t=3,m=4096,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=04096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=+4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=0,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=0$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=7,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=1,keyid=x$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw==$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    /* Leftover bits not zero: "Sx" instead of "Sw". */
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSx$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK-JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$",
	    "$argon2i$v=19$m=4096,t=3,p=1$$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM$",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM ",
	    "$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJo",
	    "$argon2i$v=19$m=99999999999,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	    "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_str(bad[i]) != AUTH_BAD_ENCODING) {
			fail_msg("accepted or misclassified: %s", bad[i]);
		}
	}
}

static void
test_auth_refuses_a_nul_inside_the_header(void **state)
{
	static const char hdr[] =
	    UUID "$argon2i$v=19$m=4096,t=3,p=1$"
	         "lxQKK/JGRLqc01yCPpJvSw\0$"
	         "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM";
	struct auth_conf c;

	auth_conf_init(&c, UUID, SECRET);
	assert_int_equal(auth_verify(&c, hdr, sizeof(hdr) - 1),
	                 AUTH_BAD_ENCODING);
}

static void
test_auth_bounds_costs_before_verifying(void **state)
{
	static const char *const over[] = {
	    UUID "$argon2i$v=19$m=4194304,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	         "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    UUID "$argon2i$v=19$m=65537,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	         "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    UUID "$argon2i$v=19$m=4096,t=17,p=1$lxQKK/JGRLqc01yCPpJvSw$"
	         "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    UUID "$argon2i$v=19$m=4096,t=3,p=9$lxQKK/JGRLqc01yCPpJvSw$"
	         "FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM",
	    /* Garbage after an oversized m is never even looked at. */
	    UUID "$argon2i$v=19$m=4294967295,t=4294967295,p=16777215$???",
	};
	struct auth_conf c;
	uint64_t t0, dt;

	auth_conf_init(&c, UUID, SECRET);
	t0 = auth_cache_now();
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		if (verify_str(&c, over[i]) != AUTH_OVER_BOUND) {
			fail_msg("not refused as over bound: %s", over[i]);
		}
	}
	dt = auth_cache_now() - t0;
	/* No argon2 ran: far below one verification (milliseconds). */
	assert_true(dt < 5 * AUTH_CACHE_SEC / 1000);
}

static void
test_auth_bounds_salt_hash_and_header_length(void **state)
{
	struct auth_conf c;
	char hdr[2048];
	char b64[200];

	auth_conf_init(&c, UUID, SECRET);
	memset(b64, 'A', sizeof(b64));
	/* 88 characters decode to 66 bytes: salt over 64. */
	snprintf(hdr, sizeof(hdr),
	         UUID "$argon2i$v=19$m=64,t=1,p=1$%.88s$%.43s", b64, b64);
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
	snprintf(hdr, sizeof(hdr),
	         UUID "$argon2i$v=19$m=64,t=1,p=1$%.22s$%.88s", b64, b64);
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
	/* 6 bytes of salt, 8 of hash: under the minimums. */
	snprintf(hdr, sizeof(hdr), UUID "$argon2i$v=19$m=64,t=1,p=1$%.8s$%.43s",
	         b64, b64);
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
	snprintf(hdr, sizeof(hdr),
	         UUID "$argon2i$v=19$m=64,t=1,p=1$%.22s$%.11s", b64, b64);
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
	memset(hdr, 'x', sizeof(hdr));
	assert_int_equal(auth_verify(&c, hdr, 513), AUTH_OVER_BOUND);
	assert_int_equal(auth_verify(&c, hdr, sizeof(hdr)), AUTH_OVER_BOUND);
}

static void
test_auth_limits_are_configurable(void **state)
{
	struct auth_conf c;
	char hdr[512];

	auth_conf_init(&c, UUID, SECRET);
	make_header(hdr, sizeof(hdr), Argon2_i, 4096, 3, 1, SECRET);
	c.limits.m_max = 1024;
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
	c.limits.m_max = 4096;
	c.limits.t_max = 2;
	assert_int_equal(verify_str(&c, hdr), AUTH_OVER_BOUND);
}

static void
test_auth_result_names_are_distinct(void **state)
{
	for (int i = 0; i < AUTH_RESULT_COUNT; i++) {
		assert_string_not_equal(auth_result_name(i), "?");
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(auth_result_name(i),
			                        auth_result_name(j));
		}
	}
	assert_string_equal(auth_result_name(AUTH_RESULT_COUNT), "?");
}

static void
test_auth_cache_siphash_matches_reference_vectors(void **state)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++) {
		key[i] = (uint8_t)i;
	}
	for (int i = 0; i < 64; i++) {
		msg[i] = (uint8_t)i;
	}
	/* From the SipHash paper's reference test vectors. */
	assert_true(auth_cache_siphash(key, msg, 0) ==
	            UINT64_C(0x726fdb47dd0e0e31));
	assert_true(auth_cache_siphash(key, msg, 15) ==
	            UINT64_C(0xa129ca6149be45e5));
	assert_true(auth_cache_siphash(key, msg, 8) ==
	            UINT64_C(0x93f5f5799a932462));
}

static void
test_auth_cache_hits_only_the_exact_bytes(void **state)
{
	struct auth_cache *c = auth_cache_new(16, 60 * AUTH_CACHE_SEC);
	char hdr[] = UUID NOTES_PHC;
	size_t n = strlen(hdr);
	char longer[sizeof(hdr) + 1];

	assert_non_null(c);
	assert_int_equal(auth_cache_insert(c, hdr, n, AUTH_OK, 0), 0);
	assert_int_equal(auth_cache_lookup(c, hdr, n, 1), AUTH_CACHE_HIT);
	assert_int_equal(auth_cache_lookup(c, hdr, n - 1, 1), AUTH_CACHE_MISS);
	memcpy(longer, hdr, n);
	longer[n] = 'M';
	assert_int_equal(auth_cache_lookup(c, longer, n + 1, 1),
	                 AUTH_CACHE_MISS);
	hdr[n - 1] = 'N';
	assert_int_equal(auth_cache_lookup(c, hdr, n, 1), AUTH_CACHE_MISS);
	auth_cache_free(c);
}

static void
test_auth_cache_entries_expire_after_ttl(void **state)
{
	const uint64_t ttl = 10 * AUTH_CACHE_SEC;
	struct auth_cache *c = auth_cache_new(16, ttl);
	struct auth_cache_stats s;
	const char *h = "header";

	assert_int_equal(auth_cache_insert(c, h, 6, AUTH_OK, 1000), 0);
	assert_int_equal(auth_cache_lookup(c, h, 6, 1000 + ttl - 1),
	                 AUTH_CACHE_HIT);
	assert_int_equal(auth_cache_lookup(c, h, 6, 1000 + ttl),
	                 AUTH_CACHE_MISS);
	auth_cache_get_stats(c, &s);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.expired, 1);
	auth_cache_free(c);
}

static void
test_auth_cache_never_holds_more_than_max(void **state)
{
	struct auth_cache *c = auth_cache_new(8, 3600 * AUTH_CACHE_SEC);
	struct auth_cache_stats s;
	char h[32];

	for (int i = 0; i < 100; i++) {
		snprintf(h, sizeof(h), "h%d", i);
		assert_int_equal(
		    auth_cache_insert(c, h, strlen(h), AUTH_OK, (uint64_t)i),
		    0);
		auth_cache_get_stats(c, &s);
		assert_true(s.entries <= 8);
	}
	assert_int_equal(s.evictions, 92);
	/* The oldest went first: the last eight are still there. */
	for (int i = 92; i < 100; i++) {
		snprintf(h, sizeof(h), "h%d", i);
		assert_int_equal(auth_cache_lookup(c, h, strlen(h), 100),
		                 AUTH_CACHE_HIT);
	}
	auth_cache_free(c);
}

static void
test_auth_cache_full_table_drops_expired_entries_first(void **state)
{
	struct auth_cache *c = auth_cache_new(8, 10);
	struct auth_cache_stats s;
	char h[32];

	for (int i = 0; i < 8; i++) {
		snprintf(h, sizeof(h), "h%d", i);
		auth_cache_insert(c, h, strlen(h), AUTH_OK, 0);
	}
	assert_int_equal(auth_cache_insert(c, "new", 3, AUTH_OK, 20), 0);
	auth_cache_get_stats(c, &s);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.expired, 8);
	assert_int_equal(s.evictions, 0);
	auth_cache_free(c);
}

static void
test_auth_cache_failures_have_their_own_small_bound(void **state)
{
	struct auth_cache *c = auth_cache_new(1024, 3600 * AUTH_CACHE_SEC);
	struct auth_cache_stats s;
	char h[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(h, sizeof(h), "bad%d", i);
		auth_cache_insert(c, h, strlen(h), AUTH_MISMATCH, 0);
	}
	auth_cache_get_stats(c, &s);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.bad_entries, 1024 / 8);
	assert_int_equal(auth_cache_lookup(c, h, strlen(h), 1), AUTH_CACHE_BAD);
	/* Failures are forgotten after at most 10 s, whatever the ttl. */
	assert_int_equal(auth_cache_lookup(c, h, strlen(h), AUTH_CACHE_NEG_TTL),
	                 AUTH_CACHE_MISS);
	auth_cache_free(c);
}

static void
test_auth_cache_ignores_cheap_failures(void **state)
{
	struct auth_cache *c = auth_cache_new(16, AUTH_CACHE_SEC);
	struct auth_cache *none = auth_cache_new_full(16, AUTH_CACHE_SEC, 0, 0);

	for (int r = AUTH_MISSING; r < AUTH_RESULT_COUNT; r++) {
		if (r != AUTH_MISMATCH) {
			assert_int_equal(auth_cache_insert(c, "x", 1, r, 0),
			                 -1);
		}
	}
	assert_int_equal(auth_cache_lookup(c, "x", 1, 0), AUTH_CACHE_MISS);
	assert_int_equal(auth_cache_insert(none, "x", 1, AUTH_MISMATCH, 0), -1);
	auth_cache_free(c);
	auth_cache_free(none);
}

static void
test_auth_check_verifies_once_then_hits(void **state)
{
	struct auth_cache *c = auth_cache_new(16, 60 * AUTH_CACHE_SEC);
	struct auth_cache_stats s;
	struct auth_conf conf;
	char good[512], bad[512];

	auth_conf_init(&conf, UUID, SECRET);
	make_header(good, sizeof(good), Argon2_i, 64, 1, 1, SECRET);
	make_header(bad, sizeof(bad), Argon2_i, 64, 1, 1, "guess");
	assert_int_equal(auth_check(c, &conf, good, strlen(good), 0), AUTH_OK);
	assert_int_equal(auth_check(c, &conf, good, strlen(good), 1), AUTH_OK);
	assert_int_equal(auth_check(c, &conf, bad, strlen(bad), 2),
	                 AUTH_MISMATCH);
	assert_int_equal(auth_check(c, &conf, bad, strlen(bad), 3),
	                 AUTH_MISMATCH);
	assert_int_equal(auth_check(c, &conf, NOTES_PHC, strlen(NOTES_PHC), 4),
	                 AUTH_WRONG_UUID);
	assert_int_equal(auth_check(c, &conf, NULL, 0, 5), AUTH_MISSING);
	auth_cache_get_stats(c, &s);
	assert_int_equal(s.hits, 1);
	assert_int_equal(s.bad_hits, 1);
	assert_int_equal(s.misses, 3);
	assert_int_equal(s.inserts, 2);
	auth_cache_flush(c);
	auth_cache_get_stats(c, &s);
	assert_int_equal(s.entries + s.bad_entries, 0);
	assert_int_equal(auth_check(NULL, &conf, good, strlen(good), 0),
	                 AUTH_OK);
	auth_cache_free(c);
}

#define THREADS    8
#define ITERATIONS 20000
#define KEYS       64
#define MAX        16

struct thread_arg {
	struct auth_cache *c;
	const struct auth_conf *conf;
	const char *hdr;
	unsigned seed;
	unsigned long lookups;
	int failures;
};

/* Lookups and inserts of 64 keys into a 16-entry cache, time moving on. */
static void *
thread_churn(void *p)
{
	struct thread_arg *a = p;
	struct auth_cache_stats s;
	char h[32];

	auth_cache_thread_init();
	for (int i = 0; i < ITERATIONS; i++) {
		unsigned k = rand_r(&a->seed) % KEYS;
		uint64_t now = (uint64_t)i;

		snprintf(h, sizeof(h), "key-%u", k);
		if (auth_cache_lookup(a->c, h, strlen(h), now) ==
		    AUTH_CACHE_MISS) {
			auth_cache_insert(a->c, h, strlen(h),
			                  k % 2 ? AUTH_OK : AUTH_MISMATCH, now);
		}
		a->lookups++;
		auth_cache_get_stats(a->c, &s);
		if (s.entries > MAX || s.bad_entries > AUTH_CACHE_NEG_MIN) {
			a->failures++;
		}
	}
	auth_cache_thread_exit();
	return NULL;
}

/* Real verifications racing with hits on the same header. */
static void *
thread_check(void *p)
{
	struct thread_arg *a = p;

	auth_cache_thread_init();
	for (int i = 0; i < 50; i++) {
		if (auth_check(a->c, a->conf, a->hdr, strlen(a->hdr),
		               auth_cache_now()) != AUTH_OK) {
			a->failures++;
		}
	}
	auth_cache_thread_exit();
	return NULL;
}

static void
run_threads(void *(*fn)(void *), struct thread_arg *args)
{
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, fn, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
}

static void
test_auth_cache_stays_bounded_under_concurrent_use(void **state)
{
	struct auth_cache *c = auth_cache_new(MAX, 1000);
	struct thread_arg args[THREADS];
	struct auth_cache_stats s;
	struct auth_conf conf;
	char good[512];
	unsigned long lookups = 0;

	memset(args, 0, sizeof(args));
	for (int i = 0; i < THREADS; i++) {
		args[i].c = c;
		args[i].seed = (unsigned)i + 1;
	}
	run_threads(thread_churn, args);
	auth_cache_get_stats(c, &s);
	for (int i = 0; i < THREADS; i++) {
		lookups += args[i].lookups;
	}
	assert_int_equal(s.hits + s.bad_hits + s.misses, lookups);
	assert_true(s.entries <= MAX);

	auth_conf_init(&conf, UUID, SECRET);
	make_header(good, sizeof(good), Argon2_id, 64, 1, 1, SECRET);
	auth_cache_flush(c);
	memset(args, 0, sizeof(args));
	for (int i = 0; i < THREADS; i++) {
		args[i].c = c;
		args[i].conf = &conf;
		args[i].hdr = good;
	}
	run_threads(thread_check, args);
	auth_cache_free(c);
}

static void
test_auth_cache_hit_is_far_cheaper_than_a_verification(void **state)
{
	struct auth_cache *c = auth_cache_new(1024, 60 * AUTH_CACHE_SEC);
	struct auth_conf conf;
	char hdr[512];
	const int verifies = 3, hits = 100000;
	uint64_t t0, verify_ns, hit_ns;

	auth_conf_init(&conf, UUID, SECRET);
	make_header(hdr, sizeof(hdr), Argon2_i, 4096, 3, 1, SECRET);
	t0 = auth_cache_now();
	for (int i = 0; i < verifies; i++) {
		assert_int_equal(verify_str(&conf, hdr), AUTH_OK);
	}
	verify_ns = (auth_cache_now() - t0) / verifies;
	auth_cache_insert(c, hdr, strlen(hdr), AUTH_OK, 0);
	t0 = auth_cache_now();
	for (int i = 0; i < hits; i++) {
		if (auth_cache_lookup(c, hdr, strlen(hdr), 1) !=
		    AUTH_CACHE_HIT) {
			fail();
		}
	}
	hit_ns = (auth_cache_now() - t0) / hits;
	if (hit_ns == 0) {
		hit_ns = 1;
	}
	printf("# argon2i verify (m=4096,t=3,p=1): %.3f ms; cache hit: %llu ns;"
	       " ratio %.0f\n",
	       (double)verify_ns / 1e6, (unsigned long long)hit_ns,
	       (double)verify_ns / (double)hit_ns);
	assert_true(hit_ns * 100 < verify_ns);
	auth_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_accepts_each_variant_of_the_secret),
	    cmocka_unit_test(test_auth_accepts_the_real_clients_parameters),
	    cmocka_unit_test(test_auth_absent_version_means_0x10),
	    cmocka_unit_test(test_auth_refuses_another_secret_as_mismatch),
	    cmocka_unit_test(test_auth_refuses_missing_and_untagged_headers),
	    cmocka_unit_test(test_auth_refuses_a_prefix_other_than_the_uuid),
	    cmocka_unit_test(test_auth_splits_at_the_first_argon2_tag),
	    cmocka_unit_test(test_auth_parses_the_notes_example),
	    cmocka_unit_test(test_auth_refuses_malformed_phc_strings),
	    cmocka_unit_test(test_auth_refuses_a_nul_inside_the_header),
	    cmocka_unit_test(test_auth_bounds_costs_before_verifying),
	    cmocka_unit_test(test_auth_bounds_salt_hash_and_header_length),
	    cmocka_unit_test(test_auth_limits_are_configurable),
	    cmocka_unit_test(test_auth_result_names_are_distinct),
	    cmocka_unit_test(test_auth_cache_siphash_matches_reference_vectors),
	    cmocka_unit_test(test_auth_cache_hits_only_the_exact_bytes),
	    cmocka_unit_test(test_auth_cache_entries_expire_after_ttl),
	    cmocka_unit_test(test_auth_cache_never_holds_more_than_max),
	    cmocka_unit_test(
	        test_auth_cache_full_table_drops_expired_entries_first),
	    cmocka_unit_test(
	        test_auth_cache_failures_have_their_own_small_bound),
	    cmocka_unit_test(test_auth_cache_ignores_cheap_failures),
	    cmocka_unit_test(test_auth_check_verifies_once_then_hits),
	    cmocka_unit_test(
	        test_auth_cache_stays_bounded_under_concurrent_use),
	    cmocka_unit_test(
	        test_auth_cache_hit_is_far_cheaper_than_a_verification),
	};

	rcu_register_thread();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
