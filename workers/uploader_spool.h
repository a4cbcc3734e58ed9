/*
 * The uploader's disk spool: while the platform is down and a chunk ring
 * fills past its high-water mark, records move from the ring to a file,
 * so the ring frees space and the trace goes on. One append-only file per
 * ring, <state-dir>/spool/chunk-<i>.spool, holding records as
 *   uint32 length, then the ring record (message header and payload)
 * in ring order. A file is emptied (truncated) once every record in it
 * was acknowledged. A restarted uploader replays the files first: their
 * records are older than anything still in the ring.
 *
 * The total is bounded by uploader.spool-max-bytes: at the bound no more
 * records move, the ring stays full and the trace workers wait.
 */
#ifndef PROBED_UPLOADER_SPOOL_H
#define PROBED_UPLOADER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct upl_spool {
	int fd;
	int ring;
	uint64_t end;  /* bytes written */
	uint64_t live; /* records not yet acknowledged */
	int failing;   /* the last write failed (logged once) */
};

/* Creates the directory (owned by uid/gid) and opens ring's file: called
 * as root, before privileges are dropped. 0, or -1 after logging. */
int upl_spool_open(struct upl_spool *sp, const char *state_dir, int ring,
                   unsigned uid, unsigned gid);
void upl_spool_close(struct upl_spool *sp);

/* Appends one record; *off is where to read it back. 0; -1 at the bound
 * (errno ENOSPC, nothing logged) or on a write error (a full disk), logged
 * once until a write succeeds again (sp->failing set meanwhile). */
int upl_spool_write(struct upl_spool *sp, const void *rec, uint32_t len,
                    uint64_t *off, uint64_t *total, uint64_t max);
/* Reads a record back into buf (len bytes). 0, or -1 after logging. */
int upl_spool_read(struct upl_spool *sp, uint64_t off, void *buf, uint32_t len);
/* One record of the file acknowledged; the last one empties the file. */
void upl_spool_put(struct upl_spool *sp, uint64_t *total);

/* Every record in the file, in order: fn(arg, off, rec, len). Records
 * counted live; fn calls upl_spool_put for those it drops. */
int upl_spool_replay(struct upl_spool *sp, uint64_t *total,
                     int (*fn)(void *arg, uint64_t off, const void *rec,
                               uint32_t len),
                     void *arg);

#endif
