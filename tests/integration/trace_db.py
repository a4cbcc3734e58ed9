#!/usr/bin/env python3
"""POST /trace/start with a template stored in PostgreSQL (PUT /trace,
then traceT + traceId): the api fetches it through the db worker
(template.get) and the run reaches the fake platform; an unknown traceId
is 404."""
import json
import sys

from pgfixture import PgFixture
from trace_common import (TraceProbed, check_complete, count_events,
                          expected, need_bpftrace, release_target,
                          run_main_target, store_template, TARGET,
                          wait_for)

ADDS, WORKS = 30, 10


def main():
    need_bpftrace()
    with PgFixture() as pg:
        with TraceProbed(chunk=1000, db=pg) as p:
            p.start()
            no = store_template(p)
            st, body, _ = p.api("/trace/start", "POST",
                                {"traceT": "BPF", "traceId": no + 1000,
                                 "lasting": 5})
            assert st == 404, (st, body)
            main, pid = run_main_target(ADDS, WORKS)
            st, body, _ = p.api("/trace/start", "POST",
                                {"traceT": "BPF", "traceId": no,
                                 "lasting": 5})
            assert st == 200, (st, body)
            path = json.loads(body)["filePath"]
            # The run has its row in PostgreSQL from the start.
            row = pg.sql("SELECT trace_type, template_id, worker, lasting,"
                         " info->>'process' FROM trace_runs WHERE path = "
                         "'%s'" % path, dbname=pg.dbname)
            assert row.split("|")[:2] == ["BPF", str(no)], row
            assert row.split("|")[3:] == ["5", TARGET], row
            p.wait_attached(path)
            release_target(main)
            p.wait_finished(path, timeout=30)
            raw = check_complete(p, path)
            assert count_events(raw, pid) == expected(ADDS, WORKS)
            item = p.running(path)[1]
            info = item["info"]
            assert info["process"] == TARGET, info
            # Its end is recorded too, with the figures of the run table.
            q = ("SELECT state, exit_code, bytes, chunks, ended_at IS NOT "
                 "NULL FROM trace_runs WHERE path = '%s'" % path)
            row = wait_for("the run's end in PostgreSQL", lambda: (
                lambda r: r if r.endswith("|t") else None)(
                pg.sql(q, dbname=pg.dbname)), 10, interval=0.1)
            state, code, nbytes, chunks, _ = row.split("|")
            assert state == ("finished" if item["code"] >= 0 else "killed"), \
                (row, item)
            assert int(code) == item["code"], (row, item)
            assert int(nbytes) == item["bytes"] == len(raw), (row, item)
            assert int(chunks) == item["chunks_sent"], (row, item)
    print("ok: a stored template started by traceId, trace whole")
    return 0


if __name__ == "__main__":
    sys.exit(main())
