#!/usr/bin/env python3
"""The two faults of the trace data path trace_faults.py leaves out.

The db worker SIGKILLed during a trace started from a template stored in
PostgreSQL: the trace does not depend on it once started, so the platform
still gets start, chunks 0..n and finished, and the db worker comes back
and serves the api again. (probed does not record runs in PostgreSQL:
run.insert and run.update exist in the db worker but nothing calls them.)

The disk under the spool full (a 256 KiB tmpfs, far below
uploader.spool-max-bytes) while the platform is down: the uploader logs
that the spool is failing, the trace's output waits, nothing crashes, and
once the platform is back every chunk arrives, contiguous and whole; the
trace worker's stats page counted the chunks its full ring refused."""
import json
import os
import signal
import subprocess
import sys
import time

from pgfixture import PgFixture
from trace_common import (TARGET, TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, skip, store_template,
                          trace_stats, values, wait_for)


def state(p, path):
    return p.running(path)[1]


def test_db_worker_killed():
    adds, works = 300, 100
    with PgFixture() as pg:
        with TraceProbed(chunk=1000, db=pg) as p:
            p.start()
            no = store_template(p)
            main, pid = run_main_target(adds, works)
            st, body, _ = p.api("/trace/start", "POST",
                                {"traceT": "BPF", "traceId": no,
                                 "lasting": 4})
            assert st == 200, (st, body)
            path = json.loads(body)["filePath"]
            p.wait_attached(path)
            dbpid = p.worker("db")["pid"]
            os.kill(dbpid, signal.SIGKILL)
            assert state(p, path)["state"] in ("starting", "running")
            release_target(main)
            p.wait_finished(path, timeout=30)
            raw = check_complete(p, path)
            assert count_events(raw, pid) == expected(adds, works)
            fin = p.platform.finished(path)
            assert fin["code"] == 0, fin
            wait_for("db worker back", lambda: p.worker("db")["pid"] not in
                     (dbpid, 0, None) and p.worker("db")["state"] ==
                     "RUNNING", 30)
            # Back and serving: a second template is stored after the first.
            again = store_template(p)
            assert again > no, (again, no)
            print("ok: db worker SIGKILLed mid-trace: %d chunks, finished "
                  "code 0, db worker back" %
                  state(p, path)["chunks_acked"])


def spool_bytes(p):
    d = os.path.join(p.state, "spool")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def test_spool_disk_full():
    adds, works = 1500, 700
    with TraceProbed(chunk=1000, trace_workers=1,
                     extra="ring:\n  chunk-bytes: 65536\n") as p:
        spool = os.path.join(p.state, "spool")
        os.makedirs(spool)
        rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k",
                             "tmpfs", spool], stderr=subprocess.DEVNULL)
        if rc.returncode != 0:
            skip("cannot mount a tmpfs")
        try:
            p.start()
            p.platform.set_mode("down")
            main, pid = run_main_target(adds, works)
            path = p.start_trace(["target_add", "target_work"], lasting=3)
            item = p.wait_attached(path)
            release_target(main)
            p.wait_log("No space left on device")
            assert "spool" in [ln for ln in p.logtext().splitlines()
                               if "No space left" in ln][0]
            # Back-pressure: past its lasting the run still waits to write
            # its output, which fills neither ring nor disk any further.
            stalled = state(p, path)
            end = time.time() + item["lasting"] + 1
            while time.time() < end:
                now = state(p, path)
                assert now["state"] == "running", now
                assert now["bytes"] - stalled["bytes"] <= 65536, now
            assert spool_bytes(p) <= 256 * 1024
            assert p.worker("uploader")["state"] == "RUNNING"
            stalled = state(p, path)
            p.platform.set_mode("ok")
            p.wait_finished(path, timeout=40)
            raw = check_complete(p, path)
            assert count_events(raw, pid) == expected(adds, works)
            assert len(raw) > stalled["bytes"] + 65536, (len(raw), stalled)
            wait_for("spool emptied", lambda: spool_bytes(p) == 0, 20)
            # The worker's page saw the back-pressure: chunks the full
            # ring refused, each timed once it went in; and it counted
            # every chunk and byte the platform got.
            v = values(trace_stats(p, 0))
            assert v["trace_ring_full"] > 0, v
            assert 0 < v["trace_chunk_wait"] <= v["trace_ring_full"], v
            assert v["trace_output_bytes"] == len(raw), (v, len(raw))
            assert v["trace_chunks"] == state(p, path)["chunks_sent"], v
            print("ok: spool disk full at %d bytes: output waited at %d, "
                  "trace whole (%d bytes); the chunk ring refused %d "
                  "chunks" % (256 * 1024, stalled["bytes"], len(raw),
                              v["trace_ring_full"]))
        finally:
            p.stop()  # its spool files are open on the tmpfs
            subprocess.run(["umount", spool])


def main():
    need_bpftrace()
    test_db_worker_killed()
    test_spool_disk_full()
    return 0


if __name__ == "__main__":
    sys.exit(main())
