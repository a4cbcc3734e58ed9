/*
 * The uploader's disk spool: see uploader_spool.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "uploader_spool.h"

/* A record larger than this in a spool file means the file is damaged. */
#define UPL_SPOOL_REC_MAX (64u << 20)

int
upl_spool_open(struct upl_spool *sp, const char *state_dir, int ring,
               unsigned uid, unsigned gid)
{
	char path[1100];
	struct stat st;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->ring = ring;
	snprintf(path, sizeof(path), "%s/spool", state_dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_err("mkdir(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && chown(path, uid, gid) == -1) {
		log_err("chown(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/spool/chunk-%d.spool", state_dir,
	         ring);
	sp->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd == -1) {
		log_err("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(sp->fd, &st) == -1) {
		log_err("fstat(%s) failed: %s", path, strerror(errno));
		close(sp->fd);
		sp->fd = -1;
		return -1;
	}
	sp->end = (uint64_t)st.st_size;
	return 0;
}

void
upl_spool_close(struct upl_spool *sp)
{
	if (sp->fd >= 0) {
		close(sp->fd);
	}
	sp->fd = -1;
}

/* pwrite until all of buf is written: a short write is retried, so a full
 * disk ends with the call's errno (ENOSPC), not a count. */
static int
upl_spool_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			if (n == 0) {
				errno = EIO;
			}
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int
upl_spool_write(struct upl_spool *sp, const void *rec, uint32_t len,
                uint64_t *off, uint64_t *total, uint64_t max)
{
	uint64_t need = sizeof(uint32_t) + (uint64_t)len;
	int err;

	if (sp->fd < 0 || *total + need > max) {
		errno = ENOSPC;
		return -1;
	}
	if (upl_spool_pwrite(sp->fd, &len, sizeof(len), sp->end) != 0 ||
	    upl_spool_pwrite(sp->fd, rec, len, sp->end + sizeof(len)) != 0) {
		err = errno;
		/* A partial record past the end reads back as damage on
		 * replay: cut it off. */
		if (ftruncate(sp->fd, (off_t)sp->end) == -1) {
			/* Nothing more to do here: replay cuts it off. */
		}
		/* Tried again at every failed request: logged once until a
		 * write succeeds. */
		if (!sp->failing) {
			log_err("pwrite(spool chunk-%d, %u) failed: %s: spool "
			        "full, trace output waits for the platform",
			        sp->ring, len, strerror(err));
			sp->failing = 1;
		}
		errno = err;
		return -1;
	}
	if (sp->failing) {
		log_info("spool chunk-%d: writing again", sp->ring);
		sp->failing = 0;
	}
	*off = sp->end + sizeof(len);
	sp->end += need;
	*total += need;
	sp->live++;
	return 0;
}

int
upl_spool_read(struct upl_spool *sp, uint64_t off, void *buf, uint32_t len)
{
	ssize_t n = pread(sp->fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		log_err("pread(spool chunk-%d, %u at %llu) failed: %s",
		        sp->ring, len, (unsigned long long)off,
		        n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

void
upl_spool_put(struct upl_spool *sp, uint64_t *total)
{
	if (sp->live > 0 && --sp->live > 0) {
		return;
	}
	/* Nothing in the file is needed any more. */
	if (ftruncate(sp->fd, 0) == -1) {
		log_err("ftruncate(spool chunk-%d) failed: %s", sp->ring,
		        strerror(errno));
		return;
	}
	*total = *total > sp->end ? *total - sp->end : 0;
	sp->end = 0;
}

int
upl_spool_replay(struct upl_spool *sp, uint64_t *total,
                 int (*fn)(void *arg, uint64_t off, const void *rec,
                           uint32_t len),
                 void *arg)
{
	uint64_t pos = 0, size = sp->end;
	uint32_t len;
	void *buf;

	*total += size;
	while (pos + sizeof(len) <= size) {
		if (upl_spool_read(sp, pos, &len, sizeof(len)) != 0) {
			return -1;
		}
		if (len > UPL_SPOOL_REC_MAX || pos + sizeof(len) + len > size) {
			log_err("spool chunk-%d: damaged at %llu, rest ignored",
			        sp->ring, (unsigned long long)pos);
			/* New records go where the damage began, not after it,
			 * so a later replay reaches them. */
			if (ftruncate(sp->fd, (off_t)pos) == -1) {
				log_err("ftruncate(spool chunk-%d) failed: %s",
				        sp->ring, strerror(errno));
				return -1;
			}
			*total -= size - pos;
			sp->end = pos;
			break;
		}
		buf = malloc(len);
		if (buf == NULL ||
		    upl_spool_read(sp, pos + sizeof(len), buf, len) != 0) {
			free(buf);
			return -1;
		}
		sp->live++;
		fn(arg, pos + sizeof(len), buf, len);
		free(buf);
		pos += sizeof(len) + len;
	}
	if (sp->live == 0 && size > 0) {
		sp->live = 1;
		upl_spool_put(sp, total);
	}
	return 0;
}
