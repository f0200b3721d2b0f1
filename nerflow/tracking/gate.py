"""The promotion rule, in MLflow's model-validation terms.

A candidate replaces the champion when, on the same validation split,
- its entity micro-F1 is at least the champion's plus `margin`
  (`MetricThreshold(threshold=margin)` on the gain; MLflow's `min_absolute_change` cannot
  say "at least equal" for a margin of 0), and
- no entity type's F1 is more than `max_type_drop` below the champion's
  (`MetricThreshold(threshold=max_type_drop, greater_is_better=False)` on each drop).
`mlflow.validate_evaluation_results` applies the thresholds; the test split never decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nerflow.corpus.labels import ENTITY_TYPES


@dataclass(frozen=True)
class SplitScores:
    """Entity micro-F1 and per-type F1 of one model on one split."""

    f1: float
    per_type: dict[str, float]

    @classmethod
    def from_report(cls, report: dict[str, Any], split: str = "validation") -> SplitScores:
        """The scores of one split of an evaluation report."""
        scores = report["splits"][split]
        return cls(
            float(scores["f1"]),
            {kind: float(scores["per_type"][kind]["f1"]) for kind in ENTITY_TYPES},
        )


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate passed, and each check in words."""

    passed: bool
    checks: tuple[str, ...]
    failures: str


def thresholds(margin: float, max_type_drop: float) -> dict[str, Any]:
    """The rule as MLflow `MetricThreshold`s, by metric name."""
    from mlflow.models import MetricThreshold

    rule = {"f1_gain": MetricThreshold(threshold=margin, greater_is_better=True)}
    for kind in ENTITY_TYPES:
        rule[f"{kind}_f1_drop"] = MetricThreshold(threshold=max_type_drop, greater_is_better=False)
    return rule


def judge(
    candidate: SplitScores, champion: SplitScores, margin: float, max_type_drop: float
) -> Verdict:
    """Apply the rule with `mlflow.validate_evaluation_results` to the gain and drops."""
    import mlflow
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    drops = {
        f"{kind}_f1_drop": champion.per_type[kind] - candidate.per_type[kind]
        for kind in ENTITY_TYPES
    }
    # Rounded: equal scores give a gain of exactly 0, whatever the float arithmetic.
    gain = round(candidate.f1 - champion.f1, 10)
    candidate_metrics = {"f1_gain": gain, **{k: round(v, 10) for k, v in drops.items()}}
    checks = [
        f"val F1 {candidate.f1:.4f} vs champion {champion.f1:.4f} on the same split: "
        f"{gain:+.4f} (needs >= {margin:+.4f})"
    ]
    checks += [
        f"{kind} F1 {candidate.per_type[kind]:.4f} vs {champion.per_type[kind]:.4f}: "
        f"{-drops[f'{kind}_f1_drop']:+.4f} (may drop at most {max_type_drop:.4f})"
        for kind in ENTITY_TYPES
    ]
    quiet = logging.getLogger("mlflow.models.evaluation.validation")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its INFO line says nothing the checks do not
    try:
        mlflow.validate_evaluation_results(
            thresholds(margin, max_type_drop),
            EvaluationResult(candidate_metrics, {}, run_id=""),
        )
    except ModelValidationFailedException as exc:
        return Verdict(False, tuple(checks), " ".join(str(exc.message).split()))
    finally:
        quiet.setLevel(level)
    return Verdict(True, tuple(checks), "")
