/*
 * The state directory: the lock that keeps a second probed away, and the
 * embedded database's password.
 *
 * Layout under state-dir:
 *   probed.lock     flock()ed by the running supervisor, holds its pid
 *   probed.sock     the control socket (mode 0600)
 *   pg/data         embedded PostgreSQL's data directory (os-user's)
 *   pg/run          its unix socket directory (no TCP listener)
 *   pg/password     the password of role "probed", made on first start
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "super.h"

static int
statedir_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		log_err("mkdir(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
statedir_prepare(struct conf *c)
{
	char path[512];
	char *p;

	/* Socket paths are short (108 bytes) and so are our buffers. */
	if (strlen(c->state_dir) > 80) {
		log_err("state-dir %s: longer than 80 characters, too long for "
		        "the control socket path",
		        c->state_dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s", c->state_dir);
	/* mkdir -p: the parents first. */
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (statedir_mkdir(path, 0755) == -1)
			return -1;
		*p = '/';
	}
	return statedir_mkdir(path, 0755);
}

int
statedir_lock(struct super *s)
{
	char path[512], pid[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/probed.lock", s->conf->state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_err("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_err("another probed (pid %s) is running on state directory "
		        "%s",
		        pid[0] != '\0' ? pid : "?", s->conf->state_dir);
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n) {
		log_err("writing %s failed: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	s->lock_fd = fd;
	return 0;
}

static int
statedir_make_password(const char *path)
{
	unsigned char raw[24];
	char hex[sizeof(raw) * 2 + 2];
	int fd;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		log_err("getrandom failed: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_err("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex)) {
		log_err("write(%s) failed: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Points the db settings at the embedded server; workers inherit them. */
int
statedir_embedded_db(struct conf *c)
{
	char path[512], pw[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/pg", c->state_dir);
	if (statedir_mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/pg/password", c->state_dir);
	if (access(path, F_OK) == -1 && statedir_make_password(path) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_err("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, pw, sizeof(pw) - 1);
	close(fd);
	if (n <= 0) {
		log_err("read(%s) failed: %s", path,
		        n == 0 ? "empty file" : strerror(errno));
		return -1;
	}
	pw[n] = '\0';
	pw[strcspn(pw, "\r\n")] = '\0';
	snprintf(path, sizeof(path), "%s/pg/run", c->state_dir);
	free(c->db.host);
	free(c->db.user);
	free(c->db.name);
	free(c->db.password);
	c->db.host = strdup(path);
	c->db.user = strdup("probed");
	c->db.name = strdup("probed");
	c->db.password = strdup(pw);
	if (c->db.host == NULL || c->db.user == NULL || c->db.name == NULL ||
	    c->db.password == NULL) {
		log_err("strdup failed: out of memory");
		return -1;
	}
	return 0;
}
