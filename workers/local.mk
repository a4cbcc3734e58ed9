# workers: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += workers/worker.h workers/runtime.c
libprobed_a_SOURCES += workers/fault.c workers/postgres.c workers/trace.c \
	workers/uploader.c

# trace scripts, running the tool, cutting its output into chunks
libprobed_a_SOURCES += workers/trace_script.c workers/trace_script.h \
	workers/trace_run.c workers/trace_run_check.c workers/trace_run.h \
	workers/chunker.c workers/chunker.h
check_PROGRAMS += tests/unit/test_trace_script tests/unit/test_trace_run \
	tests/unit/test_trace_bpftrace tests/unit/test_chunker
TESTS += tests/unit/test_trace_script tests/unit/test_trace_run \
	tests/unit/test_trace_bpftrace tests/unit/test_chunker
tests_unit_test_trace_script_SOURCES = tests/unit/test_trace_script.c
tests_unit_test_trace_script_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_trace_script_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
tests_unit_test_trace_run_SOURCES = tests/unit/test_trace_run.c \
	tests/unit/trace_collect.h
tests_unit_test_trace_run_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_trace_run_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
tests_unit_test_trace_bpftrace_SOURCES = tests/unit/test_trace_bpftrace.c \
	tests/unit/trace_collect.h
tests_unit_test_trace_bpftrace_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_trace_bpftrace_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
tests_unit_test_chunker_SOURCES = tests/unit/test_chunker.c
tests_unit_test_chunker_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_chunker_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)

# tests/support (trace issue): the trace target and the fake platform.
# The target keeps every call and symbol (-O0 -fno-inline, -rdynamic) and
# no sanitizer, so that uprobes see exactly the calls the source makes.
check_PROGRAMS += tests/support/target
tests_support_target_SOURCES = tests/support/target.c
tests_support_target_CFLAGS = $(WARN_CFLAGS) -O0 -g -fno-inline
tests_support_target_LDFLAGS = -rdynamic
EXTRA_DIST += tests/support/fake_platform.py
# The bpftrace data path and the upload protocol without probed: real
# bpftrace on the target, its output through the fake platform.
TESTS += tests/integration/trace_bpftrace_direct.py
EXTRA_DIST += tests/integration/trace_bpftrace_direct.py
libprobed_a_SOURCES += workers/api.c workers/db.c
# trace issue: begin (shm/runs, trace workers, uploader, trace endpoints)
libprobed_a_SOURCES += workers/trace_proto.h
libprobed_a_SOURCES += workers/trace_job.c workers/trace_job.h
libprobed_a_SOURCES += workers/uploader.h workers/uploader_http.c workers/uploader_body.c \
	workers/uploader_run.c
libprobed_a_SOURCES += workers/uploader_spool.c workers/uploader_spool.h
# trace issue: end
# db worker: connections, request queue, ops, migrations (workers/db_int.h).
# Migrations come from the source tree when a program runs from this build
# tree, from $(pkgdatadir)/sql once installed (workers/db_migrate.c).
libprobed_a_SOURCES += workers/db_int.h workers/db_queue.c workers/db_ops.c \
	workers/db_migrate.c
AM_CPPFLAGS += -DPROBED_SRC_SQLDIR='"$(abs_top_srcdir)/sql"' \
	-DPROBED_BUILD_DIR='"$(abs_top_builddir)"'
# The db protocol end to end: tests/integration/db_roundtrip.py runs this
# harness against a real PostgreSQL (it needs one, so it is no test alone).
check_PROGRAMS += tests/unit/test_db_roundtrip
tests_unit_test_db_roundtrip_SOURCES = tests/unit/test_db_roundtrip.c
tests_unit_test_db_roundtrip_LDADD = $(PROBED_LIBS)
# db_ops without a database: the query each request selects, values as
# parameters only
check_PROGRAMS += tests/unit/test_dbclient_ops
TESTS += tests/unit/test_dbclient_ops
tests_unit_test_dbclient_ops_SOURCES = tests/unit/test_dbclient_ops.c
tests_unit_test_dbclient_ops_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_dbclient_ops_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
