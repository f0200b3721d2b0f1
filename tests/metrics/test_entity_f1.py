"""The project's `evaluate` metric module: loaded by path, offline, scoring as seqeval does."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from nerflow.corpus.labels import ENTITY_TYPES, LABELS
from nerflow.metrics.scores import entity_metric, score_entities


def random_tags(rng: random.Random, n: int) -> list[list[str]]:
    return [[rng.choice(LABELS) for _ in range(rng.randint(1, 12))] for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_scores_equal_seqevals_own(seed: int) -> None:
    rng = random.Random(seed)
    gold = random_tags(rng, 60)
    # Predictions share shapes with gold; about half the tags copied, the rest random.
    predicted = [[g if rng.random() < 0.5 else rng.choice(LABELS) for g in seq] for seq in gold]
    scores = score_entities(gold, predicted)
    assert scores["precision"] == pytest.approx(precision_score(gold, predicted))
    assert scores["recall"] == pytest.approx(recall_score(gold, predicted))
    assert scores["f1"] == pytest.approx(f1_score(gold, predicted))
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    assert scores["macro_f1"] == pytest.approx(report["macro avg"]["f1-score"])
    for name in ENTITY_TYPES:
        expected = report.get(name, {"f1-score": 0.0, "support": 0})
        assert scores["per_type"][name]["f1"] == pytest.approx(expected["f1-score"])
        assert scores["per_type"][name]["support"] == expected["support"]


def test_the_metric_is_an_evaluate_module_loaded_by_path() -> None:
    import evaluate

    metric = entity_metric()
    assert isinstance(metric, evaluate.Metric)
    assert metric.name == "entity_f1"
    result = metric.compute(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])
    assert result is not None and result["f1"] == 1.0


def test_sequences_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        entity_metric().compute(predictions=[["O"]], references=[["O", "O"]])
