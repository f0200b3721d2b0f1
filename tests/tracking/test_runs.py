"""Logging a trained model to MLflow and judging it: the plain step functions, no Prefect.

The data, tokenize, train and evaluate steps run once on fixture tweets with the tiny BERT;
each test logs their outputs into a store of its own.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient
from nerflow.tasks.evaluate_model import evaluate_model
from nerflow.tasks.gate_new_version import gate_new_version
from nerflow.tasks.gather_corpus import gather_corpus
from nerflow.tasks.log_to_mlflow import log_to_mlflow
from nerflow.tasks.tokenize_dataset import tokenize_dataset
from nerflow.tasks.train_model import train_model

from nerflow.config import RunConfig
from nerflow.corpus.consistency import read_conventions
from nerflow.corpus.incoming import ingest
from nerflow.corpus.manifest import read_manifest
from nerflow.reporting.summary import build_summary, format_summary
from nerflow.tracking.live import live_training_run
from nerflow.tracking.names import CHAMPION
from nerflow.tracking.registry import PromotionDecision
from nerflow.tracking.runs import LoggedModel
from nerflow.tracking.store import resolve_tracking_uri
from nerflow.training.meta import read_training_meta
from tests.conftest import FIXTURES, tiny_run_config


@dataclass(frozen=True)
class Steps:
    """What the steps before logging left: their folders."""

    dataset: Path
    tokenized: Path
    model: Path
    report: Path


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Steps:
    work = tmp_path_factory.mktemp("steps") / "work"
    config = tiny_run_config(tiny_model_dir, "sqlite:///unused.db", "e", "m", work)
    dataset = gather_corpus(config.data, work)
    tokenized = tokenize_dataset(dataset, config.model, config.data, work)
    model = train_model(tokenized, config.model, config.training, work)
    report = evaluate_model(model, dataset, config.data.max_length, work)
    return Steps(dataset, tokenized, model, report)


def store(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def config_for(tiny_model_dir: Path, uri: str, name: str, work: Path) -> RunConfig:
    return tiny_run_config(tiny_model_dir, uri, "runs", name, work)


def log_and_gate(
    config: RunConfig, steps: Steps, dataset: Path | None = None
) -> tuple[LoggedModel, PromotionDecision]:
    logged = log_to_mlflow(
        config, dataset or steps.dataset, steps.tokenized, steps.model, steps.report
    )
    return logged, gate_new_version(logged, steps.report, None, config.tracking, "test")


def test_many_incoming_files_are_logged_and_each_is_named(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    config = config_for(tiny_model_dir, store(tmp_path / "mlruns"), "many", tmp_path / "work")
    incoming = config.data.incoming_dir
    assert incoming is not None
    arrived = []
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"):
        path = tmp_path / f"{day}-tweets-from-the-stream.conll"
        path.write_text(f"{day.title()}\tB-PER\nin\tO\nParis\tB-LOC\n", encoding="utf-8")
        arrived.append(path)
    ingest(arrived, incoming)
    dataset = gather_corpus(config.data, tmp_path / "work")

    logged, decision = log_and_gate(config, steps, dataset)

    assert decision.action == "first-champion"
    client = MlflowClient(tracking_uri=logged.tracking_uri)
    inputs = client.get_run(logged.run_id).inputs.dataset_inputs
    train = next(i for i in inputs if any(t.value == "training" for t in i.tags))
    files = {t.key: t.value for t in train.tags}["files"]
    sources = [e for e in read_manifest(dataset).sources if e.split == "train"]
    assert len(sources) == 7
    # Every file is named in the tag, and the full record is one click away.
    for entry in sources:
        assert entry.name in files
    assert "data/manifest.json" in files
    logged_manifest = client.download_artifacts(logged.run_id, "data/manifest.json", str(tmp_path))
    assert read_manifest(Path(logged_manifest).parent) == read_manifest(dataset)


def test_the_run_shows_how_each_file_labels_mentions(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    config = config_for(tiny_model_dir, store(tmp_path / "mlruns"), "mentions", tmp_path / "work")
    assert config.data.incoming_dir is not None
    [added] = ingest([FIXTURES / "mentions_b_style.conll"], config.data.incoming_dir)
    dataset = gather_corpus(config.data, tmp_path / "work")

    logged, _ = log_and_gate(config, steps, dataset)

    client = MlflowClient(tracking_uri=logged.tracking_uri)
    folder = Path(client.download_artifacts(logged.run_id, "data", str(tmp_path)))
    report = read_conventions(folder)  # data/conventions.json
    assert report == read_conventions(dataset)
    [incoming] = [s for s in report.sources if s.origin == "incoming"]
    assert incoming.name == added.target.name and incoming.differs
    table = (folder / "conventions.md").read_text(encoding="utf-8")
    assert f"| {added.target.name} | train |" in table


def test_a_second_registered_name_gets_its_own_run_and_leaves_the_first_alone(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    uri = store(tmp_path / "mlruns")
    # As the training step leaves it: the run that watched training, beside the model.
    model = tmp_path / "model"
    shutil.copytree(steps.model, model)
    config = config_for(tiny_model_dir, uri, "first-name", tmp_path / "work")
    with live_training_run(config.tracking, read_training_meta(model).key, model):
        pass
    trained = Steps(steps.dataset, steps.tokenized, model, steps.report)
    first, _ = log_and_gate(config, trained)

    other = config.model_copy(
        update={"tracking": config.tracking.model_copy(update={"registered_model": "other"})}
    )
    second, decision = log_and_gate(other, trained)

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert client.get_run(first.run_id).info.status == "FINISHED"
    assert client.get_run(first.run_id).data.params["tracking.registered_model"] == "first-name"
    assert second.run_id != first.run_id and not second.reused
    assert client.get_run(second.run_id).info.status == "FINISHED"
    assert client.get_model_version("other", "1").run_id == second.run_id
    assert decision.action == "first-champion"


def test_a_rerun_judges_a_version_registered_by_a_run_killed_before_its_gate(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    uri = store(tmp_path / "mlruns")
    config = config_for(tiny_model_dir, uri, "killed", tmp_path / "work")
    logged = log_to_mlflow(config, steps.dataset, steps.tokenized, steps.model, steps.report)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # What SIGKILL right after registration leaves: a scored version, no decision, no alias,
    # and its run still RUNNING.
    client.update_run(logged.run_id, status="RUNNING")
    assert client.get_registered_model("killed").aliases == {}

    again, decision = log_and_gate(config, steps)

    assert again.version == logged.version
    assert decision.action == "first-champion"
    assert client.get_registered_model("killed").aliases == {CHAMPION: int(logged.version)}
    assert client.get_model_version("killed", logged.version).tags["nerflow.promotion"]
    assert client.get_run(logged.run_id).info.status == "FINISHED"
    assert len(client.search_model_versions("name='killed'")) == 1
    # A third run has nothing left to do, and says who the champion is.
    _, third = log_and_gate(config, steps)
    assert third.action == "unchanged" and third.champion == logged.version


def test_no_champion_is_claimed_when_the_alias_does_not_exist(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    uri = store(tmp_path / "mlruns")
    config = config_for(tiny_model_dir, uri, "no-alias", tmp_path / "work")
    log_and_gate(config, steps)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.delete_registered_model_alias("no-alias", CHAMPION)

    logged, decision = log_and_gate(config, steps)

    summary = format_summary(build_summary(steps.model, steps.report, logged, decision, None))
    aliases = client.get_registered_model("no-alias").aliases
    claimed = f"champion is now version {decision.champion}"
    assert claimed not in summary or aliases.get(CHAMPION) == int(decision.champion)


def test_spellings_of_one_sqlite_store_are_one_store_and_register_the_model_once(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    folder = tmp_path / "mlruns"
    store(folder)
    spellings = [f"sqlite:///{folder}/mlflow.db", f"sqlite:///{folder}/./mlflow.db"]
    spellings.append(f"sqlite:///{folder}/../mlruns/mlflow.db")
    # One key for the registry lock (two runs at once must not both register) and for
    # finding the run that watched a training.
    assert len({resolve_tracking_uri(uri) for uri in spellings}) == 1
    versions = []
    for uri in spellings:
        config = config_for(tiny_model_dir, uri, "spelled", tmp_path / "work")
        logged, _ = log_and_gate(config, steps)
        versions.append(logged.version)
    assert versions == ["1", "1", "1"]
    client = MlflowClient(tracking_uri=spellings[0], registry_uri=spellings[0])
    assert len(client.search_model_versions("name='spelled'")) == 1


@pytest.mark.parametrize("name", ["o'brien", 'say "ner"', "back\\slash'"])
def test_a_quote_in_the_model_name_registers_it_once(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps, name: str
) -> None:
    config = config_for(tiny_model_dir, store(tmp_path / "mlruns"), name, tmp_path / "work")
    first, decision = log_and_gate(config, steps)
    again, rerun = log_and_gate(config, steps)
    assert decision.action == "first-champion" and first.version == "1"
    assert again.reused and again.version == "1" and rerun.action == "unchanged"


def test_a_name_mlflow_cannot_search_for_is_refused_before_any_work(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from nerflow.preflight import check_run

    name = "o'brien's \"ner\""
    config = config_for(tiny_model_dir, store(tmp_path / "mlruns"), name, tmp_path / "work")
    with pytest.raises(ValueError, match="holds both kinds of quote"):
        check_run(config.data, config.model, config.tracking)


def test_two_first_runs_on_a_new_store_both_create_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    uri = store(tmp_path / "mlruns")
    script = (
        "import sys; from nerflow.tracking.store import client; "
        "client(sys.argv[1]).search_experiments()"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, uri], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], errors
    with sqlite3.connect(tmp_path / "mlruns" / "mlflow.db") as db:
        assert db.execute("select count(*) from alembic_version").fetchone() == (1,)


def test_a_champion_whose_files_are_gone_is_named_with_what_to_do(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps
) -> None:
    from nerflow.tracking.champion import current_champion, download_model_folder
    from nerflow.tracking.registry import RegistryError

    uri = store(tmp_path / "mlruns")
    config = config_for(tiny_model_dir, uri, "gone", tmp_path / "work")
    log_and_gate(config, steps)
    shutil.rmtree(tmp_path / "mlruns" / "artifacts")
    champion = current_champion(uri, "gone")
    assert champion is not None
    with pytest.raises(RegistryError) as raised:
        download_model_folder(uri, "gone", champion, tmp_path / "copy")
    message = str(raised.value)
    assert message.startswith("champion gone version 1: its model files cannot be read")
    assert "nerflow rollback" in message and "\n" not in message


def test_a_store_locked_past_mlflows_wait_fails_the_logging_with_one_line(
    tmp_path: Path, tiny_model_dir: Path, steps: Steps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

    from nerflow.tracking import runs
    from nerflow.tracking.store import TrackingStoreError

    def locked(*args: object) -> None:
        # What MLflow raises after waiting 20 s on a SQLite store another process holds.
        raise MlflowException(
            "(sqlite3.OperationalError) database is locked\n[SQL: SELECT ...]",
            error_code=TEMPORARILY_UNAVAILABLE,
        )

    monkeypatch.setattr(runs, "find_registered", locked)
    config = config_for(tiny_model_dir, store(tmp_path / "mlruns"), "busy", tmp_path / "work")
    with pytest.raises(TrackingStoreError) as raised:
        log_to_mlflow(config, steps.dataset, steps.tokenized, steps.model, steps.report)
    message = str(raised.value)
    assert "is busy ((sqlite3.OperationalError) database is locked)" in message
    assert "\n" not in message and "rerun" in message
