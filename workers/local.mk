# workers: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += workers/worker.h workers/runtime.c
