#!/bin/sh
# Model-checks the ring wake-up protocol with spin (skipped without spin).
# A mutant with the flag set after the recheck must fail: proves the model
# can see a lost wake-up at all.
command -v spin >/dev/null 2>&1 || exit 77
src=${PROBED_SRCDIR:-$(dirname "$0")/../..}/tests/model/ring_wakeup.pml
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

check() {
	spin -a "$1" >/dev/null && ${CC:-cc} -O2 -o pan pan.c &&
	    ./pan -m100000 >out.txt 2>&1
	grep -q "errors: 0" out.txt
}

if ! check "$src"; then
	cat out.txt
	echo "ring_wakeup.pml: the protocol can lose a wake-up"
	exit 1
fi
sed -e 's|cwait = 1;\t/\* ring_consumer_prepare_wait \*/|skip;|' \
    -e 's|:: tail < head -> cwait = 0|:: tail < head -> skip|' \
    -e 's|atomic { data_efd > 0 -> data_efd = 0 };|cwait = 1; atomic { data_efd > 0 -> data_efd = 0 };|' \
    "$src" >mutant.pml
if check mutant.pml; then
	echo "ring_wakeup.pml: the mutant without the recheck passed"
	exit 1
fi
echo "ring_wakeup.pml: no lost wake-up; the mutant is caught"
