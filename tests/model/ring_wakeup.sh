#!/bin/sh
# Model-checks the ring wake-up protocols with spin (skipped without spin):
# ring_wakeup.pml (SP flags) and ring_wakeup_mp.pml (MP producer tokens).
# Each model has a mutant that must fail, which proves the model can see a
# lost wake-up at all.
command -v spin >/dev/null 2>&1 || exit 77
dir_src=${PROBED_SRCDIR:-$(dirname "$0")/../..}/tests/model
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1

check() {
	spin -a "$1" >/dev/null && ${CC:-cc} -O2 -o pan pan.c &&
	    ./pan -m200000 >out.txt 2>&1
	grep -q "errors: 0" out.txt
}

fail=0
for m in ring_wakeup ring_wakeup_mp; do
	if ! check "$dir_src/$m.pml"; then
		cat out.txt
		echo "$m.pml: the protocol can lose a wake-up"
		fail=1
	fi
done

# SP mutant: the consumer sets its flag after the recheck, not before.
sed -e 's|cwait = 1;\t/\* ring_consumer_prepare_wait \*/|skip;|' \
    -e 's|:: tail + tpend < head -> cwait = 0|:: tail + tpend < head -> skip|' \
    -e 's|atomic { data_efd > 0 -> data_efd = 0 };|cwait = 1; atomic { data_efd > 0 -> data_efd = 0 };|' \
    "$dir_src/ring_wakeup.pml" >mutant.pml
if check mutant.pml; then
	echo "ring_wakeup.pml: the mutant without the recheck passed"
	fail=1
fi
# SP mutant: the sleepers fence only themselves (a CPU fence where the
# wakers have none), so a waker's buffered store can hide from the recheck.
sed -e 's|^\tatomic { head = head + hpend; hpend = 0; tail = tail + tpend; tpend = 0 }|\tskip|' \
    "$dir_src/ring_wakeup.pml" >mutant_fence.pml
if check mutant_fence.pml; then
	echo "ring_wakeup.pml: the mutant without membarrier passed"
	fail=1
fi
# MP mutant: one token however many producers sleep (a plain flag).
sed 's|tokens = tokens + n|tokens = tokens + (n > 0)|' \
    "$dir_src/ring_wakeup_mp.pml" >mutant_mp.pml
if check mutant_mp.pml; then
	echo "ring_wakeup_mp.pml: the one-token mutant passed"
	fail=1
fi
[ $fail = 0 ] && echo "ring wake-up models: no lost wake-up; all three mutants caught"
exit $fail
