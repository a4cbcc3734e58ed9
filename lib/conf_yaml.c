#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf_int.h"

/*
 * libyaml's event API, walked by hand: a file is one mapping whose values
 * are scalars or, for groups (database, cluster, ...), one more mapping of
 * scalars. Anything else is skipped by counting start and end events, so
 * deep nesting costs no stack.
 */

#define CONF_YAML_GROUPS 16

struct conf_yaml {
	struct conf_ctx *x;
	enum conf_file f;
	const char *file;
	const char *text;
	size_t len;
	yaml_parser_t p;
	yaml_event_t ev;
	int have; /* ev holds an event to delete */
	/* Errors collected before this file, see conf_yaml_syntax. */
	size_t errlen0;
	int nerr0;
	/* Groups seen in this file, to refuse a second "database:". */
	const char *groups[CONF_YAML_GROUPS];
	int group_line[CONF_YAML_GROUPS];
	int ngroups;
};

static void
conf_yaml_syntax(struct conf_yaml *y)
{
	const yaml_parser_t *p = &y->p;
	size_t line = 1, col = 1;
	char ctx[128] = "";

	if (p->error == YAML_MEMORY_ERROR) {
		y->x->oom = 1;
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		for (size_t i = 0; i < p->problem_offset && i < y->len; i++) {
			if (y->text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	} else {
		line = p->problem_mark.line + 1;
		col = p->problem_mark.column + 1;
	}
	/* Values read before a syntax error are often misread because of it
	 * ("port: 3000\n  host: x" reads as port "3000 host"): the syntax
	 * error alone says what to fix. */
	if (y->x->nerr > y->nerr0 && y->x->nerr <= CONF_ERRORS_MAX) {
		y->x->nerr = y->nerr0;
		y->x->errlen = y->errlen0;
		if (y->x->err != NULL) {
			y->x->err[y->errlen0] = '\0';
		}
	}
	if (p->context != NULL) {
		snprintf(ctx, sizeof(ctx), " (%s at line %zu)", p->context,
		         p->context_mark.line + 1);
	}
	conf_error(y->x, "%s:%zu:%zu: YAML syntax error: %s%s", y->file, line,
	           col, p->problem != NULL ? p->problem : "unknown problem",
	           ctx);
}

static int
conf_yaml_next(struct conf_yaml *y)
{
	if (y->have) {
		yaml_event_delete(&y->ev);
		y->have = 0;
	}
	if (!yaml_parser_parse(&y->p, &y->ev)) {
		conf_yaml_syntax(y);
		return -1;
	}
	y->have = 1;
	return 0;
}

static int
conf_yaml_line(const struct conf_yaml *y)
{
	return (int)y->ev.start_mark.line + 1;
}

/* Skips the node whose first event is the current one. */
static int
conf_yaml_skip(struct conf_yaml *y)
{
	int depth = 0;

	do {
		switch (y->ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (depth == 0) {
			return 0;
		}
	} while (conf_yaml_next(y) == 0);
	return -1;
}

static const char *
conf_yaml_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_ALIAS_EVENT:
		return "an alias (*name)";
	default:
		return "something else";
	}
}

static int
conf_yaml_is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		return 0;
	}
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (strcmp(v, nulls[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

/*
 * Yesod's "_env:NAME:default": the variable NAME if it is set (even
 * empty), else the default; "_env:NAME" without a default requires NAME.
 * Returns the text to use (*env names the variable if it came from there),
 * or NULL after collecting an error.
 */
static const char *
conf_yaml_env(struct conf_yaml *y, const struct conf_key *k, const char *name,
              int line, const char *v, char *var, size_t varlen, int *from_env)
{
	const char *p = v + 5, *def, *val;
	size_t n = strcspn(p, ":");
	char got[160];

	def = p[n] == ':' ? p + n + 1 : NULL;
	if (n == 0 || n >= varlen || isdigit((unsigned char)p[0])) {
		goto bad;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)p[i]) && p[i] != '_') {
			goto bad;
		}
	}
	memcpy(var, p, n);
	var[n] = '\0';
	val = getenv(var);
	if (val != NULL) {
		*from_env = 1;
		return val;
	}
	if (def == NULL) {
		conf_error(
		    y->x,
		    "%s:%d: %s: environment variable %s is not set and has no "
		    "default",
		    y->file, line, name, var);
		return NULL;
	}
	return def;
bad:
	conf_quote(got, sizeof(got), v, strlen(v), k->flags & CONF_F_SECRET);
	conf_error(y->x,
	           "%s:%d: %s: expected _env:NAME or _env:NAME:default, got %s",
	           y->file, line, name, got);
	return NULL;
}

static void
conf_yaml_value(struct conf_yaml *y, const struct conf_key *k, const char *name,
                int line)
{
	const char *v = (const char *)y->ev.data.scalar.value;
	size_t n = y->ev.data.scalar.length;
	int idx = (int)(k - conf_keys), from_env = 0;
	int secret = k->flags & CONF_F_SECRET;
	char expect[160], got[160], var[128];
	const char *text = v;

	y->x->line[idx] = line;
	if (conf_yaml_is_null(&y->ev)) {
		/* "port:" or "port: ~" keeps the default. */
		if (k->def != NULL) {
			return;
		}
		conf_value_expect(k, expect, sizeof(expect));
		conf_error(y->x, "%s:%d: %s: expected %s, got null", y->file,
		           line, name, expect);
		y->x->line[idx] = -line;
		return;
	}
	/* A "\0" escape would silently cut the value: refuse it. */
	if (strlen(v) == n && strncmp(v, "_env:", 5) == 0) {
		text = conf_yaml_env(y, k, name, line, v, var, sizeof(var),
		                     &from_env);
		if (text == NULL) {
			y->x->line[idx] = -line;
			return;
		}
		n = strlen(text);
	}
	errno = 0;
	if (strlen(text) == n && conf_value_set(k, y->x->c, text) == 0) {
		return;
	}
	if (errno == ENOMEM) {
		y->x->oom = 1;
		return;
	}
	y->x->line[idx] = -line;
	conf_value_expect(k, expect, sizeof(expect));
	conf_quote(got, sizeof(got), text, n, secret);
	if (from_env) {
		conf_error(y->x, "%s:%d: %s: expected %s, got %s (from $%s)",
		           y->file, line, name, expect, got, var);
	} else {
		conf_error(y->x, "%s:%d: %s: expected %s, got %s", y->file,
		           line, name, expect, got);
	}
}

static int conf_yaml_map(struct conf_yaml *y, const char *group);

static int
conf_yaml_group(struct conf_yaml *y, const char *name, int line)
{
	char got[160];
	int i;

	for (i = 0; i < y->ngroups; i++) {
		if (strncmp(y->groups[i], name, strlen(name)) == 0 &&
		    y->groups[i][strlen(name)] == '.') {
			conf_error(
			    y->x,
			    "%s:%d: %s: duplicate key (first given at line %d)",
			    y->file, line, name, y->group_line[i]);
			return conf_yaml_skip(y);
		}
	}
	/* Remember the table's copy of the name: it outlives this walk. */
	for (size_t j = 0; j < conf_nkeys && i < CONF_YAML_GROUPS; j++) {
		size_t n = strlen(name);

		if (conf_keys[j].file == y->f &&
		    strncmp(conf_keys[j].name, name, n) == 0 &&
		    conf_keys[j].name[n] == '.') {
			y->groups[i] = conf_keys[j].name;
			y->group_line[i] = line;
			y->ngroups++;
			break;
		}
	}
	if (y->ev.type == YAML_MAPPING_START_EVENT) {
		return conf_yaml_map(y, name);
	}
	if (y->ev.type == YAML_SCALAR_EVENT) {
		if (conf_yaml_is_null(&y->ev)) {
			return 0;
		}
		conf_quote(got, sizeof(got),
		           (const char *)y->ev.data.scalar.value,
		           y->ev.data.scalar.length, 0);
	} else {
		snprintf(got, sizeof(got), "%s", conf_yaml_kind(&y->ev));
	}
	conf_error(y->x, "%s:%d: %s: expected a mapping, got %s", y->file, line,
	           name, got);
	return conf_yaml_skip(y);
}

/* The current event is the value of key name (dotted) given on line. */
static int
conf_yaml_entry(struct conf_yaml *y, const char *group, const char *name,
                size_t len, int line)
{
	const struct conf_key *k = NULL;
	char expect[160];
	int idx;

	if (strlen(name) == len) {
		k = conf_keys_find(y->f, name);
	}
	if (k == NULL) {
		if (group == NULL && strlen(name) == len &&
		    conf_keys_is_group(y->f, name)) {
			return conf_yaml_group(y, name, line);
		}
		conf_unknown(y->f, name, len, line);
		return conf_yaml_skip(y);
	}
	idx = (int)(k - conf_keys);
	if (y->x->line[idx] != 0) {
		conf_error(y->x,
		           "%s:%d: %s: duplicate key (first given at line %d)",
		           y->file, line, name, abs(y->x->line[idx]));
		return conf_yaml_skip(y);
	}
	if (y->ev.type == YAML_SCALAR_EVENT) {
		conf_yaml_value(y, k, name, line);
		return 0;
	}
	y->x->line[idx] = -line;
	conf_value_expect(k, expect, sizeof(expect));
	conf_error(y->x, "%s:%d: %s: expected %s, got %s", y->file, line, name,
	           expect, conf_yaml_kind(&y->ev));
	return conf_yaml_skip(y);
}

/* The current event starts a mapping; walks it to its end. */
static int
conf_yaml_map(struct conf_yaml *y, const char *group)
{
	char *name;
	size_t len, glen = group != NULL ? strlen(group) + 1 : 0;
	int line, r;

	for (;;) {
		if (conf_yaml_next(y) != 0) {
			return -1;
		}
		if (y->ev.type == YAML_MAPPING_END_EVENT) {
			return 0;
		}
		line = conf_yaml_line(y);
		if (y->ev.type != YAML_SCALAR_EVENT) {
			conf_error(y->x, "%s:%d: expected a key, got %s",
			           y->file, line, conf_yaml_kind(&y->ev));
			if (conf_yaml_skip(y) != 0 || conf_yaml_next(y) != 0 ||
			    conf_yaml_skip(y) != 0) {
				return -1;
			}
			continue;
		}
		len = y->ev.data.scalar.length;
		name = malloc(glen + len + 1);
		if (name == NULL) {
			y->x->oom = 1;
			return -1;
		}
		if (group != NULL) {
			memcpy(name, group, glen - 1);
			name[glen - 1] = '.';
		}
		memcpy(name + glen, y->ev.data.scalar.value, len);
		name[glen + len] = '\0';
		r = conf_yaml_next(y);
		if (r == 0) {
			r = conf_yaml_entry(y, group, name, glen + len, line);
		}
		free(name);
		if (r != 0) {
			return -1;
		}
	}
}

static int
conf_yaml_document(struct conf_yaml *y)
{
	char got[160];

	/* An empty file, or one of only comments, has no document. */
	if (conf_yaml_next(y) != 0 || conf_yaml_next(y) != 0) {
		return -1;
	}
	if (y->ev.type == YAML_STREAM_END_EVENT) {
		return 0;
	}
	if (conf_yaml_next(y) != 0) {
		return -1;
	}
	if (y->ev.type == YAML_MAPPING_START_EVENT) {
		if (conf_yaml_map(y, NULL) != 0) {
			return -1;
		}
	} else if (y->ev.type != YAML_SCALAR_EVENT ||
	           !conf_yaml_is_null(&y->ev)) {
		if (y->ev.type == YAML_SCALAR_EVENT) {
			conf_quote(got, sizeof(got),
			           (const char *)y->ev.data.scalar.value,
			           y->ev.data.scalar.length, 0);
		} else {
			snprintf(got, sizeof(got), "%s",
			         conf_yaml_kind(&y->ev));
		}
		conf_error(y->x, "%s:%d: expected a mapping of keys, got %s",
		           y->file, conf_yaml_line(y), got);
		if (conf_yaml_skip(y) != 0) {
			return -1;
		}
	}
	/* The document end, then the stream end or a second document. */
	if (conf_yaml_next(y) != 0 || conf_yaml_next(y) != 0) {
		return -1;
	}
	if (y->ev.type == YAML_DOCUMENT_START_EVENT) {
		conf_error(y->x,
		           "%s:%d: expected one YAML document, got another",
		           y->file, conf_yaml_line(y));
	}
	return 0;
}

int
conf_yaml_parse(struct conf_ctx *x, enum conf_file f, const char *text,
                size_t len)
{
	struct conf_yaml y = {
	    .x = x,
	    .f = f,
	    .file = conf_file_names[f],
	    .text = text,
	    .len = len,
	    .errlen0 = x->errlen,
	    .nerr0 = x->nerr,
	};
	int r;

	if (!yaml_parser_initialize(&y.p)) {
		x->oom = 1;
		return -1;
	}
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	r = conf_yaml_document(&y);
	if (y.have) {
		yaml_event_delete(&y.ev);
	}
	yaml_parser_delete(&y.p);
	if (r != 0) {
		x->syntax[f] = 1;
	}
	return r;
}
