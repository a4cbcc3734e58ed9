"""The db protocol end to end: dbclient_call -> request ring -> db worker ->
PostgreSQL -> response ring -> the waiting call.

Runs tests/unit/test_db_roundtrip (a segment, a forked db worker, the api
side in threads) against a private PostgreSQL and drives it line by line.
Proves: every op; ids counted per trace type; database.poolsize
connections; migrations applied once and recorded, also when two nodes
start on a fresh database at once (the advisory lock); PostgreSQL stopped ->
503 within 1 s; restarted -> served again by the same db worker; a killed
db worker -> a new one serves; a frozen one -> the call times out with
503, its late answer is dropped, not given to the next call, and the
expired request never runs; a schema newer than probed knows -> refused,
503 with the reason, the worker keeps running. Prints the ping round trip.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from pgfixture import PgFixture
from probed_fixture import wait_for

BUILDDIR = os.environ.get("PROBED_BUILDDIR", os.getcwd())
HARNESS = os.path.join(BUILDDIR, "tests", "unit", "test_db_roundtrip")

TMPL = {"traceType": "BPF", "process": "/bin/bash",
        "functions": ["xmalloc", "xfree"], "environment": [], "value": [],
        "options": []}


class Harness:
    def __init__(self, pg):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [HARNESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err, env=pg.env(), text=True)
        self.pid = json.loads(self.proc.stdout.readline())["pid"]

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        if not out:
            raise AssertionError("harness died:\n" + self.log())
        return json.loads(out)

    def call(self, op, args=None, timeout=1000):
        return self.cmd("call %d %s %s" % (timeout, op,
                                           json.dumps(args or {})))

    def log(self):
        self.err.seek(0)
        return self.err.read()

    def quit(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        assert rc == 0, "harness exited with %d:\n%s" % (rc, self.log())


def check(cond, what, detail=None):
    if not cond:
        raise AssertionError("%s: %r" % (what, detail))


def stats(h):
    """Both stats pages as one {name: value or histogram} dict."""
    out = {}
    for page in h.cmd("stats").values():
        for m in page["metrics"]:
            out[m["name"]] = m.get("value", m)
    return out


def wait_ping(h, timeout=20.0):
    return wait_for("ping 200", lambda: h.call("ping")["status"] == 200,
                    timeout)


def test_templates(h):
    a = h.call("template.put", TMPL)
    check(a["status"] == 200 and a["result"]["traceType"] == "BPF", "put", a)
    n1 = a["result"]["traceNo"]
    stap = dict(TMPL, traceType="STAP")
    b = h.call("template.put", {"template": stap})
    # Two tables, two counters: the first STAP template is number 1 too.
    check(b["status"] == 200 and b["result"]["traceNo"] == 1, "put stap", b)
    c = h.call("template.put", TMPL)
    check(c["result"]["traceNo"] == n1 + 1, "second bpf id", c)
    g = h.call("template.get", {"traceType": "BPF", "traceNo": n1})
    check(g["status"] == 200 and g["result"]["functions"] ==
          TMPL["functions"] and g["result"]["traceType"] == "BPF", "get", g)
    lst = h.call("template.list")["result"]
    check([(i["info"]["traceType"], i["traceNo"]) for i in lst] ==
          [("BPF", n1), ("BPF", n1 + 1), ("STAP", 1)], "list", lst)
    check(lst[2]["info"]["process"] == "/bin/bash", "list info", lst)
    r = h.call("template.remove", {"traceType": ["BPF"], "traceNo": n1})
    check(r["status"] == 200, "remove", r)
    r = h.call("template.remove", {"traceType": "BPF", "traceNo": n1})
    check(r["status"] == 404, "remove twice", r)
    r = h.call("template.get", {"traceType": "BPF", "traceNo": n1})
    check(r["status"] == 404, "get removed", r)
    r = h.call("template.get", {"traceType": "XDP", "traceNo": 1})
    check(r["status"] == 400 and "traceType" in r["result"]["message"],
          "bad type", r)
    # A value PostgreSQL's CHECK refuses: 400, not 500.
    r = h.call("template.put", dict(TMPL, process="relative"))
    check(r["status"] == 400, "check violation", r)
    # A hostile string is a value, never SQL.
    r = h.call("template.put", dict(TMPL, process="/x'); DROP TABLE "
                                    "bpf_templates; --"))
    check(r["status"] == 200, "quote in a value", r)
    r = h.call("nonsense.op")
    check(r["status"] == 400, "unknown op", r)


def test_runs(h):
    run = {"traceType": "STAP", "traceNo": 1, "path": "/s/lambda-1.trace",
           "worker": 0, "lasting": 60, "info": dict(TMPL, traceType="STAP")}
    a = h.call("run.insert", run)
    check(a["status"] == 200 and a["result"]["id"] >= 1, "run.insert", a)
    check(h.call("run.insert", run)["status"] == 409, "duplicate path")
    g = h.call("run.get", {"path": run["path"]})
    check(g["status"] == 200 and g["result"]["state"] == "starting" and
          g["result"]["info"]["process"] == "/bin/bash", "run.get", g)
    lst = h.call("run.list", {"node": None})["result"]
    check([r["path"] for r in lst] == [run["path"]], "run.list", lst)
    u = h.call("run.update", {"path": run["path"], "state": "running"})
    check(u["status"] == 200, "running", u)
    u = h.call("run.update", {"path": run["path"], "bytes": 100,
                              "chunks": 2})
    check(u["status"] == 200, "progress", u)
    u = h.call("run.update", {"path": run["path"], "state": "finished",
                              "exitCode": 0, "bytes": 150, "chunks": 3})
    check(u["status"] == 200, "finished", u)
    g = h.call("run.get", {"path": run["path"]})["result"]
    check(g["state"] == "finished" and g["bytes"] == 150 and
          g["exitCode"] == 0 and g["endedAt"] is not None, "ended", g)
    u = h.call("run.update", {"path": run["path"], "state": "killed"})
    check(u["status"] == 404, "end twice", u)
    check(h.call("run.get", {"path": "/nope"})["status"] == 404, "no run")
    check(h.call("run.list")["result"] == [], "nothing unfinished")


def test_latency(h):
    one = h.cmd("bench ping 2000 1")
    four = h.cmd("bench ping 1000 4")
    check(one["errors"] == 0 and four["errors"] == 0, "bench", (one, four))
    print("dbclient_call ping round trip, 1 thread: median %.0f us, "
          "p99 %.0f us, max %.0f us (n=%d)"
          % (one["median_us"], one["p99_us"], one["max_us"], one["n"]))
    print("dbclient_call ping round trip, 4 threads: median %.0f us, "
          "p99 %.0f us, max %.0f us (n=%d)"
          % (four["median_us"], four["p99_us"], four["max_us"], four["n"]))


def test_outage(h, pg):
    pid = h.cmd("pid")["pid"]
    pg.stop()
    for _ in range(5):
        r = h.call("ping")
        check(r["status"] == 503 and r["ms"] < 1000, "503 within 1 s", r)
        check(r["result"]["message"] == "database unavailable", "why", r)
    pg.start()
    wait_ping(h)
    check(h.cmd("pid")["pid"] == pid, "same db worker after the outage")
    g = h.call("template.get", {"traceType": "STAP", "traceNo": 1})
    check(g["status"] == 200, "data kept", g)


def test_worker_restart(h):
    h.cmd("restart")
    wait_ping(h)
    # Frozen: the call times out; its answer comes later and is dropped.
    # The put expires unanswered: it must not happen later either.
    h.cmd("freeze")
    r = h.call("template.put", dict(TMPL, process="/frozen/put"),
               timeout=200)
    check(r["status"] == 503 and 190 <= r["ms"] < 1000, "timeout", r)
    h.cmd("thaw")
    wait_for("the late answer dropped", lambda: h.cmd("late")["late"] >= 1)
    lst = h.call("template.list")["result"]
    check(all(i["info"]["process"] != "/frozen/put" for i in lst),
          "an expired request never runs", lst)
    # The pool comes up one connection after another.
    wait_for("4 connections ready",
             lambda: stats(h)["db_connections_ready"] == 4)
    st = stats(h)
    check(st["db_expired"] >= 1 and st["db_late_answers"] >= 1 and
          st["db_requests"] > 0 and
          st["db_calls"] >= st["db_requests"] and
          st["db_call_time"]["count"] == st["db_calls"], "stats", st)
    g = h.call("template.get", {"traceType": "STAP", "traceNo": 1})
    check(g["status"] == 200 and g["result"]["process"] == "/bin/bash",
          "next call gets its own answer", g)


def test_migrations(h, pg):
    rows = pg.sql("SELECT version, name FROM schema_version",
                  dbname=pg.dbname)
    check(rows == "1|init", "migrations applied once", rows)
    check(h.log().count("applied migration 001_init.sql") == 1,
          "applied by the first worker only", h.log())
    pg.sql("INSERT INTO schema_version (version, name) VALUES (999, 'x')",
           dbname=pg.dbname)
    h.cmd("restart")
    wait_for("refusal logged",
             lambda: "newer than this probed knows" in h.log())
    r = h.call("ping")
    check(r["status"] == 503 and "schema version 999 is newer" in
          r["result"]["message"] and r["ms"] < 1000, "refused", r)
    check(h.cmd("pid")["pid"] > 0, "worker kept running")
    pg.sql("DELETE FROM schema_version WHERE version = 999",
           dbname=pg.dbname)
    h.cmd("restart")
    wait_ping(h)


def test_concurrent_migrations():
    """Two nodes start on one fresh database at once: the advisory lock
    makes one migrate while the other waits, then finds nothing to do."""
    with PgFixture() as pg:
        holder = subprocess.Popen(
            [os.path.join(pg.bindir, "psql"), "-X", "-q", "-A", "-t",
             "-h", pg.host, "-p", str(pg.port), "-U", "postgres", "-d",
             pg.dbname], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        holder.stdin.write("SELECT pg_advisory_lock(hashtext("
                           "'probed.migrate'));\nSELECT 'held';\n")
        holder.stdin.flush()
        check(holder.stdout.readline().strip() == "", "lock taken")
        check(holder.stdout.readline().strip() == "held", "lock held")
        hs = [Harness(pg), Harness(pg)]
        try:
            wait_for("both db workers waiting for the lock", lambda: pg.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = 'probed' AND wait_event_type = "
                "'Lock'") == "2")
            holder.stdin.close()
            holder.wait(timeout=30)
            for h in hs:
                wait_ping(h)
            rows = pg.sql("SELECT version FROM schema_version",
                          dbname=pg.dbname)
            check(rows == "1", "one migration", rows)
            applied = sum(h.log().count("applied migration") for h in hs)
            check(applied == 1, "migrated by one node only",
                  [h.log() for h in hs])
            for h in hs:
                h.quit()
        except BaseException:
            for h in hs:
                print("---- harness log ----\n" + h.log()[-3000:])
                h.proc.kill()
            raise


def main():
    test_concurrent_migrations()
    with PgFixture() as pg:
        h = Harness(pg)
        try:
            wait_ping(h)
            # database.poolsize connections (the harness asks for 4).
            wait_for("4 connections", lambda: pg.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = 'probed'") == "4")
            test_templates(h)
            test_runs(h)
            test_latency(h)
            test_outage(h, pg)
            test_worker_restart(h)
            test_migrations(h, pg)
            h.quit()
        except BaseException:
            print("---- harness log ----\n" + h.log()[-6000:])
            h.proc.kill()
            raise
    print("db_roundtrip: ok")


if __name__ == "__main__":
    sys.exit(main())
