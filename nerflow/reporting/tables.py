"""The one score-table format: rows of P/R/F1 per split and type, as text or Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from nerflow.corpus.labels import ENTITY_TYPES

if TYPE_CHECKING:
    from nerflow.evaluation import Scores

Style = Literal["text", "markdown"]
#: Decimals of every score a person reads (tables, reports, the summary): one rounding.
DIGITS = 3
SCORE_COLUMNS = ("split", "type", "precision", "recall", "f1")


def score_rows(
    splits: Mapping[str, Scores], support: bool = False
) -> list[dict[str, str | float | int]]:
    """One row per split and type (overall first, then the score on names where known)."""
    rows: list[dict[str, str | float | int]] = []
    for split, scores in splits.items():
        views = {"overall": scores, **({"names": scores.names} if scores.names else {})}
        for name in (*views, *ENTITY_TYPES):
            values = views[name] if name in views else scores.per_type[name]
            row: dict[str, str | float | int] = {"split": split, "type": name}
            row.update({"precision": values.precision, "recall": values.recall, "f1": values.f1})
            if support:
                row["support"] = values.support
            rows.append(row)
    return rows


def markdown_scores(splits: Mapping[str, Scores]) -> str:
    """The score table of `splits` in Markdown (run notes, model cards)."""
    return render(score_rows(splits), SCORE_COLUMNS, style="markdown")


def render(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    style: Style = "text",
    digits: int = DIGITS,
) -> str:
    """Rows as an aligned text table or a Markdown table; floats with `digits` decimals."""
    names = list(columns or (rows[0].keys() if rows else ()))
    cells = [[_cell(row.get(name, ""), digits) for name in names] for row in rows]
    if style == "markdown":
        lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(names)]
    # A column of numbers (blanks allowed) is right-aligned, so the decimals line up.
    numeric = [
        any(n in row for row in rows) and all(_is_number(row[n]) for row in rows if n in row)
        for n in names
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(names), *(line(row) for row in cells)])


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rounded(value: Any) -> Any:
    """A score as the tables show it (other values unchanged): for tables rendered by others."""
    return round(value, DIGITS) if isinstance(value, float) else value
