"""`nerflow ingest` as a user runs it: what was added, and one line for a bad file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from nerflow.cli import app


def test_ingest_adds_new_files_once_and_refuses_a_bad_batch_whole(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    good = tmp_path / "monday.conll"
    good.write_text("Angela\tB-PER\nMerkel\tI-PER\n\nin\tO\nOslo\tB-LOC\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(good), "--incoming-dir", str(incoming)])
    assert first.exit_code == 0, first.output
    [stored] = list(incoming.iterdir())
    assert f"added: {good} -> {stored} (2 tweets)" in first.output
    again = runner.invoke(app, ["ingest", str(good), "--incoming-dir", str(incoming)])
    assert again.exit_code == 0 and "already there" in again.output
    bad = tmp_path / "tuesday.conll"
    bad.write_text("Rome\tB-LOC\nParis\tCITY\n", encoding="utf-8")
    other = tmp_path / "wednesday.conll"
    other.write_text("NASA\tB-ORG\n", encoding="utf-8")
    refused = runner.invoke(app, ["ingest", str(other), str(bad), "--incoming-dir", str(incoming)])
    assert refused.exit_code == 1
    assert f"error: {bad}:2: unknown tag 'CITY'" in refused.output
    assert "nothing was added" in refused.output and "Traceback" not in refused.output
    assert list(incoming.iterdir()) == [stored]
