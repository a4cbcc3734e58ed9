-- 001_init: probed's first schema.
--
-- A migration is one file NNN_name.sql, applied once, in number order, in
-- one transaction, by the db worker (see sql/queries.h). Each file records
-- itself in schema_version as its last statement, so applying a file by
-- hand (psql -1 -f) leaves the same state as the runner does.

CREATE TABLE schema_version (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Trace templates (seed 001's TraceInfo). As in the real lambda endpoint,
-- BPF and STAP templates live in two tables, so ids are counted per type
-- and a template is addressed by (type, id); the table is the traceType.
-- The arrays are JSON arrays of strings, already validated and normalised
-- by api/template.c; the checks below only keep the shape.
CREATE TABLE bpf_templates (
	id serial PRIMARY KEY,
	process text NOT NULL CHECK (process LIKE '/%'),
	functions jsonb NOT NULL
		CHECK (jsonb_typeof(functions) = 'array'
		       AND jsonb_array_length(functions) >= 1),
	environment jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(environment) = 'array'),
	value jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(value) = 'array'),
	options jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(options) = 'array'),
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (jsonb_array_length(environment) = jsonb_array_length(value))
);

-- Written out again rather than LIKE bpf_templates: LIKE would copy the
-- id default, nextval of bpf_templates' sequence, and the two id counters
-- must stay apart.
CREATE TABLE stap_templates (
	id serial PRIMARY KEY,
	process text NOT NULL CHECK (process LIKE '/%'),
	functions jsonb NOT NULL
		CHECK (jsonb_typeof(functions) = 'array'
		       AND jsonb_array_length(functions) >= 1),
	environment jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(environment) = 'array'),
	value jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(value) = 'array'),
	options jsonb NOT NULL DEFAULT '[]'
		CHECK (jsonb_typeof(options) = 'array'),
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (jsonb_array_length(environment) = jsonb_array_length(value))
);

-- probed nodes sharing this database (the cluster issue): each registers
-- by name at start, refreshes last_seen, and one holds the leader lock.
CREATE TABLE nodes (
	id serial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	host text NOT NULL,
	port integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
	role text NOT NULL DEFAULT 'backup'
		CHECK (role IN ('primary', 'backup')),
	last_seen timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz NOT NULL DEFAULT now()
);

-- One row per started trace. path is the trace's opaque id (the filePath
-- of /trace/start). template_id has no foreign key: it points into one of
-- two tables, and a template may be removed while its runs are kept; info
-- is the template as it was when the run started, which is what
-- /trace/running answers.
CREATE TABLE trace_runs (
	id bigserial PRIMARY KEY,
	trace_type text NOT NULL CHECK (trace_type IN ('BPF', 'STAP')),
	template_id integer NOT NULL,
	path text NOT NULL UNIQUE,
	node_id integer REFERENCES nodes (id) ON DELETE SET NULL,
	worker integer NOT NULL CHECK (worker >= 0),
	lasting integer NOT NULL CHECK (lasting > 0),
	info jsonb NOT NULL CHECK (jsonb_typeof(info) = 'object'),
	started_at timestamptz NOT NULL DEFAULT now(),
	ended_at timestamptz,
	exit_code integer,
	bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
	chunks bigint NOT NULL DEFAULT 0 CHECK (chunks >= 0),
	state text NOT NULL DEFAULT 'starting'
		CHECK (state IN ('starting', 'running', 'finished', 'killed',
				 'failed', 'lost')),
	-- A run has ended exactly when it has an end time.
	CHECK ((ended_at IS NULL) = (state IN ('starting', 'running')))
);

-- The running traces of a node: /traces/running/all and restart recovery.
CREATE INDEX trace_runs_unfinished ON trace_runs (node_id)
	WHERE ended_at IS NULL;

INSERT INTO schema_version (version, name) VALUES (1, 'init');
