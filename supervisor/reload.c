/*
 * Reload (SIGHUP or the control socket): read the config again; a config
 * that fails validation is refused with its reason and the running one is
 * kept. A valid one replaces it, and the workers whose settings changed are
 * restarted one at a time, each once the previous is past STARTING, so
 * that a bad setting takes down one worker, not the service.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "super.h"

int
super_reload(struct super *s, char **why)
{
	struct conf *nc;
	char *errors = NULL;
	unsigned changed;
	int n = 0;

	*why = NULL;
	if (s->stopping) {
		*why = strdup("probed is stopping");
		return -1;
	}
	log_info("reloading configuration from %s", s->conf_dir);
	notify_send("RELOADING=1");
	nc = conf_load(s->conf_dir, &errors);
	if (nc == NULL)
		goto refused;
	if (nc->db.mode == CONF_DB_EMBEDDED && statedir_embedded_db(nc) == -1) {
		errors = strdup("cannot read the embedded database password");
		goto refused;
	}
	changed = conf_diff(s->conf, nc);
	if (changed & CONF_AFFECTS_ALL) {
		errors = strdup("a changed key (state-dir, trace-workers, "
		                "database.mode or a ring size) needs a restart "
		                "of probed, not a reload");
		conf_free(nc);
		goto refused;
	}
	conf_free(s->conf);
	s->conf = nc;
	log_set_level(nc->log_level);
	for (size_t i = 0; i < s->nprocs; i++) {
		struct proc *p = &s->procs[i];

		if (changed & p->kind->affects) {
			p->restart_requested = true;
			n++;
		}
	}
	log_info("configuration reloaded: %d worker(s) to restart", n);
	if (s->reload_cur == NULL)
		super_reload_next(s);
	return 0;
refused:
	log_err("reload refused, keeping the running configuration: %s",
	        errors != NULL ? errors : "unknown error");
	*why = errors;
	notify_send("READY=1");
	return -1;
}
