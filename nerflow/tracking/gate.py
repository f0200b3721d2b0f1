"""The promotion rule as MLflow `MetricThreshold`s: F1 gain and each type's F1 drop."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nerflow.corpus.labels import ENTITY_TYPES

if TYPE_CHECKING:
    from nerflow.evaluation import EvaluationReport


@dataclass(frozen=True)
class SplitScores:
    """Entity micro-F1 and per-type F1 of one model on one split."""

    f1: float
    per_type: dict[str, float]

    @classmethod
    def from_report(cls, report: EvaluationReport, split: str = "validation") -> SplitScores:
        """The scores of one split of an evaluation report."""
        scores = report.splits[split]
        return cls(scores.f1, {kind: scores.per_type[kind].f1 for kind in ENTITY_TYPES})


@dataclass(frozen=True)
class Verdict:
    """Whether the candidate passed, and each check in words."""

    passed: bool
    checks: tuple[str, ...]
    failures: str


def judge(
    candidate: SplitScores, champion: SplitScores, margin: float, max_type_drop: float
) -> Verdict:
    """Apply the rule with `mlflow.validate_evaluation_results` to the gain and drops."""
    import mlflow
    from mlflow.models import MetricThreshold
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
    # A threshold on the gain: MLflow's `min_absolute_change` cannot say "at least equal".
    rule = {"f1_gain": MetricThreshold(threshold=margin, greater_is_better=True)}
    rule |= {
        name: MetricThreshold(threshold=max_type_drop, greater_is_better=False) for name in drops
    }
    quiet = logging.getLogger("mlflow.models.evaluation.validation")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its INFO line says nothing the checks do not
    try:
        mlflow.validate_evaluation_results(rule, EvaluationResult(candidate_metrics, {}, run_id=""))
    except ModelValidationFailedException as exc:
        return Verdict(False, tuple(checks), " ".join(str(exc.message).split()))
    finally:
        quiet.setLevel(level)
    return Verdict(True, tuple(checks), "")
