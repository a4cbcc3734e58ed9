# lib: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += lib/log.c lib/log.h
libprobed_a_SOURCES += lib/conf.c lib/conf.h lib/conf_int.h lib/conf_keys.c \
	lib/conf_value.c lib/conf_yaml.c
# Fuzz targets may be added from any folder's local.mk, and lib/local.mk is
# included first: the list starts here. The pattern is in tests/local.mk.
FUZZ_TARGETS =
libprobed_a_SOURCES += lib/clock.h
libprobed_a_SOURCES += lib/why.c lib/why.h
