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
    """State names of the flow run's task runs, once each is recorded (written async)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            runs = [r for r in client.read_task_runs() if r.flow_run_id == flow_run_id]
        if all(r.state is not None and r.state.is_final() for r in runs) or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.5)
    states: dict[str, list[str]] = {}
    for run in runs:
        states.setdefault(run.name.rsplit("-", 1)[0], []).append(
            run.state.name if run.state else ""
        )
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


def test_only_runs_whose_process_died_are_marked_killed(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import os
    import socket
    import subprocess
    import sys

    import psutil

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert start(tmp_path, tiny_model_dir).is_completed()
    experiment = client.get_experiment_by_name("rel").experiment_id
    host = socket.gethostname()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone_started = psutil.Process(gone.pid).create_time()
    gone.wait()
    me = f"{host} {os.getpid()} {psutil.Process().create_time():.2f}"
    runs = {
        "dead": f"{host} {gone.pid} {gone_started:.2f}",  # its process exited: killed
        "alive": me,  # another training, still logging (another registered model, say)
        "elsewhere": f"other-machine {os.getpid()} 1.00",  # cannot be seen from here
        "untagged": None,  # an older nerflow's run: nothing is known of its owner
    }
    opened = {}
    for name, owner in runs.items():
        tags = {"nerflow.model_key": name, **({"nerflow.owner": owner} if owner else {})}
        opened[name] = client.create_run(experiment, tags=tags).info.run_id
    assert start(tmp_path, tiny_model_dir, seed=5).is_completed()
    status = {name: client.get_run(run_id).info.status for name, run_id in opened.items()}
    assert status == {
        "dead": "KILLED", "alive": "RUNNING", "elsewhere": "RUNNING", "untagged": "RUNNING",
    }  # fmt: skip
    assert "is dead" in client.get_run(opened["dead"]).data.tags["nerflow.ended_by"]


def test_a_version_is_created_with_its_scores_in_one_call(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[dict[str, str]] = []

    def spying(original: Any) -> Any:
        def spy(self: MlflowClient, *args: Any, **kwargs: Any) -> Any:
            tags = kwargs.get("tags") or {}
            created.append(dict(tags) if isinstance(tags, dict) else {t.key: t.value for t in tags})
            return original(self, *args, **kwargs)

        return spy

    # mlflow.register_model creates versions through the client's internal method.
    for method in ("create_model_version", "_create_model_version"):
        monkeypatch.setattr(MlflowClient, method, spying(getattr(MlflowClient, method)))
    assert start(tmp_path, tiny_model_dir).is_completed()
    assert len(created) == 1
    assert {"val_f1", "test_f1", "nerflow.model_key"} <= set(created[0])


def test_a_failure_after_registration_leaves_no_version_and_no_alias(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(mlflow, "log_metric", broken)  # the last call after registering
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


def test_a_dead_tracking_server_fails_the_run_before_any_work(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    import time

    from tests.processes import LOOPBACK, free_port

    uri = f"http://{LOOPBACK}:{free_port()}"
    config = tiny_run_config(tiny_model_dir, uri, "rel", NAME, tmp_path / "work")
    started = time.monotonic()
    state = train_ner(**dict(config), return_state=True)
    assert state.is_failed() and f"{uri} does not answer" in str(state.message)
    assert time.monotonic() - started < 60
    assert not (tmp_path / "work").exists()  # nothing downloaded, nothing trained


def test_a_max_length_beyond_the_base_models_positions_is_refused_first(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tiny_run_config(tiny_model_dir, uri, "rel", NAME, tmp_path / "work")
    config = config.model_copy(update={"data": config.data.model_copy(update={"max_length": 128})})
    state = train_ner(**dict(config), return_state=True)
    assert state.is_failed()
    assert "data.max_length=128 is more than the 64 positions" in str(state.message)
    assert not (tmp_path / "work").exists()
