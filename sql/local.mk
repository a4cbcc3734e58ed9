# sql: rules for this folder, included from the root Makefile.am
#
# Migrations are installed in $(sqldir) ($(pkgdatadir)/sql), which the db
# worker reads at start; add each new NNN_name.sql here.
dist_sql_DATA += sql/001_init.sql
EXTRA_DIST += sql/queries.h
