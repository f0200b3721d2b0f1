"""`nerflow tag` as a user runs it: the summary, the output file, one-line errors."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

from nerflow.cli import app
from nerflow.config import TrackingConfig
from tests.flows.test_tag_tweets import fixture_tweets, register_champion

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _sigterm_restored() -> Iterator[None]:
    # The command makes SIGTERM unwind the run; pytest's own handler comes back afterwards.
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def tracking(classifier_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrackingConfig:
    return register_champion(classifier_dir, tmp_path_factory.mktemp("cli-store"), "cli-ner")


def options(tracking: TrackingConfig, tmp_path: Path, *extra: str) -> list[str]:
    assert tracking.tracking_uri
    return [
        "--tracking-uri", tracking.tracking_uri, "--registered-model", tracking.registered_model,
        "--experiment", "cli", "--work-dir", str(tmp_path / "work"), *extra,
    ]  # fmt: skip


def test_tag_writes_one_line_per_tweet_and_says_what_it_did(
    tracking: TrackingConfig, tmp_path: Path
) -> None:
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("\n".join(fixture_tweets()) + "\n", encoding="utf-8")
    out, summary = tmp_path / "tagged.jsonl", tmp_path / "summary.json"
    command = ["tag", str(tweets), "-o", str(out), "--chunk-size", "8", "--precision", "fp32"]
    result = runner.invoke(app, [*command, "--json", str(summary), *options(tracking, tmp_path)])
    assert result.exit_code == 0, result.output
    assert (
        "tagged 50 tweets with cli-ner v1 (champion, float32): 7 chunks, 7 tagged now, "
        "0 reused from an earlier run"
    ) in result.stdout
    assert f"output: {out}" in result.stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == fixture_tweets()
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["mlflow"]["experiment"] == "cli-tagging"
    assert written["metrics"]["chunks_computed"] == 7


def test_an_undecodable_line_is_one_error_naming_file_and_line(
    tracking: TrackingConfig, tmp_path: Path
) -> None:
    bad = tmp_path / "tweets.txt"
    bad.write_bytes(b"good tweet\nbad \xff tweet\n")
    result = runner.invoke(
        app, ["tag", str(bad), "-o", str(tmp_path / "out.jsonl"), *options(tracking, tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: {bad}:2: not UTF-8 (byte 0xff at offset 15)"
    )
    assert "Traceback" not in result.output and not (tmp_path / "out.jsonl").exists()


def test_a_registry_without_the_alias_is_one_error(
    tracking: TrackingConfig, tmp_path: Path
) -> None:
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("Tim Cook in Paris\n", encoding="utf-8")
    command = ["tag", str(tweets), "-o", str(tmp_path / "out.jsonl"), "--alias", "staging"]
    result = runner.invoke(app, [*command, *options(tracking, tmp_path)])
    assert result.exit_code == 1
    assert "error: registered model 'cli-ner' has no version with alias 'staging'" in (
        result.output
    )


def test_bad_settings_stop_before_any_work(tmp_path: Path) -> None:
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("x\n", encoding="utf-8")
    for bad in (["--chunk-size", "0"], ["--precision", "fp64"]):
        result = runner.invoke(app, ["tag", str(tweets), "-o", str(tmp_path / "o.jsonl"), *bad])
        assert result.exit_code == 2, result.output
        assert "invalid configuration" in result.output
