"""kill -9 of each worker kind: the supervisor restarts it at once and it
serves again; the supervisor's death takes every worker with it."""
import os
import signal
import sys
import time

from probed_fixture import Probed, pid_alive, wait_for


def kill_and_wait_back(p, name):
    old = p.worker(name)
    assert old["state"] == "RUNNING", old
    os.kill(old["pid"], signal.SIGKILL)

    def back():
        w = p.worker(name)
        if w["pid"] not in (0, old["pid"]) and w["state"] == "RUNNING":
            return w
        return None
    w = wait_for("%s back after kill -9" % name, back, timeout=10)
    assert w["restarts"] == old["restarts"] + 1, (old, w)
    assert "signal 9" in w["last_exit"], w
    return w


def main():
    with Probed(trace_workers=2) as p:
        p.start()
        for name in ("api", "db", "trace/0", "trace/1", "uploader"):
            kill_and_wait_back(p, name)
        # The supervisor counted each crash and timed each recovery.
        st = p.ctl("stats", "supervisor")["stats"]
        m = {x["name"]: x for x in st["metrics"]}
        assert m["worker_crashes"]["value"] == 5, m
        assert m["worker_restarts"]["value"] == 5, m
        rec = m["worker_recovery_time"]
        assert rec["count"] == 5 and 0 < rec["p50"] <= rec["max"], rec
        assert m["workers_running"]["value"] == 5, m
        out = p.probectl("stats")
        assert out.returncode == 0 and "worker_recovery_time" in out.stdout
        out = p.probectl("stats", "nosuch")
        assert out.returncode == 1 and "no stats page" in out.stderr, out

        # The api worker is back and serving, not only running.
        status, body, _ = p.http("/version")
        assert status == 200, (status, body)
        assert b"Version" in body
        p.wait_log("api (pid")

        # SIGKILL of the supervisor: PR_SET_PDEATHSIG takes every worker.
        pids = [w["pid"] for w in p.ctl("status")["workers"]]
        assert all(pids)
        p.proc.send_signal(signal.SIGKILL)
        p.proc.wait()
        t0 = time.monotonic()
        wait_for("every worker gone", lambda: not any(pid_alive(x)
                                                      for x in pids),
                 timeout=1.0, interval=0.002)
        print("workers gone %.1f ms after the supervisor's SIGKILL"
              % ((time.monotonic() - t0) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
