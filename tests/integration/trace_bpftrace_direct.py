#!/usr/bin/env python3
"""The trace data path without probed around it.

The bpftrace script probed generates (printed by test_trace_script --emit)
runs against tests/support/target; its stdout must be JSON lines with the
exact number of calls. Then that very output is sent to the fake platform
the way the upload protocol says (start, chunks of exactly CHUNK bytes but
the last, finished), through injected failures with retries, and the
platform must reassemble the same bytes.

Exit 77 (skipped) unless root with bpftrace and tracefs.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import fake_platform

ADDS, WORKS, CHUNK = 50, 20, 1000
UUID = "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
AUTH = UUID + ("$argon2i$v=19$m=4096,t=3,p=1$lxQKK/JGRLqc01yCPpJvSw"
               "$FUjxqpeiwORBGcgzPSytgHf1LTdbMLbGOyCqg61BJoM")


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def bpftrace_path():
    for p in ("/usr/bin/bpftrace", "/usr/local/bin/bpftrace"):
        if os.access(p, os.X_OK):
            return p
    return None


class Reader(threading.Thread):
    def __init__(self, f):
        super().__init__(daemon=True)
        self.f, self.data, self.lock = f, bytearray(), threading.Lock()

    def run(self):
        while True:
            b = self.f.read1(65536)
            if not b:
                return
            with self.lock:
                self.data += b

    def text(self):
        with self.lock:
            return bytes(self.data)


def run_bpftrace(build, bpftrace, tmp):
    target = os.path.join(build, "tests/support/target")
    script = subprocess.run(
        [os.path.join(build, "tests/unit/test_trace_script"), "--emit",
         "bpftrace", target, "30", "target_add", "target_work"],
        check=True, capture_output=True).stdout
    path = os.path.join(tmp, "t.bt")
    with open(path, "wb") as f:
        f.write(script)
    main = subprocess.Popen([target, "-w", str(ADDS), str(WORKS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pid = int(main.stdout.readline().split()[1])
    bt = subprocess.Popen([bpftrace, "-q", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env={},
                          start_new_session=True)
    out = Reader(bt.stdout)
    out.start()
    # bpftrace -q is silent when attached: canaries run until one shows.
    deadline = time.monotonic() + 30
    while b'"pid":' not in out.text():
        if time.monotonic() > deadline or bt.poll() is not None:
            bt.kill()
            main.kill()
            raise AssertionError("bpftrace never attached: %r"
                                 % bt.stderr.read())
        subprocess.run([target, "1", "0"], stdout=subprocess.DEVNULL)
        time.sleep(0.3)
    main.stdin.write(b"\n")
    main.stdin.close()
    assert main.wait(10) == 0
    needle = b'"pid":%d,' % pid
    deadline = time.monotonic() + 10
    while out.text().count(needle) < 2 * (ADDS + WORKS):
        assert time.monotonic() < deadline, "missing hits"
        time.sleep(0.05)
    bt.terminate()
    code = bt.wait(10)
    out.join(5)
    return pid, out.text(), bt.stderr.read(), code


def check_lines(raw, pid):
    counts = {}
    for line in raw.decode().split("\n"):
        if not line:
            continue
        obj = json.loads(line)  # every line one object
        assert obj["process"] == "target", obj
        if obj["pid"] != pid:
            continue
        key = ("probe" if "probe" in obj else "return",
               obj.get("probe") or obj.get("return"))
        counts[key] = counts.get(key, 0) + 1
        if key[0] == "return":
            int(obj["retval"])
    want = {("probe", "target_add"): ADDS, ("return", "target_add"): ADDS,
            ("probe", "target_work"): WORKS, ("return", "target_work"): WORKS}
    assert counts == want, counts


def put(url, obj):
    req = urllib.request.Request(
        url + "/submit", method="PUT", data=json.dumps(obj).encode(),
        headers={"Content-Type": "application/json", "Authorization": AUTH})
    try:
        with urllib.request.urlopen(req, timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def send_until_2xx(url, obj):
    for _ in range(50):
        status = put(url, obj)
        if status is not None and 200 <= status < 300:
            return
        time.sleep(0.02)
    raise AssertionError("never accepted: %r" % obj)


def upload(platform, trace, raw, stderr, code):
    send_until_2xx(platform.url, {"trace": trace, "status": "start"})
    chunks = [raw[i:i + CHUNK] for i in range(0, len(raw), CHUNK)]
    for no, chunk in enumerate(chunks):
        if no == 1:
            platform.set_mode("500", count=2)
        if no == 2:
            platform.set_mode("refuse", count=1)
        body = {"trace": trace, "no": no,
                "field": base64.b64encode(chunk).decode()}
        send_until_2xx(platform.url, body)
        if no == 3:  # an acknowledged chunk sent again: a duplicate
            send_until_2xx(platform.url, body)
    send_until_2xx(platform.url, {"trace": trace, "stderr": stderr,
                                  "code": code, "status": "finished"})
    return len(chunks)


def main():
    build = os.environ.get("PROBED_BUILDDIR")
    if build is None:
        skip("PROBED_BUILDDIR not set (run through make check)")
    if os.geteuid() != 0:
        skip("needs root")
    bpftrace = bpftrace_path()
    if bpftrace is None:
        skip("needs bpftrace")
    if not (os.path.exists("/sys/kernel/tracing/uprobe_events") or
            os.path.exists("/sys/kernel/debug/tracing/uprobe_events")):
        skip("needs tracefs: mount -t tracefs nodev /sys/kernel/tracing")
    with tempfile.TemporaryDirectory() as tmp:
        pid, raw, stderr, code = run_bpftrace(build, bpftrace, tmp)
    check_lines(raw, pid)
    assert code == 0, (code, stderr)
    assert len(raw) > 3 * CHUNK, len(raw)
    platform = fake_platform.FakePlatform(uuid=UUID)
    platform.start()
    try:
        trace = "/var/lib/probed/traces/lambda-direct.trace"
        n = upload(platform, trace, raw, stderr.decode(), code)
        assert platform.reassemble(trace) == raw
        problems = platform.check_trace(trace, chunk_size=CHUNK)
        assert problems == [], problems
        recs = platform.records()
        assert sum(r["duplicate"] for r in recs) == 1
        assert not any(r["conflict"] for r in recs)
        assert not any(r["auth_problem"] for r in recs)
        assert platform.finished(trace)["code"] == 0
    finally:
        platform.stop()
    print("ok: %d bytes of bpftrace output, %d chunks of %d, %d requests"
          % (len(raw), n, CHUNK, len(recs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
