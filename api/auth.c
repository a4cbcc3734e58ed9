#include "config.h"

#include <argon2.h>
#include <string.h>

#include "api/auth.h"
#include "log.h"

static const char *const auth_result_names[AUTH_RESULT_COUNT] = {
    [AUTH_OK] = "ok",
    [AUTH_MISSING] = "missing",
    [AUTH_NO_ARGON2] = "no_argon2",
    [AUTH_WRONG_UUID] = "wrong_uuid",
    [AUTH_BAD_ENCODING] = "bad_encoding",
    [AUTH_OVER_BOUND] = "over_bound",
    [AUTH_MISMATCH] = "mismatch",
    [AUTH_ERROR] = "error",
};

/* A cursor over the PHC string; every reader advances it or fails. */
struct auth_cur {
	const char *p;
	const char *end;
};

const char *
auth_result_name(enum auth_result r)
{
	if ((unsigned)r >= AUTH_RESULT_COUNT) {
		return "?";
	}
	return auth_result_names[r];
}

void
auth_limits_default(struct auth_limits *l)
{
	l->m_max = 65536;
	l->t_max = 16;
	l->p_max = 8;
	l->salt_min = 8;
	l->salt_max = AUTH_SALT_CAP;
	l->hash_min = 16;
	l->hash_max = AUTH_HASH_CAP;
	l->header_max = 512;
}

void
auth_conf_init(struct auth_conf *c, const char *uuid, const char *secret)
{
	c->uuid = uuid;
	c->secret = secret;
	c->secret_len = secret != NULL ? strlen(secret) : 0;
	auth_limits_default(&c->limits);
}

/* Consumes the literal lit if the cursor starts with it. */
static int
auth_eat(struct auth_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0) {
		return -1;
	}
	c->p += n;
	return 0;
}

/* A decimal without sign or leading zero that fits 32 bits. */
static int
auth_dec(struct auth_cur *c, uint32_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (uint64_t)(*c->p - '0');
		if (v > UINT32_MAX) {
			return -1;
		}
		c->p++;
	}
	if (c->p == start || (*start == '0' && c->p - start > 1)) {
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
auth_b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z') {
		return ch - 'A';
	}
	if (ch >= 'a' && ch <= 'z') {
		return ch - 'a' + 26;
	}
	if (ch >= '0' && ch <= '9') {
		return ch - '0' + 52;
	}
	if (ch == '+') {
		return 62;
	}
	if (ch == '/') {
		return 63;
	}
	return -1;
}

/*
 * Decodes unpadded base64 up to the next '$' or the end into out[cap].
 * The encoded length is checked against cap before decoding, so an
 * oversized field is AUTH_OVER_BOUND however long it is; a length of 1
 * mod 4 or non-zero leftover bits is not canonical and is refused.
 */
static enum auth_result
auth_b64(struct auth_cur *c, uint8_t *out, size_t cap, size_t *outlen)
{
	const char *start = c->p;
	size_t n, len = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (c->p < c->end && *c->p != '$') {
		c->p++;
	}
	n = (size_t)(c->p - start);
	if (n == 0 || n % 4 == 1) {
		return AUTH_BAD_ENCODING;
	}
	if (n * 3 / 4 > cap) {
		return AUTH_OVER_BOUND;
	}
	for (size_t i = 0; i < n; i++) {
		int v = auth_b64_value(start[i]);

		if (v < 0) {
			return AUTH_BAD_ENCODING;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) {
		return AUTH_BAD_ENCODING;
	}
	*outlen = len;
	return AUTH_OK;
}

static enum auth_result
auth_phc_variant(struct auth_cur *c, struct auth_phc *out)
{
	/* "id" before "i": the longer name must win. */
	if (auth_eat(c, "$argon2id") == 0) {
		out->variant = AUTH_ARGON2ID;
	} else if (auth_eat(c, "$argon2i") == 0) {
		out->variant = AUTH_ARGON2I;
	} else if (auth_eat(c, "$argon2d") == 0) {
		out->variant = AUTH_ARGON2D;
	} else {
		return AUTH_BAD_ENCODING;
	}
	if (c->p < c->end && *c->p != '$') {
		return AUTH_BAD_ENCODING;
	}
	out->version = ARGON2_VERSION_10;
	if (auth_eat(c, "$v=") == 0) {
		uint32_t v;

		if (auth_dec(c, &v) < 0) {
			return AUTH_BAD_ENCODING;
		}
		if (v != ARGON2_VERSION_10 && v != ARGON2_VERSION_13) {
			return AUTH_BAD_ENCODING;
		}
		out->version = v;
	}
	return AUTH_OK;
}

/* m, t and p, each refused the moment it is read if above its bound. */
static enum auth_result
auth_phc_costs(struct auth_cur *c, const struct auth_limits *l,
               struct auth_phc *out)
{
	if (auth_eat(c, "$m=") < 0 || auth_dec(c, &out->m) < 0) {
		return AUTH_BAD_ENCODING;
	}
	if (out->m > l->m_max) {
		return AUTH_OVER_BOUND;
	}
	if (auth_eat(c, ",t=") < 0 || auth_dec(c, &out->t) < 0) {
		return AUTH_BAD_ENCODING;
	}
	if (out->t > l->t_max) {
		return AUTH_OVER_BOUND;
	}
	if (auth_eat(c, ",p=") < 0 || auth_dec(c, &out->p) < 0) {
		return AUTH_BAD_ENCODING;
	}
	if (out->p > l->p_max) {
		return AUTH_OVER_BOUND;
	}
	/* libargon2's own minimums: one pass, one lane, 8 KiB per lane. */
	if (out->t < 1 || out->p < 1 || out->m < 8 * out->p) {
		return AUTH_BAD_ENCODING;
	}
	return AUTH_OK;
}

enum auth_result
auth_phc_parse(const char *s, size_t len, const struct auth_limits *l,
               struct auth_phc *out)
{
	struct auth_cur c = {s, s + len};
	size_t salt_max =
	    l->salt_max < AUTH_SALT_CAP ? l->salt_max : AUTH_SALT_CAP;
	size_t hash_max =
	    l->hash_max < AUTH_HASH_CAP ? l->hash_max : AUTH_HASH_CAP;
	enum auth_result r;

	memset(out, 0, sizeof(*out));
	if ((r = auth_phc_variant(&c, out)) != AUTH_OK) {
		return r;
	}
	if ((r = auth_phc_costs(&c, l, out)) != AUTH_OK) {
		return r;
	}
	if (auth_eat(&c, "$") < 0) {
		return AUTH_BAD_ENCODING;
	}
	r = auth_b64(&c, out->salt, salt_max, &out->salt_len);
	if (r != AUTH_OK) {
		return r;
	}
	if (auth_eat(&c, "$") < 0) {
		return AUTH_BAD_ENCODING;
	}
	r = auth_b64(&c, out->hash, hash_max, &out->hash_len);
	if (r != AUTH_OK) {
		return r;
	}
	/* auth_b64 stops at '$': anything left is trailing garbage. */
	if (c.p != c.end) {
		return AUTH_BAD_ENCODING;
	}
	if (out->salt_len < l->salt_min || out->hash_len < l->hash_min) {
		return AUTH_OVER_BOUND;
	}
	return AUTH_OK;
}

/*
 * Compares the header's prefix with the uuid in time that depends only on
 * the uuid's length, so that timing does not reveal how many leading bytes
 * matched.
 */
static int
auth_uuid_equal(const char *uuid, const char *prefix, size_t plen)
{
	size_t ulen = strlen(uuid);
	unsigned char diff = (unsigned char)(ulen != plen);

	for (size_t i = 0; i < ulen; i++) {
		unsigned char b = i < plen ? (unsigned char)prefix[i] : 0;

		diff |= (unsigned char)uuid[i] ^ b;
	}
	return diff == 0;
}

static const char *
auth_find_argon2(const char *hdr, size_t len)
{
	static const char tag[] = "$argon2";
	size_t n = sizeof(tag) - 1;

	for (size_t i = 0; i + n <= len; i++) {
		if (hdr[i] == '$' && memcmp(hdr + i, tag, n) == 0) {
			return hdr + i;
		}
	}
	return NULL;
}

enum auth_result
auth_verify(const struct auth_conf *c, const char *hdr, size_t len)
{
	char phc[AUTH_HEADER_CAP + 1];
	struct auth_phc parsed;
	const char *at;
	size_t max = c->limits.header_max;
	size_t plen;
	enum auth_result r;
	int rc;

	if (hdr == NULL || len == 0) {
		return AUTH_MISSING;
	}
	if (max > AUTH_HEADER_CAP) {
		max = AUTH_HEADER_CAP;
	}
	if (len > max) {
		return AUTH_OVER_BOUND;
	}
	if ((at = auth_find_argon2(hdr, len)) == NULL) {
		return AUTH_NO_ARGON2;
	}
	if (!auth_uuid_equal(c->uuid, hdr, (size_t)(at - hdr))) {
		return AUTH_WRONG_UUID;
	}
	plen = len - (size_t)(at - hdr);
	r = auth_phc_parse(at, plen, &c->limits, &parsed);
	if (r != AUTH_OK) {
		return r;
	}
	/* argon2_verify wants a C string; the parse above ruled out NULs. */
	memcpy(phc, at, plen);
	phc[plen] = '\0';
	rc = argon2_verify(phc, c->secret, c->secret_len,
	                   (argon2_type)parsed.variant);
	if (rc == ARGON2_OK) {
		return AUTH_OK;
	}
	if (rc == ARGON2_VERIFY_MISMATCH) {
		return AUTH_MISMATCH;
	}
	if (rc == ARGON2_DECODING_FAIL || rc == ARGON2_DECODING_LENGTH_FAIL) {
		return AUTH_BAD_ENCODING;
	}
	log_err("argon2_verify(m=%u, t=%u, p=%u) failed: %s", parsed.m,
	        parsed.t, parsed.p, argon2_error_message(rc));
	return AUTH_ERROR;
}
