"""FD1 request debug options (seed 004, NOTES.md) over real HTTP: rd as a
query parameter and inside JSON bodies, debug_rd in the answer object or
the X-Debug-RD header, the time breakdown measured for real, the
production_ready verdict and its findings, and POST /fd1 for every
action."""
import json
import sys

from api_common import (Api, assert_api_log_clean, PgFixture, db_ready,
                        executable, expect, mkauth, start)


def debug_header(a):
    return json.loads(a.headers["X-Debug-RD"])


def check_time(t, query, rows=True):
    assert t["total"] >= t["dispatch"] >= 0, t
    assert t["total"] < 5, t
    if query:
        assert t["queryopen"] > 0, t
        assert t["queryopen"] <= t["total"], t
    else:
        assert "queryopen" not in t, t
    # Only the parts that apply: "deleted" is not built from rows.
    assert ("queryrowbuild" in t) == rows, t
    # Microsecond resolution, printed without binary noise.
    for v in t.values():
        assert round(v, 6) == v, t


def test_rd_on_endpoints(api):
    a = expect(api.request("GET", "/heartbeat"), 200)
    assert "debug_rd" not in a.json() and "X-Debug-RD" not in a.headers
    a = expect(api.request("GET", "/heartbeat?rd=time"), 200)
    d = a.json()["debug_rd"]
    assert list(d) == ["time"], d
    check_time(d["time"], query=False)
    assert "queryrowbuild" in d["time"], d

    # An array answer: debug_rd in the header.
    a = expect(api.request("GET", "/traces?rd=time,production_ready"), 200)
    assert isinstance(a.json(), list)
    d = debug_header(a)
    check_time(d["time"], query=True)
    assert d["production_ready"] == {"ready": "yes", "failcount": 0,
                                     "warncount": 0, "findings": []}, d

    # rd in the body; the deprecated alias and an unknown field warn, and
    # rd itself is not stored with the template.
    body = {"process": executable(), "funtions": ["main"],
            "traceType": "BPF", "bad": 123,
            "rd": {"time": True, "production_ready": True}}
    a = expect(api.request("PUT", "/trace", body=body), 200)
    j = a.json()
    no = j["traceNo"]
    pr = j["debug_rd"]["production_ready"]
    assert pr["ready"] == "partial" and pr["failcount"] == 0, pr
    fields = [f["field"] for f in pr["findings"]]
    assert "funtions" in fields, pr
    assert any('"bad"' in f["message"] for f in pr["findings"]), pr
    assert pr["warncount"] == len(pr["findings"]), pr
    check_time(j["debug_rd"]["time"], query=True)
    items = expect(api.request("GET", "/traces"), 200).json()
    stored = [i for i in items if i["traceNo"] == no and
              i["info"]["traceType"] == "BPF"][0]
    assert "rd" not in stored["info"] and "bad" not in stored["info"]

    # A failing request: ready "no", with the missing field.
    a = expect(api.request("PUT", "/trace?rd=production_ready",
                           body={"process": executable(),
                                 "traceType": "BPF"}), 400)
    j = a.json()
    assert j["errors"] == ["functions"], j
    pr = j["debug_rd"]["production_ready"]
    assert pr["ready"] == "no" and pr["failcount"] >= 1, pr

    # Plain-text answer: the header.
    a = expect(api.request("POST", "/trace/remove?rd=time",
                           body={"removeType": "BPF", "removeId": no}), 200)
    assert a.data == b"deleted"
    check_time(debug_header(a)["time"], query=True, rows=False)
    a = expect(api.request("POST", "/trace/remove",
                           body={"removeType": "BPF", "removeId": no,
                                 "rd": "time, production_ready"}), 404)
    assert a.json()["debug_rd"]["production_ready"]["ready"] == "yes"

    # Unknown rd options are warnings, not errors.
    a = expect(api.request("GET", "/heartbeat?rd=production_ready,colour"),
               200)
    pr = a.json()["debug_rd"]["production_ready"]
    assert pr["ready"] == "partial" and pr["warncount"] == 1, pr


def test_slow(api):
    # A header never seen costs one argon2 verification between civetweb's
    # begin_request and the handler: dispatch shows it, and the request is
    # slower than 100 ms.
    heavy = mkauth(m=65536, t=16)
    a = expect(api.request("GET", "/heartbeat?rd=time,production_ready",
                           auth=heavy), 200)
    d = a.json()["debug_rd"]
    assert d["time"]["dispatch"] > 0.1, d
    pr = d["production_ready"]
    assert pr["ready"] == "partial", pr
    assert [f["field"] for f in pr["findings"]] == ["time"], pr
    # The same header again: cached, fast, ready.
    a = expect(api.request("GET", "/heartbeat?rd=time,production_ready",
                           auth=heavy), 200)
    d = a.json()["debug_rd"]
    assert d["time"]["dispatch"] < 0.05, d
    assert d["production_ready"]["ready"] == "yes", d


def fd1(api, envelope, status=200):
    return expect(api.request("POST", "/fd1", body=envelope), status,
                  envelope).json()


def test_envelope(api):
    # The seed's example, answered as the seed shows.
    j = fd1(api, {"a": "fd1.debug.ping", "rd": {"production_ready": True},
                  "bad": 123})
    assert j["r"] == "fd1.debug.ping" and "data" in j, j
    pr = j["debug_rd"]["production_ready"]
    assert (pr["ready"], pr["failcount"], pr["warncount"]) == \
        ("partial", 0, 1), pr
    j = fd1(api, {"a": "fd1.debug.ping", "rd": {"time": True}})
    assert list(j["debug_rd"]) == ["time"], j
    j = fd1(api, {"a": "fd1.debug.ping"})
    assert "debug_rd" not in j, j

    j = fd1(api, {"a": "heartbeat", "rd": {"time": True}})
    assert j["data"]["status"] == "alive", j
    j = fd1(api, {"a": "trace.put", "rd": ["time", "production_ready"],
                  "process": executable(), "functions": ["main"],
                  "traceType": "STAP"})
    assert j["data"]["traceType"] == "STAP", j
    no = j["data"]["traceNo"]
    assert j["debug_rd"]["production_ready"]["ready"] == "yes", j
    check_time(j["debug_rd"]["time"], query=True)
    j = fd1(api, {"a": "trace.list", "rd": {"time": True}})
    assert any(i["traceNo"] == no and i["info"]["traceType"] == "STAP"
               for i in j["data"]), j
    check_time(j["debug_rd"]["time"], query=True)
    j = fd1(api, {"a": "trace.remove", "removeType": "STAP", "removeId": no})
    assert j == {"r": "trace.remove", "data": "deleted"}, j
    j = fd1(api, {"a": "trace.remove", "removeType": "STAP",
                  "removeId": no, "rd": {"production_ready": True}}, 404)
    assert j["r"] == "trace.remove" and j["message"] == "no such template"
    j = fd1(api, {"a": "trace.put", "traceType": "BPF",
                  "rd": {"production_ready": True}}, 400)
    assert j["message"] == "Invalid Arguments", j
    assert sorted(j["errors"]) == ["functions", "process"], j
    assert j["debug_rd"]["production_ready"]["ready"] == "no", j

    # Envelope errors.
    j = fd1(api, {"a": "no.such.action"}, 400)
    assert j["errors"] == ["a"] and j["r"] == "no.such.action", j
    j = fd1(api, {"rd": {"time": True}}, 400)
    assert j["errors"] == ["a"], j
    fd1(api, [1, 2], 400)
    expect(api.request("POST", "/fd1", body="{", ctype="application/json"),
           400)
    expect(api.request("POST", "/fd1", body={"a": "heartbeat"},
                       ctype="text/plain"), 415)
    expect(api.request("GET", "/fd1"), 405)


def main():
    with PgFixture() as pg:
        with start(pg) as p:
            api = Api(p.port, mkauth())
            test_slow(api)
            db_ready(api)
            test_rd_on_endpoints(api)
            test_envelope(api)
            api.close()
            assert p.stop() == 0
            assert_api_log_clean(p)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
