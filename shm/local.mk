# shm: the shared-memory data plane (segment, rings, messages, stats pages).
libprobed_a_SOURCES += shm/ring.c shm/ring.h shm/ring_impl.h \
	shm/ring_wait.c shm/ring_repair.c shm/ring_fence.c shm/msg.c shm/msg.h \
	shm/seqlock.h shm/stats.c shm/stats_read.c shm/stats.h \
	shm/segment.c shm/segment_ops.c shm/segment.h

# Unit tests (cmocka), in-process.
check_PROGRAMS += tests/unit/test_ring
TESTS += tests/unit/test_ring
tests_unit_test_ring_SOURCES = tests/unit/test_ring.c
tests_unit_test_ring_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ring_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_ring_threads
TESTS += tests/unit/test_ring_threads
tests_unit_test_ring_threads_SOURCES = tests/unit/test_ring_threads.c
tests_unit_test_ring_threads_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ring_threads_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_stats
TESTS += tests/unit/test_stats
tests_unit_test_stats_SOURCES = tests/unit/test_stats.c
tests_unit_test_stats_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_stats_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_ring_segment
TESTS += tests/unit/test_ring_segment
tests_unit_test_ring_segment_SOURCES = tests/unit/test_ring_segment.c
tests_unit_test_ring_segment_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_ring_segment_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)

# Multi-process tests: real processes on a real segment.
check_PROGRAMS += tests/integration/ring_stress
TESTS += tests/integration/ring_stress
tests_integration_ring_stress_SOURCES = tests/integration/ring_stress.c
tests_integration_ring_stress_LDADD = $(PROBED_LIBS)

check_PROGRAMS += tests/integration/ring_crash
TESTS += tests/integration/ring_crash
tests_integration_ring_crash_SOURCES = tests/integration/ring_crash.c
tests_integration_ring_crash_LDADD = $(PROBED_LIBS)

# Benchmark, not run by make check: tests/bench/ring prints the figures.
noinst_PROGRAMS += tests/bench/ring
tests_bench_ring_SOURCES = tests/bench/ring.c tests/bench/ring_base.c \
	tests/bench/ring_bench.h
tests_bench_ring_LDADD = $(PROBED_LIBS)
# trace issue: begin (shm/runs, trace workers, uploader, trace endpoints)
libprobed_a_SOURCES += shm/runs.c shm/runs.h
check_PROGRAMS += tests/unit/test_runs
TESTS += tests/unit/test_runs
tests_unit_test_runs_SOURCES = tests/unit/test_runs.c
tests_unit_test_runs_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_runs_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
# trace issue: end

# Model check of the wake-up protocol (spin; skipped when not installed).
TESTS += tests/model/ring_wakeup.sh
EXTRA_DIST += tests/model/ring_wakeup.sh tests/model/ring_wakeup.pml \
	tests/model/ring_wakeup_mp.pml

check_PROGRAMS += tests/integration/ring_wakeup
TESTS += tests/integration/ring_wakeup
tests_integration_ring_wakeup_SOURCES = tests/integration/ring_wakeup.c
tests_integration_ring_wakeup_LDADD = $(PROBED_LIBS)

# The in-process tests that run threads against shared memory, for a
# ThreadSanitizer build: ./configure --enable-tsan CC=clang, then
# make check TESTS='$(TSAN_TESTS)' (contrib/quickstart check does).
# Not test_auth: Debian's liburcu is not built for TSan, so the frees its
# call_rcu and workqueue threads make look unsynchronised to it.
TSAN_TESTS = tests/unit/test_ring tests/unit/test_ring_threads \
	tests/unit/test_stats tests/unit/test_ring_segment tests/unit/test_runs \
	tests/unit/test_dbclient
