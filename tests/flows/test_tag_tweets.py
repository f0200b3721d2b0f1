"""The tag-tweets flow on fixture tweets with a tiny registered champion, under a test server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from nerflow.flows.tag_tweets import tag_tweets
from prefect.testing.utilities import prefect_test_harness

from nerflow.config import TrackingConfig
from nerflow.corpus.conll import read_conll
from nerflow.inference.predict import EntityPredictor
from nerflow.tagging import chunks as chunks_module
from nerflow.tagging.config import TaggingConfig
from nerflow.tracking.model import log_model
from nerflow.tracking.registry import register_version
from nerflow.tracking.store import active_store
from tests.conftest import CONLL_DIR
from tests.flows.test_train_ner import _task_states

#: Spans keep 4 decimals of score; batches padded differently may round the last apart.
ROUNDING = 1.5e-4
NAME = "tag-ner"
#: 50 tweets in chunks of 8: seven chunks, the last of two tweets.
TAGGING = TaggingConfig(chunk_size=8, batch_size=4, max_length=32, precision="fp32")


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def register_champion(classifier_dir: Path, root: Path, name: str = NAME) -> TrackingConfig:
    """A store under `root` whose `name` has the tiny classifier as version 1, champion."""
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    with active_store(uri), mlflow.start_run():
        model_uri = log_model(classifier_dir, "# card\n")
    version = register_version(uri, name, model_uri, {})
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        name, "champion", version
    )
    return TrackingConfig(tracking_uri=uri, experiment="tag-test", registered_model=name)


def fixture_tweets(count: int = 50) -> list[str]:
    """Raw tweets made of the fixture corpus's sentences, an empty line among them."""
    sentences = [
        " ".join(s.tokens) for path in sorted(CONLL_DIR.glob("*.conll")) for s in read_conll(path)
    ]
    tweets = [f"{sentences[i % len(sentences)]} #{i}" for i in range(count)]
    tweets[5] = ""
    return tweets


@pytest.fixture(scope="module")
def tracking(classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrackingConfig:
    return register_champion(classifier_dir, tmp_path_factory.mktemp("tag-store"))


@pytest.fixture
def tweets_file(tmp_path: Path) -> Path:
    path = tmp_path / "tweets.txt"
    path.write_text("\n".join(fixture_tweets()) + "\n", encoding="utf-8")
    return path


def tagging_runs(tracking: TrackingConfig) -> list:
    """The tagging experiment's runs, oldest first."""
    client = MlflowClient(tracking_uri=tracking.tracking_uri)
    experiment = client.get_experiment_by_name("tag-test-tagging")
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return list(runs)


def test_tweets_are_tagged_as_the_predict_path_tags_them_in_input_order(
    tracking: TrackingConfig, tweets_file: Path, classifier_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "tagged.jsonl"
    before = len(tagging_runs(tracking))
    summary = tag_tweets(tweets_file, out, TAGGING, tracking, tmp_path / "work")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    texts = fixture_tweets()
    expected = EntityPredictor(classifier_dir, 32, precision="fp32").predict(texts)
    assert [row["text"] for row in rows] == texts
    for row, spans in zip(rows, expected, strict=True):
        assert row["spans"] == [
            {**span.as_dict(), "score": pytest.approx(span.score, abs=ROUNDING)} for span in spans
        ]
    assert rows[5] == {"text": "", "spans": []}
    assert sum(len(row["spans"]) for row in rows) > 0  # a real comparison, not of empty lists
    metrics = summary["metrics"]
    assert (metrics["chunks"], metrics["chunks_computed"], metrics["chunks_reused"]) == (7, 7, 0)
    assert metrics["tweets"] == 50 and metrics["tweets_per_second"] > 0
    assert metrics["spans"] == sum(metrics[f"spans_{kind}"] for kind in ("PER", "ORG", "LOC"))

    runs = tagging_runs(tracking)
    assert len(runs) == before + 1
    run = runs[-1]
    assert run.info.run_id == summary["mlflow"]["run_id"] and run.info.status == "FINISHED"
    assert run.data.tags["nerflow.model_version"] == "1"
    assert run.data.params["model_version"] == "1" and run.data.params["chunk_size"] == "8"
    assert run.data.params["dtype"] == "float32"
    assert run.data.metrics["tweets"] == 50 and run.data.metrics["chunks_computed"] == 7


def test_a_rerun_after_chunk_3_failed_tags_only_the_missing_chunks(
    tracking: TrackingConfig,
    tweets_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, work = tmp_path / "tagged.jsonl", tmp_path / "work"
    real = chunks_module.tag_texts
    chunk_3 = fixture_tweets()[24:32]  # chunks 0, 1, 2 come before it

    def fail_on_chunk_3(model: EntityPredictor, texts: list[str]) -> list[list[dict]]:
        if texts == chunk_3:
            raise RuntimeError("tagging chunk 3 broke")
        return real(model, texts)

    monkeypatch.setattr(chunks_module, "tag_texts", fail_on_chunk_3)
    before = len(tagging_runs(tracking))
    state = tag_tweets(tweets_file, out, TAGGING, tracking, work, return_state=True)
    assert state.is_failed() and not out.exists()
    assert len(tagging_runs(tracking)) == before  # a failed job records no tagging run
    finished = sorted(p.name[-7:] for p in (work / "tagged").iterdir())
    assert finished == ["-000000", "-000001", "-000002"]  # and no half-written chunk

    monkeypatch.setattr(chunks_module, "tag_texts", real)
    summary = tag_tweets(tweets_file, out, TAGGING, tracking, work)
    metrics = summary["metrics"]
    assert (metrics["chunks_computed"], metrics["chunks_reused"]) == (4, 3)
    assert metrics["tweets_computed"] == 50 - 24
    logged = tagging_runs(tracking)[-1].data.metrics
    assert (logged["chunks_computed"], logged["chunks_reused"], logged["tweets"]) == (4, 3, 50)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == fixture_tweets()

    again = tag_tweets(tweets_file, out, TAGGING, tracking, work)["metrics"]
    assert (again["chunks_computed"], again["chunks_reused"]) == (0, 7)
    assert "tweets_per_second" not in again


def test_a_malformed_input_fails_the_run_naming_file_and_line(
    tracking: TrackingConfig, tmp_path: Path
) -> None:
    bad = tmp_path / "tweets.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "also fine"}\n{"id": 3}\n', encoding="utf-8")
    state = tag_tweets(bad, tmp_path / "out.jsonl", TAGGING, tracking, tmp_path / "work",
                       return_state=True)  # fmt: skip
    assert state.is_failed()
    with pytest.raises(ValueError, match=rf"{bad}:3: expected a string"):
        state.result()
    assert not (tmp_path / "work" / "tagged").exists()


def test_another_machine_reuses_the_chunks_through_the_shared_dir(
    tracking: TrackingConfig, tweets_file: Path, tmp_path: Path
) -> None:
    shared = str(tmp_path / "shared")
    first = tag_tweets(tweets_file, tmp_path / "a.jsonl", TAGGING, tracking, tmp_path / "a", shared)
    state = tag_tweets(
        tweets_file, tmp_path / "b.jsonl", TAGGING, tracking, tmp_path / "b", shared,
        return_state=True,
    )  # fmt: skip
    second = state.result()
    assert first["metrics"]["chunks_computed"] == 7
    assert (second["metrics"]["chunks_computed"], second["metrics"]["chunks_reused"]) == (0, 7)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    steps = {run.name.rsplit("-", 1)[0]: run.state.name for run in _task_states(state)}
    assert steps["tag-chunks"] == "Cached"  # a run of reused chunks reads as one in the UI
