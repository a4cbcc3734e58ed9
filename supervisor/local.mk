# supervisor: rules for this folder, included from the root Makefile.am
sbin_PROGRAMS += probed
probed_SOURCES = supervisor/main.c
probed_LDADD = $(PROBED_LIBS)
