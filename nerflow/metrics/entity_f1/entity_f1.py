"""Entity-level precision, recall and F1 (conlleval rules, seqeval), as an `evaluate` metric."""

# Loaded by path, offline: the hub's `seqeval` metric would fetch its code at run time.

from __future__ import annotations

from typing import Any

import datasets
import evaluate
from seqeval.metrics import classification_report
from sklearn.metrics import f1_score

from nerflow.corpus.labels import ENTITY_TYPES

_DESCRIPTION = """Entity-level P/R/F1 over IOB2 tag sequences (seqeval, conlleval rules):
an entity counts only when its type and both boundaries match."""
_KWARGS = """
Args:
    predictions: list of predicted tag sequences, e.g. [["B-PER", "I-PER", "O"]].
    references: list of gold tag sequences of the same lengths.
Returns:
    precision, recall, f1 (micro), macro_precision, macro_recall, macro_f1, support,
    per_type ({PER, ORG, LOC}: precision, recall, f1, support), token_weighted_f1,
    words, confusion ({labels, matrix}: gold type rows, predicted type columns, O included).
"""


class EntityF1(evaluate.Metric):
    """seqeval's entity scores, per type and averaged, plus the token-level comparison."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions: list[list[str]], references: list[list[str]]) -> dict[str, Any]:
        gold, predicted = references, predictions
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
        micro, macro = report["micro avg"], report["macro avg"]
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
            # The seed notebook's metric, every word's tag with O included: kept only for
            # comparison, it rewards predicting O and says little about entities.
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
