#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf_int.h"

/*
 * Values by type: parsing YAML text into a struct conf field, describing
 * what a key accepts, comparing, printing. The field is found through the
 * key's offset, so one function per type serves every key.
 */

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define TIB (1024LL * 1024 * 1024 * 1024)

/* Longer strings are refused: no key needs them, and later code (argv,
 * SQL parameters, URLs) need not think about huge values. */
#define CONF_STR_MAX 4096

static int
conf_value_parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v, mult = 1;
	char *end;

	/* strtoull would accept "-1" and leading spaces. */
	if (!isdigit((unsigned char)s[0])) {
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		return -1;
	}
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			mult = KIB;
			break;
		case 'M':
			mult = MIB;
			break;
		case 'G':
			mult = GIB;
			break;
		case 'T':
			mult = TIB;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0') {
			return -1;
		}
	}
	if (v > ULLONG_MAX / mult) {
		return -1;
	}
	*out = v * mult;
	return 0;
}

static int
conf_value_parse_secs(const char *s, long long hi, double *out)
{
	char *end;
	double v;

	/* strtod would also take spaces, signs, "inf" and "nan". */
	if (!isdigit((unsigned char)s[0]) && s[0] != '.') {
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v <= 0 ||
	    v > (double)hi) {
		return -1;
	}
	*out = v;
	return 0;
}

static int
conf_value_set_str(const struct conf_key *k, char **field, const char *text)
{
	char *s;

	if (strlen(text) > CONF_STR_MAX || k->check->fn(text) != 0) {
		return -1;
	}
	s = strdup(text);
	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

int
conf_value_set(const struct conf_key *k, struct conf *c, const char *text)
{
	char *field = (char *)c + k->off;
	unsigned long long size;
	long long v;
	char *end;

	errno = 0;
	switch (k->type) {
	case CONF_T_STR:
		return conf_value_set_str(k, (char **)(void *)field, text);
	case CONF_T_INT:
		if (text[0] != '-' && !isdigit((unsigned char)text[0])) {
			return -1;
		}
		v = strtoll(text, &end, 10);
		if (errno != 0 || *end != '\0' || v < k->lo || v > k->hi) {
			errno = 0;
			return -1;
		}
		*(int *)(void *)field = (int)v;
		return 0;
	case CONF_T_SIZE:
		if (conf_value_parse_size(text, &size) != 0 ||
		    size < (unsigned long long)k->lo ||
		    size > (unsigned long long)k->hi ||
		    ((k->flags & CONF_F_POW2) && (size & (size - 1)) != 0)) {
			errno = 0;
			return -1;
		}
		*(size_t *)(void *)field = (size_t)size;
		return 0;
	case CONF_T_SECS:
		if (conf_value_parse_secs(text, k->hi,
		                          (double *)(void *)field) != 0) {
			errno = 0;
			return -1;
		}
		return 0;
	case CONF_T_ENUM:
		/* Enums are int-sized here; conf.h's enums fit. */
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(k->choices[i], text) == 0) {
				*(int *)(void *)field = i;
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

static void
conf_value_size_text(char *buf, size_t len, long long v)
{
	static const struct {
		long long unit;
		const char *suffix;
	} units[] = {{TIB, "T"}, {GIB, "G"}, {MIB, "M"}, {KIB, "k"}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (v != 0 && v % units[i].unit == 0) {
			snprintf(buf, len, "%lld%s", v / units[i].unit,
			         units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%lld", v);
}

void
conf_value_expect(const struct conf_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];
	size_t n;

	switch (k->type) {
	case CONF_T_STR:
		snprintf(buf, len, "%s", k->check->expect);
		return;
	case CONF_T_INT:
		snprintf(buf, len, "an integer %lld..%lld", k->lo, k->hi);
		return;
	case CONF_T_SIZE:
		conf_value_size_text(lo, sizeof(lo), k->lo);
		conf_value_size_text(hi, sizeof(hi), k->hi);
		snprintf(buf, len, "%s %s..%s (bytes, or suffix k, M, G, T)",
		         (k->flags & CONF_F_POW2) ? "a power of two" : "a size",
		         lo, hi);
		return;
	case CONF_T_SECS:
		snprintf(buf, len, "seconds, a number >0 and <=%lld", k->hi);
		return;
	case CONF_T_ENUM:
		n = (size_t)snprintf(buf, len, "one of");
		for (int i = 0; k->choices[i] != NULL && n < len; i++) {
			n += (size_t)snprintf(buf + n, len - n, "%s %s",
			                      i == 0 ? "" : ",", k->choices[i]);
		}
		return;
	}
	snprintf(buf, len, "?");
}

int
conf_value_equal(const struct conf_key *k, const struct conf *a,
                 const struct conf *b)
{
	const char *fa = (const char *)a + k->off;
	const char *fb = (const char *)b + k->off;
	const char *sa, *sb;

	switch (k->type) {
	case CONF_T_STR:
		sa = *(char *const *)(const void *)fa;
		sb = *(char *const *)(const void *)fb;
		if (sa == NULL || sb == NULL) {
			return sa == sb;
		}
		return strcmp(sa, sb) == 0;
	case CONF_T_INT:
	case CONF_T_ENUM:
		return *(const int *)(const void *)fa ==
		       *(const int *)(const void *)fb;
	case CONF_T_SIZE:
		return *(const size_t *)(const void *)fa ==
		       *(const size_t *)(const void *)fb;
	case CONF_T_SECS:
		return *(const double *)(const void *)fa ==
		       *(const double *)(const void *)fb;
	}
	return 0;
}

char *
conf_value_text(const struct conf_key *k, const struct conf *c)
{
	const char *field = (const char *)c + k->off;
	const char *s;
	char buf[64];
	int v;

	if (k->flags & CONF_F_SECRET) {
		return strdup("***");
	}
	switch (k->type) {
	case CONF_T_STR:
		s = *(char *const *)(const void *)field;
		return strdup(s != NULL ? s : "");
	case CONF_T_INT:
		snprintf(buf, sizeof(buf), "%d",
		         *(const int *)(const void *)field);
		break;
	case CONF_T_SIZE:
		snprintf(buf, sizeof(buf), "%zu",
		         *(const size_t *)(const void *)field);
		break;
	case CONF_T_SECS:
		snprintf(buf, sizeof(buf), "%g",
		         *(const double *)(const void *)field);
		break;
	case CONF_T_ENUM:
		v = *(const int *)(const void *)field;
		return strdup(k->choices[v]);
	}
	return strdup(buf);
}

int
conf_value_defaults(struct conf *c)
{
	for (size_t i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].def == NULL) {
			continue;
		}
		/* Defaults pass their own checks (a unit test proves it), so
		 * only memory can fail here. */
		if (conf_value_set(&conf_keys[i], c, conf_keys[i].def) != 0) {
			return -1;
		}
	}
	return 0;
}

void
conf_value_free(struct conf *c)
{
	for (size_t i = 0; i < conf_nkeys; i++) {
		if (conf_keys[i].type == CONF_T_STR) {
			char **p =
			    (char **)(void *)((char *)c + conf_keys[i].off);

			free(*p);
			*p = NULL;
		}
	}
}

json_t *
conf_value_json(const struct conf_key *k, const struct conf *c)
{
	const char *field = (const char *)c + k->off;
	const char *s;

	if (k->flags & CONF_F_SECRET) {
		return json_string("***");
	}
	switch (k->type) {
	case CONF_T_STR:
		s = *(char *const *)(const void *)field;
		return s != NULL ? json_string(s) : json_null();
	case CONF_T_INT:
		return json_integer(*(const int *)(const void *)field);
	case CONF_T_SIZE:
		return json_integer((json_int_t) *
		                    (const size_t *)(const void *)field);
	case CONF_T_SECS:
		return json_real(*(const double *)(const void *)field);
	case CONF_T_ENUM:
		return json_string(
		    k->choices[*(const int *)(const void *)field]);
	}
	return json_null();
}
