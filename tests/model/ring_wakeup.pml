/*
 * The ring wake-up protocol (rule R3 in shm/ring.c), one producer and one
 * consumer, checked with spin for lost wake-ups: the model has no poll
 * timeout, so a wake-up lost while the other side sleeps is a deadlock,
 * which spin reports as an invalid end state.
 *
 * Statements run in sequential consistency: the seq_cst fences in the C
 * code (between a side's flag store and its recheck, and between the other
 * side's head/tail store and its flag load) give that for these accesses.
 * The ring is abstracted to record counts; what is checked is the
 * flag/eventfd handshake, including the exchange that lets only one waker
 * pay for the syscall and the stale eventfd count a race can leave.
 *
 *   spin -a ring_wakeup.pml && cc -O2 -o pan pan.c && ./pan -m100000
 */
#define CAP   2 /* records the ring holds */
#define TOTAL 5 /* records sent */

byte head = 0;
byte tail = 0;
bit cwait = 0;	/* consumer_waiting */
bit pwait = 0;	/* producer_waiting */
byte data_efd = 0;
byte space_efd = 0;

/* ring_signal: load the flag, exchange it to 0, write the eventfd. */
inline signal(flag, efd) {
	if
	:: flag == 1 ->
		atomic { old = flag; flag = 0 };
		if
		:: old == 1 -> efd++
		:: else -> skip
		fi
	:: else -> skip
	fi
}

active proctype producer() {
	byte sent = 0;
	bit old;

	do
	:: sent == TOTAL -> break
	:: else ->
		if
		:: head - tail < CAP ->
			head++;		/* reserve, write, commit */
			sent++;
			signal(cwait, data_efd)
		:: else ->
			pwait = 1;	/* ring_producer_prepare_wait */
			if
			:: head - tail < CAP -> pwait = 0
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
		:: tail < head ->
			tail++;		/* peek, release */
			got++;
			signal(pwait, space_efd)
		:: else ->
			cwait = 1;	/* ring_consumer_prepare_wait */
			if
			:: tail < head -> cwait = 0
			:: else ->
				atomic { data_efd > 0 -> data_efd = 0 };
				cwait = 0
			fi
		fi
	od;
	assert(head == TOTAL && tail == TOTAL)
}
