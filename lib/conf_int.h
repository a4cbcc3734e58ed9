/*
 * Inside the configuration module: the key table (conf_keys.c), values by
 * type (conf_value.c), the YAML walk (conf_yaml.c) and the loader that ties
 * them together (conf.c).
 * Nothing outside lib/conf*.c includes this.
 */
#ifndef PROBED_CONF_INT_H
#define PROBED_CONF_INT_H

#include <stddef.h>

#include "conf.h"

enum conf_file {
	CONF_SETTINGS = 0,
	CONF_LAMBDA,
	CONF_NFILES,
};

enum conf_type {
	CONF_T_STR,  /* char *, accepted by ->check */
	CONF_T_INT,  /* int, lo..hi */
	CONF_T_SIZE, /* size_t, lo..hi bytes, suffix k M G T (powers of 1024) */
	CONF_T_SECS, /* double, > 0 and <= hi */
	CONF_T_ENUM, /* an enum stored as int: the index in ->choices */
};

enum {
	CONF_F_SECRET = 1u << 0, /* never printed: <hidden>, "***" */
	CONF_F_POW2 = 1u << 1,   /* SIZE: a power of two */
};

/* A string check: fn returns 0 if s is acceptable; expect completes
 * "expected ..." in the error message. */
struct conf_check {
	int (*fn)(const char *s);
	const char *expect;
};

/* One row per key. Adding a key is one row here and one field in
 * struct conf. A row without a default is a required key. */
struct conf_key {
	enum conf_file file;
	const char *name;  /* dotted path in its file: database.port */
	const char *alias; /* another accepted name, or NULL */
	enum conf_type type;
	size_t off; /* offsetof(struct conf, field) */
	long long lo, hi;
	const struct conf_check *check; /* STR */
	const char *const *choices;     /* ENUM, NULL-terminated */
	const char *def;  /* default as YAML text, NULL: required */
	unsigned flags;   /* CONF_F_* */
	unsigned affects; /* CONF_AFFECTS_* */
	const char *help;
};

extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;
extern const char *const conf_file_names[CONF_NFILES];

/* Lookup by dotted name or alias in one file; NULL if unknown. */
const struct conf_key *conf_keys_find(enum conf_file f, const char *name);
/* 1 if name is the first part of a dotted key of file f (database). */
int conf_keys_is_group(enum conf_file f, const char *name);

/* Parses text into the key's field. Returns 0, or -1 if the text is not
 * acceptable (errno ENOMEM when memory ran out instead). */
int conf_value_set(const struct conf_key *k, struct conf *c, const char *text);
/* "an integer 1..65535": what the key accepts, for error messages. */
void conf_value_expect(const struct conf_key *k, char *buf, size_t len);
int conf_value_equal(const struct conf_key *k, const struct conf *a,
                     const struct conf *b);
/* The value as text ("***" for a secret); malloc'ed, NULL if no memory. */
char *conf_value_text(const struct conf_key *k, const struct conf *c);
/* The value as JSON ("***" for a secret); new reference, NULL if no
 * memory. */
struct json_t *conf_value_json(const struct conf_key *k, const struct conf *c);
/* Sets every default; -1 only if memory ran out. */
int conf_value_defaults(struct conf *c);
void conf_value_free(struct conf *c);

/* What one load collects: the config being filled, the error lines, and
 * where each key was given (line, 0 = not given). */
struct conf_ctx {
	struct conf *c;
	char *err;
	size_t errlen, errcap;
	int nerr;
	int oom;
	/* [conf_nkeys]: the line a key was given on; negative if its value
	 * was refused, 0 if not given. */
	int *line;
	int syntax[CONF_NFILES]; /* the file could not be parsed or read */
};

/* After this many errors the rest are counted, not listed: a binary file
 * given by mistake should not print thousands of lines. */
#define CONF_ERRORS_MAX 100

void conf_error(struct conf_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Quotes s for a message: "80a" with escapes, cut if long; <hidden> if
 * secret. */
void conf_quote(char *buf, size_t len, const char *s, size_t n, int secret);

/* Walks one YAML text into x->c, collecting errors; 0 or -1 on a syntax
 * error (already collected). */
int conf_yaml_parse(struct conf_ctx *x, enum conf_file f, const char *text,
                    size_t len);

/* Logs the warning for an unknown key, naming the nearest known one. */
void conf_unknown(enum conf_file f, const char *name, size_t len, int line);

#endif
