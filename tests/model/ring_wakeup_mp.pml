/*
 * The MP ring's producer wake-up (shm/ring_wait.c): two producers that may
 * sleep at the same time count themselves into producer_waiting; the
 * consumer takes the count and writes that many tokens on a semaphore
 * eventfd; a woken producer takes one token. Checked with spin for a lost
 * wake-up (no poll timeout in the model: a producer left asleep with
 * space free is a deadlock, an invalid end state). Statements run in
 * sequential consistency: this model checks the counting; the fences
 * under it (a waker with no CPU fence, a sleeper with membarrier) are
 * checked in ring_wakeup.pml.
 *
 *   spin -a ring_wakeup_mp.pml && cc -O2 -o pan pan.c && ./pan -m200000
 */
#define CAP   1 /* records the ring holds: full after every reservation */
#define EACH  2 /* records per producer */

byte head = 0;
byte tail = 0;
byte pwait = 0;		/* producer_waiting: a count in MP rings */
byte tokens = 0;	/* the space eventfd, EFD_SEMAPHORE */
bit cwait = 0;
byte data_efd = 0;

proctype producer() {
	byte sent = 0;
	byte h;
	bit old;

	do
	:: sent == EACH -> break
	:: else ->
		/* ring_reserve_mp: CAS on the head if there is space */
		atomic {
			if
			:: head - tail < CAP -> head++; h = 1
			:: else -> h = 0
			fi
		};
		if
		:: h == 1 ->
			sent++;
			/* commit, then wake the consumer if it sleeps */
			if
			:: cwait == 1 ->
				atomic { old = cwait; cwait = 0 };
				if
				:: old == 1 -> data_efd++
				:: else -> skip
				fi
			:: else -> skip
			fi
		:: else ->
			pwait++;	/* prepare_wait: count ourselves in */
			if
			:: head - tail < CAP -> skip	/* never taken back */
			:: else ->
				/* poll, then read one token */
				atomic { tokens > 0 -> tokens-- }
			fi
		fi
	od
}

active proctype consumer() {
	byte got = 0;
	byte n;

	do
	:: got == 2 * EACH -> break
	:: else ->
		if
		:: tail < head ->
			tail++;
			got++;
			/* ring_signal: take the count, one token each */
			if
			:: pwait > 0 ->
				atomic { n = pwait; pwait = 0 };
				tokens = tokens + n
			:: else -> skip
			fi
		:: else ->
			cwait = 1;
			if
			:: tail < head -> cwait = 0
			:: else ->
				atomic { data_efd > 0 -> data_efd = 0 };
				cwait = 0
			fi
		fi
	od
}

init {
	run producer();
	run producer()
}
