/*
 * Rings: the asymmetric fence behind rule R3 (ring.c).
 *
 * R3 needs a store-load fence on both sides of a sleep: the sleeper between
 * its flag store and its recheck, the waker between its record (or tail)
 * store and its flag load. A CPU fence drains the store buffer, and that
 * store buffer holds the header store to a line the other core is reading:
 * the waker would pay a cross-core round trip on every commit and release,
 * to protect a sleep that happens once in thousands of records.
 *
 * So on RING_BULK rings (trace chunks: many records, few sleeps) the cost
 * moves to the sleeper, who is about to make a syscall anyway:
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) makes every running thread of
 * every registered process execute a full fence before it returns, and a
 * thread that is not running has passed one in its context switch. A
 * registered waker then needs only a compiler barrier: either its flag
 * load comes after that fence and sees the flag, or it came before, and
 * the fence drained its record store before the sleeper rechecks. This is
 * the pairing liburcu's membarrier flavour and folly's asymmetric barrier
 * rest on. The price is the IPI: on this project's VMs a wake-up round
 * trip with both sides asleep went from ~22 us to ~50 us, which is why
 * request and response rings, whose every record is a round trip, keep
 * the CPU fence on both sides.
 *
 * Registration is per process (per mm) and not inherited by fork, so a
 * process registers when it creates or attaches a ring and again in every
 * child (pthread_atfork). A process that is not registered, or a kernel
 * without the command, keeps the CPU fence on the waker side: the heavy
 * side then still pairs with it, so mixing the two is always correct.
 */
#include "config.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "shm/ring.h"
#include "shm/ring_impl.h"

/* 0 not yet asked, 1 usable, -1 not. Same answer in every process. */
static _Atomic int ring_fence_state;
_Atomic int ring_fence_registered;
static _Atomic int ring_fence_atfork;
static _Atomic int ring_fence_failed;

static long
ring_membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static int
ring_fence_usable(void)
{
	int s = atomic_load_explicit(&ring_fence_state, memory_order_relaxed);
	long cmds;

	if (s != 0) {
		return s > 0;
	}
	cmds = ring_membarrier(MEMBARRIER_CMD_QUERY);
	s = cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	            (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)
	        ? 1
	        : -1;
	/* Seccomp may answer the query and refuse the command: try it. */
	if (s > 0 && ring_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) < 0) {
		s = -1;
	}
	if (s < 0) {
		log_info("rings: membarrier(GLOBAL_EXPEDITED) unavailable, "
		         "using a CPU fence on every commit and release");
	}
	atomic_store_explicit(&ring_fence_state, s, memory_order_relaxed);
	return s > 0;
}

static void
ring_fence_child(void)
{
	atomic_store_explicit(&ring_fence_registered, 0, memory_order_relaxed);
	ring_fence_register();
}

void
ring_fence_register(void)
{
	if (atomic_load_explicit(&ring_fence_registered,
	                         memory_order_relaxed) ||
	    !ring_fence_usable()) {
		return;
	}
	if (!atomic_exchange(&ring_fence_atfork, 1)) {
		int rc = pthread_atfork(NULL, NULL, ring_fence_child);

		if (rc != 0) {
			/* Children would start unregistered and keep the CPU
			 * fence: slower, still correct. */
			log_warn("pthread_atfork failed: %s", strerror(rc));
		}
	}
	if (ring_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) < 0) {
		log_warn("membarrier(REGISTER_GLOBAL_EXPEDITED) failed: %s",
		         strerror(errno));
		return;
	}
	atomic_store_explicit(&ring_fence_registered, 1, memory_order_relaxed);
}

void
ring_fence_sleeper(int bulk)
{
	if (!bulk) {
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	if (ring_fence_usable() &&
	    ring_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) {
		return;
	}
	/* A registered waker skipped its fence: a wake-up may be lost, and
	 * RING_POLL_CAP bounds how long a sleeper waits for it. */
	if (ring_fence_usable() && !atomic_exchange(&ring_fence_failed, 1)) {
		log_err("membarrier(GLOBAL_EXPEDITED) failed: %s; wake-ups "
		        "may wait up to %d ms",
		        strerror(errno), RING_POLL_CAP);
	}
	atomic_thread_fence(memory_order_seq_cst);
}
