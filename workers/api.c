/*
 * The api worker: every HTTP surface, served by civetweb.
 *
 * Two civetweb contexts, one per listener: the admin listener
 * (admin-host:admin-port) and the API listener (host:port). Each context
 * has one request handler, http_dispatch(), with its own route tables, so
 * a request on the admin port can never reach an API route and the other
 * way round: the separation is structural, not a check on the port. Two
 * contexts cost one more master thread; start-up stays about a
 * millisecond.
 *
 * Order at start: bind both (civetweb sets SO_REUSEADDR, so a restarted
 * worker rebinds at once), drop root, report ready, run the libev loop.
 * A bind failure exits 1 (the supervisor restarts us by policy), except
 * EACCES (a privileged port without root), which no restart can fix.
 *
 * Stop: civetweb's master thread only looks at its stop flag between
 * poll()s on the listening sockets, which time out after two seconds.
 * mg_stop() runs in a helper thread while the loop connects to our own
 * listeners every few milliseconds to wake that poll, so a stop takes
 * milliseconds.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "api/admin.h"
#include "api/runlog.h"
#include "api/apiauth.h"
#include "api/dbclient.h"
#include "api/fd1.h"
#include "api/http.h"
#include "api/lambda.h"
#include "api/trace_api.h"
#include "log.h"
#include "worker.h"

#define API_ADMIN_THREADS   2
#define API_DEFAULT_THREADS 4
/* Ports below this need root (or CAP_NET_BIND_SERVICE) to bind. */
#define API_PRIVILEGED_PORTS 1024

struct api_listener {
	const char *name;
	char ports[80];               /* civetweb's listening_ports value */
	struct sockaddr_storage poke; /* where a stop wake-up connects */
	socklen_t poke_len;
	struct http_listener http;
	struct mg_context *ctx;
	struct apiauth *auth; /* NULL: no authentication (admin) */
};

struct api {
	struct worker *w;
	struct api_listener admin;
	struct api_listener api;
	ev_async wake; /* keeps the loop running; requests will use it */
	ev_async done; /* the stopper thread finished */
	ev_timer poke; /* wakes civetweb's master threads while stopping */
	pthread_t stopper;
	int stopper_started;
};

/* The API listener's surfaces: lambda, pprof, fd1, meta go here. */
static const struct http_route *const api_tables[] = {
    lambda_routes,
    trace_api_routes,
    fd1_routes,
    NULL,
};
static const struct http_route *const api_admin_tables[] = {
    admin_routes,
    NULL,
};

static double
api_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The db worker's client, for every handler (api/dbclient.h). */
static struct dbclient *api_db;

struct dbclient *
api_dbclient(void)
{
	return api_db;
}

/* Set while mg_start runs: a failure there is logged once by
 * api_listener_start with its reason; civetweb's own line says less. */
static volatile int api_starting;

static int
api_log_message(const struct mg_connection *c, const char *message)
{
	if (api_starting) {
		log_debug("civetweb: %s", message);
	} else {
		log_warn("civetweb: %s", message);
	}
	return 1;
}

/*
 * host as in settings.yml: "*" (every address, IPv4 and IPv6), "*4",
 * "*6", an IP address, or a name resolved once here. Fills the civetweb
 * listening_ports value and the address a stop wake-up connects to.
 */
static int
api_listener_addr(struct api_listener *l, const char *host, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->poke;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->poke;
	struct addrinfo hints, *res = NULL;
	char ip[INET6_ADDRSTRLEN];
	int rc;

	memset(&l->poke, 0, sizeof(l->poke));
	if (host == NULL || host[0] == '\0' || strcmp(host, "*") == 0 ||
	    strcmp(host, "*4") == 0 || strcmp(host, "*6") == 0) {
		if (host != NULL && strcmp(host, "*6") == 0) {
			snprintf(l->ports, sizeof(l->ports), "[::]:%d", port);
		} else if (host != NULL && strcmp(host, "*") == 0 &&
		           mg_check_feature(MG_FEATURES_IPV6)) {
			snprintf(l->ports, sizeof(l->ports), "+%d", port);
		} else {
			snprintf(l->ports, sizeof(l->ports), "%d", port);
		}
		if (host != NULL && strcmp(host, "*6") == 0) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)port);
			sin6->sin6_addr = in6addr_loopback;
			l->poke_len = sizeof(*sin6);
		} else {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			l->poke_len = sizeof(*sin);
		}
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* An address needs no lookup (and AI_ADDRCONFIG would ask the
	 * kernel for every interface): try it as numeric first. */
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
		rc = getaddrinfo(host, NULL, &hints, &res);
	}
	if (rc != 0 || res == NULL) {
		log_err("getaddrinfo(%s) for the %s listener failed: %s", host,
		        l->name, rc ? gai_strerror(rc) : "no address");
		return -1;
	}
	memcpy(&l->poke, res->ai_addr, res->ai_addrlen);
	l->poke_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (l->poke.ss_family == AF_INET6) {
		sin6->sin6_port = htons((uint16_t)port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(l->ports, sizeof(l->ports), "[%s]:%d", ip, port);
	} else {
		sin->sin_port = htons((uint16_t)port);
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(l->ports, sizeof(l->ports), "%s:%d", ip, port);
	}
	return 0;
}

/*
 * Returns 0, or the exit code: 1 for a failure a restart may fix (the port
 * is still held by someone), WORKER_EXIT_PERMANENT for EACCES.
 */
static int
api_listener_start(struct api_listener *l, int threads)
{
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data error;
	char nthreads[16];
	char text[256] = "";
	unsigned code = 0;
	int saved;
	const char *options[] = {
	    "listening_ports",
	    l->ports,
	    "num_threads",
	    nthreads,
	    "enable_keep_alive",
	    "yes",
	    "keep_alive_timeout_ms",
	    "5000",
	    "request_timeout_ms",
	    "30000",
	    "tcp_nodelay",
	    "1",
	    NULL,
	};

	snprintf(nthreads, sizeof(nthreads), "%d", threads);
	memset(&cb, 0, sizeof(cb));
	cb.log_message = api_log_message;
	cb.http_error = http_error_cb;
	/* Every civetweb thread reads the auth cache under RCU; FD1's
	 * dispatch time starts at begin_request. */
	cb.init_thread = apiauth_thread_init;
	cb.exit_thread = apiauth_thread_exit;
	cb.begin_request = fd1_begin_request;
	init.callbacks = &cb;
	init.user_data = &l->http;
	init.configuration_options = options;
	error.code = &code;
	error.text = text;
	error.text_buffer_size = sizeof(text);
	errno = 0;
	api_starting = 1;
	l->ctx = mg_start2(&init, &error);
	saved = errno;
	api_starting = 0;
	if (l->ctx == NULL) {
		/* civetweb's text is generic ("Failed to setup server
		 * ports"); errno still holds bind()'s reason. */
		log_err("listening on %s (%s) failed: %s (%s)", l->ports,
		        l->name, saved ? strerror(saved) : "unknown reason",
		        text);
		return saved == EACCES ? WORKER_EXIT_PERMANENT : 1;
	}
	mg_set_request_handler(l->ctx, "/", http_dispatch, &l->http);
	/* Before any route, unknown paths included (apiauth.h). */
	if (l->auth != NULL) {
		mg_set_auth_handler(l->ctx, "/", apiauth_check, l->auth);
	}
	return 0;
}

/* A connection to our own listener wakes civetweb's master thread out of
 * its poll(), so that it sees the stop flag. */
static void
api_poke_listener(const struct api_listener *l)
{
	int fd;

	if (l->ctx == NULL || l->poke_len == 0) {
		return;
	}
	fd = socket(l->poke.ss_family,
	            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return;
	}
	(void)connect(fd, (const struct sockaddr *)&l->poke, l->poke_len);
	close(fd);
}

static void
api_poke_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct api *a = t->data;

	api_poke_listener(&a->admin);
	api_poke_listener(&a->api);
}

static void *
api_stopper(void *arg)
{
	struct api *a = arg;

	if (a->api.ctx != NULL) {
		mg_stop(a->api.ctx);
	}
	if (a->admin.ctx != NULL) {
		mg_stop(a->admin.ctx);
	}
	ev_async_send(a->w->loop, &a->done);
	return NULL;
}

static void
api_done_cb(struct ev_loop *loop, ev_async *as, int revents)
{
	struct api *a = as->data;

	pthread_join(a->stopper, NULL);
	a->stopper_started = 0;
	a->api.ctx = NULL;
	a->admin.ctx = NULL;
	ev_timer_stop(loop, &a->poke);
	ev_async_stop(loop, &a->wake);
	ev_async_stop(loop, &a->done);
	ev_break(loop, EVBREAK_ALL);
}

static void
api_on_stop(struct worker *w)
{
	struct api *a = w->data;
	int rc;

	rc = pthread_create(&a->stopper, NULL, api_stopper, a);
	if (rc != 0) {
		/* Stop without draining: the process exits right after. */
		log_err("pthread_create(stopper) failed: %s", strerror(rc));
		ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	a->stopper_started = 1;
	ev_timer_start(w->loop, &a->poke);
}

static void
api_wake_cb(struct ev_loop *loop, ev_async *as, int revents)
{
	/* Nothing posts work yet; the request rings will. */
}

static int
api_start(struct api *a)
{
	const struct conf *conf = a->w->conf;
	sigset_t all, old;
	int threads =
	    conf->api_threads > 0 ? conf->api_threads : API_DEFAULT_THREADS;
	int rc;

	if (api_listener_addr(&a->admin, conf->admin_host, conf->admin_port) ==
	        -1 ||
	    api_listener_addr(&a->api, conf->host, conf->port) == -1) {
		return WORKER_EXIT_PERMANENT;
	}
	/* civetweb's threads inherit this mask: TERM and INT then reach
	 * the loop's thread only. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = api_listener_start(&a->admin, API_ADMIN_THREADS);
	if (rc == 0) {
		rc = api_listener_start(&a->api, threads);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
api_main(struct worker *w)
{
	static struct api a;
	static struct apiauth auth;
	double t0;
	int early, rc;

	memset(&a, 0, sizeof(a));
	a.w = w;
	a.admin.name = "admin";
	a.admin.http.name = "admin";
	a.admin.http.tables = api_admin_tables;
	a.admin.http.conf = w->conf;
	a.api.name = "api";
	a.api.http.name = "api";
	a.api.http.tables = api_tables;
	a.api.http.conf = w->conf;
	a.api.http.arg = &auth;
	a.api.auth = &auth;
	w->data = &a;
	trace_api_init(w);
	w->on_stop = api_on_stop;

	ev_async_init(&a.wake, api_wake_cb);
	ev_async_init(&a.done, api_done_cb);
	ev_timer_init(&a.poke, api_poke_cb, 0., 0.005);
	a.wake.data = &a;
	a.done.data = &a;
	a.poke.data = &a;
	ev_async_start(w->loop, &a.wake);
	ev_async_start(w->loop, &a.done);
	/* Before the listeners: a handler may call the db at once. NULL
	 * (logged) leaves dbclient_call answering 503. */
	if (w->shm != NULL) {
		api_db = dbclient_new(w->loop, w->shm);
	}

	/* This thread makes and frees the auth cache: an RCU reader too. */
	auth_cache_thread_init();
	if (apiauth_init(&auth, w->conf) == -1) {
		auth_cache_thread_exit();
		return 1;
	}

	t0 = api_now_ms();
	/* Drop root before civetweb starts when no port needs it: its
	 * threads then never run as root, and setuid() does not have to be
	 * broadcast to them. */
	early = w->conf->port >= API_PRIVILEGED_PORTS &&
	        w->conf->admin_port >= API_PRIVILEGED_PORTS;
	if (early && worker_drop_privileges(w) == -1) {
		return WORKER_EXIT_PERMANENT;
	}
	mg_init_library(MG_FEATURES_DEFAULT);
	rc = api_start(&a);
	if (rc != 0) {
		/* Exiting: the kernel closes whatever did bind; mg_stop
		 * would only add its two-second poll timeout. */
		apiauth_free(&auth);
		auth_cache_thread_exit();
		return rc;
	}
	if (!early && worker_drop_privileges(w) == -1) {
		return WORKER_EXIT_PERMANENT;
	}
	log_info("serving API on %s and admin on %s (civetweb started in "
	         "%.2f ms)",
	         a.api.ports, a.admin.ports, api_now_ms() - t0);
	worker_ready(w);
	/* Not fatal: traces run without their record in PostgreSQL. */
	(void)runlog_start(w);

	ev_run(w->loop, 0);

	if (a.stopper_started) {
		pthread_join(a.stopper, NULL);
	}
	/* A run-log call in flight ends at its timeout, the loop being
	 * gone; then civetweb's threads and the run log are gone: no call
	 * can be waiting. */
	runlog_stop();
	dbclient_free(api_db);
	api_db = NULL;
	apiauth_free(&auth);
	auth_cache_thread_exit();
	mg_exit_library();
	return 0;
}
