"""The lambda template endpoints over real HTTP on a real PostgreSQL:
argon2 Authorization on every API-listener path (cached, bounded), GET
/heartbeat, GET /traces, PUT /trace, POST /trace/remove with their error
answers, 503 while PostgreSQL is down and recovery without a restart, and
the api worker's unprivileged uid."""
import datetime
import pwd
import re
import statistics
import sys

from api_common import (Api, assert_api_log_clean, PgFixture, UUID, db_ready,
                        executable, expect, mkauth, start, wait_for)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line for %d" % pid)


def test_auth(p, api):
    unauth = {"message": "Not logged in", "errors": []}
    # Missing, empty, garbage, no $argon2: refused, on known and unknown
    # paths alike (authentication comes before routing).
    for path in ("/heartbeat", "/traces", "/no/such/path", "/fd1"):
        a = expect(api.request("GET", path, auth=None), 401, path)
        assert a.json() == unauth, a
    for bad in ("", "garbage !@#%^&*()", UUID, UUID + "argon2i$v=19",
                UUID + "$argon2i$v=19$m=4096,t=3,p=1$AAAA$AAAA",
                "x" * 2000):
        a = expect(api.request("GET", "/heartbeat", auth=bad), 401, bad)
        assert a.json() == unauth
    # Wrong uuid, wrong secret: well formed, still refused.
    expect(api.request("GET", "/heartbeat",
                       auth=mkauth(uuid="00000000-0000-0000-0000-"
                                        "000000000000")), 401, "wrong uuid")
    expect(api.request("GET", "/heartbeat",
                       auth=mkauth(secret="not-the-secret")), 401,
           "wrong secret")
    # A fresh valid header verifies once.
    expect(api.request("GET", "/heartbeat", auth=mkauth()), 200, "fresh")

    # An expensive header (m=64 MiB, t=16: the configured bounds) shows
    # what one verification costs; repeating it must not cost it again.
    heavy = mkauth(m=65536, t=16, p=1)
    first = expect(api.request("GET", "/heartbeat", auth=heavy), 200,
                   "heavy").elapsed
    again = statistics.median(
        expect(api.request("GET", "/heartbeat", auth=heavy), 200,
               "heavy cached").elapsed for _ in range(20))
    assert again < first / 5, (first, again)
    # m over auth.argon2-max-m: refused before libargon2 allocates it.
    huge = heavy.replace("m=65536", "m=4194304")
    over = expect(api.request("GET", "/heartbeat", auth=huge), 401,
                  "oversized m")
    assert over.elapsed < first / 5, (first, over.elapsed)
    over_t = heavy.replace("t=16", "t=4096")
    assert expect(api.request("GET", "/heartbeat", auth=over_t), 401,
                  "oversized t").elapsed < first / 5
    print("auth: verify %.1f ms, cached %.2f ms, oversized m %.2f ms"
          % (first * 1e3, again * 1e3, over.elapsed * 1e3))


def test_heartbeat(api):
    a = expect(api.request("GET", "/heartbeat"), 200)
    body = a.json()
    assert body["status"] == "alive", body
    assert ISO.match(body["time"]), body
    when = datetime.datetime.strptime(body["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - when).total_seconds()) < 5, (now, when)
    assert a.headers["Content-Type"] == "application/json"
    assert "debug_rd" not in body
    assert a.headers["Connection"] == "keep-alive", a.headers
    assert int(a.headers["Content-Length"]) == len(a.data)
    # HEAD: the same headers, no body.
    h = expect(api.request("HEAD", "/heartbeat"), 200)
    assert h.data == b"" and h.headers["Content-Length"] == \
        a.headers["Content-Length"], h.headers
    a = expect(api.request("GET", "/heartbeat",
                           headers={"Connection": "close"}), 200)
    assert a.headers["Connection"] == "close", a.headers
    expect(api.request("POST", "/heartbeat", body={}), 405)


def test_templates(api):
    exe = executable()
    bpf = {"process": exe, "functions": ["main", "xmalloc"],
           "environment": [], "value": [], "options": [],
           "traceType": "BPF"}
    a = expect(api.request("PUT", "/trace", body=bpf), 200, "put bpf")
    assert a.json() == {"traceNo": 1, "traceType": "BPF"}, a
    # The README's "funtions" and a one-element traceType array.
    stap = {"process": exe, "funtions": ["main"], "traceType": ["STAP"]}
    a = expect(api.request("PUT", "/trace", body=stap), 200, "put stap")
    assert a.json() == {"traceNo": 1, "traceType": "STAP"}, a
    a = expect(api.request("PUT", "/trace", body=bpf), 200, "put bpf 2")
    assert a.json() == {"traceNo": 2, "traceType": "BPF"}, a

    items = expect(api.request("GET", "/traces"), 200).json()
    got = sorted((i["info"]["traceType"], i["traceNo"]) for i in items)
    assert got == [("BPF", 1), ("BPF", 2), ("STAP", 1)], items
    for i in items:
        assert i["info"]["process"] == exe
        assert "functions" in i["info"] and "funtions" not in i["info"]
    stap_item = [i for i in items if i["info"]["traceType"] == "STAP"][0]
    assert stap_item["info"]["functions"] == ["main"], stap_item

    # Validation: the bad fields by name.
    cases = [
        ({"functions": ["main"], "traceType": "BPF"}, ["process"]),
        (dict(bpf, process="/no/such/executable"), ["process"]),
        (dict(bpf, process="/etc/passwd"), ["process"]),
        (dict(bpf, traceType="DTRACE"), ["traceType"]),
        (dict(bpf, functions=["x; system()"]), ["functions"]),
        ({"process": exe, "traceType": "BPF"}, ["functions"]),
        ([1, 2], None),
    ]
    for body, fields in cases:
        a = expect(api.request("PUT", "/trace", body=body), 400, body)
        j = a.json()
        assert j["message"] == "Invalid Arguments", j
        if fields is not None:
            for f in fields:
                assert f in j["errors"], (f, j)
    # HTTP-level errors from api/http.c.
    a = expect(api.request("PUT", "/trace", body=bpf, ctype="text/plain"),
               415, "content type")
    a = expect(api.request("PUT", "/trace", body=bpf, ctype=None), 415)
    a = expect(api.request("PUT", "/trace", body='{"process": '), 400)
    assert "position" in a.json()["errors"][0], a
    big = dict(bpf, pad="x" * (80 * 1024))
    expect(api.request("PUT", "/trace", body=big), 413, "max-body")

    # Remove: plain text "deleted", then 404 JSON.
    rm = {"removeType": "BPF", "removeId": 2}
    a = expect(api.request("POST", "/trace/remove", body=rm), 200)
    assert a.data == b"deleted", a
    assert a.headers["Content-Type"].startswith("text/plain")
    a = expect(api.request("POST", "/trace/remove", body=rm), 404)
    assert a.json()["message"] == "no such template", a
    a = expect(api.request("POST", "/trace/remove",
                           body={"removeType": "STAP", "removeId": 99}), 404)
    items = expect(api.request("GET", "/traces"), 200).json()
    assert sorted((i["info"]["traceType"], i["traceNo"]) for i in items) \
        == [("BPF", 1), ("STAP", 1)], items
    a = expect(api.request("POST", "/trace/remove", body={}), 400)
    assert a.json() == {"message": "Invalid Arguments",
                        "errors": ["removeType", "removeId"]}, a
    a = expect(api.request("POST", "/trace/remove",
                           body={"removeType": ["STAP"], "removeId": "1"}),
               400)
    assert a.json()["errors"] == ["removeId"], a
    expect(api.request("POST", "/trace/remove", body=rm, ctype="text/x"),
           415)
    expect(api.request("GET", "/trace/remove"), 405)


def test_outage(p, pg, api):
    api_pid = p.worker("api")["pid"]
    db_pid = p.worker("db")["pid"]
    pg.stop()
    # Once the db worker noticed, every call answers 503 within a second.
    wait_for("503 while PostgreSQL is down", lambda: api.request(
        "GET", "/traces").status == 503, timeout=10)
    for _ in range(5):
        a = expect(api.request("GET", "/traces"), 503, "outage")
        assert a.json()["message"] == "database unavailable", a
        assert a.elapsed < 1.0, a.elapsed
    a = expect(api.request("PUT", "/trace", body={
        "process": executable(), "functions": ["main"],
        "traceType": "BPF"}), 503)
    assert a.elapsed < 1.0 and \
        a.json()["message"] == "database unavailable", a
    # Endpoints without the database keep working.
    expect(api.request("GET", "/heartbeat"), 200)
    pg.start()
    wait_for("GET /traces back to 200", lambda: api.request(
        "GET", "/traces").status == 200, timeout=30)
    assert p.worker("api")["pid"] == api_pid
    assert p.worker("db")["pid"] == db_pid
    assert p.proc.poll() is None


def main():
    with PgFixture() as pg:
        with start(pg, "max-body: 64K\n") as p:
            api = Api(p.port, mkauth())
            nobody = pwd.getpwnam("nobody").pw_uid
            assert uid_of(p.worker("api")["pid"]) == [nobody] * 4
            test_auth(p, api)
            test_heartbeat(api)
            db_ready(api)
            test_templates(api)
            test_outage(p, pg, api)
            api.close()
            assert p.stop() == 0
            assert_api_log_clean(p)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
