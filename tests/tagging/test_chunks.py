"""Tagging in chunks: the predict path's spans, chunks published whole, a rerun resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nerflow.inference.predict import EntityPredictor
from nerflow.tagging import chunks as chunks_module
from nerflow.tagging.chunks import (
    COUNTS_FILE,
    SPANS_FILE,
    chunk_counts,
    json_line,
    tag_job,
    tagging_dtype,
    write_chunk,
)
from nerflow.tagging.tweets import chunk_bounds

#: Spans keep 4 decimals of score; batches padded differently may round the last apart.
ROUNDING = 1.5e-4
TEXTS = [f"tweet {i} from Paris about Tim Cook" + " and more" * (i % 5) for i in range(20)]


@pytest.fixture(scope="module")
def predictor(classifier_dir: Path) -> EntityPredictor:
    return EntityPredictor(classifier_dir, max_length=32, batch_size=4, precision="fp32")


class Loads:
    """A model loader that counts its calls."""

    def __init__(self, predictor: EntityPredictor) -> None:
        self.predictor, self.calls = predictor, 0

    def __call__(self) -> EntityPredictor:
        self.calls += 1
        return self.predictor


def lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / SPANS_FILE).read_text("utf-8").splitlines()]


def test_chunks_hold_the_predict_paths_spans_in_input_order(
    predictor: EntityPredictor, tmp_path: Path
) -> None:
    load = Loads(predictor)
    done = tag_job(TEXTS, chunk_bounds(len(TEXTS), 6), tmp_path / "tagged", "job", load, "float32")
    assert (done.computed, done.reused, load.calls) == ((0, 1, 2, 3), (), 1)
    rows = [row for chunk in done.chunks for row in lines(chunk)]
    expected = predictor.predict(TEXTS)
    assert [row["text"] for row in rows] == TEXTS
    for row, spans in zip(rows, expected, strict=True):
        assert row["spans"] == [
            {**span.as_dict(), "score": pytest.approx(span.score, abs=ROUNDING)} for span in spans
        ]
    assert [chunk_counts(chunk)["tweets"] for chunk in done.chunks] == [6, 6, 6, 2]


def test_a_rerun_after_a_failing_chunk_tags_only_the_missing_ones(
    predictor: EntityPredictor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds, tagged = chunk_bounds(len(TEXTS), 4), tmp_path / "tagged"
    real = chunks_module.tag_texts

    def fail_on_chunk_3(model: EntityPredictor, texts: list[str]) -> list[list[dict]]:
        if texts == TEXTS[12:16]:
            raise RuntimeError("chunk 3 breaks")
        return real(model, texts)

    monkeypatch.setattr(chunks_module, "tag_texts", fail_on_chunk_3)
    with pytest.raises(RuntimeError, match="chunk 3 breaks"):
        tag_job(TEXTS, bounds, tagged, "job", Loads(predictor), "float32")
    finished = ["job-000000", "job-000001", "job-000002"]
    assert sorted(p.name for p in tagged.iterdir()) == finished  # no scratch folder left
    first = [lines(tagged / name) for name in finished]

    monkeypatch.setattr(chunks_module, "tag_texts", real)
    load = Loads(predictor)
    done = tag_job(TEXTS, bounds, tagged, "job", load, "float32")
    assert (done.computed, done.reused, load.calls) == ((3, 4), (0, 1, 2), 1)
    assert [lines(chunk) for chunk in done.chunks[:3]] == first  # untouched, not re-tagged

    again = Loads(predictor)
    done = tag_job(TEXTS, bounds, tagged, "job", again, "float32")
    assert (done.computed, again.calls) == ((), 0)  # all reused: the model is never loaded


def test_a_chunk_counts_its_tweets_and_spans_by_type(tmp_path: Path) -> None:
    spans = [[{"type": "PER", "text": "Tim", "start": 0, "end": 3, "score": 0.9}], []]
    write_chunk(tmp_path, ["Tim here", " "], spans)
    assert chunk_counts(tmp_path) == {"tweets": 2, "empty_tweets": 1, "spans": 1, "spans_PER": 1}
    assert json.loads((tmp_path / COUNTS_FILE).read_text("utf-8"))["tweets"] == 2
    assert lines(tmp_path)[0] == {"text": "Tim here", "spans": spans[0]}


def test_json_lines_escape_unicode_line_separators() -> None:
    line = json_line({"text": "a\u2028b\u2029c"})
    assert line.count("\n") == 1 and line.endswith("\n")
    assert "\u2028" not in line and json.loads(line) == {"text": "a\u2028b\u2029c"}


def test_the_dtype_follows_the_precision() -> None:
    assert tagging_dtype("fp32") == "float32"
    assert tagging_dtype("bf16") == "bfloat16"
    with pytest.raises(ValueError, match="precision 'fp64'"):
        tagging_dtype("fp64")
