"""End to end: the k-fold label-issue flow on the planted corpus, under Prefect's harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from nerflow.flows.find_label_issues import find_label_issues
from prefect.testing.utilities import prefect_test_harness

from nerflow.config import TrackingConfig
from nerflow.label_issues import read_label_issues
from nerflow.tracking import names
from tests.flows.test_train_ner import _task_states
from tests.test_label_issues import planted_config, write_planted_corpus


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_two_folds_flag_the_planted_error_log_each_source_and_rerun_from_cache(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    planted = write_planted_corpus(tmp_path / "corpus")
    data, model, training = planted_config(tmp_path / "corpus", tiny_model_dir)
    # A fold model sees half the tweets: three times the steps to learn them as well (at the
    # unit test's 40 it sometimes had not learnt `New York`, and flagged every `York`).
    training = training.model_copy(update={"max_steps": 3 * training.max_steps})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = TrackingConfig(tracking_uri=uri, experiment="planted")
    args = (data, model, training, tracking, 2, tmp_path / "work")
    state = find_label_issues(*args, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    summary, issues = read_label_issues(Path(result["issues_dir"]))
    # Among the worst three: a fold model trained on half the tweets for a few steps can
    # also miss a correct word or two (the ordering varies with the CPU's thread count).
    [found] = [issue for issue in issues[:3] if issue.location == f"train.conll:{planted}"]
    assert found.given == "B-PER" and found.predicted != "B-PER"
    assert summary.sources["train"].tweets == 72  # every training tweet judged once
    assert "harmonized to mention-o" in summary.ranked_tags
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(result["run_id"])
    assert run.data.tags[names.KIND_TAG] == names.LABEL_ISSUES_KIND
    assert run.data.params["folds"] == "2"
    assert run.data.metrics["flagged/train"] == len(issues)
    logged = {a.path for a in client.list_artifacts(result["run_id"], names.LABEL_ISSUES_DIR)}
    assert {f"{names.LABEL_ISSUES_DIR}/{n}" for n in ("train.tsv", "train.md")} <= logged
    assert result["experiment"] == "planted-labels"

    again = find_label_issues(*args, return_state=True)
    assert again.is_completed(), again.message
    steps = [(r.name.rsplit("-", 1)[0], r.state.name) for r in _task_states(again)]
    cached = [name for name, state in steps if state == "Cached"]
    assert sorted(set(cached)) == [
        "gather-corpus", "rank-label-issues", "split-fold", "tokenize-dataset", "train-model"
    ]  # fmt: skip
    assert len(cached) == 1 + 3 * 2 + 1, steps  # every step of both folds
    assert again.result()["issues_dir"] == result["issues_dir"]
