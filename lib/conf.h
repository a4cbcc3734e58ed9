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
	char *host;	/* external; embedded: the socket directory */
	int port;
	char *user;
	char *password; /* secret */
	char *name;
	int poolsize;
	char *os_user;	/* embedded: the unprivileged user running postgres */
	char *bin_dir;	/* embedded: initdb, postgres */
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
	double stop_timeout;	/* seconds */
	enum log_level log_level;
	size_t max_body;	/* bytes */
	char *cluster_name;
	struct conf_db db;

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
 * (unknown keys, with the nearest known key) are logged with log_warn. */
struct conf *conf_load(const char *dir, char **errors);

/* Same, from two in-memory texts; name the files for error messages. For
 * tests and the fuzz target. */
struct conf *conf_load_text(const char *settings, size_t settings_len,
    const char *lambda, size_t lambda_len, char **errors);

void conf_free(struct conf *c);

/* Which worker kinds (CONF_AFFECTS_*) differ between two configs. */
unsigned conf_diff(const struct conf *a, const struct conf *b);

/* The config as JSON text for /configs, secrets shown as "***". */
char *conf_dump_json(const struct conf *c);

#endif
