"""A real `prefect server` and a real `mlflow server` for the tests, each on a free loopback
port, on SQLite in its folder or on a PostgreSQL database (tests/postgres.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import LOOPBACK, free_port, running, wait_http_ok

PREFECT = str(Path(sys.executable).with_name("prefect"))
MLFLOW = str(Path(sys.executable).with_name("mlflow"))


@dataclass(frozen=True)
class PrefectServer:
    """Where a test Prefect server listens, the environment its clients need, and its files."""

    api_url: str
    client_env: dict[str, str]
    root: Path
    log: Path
    database_url: str


@dataclass(frozen=True)
class MlflowServer:
    """Where a test MLflow server listens, its stores, and its log."""

    url: str
    backend_uri: str
    artifacts: Path
    log: Path


def clean_env() -> dict[str, str]:
    """This process's environment without Prefect or MLflow settings (a flow run exports some)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}


@contextmanager
def running_prefect_server(root: Path, database_url: str | None = None) -> Iterator[PrefectServer]:
    """`prefect server start` (scheduler, no UI) with its home under `root`; its database is
    `database_url` (e.g. postgresql+asyncpg://...), else SQLite in `root`."""
    port = free_port()
    api_url = f"http://{LOOPBACK}:{port}/api"
    database_url = database_url or f"sqlite+aiosqlite:///{root / 'prefect.db'}"
    server_env = {
        **clean_env(),
        "PREFECT_HOME": str(root / "server-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        # Expired concurrency leases are swept every 5 s instead of 15: the lock test waits
        # for a killed holder's lease to run out.
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "5",
    }
    client_env = {
        **clean_env(),
        "PREFECT_HOME": str(root / "client-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Poll every 2 s instead of 10-15 s: the tests wait on these loops.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    log = root / "server.log"
    command = [PREFECT, "server", "start", "--host", LOOPBACK, "--port", str(port), "--no-ui"]
    with running(command, server_env, log) as server:
        wait_http_ok(f"{api_url}/health", server, log, timeout=120)
        yield PrefectServer(api_url, client_env, root, log, database_url)


@contextmanager
def running_mlflow_server(root: Path, backend_uri: str | None = None) -> Iterator[MlflowServer]:
    """`mlflow server` with its backend store and registry at `backend_uri` (e.g.
    postgresql+psycopg://...), else SQLite in `root`; artifacts proxied into `root/artifacts`."""
    port = free_port()
    backend_uri = backend_uri or f"sqlite:///{root / 'mlflow.db'}"
    artifacts = root / "artifacts"
    command = [
        MLFLOW, "server",
        "--backend-store-uri", backend_uri,
        # Clients upload and download through the server (mlflow-artifacts:/): no shared disk.
        "--serve-artifacts", "--artifacts-destination", artifacts.as_uri(),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # The GenAI job runner (a pool of consumer processes) is not used by this project.
    env = {**clean_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = root / "server.log"
    with running(command, env, log) as server:
        url = f"http://{LOOPBACK}:{port}"
        wait_http_ok(f"{url}/health", server, log, timeout=120)
        yield MlflowServer(url, backend_uri, artifacts, log)


def drain_prefect_workers() -> None:
    """Send this process's queued logs and events to the server now, as Prefect's own test
    harness does before it stops: else they stay queued for a server that is gone, and the
    next module's harness inherits them (and blocks on them)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # never started
            pass
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())
