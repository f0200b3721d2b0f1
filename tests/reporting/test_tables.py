"""The one score-table format, as text and as Markdown."""

from __future__ import annotations

from nerflow.evaluation import Scores, TypeScores
from nerflow.reporting.tables import SCORE_COLUMNS, render, score_rows


def scores(f1: float) -> Scores:
    per = TypeScores(precision=0.5, recall=0.25, f1=f1, support=4)
    per_type = {"PER": per, "ORG": per, "LOC": per}
    return Scores.model_construct(**per.model_dump(), per_type=per_type)


def test_rows_cover_every_split_and_type_with_numbers_rounded_once() -> None:
    rows = score_rows({"validation": scores(0.6766), "test": scores(0.7321)}, support=True)
    assert [(r["split"], r["type"]) for r in rows][:2] == [
        ("validation", "overall"),
        ("validation", "PER"),
    ]
    assert len(rows) == 8 and rows[0]["support"] == 4
    markdown = render(rows, SCORE_COLUMNS, style="markdown")
    assert "| validation | overall | 0.500 | 0.250 | 0.677 |" in markdown  # 0.6766 -> 0.677, once
    assert markdown.splitlines()[1] == "|---|---|---|---|---|"


def test_text_tables_align_number_columns_even_with_blanks() -> None:
    rows = [
        {"split": "test", "type": "overall", "precision": 0.5, "recall": 0.25, "f1": 0.75},
        {"split": "test", "type": "macro", "f1": 0.5},
    ]
    lines = render(rows, SCORE_COLUMNS).splitlines()
    assert lines[0].split() == ["split", "type", "precision", "recall", "f1"]
    assert lines[1].endswith("0.750") and lines[2].endswith("0.500")
    assert len(lines[1]) == len(lines[2])  # the F1 column lines up
