# contrib: rules for this folder, included from the root Makefile.am
