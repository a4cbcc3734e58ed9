/*
 * Migrations: sql/NNN_name.sql, applied in number order by the db worker
 * on its first connection (sql/queries.h says how; sql/001_init.sql how a
 * file records itself in schema_version).
 *
 * Several nodes share one database, so each file runs in its own
 * transaction that first takes pg_advisory_xact_lock: a second node
 * waits, then reads the version again and finds nothing left to do.
 *
 * A database at a version newer than the newest file here was migrated by
 * a newer probed: this one does not know that schema and refuses it
 * (db_migrate_run returns -2; the worker keeps running and answers 503
 * with the reason, see db.c).
 *
 * Where the files are (db_migrate_dir): $PROBED_SQL_DIR if set; the
 * source tree's sql/ when the program runs from the build tree it was
 * built in (tests, a developer's ./probed); else $(pkgdatadir)/sql, where
 * make install puts them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_int.h"
#include "log.h"
#include "sql/queries.h"

#define DB_MIGRATE_MAX   256
#define DB_MIGRATE_BYTES (1 << 20) /* larger than any migration should be */

struct db_migration {
	int version;
	char name[NAME_MAX + 1];
};

const char *
db_migrate_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("PROBED_SQL_DIR");
	char exe[PATH_MAX], build[PATH_MAX];
	size_t n;

	if (env != NULL && env[0] != '\0') {
		return env;
	}
	/* Both resolved: a build directory reached through a symbolic link
	 * is still this build's. */
	if (realpath("/proc/self/exe", exe) != NULL &&
	    realpath(PROBED_BUILD_DIR, build) != NULL) {
		n = strlen(build);
		if (strncmp(exe, build, n) == 0 && exe[n] == '/') {
			return PROBED_SRC_SQLDIR;
		}
	}
	snprintf(dir, sizeof(dir), "%s/sql", PKGDATADIR);
	return dir;
}

/* NNN_name.sql -> NNN; -1 for any other name. */
static int
db_migrate_version(const char *name)
{
	size_t len = strlen(name);

	if (len < 9 || name[0] < '0' || name[0] > '9' || name[1] < '0' ||
	    name[1] > '9' || name[2] < '0' || name[2] > '9' || name[3] != '_' ||
	    strcmp(name + len - 4, ".sql") != 0) {
		return -1;
	}
	return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int
db_migrate_cmp(const void *a, const void *b)
{
	return ((const struct db_migration *)a)->version -
	       ((const struct db_migration *)b)->version;
}

/* The files of dir, sorted; their count, or -1 with why. */
static int
db_migrate_list(const char *dir, struct db_migration *m, char *why,
                size_t whylen)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(dir);
	if (d == NULL) {
		snprintf(why, whylen, "opendir(%s) failed: %s", dir,
		         strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < DB_MIGRATE_MAX) {
		int v = db_migrate_version(de->d_name);

		if (v <= 0) {
			continue;
		}
		m[n].version = v;
		snprintf(m[n].name, sizeof(m[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	qsort(m, (size_t)n, sizeof(*m), db_migrate_cmp);
	for (int i = 1; i < n; i++) {
		if (m[i].version == m[i - 1].version) {
			snprintf(why, whylen,
			         "two migrations numbered %03d in %s",
			         m[i].version, dir);
			return -1;
		}
	}
	if (n == 0) {
		snprintf(why, whylen, "no migrations (NNN_name.sql) in %s",
		         dir);
		return -1;
	}
	return n;
}

/* Runs sql; 0, or -1 (connection lost) / -2 (the statement failed) with
 * why. An integer first column of the first row goes to *val. */
static int
db_migrate_exec(PGconn *pg, const char *sql, int *val, char *why, size_t whylen)
{
	PGresult *res = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *msg =
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(why, whylen, "%s",
		         msg != NULL ? msg : PQerrorMessage(pg));
		rc = PQstatus(pg) == CONNECTION_BAD ? -1 : -2;
	} else if (val != NULL && PQntuples(res) > 0) {
		const char *v = PQgetvalue(res, 0, 0);

		/* Booleans come as "t" / "f". */
		*val = v[0] == 't' ? 1 : v[0] == 'f' ? 0 : atoi(v);
	}
	PQclear(res);
	return rc;
}

static char *
db_migrate_read(const char *dir, const char *name, char *why, size_t whylen)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(why, whylen, "fopen(%s) failed: %s", path,
		         strerror(errno));
		return NULL;
	}
	buf = malloc(DB_MIGRATE_BYTES + 1);
	if (buf == NULL) {
		snprintf(why, whylen, "malloc failed reading %s", path);
		goto fail;
	}
	n = fread(buf, 1, DB_MIGRATE_BYTES + 1, f);
	if (ferror(f) || n > DB_MIGRATE_BYTES) {
		snprintf(why, whylen, "reading %s failed: %s", path,
		         ferror(f) ? strerror(errno) : "file too large");
		goto fail;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/* In a transaction holding the lock: the version now. */
static int
db_migrate_current(PGconn *pg, int *version, char *why, size_t whylen)
{
	int exists = 0, rc;

	*version = 0;
	rc = db_migrate_exec(pg, SQL_SCHEMA_EXISTS, &exists, why, whylen);
	if (rc == 0 && exists) {
		rc = db_migrate_exec(pg, SQL_SCHEMA_VERSION, version, why,
		                     whylen);
	}
	return rc;
}

/* One step: the next file, or nothing. 1 applied one, 0 up to date. */
static int
db_migrate_step(PGconn *pg, const char *dir, const struct db_migration *m,
                int n, char *why, size_t whylen)
{
	char *text = NULL;
	int version, after = 0, i, rc;

	rc = db_migrate_exec(pg, "BEGIN", NULL, why, whylen);
	/* A migration may take long, and so may waiting for another node's:
	 * lift the session's statement_timeout (db.c) for this one. */
	if (rc == 0) {
		rc = db_migrate_exec(pg, "SET LOCAL statement_timeout = 0",
		                     NULL, why, whylen);
	}
	if (rc == 0) {
		rc = db_migrate_exec(pg, SQL_MIGRATE_LOCK, NULL, why, whylen);
	}
	if (rc == 0) {
		rc = db_migrate_current(pg, &version, why, whylen);
	}
	if (rc != 0) {
		goto fail;
	}
	if (version > m[n - 1].version) {
		snprintf(why, whylen,
		         "database schema version %d is newer than this probed "
		         "knows (%d, from %s)",
		         version, m[n - 1].version, dir);
		rc = -2;
		goto fail;
	}
	for (i = 0; i < n && m[i].version <= version; i++) {
	}
	if (i == n) {
		(void)db_migrate_exec(pg, "COMMIT", NULL, why, whylen);
		return 0;
	}
	text = db_migrate_read(dir, m[i].name, why, whylen);
	if (text == NULL) {
		rc = -2;
		goto fail;
	}
	rc = db_migrate_exec(pg, text, NULL, why, whylen);
	free(text);
	if (rc == 0) {
		rc = db_migrate_current(pg, &after, why, whylen);
	}
	if (rc == 0 && after != m[i].version) {
		snprintf(why, whylen, "it did not record version %d",
		         m[i].version);
		rc = -2;
	}
	if (rc == 0) {
		rc = db_migrate_exec(pg, "COMMIT", NULL, why, whylen);
	}
	if (rc != 0) {
		char reason[200];

		snprintf(reason, sizeof(reason), "%s", why);
		snprintf(why, whylen, "migration %s failed: %s", m[i].name,
		         reason);
		goto fail;
	}
	log_info("applied migration %s", m[i].name);
	return 1;
fail:
	if (PQstatus(pg) != CONNECTION_BAD) {
		char ignored[64];

		(void)db_migrate_exec(pg, "ROLLBACK", NULL, ignored,
		                      sizeof(ignored));
	}
	return rc;
}

int
db_migrate_run(PGconn *pg, char *why, size_t whylen)
{
	struct db_migration *m;
	const char *dir = db_migrate_dir();
	int n, rc;

	m = calloc(DB_MIGRATE_MAX, sizeof(*m));
	if (m == NULL) {
		snprintf(why, whylen, "calloc(migrations) failed");
		log_err("%s", why);
		return -1;
	}
	n = db_migrate_list(dir, m, why, whylen);
	if (n < 0) {
		free(m);
		return -2;
	}
	/* A connection lost half-way leaves the last file's transaction
	 * rolled back: the next connection starts over from the version. */
	while ((rc = db_migrate_step(pg, dir, m, n, why, whylen)) == 1) {
	}
	if (rc == 0) {
		log_info("database schema at version %d (migrations from %s)",
		         m[n - 1].version, dir);
	} else if (rc == -1) {
		log_warn("migrating the database failed: %s", why);
	}
	free(m);
	return rc;
}
