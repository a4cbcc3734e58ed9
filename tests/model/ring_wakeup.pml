/*
 * The ring wake-up protocol (rule R3 in shm/ring.c, the fences in
 * shm/ring_fence.c), one producer and one consumer, checked with spin for
 * lost wake-ups: the model has no poll timeout, so a wake-up lost while
 * the other side sleeps is a deadlock, which spin reports as an invalid
 * end state.
 *
 * Memory model. A waker's store that makes the condition true (the
 * producer's head, the consumer's tail) goes into its store buffer
 * (hpend, tpend) and reaches memory whenever the drain process says, or
 * when the waker itself runs a locked instruction (the exchange that takes
 * a flag): the waker loads the flag with only a compiler barrier between,
 * so the load may pass the buffered store, as on x86. A side's own loads
 * see its own buffer. The sleeper's heavy fence, membarrier(), is one
 * atomic step that drains every store buffer. Flag stores are modelled as
 * visible at once: the sleeper's is followed by its own membarrier before
 * anything depends on it, and a late flag clear only costs a spurious
 * wake-up. The ring is abstracted to record counts.
 *
 *   spin -a ring_wakeup.pml && cc -O2 -o pan pan.c && ./pan -m100000
 */
#define CAP   2 /* records the ring holds */
#define TOTAL 5 /* records sent */

byte head = 0;
byte tail = 0;
byte hpend = 0;	/* producer's buffered head increments */
byte tpend = 0;	/* consumer's buffered tail increments */
bit cwait = 0;	/* consumer_waiting */
bit pwait = 0;	/* producer_waiting */
byte data_efd = 0;
byte space_efd = 0;

/* ring_fence_sleeper on a RING_BULK ring: membarrier() drains every
 * store buffer. (Other rings fence both sides on the CPU: the old model,
 * sequential consistency for these accesses.) */
inline membarrier() {
	atomic { head = head + hpend; hpend = 0; tail = tail + tpend; tpend = 0 }
}

/* ring_signal: load the flag (no fence: it may pass our buffered store),
 * exchange it to 0 (locked: drains our buffer), write the eventfd. */
inline signal(flag, efd, mine, pend) {
	if
	:: flag == 1 ->
		atomic { mine = mine + pend; pend = 0; old = flag; flag = 0 };
		if
		:: old == 1 -> efd++
		:: else -> skip
		fi
	:: else -> skip
	fi
}

active proctype drain() {
end:	do
	:: atomic { hpend > 0 -> head++; hpend-- }
	:: atomic { tpend > 0 -> tail++; tpend-- }
	od
}

active proctype producer() {
	byte sent = 0;
	bit old;

	do
	:: sent == TOTAL -> break
	:: else ->
		if
		:: head + hpend - tail < CAP ->
			hpend++;	/* reserve, write, commit */
			sent++;
			signal(cwait, data_efd, head, hpend)
		:: else ->
			pwait = 1;	/* ring_producer_prepare_wait */
			membarrier();
			if
			:: head + hpend - tail < CAP -> pwait = 0
			:: else ->
				/* poll, then ring_producer_woken */
				atomic { space_efd > 0 -> space_efd = 0 };
				pwait = 0
			fi
		fi
	od
}

active proctype consumer() {
	byte got = 0;
	bit old;

	do
	:: got == TOTAL -> break
	:: else ->
		if
		:: tail + tpend < head ->
			tpend++;	/* peek, release */
			got++;
			signal(pwait, space_efd, tail, tpend)
		:: else ->
			cwait = 1;	/* ring_consumer_prepare_wait */
			membarrier();
			if
			:: tail + tpend < head -> cwait = 0
			:: else ->
				atomic { data_efd > 0 -> data_efd = 0 };
				cwait = 0
			fi
		fi
	od;
	membarrier();
	assert(head == TOTAL && tail == TOTAL)
}
