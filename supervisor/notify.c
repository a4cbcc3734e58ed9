/*
 * systemd's readiness protocol without libsystemd: datagrams such as
 * "READY=1" to the unix socket named by $NOTIFY_SOCKET ('@' = abstract).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "super.h"

void
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (path == NULL || path[0] == '\0')
		return;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("NOTIFY_SOCKET too long");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_err("socket(AF_UNIX) for sd_notify failed: %s",
		        strerror(errno));
		return;
	}
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	           len) == -1)
		log_err("sendto(%s, %s) failed: %s", path, msg,
		        strerror(errno));
	close(fd);
}

static void
notify_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	notify_send("WATCHDOG=1");
}

/* Pings at half the interval systemd asked for, as sd_watchdog_enabled()
 * advises; WATCHDOG_PID, when set, must be ours. */
void
notify_watchdog_start(struct super *s)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	double interval;

	if (usec == NULL || getenv("NOTIFY_SOCKET") == NULL)
		return;
	if (pid != NULL && atoi(pid) != (int)getpid())
		return;
	interval = strtod(usec, NULL) / 1e6 / 2;
	if (interval <= 0)
		return;
	ev_timer_init(&s->watchdog_w, notify_watchdog_cb, interval, interval);
	ev_timer_start(s->loop, &s->watchdog_w);
	log_info("watchdog pings every %.3f s", interval);
}
