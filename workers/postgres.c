/*
 * The embedded PostgreSQL (database.mode: embedded): a private server under
 * <state-dir>/pg, run as database.os-user, unix socket only.
 *
 * First start: initdb into pg/data.init as os-user, create role and
 * database "probed" (the password comes from pg/password, made by the
 * supervisor), then rename pg/data.init to pg/data. The rename is the
 * commit point: a crash half-way leaves data.init, which the next start
 * removes and redoes, never a half-made pg/data.
 *
 * Then this process becomes the postmaster (execv), so that the
 * supervisor's child watcher, stop signal (SIGINT: fast shutdown) and
 * PDEATHSIG apply to PostgreSQL itself. The supervisor sees it ready when
 * postmaster.pid says "ready".
 */
#include "config.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

static int
postgres_rm_cb(const char *path, const struct stat *st, int flag,
               struct FTW *ftw)
{
	if (remove(path) == -1)
		log_err("remove(%s) failed: %s", path, strerror(errno));
	return 0;
}

static int
postgres_become(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_err("becoming %s failed: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	/* A change of credentials clears PDEATHSIG. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		log_err("prctl(PR_SET_PDEATHSIG) failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
postgres_dir(const char *path, mode_t mode, const struct passwd *pw)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		log_err("mkdir(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) == -1 ||
	    chmod(path, mode) == -1) {
		log_err("chown/chmod(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs argv as os-user with stdin from in (or /dev/null); 0 on exit 0. */
static int
postgres_run(const struct passwd *pw, char *const argv[], const char *in)
{
	int inp[2], st;
	pid_t pid;

	if (pipe(inp) == -1) {
		log_err("pipe failed: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_err("fork for %s failed: %s", argv[0], strerror(errno));
		close(inp[0]);
		close(inp[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(inp[0], STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		close(inp[0]);
		close(inp[1]);
		if (postgres_become(pw) == -1)
			_exit(127);
		execv(argv[0], argv);
		log_err("execv(%s) failed: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(inp[0]);
	if (in != NULL && write(inp[1], in, strlen(in)) < 0)
		log_err("write to %s failed: %s", argv[0], strerror(errno));
	close(inp[1]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_err("%s failed (status %#x)", argv[0], st);
		return -1;
	}
	return 0;
}

static int
postgres_initdb(const struct conf *c, const struct passwd *pw, const char *pg,
                const char *data)
{
	char tmp[512], pwfile[512], initdb[512], postgres[512], sql[256];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/data.init", pg);
	snprintf(pwfile, sizeof(pwfile), "%s/data.init.pw", pg);
	snprintf(initdb, sizeof(initdb), "%s/initdb", c->db.bin_dir);
	snprintf(postgres, sizeof(postgres), "%s/postgres", c->db.bin_dir);
	nftw(tmp, postgres_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	unlink(pwfile);
	log_info("first start: initdb in %s as %s", tmp, pw->pw_name);
	if (postgres_dir(tmp, 0700, pw) == -1)
		return -1;
	fd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, c->db.password, strlen(c->db.password)) < 0 ||
	    fchown(fd, pw->pw_uid, pw->pw_gid) == -1) {
		log_err("writing %s failed: %s", pwfile, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	char *const iargv[] = {initdb,      "-D",     tmp,
	                       "-U",        "probed", "--pwfile",
	                       pwfile,      "-A",     "scram-sha-256",
	                       "-E",        "UTF8",   "--no-instructions",
	                       "--no-sync", NULL};
	if (postgres_run(pw, iargv, NULL) == -1) {
		unlink(pwfile);
		return -1;
	}
	unlink(pwfile);
	/* Single-user mode makes the database without any listener. */
	snprintf(sql, sizeof(sql), "CREATE DATABASE probed OWNER probed;\n");
	char *const sargv[] = {postgres, "--single", "-D", tmp,
	                       "-j",     "postgres", NULL};
	if (postgres_run(pw, sargv, sql) == -1)
		return -1;
	if (rename(tmp, data) == -1) {
		log_err("rename(%s, %s) failed: %s", tmp, data,
		        strerror(errno));
		return -1;
	}
	log_info("initdb done: %s", data);
	return 0;
}

int
postgres_main(struct worker *w)
{
	const struct conf *c = w->conf;
	char pg[400], data[512], run[512], version[600], port[32], bin[512];
	struct passwd *pw;
	struct stat st;

	pw = getpwnam(c->db.os_user);
	if (pw == NULL || pw->pw_uid == 0) {
		log_err("database.os-user %s: %s", c->db.os_user,
		        pw == NULL ? "no such user"
		                   : "must not be root (PostgreSQL refuses)");
		return WORKER_EXIT_PERMANENT;
	}
	snprintf(bin, sizeof(bin), "%s/postgres", c->db.bin_dir);
	if (access(bin, X_OK) == -1) {
		log_err("%s: %s (set database.bin-dir)", bin, strerror(errno));
		return WORKER_EXIT_PERMANENT;
	}
	snprintf(pg, sizeof(pg), "%s/pg", c->state_dir);
	snprintf(data, sizeof(data), "%s/data", pg);
	snprintf(run, sizeof(run), "%s/run", pg);
	snprintf(version, sizeof(version), "%s/PG_VERSION", data);
	if (postgres_dir(run, 0755, pw) == -1)
		return 1;
	if (stat(version, &st) == -1 && postgres_initdb(c, pw, pg, data) == -1)
		return 1;
	if (postgres_become(pw) == -1)
		return 1;
	snprintf(port, sizeof(port), "port=%d", c->db.port);
	char *const argv[] = {
	    bin,  "-D", data, "-c", "listen_addresses=",     "-c",
	    port, "-k", run,  "-c", "logging_collector=off", NULL};
	dup2(STDERR_FILENO, STDOUT_FILENO);
	execv(bin, argv);
	log_err("execv(%s) failed: %s", bin, strerror(errno));
	return 1;
}
