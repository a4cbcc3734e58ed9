/*
 * Rings: the format is described in ring.h. This file holds the ordering
 * argument; every atomic below refers to one of these rules.
 *
 * R1 (publish). A producer writes a record's header (BUSY | len) before it
 * moves the head (SP: release store of head; MP: the header is written
 * after the CAS, see R5). It writes the payload, then clears BUSY with a
 * release store of the header. The consumer loads the head with acquire,
 * then the header with acquire: seeing a header without BUSY means the
 * payload is visible.
 *
 * R2 (free). The consumer reads (and in MP rings zeroes) released bytes,
 * then stores the tail with release. A producer loads the tail with
 * acquire before it writes into the space the tail freed.
 *
 * R3 (sleep). A side that sleeps stores its waiting flag, then a fence,
 * then rechecks the condition. The other side makes the condition true
 * (R1/R2 store), then a fence, then loads the flag. Of two fenced
 * store-then-load sequences at least one sees the other's store (Dekker),
 * so either the sleeper sees the record/space or the waker sees the flag
 * and writes the eventfd. Both fences are CPU fences, except on RING_BULK
 * rings: there the sleeper's is membarrier() and the waker's a compiler
 * barrier, so commits and releases never wait for their stores to drain
 * (ring_fence.c argues why that pair is enough). The flag is taken with
 * an exchange so only one waker pays for the syscall.
 *
 * R4 (crash). A process killed by a signal leaves a prefix of each of its
 * threads' stores in program order: the kernel drains store buffers before
 * waitpid reports the death. So after reaping a producer, the supervisor
 * sees every header it wrote before it moved the head (R1), and no payload
 * store of a record whose header it never wrote (a compiler fence keeps
 * the header store first). ring_repair relies on nothing else.
 *
 * R5 (MP claims). Producers on several threads claim [head, head + n) with
 * a CAS, then write the header. Between the two a claim has header word 0.
 * For 0 to mean "claimed, unwritten" (and not stale bytes of an older lap),
 * free space is all zero: the consumer zeroes what it releases before the
 * release store of the tail (R2), and the data area starts zeroed. A
 * consumer killed halfway through zeroing must not leave a zero header in
 * front of committed records, so it first publishes clear_to (the target)
 * with a release fence; resume and repair finish the job. Repair, racing a
 * live consumer, reads a header then (acquire fence) clear_to: if the
 * consumer is releasing past that position, the header may be torn by the
 * memset and is skipped. The consumer never releases past a BUSY or zero
 * header, so everything repair must fix lies beyond clear_to.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm/ring.h"
#include "shm/ring_impl.h"

size_t
ring_footprint(uint64_t size)
{
	return sizeof(struct ring_ctl) + size;
}

int
ring_init(struct ring_ctl *ctl, uint64_t size, uint32_t flags)
{
	if (size < RING_MIN_SIZE || size > RING_MAX_SIZE ||
	    (size & (size - 1)) != 0) {
		log_err("ring_init: size %llu is not a power of two in %u..%u",
		        (unsigned long long)size, RING_MIN_SIZE, RING_MAX_SIZE);
		return -EINVAL;
	}
	/* The data area must already be zero (a fresh mapping is): that is
	 * the MP free-space invariant (R5), and not touching it here keeps
	 * idle rings from using memory. */
	memset(ctl, 0, sizeof(*ctl));
	if (flags & RING_BULK) {
		ring_fence_register();
	}
	ctl->size = size;
	ctl->flags = flags;
	ctl->magic = RING_CTL_MAGIC;
	return 0;
}

int
ring_attach(struct ring *r, struct ring_ctl *ctl, int data_fd, int space_fd)
{
	uint64_t size = ctl->size;

	if (ctl->magic != RING_CTL_MAGIC || size < RING_MIN_SIZE ||
	    size > RING_MAX_SIZE || (size & (size - 1)) != 0) {
		log_err("ring_attach: bad ring header (magic %#x, size %llu)",
		        ctl->magic, (unsigned long long)size);
		return -EINVAL;
	}
	memset(r, 0, sizeof(*r));
	r->ctl = ctl;
	r->data = (uint8_t *)(ctl + 1);
	r->size = size;
	r->mask = size - 1;
	r->mp = (ctl->flags & RING_MP) != 0;
	r->bulk = (ctl->flags & RING_BULK) != 0;
	if (r->bulk) {
		ring_fence_register();
	}
	r->data_fd = data_fd;
	r->space_fd = space_fd;
	r->read_pos = atomic_load_explicit(&ctl->tail, memory_order_acquire);
	return 0;
}

uint32_t
ring_max_record(const struct ring *r)
{
	return (uint32_t)(r->size / 2 - RING_HDR_SIZE);
}

uint64_t
ring_used(const struct ring *r)
{
	uint64_t tail =
	    atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
	uint64_t head =
	    atomic_load_explicit(&r->ctl->head, memory_order_acquire);

	return head > tail ? head - tail : 0;
}

static void
ring_signal(int fd, _Atomic uint32_t *flag, _Atomic uint64_t *count, int shared,
            int bulk)
{
	/* R3: our store is done; the fence pairs with the sleeper's. */
	ring_fence_waker(bulk);
	if (atomic_load_explicit(flag, memory_order_relaxed) == 0) {
		return;
	}
	uint32_t n = atomic_exchange_explicit(flag, 0, memory_order_relaxed);

	if (n == 0) {
		return;
	}
	ring_count(shared, count, 1);
	/* n sleepers registered (MP producers count themselves in): one
	 * token each on a semaphore eventfd. */
	if (fd >= 0 && eventfd_write(fd, n) < 0) {
		log_err("eventfd_write(%d) failed: %s", fd, strerror(errno));
	}
}

void
ring_wake_consumer(struct ring *r)
{
	ring_signal(r->data_fd, &r->ctl->consumer_waiting,
	            &r->ctl->consumer_wakeups, r->mp, r->bulk);
}

void
ring_wake_producer(struct ring *r)
{
	ring_signal(r->space_fd, &r->ctl->producer_waiting,
	            &r->ctl->producer_wakeups, 0, r->bulk);
}

/* Bytes a record of total bytes needs at head: itself plus any padding. */
static inline uint64_t
ring_need(const struct ring *r, uint64_t head, uint64_t total, uint64_t *pad)
{
	uint64_t off = head & r->mask;

	*pad = off + total > r->size ? r->size - off : 0;
	return *pad + total;
}

int
ring_has_space(struct ring *r, uint32_t len)
{
	uint64_t head, tail, pad;

	head = atomic_load_explicit(&r->ctl->head, memory_order_relaxed);
	tail = atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
	return ring_need(r, head, ring_total(len), &pad) <=
	       r->size - (head - tail);
}

static int
ring_reserve_mp(struct ring *r, uint32_t len, uint64_t total, void **out)
{
	struct ring_ctl *c = r->ctl;
	uint64_t head, tail, pad, need;

	head = atomic_load_explicit(&c->head, memory_order_relaxed);
	for (;;) {
		need = ring_need(r, head, total, &pad);
		/* R2: acquire, so our writes follow the consumer's zeroing. */
		tail = atomic_load_explicit(&c->tail, memory_order_acquire);
		if (need > r->size - (head - tail)) {
			return -EAGAIN;
		}
		if (atomic_compare_exchange_weak_explicit(
		        &c->head, &head, head + need, memory_order_relaxed,
		        memory_order_relaxed)) {
			break;
		}
	}
	if (pad) {
		/* Release: no head store follows to publish it (R1), and the
		 * consumer zeroes it after reading it. */
		atomic_store_explicit(ring_hdr(r, head),
		                      RING_HDR_VALID | RING_HDR_PAD |
		                          (pad - RING_HDR_SIZE),
		                      memory_order_release);
		head += pad;
	}
	atomic_store_explicit(ring_hdr(r, head),
	                      RING_HDR_VALID | RING_HDR_BUSY | len,
	                      memory_order_relaxed);
	/* R4: no payload store may be emitted before the header store. */
	atomic_signal_fence(memory_order_seq_cst);
	*out = r->data + (head & r->mask) + RING_HDR_SIZE;
	return 0;
}

/*
 * Small records: start the RFOs of the space a record or so ahead. The
 * consumer read those lines a lap ago, so they are shared in its cache,
 * and a store to one waits for the invalidation; a 64 B record is one
 * store, so without help the producer has one or two such misses in
 * flight, and each costs a cross-core round trip (400 ns when the host
 * put our CPUs far apart: 10 M records/s; with this, 16-21 M). memcpy of
 * a few KiB streams on its own and prefetching competes with it (4 KiB:
 * 8.6 -> 5.5 GB/s), so only records up to RING_PREFETCH_MAX get it. Only
 * space known free is touched: a line the consumer has still to read
 * would be taken from under it.
 */
#define RING_PREFETCH_AHEAD 1024
#define RING_PREFETCH_MAX   1024

static inline void
ring_prefetch_ahead(struct ring *r, uint64_t end, uint64_t need)
{
	uint64_t from = (end + RING_PREFETCH_AHEAD) & ~(uint64_t)63;
	uint64_t to = end + RING_PREFETCH_AHEAD + need;

	if (need > RING_PREFETCH_MAX) {
		return;
	}
	if (to > r->cached_tail + r->size) {
		to = r->cached_tail + r->size;
	}
	for (; from < to; from += 64) {
		ring_prefetch_write(r->data + (from & r->mask));
	}
}

int
ring_reserve(struct ring *r, uint32_t len, void **out)
{
	struct ring_ctl *c = r->ctl;
	uint64_t head, pad, need, total;

	if (len > ring_max_record(r)) {
		log_err("ring_reserve: record of %u bytes exceeds the ring's "
		        "maximum of %u",
		        len, ring_max_record(r));
		return -EMSGSIZE;
	}
	total = ring_total(len);
	if (r->mp) {
		return ring_reserve_mp(r, len, total, out);
	}
	head = atomic_load_explicit(&c->head, memory_order_relaxed);
	need = ring_need(r, head, total, &pad);
	/* A stale cached tail (an inherited handle) only means a reload. */
	if (head - r->cached_tail + need > r->size) {
		/* R2 */
		r->cached_tail =
		    atomic_load_explicit(&c->tail, memory_order_acquire);
		if (head - r->cached_tail + need > r->size) {
			return -EAGAIN;
		}
	}
	ring_prefetch_ahead(r, head + need, need);
	if (pad) {
		atomic_store_explicit(ring_hdr(r, head),
		                      RING_HDR_VALID | RING_HDR_PAD |
		                          (pad - RING_HDR_SIZE),
		                      memory_order_relaxed);
	}
	atomic_store_explicit(ring_hdr(r, head + pad),
	                      RING_HDR_VALID | RING_HDR_BUSY | len,
	                      memory_order_relaxed);
	/* R1: headers before the head that covers them. */
	atomic_store_explicit(&c->head, head + need, memory_order_release);
	*out = r->data + ((head + pad) & r->mask) + RING_HDR_SIZE;
	return 0;
}

static void
ring_finish(struct ring *r, void *rec, uint64_t set)
{
	_Atomic uint64_t *hdr = (_Atomic uint64_t *)rec - 1;
	uint64_t h = atomic_load_explicit(hdr, memory_order_relaxed);

	/* R1: the payload before the header that says it is there. */
	atomic_store_explicit(hdr, (h & ~RING_HDR_BUSY) | set,
	                      memory_order_release);
}

void
ring_commit(struct ring *r, void *rec)
{
	ring_finish(r, rec, 0);
	ring_count(r->mp, &r->ctl->records_in, 1);
	ring_wake_consumer(r);
}

void
ring_discard(struct ring *r, void *rec)
{
	ring_finish(r, rec, RING_HDR_DISCARD);
	ring_count(r->mp, &r->ctl->discards, 1);
	/* The consumer may be waiting on this very record. */
	ring_wake_consumer(r);
}

int
ring_write(struct ring *r, const void *buf, uint32_t len)
{
	void *p;
	int rc;

	rc = ring_reserve(r, len, &p);
	if (rc < 0) {
		return rc;
	}
	memcpy(p, buf, len);
	ring_commit(r, p);
	return 0;
}

/* Zeroes [from, to) of the data area; the range never exceeds size. */
void
ring_zero(struct ring *r, uint64_t from, uint64_t to)
{
	uint64_t off = from & r->mask, n = to - from;

	if (off + n > r->size) {
		memset(r->data + off, 0, r->size - off);
		memset(r->data, 0, n - (r->size - off));
	} else {
		memset(r->data + off, 0, n);
	}
}

/* Records (not padding, not discards) in [from, to): for records_out. */
static uint64_t
ring_count_records(struct ring *r, uint64_t from, uint64_t to)
{
	uint64_t n = 0, h;

	while (from < to) {
		h = atomic_load_explicit(ring_hdr(r, from),
		                         memory_order_relaxed);
		if (!(h & (RING_HDR_DISCARD | RING_HDR_PAD))) {
			n++;
		}
		from += ring_total(h & RING_HDR_LEN_MASK);
	}
	return n;
}

static void
ring_release_to(struct ring *r, uint64_t to)
{
	struct ring_ctl *c = r->ctl;
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_relaxed);
	uint64_t count;

	if (to <= tail) {
		return;
	}
	if (to > r->read_pos) {
		log_err("ring_release: position %llu was never peeked (cursor "
		        "at %llu)",
		        (unsigned long long)to,
		        (unsigned long long)r->read_pos);
		return;
	}
	count = ring_count_records(r, tail, to);
	if (r->mp) {
		/* R5: announce, then zero, then free. */
		atomic_store_explicit(&c->clear_to, to, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		ring_zero(r, tail, to);
	}
	/* R2 */
	atomic_store_explicit(&c->tail, to, memory_order_release);
	ring_count(0, &c->records_out, count);
	ring_wake_producer(r);
}

void
ring_consumer_resume(struct ring *r)
{
	struct ring_ctl *c = r->ctl;
	uint64_t tail;

	if (ring_finish_release(r)) {
		ring_wake_producer(r);
	}
	tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	r->read_pos = tail;
	r->read_count = 0;
	r->last_end = tail;
	r->cached_head = atomic_load_explicit(&c->head, memory_order_acquire);
}

uint64_t
ring_ready_hdr(struct ring *r, uint64_t pos)
{
	uint64_t h;

	if (pos >= r->cached_head) {
		/* R1 */
		r->cached_head =
		    atomic_load_explicit(&r->ctl->head, memory_order_acquire);
		if (pos >= r->cached_head) {
			return 0;
		}
	}
	h = atomic_load_explicit(ring_hdr(r, pos), memory_order_acquire);
	if (h == 0 || (h & RING_HDR_BUSY)) {
		return 0;
	}
	return h;
}

int
ring_peek(struct ring *r, struct ring_rec *rec)
{
	uint64_t pos, h, total;

	if (r->read_pos <
	    atomic_load_explicit(&r->ctl->tail, memory_order_relaxed)) {
		/* A handle inherited from the supervisor: start at the tail. */
		ring_consumer_resume(r);
	}
	for (;;) {
		pos = r->read_pos;
		h = ring_ready_hdr(r, pos);
		if (h == 0) {
			return -EAGAIN;
		}
		total = ring_total(h & RING_HDR_LEN_MASK);
		if (!(h & RING_HDR_VALID) ||
		    total > r->size - (pos & r->mask)) {
			log_err("ring_peek: corrupt header %#llx at %llu",
			        (unsigned long long)h, (unsigned long long)pos);
			return -EBADMSG;
		}
		r->read_pos = pos + total;
		if (!(h & (RING_HDR_DISCARD | RING_HDR_PAD))) {
			break;
		}
		/* Nothing held: free skipped space now, so a ring full of
		 * padding or discards never blocks the producer. */
		if (r->last_end <=
		    atomic_load_explicit(&r->ctl->tail, memory_order_relaxed)) {
			ring_release_to(r, r->read_pos);
		}
	}
	rec->data = r->data + (pos & r->mask) + RING_HDR_SIZE;
	rec->len = (uint32_t)(h & RING_HDR_LEN_MASK);
	rec->end = pos + total;
	rec->ordinal = r->read_count++;
	r->last_end = rec->end;
	return 0;
}

size_t
ring_peek_batch(struct ring *r, struct ring_rec *recs, size_t max)
{
	size_t n = 0;

	while (n < max && ring_peek(r, &recs[n]) == 0) {
		n++;
	}
	return n;
}

void
ring_release(struct ring *r, const struct ring_rec *rec)
{
	uint64_t to = rec->end;

	/* The last record peeked: also free discards skipped after it. */
	if (to == r->last_end) {
		to = r->read_pos;
	}
	ring_release_to(r, to);
}

void
ring_release_all(struct ring *r)
{
	ring_release_to(r, r->read_pos);
}
