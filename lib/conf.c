#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "conf_int.h"

/* A config file is a few hundred bytes; refuse to slurp anything huge. */
#define CONF_FILE_MAX (1024 * 1024)

void
conf_error(struct conf_ctx *x, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	size_t n;
	char *p;
	int r;

	x->nerr++;
	if (x->nerr > CONF_ERRORS_MAX) {
		return;
	}
	va_start(ap, fmt);
	r = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = r < 0 ? 0 : (size_t)r;
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
	}
	if (x->errlen + n + 2 > x->errcap) {
		size_t cap = (x->errcap + n + 2) * 2;

		p = realloc(x->err, cap);
		if (p == NULL) {
			x->oom = 1;
			return;
		}
		x->err = p;
		x->errcap = cap;
	}
	if (x->errlen > 0) {
		x->err[x->errlen++] = '\n';
	}
	memcpy(x->err + x->errlen, line, n);
	x->errlen += n;
	x->err[x->errlen] = '\0';
}

void
conf_quote(char *buf, size_t len, const char *s, size_t n, int secret)
{
	size_t o = 0;

	if (secret) {
		snprintf(buf, len, "<hidden>");
		return;
	}
	/* Room for the closing quote, "..." and the terminator. */
	buf[o++] = '"';
	for (size_t i = 0; i < n && o + 9 < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
		if (i + 1 < n && o + 9 >= len) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static size_t
conf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	/* Key names are short; a long name is far from all of them. */
	if (la >= 64 || lb >= 64) {
		return SIZE_MAX;
	}
	for (size_t j = 0; j <= lb; j++) {
		row[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best) {
				best = up + 1;
			}
			if (row[j - 1] + 1 < best) {
				best = row[j - 1] + 1;
			}
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* The known name nearest to name: the first *blen bytes of *best.
 * Candidates are the key names, their aliases and their group names (a
 * prefix of a key name). */
static void
conf_nearest(enum conf_file f, const char *name, const char **best, int *blen)
{
	size_t bestd = SIZE_MAX, n = strlen(name);

	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *cand[3] = {k->name, k->alias, NULL};
		size_t clen[3] = {strlen(k->name), 0, strcspn(k->name, ".")};
		char group[64];

		if (k->file != f) {
			continue;
		}
		if (k->alias != NULL) {
			clen[1] = strlen(k->alias);
		}
		if (k->name[clen[2]] == '.' && clen[2] < sizeof(group)) {
			memcpy(group, k->name, clen[2]);
			group[clen[2]] = '\0';
			cand[2] = group;
		}
		for (int j = 0; j < 3; j++) {
			size_t d;

			if (cand[j] == NULL) {
				continue;
			}
			d = conf_distance(name, cand[j]);
			/* Far-off names are no help: "<<" is not "host". */
			if (d < bestd && (d <= 2 || d * 3 <= n)) {
				bestd = d;
				*best = j == 2 ? k->name : cand[j];
				*blen = (int)clen[j];
			}
		}
	}
}

void
conf_unknown(enum conf_file f, const char *name, size_t len, int line)
{
	const char *file = conf_file_names[f], *best = NULL;
	enum conf_file other = f == CONF_SETTINGS ? CONF_LAMBDA : CONF_SETTINGS;
	char q[160];
	int blen = 0;

	conf_quote(q, sizeof(q), name, len, 0);
	if (strlen(name) == len && conf_keys_find(other, name) != NULL) {
		log_warn("%s:%d: unknown key %s ignored (it belongs in %s)",
		         file, line, q, conf_file_names[other]);
		return;
	}
	if (strlen(name) == len) {
		conf_nearest(f, name, &best, &blen);
	}
	if (best == NULL) {
		log_warn("%s:%d: unknown key %s ignored", file, line, q);
		return;
	}
	log_warn("%s:%d: unknown key %s ignored (did you mean \"%.*s\"?)", file,
	         line, q, blen, best);
}

/* "settings.yml:7: " when the key was given, "settings.yml: " if not. */
static const char *
conf_where(const struct conf_ctx *x, const struct conf_key *k, char *buf,
           size_t len)
{
	int line = abs(x->line[k - conf_keys]);

	if (line > 0) {
		snprintf(buf, len, "%s:%d", conf_file_names[k->file], line);
	} else {
		snprintf(buf, len, "%s", conf_file_names[k->file]);
	}
	return buf;
}

static const struct conf_key *
conf_key(const char *name)
{
	const struct conf_key *k = conf_keys_find(CONF_SETTINGS, name);

	return k != NULL ? k : conf_keys_find(CONF_LAMBDA, name);
}

/* Checks between keys, made only when each key involved was accepted. */
static void
conf_cross(struct conf_ctx *x)
{
	const struct conf_key *port = conf_key("port");
	const struct conf_key *aport = conf_key("admin-port");
	const struct conf_key *hb = conf_key("cluster.heartbeat-interval");
	const struct conf_key *nt = conf_key("cluster.node-timeout");
	const struct conf_key *chunk = conf_key("submit-chunk-size");
	const struct conf_key *ring = conf_key("ring.chunk-bytes");
	const struct conf *c = x->c;
	char where[64];

#define CONF_OK(k) (x->line[(k)-conf_keys] >= 0)
	if (CONF_OK(port) && CONF_OK(aport) && c->port == c->admin_port) {
		conf_error(x,
		           "%s: admin-port: expected a port other than port, "
		           "got %d",
		           conf_where(x,
		                      x->line[aport - conf_keys] ? aport : port,
		                      where, sizeof(where)),
		           c->admin_port);
	}
	if (CONF_OK(hb) && CONF_OK(nt) &&
	    c->cluster_node_timeout <= c->cluster_heartbeat) {
		conf_error(x,
		           "%s: cluster.node-timeout: expected more than "
		           "cluster.heartbeat-interval (%g), got %g",
		           conf_where(x, nt, where, sizeof(where)),
		           c->cluster_heartbeat, c->cluster_node_timeout);
	}
	/* A chunk travels as one ring record; leave room for a second one
	 * so a producer never waits for a whole ring to drain. */
	if (CONF_OK(chunk) && CONF_OK(ring) && x->line[chunk - conf_keys] &&
	    c->submit_chunk_size > c->ring_chunk_size / 2) {
		conf_error(x,
		           "%s: submit-chunk-size: expected at most half of "
		           "ring.chunk-bytes (%zu), got %zu",
		           conf_where(x, chunk, where, sizeof(where)),
		           c->ring_chunk_size / 2, c->submit_chunk_size);
	}
#undef CONF_OK
}

static void
conf_required(struct conf_ctx *x)
{
	for (size_t i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (k->def == NULL && x->line[i] == 0 && !x->syntax[k->file]) {
			conf_error(x, "%s: %s: required key is missing",
			           conf_file_names[k->file], k->name);
		}
	}
}

/* Only for a real load: a fuzzer or a test must not depend on
 * /etc/passwd. */
static void
conf_system(struct conf_ctx *x)
{
	const struct conf_key *keys[] = {conf_key("user"),
	                                 conf_key("database.os-user")};
	const char *names[] = {x->c->user, x->c->db.os_user};
	char where[64], q[160];

	for (size_t i = 0; i < 2; i++) {
		if (i == 1 && x->c->db.mode != CONF_DB_EMBEDDED) {
			continue;
		}
		if (x->line[keys[i] - conf_keys] < 0 || names[i] == NULL) {
			continue;
		}
		errno = 0;
		if (getpwnam(names[i]) == NULL) {
			conf_quote(q, sizeof(q), names[i], strlen(names[i]), 0);
			conf_error(x,
			           "%s: %s: expected an existing user, got %s",
			           conf_where(x, keys[i], where, sizeof(where)),
			           keys[i]->name, q);
		}
	}
}

/* text[f] NULL: that file could not be read (the error is collected). */
static struct conf *
conf_parse(struct conf_ctx *x, const char *text[CONF_NFILES],
           const size_t len[CONF_NFILES], int system, char **errors)
{
	x->c = calloc(1, sizeof(*x->c));
	x->line = calloc(conf_nkeys, sizeof(*x->line));
	if (x->c == NULL || x->line == NULL || conf_value_defaults(x->c) != 0) {
		x->oom = 1;
		goto fail;
	}
	for (int f = 0; f < CONF_NFILES; f++) {
		if (text[f] == NULL) {
			x->syntax[f] = 1;
			continue;
		}
		conf_yaml_parse(x, f, text[f], len[f]);
	}
	conf_required(x);
	conf_cross(x);
	if (system) {
		conf_system(x);
	}
	if (x->nerr > 0 || x->oom) {
		goto fail;
	}
	free(x->line);
	free(x->err);
	if (errors != NULL) {
		*errors = NULL;
	}
	return x->c;
fail:
	if (x->nerr > CONF_ERRORS_MAX) {
		conf_error(x, "... and %d more errors",
		           x->nerr - CONF_ERRORS_MAX);
	}
	if (x->oom) {
		free(x->err);
		x->err =
		    strdup("out of memory while loading the configuration");
	}
	if (errors != NULL) {
		*errors = x->err;
	} else {
		free(x->err);
	}
	free(x->line);
	conf_free(x->c);
	return NULL;
}

struct conf *
conf_load_text(const char *settings, size_t settings_len, const char *lambda,
               size_t lambda_len, char **errors)
{
	struct conf_ctx x = {0};
	const char *text[CONF_NFILES] = {settings != NULL ? settings : "",
	                                 lambda != NULL ? lambda : ""};
	const size_t len[CONF_NFILES] = {settings != NULL ? settings_len : 0,
	                                 lambda != NULL ? lambda_len : 0};

	return conf_parse(&x, text, len, 0, errors);
}

static char *
conf_read(struct conf_ctx *x, const char *dir, enum conf_file f, size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	struct stat st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, conf_file_names[f]);
	fp = fopen(path, "r");
	if (fp == NULL) {
		conf_error(x, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	/* Not an error: the operator may have reasons, but should know. */
	if (f == CONF_LAMBDA && fstat(fileno(fp), &st) == 0 &&
	    (st.st_mode & 077) != 0) {
		log_warn("%s: mode %04o lets other users read its secrets; "
		         "chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
	}
	buf = malloc(CONF_FILE_MAX + 1);
	if (buf == NULL) {
		x->oom = 1;
		goto fail;
	}
	n = fread(buf, 1, CONF_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		conf_error(x, "%s: cannot read: %s", path, strerror(errno));
		goto fail;
	}
	if (n > CONF_FILE_MAX) {
		conf_error(x, "%s: larger than %d bytes", path, CONF_FILE_MAX);
		goto fail;
	}
	fclose(fp);
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

struct conf *
conf_load(const char *dir, char **errors)
{
	struct conf_ctx x = {0};
	const char *text[CONF_NFILES];
	size_t len[CONF_NFILES] = {0};
	char *buf[CONF_NFILES] = {NULL};
	char *abs = NULL;
	struct conf *c;

	abs = realpath(dir, NULL);
	if (abs == NULL) {
		conf_error(&x, "%s: cannot open the config directory: %s", dir,
		           strerror(errno));
	}
	for (int f = 0; f < CONF_NFILES; f++) {
		if (abs != NULL) {
			buf[f] = conf_read(&x, abs, f, &len[f]);
		}
		text[f] = buf[f];
	}
	c = conf_parse(&x, text, len, 1, errors);
	for (int f = 0; f < CONF_NFILES; f++) {
		free(buf[f]);
	}
	if (c == NULL) {
		free(abs);
		return NULL;
	}
	c->dir = abs;
	return c;
}

void
conf_free(struct conf *c)
{
	if (c == NULL) {
		return;
	}
	conf_value_free(c);
	free(c->dir);
	free(c);
}

unsigned
conf_diff(const struct conf *a, const struct conf *b)
{
	unsigned mask = 0;

	if (a == NULL || b == NULL) {
		return a == b ? 0 : ~0u;
	}
	for (size_t i = 0; i < conf_nkeys; i++) {
		if (!conf_value_equal(&conf_keys[i], a, b)) {
			mask |= conf_keys[i].affects;
		}
	}
	return mask;
}

char *
conf_dump_json(const struct conf *c)
{
	json_t *o, *v;
	char *s = NULL;

	o = json_object();
	if (o == NULL) {
		return NULL;
	}
	v = c->dir != NULL ? json_string(c->dir) : json_null();
	if (json_object_set_new(o, "dir", v) != 0) {
		goto out;
	}
	for (size_t i = 0; i < conf_nkeys; i++) {
		v = conf_value_json(&conf_keys[i], c);
		if (v == NULL ||
		    json_object_set_new(o, conf_keys[i].name, v) != 0) {
			goto out;
		}
	}
	s = json_dumps(o, JSON_INDENT(2));
out:
	json_decref(o);
	return s;
}
