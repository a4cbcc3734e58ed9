/*
 * Rings: repair after a crash (rules R4 and R5 in ring.c).
 *
 * Why repair instead of resetting the ring: records a dead producer
 * committed are data the consumer has not seen yet (trace chunks, requests);
 * they stay. Only what the producer left unfinished is turned into DISCARD
 * records, counted, so the consumer walks past them and the loss is visible
 * in `probectl rings`.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "shm/ring.h"
#include "shm/ring_impl.h"

/*
 * An MP claim whose header was never written (R5): its bytes are still
 * zero, so the claim ends at the next non-zero word (the next header), at
 * the end of the data area, or at the head. Several adjacent unwritten
 * claims become one DISCARD record.
 */
static uint64_t
ring_repair_gap(struct ring *r, uint64_t pos, uint64_t head)
{
	uint64_t end = pos - (pos & r->mask) + r->size, q;

	if (end > head) {
		end = head;
	}
	for (q = pos + RING_HDR_SIZE; q < end; q += RING_HDR_SIZE) {
		if (atomic_load_explicit(ring_hdr(r, q),
		                         memory_order_relaxed) != 0) {
			break;
		}
	}
	atomic_store_explicit(ring_hdr(r, pos),
	                      RING_HDR_VALID | RING_HDR_DISCARD |
	                          (q - pos - RING_HDR_SIZE),
	                      memory_order_release);
	return q;
}

/* MP: whether the live consumer is zeroing pos right now (R5). */
static int
ring_repair_releasing(struct ring *r, uint64_t pos)
{
	if (!r->mp) {
		return 0;
	}
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&r->ctl->clear_to, memory_order_relaxed) >
	       pos;
}

uint64_t
ring_repair(struct ring *r)
{
	struct ring_ctl *c = r->ctl;
	uint64_t head, pos, h, total, n = 0;

	head = atomic_load_explicit(&c->head, memory_order_acquire);
	pos = atomic_load_explicit(&c->tail, memory_order_acquire);
	while (pos < head) {
		h = atomic_load_explicit(ring_hdr(r, pos),
		                         memory_order_acquire);
		if (ring_repair_releasing(r, pos)) {
			pos = atomic_load_explicit(&c->clear_to,
			                           memory_order_relaxed);
			continue;
		}
		if (h == 0 && r->mp) {
			pos = ring_repair_gap(r, pos, head);
			n++;
			continue;
		}
		total = ring_total(h & RING_HDR_LEN_MASK);
		if (!(h & RING_HDR_VALID) ||
		    total > r->size - (pos & r->mask) || pos + total > head) {
			log_err("ring_repair: corrupt header %#llx at %llu, "
			        "head %llu",
			        (unsigned long long)h, (unsigned long long)pos,
			        (unsigned long long)head);
			break;
		}
		if (h & RING_HDR_BUSY) {
			/* The producer is dead: nobody else changes h. */
			atomic_store_explicit(ring_hdr(r, pos),
			                      (h & ~RING_HDR_BUSY) |
			                          RING_HDR_DISCARD,
			                      memory_order_release);
			n++;
		}
		pos += total;
	}
	if (n > 0) {
		atomic_fetch_add_explicit(&c->discards, n,
		                          memory_order_relaxed);
	}
	/* A flag the dead producer left set would only cost syscalls. */
	atomic_store_explicit(&c->producer_waiting, 0, memory_order_relaxed);
	/* The consumer may sleep on a record that just became DISCARD. */
	ring_wake_consumer(r);
	return n;
}

/* The last consumer died zeroing (R5): finish its release. 1 if it had
 * to; only the consumer or, with the consumer dead, the supervisor calls
 * this, so nobody moves tail meanwhile. */
int
ring_finish_release(struct ring *r)
{
	struct ring_ctl *c = r->ctl;
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
	uint64_t to = atomic_load_explicit(&c->clear_to, memory_order_acquire);

	if (!r->mp || to <= tail) {
		return 0;
	}
	ring_zero(r, tail, to);
	atomic_store_explicit(&c->tail, to, memory_order_release);
	return 1;
}

void
ring_repair_consumer(struct ring *r)
{
	struct ring_ctl *c = r->ctl;

	ring_finish_release(r);
	atomic_store_explicit(&c->consumer_waiting, 0, memory_order_relaxed);
	ring_wake_producer(r);
}
