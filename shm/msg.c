/*
 * Messages on rings: framing described in msg.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "shm/msg.h"

uint32_t
msg_max_payload(const struct ring *r)
{
	return ring_max_record(r) - MSG_HDR_SIZE;
}

int
msg_reserve(struct ring *r, uint16_t type, uint16_t sender, uint64_t corr,
            uint32_t len, void **payload)
{
	struct msg_hdr h = {
	    .type = type, .sender = sender, .len = len, .corr = corr};
	void *p;
	int rc;

	if (len > msg_max_payload(r)) {
		log_err("msg_reserve: payload of %u bytes exceeds the ring's "
		        "maximum of %u",
		        len, msg_max_payload(r));
		return -EMSGSIZE;
	}
	rc = ring_reserve(r, len + MSG_HDR_SIZE, &p);
	if (rc < 0) {
		return rc;
	}
	memcpy(p, &h, sizeof(h));
	*payload = (uint8_t *)p + MSG_HDR_SIZE;
	return 0;
}

void
msg_commit(struct ring *r, void *payload)
{
	ring_commit(r, (uint8_t *)payload - MSG_HDR_SIZE);
}

void
msg_discard(struct ring *r, void *payload)
{
	ring_discard(r, (uint8_t *)payload - MSG_HDR_SIZE);
}

int
msg_send(struct ring *r, uint16_t type, uint16_t sender, uint64_t corr,
         const void *payload, uint32_t len)
{
	void *p;
	int rc;

	rc = msg_reserve(r, type, sender, corr, len, &p);
	if (rc < 0) {
		return rc;
	}
	if (len > 0) {
		memcpy(p, payload, len);
	}
	msg_commit(r, p);
	return 0;
}

int
msg_parse(const struct ring_rec *rec, struct msg *m)
{
	struct msg_hdr h;

	if (rec->len < MSG_HDR_SIZE) {
		log_err("msg_parse: record of %u bytes is shorter than a "
		        "message header",
		        rec->len);
		return -EBADMSG;
	}
	memcpy(&h, rec->data, sizeof(h));
	if (h.type == 0 || h.len != rec->len - MSG_HDR_SIZE) {
		log_err("msg_parse: bad message header (type %u, len %u, "
		        "record %u bytes)",
		        h.type, h.len, rec->len);
		return -EBADMSG;
	}
	m->type = h.type;
	m->sender = h.sender;
	m->len = h.len;
	m->corr = h.corr;
	m->payload = (const uint8_t *)rec->data + MSG_HDR_SIZE;
	return 0;
}
