/*
 * Rings: sleeping and waking (rule R3 in ring.c). A side spins for a
 * moment, then publishes its waiting flag, rechecks, and sleeps on its
 * eventfd.
 *
 * An MP ring's producers may sleep several at a time, so there the flag is
 * a count: each producer about to sleep adds itself, and the consumer takes
 * the count and writes that many tokens on the space eventfd, which is a
 * semaphore (EFD_SEMAPHORE: a read takes one token). A producer never
 * takes its registration back (that could remove another's); a token
 * nobody needed only causes one spurious wake-up and recheck.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "log.h"
#include "shm/ring.h"
#include "shm/ring_impl.h"

int
ring_data_fd(const struct ring *r)
{
	return r->data_fd;
}

int
ring_space_fd(const struct ring *r)
{
	return r->space_fd;
}

static int
ring_wait_ready(struct ring *r)
{
	if (r->read_pos <
	    atomic_load_explicit(&r->ctl->tail, memory_order_relaxed)) {
		ring_consumer_resume(r);
	}
	return ring_ready_hdr(r, r->read_pos) != 0;
}

int
ring_consumer_prepare_wait(struct ring *r)
{
	atomic_store_explicit(&r->ctl->consumer_waiting, 1,
	                      memory_order_relaxed);
	/* R3: the flag before the recheck. */
	ring_fence_sleeper(r->bulk);
	if (ring_wait_ready(r)) {
		atomic_store_explicit(&r->ctl->consumer_waiting, 0,
		                      memory_order_relaxed);
		return 0;
	}
	ring_count(0, &r->ctl->consumer_waits, 1);
	return 1;
}

static void
ring_drain(int fd)
{
	eventfd_t v;

	/* The fd is non-blocking: EAGAIN means another waiter drained it. */
	if (fd >= 0 && eventfd_read(fd, &v) < 0 && errno != EAGAIN) {
		log_err("eventfd_read(%d) failed: %s", fd, strerror(errno));
	}
}

void
ring_consumer_woken(struct ring *r)
{
	ring_drain(r->data_fd);
	atomic_store_explicit(&r->ctl->consumer_waiting, 0,
	                      memory_order_relaxed);
}

int
ring_producer_prepare_wait(struct ring *r, uint32_t len)
{
	if (r->mp) {
		atomic_fetch_add_explicit(&r->ctl->producer_waiting, 1,
		                          memory_order_relaxed);
	} else {
		atomic_store_explicit(&r->ctl->producer_waiting, 1,
		                      memory_order_relaxed);
	}
	/* R3 */
	ring_fence_sleeper(r->bulk);
	if (ring_has_space(r, len)) {
		if (!r->mp) {
			atomic_store_explicit(&r->ctl->producer_waiting, 0,
			                      memory_order_relaxed);
		}
		return 0;
	}
	ring_count(r->mp, &r->ctl->producer_waits, 1);
	return 1;
}

void
ring_producer_woken(struct ring *r)
{
	ring_drain(r->space_fd);
	if (!r->mp) {
		atomic_store_explicit(&r->ctl->producer_waiting, 0,
		                      memory_order_relaxed);
	}
}

static int64_t
ring_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps on fd for at most the time left, capped at RING_POLL_CAP. */
static int
ring_sleep(int fd, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t left = RING_POLL_CAP;

	if (deadline >= 0) {
		left = deadline - ring_now_ms();
		if (left <= 0) {
			return -ETIMEDOUT;
		}
		if (left > RING_POLL_CAP) {
			left = RING_POLL_CAP;
		}
	}
	if (poll(&pfd, fd >= 0 ? 1 : 0, (int)left) < 0 && errno != EINTR) {
		log_err("poll(eventfd %d) failed: %s", fd, strerror(errno));
		return -errno;
	}
	if (deadline >= 0 && ring_now_ms() >= deadline) {
		return -ETIMEDOUT;
	}
	return 0;
}

int
ring_wait_data(struct ring *r, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ring_now_ms() + timeout_ms;
	int rc;

	for (int i = 0; i < RING_SPIN; i++) {
		if (ring_wait_ready(r)) {
			return 0;
		}
		ring_cpu_relax();
	}
	for (;;) {
		if (!ring_consumer_prepare_wait(r)) {
			return 0;
		}
		rc = ring_sleep(r->data_fd, deadline);
		ring_consumer_woken(r);
		if (ring_wait_ready(r)) {
			return 0;
		}
		if (rc < 0) {
			return rc;
		}
	}
}

int
ring_wait_space(struct ring *r, uint32_t len, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ring_now_ms() + timeout_ms;
	int rc;

	if (len > ring_max_record(r)) {
		return -EMSGSIZE;
	}
	for (int i = 0; i < RING_SPIN; i++) {
		if (ring_has_space(r, len)) {
			return 0;
		}
		ring_cpu_relax();
	}
	for (;;) {
		if (!ring_producer_prepare_wait(r, len)) {
			return 0;
		}
		rc = ring_sleep(r->space_fd, deadline);
		ring_producer_woken(r);
		if (ring_has_space(r, len)) {
			return 0;
		}
		if (rc < 0) {
			return rc;
		}
	}
}
