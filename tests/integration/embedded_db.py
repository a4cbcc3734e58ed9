"""database.mode: embedded: a private PostgreSQL under the state directory,
run as an unprivileged user, started before the db worker and stopped
last, restarted after kill -9, initialised only once."""
import os
import pwd
import signal
import sys

from probed_fixture import Probed, wait_for


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid line for %d" % pid)


def main():
    try:
        pg_uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        print("no postgres user: skipped")
        return 77
    with Probed(db=None) as p:
        p.start()
        names = [w["name"] for w in p.ctl("status")["workers"]]
        assert names[0] == "postgres", names
        pg = p.worker("postgres")
        assert uid_of(pg["pid"]) == pg_uid
        assert os.path.isdir(os.path.join(p.state, "pg", "data"))
        assert os.path.exists(os.path.join(p.state, "pg", "run",
                                           ".s.PGSQL.5432"))
        p.wait_log("first start: initdb")
        p.wait_log("[db] info: connected to PostgreSQL")
        # The supervisor starts the others only once postgres is ready.
        log = p.logtext()
        assert log.index("postgres: STARTING -> RUNNING") < \
            log.index("db started, pid"), log[-3000:]
        # Privileges: the db and api workers run as "nobody".
        nobody = pwd.getpwnam("nobody").pw_uid
        assert uid_of(p.worker("db")["pid"]) == nobody
        assert uid_of(p.worker("api")["pid"]) == nobody

        # kill -9 of the postmaster: restarted, and the db worker
        # reconnects without being restarted itself.
        db_restarts = p.worker("db")["restarts"]
        n_conn = p.logtext().count("connected to PostgreSQL")
        os.kill(pg["pid"], signal.SIGKILL)
        wait_for("postgres back", lambda: (lambda w: w["state"] == "RUNNING"
                                           and w["pid"] not in
                                           (0, pg["pid"]))(
            p.worker("postgres")), timeout=60)
        wait_for("db reconnected", lambda: p.logtext().count(
            "connected to PostgreSQL") > n_conn, timeout=30)
        assert p.worker("db")["restarts"] == db_restarts

        assert p.stop() == 0
        log = p.logtext()
        # PostgreSQL stops last.
        assert log.rindex("postgres stopped") > log.rindex("db stopped")
        assert log.rindex("postgres stopped") > log.rindex("api stopped")

        # A second start on the same state directory: no initdb again.
        p.start()
        assert p.logtext().count("first start: initdb") == 1
        p.wait_log("connected to PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
