/*
 * Messages on rings: control messages (start a trace, a DB query) and data
 * (trace chunks) share the ring primitive. A message is one ring record:
 *
 *   offset 0   uint16  type     (0 is never valid; kinds are the users')
 *   offset 2   uint16  sender   (enum shm_proc id of the sending process)
 *   offset 4   uint32  len      payload bytes
 *   offset 8   uint64  corr     correlation id: a response carries the
 *                               request's, a chunk its trace run's
 *   offset 16  payload (len bytes)
 *
 * Host byte order: both ends run on the same host from the same build.
 */
#ifndef PROBED_SHM_MSG_H
#define PROBED_SHM_MSG_H

#include <stdint.h>

#include "shm/ring.h"

struct msg_hdr {
	uint16_t type;
	uint16_t sender;
	uint32_t len;
	uint64_t corr;
};

#define MSG_HDR_SIZE ((uint32_t)sizeof(struct msg_hdr))

/* A message read from a ring; points into the ring until released. */
struct msg {
	uint16_t type;
	uint16_t sender;
	uint32_t len;
	uint64_t corr;
	const void *payload;
};

/* Largest payload a message on r may carry. */
uint32_t msg_max_payload(const struct ring *r);

/* Reserves a message and fills its header; write len bytes at *payload,
 * then msg_commit or msg_discard. Errors as ring_reserve. */
int msg_reserve(struct ring *r, uint16_t type, uint16_t sender, uint64_t corr,
                uint32_t len, void **payload);
void msg_commit(struct ring *r, void *payload);
void msg_discard(struct ring *r, void *payload);

/* Reserve, copy, commit. */
int msg_send(struct ring *r, uint16_t type, uint16_t sender, uint64_t corr,
             const void *payload, uint32_t len);

/* Checks a peeked record is a well-formed message: 0, or -EBADMSG. */
int msg_parse(const struct ring_rec *rec, struct msg *m);

#endif
