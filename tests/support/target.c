/*
 * The trace target: a small program whose functions probed's tests put
 * uprobes on. It is ours, so the number of calls is known exactly.
 *
 *   target [-w] [-f FIFO] [-s SECONDS] [ADD_COUNT [WORK_COUNT]]
 *
 * It prints "pid N" first, so that a test knows whom it traces. With -w it
 * then waits for one line on stdin, with -f for one line on FIFO, before
 * the first call: a tracer needs that time to attach. Then it calls
 * target_add ADD_COUNT times and target_work WORK_COUNT times (defaults 10
 * and 5), or with -s both in a loop for SECONDS (benchmarks). It ends with
 * "done add=N work=M sum=S", the calls it made.
 *
 * Built with -O0 -g -fno-inline and -rdynamic so that both functions keep
 * their own symbols and are really called, once per call in the source. Only
 * the two probed functions carry the "target_" prefix: a "target_*" wildcard
 * matches exactly them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The build's CFLAGS (-O2) come after the target's -O0: noipa (or optnone)
 * keeps GCC from cloning a function into a .constprop copy the probe
 * would not see, whatever the optimisation level.
 */
#if defined(__clang__)
#define EXPORT __attribute__((noinline, optnone, used, visibility("default")))
#else
#define EXPORT __attribute__((noipa, used, visibility("default")))
#endif

EXPORT int target_add(int a, int b);
EXPORT int target_work(int n);

/* Keeps the compiler from proving anything about the calls. */
static volatile int sink;

EXPORT int
target_add(int a, int b)
{
	return a + b;
}

EXPORT int
target_work(int n)
{
	int acc = 0;

	for (int i = 0; i < n % 64; i++) {
		acc += i * n;
	}
	return acc;
}

static int
wait_line(int fd)
{
	char c;
	ssize_t n;

	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0 || c == '\n') {
			return n < 0 ? -1 : 0;
		}
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0) {
		fprintf(stderr, "target: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: target [-w] [-f FIFO] [-s SECONDS] "
	                "[ADD_COUNT [WORK_COUNT]]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long adds = 10, works = 5, seconds = 0, nadd = 0, nwork = 0;
	const char *fifo = NULL;
	int wait_stdin = 0, opt, fd;
	long long sum = 0;

	while ((opt = getopt(argc, argv, "wf:s:")) != -1) {
		switch (opt) {
		case 'w':
			wait_stdin = 1;
			break;
		case 'f':
			fifo = optarg;
			break;
		case 's':
			seconds = parse_count(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind < argc) {
		adds = parse_count(argv[optind++]);
	}
	if (optind < argc) {
		works = parse_count(argv[optind++]);
	}
	if (optind < argc) {
		usage();
	}
	printf("pid %ld\n", (long)getpid());
	fflush(stdout);
	if (wait_stdin && wait_line(STDIN_FILENO) == -1) {
		fprintf(stderr, "target: read(stdin): %s\n", strerror(errno));
		return 1;
	}
	if (fifo != NULL) {
		fd = open(fifo, O_RDONLY);
		if (fd == -1 || wait_line(fd) == -1) {
			fprintf(stderr, "target: %s: %s\n", fifo,
			        strerror(errno));
			return 1;
		}
		close(fd);
	}
	if (seconds > 0) {
		double end = now() + (double)seconds;

		/* Check the clock every 1024 calls: cheap next to a probe. */
		while (now() < end) {
			for (int i = 0; i < 1024; i++) {
				sum += target_add(i, 1);
				sum += target_work(i);
				nadd++;
				nwork++;
			}
		}
	} else {
		for (long i = 0; i < adds; i++, nadd++) {
			sum += target_add((int)i, 1);
		}
		for (long i = 0; i < works; i++, nwork++) {
			sum += target_work((int)i);
		}
	}
	sink = (int)sum;
	printf("done add=%ld work=%ld sum=%lld\n", nadd, nwork, sum);
	return 0;
}
