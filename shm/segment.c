/*
 * The shared segment: layout, creation, checks and lookups. The layout is
 * described in segment.h; JSON and repair are in segment_ops.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "shm/segment.h"

#define SHM_ALIGN 4096u

static size_t
shm_align(size_t n)
{
	return (n + SHM_ALIGN - 1) & ~(size_t)(SHM_ALIGN - 1);
}

static int
shm_check_ring_size(const char *what, size_t *v, size_t def)
{
	if (*v == 0) {
		*v = def;
	}
	if (*v < RING_MIN_SIZE || *v > RING_MAX_SIZE || (*v & (*v - 1))) {
		log_err("shm: %s of %zu bytes is not a power of two in %u..%u",
		        what, *v, RING_MIN_SIZE, RING_MAX_SIZE);
		return -EINVAL;
	}
	return 0;
}

static int
shm_params_fill(const struct shm_params *in, struct shm_params *p)
{
	*p = *in;
	if (p->n_trace < 0 || p->n_trace > SHM_MAX_TRACE) {
		log_err("shm: %d trace workers, at most %d", p->n_trace,
		        SHM_MAX_TRACE);
		return -EINVAL;
	}
	if (p->stats_page_bytes == 0) {
		p->stats_page_bytes = STATS_PAGE_DEFAULT;
	}
	if (p->stats_page_bytes < STATS_PAGE_MIN ||
	    p->stats_page_bytes > ((size_t)1 << 24) ||
	    p->stats_page_bytes % SHM_ALIGN != 0) {
		log_err("shm: stats page of %zu bytes: need a multiple of %u "
		        "in %u..16 MiB",
		        p->stats_page_bytes, SHM_ALIGN, STATS_PAGE_MIN);
		return -EINVAL;
	}
	if (shm_check_ring_size("chunk ring", &p->chunk_ring_bytes,
	                        SHM_CHUNK_RING_DEFAULT) < 0 ||
	    shm_check_ring_size("request ring", &p->request_ring_bytes,
	                        SHM_RING_DEFAULT) < 0 ||
	    shm_check_ring_size("response ring", &p->response_ring_bytes,
	                        SHM_RING_DEFAULT) < 0 ||
	    shm_check_ring_size("command ring", &p->command_ring_bytes,
	                        SHM_RING_DEFAULT) < 0) {
		return -EINVAL;
	}
	return 0;
}

static void
shm_proc_format(int proc, char *buf, size_t len)
{
	static const char *const names[] = {"supervisor", "api", "db",
	                                    "uploader"};

	if (proc < SHM_PROC_TRACE0) {
		snprintf(buf, len, "%s", names[proc]);
	} else {
		snprintf(buf, len, "trace/%d", proc - SHM_PROC_TRACE0);
	}
}

static void
shm_layout_ring(struct shm_header *h, size_t *off, enum shm_ring_kind kind,
                int index, int producer, int consumer, size_t size,
                uint32_t flags)
{
	static const char *const kinds[] = {"chunk", "request", "response",
	                                    "command"};
	struct shm_ring_desc *d = &h->rings[h->n_rings++];

	d->kind = kind;
	d->index = (uint32_t)index;
	d->producer = (uint32_t)producer;
	d->consumer = (uint32_t)consumer;
	d->offset = *off;
	d->size = size;
	d->flags = flags;
	if (kind == SHM_RING_CHUNK || kind == SHM_RING_COMMAND) {
		snprintf(d->name, sizeof(d->name), "%s/%d", kinds[kind], index);
	} else {
		snprintf(d->name, sizeof(d->name), "%s", kinds[kind]);
	}
	*off += shm_align(ring_footprint(size));
}

/* Fills the header in a scratch copy; returns the total size. */
static size_t
shm_layout(struct shm_header *h, const struct shm_params *p)
{
	size_t off = shm_align(sizeof(*h));
	int n = p->n_trace;

	memset(h, 0, sizeof(*h));
	h->magic = SHM_MAGIC;
	h->version = SHM_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->n_trace = (uint32_t)n;
	h->n_procs = (uint32_t)(SHM_PROC_TRACE0 + n);
	h->stats_page_bytes = (uint32_t)p->stats_page_bytes;
	for (int i = 0; i < n; i++) {
		shm_layout_ring(h, &off, SHM_RING_CHUNK, i, SHM_PROC_TRACE0 + i,
		                SHM_PROC_UPLOADER, p->chunk_ring_bytes,
		                RING_BULK);
	}
	shm_layout_ring(h, &off, SHM_RING_REQUEST, 0, SHM_PROC_API, SHM_PROC_DB,
	                p->request_ring_bytes, RING_MP);
	shm_layout_ring(h, &off, SHM_RING_RESPONSE, 0, SHM_PROC_DB,
	                SHM_PROC_API, p->response_ring_bytes, 0);
	for (int i = 0; i < n; i++) {
		shm_layout_ring(h, &off, SHM_RING_COMMAND, i, SHM_PROC_API,
		                SHM_PROC_TRACE0 + i, p->command_ring_bytes,
		                RING_MP);
	}
	for (uint32_t i = 0; i < h->n_procs; i++) {
		h->procs[i].stats_offset = off;
		shm_proc_format((int)i, h->procs[i].name,
		                sizeof(h->procs[i].name));
		off += p->stats_page_bytes;
	}
	h->total_size = off;
	return off;
}

static int
shm_segment_handles(struct shm_segment *seg, int make_fds)
{
	const struct shm_header *h = seg->hdr;

	seg->n_rings = h->n_rings;
	seg->n_procs = h->n_procs;
	for (unsigned i = 0; i < seg->n_rings; i++) {
		struct ring_ctl *ctl =
		    (struct ring_ctl *)((char *)seg->base + h->rings[i].offset);
		int dfd = -1, sfd = -1;

		if (make_fds) {
			dfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			/* MP producers take one wake-up token each. */
			sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC |
			                     ((h->rings[i].flags & RING_MP)
			                          ? EFD_SEMAPHORE
			                          : 0));
			if (dfd < 0 || sfd < 0) {
				log_err("eventfd(ring %s) failed: %s",
				        h->rings[i].name, strerror(errno));
				if (dfd >= 0) {
					close(dfd);
				}
				return -1;
			}
		}
		if (ring_attach(&seg->rings[i], ctl, dfd, sfd) < 0) {
			return -1;
		}
	}
	return 0;
}

struct shm_segment *
shm_segment_create(const struct shm_params *params)
{
	struct shm_segment *seg = NULL;
	struct shm_header *h = NULL;
	struct shm_params p;
	size_t size;

	if (shm_params_fill(params, &p) < 0) {
		return NULL;
	}
	h = malloc(sizeof(*h));
	seg = calloc(1, sizeof(*seg));
	if (h == NULL || seg == NULL) {
		log_err("malloc(shm segment) failed");
		goto fail;
	}
	seg->fd = -1;
	size = shm_layout(h, &p);
	seg->fd = memfd_create("probed-shm", MFD_CLOEXEC);
	if (seg->fd < 0) {
		log_err("memfd_create(probed-shm) failed: %s", strerror(errno));
		goto fail;
	}
	if (ftruncate(seg->fd, (off_t)size) < 0) {
		log_err("ftruncate(memfd, %zu) failed: %s", size,
		        strerror(errno));
		goto fail;
	}
	seg->base =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd, 0);
	if (seg->base == MAP_FAILED) {
		log_err("mmap(MAP_SHARED, %zu) failed: %s", size,
		        strerror(errno));
		seg->base = NULL;
		goto fail;
	}
	seg->size = size;
	seg->hdr = seg->base;
	memcpy(seg->hdr, h, sizeof(*h));
	for (uint32_t i = 0; i < h->n_rings; i++) {
		if (ring_init((struct ring_ctl *)((char *)seg->base +
		                                  h->rings[i].offset),
		              h->rings[i].size, h->rings[i].flags) < 0) {
			goto fail;
		}
	}
	for (uint32_t i = 0; i < h->n_procs; i++) {
		if (stats_page_init(shm_segment_stats(seg, (int)i),
		                    p.stats_page_bytes, h->procs[i].name) < 0) {
			goto fail;
		}
	}
	if (shm_segment_handles(seg, 1) < 0) {
		goto fail;
	}
	free(h);
	log_debug("shm: segment of %zu bytes, %u rings, %u stats pages", size,
	          seg->n_rings, seg->n_procs);
	return seg;
fail:
	free(h);
	shm_segment_destroy(seg);
	return NULL;
}

void
shm_segment_destroy(struct shm_segment *seg)
{
	if (seg == NULL) {
		return;
	}
	for (unsigned i = 0; i < seg->n_rings; i++) {
		if (seg->rings[i].data_fd >= 0) {
			close(seg->rings[i].data_fd);
		}
		if (seg->rings[i].space_fd >= 0) {
			close(seg->rings[i].space_fd);
		}
	}
	if (seg->base != NULL) {
		munmap(seg->base, seg->size);
	}
	if (seg->fd >= 0) {
		close(seg->fd);
	}
	free(seg);
}

static int
shm_check_fail(const char *what, unsigned long long got,
               unsigned long long want)
{
	log_err("shm segment refused: %s is %#llx, this build expects %#llx "
	        "(a segment from another probed build? restart probed as a "
	        "whole)",
	        what, got, want);
	return -EINVAL;
}

static int
shm_check_regions(const struct shm_header *h, size_t size)
{
	for (uint32_t i = 0; i < h->n_rings; i++) {
		const struct shm_ring_desc *d = &h->rings[i];
		const struct ring_ctl *ctl =
		    (const struct ring_ctl *)((const char *)h + d->offset);

		if (d->offset % SHM_ALIGN != 0 || d->size > RING_MAX_SIZE ||
		    d->offset + ring_footprint(d->size) > size) {
			return shm_check_fail("a ring's offset", d->offset,
			                      size);
		}
		if (ctl->magic != RING_CTL_MAGIC || ctl->size != d->size) {
			return shm_check_fail("a ring header's size", ctl->size,
			                      d->size);
		}
	}
	for (uint32_t i = 0; i < h->n_procs; i++) {
		uint64_t off = h->procs[i].stats_offset;

		if (off % SHM_ALIGN != 0 || off + h->stats_page_bytes > size) {
			return shm_check_fail("a stats page's offset", off,
			                      size);
		}
		if (stats_page_check(
		        (const struct stats_page *)((const char *)h + off),
		        h->stats_page_bytes) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

int
shm_segment_check(const void *base, size_t size)
{
	const struct shm_header *h = base;

	if (size < sizeof(*h)) {
		return shm_check_fail("the segment size", size, sizeof(*h));
	}
	if (h->magic != SHM_MAGIC) {
		return shm_check_fail("the magic", h->magic, SHM_MAGIC);
	}
	if (h->version != SHM_LAYOUT_VERSION) {
		return shm_check_fail("the layout version", h->version,
		                      SHM_LAYOUT_VERSION);
	}
	if (h->header_size != sizeof(*h)) {
		return shm_check_fail("the header size", h->header_size,
		                      sizeof(*h));
	}
	if (h->total_size != size) {
		return shm_check_fail("the total size", h->total_size, size);
	}
	if (h->n_trace > SHM_MAX_TRACE || h->n_rings != 2 + 2 * h->n_trace ||
	    h->n_procs != SHM_PROC_TRACE0 + h->n_trace) {
		return shm_check_fail("the ring count", h->n_rings,
		                      2 + 2 * h->n_trace);
	}
	return shm_check_regions(h, size);
}

int
shm_segment_attach(struct shm_segment *seg, int proc)
{
	if (shm_segment_check(seg->base, seg->size) < 0) {
		return -EINVAL;
	}
	if (proc < 0 || (unsigned)proc >= seg->n_procs) {
		log_err("shm_segment_attach: no process %d", proc);
		return -EINVAL;
	}
	for (unsigned i = 0; i < seg->n_rings; i++) {
		if (seg->hdr->rings[i].consumer == (uint32_t)proc) {
			ring_consumer_resume(&seg->rings[i]);
		}
	}
	return 0;
}

static int
shm_ring_slot(const struct shm_segment *seg, enum shm_ring_kind kind, int index)
{
	int n = (int)seg->hdr->n_trace;

	switch (kind) {
	case SHM_RING_CHUNK:
		return index >= 0 && index < n ? index : -1;
	case SHM_RING_REQUEST:
		return index == 0 ? n : -1;
	case SHM_RING_RESPONSE:
		return index == 0 ? n + 1 : -1;
	case SHM_RING_COMMAND:
		return index >= 0 && index < n ? n + 2 + index : -1;
	}
	return -1;
}

struct ring *
shm_segment_ring(struct shm_segment *seg, enum shm_ring_kind kind, int index)
{
	int i = shm_ring_slot(seg, kind, index);

	return i < 0 ? NULL : &seg->rings[i];
}

const struct shm_ring_desc *
shm_segment_ring_desc(const struct shm_segment *seg, enum shm_ring_kind kind,
                      int index)
{
	int i = shm_ring_slot(seg, kind, index);

	return i < 0 ? NULL : &seg->hdr->rings[i];
}

struct stats_page *
shm_segment_stats(struct shm_segment *seg, int proc)
{
	if (proc < 0 || (uint32_t)proc >= seg->hdr->n_procs) {
		return NULL;
	}
	return (struct stats_page *)((char *)seg->base +
	                             seg->hdr->procs[proc].stats_offset);
}

const char *
shm_proc_name(const struct shm_segment *seg, int proc)
{
	if (proc < 0 || (uint32_t)proc >= seg->hdr->n_procs) {
		return NULL;
	}
	return seg->hdr->procs[proc].name;
}

int
shm_proc_count(const struct shm_segment *seg)
{
	return (int)seg->hdr->n_procs;
}
