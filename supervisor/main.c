/*
 * probed: the supervisor. Reads and validates the config, prepares the
 * state directory, forks every worker from procs_table and keeps them
 * running; serves the control socket. It never parses HTTP and never talks
 * to PostgreSQL.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "super.h"

#define DEFAULT_CONF_DIR SYSCONFDIR "/probed"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: probed [-f] [-c DIR] [--check]\n"
	    "\n"
	    "Host diagnostics and tracing daemon.\n"
	    "\n"
	    "  -c, --config DIR  config directory holding settings.yml and\n"
	    "                    lambda-settings.yml (default %s)\n"
	    "  -f, --foreground  stay in the foreground, log to stderr\n"
	    "  -t, --check       validate the configuration and exit:\n"
	    "                    0 when valid, 1 with the errors when not\n"
	    "  -h, --help        show this help\n"
	    "  -V, --version     show the version\n"
	    "\n"
	    "Signals: TERM or INT stop, HUP reloads the configuration.\n"
	    "Operators use probectl(8) on <state-dir>/probed.sock.\n",
	    DEFAULT_CONF_DIR);
}

static void
main_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct super *s = ev_userdata(loop);
	char *why;

	if (w->signum == SIGHUP) {
		super_reload(s, &why);
		free(why);
		return;
	}
	log_info("signal %d (%s): stopping", w->signum, strsignal(w->signum));
	super_stop(s);
}

/* Without -f: the classic double fork, stdio to the log file. */
static int
main_daemonize(const struct conf *c)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/probed.log", c->state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_err("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	if (daemon(0, 1) == -1) {
		log_err("daemon failed: %s", strerror(errno));
		close(fd);
		return -1;
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	return 0;
}

static void
main_signals(struct super *s)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev_signal_init(&s->sig_w[i], main_signal_cb, sigs[i]);
		ev_signal_start(s->loop, &s->sig_w[i]);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct super s = {.lock_fd = -1, .ctl_fd = -1};
	const char *dir = DEFAULT_CONF_DIR;
	bool foreground = false, check = false;
	char *errors = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:fthV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			dir = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("probed %s (%s)\n", PACKAGE_VERSION,
			       PROBED_GIT_COMMIT);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "probed: unexpected argument \"%s\"\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("supervisor", LOG_LVL_INFO);
	s.conf = conf_load(dir, &errors);
	if (s.conf == NULL) {
		fprintf(stderr, "%s%sprobed: configuration in %s is invalid\n",
		        errors != NULL ? errors : "",
		        errors != NULL && errors[0] != '\0' &&
		                errors[strlen(errors) - 1] != '\n'
		            ? "\n"
		            : "",
		        dir);
		free(errors);
		return 1;
	}
	if (check) {
		printf("probed: configuration in %s is valid\n", dir);
		conf_free(s.conf);
		return 0;
	}
	/* Its own copy: a reload frees the conf that held it. */
	s.conf_dir = strdup(s.conf->dir);
	if (s.conf_dir == NULL)
		return 1;
	log_set_level(s.conf->log_level);
	if (statedir_prepare(s.conf) == -1)
		return 1;
	if (s.conf->db.mode == CONF_DB_EMBEDDED &&
	    statedir_embedded_db(s.conf) == -1)
		return 1;
	if (!foreground && main_daemonize(s.conf) == -1)
		return 1;
	if (statedir_lock(&s) == -1)
		return 1;
	s.loop = ev_default_loop(EVFLAG_AUTO);
	if (s.loop == NULL) {
		log_err("ev_default_loop failed");
		return 1;
	}
	ev_set_userdata(s.loop, &s);
	s.started = (double)time(NULL);
	if (super_shm_create(&s) == -1 || control_open(&s) == -1 ||
	    super_build(&s) == -1)
		return 1;
	main_signals(&s);
	policy_init();
	log_info("probed %s starting: config %s, state %s, %zu workers",
	         PACKAGE_VERSION, s.conf->dir, s.conf->state_dir, s.nprocs);
	notify_watchdog_start(&s);
	super_start(&s);
	ev_run(s.loop, 0);
	control_close(&s);
	log_info("probed stopped%s", s.stop_unclean ? " (not cleanly)" : "");
	rc = s.stop_unclean ? 1 : 0;
	super_free(&s);
	return rc;
}
