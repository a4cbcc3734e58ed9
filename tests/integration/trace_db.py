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
                          run_main_target, TARGET, wait_for)

ADDS, WORKS = 30, 10


def main():
    need_bpftrace()
    with PgFixture() as pg:
        with TraceProbed(chunk=1000, db=pg) as p:
            p.start()
            tpl = {"process": TARGET, "functions": ["target_add",
                                                    "target_work"],
                   "environment": [], "value": [], "options": [],
                   "traceType": "BPF"}

            def put():
                st, body, _ = p.api("/trace", "PUT", tpl)
                return json.loads(body) if st == 200 else None
            no = wait_for("PUT /trace stored", put, 30, interval=0.2)
            no = no["traceNo"]
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
            p.wait_attached(path)
            release_target(main)
            p.wait_finished(path, timeout=30)
            raw = check_complete(p, path)
            assert count_events(raw, pid) == expected(ADDS, WORKS)
            info = p.running(path)[1]["info"]
            assert info["process"] == TARGET, info
    print("ok: a stored template started by traceId, trace whole")
    return 0


if __name__ == "__main__":
    sys.exit(main())
