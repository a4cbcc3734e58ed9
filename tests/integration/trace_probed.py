#!/usr/bin/env python3
"""A real bpftrace trace through probed reaches the fake platform whole:
POST /trace/start, the trace worker runs bpftrace on tests/support/target,
cuts stdout into chunks of submit-chunk-size, the uploader PUTs start,
chunks 0..n and finished; the decoded chunks are one JSON object per line
with exactly the calls the target made. Then /trace/running,
/traces/running/all and /trace/kill. The trace workers' stats pages
(probectl --json stats trace/N) count exactly the runs, chunks and bytes
the platform got. probectl traces lists the run table: the lasting run
with its worker and live tool pid, then finished with the bytes and
chunks the platform got."""
import json
import os
import sys

from trace_common import (TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, trace_stats, values, wait_for)

ADDS, WORKS = 300, 120
# No such file: a STAP run is refused by the worker, never by the api.
NO_STAP = "/nonexistent/probed-test/stap"


def check_stats(p, worker, path, raw, item):
    """The first run of the test, finished (the run table says so, and the
    worker counts a run before it marks it over): its worker's page counts
    that one run, every chunk and byte the platform got; the other worker
    ran nothing."""
    chunks = {r["no"] for r in p.platform.records()
              if r["trace"] == path and r["kind"] == "chunk" and
              r["answered"] == 200}
    st = trace_stats(p, worker)
    v = values(st)
    assert v["trace_runs_started"] == 1, v
    assert v["trace_runs_ended"] == 1, v
    assert v["trace_runs_refused"] == 0, v
    assert v["trace_runs_active"] == 0, v
    assert v["trace_chunks"] == len(chunks) == item["chunks_sent"], \
        (v, len(chunks), item)
    assert v["trace_output_bytes"] == len(raw) == item["bytes"], \
        (v, len(raw), item)
    # A wait is observed only for a chunk the full ring refused.
    assert v["trace_chunk_wait"] <= v["trace_ring_full"], v
    for name, unit, kind in (("trace_runs_started", "runs", "counter"),
                             ("trace_runs_active", "runs", "gauge"),
                             ("trace_output_bytes", "bytes", "counter"),
                             ("trace_chunks", "chunks", "counter"),
                             ("trace_chunk_wait", "us", "histogram")):
        assert (st[name]["unit"], st[name]["type"]) == (unit, kind), st[name]
    idle = values(trace_stats(p, 1 - worker))
    assert idle["trace_runs_started"] == idle["trace_chunks"] == \
        idle["trace_output_bytes"] == 0, idle
    out = p.probectl("stats", "trace/%d" % worker)
    row = [x for x in out.stdout.splitlines()
           if x.startswith("trace_chunks ")]
    assert row and int(row[0].split()[2]) == len(chunks), out.stdout


def ctl_trace(p, path):
    """The run of path in probectl --json traces, or None."""
    out = p.probectl("--json", "traces")
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    ans = json.loads(out.stdout)
    assert ans["ok"] is True, ans
    runs = [r for r in ans["traces"] if r["path"] == path]
    assert len(runs) <= 1, runs
    return runs[0] if runs else None


def check_traces_running(p, path, run_id, worker):
    """While the run lasts: running, on the worker the api named, with the
    pid of a live tool."""
    r = ctl_trace(p, path)
    assert r is not None, path
    assert r["run_id"] == run_id, (r, run_id)
    assert r["state"] == "running", r
    assert r["worker"] == "trace/%d" % worker, (r, worker)
    assert isinstance(r["pid"], int) and r["pid"] > 0, r
    os.kill(r["pid"], 0)  # raises if no such process
    assert r["code"] is None, r
    assert r["uploaded"] is False, r
    assert isinstance(r["started"], int) and r["started"] > 0, r


def check_traces_finished(p, path, run_id, raw):
    """Once over and acknowledged: finished, no tool, exit 0, and bytes and
    chunks what the platform got; the table shows the run."""
    chunks = {r["no"] for r in p.platform.records()
              if r["trace"] == path and r["kind"] == "chunk" and
              r["answered"] == 200}
    r = wait_for("traces: %s finished and acknowledged" % path,
                 lambda: (lambda r: r if r and r["state"] == "finished" and
                          r["chunks_acked"] == r["chunks_sent"] and
                          r["uploaded"] else None)(ctl_trace(p, path)), 10)
    assert r["run_id"] == run_id, (r, run_id)
    assert r["pid"] is None and r["code"] == 0, r
    assert r["bytes"] == len(raw), (r, len(raw))
    assert r["chunks_sent"] == r["chunks_acked"] == len(chunks), \
        (r, len(chunks))
    out = p.probectl("traces")
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "WORKER", "STATE", "PID"], lines
    rows = [x.split() for x in lines[1:] if x.split()[-1] == path]
    assert len(rows) == 1, (path, lines)
    assert rows[0][:3] == [str(run_id), r["worker"], "finished"], rows
    assert rows[0][3:8] == ["-", "0", str(len(raw)), str(len(chunks)),
                            str(len(chunks))], rows


def test_complete_trace(p):
    main, pid = run_main_target(ADDS, WORKS)
    # lasting: the script's own interval ends the trace, which flushes
    # every event bpftrace saw.
    path = p.start_trace(["target_add", "target_work"], lasting=6)
    run_id = p.last_run_id
    worker = p.wait_attached(path)["worker"]
    check_traces_running(p, path, run_id, worker)
    release_target(main)
    p.wait_finished(path, timeout=30)
    raw = check_complete(p, path)
    check_traces_finished(p, path, run_id, raw)
    assert count_events(raw, pid) == expected(ADDS, WORKS), \
        count_events(raw, pid)
    fin = p.platform.finished(path)
    assert fin["code"] == 0, fin
    n = len([r for r in p.platform.records()
             if r["trace"] == path and r["kind"] == "chunk"])
    assert n > 10, n  # many chunks of 1000 bytes
    st, item = p.running(path)
    assert st == 200 and item["state"] == "finished", item
    assert item["bytes"] == len(raw), (item, len(raw))
    check_stats(p, worker, path, raw, item)
    wait_for("chunks acknowledged",
             lambda: p.running(path)[1]["chunks_acked"] ==
             item["chunks_sent"], 10)
    st, body, _ = p.api("/traces/running/all")
    assert st == 200
    paths = [i["path"] for i in json.loads(body)]
    assert path in paths, paths
    print("ok: complete trace, %d bytes in %d chunks" % (len(raw), n))


def test_refused_run(p):
    """A run whose tool is missing: counted refused, never started."""
    before = {w: values(trace_stats(p, w)) for w in (0, 1)}
    path = p.start_trace(["target_add"], lasting=5, tool="STAP")
    p.wait_finished(path, timeout=20)
    fin = p.platform.finished(path)
    assert fin["code"] == 127, fin
    st, item = p.running(path)
    assert st == 200 and item["state"] == "failed", item
    w = item["worker"]
    after = values(trace_stats(p, w))
    assert after["trace_runs_refused"] == \
        before[w]["trace_runs_refused"] + 1, (before[w], after)
    for k in ("trace_runs_started", "trace_runs_ended", "trace_chunks",
              "trace_output_bytes"):
        assert after[k] == before[w][k], (k, before[w], after)
    assert after["trace_runs_active"] == 0, after
    print("ok: missing tool refused: %s" % fin["stderr"].strip())


def test_kill(p):
    path = p.start_trace(["target_add"], lasting=60)
    p.wait_attached(path)
    st, body, headers = p.kill_trace(path)
    assert st == 200 and body == b"Killed", (st, body)
    p.wait_finished(path, timeout=15)
    check_complete(p, path)
    st, item = p.running(path)
    assert item["state"] == "finished", item
    # Unknown paths are ignored, as the seed says.
    st, body, _ = p.kill_trace("/nowhere.trace")
    assert st == 200 and body == b"Killed"
    st, _ = p.running("/nowhere.trace")
    assert st == 404
    print("ok: kill")


def test_concurrent(p):
    """Three runs at once, spread over the workers, each whole."""
    main, pid = run_main_target(ADDS, WORKS)
    paths = [p.start_trace(["target_add", "target_work"], lasting=6)
             for _ in range(3)]
    workers = set()
    for path in paths:
        workers.add(p.wait_attached(path)["worker"])
    assert workers == {0, 1}, workers  # the least busy worker each time
    release_target(main)
    for path in paths:
        p.wait_finished(path, timeout=30)
        raw = check_complete(p, path)
        assert count_events(raw, pid) == expected(ADDS, WORKS)
    print("ok: three concurrent runs on workers %s, each whole"
          % sorted(workers))


def test_refused(p):
    st, body, _ = p.api("/trace/start", "POST",
                        {"traceT": "BPF", "traceId": 1, "lasting": 10 ** 7})
    assert st == 400, (st, body)
    print("ok: lasting above the maximum refused")


def main():
    need_bpftrace()
    with TraceProbed(chunk=1000, stap=NO_STAP) as p:
        p.start()
        test_complete_trace(p)
        test_refused_run(p)
        test_kill(p)
        test_concurrent(p)
        test_refused(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
