#!/usr/bin/env python3
"""A real bpftrace trace through probed reaches the fake platform whole:
POST /trace/start, the trace worker runs bpftrace on tests/support/target,
cuts stdout into chunks of submit-chunk-size, the uploader PUTs start,
chunks 0..n and finished; the decoded chunks are one JSON object per line
with exactly the calls the target made. Then /trace/running,
/traces/running/all and /trace/kill."""
import json
import sys

from trace_common import (TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, wait_for)

ADDS, WORKS = 300, 120


def test_complete_trace(p):
    main, pid = run_main_target(ADDS, WORKS)
    # lasting: the script's own interval ends the trace, which flushes
    # every event bpftrace saw.
    path = p.start_trace(["target_add", "target_work"], lasting=6)
    p.wait_attached(path)
    release_target(main)
    p.wait_finished(path, timeout=30)
    raw = check_complete(p, path)
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
    wait_for("chunks acknowledged",
             lambda: p.running(path)[1]["chunks_acked"] ==
             item["chunks_sent"], 10)
    st, body, _ = p.api("/traces/running/all")
    assert st == 200
    paths = [i["path"] for i in json.loads(body)]
    assert path in paths, paths
    print("ok: complete trace, %d bytes in %d chunks" % (len(raw), n))


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
    with TraceProbed(chunk=1000) as p:
        p.start()
        test_complete_trace(p)
        test_kill(p)
        test_concurrent(p)
        test_refused(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
