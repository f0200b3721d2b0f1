"""A real `prefect server` (with its scheduler) on a free loopback port and a temporary database."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import LOOPBACK, free_port, running, wait_http_ok

PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass(frozen=True)
class PrefectServer:
    """Where the test server listens, and the environment its clients need."""

    api_url: str
    client_env: dict[str, str]
    root: Path


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """`prefect server start` on 127.0.0.1, its home and SQLite database under a temp folder."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api_url = f"http://{LOOPBACK}:{port}/api"
    # Nothing from this process's Prefect or MLflow settings (a flow run exports the latter).
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    server_env = {
        **base,
        "PREFECT_HOME": str(root / "server-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    client_env = {
        **base,
        "PREFECT_HOME": str(root / "client-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Poll every 2 s instead of 10-15 s: the test waits on these loops.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    log = root / "server.log"
    command = [PREFECT, "server", "start", "--host", LOOPBACK, "--port", str(port), "--no-ui"]
    with running(command, server_env, log) as server:
        wait_http_ok(f"{api_url}/health", server, log)
        yield PrefectServer(api_url, client_env, root)
