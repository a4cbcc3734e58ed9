/*
 * probed's configuration: settings.yml and lambda-settings.yml from one
 * directory (probed -c DIR).
 *
 * Every key is described once, in the key table in conf_keys.c: its file,
 * its name (a dotted path for nested maps: database.port), its type and
 * bounds, its default, whether it is secret, and which worker kinds must
 * restart when it changes. Values may be Yesod's "_env:NAME:default": the
 * environment variable NAME if set, else default.
 *
 * Loading never exits: it returns NULL and a text with one error per line,
 * "settings.yml:7: port: expected an integer 1..65535, got \"80a\"", which
 * the caller prints (start-up, --check) or returns (reload). Secrets
 * (secret, root-password, database.password) never appear in that text.
 *
 * Both files may nest one level: database.port is "port" inside the
 * "database" mapping (the flat "database.port:" is accepted too). An empty file
 * is an empty mapping (all defaults). Unknown keys are not errors: they are
 * logged with log_warn together with the nearest known key, so a typo is
 * visible but never stops a reload.
 */
#ifndef PROBED_CONF_H
#define PROBED_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum conf_db_mode {
	CONF_DB_EMBEDDED = 0,
	CONF_DB_EXTERNAL,
};

/* Worker kinds a key can affect, for "restart whose settings changed". */
enum {
	CONF_AFFECTS_API = 1u << 0,
	CONF_AFFECTS_DB = 1u << 1,
	CONF_AFFECTS_TRACE = 1u << 2,
	CONF_AFFECTS_UPLOADER = 1u << 3,
	CONF_AFFECTS_POSTGRES = 1u << 4,
	/* Needs a full restart of probed (state dir, shm layout, counts). */
	CONF_AFFECTS_ALL = 1u << 5,
};

struct conf_db {
	enum conf_db_mode mode;
	/* external: the server; embedded: "" unless set, meaning the socket
	 * directory the postgres worker chooses under state-dir. */
	char *host;
	int port;
	char *user;
	char *password; /* secret */
	char *name;
	int poolsize;
	char *os_user; /* embedded: the unprivileged user running postgres */
	char *bin_dir; /* embedded: initdb, postgres */
};

struct conf {
	char *dir; /* the config directory, absolute */

	/* settings.yml */
	char *host;
	int port;
	char *admin_host;
	int admin_port;
	char *state_dir;
	char *user;
	int trace_workers;
	double stop_timeout; /* seconds */
	enum log_level log_level;
	size_t max_body; /* bytes */
	char *cluster_name;
	double cluster_heartbeat;    /* seconds between node heartbeats */
	double cluster_node_timeout; /* seconds until a silent node is stale */
	struct conf_db db;

	int api_threads;
	/* Bounds on argon2 parameters of an incoming Authorization header,
	 * checked before verifying, and the cache of verified headers. */
	int auth_argon2_max_m; /* KiB */
	int auth_argon2_max_t;
	int auth_argon2_max_p;
	int auth_cache_size;   /* entries; 0 disables the cache */
	double auth_cache_ttl; /* seconds */
	int trace_lasting_max; /* seconds, the longest "lasting" accepted */
	int trace_max_running; /* traces running at once on this node */
	size_t
	    uploader_spool_max;  /* bytes on disk while the platform is down */
	double uploader_timeout; /* seconds for one PUT /submit */
	double uploader_backoff_max; /* seconds, cap of the retry delay */
	/* Shared-memory ring sizes (powers of two): changing them changes the
	 * segment layout, so only a full restart applies them. */
	size_t ring_chunk_size;
	size_t ring_request_size;

	/* lambda-settings.yml: all seven are required */
	char *root_password; /* secret */
	char *bpf_path;
	char *stap_path;
	size_t submit_chunk_size;
	char *platform_url;
	char *secret; /* secret */
	char *endpoint_uuid;
};

/* Returns a new config, or NULL with *errors set (free() it). Warnings
 * (unknown keys, with the nearest known key) are logged with log_warn.
 * Only conf_load checks the system: that user and (embedded)
 * database.os-user exist. */
struct conf *conf_load(const char *dir, char **errors);

/* Same, from two in-memory texts (NULL is an empty text), named
 * settings.yml and lambda-settings.yml in messages; dir is NULL. For tests
 * and the fuzz target. */
struct conf *conf_load_text(const char *settings, size_t settings_len,
                            const char *lambda, size_t lambda_len,
                            char **errors);

void conf_free(struct conf *c);

/* Which worker kinds (CONF_AFFECTS_*) differ between two configs: the union
 * of the masks of the keys whose values differ; 0 means nothing to restart
 * (keys such as log-level and stop-timeout are applied by the supervisor).
 * A NULL config differs in everything. */
unsigned conf_diff(const struct conf *a, const struct conf *b);

/* The config as JSON text for /configs, secrets shown as "***": one object,
 * "dir" and then every key by its dotted name in table order. */
char *conf_dump_json(const struct conf *c);

/* For /config?name=X and documentation. conf_key_info describes key i
 * (0, 1, ...) of the table and returns -1 past the end. conf_key_value
 * returns the value of a key by dotted name as malloc'ed text ("***" for a
 * secret; free() it), NULL for an unknown name. */
struct conf_key_info {
	const char *name; /* dotted: database.port */
	const char *file; /* settings.yml or lambda-settings.yml */
	const char *type; /* string, integer, size, seconds, enum */
	const char *help; /* one sentence */
	unsigned affects; /* CONF_AFFECTS_* */
	int secret;
};
int conf_key_info(size_t i, struct conf_key_info *info);
char *conf_key_value(const struct conf *c, const char *name);

#endif
