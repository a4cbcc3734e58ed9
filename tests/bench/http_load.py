#!/usr/bin/env python3
"""Benchmark: the API listener against nginx, in one run, with wrk.

  1. GET /heartbeat on the API listener, authenticated (argon2 header, so
     every request after the first is an auth cache hit);
  2. GET /version on the admin listener (no authentication);
  3. Debian's nginx on a free loopback port answering the same heartbeat
     JSON with `return 200`, started here with a temporary config;
printed as requests/s and as ratios to nginx. Then the median and p99
latency of GET /traces with 100 templates stored in a real PostgreSQL.

usage: tests/bench/http_load.py [SECONDS] [CONNECTIONS]   (from the build
directory; PROBED_API_THREADS sets api-threads, default the config's)
Needs wrk and nginx on PATH (or /usr/sbin/nginx) and PostgreSQL.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
import http.client  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from api_common import Api, executable, expect, mkauth  # noqa: E402
from pgfixture import PgFixture  # noqa: E402
from probed_fixture import Probed, free_port, wait_for  # noqa: E402

NGINX_CONF = """\
worker_processes %(workers)d;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:%(port)d;
        location = /heartbeat {
            default_type application/json;
            return 200 '%(body)s';
        }
    }
}
"""


def wrk(url, seconds, conns, headers=(), latency=False):
    argv = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds]
    for h in headers:
        argv += ["-H", h]
    if latency:
        argv.append("--latency")
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise AssertionError("%s: %s non-2xx answers\n%s"
                             % (url, errors.group(1), out))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$",
                                     out, re.M):
        lat[int(pct)] = float(val) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
    return rps, lat


def start_nginx(tmp, body):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF % {"dir": tmp, "port": port, "body": body,
                              "workers": os.cpu_count() or 1})
    proc = subprocess.Popen([nginx, "-p", tmp, "-c", conf, "-e",
                             os.path.join(tmp, "error.log")],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for("nginx answers", lambda: _try(port), timeout=10)
    return proc, port


def _try(port):
    api = Api(port, None)
    try:
        return api.request("GET", "/heartbeat", auth=None).status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        api.close()


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    tmp = tempfile.mkdtemp(prefix="probed-bench-http-")
    extra = ""
    if os.environ.get("PROBED_API_THREADS"):
        extra = "api-threads: %s\n" % os.environ["PROBED_API_THREADS"]
    nginx = None
    try:
        with PgFixture() as pg, Probed(db=pg, trace_workers=1) as p:
            p.write_config(p.settings_text(extra))
            p.start()
            auth = mkauth()
            api = Api(p.port, auth)
            hb = expect(api.request("GET", "/heartbeat"), 200).data.decode()
            nginx, nport = start_nginx(tmp, hb)
            base = "http://127.0.0.1:%d"
            results = [
                ("nginx return 200", wrk((base % nport) + "/heartbeat",
                                         seconds, conns)[0]),
                ("probed GET /heartbeat (auth)",
                 wrk((base % p.port) + "/heartbeat", seconds, conns,
                     ["Authorization: " + auth])[0]),
                ("probed admin GET /version",
                 wrk((base % p.admin_port) + "/version", seconds,
                     conns)[0]),
            ]
            ref = results[0][1]
            print("%-32s %12s %8s" % ("target", "requests/s", "ratio"))
            for name, rps in results:
                print("%-32s %12.0f %8.2f" % (name, rps, rps / ref))

            wait_for("the database answers", lambda: api.request(
                "GET", "/traces").status == 200, timeout=30)
            for i in range(100):
                expect(api.request("PUT", "/trace", body={
                    "process": executable(),
                    "functions": ["f%d" % i, "main"],
                    "traceType": "BPF" if i % 2 else "STAP"}), 200)
            n = len(expect(api.request("GET", "/traces"), 200).json())
            assert n >= 100, n
            rps, lat = wrk((base % p.port) + "/traces", seconds, 4,
                           ["Authorization: " + auth], latency=True)
            print("GET /traces (%d templates, 4 connections): %.0f "
                  "requests/s, median %.2f ms, p99 %.2f ms"
                  % (n, rps, lat[50], lat[99]))
            api.close()
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
