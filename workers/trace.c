/*
 * A trace worker: takes start and kill commands from its command ring
 * (command/i, workers/trace_proto.h), runs each trace as a trace_job and
 * publishes the output on its chunk ring (chunk/i) for the uploader.
 *
 * Wake-ups are eventfds on the worker's libev loop: the command ring's
 * data fd, and the chunk ring's space fd while a job (or a start command)
 * waits for room. A command that cannot be carried out for want of ring
 * space stays unreleased at the head of the command ring and is taken up
 * again when space frees: commands are handled in order.
 *
 * The loop is libev's default loop, fresh after fork (workers/runtime.c),
 * so ev_child watchers reap the tools.
 *
 * A worker that died left its runs in the run table as "running", their
 * tools still going and no finished record. Its successor ends them at
 * start (trace_adopt): it kills the tool's process group and publishes
 * the finished record itself, with a stderr that says what happened and
 * the code of a SIGKILL, so the platform sees the run end rather than
 * hang. Output the dead worker had read but not published is lost; every
 * chunk it committed is in the ring.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "log.h"
#include "shm/msg.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "trace_job.h"
#include "trace_proto.h"
#include "trace_script.h"
#include "worker.h"

#define TRACE_KILL_GRACE 3.0
#define TRACE_STOP_GRACE 1.0
#define TRACE_MAX_FIELDS 256

struct trace_worker {
	struct worker *w;
	struct ring *cmd;
	struct ring *chunks;
	struct trace_job_env env;
	struct trace_stats stats;
	ev_io cmd_w;
	ev_io space_w;
	struct trace_job *jobs;
	struct ring_rec held; /* a command waiting for ring space */
	int holding;
	uint32_t want_len;
	char dir[1024]; /* <state-dir>/traces: the scripts */
};

static void trace_commands(struct trace_worker *tw);

/* The page survives a restart (shm/stats.h): counters go on counting. */
static void
trace_stats_init(struct trace_worker *tw)
{
	struct trace_stats *st = &tw->stats;
	struct stats_page *p = shm_segment_stats(tw->w->shm, tw->w->shm_id);

	st->page = p;
	if (p == NULL) {
		return;
	}
	st->runs_started =
	    stats_register(p, "trace_runs_started", STATS_COUNTER, "runs",
	                   "runs whose tool was spawned");
	st->runs_refused = stats_register(
	    p, "trace_runs_refused", STATS_COUNTER, "runs",
	    "not started: bad start command, no tool or spawn failed");
	st->runs_ended =
	    stats_register(p, "trace_runs_ended", STATS_COUNTER, "runs",
	                   "started runs that are over, for any reason");
	st->runs_active = stats_register(p, "trace_runs_active", STATS_GAUGE,
	                                 "runs", "runs started and not over");
	st->output_bytes =
	    stats_register(p, "trace_output_bytes", STATS_COUNTER, "bytes",
	                   "tool stdout bytes in committed chunks");
	st->chunks = stats_register(p, "trace_chunks", STATS_COUNTER, "chunks",
	                            "chunks committed to the chunk ring");
	st->ring_full = stats_register(
	    p, "trace_ring_full", STATS_COUNTER, "waits",
	    "a chunk found the chunk ring full: stdout reading paused");
	st->chunk_wait =
	    stats_register(p, "trace_chunk_wait", STATS_HISTOGRAM, "us",
	                   "from a chunk finding the ring full to its commit");
}

static void
trace_arm_space(struct trace_worker *tw, uint32_t len)
{
	struct ev_loop *loop = tw->w->loop;

	if (len > tw->want_len) {
		tw->want_len = len;
	}
	if (ev_is_active(&tw->space_w)) {
		return;
	}
	ev_io_start(loop, &tw->space_w);
	if (ring_producer_prepare_wait(tw->chunks, tw->want_len) == 0) {
		/* Space came meanwhile: go round once more at once. */
		ev_feed_event(loop, &tw->space_w, EV_READ);
	}
}

static void
trace_want_space(struct trace_job *j, uint32_t len)
{
	trace_arm_space(j->env->arg, len);
}

static void
trace_space_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct trace_worker *tw = w->data;
	struct trace_job *j, *next;

	ev_io_stop(loop, w);
	ring_producer_woken(tw->chunks);
	tw->want_len = 0;
	for (j = tw->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->blocked) {
			trace_job_resume(j);
		}
	}
	if (tw->holding) {
		trace_commands(tw);
	}
}

static void
trace_done(struct trace_job *j)
{
	struct trace_worker *tw = j->env->arg;
	struct trace_job **pp;

	for (pp = &tw->jobs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	trace_job_free(j);
	if (tw->w->stopping && tw->jobs == NULL) {
		ev_break(tw->w->loop, EVBREAK_ALL);
	}
}

/* A JSON array of strings as a vector of pointers into it. */
static int
trace_strings(json_t *arr, const char **out, size_t max, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (arr == NULL) {
		return 0;
	}
	if (!json_is_array(arr) || json_array_size(arr) > max) {
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			return -1;
		}
		out[(*n)++] = json_string_value(v);
	}
	return 0;
}

/*
 * Builds the script and the run spec from the start command. Returns NULL
 * when it is fine, else why the run cannot start.
 */
static const char *
trace_prepare(struct trace_worker *tw, struct trace_job *j, json_t *cmd,
              struct trace_run_spec *rs, const char **fn, const char **opt,
              const char **names, const char **values, char *why, size_t whylen)
{
	const struct conf *c = tw->w->conf;
	struct trace_script_spec ss;
	size_t nnames, nvalues;
	const char *tool;
	json_t *funcs;
	char *text = NULL;

	memset(&ss, 0, sizeof(ss));
	memset(rs, 0, sizeof(*rs));
	tool = json_string_value(json_object_get(cmd, "tool"));
	ss.tool = tool != NULL && strcmp(tool, "STAP") == 0
	              ? TRACE_TOOL_STAP
	              : TRACE_TOOL_BPFTRACE;
	ss.process = json_string_value(json_object_get(cmd, "process"));
	ss.lasting = j->lasting;
	funcs = json_object_get(cmd, "functions");
	if (funcs == NULL) {
		funcs = json_object_get(cmd, "funtions");
	}
	if (ss.process == NULL ||
	    trace_strings(funcs, fn, TRACE_MAX_FIELDS, &ss.nfunctions) != 0 ||
	    trace_strings(json_object_get(cmd, "options"), opt,
	                  TRACE_MAX_FIELDS, &rs->noptions) != 0 ||
	    trace_strings(json_object_get(cmd, "environment"), names,
	                  TRACE_MAX_FIELDS, &nnames) != 0 ||
	    trace_strings(json_object_get(cmd, "value"), values,
	                  TRACE_MAX_FIELDS, &nvalues) != 0 ||
	    nnames != nvalues) {
		return "malformed start command";
	}
	ss.functions = fn;
	if (trace_script_build(&ss, &text, why, whylen) != 0) {
		return why;
	}
	if (trace_script_save(text, tw->dir, ss.tool, j->script,
	                      sizeof(j->script)) != 0) {
		free(text);
		j->script[0] = '\0';
		return "cannot save the script (see the log)";
	}
	free(text);
	rs->tool = ss.tool;
	rs->tool_path = ss.tool == TRACE_TOOL_STAP ? c->stap_path : c->bpf_path;
	rs->script_path = j->script;
	rs->process = ss.process;
	rs->options = opt;
	rs->env_names = names;
	rs->env_values = values;
	rs->nenv = nnames;
	rs->root_password = c->root_password;
	rs->sudo = TRACE_RUN_SUDO_AUTO;
	return NULL;
}

/* 0 done (or dropped), -1 wait for ring space and try again. */
static int
trace_start(struct trace_worker *tw, const struct msg *m, json_t *cmd)
{
	static const char *fn[TRACE_MAX_FIELDS], *opt[TRACE_MAX_FIELDS];
	static const char *names[TRACE_MAX_FIELDS], *values[TRACE_MAX_FIELDS];
	struct trace_run_spec spec;
	struct runs_slot *rs;
	struct trace_job *j;
	const char *path, *bad;
	char why[512];
	json_int_t slot, chunk;

	slot = json_integer_value(json_object_get(cmd, "slot"));
	chunk = json_integer_value(json_object_get(cmd, "chunk_size"));
	path = json_string_value(json_object_get(cmd, "path"));
	rs = runs_slot_of(tw->w->runs, (unsigned)slot, m->corr);
	if (rs == NULL || path == NULL || chunk <= 0 ||
	    atomic_load(&rs->state) != RUNS_STARTING) {
		log_warn("start command for run %llu dropped: no such run",
		         (unsigned long long)m->corr);
		return 0;
	}
	j = trace_job_new(&tw->env, (int)slot, m->corr, rs, path,
	                  (size_t)chunk);
	if (j == NULL) {
		/* Out of memory: try again on the next space wake-up. */
		trace_arm_space(tw, 0);
		return -1;
	}
	j->lasting =
	    (unsigned)json_integer_value(json_object_get(cmd, "lasting"));
	bad = trace_prepare(tw, j, cmd, &spec, fn, opt, names, values, why,
	                    sizeof(why));
	if (trace_job_start(j, &spec, bad) != 0) {
		trace_job_free(j);
		trace_arm_space(tw, (uint32_t)(MSG_HDR_SIZE +
		                               sizeof(struct trace_rec) +
		                               strlen(path)));
		return -1;
	}
	if (!j->finished) {
		j->next = tw->jobs;
		tw->jobs = j;
	}
	return 0;
}

static void
trace_kill(struct trace_worker *tw, uint64_t run_id)
{
	for (struct trace_job *j = tw->jobs; j != NULL; j = j->next) {
		if (j->run_id == run_id) {
			log_info("trace %s: kill requested", j->path);
			trace_job_kill(j, TRACE_KILL_GRACE);
		}
	}
}

/* 0 handled, -1 wait for ring space. */
static int
trace_command(struct trace_worker *tw, const struct ring_rec *rec)
{
	json_error_t jerr;
	struct msg m;
	json_t *cmd;
	int rc = 0;

	if (msg_parse(rec, &m) != 0) {
		return 0;
	}
	cmd = json_loadb(m.payload, m.len, 0, &jerr);
	if (cmd == NULL) {
		log_err("command %u: bad JSON: %s", m.type, jerr.text);
		return 0;
	}
	if (m.type == TRACE_CMD_START) {
		rc = trace_start(tw, &m, cmd);
	} else if (m.type == TRACE_CMD_KILL) {
		trace_kill(tw, m.corr);
	} else {
		log_err("command of unknown type %u dropped", m.type);
	}
	json_decref(cmd);
	return rc;
}

static void
trace_commands(struct trace_worker *tw)
{
	struct ring_rec rec;

	for (;;) {
		if (tw->holding) {
			rec = tw->held;
		} else if (ring_peek(tw->cmd, &rec) != 0) {
			if (ring_consumer_prepare_wait(tw->cmd) == 1) {
				return;
			}
			continue;
		}
		if (trace_command(tw, &rec) != 0) {
			tw->held = rec;
			tw->holding = 1;
			return;
		}
		tw->holding = 0;
		ring_release(tw->cmd, &rec);
	}
}

static void
trace_cmd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct trace_worker *tw = w->data;

	ring_consumer_woken(tw->cmd);
	if (!tw->holding) {
		trace_commands(tw);
	}
}

/* See the comment at the top: the runs a dead predecessor left. */
static void
trace_adopt(struct trace_worker *tw)
{
	struct runs *t = tw->w->runs;
	char err[256];
	int pid;

	for (unsigned i = 0; i < t->n; i++) {
		struct runs_slot *s = &t->slots[i];
		struct runs_view v;

		if (atomic_load(&s->state) != RUNS_RUNNING ||
		    atomic_load(&s->worker) != tw->w->index ||
		    runs_read(t, i, &v) != 0) {
			continue;
		}
		pid = atomic_load(&s->pid);
		if (pid > 0 && kill(-pid, SIGKILL) == -1 && errno != ESRCH) {
			log_err("kill(-%d, KILL) failed: %s", pid,
			        strerror(errno));
		}
		snprintf(err, sizeof(err),
		         "probed: trace worker %s died during this run; its "
		         "tool (pid %d) was killed\n",
		         tw->w->name, pid);
		if (!atomic_load(&s->published)) {
			(void)ring_wait_space(tw->chunks, 4096, 5000);
			(void)trace_job_publish(tw->chunks, tw->w->shm_id,
			                        TRACE_REC_START, v.run_id,
			                        (int)i, v.path, 0, 0, NULL, 0);
		}
		(void)ring_wait_space(tw->chunks, 4096, 5000);
		if (trace_job_publish(tw->chunks, tw->w->shm_id,
		                      TRACE_REC_FINISHED, v.run_id, (int)i,
		                      v.path, atomic_load(&s->chunks_sent),
		                      -SIGKILL, err, strlen(err)) != 0) {
			log_err("trace %s: no room for its finished record",
			        v.path);
		}
		stats_add(tw->stats.page, tw->stats.runs_ended, 1);
		atomic_store(&s->code, -SIGKILL);
		atomic_store(&s->pid, 0);
		atomic_store(&s->state, RUNS_FAILED);
		log_warn("trace %s ended: its worker had died", v.path);
	}
}

static void
trace_on_stop(struct worker *w)
{
	struct trace_worker *tw = w->data;

	if (tw->jobs == NULL) {
		ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	for (struct trace_job *j = tw->jobs; j != NULL; j = j->next) {
		trace_job_kill(j, TRACE_STOP_GRACE);
	}
}

int
trace_main(struct worker *w)
{
	static struct trace_worker tw;

	memset(&tw, 0, sizeof(tw));
	tw.w = w;
	tw.cmd = shm_segment_ring(w->shm, SHM_RING_COMMAND, w->index);
	tw.chunks = shm_segment_ring(w->shm, SHM_RING_CHUNK, w->index);
	if (tw.cmd == NULL || tw.chunks == NULL || w->runs == NULL) {
		log_err("trace worker %d: no command ring, chunk ring or run "
		        "table",
		        w->index);
		return WORKER_EXIT_PERMANENT;
	}
	snprintf(tw.dir, sizeof(tw.dir), "%s/traces", w->conf->state_dir);
	if (mkdir(tw.dir, 0700) == -1 && errno != EEXIST) {
		log_err("mkdir(%s) failed: %s", tw.dir, strerror(errno));
		return 1;
	}
	tw.env.loop = w->loop;
	tw.env.chunks = tw.chunks;
	tw.env.sender = w->shm_id;
	tw.env.stats = &tw.stats;
	tw.env.want_space = trace_want_space;
	tw.env.done = trace_done;
	tw.env.arg = &tw;
	w->data = &tw;
	w->on_stop = trace_on_stop;
	ev_io_init(&tw.cmd_w, trace_cmd_cb, ring_data_fd(tw.cmd), EV_READ);
	ev_io_init(&tw.space_w, trace_space_cb, ring_space_fd(tw.chunks),
	           EV_READ);
	tw.cmd_w.data = tw.space_w.data = &tw;
	ev_io_start(w->loop, &tw.cmd_w);
	trace_stats_init(&tw);
	trace_adopt(&tw);
	/* A dead predecessor's runs are over now: none is active. */
	if (tw.stats.page != NULL) {
		stats_gauge_set(tw.stats.page, tw.stats.runs_active, 0);
	}
	worker_ready(w);
	trace_commands(&tw);
	ev_run(w->loop, 0);
	while (tw.jobs != NULL) {
		struct trace_job *j = tw.jobs;

		tw.jobs = j->next;
		trace_job_kill(j, 0.);
		trace_job_free(j);
	}
	log_info("stopped");
	return 0;
}
