# api: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += api/http.c api/http.h api/admin.c api/admin.h
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_http_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test_http_server
TESTS += tests/unit/test_http_server
tests_unit_test_http_server_SOURCES = tests/unit/test_http_server.c
tests_unit_test_http_server_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_http_server_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
libprobed_a_SOURCES += api/auth.c api/auth.h api/auth_cache.c api/auth_cache.h
check_PROGRAMS += tests/unit/test_auth
TESTS += tests/unit/test_auth
tests_unit_test_auth_SOURCES = tests/unit/test_auth.c
tests_unit_test_auth_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_auth_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
libprobed_a_SOURCES += api/template.c api/template.h api/template_lex.c \
	api/template_lex.h
check_PROGRAMS += tests/unit/test_template
TESTS += tests/unit/test_template
tests_unit_test_template_SOURCES = tests/unit/test_template.c
tests_unit_test_template_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_template_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
FUZZ_TARGETS += tests/fuzz/auth.fuzz tests/fuzz/template.fuzz
tests_fuzz_auth_fuzz_SOURCES = tests/fuzz/fuzz_auth.c
tests_fuzz_auth_fuzz_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_auth_fuzz_LDADD = $(FUZZ_LDADD)
tests_fuzz_template_fuzz_SOURCES = tests/fuzz/fuzz_template.c
tests_fuzz_template_fuzz_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_template_fuzz_LDADD = $(FUZZ_LDADD)
libprobed_a_SOURCES += api/dbclient.c api/dbclient.h
# the lambda endpoints, FD1 debug options, API-listener authentication
libprobed_a_SOURCES += api/apiauth.c api/apiauth.h api/fd1.c api/fd1.h \
	api/lambda.c api/lambda.h
# Authorization headers for the integration tests (no argon2 in Python)
check_PROGRAMS += tests/support/mkauth
tests_support_mkauth_SOURCES = tests/support/mkauth.c
tests_support_mkauth_LDADD = $(ARGON2_LIBS)
# dbclient: framing, timeouts, answers routed by corr, late answers
check_PROGRAMS += tests/unit/test_dbclient
TESTS += tests/unit/test_dbclient
tests_unit_test_dbclient_SOURCES = tests/unit/test_dbclient.c
tests_unit_test_dbclient_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_dbclient_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
FUZZ_TARGETS += tests/fuzz/fd1.fuzz
tests_fuzz_fd1_fuzz_SOURCES = tests/fuzz/fuzz_fd1.c
tests_fuzz_fd1_fuzz_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fd1_fuzz_LDADD = $(FUZZ_LDADD)
# trace issue: begin (shm/runs, trace workers, uploader, trace endpoints)
libprobed_a_SOURCES += api/trace_api.c api/trace_api.h api/runlog.c api/runlog.h
# trace issue: end
# Benchmark, not run by make check: python3 tests/bench/http_load.py from a build
EXTRA_DIST += tests/bench/http_load.py
