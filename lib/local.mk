# lib: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += lib/log.c lib/log.h
