#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define TIB (1024LL * 1024 * 1024 * 1024)

static int
conf_keys_any(const char *s)
{
	return 0;
}

static int
conf_keys_nonempty(const char *s)
{
	return s[0] == '\0' ? -1 : 0;
}

static int
conf_keys_graph(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isgraph((unsigned char)*s)) {
			return -1;
		}
	}
	return 0;
}

static int
conf_keys_charset(const char *s, const char *extra, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max) {
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL) {
			return -1;
		}
	}
	return 0;
}

static int
conf_keys_host(const char *s)
{
	/* Names, IPv4 and IPv6 literals; the listener resolves it. */
	return conf_keys_charset(s, ".-:_", 253);
}

static int
conf_keys_name(const char *s)
{
	return conf_keys_charset(s, ".-_", 63);
}

static int
conf_keys_user(const char *s)
{
	if (s[0] == '-' || s[0] == '.') {
		return -1;
	}
	return conf_keys_charset(s, ".-_", 32);
}

static int
conf_keys_dbname(const char *s)
{
	/* PostgreSQL cuts identifiers at NAMEDATALEN - 1 = 63 bytes. */
	if (s[0] == '\0' || strlen(s) > 63) {
		return -1;
	}
	return conf_keys_graph(s);
}

static int
conf_keys_abspath(const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p)) {
			return -1;
		}
	}
	return s[0] == '/' ? 0 : -1;
}

static int
conf_keys_url(const char *s)
{
	size_t n;

	if (strncmp(s, "http://", 7) == 0) {
		s += 7;
	} else if (strncmp(s, "https://", 8) == 0) {
		s += 8;
	} else {
		return -1;
	}
	n = strcspn(s, "/?#");
	if (n == 0 || s[0] == ':' || s[0] == '@') {
		return -1;
	}
	return conf_keys_graph(s);
}

static int
conf_keys_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-') {
				return -1;
			}
		} else if (!isxdigit((unsigned char)s[i])) {
			return -1;
		}
	}
	return s[36] == '\0' ? 0 : -1;
}

static const struct conf_check conf_any = {conf_keys_any, "a string"};
static const struct conf_check conf_nonempty = {conf_keys_nonempty,
                                                "a non-empty string"};
static const struct conf_check conf_host = {conf_keys_host,
                                            "a host name or IP address"};
static const struct conf_check conf_dbhost = {
    conf_keys_graph,
    "a host name, IP address or socket directory, without spaces"};
static const struct conf_check conf_name = {
    conf_keys_name, "1..63 letters, digits, '.', '-' or '_'"};
static const struct conf_check conf_user = {conf_keys_user, "a user name"};
static const struct conf_check conf_dbname = {
    conf_keys_dbname, "a name of 1..63 characters without spaces"};
static const struct conf_check conf_abspath = {conf_keys_abspath,
                                               "an absolute path"};
static const struct conf_check conf_url = {conf_keys_url,
                                           "an http:// or https:// URL"};
static const struct conf_check conf_uuid = {
    conf_keys_uuid, "a UUID like 4633d686-f75d-4d1f-8415-02ce37d9e5f8"};

static const char *const conf_modes[] = {"embedded", "external", NULL};
/* In the order of enum log_level. */
static const char *const conf_levels[] = {"error", "warning", "info", "debug",
                                          NULL};

const char *const conf_file_names[CONF_NFILES] = {
    [CONF_SETTINGS] = "settings.yml",
    [CONF_LAMBDA] = "lambda-settings.yml",
};

#define S          CONF_SETTINGS
#define L          CONF_LAMBDA
#define OFF(field) offsetof(struct conf, field)
#define STR(fl, n, field, chk, d)                                              \
	.file = fl, .name = n, .type = CONF_T_STR, .off = OFF(field),          \
	.check = &chk, .def = d
#define INT(fl, n, field, l, h, d)                                             \
	.file = fl, .name = n, .type = CONF_T_INT, .off = OFF(field), .lo = l, \
	.hi = h, .def = d
#define SIZE(fl, n, field, l, h, d)                                            \
	.file = fl, .name = n, .type = CONF_T_SIZE, .off = OFF(field),         \
	.lo = l, .hi = h, .def = d
#define SECS(fl, n, field, h, d)                                               \
	.file = fl, .name = n, .type = CONF_T_SECS, .off = OFF(field),         \
	.hi = h, .def = d
#define ENUM(fl, n, field, ch, d)                                              \
	.file = fl, .name = n, .type = CONF_T_ENUM, .off = OFF(field),         \
	.choices = ch, .def = d
#define API   CONF_AFFECTS_API
#define DB    CONF_AFFECTS_DB
#define TRACE CONF_AFFECTS_TRACE
#define UPL   CONF_AFFECTS_UPLOADER
#define PG    CONF_AFFECTS_POSTGRES
#define ALL   CONF_AFFECTS_ALL

/* affects 0: the supervisor applies the new value itself, nobody restarts. */
const struct conf_key conf_keys[] = {
    {STR(S, "host", host, conf_host, "0.0.0.0"), .affects = API,
     .help = "address of the API listener"},
    {INT(S, "port", port, 1, 65535, "3000"), .affects = API,
     .help = "port of the API listener"},
    {STR(S, "admin-host", admin_host, conf_host, "127.0.0.1"), .affects = API,
     .help = "address of the admin listener"},
    {INT(S, "admin-port", admin_port, 1, 65535, "3001"), .affects = API,
     .help = "port of the admin listener"},
    {STR(S, "state-dir", state_dir, conf_abspath, "/var/lib/probed"),
     .affects = ALL, .help = "traces, spool, sockets, embedded database"},
    {STR(S, "user", user, conf_user, "nobody"), .affects = API | DB | UPL,
     .help = "unprivileged user of the api, db and uploader workers"},
    {INT(S, "trace-workers", trace_workers, 1, 64, "2"), .affects = ALL,
     .help = "number of trace worker processes"},
    {INT(S, "api-threads", api_threads, 1, 256, "8"), .affects = API,
     .help = "HTTP threads of the api worker"},
    {SECS(S, "stop-timeout", stop_timeout, 3600, "5"),
     .help = "seconds between TERM and KILL when stopping a worker"},
    {ENUM(S, "log-level", log_level, conf_levels, "info"),
     .help = "error, warning, info or debug"},
    {SIZE(S, "max-body", max_body, KIB, GIB, "1M"), .affects = API,
     .help = "largest HTTP request body accepted"},
    {STR(S, "cluster.name", cluster_name, conf_name, "probed"),
     .affects = API | DB, .help = "cluster this node belongs to"},
    {SECS(S, "cluster.heartbeat-interval", cluster_heartbeat, 3600, "5"),
     .affects = DB, .help = "seconds between node heartbeats"},
    {SECS(S, "cluster.node-timeout", cluster_node_timeout, 86400, "30"),
     .affects = DB, .help = "seconds after which a silent node is stale"},
    /* The postgres worker exists only in embedded mode: switching changes
     * the process table. */
    {ENUM(S, "database.mode", db.mode, conf_modes, "embedded"), .affects = ALL,
     .help = "embedded (private PostgreSQL) or external"},
    {STR(S, "database.host", db.host, conf_dbhost, ""), .affects = DB | PG,
     .help = "server host, or socket directory"},
    {INT(S, "database.port", db.port, 1, 65535, "5432"), .affects = DB | PG,
     .help = "server port"},
    {STR(S, "database.user", db.user, conf_dbname, "probed"),
     .affects = DB | PG, .help = "role probed connects as"},
    {STR(S, "database.password", db.password, conf_any, ""),
     .flags = CONF_F_SECRET, .affects = DB | PG,
     .help = "password of that role"},
    {STR(S, "database.name", db.name, conf_dbname, "probed"),
     .alias = "database.database", .affects = DB | PG, .help = "database name"},
    {INT(S, "database.poolsize", db.poolsize, 1, 64, "4"), .affects = DB,
     .help = "connections of the db worker"},
    {STR(S, "database.os-user", db.os_user, conf_user, "postgres"),
     .affects = PG, .help = "embedded: user running postgres"},
    {STR(S, "database.bin-dir", db.bin_dir, conf_abspath, PROBED_PG_BINDIR),
     .affects = PG, .help = "embedded: directory of initdb and postgres"},
    {INT(S, "auth.argon2-max-m", auth_argon2_max_m, 8, 65536, "65536"),
     .affects = API, .help = "largest argon2 m (KiB) verified"},
    {INT(S, "auth.argon2-max-t", auth_argon2_max_t, 1, 16, "16"),
     .affects = API, .help = "largest argon2 t verified"},
    {INT(S, "auth.argon2-max-p", auth_argon2_max_p, 1, 8, "8"), .affects = API,
     .help = "largest argon2 p verified"},
    {INT(S, "auth.cache-size", auth_cache_size, 0, 1048576, "1024"),
     .affects = API, .help = "verified headers kept (0: no cache)"},
    {SECS(S, "auth.cache-ttl", auth_cache_ttl, 86400, "300"), .affects = API,
     .help = "seconds a verified header is trusted"},
    {INT(S, "trace.lasting-max", trace_lasting_max, 1, 86400, "86400"),
     .affects = API | TRACE, .help = "longest trace duration, seconds"},
    {INT(S, "trace.max-running", trace_max_running, 1, 4096, "64"),
     .affects = API | TRACE, .help = "traces running at once"},
    {SIZE(S, "uploader.spool-max-bytes", uploader_spool_max, 0, TIB, "1G"),
     .affects = UPL, .help = "disk spool while the platform is down"},
    {SECS(S, "uploader.timeout", uploader_timeout, 3600, "30"), .affects = UPL,
     .help = "seconds for one upload request"},
    {SECS(S, "uploader.backoff-max", uploader_backoff_max, 3600, "60"),
     .affects = UPL, .help = "longest delay between upload retries"},
    {SIZE(S, "ring.chunk-bytes", ring_chunk_size, 64 * KIB, GIB, "4M"),
     .flags = CONF_F_POW2, .affects = ALL,
     .help = "size of each trace worker's chunk ring"},
    {SIZE(S, "ring.request-bytes", ring_request_size, 64 * KIB, 256 * MIB,
          "1M"),
     .flags = CONF_F_POW2, .affects = ALL,
     .help = "size of each request and response ring"},

    /* lambda-settings.yml: the seed's seven keys, all required. */
    {STR(L, "root-password", root_password, conf_any, NULL),
     .flags = CONF_F_SECRET, .affects = TRACE,
     .help = "password for sudo -S when not running as root"},
    {STR(L, "bpf-path", bpf_path, conf_abspath, NULL), .affects = TRACE,
     .help = "bpftrace binary"},
    {STR(L, "stap-path", stap_path, conf_abspath, NULL), .affects = TRACE,
     .help = "SystemTap stap binary"},
    {SIZE(L, "submit-chunk-size", submit_chunk_size, 1, 16 * MIB, NULL),
     .affects = TRACE | UPL, .help = "bytes of trace output per chunk"},
    {STR(L, "platform-url", platform_url, conf_url, NULL), .affects = UPL,
     .help = "platform receiving PUT /submit"},
    {STR(L, "secret", secret, conf_nonempty, NULL), .flags = CONF_F_SECRET,
     .affects = API | UPL, .help = "shared secret of the argon2 header"},
    {STR(L, "endpoint-uuid", endpoint_uuid, conf_uuid, NULL),
     .affects = API | UPL, .help = "this endpoint's UUID"},
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);

const struct conf_key *
conf_keys_find(enum conf_file f, const char *name)
{
	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (k->file != f) {
			continue;
		}
		if (strcmp(k->name, name) == 0 ||
		    (k->alias != NULL && strcmp(k->alias, name) == 0)) {
			return k;
		}
	}
	return NULL;
}

int
conf_keys_is_group(enum conf_file f, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].file == f &&
		    strncmp(conf_keys[i].name, name, n) == 0 &&
		    conf_keys[i].name[n] == '.') {
			return 1;
		}
	}
	return 0;
}

int
conf_key_info(size_t i, struct conf_key_info *info)
{
	static const char *const types[] = {
	    [CONF_T_STR] = "string", [CONF_T_INT] = "integer",
	    [CONF_T_SIZE] = "size",  [CONF_T_SECS] = "seconds",
	    [CONF_T_ENUM] = "enum",
	};

	if (i >= conf_nkeys) {
		return -1;
	}
	info->name = conf_keys[i].name;
	info->file = conf_file_names[conf_keys[i].file];
	info->type = types[conf_keys[i].type];
	info->help = conf_keys[i].help;
	info->affects = conf_keys[i].affects;
	info->secret = (conf_keys[i].flags & CONF_F_SECRET) != 0;
	return 0;
}

char *
conf_key_value(const struct conf *c, const char *name)
{
	for (int f = 0; f < CONF_NFILES; f++) {
		const struct conf_key *k = conf_keys_find(f, name);

		if (k != NULL) {
			return conf_value_text(k, c);
		}
	}
	return NULL;
}
