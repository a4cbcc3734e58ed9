"""The control socket and probectl: answers, errors for bad input, a stale
socket replaced, a second probed refused."""
import json
import os
import socket
import subprocess
import sys

from probed_fixture import PROBED, Probed, wait_for


def main():
    with Probed() as p:
        # A stale socket file, as a crashed probed leaves it.
        os.makedirs(p.state, exist_ok=True)
        s = socket.socket(socket.AF_UNIX)
        s.bind(p.sock)
        s.close()
        p.start()
        assert "removed stale control socket" in p.logtext()
        assert (os.stat(p.sock).st_mode & 0o777) == 0o600

        bad = [
            (b"garbage\n", "request is not JSON"),
            (b"[1,2]\n", "request must be a JSON object"),
            (b'{"cmd": 7}\n', 'request has no "cmd" string'),
            (b'{"cmd": "frobnicate"}\n', 'unknown command "frobnicate"'),
            (b'{"cmd": "restart"}\n', "restart needs a worker name"),
            (b'{"cmd": "restart", "arg": "nosuch"}\n',
             'no worker named "nosuch"'),
            (b'{"cmd": "restart", "arg": 3}\n', '"arg" must be a string'),
            (b'{"cmd": "traces", "arg": "x"}\n',
             'traces takes no argument, got "x"'),
            (b"x" * (1 << 20) + b"\n", "request line longer than 65536"),
        ]
        for data, want in bad:
            ans = json.loads(p.ctl_raw(data))
            assert ans["ok"] is False and want in ans["error"], (want, ans)
        assert p.ctl("status")["ok"] is True  # still serving

        # Several requests on one connection, one answer line each.
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(p.sock)
            c.sendall(b'{"cmd":"version"}\n{"cmd":"status"}\n')
            buf = b""
            while buf.count(b"\n") < 2:
                buf += c.recv(65536)
            a, b = [json.loads(x) for x in buf.split(b"\n")[:2]]
            assert a["ok"] and "version" in a and b["ok"] and b["workers"]

        # probectl: table, --json, errors with exit 1.
        out = p.probectl("status")
        assert out.returncode == 0, out
        lines = out.stdout.splitlines()
        assert lines[0].split()[:3] == ["NAME", "PID", "STATE"], lines
        names = [line.split()[0] for line in lines[1:]]
        assert names == ["db", "api", "trace/0", "trace/1", "uploader"], names
        assert all(line.split()[2] == "RUNNING" for line in lines[1:])
        # Columns line up: STATE starts at the same offset in every line.
        col = lines[0].index("STATE")
        assert all(line[col:].startswith("RUNNING") for line in lines[1:])
        out = p.probectl("--json", "status")
        assert json.loads(out.stdout)["ok"] is True
        out = p.probectl("frobnicate")
        assert out.returncode == 1 and "unknown command" in out.stderr, out
        out = p.probectl("restart", "nosuch")
        assert out.returncode == 1 and "no worker named" in out.stderr, out
        out = p.probectl("version")
        assert out.returncode == 0 and out.stdout.startswith("probed "), out

        # The shared-memory rings, one row each, producer and consumer named.
        out = p.probectl("rings")
        assert out.returncode == 0, out
        rows = {line.split()[0]: line.split() for line in
                out.stdout.splitlines()[1:]}
        assert set(rows) == {"chunk/0", "chunk/1", "request", "response",
                             "command/0", "command/1"}, rows
        assert rows["chunk/1"][1:3] == ["trace/1", "uploader"]
        assert rows["request"][1:3] == ["api", "db"]
        assert int(rows["chunk/0"][3]) == 4 << 20  # ring.chunk-bytes default
        rings = json.loads(p.probectl("--json", "rings").stdout)["rings"]
        assert all("discards" in r and "consumer_wakeups" in r for r in rings)

        # No run yet: an empty run table, and a table with its header only.
        assert p.ctl("traces") == {"ok": True, "traces": []}
        out = p.probectl("--json", "traces")
        assert out.returncode == 0, out
        assert json.loads(out.stdout) == {"ok": True, "traces": []}, out
        out = p.probectl("traces")
        assert out.returncode == 0, out
        lines = out.stdout.splitlines()
        assert len(lines) == 1 and lines[0].split()[:3] == \
            ["RUN", "WORKER", "STATE"], lines
        out = p.probectl("traces", "extra")
        assert out.returncode == 1 and \
            'traces takes no argument, got "extra"' in out.stderr, out
        out = p.probectl("--json", "traces", "extra")
        assert out.returncode == 1 and \
            json.loads(out.stdout)["ok"] is False, out

        # A second probed on the same state directory refuses to start.
        second = subprocess.run([PROBED, "-f", "-c", p.confdir],
                                capture_output=True, text=True, timeout=20)
        assert second.returncode == 1, second
        assert "another probed (pid %d) is running" % p.proc.pid in \
            second.stderr, second.stderr
        assert p.ctl("status")["ok"] is True

        # stop through the control socket.
        assert p.probectl("stop").returncode == 0
        assert p.proc.wait(20) == 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
