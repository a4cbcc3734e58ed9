#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "log.h"

int
chunker_init(struct chunker *c, size_t size, chunker_emit_fn emit, void *arg)
{
	memset(c, 0, sizeof(*c));
	if (size == 0) {
		log_err("chunker_init: chunk size 0");
		return -1;
	}
	c->buf = malloc(size);
	if (c->buf == NULL) {
		log_err("malloc(%zu) for a chunk failed", size);
		return -1;
	}
	c->size = size;
	c->emit = emit;
	c->arg = arg;
	return 0;
}

static int
chunker_emit(struct chunker *c, const void *data, size_t len)
{
	if (c->emit(c->arg, c->next_no, data, len) != 0) {
		return -1;
	}
	c->next_no++;
	return 0;
}

/* A full buffer is a chunk that emit refused before: it goes first. */
static int
chunker_drain(struct chunker *c)
{
	if (c->fill < c->size) {
		return 0;
	}
	if (chunker_emit(c, c->buf, c->size) == -1) {
		return -1;
	}
	c->fill = 0;
	return 0;
}

int
chunker_feed(struct chunker *c, const void *data, size_t len, size_t *used)
{
	const unsigned char *p = data;
	size_t off = 0, n;
	int rc = 0;

	if (chunker_drain(c) == -1) {
		rc = -1;
		goto out;
	}
	while (off < len) {
		/* Whole chunks straight from the input: no copy. */
		if (c->fill == 0 && len - off >= c->size) {
			if (chunker_emit(c, p + off, c->size) == -1) {
				/* Keep it: the caller may reuse its buffer. */
				memcpy(c->buf, p + off, c->size);
				c->fill = c->size;
				off += c->size;
				rc = -1;
				goto out;
			}
			off += c->size;
			continue;
		}
		n = c->size - c->fill;
		if (n > len - off) {
			n = len - off;
		}
		memcpy(c->buf + c->fill, p + off, n);
		c->fill += n;
		off += n;
		if (chunker_drain(c) == -1) {
			rc = -1;
			goto out;
		}
	}
out:
	c->bytes += off;
	if (used != NULL) {
		*used = off;
	}
	return rc;
}

int
chunker_flush(struct chunker *c)
{
	if (chunker_drain(c) == -1) {
		return -1;
	}
	if (c->fill == 0) {
		return 0;
	}
	if (chunker_emit(c, c->buf, c->fill) == -1) {
		return -1;
	}
	c->fill = 0;
	return 0;
}

int
chunker_pending(const struct chunker *c)
{
	return c->fill > 0;
}

void
chunker_free(struct chunker *c)
{
	free(c->buf);
	c->buf = NULL;
	c->fill = 0;
}
