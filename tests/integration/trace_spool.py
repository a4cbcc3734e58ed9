#!/usr/bin/env python3
"""The uploader's disk spool: with the platform down and a chunk ring of
64 KiB, a trace of a few hundred KiB still runs to its end because the
uploader moves records to <state-dir>/spool; a SIGKILLed uploader replays
the spool; when the platform is back the trace arrives whole and the spool
empties. Then with a small uploader.spool-max-bytes the spool fills, the
trace waits (back-pressure) and still arrives whole."""
import os
import signal
import sys

from trace_common import (TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, wait_for)

ADDS, WORKS = 900, 400


def spool_bytes(p):
    d = os.path.join(p.state, "spool")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def state(p, path):
    return p.running(path)[1]


def test_spool_replay():
    with TraceProbed(chunk=1000, trace_workers=1,
                     extra="ring:\n  chunk-bytes: 65536\n") as p:
        p.start()
        p.platform.set_mode("down")
        main, pid = run_main_target(ADDS, WORKS)
        path = p.start_trace(["target_add", "target_work"], lasting=5)
        p.wait_attached(path)
        release_target(main)
        # Only the spool lets the trace end: the ring holds 64 KiB.
        wait_for("the run finished", lambda: state(p, path)["state"] ==
                 "finished", 40)
        item = state(p, path)
        assert item["bytes"] > 4 * 65536, item
        assert spool_bytes(p) > 65536, spool_bytes(p)
        p.wait_log("spooled")
        upl = p.worker("uploader")["pid"]
        os.kill(upl, signal.SIGKILL)
        wait_for("uploader back", lambda: p.worker("uploader")["pid"] not in
                 (upl, 0, None) and p.worker("uploader")["state"] ==
                 "RUNNING", 20)
        p.platform.set_mode("ok")
        p.wait_finished(path, timeout=40)
        raw = check_complete(p, path)
        assert count_events(raw, pid) == expected(ADDS, WORKS)
        wait_for("spool emptied", lambda: spool_bytes(p) == 0, 20)
        print("ok: %d bytes through a 64 KiB ring while the platform was "
              "down, spool replayed by a new uploader" % len(raw))


def test_spool_bound():
    with TraceProbed(chunk=1000, trace_workers=1,
                     extra="ring:\n  chunk-bytes: 65536\n"
                     "uploader:\n  spool-max-bytes: 40000\n") as p:
        p.start()
        p.platform.set_mode("down")
        main, pid = run_main_target(ADDS, WORKS)
        path = p.start_trace(["target_add", "target_work"], lasting=8)
        p.wait_attached(path)
        release_target(main)
        p.wait_log("spool full")
        assert spool_bytes(p) <= 40000
        # Back-pressure: the tool's output waits; nothing is dropped.
        p.platform.set_mode("ok")
        p.wait_finished(path, timeout=40)
        raw = check_complete(p, path)
        assert count_events(raw, pid) == expected(ADDS, WORKS)
        print("ok: spool bound held, trace whole (%d bytes)" % len(raw))


def main():
    need_bpftrace()
    test_spool_replay()
    test_spool_bound()
    return 0


if __name__ == "__main__":
    sys.exit(main())
