"""Entity-level scoring with seqeval (conlleval rules), shared by training and evaluation."""

from __future__ import annotations

from typing import Any

from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import f1_score

ENTITY_TYPES = ("PER", "ORG", "LOC")


def score_entities(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Micro/macro and per-type entity precision, recall and F1, plus token-level weighted F1.

    The token-level weighted F1 (every word's tag, O included) is the seed notebook's
    metric, kept only for comparison: it rewards predicting O and says little about entities.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sequence {i}: {len(g)} gold tags but {len(p)} predicted")
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {
        name: {
            "precision": float(report.get(name, {}).get("precision", 0.0)),
            "recall": float(report.get(name, {}).get("recall", 0.0)),
            "f1": float(report.get(name, {}).get("f1-score", 0.0)),
            "support": int(report.get(name, {}).get("support", 0)),
        }
        for name in ENTITY_TYPES
    }
    micro = report["micro avg"]
    macro = report["macro avg"]
    flat_gold = [tag for seq in gold for tag in seq]
    flat_pred = [tag for seq in predicted for tag in seq]
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "macro_precision": float(macro["precision"]),
        "macro_recall": float(macro["recall"]),
        "macro_f1": float(macro["f1-score"]),
        "support": int(micro["support"]),
        "per_type": per_type,
        "token_weighted_f1": float(
            f1_score(flat_gold, flat_pred, average="weighted", zero_division=0)
        ),
        "words": len(flat_gold),
        "confusion": type_confusion(flat_gold, flat_pred),
    }


def type_confusion(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    """Word-level counts of gold entity type (rows) against predicted type (columns), O included."""
    labels = [*ENTITY_TYPES, "O"]
    index = {name: i for i, name in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g.partition("-")[2] or "O"]][index[p.partition("-")[2] or "O"]] += 1
    return {"labels": labels, "matrix": matrix}


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
    return out
