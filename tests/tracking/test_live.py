"""The training's MLflow run: opened when training starts, FAILED when training fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from nerflow.config import TrackingConfig
from nerflow.tracking.live import LIVE_RUN_FILE, live_run, live_training_run


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
    assert live_run(tmp_path, uri, "a" * 20) == (live.run_id, 0)
    assert live_run(tmp_path, uri, "b" * 20) is None  # another model's folder
    assert live_run(tmp_path, f"sqlite:///{tmp_path / 'other.db'}", "a" * 20) is None


def test_a_store_that_fails_mid_training_stops_the_stream_not_the_training(
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = TrackingConfig(tracking_uri=uri, experiment="live")
    state = SimpleNamespace(is_world_process_zero=True, log_history=[])
    with live_training_run(tracking, "c" * 20, tmp_path) as live:
        state.log_history.append({"loss": 1.0, "step": 1, "time": 1.0e9})
        live.on_log(None, state, None)
        live.uri = "sqlite:////nonexistent/folder/mlflow.db"  # the store goes away
        state.log_history.append({"loss": 0.5, "step": 2, "time": 1.0e9 + 1})
        live.on_log(None, state, None)  # warns, does not raise
    assert live.failed and live_run(tmp_path, uri, "c" * 20) == (live.run_id, 1)
    history = MlflowClient(tracking_uri=uri).get_metric_history(live.run_id, "train/loss")
    assert [m.value for m in history] == [1.0]
