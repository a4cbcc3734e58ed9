/*
 * Chunk boundaries: every chunk exactly the size but the last, numbered
 * from 0, independent of how the stream was fed, nothing lost when the
 * consumer refuses a chunk for a while.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "workers/chunker.h"

#define MAXCHUNKS 32768

struct sink {
	unsigned char data[1 << 16];
	size_t len;
	uint64_t nos[MAXCHUNKS];
	size_t lens[MAXCHUNKS];
	size_t n;
	int refuse; /* refuse this many emits before taking one */
	int refused;
};

static int
sink_emit(void *arg, uint64_t no, const void *data, size_t len)
{
	struct sink *s = arg;

	if (s->refuse > 0) {
		s->refuse--;
		s->refused++;
		return -1;
	}
	assert_true(s->n < MAXCHUNKS);
	assert_true(s->len + len <= sizeof(s->data));
	memcpy(s->data + s->len, data, len);
	s->len += len;
	s->nos[s->n] = no;
	s->lens[s->n] = len;
	s->n++;
	return 0;
}

static void
pattern(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		buf[i] = (unsigned char)(i * 31 + 7);
	}
}

/* Chunks are numbered 0.. in order, all full but a shorter last one. */
static void
check_chunks(const struct sink *s, size_t size, size_t total)
{
	size_t want = total / size + (total % size != 0);

	assert_int_equal(s->n, want);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(s->nos[i], i);
		if (i + 1 < s->n || total % size == 0) {
			assert_int_equal(s->lens[i], size);
		} else {
			assert_int_equal(s->lens[i], total % size);
		}
	}
	assert_int_equal(s->len, total);
}

static void
run_split(size_t size, size_t total, size_t step)
{
	static unsigned char in[1 << 15];
	struct sink *s = calloc(1, sizeof(*s));
	struct chunker c;
	size_t used;

	assert_non_null(s);
	assert_true(total <= sizeof(in));
	pattern(in, total);
	assert_int_equal(chunker_init(&c, size, sink_emit, s), 0);
	for (size_t off = 0; off < total; off += step) {
		size_t n = total - off < step ? total - off : step;

		assert_int_equal(chunker_feed(&c, in + off, n, &used), 0);
		assert_int_equal(used, n);
	}
	assert_int_equal(c.bytes, total);
	assert_int_equal(chunker_flush(&c), 0);
	assert_false(chunker_pending(&c));
	check_chunks(s, size, total);
	assert_memory_equal(s->data, in, total);
	/* A second flush adds nothing. */
	assert_int_equal(chunker_flush(&c), 0);
	assert_int_equal(s->n, total / size + (total % size != 0));
	chunker_free(&c);
	free(s);
}

static void
test_chunker_exact_multiple_has_no_short_chunk(void **state)
{
	run_split(100, 300, 300);
	run_split(100, 300, 1);
	run_split(100, 300, 100);
}

static void
test_chunker_last_chunk_is_shorter(void **state)
{
	run_split(100, 301, 301);
	run_split(100, 299, 7);
	run_split(100, 1, 1);
}

static void
test_chunker_empty_stream_has_no_chunk(void **state)
{
	run_split(100, 0, 1);
}

static void
test_chunker_feed_sizes_do_not_change_chunks(void **state)
{
	static const size_t sizes[] = {1, 2, 3, 64, 4096, 51200};
	static const size_t steps[] = {1, 3, 63, 64, 65, 1000, 32768};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			run_split(sizes[i], 20000, steps[j]);
			run_split(sizes[i], 12288, steps[j]);
		}
	}
}

static void
test_chunker_chunk_size_one(void **state)
{
	run_split(1, 3000, 1);
	run_split(1, 3000, 999);
}

static void
test_chunker_refused_chunk_is_offered_again_with_same_number(void **state)
{
	unsigned char in[1000];
	struct sink *s = calloc(1, sizeof(*s));
	struct chunker c;
	size_t used, off = 0;
	int tries = 0;

	assert_non_null(s);
	pattern(in, sizeof(in));
	assert_int_equal(chunker_init(&c, 64, sink_emit, s), 0);
	/* Refuse now and then; feed the rest again, as a worker would. */
	while (off < sizeof(in)) {
		size_t n = sizeof(in) - off < 150 ? sizeof(in) - off : 150;

		s->refuse = (tries++ % 3 == 0) ? 2 : 0;
		if (chunker_feed(&c, in + off, n, &used) == -1) {
			assert_true(used <= n);
		} else {
			assert_int_equal(used, n);
		}
		off += used;
	}
	s->refuse = 1;
	assert_int_equal(chunker_flush(&c), -1);
	assert_true(chunker_pending(&c));
	while (chunker_flush(&c) == -1) {
	}
	assert_false(chunker_pending(&c));
	assert_true(s->refused > 0);
	check_chunks(s, 64, sizeof(in));
	assert_memory_equal(s->data, in, sizeof(in));
	chunker_free(&c);
	free(s);
}

static void
test_chunker_refused_direct_chunk_is_kept(void **state)
{
	unsigned char in[256], other[256];
	struct sink *s = calloc(1, sizeof(*s));
	struct chunker c;
	size_t used;

	assert_non_null(s);
	pattern(in, sizeof(in));
	assert_int_equal(chunker_init(&c, 128, sink_emit, s), 0);
	s->refuse = 1;
	/* The first whole chunk goes straight from the input, is refused. */
	assert_int_equal(chunker_feed(&c, in, sizeof(in), &used), -1);
	assert_int_equal(used, 128);
	/* The caller's buffer is reused: the pending chunk must not care. */
	memcpy(other, in, sizeof(other));
	memset(in, 0xee, sizeof(in));
	assert_int_equal(
	    chunker_feed(&c, other + used, sizeof(other) - used, &used), 0);
	assert_int_equal(chunker_flush(&c), 0);
	check_chunks(s, 128, 256);
	assert_memory_equal(s->data, other, 256);
	chunker_free(&c);
	free(s);
}

static void
test_chunker_refuses_size_zero(void **state)
{
	struct chunker c;

	assert_int_equal(chunker_init(&c, 0, sink_emit, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunker_exact_multiple_has_no_short_chunk),
	    cmocka_unit_test(test_chunker_last_chunk_is_shorter),
	    cmocka_unit_test(test_chunker_empty_stream_has_no_chunk),
	    cmocka_unit_test(test_chunker_feed_sizes_do_not_change_chunks),
	    cmocka_unit_test(test_chunker_chunk_size_one),
	    cmocka_unit_test(
	        test_chunker_refused_chunk_is_offered_again_with_same_number),
	    cmocka_unit_test(test_chunker_refused_direct_chunk_is_kept),
	    cmocka_unit_test(test_chunker_refuses_size_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
