# contrib: rules for this folder, included from the root Makefile.am
# Commented example configs, installed under $(docdir)/examples; a unit
# test (tests/unit/test_conf) loads them so they never go stale.
dist_example_DATA += contrib/settings.yml contrib/lambda-settings.yml
