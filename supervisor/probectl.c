/*
 * probectl: the operator's client for probed's control socket. Sends one
 * request line, prints the answer as a table, or raw with --json. The
 * protocol is described in supervisor/control.c and probectl(8).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define DEFAULT_SOCKET "/var/lib/probed/probed.sock"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: probectl [-s SOCKET] [--json] COMMAND [ARG]\n"
	    "\n"
	    "Commands:\n"
	    "  status          every worker: pid, state, uptime, restarts, "
	    "last exit\n"
	    "  restart NAME    restart a worker (api, db, trace/0, uploader,\n"
	    "                  postgres) or every worker of a kind (trace)\n"
	    "  reload          re-read the configuration\n"
	    "  stop            stop probed\n"
	    "  version         probed's version\n"
	    "  rings           the shared-memory rings and their figures\n"
	    "  stats [NAME]    a process's stats page (default supervisor)\n"
	    "  traces          every trace run in the run table: worker, "
	    "state,\n"
	    "                  tool pid, exit code, bytes, chunks sent and "
	    "acked\n"
	    "\n"
	    "  -s, --socket PATH  control socket (default $PROBED_SOCKET or "
	    "%s)\n"
	    "  -j, --json         print the raw JSON answer\n"
	    "  -h, --help         show this help\n",
	    DEFAULT_SOCKET);
}

static int
probectl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "probectl: socket path too long: %s\n", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr,
		        "probectl: cannot connect to %s: %s (is probed "
		        "running?)\n",
		        path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends one line, reads one line back. */
static json_t *
probectl_call(int fd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	json_error_t jerr;
	json_t *ans = NULL;
	ssize_t n;

	if (text == NULL || buf == NULL)
		goto out;
	if (dprintf(fd, "%s\n", text) < 0) {
		fprintf(stderr, "probectl: write failed: %s\n",
		        strerror(errno));
		goto out;
	}
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap *= 2);

			if (nb == NULL)
				goto out;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	ans = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (ans == NULL)
		fprintf(stderr, "probectl: bad answer from probed: %s\n",
		        len == 0 ? "connection closed" : jerr.text);
out:
	free(text);
	free(buf);
	return ans;
}

static void
probectl_uptime(double secs, char *buf, size_t len)
{
	long s = (long)secs;

	if (s >= 86400)
		snprintf(buf, len, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%.1fs", secs);
}

static void
probectl_print_status(json_t *ans)
{
	json_t *workers = json_object_get(ans, "workers"), *w;
	int wname = 4, wstate = 5;
	char up[32];
	size_t i;

	json_array_foreach(workers, i, w)
	{
		int n =
		    (int)strlen(json_string_value(json_object_get(w, "name")));
		int m =
		    (int)strlen(json_string_value(json_object_get(w, "state")));

		wname = n > wname ? n : wname;
		wstate = m > wstate ? m : wstate;
	}
	printf("%-*s  %7s  %-*s  %9s  %8s  %s\n", wname, "NAME", "PID", wstate,
	       "STATE", "UPTIME", "RESTARTS", "LAST EXIT");
	json_array_foreach(workers, i, w)
	{
		int pid = (int)json_integer_value(json_object_get(w, "pid"));
		char pids[16] = "-";

		snprintf(up, sizeof(up), "-");
		if (pid != 0) {
			snprintf(pids, sizeof(pids), "%d", pid);
			probectl_uptime(
			    json_number_value(json_object_get(w, "uptime")), up,
			    sizeof(up));
		}
		printf("%-*s  %7s  %-*s  %9s  %8lld  %s\n", wname,
		       json_string_value(json_object_get(w, "name")), pids,
		       wstate, json_string_value(json_object_get(w, "state")),
		       up,
		       (long long)json_integer_value(
		           json_object_get(w, "restarts")),
		       json_string_value(json_object_get(w, "last_exit")));
	}
}

static void
probectl_print_rings(json_t *ans)
{
	json_t *rings = json_object_get(ans, "rings"), *r;
	size_t i;

	printf("%-16s %-10s %-10s %10s %10s %12s %12s %8s %8s %8s\n", "RING",
	       "PRODUCER", "CONSUMER", "SIZE", "USED", "IN", "OUT", "DISCARDS",
	       "WAITS", "WAKEUPS");
	json_array_foreach(rings, i, r)
	{
		printf(
		    "%-16s %-10s %-10s %10lld %10lld %12lld %12lld %8lld "
		    "%8lld %8lld\n",
		    json_string_value(json_object_get(r, "name")),
		    json_string_value(json_object_get(r, "producer")),
		    json_string_value(json_object_get(r, "consumer")),
		    (long long)json_integer_value(json_object_get(r, "size")),
		    (long long)json_integer_value(json_object_get(r, "used")),
		    (long long)json_integer_value(
		        json_object_get(r, "records_in")),
		    (long long)json_integer_value(
		        json_object_get(r, "records_out")),
		    (long long)json_integer_value(
		        json_object_get(r, "discards")),
		    (long long)json_integer_value(
		        json_object_get(r, "producer_waits")),
		    (long long)json_integer_value(
		        json_object_get(r, "consumer_wakeups")));
	}
}

static void
probectl_print_stats(json_t *ans)
{
	json_t *metrics =
	    json_object_get(json_object_get(ans, "stats"), "metrics");
	json_t *m;
	size_t i;

	printf("%-28s %-9s %14s  %s\n", "METRIC", "TYPE", "VALUE", "UNIT");
	json_array_foreach(metrics, i, m)
	{
		const char *type =
		    json_string_value(json_object_get(m, "type"));
		const char *unit =
		    json_string_value(json_object_get(m, "unit"));
		const char *name =
		    json_string_value(json_object_get(m, "name"));

		if (type != NULL && strcmp(type, "histogram") == 0) {
			printf("%-28s %-9s %14lld  %s (count; p50 %lld, p99 "
			       "%lld, max %lld)\n",
			       name, type,
			       (long long)json_integer_value(
			           json_object_get(m, "count")),
			       unit,
			       (long long)json_integer_value(
			           json_object_get(m, "p50")),
			       (long long)json_integer_value(
			           json_object_get(m, "p99")),
			       (long long)json_integer_value(
			           json_object_get(m, "max")));
			continue;
		}
		printf(
		    "%-28s %-9s %14lld  %s\n", name, type,
		    (long long)json_integer_value(json_object_get(m, "value")),
		    unit);
	}
}

/* A JSON integer, or "-" for null (no tool pid, no exit code yet). */
static const char *
probectl_int_or_dash(json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v))
		return "-";
	snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	return buf;
}

static void
probectl_print_traces(json_t *ans)
{
	json_t *traces = json_object_get(ans, "traces"), *r;
	char pid[24], code[24], started[32];
	size_t i;

	printf("%6s  %-8s  %-8s  %7s  %5s  %10s  %6s  %6s  %-20s  %s\n", "RUN",
	       "WORKER", "STATE", "PID", "CODE", "BYTES", "SENT", "ACKED",
	       "STARTED", "PATH");
	json_array_foreach(traces, i, r)
	{
		time_t t =
		    (time_t)json_integer_value(json_object_get(r, "started"));
		struct tm tm;

		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ",
		             &tm) == 0)
			snprintf(started, sizeof(started), "-");
		printf(
		    "%6lld  %-8s  %-8s  %7s  %5s  %10lld  %6lld  %6lld  "
		    "%-20s  %s\n",
		    (long long)json_integer_value(json_object_get(r, "run_id")),
		    json_string_value(json_object_get(r, "worker")),
		    json_string_value(json_object_get(r, "state")),
		    probectl_int_or_dash(json_object_get(r, "pid"), pid,
		                         sizeof(pid)),
		    probectl_int_or_dash(json_object_get(r, "code"), code,
		                         sizeof(code)),
		    (long long)json_integer_value(json_object_get(r, "bytes")),
		    (long long)json_integer_value(
		        json_object_get(r, "chunks_sent")),
		    (long long)json_integer_value(
		        json_object_get(r, "chunks_acked")),
		    started, json_string_value(json_object_get(r, "path")));
	}
}

static void
probectl_print(const char *cmd, json_t *ans)
{
	if (strcmp(cmd, "status") == 0)
		probectl_print_status(ans);
	else if (strcmp(cmd, "rings") == 0)
		probectl_print_rings(ans);
	else if (strcmp(cmd, "stats") == 0)
		probectl_print_stats(ans);
	else if (strcmp(cmd, "traces") == 0)
		probectl_print_traces(ans);
	else if (strcmp(cmd, "version") == 0)
		printf("probed %s (%s)\n",
		       json_string_value(json_object_get(ans, "version")),
		       json_string_value(json_object_get(ans, "commit")));
	else
		printf("ok\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = getenv("PROBED_SOCKET"), *cmd;
	json_t *req, *ans;
	int ch, fd, json = 0, rc = 1;

	if (path == NULL)
		path = DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	req = json_pack("{s:s}", "cmd", cmd);
	if (argc - optind == 2)
		json_object_set_new(req, "arg", json_string(argv[optind + 1]));
	fd = probectl_connect(path);
	if (fd == -1) {
		json_decref(req);
		return 1;
	}
	ans = probectl_call(fd, req);
	close(fd);
	json_decref(req);
	if (ans == NULL)
		return 1;
	if (json) {
		char *t = json_dumps(ans, JSON_COMPACT);

		printf("%s\n", t);
		free(t);
	} else if (json_is_true(json_object_get(ans, "ok"))) {
		probectl_print(cmd, ans);
	}
	if (json_is_true(json_object_get(ans, "ok")))
		rc = 0;
	else if (!json)
		fprintf(stderr, "probectl: %s\n",
		        json_string_value(json_object_get(ans, "error")));
	json_decref(ans);
	return rc;
}
