/*
 * Rings: variable-length records between processes in shared memory.
 *
 * Layout. A ring is a struct ring_ctl followed by a data area of size bytes
 * (a power of two). Positions (head, tail) are free-running 64-bit byte
 * counters; a position's offset in the data area is pos & (size - 1). They
 * never wrap in practice (2^64 bytes), so head - tail is the bytes in use.
 *
 * Records. Every record starts 8-byte aligned with one 64-bit header word:
 *
 *   bits  0..31  payload length in bytes (0 allowed)
 *   bit  32      BUSY     reserved, not yet committed: do not read
 *   bit  33      DISCARD  skip it (a producer gave up, or repair)
 *   bit  34      PAD      skip it: filler up to the end of the data area
 *   bit  35      HDR      always set, so a header is never 0
 *
 * followed by the payload, padded to a multiple of 8. A record never
 * straddles the end of the data area: when it would, the producer fills the
 * rest with a PAD record and starts at offset 0. The largest payload is
 * size / 2 - 8 bytes: a record of at most half the ring always fits once
 * the ring has drained, whatever offset the head is at; larger ones are
 * refused with -EMSGSIZE, never truncated.
 *
 * Producers. ring_reserve writes the header (BUSY | len) and moves the
 * head; ring_commit clears BUSY; ring_discard sets DISCARD. A ring created
 * with RING_MP takes producers from several threads: they claim space with
 * a CAS on the head and write the header after the CAS. For that the
 * consumer clears released bytes to zero (rule R5 in ring.c), so a
 * header word that is still 0 means "claimed, not yet written".
 *
 * Consumers. One consumer process per ring, and one thread in it at a time
 * (the handle holds the cursor, unlocked). ring_peek hands out records
 * from a cursor local to the process and does not free them; ring_release
 * frees every record up to one given (in order). The tail lives in shared
 * memory, so a restarted consumer resumes at the first record not released.
 * Records peeked but not released are delivered again after a restart:
 * delivery is at-least-once and in order.
 *
 * Crashes. The supervisor calls ring_repair after it reaped the producer:
 * BUSY records become DISCARD (counted), claimed but unwritten space (RING_MP)
 * becomes a DISCARD record, so the consumer neither stalls nor reads a
 * half-written record. The ordering argument is written once, in ring.c.
 *
 * Wake-ups. Each side spins briefly, then sets its waiting flag in shared
 * memory and sleeps on an eventfd (watch ring_data_fd / ring_space_fd with
 * libev, or use the blocking ring_wait_*). The other side writes the eventfd
 * only when it sees the flag, so no syscall is made while both are awake.
 * Eventfds are non-blocking; an MP ring's space eventfd is a semaphore
 * (EFD_SEMAPHORE) so each sleeping producer gets its own token. The flag
 * protocol needs a store-load fence on both sides; on a RING_BULK ring the
 * sleeper pays for both (membarrier, ring_fence.c), which takes a fence
 * off every commit and release and adds an IPI to every sleep: right for
 * bulk data (chunk rings), wrong for requests, whose round trip would pay
 * it twice. Other rings fence both sides on the CPU.
 */
#ifndef PROBED_SHM_RING_H
#define PROBED_SHM_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_CACHELINE 128 /* two lines: the adjacent-line prefetcher */

#define RING_HDR_LEN_MASK 0xffffffffull
#define RING_HDR_BUSY     (1ull << 32)
#define RING_HDR_DISCARD  (1ull << 33)
#define RING_HDR_PAD      (1ull << 34)
#define RING_HDR_VALID    (1ull << 35)
#define RING_HDR_SIZE     8u

#define RING_MIN_SIZE 4096u
#define RING_MAX_SIZE (1u << 30)

/* ring_ctl.flags */
#define RING_MP   0x1u
#define RING_BULK 0x2u /* sleepers pay the wake-up fence (see Wake-ups) */

#define RING_CTL_MAGIC 0x474e4952u /* "RING" */

/* Shared. Each group is written by one side only, on its own lines. */
struct ring_ctl {
	/* Producer side. */
	alignas(RING_CACHELINE) _Atomic uint64_t head;
	_Atomic uint64_t records_in;
	_Atomic uint64_t discards;
	_Atomic uint64_t producer_waits;
	_Atomic uint64_t consumer_wakeups; /* eventfd writes to the consumer */

	/* Consumer side. */
	alignas(RING_CACHELINE) _Atomic uint64_t tail;
	_Atomic uint64_t clear_to; /* RING_MP: release in progress up to */
	_Atomic uint64_t records_out;
	_Atomic uint64_t consumer_waits;
	_Atomic uint64_t producer_wakeups; /* eventfd writes to producers */

	/* Rarely written, read on every commit/release: own lines. */
	alignas(RING_CACHELINE) _Atomic uint32_t consumer_waiting;
	alignas(RING_CACHELINE) _Atomic uint32_t producer_waiting;

	/* Written once by ring_init. */
	alignas(RING_CACHELINE) uint32_t magic;
	uint32_t flags;
	uint64_t size;
};

/* Process-local handle; the eventfds are per process (made before fork). */
struct ring {
	struct ring_ctl *ctl;
	uint8_t *data;
	uint64_t size;
	uint64_t mask;
	int mp;
	int bulk;     /* RING_BULK */
	int data_fd;  /* producer -> consumer: "records committed" */
	int space_fd; /* consumer -> producer: "space released" */

	/* Producer-local. */
	uint64_t cached_tail;

	/* Consumer-local. */
	uint64_t cached_head;
	uint64_t read_pos;   /* next record to peek */
	uint64_t read_count; /* records peeked since resume */
	uint64_t last_end;   /* end of the last record peeked */
};

/* One record handed to the consumer. */
struct ring_rec {
	const void *data;
	uint32_t len;
	uint64_t end;     /* position after it: what releasing it frees to */
	uint64_t ordinal; /* records peeked before it since resume; the ring
	                   * never reads it back, callers may reuse it */
};

/* Bytes a ring with a data area of size bytes needs in the segment. */
size_t ring_footprint(uint64_t size);

/* Formats ctl (size: power of two, RING_MIN_SIZE..RING_MAX_SIZE). The
 * data area that follows must be zero, as a fresh mapping is. */
int ring_init(struct ring_ctl *ctl, uint64_t size, uint32_t flags);

/* Fills a handle for an initialised ring; fds -1 for none. Checks magic. */
int ring_attach(struct ring *r, struct ring_ctl *ctl, int data_fd,
                int space_fd);

/* Largest payload this ring accepts. */
uint32_t ring_max_record(const struct ring *r);

/* Producer. 0 and *out; -EAGAIN full; -EMSGSIZE larger than allowed. */
int ring_reserve(struct ring *r, uint32_t len, void **out);
void ring_commit(struct ring *r, void *rec);
void ring_discard(struct ring *r, void *rec);
/* Reserve, copy, commit. */
int ring_write(struct ring *r, const void *buf, uint32_t len);

/* Consumer. 0 and *rec; -EAGAIN nothing ready. */
int ring_peek(struct ring *r, struct ring_rec *rec);
/* Up to max records; returns how many (0: nothing ready). */
size_t ring_peek_batch(struct ring *r, struct ring_rec *recs, size_t max);
/* Frees rec and everything before it. */
void ring_release(struct ring *r, const struct ring_rec *rec);
/* Frees everything peeked so far. */
void ring_release_all(struct ring *r);
/* A new consumer process: finish a release the last one left half done,
 * restart the cursor at the tail. */
void ring_consumer_resume(struct ring *r);

/* Bytes in use (committed, busy, held and padding). */
uint64_t ring_used(const struct ring *r);

/*
 * Waiting. ring_*_prepare_wait sets the flag and rechecks: 1 means sleep
 * (poll the fd, then ring_*_woken), 0 means the condition already holds.
 * ring_wait_* do spin, flag and poll; timeout_ms < 0 waits forever.
 * They return 0 when the condition holds, -ETIMEDOUT, or -errno.
 */
int ring_data_fd(const struct ring *r);
int ring_space_fd(const struct ring *r);
int ring_consumer_prepare_wait(struct ring *r);
void ring_consumer_woken(struct ring *r);
int ring_producer_prepare_wait(struct ring *r, uint32_t len);
void ring_producer_woken(struct ring *r);
int ring_wait_data(struct ring *r, int timeout_ms);
int ring_wait_space(struct ring *r, uint32_t len, int timeout_ms);

/*
 * Supervisor, after reaping the producer: BUSY records and unwritten claims
 * become DISCARD. Returns how many records were discarded. Never call it
 * while a producer of this ring may still run.
 */
uint64_t ring_repair(struct ring *r);

/* Supervisor, after reaping the consumer: finishes its half-done release
 * and clears its waiting flag. */
void ring_repair_consumer(struct ring *r);

#endif
