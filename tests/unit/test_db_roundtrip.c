/*
 * The api half and the db half of the db protocol, for real: a shared
 * segment as the supervisor makes it, the db worker forked the way
 * supervisor/spawn.c forks it (worker_run(db_main)), and dbclient_call
 * from this process's threads with the api loop in a thread of its own.
 *
 * Driven by tests/integration/db_roundtrip.py, which owns the PostgreSQL
 * server (its address in PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)
 * and sends one command a line on stdin; each answer is one JSON line on
 * stdout:
 *
 *   call TIMEOUT_MS OP ARGS   {"status", "ms", "result", "queryopen", "db"}
 *   bench OP N THREADS        {"n", "median_us", "p99_us", "max_us", "errors"}
 *   restart                   kill -9 the db worker, repair, fork a new one
 *   freeze | thaw             SIGSTOP | SIGCONT the db worker
 *   pid                       {"pid"} of the db worker
 *   late                      {"late"}: answers dropped after a timeout
 *   stats                     {"db", "api"}: the two stats pages
 *   quit
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/dbclient.h"
#include "conf.h"
#include "log.h"
#include "shm/segment.h"
#include "worker.h"

static struct shm_segment *seg;
static struct conf conf;
static struct dbclient *client;
static struct ev_loop *api_loop;
static ev_async api_stop;
static pthread_t api_thread;
static pid_t db_pid;

static void
rt_fail(const char *what)
{
	fprintf(stderr, "test_db_roundtrip: %s\n", what);
	exit(1);
}

static const char *
rt_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

static void
rt_conf(void)
{
	conf.user = (char *)"nobody";
	conf.log_level = LOG_LVL_INFO;
	conf.db.mode = CONF_DB_EXTERNAL;
	conf.db.host = (char *)rt_env("PGHOST", "localhost");
	conf.db.port = atoi(rt_env("PGPORT", "5432"));
	conf.db.user = (char *)rt_env("PGUSER", "probed");
	conf.db.password = (char *)rt_env("PGPASSWORD", "");
	conf.db.name = (char *)rt_env("PGDATABASE", "probed");
	conf.db.poolsize = atoi(rt_env("PROBED_DB_POOLSIZE", "4"));
}

#if defined(__SANITIZE_ADDRESS__)
#define RT_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_LEAK_CHECK 1
#endif
#endif

#ifdef RT_LEAK_CHECK
static void
rt_term_cb(struct ev_loop *loop, ev_signal *sw, int revents)
{
	struct worker *w = sw->data;

	w->on_stop(w);
}

/*
 * worker_run() ends with _exit(), which LeakSanitizer never sees. Under
 * the sanitizers the child does what worker_run does for the db worker
 * and ends with exit(), so that a leak in the db worker fails the test.
 */
static void
rt_worker_run(struct worker *w, int ready_fd)
{
	static ev_signal term;

	log_init(NULL, conf.log_level);
	w->ready_fd = ready_fd;
	w->loop = ev_default_loop(EVFLAG_AUTO);
	ev_signal_init(&term, rt_term_cb, SIGTERM);
	term.data = w;
	ev_signal_start(w->loop, &term);
	ev_unref(w->loop);
	if (shm_segment_attach(w->shm, w->shm_id) != 0) {
		_exit(WORKER_EXIT_PERMANENT);
	}
	exit(db_main(w));
}
#endif

/* As spawn_start: fork, worker_run in the child, wait for "ready". */
static void
rt_spawn_db(void)
{
	struct worker w;
	char buf[16];
	int p[2];

	if (pipe(p) == -1) {
		rt_fail("pipe failed");
	}
	db_pid = fork();
	if (db_pid == -1) {
		rt_fail("fork failed");
	}
	if (db_pid == 0) {
		close(p[0]);
		memset(&w, 0, sizeof(w));
		w.name = "db";
		w.conf = &conf;
		w.shm = seg;
		w.shm_id = SHM_PROC_DB;
#ifdef RT_LEAK_CHECK
		rt_worker_run(&w, p[1]);
#else
		worker_run(&w, db_main, p[1]);
#endif
	}
	close(p[1]);
	if (read(p[0], buf, sizeof(buf)) <= 0) {
		rt_fail("the db worker did not report ready");
	}
	close(p[0]);
}

/* As the supervisor after reaping: repair what the dead one held. */
static void
rt_reap_db(int sig)
{
	int st;

	kill(db_pid, sig);
	if (waitpid(db_pid, &st, 0) != db_pid) {
		rt_fail("waitpid failed");
	}
	shm_segment_repair_producer(seg, SHM_PROC_DB);
	shm_segment_repair_consumer(seg, SHM_PROC_DB);
	db_pid = 0;
}

static void
rt_stop_cb(struct ev_loop *loop, ev_async *as, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *
rt_api_run(void *arg)
{
	ev_run(api_loop, 0);
	return NULL;
}

static double
rt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
rt_call(int timeout, const char *op, const char *args_text)
{
	struct dbclient_timing t;
	json_t *args = json_loads(args_text, 0, NULL);
	json_t *result = NULL, *out;
	double t0 = rt_now();
	int status;

	status = dbclient_call(client, op, args, &result, timeout, &t);
	out = json_pack("{s:i, s:f, s:o, s:f, s:f}", "status", status, "ms",
	                (rt_now() - t0) * 1e3, "result",
	                result != NULL ? result : json_null(), "queryopen",
	                t.queryopen, "db", t.db);
	json_dumpf(out, stdout, JSON_COMPACT);
	json_decref(out);
	json_decref(args);
}

struct rt_bench {
	const char *op;
	int n;
	double *us;
	int errors;
};

static void *
rt_bench_run(void *arg)
{
	struct rt_bench *b = arg;

	for (int i = 0; i < b->n; i++) {
		json_t *result = NULL;
		double t0 = rt_now();
		int status = dbclient_call(client, b->op, NULL, &result,
		                           DBCLIENT_TIMEOUT_MS, NULL);

		b->us[i] = (rt_now() - t0) * 1e6;
		b->errors += status != 200;
		json_decref(result);
	}
	return NULL;
}

static int
rt_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
rt_bench(const char *op, int n, int nthreads)
{
	struct rt_bench b[16];
	pthread_t th[16];
	double *all;
	int total, errors = 0, k = 0;

	if (nthreads < 1 || nthreads > 16 || n < 1) {
		rt_fail("bench: bad arguments");
	}
	total = n * nthreads;
	all = calloc((size_t)total, sizeof(*all));
	for (int i = 0; i < nthreads; i++) {
		b[i] = (struct rt_bench){op, n, all + (size_t)i * n, 0};
		pthread_create(&th[i], NULL, rt_bench_run, &b[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		errors += b[i].errors;
	}
	qsort(all, (size_t)total, sizeof(*all), rt_cmp);
	k = (int)(total * 0.99);
	printf("{\"n\":%d,\"threads\":%d,\"median_us\":%.1f,\"p99_us\":%.1f,"
	       "\"max_us\":%.1f,\"errors\":%d}",
	       total, nthreads, all[total / 2], all[k < total ? k : total - 1],
	       all[total - 1], errors);
	free(all);
}

static void
rt_command(char *line)
{
	char op[64], args[8192];
	int a, b;

	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "call %d %63s %8191[^\n]", &a, op, args) == 3) {
		rt_call(a, op, args);
	} else if (sscanf(line, "bench %63s %d %d", op, &a, &b) == 3) {
		rt_bench(op, a, b);
	} else if (strcmp(line, "restart") == 0) {
		rt_reap_db(SIGKILL);
		rt_spawn_db();
		printf("{\"pid\":%d}", (int)db_pid);
	} else if (strcmp(line, "freeze") == 0 || strcmp(line, "thaw") == 0) {
		kill(db_pid, line[0] == 'f' ? SIGSTOP : SIGCONT);
		printf("{}");
	} else if (strcmp(line, "pid") == 0) {
		printf("{\"pid\":%d}", (int)db_pid);
	} else if (strcmp(line, "stats") == 0) {
		json_t *st = json_pack("{s:o, s:o}", "db",
		                       shm_stats_json(seg, SHM_PROC_DB), "api",
		                       shm_stats_json(seg, SHM_PROC_API));

		json_dumpf(st, stdout, JSON_COMPACT);
		json_decref(st);
	} else if (strcmp(line, "late") == 0) {
		printf("{\"late\":%llu}",
		       (unsigned long long)dbclient_late(client));
	} else {
		printf("{\"error\":\"unknown command\"}");
	}
	printf("\n");
	fflush(stdout);
}

int
main(void)
{
	struct shm_params params = {.n_trace = 1};
	char line[8400];
	int st;

	log_init("test", LOG_LVL_INFO);
	rt_conf();
	seg = shm_segment_create(&params);
	if (seg == NULL || shm_segment_attach(seg, SHM_PROC_API) != 0) {
		rt_fail("shm_segment_create failed");
	}
	/* Before any thread exists, as the supervisor does. */
	rt_spawn_db();
	api_loop = ev_loop_new(EVFLAG_AUTO);
	client = dbclient_new(api_loop, seg);
	if (client == NULL) {
		rt_fail("dbclient_new failed");
	}
	ev_async_init(&api_stop, rt_stop_cb);
	ev_async_start(api_loop, &api_stop);
	pthread_create(&api_thread, NULL, rt_api_run, NULL);
	printf("{\"pid\":%d}\n", (int)db_pid);
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "quit", 4) == 0) {
			break;
		}
		rt_command(line);
	}

	ev_async_send(api_loop, &api_stop);
	pthread_join(api_thread, NULL);
	dbclient_free(client);
	ev_loop_destroy(api_loop);
	kill(db_pid, SIGCONT);
	kill(db_pid, SIGTERM);
	if (waitpid(db_pid, &st, 0) != db_pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "test_db_roundtrip: db worker ended with %#x\n",
		        st);
		return 1;
	}
	shm_segment_destroy(seg);
	return 0;
}
