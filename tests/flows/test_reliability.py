"""Unattended runs: concurrency, crashes mid-log, failures and secrets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect import get_client
from prefect.testing.utilities import prefect_test_harness

from tests.conftest import tiny_run_config

NAME = "rel-ner"


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def start(tmp_path: Path, tiny_model_dir: Path, seed: int = 42) -> Any:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tiny_run_config(tiny_model_dir, uri, "rel", NAME, tmp_path / "work", seed=seed)
    return train_ner(**dict(config), return_state=True)


def task_states(flow_run_id: Any) -> dict[str, list[str]]:
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_task_runs() if r.flow_run_id == flow_run_id]
    states: dict[str, list[str]] = {}
    for run in runs:
        states.setdefault(run.name.rsplit("-", 1)[0], []).append(run.state.name)
    return states


def test_two_identical_runs_at_once_train_once_and_register_once(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    results: list[Any] = [None, None]

    def go(i: int) -> None:
        results[i] = start(tmp_path, tiny_model_dir)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert all(r is not None and r.is_completed() for r in results), [
        r and r.message for r in results
    ]
    trained = [
        state
        for r in results
        for state in task_states(r.state_details.flow_run_id)["train-model"]
        if state == "Completed"
    ]
    assert len(trained) == 1  # the other run waited on the lock and hit the cache
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    versions = client.search_model_versions(f"name='{NAME}'")
    assert len(versions) == 1
    assert client.get_registered_model(NAME).aliases == {"champion": 1}
    summaries = [r.result() for r in results]
    assert {s["mlflow"]["version"] for s in summaries} == {"1"}
    assert sorted(s["mlflow"]["reused"] for s in summaries) == [False, True]


def test_a_run_left_running_by_a_killed_process_is_marked_killed(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert start(tmp_path, tiny_model_dir).is_completed()
    experiment = client.get_experiment_by_name("rel").experiment_id
    stale = client.create_run(experiment, tags={"nerflow.model_key": "abc"})  # as if killed
    assert start(tmp_path, tiny_model_dir, seed=5).is_completed()
    after = client.get_run(stale.info.run_id)
    assert after.info.status == "KILLED"
    assert after.data.tags["nerflow.ended_by"].startswith("next run")


def test_a_failure_after_registration_leaves_no_version_and_no_alias(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", broken)
    state = start(tmp_path, tiny_model_dir)
    assert state.is_failed() and "tracking server went away" in str(state.message)
    monkeypatch.undo()
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert client.search_model_versions(f"name='{NAME}'") == []
    assert client.get_registered_model(NAME).aliases == {}
    runs = client.search_runs([client.get_experiment_by_name("rel").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    # the work already done stays cached and whole: a rerun registers without retraining
    assert start(tmp_path, tiny_model_dir).is_completed()
    assert len(client.search_model_versions(f"name='{NAME}'")) == 1


def test_a_hub_token_never_reaches_mlflow(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hf_TESTSECRET0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", secret)
    state = start(tmp_path, tiny_model_dir)
    assert state.is_completed()
    run_id = state.result()["mlflow"]["run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert secret not in json.dumps([run.data.params, run.data.tags])
    artifacts = tmp_path / "artifacts"
    for path in artifacts.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert secret.encode() not in path.read_bytes(), path
