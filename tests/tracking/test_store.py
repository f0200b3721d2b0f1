"""The tracking store is checked before use: a dead server or a wrong path fails in seconds."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from nerflow.tracking.store import TrackingStoreError, active_store, check_store
from tests.processes import LOOPBACK, free_port


def test_a_server_where_nothing_listens_fails_in_seconds() -> None:
    uri = f"http://{LOOPBACK}:{free_port()}"
    started = time.monotonic()
    with pytest.raises(
        TrackingStoreError, match=re.escape(f"MLflow tracking server {uri} does not answer")
    ):
        check_store(uri)
    assert time.monotonic() - started < 10


def test_a_mistyped_sqlite_path_is_named_and_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "mlrun" / "mlflow.db"
    with pytest.raises(TrackingStoreError, match=r"folder .*mlrun does not exist"):
        check_store(f"sqlite:///{typo}")
    (tmp_path / "mlrun").mkdir()
    with pytest.raises(TrackingStoreError, match="no MLflow store at"):
        check_store(f"sqlite:///{typo}", must_exist=True)
    check_store(f"sqlite:///{typo}")  # a new store where one may be made: fine
    assert not typo.exists()


def test_a_corrupted_store_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "mlflow.db"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrackingStoreError, match="cannot be read"):
        check_store(f"sqlite:///{broken}", must_exist=True)


def test_the_active_store_is_put_back_afterwards(tmp_path: Path) -> None:
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    with active_store(f"sqlite:///{tmp_path / 'a.db'}"):
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'a.db'}"
    assert os.environ.get("MLFLOW_TRACKING_URI") == before


def test_experiments_open_in_model_training_mode_with_a_scores_view_a_user_may_change(
    tmp_path: Path,
) -> None:
    import json

    from nerflow.tracking.store import (
        RUNS_VIEW_KEY,
        RUNS_VIEW_TAG,
        client,
        experiment_id,
        ui_links,
    )

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ref = experiment_id(uri, "ner", None)
    tags = client(uri).get_experiment(ref).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    view = json.loads(tags[RUNS_VIEW_TAG])
    assert {"metrics.`val_f1`", "metrics.`test_f1`"} <= set(view["selectedColumns"])
    # A view the user saved over nerflow's is theirs: it is not put back.
    client(uri).set_experiment_tag(ref, RUNS_VIEW_TAG, '{"selectedColumns": []}')
    assert experiment_id(uri, "ner", None) == ref
    assert client(uri).get_experiment(ref).tags[RUNS_VIEW_TAG] == '{"selectedColumns": []}'
    # Every printed link opens MLflow's model-training mode (not its GenAI default); the
    # experiment's link loads that view.
    links = ui_links(uri, ref, "abc", "btc ner", "3")
    assert all("workflowType=machine_learning" in link for link in links.values())
    view_link = f"runs?workflowType=machine_learning&viewStateShareKey={RUNS_VIEW_KEY}"
    assert links["experiment"].endswith(f"/#/experiments/{ref}/{view_link}")
    assert links["version"] == (
        "http://127.0.0.1:5000/#/models/btc%20ner/versions/3?workflowType=machine_learning"
    )


def test_a_database_server_where_nothing_listens_fails_in_seconds_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    uri = f"postgresql+psycopg://nerflow:s3cret@{LOOPBACK}:{free_port()}/mlflow"
    started = time.monotonic()
    with pytest.raises(TrackingStoreError) as raised:
        check_store(uri)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "cannot be reached" in message and f"{LOOPBACK}:" in message
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize(
    ("uri", "variable"),
    [
        ("postgresql+psycopg://nerflow:p%40ss@db.example:5432/mlflow", "PGPASSWORD"),
        ("https://alice:p%40ss@mlflow.example", "MLFLOW_TRACKING_PASSWORD"),
    ],
)
def test_a_password_in_the_tracking_uri_is_never_stored_or_shown(
    monkeypatch: pytest.MonkeyPatch, uri: str, variable: str
) -> None:
    from nerflow.config import TrackingConfig
    from nerflow.tracking.store import resolve_tracking_uri

    for name in ("PGPASSWORD", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    # What Prefect stores as the flow's parameter, and what nerflow logs and prints.
    stored = TrackingConfig(tracking_uri=uri).model_dump_json()
    assert "p@ss" not in stored and "p%40ss" not in stored
    assert "db.example" in stored or "mlflow.example" in stored
    assert os.environ[variable] == "p@ss"  # where the store's client reads it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert "p%40ss" not in resolve_tracking_uri(None)[0]


def test_a_password_no_client_can_be_given_another_way_is_refused() -> None:
    from pydantic import ValidationError

    from nerflow.config import TrackingConfig, describe_errors

    with pytest.raises(ValidationError) as raised:
        TrackingConfig(tracking_uri="mysql://root:hunter2@db/mlflow")
    shown = describe_errors(raised.value)  # the line the CLI prints
    assert shown.startswith("tracking_uri: tracking URI mysql://root:***@db/mlflow holds a")
    assert "hunter2" not in shown
