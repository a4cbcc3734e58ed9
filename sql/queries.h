/*
 * Every query the db worker runs, as one string constant each, so that the
 * SQL is read and reviewed in one place. All values travel as parameters
 * ($1..$n, PQsendQueryParams in text format with paramTypes NULL); each
 * parameter carries a cast, so its type never depends on inference. No
 * query is ever built by pasting a value into a string.
 *
 * Where a query exists once per trace type, the table name is the only
 * difference, chosen by the caller from enum template_type (a table name
 * cannot be a parameter): SQL_BY_TYPE(type, NAME), type an enum
 * template_type (api/template.h), picks NAME_BPF or NAME_STAP.
 *
 * Templates' array fields (functions, environment, value, options) go in
 * and come out as JSON text of arrays of strings, exactly as
 * template_validate() normalised them (json_dumps of each array).
 */
#ifndef PROBED_SQL_QUERIES_H
#define PROBED_SQL_QUERIES_H

#define SQL_BY_TYPE(type, name)                                                \
	((type) == TEMPLATE_STAP ? name##_STAP : name##_BPF)

/*
 * Migrations. At start the db worker takes the lock (held until the
 * transaction ends, so two nodes never migrate at once), reads the
 * version, then applies each file NNN_*.sql of $(pkgdatadir)/sql whose
 * number is higher, in order, each in its own transaction with the lock
 * taken again; each file inserts its own schema_version row.
 */
/* No parameters; one row, one boolean column: does schema_version exist. */
#define SQL_SCHEMA_EXISTS "SELECT to_regclass('schema_version') IS NOT NULL"
/* No parameters; one row: the highest applied version (0 for none). */
#define SQL_SCHEMA_VERSION                                                     \
	"SELECT coalesce(max(version), 0) FROM schema_version"
/* No parameters; first statement of every migration transaction. */
#define SQL_MIGRATE_LOCK                                                       \
	"SELECT pg_advisory_xact_lock(hashtext('probed.migrate'))"

/*
 * Templates. Insert: $1 process, $2 functions, $3 environment, $4 value,
 * $5 options (JSON arrays); returns one row (id), the traceNo.
 */
#define SQL_TEMPLATE_INSERT_COLS                                               \
	" (process, functions, environment, value, options)"                   \
	" VALUES ($1::text, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb)"       \
	" RETURNING id"
#define SQL_TEMPLATE_INSERT_BPF                                                \
	"INSERT INTO bpf_templates" SQL_TEMPLATE_INSERT_COLS
#define SQL_TEMPLATE_INSERT_STAP                                               \
	"INSERT INTO stap_templates" SQL_TEMPLATE_INSERT_COLS

/*
 * Both types, for GET /traces. No parameters. Rows: trace_type ('BPF' or
 * 'STAP'), id, process, functions, environment, value, options (JSON
 * text), ordered by type then id.
 */
#define SQL_TEMPLATE_LIST                                                      \
	"SELECT 'BPF' AS trace_type, id, process, functions, environment,"     \
	" value, options FROM bpf_templates"                                   \
	" UNION ALL"                                                           \
	" SELECT 'STAP', id, process, functions, environment, value, options"  \
	" FROM stap_templates"                                                 \
	" ORDER BY trace_type, id"

/* One template, for /trace/start. $1 id. Zero or one row: process,
 * functions, environment, value, options. */
#define SQL_TEMPLATE_GET_COLS                                                  \
	"SELECT process, functions, environment, value, options FROM "
#define SQL_TEMPLATE_GET_BPF                                                   \
	SQL_TEMPLATE_GET_COLS "bpf_templates WHERE id = $1::integer"
#define SQL_TEMPLATE_GET_STAP                                                  \
	SQL_TEMPLATE_GET_COLS "stap_templates WHERE id = $1::integer"

/* /trace/remove. $1 id. One row (id) if it existed, none if not (404). */
#define SQL_TEMPLATE_DELETE_BPF                                                \
	"DELETE FROM bpf_templates WHERE id = $1::integer RETURNING id"
#define SQL_TEMPLATE_DELETE_STAP                                               \
	"DELETE FROM stap_templates WHERE id = $1::integer RETURNING id"

/*
 * Runs. Insert when a trace is started: $1 trace_type ('BPF' | 'STAP'),
 * $2 template_id, $3 path, $4 node_id (NULL allowed), $5 worker index,
 * $6 lasting (s), $7 info (the template as JSON object). Returns id,
 * started_at. A duplicate path fails with unique_violation (23505).
 */
#define SQL_RUN_INSERT                                                         \
	"INSERT INTO trace_runs (trace_type, template_id, path, node_id,"      \
	" worker, lasting, info)"                                              \
	" VALUES ($1::text, $2::integer, $3::text, $4::integer, $5::integer,"  \
	" $6::integer, $7::jsonb)"                                             \
	" RETURNING id, started_at"

/* The tool is running. $1 path. One row if it was still starting. */
#define SQL_RUN_SET_RUNNING                                                    \
	"UPDATE trace_runs SET state = 'running'"                              \
	" WHERE path = $1::text AND state = 'starting' RETURNING id"

/* Progress as the uploader reports it. $1 path, $2 bytes, $3 chunks. */
#define SQL_RUN_PROGRESS                                                       \
	"UPDATE trace_runs SET bytes = $2::bigint, chunks = $3::bigint"        \
	" WHERE path = $1::text AND ended_at IS NULL RETURNING id"

/*
 * The run ended. $1 path, $2 state ('finished' | 'killed' | 'failed'),
 * $3 exit code (the status, or minus the signal; NULL if it never ran),
 * $4 bytes, $5 chunks. One row if it had not ended already.
 */
#define SQL_RUN_FINISH                                                         \
	"UPDATE trace_runs SET state = $2::text, exit_code = $3::integer,"     \
	" bytes = $4::bigint, chunks = $5::bigint, ended_at = now()"           \
	" WHERE path = $1::text AND ended_at IS NULL RETURNING id"

/* Columns of a run, for the two queries below. */
#define SQL_RUN_COLS                                                           \
	"SELECT id, trace_type, template_id, path, node_id, worker, lasting,"  \
	" info, started_at, ended_at, exit_code, bytes, chunks, state"         \
	" FROM trace_runs"

/* /trace/running?path=. $1 path. Zero (404) or one row of SQL_RUN_COLS. */
#define SQL_RUN_GET SQL_RUN_COLS " WHERE path = $1::text"

/* /traces/running/all for one node. $1 node_id. Rows of SQL_RUN_COLS. */
#define SQL_RUN_LIST_RUNNING                                                   \
	SQL_RUN_COLS " WHERE ended_at IS NULL AND node_id = $1::integer"       \
	             " ORDER BY id"

/* run.list: the unfinished runs of one node, or of no node. $1 node_id
 * (NULL allowed). Rows of SQL_RUN_COLS. */
/* clang-format 14 does not settle on this macro's layout. */
/* clang-format off */
#define SQL_RUN_LIST_UNFINISHED \
	SQL_RUN_COLS " WHERE ended_at IS NULL" \
	" AND node_id IS NOT DISTINCT FROM $1::integer ORDER BY id"
/* clang-format on */

/* At start, the runs a previous life of this node left unfinished can no
 * longer finish. $1 node_id. Returns the ids marked. */
#define SQL_RUN_MARK_LOST                                                      \
	"UPDATE trace_runs SET state = 'lost', ended_at = now()"               \
	" WHERE node_id = $1::integer AND ended_at IS NULL RETURNING id"

/*
 * Nodes (for the cluster issue). Register at start: $1 name, $2 host,
 * $3 port. Returns id; the same name keeps its id across restarts.
 */
#define SQL_NODE_REGISTER                                                      \
	"INSERT INTO nodes (name, host, port) VALUES ($1::text, $2::text,"     \
	" $3::integer)"                                                        \
	" ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host,"              \
	" port = EXCLUDED.port, started_at = now(), last_seen = now()"         \
	" RETURNING id"

/* Heartbeat. $1 id, $2 role ('primary' | 'backup'). */
#define SQL_NODE_HEARTBEAT                                                     \
	"UPDATE nodes SET last_seen = now(), role = $2::text"                  \
	" WHERE id = $1::integer RETURNING id"

/* Every node, and whether it was seen in the last $1 seconds. */
#define SQL_NODE_LIST                                                          \
	"SELECT id, name, host, port, role, last_seen, started_at,"            \
	" last_seen > now() - $1::integer * interval '1 second' AS online"     \
	" FROM nodes ORDER BY name"

/* Leadership: a session lock, held by the db worker's connection for as
 * long as it lives; true if this node is now the primary. */
#define SQL_LEADER_TRY "SELECT pg_try_advisory_lock(hashtext('probed.leader'))"

#endif
