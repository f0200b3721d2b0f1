"""Retraining on new data: the champion is re-scored on the new splits before the gate.

The tiny BERT on fixture tweets, under Prefect's test harness. A champion whose logged F1
came from other data must not decide: here its logged score is replaced by one no model
reaches, and the decision must quote the score measured again on this run's split.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from nerflow.flows.train_ner import train_ner
from prefect.testing.utilities import prefect_test_harness

from nerflow.config import ExtraSource, RunConfig
from nerflow.corpus.incoming import ingest
from nerflow.corpus.manifest import read_manifest
from nerflow.evaluation import read_file_report, read_report, write_file_report, write_report
from tests.conftest import tiny_run_config
from tests.flows.test_train_ner import _task_states

NEW_TRAIN = "Angela\tB-PER\nMerkel\tI-PER\nvisits\tO\nParis\tB-LOC\n\nApple\tB-ORG\nsues\tO\n"
#: What a week of the stream brings: one export a day, each new.
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
NEW_VALIDATION = "Taylor\tB-PER\nSwift\tI-PER\nin\tO\nChicago\tB-LOC\n\nGoogle\tB-ORG\n"


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def run(config: RunConfig) -> tuple[dict, dict[str, str]]:
    state = train_ner(**dict(config), return_state=True)
    assert state.is_completed(), state.message
    states = {s.name.rsplit("-", 1)[0]: str(s.state_name) for s in _task_states(state)}
    return state.result(), states


def test_new_data_retrains_and_the_gate_rescores_the_champion_on_it(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    (tmp_path / "mlruns").mkdir()
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    base = tiny_run_config(tiny_model_dir, uri, "retrain", "retrain-ner", tmp_path / "work")
    first, _ = run(base)
    assert first["promotion"]["action"] == "first-champion"
    assert first["champion_same_data"] is None
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # As if v1 had been scored on an easier validation split of its own time.
    client.set_model_version_tag("retrain-ner", "1", "val_f1", "0.9900")

    # New data: a week of training files arrives, and the validation split gains a file.
    week = []
    for day in DAYS:
        week.append(tmp_path / f"stream-export-{day}-2026-12-07T06-00-00Z.conll")
        week[-1].write_text(NEW_TRAIN.replace("Paris", day.title()), encoding="utf-8")
    arrived = ingest(week, base.data.incoming_dir)  # type: ignore[arg-type]
    assert all(a.added for a in arrived)
    validation = tmp_path / "validation-extra.conll"
    validation.write_text(NEW_VALIDATION, encoding="utf-8")
    data = base.data.model_copy(
        update={"extra": (ExtraSource(path=validation, split="validation"),)}
    )
    config = base.model_copy(update={"data": data})
    second, states = run(config)
    assert states["score-champion"] == "Completed" and states["train-model"] == "Completed"
    assert second["mlflow"]["version"] == "2"

    # What v1 scores on the new splits and on the new file, computed here independently.
    v1_dir = Path(first["model_dir"])
    dataset_dir = max(
        (tmp_path / "work" / "datasets").iterdir(),
        key=lambda d: read_manifest(d).splits["validation"],
    )
    assert read_manifest(dataset_dir).splits["validation"] == 6
    (tmp_path / "check").mkdir()
    write_report(v1_dir, dataset_dir, 32, tmp_path / "check")
    expected = read_report(tmp_path / "check").model_dump()["splits"]
    stale = {}
    for ingested in arrived:
        (tmp_path / ingested.target.stem).mkdir()
        write_file_report(v1_dir, ingested.target, 32, tmp_path / ingested.target.stem)
        stale[ingested.target.name] = read_file_report(tmp_path / ingested.target.stem).f1

    decision = second["promotion"]
    assert decision["champion_val_f1"] == pytest.approx(expected["validation"]["f1"])
    same = f"{expected['validation']['f1']:.4f} on the same split"
    assert same in decision["reason"] and "0.9900" not in decision["reason"]
    assert decision["checks"][0].startswith(
        f"val F1 {decision['new_val_f1']:.4f} vs champion {expected['validation']['f1']:.4f}"
    )
    metrics = client.get_run(second["mlflow"]["run_id"]).data.metrics
    logged = pytest.approx(expected["validation"]["f1"], abs=5e-5)  # metrics: 4 decimals
    assert metrics["champion_val_f1_same_data"] == logged
    assert metrics["champion_test_f1_same_data"] == pytest.approx(expected["test"]["f1"], abs=5e-5)
    for name, f1 in stale.items():
        assert metrics[f"champion_f1_on_new/{name}"] == pytest.approx(f1, abs=5e-5)
    staleness = second["champion_same_data"]["staleness"]
    assert sorted(entry["file"] for entry in staleness) == sorted(stale)
    v2 = client.get_model_version("retrain-ner", "2")
    corpus = base.data.local_dir.name  # type: ignore[union-attr]
    assert v2.tags["data"] == f"conll {corpus} + 1 extra + 5 incoming, @ mention-o"
    v1_tweets = int(client.get_model_version("retrain-ner", "1").tags["train_tweets"])
    assert int(v2.tags["train_tweets"]) == v1_tweets + 2 * len(DAYS)
    assert v2.tags["champion_val_f1_same_data"] == f"{expected['validation']['f1']:.4f}"
    inputs = client.get_run(second["mlflow"]["run_id"]).inputs.dataset_inputs
    train_input = next(i for i in inputs if any(t.value == "training" for t in i.tags))
    files = next(t.value for t in train_input.tags if t.key == "files")
    assert all(f"incoming:{a.target.name}" in files for a in arrived), files
    assert "data/manifest.json" in files  # where each file's SHA-256, tweets, entities are

    # Nothing new: a rerun is all cache hits, the champion's score included.
    third, states = run(config)
    assert third["mlflow"]["reused"] and third["promotion"]["action"] == "unchanged"
    for step in ("gather-corpus", "score-champion", "train-model", "evaluate-model"):
        assert states[step] == "Cached", states

    # A malformed file put in the incoming folder by hand (not through ingest) stops the
    # next run at the dataset step, naming the file and line: nothing is trained or
    # registered, and the champion stays.
    champion = client.get_model_version_by_alias("retrain-ner", "champion").version
    bad = base.data.incoming_dir / "tuesday.conll"  # type: ignore[operator]
    bad.write_text("Angela\tB-PER\nMerkel\n", encoding="utf-8")
    state = train_ner(**dict(config), return_state=True)
    assert state.is_failed()
    assert "incoming/tuesday.conll:2: expected 2 columns" in str(state.message)
    states = {s.name.rsplit("-", 1)[0]: str(s.state_name) for s in _task_states(state)}
    assert states["gather-corpus"] == "Failed" and "train-model" not in states, states
    assert sorted(int(v.version) for v in client.search_model_versions("name='retrain-ner'")) == [
        1, 2,
    ]  # fmt: skip
    assert client.get_model_version_by_alias("retrain-ner", "champion").version == champion
