/*
 * The control socket: <state-dir>/probed.sock, unix stream, mode 0600.
 *
 * Protocol: one JSON object per line each way. A request names its command
 * in "cmd" and its argument, if any, in "arg":
 *   {"cmd": "status"}                -> {"ok": true, "workers": [{"name",
 *                                        "pid", "state", "uptime",
 *                                        "restarts", "last_exit"}, ...],
 *                                        "pid", "version", "uptime"}
 *   {"cmd": "restart", "arg": NAME}  -> {"ok": true}   NAME: worker or kind
 *   {"cmd": "reload"}                -> {"ok": true} | {"ok": false,
 *                                        "error": <why the config is bad>}
 *   {"cmd": "stop"}                  -> {"ok": true}, then probed stops
 *   {"cmd": "version"}               -> {"ok": true, "version", "commit"}
 *   {"cmd": "rings"}                 -> {"ok": true, "rings": [...]}
 *   {"cmd": "stats", "arg": NAME}    -> {"ok": true, "stats": {"process",
 *                                        "metrics": [...]}}  NAME default
 *                                        "supervisor"
 *   {"cmd": "traces"}                -> {"ok": true, "traces": [{"run_id",
 *                                        "slot", "path", "worker", "state",
 *                                        "pid", "code", "started", ...}]}
 *                                        every slot of the run table in
 *                                        use (shm/runs.h, runs_json)
 * Any failure is {"ok": false, "error": "<text>"}. A line longer than
 * CONTROL_LINE_MAX gets an error as soon as the limit is reached; the rest
 * of it is read and dropped up to its newline, and the connection goes on.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "super.h"

#define CONTROL_LINE_MAX    65536
#define CONTROL_CLIENTS_MAX 32

struct control_client {
	ev_io io;
	struct super *s;
	bool discard; /* dropping the rest of an over-long line */
	size_t len;
	char buf[CONTROL_LINE_MAX];
};

static int control_nclients;

static void
control_client_close(struct ev_loop *loop, struct control_client *c)
{
	ev_io_stop(loop, &c->io);
	close(c->io.fd);
	free(c);
	control_nclients--;
}

static int
control_send(struct control_client *c, json_t *answer)
{
	char *text = json_dumps(answer, JSON_COMPACT);
	size_t len, off = 0;
	ssize_t n;
	int rc = 0;

	json_decref(answer);
	if (text == NULL)
		return -1;
	len = strlen(text);
	text[len] = '\n';
	/* The socket has a send timeout: a client that does not read cannot
	 * hold the supervisor for long. */
	while (off < len + 1) {
		n = send(c->io.fd, text + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	free(text);
	return rc;
}

static json_t *
control_error(const char *fmt, const char *arg)
{
	char buf[512];

	snprintf(buf, sizeof(buf), fmt, arg);
	return json_pack("{s:b, s:s}", "ok", 0, "error", buf);
}

static json_t *
control_dispatch(struct super *s, json_t *req, bool *stop)
{
	const char *cmd, *arg = NULL;
	char err[256];
	char *why;

	if (!json_is_object(req))
		return control_error("request must be a JSON object%s", "");
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd == NULL)
		return control_error("request has no \"cmd\" string%s", "");
	if (json_object_get(req, "arg") != NULL) {
		arg = json_string_value(json_object_get(req, "arg"));
		if (arg == NULL)
			return control_error("\"arg\" must be a string%s", "");
	}
	if (strcmp(cmd, "status") == 0)
		return json_pack("{s:b, s:o, s:i, s:s, s:f}", "ok", 1,
		                 "workers", super_status_json(s), "pid",
		                 (int)getpid(), "version", PACKAGE_VERSION,
		                 "started", s->started);
	if (strcmp(cmd, "version") == 0)
		return json_pack("{s:b, s:s, s:s}", "ok", 1, "version",
		                 PACKAGE_VERSION, "commit", PROBED_GIT_COMMIT);
	if (strcmp(cmd, "restart") == 0) {
		if (arg == NULL)
			return control_error("restart needs a worker name in "
			                     "\"arg\"%s",
			                     "");
		if (super_restart(s, arg, err, sizeof(err)) == -1)
			return control_error("%s", err);
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(cmd, "reload") == 0) {
		if (super_reload(s, &why) == 0)
			return json_pack("{s:b}", "ok", 1);
		json_t *ans =
		    control_error("%s", why != NULL ? why : "reload failed");
		free(why);
		return ans;
	}
	if (strcmp(cmd, "stop") == 0) {
		*stop = true;
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(cmd, "rings") == 0)
		return control_rings(s);
	if (strcmp(cmd, "traces") == 0) {
		if (arg != NULL)
			return control_error("traces takes no argument, got "
			                     "\"%.64s\"",
			                     arg);
		return control_traces(s);
	}
	if (strcmp(cmd, "stats") == 0)
		return superstats_json(s, arg != NULL ? arg : "supervisor");
	return control_error("unknown command \"%.64s\"", cmd);
}

static int
control_line(struct control_client *c, char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *ans;
	bool stop = false;
	int rc;

	if (len == 0)
		return 0;
	req = json_loadb(line, len, 0, &jerr);
	if (req == NULL) {
		char buf[300];

		snprintf(buf, sizeof(buf),
		         "request is not JSON: %s at "
		         "column %d",
		         jerr.text, jerr.column);
		ans = control_error("%s", buf);
	} else {
		ans = control_dispatch(c->s, req, &stop);
		json_decref(req);
	}
	rc = control_send(c, ans);
	if (stop)
		super_stop(c->s);
	return rc;
}

static void
control_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control_client *c = (struct control_client *)w;
	char *nl, *start;
	ssize_t n;

	n = recv(w->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_client_close(loop, c);
		return;
	}
	c->len += (size_t)n;
	start = c->buf;
	if (c->discard) {
		nl = memchr(start, '\n', c->len);
		if (nl == NULL) {
			c->len = 0;
			return;
		}
		c->discard = false;
		start = nl + 1;
	}
	while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf))) !=
	       NULL) {
		*nl = '\0';
		if (control_line(c, start, (size_t)(nl - start)) == -1) {
			control_client_close(loop, c);
			return;
		}
		start = nl + 1;
	}
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
	if (c->len == sizeof(c->buf)) {
		log_warn("control: request line over %d bytes, dropped",
		         CONTROL_LINE_MAX);
		c->len = 0;
		c->discard = true;
		if (control_send(c, control_error("request line longer than "
		                                  "%s bytes",
		                                  "65536")) == -1)
			control_client_close(loop, c);
	}
}

static void
control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct super *s = w->data;
	struct timeval tv = {1, 0};
	struct control_client *c;
	int fd;

	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_err("accept(control) failed: %s", strerror(errno));
		return;
	}
	if (control_nclients >= CONTROL_CLIENTS_MAX) {
		log_warn("control: %d clients already, refusing one",
		         CONTROL_CLIENTS_MAX);
		close(fd);
		return;
	}
	c = malloc(sizeof(*c));
	if (c == NULL) {
		log_err("malloc(control client) failed");
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->s = s;
	c->len = 0;
	c->discard = false;
	ev_io_init(&c->io, control_read_cb, fd, EV_READ);
	ev_io_start(loop, &c->io);
	control_nclients++;
}

/* Called with the state-dir lock held, so a socket file already there was
 * left by a probed that died: it is replaced. */
int
control_open(struct super *s)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	snprintf(s->ctl_path, sizeof(s->ctl_path), "%s/probed.sock",
	         s->conf->state_dir);
	if (strlen(s->ctl_path) >= sizeof(sun.sun_path)) {
		log_err("control socket path %s is too long", s->ctl_path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, s->ctl_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_err("socket(AF_UNIX) failed: %s", strerror(errno));
		return -1;
	}
	if (unlink(s->ctl_path) == 0)
		log_info("removed stale control socket %s", s->ctl_path);
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		log_err("bind(%s) failed: %s", s->ctl_path, strerror(errno));
		goto fail;
	}
	umask(old);
	if (chmod(s->ctl_path, 0600) == -1 || listen(fd, 16) == -1) {
		log_err("listen(%s) failed: %s", s->ctl_path, strerror(errno));
		goto fail;
	}
	s->ctl_fd = fd;
	ev_io_init(&s->ctl_w, control_accept_cb, fd, EV_READ);
	s->ctl_w.data = s;
	ev_io_start(s->loop, &s->ctl_w);
	return 0;
fail:
	close(fd);
	return -1;
}

void
control_close(struct super *s)
{
	if (s->ctl_fd < 0)
		return;
	ev_io_stop(s->loop, &s->ctl_w);
	close(s->ctl_fd);
	unlink(s->ctl_path);
	s->ctl_fd = -1;
}
