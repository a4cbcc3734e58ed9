sbin_PROGRAMS += probed
probed_SOURCES = supervisor/main.c supervisor/proc.h supervisor/super.h \
	supervisor/procs.c supervisor/policy.c supervisor/spawn.c \
	supervisor/super.c supervisor/reload.c supervisor/statedir.c \
	supervisor/control.c supervisor/notify.c supervisor/rings.c \
	supervisor/superstats.c
probed_LDADD = $(PROBED_LIBS)

sbin_PROGRAMS += probectl
probectl_SOURCES = supervisor/probectl.c
probectl_CFLAGS = $(AM_CFLAGS)
probectl_LDADD = $(JANSSON_LIBS)

dist_man_MANS += man/probed.8 man/probectl.8 man/probed.conf.5
