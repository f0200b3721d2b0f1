"""With a Prefect server configured, the registry lock is a global concurrency limit there:
processes that share only the server exclude each other, and a killed holder's lease expires."""

from __future__ import annotations

import subprocess
import sys
import time

from nerflow.orchestration.locks import LEASE_SECONDS
from tests.servers import PrefectServer

# Each script is a separate process (a separate machine would see only the server too).
TAKE = """
import sys, time
import nerflow.orchestration.locks as locks
from nerflow.tracking.locks import registry_lock
locks.install_shared_locks()
assert locks.server_configured()
started = time.monotonic()
with registry_lock("sqlite:////srv/mlflow.db", "btc-ner", timeout=float(sys.argv[1])):
    print(f"held after {time.monotonic() - started:.1f} s", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _take(server: PrefectServer, timeout: float, hold: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TAKE, str(timeout), str(hold)],
        env=server.client_env, capture_output=True, text=True, timeout=timeout + 120,
    )  # fmt: skip


def test_registry_lock_spans_processes_and_a_killed_holders_lease_expires(
    prefect_server: PrefectServer,
) -> None:
    server = prefect_server
    holder = subprocess.Popen(
        [sys.executable, "-c", TAKE, "60", "600"],
        env=server.client_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.startswith("held"), holder.stderr.read() if holder.stderr else line
        blocked = _take(server, timeout=3, hold=0)
        assert blocked.returncode != 0
        assert "the registry of 'btc-ner' stayed locked for 3 s" in blocked.stderr
        assert "global concurrency limit 'nerflow-registry-" in blocked.stderr
    finally:
        holder.kill()  # SIGKILL: no release, only the lease running out frees the slot
        holder.wait()
    killed_at = time.monotonic()
    after = _take(server, timeout=150, hold=0)
    assert after.returncode == 0, after.stderr[-3000:]
    # The lease (60 s, the server's minimum) + its expiry sweep (every 15 s) + a start.
    assert time.monotonic() - killed_at < LEASE_SECONDS + 45, after.stdout
