#!/usr/bin/env python3
"""Faults on the trace data path, with real bpftrace and a real probed:
the platform answering 500, hanging, resetting connections and refusing
them for a while; the uploader and a trace worker killed with SIGKILL
during a run; a stand-in executable at stap-path. Nothing acknowledged is
lost, nothing stalls afterwards, every run ends with a finished record."""
import os
import signal
import stat
import sys
import tempfile

from trace_common import (TARGET, TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, time, wait_for)

ADDS, WORKS = 400, 200


def state(p, path):
    return p.running(path)[1]


def test_platform_faults(p):
    main, pid = run_main_target(ADDS, WORKS)
    path = p.start_trace(["target_add", "target_work"], lasting=5)
    p.wait_attached(path)
    # Every record now sits in the ring until the platform takes it.
    p.platform.set_mode("500", count=25)
    release_target(main)
    wait_for("the run finished", lambda: state(p, path)["state"] ==
             "finished", 30)
    wait_for("500s answered", lambda: p.platform._mode == "ok", 30)
    p.platform.set_mode("hang", count=1)
    wait_for("a request hanging", lambda: any(
        r["answered"] == "hang" for r in p.platform.records()), 10)
    p.platform.set_mode("refuse", count=3)
    wait_for("refusals", lambda: p.platform._mode == "ok", 30)
    p.platform.set_mode("down")
    before = state(p, path)["chunks_acked"]
    time.sleep(1.0)  # the platform is away for a while: nothing to wait on
    assert state(p, path)["chunks_acked"] == before
    p.platform.set_mode("ok")
    p.wait_finished(path, timeout=30)
    raw = check_complete(p, path)
    assert count_events(raw, pid) == expected(ADDS, WORKS)
    recs = [r for r in p.platform.records() if r["trace"] == path]
    assert sum(r["answered"] == 500 for r in recs) == 25
    print("ok: 500, hang, refuse and down: %d requests, trace whole"
          % len(recs))


def test_uploader_killed(p):
    main, pid = run_main_target(ADDS, WORKS)
    path = p.start_trace(["target_add", "target_work"], lasting=5)
    p.wait_attached(path)
    p.platform.set_mode("500")
    release_target(main)
    wait_for("the run finished", lambda: state(p, path)["state"] ==
             "finished", 30)
    total = state(p, path)["chunks_sent"]
    # Let part of it through, then hold one request and kill the uploader.
    p.platform.set_mode("ok")
    wait_for("20 chunks acknowledged",
             lambda: state(p, path)["chunks_acked"] >= 20, 20)
    p.platform.set_mode("hang", count=1, hang_seconds=20)
    wait_for("a request hanging", lambda: any(
        r["answered"] == "hang" for r in p.platform.records()), 20)
    acked = state(p, path)["chunks_acked"]
    assert 0 < acked < total, (acked, total)
    upl = p.worker("uploader")["pid"]
    os.kill(upl, signal.SIGKILL)
    p.wait_finished(path, timeout=30)
    assert p.worker("uploader")["pid"] != upl
    raw = check_complete(p, path)
    assert count_events(raw, pid) == expected(ADDS, WORKS)
    dups = sum(r["duplicate"] for r in p.platform.records()
               if r["trace"] == path)
    # Acknowledged records are not sent again, but for one in flight.
    assert dups <= 1, dups
    print("ok: uploader SIGKILLed with %d of %d chunks acknowledged: trace"
          " whole, %d duplicates" % (acked, total, dups))


def test_trace_worker_killed(p):
    path = p.start_trace(["target_add"], lasting=60)
    item = p.wait_attached(path)
    name = "trace/%d" % item["worker"]
    wpid = p.worker(name)["pid"]
    os.kill(wpid, signal.SIGKILL)
    p.wait_finished(path, timeout=30)
    check_complete(p, path)
    fin = p.platform.finished(path)
    assert fin["code"] == -signal.SIGKILL, fin
    assert "died" in fin["stderr"], fin
    assert state(p, path)["state"] == "failed"
    # The worker is back and takes new runs.
    wait_for("%s restarted" % name, lambda: p.worker(name)["state"] ==
             "RUNNING", 20)
    print("ok: trace worker SIGKILLed: finished says %r"
          % fin["stderr"].strip())


def test_stap_stand_in(p, stap):
    path = p.start_trace(["target_add"], lasting=5, tool="STAP")
    p.wait_finished(path, timeout=20)
    raw = check_complete(p, path)
    assert raw == b'{"probe":"target_add","pid":1}\n' * 3000, raw[:100]
    fin = p.platform.finished(path)
    assert fin["code"] == 3 and fin["stderr"] == "stand-in stap\n", fin
    print("ok: stand-in stap: %d bytes, code 3" % len(raw))


def main():
    need_bpftrace()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        stap = os.path.join(tmp, "stap")
        with open(stap, "w") as f:
            f.write("#!/bin/sh\ni=0\nwhile [ $i -lt 3000 ]; do\n"
                    "  echo '{\"probe\":\"target_add\",\"pid\":1}'\n"
                    "  i=$((i+1))\ndone\necho 'stand-in stap' >&2\n"
                    "exit 3\n")
        os.chmod(stap, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
                 stat.S_IROTH | stat.S_IXOTH)
        with TraceProbed(chunk=1000, stap=stap) as p:
            p.start()
            test_platform_faults(p)
            test_uploader_killed(p)
            test_trace_worker_killed(p)
            test_stap_stand_in(p, stap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
