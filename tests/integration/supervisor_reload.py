"""Reload: a valid config restarts only the workers whose settings changed;
an invalid one is refused with its reason and the running one kept. Also
the sd_notify messages around start, reload and stop."""
import os
import signal
import socket
import sys
import urllib.request

from probed_fixture import Probed, free_port, wait_for


class Notify:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(10)
        self.seen = []

    def expect(self, msg):
        while msg not in self.seen:
            self.seen.append(self.s.recv(4096).decode())
        self.seen.remove(msg)


def restarts(p):
    return {w["name"]: w["restarts"] for w in p.ctl("status")["workers"]}


def main():
    tmpsock = "/tmp/probed-notify-%d" % os.getpid()
    notify = Notify(tmpsock)
    try:
        with Probed(env={"NOTIFY_SOCKET": tmpsock,
                         "WATCHDOG_USEC": "200000"}) as p:
            p.start()
            notify.expect("READY=1")
            notify.expect("WATCHDOG=1")
            before = restarts(p)

            # A good config: only the api worker's settings change.
            old_admin = p.admin_port
            p.admin_port = free_port()
            p.write_config(p.settings_text())
            out = p.probectl("reload")
            assert out.returncode == 0, out
            notify.expect("RELOADING=1")
            wait_for("api on the new admin port",
                     lambda: p.worker("api")["restarts"] == before["api"] + 1
                     and p.worker("api")["state"] == "RUNNING", timeout=10)
            notify.expect("READY=1")
            assert p.http("/version")[0] == 200
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/version"
                                       % old_admin, timeout=1)
                raise AssertionError("old admin port still answers")
            except OSError:
                pass
            after = restarts(p)
            for name, n in before.items():
                if name != "api":
                    assert after[name] == n, (name, before, after)
            p.wait_log("reload complete")

            # A bad config: refused with the reason, nothing restarted.
            p.write_config(p.settings_text().replace(
                "port: %d\n" % p.port, 'port: "80a"\n', 1))
            out = p.probectl("reload")
            assert out.returncode == 1, out
            assert 'settings.yml:2: port: expected an integer 1..65535, ' \
                   'got "80a"' in out.stderr, out.stderr
            p.wait_log("reload refused, keeping the running configuration")
            assert restarts(p) == after
            assert p.http("/version")[0] == 200

            # SIGHUP does the same as the control command.
            p.write_config(p.settings_text().replace(
                "log-level: info", "log-level: debug"))
            p.proc.send_signal(signal.SIGHUP)
            p.wait_log("configuration reloaded")
            assert p.stop() == 0
            notify.expect("STOPPING=1")
    finally:
        os.unlink(tmpsock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
