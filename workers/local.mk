# workers: rules for this folder, included from the root Makefile.am
libprobed_a_SOURCES += workers/worker.h workers/runtime.c
libprobed_a_SOURCES += workers/fault.c workers/postgres.c workers/trace.c \
	workers/uploader.c
libprobed_a_SOURCES += workers/api.c workers/db.c
