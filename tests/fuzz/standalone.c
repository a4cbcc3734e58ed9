/*
 * main() for fuzz targets built without libFuzzer.
 *
 *	TARGET [-runs=N] [-seed=N] DIR|FILE ...
 *
 * Feeds every file of each DIR (in name order) and each FILE to
 * LLVMFuzzerTestOneInput, then N (default 4000) deterministic mutations of
 * them. It finds far less than libFuzzer, but it keeps every target
 * building and running under the build's sanitizers in a plain make check.
 * Other libFuzzer options (-max_total_time=...) are accepted and ignored, so
 * the same command line works for both builds. Under a sanitizer, the input
 * that failed is written to ./crash-standalone before the report ends the
 * process.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

/* Mutations never grow an input past this. */
#define STANDALONE_MAX (64 * 1024)

struct standalone_seed {
	uint8_t *data;
	size_t size;
};

static struct standalone_seed *standalone_seeds;
static size_t standalone_nseeds;
static const uint8_t *standalone_cur;
static size_t standalone_cursize;
static uint64_t standalone_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
standalone_rand(void)
{
	/* xorshift64*: deterministic across libcs, unlike rand(). */
	standalone_rng ^= standalone_rng >> 12;
	standalone_rng ^= standalone_rng << 25;
	standalone_rng ^= standalone_rng >> 27;
	return standalone_rng * 0x2545f4914f6cdd1dull;
}

static size_t
standalone_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(standalone_rand() % n);
}

static void
standalone_died(void)
{
	FILE *fp = fopen("crash-standalone", "wb");

	if (fp == NULL) {
		return;
	}
	fwrite(standalone_cur, 1, standalone_cursize, fp);
	fclose(fp);
	fprintf(stderr, "standalone: failing input written to "
	                "crash-standalone\n");
}

/* One run on an exact-size copy, so reads past the end are caught. */
static void
standalone_run(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size > 0 ? size : 1);

	if (copy == NULL) {
		fprintf(stderr, "standalone: malloc(%zu) failed\n", size);
		exit(1);
	}
	if (size > 0) {
		memcpy(copy, data, size);
	}
	standalone_cur = copy;
	standalone_cursize = size;
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

static int
standalone_add(const char *path)
{
	struct standalone_seed *s;
	uint8_t *buf = NULL;
	FILE *fp;
	size_t n;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		fprintf(stderr, "standalone: fopen(%s) failed: %s\n", path,
		        strerror(errno));
		return -1;
	}
	buf = malloc(STANDALONE_MAX);
	if (buf == NULL) {
		fprintf(stderr, "standalone: malloc failed\n");
		goto fail;
	}
	n = fread(buf, 1, STANDALONE_MAX, fp);
	if (ferror(fp)) {
		fprintf(stderr, "standalone: fread(%s) failed\n", path);
		goto fail;
	}
	s = realloc(standalone_seeds,
	            (standalone_nseeds + 1) * sizeof(*standalone_seeds));
	if (s == NULL) {
		fprintf(stderr, "standalone: realloc failed\n");
		goto fail;
	}
	standalone_seeds = s;
	s[standalone_nseeds].data = buf;
	s[standalone_nseeds].size = n;
	standalone_nseeds++;
	fclose(fp);
	return 0;
fail:
	free(buf);
	fclose(fp);
	return -1;
}

static int
standalone_add_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	char sub[4096];
	int n, r = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "standalone: stat(%s) failed: %s\n", path,
		        strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		return standalone_add(path);
	}
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "standalone: scandir(%s) failed: %s\n", path,
		        strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(sub, &st) == 0 &&
		    S_ISREG(st.st_mode) && standalone_add(sub) != 0) {
			r = -1;
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

/* Bytes that mean something to text parsers, for replacements. */
static const uint8_t standalone_bytes[] = {
    0,   0xff, 0x80, '\n', '\r', '\t', ' ', ':', '-', '"', '\'',
    '[', ']',  '{',  '}',  ',',  '&',  '*', '!', '#', '|', '>',
    '%', '@',  '\\', '.',  '/',  '=',  '$', '0', '9', 'a', 0x0c};

static size_t
standalone_mutate(uint8_t *buf, size_t size)
{
	const struct standalone_seed *o;
	size_t at = standalone_below(size + 1), n;

	switch (standalone_rand() % 7) {
	case 0: /* flip a bit */
		if (size > 0) {
			at = standalone_below(size);
			buf[at] ^= (uint8_t)(1u << standalone_below(8));
		}
		return size;
	case 1: /* replace a byte */
		if (size > 0) {
			at = standalone_below(size);
			buf[at] = standalone_bytes[standalone_below(
			    sizeof(standalone_bytes))];
		}
		return size;
	case 2: /* insert a byte */
		if (size >= STANDALONE_MAX) {
			return size;
		}
		memmove(buf + at + 1, buf + at, size - at);
		buf[at] = standalone_rand() % 2
		              ? (uint8_t)standalone_rand()
		              : standalone_bytes[standalone_below(
		                    sizeof(standalone_bytes))];
		return size + 1;
	case 3: /* delete a range */
		n = standalone_below(size - at + 1);
		n = n > 16 ? standalone_below(16) : n;
		memmove(buf + at, buf + at + n, size - at - n);
		return size - n;
	case 4: /* duplicate a range */
		n = standalone_below(size - at + 1);
		if (size + n > STANDALONE_MAX) {
			return size;
		}
		memmove(buf + at + n, buf + at, size - at);
		return size + n;
	case 5: /* cut the tail off */
		return at;
	default: /* splice: our head, another seed's tail */
		o = &standalone_seeds[standalone_below(standalone_nseeds)];
		n = standalone_below(o->size + 1);
		if (at + (o->size - n) > STANDALONE_MAX) {
			return size;
		}
		memcpy(buf + at, o->data + n, o->size - n);
		return at + (o->size - n);
	}
}

int
main(int argc, char **argv)
{
	unsigned long runs = 4000;
	uint8_t *buf;
	size_t size;

	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	if (__sanitizer_set_death_callback != NULL) {
		__sanitizer_set_death_callback(standalone_died);
	}
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "-runs=", 6) == 0) {
			runs = strtoul(argv[i] + 6, NULL, 10);
		} else if (strncmp(argv[i], "-seed=", 6) == 0) {
			standalone_rng = strtoull(argv[i] + 6, NULL, 10) | 1;
		} else if (argv[i][0] == '-') {
			continue;
		} else if (standalone_add_path(argv[i]) != 0) {
			return 1;
		}
	}
	if (standalone_nseeds == 0) {
		fprintf(stderr, "usage: %s [-runs=N] [-seed=N] DIR|FILE ...\n",
		        argv[0]);
		return 1;
	}
	for (size_t i = 0; i < standalone_nseeds; i++) {
		standalone_run(standalone_seeds[i].data,
		               standalone_seeds[i].size);
	}
	/* Twice the cap: an insertion may shift a whole input up. */
	buf = malloc(2 * STANDALONE_MAX);
	if (buf == NULL) {
		fprintf(stderr, "standalone: malloc failed\n");
		return 1;
	}
	for (unsigned long r = 0; r < runs; r++) {
		const struct standalone_seed *s =
		    &standalone_seeds[r % standalone_nseeds];
		int ops = 1 + (int)standalone_below(4);

		memcpy(buf, s->data, s->size);
		size = s->size;
		for (int j = 0; j < ops; j++) {
			size = standalone_mutate(buf, size);
		}
		standalone_run(buf, size);
	}
	free(buf);
	fprintf(stderr, "standalone: %zu seeds, %lu mutations: no failure\n",
	        standalone_nseeds, runs);
	for (size_t i = 0; i < standalone_nseeds; i++) {
		free(standalone_seeds[i].data);
	}
	free(standalone_seeds);
	return 0;
}
