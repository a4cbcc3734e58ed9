"""Shared by the trace_*.py integration tests: a probed whose uploader
talks to tests/support/fake_platform.py, the lambda Authorization header,
trace starts with an inline template, and the bpftrace target.

Not a test itself (it is not in TESTS)."""
import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
import time

import fake_platform
from probed_fixture import BUILDDIR, Probed, wait_for

UUID = "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
SECRET = "trace-test-secret"
TARGET = os.path.join(BUILDDIR, "tests/support/target")


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def need_bpftrace():
    if os.environ.get("PROBED_BUILDDIR") is None:
        skip("PROBED_BUILDDIR not set (run through make check)")
    if os.geteuid() != 0:
        skip("needs root")
    if not os.access("/usr/bin/bpftrace", os.X_OK):
        skip("needs /usr/bin/bpftrace")
    if not os.path.exists("/sys/kernel/tracing/uprobe_events"):
        skip("needs tracefs: mount -t tracefs nodev /sys/kernel/tracing")


def auth_header(uuid=UUID, secret=SECRET):
    """uuid + argon2i PHC string, made with libargon2 (no Python module)."""
    lib = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
    f = lib.argon2i_hash_encoded
    f.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                  ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                  ctypes.c_size_t, ctypes.c_size_t, ctypes.c_char_p,
                  ctypes.c_size_t]
    salt = os.urandom(16)
    out = ctypes.create_string_buffer(256)
    pwd = secret.encode()
    rc = lib.argon2i_hash_encoded(3, 4096, 1, pwd, len(pwd), salt, 16, 32,
                                  out, 256)
    assert rc == 0, rc
    return uuid + out.value.decode()


def lambda_settings(platform_url, chunk=1000, stap="/usr/bin/stap"):
    return ('root-password: "not-used-as-root"\n'
            "bpf-path: /usr/bin/bpftrace\n"
            "stap-path: %s\n"
            "submit-chunk-size: %d\n"
            'platform-url: "%s"\n'
            'secret: "%s"\n'
            'endpoint-uuid: "%s"\n' % (stap, chunk, platform_url, SECRET,
                                       UUID))


class TraceProbed(Probed):
    """probed + a fake platform; uploader retries fast."""

    def __init__(self, chunk=1000, trace_workers=2, stap=None, extra="",
                 url=None, db="unreachable"):
        self.platform = fake_platform.FakePlatform(uuid=UUID, secret=None,
                                                   hang_seconds=3.0)
        self.platform.start()
        self.chunk = chunk
        # url: upload somewhere else than the fake platform (benchmarks).
        url = url or self.platform.url
        super().__init__(lambda_settings=lambda_settings(
            url + "/", chunk, stap or "/usr/bin/stap"),
            trace_workers=trace_workers, db=db)
        upl = "uploader:\n  timeout: 1\n  backoff-max: 0.3\n"
        if "uploader:\n" in extra:
            extra = extra.replace("uploader:\n", upl)
        else:
            extra = upl + extra
        self.write_config(self.settings_text(extra),
                          lambda_settings(url + "/", chunk,
                                          stap or "/usr/bin/stap"))
        self.auth = auth_header()

    def close(self):
        try:
            super().close()
        finally:
            self.platform.stop()

    def api(self, path, method="GET", body=None, timeout=10.0):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": self.auth}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.http(path, admin=False, method=method, body=data,
                         headers=headers, timeout=timeout)

    def start_trace(self, functions, lasting, tool="BPF", process=TARGET):
        tpl = {"process": process, "functions": functions,
               "environment": [], "value": [], "options": [],
               "traceType": tool}
        st, body, _ = self.api("/trace/start", "POST",
                               {"traceT": tool, "traceId": 1,
                                "lasting": lasting, "template": tpl})
        assert st == 200, (st, body)
        ans = json.loads(body)
        assert isinstance(ans["thread"], int), ans
        self.last_run_id = ans["thread"]  # the run table's run id
        return ans["filePath"]

    def running(self, path):
        st, body, _ = self.api("/trace/running?path=" + path)
        return st, (json.loads(body) if body else None)

    def kill_trace(self, path):
        return self.api("/trace/kill", "POST", {"killPath": path})

    def wait_attached(self, path, timeout=30.0):
        """Runs canary targets until the trace shows events."""
        def attached():
            st, item = self.running(path)
            assert st == 200, (st, item)
            if item["events"] > 0:
                return item
            assert item["state"] in ("starting", "running"), item
            subprocess.run([TARGET, "1", "0"], stdout=subprocess.DEVNULL)
            return None
        return wait_for("trace %s attached" % path, attached, timeout,
                        interval=0.2)

    def wait_uploaded(self, path, timeout=30.0):
        def done():
            st, item = self.running(path)
            return st == 200 and item["uploaded"]
        wait_for("trace %s uploaded" % path, done, timeout, interval=0.05)

    def wait_finished(self, path, timeout=30.0):
        """Until the platform acknowledged the run's finished record (as
        the run table says; polling the platform's records would copy
        every body each time), then checks the platform has it."""
        def done():
            st, item = self.running(path)
            return st == 200 and item["uploaded"]
        wait_for("trace %s uploaded" % path, done, timeout, interval=0.05)
        assert self.platform.finished(path) is not None, path


def trace_stats(p, worker):
    """trace/WORKER's stats page as {name: metric}, through probectl."""
    out = p.probectl("--json", "stats", "trace/%d" % worker)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    ans = json.loads(out.stdout)
    assert ans["ok"] and ans["stats"]["process"] == "trace/%d" % worker, ans
    return {m["name"]: m for m in ans["stats"]["metrics"]}


def values(st):
    """A stats page's figures: a counter's or gauge's value, a histogram's
    count."""
    return {k: m.get("value", m.get("count")) for k, m in st.items()}


def store_template(p):
    """PUT /trace of a BPF template tracing TARGET's two functions, retried
    until the db worker has its connection; returns the traceNo."""
    tpl = {"process": TARGET, "functions": ["target_add", "target_work"],
           "environment": [], "value": [], "options": [], "traceType": "BPF"}

    def put():
        st, body, _ = p.api("/trace", "PUT", tpl)
        return json.loads(body) if st == 200 else None
    return wait_for("PUT /trace stored", put, 30, interval=0.2)["traceNo"]


def run_main_target(adds, works):
    """The traced target: waits for a line on stdin, then calls."""
    main = subprocess.Popen([TARGET, "-w", str(adds), str(works)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pid = int(main.stdout.readline().split()[1])
    return main, pid


def release_target(main):
    main.stdin.write(b"\n")
    main.stdin.close()
    out = main.stdout.read()
    assert main.wait(10) == 0
    return out


def count_events(raw, pid):
    counts = {}
    for line in raw.decode().split("\n"):
        if not line:
            continue
        obj = json.loads(line)  # every line exactly one object
        if obj["pid"] != pid:
            continue
        key = ("probe" if "probe" in obj else "return",
               obj.get("probe") or obj.get("return"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def expected(adds, works):
    return {("probe", "target_add"): adds, ("return", "target_add"): adds,
            ("probe", "target_work"): works,
            ("return", "target_work"): works}


def check_complete(p, path):
    problems = p.platform.check_trace(path, chunk_size=p.chunk)
    assert problems == [], problems
    recs = p.platform.records()
    assert not any(r["auth_problem"] for r in recs
                   if r["trace"] == path), "auth problem"
    assert not any(r["conflict"] for r in recs)
    return p.platform.reassemble(path)


__all__ = ["TraceProbed", "wait_for", "skip", "need_bpftrace", "TARGET",
           "run_main_target", "release_target", "count_events", "expected",
           "check_complete", "time"]
