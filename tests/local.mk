# tests: rules for this folder, included from the root Makefile.am
#
# Fuzz targets. A target is one C file defining
#	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
# and a folder of seed inputs, one per file. Add one from your own local.mk
# (the program's name ends in .fuzz; its seeds are NAME.corpus beside it):
#	FUZZ_TARGETS += api/selector.fuzz
#	api_selector_fuzz_SOURCES = api/fuzz_selector.c
#	api_selector_fuzz_CFLAGS = $(FUZZ_CFLAGS)
#	api_selector_fuzz_LDADD = $(FUZZ_LDADD)
# and put the seeds in api/selector.corpus/. Nothing else: the rules below
# build it, run it in make check and ship its corpus in make dist.
#
# With --enable-fuzzers (clang) a target links libFuzzer and make check
# fuzzes it for FUZZ_SECONDS (make check FUZZ_SECONDS=300) on a scratch
# copy of its corpus; a crash is kept as NAME-crash-* in the build tree.
# Otherwise tests/fuzz/standalone.c is its main(): it replays the seeds and
# a few thousand deterministic mutations of them, so every target keeps
# compiling and running under the sanitizers of the build. Either binary
# replays one input by hand: tests/fuzz/conf.fuzz FILE.
FUZZ_SECONDS = 20
check_PROGRAMS += $(FUZZ_TARGETS)
TESTS += $(FUZZ_TARGETS)
TEST_EXTENSIONS += .fuzz
FUZZ_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/fuzz/run-fuzz.sh
AM_FUZZ_LOG_FLAGS = $(FUZZ_MODE) $(FUZZ_SECONDS) $(top_srcdir)
EXTRA_DIST += tests/fuzz/run-fuzz.sh $(FUZZ_TARGETS:.fuzz=.corpus)

if FUZZERS
# Coverage for the code under test too, not only the target file.
AM_CFLAGS += -fsanitize=fuzzer-no-link
FUZZ_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
FUZZ_LDADD = $(PROBED_LIBS)
FUZZ_MODE = libfuzzer
else
FUZZ_CFLAGS = $(AM_CFLAGS)
FUZZ_LDADD = tests/fuzz/libfuzzstandalone.a $(PROBED_LIBS)
FUZZ_MODE = standalone
noinst_LIBRARIES += tests/fuzz/libfuzzstandalone.a
tests_fuzz_libfuzzstandalone_a_SOURCES = tests/fuzz/standalone.c
endif

FUZZ_TARGETS += tests/fuzz/conf.fuzz
tests_fuzz_conf_fuzz_SOURCES = tests/fuzz/fuzz_conf.c
tests_fuzz_conf_fuzz_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_conf_fuzz_LDADD = $(FUZZ_LDADD)

# Unit tests (cmocka), one program per module.
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c tests/unit/test_conf.h \
	tests/unit/test_conf_values.c tests/unit/test_conf_files.c
tests_unit_test_conf_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_conf_LDADD = $(PROBED_LIBS) $(CMOCKA_LIBS)
