"""Entity-level scoring (the `entity_f1` evaluate module), shared by training and evaluation."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from seqeval.metrics.sequence_labeling import get_entities

#: The `evaluate` metric module: a folder holding `entity_f1.py`.
METRIC_DIR = Path(__file__).resolve().parent / "entity_f1"


def score_entities(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Micro/macro and per-type entity P/R/F1 and token-weighted F1, by `entity_f1/`."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted")
    return dict(entity_metric().compute(predictions=predicted, references=gold) or {})


@functools.cache
def entity_metric() -> Any:
    """The `entity_f1` metric, loaded by path (offline) and kept in memory (no cache files)."""
    import evaluate

    return evaluate.load(str(METRIC_DIR), keep_in_memory=True)


def entity_strings(tokens: list[str], tags: list[str]) -> list[str]:
    """`words/TYPE` for each entity in a tagged sentence, as seqeval reads the tags."""
    return [
        f"{' '.join(tokens[start : end + 1])}/{kind}" for kind, start, end in get_entities(tags)
    ]


def flat_metrics(scores: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten a `score_entities` result into `name: value` pairs for logging."""
    out = {
        f"{prefix}{k}": float(v)
        for k, v in scores.items()
        if isinstance(v, int | float) and k not in {"support", "words", "tweets"}
    }
    for name, values in scores["per_type"].items():
        for metric in ("precision", "recall", "f1"):
            out[f"{prefix}{name}_{metric}"] = values[metric]
    if names := scores.get("names"):  # the score on names (bare `@` entities left out)
        for metric in ("precision", "recall", "f1"):
            out[f"{prefix}names_{metric}"] = names[metric]
    return out
