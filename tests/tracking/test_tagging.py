"""The tagging job in MLflow: an alias resolved to one version, one run per job."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nerflow.cache import content_key
from nerflow.tracking.names import JOB_TAG, MODEL_VERSION_TAG
from nerflow.tracking.registry import RegistryError
from nerflow.tracking.tagging import log_tagging_run, resolve_alias, tagging_experiment


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with versions 1 and 2 of `tag-ner`, `champion` on version 2 (built once)."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("tag-ner")
    for source in ("file:///m1", "file:///m2"):
        client.create_model_version("tag-ner", source=source)
    client.set_registered_model_alias("tag-ner", "champion", "2")
    return path


@pytest.fixture
def store(template: Path, tmp_path: Path) -> tuple[str, MlflowClient]:
    """A copy of the template store for one test."""
    shutil.copy(template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_an_alias_resolves_to_its_version_now(store: tuple[str, MlflowClient]) -> None:
    uri, client = store
    found = resolve_alias(uri, "tag-ner", "champion")
    assert (found.version, found.uri, found.source) == ("2", "models:/tag-ner/2", "file:///m2")
    client.set_registered_model_alias("tag-ner", "champion", "1")
    assert found.uri == "models:/tag-ner/2"  # a resolved job keeps its version
    moved = resolve_alias(uri, "tag-ner", "champion")
    assert moved.version == "1" and content_key(moved) != content_key(found)


def test_a_missing_alias_or_store_is_a_registry_error(
    store: tuple[str, MlflowClient], tmp_path: Path
) -> None:
    uri, _ = store
    with pytest.raises(RegistryError, match="'tag-ner' has no version with alias 'staging'"):
        resolve_alias(uri, "tag-ner", "staging")
    with pytest.raises(RegistryError, match="no MLflow store"):
        resolve_alias(f"sqlite:///{tmp_path / 'none.db'}", "tag-ner", "champion")


def test_a_job_is_one_finished_run_in_the_tagging_experiment(
    store: tuple[str, MlflowClient],
) -> None:
    uri, client = store
    model = resolve_alias(uri, "tag-ner", "champion")
    logged = log_tagging_run(
        model, tagging_experiment("btc-ner"), "tweets.txt-v2", {"chunk_size": "8"},
        {"tweets": 50, "chunks_reused": 3}, {JOB_TAG: "abc"},
    )  # fmt: skip
    run = client.get_run(logged["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "btc-ner-tagging"
    assert run.info.status == "FINISHED" and run.info.run_name == "tweets.txt-v2"
    assert run.data.params == {"chunk_size": "8"}
    assert run.data.metrics == {"tweets": 50.0, "chunks_reused": 3.0}
    assert run.data.tags[MODEL_VERSION_TAG] == "2" and run.data.tags[JOB_TAG] == "abc"
    assert f"/runs/{logged['run_id']}?workflowType=machine_learning" in logged["run_url"]
    assert "MLFLOW_TRACKING_URI" not in os.environ  # no store set process-wide
