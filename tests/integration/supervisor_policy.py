"""Restart policy: a crash loop backs off and shows DEGRADED, then recovers;
exit 100 is not restarted; a worker that ignores TERM is killed after
stop-timeout; a clean stop exits 0."""
import os
import signal
import sys

from probed_fixture import Probed, wait_for


def crash_loop(p):
    p.fault("trace/1", "crash")
    old = p.worker("trace/1")
    os.kill(old["pid"], signal.SIGKILL)
    w = wait_for("trace/1 DEGRADED",
                 lambda: (lambda w: w if w["state"] == "DEGRADED" else None)(
                     p.worker("trace/1")), timeout=10)
    assert w["restarts"] >= 4, w
    assert w["last_exit"] == "exit 1", w
    p.wait_log("trace/1 crashed 5 times within 30 s: degraded")
    # In between it went through BACKOFF with growing delays.
    log = p.logtext()
    assert "trace/1: restarting in 10 ms" in log, log[-2000:]
    assert "trace/1: restarting in 20 ms" in log
    # Still DEGRADED, retried at the 5 s cap: not restarted in between.
    r = p.worker("trace/1")["restarts"]
    # Recovery: the cause goes away, the next retry (<= 5 s) succeeds and
    # after the healthy period (10 s) the worker is RUNNING again.
    p.fault("trace/1", None)
    w = wait_for("trace/1 running again",
                 lambda: (lambda w: w if w["pid"] and w["restarts"] == r + 1
                          else None)(p.worker("trace/1")), timeout=8)
    assert w["state"] == "DEGRADED", w
    wait_for("trace/1 RUNNING after the healthy period",
             lambda: p.worker("trace/1")["state"] == "RUNNING", timeout=15)
    p.wait_log("trace/1: DEGRADED -> RUNNING")


def permanent(p):
    p.fault("uploader", "exit100")
    old = p.worker("uploader")
    os.kill(old["pid"], signal.SIGKILL)
    w = wait_for("uploader FAILED",
                 lambda: (lambda w: w if w["state"] == "FAILED" else None)(
                     p.worker("uploader")), timeout=10)
    assert w["pid"] == 0 and w["last_exit"] == "exit 100", w
    p.wait_log("uploader failed permanently (exit 100): not restarting")
    # FAILED has no timer: restart only on request.
    p.fault("uploader", None)
    out = p.probectl("restart", "uploader")
    assert out.returncode == 0, out
    wait_for("uploader RUNNING after probectl restart",
             lambda: p.worker("uploader")["state"] == "RUNNING", timeout=10)


def arm_ignore_term(p, name):
    p.fault(name, "ignore-term")
    old = p.worker(name)
    os.kill(old["pid"], signal.SIGKILL)
    wait_for(name + " restarted ignoring TERM",
             lambda: (lambda w: w["state"] == "RUNNING" and
                      w["restarts"] == old["restarts"] + 1)(p.worker(name)),
             timeout=10)


def main():
    with Probed(stop_timeout=1.0) as p:
        p.start()
        permanent(p)
        crash_loop(p)
        # Clean stop: exit 0.
        assert p.stop() == 0, p.logtext()[-2000:]
        assert "every worker stopped\n" in p.logtext()

    with Probed(stop_timeout=1.0) as p:
        p.start()
        # A worker reads its fault at start-up: make trace/0 one that
        # ignores TERM, then ask for a restart.
        arm_ignore_term(p, "trace/0")
        p.fault("trace/0", None)
        pid0 = p.worker("trace/0")["pid"]
        p.ctl("restart", "trace/0")
        p.wait_log("trace/0 (pid %d) did not stop within 1.0 s: sending KILL"
                   % pid0, timeout=5)
        wait_for("trace/0 back", lambda: p.worker("trace/0")["state"] ==
                 "RUNNING" and p.worker("trace/0")["restarts"] == 2,
                 timeout=10)
        arm_ignore_term(p, "trace/1")
        pid1 = p.worker("trace/1")["pid"]
        rc = p.stop()
        assert rc == 1, "a stop that needed KILL must not exit 0, got %s" % rc
        assert ("trace/1 (pid %d) did not stop within 1.0 s" % pid1
                in p.logtext())
    return 0


if __name__ == "__main__":
    sys.exit(main())
