# Integration tests: real probed, real HTTP over loopback, real PostgreSQL.
# Each is a Python 3 script (standard library only) run by the automake
# harness with tests/support on PYTHONPATH.
INTEGRATION_TESTS = \
	tests/integration/control_socket.py \
	tests/integration/supervisor_restart.py \
	tests/integration/supervisor_policy.py \
	tests/integration/supervisor_reload.py \
	tests/integration/embedded_db.py \
	tests/integration/config_check.py
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/support/probed_fixture.py \
	tests/support/pgfixture.py tests/bench/restart.py
# db worker and dbclient through the real rings, real PostgreSQL
TESTS += tests/integration/db_roundtrip.py
EXTRA_DIST += tests/integration/db_roundtrip.py
# lambda endpoints, auth, FD1 over real HTTP on a real PostgreSQL
TESTS += tests/integration/api_lambda.py tests/integration/api_fd1.py
EXTRA_DIST += tests/integration/api_lambda.py tests/integration/api_fd1.py \
	tests/integration/api_common.py
# the db worker inside probed: migrations once, outage 503 and recovery, newer schema refused
TESTS += tests/integration/db_ops.py
EXTRA_DIST += tests/integration/db_ops.py
# trace issue: begin (shm/runs, trace workers, uploader, trace endpoints)
# Real bpftrace through probed to tests/support/fake_platform.py.
TESTS += tests/integration/trace_probed.py
EXTRA_DIST += tests/integration/trace_probed.py tests/integration/trace_common.py
# Platform 500/hang/refuse/down, uploader and trace worker SIGKILLed, stap stand-in.
TESTS += tests/integration/trace_faults.py
EXTRA_DIST += tests/integration/trace_faults.py
# The uploader's disk spool: outage with a 64 KiB ring, replay after SIGKILL, bound.
TESTS += tests/integration/trace_spool.py
EXTRA_DIST += tests/integration/trace_spool.py
EXTRA_DIST += tests/bench/trace.py
# /trace/start with a template stored in PostgreSQL (template.get).
TESTS += tests/integration/trace_db.py
EXTRA_DIST += tests/integration/trace_db.py
# db worker SIGKILLed mid-trace; the disk under the spool full (tmpfs).
TESTS += tests/integration/trace_faults2.py
EXTRA_DIST += tests/integration/trace_faults2.py
# trace issue: end
