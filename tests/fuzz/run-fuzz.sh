#!/bin/sh
# make check runs each fuzz target through this script (see tests/local.mk):
#	run-fuzz.sh MODE SECONDS SRCDIR TARGET
# MODE libfuzzer: fuzz for SECONDS on a scratch copy of the seed corpus, so
# neither the source tree (read-only under distcheck) nor the corpus grows;
# a crashing input is kept as TARGET-without-.fuzz-crash-* in the build tree.
# MODE standalone: the target replays its seeds and mutations of them.
# The seeds of dir/NAME.fuzz are in SRCDIR/dir/NAME.corpus.
set -eu

mode=$1
secs=$2
srcdir=$3
target=$4
name=${target#./}
name=${name%.fuzz}
corpus=$srcdir/$name.corpus

if [ ! -d "$corpus" ]; then
	echo "run-fuzz: no seed corpus $corpus for $target" >&2
	exit 99
fi

case $mode in
standalone)
	exec "$target" "$corpus"
	;;
libfuzzer)
	work=$(mktemp -d "${TMPDIR:-/tmp}/probed-fuzz.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	cp -R "$corpus"/. "$work"/
	chmod -R u+w "$work"
	# max_total_time=0 would mean "forever": replay the seeds instead.
	if [ "$secs" -le 0 ]; then
		"$target" -runs=0 "$work"
	else
		"$target" -max_total_time="$secs" -timeout=10 \
		    -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="$name-" "$work"
	fi
	;;
*)
	echo "run-fuzz: unknown mode $mode" >&2
	exit 99
	;;
esac
