"""Starts a real probed for an integration test.

A Probed owns a temporary state directory and config directory, picks free
loopback ports, runs `probed -f -c DIR` with its log captured to a file, and
talks to it through the control socket and HTTP, the way an operator would.
Waiting is always for an observable condition with a deadline, never a
fixed sleep.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

BUILDDIR = os.environ.get("PROBED_BUILDDIR", os.getcwd())
SRCDIR = os.environ.get("PROBED_SRCDIR", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
PROBED = os.path.join(BUILDDIR, "probed")
PROBECTL = os.path.join(BUILDDIR, "probectl")

LAMBDA = """\
root-password: "not-used-as-root"
bpf-path: /usr/bin/bpftrace
stap-path: /usr/bin/stap
submit-chunk-size: 51200
platform-url: "http://127.0.0.1:9/"
secret: "fixture-secret"
endpoint-uuid: "4633d686-f75d-4d1f-8415-02ce37d9e5f8"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, timeout=20.0, interval=0.005):
    """Polls cond() until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Probed:
    def __init__(self, settings=None, lambda_settings=LAMBDA, db="unreachable",
                 trace_workers=2, stop_timeout=2.0, env=None):
        self.tmp = tempfile.mkdtemp(prefix="probed-test-")
        os.chmod(self.tmp, 0o755)
        self.state = os.path.join(self.tmp, "state")
        self.confdir = os.path.join(self.tmp, "etc")
        self.faults = os.path.join(self.tmp, "faults")
        for d in (self.confdir, self.faults):
            os.makedirs(d)
        self.port = free_port()
        self.admin_port = free_port()
        self.dead_port = free_port()
        self.trace_workers = trace_workers
        self.stop_timeout = stop_timeout
        self.db = db
        self.extra_env = env or {}
        self.proc = None
        self.logpath = os.path.join(self.tmp, "probed.log")
        self.sock = os.path.join(self.state, "probed.sock")
        self.write_config(settings, lambda_settings)

    # -- configuration -------------------------------------------------
    def settings_text(self, extra=""):
        text = ("host: 127.0.0.1\nport: %d\nadmin-host: 127.0.0.1\n"
                "admin-port: %d\nstate-dir: %s\ntrace-workers: %d\n"
                "stop-timeout: %s\nlog-level: info\n"
                % (self.port, self.admin_port, self.state,
                   self.trace_workers, self.stop_timeout))
        if self.db == "unreachable":
            # Nothing listens there: the db worker runs and keeps retrying,
            # which is all the supervisor tests need of it.
            text += ("database:\n  mode: external\n  host: 127.0.0.1\n"
                     "  port: %d\n  user: probed\n  name: probed\n"
                     % self.dead_port)
        elif self.db is None:
            text += "database:\n  mode: embedded\n"
        else:
            text += ("database:\n  mode: external\n  host: %s\n  port: %d\n"
                     "  user: %s\n  password: %s\n  name: %s\n"
                     % (self.db.host, self.db.port, self.db.user,
                        self.db.password, self.db.dbname))
        return text + extra

    def write_config(self, settings=None, lambda_settings=LAMBDA):
        if settings is None:
            settings = self.settings_text()
        with open(os.path.join(self.confdir, "settings.yml"), "w") as f:
            f.write(settings)
        if lambda_settings is not None:
            with open(os.path.join(self.confdir, "lambda-settings.yml"),
                      "w") as f:
                f.write(lambda_settings)

    # -- process -------------------------------------------------------
    def start(self, wait=True, args=()):
        env = dict(os.environ)
        env["PROBED_FAULT_DIR"] = self.faults
        env.update(self.extra_env)
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [PROBED, "-f", "-c", self.confdir] + list(args),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=env)
        if wait:
            self.wait_all_running()
        return self

    def wait_all_running(self, timeout=60.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("probed exited with %d:\n%s"
                                     % (self.proc.returncode,
                                        self.logtext()[-3000:]))
            st = self.status_or_none()
            if st and all(w["state"] == "RUNNING" for w in st["workers"]):
                return st
            return None
        return wait_for("every worker RUNNING", ready, timeout)

    def stop(self, timeout=30.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def close(self):
        try:
            self.stop()
        finally:
            if os.environ.get("PROBED_KEEP_TMP") is None:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            print("---- probed log ----\n" + self.logtext()[-6000:])
        self.close()

    def logtext(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=20.0):
        return wait_for("log line %r" % needle,
                        lambda: needle in self.logtext(), timeout)

    def fault(self, worker, word):
        path = os.path.join(self.faults, worker.replace("/", "_"))
        if word is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write(word + "\n")

    # -- control socket --------------------------------------------------
    def ctl_raw(self, data, timeout=5.0):
        """Sends bytes, returns the first answer line (bytes)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall(data)
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return buf.split(b"\n")[0]

    def ctl(self, cmd, arg=None):
        req = {"cmd": cmd}
        if arg is not None:
            req["arg"] = arg
        return json.loads(self.ctl_raw(json.dumps(req).encode() + b"\n"))

    def status_or_none(self):
        try:
            return self.ctl("status")
        except (OSError, ValueError):
            return None

    def worker(self, name):
        for w in self.ctl("status")["workers"]:
            if w["name"] == name:
                return w
        raise KeyError(name)

    def probectl(self, *args):
        return subprocess.run([PROBECTL, "-s", self.sock] + list(args),
                              capture_output=True, text=True, timeout=10)

    # -- HTTP --------------------------------------------------------------
    def http(self, path, admin=True, method="GET", body=None, headers=None,
             timeout=5.0):
        port = self.admin_port if admin else self.port
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                     data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)
