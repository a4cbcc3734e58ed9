/*
 * libcurl's multi interface driven by libev: curl tells which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to call it back
 * (CURLMOPT_TIMERFUNCTION); libev calls curl_multi_socket_action. One
 * multi handle keeps its connections alive between requests (HTTP/1.1
 * keep-alive), so runs in parallel share a few connections.
 *
 * Authorization is "<endpoint-uuid><argon2i encoded hash of secret>"
 * (NOTES.md): argon2i, v=19, m=4096, t=3, p=1, a fresh 16-byte random
 * salt. One hash costs milliseconds of CPU, so it is made once and renewed
 * every UPL_AUTH_RENEW seconds, not per request.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <argon2.h>
#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "uploader.h"

#define UPL_AUTH_RENEW 600.0
#define UPL_AUTH_MAX   512

struct upl_http {
	struct ev_loop *loop;
	const struct conf *conf;
	CURLM *multi;
	ev_timer timer;
	ev_timer renew;
	char url[2048];
	char auth[UPL_AUTH_MAX];
	struct curl_slist *headers;
	struct upl_req *reqs; /* in flight */
	int busy;
};

struct upl_req {
	struct upl_req *next;
	struct upl_http *h;
	CURL *easy;
	char *body;
	upl_http_done_fn done;
	void *arg;
	char err[CURL_ERROR_SIZE];
};

struct upl_sock {
	ev_io io;
	struct upl_http *h;
};

static int
upl_http_auth(struct upl_http *h)
{
	char enc[256], line[UPL_AUTH_MAX];
	uint8_t salt[16];
	struct curl_slist *l = NULL, *n;
	int rc;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		log_err("getrandom(16) failed: %s", strerror(errno));
		return -1;
	}
	rc = argon2i_hash_encoded(3, 4096, 1, h->conf->secret,
	                          strlen(h->conf->secret), salt, sizeof(salt),
	                          32, enc, sizeof(enc));
	if (rc != ARGON2_OK) {
		log_err("argon2i_hash_encoded failed: %s",
		        argon2_error_message(rc));
		return -1;
	}
	snprintf(line, sizeof(line), "Authorization: %s%s",
	         h->conf->endpoint_uuid, enc);
	n = curl_slist_append(l, line);
	if (n == NULL) {
		goto fail;
	}
	l = n;
	if ((n = curl_slist_append(l, "Content-Type: application/json")) ==
	    NULL) {
		goto fail;
	}
	/* No "Expect: 100-continue" round trip before each body. */
	if ((n = curl_slist_append(l, "Expect:")) == NULL) {
		goto fail;
	}
	/* Requests in flight keep the list they were given. */
	if (h->busy == 0) {
		curl_slist_free_all(h->headers);
	}
	h->headers = l;
	return 0;
fail:
	log_err("curl_slist_append failed: out of memory");
	curl_slist_free_all(l);
	return -1;
}

static void
upl_http_renew_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct upl_http *h = w->data;

	/* A renewal while requests run would free headers in use; try
	 * again a little later. */
	if (h->busy > 0) {
		ev_timer_set(w, 1.0, UPL_AUTH_RENEW);
		ev_timer_again(loop, w);
		return;
	}
	(void)upl_http_auth(h);
	w->repeat = UPL_AUTH_RENEW;
	ev_timer_again(loop, w);
}

static void
upl_http_check(struct upl_http *h)
{
	struct upl_req *r;
	CURLMsg *m;
	long status = 0;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE) {
			continue;
		}
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		                  (char **)&r);
		if (m->data.result == CURLE_OK) {
			curl_easy_getinfo(m->easy_handle,
			                  CURLINFO_RESPONSE_CODE, &status);
		} else {
			status = 0;
			if (r->err[0] == '\0') {
				snprintf(r->err, sizeof(r->err), "%s",
				         curl_easy_strerror(m->data.result));
			}
		}
		curl_multi_remove_handle(h->multi, r->easy);
		curl_easy_cleanup(r->easy);
		for (struct upl_req **pp = &h->reqs; *pp != NULL;
		     pp = &(*pp)->next) {
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		}
		h->busy--;
		r->done(r->arg, status, r->err);
		free(r->body);
		free(r);
	}
}

static void
upl_http_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct upl_sock *s = (struct upl_sock *)w;
	struct upl_http *h = s->h;
	int running, flags = 0;

	if (revents & EV_READ) {
		flags |= CURL_CSELECT_IN;
	}
	if (revents & EV_WRITE) {
		flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(h->multi, w->fd, flags, &running);
	upl_http_check(h);
}

static void
upl_http_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct upl_http *h = w->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	upl_http_check(h);
}

static int
upl_http_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct upl_http *h = userp;
	struct upl_sock *s = sockp;
	int ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			ev_io_stop(h->loop, &s->io);
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL) {
			log_err("calloc(socket watcher) failed: %s",
			        strerror(errno));
			return -1;
		}
		s->h = h;
		curl_multi_assign(h->multi, fd, s);
	} else {
		ev_io_stop(h->loop, &s->io);
	}
	if (what & CURL_POLL_IN) {
		ev |= EV_READ;
	}
	if (what & CURL_POLL_OUT) {
		ev |= EV_WRITE;
	}
	ev_io_init(&s->io, upl_http_io_cb, fd, ev);
	ev_io_start(h->loop, &s->io);
	return 0;
}

static int
upl_http_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct upl_http *h = userp;

	ev_timer_stop(h->loop, &h->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->timer, (double)timeout_ms / 1000., 0.);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

static size_t
upl_http_discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

struct upl_http *
upl_http_new(struct ev_loop *loop, const struct conf *conf)
{
	struct upl_http *h;
	size_t n;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("curl_global_init failed");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		log_err("calloc(upl_http) failed: %s", strerror(errno));
		return NULL;
	}
	h->loop = loop;
	h->conf = conf;
	n = strlen(conf->platform_url);
	while (n > 0 && conf->platform_url[n - 1] == '/') {
		n--;
	}
	snprintf(h->url, sizeof(h->url), "%.*s/submit", (int)n,
	         conf->platform_url);
	if (upl_http_auth(h) != 0) {
		goto fail;
	}
	h->multi = curl_multi_init();
	if (h->multi == NULL) {
		log_err("curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, upl_http_sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, upl_http_timer_set);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
	ev_init(&h->timer, upl_http_timer_cb);
	h->timer.data = h;
	ev_timer_init(&h->renew, upl_http_renew_cb, UPL_AUTH_RENEW,
	              UPL_AUTH_RENEW);
	h->renew.data = h;
	ev_timer_start(loop, &h->renew);
	ev_unref(loop);
	return h;
fail:
	curl_slist_free_all(h->headers);
	free(h);
	return NULL;
}

void
upl_http_free(struct upl_http *h)
{
	if (h == NULL) {
		return;
	}
	ev_ref(h->loop);
	ev_timer_stop(h->loop, &h->renew);
	ev_timer_stop(h->loop, &h->timer);
	/* Requests in flight are dropped: their records were not released,
	 * so the next uploader sends them. */
	while (h->reqs != NULL) {
		struct upl_req *r = h->reqs;

		h->reqs = r->next;
		curl_multi_remove_handle(h->multi, r->easy);
		curl_easy_cleanup(r->easy);
		free(r->body);
		free(r);
	}
	curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->headers);
	free(h);
	curl_global_cleanup();
}

int
upl_http_put(struct upl_http *h, char *body, size_t len, upl_http_done_fn done,
             void *arg)
{
	const struct conf *c = h->conf;
	struct upl_req *r;
	CURLMcode mc;

	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->easy = curl_easy_init()) == NULL) {
		log_err("curl_easy_init failed");
		free(r);
		free(body);
		return -1;
	}
	r->h = h;
	r->body = body;
	r->done = done;
	r->arg = arg;
	curl_easy_setopt(r->easy, CURLOPT_URL, h->url);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(r->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
	                 (long)(c->uploader_timeout * 1000.));
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(c->uploader_timeout * 1000.));
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	/* The platform's answer body says nothing the status does not. */
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, upl_http_discard);
	mc = curl_multi_add_handle(h->multi, r->easy);
	if (mc != CURLM_OK) {
		log_err("curl_multi_add_handle failed: %s",
		        curl_multi_strerror(mc));
		curl_easy_cleanup(r->easy);
		free(r->body);
		free(r);
		return -1;
	}
	r->next = h->reqs;
	h->reqs = r;
	h->busy++;
	return 0;
}

int
upl_http_busy(const struct upl_http *h)
{
	return h->busy;
}
