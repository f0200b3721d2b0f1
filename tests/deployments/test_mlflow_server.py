"""The flow logs to a real `mlflow server` over HTTP on loopback: runs, artifacts and registry."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect.testing.utilities import prefect_test_harness

from nerflow.tracking.store import active_store
from tests.conftest import tiny_run_config
from tests.servers import MlflowServer


def run_flow(url: str, base_model: Path, work_dir: Path) -> dict:
    config = tiny_run_config(base_model, url, "over-http", "http-ner", work_dir)
    state = train_ner(**dict(config), return_state=True)
    assert state.is_completed(), state.message
    return state.result()


def test_the_flow_logs_and_registers_through_an_mlflow_server_over_http(
    mlflow_server: MlflowServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    url, artifact_store = mlflow_server.url, mlflow_server.artifacts
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

        with active_store(url):  # models:/ URIs resolve through the fluent API's store
            spans = mlflow.pyfunc.load_model("models:/http-ner@champion").predict(["Tim in Paris"])
        assert len(spans) == 1 and all(set(s) >= {"type", "start", "end"} for s in spans[0])

        # Nothing changed: the registry lookup over HTTP finds version 1, nothing is logged.
        again = run_flow(url, tiny_model_dir, tmp_path / "work")
        assert again["mlflow"]["reused"] and again["mlflow"]["version"] == "1"
        assert again["promotion"]["action"] == "unchanged"
        assert len(client.search_model_versions("name='http-ner'")) == 1
