# api: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += api/auth.c api/auth.h api/auth_cache.c api/auth_cache.h
check_PROGRAMS += tests/unit/test_auth
TESTS += tests/unit/test_auth
tests_unit_test_auth_SOURCES = tests/unit/test_auth.c
tests_unit_test_auth_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_auth_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
libprobed_a_SOURCES += api/http.c api/http.h api/admin.c api/admin.h
check_PROGRAMS += tests/unit/test_http
TESTS += tests/unit/test_http
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_http_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
