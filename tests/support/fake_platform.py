#!/usr/bin/env python3
"""A fake lambda platform: the receiving end of probed's uploads.

It accepts ``PUT <anything>/submit`` with the three JSON bodies of the
upload protocol (NOTES.md, "Upload protocol")::

    {"trace": P, "status": "start"}
    {"trace": P, "no": n, "field": "<base64 of the chunk>"}
    {"trace": P, "stderr": S, "code": C, "status": "finished"}

records every request, whatever became of it, and answers as it is told:

    POST /_control {"mode": "ok" | "500" | "hang" | "refuse" | "down",
                    "count": n, "hang_seconds": s}
        ok      200 (the default)
        500     500 with a JSON error
        hang    read the request, never answer; close after hang_seconds
                (default 30) or at stop()
        refuse  accept the connection and close it without reading or
                answering
        down    close the listening socket: connections are refused by
                the kernel (ECONNREFUSED) until the mode changes again
        count   how many requests the mode applies to before "ok" comes
                back by itself; absent or null: until changed. "down"
                ignores it.
    GET /_log      every record, as a JSON list
    GET /_traces   per trace: chunks, bytes, finished, problems
    POST /_reset   forget the records

The Authorization header must be present and be the endpoint uuid followed
by a PHC argon2 string (``<uuid>$argon2i$v=19$...``); a missing or
malformed header gets 401 {"message": "Not logged in"}. The uuid is
compared when one was given. The hash is verified against the secret only
when argon2-cffi is installed and a secret was given; otherwise its form is
checked.

A chunk is flagged "duplicate" when the same (trace, no) was already
answered with 200, "conflict" when its bytes also differ. reassemble()
returns a trace's bytes and raises unless chunks 0..n-1 all arrived.

As a module (tests/support is on PYTHONPATH in make check)::

    p = FakePlatform(uuid=U, secret=S)
    port = p.start()
    p.set_mode("500", count=3)
    ...
    p.records(); p.reassemble(path); p.check_trace(path, chunk_size)
    p.stop()

Standalone: ``fake_platform.py [--host H] [--port N] [--uuid U]
[--secret S]`` prints the port on the first line of stdout and serves until
SIGTERM or SIGINT. ``--self-test`` runs its own checks and exits.
"""

import argparse
import base64
import binascii
import copy
import json
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # optional: verify the hash for real when it is available
    import argon2  # type: ignore

    _ARGON2 = argon2.PasswordHasher()
except ImportError:  # pragma: no cover - depends on the host
    argon2 = None
    _ARGON2 = None

MODES = ("ok", "500", "hang", "refuse", "down")
_PHC = re.compile(r"^\$argon2(i|d|id)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+"
                  r"\$[A-Za-z0-9+/]+$")
# A body larger than this is refused: a chunk is submit-chunk-size bytes,
# base64 makes it 4/3 of that, and the fake has no reason to take more.
MAX_BODY = 64 * 1024 * 1024


def check_authorization(value, uuid=None, secret=None):
    """Returns None when the header is acceptable, else the problem."""
    if not value:
        return "no Authorization header"
    at = value.find("$argon2")
    if at <= 0:
        return "Authorization is not <uuid>$argon2..."
    prefix, phc = value[:at], value[at:]
    if uuid is not None and prefix != uuid:
        return "Authorization uuid %r is not %r" % (prefix, uuid)
    if not _PHC.match(phc):
        return "Authorization hash is not a PHC argon2 string"
    if secret is not None and _ARGON2 is not None:
        try:
            _ARGON2.verify(phc, secret)
        except Exception as e:  # VerifyMismatchError, InvalidHash...
            return "Authorization hash does not verify: %s" % type(e).__name__
    return None


def classify(body):
    """(kind, errors) for a decoded JSON body."""
    errors = []
    if not isinstance(body, dict):
        return "invalid", ["body is not a JSON object"]
    trace = body.get("trace")
    if not isinstance(trace, str) or not trace:
        errors.append("trace: not a non-empty string")
    keys = set(body)
    if body.get("status") == "start":
        kind, want = "start", {"trace", "status"}
    elif body.get("status") == "finished":
        kind, want = "finished", {"trace", "stderr", "code", "status"}
        if not isinstance(body.get("stderr"), str):
            errors.append("stderr: not a string")
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            errors.append("code: not an integer")
    elif "no" in body or "field" in body:
        kind, want = "chunk", {"trace", "no", "field"}
        no = body.get("no")
        if not isinstance(no, int) or isinstance(no, bool) or no < 0:
            errors.append("no: not an integer >= 0")
        field = body.get("field")
        if not isinstance(field, str):
            errors.append("field: not a string")
        else:
            try:
                base64.b64decode(field, validate=True)
            except (binascii.Error, ValueError):
                errors.append("field: not base64")
    else:
        return "invalid", errors + ["not start, chunk or finished"]
    if keys != want:
        errors.append("keys %s, expected %s" % (sorted(keys), sorted(want)))
    return (kind if not errors else "invalid"), errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-platform/1"

    def log_message(self, fmt, *args):  # quiet: the records say it all
        pass

    @property
    def platform(self):
        return self.server.platform

    def _reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(16)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body of %d bytes" % length)
        return self.rfile.read(length)

    def do_PUT(self):
        if not self.path.split("?")[0].endswith("/submit"):
            self._reply(404, {"message": "Not Found"})
            return
        mode = self.platform._take_mode()
        if mode == "refuse":
            self.platform._record(self, None, b"", answered="refuse")
            self.close_connection = True
            return
        try:
            raw = self._read_body()
        except (ValueError, OSError) as e:
            self.platform._record(self, None, b"", answered=400,
                                  errors=[str(e)])
            self.close_connection = True
            return
        if mode == "hang":
            self.platform._record(self, None, raw, answered="hang")
            self.platform._stopping.wait(self.platform.hang_seconds)
            self.close_connection = True
            return
        status, answer = self.platform._submit(self, raw, mode)
        self._reply(status, answer)

    def do_POST(self):
        if self.path == "/_control":
            try:
                obj = json.loads(self._read_body() or b"{}")
                self.platform.set_mode(obj.get("mode", "ok"),
                                       obj.get("count"),
                                       obj.get("hang_seconds"))
            except (ValueError, TypeError, AttributeError) as e:
                self._reply(400, {"message": str(e)})
                return
            self._reply(200, {"mode": obj.get("mode", "ok")})
        elif self.path == "/_reset":
            self._read_body()
            self.platform.reset()
            self._reply(200, {})
        else:
            self._reply(404, {"message": "Not Found"})

    def do_GET(self):
        if self.path == "/_log":
            self._reply(200, self.platform.records())
        elif self.path == "/_traces":
            self._reply(200, self.platform.summary())
        else:
            self._reply(404, {"message": "Not Found"})


class FakePlatform:
    def __init__(self, host="127.0.0.1", port=0, uuid=None, secret=None,
                 hang_seconds=30.0):
        self.host, self.port = host, port
        self.uuid, self.secret = uuid, secret
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self._records = []
        self._acked = {}  # (trace, no) -> bytes of the chunk answered 200
        self._mode, self._count = "ok", None
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # -- life cycle ---------------------------------------------------------

    def start(self):
        """Starts serving in a thread; returns the port."""
        self._listen()
        return self.port

    def _listen(self):
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.platform = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def _unlisten(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def stop(self):
        self._stopping.set()
        self._unlisten()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # -- modes --------------------------------------------------------------

    def set_mode(self, mode, count=None, hang_seconds=None):
        if mode not in MODES:
            raise ValueError("mode: one of %s" % ", ".join(MODES))
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ValueError("count: an integer >= 0 or null")
        if hang_seconds is not None:
            self.hang_seconds = float(hang_seconds)
        with self._lock:
            was, self._mode, self._count = self._mode, mode, count
        # "down" closes the listener; leaving it listens again, same port.
        # (A request over HTTP cannot bring it back: use the module. From a
        # handler thread shutdown() is safe: the serving loop is another.)
        if mode == "down" and was != "down":
            self._unlisten()
        elif mode != "down" and was == "down":
            self._listen()

    def _take_mode(self):
        with self._lock:
            mode = self._mode
            if self._count is not None and mode not in ("ok", "down"):
                self._count -= 1
                if self._count <= 0:
                    self._mode, self._count = "ok", None
            return mode

    # -- records ------------------------------------------------------------

    def _record(self, handler, body, raw, answered, kind=None, errors=None,
                **extra):
        auth = handler.headers.get("Authorization")
        rec = {
            "time": time.time(),
            "method": handler.command,
            "path": handler.path,
            "content_type": handler.headers.get("Content-Type"),
            "authorization": auth,
            "auth_problem": check_authorization(auth, self.uuid, self.secret),
            "raw": raw.decode("utf-8", "replace"),
            "body": body,
            "kind": kind,
            "trace": body.get("trace") if isinstance(body, dict) else None,
            "no": body.get("no") if isinstance(body, dict) else None,
            "answered": answered,
            "errors": errors or [],
            "duplicate": False,
            "conflict": False,
        }
        rec.update(extra)
        with self._lock:
            rec["seq"] = len(self._records)
            self._records.append(rec)
        return rec

    def _submit(self, handler, raw, mode):
        try:
            body = json.loads(raw)
        except ValueError as e:
            self._record(handler, None, raw, 400, "invalid", [str(e)])
            return 400, {"message": "Invalid JSON"}
        kind, errors = classify(body)
        auth = check_authorization(handler.headers.get("Authorization"),
                                   self.uuid, self.secret)
        if auth is not None:
            self._record(handler, body, raw, 401, kind, errors)
            return 401, {"message": "Not logged in"}
        if kind == "invalid":
            self._record(handler, body, raw, 400, kind, errors)
            return 400, {"message": "Invalid Arguments", "errors": errors}
        status = 500 if mode == "500" else 200
        with self._lock:
            dup = conflict = False
            if kind == "chunk":
                key = (body["trace"], body["no"])
                data = base64.b64decode(body["field"])
                if key in self._acked:
                    dup, conflict = True, self._acked[key] != data
                elif status == 200:
                    self._acked[key] = data
        self._record(handler, body, raw, status, kind, errors,
                     duplicate=dup, conflict=conflict)
        if status == 500:
            return 500, {"message": "Internal Server Error (on command)"}
        return 200, {"status": "ok"}

    def records(self):
        with self._lock:
            return copy.deepcopy(self._records)

    def reset(self):
        with self._lock:
            self._records = []
            self._acked = {}

    def wait_for(self, pred, timeout=10.0, interval=0.02):
        """Polls pred(records) until true; returns the records or raises."""
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records()
            if pred(recs):
                return recs
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in %.1f s; %d records"
                                   % (timeout, len(recs)))
            time.sleep(interval)

    # -- traces -------------------------------------------------------------

    def _accepted(self, trace):
        return [r for r in self.records()
                if r["trace"] == trace and r["answered"] == 200]

    def reassemble(self, trace):
        """The trace's bytes from its accepted chunks 0..n-1, or raises."""
        chunks = {}
        for r in self._accepted(trace):
            if r["kind"] == "chunk" and r["no"] not in chunks:
                chunks[r["no"]] = base64.b64decode(r["body"]["field"])
        missing = [n for n in range(len(chunks)) if n not in chunks]
        if missing or (chunks and max(chunks) != len(chunks) - 1):
            raise ValueError("trace %s: chunks %s, missing %s"
                             % (trace, sorted(chunks), missing))
        return b"".join(chunks[n] for n in range(len(chunks)))

    def check_trace(self, trace, chunk_size=None):
        """Problems with a trace's accepted requests, [] when it is whole:
        one start first, chunks 0..n-1 in order after it (duplicates
        allowed, no conflicts), every chunk but the last chunk_size bytes,
        one finished last."""
        problems, recs = [], self._accepted(trace)
        kinds = [r["kind"] for r in recs]
        if not kinds or kinds[0] != "start":
            problems.append("does not begin with start")
        if kinds.count("start") != 1:
            problems.append("%d starts" % kinds.count("start"))
        if kinds.count("finished") != 1 or kinds[-1:] != ["finished"]:
            problems.append("does not end with one finished")
        expect, sizes = 0, []
        for r in recs:
            if r["kind"] != "chunk":
                continue
            if r["conflict"]:
                problems.append("chunk %d sent again with other bytes" % r["no"])
            if r["duplicate"]:
                continue
            if r["no"] != expect:
                problems.append("chunk %d where %d was due" % (r["no"], expect))
            expect = r["no"] + 1
            sizes.append(len(base64.b64decode(r["body"]["field"])))
        if chunk_size is not None:
            for i, size in enumerate(sizes):
                last = i == len(sizes) - 1
                if size > chunk_size or (not last and size != chunk_size) \
                        or size == 0:
                    problems.append("chunk %d has %d bytes" % (i, size))
        return problems

    def finished(self, trace):
        for r in self._accepted(trace):
            if r["kind"] == "finished":
                return r["body"]
        return None

    def summary(self):
        traces = {}
        for r in self.records():
            if r["trace"] is not None:
                traces.setdefault(r["trace"], None)
        out = {}
        for t in traces:
            try:
                size = len(self.reassemble(t))
            except ValueError:
                size = None
            out[t] = {
                "chunks": len({r["no"] for r in self._accepted(t)
                               if r["kind"] == "chunk"}),
                "bytes": size,
                "finished": self.finished(t),
                "problems": self.check_trace(t),
            }
        return out


# -- self test -----------------------------------------------------------------

def _put(url, obj, auth):
    import urllib.request
    req = urllib.request.Request(url + "/submit", method="PUT",
                                 data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": auth})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _self_test():
    import urllib.error  # noqa: F401 (used by _put)
    uuid = "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
    auth = uuid + ("$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw"
                   "$FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM")
    p = FakePlatform(uuid=uuid, hang_seconds=0.5)
    p.start()
    t = "/var/lib/probed/traces/lambda-x.trace"
    b64 = lambda b: base64.b64encode(b).decode()
    assert _put(p.url, {"trace": t, "status": "start"}, auth) == 200
    assert _put(p.url, {"trace": t, "no": 0, "field": b64(b"abc")}, auth) == 200
    p.set_mode("500", count=1)
    assert _put(p.url, {"trace": t, "no": 1, "field": b64(b"def")}, auth) == 500
    assert _put(p.url, {"trace": t, "no": 1, "field": b64(b"def")}, auth) == 200
    assert _put(p.url, {"trace": t, "no": 1, "field": b64(b"def")}, auth) == 200
    p.set_mode("refuse", count=1)
    try:
        _put(p.url, {"trace": t, "no": 2, "field": b64(b"g")}, auth)
        raise AssertionError("refuse answered")
    except (OSError, Exception) as e:  # RemoteDisconnected, reset
        assert not isinstance(e, AssertionError), e
    p.set_mode("hang", count=1)
    try:
        _put(p.url, {"trace": t, "no": 2, "field": b64(b"g")}, auth)
        raise AssertionError("hang answered")
    except (OSError, Exception) as e:
        assert not isinstance(e, AssertionError), e
    assert _put(p.url, {"trace": t, "no": 2, "field": b64(b"g")}, auth) == 200
    assert _put(p.url, {"trace": t, "no": 2, "field": b64(b"g")}, "x") == 401
    assert _put(p.url, {"trace": t, "no": "2"}, auth) == 400
    p.set_mode("down")
    try:
        _put(p.url, {"trace": t, "status": "start"}, auth)
        raise AssertionError("down answered")
    except ConnectionRefusedError:
        pass
    except Exception as e:
        assert getattr(e, "reason", None).__class__ is ConnectionRefusedError, e
    p.set_mode("ok")
    fin = {"trace": t, "stderr": "", "code": 0, "status": "finished"}
    assert _put(p.url, fin, auth) == 200
    assert p.reassemble(t) == b"abcdefg", p.reassemble(t)
    assert p.check_trace(t, chunk_size=3) == [], p.check_trace(t, 3)
    assert p.check_trace(t, chunk_size=4) != []
    recs = p.records()
    assert sum(r["duplicate"] for r in recs) == 1
    assert [r["answered"] for r in recs].count("refuse") == 1
    assert [r["answered"] for r in recs].count("hang") == 1
    assert p.finished(t)["code"] == 0
    p.stop()
    print("fake_platform self-test: ok (%d records)" % len(recs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--uuid")
    ap.add_argument("--secret")
    ap.add_argument("--hang-seconds", type=float, default=30.0)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        _self_test()
        return 0
    p = FakePlatform(args.host, args.port, args.uuid, args.secret,
                     args.hang_seconds)
    done = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: done.set())
    print(p.start(), flush=True)
    done.wait()
    p.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
