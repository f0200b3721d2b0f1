"""The training's MLflow run: opened when training starts, FAILED when training fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from nerflow.config import TrackingConfig
from nerflow.tracking.live import LIVE_RUN_FILE, live_run_id, live_training_run


def test_a_failed_training_ends_its_run_failed_and_leaves_no_run_file(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = TrackingConfig(tracking_uri=uri, experiment="live")
    with (
        pytest.raises(RuntimeError, match="out of memory"),
        live_training_run(tracking, "k" * 20, tmp_path),
    ):
        raise RuntimeError("out of memory")
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("live").experiment_id])
    assert run.info.status == "FAILED" and not (tmp_path / LIVE_RUN_FILE).exists()


def test_a_finished_training_leaves_its_running_run_for_the_logging_step(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = TrackingConfig(tracking_uri=uri, experiment="live")
    with live_training_run(tracking, "a" * 20, tmp_path) as live:
        pass
    assert MlflowClient(tracking_uri=uri).get_run(live.run_id).info.status == "RUNNING"
    assert live_run_id(tmp_path, uri, "a" * 20) == live.run_id
    assert live_run_id(tmp_path, uri, "b" * 20) is None  # another model's folder
    assert live_run_id(tmp_path, f"sqlite:///{tmp_path / 'other.db'}", "a" * 20) is None
