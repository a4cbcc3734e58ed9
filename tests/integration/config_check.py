"""probed --check and start-up with invalid configs: each bad value gives
its message naming file, line, key and value; probed exits 1 before it
forks anything; secrets never appear."""
import os
import subprocess
import sys

from probed_fixture import LAMBDA, PROBED, Probed


def run(p, *args):
    return subprocess.run([PROBED, "-c", p.confdir] + list(args),
                          capture_output=True, text=True, timeout=20)


def main():
    with Probed() as p:
        out = run(p, "--check")
        assert out.returncode == 0, out
        assert "is valid" in out.stdout

        good = p.settings_text()
        cases = [
            (good.replace("port: %d\n" % p.port, 'port: "80a"\n', 1),
             LAMBDA, 'settings.yml:2: port: expected an integer 1..65535, '
             'got "80a"'),
            (good.replace("trace-workers: 2", "trace-workers: 0"), LAMBDA,
             "settings.yml:6: trace-workers: expected an integer 1..64, "
             'got "0"'),
            (good.replace("log-level: info", "log-level: loud"), LAMBDA,
             'settings.yml:8: log-level: expected one of'),
            (good, LAMBDA.replace("submit-chunk-size: 51200",
                                  "submit-chunk-size: lots"),
             "lambda-settings.yml:4: submit-chunk-size: expected"),
            (good, LAMBDA.replace('secret: "fixture-secret"\n', ""),
             "lambda-settings.yml: secret: required key is missing"),
            (good, LAMBDA.replace('endpoint-uuid: "4633d686-f75d-4d1f-8415-'
                                  '02ce37d9e5f8"', "endpoint-uuid: nope"),
             "lambda-settings.yml:7: endpoint-uuid: expected"),
            (good + "port: [1, 2]\n", LAMBDA, "port"),
            ("host: [unclosed\n", LAMBDA, "settings.yml:"),
        ]
        for settings, lam, want in cases:
            p.write_config(settings, lam)
            out = run(p, "--check")
            assert out.returncode == 1, (want, out)
            assert want in out.stderr, (want, out.stderr)
            assert "fixture-secret" not in out.stderr + out.stdout
            # Starting with it fails the same way, before any fork.
            out = run(p, "-f")
            assert out.returncode == 1 and want in out.stderr, (want, out)
            assert "started, pid" not in out.stderr
            assert not os.path.exists(p.sock)

        # An unknown key is a warning naming the nearest known key.
        p.write_config(good + "admin-prot: 5\n", LAMBDA)
        out = run(p, "--check")
        assert out.returncode == 0, out
        assert "admin-prot" in out.stderr and "admin-port" in out.stderr, \
            out.stderr

        # A missing directory names the path.
        out = subprocess.run([PROBED, "-c", "/nonexistent/probed", "--check"],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 1 and "/nonexistent/probed" in out.stderr

        out = subprocess.run([PROBED, "--help"], capture_output=True,
                             text=True)
        assert out.returncode == 0 and "--check" in out.stdout
        out = subprocess.run([PROBED, "--version"], capture_output=True,
                             text=True)
        assert out.returncode == 0 and out.stdout.startswith("probed ")
        out = subprocess.run([PROBED, "--bogus"], capture_output=True,
                             text=True)
        assert out.returncode == 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
