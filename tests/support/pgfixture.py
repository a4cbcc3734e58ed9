"""A private PostgreSQL server for the integration tests.

    with PgFixture() as pg:
        settings = {"database": {"mode": "external", "host": pg.host,
                                 "port": pg.port, "user": pg.user,
                                 "password": pg.password,
                                 "database": pg.dbname}}
        ...
        pg.stop()      # an outage (fast shutdown)
        pg.start()     # back again, same data, same socket
        pg.sql("SELECT count(*) FROM nodes")

The server listens only on a unix socket in a fresh temporary directory
(host is that directory, port names the socket file .s.PGSQL.<port>).
Role `probed` (password authentication, scram-sha-256) owns database
`probed`; the superuser `postgres` is trusted on the socket, for
sql(). Tests run as root: initdb and postgres run as the `postgres` OS
user, and the directory is 0755 so any user (probed's unprivileged
workers) reaches the socket.

Python 3 standard library only. Cleaned up on exit (context manager and
atexit), also when a test fails half-way.
"""

import atexit
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

__all__ = ["PgFixture", "pg_bindir"]


def pg_bindir():
    """Directory holding initdb, postgres, psql, pg_isready."""
    env = os.environ.get("PROBED_PG_BINDIR")
    candidates = [env] if env else []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                             text=True, check=True).stdout.strip()
        candidates.append(out)
    except (OSError, subprocess.CalledProcessError):
        pass

    def version(path):
        try:
            return float(path.split("/")[-2])
        except ValueError:
            return 0.0
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=version, reverse=True)
    for d in candidates:
        if d and os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "postgres"), os.X_OK):
            return d
    raise RuntimeError("PostgreSQL server binaries not found: install the "
                       "Debian package postgresql")


def _free_port():
    # The server has no TCP listener, but a port free on the host keeps
    # the socket name unique and lets a test switch to TCP if it must.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgFixture:
    """One PostgreSQL server, created on start(), removed by cleanup()."""

    def __init__(self, user="probed", dbname="probed", password=None,
                 os_user="postgres", timeout=30.0):
        self.user = user
        self.dbname = dbname
        self.password = password or secrets.token_hex(16)
        self.timeout = timeout
        self.bindir = pg_bindir()
        self.port = _free_port()
        self.dir = None
        self.proc = None
        self._initialised = False
        self._log = None
        if os.geteuid() == 0:
            self._pw = pwd.getpwnam(os_user)
        else:
            self._pw = None  # run as whoever runs the tests
        atexit.register(self.cleanup)

    # where clients connect
    @property
    def host(self):
        return self.dir

    @property
    def socket_path(self):
        return os.path.join(self.dir, ".s.PGSQL.%d" % self.port)

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def logfile(self):
        return os.path.join(self.dir, "postgres.log")

    def conninfo(self):
        return "host=%s port=%d user=%s password=%s dbname=%s" % (
            self.host, self.port, self.user, self.password, self.dbname)

    def env(self):
        """Environment for libpq clients (psql) connecting as the role."""
        e = dict(os.environ)
        e.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user,
                 PGPASSWORD=self.password, PGDATABASE=self.dbname)
        return e

    # process helpers
    def _demote(self):
        pw = self._pw

        def preexec():
            os.setsid()
            if pw is not None:
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        return preexec

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def _run_as_owner(self, argv, **kw):
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(argv, cwd=self.dir, env=env,
                               preexec_fn=self._demote(),
                               capture_output=True, text=True, **kw)

    def _chown(self, path):
        if self._pw is not None:
            os.chown(path, self._pw.pw_uid, self._pw.pw_gid)

    def _initdb(self):
        self.dir = tempfile.mkdtemp(prefix="probed-pg-")
        # The socket lives here: every user must be able to reach it.
        os.chmod(self.dir, 0o755)
        self._chown(self.dir)
        r = self._run_as_owner([
            self._bin("initdb"), "-D", self.datadir, "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"])
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout + r.stderr)
        hba = os.path.join(self.datadir, "pg_hba.conf")
        with open(hba, "w") as f:
            f.write("local all postgres trust\n"
                    "local all all scram-sha-256\n")
        with open(os.path.join(self.datadir, "postgresql.auto.conf"),
                  "a") as f:
            # A test server: durability off, quick start and stop.
            f.write("fsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nlisten_addresses = ''\n"
                    "max_connections = 50\nshared_buffers = 16MB\n")

    def start(self):
        """First call: initdb, start, create role and database. Later
        calls start the same server again after stop()."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        if self.dir is None:
            self._initdb()
        self._log = open(self.logfile, "ab")
        self._chown(self.logfile)
        self.proc = subprocess.Popen(
            [self._bin("postgres"), "-D", self.datadir,
             "-k", self.dir, "-p", str(self.port),
             "-c", "unix_socket_permissions=0777"],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, preexec_fn=self._demote(),
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"})
        self._wait_ready()
        if not self._initialised:
            self.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (
                self.user, self.password))
            self.sql("CREATE DATABASE %s OWNER %s" % (self.dbname, self.user))
            self._initialised = True
            self._wait_ready(as_role=True)
        return self

    def _wait_ready(self, as_role=False):
        deadline = time.monotonic() + self.timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited with %d:\n%s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                if as_role:
                    self.sql("SELECT 1", as_role=True)
                else:
                    self.sql("SELECT 1")
                return
            except RuntimeError as e:
                last = str(e)
            time.sleep(0.02)
        raise RuntimeError("postgres not ready after %.0f s: %s\n%s" % (
            self.timeout, last, self.log_tail()))

    def sql(self, query, as_role=False, dbname=None):
        """Runs query with psql; returns its unaligned, tuples-only
        output. As the superuser by default, as the role if as_role."""
        if as_role:
            env = self.env()
            user, db = self.user, dbname or self.dbname
        else:
            env = dict(os.environ)
            env.pop("PGPASSWORD", None)
            user, db = "postgres", dbname or "postgres"
        r = subprocess.run(
            [self._bin("psql"), "-X", "-q", "-A", "-t", "-v",
             "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
             "-U", user, "-d", db, "-c", query],
            env=env, capture_output=True, text=True, timeout=self.timeout)
        if r.returncode != 0:
            raise RuntimeError("psql %r failed: %s" % (query,
                                                      r.stderr.strip()))
        return r.stdout.strip()

    def stop(self, mode="fast"):
        """Stops the server: "fast" (SIGINT: sessions end, data kept),
        "smart" (SIGTERM), or "immediate" (SIGQUIT, like a crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT,
               "immediate": signal.SIGQUIT}[mode]
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop("immediate")
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False


if __name__ == "__main__":
    # A smoke test: python3 tests/support/pgfixture.py
    with PgFixture() as pg:
        print("socket", pg.socket_path)
        print("as role:", pg.sql("SELECT current_user", as_role=True))
        pg.stop()
        pg.start()
        print("after restart:", pg.sql("SELECT 1", as_role=True))
