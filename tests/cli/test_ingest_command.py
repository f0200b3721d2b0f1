"""`nerflow ingest` as a user runs it: what was added, and one line for a bad file."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from nerflow.cli import app
from nerflow.corpus.incoming import LOCK_FILE, incoming_files
from tests.conftest import FIXTURES


def test_ingest_adds_new_files_once_and_refuses_a_bad_batch_whole(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    good = tmp_path / "monday.conll"
    good.write_text("Angela\tB-PER\nMerkel\tI-PER\n\nin\tO\nOslo\tB-LOC\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(good), "--incoming-dir", str(incoming)])
    assert first.exit_code == 0, first.output
    [stored] = incoming_files(incoming)
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
    assert incoming_files(incoming) == [stored]


def test_a_copy_that_fails_midway_adds_none_of_the_batch(tmp_path: Path) -> None:
    # A file-size limit (`ulimit -f`) lets the small file's copy through and stops the big one's.
    small = tmp_path / "small.conll"
    small.write_text("Angela\tB-PER\nMerkel\tI-PER\n", encoding="utf-8")
    big = tmp_path / "big.conll"
    big.write_text("Oslo\tB-LOC\n\n" * 20_000, encoding="utf-8")
    incoming = tmp_path / "incoming"
    limit = 64 * 1024

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = [sys.executable, "-m", "nerflow.cli", "ingest", str(small), str(big)]
    result = subprocess.run(
        [*args, "--incoming-dir", str(incoming)],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
        timeout=120,
    )
    assert result.returncode == 1
    assert list(incoming.iterdir()) == [incoming / LOCK_FILE]  # no file, no scratch copy
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {big}: cannot copy into {incoming}: File too large")
    assert line.endswith("nothing was added")


def test_ingest_refuses_a_file_over_the_size_limit(tmp_path: Path) -> None:
    small = tmp_path / "small.conll"
    small.write_text("Angela\tB-PER\n", encoding="utf-8")
    big = tmp_path / "big.conll"
    big.write_text("Oslo\tB-LOC\n\n" * 10_000, encoding="utf-8")
    incoming = tmp_path / "incoming"
    result = CliRunner().invoke(
        app, ["ingest", str(small), str(big), "--incoming-dir", str(incoming), "--max-mb", "0.1"]
    )
    assert result.exit_code == 1
    size = big.stat().st_size
    assert f"error: {big}: {size:,} bytes, over the ingest limit of 0.1 MB" in result.output
    assert incoming_files(incoming) == []
    under = ["ingest", str(big), "--incoming-dir", str(incoming), "--max-mb", "1"]
    assert CliRunner().invoke(app, under).exit_code == 0


def test_what_is_not_a_file_is_refused_for_what_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "folder.conll"
    folder.mkdir()
    fifo = tmp_path / "pipe.conll"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.conll"
    loop.symlink_to(loop)
    incoming = ["--incoming-dir", str(tmp_path / "incoming")]
    expected = {
        folder: "is a folder, not a CoNLL file",
        fifo: "is a named pipe (FIFO), not a regular CoNLL file",
        loop: "cannot be read: Too many levels of symbolic links",
    }
    for path, message in expected.items():
        result = CliRunner().invoke(app, ["ingest", str(path), *incoming])
        assert result.exit_code == 1
        assert result.output == f"error: {path}: {message}; nothing was added\n"


def test_ingest_names_a_file_whose_mentions_go_against_the_corpus(tmp_path: Path) -> None:
    b_style = FIXTURES / "mentions_b_style.conll"  # section B's way: `@` O before an entity
    eh_style = FIXTURES / "mentions_eh_style.conll"  # E-H's: `@` tagged as the entity
    args = ["ingest", str(b_style), str(eh_style), "--incoming-dir", str(tmp_path / "incoming")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [differs] = [line for line in result.output.splitlines() if "differ" in line]
    assert "mentions_b_style.conll: its `@` before an entity is O in 2, the entity in 1" in differs
    # The E-H-style file's table is printed, and nothing said against it.
    eh_part = result.output.split(f"{eh_style} ->")[1]
    assert "@ before entity" in eh_part and "differ" not in eh_part
    # What it says training does is what the convention the training run uses does.
    for convention, training in {
        "mention-o": "tags it O (1 `@` retagged)",
        "mention-entity": "tags it as the entity (2 `@` retagged)",
        "as-labelled": "uses it as labelled",
    }.items():
        again = CliRunner().invoke(app, [*args, "--mention-convention", convention])
        assert training in " ".join(again.output.split()), again.output
