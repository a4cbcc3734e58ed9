#!/usr/bin/env python3
"""Benchmark of the trace data path; prints figures and ratios.

1. The same traced target (tests/support/target -s SECONDS: target_add and
   target_work in a tight loop) traced
     (a) by bpftrace alone, writing its JSON lines to a file, and
     (b) through probed (trace worker, chunk ring, uploader) to the fake
         platform;
   events/s and MB/s of each and the ratio b/a (goal: >= 0.9).
2. End-to-end chunk throughput, ring -> platform: a stand-in stap that
   writes a fixed amount of output at once, timed from the first to the
   last chunk the platform accepted, against a plain curl PUT loop (one
   curl process, keep-alive) sending the very same bodies.

Run as root from the build directory:
  PROBED_BUILDDIR=$PWD PYTHONPATH=SRC/tests/support:SRC/tests/integration \
      python3 SRC/tests/bench/trace.py [SECONDS]
"""
import os
import sys

import http.server
import signal
import threading
import stat
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import fake_platform  # noqa: E402
from probed_fixture import BUILDDIR
from trace_common import (TARGET, TraceProbed, auth_header, need_bpftrace,
                          wait_for)

FUNCS = ["target_add", "target_work"]
REPEAT = 3


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def target_events(raw, pid):
    n = size = 0
    needle = b'"pid":%d,' % pid
    for line in raw.split(b"\n"):
        if needle in line:
            n += 1
            size += len(line) + 1
    return n, size


def run_target(seconds):
    main = subprocess.Popen([TARGET, "-w", "-s", str(seconds)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    pid = int(main.stdout.readline().split()[1])
    return main, pid


def finish_target(main):
    t0 = time.monotonic()
    main.stdin.write(b"\n")
    main.stdin.close()
    out = main.stdout.read()
    assert main.wait(60) == 0
    return time.monotonic() - t0, out.decode().strip()


def bench_direct(seconds, tmp):
    script = subprocess.run(
        [os.path.join(BUILDDIR, "tests/unit/test_trace_script"), "--emit",
         "bpftrace", TARGET, "600"] + FUNCS, check=True,
        capture_output=True).stdout
    path = os.path.join(tmp, "b.bt")
    out = os.path.join(tmp, "out.json")
    with open(path, "wb") as f:
        f.write(script)
    main, pid = run_target(seconds)
    bt = subprocess.Popen(["/usr/bin/bpftrace", "-q", "-o", out, path],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (os.path.exists(out) and b'"pid":' in open(out, "rb").read()):
        assert time.monotonic() < deadline and bt.poll() is None
        subprocess.run([TARGET, "1", "0"], stdout=subprocess.DEVNULL)
        time.sleep(0.2)
    took, done = finish_target(main)
    time.sleep(0.5)  # let bpftrace drain its buffers before it is stopped
    os.killpg(bt.pid, signal.SIGINT)
    try:
        bt.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(bt.pid, signal.SIGKILL)
        bt.wait()
    n, size = target_events(open(out, "rb").read(), pid)
    return n, size, took, done


def bench_probed(p, seconds):
    main, pid = run_target(seconds)
    path = p.start_trace(FUNCS, lasting=600)
    p.wait_attached(path)
    took, done = finish_target(main)
    time.sleep(0.5)
    p.kill_trace(path)
    p.wait_finished(path, timeout=120)
    raw = p.platform.reassemble(path)
    n, size = target_events(raw, pid)
    return n, size, took, done


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.server.times.append(time.monotonic())
        self.server.bytes += n
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def sink():
    """A platform that only reads and answers 200: no parsing, so the
    uploader and curl are measured rather than the fake platform."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SinkHandler)
    srv.daemon_threads = True
    srv.times, srv.bytes = [], 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def bench_sink(stap, chunk, bodies):
    srv = sink()
    url = "http://127.0.0.1:%d" % srv.server_address[1]
    try:
        with TraceProbed(chunk=chunk, trace_workers=1, stap=stap,
                         url=url) as p:
            p.start()
            path = p.start_trace(["target_add"], lasting=60, tool="STAP")
            p.wait_uploaded(path, timeout=300)
            t = srv.times[-2] - srv.times[1]  # first chunk to last chunk
            n = len(srv.times) - 3
    finally:
        srv.shutdown()
        srv.server_close()
    return n, t


def curl_loop(tmp, url, bodies):
    cfg = os.path.join(tmp, "curl.cfg")
    with open(cfg, "w") as f:
        for i, b in enumerate(bodies):
            bp = os.path.join(tmp, "body%d" % i)
            with open(bp, "w") as bf:
                bf.write(b)
            if i:
                f.write("next\n")
            f.write('url = "%s/submit"\nrequest = "PUT"\n'
                    'data-binary = "@%s"\nheader = "Content-Type: '
                    'application/json"\nheader = "Authorization: %s"\n'
                    'output = "/dev/null"\nsilent\n'
                    % (url, bp, auth_header()))
    t0 = time.monotonic()
    subprocess.run(["curl", "--http1.1", "-K", cfg], check=True)
    return time.monotonic() - t0


def bench_chunks(tmp, total_mb=20, chunk=51200):
    stap = os.path.join(tmp, "stap")
    line = '{"probe":"target_add","pid":1,"pad":"%s"}' % ("x" * 60)
    count = total_mb * 1024 * 1024 // (len(line) + 1)
    with open(stap, "w") as f:
        f.write("#!/usr/bin/python3\nimport sys\n"
                "sys.stdout.write((%r + '\\n') * %d)\n" % (line, count))
    os.chmod(stap, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
             stat.S_IROTH | stat.S_IXOTH)
    with TraceProbed(chunk=chunk, trace_workers=1, stap=stap) as p:
        p.start()
        path = p.start_trace(["target_add"], lasting=60, tool="STAP")
        p.wait_finished(path, timeout=300)
        recs = [r for r in p.platform.records()
                if r["trace"] == path and r["kind"] == "chunk" and
                r["answered"] == 200]
        t = recs[-1]["time"] - recs[0]["time"]
        nbytes = sum(len(r["raw"]) for r in recs)
        bodies = [r["raw"] for r in recs]
    # The same trace and the same bodies against a sink that only reads.
    ns, ts = bench_sink(stap, chunk, bodies)
    srv = sink()
    try:
        tcs = curl_loop(tmp, "http://127.0.0.1:%d" % srv.server_address[1],
                        bodies)
    finally:
        srv.shutdown()
        srv.server_close()
    # The same bodies, one curl process, keep-alive.
    plat = fake_platform.FakePlatform()
    plat.start()
    try:
        tc = curl_loop(tmp, plat.url, bodies)
        ok = sum(r["answered"] == 200 for r in plat.records())
        assert ok == len(bodies), (ok, len(bodies))
    finally:
        plat.stop()
    return len(bodies), nbytes, t, tc, ns, ts, tcs


def main():
    need_bpftrace()
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        # Two CPUs here: the target, bpftrace and the platform share them
        # and one run varies a lot. Alternate (a) and (b), take medians.
        ra, rb = [], []
        with TraceProbed(chunk=51200, trace_workers=1,
                         extra="ring:\n  chunk-bytes: 64M\n") as p:
            p.start()
            for _ in range(REPEAT):
                na, sa, ta, da = bench_direct(seconds, tmp)
                ra.append((na / ta, sa / ta / 1e6))
                nb, sb, tb, db = bench_probed(p, seconds)
                rb.append((nb / tb, sb / tb / 1e6))
        ea, ma = median([r[0] for r in ra]), median([r[1] for r in ra])
        eb, mb = median([r[0] for r in rb]), median([r[1] for r in rb])
        print("(a) bpftrace -> file  : %9.0f events/s %6.2f MB/s (median "
              "of %s)" % (ea, ma, ", ".join("%.0f" % r[0] for r in ra)))
        print("(b) probed -> platform: %9.0f events/s %6.2f MB/s (median "
              "of %s)" % (eb, mb, ", ".join("%.0f" % r[0] for r in rb)))
        print("ratio b/a: events %.3f, MB/s %.3f (goal >= 0.9)"
              % (eb / ea, mb / ma))
        n, nbytes, t, tc, ns, ts, tcs = bench_chunks(tmp)
        print("chunks ring -> platform: %d chunks of 51200 in %.2f s: "
              "%.0f chunks/s, %.1f MB/s of bodies" % (n, t, n / t,
                                                     nbytes / t / 1e6))
        print("plain curl PUT loop    : %d bodies in %.2f s: %.0f req/s, "
              "%.1f MB/s; ratio probed/curl %.2f"
              % (n, tc, n / tc, nbytes / tc / 1e6, tc / t))
        print("to a read-only sink: probed %d chunks in %.2f s: %.0f "
              "chunks/s, %.1f MB/s; curl %.2f s: %.0f req/s; ratio "
              "probed/curl %.2f" % (ns, ts, ns / ts, ns * nbytes / n / ts / 1e6,
                                    tcs, n / tcs, (n / tcs and
                                                   (ns / ts) / (n / tcs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
