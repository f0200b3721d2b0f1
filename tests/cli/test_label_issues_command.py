"""`nerflow ingest` with and without a registry champion: the champion's ranking of the new
file's labels is printed and logged, or skipped in one line; a failed ranking adds nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from nerflow.cli import app
from nerflow.corpus.incoming import incoming_files
from nerflow.tracking import names
from nerflow.tracking.model import log_model
from nerflow.tracking.registry import register_version
from nerflow.tracking.store import active_store, experiment_id, resolve_tracking_uri
from tests.test_label_issues import train_planted


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> tuple[Path, int, Path]:
    return train_planted(tmp_path_factory.mktemp("planted"), tiny_model_dir)


def champion_store(root: Path, model_dir: Path) -> str:
    """A SQLite store in `root` whose model `planted` has `model_dir` as its champion."""
    uri, artifacts = resolve_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = experiment_id(uri, "planted", artifacts)  # its artifacts in `root` too
    with active_store(uri), mlflow.start_run(experiment_id=experiment):
        model_uri = log_model(model_dir, "# card\n")
    version = register_version(uri, "planted", model_uri, {})
    MlflowClient(tracking_uri=uri).set_registered_model_alias("planted", names.CHAMPION, version)
    return uri


def ingest(file: Path, incoming: Path, uri: str) -> tuple[int, str]:
    args = ["ingest", str(file), "--incoming-dir", str(incoming), "--tracking-uri", uri,
            "--registered-model", "planted", "--experiment", "planted"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_ingest_ranks_a_new_file_with_the_champion_and_logs_it(
    tmp_path: Path, trained: tuple[Path, int, Path]
) -> None:
    train_file, planted, model_dir = trained
    uri = champion_store(tmp_path, model_dir)
    monday = tmp_path / "monday.conll"
    shutil.copyfile(train_file, monday)
    code, output = ingest(monday, tmp_path / "incoming", uri)
    assert code == 0, output
    assert len(incoming_files(tmp_path / "incoming")) == 1
    assert "models:/planted/1 flags" in output and "tags ranked:" in output
    worst = next(line for line in output.splitlines() if line.startswith("monday "))
    assert f"monday.conll:{planted}" in worst and "Chicago" in worst
    run_id = output.split("ranking logged as MLflow run ")[1].split()[0]
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run_id).data.tags[names.KIND_TAG] == names.INGEST_KIND
    logged = {a.path for a in client.list_artifacts(run_id, names.LABEL_ISSUES_DIR)}
    assert f"{names.LABEL_ISSUES_DIR}/monday.tsv" in logged


def test_without_a_champion_the_ranking_is_skipped_in_one_line_and_the_file_added(
    tmp_path: Path,
) -> None:
    monday = tmp_path / "monday.conll"
    monday.write_text("Angela\tB-PER\nMerkel\tI-PER\n", encoding="utf-8")
    MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    for uri, why in (
        (f"sqlite:///{tmp_path / 'mlflow.db'}", "has no version with alias 'champion'"),
        (f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}", "does not exist"),
    ):
        code, output = ingest(monday, tmp_path / "incoming", uri)
        assert code == 0, output
        [skipped] = [line for line in output.splitlines() if "ranking" in line]
        assert skipped.startswith("label ranking skipped: ") and why in skipped
    assert len(incoming_files(tmp_path / "incoming")) == 1


def test_a_champion_that_cannot_be_fetched_adds_nothing(
    tmp_path: Path, trained: tuple[Path, int, Path]
) -> None:
    train_file, _, model_dir = trained
    uri = champion_store(tmp_path, model_dir)
    shutil.rmtree(tmp_path / "artifacts")  # the registered weights are gone
    code, output = ingest(train_file, tmp_path / "incoming", uri)
    assert code == 1
    assert output.startswith("error: ") and output.rstrip().endswith("nothing was added")
    assert incoming_files(tmp_path / "incoming") == []


def test_with_a_champion_a_file_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, trained: tuple[Path, int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nerflow.label_issues

    def never(*args: object) -> None:
        raise AssertionError("the ranking read a file over the size limit")

    monkeypatch.setattr(nerflow.label_issues, "rank_files", never)
    uri = champion_store(tmp_path, trained[2])
    big = tmp_path / "big.conll"
    big.write_text("Oslo\tB-LOC\n\n" * 10_000, encoding="utf-8")
    args = ["ingest", str(big), "--incoming-dir", str(tmp_path / "incoming"), "--tracking-uri",
            uri, "--registered-model", "planted", "--max-mb", "0.1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert f"{big}: {big.stat().st_size:,} bytes, over the ingest limit of 0.1 MB" in result.output
    assert "nothing was added" in result.output
    assert incoming_files(tmp_path / "incoming") == []
