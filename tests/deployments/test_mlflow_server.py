"""The flow logs to a real `mlflow server` over HTTP on loopback: runs, artifacts and registry."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect.testing.utilities import prefect_test_harness

from tests.conftest import tiny_run_config
from tests.processes import LOOPBACK, free_port, running, wait_http_ok

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`mlflow server`: SQLite backend store, proxied artifact store, bound to 127.0.0.1."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    artifacts = root / "artifacts"
    command = [
        MLFLOW, "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        # Clients upload through the server (mlflow-artifacts:/): no shared disk needed.
        "--serve-artifacts", "--artifacts-destination", artifacts.as_uri(),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # The GenAI job runner (a pool of consumer processes) is not used by this project.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = root / "server.log"
    with running(command, env, log) as server:
        url = f"http://{LOOPBACK}:{port}"
        wait_http_ok(f"{url}/health", server, log, timeout=120)
        yield url, artifacts


@pytest.fixture
def restore_mlflow_uris() -> Iterator[None]:
    """Put back the global tracking/registry URIs (and the variables MLflow exports for them)."""
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None unsets the variable
    mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def run_flow(url: str, base_model: Path, work_dir: Path) -> dict:
    config = tiny_run_config(base_model, url, "over-http", "http-ner", work_dir)
    state = train_ner(**dict(config), return_state=True)
    assert state.is_completed(), state.message
    return state.result()


@pytest.mark.usefixtures("restore_mlflow_uris")
def test_the_flow_logs_and_registers_through_an_mlflow_server_over_http(
    mlflow_server: tuple[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    url, artifact_store = mlflow_server
    with prefect_test_harness(server_startup_timeout=120):
        summary = run_flow(url, tiny_model_dir, tmp_path / "work")
        ml = summary["mlflow"]
        assert ml["tracking_uri"] == url and ml["version"] == "1" and not ml["reused"]
        assert summary["promotion"]["action"] == "first-champion"

        client = MlflowClient(tracking_uri=url, registry_uri=url)
        run = client.get_run(ml["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.params["tracking.tracking_uri"] == url
        assert 0.0 <= run.data.metrics["val_f1"] <= 1.0
        # Artifacts went through the server's proxy into its store, not onto this disk.
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        assert list(artifact_store.rglob("MLmodel")), "the model never reached the server"
        assert list(artifact_store.rglob("report.json"))
        assert str(client.get_model_version_by_alias("http-ner", "champion").version) == "1"

        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        spans = mlflow.pyfunc.load_model("models:/http-ner@champion").predict(["Tim in Paris"])
        assert len(spans) == 1 and all(set(s) >= {"type", "start", "end"} for s in spans[0])

        # Nothing changed: the registry lookup over HTTP finds version 1, nothing is logged.
        again = run_flow(url, tiny_model_dir, tmp_path / "work")
        assert again["mlflow"]["reused"] and again["mlflow"]["version"] == "1"
        assert again["promotion"]["action"] == "unchanged"
        assert len(client.search_model_versions("name='http-ner'")) == 1
