/*
 * What travels between the api, the trace workers and the uploader.
 *
 * Command ring command/i (api -> trace/i, multi-producer). One message
 * (shm/msg.h) per command, corr = the run id (shm/runs.h), payload compact
 * JSON: commands are rare and JSON keeps the template's lists easy.
 *
 *   TRACE_CMD_START {"slot": N, "path": P, "tool": "BPF"|"STAP",
 *                    "process": X, "functions": [...], "options": [...],
 *                    "environment": [...], "value": [...],
 *                    "lasting": seconds, "chunk_size": bytes}
 *   TRACE_CMD_KILL  {"slot": N}
 *
 * Chunk ring chunk/i (trace/i -> uploader, single producer). One message
 * per record, corr = the run id, payload a struct trace_rec followed by
 * path_len bytes of the run's path (no NUL) and data_len bytes of data.
 * Every record carries the path so that the uploader needs no earlier
 * record of the run: after a restart it resumes in the middle of a run.
 *
 *   TRACE_REC_START     no = 0, no data
 *   TRACE_REC_CHUNK     no = chunk number from 0, data = the chunk
 *   TRACE_REC_FINISHED  no = chunks published before it, code = exit
 *                       status or minus the signal, data = stderr
 *
 * Within a run the records form one sequence: start is record 0, chunk n
 * is record n + 1, finished is record no + 1 (trace_rec_seq). The uploader
 * stores how many of them the platform acknowledged in the run's slot, so
 * a restarted uploader skips those instead of sending them again.
 */
#ifndef PROBED_TRACE_PROTO_H
#define PROBED_TRACE_PROTO_H

#include <stdint.h>

#define TRACE_CMD_START 0x21
#define TRACE_CMD_KILL  0x22

#define TRACE_REC_START    0x31
#define TRACE_REC_CHUNK    0x32
#define TRACE_REC_FINISHED 0x33

/* The tool's stderr kept for the finished record. */
#define TRACE_STDERR_MAX (64 * 1024)

struct trace_rec {
	uint64_t no;
	int32_t code;
	uint32_t slot;
	uint32_t path_len;
	uint32_t data_len;
};

static inline uint64_t
trace_rec_seq(uint16_t type, const struct trace_rec *r)
{
	if (type == TRACE_REC_START) {
		return 0;
	}
	return r->no + 1;
}

#endif
