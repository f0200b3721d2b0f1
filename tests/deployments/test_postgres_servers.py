"""The flow against a Prefect server and an MLflow server that both keep their state in
PostgreSQL: what each server reports is read back from the database as well, so the test
cannot pass on a SQLite store by accident."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import mlflow
import psutil
import pytest
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import tiny_run_config
from tests.postgres import Postgres, postgres_bin
from tests.processes import log_tail
from tests.servers import MlflowServer, PrefectServer, drain_prefect_workers

MODEL = "pg-ner"


def test_the_cluster_runs_unprivileged_and_each_database_name_once(postgres: Postgres) -> None:
    from psycopg.errors import DuplicateDatabase

    pid = postgres.scalar("postgres", "SELECT pg_backend_pid()")
    assert isinstance(pid, int) and psutil.Process(pid).uids().real != 0, "runs as root"
    name = postgres.create_database("once")
    with pytest.raises(DuplicateDatabase):
        postgres.create_database(name)


def test_the_newest_complete_install_is_found_and_a_broken_one_is_not(tmp_path: Path) -> None:
    for version, files in (("9", ["initdb", "postgres"]), ("15", ["initdb", "postgres"])):
        for name in files:
            (tmp_path / version / "bin").mkdir(parents=True, exist_ok=True)
            (tmp_path / version / "bin" / name).touch()
    assert postgres_bin(tmp_path) == tmp_path / "15" / "bin"  # by number, not by name
    (tmp_path / "16" / "bin").mkdir(parents=True)
    (tmp_path / "16" / "bin" / "initdb").touch()  # half installed: no server beside it
    assert postgres_bin(tmp_path) == tmp_path / "15" / "bin"
    assert postgres_bin(tmp_path / "nothing") is None


@pytest.fixture(scope="module")
def flow_run(
    postgres_prefect_server: PrefectServer,
    postgres_mlflow_server: MlflowServer,
    tiny_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[UUID, dict[str, Any]]:
    """One tiny train-ner run, orchestrated by the first server and tracked in the second."""
    work_dir = tmp_path_factory.mktemp("postgres-flow") / "work"
    config = tiny_run_config(
        tiny_model_dir, postgres_mlflow_server.url, "on-postgres", MODEL, work_dir
    )
    with temporary_settings({PREFECT_API_URL: postgres_prefect_server.api_url}):
        state = train_ner(**dict(config), return_state=True)
        drain_prefect_workers()
    assert state.is_completed(), f"{state.message}\n{log_tail(postgres_prefect_server.log)}"
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id, state.result()


def test_the_prefect_server_records_the_flow_run_in_postgres(
    flow_run: tuple[UUID, dict[str, Any]],
    postgres_prefect_server: PrefectServer,
    postgres: Postgres,
) -> None:
    flow_run_id, _ = flow_run
    with (
        temporary_settings({PREFECT_API_URL: postgres_prefect_server.api_url}),
        get_client(sync_client=True) as api,
    ):
        recorded = api.read_flow_run(flow_run_id)
        assert api.read_flow(recorded.flow_id).name == "train-ner"
        tasks = api.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    assert recorded.state is not None and recorded.state.is_completed()
    assert tasks and all(t.state is not None and t.state.is_completed() for t in tasks)

    assert postgres_prefect_server.database_url.startswith("postgresql+asyncpg://")
    database = postgres_prefect_server.database_url.rsplit("/", 1)[1]
    query = "SELECT state_type FROM flow_run WHERE id = %s"
    assert postgres.scalar(database, query, flow_run_id) == "COMPLETED"
    query = "SELECT count(*) FROM task_run WHERE flow_run_id = %s"
    assert postgres.scalar(database, query, flow_run_id) == len(tasks)


def test_the_mlflow_server_keeps_run_and_registry_in_postgres_and_serves_the_artifacts(
    flow_run: tuple[UUID, dict[str, Any]],
    postgres_mlflow_server: MlflowServer,
    postgres: Postgres,
    tmp_path: Path,
) -> None:
    _, summary = flow_run
    url = postgres_mlflow_server.url
    ml = summary["mlflow"]
    assert ml["tracking_uri"] == url and ml["version"] == "1" and not ml["reused"]
    assert summary["promotion"]["action"] == "first-champion"

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    run = client.get_run(ml["run_id"])
    assert run.info.status == "FINISHED" and 0.0 <= run.data.metrics["val_f1"] <= 1.0
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    # Through the server, from the folder it was started with (no path on this side).
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    report = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="evaluation/report.json",
        dst_path=str(tmp_path), tracking_uri=url,
    )  # fmt: skip
    assert set(json.loads(Path(report).read_text(encoding="utf-8"))["splits"]) >= {"validation"}
    assert list(postgres_mlflow_server.artifacts.rglob("MLmodel")), "no model in the store"

    assert postgres_mlflow_server.backend_uri.startswith("postgresql+psycopg://")
    database = postgres_mlflow_server.backend_uri.rsplit("/", 1)[1]
    query = "SELECT status FROM runs WHERE run_uuid = %s"
    assert postgres.scalar(database, query, ml["run_id"]) == "FINISHED"
    query = "SELECT count(*) FROM latest_metrics WHERE run_uuid = %s AND key = 'val_f1'"
    assert postgres.scalar(database, query, ml["run_id"]) == 1
    query = "SELECT count(*) FROM model_versions WHERE name = %s"
    assert postgres.scalar(database, query, MODEL) == 1
    query = "SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'"
    assert postgres.scalar(database, query, MODEL) == 1
