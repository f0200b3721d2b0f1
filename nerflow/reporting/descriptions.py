"""What MLflow shows about a run and a model in words: the run's note, the descriptions."""

from __future__ import annotations

from typing import Any

from nerflow.reporting.tables import SCORE_COLUMNS, render, score_rows

#: MLflow shows this run tag as the run's description.
NOTE_TAG = "mlflow.note.content"
#: The line the gate replaces with its decision.
PENDING = "**Promotion**: pending (the gate decides after registration)"

REGISTERED_MODEL = """NER tagger for tweets (PER, ORG, LOC), fine-tuned and registered by nerflow.

Aliases: `champion` is the version to serve; `previous-champion` the one rollback returns
to; `challenger` the last version that did not beat the champion. Each version's
description holds its scores, the promotion gate's decision (both models scored on the same
validation split) and its model card."""


def run_note(manifest: dict[str, Any], report: dict[str, Any], champion_line: str) -> str:
    """Markdown for a training run: scores per type, the data, the champion, the decision."""
    splits = {split: report["splits"][split] for split in ("validation", "test")}
    sizes = manifest["splits"]
    # What a reader wants first comes first: the page shows the top lines, the rest folded.
    return "\n\n".join(
        [
            PENDING,
            f"**Data**: {manifest['description']}: {sizes['train']} / {sizes['validation']} /"
            f" {sizes['test']} tweets (train / validation / test), data version"
            f" `{manifest['fingerprint'][:12]}`",
            champion_line,
            render(score_rows(splits), SCORE_COLUMNS, style="markdown"),
        ]
    )


def champion_line(champion: Any) -> str:
    """The champion's scores on the same splits, or that there was none to compare with."""
    if champion is None:
        return "**Champion**: none yet"
    val = champion.val
    return (
        f"**Champion** v{champion.version} on the same splits: validation F1 {val.f1:.3f}, "
        f"test F1 {champion.test_f1:.3f}"
    )


def decision_text(decision: Any) -> str:
    """The gate's decision and its checks, as Markdown."""
    lines = [f"**Promotion**: `{decision.action}`: {decision.reason}"]
    lines += [f"- {check}" for check in decision.checks]
    return "\n".join(lines)


def with_decision(text: str, decision: Any) -> str:
    """`text` with its pending line replaced by the decision (appended if it has none)."""
    if PENDING in text:
        return text.replace(PENDING, decision_text(decision))
    return f"{text}\n\n{decision_text(decision)}"


def version_description(note: str, card: str) -> str:
    """A version's description: the run's note, then the model card."""
    return f"{note}\n\n---\n\n{card}"
