/*
 * The lambda endpoint's Authorization header (seed 001, NOTES.md):
 *
 *   <endpoint-uuid>$argon2i$v=19$m=4096,t=3,p=1$<salt b64>$<hash b64>
 *
 * The uuid is followed at once by a PHC-encoded argon2 hash of `secret`.
 * The header is split at the first "$argon2"; the prefix must equal the
 * configured endpoint-uuid; the rest must be a PHC string that this file
 * parses strictly and whose cost parameters it bounds (struct auth_limits)
 * before anything is allocated: a header asking for m=4194304 is refused
 * without touching libargon2. Only then does argon2_verify() run, with the
 * variant named in the string.
 *
 * PHC grammar accepted (nothing else, no trailing bytes):
 *   "$argon2" ("i" | "d" | "id")
 *   [ "$v=" ("16" | "19") ]                       absent means 16 (0x10)
 *   "$m=" DEC ",t=" DEC ",p=" DEC                 in this order
 *   "$" B64 "$" B64                               salt, hash
 * DEC is a decimal without sign or leading zero that fits 32 bits; B64 is
 * standard base64 without padding whose unused trailing bits are zero.
 *
 * Nothing here logs the secret or the header: callers log the result name.
 */
#ifndef PROBED_API_AUTH_H
#define PROBED_API_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Hard caps on decoded salt and hash, the size of struct auth_phc's
 * buffers; struct auth_limits may only be tighter. */
#define AUTH_SALT_CAP 64
#define AUTH_HASH_CAP 64
/* Hard cap on the whole header, the size of a stack copy. */
#define AUTH_HEADER_CAP 1024

/* Bounds applied to a header before it is verified. */
struct auth_limits {
	uint32_t m_max; /* KiB of memory argon2 may allocate */
	uint32_t t_max; /* passes */
	uint32_t p_max; /* lanes, which libargon2 runs as threads */
	size_t salt_min;
	size_t salt_max; /* <= AUTH_SALT_CAP */
	size_t hash_min;
	size_t hash_max;   /* <= AUTH_HASH_CAP */
	size_t header_max; /* <= AUTH_HEADER_CAP */
};

/* m <= 65536 KiB, t <= 16, p <= 8, salt 8..64, hash 16..64 bytes, header
 * <= 512 bytes. The real client sends m=4096, t=3, p=1, 16, 32. */
void auth_limits_default(struct auth_limits *l);

/* Why a header was refused, for the log line and the metrics. */
enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,      /* no header, or an empty one */
	AUTH_NO_ARGON2,    /* no "$argon2" anywhere in it */
	AUTH_WRONG_UUID,   /* the prefix is not our endpoint-uuid */
	AUTH_BAD_ENCODING, /* the PHC string does not parse */
	AUTH_OVER_BOUND,   /* m, t, p, salt, hash or length out of bounds */
	AUTH_MISMATCH,     /* well formed, but not a hash of our secret */
	AUTH_ERROR,        /* libargon2 failed otherwise (memory, threads) */
	AUTH_RESULT_COUNT,
};

/* "ok", "missing", "no_argon2", "wrong_uuid", "bad_encoding",
 * "over_bound", "mismatch", "error". */
const char *auth_result_name(enum auth_result r);

/* Same numbers as libargon2's argon2_type. */
enum auth_variant {
	AUTH_ARGON2D = 0,
	AUTH_ARGON2I = 1,
	AUTH_ARGON2ID = 2,
};

/* A parsed PHC string. */
struct auth_phc {
	enum auth_variant variant;
	uint32_t version; /* 0x10 or 0x13 */
	uint32_t m;
	uint32_t t;
	uint32_t p;
	size_t salt_len;
	size_t hash_len;
	uint8_t salt[AUTH_SALT_CAP];
	uint8_t hash[AUTH_HASH_CAP];
};

/* Parses s[0..len) (starting at "$argon2") into *out. Returns AUTH_OK,
 * AUTH_BAD_ENCODING or AUTH_OVER_BOUND; a parameter is bounded as soon as
 * it is read. */
enum auth_result auth_phc_parse(const char *s, size_t len,
                                const struct auth_limits *l,
                                struct auth_phc *out);

/* What a header is checked against; the strings are borrowed. */
struct auth_conf {
	const char *uuid;   /* endpoint-uuid */
	const char *secret; /* secret */
	size_t secret_len;
	struct auth_limits limits;
};

/* Fills c from the two config values, with default limits. */
void auth_conf_init(struct auth_conf *c, const char *uuid, const char *secret);

/* Checks one header value hdr[0..len) (hdr may be NULL: missing). Costs
 * one argon2 computation when the header is well formed and in bounds;
 * see auth_cache.h for the cached path. */
enum auth_result auth_verify(const struct auth_conf *c, const char *hdr,
                             size_t len);

#endif
