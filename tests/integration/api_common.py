"""Shared by the api_*.py integration tests: a probed on a real PostgreSQL,
Authorization headers made by tests/support/mkauth, raw HTTP requests."""
import http.client
import json
import os
import shutil
import subprocess
import time

from pgfixture import PgFixture
from probed_fixture import BUILDDIR, Probed, wait_for

UUID = "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
SECRET = "fixture-secret"
MKAUTH = os.path.join(BUILDDIR, "tests", "support", "mkauth")


def mkauth(uuid=UUID, secret=SECRET, m=4096, t=3, p=1):
    out = subprocess.run([MKAUTH, uuid, secret, str(m), str(t), str(p)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def executable():
    """An existing executable with a path the template grammar accepts."""
    return os.path.realpath(shutil.which("bash"))


class Api:
    """One keep-alive connection to the API listener."""

    def __init__(self, port, auth):
        self.port = port
        self.auth = auth
        self.conn = None

    def request(self, method, path, body=None, headers=None, auth=True,
                ctype="application/json"):
        h = {}
        if auth is True:
            h["Authorization"] = self.auth
        elif auth is not None and auth is not False:
            h["Authorization"] = auth
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if ctype is not None:
                h["Content-Type"] = ctype
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1",
                                                       self.port, timeout=10)
            try:
                t0 = time.monotonic()
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                elapsed = time.monotonic() - t0
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return Answer(r.status, data, r.headers, elapsed)
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                # The server closed an idle keep-alive connection.
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Answer:
    def __init__(self, status, data, headers, elapsed):
        self.status = status
        self.data = data
        self.headers = headers
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.data[:300])


def expect(a, status, what=""):
    assert a.status == status, "%s: expected %d, got %r" % (what, status, a)
    return a


def start(pg, extra=""):
    p = Probed(db=pg, trace_workers=1)
    p.write_config(p.settings_text(extra))
    p.start()
    p.wait_log("[db] info: connected to PostgreSQL")
    return p


def db_ready(api):
    """The db worker answers (migrations done)."""
    return wait_for("GET /traces answered 200", lambda: api.request(
        "GET", "/traces").status == 200, timeout=30)


__all__ = ["Api", "PgFixture", "Probed", "UUID", "SECRET", "mkauth",
           "executable", "expect", "start", "db_ready", "wait_for",
           "assert_api_log_clean"]


def assert_api_log_clean(p):
    """Under --enable-sanitizers, the api worker reported nothing (its
    stderr, LeakSanitizer's report at exit included, goes to the log)."""
    bad = [line for line in p.logtext().splitlines()
           if "[api]" in line and ("Sanitizer" in line or
                                   "runtime error" in line)]
    assert not bad, "\n".join(bad[:20])
    assert "api stopped (exit 0)" in p.logtext()
