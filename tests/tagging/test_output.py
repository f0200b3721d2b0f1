"""The job's output file, its metrics and its summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerflow.cache import SECONDS_FILE
from nerflow.tagging.chunks import TaggedChunks, write_chunk
from nerflow.tagging.output import format_tagging, job_metrics, publish_output

PER = {"type": "PER", "text": "Tim", "start": 0, "end": 3, "score": 0.9}
LOC = {"type": "LOC", "text": "Paris", "start": 4, "end": 9, "score": 0.8}


def job(tmp_path: Path, seconds: tuple[float, ...] = (0.5, 1.5)) -> TaggedChunks:
    """Two finished chunks (three tweets), the first reused, the second tagged now."""
    contents = [(["Tim Paris"], [[PER, LOC]]), (["Tim", ""], [[PER], []])]
    folders = []
    for index, (texts, spans) in enumerate(contents):
        folder = tmp_path / f"job-{index:06d}"
        folder.mkdir(parents=True)
        write_chunk(folder, texts, spans)
        (folder / SECONDS_FILE).write_text(f"{seconds[index]}\n", encoding="utf-8")
        folders.append(folder)
    return TaggedChunks("job", tuple(folders), (1,), (0,), "float32")


def test_the_output_is_every_chunks_lines_in_order_with_totals(tmp_path: Path) -> None:
    out = tmp_path / "out" / "tagged.jsonl"
    written = publish_output(job(tmp_path), out)
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert rows == [
        {"text": "Tim Paris", "spans": [PER, LOC]},
        {"text": "Tim", "spans": [PER]},
        {"text": "", "spans": []},
    ]
    assert written.counts == {
        "tweets": 3, "empty_tweets": 1, "spans": 3, "spans_PER": 2, "spans_ORG": 0, "spans_LOC": 1
    }  # fmt: skip
    assert [p.name for p in out.parent.iterdir()] == ["tagged.jsonl"]  # no scratch file left


def test_a_failed_write_keeps_the_previous_output_whole(tmp_path: Path) -> None:
    out = tmp_path / "tagged.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    broken = job(tmp_path)
    (broken.chunks[1] / "spans.jsonl").unlink()
    with pytest.raises(FileNotFoundError):
        publish_output(broken, out)
    assert out.read_text("utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["tagged.jsonl"]


def test_metrics_count_chunks_and_the_throughput_of_those_tagged_now(tmp_path: Path) -> None:
    chunks = job(tmp_path)
    metrics = job_metrics(chunks, publish_output(chunks, tmp_path / "out.jsonl"))
    assert (metrics["chunks"], metrics["chunks_computed"], metrics["chunks_reused"]) == (2, 1, 1)
    assert (metrics["tweets"], metrics["tweets_computed"], metrics["tagging_s"]) == (3, 2, 1.5)
    assert metrics["tweets_per_second"] == pytest.approx(2 / 1.5, abs=0.01)
    reused = TaggedChunks(chunks.key, chunks.chunks, (), (0, 1), "float32")
    metrics = job_metrics(reused, publish_output(reused, tmp_path / "out.jsonl"))
    assert "tweets_per_second" not in metrics and metrics["tweets_computed"] == 0


def test_the_summary_says_what_was_reused_and_where_things_are(tmp_path: Path) -> None:
    chunks = job(tmp_path)
    metrics = job_metrics(chunks, publish_output(chunks, tmp_path / "out.jsonl"))
    text = format_tagging({
        "output": "out.jsonl", "dtype": "float32", "metrics": metrics,
        "model": {"name": "btc-ner", "alias": "champion", "version": "3"},
        "mlflow": {"run_id": "abc", "experiment": "btc-ner-tagging", "tracking_uri": "sqlite:///x",
                   "run_url": "http://127.0.0.1:5000/#/experiments/2/runs/abc"},
    })  # fmt: skip
    first, spans = text.splitlines()[:2]
    assert first == (
        "tagged 3 tweets with btc-ner v3 (champion, float32): 2 chunks, 1 tagged now, "
        "1 reused from an earlier run"
    )
    assert spans == "spans: 3 (PER 2, ORG 0, LOC 1); 1 tweets/s in the chunks tagged now"
