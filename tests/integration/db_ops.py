"""The db worker inside a real probed, seen through the lambda endpoints.

Proves, over HTTP: migrations are applied once and recorded, and not again
after a restart; PostgreSQL stopped -> the API answers 503 within 1 s;
PostgreSQL back -> answers again, from the same db worker (no restart);
a database whose schema is newer than probed knows is refused: the log
says why, the API answers 503 with the reason, the db worker keeps running
instead of crash-looping.
"""
import sys

from api_common import (Api, PgFixture, executable, expect, mkauth, start,
                        db_ready, wait_for)


def tmpl():
    return {"traceType": "BPF", "process": executable(),
            "functions": ["main"], "environment": [], "value": [],
            "options": []}


def db_pid(p):
    return p.worker("db")["pid"]


def test_outage(p, api, pg):
    no = expect(api.request("PUT", "/trace", tmpl()), 200, "put").json()
    pid = db_pid(p)
    pg.stop()
    for _ in range(5):
        a = api.request("GET", "/traces")
        assert a.status == 503 and a.elapsed < 1.0, a
        assert b"database unavailable" in a.data, a
    pg.start()
    db_ready(api)
    assert db_pid(p) == pid, "the db worker was restarted"
    items = expect(api.request("GET", "/traces"), 200).json()
    assert [i["traceNo"] for i in items] == [no["traceNo"]], items


def rings(p):
    return {r["name"]: r for r in p.ctl("rings")["rings"]}


def test_rings_live(p, api):
    """probectl rings shows the traffic the requests above made."""
    before = rings(p)
    n = 20
    for _ in range(n):
        expect(api.request("GET", "/traces"), 200)
    # The api answers the client before it releases the response record
    # (its HTTP thread has the answer, the loop releases after): the last
    # release may come a moment after the last answer.
    wait_for("the last response released",
             lambda: rings(p)["response"]["used"] == 0, 5)
    after = rings(p)
    for name in ("request", "response"):
        b, a = before[name], after[name]
        assert a["records_in"] - b["records_in"] >= n, (name, b, a)
        assert a["records_out"] - b["records_out"] >= n, (name, b, a)
        assert a["used"] == 0 and a["discards"] == 0, a
    assert after["request"]["producer"] == "api"
    assert after["response"]["consumer"] == "api"
    out = p.probectl("rings")
    row = [x for x in out.stdout.splitlines() if x.startswith("request ")]
    # The table's IN column, read after the JSON: it can only have grown.
    assert int(row[0].split()[5]) >= after["request"]["records_in"], row


def test_migrations_once(pg, p, applied):
    assert pg.sql("SELECT version, name FROM schema_version",
                  dbname=pg.dbname) == "1|init"
    assert p.logtext().count("applied migration 001_init.sql") == applied


def main():
    auth = mkauth()
    with PgFixture() as pg:
        p = start(pg)
        try:
            api = Api(p.port, auth)
            db_ready(api)
            test_migrations_once(pg, p, 1)
            test_rings_live(p, api)
            test_outage(p, api, pg)
            api.close()
        finally:
            p.close()

        # A second life: nothing left to migrate.
        p = start(pg)
        try:
            api = Api(p.port, auth)
            db_ready(api)
            test_migrations_once(pg, p, 0)
            assert "database schema at version 1" in p.logtext()

            # A newer probed migrated this database: refuse it.
            pg.sql("INSERT INTO schema_version (version, name) "
                   "VALUES (999, 'future')", dbname=pg.dbname)
            pid = db_pid(p)
            assert p.ctl("restart", "db").get("ok"), "restart db"
            wait_for("a new db worker", lambda: db_pid(p) not in (0, pid))
            p.wait_log("schema version 999 is newer than this probed knows")
            a = api.request("GET", "/traces")
            assert a.status == 503 and a.elapsed < 1.0, a
            pid = db_pid(p)
            st = p.worker("db")
            assert st["state"] == "RUNNING" and st["restarts"] == 1, st
            assert db_pid(p) == pid
            api.close()
        finally:
            p.close()
    print("db_ops: ok")


if __name__ == "__main__":
    sys.exit(main())
