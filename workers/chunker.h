/*
 * Cuts a byte stream (a tool's stdout) into the chunks of the upload
 * protocol: exactly size bytes each (submit-chunk-size), numbered from 0,
 * the last one possibly shorter. A chunk never depends on how the stream
 * arrived: read() boundaries do not show in the chunks.
 *
 * The emit callback gets each chunk in order. It returns 0 when it took the
 * chunk (copied it to a ring), or -1 when it cannot now (the ring is full):
 * the chunk then stays pending, feeding stops, and the next feed or flush
 * offers the same chunk, with the same number, first. Nothing is dropped.
 */
#ifndef PROBED_CHUNKER_H
#define PROBED_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

typedef int (*chunker_emit_fn)(void *arg, uint64_t no, const void *data,
                               size_t len);

struct chunker {
	size_t size; /* bytes per chunk */
	unsigned char *buf;
	size_t fill;      /* bytes in buf; == size: a full chunk is pending */
	uint64_t next_no; /* number of the next chunk to emit */
	uint64_t bytes;   /* bytes taken in so far */
	chunker_emit_fn emit;
	void *arg;
};

/* 0, or -1 after logging (size 0, out of memory). */
int chunker_init(struct chunker *c, size_t size, chunker_emit_fn emit,
                 void *arg);

/*
 * Takes data, emitting every chunk that fills. Returns 0 when all of it was
 * taken; -1 when emit refused a chunk, with *used (if not NULL) saying how
 * many bytes were taken: feed the rest again later.
 */
int chunker_feed(struct chunker *c, const void *data, size_t len, size_t *used);

/*
 * End of stream: emits a pending full chunk and then the short last one,
 * if any. 0 when nothing is left, -1 when emit refused (call it again).
 * An empty stream, or one of whole chunks, has no short chunk.
 */
int chunker_flush(struct chunker *c);

/* 1 when bytes are waiting to be emitted. */
int chunker_pending(const struct chunker *c);

void chunker_free(struct chunker *c);

#endif
